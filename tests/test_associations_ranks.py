"""Associations rank each feature once per set of samples (shared by the measures): the
same rho as Spearman's correlation computed feature by feature (scipy's ``spearmanr``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from microtrial.clinical import associate


def test_spearman_and_partial_equal_per_feature_computation() -> None:
    rng = np.random.default_rng(4)
    n, k = 60, 25
    idx = [f"S{i}" for i in range(n)]
    feats = pd.DataFrame(rng.poisson(3, (n, k)).astype(float), index=idx,
                         columns=[f"F{j}" for j in range(k)])  # ties, like abundances
    meas = pd.DataFrame({"a": feats["F0"] + rng.normal(0, 1, n), "b": rng.normal(size=n),
                         "c": rng.normal(size=n)}, index=idx)
    meas.loc[idx[:7], "b"] = np.nan  # another set of samples for b
    res = associate(feats, meas, method="spearman")
    for m in meas.columns:
        ok = meas[m].notna()
        for f in feats.columns:
            want = stats.spearmanr(feats.loc[ok, f], meas.loc[ok, m]).statistic
            got = res[(res["feature"] == f) & (res["measure"] == m)]["rho"].item()
            assert abs(got - want) < 1e-12, (f, m)
    assert res[res["measure"] == "b"]["n"].unique().tolist() == [n - 7]
    # partial: ranks residualised on the ranked covariate, by hand with least squares
    cov = pd.DataFrame({"age": rng.normal(50, 10, n)}, index=idx)
    part = associate(feats, meas, method="partial_spearman", covariates=cov)
    ok = meas["b"].notna().to_numpy()
    z = np.column_stack([np.ones(ok.sum()), stats.rankdata(cov["age"].to_numpy()[ok])])

    def resid(v: np.ndarray) -> np.ndarray:
        return v - z @ np.linalg.lstsq(z, v, rcond=None)[0]

    for f in ("F0", "F3"):
        want = np.corrcoef(resid(stats.rankdata(feats[f].to_numpy()[ok])),
                           resid(stats.rankdata(meas["b"].to_numpy()[ok])))[0, 1]
        got = part[(part["feature"] == f) & (part["measure"] == "b")]["rho"].item()
        assert abs(got - want) < 1e-12


def test_rmcorr_equals_per_subject_centring_by_hand() -> None:
    # r_rm = correlation of the values centred on each subject's mean (Bakdash & Marusich 2017)
    rng = np.random.default_rng(7)
    subj = np.repeat([f"P{i}" for i in range(30)], 3)
    idx = [f"S{i}" for i in range(len(subj))]
    feats = pd.DataFrame(rng.normal(size=(len(idx), 6)), index=idx, columns=[f"F{j}" for j in range(6)])
    meas = pd.DataFrame({"a": feats["F1"] + rng.normal(0, 1, len(idx)), "b": rng.normal(size=len(idx))},
                        index=idx)
    meas.loc[idx[:4], "b"] = np.nan  # subject P0 keeps no sample for b, P1 two
    res = associate(feats, meas, method="rmcorr", subjects=pd.Series(subj, index=idx))
    for m in ("a", "b"):
        ok = meas[m].notna().to_numpy()
        df = pd.DataFrame({"s": subj[ok], "y": meas[m].to_numpy()[ok]})
        multi = df["s"].map(df["s"].value_counts()) >= 2
        df = df[multi.to_numpy()]
        for f in feats.columns:
            x = feats[f].to_numpy()[ok][multi.to_numpy()]
            xc = x - pd.Series(x).groupby(df["s"].to_numpy()).transform("mean").to_numpy()
            yc = df["y"] - df.groupby("s")["y"].transform("mean")
            want = np.corrcoef(xc, yc.to_numpy())[0, 1]
            got = res[(res["feature"] == f) & (res["measure"] == m)]["rho"].item()
            assert abs(got - want) < 1e-12, (f, m)
