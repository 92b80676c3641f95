"""Quality filtering and trimming with the semantics of DADA2's ``filterAndTrim``.

Steps, in DADA2's order (each on the read as left by the previous step):

0. ``max_len``: drop reads longer than ``max_len`` (before any trimming); ``trim_left``:
   drop reads not longer than ``trim_left``, then remove their first ``trim_left`` bases.
1. ``trunc_q``: cut the read before the first base with quality <= ``trunc_q``.
2. ``trunc_len``: drop reads now shorter than ``trunc_len - trim_left``; cut the rest to
   that length (0 = no truncation; ``trunc_len`` counts from the read's original start, as
   in ``filterAndTrim``, and is ignored when not longer than ``trim_left``).
3. ``min_len``: drop reads shorter than ``min_len``.
4. ``max_n``: drop reads with more than ``max_n`` ``N``.
5. ``max_ee``: drop reads whose expected errors :math:`EE = \\sum_i 10^{-Q_i/10}` exceed
   ``max_ee``.
6. ``rm_phix``: drop reads sharing at least 2 non-overlapping exact 16-mers with the PhiX
   genome or its reverse complement (DADA2's ``isPhiX`` defaults).

For pairs, a pair is kept only when both reads pass (a PhiX hit in either read drops the
pair), as DADA2's paired ``filterAndTrim``.  Everything is vectorised over padded read
matrices with numpy.

References
----------
Callahan BJ et al. (2016) DADA2: high-resolution sample inference from Illumina amplicon
data. Nat Methods 13:581-583; DADA2 manual pages ``filterAndTrim`` and ``isPhiX``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from microtrial.dna import CODES, OTHER
from microtrial.reads._fastq import Reads
from microtrial.reads._kernels import trim_stats, word_hits

__all__ = ["FilterParams", "filter_and_trim", "filter_pair", "is_phix", "phix_genome"]

# Phred score -> error probability
_ERR = 10.0 ** (-np.arange(256, dtype=np.float64) / 10.0)
# ASCII -> 2-bit code (A0 C1 G2 T3), OTHER (> 3) for anything else (N, padding)
_CODE = CODES

PHIX_WORD = 16
PHIX_MIN_MATCHES = 2


@dataclass(frozen=True)
class FilterParams:
    """``filterAndTrim`` options for one read direction (DADA2's defaults)."""

    trunc_len: int = 0
    trunc_q: int = 2
    max_ee: float = float("inf")
    max_n: int = 0
    min_len: int = 20
    rm_phix: bool = True
    trim_left: int = 0
    max_len: int | None = None


def phix_genome() -> str:
    """The PhiX174 genome (NC_001422.1, 5,386 nt) shipped with the package."""
    return _phix_genome()


@lru_cache(maxsize=1)
def _phix_genome() -> str:
    ref = resources.files("microtrial.reads").joinpath("data/phix_NC_001422.fa.gz")
    text = gzip.decompress(ref.read_bytes()).decode("ascii")
    return "".join(line.strip() for line in text.splitlines() if not line.startswith(">"))


def _word_codes(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k-mer integer codes (2 bits per base) of every window of a code matrix, and validity."""
    n, width = codes.shape
    nwin = max(width - k + 1, 0)
    words = np.zeros((n, nwin), dtype=np.uint64)
    valid = np.ones((n, nwin), dtype=bool)
    for j in range(k):
        col = codes[:, j : j + nwin]
        valid &= col < OTHER
        words = (words << np.uint64(2)) | (col & 3).astype(np.uint64)
    return words, valid


@lru_cache(maxsize=4)
def _phix_words(k: int) -> np.ndarray:
    from microtrial.seqs import reverse_complement

    g = phix_genome()
    out = []
    for s in (g, reverse_complement(g)):
        codes = _CODE[np.frombuffer(s.encode(), dtype=np.uint8)][None, :]
        w, v = _word_codes(codes, k)
        out.append(w[v])
    return np.unique(np.concatenate(out))


_PREFIX_BITS = 20  # the screen looks words up by their first 10 bases (a 1 MB table)


@lru_cache(maxsize=4)
def _phix_prefixes(k: int) -> np.ndarray:
    shift = max(0, 2 * k - _PREFIX_BITS)
    table = np.zeros(1 << min(_PREFIX_BITS, 2 * k), dtype=np.bool_)
    table[(_phix_words(k) >> np.uint64(shift)).astype(np.int64)] = True
    return table


def is_phix(
    reads: Reads, *, word_size: int = PHIX_WORD, min_matches: int = PHIX_MIN_MATCHES
) -> np.ndarray:
    """Which reads match the PhiX genome (DADA2's ``isPhiX``).

    A read is flagged when at least ``min_matches`` non-overlapping ``word_size``-mers of it
    occur exactly in the PhiX genome or its reverse complement (words counted greedily
    from the 5' end, as non-overlapping matches).

    Returns
    -------
    numpy.ndarray of bool, shape (n_reads,)
    """
    if not 1 <= word_size <= 32:
        raise ValueError("word_size must be between 1 and 32")
    out = np.zeros(reads.n_reads, dtype=np.bool_)
    if reads.n_reads:
        words = _phix_words(word_size)
        shift = max(0, 2 * word_size - _PREFIX_BITS)
        word_hits(reads.seq, _CODE, reads.lengths, word_size, words, min_matches, out,
                  _phix_prefixes(word_size), shift)
    return out


def _left_trim(reads: Reads, p: FilterParams) -> tuple[Reads, np.ndarray]:
    """``max_len`` and ``trim_left``: the reads without their first ``trim_left`` bases, and
    which reads pass both."""
    keep = np.ones(reads.n_reads, dtype=np.bool_)
    if p.max_len is not None:
        keep &= reads.lengths <= p.max_len
    tl = int(p.trim_left or 0)
    if tl <= 0:
        return reads, keep
    keep &= reads.lengths > tl
    lengths = np.maximum(reads.lengths - tl, 0)
    shifted = Reads(np.ascontiguousarray(reads.seq[:, tl:]), np.ascontiguousarray(reads.qual[:, tl:]),
                    lengths, reads.path)
    return shifted, keep


def _trim(reads: Reads, p: FilterParams) -> tuple[np.ndarray, np.ndarray]:
    """Lengths after trunc_q / trunc_len, and which reads pass every rule but PhiX (on reads
    already left-trimmed by :func:`_left_trim`)."""
    n = reads.n_reads
    lengths = np.empty(n, dtype=np.int64)
    keep = np.empty(n, dtype=np.bool_)
    n_n = np.empty(n, dtype=np.int64)
    ee = np.empty(n, dtype=np.float64)
    trunc_q = -1 if p.trunc_q is None else int(p.trunc_q)
    tl = int(p.trim_left or 0)
    trunc_len = int(p.trunc_len or 0)
    trunc_len = trunc_len - tl if trunc_len > tl else 0
    trim_stats(reads.seq, reads.qual, reads.lengths, trunc_q, trunc_len, _ERR,
               lengths, keep, n_n, ee)
    keep &= (lengths > 0) & (lengths >= p.min_len)
    if p.max_n is not None:
        keep &= n_n <= p.max_n
    if p.max_ee is not None:
        keep &= ee <= p.max_ee
    return lengths, keep


def filter_and_trim(reads: Reads, params: FilterParams = FilterParams()) -> Reads:
    """Filter and trim single-end reads; return the surviving reads, truncated.

    See the module docstring for the steps and their order.
    """
    return filter_pair(reads, None, params, None)[0]


def filter_pair(
    fwd: Reads,
    rev: Reads | None,
    params_f: FilterParams = FilterParams(),
    params_r: FilterParams | None = None,
) -> tuple[Reads, Reads | None]:
    """Filter and trim read pairs: a pair survives only when both reads pass.

    Parameters
    ----------
    fwd, rev : Reads
        Forward and reverse reads in the same order (``rev`` None for single-end).
    params_f, params_r : FilterParams
        Options per direction (``params_r`` defaults to ``params_f``).

    Returns
    -------
    (Reads, Reads or None)
        The surviving pairs, truncated, in input order.
    """
    params_r = params_f if params_r is None else params_r
    fwd, keep = _left_trim(fwd, params_f)
    len_f, keep_f = _trim(fwd, params_f)
    keep &= keep_f
    len_r = None
    if rev is not None:
        rev, keep_r = _left_trim(rev, params_r)
        keep &= keep_r
        len_r, keep_r = _trim(rev, params_r)
        keep &= keep_r
    out_f = fwd.subset(keep, len_f)
    out_r = None if rev is None else rev.subset(keep, len_r)
    phix = np.zeros(out_f.n_reads, dtype=bool)
    if params_f.rm_phix:
        phix |= is_phix(out_f)
    if out_r is not None and params_r.rm_phix:
        phix |= is_phix(out_r)
    if phix.any():
        out_f = out_f.subset(~phix)
        out_r = None if out_r is None else out_r.subset(~phix)
    return out_f, out_r
