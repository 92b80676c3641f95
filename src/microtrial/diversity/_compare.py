"""Design-aware comparisons: alpha tests per Comparison, mixed model, dysbiosis, pairwise PERMANOVA."""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from microtrial.design import Comparison, level_text, user_level
from microtrial.diversity._permanova import permanova, subset_distance
from microtrial.diversity._stats import bh, kruskal_wallis, mann_whitney, wilcoxon_signed_rank
from microtrial.errors import AnalysisError

log = logging.getLogger(__name__)

TEST_COLUMNS = ["comparison", "index", "test", "n_test", "n_reference", "statistic", "effect",
                "ci_low", "ci_high", "p_value", "q_value"]
#: with designs beyond two levels (:func:`design_tests`) a ``term`` column names the tested
#: term (e.g. ``treatment:week``, ``week:trend``, ``group:a-vs-b``)
DESIGN_TEST_COLUMNS = [*TEST_COLUMNS, "term"]


def comparison_samples(
    metadata: pd.DataFrame, comparison: Comparison,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of ``metadata`` a comparison uses, and the samples it has to drop (id -> reason).

    For paired and interaction comparisons only subjects with exactly one sample at each
    level (of ``column``) are kept; for longitudinal ones every subject, with one sample per
    time point.
    """
    for col in comparison.columns:
        if col not in metadata.columns:
            raise AnalysisError(f"comparison '{comparison.name}': no metadata column '{col}'")
    md = comparison.samples(metadata)
    dropped: dict[str, str] = {}
    if comparison.kind == "longitudinal":
        if comparison.subject is None:
            raise AnalysisError(f"longitudinal comparison '{comparison.name}' needs a subject column")
        dup = md.duplicated(subset=[comparison.subject, comparison.column])
        for sid in md.index[dup]:
            dropped[str(sid)] = (f"{comparison.name}: a second sample of its subject at "
                                 f"{md.at[sid, comparison.column]!s}")
        return md[~dup], dropped
    if comparison.kind in ("paired", "interaction"):
        if comparison.subject is None:
            raise AnalysisError(f"paired comparison '{comparison.name}' needs a subject column")
        lev = md[comparison.column].astype(str)
        counts = pd.crosstab(md[comparison.subject].astype(str), lev)
        for lv in comparison.levels:
            if lv not in counts.columns:
                counts[lv] = 0
        ok = (counts[list(comparison.levels[:2])] == 1).all(axis=1)
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
        res = permanova(subset_distance(distance, ids), metadata, [column], strata=strata,
                        permutations=permutations, seed=seed)
        r0 = res.iloc[0]
        rows.append({"term": column, "level_a": a, "level_b": b, "n": len(ids), "df": r0["df"],
                     "pseudo_F": r0["pseudo_F"], "R2": r0["R2"], "p_value": r0["p_value"],
                     "permutations": permutations})
    out = pd.DataFrame(rows, columns=["term", "level_a", "level_b", "n", "df", "pseudo_F", "R2",
                                      "p_value", "permutations"])
    out["q_value"] = bh(out["p_value"].to_numpy()) if len(out) else []
    return out


# --------------------------------------------------------------------------- designs
# between with 3+ levels, longitudinal and interaction comparisons (docs/study-file.md)


def _row(comp: Comparison, index: str, test: str, term: str, **values: float) -> dict:
    row = {"comparison": comp.name, "index": index, "test": test, "term": term,
           "n_test": np.nan, "n_reference": np.nan, "statistic": np.nan, "effect": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
    row.update(values)
    return row


def _lmm_rows(values: np.ndarray, x: np.ndarray, subjects: np.ndarray,
              tested: list[tuple[str, int]], *, max_df: int | None = None
              ) -> list[tuple[str, float, float, float, float, int]]:
    """REML random-intercept fit (differential's, checked against lme4); per tested column:
    label, estimate, t, p, SE, df (min(N - p, S - 1), as the feature models)."""
    from scipy import stats as st

    from microtrial.stats import random_intercept_fit

    beta, se, _ = random_intercept_fit(values[:, None], x, subjects)
    n, p = x.shape
    df = min(n - p, len(np.unique(subjects)) - 1)
    df = max(df if max_df is None else min(df, max_df), 1)
    out = []
    for label, j in tested:
        b, s_ = float(beta[j, 0]), float(se[j, 0])
        t = b / s_ if s_ > 0 else np.nan
        out.append((label, b, t, float(2 * st.t.sf(abs(t), df)) if s_ > 0 else np.nan, s_, df))
    return out


def _ci(b: float, se: float, df: int) -> tuple[float, float]:
    from scipy import stats as st

    h = float(st.t.ppf(0.975, df)) * se
    return b - h, b + h


def _nested_lmm(v: np.ndarray, x: np.ndarray, subjects: np.ndarray, others: list[np.ndarray],
                df: int) -> tuple[float, float, float, float, float]:
    """REML fit with random intercepts for the ``others`` columns (e.g. cage) and for subject
    (within them); estimate, t, p, 95 % CI of the last column of ``x`` (Student's t with
    ``df``)."""
    from scipy import stats as st

    from microtrial.stats import variance_components_fit

    beta, se, _ = variance_components_fit(v, x, [*others, subjects])
    b, s_ = float(beta[-1]), float(se[-1])
    t = b / s_ if s_ > 0 else np.nan
    lo, hi = _ci(b, s_, df)
    return b, t, float(2 * st.t.sf(abs(t), df)) if s_ > 0 else np.nan, lo, hi


def design_tests(
    alpha: pd.DataFrame, distances: dict[str, pd.DataFrame], metadata: pd.DataFrame,
    comparison: Comparison, *, covariates: Sequence[str] = (), permutations: int = 999,
    seed: int = 0,
) -> tuple[pd.DataFrame, list[dict], list[pd.DataFrame]]:
    """Alpha and beta tests of a ``between`` comparison with more than two levels, a
    ``longitudinal`` or an ``interaction`` comparison.

    ``metadata`` holds the comparison's samples (:func:`comparison_samples`). Returns the
    alpha test rows (``DESIGN_TEST_COLUMNS``; ``term`` names the tested term), PERMANOVA rows
    (``comparison, metric, term, df, pseudo_F, R2, p_value, permutations, strata, n``) and
    pairwise PERMANOVA tables (``comparison, metric`` + :func:`pairwise_permanova`'s).

    - ``between`` (3+ levels): Kruskal-Wallis over all levels, then Mann-Whitney for every
      pair (BH across pairs); PERMANOVA over all levels, then for every pair (BH across
      pairs, in ``q_value``).
    - ``longitudinal``: LMM ``value ~ time (factor) + (1 | subject)`` per later time point
      and the trend over the time points' ranks; Friedman's test over the complete
      subjects; PERMANOVA of time with permutations within subject.
    - ``interaction``: LMM ``value ~ by * column + (1 | subject)`` (the interaction
      estimate: test arm's change minus reference arm's change; Student's t with the
      complete subjects minus 2 degrees of freedom), with ``random`` columns (e.g. cage) a
      second REML fit with their random intercepts and subjects within them (test
      ``lmm+cage``; lme4's ``(1 | cage / subject)``);
      the difference-in-change Mann-Whitney test; PERMANOVA ``by + column + by:column`` on
      the subjects sampled at both time points, whole subjects permuted between arms and
      time within subject (vegan ``how(plots = Plots(subject, "free"), within =
      Within("free"))``).

    ANOSIM and PERMDISP test one factor between groups; they are not run for these
    comparisons (one log line says so).
    """
    from microtrial.diversity._stats import kruskal_wallis

    comp = comparison
    md = metadata.loc[metadata.index.isin(alpha.index)]
    rows: list[dict] = []
    perm: list[dict] = []
    pairs: list[pd.DataFrame] = []
    covs = [c for c in [*covariates, *comp.covariates] if c in md.columns and c != comp.column]
    log.info("%s (%s): ANOSIM and PERMDISP test one factor and are not run", comp.name, comp.kind)
    lev = md[comp.column].astype(str)
    if comp.kind == "between":
        for index in alpha.columns:
            parts = [alpha.loc[lev.index[lev == lv], index].dropna().to_numpy() for lv in comp.levels]
            h, p = kruskal_wallis(*parts)
            rows.append(_row(comp, index, "kruskal-wallis", comp.column, statistic=h, p_value=p,
                             n_test=float(sum(len(x) for x in parts))))
            pair_rows = []
            for la, lb in comp.pairs():
                pc = Comparison(comp.name, "between", comp.column, (la, lb))
                r = _rows_between(alpha[index], md, pc, index)
                r["test"], r["term"] = "mann-whitney-pairwise", f"{comp.column}:{la}-vs-{lb}"
                pair_rows.append(r)
            rows.extend(pair_rows)
        for m, dm in distances.items():
            ids = list(md.index)
            try:
                res = permanova(subset_distance(dm, ids), md, [*covs, comp.column],
                                permutations=permutations, seed=seed)
            except AnalysisError as exc:
                log.warning("PERMANOVA %s %s not run: %s", comp.name, m, exc)
                continue
            r0 = res[res["term"] == comp.column].iloc[0]
            perm.append({"comparison": comp.name, "metric": m, "term": comp.column,
                         "df": r0["df"], "pseudo_F": r0["pseudo_F"], "R2": r0["R2"],
                         "p_value": r0["p_value"], "permutations": permutations, "strata": "",
                         "n": len(ids)})
            pw = pairwise_permanova(subset_distance(dm, ids), md, comp.column,
                                    permutations=permutations, seed=seed)
            pw.insert(0, "metric", m)
            pw.insert(0, "comparison", comp.name)
            pairs.append(pw)
        return pd.DataFrame(rows, columns=DESIGN_TEST_COLUMNS), perm, pairs
    if comp.subject is None:
        raise AnalysisError(f"{comp.kind} comparison '{comp.name}' needs a subject column")
    subj = md[comp.subject].astype(str)
    if comp.kind == "longitudinal":
        times = [lv for lv in comp.levels if (lev == lv).any()]
        rank = lev.map({lv: i for i, lv in enumerate(times)}).to_numpy(dtype=float)
        one = np.ones(len(md))
        x_f = np.column_stack([one] + [(lev == lv).to_numpy(dtype=float) for lv in times[1:]])
        x_t = np.column_stack([one, rank])
        wide_all = None
        for index in alpha.columns:
            v = alpha.loc[md.index, index].to_numpy(dtype=float)
            ok = np.isfinite(v)
            fits = _lmm_rows(v[ok], x_f[ok], subj.to_numpy()[ok],
                             [(lv, i + 1) for i, lv in enumerate(times[1:])])
            fits += _lmm_rows(v[ok], x_t[ok], subj.to_numpy()[ok], [("trend", 1)])
            for label, b, t, p, se, df in fits:
                lo, hi = _ci(b, se, df)
                rows.append(_row(comp, index, "lmm", f"{comp.column}:{label}", statistic=t,
                                 effect=b, ci_low=lo, ci_high=hi, p_value=p,
                                 n_test=float(((lev == label).to_numpy() & ok).sum())
                                 if label != "trend" else float(ok.sum()),
                                 n_reference=float(((lev == times[0]).to_numpy() & ok).sum())))
            wide_all = pd.DataFrame({"s": subj, "t": lev, "v": v}).pivot_table(
                index="s", columns="t", values="v", aggfunc="first")
            wide = wide_all.reindex(columns=times).dropna()
            if len(times) >= 3 and len(wide) >= 2:
                from scipy.stats import friedmanchisquare

                st_, p = friedmanchisquare(*[wide[t_].to_numpy() for t_ in times])
                rows.append(_row(comp, index, "friedman", comp.column, statistic=float(st_),
                                 p_value=float(p), n_test=float(len(wide)),
                                 effect=float(np.median(wide[times[-1]] - wide[times[0]]))))
        for m, dm in distances.items():
            ids = list(md.index)
            try:
                res = permanova(subset_distance(dm, ids), md, [*covs, comp.column], strata=comp.subject,
                                permutations=permutations, seed=seed)
            except AnalysisError as exc:
                log.warning("PERMANOVA %s %s not run: %s", comp.name, m, exc)
                continue
            r0 = res[res["term"] == comp.column].iloc[0]
            perm.append({"comparison": comp.name, "metric": m, "term": comp.column,
                         "df": r0["df"], "pseudo_F": r0["pseudo_F"], "R2": r0["R2"],
                         "p_value": r0["p_value"], "permutations": permutations,
                         "strata": comp.subject, "n": len(ids)})
        return pd.DataFrame(rows, columns=DESIGN_TEST_COLUMNS), perm, pairs
    # interaction
    assert comp.by is not None
    arm = md[comp.by].astype(str)
    test_t, ref_t = comp.levels[0], comp.levels[1]
    test_a, ref_a = comp.by_levels[0], comp.by_levels[1]
    t_ind = (lev == test_t).to_numpy(dtype=float)
    a_ind = (arm == test_a).to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(md)), t_ind, a_ind, t_ind * a_ind])
    term = comp.term
    for index in alpha.columns:
        v = alpha.loc[md.index, index].to_numpy(dtype=float)
        ok = np.isfinite(v)
        sv = pd.DataFrame({"s": subj.to_numpy()[ok], "t": lev.to_numpy()[ok]})
        n_complete = int((sv.groupby("s")["t"].nunique() >= 2).sum())
        # the two-sample t test of changes: complete subjects minus two (as the features)
        (_, b, t, p, se, df), = _lmm_rows(v[ok], x[ok], subj.to_numpy()[ok], [("ix", 3)],
                                          max_df=n_complete - 2)
        lo, hi = _ci(b, se, df)
        n_t, n_r = int(a_ind[ok].sum()), int((1 - a_ind[ok]).sum())
        rows.append(_row(comp, index, "lmm", term, statistic=t, effect=b, ci_low=lo,
                         ci_high=hi, p_value=p, n_test=n_t, n_reference=n_r))
        if comp.random:
            others = [md[r_].astype(str).to_numpy()[ok] for r_ in comp.random]
            b2, t2, p2, lo2, hi2 = _nested_lmm(v[ok], x[ok], subj.to_numpy()[ok], others, df)
            rows.append(_row(comp, index, f"lmm+{'+'.join(comp.random)}", term, statistic=t2,
                             effect=b2, ci_low=lo2, ci_high=hi2, p_value=p2, n_test=n_t,
                             n_reference=n_r))
        wide = pd.DataFrame({"s": subj, "t": lev, "v": v}).pivot_table(
            index="s", columns="t", values="v", aggfunc="first")
        if test_t in wide and ref_t in wide:
            change = (wide[test_t] - wide[ref_t]).dropna()
            arm_of = arm.groupby(subj).first()
            ct = change[arm_of.reindex(change.index) == test_a].to_numpy()
            cr = change[arm_of.reindex(change.index) == ref_a].to_numpy()
            if ct.size >= 2 and cr.size >= 2:
                mw = mann_whitney(ct, cr)
                rows.append(_row(comp, index, "change-mann-whitney", term, statistic=mw.statistic,
                                 effect=float(ct.mean() - cr.mean()), ci_low=mw.ci_low,
                                 ci_high=mw.ci_high, p_value=mw.p_value, n_test=ct.size,
                                 n_reference=cr.size))
                for a_, ch in ((test_a, ct), (ref_a, cr)):
                    rows.append(_row(comp, index, "change-in-arm", f"{comp.column}|{comp.by}={a_}",
                                     effect=float(ch.mean()), n_test=ch.size,
                                     p_value=wilcoxon_signed_rank(ch, np.zeros_like(ch)).p_value
                                     if np.any(ch != 0) else np.nan))
    counts = pd.crosstab(subj, lev)
    complete = counts.index[(counts.reindex(columns=[test_t, ref_t], fill_value=0) == 1).all(axis=1)]
    ids = list(md.index[subj.isin(complete)])
    pmd = md.loc[ids].copy()
    pmd[comp.by] = pmd[comp.by].astype(str)
    pmd[comp.column] = pmd[comp.column].astype(str)
    for m, dm in distances.items():
        try:
            res = permanova(subset_distance(dm, ids), pmd, [*covs, comp.by, comp.column, term],
                            plots=comp.subject, permutations=permutations, seed=seed)
        except AnalysisError as exc:
            log.warning("PERMANOVA %s %s not run: %s", comp.name, m, exc)
            continue
        for _, r0 in res[res["term"].isin([comp.by, comp.column, term])].iterrows():
            perm.append({"comparison": comp.name, "metric": m, "term": r0["term"],
                         "df": r0["df"], "pseudo_F": r0["pseudo_F"], "R2": r0["R2"],
                         "p_value": r0["p_value"], "permutations": permutations,
                         "strata": f"plots:{comp.subject}", "n": len(ids)})
    return pd.DataFrame(rows, columns=DESIGN_TEST_COLUMNS), perm, pairs
