"""Taxonomy strings and collapsing a feature table to a rank (shared by every stage).

Taxon strings are normalised to ``d__X; p__X; c__X; o__X; f__X; g__X; s__X``: Greengenes'
``k__`` becomes ``d__``; DADA2/SILVA-style ``Bacteria;Firmicutes;...`` gets prefixes by
position; empty ranks (``g__``) end the string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.names import TAXON_RANKS as RANKS
from microtrial.table import FeatureTable

PREFIXES: tuple[str, ...] = ("d__", "p__", "c__", "o__", "f__", "g__", "s__")
_RANK_ALIASES = {"kingdom": "domain", "asv": "asv", "feature": "asv"}
UNASSIGNED = "Unassigned"
_SILVA_PREFIX = re.compile(r"^D_\d+__")


def rank_index(rank: str) -> int:
    """0-based index of a rank name (``genus`` -> 5); ``asv`` -> 7."""
    r = _RANK_ALIASES.get(rank.lower(), rank.lower())
    if r == "asv":
        return len(RANKS)
    if r not in RANKS:
        raise ValueError(f"unknown rank '{rank}'; choose from asv, {', '.join(RANKS)}")
    return RANKS.index(r)


def split_taxon(taxon: str) -> list[str]:
    """Split any common taxonomy string into normalised ``x__Name`` levels, stopping at
    the first empty or unassigned level."""
    if taxon is None or (isinstance(taxon, float) and np.isnan(taxon)):
        return []
    parts = [p.strip() for p in str(taxon).replace(";", ";").split(";")]
    out: list[str] = []
    for i, part in enumerate(p for p in parts if p != ""):
        if i >= len(PREFIXES):
            break
        name = _SILVA_PREFIX.sub("", part)
        if name != part:  # SILVA 132 QIIME files: D_0__Bacteria, D_1__Firmicutes, ...
            part = name if name else "x__"
        if len(part) > 3 and part[1:3] == "__":
            name = part[3:]
        elif len(part) == 3 and part.endswith("__"):
            name = ""
        name = name.strip().strip("[]") if name.startswith("[") else name.strip()
        if not name or name in ("NA", "unidentified", UNASSIGNED):
            break
        out.append(PREFIXES[i] + name)
    return out


def normalize_taxon(taxon: str) -> str:
    """Normalise a taxonomy string (see module docs); ``Unassigned`` if no level is named."""
    levels = split_taxon(taxon)
    return "; ".join(levels) if levels else UNASSIGNED


def truncate_taxon(taxon: str, rank: str) -> str:
    """The taxon string down to ``rank`` (e.g. genus), padded with ``x__`` for unnamed levels
    so that features unassigned at that rank group under their deepest named parent."""
    k = rank_index(rank)
    levels = split_taxon(taxon)
    if k >= len(RANKS):
        raise ValueError("truncate_taxon needs a taxonomic rank, not asv")
    if not levels:
        return UNASSIGNED
    kept = levels[: k + 1]
    while len(kept) < k + 1:
        kept.append(PREFIXES[len(kept)])
    return "; ".join(kept)


def collapse(table: FeatureTable, taxonomy: pd.Series, rank: str) -> FeatureTable:
    """Sum the features of ``table`` by their taxon truncated at ``rank``.

    Parameters
    ----------
    table : FeatureTable
    taxonomy : pandas.Series
        Taxon string per feature id (features missing from it count as ``Unassigned``).
    rank : str
        ``asv`` (no change) or a rank name from :data:`RANKS`.
    """
    if rank_index(rank) == len(RANKS):
        return table
    labels = [truncate_taxon(taxonomy.get(f, UNASSIGNED), rank) for f in table.feature_ids]
    uniq, inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    agg = sp.csr_matrix(
        (np.ones(len(labels)), (inverse, np.arange(len(labels)))), shape=(len(uniq), len(labels))
    )
    data = agg @ table.data
    return FeatureTable(sp.csr_matrix(data), tuple(str(u) for u in uniq), table.sample_ids)


@dataclass(frozen=True)
class Reference:
    """A taxonomy reference: ids, sequences and taxon strings (any common format).

    ``taxa`` are normalised with :func:`microtrial.taxa.split_taxon`; the first six ranks
    (domain..genus) define the classifier's groups, a seventh (species) feeds exact-match
    species assignment.
    """

    ids: tuple[str, ...]
    sequences: tuple[str, ...]
    taxa: tuple[str, ...]

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.sequences) == len(self.taxa)):
            raise ValueError("ids, sequences and taxa must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: Sequence[int] | np.ndarray) -> Reference:
        idx = [int(i) for i in index]
        return Reference(
            tuple(self.ids[i] for i in idx),
            tuple(self.sequences[i] for i in idx),
            tuple(self.taxa[i] for i in idx),
        )


@dataclass(frozen=True)
class SpeciesReference:
    """Sequences labelled with genus and species (DADA2 ``>ID Genus species`` format)."""

    genus: tuple[str, ...]
    species: tuple[str, ...]
    sequences: tuple[str, ...]
