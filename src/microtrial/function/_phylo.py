"""A rooted tree as flat arrays (post-order), the form the function kernels work on.

Nodes are numbered in post-order (children before their parent, the root last). Tips keep
their labels; internal nodes are unlabelled for the kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TreeArrays:
    """A rooted tree in post-order.

    Attributes
    ----------
    parent : int64 array
        Parent of each node (-1 for the root, which is the last node).
    length : float64 array
        Length of the edge above each node (0 for the root and for missing lengths).
    is_tip : bool array
    names : tuple of str
        Node names ('' when unnamed); tips are looked up by these.
    child_ptr, child_idx : int64 arrays
        Children of node ``v`` are ``child_idx[child_ptr[v]:child_ptr[v + 1]]``.
    """

    parent: np.ndarray
    length: np.ndarray
    is_tip: np.ndarray
    names: tuple[str, ...]
    child_ptr: np.ndarray
    child_idx: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.parent.shape[0])

    def tip_index(self) -> dict[str, int]:
        """Tip name -> node index."""
        return {self.names[i]: int(i) for i in np.flatnonzero(self.is_tip)}


def from_parents(parent: np.ndarray, length: np.ndarray, names: list[str] | tuple[str, ...]
                 ) -> TreeArrays:
    """Build :class:`TreeArrays` from a parent array already in post-order."""
    parent = np.ascontiguousarray(parent, dtype=np.int64)
    n = parent.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        if parent[v] >= 0:
            counts[parent[v] + 1] += 1
    child_ptr = np.cumsum(counts)
    child_idx = np.empty(max(n - 1, 0), dtype=np.int64)
    fill = child_ptr[:-1].copy()
    for v in range(n):
        p = parent[v]
        if p >= 0:
            child_idx[fill[p]] = v
            fill[p] += 1
    is_tip = (child_ptr[1:] - child_ptr[:-1]) == 0
    return TreeArrays(parent, np.ascontiguousarray(length, dtype=np.float64), is_tip,
                      tuple(names), child_ptr, child_idx)


def tree_arrays(tree) -> TreeArrays:  # noqa: ANN001 - skbio.TreeNode
    """Flatten a scikit-bio ``TreeNode`` (rooted at ``tree``) into :class:`TreeArrays`."""
    nodes = list(tree.postorder(include_self=True))
    index = {id(nd): i for i, nd in enumerate(nodes)}
    parent = np.full(len(nodes), -1, dtype=np.int64)
    length = np.zeros(len(nodes), dtype=np.float64)
    names = []
    for i, nd in enumerate(nodes):
        if nd.parent is not None and id(nd.parent) in index and nd is not tree:
            parent[i] = index[id(nd.parent)]
        if nd.length is not None and nd is not tree:
            length[i] = float(nd.length)
        names.append("" if nd.name is None else str(nd.name))
    return from_parents(parent, length, names)


def to_newick(arr: TreeArrays, *, digits: int = 12) -> str:
    """Newick text of the tree (tip and internal names as stored)."""
    n = arr.n_nodes
    parts: list[str] = [""] * n
    for v in range(n):
        lo, hi = arr.child_ptr[v], arr.child_ptr[v + 1]
        name = _quote(arr.names[v])
        if hi > lo:
            inner = ",".join(parts[c] for c in arr.child_idx[lo:hi])
            text = f"({inner}){name}"
        else:
            text = name
        if arr.parent[v] >= 0:
            text += f":{arr.length[v]:.{digits}g}"
        parts[v] = text
        for c in arr.child_idx[lo:hi]:
            parts[c] = ""
    return parts[n - 1] + ";"


def _quote(name: str) -> str:
    if name and any(ch in name for ch in " ()[]':;,"):
        return "'" + name.replace("'", "''") + "'"
    return name


def parse_newick(text: str) -> TreeArrays:
    """Parse one Newick tree (underscores kept as they are, as PICRUSt2's tools read them).

    Quoted labels, ``[comments]`` and jplace edge numbers ``{n}`` are understood; the edge
    numbers are dropped. Raises ValueError on malformed text.
    """
    text = text.strip()
    if not text.endswith(";"):
        raise ValueError("Newick tree does not end with ';' (truncated?)")
    parent_pre: list[int] = []  # in pre-order of creation
    length_pre: list[float] = []
    name_pre: list[str] = []
    stack: list[int] = []
    cur = -1
    i, n = 0, len(text) - 1

    def new(par: int) -> int:
        parent_pre.append(par)
        length_pre.append(0.0)
        name_pre.append("")
        return len(parent_pre) - 1

    def read_label(i: int) -> tuple[str, int]:
        if text[i] == "'":
            j = i + 1
            buf = []
            while j < n:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    return "".join(buf), j + 1
                buf.append(text[j])
                j += 1
            raise ValueError("unterminated quoted label")
        j = i
        while j < n and text[j] not in ",():;[{":
            j += 1
        return text[i:j].strip(), j

    cur = new(-1)
    expect_node = True
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "[":
            j = text.find("]", i)
            if j < 0:
                raise ValueError("unterminated [comment]")
            i = j + 1
        elif ch == "{":
            j = text.find("}", i)
            if j < 0:
                raise ValueError("unterminated {edge number}")
            i = j + 1
        elif ch == "(":
            if not expect_node:
                raise ValueError(f"unexpected '(' at character {i + 1}")
            stack.append(cur)
            cur = new(cur)
            i += 1
        elif ch == ",":
            if not stack:
                raise ValueError(f"',' outside parentheses at character {i + 1}")
            cur = new(stack[-1])
            expect_node = True
            i += 1
        elif ch == ")":
            if not stack:
                raise ValueError(f"unbalanced ')' at character {i + 1}")
            cur = stack.pop()
            expect_node = False
            i += 1
        elif ch == ":":
            j = i + 1
            while j < n and text[j] not in ",():;[{":
                j += 1
            try:
                length_pre[cur] = float(text[i + 1:j])
            except ValueError as exc:
                raise ValueError(f"bad branch length '{text[i + 1:j]}'") from exc
            i = j
        else:
            label, i = read_label(i)
            name_pre[cur] = label
            expect_node = False
    if stack:
        raise ValueError("unbalanced '(' (truncated tree?)")
    m = len(parent_pre)
    # post-order numbering: children (in order) before parents
    kids: list[list[int]] = [[] for _ in range(m)]
    for v in range(1, m):
        kids[parent_pre[v]].append(v)
    order: list[int] = []
    todo = [(0, False)]
    while todo:
        v, done = todo.pop()
        if done:
            order.append(v)
            continue
        todo.append((v, True))
        for c in reversed(kids[v]):
            todo.append((c, False))
    new_of = np.empty(m, dtype=np.int64)
    new_of[np.array(order, dtype=np.int64)] = np.arange(m)
    par = np.array(parent_pre, dtype=np.int64)
    parent = np.full(m, -1, dtype=np.int64)
    nonroot = par >= 0
    parent[new_of[nonroot]] = new_of[par[nonroot]]
    length = np.zeros(m)
    length[new_of] = np.array(length_pre)
    length[m - 1] = 0.0
    names = [""] * m
    for old, nm in enumerate(name_pre):
        names[new_of[old]] = nm
    return from_parents(parent, length, names)


def read_newick(path) -> TreeArrays:  # noqa: ANN001 - str or PathLike
    """Read a Newick file (``.gz`` transparent) with :func:`parse_newick`; errors are
    :class:`~microtrial.errors.InputError` naming the file."""
    from microtrial.errors import InputError
    from microtrial.io._atomic import open_text

    try:
        with open_text(path) as fh:
            text = fh.read()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(path, "is a folder, expected a Newick file") from exc
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise InputError(path, f"cannot be read as a Newick text file: {exc}") from exc
    if not text.strip():
        raise InputError(path, "empty Newick file")
    try:
        return parse_newick(text)
    except ValueError as exc:
        raise InputError(path, f"not a valid Newick tree ({exc})") from exc
