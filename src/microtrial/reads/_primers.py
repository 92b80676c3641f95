"""Primer removal with cutadapt used as a library (anchored 5' primers, IUPAC codes).

Each read must start with its primer (cutadapt's anchored 5' adapter, ``^PRIMER``: the
primer matched at the very start, error rate <= ``max_error_rate``, IUPAC codes in the
primer match any of their bases).  Reads in mixed orientation are handled: when R1 starts
with the reverse primer and R2 with the forward primer, the two reads are swapped so that
every pair comes out forward/reverse.  Pairs where a primer is not found are discarded
(``discard_untrimmed``, the default) or kept untrimmed.

References
----------
Martin M (2011) Cutadapt removes adapter sequences from high-throughput sequencing reads.
EMBnet.journal 17:10-12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microtrial.errors import OptionError
from microtrial.reads._fastq import Reads
from microtrial.seqs import IUPAC

__all__ = ["PrimerStats", "remove_primers"]


@dataclass(frozen=True)
class PrimerStats:
    """Counts of a primer-removal pass."""

    n_input: int
    n_trimmed: int
    n_swapped: int
    n_discarded: int


def _adapter(primer: str, max_error_rate: float):  # noqa: ANN202
    from cutadapt.adapters import PrefixAdapter

    seq = primer.upper().replace("U", "T")
    bad = [b for b in seq if b not in IUPAC]
    if not seq or bad:
        raise OptionError("primers.primer", f"'{primer}' is not a primer sequence (IUPAC codes only)")
    return PrefixAdapter(seq, max_errors=max_error_rate, min_overlap=len(seq))


def _starts(reads: Reads, adapter) -> np.ndarray:  # noqa: ANN001
    """Per read: the index where the primer ends (trim point), or -1 when not found."""
    out = np.full(reads.n_reads, -1, dtype=np.int64)
    for i in range(reads.n_reads):
        s = reads.seq[i, : reads.lengths[i]].tobytes().decode("ascii")
        m = adapter.match_to(s)
        if m is not None:
            out[i] = m.rstop
    return out


def _shift(seq: np.ndarray, qual: np.ndarray, lengths: np.ndarray, start: np.ndarray) -> Reads:
    """Cut ``start[i]`` bases off the 5' end of each read."""
    width = seq.shape[1]
    idx = start[:, None] + np.arange(width)[None, :]
    new_len = lengths - start
    inside = np.arange(width)[None, :] < new_len[:, None]
    idx = np.where(inside, idx, 0)
    rows = np.arange(seq.shape[0])[:, None]
    s = np.where(inside, seq[rows, idx], 0).astype(np.uint8)
    q = np.where(inside, qual[rows, idx], 0).astype(np.uint8)
    return Reads(s, q, new_len.astype(np.int64))


def remove_primers(
    fwd: Reads,
    rev: Reads | None,
    *,
    primer_f: str,
    primer_r: str | None = None,
    max_error_rate: float = 0.1,
    discard_untrimmed: bool = True,
) -> tuple[Reads, Reads | None, PrimerStats]:
    """Cut anchored 5' primers off reads (pairs: forward primer on R1, reverse on R2).

    Parameters
    ----------
    fwd, rev : Reads
        R1 and R2 reads in the same order (``rev`` None for single-end).
    primer_f, primer_r : str
        Primers 5'->3' as ordered (IUPAC codes allowed).
    max_error_rate : float
        cutadapt's maximum error rate in the primer match (default 0.1).
    discard_untrimmed : bool
        Drop pairs where either primer was not found (default); otherwise keep them as is.

    Returns
    -------
    (Reads, Reads or None, PrimerStats)
    """
    af = _adapter(primer_f, max_error_rate)
    n = fwd.n_reads
    if rev is None:
        sf = _starts(fwd, af)
        ok = sf >= 0
        start = np.where(ok, sf, 0)
        keep = ok if discard_untrimmed else np.ones(n, dtype=bool)
        out = _shift(fwd.seq, fwd.qual, fwd.lengths, start).subset(keep)
        return out, None, PrimerStats(n, int(ok.sum()), 0, int((~keep).sum()))
    if primer_r is None:
        raise OptionError("reads.primer_r", "paired-end reads need the reverse primer too")
    ar = _adapter(primer_r, max_error_rate)
    f_in_1, r_in_2 = _starts(fwd, af), _starts(rev, ar)
    straight = (f_in_1 >= 0) & (r_in_2 >= 0)
    # mixed orientation: try the swapped assignment only where the straight one failed
    cand = np.nonzero(~straight)[0]
    r_in_1 = np.full(n, -1, dtype=np.int64)
    f_in_2 = np.full(n, -1, dtype=np.int64)
    if cand.size:
        sub_f = Reads(fwd.seq[cand], fwd.qual[cand], fwd.lengths[cand])
        sub_r = Reads(rev.seq[cand], rev.qual[cand], rev.lengths[cand])
        r_in_1[cand] = _starts(sub_f, ar)
        f_in_2[cand] = _starts(sub_r, af)
    swapped = ~straight & (r_in_1 >= 0) & (f_in_2 >= 0)
    ok = straight | swapped
    width = max(fwd.seq.shape[1], rev.seq.shape[1])

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(a, ((0, 0), (0, width - a.shape[1])))

    s1, q1, s2, q2 = pad(fwd.seq), pad(fwd.qual), pad(rev.seq), pad(rev.qual)
    sw = swapped[:, None]
    new_f = Reads(np.where(sw, s2, s1), np.where(sw, q2, q1), np.where(swapped, rev.lengths, fwd.lengths))
    new_r = Reads(np.where(sw, s1, s2), np.where(sw, q1, q2), np.where(swapped, fwd.lengths, rev.lengths))
    start_f = np.where(straight, f_in_1, np.where(swapped, f_in_2, 0))
    start_r = np.where(straight, r_in_2, np.where(swapped, r_in_1, 0))
    keep = ok if discard_untrimmed else np.ones(n, dtype=bool)
    out_f = _shift(new_f.seq, new_f.qual, new_f.lengths, start_f).subset(keep)
    out_r = _shift(new_r.seq, new_r.qual, new_r.lengths, start_r).subset(keep)
    stats = PrimerStats(n, int(ok.sum()), int(swapped.sum()), int((~keep).sum()))
    return out_f, out_r, stats
