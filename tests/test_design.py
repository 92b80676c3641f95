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
