"""Interaction, longitudinal and multi-level designs in the differential methods, checked
against simulation truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.differential import Contrast, called, run_method
from microtrial.differential._ancombc_mixed import bias_em
from microtrial.differential._features import arm_prevalence_filter
from microtrial.simulate import simulate_animal


def _animal(seed: int) -> tuple[Contrast, Contrast, np.ndarray]:
    """The interaction contrast and the naive within-IL-2 paired contrast on the true
    counts of a simulated mouse experiment (as benchmarks/differential.py --animal)."""
    sim = simulate_animal(seed=seed)
    md = sim.metadata
    counts = sim.counts[md.index]
    counts = counts[(counts > 0).mean(axis=1) >= 0.1]
    counts = arm_prevalence_filter(counts, (md["treatment"] == "il2").to_numpy())
    week = md["week"].astype(str)
    ix = Contrast(counts, week, "4", "0", "interaction", md["subject"].astype(str),
                  arm=md["treatment"].astype(str), arm_levels=("il2", "control"),
                  term="treatment:week")
    il2 = md.index[md["treatment"] == "il2"]
    naive = Contrast(counts[il2], week[il2], "4", "0", "paired", md.loc[il2, "subject"].astype(str))
    eff = sim.effects.set_index("feature")["effect"].reindex(counts.index).to_numpy()
    return ix, naive, eff


def test_interaction_controls_fdr_where_the_naive_test_fails() -> None:
    fdp: dict[str, list[float]] = {}
    power: dict[str, list[float]] = {}
    time_only: dict[str, int] = {}
    for seed in (1, 2):
        ix, naive, eff = _animal(seed)
        true = eff == "interaction"
        for label, method, contrast in (("lmm", "lmm", ix), ("change", "paired-wilcoxon", ix),
                                        ("ancombc", "ancombc", ix),
                                        ("naive", "paired-wilcoxon", naive)):
            res = run_method(method, contrast)
            assert res is not None
            if label != "naive":
                assert set(res["term"]) == {"treatment:week"}
            c = called(res)
            fdp.setdefault(label, []).append((c & ~true).sum() / max(c.sum(), 1))
            power.setdefault(label, []).append((c & true).sum() / true.sum())
            time_only[label] = time_only.get(label, 0) + int((c & (eff == "time-only")).sum())
    for label in ("lmm", "change", "ancombc"):
        assert time_only[label] == 0, label  # no age-drift feature called an interaction
        assert np.mean(fdp[label]) <= 0.15, label
        assert np.mean(power[label]) >= 0.4, label
    # the within-arm before/after test calls the age drift: FDR far above nominal
    assert time_only["naive"] >= 6
    assert np.mean(fdp["naive"]) >= 0.3


def test_interaction_effect_is_difference_of_changes() -> None:
    ix, _, eff = _animal(3)
    res = run_method("lmm", ix)
    assert res is not None
    np.testing.assert_allclose(res["effect"], res["change_test_arm"] - res["change_reference_arm"],
                               atol=1e-9)
    # with every subject complete, the LMM's interaction is the difference of the arms'
    # mean CLR changes, as the difference-in-change test computes it
    ch = run_method("paired-wilcoxon", ix)
    assert ch is not None
    np.testing.assert_allclose(res["effect"], ch["effect"], atol=1e-6)


def test_ancombc_mixed_removes_the_compositional_bias() -> None:
    """Paired design, 20 of 150 features up by 2 (natural log) and none down: CLR-based
    estimates of the unchanged features are pulled down by the mean shift; ANCOM-BC's bias
    estimate puts them back near zero."""
    rng = np.random.default_rng(5)
    n_f, n_s = 150, 15
    base = rng.normal(3.5, 1.0, n_f)
    truth = np.zeros(n_f)
    truth[:20] = 2.0
    subj = rng.normal(0, 0.8, (n_f, n_s))
    cols, level, subject = [], [], []
    for t in (0, 1):
        mu = np.exp(base[:, None] + subj + t * truth[:, None] + rng.normal(0, 0.3, (n_f, n_s)))
        cols.append(rng.poisson(mu))
        level += ["after" if t else "before"] * n_s
        subject += [f"s{i}" for i in range(n_s)]
    ids = [f"x{i}" for i in range(2 * n_s)]
    counts = pd.DataFrame(np.hstack(cols), index=[f"f{i}" for i in range(n_f)], columns=ids)
    c = Contrast(counts, pd.Series(level, index=ids), "after", "before", "paired",
                 pd.Series(subject, index=ids))
    lmm = run_method("lmm", c)
    anc = run_method("ancombc", c)
    assert lmm is not None and anc is not None
    null = truth == 0
    shift = 2.0 * 20 / 150 / np.log(2)  # the CLR mean shift in log2
    assert np.median(lmm["effect"][null]) == pytest.approx(-shift, abs=0.1)
    assert abs(np.median(anc["effect"][null])) < 0.1
    assert np.median(anc["effect"][~null]) == pytest.approx(2 / np.log(2), abs=0.25)
    assert called(lmm)[null].sum() > called(anc)[null].sum()
    assert called(anc)[~null].mean() >= 0.9


def test_bias_em_finds_the_null_centre() -> None:
    rng = np.random.default_rng(0)
    b = np.r_[rng.normal(0.7, 0.1, 300), rng.normal(3.0, 0.3, 40), rng.normal(-2.0, 0.3, 20)]
    delta, var = bias_em(b, np.full(b.size, 0.1))
    assert delta == pytest.approx(0.7, abs=0.02)
    assert 0 < var < 0.001


def test_longitudinal_methods_name_their_terms() -> None:
    sim = simulate_animal(seed=4, design=None)
    md = sim.metadata
    il2 = md.index[md["treatment"] == "il2"]
    counts = sim.counts[il2]
    counts = counts[(counts > 0).mean(axis=1) >= 0.5]
    c = Contrast(counts, md.loc[il2, "week"].astype(str), "4", "0", "longitudinal",
                 md.loc[il2, "subject"].astype(str), time_levels=("0", "4"), term="week")
    res = run_method("lmm", c)
    assert res is not None
    assert set(res["term"]) == {"week:4", "week:trend"}
    eff = sim.effects.set_index("feature")["effect"].reindex(counts.index).to_numpy()
    calls = called(res[res["term"] == "week:4"].reset_index(drop=True))
    assert calls.sum() > 0
    # what changes over time in the IL-2 arm: age drift and IL-2 features
    assert ((eff[calls] == "time-only") | (eff[calls] == "interaction")).mean() >= 0.8


def test_ancombc_mixed_equals_scikit_bio_without_repeated_subjects() -> None:
    """With one sample per subject the mixed model is ordinary least squares, and the
    bias-corrected estimates equal scikit-bio's ANCOM-BC (an independent implementation of
    Lin & Peddada's estimator) on the same counts."""
    from microtrial.differential._ancombc_mixed import ancombc_mixed

    rng = np.random.default_rng(3)
    n_f, n_s = 120, 20
    base = rng.normal(3.5, 1.0, n_f)
    truth = np.zeros(n_f)
    truth[:15], truth[15:20] = 1.5, -1.5
    cols, level = [], []
    for t in (0, 1):
        depth = rng.normal(0, 0.5, n_s)
        mu = np.exp(base[:, None] + t * truth[:, None] + depth[None] + rng.normal(0, 0.4, (n_f, n_s)))
        cols.append(rng.poisson(mu))
        level += ["b" if t else "a"] * n_s
    ids = [f"x{i}" for i in range(2 * n_s)]
    counts = pd.DataFrame(np.hstack(cols), index=[f"f{i}" for i in range(n_f)], columns=ids)
    lv = pd.Series(level, index=ids)
    sk = run_method("ancombc", Contrast(counts, lv, "b", "a", "between"))
    mine = ancombc_mixed(Contrast(counts, lv, "b", "a", "paired", pd.Series(ids, index=ids)))
    assert sk is not None
    np.testing.assert_allclose(mine["effect"], sk["effect"], atol=1e-6)
    assert (called(mine) == called(sk)).all()


def test_omnibus_f_is_one_way_anova() -> None:
    from scipy import stats

    from microtrial.differential._lmm import omnibus_f, transform_abundance

    rng = np.random.default_rng(2)
    counts = pd.DataFrame(rng.poisson(30, (20, 18)), index=[f"f{i}" for i in range(20)],
                          columns=[f"s{i}" for i in range(18)])
    level = pd.Series(np.repeat(["a", "b", "c"], 6), index=counts.columns)
    res = omnibus_f(counts, level, ("a", "b", "c"))
    y = transform_abundance(counts.to_numpy(dtype=float), "clr")
    ref = stats.f_oneway(*[y[:, level.to_numpy() == g] for g in "abc"], axis=1)
    np.testing.assert_allclose(res["effect"], ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(res["p_value"], ref.pvalue, rtol=1e-8)
    assert (res["df_num"] == 2).all() and (res["df_den"] == 15).all()


def test_cage_random_intercept_in_a_between_comparison() -> None:
    """Mice of a cage share its effect: with no treatment effect at all and strong cage
    effects, treating mice as independent gives far too many small p-values; the cage
    random intercept (``random: [cage]``) keeps them near the nominal 5 %."""
    from microtrial.simulate import AnimalDesign

    naive, caged = [], []
    for seed in (1, 2):
        sim = simulate_animal(AnimalDesign(cage_sd=1.0, n_drift=0, n_il2_features=0), seed=seed)
        md = sim.metadata[sim.metadata["week"] == 4]
        counts = sim.counts[md.index]
        counts = counts[(counts > 0).mean(axis=1) >= 0.5]
        lv = md["treatment"].astype(str)
        for out, random in ((naive, None), (caged, md[["cage"]].astype(str))):
            kw = {} if random is None else {"random": random}
            for m in ("lmm", "ancombc"):
                res = run_method(m, Contrast(counts, lv, "il2", "control", **kw))  # type: ignore[arg-type]
                assert res is not None
                if random is not None:
                    assert (res["model"] == "lmm+cage").all()
                out.append(float((res["p_value"] < 0.05).mean()))
    assert min(naive) > 0.12
    assert max(caged) < 0.08
