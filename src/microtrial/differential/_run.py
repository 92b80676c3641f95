"""The differential stage's one entry point: every comparison at every rank with every
method (LEfSe over the taxonomic hierarchy, the others per rank), the omnibus LMM F test for
``between`` comparisons with 3+ levels, BH across pairs, guild tests and the consensus.
See :mod:`microtrial.pipeline.differential` for the rules."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from microtrial.design import Comparison
from microtrial.differential._consensus import consensus
from microtrial.differential._data import Contrast
from microtrial.differential._features import (
    arm_prevalence_filter,
    filter_features,
    hierarchy_counts,
    rank_counts,
    taxon_labels,
)
from microtrial.differential._guilds import guild_abundance, guild_counts
from microtrial.differential._methods import get_method
from microtrial.errors import AnalysisError

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]
BASE_COLUMNS = ["feature", "contrast", "effect", "effect_type", "p_value", "q_value", "term", "rank",
                "test_level", "reference_level", "mean_test", "mean_reference", "n_test",
                "n_reference", "taxon"]


class DifferentialInputError(ValueError):
    """Nothing (or something impossible) to test; ``source`` names the input at fault
    (``"metadata"``, ``"table"`` or the option key ``"options.differential_methods"``) for
    the caller to name the file or option."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source
        self.message = message


@dataclass(frozen=True)
class DifferentialResult:
    """What :func:`run_differential` computed.

    Attributes
    ----------
    tables : dict
        Method -> its results over every comparison and rank (``differential-<method>.tsv``).
    consensus : DataFrame
        Features called by the methods (``differential-consensus.tsv``).
    guilds : DataFrame or None
        Guild relative abundance per sample (``guilds.tsv``; None without a taxonomy).
    guild_tests : DataFrame or None
        Guild tests of every method (``differential-guilds.tsv``).
    n_called : dict
        Method -> features called.
    skipped : tuple of str
        Every test skipped, and why.
    notes : tuple of (int, str)
        ``(logging level, message)`` of the skipped tests, for the caller to log.
    timings : dict
        Seconds per ``method:comparison``.
    """

    tables: dict[str, pd.DataFrame]
    consensus: pd.DataFrame
    guilds: pd.DataFrame | None
    guild_tests: pd.DataFrame | None
    n_called: dict[str, int] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    notes: tuple[tuple[int, str], ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def _contrast(comp: Comparison, metadata: pd.DataFrame, sample_ids: Sequence[str],
              covariates: Sequence[str]) -> list[Contrast] | str:
    """The comparison's contrasts (no counts yet; one per pair of levels for a ``between``
    comparison with more than two levels), or why it cannot be tested."""
    covariates = list(dict.fromkeys([*covariates, *comp.covariates]))
    for col in [*comp.columns, *covariates]:
        if col not in metadata.columns:
            raise DifferentialInputError("metadata", f"comparison '{comp.name}': no column '{col}'")
    md = comp.samples(metadata)
    md = md[md.index.isin(set(sample_ids))]
    dropped = ""
    if covariates:
        all_missing = [c for c in covariates if len(md) and md[c].isna().all()]
        if all_missing:
            return (f"covariate {', '.join(repr(c) for c in all_missing)} is missing for all "
                    f"{len(md)} of its samples")
        complete = md[list(covariates)].notna().all(axis=1)
        if not complete.all():
            n_drop = int((~complete).sum())
            log.info("%s: %d samples without covariates dropped", comp.name, n_drop)
            dropped = f" after leaving out {n_drop} without covariate values"
        md = md[complete]
    if comp.random:
        md = md[md[list(comp.random)].notna().all(axis=1)]
        if comp.kind != "between" or len(comp.random) > 1:
            log.info("%s: feature models keep the subject random intercept only; %s not "
                     "modelled for features (a grouping of subjects cancels from "
                     "within-subject changes; the alpha-diversity models include it)",
                     comp.name, ", ".join(comp.random))

    def cov(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[list(covariates)] if covariates else pd.DataFrame(index=frame.index)

    def rnd(frame: pd.DataFrame) -> pd.DataFrame:
        # a random intercept for features: one grouping in a between comparison (cages)
        if comp.kind == "between" and len(comp.random) == 1:
            return frame[list(comp.random)].astype(str)
        return pd.DataFrame(index=frame.index)

    level = md[comp.column].astype(str)
    subject = md[comp.subject].astype(str) if comp.subject else None
    empty = pd.DataFrame(np.zeros((0, len(md))), columns=md.index)
    if comp.kind in ("interaction", "longitudinal"):
        if subject is None:
            raise DifferentialInputError("metadata", f"comparison '{comp.name}' is {comp.kind} but has no "
                                            f"subject column")
        keep = ~pd.DataFrame({"s": subject, "l": level}).duplicated()
        md, level, subject = md[keep], level[keep], subject[keep]
        empty = pd.DataFrame(np.zeros((0, len(md))), columns=md.index)
        if comp.kind == "interaction":
            assert comp.by is not None
            arm = md[comp.by].astype(str)
            n_arms = pd.DataFrame({"s": subject, "a": arm}).groupby("s")["a"].nunique()
            if (n_arms > 1).any():
                return (f"subject(s) {', '.join(sorted(n_arms.index[n_arms > 1])[:5])} are in "
                        f"both arms of '{comp.by}'")
            test, ref = comp.levels[0], comp.levels[1]
            for a_ in comp.by_levels:
                rows = arm == a_
                both = set(subject[rows & (level == test)]) & set(subject[rows & (level == ref)])
                if len(both) < 2:
                    return (f"{len(both)} subject(s) of arm {comp.by}={a_} have samples at both "
                            f"'{test}' and '{ref}'{dropped} (at least 2 needed)")
            return [Contrast(empty, level, test, ref, "interaction", subject, cov(md), arm=arm,
                             arm_levels=tuple(comp.by_levels), term=comp.term, random=rnd(md))]
        present = [lv for lv in comp.levels if (level == lv).any()]
        if len(present) < 2:
            return f"longitudinal, but only {len(present)} of its time points have samples{dropped}"
        n_times = pd.DataFrame({"s": subject, "l": level}).groupby("s")["l"].nunique()
        if int((n_times >= 2).sum()) < 2:
            return f"fewer than 2 subjects sampled at two or more time points{dropped}"
        return [Contrast(empty, level, present[-1], present[0], "longitudinal", subject, cov(md),
                         time_levels=tuple(present), term=comp.column, random=rnd(md))]
    out: list[Contrast] = []
    reasons: list[str] = []
    for test, ref in comp.pairs():
        lv, sj, frame = level, subject, md
        if comp.kind == "paired":
            if sj is None:
                raise DifferentialInputError("metadata", f"comparison '{comp.name}' is paired but has no subject column")
            both, too_few = _subjects_at_both(comp, lv, sj)
            if too_few:
                return f"paired, but {too_few}{dropped}"
            keep = sj.isin(both) & ~pd.DataFrame({"s": sj, "l": lv}).duplicated()
            frame, lv, sj = frame[keep], lv[keep], sj[keep]
        else:
            keep = lv.isin([test, ref])
            frame, lv = frame[keep], lv[keep]
            sj = sj[keep] if sj is not None else None
        n_t, n_r = int((lv == test).sum()), int((lv == ref).sum())
        if n_t < 2 or n_r < 2:
            reasons.append(f"{n_t} {test} and {n_r} {ref} samples{dropped} (at least 2 of each needed)")
            continue
        e = pd.DataFrame(np.zeros((0, len(frame))), columns=frame.index)
        term = comp.column if len(comp.levels) == 2 else f"{comp.column}:{test}-vs-{ref}"
        out.append(Contrast(e, lv, test, ref, comp.kind, sj, cov(frame), term=term,
                            random=rnd(frame)))
    if not out:
        return "; ".join(reasons)
    for r in reasons:
        log.warning("%s: a pair skipped: %s", comp.name, r)
    return out


def _pairs_hint(comp: Comparison, metadata: pd.DataFrame, sample_ids: Sequence[str]) -> str:
    """For a between comparison with a subject column: why it is not paired, if no pairs."""
    if comp.subject is None or comp.subject not in metadata.columns:
        return ""
    md = comp.samples(metadata)
    md = md[md.index.isin(set(sample_ids))]
    _, too_few = _subjects_at_both(comp, md[comp.column].astype(str), md[comp.subject].astype(str))
    return f" ({too_few})" if too_few else ""


def _subjects_at_both(comp: Comparison, level: pd.Series, subject: pd.Series) -> tuple[set[str], str]:
    """The subjects sampled at both levels, and, when fewer than two, the phrase saying so."""
    test, ref = comp.levels[0], comp.levels[1]
    both = set(subject[level == test]) & set(subject[level == ref])
    if len(both) >= 2:
        return both, ""
    who = "no subject" if not both else "only one subject"
    return both, f"{who} (column '{comp.subject}') has samples at both '{test}' and '{ref}'"


def _annotate(res: pd.DataFrame, comp: Comparison, contrast: Contrast, rank: str | pd.Series,
              totals: np.ndarray, taxonomy: pd.Series | None) -> pd.DataFrame:
    counts = contrast.counts
    rel = counts.to_numpy(dtype=float) / np.where(totals > 0, totals, 1.0)[None, :]
    level = contrast.level.astype(str).to_numpy()
    res = res.copy()
    res.insert(1, "contrast", comp.name)
    if "term" not in res.columns or (res["term"].astype(str) == "").all():
        res["term"] = contrast.term or comp.term
    res["rank"] = rank.reindex(res["feature"]).to_numpy() if isinstance(rank, pd.Series) else rank
    if "test_level" not in res.columns:
        res["test_level"] = contrast.test
    res["reference_level"] = contrast.reference
    pos = {f: i for i, f in enumerate(map(str, counts.index))}
    rows = np.array([pos.get(str(f), -1) for f in res["feature"]])
    mean_ref = rel[:, level == contrast.reference].mean(axis=1) if (level == contrast.reference).any() \
        else np.full(len(counts), np.nan)
    mt = np.full(len(res), np.nan)
    n_t = np.zeros(len(res), dtype=np.int64)
    for lv in pd.unique(res["test_level"].astype(str)):
        sel = (res["test_level"].astype(str) == lv).to_numpy() & (rows >= 0)
        cols = level == lv
        if cols.any():
            mt[sel] = rel[rows[sel]][:, cols].mean(axis=1)
        n_t[sel] = int(cols.sum())
    res["mean_test"] = mt
    res["mean_reference"] = np.where(rows >= 0, mean_ref[np.maximum(rows, 0)], np.nan)
    res["n_test"], res["n_reference"] = n_t, int((level == contrast.reference).sum())
    if contrast.kind == "interaction":
        res["test_arm"], res["reference_arm"] = contrast.arm_levels[0], contrast.arm_levels[1]
    res["taxon"] = taxon_labels(list(res["feature"]), taxonomy, "asv" if isinstance(rank, str) and rank == "asv" else "clade")
    extra = [c for c in res.columns if c not in BASE_COLUMNS]
    return res[BASE_COLUMNS + extra]


def _omnibus(comp: Comparison, md: pd.DataFrame, usable: Sequence[str], covariates: Sequence[str],
             per_rank: dict[str, pd.DataFrame], ranks: Sequence[str],
             totals_all: np.ndarray, all_counts: pd.DataFrame, tax: pd.Series | None,
             min_prevalence: float, min_abundance: float, out: list[pd.DataFrame],
             skip: Callable[[int, str], None]) -> None:
    """``between`` with 3+ levels: the LMM stage's F test over all levels per feature
    (rows with ``test_level`` ``all``), before the pairwise tests."""
    from microtrial.differential._lmm import omnibus_f

    covs = list(dict.fromkeys([*covariates, *comp.covariates]))
    sub_md = comp.samples(md)
    sub_md = sub_md[sub_md.index.isin(set(usable))]
    if covs:
        sub_md = sub_md[sub_md[covs].notna().all(axis=1)]
    level = sub_md[comp.column].astype(str)
    present = [lv for lv in comp.levels if (level == lv).sum() >= 2]
    if len(present) < 3:
        return
    keep = level.isin(present)
    sub_md, level = sub_md[keep], level[keep]
    cols = list(sub_md.index)
    tot = pd.Series(totals_all, index=all_counts.columns)[cols].to_numpy()
    cov = sub_md[covs] if covs else None
    for rank in ranks:
        counts = filter_features(per_rank[rank][cols], min_prevalence=min_prevalence,
                                 min_abundance=min_abundance, totals=tot)
        if counts.shape[0] < 2:
            continue
        try:
            res = omnibus_f(counts, level, tuple(present), covariates=cov)
        except AnalysisError as exc:
            skip(logging.WARNING, f"lmm omnibus {rank} {comp.name}: {exc}")
            continue
        res.insert(1, "contrast", comp.name)
        res["term"] = comp.column
        res["rank"] = rank
        res["test_level"], res["reference_level"] = "all", ",".join(present)
        rel = counts.to_numpy(dtype=float) / np.where(tot > 0, tot, 1.0)[None, :]
        res["mean_test"] = rel.mean(axis=1)
        res["mean_reference"] = np.nan
        res["n_test"], res["n_reference"] = len(cols), 0
        res["model"] = "ols"
        res["taxon"] = taxon_labels(list(res["feature"]), tax, "asv" if rank == "asv" else "clade")
        extra = [c for c in res.columns if c not in BASE_COLUMNS]
        out.append(res[BASE_COLUMNS + extra])


def _bh_pairs(df: pd.DataFrame, multi: Sequence[str]) -> pd.DataFrame:
    """For ``between`` comparisons with more than two levels: q-values by BH over the
    features of all pairs of levels at once (per rank)."""
    from microtrial.differential import bh

    df = df.copy()
    for name in multi:
        for rank in pd.unique(df["rank"].astype(str)):
            sel = ((df["contrast"] == name) & (df["rank"].astype(str) == rank)
                   & (df["test_level"].astype(str) != "all")).to_numpy()
            if sel.any():
                df.loc[sel, "q_value"] = bh(df.loc[sel, "p_value"].to_numpy(dtype=float))
    return df


def run_differential(ftable: Any, md: pd.DataFrame, usable: Sequence[str], *,
                     comparisons: Sequence[Comparison], tax: pd.Series | None,
                     names: Sequence[str], ranks: Sequence[str], covariates: Sequence[str] = (),
                     min_prevalence: float = 0.1, min_abundance: float = 0.0, seed: int = 0,
                     lefse_subclass: str | None = None,
                     progress: ProgressCallback | None = None) -> DifferentialResult:
    """Test every comparison at every rank with every method.

    Parameters
    ----------
    ftable : FeatureTable
        Counts.
    md : DataFrame
        Metadata indexed by sample id.
    usable : sequence of str
        Samples in both, with reads.
    comparisons : sequence of Comparison
    tax : Series or None
        Feature id -> lineage (required for ranks other than ``asv``).
    names, ranks : sequence of str
        Resolved method and rank names.
    covariates, min_prevalence, min_abundance, seed, lefse_subclass
        See the ``differential`` stage.
    progress : callable, optional
        ``progress(label, done, total)``.

    Returns
    -------
    DifferentialResult

    Raises
    ------
    DifferentialInputError
        When no comparison (or no test at all) can run, or a named column is missing.
    """
    skipped: list[str] = []
    timings: dict[str, float] = {}
    all_counts = rank_counts(ftable, None, "asv")
    totals_all = all_counts.to_numpy(dtype=float).sum(axis=0)
    per_rank = {r: (all_counts if r == "asv" else rank_counts(ftable, tax, r)) for r in ranks}
    hier = None
    if "lefse" in names and tax is not None:
        deepest = "species" if "species" in ranks else "genus"
        hier = hierarchy_counts(ftable, tax, deepest=deepest)
    results: dict[str, list[pd.DataFrame]] = {m: [] for m in names}
    guild_results: list[pd.DataFrame] = []
    contrasts: list[tuple[Comparison, Contrast]] = []
    # skipped tests are logged once at the end: when nothing could be tested at all, the
    # stage raises one error with the reasons instead (and writes nothing)
    notes: list[tuple[int, str]] = []

    def skip(level: int, note: str) -> None:
        notes.append((level, note))
        skipped.append(note)

    untestable: list[str] = []
    for comp in comparisons:
        c = _contrast(comp, md, usable, covariates)
        if isinstance(c, str):
            skip(logging.WARNING, f"comparison {comp.name} skipped: {c}")
            untestable.append(f"{comp.name}: {c}")
        else:
            contrasts.extend((comp, ci) for ci in c)
    if not contrasts:
        raise DifferentialInputError("metadata", f"no comparison can be tested ({'; '.join(untestable)})")
    n_run = 0
    not_applicable: list[str] = []
    total_steps = max(len(contrasts) * (len(ranks) * len(names) + 1), 1)
    step = 0
    gcounts = None
    if tax is not None:
        gcounts = guild_counts(all_counts, tax)
        other = pd.DataFrame([totals_all - gcounts.to_numpy().sum(axis=0)], index=["other"],
                             columns=all_counts.columns)
        gcounts = pd.concat([gcounts, other])
    for comp, c0 in contrasts:
        cols = list(c0.level.index)
        tot = pd.Series(totals_all, index=all_counts.columns)[cols].to_numpy()
        for name in names:
            method = get_method(name)
            if c0.kind not in method.kinds:
                hint = _pairs_hint(comp, md, usable) if "paired" in method.kinds else ""
                note = f"{name} skipped for {comp.name}: it does not apply to {c0.kind} comparisons{hint}"
                skip(logging.INFO, note)
                not_applicable.append(f"{name} does not apply to {c0.kind} comparison "
                                      f"{comp.name}{hint}")
                continue
            t0 = time.perf_counter()
            if name == "lefse":
                hrank: str | pd.Series
                if hier is not None:
                    counts, hrank = hier
                else:
                    counts, hrank = per_rank.get("asv", all_counts), "asv"
                sub = filter_features(counts[cols], min_prevalence=min_prevalence,
                                      min_abundance=min_abundance, totals=tot)
                contrast = c0.with_counts(sub)
                subclass = None
                if lefse_subclass is not None:
                    if lefse_subclass not in md.columns:
                        raise DifferentialInputError("metadata", f"no column '{lefse_subclass}' (LEfSe subclass)")
                    subclass = md.loc[cols, lefse_subclass].astype(str)
                if sub.shape[0] == 0:
                    skip(logging.WARNING, f"{name} {comp.name}: no feature left after the "
                                          f"prevalence and abundance filters")
                else:
                    res = method.func(contrast, totals=tot, subclass=subclass, seed=seed)
                    results[name].append(_annotate(res, comp, contrast, hrank, tot,
                                                   tax if hier is None else None))
                    n_run += 1
            else:
                for rank in ranks:
                    sub = filter_features(per_rank[rank][cols], min_prevalence=min_prevalence,
                                      min_abundance=min_abundance, totals=tot)
                    if c0.kind == "interaction":
                        sub = arm_prevalence_filter(sub, c0.is_test_arm)
                    if sub.shape[0] < 2:
                        skip(logging.WARNING, f"{name} {rank} {comp.name}: fewer than 2 features "
                                              f"({sub.shape[0]}) left after the prevalence and "
                                              f"abundance filters")
                        continue
                    contrast = c0.with_counts(sub)
                    try:
                        res = method.func(contrast, seed=seed)
                    except AnalysisError as exc:
                        skip(logging.WARNING, f"{name} {rank} {comp.name}: {exc}")
                        continue
                    results[name].append(_annotate(res, comp, contrast, rank, tot, tax))
                    n_run += 1
                    step += 1
                    if progress:
                        progress("differential", step, total_steps)
            timings[f"{name}:{comp.name}"] = round(time.perf_counter() - t0, 3)
            if gcounts is not None:
                contrast = c0.with_counts(gcounts[cols])
                try:
                    res = method.func(contrast, seed=seed, **({"totals": tot} if name == "lefse" else {}))
                except AnalysisError as exc:
                    skip(logging.WARNING, f"{name} guilds {comp.name}: {exc}")
                    continue
                res = _annotate(res, comp, contrast, "guild", tot, None)
                res = res[res["feature"] != "other"].copy()
                if name != "lefse":
                    from microtrial.differential import bh

                    res["q_value"] = bh(res["p_value"].to_numpy())
                res.insert(0, "method", name)
                guild_results.append(res)
        step += 1
        if progress:
            progress("differential", step, total_steps)
    if "lmm" in names:
        for comp in comparisons:
            if comp.kind == "between" and len(comp.levels) > 2:
                _omnibus(comp, md, usable, covariates, per_rank, ranks,
                         totals_all, all_counts, tax, min_prevalence, min_abundance,
                         results["lmm"], skip)
    if n_run == 0:
        if not_applicable and len(not_applicable) == len(contrasts) * len(names):
            raise DifferentialInputError("options.differential_methods", "; ".join(not_applicable))
        raise DifferentialInputError("table", "no differential test could run: " + "; ".join(skipped))
    merged: dict[str, pd.DataFrame] = {}
    n_called: dict[str, int] = {}
    multi = [c.name for c in comparisons if c.kind == "between" and len(c.levels) > 2]
    for name in names:
        df = pd.concat(results[name], ignore_index=True) if results[name] else pd.DataFrame(columns=BASE_COLUMNS)
        if multi and name != "lefse" and len(df):
            df = _bh_pairs(df, multi)
        merged[name] = df
        from microtrial.differential import called

        n_called[name] = int(called(df).sum()) if len(df) else 0
    # the omnibus F rows (test_level "all") have no direction: left out of the consensus
    pairwise = {m: (df[df["test_level"].astype(str) != "all"] if "test_level" in df else df)
                for m, df in merged.items()}
    cons = consensus(pairwise)
    guilds = gdf = None
    if tax is not None:
        guilds = guild_abundance(all_counts, tax)
        gdf = pd.concat(guild_results, ignore_index=True) if guild_results else pd.DataFrame(columns=["method", *BASE_COLUMNS])
    return DifferentialResult(tables=merged, consensus=cons, guilds=guilds, guild_tests=gdf,
                              n_called=n_called, skipped=tuple(skipped), notes=tuple(notes),
                              timings=timings)
