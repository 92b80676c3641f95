"""Dereplication: unique sequences, their abundances and per-position mean qualities.

As DADA2's ``derepFastq``: identical reads are collapsed into one unique sequence whose
abundance is the number of reads and whose quality at each position is the mean of the
reads' Phred scores there.  Uniques are ordered by decreasing abundance; ties are ordered
as R's ``derepFastq`` leaves them (it reads files in chunks of ``CHUNK`` reads, lists each
chunk's new uniques in sequence order, A < C < G < T, and sorts stably by abundance): by
the chunk where the unique first appears, then alphabetically.  The order matters: DADA2's
partitioning breaks ties by it.  Vectorised with numpy: rows are hashed by viewing each padded
read as one opaque ``void`` value, so no per-read Python runs.

References
----------
DADA2 manual page ``derepFastq``; Callahan BJ et al. (2016) Nat Methods 13:581-583.
"""

from __future__ import annotations

import numpy as np

from microtrial.derep import Derep
from microtrial.reads._fastq import Reads

__all__ = ["dereplicate"]

CHUNK = 1_000_000  # reads per chunk of R's derepFastq (its argument n)


def dereplicate(reads: Reads) -> Derep:
    """Collapse reads into a :class:`~microtrial.derep.Derep`.

    Parameters
    ----------
    reads : Reads
        Filtered reads (``A C G T`` only; reads with ``N`` must have been removed).

    Returns
    -------
    Derep
        ``sequences`` most abundant first (ties: as R's ``derepFastq``), ``abundances``,
        ``mean_quality`` per unique (float64, one value per base), and ``read_to_unique``
        mapping every input read (in order) to its unique.
    """
    n = reads.n_reads
    if n == 0:
        return Derep((), np.zeros(0, dtype=np.int64), (), np.zeros(0, dtype=np.int64))
    seq = np.ascontiguousarray(reads.seq)
    width = seq.shape[1]
    # append the length so that rows differing only by padding stay distinct
    key = np.empty((n, width + 2), dtype=np.uint8)
    key[:, :width] = seq
    key[:, width] = reads.lengths & 0xFF
    key[:, width + 1] = (reads.lengths >> 8) & 0xFF
    rows = key.view(np.dtype((np.void, width + 2))).ravel()
    _, first, inverse, counts = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    # order uniques: abundance descending, then chunk of first appearance, then sequence
    # (np.unique sorts the rows bytewise: zero padding puts a prefix first, as strings do)
    order = np.lexsort((np.arange(counts.size), first // CHUNK, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    read_to_unique = rank[inverse.ravel()].astype(np.int64)
    abundances = counts[order].astype(np.int64)
    # mean quality per unique and position
    by_unique = np.argsort(read_to_unique, kind="stable")
    starts = np.concatenate(([0], np.cumsum(abundances)[:-1]))
    qsum = np.add.reduceat(reads.qual[by_unique].astype(np.float64), starts, axis=0)
    qmean = qsum / abundances[:, None]
    rep = by_unique[starts]  # one read of each unique
    lengths = reads.lengths[rep]
    sequences = tuple(seq[r, : lengths[i]].tobytes().decode("ascii") for i, r in enumerate(rep))
    mean_quality = tuple(np.ascontiguousarray(qmean[i, : lengths[i]]) for i in range(order.size))
    return Derep(sequences, abundances, mean_quality, read_to_unique)
