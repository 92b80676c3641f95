"""Consensus of methods: which methods call each feature, with direction and effect."""

from __future__ import annotations

import numpy as np
import pandas as pd


def called(result: pd.DataFrame, *, alpha: float = 0.05) -> np.ndarray:
    """A method's calls: ``q_value < alpha``, or LEfSe's call (|LDA| above its threshold
    after the Kruskal-Wallis and Wilcoxon steps) when the result has ``lefse_called``."""
    if "lefse_called" in result.columns:
        return result["lefse_called"].fillna(False).to_numpy(dtype=bool)
    return (result["q_value"].fillna(1.0) < alpha).to_numpy()


def consensus(results: dict[str, pd.DataFrame], *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per feature, rank and contrast tested by any method.

    Parameters
    ----------
    results : dict
        Method name -> its result with ``feature, contrast, rank, effect``.

    Returns
    -------
    pandas.DataFrame with ``feature, rank, contrast, taxon``, per method ``<m>_called``,
    ``<m>_direction`` (``up``/``down`` = higher/lower in the test level, empty when not
    called) and ``<m>_effect``, then ``n_methods`` (methods calling it) and ``methods``.
    """
    keys = ["feature", "rank", "contrast"]
    # several tests per feature and comparison (pairs of levels, time points, trend): one
    # row per tested term and pair of levels
    present = [r for r in results.values() if r is not None and not r.empty]
    for extra in ("term", "test_level", "reference_level"):
        if present and all(extra in r.columns for r in present):
            keys.append(extra)
    frames = []
    for name, res in results.items():
        if res is None or res.empty:
            continue
        df = res[keys + ["effect"] + (["taxon"] if "taxon" in res else [])].copy()
        c = called(res, alpha=alpha)
        df[f"{name}_called"] = c
        df[f"{name}_direction"] = np.where(c, np.where(res["effect"].to_numpy() > 0, "up", "down"), "")
        df = df.rename(columns={"effect": f"{name}_effect"})
        frames.append((name, df.drop_duplicates(keys)))
    if not frames:
        return pd.DataFrame(columns=keys + ["taxon", "n_methods", "methods"])
    out = None
    for _name, df in frames:
        if out is None:
            out = df
            continue
        taxon = df.pop("taxon") if "taxon" in df else None
        out = out.merge(df, on=keys, how="outer")
        if taxon is not None:
            fill = pd.Series(taxon.to_numpy(), index=pd.MultiIndex.from_frame(df[keys]))
            idx = pd.MultiIndex.from_frame(out[keys])
            if "taxon" not in out:
                out["taxon"] = ""
            missing = out["taxon"].isna() | (out["taxon"] == "")
            out.loc[missing, "taxon"] = fill.reindex(idx[missing.to_numpy()]).to_numpy()
    assert out is not None
    names = [n for n, _ in frames]
    for n in names:
        out[f"{n}_called"] = out[f"{n}_called"].astype("boolean").fillna(False).astype(bool)
        out[f"{n}_direction"] = out[f"{n}_direction"].fillna("")
    calls = out[[f"{n}_called" for n in names]].to_numpy(dtype=bool)
    out["n_methods"] = calls.sum(axis=1)
    out["methods"] = [",".join(n for n, c in zip(names, row) if c) for row in calls]
    cols = keys + (["taxon"] if "taxon" in out else [])
    for n in names:
        cols += [f"{n}_called", f"{n}_direction", f"{n}_effect"]
    out = out[cols + ["n_methods", "methods"]]
    return out.sort_values(["contrast", "rank", "n_methods", "feature"],
                           ascending=[True, True, False, True]).reset_index(drop=True)
