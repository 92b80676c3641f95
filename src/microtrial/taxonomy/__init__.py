"""Taxonomic classification of ASVs: the naive Bayesian k-mer classifier of Wang et al.
(2007) as in DADA2's ``assignTaxonomy``, exact-match species as in ``addSpecies``, and
k-fold cross-validation on the reference."""

from __future__ import annotations

from microtrial.taxonomy._classify import classify
from microtrial.taxonomy._evaluate import cross_validate
from microtrial.taxonomy._model import (
    MODEL_FORMAT,
    Reference,
    SpeciesReference,
    TaxonomyModel,
    lineage_levels,
    train_classifier,
)
from microtrial.taxonomy._reference import extract_region, species_from_reference
from microtrial.taxonomy._species import find_exact_hits
from microtrial.taxonomy._stage import (
    ClassifyResult,
    K,
    TrainedReference,
    classify_sequences,
    evaluate_reference,
    train_reference,
)

__all__ = [
    "K",
    "MODEL_FORMAT",
    "ClassifyResult",
    "TrainedReference",
    "Reference",
    "SpeciesReference",
    "TaxonomyModel",
    "classify",
    "classify_sequences",
    "evaluate_reference",
    "cross_validate",
    "extract_region",
    "find_exact_hits",
    "lineage_levels",
    "species_from_reference",
    "train_classifier",
    "train_reference",
]
