"""Figures for the report: each builder returns a plotly figure (for the page) and a
function drawing the same figure with matplotlib (for ``figures/``: SVG, PDF, PNG).

Colours are Okabe and Ito's colour-blind-safe palette (Okabe & Ito 2008, "Color Universal
Design"). Labels drawn by plotly are HTML-escaped (:func:`E`); matplotlib draws its labels
as plain text (math parsing off) and its SVG writer escapes them.

Large studies: point clouds of more than ``MANY_POINTS`` points are drawn with plotly's WebGL
scatter (``scattergl``) and rasterised inside the SVG and PDF copies, and figures with one line or arrow per sample or subject draw a
random ``MAX_LINES`` of them (seed 0) and say so in their subtitle; every value stays in the
TSV files beside the report.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# beyond eight categories (stacked bars): lighter and darker companions, then grey for "Other"
EXTENDED = (*OKABE_ITO[:6], "#9AD0F3", "#F5C869", "#7FD1B9", "#E5B3D0", "#8C4A1C", "#33526B")
OTHER = "#BBBBBB"
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross")
MPL_MARKERS = ("o", "s", "D", "^", "X", "P")

Static = Callable[[], Any]

MANY_POINTS = 2000  # more points than this: WebGL scatter
MAX_LINES = 400  # at most this many per-sample / per-subject lines or arrows are drawn


def _scatter_type(n_points: int) -> Any:
    """``go.Scattergl`` for many points (WebGL keeps a page of 20,000 points responsive),
    else ``go.Scatter``."""
    go = _go()
    return go.Scattergl if n_points > MANY_POINTS else go.Scatter


def _joined(parts: Sequence[tuple[Any, Any, Any]]) -> tuple[list[Any], list[Any], list[Any]]:
    """Many lines as one trace: each part's (x, y, label) followed by a gap (None)."""
    xs: list[Any] = []
    ys: list[Any] = []
    labels: list[Any] = []
    for x, y, label in parts:
        xs.extend([*x, None])
        ys.extend([*y, None])
        labels.extend([label] * len(x) + [None])
    return xs, ys, labels


def _some(keys: Sequence[Any], what: str) -> tuple[list[Any], str]:
    """At most ``MAX_LINES`` of ``keys`` (a random, seeded choice, original order kept) and
    the note saying how many are drawn (empty when all are)."""
    keys = list(keys)
    if len(keys) <= MAX_LINES:
        return keys, ""
    pick = np.sort(np.random.default_rng(0).choice(len(keys), MAX_LINES, replace=False))
    return [keys[i] for i in pick], f"{MAX_LINES:,} of {len(keys):,} {what} drawn (random choice)"


def E(text: object) -> str:  # noqa: N802 - short, used in every label
    """Text for a plotly label: ``&``, ``<`` and ``>`` as entities, which plotly draws as the
    characters (it reads a few HTML tags in labels, and does not decode ``&quot;``)."""
    return html.escape(str(text), quote=False)


def _wrap(text: str, width: int = 48) -> str:
    """Wrap each line of a static figure's subtitle (titles must not run off the figure)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _rc() -> dict[str, Any]:
    return {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
            "axes.labelsize": 9, "legend.fontsize": 8, "text.parse_math": False,
            "svg.fonttype": "none", "pdf.fonttype": 42, "axes.spines.top": False,
            "axes.spines.right": False}


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def static(fn: Callable[[Any], Any]) -> Static:
    """Wrap a drawing function so it runs with the report's matplotlib style."""
    def draw() -> Any:
        plt = _mpl()
        with plt.rc_context(_rc()):
            fig = fn(plt)
            fig.tight_layout()
            return fig
    return draw


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _layout(fig: Any, title: str, xtitle: str = "", ytitle: str = "", height: int = 420,
            subtitle: str = "") -> Any:
    text = E(title) + ("".join(f"<br><sup>{E(line)}</sup>" for line in subtitle.split("\n")) if subtitle else "")
    fig.update_layout(title={"text": text, "x": 0, "xanchor": "left"}, height=height,
                      legend={"title": {"text": ""}})
    if subtitle:
        fig.update_layout(margin={"t": 70 + 16 * subtitle.count("\n")})
    fig.update_xaxes(title_text=E(xtitle))
    fig.update_yaxes(title_text=E(ytitle))
    return fig


# ---------------------------------------------------------------------------- sequencing
def read_tracking(df: pd.DataFrame) -> tuple[Any, Static]:
    steps = [c for c in ("input", "filtered", "denoised-f", "denoised-r", "merged", "non-chimeric") if c in df]
    go = _go()
    fig = go.Figure()
    keep, note = _some(list(df.index), "samples")
    lines = df.loc[keep]
    for sid, row in lines[steps].iterrows():
        fig.add_trace(go.Scatter(x=steps, y=row.to_numpy(dtype=float), mode="lines+markers",
                                 name=E(sid), line={"color": "rgba(0,114,178,0.35)", "width": 1},
                                 marker={"size": 4}, showlegend=False,
                                 hovertemplate=f"{E(sid)}<br>%{{x}}: %{{y:,}} read pairs<extra></extra>"))
    fig.add_trace(go.Scatter(x=steps, y=df[steps].median().to_numpy(dtype=float), mode="lines+markers",
                             name="median", line={"color": OKABE_ITO[5], "width": 3}))
    _layout(fig, "Read pairs surviving each step (one line per sample)", "processing step", "read pairs",
            subtitle=note)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(6.5, 3.2))
        x = np.arange(len(steps))
        for _, row in lines[steps].iterrows():
            ax.plot(x, row.to_numpy(dtype=float), color=OKABE_ITO[0], alpha=0.3, lw=0.8)
        ax.plot(x, df[steps].median().to_numpy(dtype=float), color=OKABE_ITO[5], lw=2.5, label="median")
        ax.set_xticks(x, steps)
        ax.set_xlabel("processing step")
        ax.set_ylabel("read pairs")
        ax.set_title("Read pairs surviving each step (one line per sample)" + (f"\n{note}" if note else ""),
                     fontsize=8 if note else 10)
        ax.legend(frameon=False)
        return fig2
    return fig, static(draw)


def quality(profiles: dict[str, pd.DataFrame], trunc: dict[str, int | None]) -> tuple[Any, Static]:
    from plotly.subplots import make_subplots

    names = list(profiles)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[f"{n} reads" for n in names])
    for i, n in enumerate(names, start=1):
        df = profiles[n]
        if {"q25", "q75"} <= set(df.columns):
            fig.add_trace(_go().Scatter(x=df["position"], y=df["q75"], mode="lines", line={"width": 0},
                                        showlegend=False, hoverinfo="skip"), row=1, col=i)
            fig.add_trace(_go().Scatter(x=df["position"], y=df["q25"], mode="lines", line={"width": 0},
                                        fill="tonexty", fillcolor="rgba(86,180,233,0.35)",
                                        name="25th-75th percentile", showlegend=i == 1), row=1, col=i)
        fig.add_trace(_go().Scatter(x=df["position"], y=df["mean_quality"], mode="lines",
                                    line={"color": OKABE_ITO[0]}, name="mean", showlegend=i == 1),
                      row=1, col=i)
        t = trunc.get(n)
        if t:
            fig.add_vline(x=t, line={"color": OKABE_ITO[5], "dash": "dash", "width": 1.5}, opacity=1, row=1, col=i,
                          annotation_text=f"truncated at {t}", annotation_position="bottom left")
        fig.update_xaxes(title_text="position (nt)", row=1, col=i)
        fig.update_yaxes(title_text="Phred quality", range=[0, 42], row=1, col=i)
    _layout(fig, "Read quality by position, with the chosen truncation", height=380)

    def draw(plt: Any) -> Any:
        fig2, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3), squeeze=False)
        for ax, n in zip(axes[0], names, strict=True):
            df = profiles[n]
            if {"q25", "q75"} <= set(df.columns):
                ax.fill_between(df["position"], df["q25"], df["q75"], color=OKABE_ITO[4], alpha=0.35,
                                label="25th-75th percentile")
            ax.plot(df["position"], df["mean_quality"], color=OKABE_ITO[0], label="mean")
            t = trunc.get(n)
            if t:
                ax.axvline(t, color=OKABE_ITO[5], ls="--", label=f"truncated at {t}")
            ax.set_ylim(0, 42)
            ax.set_xlabel("position (nt)")
            ax.set_ylabel("Phred quality")
            ax.set_title(f"{n} reads")
            ax.legend(frameon=False, loc="lower left")
        return fig2
    return fig, static(draw)


def rarefaction(curves: pd.DataFrame, groups: pd.Series | None, depth: float | None,
                measure: str) -> tuple[Any, Static]:
    go = _go()
    fig = go.Figure()
    sids = list(pd.unique(curves["sample-id"].astype(str)))
    drawn, note = _some(sids, "samples")
    if note:
        curves = curves[curves["sample-id"].astype(str).isin(set(drawn))]
    labels = groups.reindex(sids).fillna("(no group)").astype(str) if groups is not None else pd.Series(
        "samples", index=sids)
    levels = list(pd.unique(labels))
    per_level: dict[str, list[tuple[Any, Any, Any]]] = {}
    for sid, sub in curves.groupby(curves["sample-id"].astype(str), sort=False):
        lv = str(labels.get(sid, "samples"))
        per_level.setdefault(lv, []).append((sub["depth"].tolist(), sub[measure].tolist(), E(sid)))
    for lv, parts in per_level.items():  # one trace per group, the curves separated by gaps
        xs, ys, text = _joined(parts)
        fig.add_trace(go.Scatter(x=xs, y=ys, text=text, mode="lines", name=E(lv), legendgroup=E(lv),
                                 line={"color": colour(levels.index(lv)), "width": 1}, connectgaps=False,
                                 hovertemplate="%{text}<br>depth %{x:,}: %{y:.1f}<extra></extra>"))
    if depth:
        fig.add_vline(x=depth, line={"color": "#444", "dash": "dash", "width": 1.5}, opacity=1,
                      annotation_text=f"rarefied to {int(depth):,}", annotation_position="top left")
    ytitle = measure.replace("_", " ")
    _layout(fig, f"Rarefaction curves ({ytitle})", "sequencing depth (reads per sample)", ytitle,
            subtitle=note)

    def draw(plt: Any) -> Any:
        from matplotlib.collections import LineCollection

        fig2, ax = plt.subplots(figsize=(5.5, 3.4))
        for lv, parts in per_level.items():
            ax.add_collection(LineCollection([np.column_stack([x, y]) for x, y, _ in parts],
                                             colors=colour(levels.index(lv)), linewidths=0.8, label=lv))
        ax.autoscale_view()
        if depth:
            ax.axvline(depth, color="#444", ls="--", label=f"rarefied to {int(depth):,}")
        ax.set_xlabel("sequencing depth (reads per sample)")
        ax.set_ylabel(ytitle)
        ax.set_title(f"Rarefaction curves ({ytitle})" + (f"\n{note}" if note else ""),
                     fontsize=8 if note else 10)
        ax.legend(frameon=False)
        return fig2
    return fig, static(draw)


# ---------------------------------------------------------------------------- composition
def _palette(taxa: Sequence[str]) -> dict[str, str]:
    out, i = {}, 0
    for t in taxa:
        if t in ("Other", "unassigned"):
            out[t] = OTHER if t == "Other" else "#DDDDDD"
        else:
            out[t] = EXTENDED[i % len(EXTENDED)]
            i += 1
    return out


def stacked(comp: pd.DataFrame, labels: list[str], title: str, xtitle: str,
            rank: str) -> tuple[Any, Static]:
    """Stacked bars of relative abundance: rows of ``comp`` are bars (labelled ``labels``)."""
    go = _go()
    taxa = list(comp.columns)
    pal = _palette(taxa)
    fig = go.Figure()
    xs = [E(lb) for lb in labels]
    for t in taxa:
        fig.add_trace(go.Bar(x=xs, y=comp[t].to_numpy() * 100, name=E(t), marker_color=pal[t],
                             hovertemplate=f"{E(t)}<br>%{{x}}: %{{y:.1f}}%<extra></extra>"))
    fig.update_layout(barmode="stack", bargap=0.1)
    _layout(fig, title, xtitle, f"relative abundance (%), {rank}", height=460)
    fig.update_xaxes(tickangle=-60 if len(labels) > 8 else 0)

    def draw(plt: Any) -> Any:
        width = min(11.0, max(4.5, 0.16 * len(labels) + 3.2))
        fig2, ax = plt.subplots(figsize=(width, 4))
        bottom = np.zeros(len(labels))
        x = np.arange(len(labels))
        for t in taxa:
            vals = comp[t].to_numpy() * 100
            ax.bar(x, vals, bottom=bottom, color=pal[t], label=t, width=0.85)
            bottom += vals
        ax.set_xticks(x, labels, rotation=90 if len(labels) > 8 else 0,
                      fontsize=6 if len(labels) > 30 else 8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"relative abundance (%), {rank}")
        ax.set_xlabel(xtitle)
        ax.set_title(title)
        ax.legend(frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=7)
        return fig2
    return fig, static(draw)


# ---------------------------------------------------------------------------- distributions
def boxes(values: pd.Series, groups: pd.Series, order: list[str], *, title: str, ytitle: str,
          subjects: pd.Series | None = None, subtitle: str = "") -> tuple[Any, Static]:
    """Box plots with every point; a line joins each subject's samples (across ``order``)."""
    go = _go()
    fig = go.Figure()
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"v": values, "g": groups.reindex(values.index).astype(str)}).dropna()
    data = data[data["g"].isin(order)]
    data["x"] = data["g"].map({g: i for i, g in enumerate(order)}) + rng.uniform(-0.12, 0.12, len(data))
    joined: set[Any] = set()
    segs: list[tuple[Any, Any, Any]] = []
    if subjects is not None:
        data["s"] = subjects.reindex(data.index)
        counts = data["s"].value_counts()
        keep, note = _some(sorted(counts.index[counts > 1], key=str), "subjects' lines")
        joined = set(keep)
        if note:
            subtitle = f"{subtitle}; {note}" if subtitle else note
        segs = [(sub["x"].tolist(), sub["v"].tolist(), None) for _s, sub in
                data.dropna(subset=["s"]).sort_values("x").groupby("s") if len(sub) > 1 and _s in joined]
        if segs:  # one trace, each subject's line separated by a gap
            xs, ys, _ = _joined(segs)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, connectgaps=False,
                                     line={"color": "rgba(120,120,120,0.45)", "width": 1}, hoverinfo="skip"))
    for i, g in enumerate(order):
        sub = data[data["g"] == g]
        fig.add_trace(go.Box(x=np.full(len(sub), i), y=sub["v"], name=E(g), marker_color=colour(i),
                             boxpoints=False, width=0.5, showlegend=False, hoverinfo="y"))
        fig.add_trace(_scatter_type(len(data))(
                                 x=sub["x"], y=sub["v"], mode="markers", name=E(g),
                                 marker={"color": colour(i), "size": 7 if len(data) <= MANY_POINTS else 3,
                                         "line": {"width": 0.5, "color": "white"}},
                                 text=[E(t) for t in sub.index],
                                 hovertemplate="%{text}<br>%{y:.3g}<extra></extra>", showlegend=False))
    fig.update_xaxes(tickvals=list(range(len(order))), ticktext=[E(g) for g in order])
    _layout(fig, title, "", ytitle, height=400, subtitle=subtitle)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(order) + 1.2), 3.4))
        if subjects is not None and segs:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection([np.column_stack([x, y]) for x, y, _ in segs], colors="#999999",
                                             linewidths=0.7, alpha=0.6, zorder=1))
        ax.boxplot([data.loc[data["g"] == g, "v"] for g in order], positions=range(len(order)),
                   showfliers=False, widths=0.5, medianprops={"color": "black"})
        for i, g in enumerate(order):
            sub = data[data["g"] == g]
            ax.scatter(sub["x"], sub["v"], s=12 if len(data) <= MANY_POINTS else 2, color=colour(i), zorder=3,
                       edgecolor="white", lw=0.3 if len(data) <= MANY_POINTS else 0,
                       rasterized=len(data) > MANY_POINTS)
        ax.set_xticks(range(len(order)), order, rotation=30 if len(order) > 3 else 0,
                      ha="right" if len(order) > 3 else "center")
        ax.set_ylabel(ytitle)
        ax.set_title(f"{title}\n{subtitle.replace('; ', chr(10))}" if subtitle else title,
                     fontsize=8 if subtitle else 10, loc="left")
        return fig2
    return fig, static(draw)


# ---------------------------------------------------------------------------- ordination
def pcoa(coords: pd.DataFrame, colour_by: pd.Series, *, symbol_by: pd.Series | None,
         subjects: pd.Series | None, time_order: list[str], explained: tuple[float, float] | None,
         note: str, title: str) -> tuple[Any, Static]:
    """PC1 x PC2 coloured by group; an arrow from each subject's first to last time point."""
    go = _go()
    fig = go.Figure()
    col = colour_by.reindex(coords.index).fillna("(none)").astype(str)
    levels = list(pd.unique(col))
    sym = symbol_by.reindex(coords.index).fillna("").astype(str) if symbol_by is not None else None
    syms = time_order if sym is not None else [""]
    arrows, arrow_note = _some(_arrows(coords, subjects, sym, time_order), "subjects' arrows")
    if arrow_note:
        note = f"{note}\n{arrow_note}" if note else arrow_note
    big = len(coords) > MANY_POINTS
    # one layout update (adding annotations one by one copies them all each time)
    fig.update_layout(annotations=[
        {"x": x1, "y": y1, "ax": x0, "ay": y0, "xref": "x", "yref": "y", "axref": "x", "ayref": "y",
         "showarrow": True, "arrowhead": 2, "arrowsize": 1.6, "arrowwidth": 1.1, "standoff": 5,
         "arrowcolor": "rgba(70,70,70,0.75)", "text": ""} for (x0, y0, x1, y1) in arrows])
    for i, lv in enumerate(levels):
        for j, s in enumerate(syms):
            sel = (col == lv) & ((sym == s) if sym is not None else True)
            if not sel.any():
                continue
            name = f"{lv}, {s}" if s else lv
            fig.add_trace(_scatter_type(len(coords))(
                x=coords.loc[sel, "PC1"], y=coords.loc[sel, "PC2"], mode="markers", name=E(name),
                marker={"color": colour(i), "symbol": SYMBOLS[j % len(SYMBOLS)], "size": 4 if big else 9,
                        "line": {"width": 0.5, "color": "white"}},
                text=[E(t) for t in coords.index[sel]], hovertemplate="%{text}<extra></extra>"))
    xt = f"PC1 ({explained[0]:.1%})" if explained else "PC1"
    yt = f"PC2 ({explained[1]:.1%})" if explained else "PC2"
    _layout(fig, title, xt, yt, height=480)
    if note:
        fig.update_layout(title={"text": E(title) + "<br><sup>" + E(note).replace("\n", "<br>") + "</sup>"},
                          margin={"t": 90})

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(5.6, 4.4))
        if arrows:  # one artist for every arrow
            a = np.asarray(arrows, dtype=float)
            ax.quiver(a[:, 0], a[:, 1], a[:, 2] - a[:, 0], a[:, 3] - a[:, 1], angles="xy", scale_units="xy",
                      scale=1, color="#777777", width=0.002, headwidth=4, headlength=5, zorder=2)
        for i, lv in enumerate(levels):
            for j, s in enumerate(syms):
                sel = (col == lv) & ((sym == s) if sym is not None else True)
                if sel.any():
                    ax.scatter(coords.loc[sel, "PC1"], coords.loc[sel, "PC2"], s=3 if big else 22,
                               color=colour(i), marker=MPL_MARKERS[j % len(MPL_MARKERS)],
                               label=f"{lv}, {s}" if s else lv, edgecolor="white", lw=0 if big else 0.3,
                               zorder=3, rasterized=big)
        ax.set_xlabel(xt)
        ax.set_ylabel(yt)
        ax.set_title(f"{title}\n{note}" if note else title, fontsize=8 if note else 10, loc="left")
        ax.legend(frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
        return fig2
    return fig, static(draw)


def _arrows(coords: pd.DataFrame, subjects: pd.Series | None, sym: pd.Series | None,
            order: list[str]) -> list[tuple[float, float, float, float]]:
    if subjects is None or sym is None or len(order) < 2:
        return []
    out = []
    df = pd.DataFrame({"s": subjects.reindex(coords.index), "t": sym,
                       "x": coords["PC1"], "y": coords["PC2"]}).dropna(subset=["s"])
    df = df[df["t"].isin(order)]
    df["o"] = df["t"].map({t: i for i, t in enumerate(order)})
    for _, sub in df.groupby("s"):
        if sub["o"].nunique() > 1:
            sub = sub.sort_values("o")
            out.append((float(sub["x"].iloc[0]), float(sub["y"].iloc[0]),
                        float(sub["x"].iloc[-1]), float(sub["y"].iloc[-1])))
    return out


# ---------------------------------------------------------------------------- bars, volcano
def hbars(labels: list[str], values: np.ndarray, groups: list[str], *, title: str, xtitle: str,
          group_order: list[str]) -> tuple[Any, Static]:
    """Horizontal bars (LEfSe style), coloured by the group each bar favours."""
    go = _go()
    fig = go.Figure()
    order = np.argsort(values)
    labels = [labels[i] for i in order]
    values = np.asarray(values)[order]
    groups = [groups[i] for i in order]
    for k, g in enumerate(group_order):
        sel = [i for i, gg in enumerate(groups) if gg == g]
        if sel:
            fig.add_trace(go.Bar(y=[E(labels[i]) for i in sel], x=values[sel], orientation="h",
                                 name=f"higher in {E(g)}", marker_color=colour(k),
                                 hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=[E(lb) for lb in labels], automargin=True)
    _layout(fig, title, xtitle, "", height=max(300, 22 * len(labels) + 140))

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(6.5, 0.22 * len(labels) + 1.3))
        cols = [colour(group_order.index(g)) if g in group_order else "#777777" for g in groups]
        ax.barh(range(len(labels)), values, color=cols)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_xlabel(xtitle)
        ax.set_title(title)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colour(k), label=f"higher in {g}") for k, g in enumerate(group_order)
                           if g in groups], frameon=False, fontsize=7, loc="lower right")
        return fig2
    return fig, static(draw)


def volcano(df: pd.DataFrame, *, title: str, xtitle: str) -> tuple[Any, Static]:
    """Effect vs -log10 p; ``df`` has ``name``, ``effect``, ``p_value``, ``q_value``."""
    go = _go()
    d = df.dropna(subset=["effect", "p_value"]).copy()
    d["y"] = -np.log10(d["p_value"].clip(lower=1e-300))
    d["sig"] = d["q_value"] < 0.05
    fig = go.Figure()
    for sig, c, nm in ((False, "#AAAAAA", "q >= 0.05"), (True, OKABE_ITO[5], "q < 0.05")):
        sub = d[d["sig"] == sig]
        fig.add_trace(_scatter_type(len(d))(x=sub["effect"], y=sub["y"], mode="markers", name=nm,
                                 marker={"color": c, "size": 7, "opacity": 0.8},
                                 text=[E(n) for n in sub["name"]], customdata=sub["q_value"],
                                 hovertemplate="%{text}<br>effect %{x:.2f}<br>q %{customdata:.2g}<extra></extra>"))
    top = d[d["sig"]].nlargest(8, "y")
    for (x, y, dx, dy), (_, r) in zip(_spread(top["effect"], top["y"], d["effect"], d["y"],
                                              [str(n) for n in top["name"]]), top.iterrows(), strict=True):
        fig.add_annotation(x=x, y=y, text=E(r["name"]), showarrow=True, arrowhead=0, arrowwidth=0.6,
                           arrowcolor="#777", ax=dx, ay=dy, font={"size": 10})
    _layout(fig, title, xtitle, "-log10 p", height=420)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(5.2, 4))
        ns = d[~d["sig"]]
        ax.scatter(ns["effect"], ns["y"], s=10, color="#AAAAAA", label="q >= 0.05")
        ax.scatter(d[d["sig"]]["effect"], d[d["sig"]]["y"], s=14, color=OKABE_ITO[5], label="q < 0.05")
        ax.axvline(0, color="#444", lw=0.5)
        ax.set_xlabel(xtitle)
        ax.set_ylabel("-log10 p")
        ax.set_title(title)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
        fig2.tight_layout()
        place_labels(fig2, ax, top["effect"].to_numpy(), top["y"].to_numpy(), [str(n) for n in top["name"]],
                     obstacles=(d["effect"].to_numpy(), d["y"].to_numpy()))
        return fig2
    return fig, static(draw)


_OFFSETS = ((6, 5), (6, -13), (-6, 5), (-6, -13), (8, 16), (-8, 16), (8, -24), (-8, -24),
            (10, 30), (-10, 30), (10, -38), (-10, -38), (14, 44), (-14, 44), (20, 60), (-20, 60))


def place_labels(fig: Any, ax: Any, xs: np.ndarray, ys: np.ndarray, labels: list[str],
                 fontsize: float = 6.5, obstacles: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Label points without overlaps: each label takes the first of a few offsets whose box
    stays inside the axes and clear of the labels already placed, the legend and the
    points (``obstacles``, data coordinates); a thin line joins label and point."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figbox = ax.get_window_extent(renderer)  # labels stay inside the axes
    placed = []
    legend = ax.get_legend()
    if legend is not None:
        placed.append(legend.get_window_extent(renderer))
    ox, oy = obstacles if obstacles is not None else (xs, ys)
    for px, py in ax.transData.transform(np.column_stack([np.asarray(ox, float), np.asarray(oy, float)])):
        placed.append(Bbox([[px - 3, py - 3], [px + 3, py + 3]]))
    for x, y, text in zip(xs, ys, labels, strict=True):
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              ha="left" if dx >= 0 else "right", va="bottom",
                              arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "#777777",
                                          "shrinkA": 0, "shrinkB": 3})
            ann.update_positions(renderer)
            box = Text.get_window_extent(ann, renderer)  # the text alone, not its line
            inside = (box.x0 >= figbox.x0 and box.x1 <= figbox.x1 and box.y0 >= figbox.y0
                      and box.y1 <= figbox.y1)
            if inside and not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            ann.remove()


def _spread(xs: pd.Series, ys: pd.Series, all_x: pd.Series, all_y: pd.Series,
            labels: list[str]) -> list[tuple[float, float, float, float]]:
    """Plotly label offsets (pixels) chosen as :func:`place_labels` does, on an estimated
    plot area (900 x 300 px) with labels about 6.5 px per character."""
    x0, x1 = float(all_x.min()), float(all_x.max())
    y0, y1 = float(all_y.min()), float(all_y.max())
    w, h = 900.0, 300.0
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for x, y, text in zip(xs, ys, labels, strict=True):
        px = (float(x) - x0) / ((x1 - x0) or 1) * w
        py = (y1 - float(y)) / ((y1 - y0) or 1) * h
        tw, th = 6.5 * len(text), 14.0
        choice = (0.0, -20.0)
        for dx, dy in ((0, -20), (0, 20), (-30, -34), (30, -34), (-30, 34), (30, 34), (0, -48), (0, 48)):
            cx, cy = px + dx, py + dy
            box = (cx - tw / 2, cy - th / 2, cx + tw / 2, cy + th / 2)
            if box[0] < -40 or box[2] > w + 40:
                continue
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                choice = (float(dx), float(dy))
                placed.append(box)
                break
        out.append((float(x), float(y), *choice))
    return out


def waterfall(subjects: list[str], tis: np.ndarray, cats: list[str], thresholds: dict[str, float],
              title: str) -> tuple[Any, Static]:
    go = _go()
    order = np.argsort(-np.asarray(tis, dtype=float))
    xs = [subjects[i] for i in order]
    ys = np.asarray(tis, dtype=float)[order]
    cs = [cats[i] for i in order]
    cat_order = ["none", "minimal", "moderate", "major"]
    fig = go.Figure()
    for k, c in enumerate(cat_order):
        sel = [i for i, cc in enumerate(cs) if cc == c]
        if sel:
            fig.add_trace(go.Bar(x=[E(xs[i]) for i in sel], y=ys[sel], name=E(c), marker_color=colour(k)))
    for name, v in thresholds.items():
        fig.add_hline(y=v, line={"dash": "dot", "color": "#555", "width": 1.2}, opacity=1, annotation_text=E(name),
                      annotation_position="top right")
    fig.update_xaxes(categoryorder="array", categoryarray=[E(x) for x in xs])
    _layout(fig, title, "subject (ordered by score)", "total improvement score (0-100)", height=400)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(max(4.6, 0.3 * len(xs) + 2.8), 3.3))
        ax.bar(range(len(xs)), ys, color=[colour(cat_order.index(c)) if c in cat_order else "#999"
                                          for c in cs])
        for name, v in thresholds.items():
            ax.axhline(v, ls=":", color="#555", lw=0.8)
            ax.text(len(xs) - 0.3, v, name, ha="left", va="center", fontsize=7, clip_on=False)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=colour(k), label=c) for k, c in enumerate(cat_order) if c in cs],
                  frameon=False, fontsize=7, loc="upper right", title="TIS category", title_fontsize=7)
        ax.set_xticks(range(len(xs)), xs, rotation=90, fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_xlabel("subject (ordered by score)")
        ax.set_ylabel("total improvement score (0-100)")
        ax.set_title(title)
        return fig2
    return fig, static(draw)


def paired(wide: pd.DataFrame, before: str, after: str, *, title: str, ytitle: str,
           subtitle: str = "") -> tuple[Any, Static]:
    go = _go()
    fig = go.Figure()
    keep, note = _some(list(wide.index), "subjects")
    if note:
        subtitle = f"{subtitle}; {note}" if subtitle else note
    lines = wide.loc[keep]
    for s, row in lines.iterrows():
        fig.add_trace(go.Scatter(x=[E(before), E(after)], y=[row[before], row[after]], mode="lines+markers",
                                 line={"color": "#999999", "width": 1}, marker={"size": 6},
                                 showlegend=False, name=E(s),
                                 hovertemplate=f"{E(s)}<br>%{{x}}: %{{y:.3g}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[E(before), E(after)], y=[wide[before].median(), wide[after].median()],
                             mode="lines+markers", line={"color": OKABE_ITO[5], "width": 3},
                             marker={"size": 10, "symbol": "square"}, name="median"))
    _layout(fig, title, "", ytitle, height=380, subtitle=subtitle)
    fig.update_layout(legend={"orientation": "h", "y": -0.12})

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(4.0, 3.6))
        for _, row in lines.iterrows():
            ax.plot([0, 1], [row[before], row[after]], color="#999999", marker="o", ms=3, lw=0.8)
        ax.plot([0, 1], [wide[before].median(), wide[after].median()], color=OKABE_ITO[5], lw=2.5,
                marker="s", label="median")
        ax.set_xticks([0, 1], [before, after])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylabel(ytitle)
        ax.set_title(f"{title}\n{_wrap(subtitle)}" if subtitle else title, fontsize=7.5, loc="left")
        ax.legend(frameon=False)
        return fig2
    return fig, static(draw)


def strips(df: pd.DataFrame, *, title: str, ytitle: str) -> tuple[Any, Static]:
    """One column of points per measure (``df``: subjects x measures), a box behind each."""
    go = _go()
    fig = go.Figure()
    cols = list(df.columns)
    for i, c in enumerate(cols):
        v = df[c].dropna()
        fig.add_trace(go.Box(y=v, name=E(c), boxpoints="all", jitter=0.4, pointpos=0,
                             marker_color=colour(i), text=[E(s) for s in v.index],
                             hovertemplate="%{text}: %{y:.1f}%<extra></extra>", showlegend=False))
    fig.add_hline(y=20, line={"dash": "dot", "color": "#555", "width": 1.2}, opacity=1,
                  annotation_text="20% better", annotation_position="top left")
    fig.add_hline(y=-25, line={"dash": "dot", "color": "#555", "width": 1.2}, opacity=1,
                  annotation_text="25% worse", annotation_position="bottom left")
    _layout(fig, title, "core set measure", ytitle, height=400)

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(1.0 * len(cols) + 2, 3.4))
        rng = np.random.default_rng(0)
        ax.boxplot([df[c].dropna() for c in cols], positions=range(len(cols)), showfliers=False, widths=0.5,
                   medianprops={"color": "black"})
        for i, c in enumerate(cols):
            v = df[c].dropna()
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, color=colour(i), zorder=3)
        ax.axhline(20, ls=":", color="#555", lw=0.8)
        ax.axhline(-25, ls=":", color="#555", lw=0.8)
        ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
        ax.set_ylabel(ytitle)
        ax.set_title(title)
        return fig2
    return fig, static(draw)


# ---------------------------------------------------------------------------- associations
def heatmap(mat: pd.DataFrame, stars: pd.DataFrame, *, title: str) -> tuple[Any, Static]:
    """Clustered (rows and columns) heatmap of Spearman rho; ``*`` marks q < 0.05."""
    go = _go()
    z = mat.to_numpy(dtype=float)
    text = np.where(stars.to_numpy(dtype=bool), "*", "")
    fig = go.Figure(go.Heatmap(z=z, x=[E(c) for c in mat.columns], y=[E(r) for r in mat.index],
                               zmin=-1, zmax=1, colorscale="RdBu_r", text=text, texttemplate="%{text}",
                               colorbar={"title": {"text": "rho"}},
                               hovertemplate="%{y}<br>%{x}<br>rho %{z:.2f}<extra></extra>"))
    fig.update_yaxes(automargin=True, autorange="reversed")
    fig.update_xaxes(tickangle=-45, automargin=True)
    _layout(fig, title, "", "", height=max(360, 20 * len(mat) + 180))

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(0.45 * mat.shape[1] + 3.8, 0.22 * mat.shape[0] + 1.8))
        im = ax.imshow(z, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(mat.shape[1]), list(mat.columns), rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(mat.shape[0]), list(mat.index), fontsize=7)
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                if text[i, j]:
                    ax.text(j, i, "*", ha="center", va="center", fontsize=8)
        fig2.colorbar(im, ax=ax, shrink=0.6, label="Spearman rho")
        ax.set_title(title)
        return fig2
    return fig, static(draw)


def scatter(x: pd.Series, y: pd.Series, groups: pd.Series | None, *, title: str, xtitle: str,
            ytitle: str, subtitle: str = "") -> tuple[Any, Static]:
    go = _go()
    fig = go.Figure()
    g = groups.reindex(x.index).fillna("").astype(str) if groups is not None else pd.Series("", index=x.index)
    levels = list(pd.unique(g))
    for i, lv in enumerate(levels):
        sel = g == lv
        fig.add_trace(_scatter_type(len(x))(x=x[sel], y=y[sel], mode="markers", name=E(lv) or "samples",
                                 marker={"color": colour(i), "size": 8 if len(x) <= MANY_POINTS else 3},
                                 text=[E(t) for t in x.index[sel]],
                                 hovertemplate="%{text}<br>%{x:.3g}, %{y:.3g}<extra></extra>"))
    _layout(fig, title, xtitle, ytitle, height=380, subtitle=subtitle)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})

    def draw(plt: Any) -> Any:
        fig2, ax = plt.subplots(figsize=(4.2, 3.4))
        for i, lv in enumerate(levels):
            sel = g == lv
            ax.scatter(x[sel], y[sel], s=14 if len(x) <= MANY_POINTS else 2, color=colour(i),
                       label=lv or "samples", rasterized=len(x) > MANY_POINTS)
        ax.set_xlabel(xtitle)
        ax.set_ylabel(ytitle)
        ax.set_title(f"{title}\n{_wrap(subtitle, 44)}" if subtitle else title, fontsize=7.5, loc="left")
        if len(levels) > 1:
            ax.legend(frameon=False, fontsize=7)
        return fig2
    return fig, static(draw)
