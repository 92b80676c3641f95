"""The diversity stage's entry point, in memory: hand-computed Bray-Curtis, the tables it
returns, and the samples it drops, with no file read or written."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from microtrial.design import Comparison
from microtrial.diversity import DiversityResult, analyse_diversity
from microtrial.table import FeatureTable


def _inputs() -> tuple[FeatureTable, pd.DataFrame]:
    counts = pd.DataFrame({"s1": [4, 2, 0], "s2": [5, 1, 0], "s3": [2, 2, 2], "s4": [1, 2, 3],
                           "s5": [3, 3, 3]}, index=["f1", "f2", "f3"])
    md = pd.DataFrame({"group": ["A", "A", "B", "B", "C"]}, index=list(counts.columns))
    return FeatureTable.from_dataframe(counts), md


def test_tables_and_drops(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    ft, md = _inputs()
    comp = Comparison("B-vs-A", "between", "group", ("B", "A"), {}, None)
    res = analyse_diversity(ft, md, comparisons=[comp], rarefy=None, metrics=("braycurtis",),
                            permutations=9, group_columns=("group",))
    assert isinstance(res, DiversityResult)
    assert res.depth is None and res.n_samples == 5 and res.metrics == ["braycurtis"]
    # Bray-Curtis by hand: sum |x - y| / sum (x + y)
    bc = res.distances["braycurtis"]
    assert bc.loc["s1", "s3"] == pytest.approx((2 + 0 + 2) / 12)
    assert bc.loc["s1", "s2"] == pytest.approx((1 + 1 + 0) / 12)
    assert list(res.alpha.index) == ["s1", "s2", "s3", "s4", "s5"]
    coords, explained = res.ordinations["braycurtis"]
    assert list(coords.index) == list(bc.index) and explained.iloc[0] >= explained.iloc[1]
    # the comparison uses the 2 + 2 samples of A and B
    row = res.permanova[res.permanova["comparison"] == "B-vs-A"].iloc[0]
    assert (row["term"], row["n"], row["permutations"]) == ("group", 4, 9)
    assert set(res.permdisp["comparison"]) == {"B-vs-A"} and len(res.anosim) == 1
    assert set(res.tests["comparison"]) == {"B-vs-A"}
    # group C has one sample: dropped from the all-levels test, with the reason
    assert res.dropped == {"s5": "group group=C has only one sample"}
    assert res.dysbiosis is None and res.dysbiosis_change is None and res.pairwise is None
    assert list(tmp_path.iterdir()) == []  # pure: writes nothing
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.depth = 3  # type: ignore[misc]


def test_phylogenetic_metric_without_tree_is_skipped() -> None:
    ft, md = _inputs()
    res = analyse_diversity(ft, md, rarefy=None, metrics=("braycurtis", "weighted_unifrac"),
                            permutations=0)
    assert res.metrics == ["braycurtis"]
    assert res.skipped == ["unweighted_unifrac: no tree given", "weighted_unifrac: no tree given"]
