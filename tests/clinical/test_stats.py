"""Wilcoxon signed-rank / Hodges-Lehmann, Clopper-Pearson and type-7 quantiles against R
golden files (tests/clinical/golden/README.md), plus small hand-checked cases."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.clinical import (
    clopper_pearson,
    immune_paired,
    psignrank,
    qsignrank,
    quantiles7,
    responders_metadata,
    response_rates,
    wilcoxon_paired,
)

GOLDEN = Path(__file__).parent / "golden"
INPUT = pd.read_csv(GOLDEN / "wilcoxon-input.tsv", sep="\t")
R_WILCOX = pd.read_csv(GOLDEN / "wilcoxon-r.tsv", sep="\t").set_index("case")


@pytest.mark.parametrize("case", list(R_WILCOX.index))
def test_wilcoxon_matches_r(case: str) -> None:
    s = INPUT[INPUT["case"] == case]
    res = wilcoxon_paired(s["x"].to_numpy(), s["y"].to_numpy())
    r = R_WILCOX.loc[case]
    assert res.statistic == r["statistic_v"]
    assert res.p_value == pytest.approx(r["p_value"], rel=1e-10, abs=1e-14)
    assert res.estimate == pytest.approx(r["estimate"], rel=1e-9, abs=1e-12)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=1e-9, abs=1e-12)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=1e-9, abs=1e-12)
    assert res.conf_level == pytest.approx(r["conf_level"])
    assert res.method.startswith("exact") == ("exact" in r["method"])
    if "continuity" in r["method"]:
        assert "continuity correction" in res.method


def test_signrank_distribution_by_enumeration() -> None:
    # P(V <= q) for n = 6 by listing all 2^6 sign patterns
    n = 6
    sums = [sum(k for k, s in zip(range(1, n + 1), signs) if s) for signs in itertools.product((0, 1), repeat=n)]
    for q in range(0, 22):
        assert psignrank(q, n) == pytest.approx(sum(v <= q for v in sums) / 64)
    # R: qsignrank(0.025, 6) = 1 (P(V <= 0) = 1/64 < 0.025 <= P(V <= 1) = 2/64)
    assert qsignrank(0.025, 6) == 1


def test_wilcoxon_all_zero_differences() -> None:
    res = wilcoxon_paired(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert res.n == 0 and np.isnan(res.p_value) and "no non-zero" in res.method


R_CP = pd.read_csv(GOLDEN / "clopper-pearson-r.tsv", sep="\t")


@pytest.mark.parametrize("row", R_CP.to_dict("records"), ids=lambda r: f"{r['k']}/{r['n']}")
def test_clopper_pearson_matches_r(row: dict) -> None:
    lo, hi = clopper_pearson(int(row["k"]), int(row["n"]))
    assert lo == pytest.approx(row["ci_low"], abs=1e-12)
    assert hi == pytest.approx(row["ci_high"], abs=1e-12)


def test_quantile_type7_matches_r() -> None:
    q = pd.read_csv(GOLDEN / "quantile7-r.tsv", sep="\t").set_index("case")
    for case, s in INPUT.groupby("case"):
        med, q1, q3 = quantiles7(s["x"].to_numpy())
        assert (q1, med, q3) == pytest.approx(tuple(q.loc[case, ["q1", "median", "q3"]]), abs=1e-12)


def test_response_rates_counts() -> None:
    # 13 evaluable: 12 DOI met (the paper's 12/13), one not evaluable; R binom.test(12, 13)
    resp = pd.DataFrame({
        "imacs_doi": pd.array([True] * 12 + [False, pd.NA], dtype="boolean"),
        "tis_category": ["major"] * 6 + ["moderate"] * 4 + ["minimal", "none", "none", None],
        "group": ["IL2"] * 14,
    }, index=[f"P{i}" for i in range(14)])
    rates = response_rates(resp).set_index(["group", "endpoint"])
    doi = rates.loc[("all", "imacs_doi")]
    assert (doi["responders"], doi["evaluable"], doi["not_evaluable"]) == (12, 13, 1)
    r = R_CP[(R_CP["k"] == 12) & (R_CP["n"] == 13)].iloc[0]
    assert doi["ci_low"] == pytest.approx(100 * r["ci_low"]) and doi["ci_high"] == pytest.approx(100 * r["ci_high"])
    assert doi["summary"].startswith("12/13 (92.3%")
    # at least minimal: 6 + 4 + 1 = 11 of 13; at least moderate 10; major 6
    assert rates.loc[("all", "tis_minimal"), "responders"] == 11
    assert rates.loc[("all", "tis_moderate"), "responders"] == 10
    assert rates.loc[("all", "tis_major"), "responders"] == 6
    assert ("IL2", "imacs_doi") in rates.index


def test_immune_paired_uses_pairs_and_r_rules() -> None:
    s = INPUT[INPUT["case"] == "exact_n13"]
    rows = []
    for i, (x, y) in enumerate(zip(s["x"], s["y"])):
        rows += [{"subject": f"S{i}", "visit": "baseline", "treg": y},
                 {"subject": f"S{i}", "visit": "week12", "treg": x}]
    rows.append({"subject": "lonely", "visit": "baseline", "treg": 99.0})  # no follow-up: dropped
    out = immune_paired(pd.DataFrame(rows)).set_index("measure").loc["treg"]
    r = R_WILCOX.loc["exact_n13"]
    assert out["n"] == 13
    assert out["p_value"] == pytest.approx(r["p_value"])
    assert out["hl_estimate"] == pytest.approx(r["estimate"])
    q = pd.read_csv(GOLDEN / "quantile7-r.tsv", sep="\t").set_index("case").loc["exact_n13"]
    assert out["followup_median"] == pytest.approx(q["median"])
    assert out["followup_q1"] == pytest.approx(q["q1"]) and out["followup_q3"] == pytest.approx(q["q3"])


def test_responders_metadata() -> None:
    resp = pd.DataFrame({"imacs_doi": pd.array([True, False, pd.NA], dtype="boolean")}, index=["P1", "P2", "P3"])
    md = pd.DataFrame({"subject": ["P1", "P1", "P2", "P3", "C1"]}, index=list("abcde"))
    out = responders_metadata(resp, md, "subject")
    assert list(out["response"].fillna("")) == ["responder", "responder", "non-responder", "", ""]
    assert list(md.columns) == ["subject"]  # input untouched
