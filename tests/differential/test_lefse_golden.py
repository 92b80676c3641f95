"""Our LEfSe against the real LEfSe 1.1.2 on the MiSeq SOP Early vs Late comparison
(golden output made as golden/README.md says; LEfSe is not needed to run this test)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.differential import Contrast, lefse
from microtrial.differential._features import lefse_name

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.requires_shared
def test_lefse_agrees_with_lefse_1_1_2(shared_data: Path) -> None:
    sys.path.insert(0, str(GOLDEN))
    try:
        from make_lefse_golden import miseq_hierarchy
    finally:
        sys.path.remove(str(GOLDEN))
    counts, ranks, cls = miseq_hierarchy(shared_data / "miseq-sop")
    contrast = Contrast(counts, cls.astype(str), "Late", "Early")
    totals = counts[ranks.isin(["domain", "unassigned"])].sum().to_numpy()
    ours = lefse(contrast, totals=totals, seed=0)
    ours.index = [lefse_name(f) for f in ours["feature"]]
    gold = pd.read_csv(GOLDEN / "lefse-1.1.2-miseq-early-late.res", sep="\t", header=None,
                       names=["clade", "log_max_mean", "cls", "lda", "p"], index_col=0,
                       keep_default_na=False)
    assert set(gold.index) == set(ours.index)  # same 105 clades
    gold_called = set(gold.index[gold["cls"] != ""])
    ours_called = set(ours.index[ours["lefse_called"]])
    assert len(gold_called) == 49
    assert ours_called == gold_called
    g = gold.loc[sorted(gold_called)]
    o = ours.loc[sorted(gold_called)]
    # direction: positive effect = higher in Late
    assert np.all((o["effect"] > 0).to_numpy() == (g["cls"] == "Late").to_numpy())
    np.testing.assert_allclose(o["lda_score"], g["lda"].astype(float), atol=0.25)
    np.testing.assert_allclose(o["p_value"], g["p"].astype(float), rtol=1e-9)
