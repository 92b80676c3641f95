"""Figures for the report: each function takes tables and returns a matplotlib Figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#2e4057")


def _plt():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def read_tracking(df: pd.DataFrame):  # noqa: ANN201
    plt = _plt()
    steps = [c for c in ("input", "filtered", "denoised-f", "merged", "non-chimeric") if c in df]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = np.arange(len(steps))
    for _, row in df.iterrows():
        ax.plot(x, row[steps].to_numpy(dtype=float), color="#1b6ca8", alpha=0.35, lw=1)
    ax.plot(x, df[steps].median().to_numpy(dtype=float), color="#d1495b", lw=2.5, label="median")
    ax.set_xticks(x, steps)
    ax.set_ylabel("read pairs")
    ax.set_title("Reads surviving each step (one line per sample)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def quality_profiles(profiles: dict[str, pd.DataFrame]):  # noqa: ANN201
    plt = _plt()
    fig, axes = plt.subplots(1, len(profiles), figsize=(4.2 * len(profiles), 3), squeeze=False)
    for ax, (name, df) in zip(axes[0], profiles.items()):
        pos = df["position"].to_numpy()
        if {"q25", "q75"} <= set(df.columns):
            ax.fill_between(pos, df["q25"], df["q75"], color="#8d96a3", alpha=0.3, label="IQR")
        ax.plot(pos, df["mean_quality"], color="#1b6ca8", label="mean")
        ax.set_ylim(0, 42)
        ax.set_xlabel("position (nt)")
        ax.set_ylabel("Phred quality")
        ax.set_title(f"Quality, {name} reads")
        ax.legend(frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


def grouped_boxes(values: pd.DataFrame, by: pd.Series, columns: list[str], title: str):  # noqa: ANN201
    """Boxplots with points, one panel per column, grouped by ``by``."""
    plt = _plt()
    levels = [lv for lv in pd.unique(by.dropna())]
    fig, axes = plt.subplots(1, len(columns), figsize=(2.8 * len(columns), 3.2), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, col in zip(axes[0], columns):
        data = [values.loc[by[by == lv].index.intersection(values.index), col].dropna() for lv in levels]
        ax.boxplot(data, showfliers=False, widths=0.6)
        for i, d in enumerate(data):
            ax.scatter(i + 1 + rng.uniform(-0.15, 0.15, len(d)), d, s=12,
                       color=PALETTE[i % len(PALETTE)], alpha=0.8, zorder=3)
        ax.set_xticks(range(1, len(levels) + 1), [str(lv) for lv in levels], rotation=30)
        ax.set_title(col)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def paired_lines(wide: pd.DataFrame, before: str, after: str, measure: str):  # noqa: ANN201
    """One line per subject from ``before`` to ``after``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.4, 3.4))
    for _, row in wide.iterrows():
        ax.plot([0, 1], [row[before], row[after]], color="#8d96a3", marker="o", ms=4, lw=1)
    ax.plot([0, 1], [wide[before].median(), wide[after].median()], color="#d1495b", lw=3,
            marker="s", label="median")
    ax.set_xticks([0, 1], [before, after])
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(measure)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def ordination(coords: pd.DataFrame, by: pd.Series, title: str, explained: tuple[float, float] | None):  # noqa: ANN201
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    labels = by.reindex(coords.index).astype(str)
    for i, lv in enumerate(pd.unique(labels)):
        sel = labels == lv
        ax.scatter(coords.loc[sel, "PC1"], coords.loc[sel, "PC2"], s=22, label=lv,
                   color=PALETTE[i % len(PALETTE)], alpha=0.85)
    if explained:
        ax.set_xlabel(f"PC1 ({explained[0]:.1%})")
        ax.set_ylabel(f"PC2 ({explained[1]:.1%})")
    else:
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def lda_bars(df: pd.DataFrame, title: str):  # noqa: ANN201
    """LEfSe-style horizontal bars of signed LDA scores."""
    plt = _plt()
    df = df.sort_values("effect")
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(df) + 1.2))
    colors = ["#d1495b" if e > 0 else "#1b6ca8" for e in df["effect"]]
    ax.barh(range(len(df)), df["effect"], color=colors)
    ax.set_yticks(range(len(df)), [_short(f) for f in df["feature"]], fontsize=7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("LDA score (log10), sign = direction")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, title: str, stars: pd.DataFrame | None = None):  # noqa: ANN201
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.6 * matrix.shape[1] + 3.5, 0.3 * matrix.shape[0] + 1.6))
    im = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), [_short(i) for i in matrix.index], fontsize=7)
    if stars is not None:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if bool(stars.iat[i, j]):
                    ax.text(j, i, "*", ha="center", va="center", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7, label="Spearman rho")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _short(name: object) -> str:
    """The deepest named level of a taxon string (``f__X; g__Y`` -> ``g__Y``)."""
    s = str(name)
    levels = [p.strip() for p in s.split(";") if p.strip()]
    parts = [p for p in levels if not p.endswith("__")]
    if not parts:
        return s[:40]
    if levels[-1].endswith("__"):  # unnamed at the collapsed rank
        return f"{parts[-1]} ({levels[-1]} unnamed)"
    return parts[-1]
