"""QIIME 2 taxonomy TSV: ``Feature ID``, ``Taxon``, optional ``Confidence``."""

from __future__ import annotations

import os

import pandas as pd

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text

_ID_HEADERS = {"feature id", "feature-id", "featureid", "id", "#otuid", "#otu id"}


def read_taxonomy(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a taxonomy TSV into a DataFrame indexed by feature id with ``Taxon`` and
    ``Confidence`` (NaN when absent) columns."""
    ids: list[str] = []
    taxa: list[str] = []
    conf: list[float] = []
    header: list[str] | None = None
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip():
                    continue
                cells = line.split("\t")
                if header is None:
                    if cells[0].strip().lower() not in _ID_HEADERS or len(cells) < 2:
                        raise InputError(path, "header must be 'Feature ID<TAB>Taxon'", line=lineno)
                    header = [c.strip() for c in cells]
                    continue
                if len(cells) < 2 or not cells[1].strip():
                    raise InputError(path, "row without a taxon", line=lineno)
                if cells[0] in ids:
                    raise InputError(path, f"duplicate feature id '{cells[0]}'", line=lineno)
                ids.append(cells[0])
                taxa.append(cells[1].strip())
                if len(cells) > 2 and cells[2].strip():
                    try:
                        conf.append(float(cells[2]))
                    except ValueError as exc:
                        raise InputError(path, f"confidence '{cells[2]}' is not a number", line=lineno) from exc
                else:
                    conf.append(float("nan"))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "empty taxonomy file")
    return pd.DataFrame({"Taxon": taxa, "Confidence": conf}, index=pd.Index(ids, name="Feature ID"))


def write_taxonomy(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``Feature ID``, ``Taxon``, ``Confidence`` (atomic)."""
    with atomic_open(path) as fh:
        fh.write("Feature ID\tTaxon\tConfidence\n")
        for fid, row in df.iterrows():
            c = row.get("Confidence", float("nan"))
            cs = "" if pd.isna(c) else f"{float(c):.4g}"
            fh.write(f"{fid}\t{row['Taxon']}\t{cs}\n")
