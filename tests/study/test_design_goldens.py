"""Interaction and longitudinal models against R (goldens in tests/data/designs/, made by
make_goldens.R there: lme4/lmerTest REML fits and vegan adonis2 with a permute::how()
split-plot design). No R is needed to run these tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.differential import Contrast
from microtrial.differential._lmm import model_terms
from microtrial.diversity._permanova import permanova, plot_permutations
from microtrial.stats import random_intercept_fit, variance_components_fit

DATA = Path(__file__).resolve().parents[1] / "data" / "designs"


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, sep="\t", dtype={"week": str})


def _contrast(d: pd.DataFrame, **kw: object) -> Contrast:
    ids = d["sample-id"].astype(str).to_numpy()
    counts = pd.DataFrame(np.zeros((0, len(d))), columns=ids)
    return Contrast(counts, pd.Series(d["week"].to_numpy(), index=ids), subject=pd.Series(
        d["subject"].to_numpy(), index=ids), **kw)  # type: ignore[arg-type]


def test_interaction_lmm_matches_lmertest() -> None:
    d = _read("interaction-alpha.tsv")
    c = _contrast(d, test="4", reference="0", kind="interaction",
                  arm=pd.Series(d["treatment"].to_numpy(), index=d["sample-id"]),
                  arm_levels=("il2", "control"))
    x, tested = model_terms(c)
    beta, se, _ = random_intercept_fit(d[["value"]].to_numpy(), x, d["subject"].to_numpy())
    gold = _read("lmer-interaction.tsv").set_index("term")
    # our columns: intercept, week4, il2, il2:week4
    order = ["(Intercept)", "week4", "treatmentil2", "treatmentil2:week4"]
    assert tested == [("interaction", 3)]
    np.testing.assert_allclose(beta[:, 0], gold.loc[order, "estimate"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(se[:, 0], gold.loc[order, "se"], atol=1e-6, rtol=0)


def test_longitudinal_lmm_matches_lmertest() -> None:
    d = _read("longitudinal-alpha.tsv")
    c = _contrast(d, test="12", reference="0", kind="longitudinal",
                  time_levels=("0", "4", "12"))
    gold = _read("lmer-longitudinal.tsv").set_index("term")
    y = d[["value"]].to_numpy()
    x, tested = model_terms(c)
    beta, se, _ = random_intercept_fit(y, x, d["subject"].to_numpy())
    assert [t for t, _ in tested] == ["4", "12"]
    np.testing.assert_allclose(beta[:, 0], gold.loc[["(Intercept)", "week4", "week12"], "estimate"],
                               atol=1e-6, rtol=0)
    np.testing.assert_allclose(se[:, 0], gold.loc[["(Intercept)", "week4", "week12"], "se"],
                               atol=1e-6, rtol=0)
    xt, tt = model_terms(c, trend=True)
    bt, st, _ = random_intercept_fit(y, xt, d["subject"].to_numpy())
    assert abs(bt[tt[0][1], 0] - gold.loc["rank", "estimate"]) < 1e-6
    assert abs(st[tt[0][1], 0] - gold.loc["rank", "se"]) < 1e-6


def test_interaction_permanova_matches_adonis2() -> None:
    dist = pd.read_csv(DATA / "interaction-braycurtis.tsv", sep="\t", index_col=0)
    md = pd.read_csv(DATA / "interaction-metadata.tsv", sep="\t", index_col=0,
                     dtype={"week": str})
    gold = _read("adonis2-interaction.tsv").set_index("term")
    n_perm = 1999
    res = permanova(dist, md, ["treatment", "week", "treatment:week"], plots="subject",
                    permutations=n_perm, seed=7).set_index("term")
    for term in ("treatment", "week", "treatment:week"):
        assert res.loc[term, "pseudo_F"] == pytest.approx(gold.loc[term, "F"], abs=1e-9, rel=0)
        assert res.loc[term, "R2"] == pytest.approx(gold.loc[term, "R2"], abs=1e-9, rel=0)
        p_r = gold.loc[term, "p"]
        # Monte Carlo error of both p-values (R: 9,999 permutations; ours: 1,999), 4 sd
        sd = np.sqrt(p_r * (1 - p_r) * (1 / n_perm + 1 / 9999))
        assert abs(res.loc[term, "p_value"] - p_r) < 4 * sd + 1e-3, term
    assert res.loc["Residual", "SumOfSqs"] == pytest.approx(gold.loc["Residual", "SumOfSqs"],
                                                            abs=1e-9)
    # the restriction matters: free permutations give a very different p for week
    free = permanova(dist, md, ["treatment", "week", "treatment:week"], permutations=n_perm,
                     seed=7).set_index("term")
    assert free.loc["week", "p_value"] > 0.5 > 0.05 > gold.loc["week", "p"]


def test_plot_permutations_keep_subjects_whole() -> None:
    plots = ["a", "a", "b", "b", "c", "c"]
    perms = plot_permutations(plots, 200, seed=1)
    assert perms.shape == (200, 6)
    for p in perms:
        assert sorted(p) == list(range(6))
        # the two places of each plot receive the two samples of one plot
        for i in (0, 2, 4):
            assert plots[p[i]] == plots[p[i + 1]]
    # whole plots do move, and time is permuted within plots
    assert any(plots[p[0]] != "a" for p in perms)
    assert any(p[0] == 1 for p in perms)
    with pytest.raises(Exception, match="same number"):
        plot_permutations(["a", "a", "b"], 5)


def test_diversity_design_tests_interaction_rows() -> None:
    """The diversity stage's interaction rows on the golden data: LMM as lmerTest, the cage
    model as ``lmer(value ~ treatment * week + (1 | cage / subject))``, the per-arm changes
    and the difference-in-change test."""
    from microtrial.design import Comparison
    from microtrial.diversity._compare import comparison_samples, design_tests

    d = _read("interaction-alpha.tsv").set_index("sample-id")
    comp = Comparison("ix", "interaction", "week", ("4", "0"), subject="subject", by="treatment",
                      by_levels=("il2", "control"), random=("cage",))
    md, dropped = comparison_samples(d, comp)
    assert set(dropped) == {"m3w0", "m10w4"}  # subjects without both weeks
    md_all = comp.samples(d)
    tests, perm, pairs = design_tests(d[["value"]].loc[md_all.index], {}, md_all, comp)
    assert perm == [] and pairs == []
    gold = _read("lmer-interaction.tsv").set_index("term").loc["treatmentil2:week4"]
    lmm = tests[tests["test"] == "lmm"].iloc[0]
    assert lmm["term"] == "treatment:week"
    assert lmm["effect"] == pytest.approx(gold["estimate"], abs=1e-6)
    cage = _read("lmer-interaction-cage.tsv").set_index("term").loc["treatmentil2:week4"]
    nested = tests[tests["test"] == "lmm+cage"].iloc[0]
    assert nested["effect"] == pytest.approx(cage["estimate"], abs=1e-6)
    arms = tests[tests["test"] == "change-in-arm"].set_index("term")["effect"]
    change = tests[tests["test"] == "change-mann-whitney"].iloc[0]
    assert change["effect"] == pytest.approx(arms["week|treatment=il2"] - arms["week|treatment=control"])
    # complete subjects only: the difference of mean changes (hand computation)
    wide = d.pivot(index="subject", columns="week", values="value").dropna()
    arm = d.groupby("subject")["treatment"].first().reindex(wide.index)
    ch = wide["4"] - wide["0"]
    assert change["effect"] == pytest.approx(ch[arm == "il2"].mean() - ch[arm == "control"].mean())


def test_variance_components_fit_matches_lme4_nested() -> None:

    d = _read("interaction-alpha.tsv")
    t = (d["week"] == "4").to_numpy(float)
    a = (d["treatment"] == "il2").to_numpy(float)
    x = np.column_stack([np.ones(len(d)), a, t, a * t])
    beta, se, gamma = variance_components_fit(d["value"].to_numpy(), x,
                                              [d["cage"].to_numpy(), d["subject"].to_numpy()])
    gold = _read("lmer-interaction-cage.tsv").set_index("term")
    order = ["(Intercept)", "treatmentil2", "week4", "treatmentil2:week4"]
    np.testing.assert_allclose(beta, gold.loc[order, "estimate"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(se, gold.loc[order, "se"], atol=1e-6, rtol=0)
    assert gamma[0] < 1e-6  # lme4: singular fit, cage variance 0


def test_variance_components_fit_with_cage_variance() -> None:
    """Strong cage effects (lme4: cage variance 0.51, subject-in-cage 0.10)."""

    d = _read("interaction-alpha-cage.tsv")
    t = (d["week"] == "4").to_numpy(float)
    a = (d["treatment"] == "il2").to_numpy(float)
    x = np.column_stack([np.ones(len(d)), a, t, a * t])
    beta, se, gamma = variance_components_fit(d["value"].to_numpy(), x,
                                              [d["cage"].to_numpy(), d["subject"].to_numpy()])
    gold = _read("lmer-interaction-cage2.tsv").set_index("term")
    order = ["(Intercept)", "treatmentil2", "week4", "treatmentil2:week4"]
    np.testing.assert_allclose(beta, gold.loc[order, "estimate"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(se, gold.loc[order, "se"], atol=1e-6, rtol=0)
    var = _read("lmer-interaction-cage2-variances.tsv").set_index("group")["variance"]
    ratio = np.array([var["cage"], var["subject:cage"]]) / var["Residual"]
    np.testing.assert_allclose(gamma, ratio, rtol=1e-4)
