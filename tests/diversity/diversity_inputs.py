"""The small simulated paired design of ``golden/`` as input files for stage tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).parent / "golden"


def golden_paired() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The golden feature table (features x samples) and sample metadata."""
    t = pd.read_csv(GOLDEN / "paired-table.tsv", sep="\t", index_col=0)
    m = pd.read_csv(GOLDEN / "paired-metadata.tsv", sep="\t", index_col=0)
    return t, m


def write_inputs(tmp_path: Path, table: pd.DataFrame, metadata: pd.DataFrame) -> tuple[Path, Path]:
    """Write ``table.tsv`` and ``metadata.tsv`` (QIIME 2 headers) into ``tmp_path``."""
    table, metadata = table.copy(), metadata.copy()
    table.index.name = "#OTU ID"
    metadata.index.name = "sample-id"
    tp, mp = tmp_path / "table.tsv", tmp_path / "metadata.tsv"
    table.to_csv(tp, sep="\t")
    metadata.to_csv(mp, sep="\t")
    return tp, mp
