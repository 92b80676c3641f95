"""The jplace format (Matsen et al. 2012, version 3) as EPA-ng writes it: a Newick tree whose
edges carry ``{n}`` numbers, and per query a list of placements ``[edge_num, likelihood,
like_weight_ratio, distal_length, pendant_length]``.

References
----------
Matsen FA, Hoffman NG, Gallagher A, Stamatakis A (2012). A format for phylogenetic
placements. PLoS ONE 7:e31009.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from microtrial.function._phylo import TreeArrays, _quote, parse_newick

FIELDS = ["edge_num", "likelihood", "like_weight_ratio", "distal_length", "pendant_length"]


def numbered_newick(tree: TreeArrays, *, digits: int = 17) -> str:
    """Newick with ``{n}`` after each edge's length, n = post-order number of the edge's
    lower node (the numbering :func:`microtrial.function._place.edge_numbers` uses)."""
    n = tree.n_nodes
    parts: list[str] = [""] * n
    for v in range(n):
        lo, hi = tree.child_ptr[v], tree.child_ptr[v + 1]
        name = _quote(tree.names[v]) if (hi == lo) else ""
        text = f"({','.join(parts[c] for c in tree.child_idx[lo:hi])}){name}" if hi > lo else name
        if tree.parent[v] >= 0:
            text += f":{tree.length[v]:.{digits}g}{{{v}}}"
        parts[v] = text
    return parts[n - 1] + ";"


def jplace_text(tree: TreeArrays, placements: pd.DataFrame, *, invocation: str = "") -> str:
    """jplace document for ``placements`` (columns query, edge, likelihood,
    like_weight_ratio, distal_length, pendant_length)."""
    groups = []
    for q, grp in placements.groupby("query", sort=False):
        rows = [[int(e), float(ll), float(w), float(d), float(p)] for e, ll, w, d, p in zip(
            grp["edge"], grp["likelihood"], grp["like_weight_ratio"], grp["distal_length"],
            grp["pendant_length"], strict=True)]
        groups.append({"p": rows, "n": [str(q)]})
    doc = {"tree": numbered_newick(tree), "placements": groups,
           "metadata": {"invocation": invocation, "software": "microtrial"},
           "version": 3, "fields": FIELDS}
    return json.dumps(doc, indent=1) + "\n"


def parse_jplace(text: str) -> tuple[TreeArrays, np.ndarray, pd.DataFrame]:
    """Read a jplace document.

    Returns
    -------
    tree : TreeArrays
    node_of_edge : int64 array
        Node (post-order index in ``tree``) of each edge number.
    placements : DataFrame
        query, edge, likelihood, like_weight_ratio, distal_length, pendant_length.

    Raises ValueError on anything malformed.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or "tree" not in doc or "placements" not in doc:
        raise ValueError("not a jplace document (no 'tree' and 'placements')")
    tree_text = doc["tree"]
    tree = parse_newick(tree_text)
    # edge numbers in the order the parser meets the '{n}' marks: the lower node of each
    # edge is the node whose description just ended, i.e. nodes in post-order
    numbers = [int(x) for x in re.findall(r"\{(\d+)\}", tree_text)]
    if len(numbers) != tree.n_nodes - 1:
        raise ValueError("the jplace tree does not number every edge")
    node_of_edge = np.full(max(numbers) + 1, -1, dtype=np.int64)
    for v, num in enumerate(numbers):  # '{n}' marks appear in post-order of the lower node
        node_of_edge[num] = v
    fields = doc.get("fields", FIELDS)
    idx = {f: fields.index(f) for f in FIELDS if f in fields}
    if "edge_num" not in idx or "like_weight_ratio" not in idx:
        raise ValueError("jplace fields lack edge_num or like_weight_ratio")
    rows = []
    for entry in doc["placements"]:
        names = entry.get("n") or [x[0] for x in entry.get("nm", [])]
        for name in names:
            for p in entry["p"]:
                rows.append((str(name), int(p[idx["edge_num"]]),
                             float(p[idx["likelihood"]]) if "likelihood" in idx else np.nan,
                             float(p[idx["like_weight_ratio"]]),
                             float(p[idx["distal_length"]]) if "distal_length" in idx else 0.0,
                             float(p[idx["pendant_length"]]) if "pendant_length" in idx else 0.0))
    df = pd.DataFrame(rows, columns=["query", "edge", "likelihood", "like_weight_ratio",
                                     "distal_length", "pendant_length"])
    return tree, node_of_edge, df
