"""Hidden-state prediction of genome traits for tips of a tree, as PICRUSt2's ``hsp.py`` does
it with R's castor package.

Notes
-----
Every method first prunes the tree to the tips with known traits (internal nodes left with
one child are merged into the edge below them, their lengths summed; the root stays), then
reconstructs the state of every remaining node, and gives each tip without traits the state
of its nearest ancestor that survived pruning (Zaneveld & Thurber 2014).

``mp``
    Weighted Sankoff parsimony (castor ``hsp_max_parsimony(transition_costs="proportional",
    edge_exponent=0.5, weight_by_scenarios=TRUE)``): states are copy number + 1, a change
    from i to j along an edge of length l costs |i - j| / l ** 0.5, and the probability of a
    node's state s is the number of most parsimonious scenarios with the node in s divided by
    the number of most parsimonious scenarios (counted with an up and a down pass, which is
    the same as re-rooting at every node). The prediction is the most probable state minus 1;
    exact ties (relative tolerance 1e-5, as R's ``max.col``) are broken at random from
    ``seed``.
``emp_prob``
    castor ``hsp_empirical_probabilities``: the state frequencies among a node's descending
    known tips.
``pic``
    castor ``hsp_independent_contrasts(weighted=TRUE)``: Felsenstein's (1985) independent
    contrasts estimate of each node from its descendants only.
``scp``
    castor ``hsp_squared_change_parsimony(weighted=TRUE)``: weighted squared-change parsimony
    (Maddison 1991), the global estimate that minimises sum (x_parent - x_child)^2 / l.
``subtree_average``
    castor ``hsp_subtree_averaging``: the mean of a node's descending known tips.

NSTI (nearest sequenced taxon index) of a tip is its branch-length distance to the nearest
tip with known traits in the full tree (castor ``find_nearest_tips``).

References
----------
Louca S, Doebeli M (2018). Efficient comparative phylogenetics on large trees.
Bioinformatics 34:1053 (castor). Douglas GM et al. (2020). PICRUSt2 for prediction of
metagenome functions. Nat Biotechnol 38:685. Sankoff D (1975). SIAM J Appl Math 28:35.
Maddison WP (1991). Syst Zool 40:304. Felsenstein J (1985). Am Nat 125:1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microtrial.function._phylo import TreeArrays, from_parents, tree_arrays

METHODS = ("mp", "emp_prob", "pic", "scp", "subtree_average")
DISCRETE = ("mp", "emp_prob")
MAXCOL_TOL = 1e-5
MIN_LENGTH = 1e-12  # zero-length edges are weighted as this short (castor rejects them)


@dataclass(frozen=True)
class _Pruned:
    tree: TreeArrays  # pruned tree, post-order
    known_rows: np.ndarray  # pruned tip index -> row of the trait table
    hidden: np.ndarray  # full-tree node index of each hidden tip
    anchor: np.ndarray  # pruned node of each hidden tip (its nearest surviving ancestor)


def prune_to_known(full: TreeArrays, known_tip_rows: dict[int, int]) -> _Pruned:
    """Prune ``full`` to the tips in ``known_tip_rows`` (node -> trait row), collapsing
    single-child nodes (the root stays)."""
    n = full.n_nodes
    kept_children = np.zeros(n, dtype=np.int64)
    has_known = np.zeros(n, dtype=bool)
    for v in range(n):
        if full.is_tip[v] and v in known_tip_rows:
            has_known[v] = True
        if has_known[v] and full.parent[v] >= 0:
            has_known[full.parent[v]] = True
            kept_children[full.parent[v]] += 1
    root = n - 1
    real = has_known & ((kept_children != 1) | full.is_tip)
    real[root] = True
    # nearest real strict ancestor of every node and the path length to it (pre-order)
    up_anchor = np.full(n, -1, dtype=np.int64)
    acc = np.zeros(n, dtype=np.float64)
    for v in range(n - 2, -1, -1):
        p = full.parent[v]
        if real[p]:
            up_anchor[v], acc[v] = p, full.length[v]
        else:
            up_anchor[v], acc[v] = up_anchor[p], acc[p] + full.length[v]
    old = np.flatnonzero(real)  # post-order is kept by filtering
    new_of = np.full(n, -1, dtype=np.int64)
    new_of[old] = np.arange(old.size)
    parent = np.where(old == root, -1, new_of[np.maximum(up_anchor[old], 0)])
    parent[old == root] = -1
    length = np.where(old == root, 0.0, acc[old])
    pruned = from_parents(parent, length, [full.names[v] for v in old])
    rows = np.full(old.size, -1, dtype=np.int64)
    for i, node in enumerate(old):
        if full.is_tip[node]:
            rows[i] = known_tip_rows[int(node)]
    hidden = np.array([v for v in np.flatnonzero(full.is_tip) if int(v) not in known_tip_rows],
                      dtype=np.int64)
    anchor = new_of[up_anchor[hidden]] if hidden.size else np.zeros(0, dtype=np.int64)
    return _Pruned(pruned, rows, hidden, anchor)


def nsti(tree, known: list[str] | pd.Index) -> pd.Series:  # noqa: ANN001
    """Distance from every tip not in ``known`` to its nearest tip in ``known``."""
    return _nearest(tree, known)[0]


def _nearest(tree, known: list[str] | pd.Index) -> tuple[pd.Series, pd.Series]:  # noqa: ANN001
    """(NSTI, name of the nearest known tip) of every tip not in ``known``."""
    from microtrial.function import _kernels

    arr = tree if isinstance(tree, TreeArrays) else tree_arrays(tree)
    tips = arr.tip_index()
    mask = np.zeros(arr.n_nodes, dtype=np.bool_)
    for name in known:
        if name in tips:
            mask[tips[name]] = True
    out = np.empty(arr.n_nodes)
    which = np.empty(arr.n_nodes, dtype=np.int64)
    _kernels.nearest_known(arr.parent, arr.child_ptr, arr.child_idx, arr.length, mask, out,
                           which)
    hidden = [v for v in np.flatnonzero(arr.is_tip) if not mask[v]]
    index = [arr.names[v] for v in hidden]
    return (pd.Series(out[hidden], index=index, name="metadata_NSTI"),
            pd.Series([arr.names[w] if w >= 0 else "" for w in which[hidden]], index=index))


def predict_traits(tree, traits: pd.DataFrame, *, method: str = "mp",  # noqa: ANN001
                   calculate_nsti: bool = False, ci: bool = False, seed: int = 0,
                   edge_exponent: float = 0.5, exact_tips: bool = True,
                   progress: Callable[[str, int, int], None] | None = None) -> pd.DataFrame:
    """Predict the traits of every tip of ``tree`` that has no row in ``traits``.

    Parameters
    ----------
    tree : skbio.TreeNode or TreeArrays
        Rooted tree whose tips include every row of ``traits`` (e.g. the reference tree with
        the ASVs placed into it).
    traits : DataFrame
        Known trait values, one row per genome (index = tip name), one column per trait;
        non-negative integers for ``mp`` and ``emp_prob``.
    method : {'mp', 'emp_prob', 'pic', 'scp', 'subtree_average'}
    calculate_nsti : bool
        Add the ``metadata_NSTI`` column.
    ci : bool
        Add ``<trait>_5`` and ``<trait>_95``: the smallest states whose cumulative
        probability reaches 0.05 and 0.95 (discrete methods only, as PICRUSt2).
    seed : int
        Seed for breaking exact ties between most probable states.
    edge_exponent : float
        Parsimony costs are divided by edge length to this power (``mp`` only).
    exact_tips : bool
        A tip at branch-length distance 0 from a tip with known traits (an ASV placed on a
        reference genome whose 16S it equals) takes that genome's values. castor would give
        it the reconstruction of the genome's parent node (the zero-length path is pruned
        with the tip), which is not the genome's own traits.
    progress : callable, optional
        ``progress("hsp", done, total)`` after each trait.

    Returns
    -------
    DataFrame
        Index ``sequence`` (the tips without traits, in tree order), one column per trait,
        then the CI columns and ``metadata_NSTI`` when asked for.

    Raises
    ------
    ValueError
        Unknown method, trait ids that are no tips of the tree, non-integer or negative
        values for a discrete method, no tip to predict.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}'; choose one of {', '.join(METHODS)}")
    if ci and method not in DISCRETE:
        raise ValueError(f"confidence intervals need a discrete method ({', '.join(DISCRETE)})")
    full = tree if isinstance(tree, TreeArrays) else tree_arrays(tree)
    tips = full.tip_index()
    ids = [str(x) for x in traits.index]
    missing = [x for x in ids if x not in tips]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{len(missing)} trait id(s) are no tips of the tree: {shown}")
    if len(set(ids)) != len(ids):
        raise ValueError("trait ids are not unique")
    values = traits.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("trait table has missing values")
    if method in DISCRETE:
        if (values < 0).any() or (values != np.round(values)).any():
            raise ValueError(f"method '{method}' needs non-negative whole-number traits")
    known = {tips[x]: i for i, x in enumerate(ids)}
    pr = prune_to_known(full, known)
    if pr.hidden.size == 0:
        raise ValueError("every tip of the tree has known traits: nothing to predict")
    names = [full.names[v] for v in pr.hidden]
    rng = np.random.default_rng(seed)
    cols = [str(c) for c in traits.columns]
    pred = np.zeros((pr.hidden.size, len(cols)),
                    dtype=np.int64 if method in DISCRETE else np.float64)
    lo_ci = np.zeros_like(pred) if ci else pred[:, :0]
    hi_ci = np.zeros_like(pred) if ci else pred[:, :0]
    tip_rows = np.flatnonzero(pr.tree.is_tip)
    anchors, inverse = np.unique(pr.anchor, return_inverse=True)
    # traits with the same known values (many KOs) share one reconstruction: the first such
    # column is copied, unless its most probable states had ties to break at random
    first_of: dict[bytes, int] = {}
    tied_probs: dict[bytes, np.ndarray] = {}
    for j in range(len(cols)):
        col = values[pr.known_rows[tip_rows], j]
        key = col.tobytes()
        if key in first_of and key not in tied_probs:
            j0 = first_of[key]
            pred[:, j] = pred[:, j0]
            if ci:
                lo_ci[:, j] = lo_ci[:, j0]
                hi_ci[:, j] = hi_ci[:, j0]
        else:
            probs: np.ndarray | None
            if key in tied_probs:
                est, probs = np.zeros(0), tied_probs[key]
            else:
                est, probs = _reconstruct(pr.tree, tip_rows, col, anchors, method,
                                          edge_exponent)
                first_of[key] = j
            if probs is None:
                pred[:, j] = est[inverse]
            else:
                top = probs.max(axis=1, keepdims=True)
                if ((probs >= top - MAXCOL_TOL * np.abs(top)).sum(axis=1) > 1).any():
                    tied_probs[key] = probs
                p = probs[inverse]
                pred[:, j] = _max_col(p, rng)
                if ci:
                    cum = np.cumsum(p, axis=1)
                    lo_ci[:, j] = np.argmax(cum >= 0.05 - 1e-12, axis=1)
                    hi_ci[:, j] = np.argmax(cum >= 0.95 - 1e-12, axis=1)
        if progress is not None:
            progress("hsp", j + 1, len(cols))
    dist = nearest = None
    if calculate_nsti or exact_tips:
        dist, nearest = _nearest(full, ids)
        dist, nearest = dist.reindex(names), nearest.reindex(names)
        if exact_tips:
            same = np.flatnonzero(dist.to_numpy() == 0.0)
            if same.size:
                row_of = {x: i for i, x in enumerate(ids)}
                src = values[[row_of[x] for x in nearest.to_numpy()[same]]]
                pred[same] = src.astype(pred.dtype)
                if ci:
                    lo_ci[same] = src.astype(pred.dtype)
                    hi_ci[same] = src.astype(pred.dtype)
    index = pd.Index(names, name="sequence")
    out = pd.DataFrame(pred, index=index, columns=cols, copy=False)
    if ci:
        extra = {}
        for j, c in enumerate(cols):
            extra[f"{c}_5"] = lo_ci[:, j]
            extra[f"{c}_95"] = hi_ci[:, j]
        out = pd.concat([out, pd.DataFrame(extra, index=out.index)], axis=1)
    if calculate_nsti and dist is not None:
        out["metadata_NSTI"] = dist.to_numpy()
    return out


def _max_col(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of the largest entry per row; ties (within 1e-5 of the row maximum, relative)
    broken at random, as R's ``max.col``."""
    top = p.max(axis=1, keepdims=True)
    tied = p >= top - MAXCOL_TOL * np.abs(top)
    first = np.argmax(tied, axis=1)
    many = np.flatnonzero(tied.sum(axis=1) > 1)
    for r in many:
        first[r] = rng.choice(np.flatnonzero(tied[r]))
    return first


def _reconstruct(tree: TreeArrays, tip_rows: np.ndarray, col: np.ndarray, anchors: np.ndarray,
                 method: str, edge_exponent: float) -> tuple[np.ndarray, np.ndarray | None]:
    """(estimates at ``anchors``, state probabilities at ``anchors`` or None)."""
    if method in DISCRETE:
        states = col.astype(np.int64)
        S = int(states.max()) + 1
        if (states == states[0]).all():
            probs = np.zeros((anchors.size, S))
            probs[:, states[0]] = 1.0
            return np.full(anchors.size, states[0]), probs
        tip_state = np.full(tree.n_nodes, -1, dtype=np.int64)
        tip_state[tip_rows] = states
        if method == "mp":
            return np.zeros(0), _mp(tree, tip_state, S, anchors, edge_exponent)
        return np.zeros(0), _empirical(tree, tip_state, S, anchors)
    x = np.full(tree.n_nodes, np.nan)
    x[tip_rows] = col
    if method == "subtree_average":
        est = _subtree_average(tree, x)
    elif method == "pic":
        est = _contrasts(tree, x)[0]
    else:
        est = _squared_change(tree, x)
    return est[anchors], None


def _mp(tree: TreeArrays, tip_state: np.ndarray, S: int, anchors: np.ndarray,
        edge_exponent: float) -> np.ndarray:
    from microtrial.function import _kernels

    weight = 1.0 / np.maximum(tree.length, MIN_LENGTH) ** edge_exponent
    out = np.empty((anchors.size, S))
    _kernels.mp_posteriors(tree.parent, tree.child_ptr, tree.child_idx, weight, tip_state, S,
                           np.ascontiguousarray(anchors, dtype=np.int64), out)
    return out


def _empirical(tree: TreeArrays, tip_state: np.ndarray, S: int, anchors: np.ndarray
               ) -> np.ndarray:
    counts = np.zeros((tree.n_nodes, S))
    for v in range(tree.n_nodes):
        if tree.is_tip[v]:
            counts[v, tip_state[v]] = 1.0
        if tree.parent[v] >= 0:
            counts[tree.parent[v]] += counts[v]
    c = counts[anchors]
    return c / c.sum(axis=1, keepdims=True)


def _subtree_average(tree: TreeArrays, x: np.ndarray) -> np.ndarray:
    total = np.where(tree.is_tip, x, 0.0)
    count = tree.is_tip.astype(np.float64)
    for v in range(tree.n_nodes - 1):
        p = tree.parent[v]
        total[p] += total[v]
        count[p] += count[v]
    return total / count


def _contrasts(tree: TreeArrays, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent-contrasts estimate of every node from its descendants and its extra
    variance (0 at tips)."""
    est = np.where(tree.is_tip, x, 0.0)
    extra = np.zeros(tree.n_nodes)
    wsum = np.zeros(tree.n_nodes)
    for v in range(tree.n_nodes):
        if not tree.is_tip[v]:
            est[v] /= wsum[v]
            extra[v] = 1.0 / wsum[v]
        p = tree.parent[v]
        if p >= 0:
            w = 1.0 / (max(tree.length[v], MIN_LENGTH) + extra[v])
            est[p] += w * est[v]
            wsum[p] += w
    return est, extra


def _squared_change(tree: TreeArrays, x: np.ndarray) -> np.ndarray:
    """Weighted squared-change parsimony: every node's estimate from the whole tree."""
    down, extra = _contrasts(tree, x)
    n = tree.n_nodes
    length = np.maximum(tree.length, MIN_LENGTH)
    out = down.copy()
    # up_val/up_var: estimate at v from everything outside v's subtree (via v's parent edge)
    up_val = np.zeros(n)
    up_var = np.full(n, np.inf)
    for v in range(n - 1, -1, -1):
        kids = tree.child_idx[tree.child_ptr[v]:tree.child_ptr[v + 1]]
        if kids.size == 0:
            continue
        wv = np.array([1.0 / (length[c] + extra[c]) for c in kids])
        xv = np.array([down[c] for c in kids])
        w_up = 0.0 if not np.isfinite(up_var[v]) else 1.0 / up_var[v]
        total_w = wv.sum() + w_up
        total_x = (wv * xv).sum() + w_up * up_val[v]
        out[v] = total_x / total_w
        for i, c in enumerate(kids):
            w_rest = total_w - wv[i]
            if w_rest <= 0.0:  # nothing outside c's subtree informs it
                continue
            up_val[c] = (total_x - wv[i] * xv[i]) / w_rest
            up_var[c] = 1.0 / w_rest + length[c]
    return out
