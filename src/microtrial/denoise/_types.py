"""Data passed between read processing and the denoiser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microtrial.derep import Derep

__all__ = ["DadaResult", "Derep"]


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
