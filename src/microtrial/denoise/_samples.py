"""The denoise stage's entry point: dereplicated samples in, ASV table out.

:func:`denoise_samples` learns an error model per read direction, denoises every sample,
merges the pairs, builds the sequence table, removes bimeras and applies the read floor;
reading and filtering the FASTQ files are done by :func:`microtrial.denoise.denoise_reads`
(which calls this), writing by :mod:`microtrial.pipeline.denoise`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from microtrial.denoise._options import DenoiseSettings
from microtrial.denoise._types import DadaResult, Derep

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
BINNED_MAX_QUALITIES = 4  # a run with at most this many distinct scores has binned qualities


@dataclass(frozen=True, eq=False)
class DenoiseResult:
    """What :func:`denoise_samples` found.

    Attributes
    ----------
    counts : numpy.ndarray of int64, shape (n_samples, n_asvs)
        Reads of each ASV in each sample (all samples, in input order).
    sequences : list of str
        The ASVs, by decreasing total (ties: first seen).
    tracking : list of dict
        Per sample: ``denoised-f``, ``denoised-r`` (None for single-end), ``merged``,
        ``non-chimeric`` (reads in the final table).
    n_after_chimeras : int
        Reads in the table after bimera removal, before the ``min_reads`` floor.
    error_models : dict
        The fit used per read direction (``loess`` or ``monotone``).
    errors : dict
        The learned error matrices (16 x 41) per read direction.
    """

    counts: np.ndarray
    sequences: list[str]
    tracking: list[dict[str, int | None]]
    n_after_chimeras: int
    error_models: dict[str, str] = field(default_factory=dict)
    errors: dict[str, np.ndarray] = field(default_factory=dict)


def choose_error_model(setting: str, n_distinct_qualities: int | None) -> str:
    """``loess`` or ``monotone``: ``auto`` takes monotone when the run's reads carry at most
    :data:`BINNED_MAX_QUALITIES` distinct quality scores (NovaSeq/NextSeq binning)."""
    if setting != "auto":
        return setting
    if n_distinct_qualities is not None and 0 < n_distinct_qualities <= BINNED_MAX_QUALITIES:
        return "monotone"
    return "loess"


def _relabel(progress: ProgressCallback | None, label: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda _desc, done, total: progress(label, done, total)


def _denoise_direction(dereps: Sequence[Derep], s: DenoiseSettings, model: str, threads: int,
                       progress: ProgressCallback | None, label: str):  # noqa: ANN202
    import microtrial.denoise as stage  # (the package's names: tests may replace them)

    idx = [i for i, d in enumerate(dereps) if d.n_reads > 0]
    out: list[DadaResult | None] = [None] * len(dereps)
    if not idx:
        return out, None
    chosen = [dereps[i] for i in idx]
    err = stage.learn_errors(chosen, nreads=s.n_reads_learn, threads=threads, error_model=model,
                       progress=_relabel(progress, f"learn errors ({label})"))
    res = stage.dada(chosen, err=err, pool=s.pool, threads=threads,
               progress=_relabel(progress, f"denoise ({label})"))
    for i, r in zip(idx, res):
        out[i] = r
    return out, err


def _n_denoised(dd: DadaResult | None, derep: Derep | None) -> int:
    """Reads assigned to a variant (DADA2's ``sum(getUniques(dada))``)."""
    if dd is None or derep is None or derep.n_reads == 0:
        return 0
    return int((dd.unique_to_asv[derep.read_to_unique] >= 0).sum())


def sequence_table(per_sample: Sequence[dict[str, int]]) -> tuple[np.ndarray, list[str]]:
    """Samples x sequences counts, sequences by decreasing total (ties: first seen)."""
    seen: dict[str, int] = {}
    for d in per_sample:
        for s in d:
            seen.setdefault(s, len(seen))
    seqs = list(seen)
    counts = np.zeros((len(per_sample), len(seqs)), dtype=np.int64)
    for i, d in enumerate(per_sample):
        for s, c in d.items():
            counts[i, seen[s]] = c
    order = np.lexsort((np.arange(len(seqs)), -counts.sum(axis=0))) if seqs else np.zeros(0, int)
    return counts[:, order], [seqs[j] for j in order]


def bimeras(counts: np.ndarray, seqs: list[str], s: DenoiseSettings) -> np.ndarray:
    """Bimera flags by ``chimera_method`` (R's ``removeBimeraDenovo``): ``consensus`` (the
    per-sample table test, minFoldParentOverAbundance 1.5 and minParentAbundance 2 unless
    set), ``pooled`` (one test on the totals, R's ``isBimeraDenovo`` defaults 2 and 8), or
    ``none``."""
    from microtrial.denoise._chimera import is_bimera_denovo_table

    if s.chimera_method == "none" or not seqs:
        return np.zeros(len(seqs), np.bool_)
    if s.chimera_method == "pooled":
        fold = 2.0 if s.min_fold_parent_over_abundance is None else s.min_fold_parent_over_abundance
        return is_bimera_denovo_table(counts.sum(axis=0)[None, :], seqs,
                                      min_fold_parent_over_abundance=fold, min_parent_abundance=8,
                                      allow_one_off=s.chimera_one_off)
    fold = 1.5 if s.min_fold_parent_over_abundance is None else s.min_fold_parent_over_abundance
    return is_bimera_denovo_table(counts, seqs, min_fold_parent_over_abundance=fold,
                                  allow_one_off=s.chimera_one_off)


def denoise_samples(
    dereps_f: Sequence[Derep],
    dereps_r: Sequence[Derep] | None = None,
    *,
    settings: DenoiseSettings | None = None,
    n_qualities: tuple[int | None, int | None] = (None, None),
    threads: int = 1,
    progress: ProgressCallback | None = None,
) -> DenoiseResult:
    """Denoise samples (DADA2's workflow after ``filterAndTrim``) into an ASV table.

    Parameters
    ----------
    dereps_f, dereps_r : sequence of Derep
        Filtered, dereplicated forward (and reverse) reads, one per sample, in the same
        sample order (``dereps_r`` None for single-end reads).
    settings : DenoiseSettings
        Options (``dada2_compatible`` is applied here).
    n_qualities : (int or None, int or None)
        Distinct quality scores in the run's forward and reverse reads, for
        ``error_model: auto``.
    threads : int
        Samples in parallel (results do not depend on it).
    progress : callable, optional
        ``progress(description, done, total)``.

    Returns
    -------
    DenoiseResult
    """
    from microtrial.denoise._merge import merge_pairs, reverse_partners

    s = (settings or DenoiseSettings()).effective()
    paired = dereps_r is not None
    models = {"forward": choose_error_model(s.error_model, n_qualities[0])}
    if paired:
        models["reverse"] = choose_error_model(s.error_model, n_qualities[1])
    for direction, model in models.items():
        if s.error_model == "auto" and model == "monotone":
            log.info("%s reads carry %d distinct quality scores (binned): monotone error fit",
                     direction, n_qualities[0 if direction == "forward" else 1])
    dd_f, err_f = _denoise_direction(dereps_f, s, models["forward"], threads, progress, "forward")
    dd_r: list[DadaResult | None] = [None] * len(dereps_f)
    err_r = None
    if paired:
        dd_r, err_r = _denoise_direction(dereps_r, s, models["reverse"], threads, progress, "reverse")  # type: ignore[arg-type]

    partners = None
    if paired and s.reverse_partners:
        first = []
        for xf, xr, df, dr in zip(dereps_f, dereps_r, dd_f, dd_r):  # type: ignore[arg-type]
            if df is not None and dr is not None:
                m = merge_pairs(df, xf, dr, xr, min_overlap=s.min_overlap, max_mismatch=s.max_mismatch)
                first.append((df, dr, m))
        partners = reverse_partners(first)
    per_sample: list[dict[str, int]] = []
    tracking: list[dict[str, int | None]] = []
    for k, (xf, df, dr) in enumerate(zip(dereps_f, dd_f, dd_r)):
        merged: dict[str, int] = {}
        den_r = None
        if paired:
            xr = dereps_r[k]  # type: ignore[index]
            den_r = _n_denoised(dr, xr)
            if df is not None and dr is not None:
                m = merge_pairs(df, xf, dr, xr, min_overlap=s.min_overlap, max_mismatch=s.max_mismatch,
                                err_r=err_r if partners else None, partners_r=partners)
                merged = dict(zip(m.sequences, (int(a) for a in m.abundances)))
        elif df is not None:
            for q, a in zip(df.sequences, df.abundances):
                if a > 0:
                    merged[q] = merged.get(q, 0) + int(a)
        per_sample.append(merged)
        tracking.append({"denoised-f": _n_denoised(df, xf), "denoised-r": den_r,
                         "merged": sum(merged.values())})

    counts, seqs = sequence_table(per_sample)
    bim = bimeras(counts, seqs, s)
    if bim.any():
        log.info("%d of %d sequences are bimeras (%.1f%% of reads)", int(bim.sum()), len(seqs),
                 100.0 * counts[:, bim].sum() / max(counts.sum(), 1))
        counts = counts[:, ~bim]
        seqs = [q for q, b in zip(seqs, bim) if not b]
    n_after = int(counts.sum())
    if s.min_reads > 1 and seqs:
        rare = counts.sum(axis=0) < s.min_reads
        log.info("%d ASVs with fewer than %d reads in the run dropped (%d reads)", int(rare.sum()),
                 s.min_reads, int(counts[:, rare].sum()))
        counts = counts[:, ~rare]
        seqs = [q for q, r in zip(seqs, rare) if not r]
    for row, n in zip(tracking, counts.sum(axis=1)):
        row["non-chimeric"] = int(n)
    errors = {"forward": err_f} if err_f is not None else {}
    if err_r is not None:
        errors["reverse"] = err_r
    return DenoiseResult(counts, seqs, tracking, n_after, models, errors)
