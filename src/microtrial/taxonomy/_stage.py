"""The taxonomy stage's entry points: train on a reference (optionally cut to the amplicon),
classify ASVs with a trained reference, and cross-validate a reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from microtrial.taxonomy._classify import classify
from microtrial.taxonomy._evaluate import cross_validate
from microtrial.taxonomy._model import Reference, SpeciesReference, TaxonomyModel, train_classifier
from microtrial.taxonomy._reference import extract_region, species_from_reference

K = 8
"""k-mer length of the classifier (as DADA2's ``assignTaxonomy``)."""


@dataclass(frozen=True)
class TrainedReference:
    """A trained classifier and the species labels of its own reference.

    Attributes
    ----------
    model : TaxonomyModel
    species : SpeciesReference or None
        None when the reference carries no species labels.
    """

    model: TaxonomyModel
    species: SpeciesReference | None


@dataclass(frozen=True)
class ClassifyResult:
    """What :func:`classify_sequences` computed.

    Attributes
    ----------
    table : DataFrame
        ASV id -> ``Taxon``, ``Confidence`` (the columns of ``taxonomy.tsv``).
    details : DataFrame
        Every column :func:`classify` returns (``Strand`` among them).
    n_reverse_complemented : int
        ASVs classified on the reverse strand.
    """

    table: pd.DataFrame
    details: pd.DataFrame
    n_reverse_complemented: int


def _region(reference: Reference, primer_f: str | None, primer_r: str | None) -> Reference:
    if primer_f and primer_r:
        return extract_region(reference, primer_f, primer_r)
    return reference


def train_reference(reference: Reference, *, primer_f: str | None = None, primer_r: str | None = None,
                    k: int = K) -> TrainedReference:
    """Train the classifier on ``reference`` (cut to the amplicon between the primers when both
    are given).

    Raises
    ------
    ValueError
        If no reference sequence holds the primer pair.
    """
    ref = _region(reference, primer_f, primer_r)
    sp = species_from_reference(ref)
    model = train_classifier(ref, k=k)
    return TrainedReference(model=model, species=sp if sp.genus else None)


def classify_sequences(queries: Mapping[str, str], trained: TrainedReference, *,
                       confidence: float = 0.8, seed: int = 0, threads: int = 2,
                       species: SpeciesReference | None = None, max_species: int = 1,
                       both_orientations: bool = True,
                       progress: Callable[[str, int, int], None] | None = None) -> ClassifyResult:
    """Classify ASVs with a trained reference.

    Parameters
    ----------
    queries : mapping
        ASV id -> DNA sequence.
    trained : TrainedReference
        From :func:`train_reference` (or a cached copy of it).
    species : SpeciesReference, optional
        Exact-match species labels; ``trained.species`` when not given.
    confidence, seed, threads, max_species, both_orientations, progress
        As :func:`classify`.

    Returns
    -------
    ClassifyResult
    """
    details = classify(queries, trained.model, confidence=confidence, seed=seed, threads=threads,
                       species=species if species is not None else trained.species,
                       max_species=max_species, both_orientations=both_orientations, progress=progress)
    return ClassifyResult(table=details[["Taxon", "Confidence"]], details=details,
                          n_reverse_complemented=int((details["Strand"] == "-").sum()))


def evaluate_reference(reference: Reference, *, primer_f: str | None = None, primer_r: str | None = None,
                       folds: int = 5, confidence: float = 0.8, max_test_per_fold: int | None = 500,
                       seed: int = 0, threads: int = 2) -> pd.DataFrame:
    """k-fold cross-validation of the classifier on ``reference`` (cut to the amplicon between
    the primers when both are given); see :func:`cross_validate`.

    Raises
    ------
    ValueError
        If no reference sequence holds the primer pair, or the reference is too small.
    """
    return cross_validate(_region(reference, primer_f, primer_r), folds=folds, confidence=confidence,
                          max_test_per_fold=max_test_per_fold, seed=seed, threads=threads)
