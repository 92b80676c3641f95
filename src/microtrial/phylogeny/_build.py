"""The phylogeny stage's one entry point: ASV sequences -> rooted tree with every ASV a tip."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from microtrial.phylogeny._denovo import de_novo_tree
from microtrial.phylogeny._insert import insertion_tree
from microtrial.phylogeny._place import build_reference_index


@dataclass(frozen=True)
class TreeResult:
    """The ASV tree and how it was made.

    Attributes
    ----------
    tree : skbio.TreeNode
        Rooted tree whose tips include every query ASV.
    method : str
        ``"insertion"`` or ``"de-novo"``.
    n_tips : int
        Number of tips of ``tree``.
    timings : dict of str to float
        Seconds per step (``"insert"`` or ``"de_novo"``).
    """

    tree: Any
    method: str
    n_tips: int
    timings: dict[str, float] = field(default_factory=dict)


def build_tree(queries: dict[str, str], *, method: str = "insertion", threads: int = 2,
               reference_seqs: dict[str, str] | None = None, reference_tree: Any = None,
               template: dict[str, str] | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> TreeResult:
    """Build the ASV tree.

    Parameters
    ----------
    queries : dict of str to str
        ASV id -> DNA sequence.
    method : {"insertion", "de-novo"}
        ``"insertion"`` places every ASV into ``reference_tree`` next to its closest sequence
        in ``reference_seqs`` and prunes the tree to the ASVs; ``"de-novo"`` aligns the ASVs to
        the ``template`` alignment and builds a midpoint-rooted neighbour-joining tree.
    threads : int
        Numba threads used while building (restored afterwards).
    reference_seqs, reference_tree : dict, skbio.TreeNode
        The insertion reference (required for ``"insertion"``).
    template : dict of str to str
        The template alignment (required for ``"de-novo"``).
    progress : callable, optional
        ``progress(label, done, total)``.

    Returns
    -------
    TreeResult

    Raises
    ------
    ValueError
        If the ASVs cannot be placed (message names the problem).
    """
    import numba

    timings: dict[str, float] = {}
    old_threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        t0 = time.perf_counter()
        if method == "insertion":
            if reference_seqs is None or reference_tree is None:
                raise ValueError("insertion needs reference sequences and a reference tree")
            if progress is not None:
                progress("tree: placing ASVs", 0, len(queries))
            index = build_reference_index(reference_seqs)
            tree = insertion_tree(queries, reference_tree, index, copy=False)
            timings["insert"] = round(time.perf_counter() - t0, 3)
        else:
            if template is None:
                raise ValueError("a de-novo tree needs a template alignment")
            tree = de_novo_tree(queries, template)
            timings["de_novo"] = round(time.perf_counter() - t0, 3)
    finally:
        numba.set_num_threads(old_threads)
    if progress is not None:
        progress("tree: placing ASVs", len(queries), len(queries))
    tips = {t.name for t in tree.tips()}
    missing = set(queries) - tips
    if missing:  # an internal guarantee; never return a tree that lacks ASVs
        raise RuntimeError(f"{len(missing)} ASVs missing from the tree")
    return TreeResult(tree=tree, method=method, n_tips=len(tips), timings=timings)
