"""The unique sequences of one sample: made by read processing, consumed by the denoiser.

A core type shared by two stages (``reads`` builds it in :func:`microtrial.reads.dereplicate`,
``denoise`` partitions it), so neither stage imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Derep"]


@dataclass(frozen=True, eq=False)
class Derep:
    """The unique sequences of one sample and read direction, most abundant first.

    Attributes
    ----------
    sequences : tuple of str
        Upper-case ACGT sequences (reads with N are filtered out before this).
    abundances : numpy.ndarray of int64, shape (n_uniques,)
        Reads per unique, non-increasing.
    mean_quality : tuple of numpy.ndarray of float64
        Per unique, the mean Phred score at each position (length = len(sequence)).
    read_to_unique : numpy.ndarray of int64, shape (n_reads,)
        For each read in input order, the index of its unique in ``sequences``.
    """

    sequences: tuple[str, ...]
    abundances: np.ndarray
    mean_quality: tuple[np.ndarray, ...]
    read_to_unique: np.ndarray

    @property
    def n_reads(self) -> int:
        return int(self.abundances.sum())
