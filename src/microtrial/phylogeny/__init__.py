"""Phylogeny of the ASVs: insertion into a reference tree (default; the idea of SEPP
fragment insertion) or a de-novo tree (template alignment + neighbour joining)."""

from __future__ import annotations

from microtrial.names import TREE_METHODS as METHODS
from microtrial.phylogeny._build import TreeResult, build_tree
from microtrial.phylogeny._denovo import de_novo_tree, jc_distances, template_msa
from microtrial.phylogeny._insert import insertion_tree
from microtrial.phylogeny._place import (
    Placement,
    ReferenceIndex,
    build_reference_index,
    jukes_cantor,
    place,
)

__all__ = [
    "METHODS",
    "Placement",
    "ReferenceIndex",
    "TreeResult",
    "build_reference_index",
    "build_tree",
    "de_novo_tree",
    "insertion_tree",
    "jc_distances",
    "jukes_cantor",
    "place",
    "template_msa",
]
