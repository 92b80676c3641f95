"""Canonical level text (``microtrial.design``): numbers read from metadata match the levels
a user types, in every place levels are compared."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from microtrial.design import Comparison, column_levels, level_strings, level_text, user_level


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (0.0, "0"), (-3.0, "-3"), (12, "12"), (np.int64(7), "7"), (np.float64(2.0), "2"),
    (0.5, "0.5"), (1e20, "100000000000000000000"), ("1.0", "1.0"), ("patient", "patient"),
    (" a ", " a "), (True, "True"), (math.inf, "inf"),
])
def test_level_text(value: object, text: str) -> None:
    assert level_text(value) == text


def test_level_strings_keep_missing_values_missing() -> None:
    s = level_strings(pd.Series([1.0, np.nan, 0.0], index=["a", "b", "c"]))
    assert s["a"] == "1" and s["c"] == "0" and pd.isna(s["b"])


@pytest.mark.parametrize(("typed", "canon"), [("1", "1"), ("1.0", "1"), ("1e0", "1"), ("0", "0"),
                                              ("0.50", "0.5"), ("x", "x")])
def test_user_level_on_a_numeric_column(typed: str, canon: str) -> None:
    assert user_level(typed, pd.Series([0.0, 1.0, 0.5, np.nan])) == canon


def test_user_level_on_a_text_column_is_the_text() -> None:
    # declared categorical: "1.0" and "1" are different levels, compared exactly
    values = pd.Series(["1.0", "2", None], dtype=object)
    assert user_level("1.0", values) == "1.0" and user_level("1", values) == "1"
    assert user_level("1.0", pd.Series([True, False])) == "1.0"  # booleans are not numbers


def test_column_levels_numeric_order() -> None:
    assert column_levels(pd.Series([10.0, 2.0, np.nan, 2.0, 0.5])) == ["0.5", "2", "10"]
    assert column_levels(pd.Series(["b", "a", None, "a"], dtype=object)) == ["a", "b"]


def _metadata() -> pd.DataFrame:
    # dose 0/1 and week 0/12 as read_metadata reads undeclared numeric columns (floats)
    return pd.DataFrame({
        "dose": [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, np.nan],
        "week": [0.0, 12.0, 0.0, 12.0, 0.0, 12.0, 0.0],
        "subject": ["P1", "P1", "P2", "P2", "C1", "C1", "X"],
    }, index=[f"S{i}" for i in range(7)])


@pytest.mark.parametrize("levels", [("1", "0"), ("1.0", "0.0"), ("1", "0.0")])
def test_comparison_samples_on_numeric_columns(levels: tuple[str, str]) -> None:
    md = _metadata()
    comp = Comparison("d", "between", "dose", levels, where={"week": "0.0"})
    rows = comp.samples(md)
    assert list(rows.index) == ["S0", "S2", "S4"]  # week 0 only, no missing dose
    # the column holds the comparison's own level strings, so stages compare it as text
    assert list(rows["dose"]) == [levels[0], levels[0], levels[1]]
    assert (rows["dose"] == comp.levels[0]).sum() == 2
    resolved = comp.resolved(md)
    assert resolved.levels == ("1", "0") and dict(resolved.where) == {"week": "0"}
    assert list(resolved.samples(md)["dose"]) == ["1", "1", "0"]


def test_comparison_where_on_numeric_column_with_typed_integer() -> None:
    comp = Comparison("w", "paired", "week", ("12", "0"), where={"dose": "1"}, subject="subject")
    rows = comp.samples(_metadata())
    assert list(rows.index) == ["S0", "S1", "S2", "S3"]
    assert list(rows["week"]) == ["0", "12", "0", "12"]


def test_resolved_keeps_columns_the_metadata_lacks() -> None:
    comp = Comparison("r", "between", "response", ("responder", "non-responder"),
                      where={"dose": "1.0"})
    r = comp.resolved(_metadata())
    assert r.levels == ("responder", "non-responder") and dict(r.where) == {"dose": "1"}


# ------------------------------------------------- the command line's designs, one rule


def _trial() -> pd.DataFrame:
    # P1, P2 at week 0 and 12; C1 at week 0 only; arm with three levels
    return pd.DataFrame({
        "group": ["patient", "patient", "patient", "patient", "control"],
        "week": [0.0, 12.0, 0.0, 12.0, 0.0],
        "subject": ["P1", "P1", "P2", "P2", "C1"],
        "arm": ["b", "b", "a", "a", "Healthy"],
    }, index=[f"S{i}" for i in range(5)])


def test_reference_level() -> None:
    from microtrial.design import reference_level

    assert reference_level(["patient", "control"]) == "control"
    assert reference_level(["a", "b", "Healthy"]) == "Healthy"  # case-insensitive
    assert reference_level(["x", "y"]) == "x"  # none named like a reference: the first
    assert reference_level(["patient", "control"], "patient") == "patient"
    assert reference_level(["patient", "control"], "nope") == "control"  # not a level: ignored


def test_paired_kind_needs_two_subjects_at_both_levels() -> None:
    from microtrial.design import paired_kind

    md = _trial()
    assert paired_kind(md, "week", ("12", "0"), "subject") == "paired"  # P1 and P2
    assert paired_kind(md, "week", ("12", "0"), None) == "between"
    assert paired_kind(md.drop(index="S3"), "week", ("12", "0"), "subject") == "between"  # P1 only
    assert paired_kind(md, "group", ("patient", "control"), "subject") == "between"


def test_level_comparisons_through_build_comparisons() -> None:
    from microtrial.design import DesignSpec, Factor, build_comparisons, level_comparisons

    md = _trial()
    design = DesignSpec(subject="subject", group=Factor("arm", "Healthy"), time=Factor("week", "0"))
    comps = build_comparisons(design, level_comparisons(design, md), md)
    assert [(c.name, c.kind, c.column, c.levels, c.subject, dict(c.where)) for c in comps] == [
        ("arm-a-vs-Healthy", "between", "arm", ("a", "Healthy"), None, {}),
        ("arm-b-vs-Healthy", "between", "arm", ("b", "Healthy"), None, {}),
        ("week-12-vs-0", "paired", "week", ("12", "0"), "subject", {}),
    ]


def test_a_between_comparison_may_carry_its_subject() -> None:
    from microtrial.design import ComparisonSpec, DesignSpec, Factor, build_comparisons

    md = _trial()
    design = DesignSpec(subject="subject", group=Factor("group", "control"))
    specs = [ComparisonSpec("p-vs-c", "between", "group", ("patient", "control"), subject="subject"),
             ComparisonSpec("p-vs-c2", "between", "group", ("patient", "control")),
             ComparisonSpec("w", "paired", "week", ("12.0", "0"))]
    a, b, c = build_comparisons(design, specs, md)
    assert (a.subject, b.subject, c.subject) == ("subject", None, "subject")
    assert c.levels == ("12", "0")  # canonical text of the numeric column


def test_covariate_problem() -> None:
    from microtrial.design import covariate_problem

    between = Comparison("pc", "between", "group", ("patient", "control"))
    paired = Comparison("w", "paired", "week", ("12", "0"), subject="subject")
    assert covariate_problem(between, "group") == (
        "'group' is the compared column of comparison 'pc'; a covariate cannot be the group itself")
    assert covariate_problem(paired, "subject") == (
        "'subject' is the subject column of comparison 'w'; subjects are not a covariate")
    assert covariate_problem(between, "subject") is None  # no subject column in a between one
    assert covariate_problem(paired, "age") is None


# ----------------------------------------------------------------------------- designs read back


def test_comparison_from_its_plain_form() -> None:
    import dataclasses
    import json

    c = Comparison("il2-by-week", "interaction", "week", ("4", "0"), {"cage": "1"}, subject="mouse",
                   by="treatment", by_levels=("il2", "control"), random=("cage",), covariates=("age",))
    plain = json.loads(json.dumps(dataclasses.asdict(c)))  # as run-info.json holds it
    assert Comparison.from_dict(plain) == c
    assert Comparison.from_dict({"name": "a", "kind": "between", "column": "g", "levels": [1, 0]}) == \
        Comparison("a", "between", "g", ("1", "0"))


def test_design_of_columns() -> None:
    from microtrial.design import DesignSpec, Factor, design_of_columns

    md = pd.DataFrame({"arm": ["drug", "placebo", "drug"], "week": [0.0, 12.0, 12.0], "id": [1, 2, 3]})
    spec = design_of_columns(md, group="arm", time="week", subject="id")
    # placebo is no reference-like name: the first level; week 0 is the first in numeric order
    assert spec == DesignSpec(subject="id", group=Factor("arm", "drug"), time=Factor("week", "0"))
    assert design_of_columns(md, group="arm", reference="placebo").group == Factor("arm", "placebo")
    assert design_of_columns(md, time="week", reference="12.0").time == Factor("week", "12")
    with pytest.raises(KeyError, match="nope"):
        design_of_columns(md, group="nope")


def test_design_of_comparisons_reads_back_the_design_of_level_comparisons() -> None:
    from microtrial.design import (
        DesignSpec,
        Factor,
        build_comparisons,
        design_of_comparisons,
        level_comparisons,
    )

    md = pd.DataFrame({"g": ["ctl", "ctl", "dz", "dz", "x", "x"], "t": ["b", "w", "b", "w", "b", "w"],
                       "s": ["1", "1", "2", "2", "3", "3"]})
    spec = DesignSpec(subject="s", group=Factor("g", "ctl"), time=Factor("t", "b"))
    comparisons = build_comparisons(spec, level_comparisons(spec, md), md)
    assert [c.name for c in comparisons] == ["g-dz-vs-ctl", "g-x-vs-ctl", "t-w-vs-b"]
    assert design_of_comparisons(comparisons) == spec
    # a longitudinal comparison's reference is its first time point; an interaction's arms
    # give the group when no between comparison does
    longi = Comparison("trend", "longitudinal", "t", ("b", "w", "z"), subject="s")
    inter = Comparison("i", "interaction", "t", ("w", "b"), subject="s", by="g", by_levels=("dz", "ctl"))
    assert design_of_comparisons([longi]) == DesignSpec(subject="s", time=Factor("t", "b"))
    assert design_of_comparisons([inter]) == DesignSpec(subject="s", group=Factor("g", "ctl"),
                                                        time=Factor("t", "b"))
    assert design_of_comparisons([]) == DesignSpec()
