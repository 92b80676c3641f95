"""The diversity stage's rarefaction step (rarefy_samples): depth, dropped samples, curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from microtrial.diversity import rarefy_samples
from microtrial.errors import AnalysisError
from microtrial.table import FeatureTable


def _table() -> FeatureTable:
    # sample totals: a 30, b 12, c 50, d 7
    counts = np.array([[10, 4, 20, 7], [15, 8, 25, 0], [5, 0, 5, 0]])
    return FeatureTable(sp.csr_matrix(counts), ("f1", "f2", "f3"), ("a", "b", "c", "d"))


def test_depth_drops_the_shallow_samples_and_rarefies_the_rest() -> None:
    r = rarefy_samples(_table(), 12, seed=3)
    assert r.depth == 12
    assert r.dropped == (("d", "fewer than 12 reads (rarefaction depth); has 7"),)
    assert r.table.sample_ids == r.rarefied.sample_ids == ("a", "b", "c")
    assert list(r.table.sample_totals()) == [30, 12, 50]  # the kept samples' own counts
    assert list(r.rarefied.sample_totals()) == [12, 12, 12]
    # a sample at exactly the depth is kept whole
    assert r.rarefied.to_dataframe()["b"].reindex(["f1", "f2"]).tolist() == [4, 8]
    assert set(r.curves["sample-id"]) == {"a", "b", "c"}
    assert isinstance(r.curves, pd.DataFrame)


def test_auto_is_the_smallest_depth_and_none_keeps_the_table() -> None:
    r = rarefy_samples(_table(), "auto")
    assert r.depth == 7 and r.dropped == () and list(r.rarefied.sample_totals()) == [7] * 4
    r = rarefy_samples(_table(), None)
    assert r.depth is None and r.rarefied is r.table and r.dropped == ()


def test_fewer_than_two_samples_left_is_an_error() -> None:
    with pytest.raises(AnalysisError, match="fewer than 2 samples left at depth 31"):
        rarefy_samples(_table(), 31)
    with pytest.raises(AnalysisError, match="not a number"):
        rarefy_samples(_table(), "deep")
