"""Inserting ASVs into a reference tree next to their closest reference sequence.

Notes
-----
Each ASV is attached to the branch above its closest reference tip r (see ``_place``), in
the spirit of SEPP's fragment insertion: with d the ASV-reference distance and b the length
of r's branch, a new node is put on that branch at x = min(d/2, b) above r, and the ASV hangs
from it with length d - x, so the path ASV-r is d (an ASV identical to r becomes its sister
with zero branch lengths). Several ASVs on the same reference split the branch in turn.
ASVs with no reference sharing a word with them hang from the root with length 1. The
tree is then pruned to the subtree spanning the ASVs (reference tips removed, unary nodes
merged with their branch lengths summed), which keeps UniFrac distances between ASVs
those of the full tree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from microtrial.phylogeny._place import ReferenceIndex, place

log = logging.getLogger(__name__)

UNPLACED_LENGTH = 1.0


def _prune_to(tree, keep: set[str]):  # noqa: ANN001, ANN202 - skbio.TreeNode
    """Subtree spanning the tips named in ``keep``: other tips dropped, unary nodes merged
    (lengths summed); the root is the ASVs' most recent common ancestor."""
    from skbio import TreeNode

    def build(node):  # noqa: ANN001, ANN202
        if node.is_tip():
            if node.name in keep:
                return TreeNode(name=node.name, length=node.length)
            return None
        kids = [c for c in (build(ch) for ch in node.children) if c is not None]
        if not kids:
            return None
        if len(kids) == 1:
            only = kids[0]
            only.length = (only.length or 0.0) + (node.length or 0.0)
            return only
        new = TreeNode(name=None, length=node.length)
        new.extend(kids, uncache=False)
        return new

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100000))
    try:
        out = build(tree)
    finally:
        sys.setrecursionlimit(old)
    return out


def insertion_tree(queries: Mapping[str, str], reference_tree, index: ReferenceIndex, *,  # noqa: ANN001
                   n_candidates: int = 4, prune: bool = True,
                   copy: bool = True):  # noqa: ANN201 - skbio.TreeNode
    """A rooted tree with every query as a tip, by insertion into ``reference_tree``.

    Parameters
    ----------
    queries : mapping of feature id -> sequence
    reference_tree : skbio.TreeNode
        Rooted, tips named like ``index.ids`` (not modified unless ``copy=False``).
    index : ReferenceIndex
        From :func:`build_reference_index` on the tree's reference sequences.
    n_candidates : int
        References aligned per query (the k-mer nearest ones).
    prune : bool
        Keep only the subtree spanning the queries.
    copy : bool
        Work on a copy of ``reference_tree``; ``False`` saves time and memory for a tree
        read just for this call (which is then modified).

    Returns
    -------
    skbio.TreeNode
    """
    from skbio import TreeNode

    ids = list(queries)
    if not ids:
        raise ValueError("no sequences to place")
    tree = reference_tree.copy() if copy else reference_tree
    tips = {t.name: t for t in tree.tips()}
    names = set(ids)
    clash = names & set(tips)
    if clash:
        raise ValueError(f"ASV id(s) also name reference tips: {sorted(clash)[:3]}")
    pl = place(queries, index, n_candidates=n_candidates)
    unplaced: list[str] = []
    for i, qid in enumerate(ids):
        r = int(pl.reference[i])
        tip = tips.get(index.ids[r]) if r >= 0 else None
        if tip is None or tip.parent is None:
            unplaced.append(qid)
            continue
        d = float(pl.distance[i])
        b = float(tip.length or 0.0)
        x = min(d / 2.0, b)
        parent = tip.parent
        node = TreeNode(length=b - x)
        parent.remove(tip, uncache=False)
        parent.append(node, uncache=False)
        tip.length = x
        node.append(tip, uncache=False)
        node.append(TreeNode(name=qid, length=d - x), uncache=False)
    if unplaced:
        log.warning("%d sequence(s) share no k-mer with the reference; attached at the root",
                    len(unplaced))
    placed = names - set(unplaced)
    if prune:
        tree = _prune_to(tree, placed) if placed else None
        if tree is None or tree.is_tip():
            root = TreeNode(name=None)
            if tree is not None:
                root.append(tree)
            tree = root
        tree.length = None
    for qid in unplaced:
        tree.append(TreeNode(name=qid, length=UNPLACED_LENGTH), uncache=False)
    tree.clear_caches()
    log.info("placed %d of %d sequences; median distance %.3f", len(placed), len(ids),
             float(np.median(pl.distance)) if len(ids) else 0.0)
    return tree
