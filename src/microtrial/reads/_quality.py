"""Quality profiles of raw reads, and the automatic choice of truncation lengths.

Profiles are built from per-position histograms of Phred scores (``counts[position, q]``),
which add up across samples, so the pooled profile of a whole run is computed while the
samples stream through one at a time.  Quantiles are read off the histogram (the smallest
score whose cumulative count reaches the fraction: R's quantile type 1).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microtrial.reads._fastq import Reads

__all__ = [
    "QualityHistogram",
    "amplicon_length_estimates",
    "amplicon_length_from_primers",
    "choose_trunc_len",
    "planning_amplicon_length",
    "quality_histogram",
    "quality_profile",
]

log = logging.getLogger(__name__)

N_Q = 94  # Phred 0..93 (Phred+33 printable range)

# Amplicon lengths WITHOUT primers for the common 16S primer pairs (E. coli numbering;
# typical lengths across bacteria): V4 515F/806R ~ 253 nt, V3-V4 341F/805R ~ 425 nt.
_REGION_LENGTHS: dict[str, int] = {"V4": 253, "V3-V4": 425}
_MIN_MEDIAN_Q = 30  # auto truncation: the pooled median Phred score must stay >= this
_OVERLAP_MARGIN = 20  # auto truncation keeps at least this overlap for merging
PLAN_FRACTION = 1e-4  # auto truncation lets length classes above this share of pairs merge


@dataclass(frozen=True, eq=False)
class QualityHistogram:
    """Phred scores by position, and read lengths, of a set of reads (addable).

    Attributes
    ----------
    counts : numpy.ndarray of int64, shape (max_len, 94)
        ``counts[p, q]``: reads with score ``q`` at (0-based) position ``p``.
    lengths : numpy.ndarray of int64, shape (max_len + 1,)
        ``lengths[l]``: reads of length ``l``.
    """

    counts: np.ndarray
    lengths: np.ndarray

    def __add__(self, other: QualityHistogram) -> QualityHistogram:
        w = max(self.counts.shape[0], other.counts.shape[0])
        c = np.zeros((w, N_Q), dtype=np.int64)
        c[: self.counts.shape[0]] += self.counts
        c[: other.counts.shape[0]] += other.counts
        ln = np.zeros(w + 1, dtype=np.int64)
        ln[: self.lengths.shape[0]] += self.lengths
        ln[: other.lengths.shape[0]] += other.lengths
        return QualityHistogram(c, ln)

    @property
    def n_reads(self) -> int:
        return int(self.lengths.sum())

    @staticmethod
    def empty() -> QualityHistogram:
        return QualityHistogram(np.zeros((0, N_Q), dtype=np.int64), np.zeros(1, dtype=np.int64))


def quality_histogram(reads: Reads) -> QualityHistogram:
    """Per-position score histogram and length distribution of ``reads``."""
    from microtrial.reads._kernels import quality_counts

    width = reads.seq.shape[1]
    counts = np.zeros((width, N_Q), dtype=np.int64)
    quality_counts(reads.qual, reads.lengths, N_Q, counts)
    lengths = np.bincount(reads.lengths, minlength=width + 1)
    return QualityHistogram(counts.astype(np.int64), lengths.astype(np.int64))


def _quantile(counts: np.ndarray, frac: float) -> np.ndarray:
    """Type-1 quantile of each row's histogram (NaN for empty rows)."""
    total = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    need = np.ceil(frac * total).clip(min=1)
    idx = (cum < need[:, None]).sum(axis=1).astype(np.float64)
    idx[total == 0] = np.nan
    return idx


def quality_profile(hist: QualityHistogram) -> pd.DataFrame:
    """Per-position summary: ``position`` (1-based), ``mean_quality``, ``q25``, ``median``,
    ``q75``, ``n_reads`` (reads long enough to have that position)."""
    c = hist.counts
    n = c.sum(axis=1)
    qs = np.arange(N_Q)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, (c * qs).sum(axis=1) / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {
            "position": np.arange(1, c.shape[0] + 1),
            "mean_quality": np.round(mean, 3),
            "q25": _quantile(c, 0.25),
            "median": _quantile(c, 0.5),
            "q75": _quantile(c, 0.75),
            "n_reads": n,
        }
    )


def amplicon_length_from_primers(primer_f: str | None, primer_r: str | None) -> int | None:
    """Typical amplicon length (primers removed) for a known 16S primer pair, else None."""
    from microtrial.seqs import PRIMERS

    if not primer_f or not primer_r:
        return None
    for region, (f, r) in PRIMERS.items():
        if f.upper() == primer_f.upper() and r.upper() == primer_r.upper():
            return _REGION_LENGTHS.get(region)
    return None


def amplicon_length_estimates(
    fwd: Reads, rev: Reads, *, max_pairs: int = 500, word: int = 20
) -> np.ndarray:
    """Amplicon lengths of read pairs, measured from how the two reads overlap.

    For up to ``max_pairs`` pairs, a ``word``-long piece of the forward read (taken at
    several offsets from its 3' end) is searched for in the reverse complement of the
    reverse read; a hit at index ``j`` for the piece starting at ``i`` puts the amplicon
    length at ``i - j + len(rev)``.  Pairs that do not overlap give no estimate.

    Returns
    -------
    numpy.ndarray of int64
        One length per overlapping pair (possibly empty).
    """
    from microtrial.seqs import reverse_complement

    n = min(fwd.n_reads, rev.n_reads, max_pairs)
    estimates = []
    for k in range(n):
        f = fwd.seq[k, : fwd.lengths[k]].tobytes().decode()
        r = reverse_complement(rev.seq[k, : rev.lengths[k]].tobytes().decode())
        for back in (40, 60, 90, 120, 160):
            i = len(f) - back
            if i < 0:
                continue
            piece = f[i : i + word]
            if "N" in piece:
                continue
            j = r.find(piece)
            if j >= 0:
                estimates.append(i - j + len(r))
                break
    return np.asarray(estimates, dtype=np.int64)


def planning_amplicon_length(
    estimates: np.ndarray, n_examined: int, *, fraction: float = PLAN_FRACTION
) -> int | None:
    """The amplicon length the automatic truncation must let merge, from pair estimates.

    Amplicon lengths vary between taxa (V3-V4 341F/805R: about 400 to 460 nt), and a pair
    whose reads do not overlap cannot merge, so its variant is lost.  Planning for the
    typical length loses the long ones (a 437-nt variant next to a 425-nt typical length
    is lost with 20 nt of overlap planned).  The truncation therefore plans for the
    ``1 - fraction`` quantile of the measured lengths (R's type 1): a length class that
    makes up more than ``fraction`` (default 1 in 10,000) of the pairs keeps its overlap.
    Measuring is cheap (about 2 microseconds a pair), so the pipeline measures every pair.

    Returns None when fewer than 10 pairs, or under 20 % of those examined, overlap.
    """
    est = np.sort(np.asarray(estimates, dtype=np.int64))
    if est.size < 10 or est.size < 0.2 * n_examined:
        return None
    k = max(0, math.ceil((1.0 - fraction) * est.size) - 1)
    return int(est[k])


def choose_trunc_len(
    hist_f: QualityHistogram,
    hist_r: QualityHistogram | None,
    *,
    max_ee: tuple[float, float] = (2.0, 2.0),
    amplicon_length: int | None = None,
    min_median_q: int = _MIN_MEDIAN_Q,
    ee_fraction: float = 0.25,
    overlap_margin: int = _OVERLAP_MARGIN,
) -> tuple[int, int | None]:
    """Choose truncation lengths from the pooled quality profiles.

    Rule, per direction:

    1. ``L_q``: the last position before the pooled median Phred score first drops below
       ``min_median_q`` (30);
    2. ``L_ee``: the longest length whose mean expected errors,
       :math:`\\bar{EE}(L) = \\sum_{p \\le L} \\overline{10^{-Q_p/10}}` (mean over reads at
       each position, from the histogram), stays <= ``ee_fraction * max_ee`` (a quarter
       of the filter's limit: the mean is driven by a tail of poor reads, and at a
       quarter of the limit nearly all reads pass the ``max_ee`` filter);
    3. ``L_n``: the longest length that at least 90 % of the reads reach;

    and ``L = min(L_q, L_ee, L_n)``.  For pairs with a known (or estimated)
    ``amplicon_length`` ``A``, the two lengths must overlap by ``overlap_margin`` (20)
    bases: while :math:`L_f + L_r < A + 20`, the direction whose next position has the
    higher median score (forward on ties) is extended by one base, up to ``L_n``.  If that
    is not enough, both are left at ``L_n`` with a warning (the pairs will not merge).

    On the MiSeq SOP reads (2 x 251, V4) this gives 238 / 160, next to the 240 / 160
    DADA2's tutorial chooses by eye.

    Returns
    -------
    (int, int or None)
        ``(trunc_len_f, trunc_len_r)``; ``trunc_len_r`` is None for single-end reads.
    """

    def one(hist: QualityHistogram, ee_max: float) -> tuple[int, int, np.ndarray]:
        c = hist.counts
        if c.shape[0] == 0 or hist.n_reads == 0:
            return 0, 0, np.zeros(0)
        n = c.sum(axis=1)
        med = _quantile(c, 0.5)
        low = np.nonzero(~(med >= min_median_q))[0]
        l_q = int(low[0]) if low.size else c.shape[0]
        err = 10.0 ** (-np.arange(N_Q) / 10.0)
        mean_err = (c * err).sum(axis=1) / np.maximum(n, 1)
        cum = np.cumsum(mean_err)
        ok = np.nonzero(cum <= ee_fraction * ee_max * (1 + 1e-9))[0]  # float sums: tolerance
        l_ee = int(ok[-1]) + 1 if ok.size else 0
        reach = hist.n_reads - np.concatenate(([0], np.cumsum(hist.lengths)))[: c.shape[0] + 1]
        # reach[l] = reads of length >= l
        good = np.nonzero(reach >= 0.9 * hist.n_reads)[0]
        l_n = int(good[-1]) if good.size else 0
        return min(l_q, l_ee, l_n), l_n, med

    lf, nf, med_f = one(hist_f, max_ee[0])
    if hist_r is None:
        return lf, None
    lr, nr, med_r = one(hist_r, max_ee[1])
    if amplicon_length is not None:
        need = amplicon_length + overlap_margin
        while lf + lr < need and (lf < nf or lr < nr):
            qf = med_f[lf] if lf < nf else -math.inf
            qr = med_r[lr] if lr < nr else -math.inf
            if qf >= qr:
                lf += 1
            else:
                lr += 1
        if lf + lr < need:
            log.warning(
                "reads too short to overlap: %d + %d < amplicon %d + %d; pairs will not merge",
                lf, lr, amplicon_length, overlap_margin,
            )
    return lf, lr
