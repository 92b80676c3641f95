"""Vectorised pieces against slow, obviously correct versions; guild sums by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from microtrial.differential import guild_abundance, guild_membership
from microtrial.differential._lefse import _ranksum_p, kruskal_wallis, lda_direction
from microtrial.stats import random_intercept_fit


def test_kruskal_wallis_matches_scipy_row_by_row() -> None:
    rng = np.random.default_rng(0)
    x = rng.poisson(2.0, (20, 13)).astype(float)  # many ties
    cls = np.array(list("aaaaaabbbbbbb"))
    got = kruskal_wallis(x, cls)
    for i in range(x.shape[0]):
        if np.all(x[i] == x[i, 0]):
            assert np.isnan(got[i])
            continue
        assert np.isclose(got[i], stats.kruskal(x[i, cls == "a"], x[i, cls == "b"]).pvalue)


def test_ranksum_matches_mannwhitney_asymptotic_without_continuity() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.poisson(3, 12).astype(float), rng.poisson(4, 11).astype(float)
    ref = stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=False).pvalue
    assert np.isclose(_ranksum_p(a, b), ref)


def test_lda_direction_is_fisher_direction() -> None:
    # with more samples than features the first discriminant is proportional to
    # S_w^{-1} (mean_a - mean_b) (Fisher 1936)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 5))
    is_a = np.arange(40) < 18
    x[is_a] += [1.0, 0.0, -0.5, 0.2, 0.0]
    w, ma, mb = lda_direction(x, is_a)
    resid = x - np.where(is_a[:, None], ma, mb)
    sw = resid.T @ resid / (40 - 2)
    fisher = np.linalg.solve(sw, ma - mb)
    cos = abs(w @ fisher) / np.linalg.norm(w) / np.linalg.norm(fisher)
    assert cos > 1 - 1e-10
    # MASS scales the discriminant to unit within-group variance
    assert np.isclose(w @ sw @ w, 1.0)


def test_random_intercept_fit_matches_statsmodels_mixedlm() -> None:
    rng = np.random.default_rng(3)
    n_subj = 15
    subj = np.repeat(np.arange(n_subj), 3)[:-2]
    n = len(subj)
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    ys = [x @ [1.0, 0.5, 0.2] + rng.normal(0, sd, n_subj)[subj] + rng.normal(0, 1, n)
          for sd in (0.0, 1.0, 2.0)]
    y = np.column_stack(ys)
    beta, _, gamma = random_intercept_fit(y, x, subj)
    for k in range(y.shape[1]):
        df = pd.DataFrame({"y": y[:, k], "t": x[:, 1], "c": x[:, 2], "s": subj})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # boundary fits warn
            m = smf.mixedlm("y ~ t + c", df, groups=df["s"]).fit(reml=True)
        np.testing.assert_allclose(beta[:, k], m.fe_params.to_numpy(), atol=0.01)
        ratio = m.cov_re.to_numpy()[0, 0] / m.scale
        assert abs(gamma[k] - ratio) <= 0.1 * ratio + 1e-3


def test_guild_sums_by_hand() -> None:
    taxonomy = pd.Series({
        "a": "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Faecalibacterium; s__prausnitzii",
        "b": "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__",
        "c": "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__[Ruminococcus]; s__gnavus",
        "d": "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; g__Prevotella; s__copri",
        "e": "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Enterobacteriales; f__Enterobacteriaceae; g__Escherichia",
        "f": "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides",
        "g": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__Blautia",
    })
    member = guild_membership(taxonomy)
    assert list(member.index[member["butyrate_producers"]]) == ["a", "b", "g"]
    assert list(member.index[member["inflammation_associated"]]) == ["c", "d", "e"]
    counts = pd.DataFrame({"s1": [10, 5, 1, 4, 0, 20, 10], "s2": [0, 0, 0, 0, 0, 0, 0],
                           "s3": [1, 1, 1, 1, 1, 1, 4]}, index=list("abcdefg"))
    ab = guild_abundance(counts, taxonomy)
    # s1: total 50, butyrate 10+5+10 = 25, inflammation 1+4+0 = 5; s2 empty; s3: 10 reads
    np.testing.assert_allclose(ab.loc["s1"].to_numpy(), [0.5, 0.1])
    np.testing.assert_allclose(ab.loc["s2"].to_numpy(), [0.0, 0.0])
    np.testing.assert_allclose(ab.loc["s3"].to_numpy(), [0.6, 0.3])


def test_lefse_subclass_step_needs_consistent_directions() -> None:
    from microtrial.differential import Contrast, lefse

    # classes A (subclasses a1, a2) and B (b1, b2), 6 samples per subclass (< min_c 10, so
    # subclasses are compared by medians). "same": A above B in every subclass pair.
    # "flip": ranks b2 < a2 < b1 < a1, so a2 is below b1 (inconsistent: LEfSe drops it),
    # yet the class-level KW test is significant: mean ranks 15.5 vs 9.5 of 24,
    # H = 12/(24*25) * (12*3^2 + 12*3^2) = 4.32, p = 0.038.
    k = np.arange(6)
    cols = [f"s{i}" for i in range(24)]
    cls = ["A"] * 12 + ["B"] * 12
    sub = ["a1"] * 6 + ["a2"] * 6 + ["b1"] * 6 + ["b2"] * 6
    same = np.r_[300 + k, 200 + k, 100 + k, 50 + k]
    flip = np.r_[400 + k, 20 + k, 40 + k, 1 + k]
    rest = 2000 - same - flip
    counts = pd.DataFrame([same, flip, rest], index=["same", "flip", "rest"], columns=cols)
    contrast = Contrast(counts, pd.Series(cls, index=cols), "A", "B")
    res = lefse(contrast, subclass=pd.Series(sub, index=cols), seed=0).set_index("feature")
    assert res.loc["same", "lefse_called"]
    assert not res.loc["flip", "lefse_called"] and np.isnan(res.loc["flip", "lda_score"])
    # without subclasses the flip feature passes (KW p < 0.05) and gets an LDA score
    plain = lefse(contrast, seed=0).set_index("feature")
    assert plain.loc["flip", "p_value"] < 0.05 and np.isfinite(plain.loc["flip", "lda_score"])


def test_prevalence_and_abundance_filters_by_hand() -> None:
    from microtrial.differential import filter_features

    counts = pd.DataFrame({"s1": [5, 0, 1, 94], "s2": [5, 0, 0, 95], "s3": [0, 1, 0, 99],
                           "s4": [10, 0, 0, 90]}, index=list("abcd"))
    # prevalence: a 3/4, b 1/4, c 1/4, d 4/4; mean relative abundance: a 0.05, b 0.0025,
    # c 0.0025, d 0.945
    assert list(filter_features(counts, min_prevalence=0.5).index) == ["a", "d"]
    assert list(filter_features(counts, min_prevalence=0.25).index) == list("abcd")
    assert list(filter_features(counts, min_prevalence=0.0, min_abundance=0.01).index) == ["a", "d"]


def test_aldex_ranksum_matches_scipy() -> None:
    from microtrial.differential._aldex import _ranksum_p

    rng = np.random.default_rng(5)
    a, b = rng.normal(0.3, 1, (30, 60)), rng.normal(0, 1, (30, 55))
    ref = stats.mannwhitneyu(a, b, axis=1, method="asymptotic", use_continuity=True).pvalue
    np.testing.assert_allclose(_ranksum_p(a, b), ref, rtol=1e-10)
    ties = np.round(a * 2), np.round(b * 2)
    ref = stats.mannwhitneyu(*ties, axis=1, method="asymptotic", use_continuity=True).pvalue
    np.testing.assert_allclose(_ranksum_p(*ties), ref, rtol=1e-10)
    small = a[:, :10], b[:, :12]
    ref = stats.mannwhitneyu(*small, axis=1, method="exact").pvalue
    np.testing.assert_allclose(_ranksum_p(*small), ref, rtol=1e-10)
