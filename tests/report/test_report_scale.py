"""The report at scale: many points go to WebGL, per-sample and per-subject lines are
capped (with a note), and long tables embed their first rows while the TSV keeps all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.report import _figures as figs
from microtrial.report._page import MAX_TABLE_ROWS, Page


def _types(fig) -> list[str]:  # noqa: ANN001
    return [t.type for t in fig.data]


@pytest.fixture(autouse=True)
def _few_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small line cap keeps these tests fast; the logic does not depend on its value."""
    monkeypatch.setattr(figs, "MAX_LINES", 40)


def test_pcoa_many_points_webgl_and_arrows_capped() -> None:
    n_subj = figs.MAX_LINES + 100
    n = 2 * n_subj  # > MANY_POINTS? only when large enough
    idx = [f"S{i}" for i in range(n)]
    rng = np.random.default_rng(1)
    coords = pd.DataFrame(rng.normal(size=(n, 2)), index=idx, columns=["PC1", "PC2"])
    subj = pd.Series([f"P{i // 2}" for i in range(n)], index=idx)
    time = pd.Series(["t0", "t1"] * n_subj, index=idx)
    group = pd.Series(["a"] * n, index=idx)
    fig, _ = figs.pcoa(coords, group, symbol_by=time, subjects=subj, time_order=["t0", "t1"],
                       explained=None, note="", title="t")
    assert len(fig.layout.annotations) == figs.MAX_LINES  # one arrow per drawn subject
    assert f"{figs.MAX_LINES:,} of {n_subj:,} subjects' arrows drawn" in fig.layout.title.text
    assert set(_types(fig)) == ({"scattergl"} if n > figs.MANY_POINTS else {"scatter"})
    big = pd.DataFrame(rng.normal(size=(figs.MANY_POINTS + 1, 2)),
                       index=[f"B{i}" for i in range(figs.MANY_POINTS + 1)], columns=["PC1", "PC2"])
    fig, _ = figs.pcoa(big, pd.Series("a", index=big.index), symbol_by=None, subjects=None,
                       time_order=[], explained=None, note="", title="t")
    assert _types(fig) == ["scattergl"]
    assert len(fig.data[0].x) == figs.MANY_POINTS + 1  # every point is still drawn
    small = big.iloc[:50]
    fig, _ = figs.pcoa(small, pd.Series("a", index=small.index), symbol_by=None, subjects=None,
                       time_order=[], explained=None, note="", title="t")
    assert _types(fig) == ["scatter"] and fig.layout.annotations == ()


def test_rarefaction_draws_a_seeded_subset_of_curves() -> None:
    n = figs.MAX_LINES * 3
    curves = pd.DataFrame({"sample-id": np.repeat([f"S{i:05d}" for i in range(n)], 3),
                           "depth": np.tile([10, 100, 1000], n), "observed_features": 1.0})
    groups = pd.Series(np.where(np.arange(n) % 2, "a", "b"), index=[f"S{i:05d}" for i in range(n)])
    fig, draw = figs.rarefaction(curves, groups, 500, "observed_features")
    assert len(fig.data) == 2  # one trace per group, the curves separated by gaps
    drawn = {t for tr in fig.data for t in tr.text if t is not None}
    assert len(drawn) == figs.MAX_LINES
    assert sum(y is None for tr in fig.data for y in tr.y) == figs.MAX_LINES
    assert f"{figs.MAX_LINES:,} of {n:,} samples drawn" in fig.layout.title.text
    again, _ = figs.rarefaction(curves, groups, 500, "observed_features")
    assert {t for tr in again.data for t in tr.text if t is not None} == drawn  # seeded
    few, _ = figs.rarefaction(curves.iloc[: 3 * 20], groups, 500, "observed_features")
    assert {t for tr in few.data for t in tr.text if t is not None} == {f"S{i:05d}" for i in range(20)}
    assert "drawn" not in few.layout.title.text
    ax = draw().axes[0]
    assert sum(len(c.get_segments()) for c in ax.collections) == figs.MAX_LINES


def test_boxes_cap_subject_lines_keep_every_point() -> None:
    n_subj = figs.MAX_LINES + 10
    idx = [f"S{i}" for i in range(2 * n_subj)]
    values = pd.Series(np.arange(2 * n_subj, dtype=float), index=idx)
    groups = pd.Series(["a", "b"] * n_subj, index=idx)
    subjects = pd.Series([f"P{i // 2}" for i in range(2 * n_subj)], index=idx)
    fig, draw = figs.boxes(values, groups, ["a", "b"], title="t", ytitle="y", subjects=subjects)
    lines = [t for t in fig.data if getattr(t, "mode", None) == "lines"]
    points = [t for t in fig.data if getattr(t, "mode", None) == "markers"]
    assert len(lines) == 1 and sum(x is None for x in lines[0].x) == figs.MAX_LINES
    # each drawn line joins one subject's two samples: values 2k and 2k + 1
    ys = [y for y in lines[0].y if y is not None]
    assert all(b - a == 1 and a % 2 == 0 for a, b in zip(ys[::2], ys[1::2]))
    assert sum(len(t.x) for t in points) == 2 * n_subj
    assert "subjects' lines drawn" in fig.layout.title.text
    from matplotlib.collections import LineCollection

    segs = [c for c in draw().axes[0].collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in segs) == figs.MAX_LINES


def test_long_table_embeds_first_rows_and_writes_all(tmp_path: Path) -> None:
    page = Page(tmp_path, static=False)
    page.section("x", "X")
    n = MAX_TABLE_ROWS + 37
    df = pd.DataFrame({"feature": [f"F{i}" for i in range(n)], "q": np.linspace(0, 1, n)})
    page.table(df, "long", caption="Results.")
    markup = "".join(page.current.parts)
    data = json.loads(re.search(r"<script type='application/json' id='t1'>(.*?)</script>", markup).group(1))
    assert len(data["values"][0]["v"]) == MAX_TABLE_ROWS
    assert data["values"][0]["v"][0] == "F0"
    assert f"first {MAX_TABLE_ROWS:,} of {n:,} rows are shown" in markup
    assert len(pd.read_csv(tmp_path / "tables" / "long.tsv", sep="\t")) == n
    page.table(df.iloc[:10], "short", caption="Few.")
    assert "rows are shown" not in page.current.parts[-1]


def test_big_clouds_are_rasterised_in_static_copies() -> None:
    n = figs.MANY_POINTS + 1
    idx = [f"S{i}" for i in range(n)]
    coords = pd.DataFrame(np.random.default_rng(2).normal(size=(n, 2)), index=idx, columns=["PC1", "PC2"])
    _, draw = figs.pcoa(coords, pd.Series("a", index=idx), symbol_by=None, subjects=None, time_order=[],
                        explained=None, note="", title="t")
    assert all(c.get_rasterized() for c in draw().axes[0].collections)
    _, draw = figs.pcoa(coords.iloc[:100], pd.Series("a", index=idx[:100]), symbol_by=None, subjects=None,
                        time_order=[], explained=None, note="", title="t")
    assert not any(c.get_rasterized() for c in draw().axes[0].collections)


def test_long_per_sample_tables_are_summarised(tmp_path: Path) -> None:
    from microtrial.report._sections import _per_row_table, per_row_summary

    n = MAX_TABLE_ROWS + 1
    df = pd.DataFrame({"subject": [f"P{i}" for i in range(n)], "change": np.arange(n, dtype=float)})
    summary = per_row_summary(df)
    # by hand: 0..n-1 -> n values, minimum 0, median (n - 1) / 2, maximum n - 1
    assert summary.loc["n", "change"] == n
    assert summary.loc["minimum", "change"] == 0 and summary.loc["maximum", "change"] == n - 1
    assert summary.loc["median", "change"] == (n - 1) / 2
    assert list(summary.columns) == ["change"]  # text columns are not summarised

    class Ctx:
        page = Page(tmp_path, static=False)

    Ctx.page.section("x", "X")
    _per_row_table(Ctx, df, "dysbiosis-change", "Dysbiosis score change per subject", "subjects")  # type: ignore[arg-type]
    markup = "".join(Ctx.page.current.parts)
    assert f"summary of {n:,} subjects" in markup
    assert len(pd.read_csv(tmp_path / "tables" / "dysbiosis-change.tsv", sep="\t")) == n
    _per_row_table(Ctx, df.iloc[:5], "short", "Short", "subjects")  # type: ignore[arg-type]
    assert "summary of" not in Ctx.page.current.parts[-1]
