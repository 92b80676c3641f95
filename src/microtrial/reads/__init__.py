"""Read processing: FASTQ input, quality profiles, primer removal, filtering, dereplication."""

from __future__ import annotations

from microtrial.reads._derep import dereplicate
from microtrial.reads._fastq import Reads, SampleFiles, find_samples, read_fastq, read_pair
from microtrial.reads._filter import (
    FilterParams,
    filter_and_trim,
    filter_pair,
    is_phix,
    phix_genome,
)
from microtrial.reads._primers import PrimerStats, remove_primers
from microtrial.reads._quality import (
    QualityHistogram,
    amplicon_length_estimates,
    amplicon_length_from_primers,
    choose_trunc_len,
    planning_amplicon_length,
    quality_histogram,
    quality_profile,
)

__all__ = [
    "FilterParams",
    "PrimerStats",
    "QualityHistogram",
    "Reads",
    "SampleFiles",
    "amplicon_length_estimates",
    "amplicon_length_from_primers",
    "choose_trunc_len",
    "dereplicate",
    "filter_and_trim",
    "filter_pair",
    "find_samples",
    "is_phix",
    "phix_genome",
    "planning_amplicon_length",
    "quality_histogram",
    "quality_profile",
    "read_fastq",
    "read_pair",
    "remove_primers",
]
