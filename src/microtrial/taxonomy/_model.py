"""Training the naive Bayesian k-mer classifier of Wang et al. (2007).

Notes
-----
Each reference sequence belongs to a *group*: its lineage down to the genus rank (as in
DADA2's ``assignTaxonomy``, a lineage that stops above genus is a group of its own).
Groups, and names at each rank, are told apart by the reference's own text, as DADA2 tells
them apart by the exact header: Greengenes' ``g__[Ruminococcus]`` and ``g__Ruminococcus``
(both in Lachnospiraceae) are two groups and two genus names although both are reported,
normalised, as ``g__Ruminococcus``. Merging them would pool two clades into one group and
count bootstraps landing in either as agreement. With
n(w) the number of reference sequences holding word w, N the number of reference sequences,
m(w, g) the number of sequences of group g holding w and M_g the size of group g:

    P_w = (n(w) + 0.5) / (N + 1)
    P(w | g) = (m(w, g) + P_w) / (M_g + 1)

The model keeps the counts sparse (what is cached on disk, as npz). Scoring uses
word-major postings: log P(w | g) = log P_w - log(M_g + 1) for every group lacking w, so a
query's score needs, per word, only the groups that hold it (``Scorer``). This is exact (up
to float rounding) and avoids the dense 4^k x n_groups matrix (65,536 x 2,928 float32 =
768 MB for Greengenes 13_8 97%), which is slower to build than to use for one data set.

We implement the classifier ourselves (no library offers it in Python without
scikit-learn's very different multinomial model) to reproduce the published RDP/DADA2
definitions exactly with numba kernels.

References
----------
Wang Q, Garrity GM, Tiedje JM, Cole JR (2007). Naive Bayesian classifier for rapid
assignment of rRNA sequences into the new bacterial taxonomy. Appl Environ Microbiol
73:5261-5267. Callahan BJ et al. (2016) DADA2, Nat Methods 13:581 (``assignTaxonomy``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from microtrial.taxa import RANKS, Reference, SpeciesReference, split_taxon  # noqa: F401 - re-exported
from microtrial.taxonomy import _kernels

log = logging.getLogger(__name__)

N_CLASS_RANKS = 6  # domain .. genus; species comes from exact matching
MODEL_FORMAT = 2  # 2: groups keyed by the reference's own names (brackets kept)


def lineage_levels(taxon: str, depth: int = N_CLASS_RANKS) -> list[str]:
    """Normalised levels of ``taxon`` down to ``depth`` ranks (stops at the first empty)."""
    return split_taxon(taxon)[:depth]


def reference_levels(taxon: str, depth: int = N_CLASS_RANKS) -> list[str]:
    """The same levels as :func:`lineage_levels` (same ranks, same stop) in the
    reference's own text (each level stripped of surrounding spaces, nothing else)."""
    n = len(lineage_levels(taxon, depth))
    return [p for p in (part.strip() for part in str(taxon).split(";")) if p][:n]


@dataclass(frozen=True)
class Scorer:
    """Word-major form of a model: for word w, the groups holding it
    (``wgroup[wptr[w]:wptr[w + 1]]``) with ``wdelta = log(m(w, g) + P_w) - log P_w``;
    ``log_den[g] = log(M_g + 1)``; ``log_prior[w] = log P_w``. Then
    log P(w | g) = log_prior[w] - log_den[g] + (wdelta if g holds w else 0)."""

    wptr: np.ndarray
    wgroup: np.ndarray
    wdelta: np.ndarray
    log_den: np.ndarray
    log_prior: np.ndarray


@dataclass(frozen=True)
class TaxonomyModel:
    """A trained classifier (see module notes).

    Attributes
    ----------
    k : int
        Word length.
    lineages : tuple of str
        One normalised lineage per group (``d__...; ...; g__...``, shorter when the
        reference names no deeper rank); two groups may share one when the reference's
        names differ only in what normalisation removes (``[Ruminococcus]``).
    rank_ids : ndarray of int32, (n_groups, n_ranks)
        Integer id of each group's name, in the reference's own text, at each rank (an
        unnamed rank is a name of its own).
    indptr, words, counts : CSR of m(w, g) by group.
    prior_counts : ndarray of uint32, (4^k,)
        n(w).
    group_size : ndarray of uint32
        M_g.
    n_refs : int
        N.
    ref_ids : tuple of str
        Training sequence ids, and ``ref_group`` their group.
    """

    k: int
    lineages: tuple[str, ...]
    rank_ids: np.ndarray
    indptr: np.ndarray
    words: np.ndarray
    counts: np.ndarray
    prior_counts: np.ndarray
    group_size: np.ndarray
    n_refs: int
    ref_ids: tuple[str, ...] = ()
    ref_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def n_groups(self) -> int:
        return len(self.lineages)

    @property
    def prior(self) -> np.ndarray:
        """P_w = (n(w) + 0.5) / (N + 1)."""
        return (self.prior_counts.astype(np.float64) + 0.5) / (self.n_refs + 1.0)

    def log_probs(self) -> np.ndarray:
        """Dense word-major log P(w | g), float32 (4^k x n_groups), built on each call
        (for inspection and tests; classification uses the sparse :meth:`scorer`)."""
        out = np.empty((1 << (2 * self.k), self.n_groups), dtype=np.float32)
        _kernels.fill_log_probs(
            self.indptr, self.words.astype(np.int64), self.counts.astype(np.float64),
            self.prior, self.group_size.astype(np.float64), out,
        )
        return out

    def scorer(self) -> Scorer:
        """Word-major postings for scoring (see :class:`Scorer`)."""
        n_words = 1 << (2 * self.k)
        prior = self.prior
        wptr = np.zeros(n_words + 1, dtype=np.int64)
        wgroup = np.empty(self.words.shape[0], dtype=np.int32)
        wdelta = np.empty(self.words.shape[0], dtype=np.float32)
        _kernels.word_postings(self.indptr, self.words.astype(np.int64), self.counts.astype(np.float64),
                               prior, n_words, wptr, wgroup, wdelta)
        log_den = np.log(self.group_size.astype(np.float64) + 1.0)
        return Scorer(wptr, wgroup, wdelta, log_den, np.log(prior))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no Python objects) for ``numpy.savez``."""
        return {
            "format": np.array([MODEL_FORMAT], dtype=np.int64),
            "k": np.array([self.k], dtype=np.int64),
            "lineages": np.array(self.lineages, dtype=np.str_),
            "rank_ids": self.rank_ids,
            "indptr": self.indptr,
            "words": self.words,
            "counts": self.counts,
            "prior_counts": self.prior_counts,
            "group_size": self.group_size,
            "n_refs": np.array([self.n_refs], dtype=np.int64),
            "ref_ids": np.array(self.ref_ids, dtype=np.str_),
            "ref_group": self.ref_group,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TaxonomyModel:
        if int(arrays["format"][0]) != MODEL_FORMAT:
            raise ValueError("model format version differs")
        return cls(
            k=int(arrays["k"][0]),
            lineages=tuple(str(x) for x in arrays["lineages"]),
            rank_ids=np.asarray(arrays["rank_ids"], dtype=np.int32),
            indptr=np.asarray(arrays["indptr"], dtype=np.int64),
            words=np.asarray(arrays["words"], dtype=np.uint16),
            counts=np.asarray(arrays["counts"], dtype=np.uint32),
            prior_counts=np.asarray(arrays["prior_counts"], dtype=np.uint32),
            group_size=np.asarray(arrays["group_size"], dtype=np.uint32),
            n_refs=int(arrays["n_refs"][0]),
            ref_ids=tuple(str(x) for x in arrays["ref_ids"]),
            ref_group=np.asarray(arrays["ref_group"], dtype=np.int32),
        )


def _groups(taxa: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Groups: unique genus-depth lineages in the reference's own text (first-seen order);
    their normalised lineages, the group of each sequence, and per rank the integer id of
    each group's own name there (an unnamed rank is a name of its own, '')."""
    index: dict[tuple[str, ...], int] = {}
    raw: list[tuple[str, ...]] = []
    lineages: list[str] = []
    group = np.empty(len(taxa), dtype=np.int64)
    for i, t in enumerate(taxa):
        key = tuple(reference_levels(t))
        g = index.get(key)
        if g is None:
            g = index[key] = len(raw)
            raw.append(key)
            lineages.append("; ".join(lineage_levels(t)))
        group[i] = g
    depth = max((len(lv) for lv in raw), default=1) or 1
    name_ids: list[dict[str, int]] = [{} for _ in range(depth)]
    rank_ids = np.empty((len(raw), depth), dtype=np.int32)
    for g, lv in enumerate(raw):
        for r in range(depth):
            name = lv[r] if r < len(lv) else ""
            rank_ids[g, r] = name_ids[r].setdefault(name, len(name_ids[r]))
    return lineages, group, rank_ids


def train_classifier(reference: Reference, *, k: int = 8) -> TaxonomyModel:
    """Train the naive Bayesian classifier on a reference.

    Parameters
    ----------
    reference : Reference
    k : int
        Word length (8 as in RDP and DADA2; at most 8 so that words fit uint16).

    Returns
    -------
    TaxonomyModel
    """
    if not 1 <= k <= 8:
        raise ValueError("k must be between 1 and 8")
    if len(reference) == 0:
        raise ValueError("empty reference")
    lineages, group, rank_ids = _groups(reference.taxa)
    codes, offsets = _kernels.encode_many(list(reference.sequences))
    order = np.argsort(group, kind="stable").astype(np.int64)
    n_words = 1 << (2 * k)
    prior_counts = np.zeros(n_words, dtype=np.int64)
    nnz = np.zeros(len(lineages), dtype=np.int64)
    _kernels.group_nnz(codes, offsets, order, group, len(lineages), k, prior_counts, nnz)
    indptr = np.zeros(len(lineages) + 1, dtype=np.int64)
    np.cumsum(nnz, out=indptr[1:])
    words = np.empty(int(indptr[-1]), dtype=np.int64)
    counts = np.empty(int(indptr[-1]), dtype=np.int64)
    _kernels.group_counts(codes, offsets, order, group, k, indptr, words, counts)
    group_size = np.bincount(group, minlength=len(lineages))
    log.info("trained on %d sequences in %d groups (%d nonzero word counts)",
             len(reference), len(lineages), int(indptr[-1]))
    return TaxonomyModel(
        k=k, lineages=tuple(lineages), rank_ids=rank_ids, indptr=indptr,
        words=words.astype(np.uint16), counts=counts.astype(np.uint32),
        prior_counts=prior_counts.astype(np.uint32), group_size=group_size.astype(np.uint32),
        n_refs=len(reference), ref_ids=tuple(reference.ids), ref_group=group.astype(np.int32),
    )


__all__ = ["RANKS", "Reference", "SpeciesReference", "TaxonomyModel", "train_classifier"]
