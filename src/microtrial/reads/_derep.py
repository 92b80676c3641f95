"""Dereplication: unique sequences, their abundances and per-position mean qualities.

As DADA2's ``derepFastq``: identical reads are collapsed into one unique sequence whose
abundance is the number of reads and whose quality at each position is the mean of the
reads' Phred scores there.  Uniques are ordered by decreasing abundance; ties are ordered
as R's ``derepFastq`` leaves them (it reads files in chunks of ``CHUNK`` reads, lists each
chunk's new uniques in sequence order, A < C < G < T, and sorts stably by abundance): by
the chunk where the unique first appears, then alphabetically.  The order matters: DADA2's
partitioning breaks ties by it.  One compiled pass (:func:`~microtrial.reads._kernels.dereplicate_reads`,
no GIL held) finds the uniques with a hash table, sorts them and sums the qualities.

References
----------
DADA2 manual page ``derepFastq``; Callahan BJ et al. (2016) Nat Methods 13:581-583.
"""

from __future__ import annotations

import numpy as np

from microtrial.derep import Derep
from microtrial.reads._fastq import Reads
from microtrial.reads._kernels import dereplicate_reads

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
    qual = np.ascontiguousarray(reads.qual)
    all_lengths = np.ascontiguousarray(reads.lengths, dtype=np.int64)
    rep, abundances, read_to_unique, qmean = dereplicate_reads(seq, qual, all_lengths, int(CHUNK))
    lengths = all_lengths[rep].tolist()
    sequences = tuple(seq[r, :ln].tobytes().decode("ascii") for r, ln in zip(rep.tolist(), lengths))
    mean_quality = tuple(qmean[i, :ln] for i, ln in enumerate(lengths))
    return Derep(sequences, abundances, mean_quality, read_to_unique)
