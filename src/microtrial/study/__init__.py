"""The study file: YAML loaded with ``yaml.safe_load`` into frozen pydantic models.

``load_study`` checks the schema (unknown keys, types, ranges) and resolves paths relative
to the study file; ``validate_study`` also opens every file the study names and checks
them against each other, reporting every problem at once in one
:class:`~microtrial.errors.StudyError`. The schema is documented in docs/study-file.md.
"""

from __future__ import annotations

from microtrial.study._load import (
    StudyDesign,
    default_comparisons,
    load_design,
    load_study,
    option_line,
)
from microtrial.study._models import (
    BETA_METRICS,
    DIFFERENTIAL_METHODS,
    RANKS,
    ClinicalSettings,
    ComparisonSpec,
    Design,
    Factor,
    Options,
    Reads,
    Study,
    TaxonomySettings,
)
from microtrial.study._reads import find_read_pairs, parse_fastq_name
from microtrial.study._validate import validate_study

__all__ = [
    "BETA_METRICS",
    "DIFFERENTIAL_METHODS",
    "RANKS",
    "ClinicalSettings",
    "ComparisonSpec",
    "Design",
    "Factor",
    "Options",
    "Reads",
    "Study",
    "StudyDesign",
    "TaxonomySettings",
    "default_comparisons",
    "find_read_pairs",
    "load_design",
    "load_study",
    "option_line",
    "parse_fastq_name",
    "validate_study",
]
