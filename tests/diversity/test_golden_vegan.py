"""Compare with vegan 2.6-4 / R 4.2.2 outputs in golden/ (see golden/README.md; no R needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.diversity import (
    alpha_diversity,
    anosim,
    beta_diversity,
    kruskal_wallis,
    mann_whitney,
    permanova,
    permdisp,
    wilcoxon_signed_rank,
)
from microtrial.table import FeatureTable

GOLDEN = Path(__file__).parent / "golden"
R_ALPHA = ["observed_features", "shannon", "simpson", "chao1", "ace"]
R_BETA = ["braycurtis", "jaccard", "aitchison", "robust_aitchison"]


def _table(name: str) -> FeatureTable:
    return FeatureTable.from_dataframe(pd.read_csv(GOLDEN / f"{name}-table.tsv", sep="\t", index_col=0))


def _miseq(shared_data: Path) -> tuple[FeatureTable, pd.DataFrame]:
    st = pd.read_csv(shared_data / "miseq-sop/reference-outputs/dada2-1.26-seqtab.tsv", sep="\t", index_col=0)
    st.index = [f"asv{i}" for i in range(len(st))]
    md = pd.DataFrame({"time": ["Late" if int(s[3:]) >= 141 else "Early" for s in st.columns]},
                      index=st.columns)
    return FeatureTable.from_dataframe(st), md


def _check_alpha(table: FeatureTable, name: str) -> None:
    ours = alpha_diversity(table, metrics=R_ALPHA)
    ref = pd.read_csv(GOLDEN / f"{name}-alpha.tsv", sep="\t", index_col=0).loc[list(ours.index)]
    np.testing.assert_allclose(ours[R_ALPHA].to_numpy(), ref[R_ALPHA].to_numpy(), rtol=0, atol=1e-9)


def _check_beta(table: FeatureTable, name: str) -> None:
    for metric in R_BETA:
        ours = beta_diversity(table, metric)
        ref = pd.read_csv(GOLDEN / f"{name}-{metric}.tsv", sep="\t", index_col=0)
        ref = ref.loc[list(ours.index), list(ours.columns)]
        np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9, err_msg=metric)


@pytest.mark.parametrize("name", ["hand", "paired"])
def test_alpha_and_beta_match_vegan(name: str) -> None:
    table = _table(name)
    _check_alpha(table, name)
    _check_beta(table, name)


def test_hand_table_has_singletons_and_doubletons() -> None:
    # the point of the hand-made table: Chao1/ACE corrections are exercised in every sample
    x = _table("hand").data.toarray()
    assert all(((col == 1).sum() >= 1) and ((col == 2).sum() >= 1) for col in x.T)


@pytest.mark.requires_shared
def test_miseq_alpha_beta_match_vegan(shared_data: Path) -> None:
    table, _ = _miseq(shared_data)
    _check_alpha(table, "miseq")
    _check_beta(table, "miseq")


def _p_close(ours: float, theirs: float, permutations: int) -> bool:
    """Two independent Monte Carlo p-values agree within 4 standard errors (+ 2 steps)."""
    p = max((ours + theirs) / 2, 1.0 / (permutations + 1))
    se = math.sqrt(2 * p * (1 - p) / (permutations + 1))
    return abs(ours - theirs) <= 4 * se + 2.0 / (permutations + 1)


def _golden_permanova(test: str) -> pd.DataFrame:
    g = pd.read_csv(GOLDEN / "permanova.tsv", sep="\t")
    return g[g["test"] == test].set_index("term")


def _compare_permanova(ours: pd.DataFrame, test: str) -> None:
    ref = _golden_permanova(test)
    ours = ours.set_index("term").loc[list(ref.index)]
    np.testing.assert_array_equal(ours["df"].to_numpy(), ref["df"].to_numpy())
    np.testing.assert_allclose(ours["pseudo_F"].to_numpy(), ref["pseudo_F"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["R2"].to_numpy(), ref["R2"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["SumOfSqs"].to_numpy(), ref["SumOfSqs"].to_numpy(), rtol=0, atol=1e-9)
    for term in ref.index:
        assert _p_close(ours.at[term, "p_value"], ref.at[term, "p_value"], 999), (test, term)


@pytest.mark.parametrize(
    ("test", "terms", "by", "strata"),
    [
        ("paired-terms", ["group", "time"], "terms", None),
        ("paired-margin", ["group", "time"], "margin", None),
        ("paired-time-strata", ["time"], "terms", "subject"),
        ("paired-terms-strata", ["time", "group"], "terms", "subject"),
    ],
)
def test_permanova_matches_adonis2(test: str, terms: list[str], by: str, strata: str | None) -> None:
    md = pd.read_csv(GOLDEN / "paired-metadata.tsv", sep="\t", index_col=0)
    dm = beta_diversity(_table("paired"), "braycurtis")
    ours = permanova(dm, md, terms, by=by, strata=strata, permutations=999, seed=11)
    _compare_permanova(ours, test)


@pytest.mark.requires_shared
def test_miseq_permanova_permdisp_anosim(shared_data: Path) -> None:
    table, md = _miseq(shared_data)
    dm = beta_diversity(table, "braycurtis")
    _compare_permanova(permanova(dm, md, ["time"], permutations=999, seed=3), "miseq-time")
    f, p, dist = permdisp(dm, md["time"], permutations=999, seed=3)
    ref = pd.read_csv(GOLDEN / "permdisp.tsv", sep="\t").set_index("test")
    assert f == pytest.approx(ref.at["miseq-time", "pseudo_F"], abs=1e-9)
    assert _p_close(p, ref.at["miseq-time", "p_value"], 999)
    rd = pd.read_csv(GOLDEN / "miseq-permdisp-distances.tsv", sep="\t", index_col=0)["distance"]
    np.testing.assert_allclose(dist.to_numpy(), rd.loc[dist.index].to_numpy(), atol=1e-9)
    r, p = anosim(dm, md["time"], permutations=999, seed=3)
    ra = pd.read_csv(GOLDEN / "anosim.tsv", sep="\t").set_index("test")
    assert r == pytest.approx(ra.at["miseq-time", "R"], abs=1e-12)
    assert _p_close(p, ra.at["miseq-time", "p_value"], 999)


def test_paired_permdisp_and_anosim_match_vegan() -> None:
    md = pd.read_csv(GOLDEN / "paired-metadata.tsv", sep="\t", index_col=0)
    dm = beta_diversity(_table("paired"), "braycurtis")
    f, p, _ = permdisp(dm, md["group"], permutations=999, seed=5)
    ref = pd.read_csv(GOLDEN / "permdisp.tsv", sep="\t").set_index("test")
    assert f == pytest.approx(ref.at["paired-group", "pseudo_F"], abs=1e-9)
    assert _p_close(p, ref.at["paired-group", "p_value"], 999)
    r, p = anosim(dm, md["group"], permutations=999, seed=5)
    ra = pd.read_csv(GOLDEN / "anosim.tsv", sep="\t").set_index("test")
    assert r == pytest.approx(ra.at["paired-group", "R"], abs=1e-12)
    assert _p_close(p, ra.at["paired-group", "p_value"], 999)


def _wilcox_golden() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "wilcoxon.tsv", sep="\t").set_index("test")


def _check_rank(res, row: pd.Series, tol: float) -> None:
    assert res.statistic == pytest.approx(row["statistic"], abs=1e-9)
    assert res.p_value == pytest.approx(row["p_value"], abs=1e-12)
    assert res.effect == pytest.approx(row["estimate"], abs=tol)
    assert res.ci_low == pytest.approx(row["ci_low"], abs=tol)
    assert res.ci_high == pytest.approx(row["ci_high"], abs=tol)


def test_rank_tests_with_ties_match_wilcox_test() -> None:
    g = _wilcox_golden()
    # R's asymptotic interval ends come from uniroot(tol = 1e-4)
    r = mann_whitney(np.array([1, 2, 2, 3, 5, 5, 7, 8]), np.array([2, 3, 3, 4, 6, 9, 9, 10, 11]))
    assert not r.exact
    _check_rank(r, g.loc["ties-two-sample"], 2e-4)
    r = wilcoxon_signed_rank(np.arange(1, 11), np.array([0, 2, 1, 2, 4, 3, 9, 5, 6, 4]))
    assert not r.exact
    _check_rank(r, g.loc["ties-paired"], 2e-4)


def test_exact_rank_tests_match_wilcox_test() -> None:
    g = _wilcox_golden()
    md = pd.read_csv(GOLDEN / "paired-metadata.tsv", sep="\t", index_col=0)
    sh = alpha_diversity(_table("paired"), metrics=["shannon"])["shannon"]
    w12, base = md["time"] == "week12", md["time"] == "baseline"
    r = wilcoxon_signed_rank(sh[w12].to_numpy(), sh[base].to_numpy())
    assert r.exact
    _check_rank(r, g.loc["paired-shannon-week12-vs-baseline"], 1e-12)
    r = mann_whitney(sh[w12 & (md["group"] == "patient")].to_numpy(),
                     sh[w12 & (md["group"] == "control")].to_numpy())
    assert r.exact
    _check_rank(r, g.loc["paired-shannon-week12-patient-vs-control"], 1e-12)


@pytest.mark.requires_shared
def test_miseq_rank_tests_match_r(shared_data: Path) -> None:
    table, md = _miseq(shared_data)
    a = alpha_diversity(table, metrics=["observed_features", "shannon"])
    late = (md["time"] == "Late").to_numpy()
    g = _wilcox_golden()
    _check_rank(mann_whitney(a["shannon"][late], a["shannon"][~late]),
                g.loc["miseq-shannon-late-vs-early"], 1e-12)
    _check_rank(mann_whitney(a["observed_features"][late], a["observed_features"][~late]),
                g.loc["miseq-observed-late-vs-early"], 1e-12)
    ob = a["observed_features"].to_numpy()
    groups = (np.arange(1, ob.size + 1) % 3) + 1  # R: c("a","b","c")[(seq_along(ob) %% 3) + 1]
    h, p = kruskal_wallis(*[ob[groups == k] for k in (1, 2, 3)])
    k = pd.read_csv(GOLDEN / "kruskal.tsv", sep="\t").iloc[0]
    assert h == pytest.approx(k["statistic"], abs=1e-9)
    assert p == pytest.approx(k["p_value"], abs=1e-9)
