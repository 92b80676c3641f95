"""``results``: a minimal results folder (metadata with groups, alpha diversity)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture
def results(tmp_path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    pd.DataFrame({"sample-id": ["s1", "s2", "s3", "s4"], "group": ["a", "a", "b", "b"]}).to_csv(
        d / "metadata-with-response.tsv", sep="\t", index=False)
    pd.DataFrame({"sample-id": ["s1", "s2", "s3", "s4"], "observed_features": [10, 12, 20, 22],
                  "shannon": [1.5, 1.7, 2.5, 2.4]}).to_csv(d / "alpha-diversity.tsv", sep="\t", index=False)
    return d
