"""``differential`` stage: read a table, metadata and taxonomy, test every comparison at
every rank with every method, write ``differential-<method>.tsv``, ``guilds.tsv``,
``differential-guilds.tsv``, ``differential-consensus.tsv`` and ``run-info.json``.

LEfSe runs once per comparison over the whole taxonomic hierarchy (domain to genus, and
species when asked for; all clades together, as LEfSe's cladogram input), or over ASVs when
there is no taxonomy; the other methods run per rank. Methods that do not apply to a
comparison's kind (LEfSe and ANCOM-BC to paired comparisons, the paired Wilcoxon test to
between-group comparisons) are skipped with a logged note.

A ``between`` comparison with more than two levels is tested per pair of levels (BH across
the pairs), after the LMM's F test over all levels (rows with ``test_level`` ``all``, left
out of the consensus); ``longitudinal`` and ``interaction`` comparisons go to the methods
that handle them (lmm, ancombc, paired-wilcoxon; docs/study-file.md).

Samples without reads are left out (with a warning). A comparison that cannot be tested
(too few samples, no subject sampled at both levels, a covariate missing for all of its
samples) is skipped with a warning; when nothing at all could be tested the stage raises
:class:`~microtrial.errors.InputError` (before writing anything) with the reasons.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.design import Comparison
from microtrial.differential import (
    FEATURE_RANKS,
    METHODS,
    Contrast,
    filter_features,
    get_method,
    guild_abundance,
    guild_counts,
    hierarchy_counts,
    rank_counts,
)
from microtrial.differential._consensus import consensus
from microtrial.differential._features import arm_prevalence_filter, check_rank, taxon_labels
from microtrial.errors import AnalysisError, InputError
from microtrial.io._atomic import atomic_open
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.io.taxonomy import read_taxonomy
from microtrial.names import DEFAULT_DIFFERENTIAL_METHODS
from microtrial.taxa import UNASSIGNED

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]
BASE_COLUMNS = ["feature", "contrast", "effect", "effect_type", "p_value", "q_value", "term", "rank",
                "test_level", "reference_level", "mean_test", "mean_reference", "n_test",
                "n_reference", "taxon"]


@dataclass
class DifferentialSummary:
    """What the stage did: output files, calls per method, skipped tests and timings."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    n_called: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _check_options(methods: Sequence[str], ranks: Sequence[str], *, min_prevalence: float,
                   min_abundance: float, threads: int) -> tuple[list[str], list[str]]:
    """Method and rank names resolved (duplicates dropped) and the numeric options checked;
    errors name the command-line option."""
    try:
        names = list(dict.fromkeys(get_method(m).name for m in methods))
    except AnalysisError as exc:
        raise InputError("--method", str(exc)) from exc
    if not names:
        raise InputError("--method", f"no method given; choose from {', '.join(METHODS)}")
    checked: list[str] = []
    for r in ranks:
        try:
            checked.append(check_rank(r))
        except ValueError as exc:
            raise InputError("--rank", f"unknown rank '{r}'; choose from {', '.join(FEATURE_RANKS)}") from exc
    checked = list(dict.fromkeys(checked))
    if not 0.0 <= min_prevalence <= 1.0:
        raise InputError("--min-prevalence", f"{min_prevalence} is not a fraction between 0 and 1")
    if not 0.0 <= min_abundance <= 1.0:
        raise InputError("--min-abundance", f"{min_abundance} is not a relative abundance between 0 and 1")
    if threads < 1:
        raise InputError("--threads", f"must be >= 1, got {threads}")
    return names, checked


def _check_covariates(comparisons: Sequence[Comparison], covariates: Sequence[str],
                      metadata: pd.DataFrame, sample_ids: Sequence[str], metadata_path: Path) -> None:
    """A covariate may be neither a comparison's own column nor its subject column, and
    must have a value for at least one sample (errors name ``--covariates``)."""
    for comp in comparisons:
        for c in covariates:
            if c == comp.column:
                raise InputError("--covariates", f"'{c}' is the compared column of comparison "
                                                 f"'{comp.name}'; a covariate cannot be the group itself")
            if comp.subject is not None and c == comp.subject:
                raise InputError("--covariates", f"'{c}' is the subject column of comparison "
                                                 f"'{comp.name}'; subjects are not a covariate")
    for c in covariates:
        if c in metadata.columns and metadata.loc[list(sample_ids), c].isna().all():
            raise InputError(metadata_path, f"covariate '{c}' (--covariates) is missing for "
                                            f"every sample")


def _contrast(comp: Comparison, metadata: pd.DataFrame, sample_ids: Sequence[str],
              covariates: Sequence[str], metadata_path: Path) -> list[Contrast] | str:
    """The comparison's contrasts (no counts yet; one per pair of levels for a ``between``
    comparison with more than two levels), or why it cannot be tested."""
    covariates = list(dict.fromkeys([*covariates, *comp.covariates]))
    for col in [*comp.columns, *covariates]:
        if col not in metadata.columns:
            raise InputError(metadata_path, f"comparison '{comp.name}': no column '{col}'")
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
            raise InputError(metadata_path, f"comparison '{comp.name}' is {comp.kind} but has no "
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
                raise InputError(metadata_path, f"comparison '{comp.name}' is paired but has no subject column")
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
             metadata_path: Path, per_rank: dict[str, pd.DataFrame], ranks: Sequence[str],
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


def _write_tsv(df: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    with atomic_open(path, "w") as fh:
        df.to_csv(fh, sep="\t", index=index, na_rep="NaN", float_format="%.6g")
    return path


def differential_stage(table: Path, metadata: Path, out_dir: Path, *,
                       comparisons: Sequence[Comparison], taxonomy: Path | None = None,
                       ranks: Sequence[str] = ("asv", "genus", "family"),
                       methods: Sequence[str] = DEFAULT_DIFFERENTIAL_METHODS,
                       covariates: Sequence[str] = (), min_prevalence: float = 0.1,
                       seed: int = 0, threads: int = 2,
                       progress: ProgressCallback | None = None,
                       lefse_subclass: str | None = None,
                       min_abundance: float = 0.0) -> DifferentialSummary:
    """Run the differential stage (see the module notes) and write its outputs.

    ``lefse_subclass`` names a metadata column of subclasses for LEfSe's pairwise
    Wilcoxon step (none by default). Features are kept when present in at least
    ``min_prevalence`` of a comparison's samples and with mean relative abundance at least
    ``min_abundance`` there.

    ``threads`` is recorded but not used: every method is vectorised across features
    (numpy may use its own BLAS threads).
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    names, ranks = _check_options(methods, ranks, min_prevalence=min_prevalence,
                                  min_abundance=min_abundance, threads=threads)
    ftable = read_table(table)
    md = read_metadata(metadata)
    shared = [s for s in ftable.sample_ids if s in md.index]
    if len(shared) < 2:
        example = (f"; e.g. '{ftable.sample_ids[0]}' in the table, '{md.index[0]}' in the metadata"
                   if len(ftable.sample_ids) and len(md.index) else "")
        raise InputError(table, f"fewer than 2 samples ({len(shared)}) are also in the metadata "
                                f"{metadata}{example}")
    reads = ftable.sample_totals()
    usable = [s for s in shared if reads[s] > 0]
    if len(usable) < 2:
        what = ("all counts are zero" if not (reads > 0).any()
                else f"fewer than 2 samples with reads ({len(usable)}) among the {len(shared)} "
                     f"also in the metadata {metadata}")
        raise InputError(table, what)
    if len(usable) < len(shared):
        empty = [s for s in shared if reads[s] <= 0]
        log.warning("%d sample(s) of %s have no reads and are left out: %s%s", len(empty), table,
                    ", ".join(empty[:5]), ", ..." if len(empty) > 5 else "")
    _check_covariates(comparisons, covariates, md, usable, Path(metadata))
    tax: pd.Series | None = None
    if taxonomy is not None:
        tax = read_taxonomy(taxonomy)["Taxon"]
        known = int(pd.Index(ftable.feature_ids).isin(tax.index).sum())
        n = len(ftable.feature_ids)
        if known == 0 and n:
            raise InputError(taxonomy, f"none of the {n} features of {table} are in it "
                                       f"(e.g. '{ftable.feature_ids[0]}')")
        if known < n:
            log.warning("%d of %d features of %s are not in %s; they count as %s",
                        n - known, n, table, taxonomy, UNASSIGNED)
    elif any(r != "asv" for r in ranks):
        raise InputError(str(taxonomy or "--taxonomy"), f"ranks {', '.join(r for r in ranks if r != 'asv')} need a taxonomy")
    summary = DifferentialSummary(out_dir)
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
        summary.skipped.append(note)

    untestable: list[str] = []
    for comp in comparisons:
        c = _contrast(comp, md, usable, covariates, Path(metadata))
        if isinstance(c, str):
            skip(logging.WARNING, f"comparison {comp.name} skipped: {c}")
            untestable.append(f"{comp.name}: {c}")
        else:
            contrasts.extend((comp, ci) for ci in c)
    if not contrasts:
        raise InputError(metadata, f"no comparison can be tested ({'; '.join(untestable)})")
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
                        raise InputError(metadata, f"no column '{lefse_subclass}' (LEfSe subclass)")
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
            summary.timings[f"{name}:{comp.name}"] = round(time.perf_counter() - t0, 3)
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
                _omnibus(comp, md, usable, covariates, Path(metadata), per_rank, ranks,
                         totals_all, all_counts, tax, min_prevalence, min_abundance,
                         results["lmm"], skip)
    if n_run == 0:
        if not_applicable and len(not_applicable) == len(contrasts) * len(names):
            raise InputError("--method", "; ".join(not_applicable))
        raise InputError(table, "no differential test could run: " + "; ".join(summary.skipped))
    for level, note in notes:
        log.log(level, "%s", note)
    start_output(out_dir, command="differential")  # only once every test has run
    merged: dict[str, pd.DataFrame] = {}
    multi = [c.name for c in comparisons if c.kind == "between" and len(c.levels) > 2]
    for name in names:
        df = pd.concat(results[name], ignore_index=True) if results[name] else pd.DataFrame(columns=BASE_COLUMNS)
        if multi and name != "lefse" and len(df):
            df = _bh_pairs(df, multi)
        merged[name] = df
        summary.files.append(_write_tsv(df, out_dir / f"differential-{name}.tsv"))
        from microtrial.differential import called

        summary.n_called[name] = int(called(df).sum()) if len(df) else 0
    # the omnibus F rows (test_level "all") have no direction: left out of the consensus
    pairwise = {m: (df[df["test_level"].astype(str) != "all"] if "test_level" in df else df)
                for m, df in merged.items()}
    summary.files.append(_write_tsv(consensus(pairwise), out_dir / "differential-consensus.tsv"))
    if tax is not None:
        summary.files.append(_write_tsv(guild_abundance(all_counts, tax), out_dir / "guilds.tsv", index=True))
        gdf = pd.concat(guild_results, ignore_index=True) if guild_results else pd.DataFrame(columns=["method", *BASE_COLUMNS])
        summary.files.append(_write_tsv(gdf, out_dir / "differential-guilds.tsv"))
    summary.timings["total"] = round(time.perf_counter() - t_start, 3)
    write_run_info(
        out_dir, command="differential",
        options={"table": str(table), "metadata": str(metadata), "taxonomy": str(taxonomy) if taxonomy else None,
                 "comparisons": [c.__dict__ | {"where": dict(c.where)} for c in comparisons],
                 "ranks": ranks, "methods": names, "covariates": list(covariates),
                 "min_prevalence": min_prevalence, "threads": threads,
                 "lefse_subclass": lefse_subclass, "min_abundance": min_abundance},
        seeds={"differential": seed}, timings=summary.timings,
        extra={"n_called": summary.n_called, "skipped": summary.skipped},
        outputs=summary.files,
    )
    return summary
