"""Data passed between read processing and the denoiser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


@dataclass(frozen=True, eq=False)
class DadaResult:
    """Denoised variants of one sample (one read direction).

    Attributes
    ----------
    sequences : tuple of str
        The amplicon sequence variants (partition centres), most abundant first.
    abundances : numpy.ndarray of int64
        Reads assigned to each variant.
    unique_to_asv : numpy.ndarray of int64, shape (n_uniques of the Derep,)
        For each unique of the input Derep, the index of its variant, or -1 when the unique
        was not corrected (DADA2's OMEGA_C test failed); such reads are dropped.
    """

    sequences: tuple[str, ...]
    abundances: np.ndarray
    unique_to_asv: np.ndarray
