"""Denoising: the DADA2 method (error model, divisive partitioning), merging, chimeras."""

from __future__ import annotations

from microtrial.denoise._chimera import is_bimera_denovo_table, remove_bimera_denovo
from microtrial.denoise._error_model import fit_errors, fit_errors_monotone, learn_errors
from microtrial.denoise._merge import MergeResult, merge_pairs, reverse_partners
from microtrial.denoise._options import DenoiseSettings, parse_settings
from microtrial.denoise._pool import dada
from microtrial.denoise._reads import TRACKING_COLUMNS, ReadsDenoiseResult, denoise_reads, read_loss
from microtrial.denoise._samples import DenoiseResult, denoise_samples
from microtrial.denoise._types import DadaResult, Derep

__all__ = [
    "DadaResult",
    "DenoiseResult",
    "DenoiseSettings",
    "Derep",
    "MergeResult",
    "ReadsDenoiseResult",
    "TRACKING_COLUMNS",
    "dada",
    "denoise_reads",
    "denoise_samples",
    "fit_errors",
    "fit_errors_monotone",
    "is_bimera_denovo_table",
    "learn_errors",
    "merge_pairs",
    "parse_settings",
    "read_loss",
    "remove_bimera_denovo",
    "reverse_partners",
]
