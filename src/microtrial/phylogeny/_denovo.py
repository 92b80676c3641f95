"""De-novo tree: ASVs aligned against a reference alignment, then neighbour joining.

Notes
-----
Each ASV is aligned (unit-cost, semi-global) to its closest template sequence (see
``_place``) and its bases are written into that template's alignment columns; bases the
template lacks (insertions) are dropped, as PyNAST does. Pairwise distances are
Jukes-Cantor over the columns where both ASVs have a base; the tree is scikit-bio's
neighbour joining (negative branch lengths set to zero), rooted at its midpoint.

References
----------
Caporaso JG et al. (2010). PyNAST: a flexible tool for aligning sequences to a template
alignment. Bioinformatics 26:266. Saitou N, Nei M (1987). The neighbor-joining method.
Mol Biol Evol 4:406.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from microtrial.dna import encode
from microtrial.phylogeny import _kernels
from microtrial.phylogeny._place import build_reference_index, place


def template_msa(queries: Mapping[str, str], template: Mapping[str, str], *,
                 n_candidates: int = 4) -> np.ndarray:
    """The queries aligned in ``template``'s columns (uint8 codes, gap = 5), restricted to
    the columns where any query has a base; rows follow ``queries``."""
    tids = list(template)
    aligned = [str(template[t]).upper() for t in tids]
    ungapped = {t: a.replace("-", "").replace(".", "") for t, a in zip(tids, aligned, strict=True)}
    colmaps = [np.flatnonzero((np.frombuffer(a.encode(), dtype=np.uint8) != ord("-"))
                              & (np.frombuffer(a.encode(), dtype=np.uint8) != ord(".")))
               for a in aligned]
    n_cols = max((len(a) for a in aligned), default=0)
    index = build_reference_index(ungapped)
    pl = place(queries, index, n_candidates=n_candidates)
    seqs = [str(queries[q]).upper() for q in queries]
    msa = np.full((len(seqs), max(n_cols, 1)), _kernels.GAP, dtype=np.uint8)
    for i, s in enumerate(seqs):
        r = int(pl.reference[i])
        if r < 0:
            continue
        qm = pl.qmap[i, : len(s)]
        ok = qm >= 0
        cols = colmaps[r][qm[ok]]
        msa[i, cols] = encode(s)[ok]
    used = np.flatnonzero((msa < 4).any(axis=0))
    return np.ascontiguousarray(msa[:, used])


def jc_distances(msa: np.ndarray) -> np.ndarray:
    """Jukes-Cantor distance matrix between alignment rows (see ``pairwise_jc``)."""
    n = msa.shape[0]
    out = np.zeros((n, n), dtype=np.float64)
    if n > 1:
        _kernels.pairwise_jc(np.ascontiguousarray(msa, dtype=np.uint8), out)
    return out


def de_novo_tree(queries: Mapping[str, str], template: Mapping[str, str], *,
                 n_candidates: int = 4):  # noqa: ANN201 - skbio.TreeNode
    """Midpoint-rooted neighbour-joining tree of the queries (see module notes).

    Parameters
    ----------
    queries : mapping of feature id -> sequence
    template : mapping of id -> aligned sequence ('-' or '.' for gaps), e.g. Greengenes'
        ``85_otus.pynast.fasta``.

    Returns
    -------
    skbio.TreeNode
    """
    from skbio import DistanceMatrix, TreeNode
    from skbio.tree import nj

    ids = [str(q) for q in queries]
    if not ids:
        raise ValueError("no sequences to place")
    if len(ids) == 1:
        return TreeNode(children=[TreeNode(name=ids[0], length=0.0)])
    if len(ids) == 2:
        d = float(jc_distances(template_msa(queries, template, n_candidates=n_candidates))[0, 1])
        return TreeNode(children=[TreeNode(name=ids[0], length=d / 2), TreeNode(name=ids[1], length=d / 2)])
    dist = jc_distances(template_msa(queries, template, n_candidates=n_candidates))
    tree = nj(DistanceMatrix(dist, ids))
    return tree.root_at_midpoint()
