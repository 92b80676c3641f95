"""The LEfSe cladogram: the taxonomy as a circular tree, taxa LEfSe calls coloured by the
group they are higher in (Segata et al. 2011, Figure 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from microtrial.report import _figures as figs
from microtrial.report._data import short_taxon
from microtrial.report._figures import E


def _layout(lineages: list[str]) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """(angle, depth) per node (keyed by lineage prefix) and each node's parent."""
    children: dict[str, list[str]] = {}
    parent: dict[str, str] = {}
    for lin in sorted(set(lineages)):
        parts = [p.strip() for p in lin.split(";") if p.strip()]
        for i in range(1, len(parts) + 1):
            node, up = "; ".join(parts[:i]), "; ".join(parts[: i - 1])
            if node not in parent:
                parent[node] = up
                children.setdefault(up, []).append(node)
    leaves: list[str] = []

    def walk(n: str) -> None:
        kids = children.get(n, [])
        if not kids and n:
            leaves.append(n)
        for k in kids:
            walk(k)
    walk("")
    pos: dict[str, tuple[float, float]] = {}
    for i, leaf in enumerate(leaves):
        pos[leaf] = (2 * np.pi * i / max(len(leaves), 1), float(leaf.count(";") + 1))

    def place(n: str) -> float:
        kids = children.get(n, [])
        if not kids:
            return pos[n][0]
        angle = float(np.mean([place(k) for k in kids]))
        if n:
            pos[n] = (angle, float(n.count(";") + 1))
        return angle
    place("")
    return pos, parent


def cladogram(lefse: pd.DataFrame, *, test: str, reference: str, title: str) -> tuple[Any, Any] | None:
    """Plotly and matplotlib cladograms from one contrast's LEfSe rows (``feature`` = lineage)."""
    df = lefse[lefse["feature"].astype(str).str.contains("__", regex=False)]
    if "rank" in df.columns:
        df = df[df["rank"].astype(str) != "asv"]
    # taxa unnamed at their own rank ("c__" ...) are not drawn: they would repeat their parent
    df = df[~df["feature"].astype(str).str.rstrip().str.endswith("__")]
    if len(df) < 3:
        return None
    effect = pd.to_numeric(df["effect"], errors="coerce")
    called = effect.abs() >= 2.0
    if "lefse_called" in df.columns:
        called &= df["lefse_called"].astype(str).str.lower() == "true"
    pos, parent = _layout(df["feature"].astype(str).tolist())
    side = {str(f): (test if e > 0 else reference) for f, e, c in zip(df["feature"], effect, called, strict=True) if c}
    order = [test, reference]

    def xy(n: str) -> tuple[float, float]:
        a, r = pos[n]
        return r * np.cos(a), r * np.sin(a)

    edges_x: list[float | None] = []
    edges_y: list[float | None] = []
    for n, up in parent.items():
        if up and n in pos and up in pos:
            (a0, r0), (a1, r1) = pos[up], pos[n]
            arc = np.linspace(a0, a1, 8)
            edges_x += [*(r0 * np.cos(arc)), r1 * np.cos(a1), None]
            edges_y += [*(r0 * np.sin(arc)), r1 * np.sin(a1), None]
    go = figs._go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=edges_x, y=edges_y, mode="lines", line={"color": "#BBBBBB", "width": 1},
                             hoverinfo="skip", showlegend=False))
    plain = [n for n in pos if n not in side]
    fig.add_trace(go.Scatter(x=[xy(n)[0] for n in plain], y=[xy(n)[1] for n in plain], mode="markers",
                             marker={"color": "#DDDDDD", "size": 5}, text=[E(short_taxon(n)) for n in plain],
                             hovertemplate="%{text}<extra></extra>", showlegend=False))
    for k, g in enumerate(order):
        nodes = [n for n, s in side.items() if s == g and n in pos]
        if not nodes:
            continue
        fig.add_trace(go.Scatter(
            x=[xy(n)[0] for n in nodes], y=[xy(n)[1] for n in nodes], mode="markers+text",
            marker={"color": figs.colour(k), "size": 11, "line": {"color": "white", "width": 1}},
            text=[E(short_taxon(n)) for n in nodes], textposition="top center", textfont={"size": 10},
            name=f"higher in {E(g)}", hovertemplate="%{text}<extra></extra>"))
    fig.update_xaxes(visible=False, scaleanchor="y")
    fig.update_yaxes(visible=False)
    fig.update_layout(title={"text": E(title), "x": 0}, height=640)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(7, 7))
        xs = [v for v in edges_x]
        ys = [v for v in edges_y]
        seg_x: list[float] = []
        seg_y: list[float] = []
        for x, y in zip(xs, ys, strict=True):
            if x is None or y is None:
                ax.plot(seg_x, seg_y, color="#BBBBBB", lw=0.7, zorder=1)
                seg_x, seg_y = [], []
            else:
                seg_x.append(x)
                seg_y.append(y)
        ax.scatter([xy(n)[0] for n in plain], [xy(n)[1] for n in plain], s=6, color="#DDDDDD", zorder=2)
        for k, g in enumerate(order):
            nodes = [n for n, s in side.items() if s == g and n in pos]
            if nodes:
                ax.scatter([xy(n)[0] for n in nodes], [xy(n)[1] for n in nodes], s=40, color=figs.colour(k),
                           edgecolor="white", lw=0.6, zorder=3, label=f"higher in {g}")
                for n in nodes:
                    x, y = xy(n)
                    ax.annotate(short_taxon(n), (x, y), fontsize=6, xytext=(0, 5), textcoords="offset points",
                                ha="center")
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title)
        ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, -0.05), fontsize=7)
        return fig2
    return fig, figs.static(draw)
