"""Denoising: the DADA2 method (error model, divisive partitioning), merging, chimeras."""

from __future__ import annotations

from microtrial.denoise._error_model import fit_errors, learn_errors
from microtrial.denoise._pool import dada
from microtrial.denoise._types import DadaResult, Derep

__all__ = ["DadaResult", "Derep", "dada", "fit_errors", "learn_errors"]
