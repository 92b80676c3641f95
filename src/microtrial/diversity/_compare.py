"""Design-aware comparisons: alpha tests per Comparison, mixed model, dysbiosis, pairwise PERMANOVA."""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from microtrial.design import Comparison, level_text, user_level
from microtrial.diversity._permanova import permanova
from microtrial.diversity._stats import bh, kruskal_wallis, mann_whitney, wilcoxon_signed_rank
from microtrial.errors import AnalysisError

log = logging.getLogger(__name__)

TEST_COLUMNS = ["comparison", "index", "test", "n_test", "n_reference", "statistic", "effect",
                "ci_low", "ci_high", "p_value", "q_value"]


def comparison_samples(
    metadata: pd.DataFrame, comparison: Comparison,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of ``metadata`` a comparison uses, and the samples it has to drop (id -> reason).

    For paired comparisons only subjects with exactly one sample at each level are kept.
    """
    for col in [comparison.column, *comparison.where, *([comparison.subject] if comparison.subject else [])]:
        if col not in metadata.columns:
            raise AnalysisError(f"comparison '{comparison.name}': no metadata column '{col}'")
    md = comparison.samples(metadata)
    dropped: dict[str, str] = {}
    if comparison.kind == "paired":
        if comparison.subject is None:
            raise AnalysisError(f"paired comparison '{comparison.name}' needs a subject column")
        lev = md[comparison.column].astype(str)
        counts = pd.crosstab(md[comparison.subject].astype(str), lev)
        for lv in comparison.levels:
            if lv not in counts.columns:
                counts[lv] = 0
        ok = (counts[list(comparison.levels)] == 1).all(axis=1)
        bad = set(counts.index[~ok])
        for sid, subj in md[comparison.subject].astype(str).items():
            if subj in bad:
                dropped[str(sid)] = (f"{comparison.name}: subject {subj} does not have exactly one "
                                     f"sample at each of {', '.join(comparison.levels)}")
        md = md[~md[comparison.subject].astype(str).isin(bad)]
    return md, dropped


def _rows_between(values: pd.Series, md: pd.DataFrame, comp: Comparison, index: str) -> dict:
    lev = md[comp.column].astype(str)
    x = values.loc[lev.index[lev == comp.levels[0]]].to_numpy(dtype=float)
    y = values.loc[lev.index[lev == comp.levels[1]]].to_numpy(dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    row = {"comparison": comp.name, "index": index, "test": "mann-whitney", "n_test": x.size,
           "n_reference": y.size}
    if x.size < 2 or y.size < 2:
        row.update(statistic=np.nan, effect=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
        return row
    r = mann_whitney(x, y)
    row.update(statistic=r.statistic, effect=r.effect, ci_low=r.ci_low, ci_high=r.ci_high,
               p_value=r.p_value)
    return row


def _paired_wide(values: pd.Series, md: pd.DataFrame, comp: Comparison) -> pd.DataFrame:
    df = pd.DataFrame({"subject": md[comp.subject].astype(str), "level": md[comp.column].astype(str),
                       "value": values.loc[md.index].to_numpy(dtype=float)})
    return df.pivot(index="subject", columns="level", values="value")


def _rows_paired(values: pd.Series, md: pd.DataFrame, comp: Comparison, index: str) -> dict:
    wide = _paired_wide(values, md, comp).dropna()
    row = {"comparison": comp.name, "index": index, "test": "wilcoxon-signed-rank",
           "n_test": len(wide), "n_reference": len(wide)}
    if len(wide) < 2:
        row.update(statistic=np.nan, effect=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
        return row
    r = wilcoxon_signed_rank(wide[comp.levels[0]].to_numpy(), wide[comp.levels[1]].to_numpy())
    row.update(statistic=r.statistic, effect=r.effect, ci_low=r.ci_low, ci_high=r.ci_high,
               p_value=r.p_value)
    return row


def alpha_tests(
    alpha: pd.DataFrame, metadata: pd.DataFrame, comparisons: Sequence[Comparison],
) -> pd.DataFrame:
    """One test per alpha index and comparison (Mann-Whitney between, signed-rank paired).

    ``effect`` is the Hodges-Lehmann shift of test vs reference (paired: pseudo-median of the
    differences), ``q_value`` the BH adjustment within the comparison.
    """
    rows = []
    for comp in comparisons:
        md, _ = comparison_samples(metadata.loc[metadata.index.isin(alpha.index)], comp)
        crow = []
        for index in alpha.columns:
            values = alpha[index]
            if comp.kind == "paired":
                crow.append(_rows_paired(values, md, comp, index))
            else:
                crow.append(_rows_between(values, md, comp, index))
        q = bh(np.array([r["p_value"] for r in crow], dtype=float))
        for r, qq in zip(crow, q):
            r["q_value"] = qq
        rows.extend(crow)
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def alpha_kruskal(alpha: pd.DataFrame, groups: pd.Series, *, name: str) -> pd.DataFrame:
    """Kruskal-Wallis of every alpha index across all levels of ``groups`` (> 2 groups)."""
    g = groups.loc[groups.index.isin(alpha.index)].dropna().astype(str)
    rows = []
    for index in alpha.columns:
        parts = [alpha.loc[g.index[g == lv], index].dropna().to_numpy() for lv in sorted(g.unique())]
        h, p = kruskal_wallis(*parts)
        rows.append({"comparison": name, "index": index, "test": "kruskal-wallis",
                     "n_test": int(sum(len(x) for x in parts)), "n_reference": np.nan,
                     "statistic": h, "effect": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                     "p_value": p})
    out = pd.DataFrame(rows)
    out["q_value"] = bh(out["p_value"].to_numpy())
    return out[TEST_COLUMNS]


def alpha_mixed_model(
    alpha: pd.DataFrame, metadata: pd.DataFrame, comparison: Comparison, *,
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """Linear mixed model per alpha index: ``value ~ level + covariates + (1 | subject)``.

    Fitted with statsmodels ``MixedLM`` (REML); ``effect`` is the coefficient of the test
    level vs the reference, with its Wald 95 % interval and p-value. Every subject with at
    least one sample is used (unlike the signed-rank test, which needs complete pairs).
    """
    import statsmodels.formula.api as smf

    if comparison.subject is None:
        raise AnalysisError("mixed model needs a subject column")
    md = comparison.samples(metadata.loc[metadata.index.isin(alpha.index)])
    rows = []
    for index in alpha.columns:
        df = pd.DataFrame({"value": alpha.loc[md.index, index].to_numpy(dtype=float),
                           "level": (md[comparison.column].astype(str) == comparison.levels[0]).astype(float).to_numpy(),
                           "subject": md[comparison.subject].astype(str).to_numpy()})
        for c in covariates:
            df[c] = md[c].to_numpy()
        df = df.dropna()
        row = {"comparison": comparison.name, "index": index, "test": "lmm",
               "n_test": int((df["level"] == 1).sum()), "n_reference": int((df["level"] == 0).sum())}
        formula = "value ~ level" + "".join(f" + {c}" for c in covariates)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # statsmodels convergence chatter; checked below
                fit = smf.mixedlm(formula, df, groups=df["subject"]).fit(reml=True)
            ci = fit.conf_int().loc["level"]
            row.update(statistic=float(fit.tvalues["level"]), effect=float(fit.params["level"]),
                       ci_low=float(ci.iloc[0]), ci_high=float(ci.iloc[1]),
                       p_value=float(fit.pvalues["level"]))
        except (ValueError, np.linalg.LinAlgError, KeyError) as exc:
            log.warning("mixed model for %s (%s) failed: %s", index, comparison.name, exc)
            row.update(statistic=np.nan, effect=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["q_value"] = bh(out["p_value"].to_numpy())
    return out[TEST_COLUMNS]


def dysbiosis(distance: pd.DataFrame, metadata: pd.DataFrame, healthy: tuple[str, str]) -> pd.DataFrame:
    """Dysbiosis score: median distance of each sample to the healthy reference samples.

    For a reference sample itself the median is over the other reference samples.

    Returns
    -------
    pandas.DataFrame
        ``sample-id``, ``dysbiosis``, ``reference`` (True for healthy samples).
    """
    col, level = healthy
    if col not in metadata.columns:
        raise AnalysisError(f"no metadata column '{col}' for the healthy reference")
    ids = [s for s in distance.index if s in metadata.index]
    want = user_level(level, metadata[col])  # '0', '0.0' and 0 name the same numeric level
    ref = [s for s in ids if level_text(metadata.at[s, col]) == want]
    if len(ref) < 2:
        raise AnalysisError(f"dysbiosis needs at least 2 samples with {col} = {level}, found {len(ref)}")
    d = distance.loc[ids, ref].to_numpy()
    is_ref = np.isin(ids, ref)
    scores = np.empty(len(ids))
    ref_pos = {s: j for j, s in enumerate(ref)}
    for i, s in enumerate(ids):
        row = d[i]
        if s in ref_pos:
            row = np.delete(row, ref_pos[s])
        scores[i] = np.median(row)
    return pd.DataFrame({"sample-id": ids, "dysbiosis": scores, "reference": is_ref})


def dysbiosis_change(
    scores: pd.DataFrame, metadata: pd.DataFrame, comparison: Comparison,
) -> tuple[pd.DataFrame, dict]:
    """Per subject, the dysbiosis score at both levels and the change; plus the signed-rank test."""
    s = scores.set_index("sample-id")["dysbiosis"]
    md, _ = comparison_samples(metadata.loc[metadata.index.isin(s.index)], comparison)
    wide = _paired_wide(s, md, comparison).dropna()
    t, r = comparison.levels
    per = pd.DataFrame({"subject": wide.index, "comparison": comparison.name,
                        f"dysbiosis_{r}": wide[r].to_numpy(), f"dysbiosis_{t}": wide[t].to_numpy(),
                        "change": (wide[t] - wide[r]).to_numpy()})
    row = _rows_paired(s, md, comparison, "dysbiosis")
    return per, row


def pairwise_permanova(
    distance: pd.DataFrame, metadata: pd.DataFrame, column: str, *, strata: str | None = None,
    permutations: int = 999, seed: int = 0,
) -> pd.DataFrame:
    """PERMANOVA for every pair of levels of ``column``, BH-adjusted across pairs."""
    lev = metadata.loc[distance.index, column].astype(str)
    rows = []
    for a, b in itertools.combinations(sorted(lev.unique()), 2):
        ids = [s for s in distance.index if lev[s] in (a, b)]
        if min((lev[ids] == a).sum(), (lev[ids] == b).sum()) < 2:
            continue
        res = permanova(distance.loc[ids, ids], metadata, [column], strata=strata,
                        permutations=permutations, seed=seed)
        r0 = res.iloc[0]
        rows.append({"term": column, "level_a": a, "level_b": b, "n": len(ids), "df": r0["df"],
                     "pseudo_F": r0["pseudo_F"], "R2": r0["R2"], "p_value": r0["p_value"],
                     "permutations": permutations})
    out = pd.DataFrame(rows, columns=["term", "level_a", "level_b", "n", "df", "pseudo_F", "R2",
                                      "p_value", "permutations"])
    out["q_value"] = bh(out["p_value"].to_numpy()) if len(out) else []
    return out
