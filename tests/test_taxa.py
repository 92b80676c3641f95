from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.table import FeatureTable
from microtrial.taxa import collapse, normalize_taxon, truncate_taxon


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__; s__",
         "d__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae"),
        ("Bacteria;Bacteroidetes;Bacteroidia;Bacteroidales;Prevotellaceae;Prevotella;",
         "d__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; g__Prevotella"),
        ("D_0__Bacteria;D_1__Firmicutes;D_2__", "d__Bacteria; p__Firmicutes"),
        ("", "Unassigned"),
        ("Unassigned", "Unassigned"),
    ],
)
def test_normalize_taxon(raw, expected):
    assert normalize_taxon(raw) == expected


def test_truncate_pads_unnamed_ranks():
    assert truncate_taxon("d__Bacteria; p__Firmicutes", "family") == "d__Bacteria; p__Firmicutes; c__; o__; f__"


def test_collapse_sums_by_rank_by_hand():
    table = FeatureTable(np.array([[1, 2], [3, 4], [5, 6]]), ["a", "b", "c"], ["s1", "s2"])
    tax = pd.Series({"a": "d__B; p__F; c__C; o__O; f__Lach; g__Roseburia",
                     "b": "d__B; p__F; c__C; o__O; f__Lach; g__Blautia",
                     "c": "d__B; p__F; c__C; o__O; f__Rumi"})
    fam = collapse(table, tax, "family").to_dataframe()
    assert fam.loc["d__B; p__F; c__C; o__O; f__Lach"].tolist() == [4, 6]  # 1+3, 2+4
    assert fam.loc["d__B; p__F; c__C; o__O; f__Rumi"].tolist() == [5, 6]
    assert collapse(table, tax, "asv") is table
