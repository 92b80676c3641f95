"""The feature table formats without artifacts: BIOM 2.1 (HDF5), JSON BIOM 1.0 and the TSV
of CONTRACT.md; shared by :mod:`microtrial.io.feature_table` (which adds ``.qza`` input) and
:mod:`microtrial.io.qza` (which wraps BIOM in artifacts), so neither imports the other.

The TSV form: an optional ``# Constructed from biom file`` line (what ``biom convert``
writes), then a header whose first cell is ``#OTU ID`` (also accepted: ``#OTUID``,
``Feature ID``, ``feature-id``, ``id``) followed by sample ids, an optional last
``taxonomy`` column, then one row per feature. Counts must be finite and non-negative;
empty cells count as 0. Errors name the file and 1-based line. ``.gz`` is transparent.

BIOM 2.1 is read and written with the ``biom-format`` package; the older JSON BIOM 1.0 is
read too. A taxonomy given as a list of ranks (how BIOM stores it) becomes one
``"; "``-joined string in ``feature_metadata["taxonomy"]``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, atomic_path, open_text
from microtrial.table import FeatureTable

_TSV_ID_HEADERS = ("OTU ID", "OTUID", "Feature ID", "feature-id", "featureid", "id")


def read_plain_table(path: str | os.PathLike[str]) -> FeatureTable:
    """Read a feature table, BIOM 2.1 (HDF5), JSON BIOM or TSV, chosen by content
    (``.qza`` artifacts: :func:`microtrial.io.feature_table.read_table`)."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a folder, expected a feature table")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\x89HDF") or magic.lstrip().startswith(b"{"):
        return read_biom(p)
    return read_table_tsv(p)


def _from_biom(path: str | os.PathLike[str], table: object) -> FeatureTable:
    try:
        ft = FeatureTable.from_biom(table)
    except ValueError as exc:
        raise InputError(path, str(exc)) from exc
    values = ft.data.data
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
        raise InputError(path, "counts must be finite and >= 0")
    meta = ft.feature_metadata
    if meta is not None and "taxonomy" in meta.columns:
        meta = meta.copy()
        meta["taxonomy"] = [
            "; ".join(map(str, v)) if isinstance(v, list | tuple) else v for v in meta["taxonomy"]
        ]
        ft = FeatureTable(ft.data, ft.feature_ids, ft.sample_ids, meta)
    return ft


def read_biom(path: str | os.PathLike[str]) -> FeatureTable:
    """Read BIOM 2.1 (HDF5), or JSON BIOM 1.0."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if not magic.startswith(b"\x89HDF"):
        import json

        from biom.parse import parse_biom_table

        try:
            with open_text(p) as fh:
                table = parse_biom_table(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, ValueError,
                TypeError, IndexError) as exc:
            raise InputError(p, f"not a readable BIOM file ({exc})") from exc
        return _from_biom(p, table)

    import h5py
    from biom import Table

    try:
        with h5py.File(p, "r") as fh:
            table = Table.from_hdf5(fh)
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise InputError(p, f"not a readable BIOM 2.1 file ({exc})") from exc
    return _from_biom(p, table)


def write_biom(table: FeatureTable, path: str | os.PathLike[str], *, generated_by: str = "microtrial") -> None:
    """Write BIOM 2.1 (HDF5), atomically. A ``taxonomy`` string is stored as a rank list."""
    import h5py
    from biom import Table

    md: list[dict[str, Any]] | None = None
    if table.feature_metadata is not None:
        md = []
        records = table.feature_metadata.reindex(list(table.feature_ids)).to_dict("records")
        for row in records:
            entry: dict[str, Any] = {}
            for k, v in row.items():
                k = str(k)
                if isinstance(v, list | tuple):
                    entry[k] = list(v)
                elif v is None or pd.isna(v):
                    continue
                elif k == "taxonomy" and isinstance(v, str):
                    entry[k] = [r.strip() for r in v.split(";") if r.strip()]
                else:
                    entry[k] = v
            md.append(entry)
        if not any(md):
            md = None
    biom_table = Table(table.data.copy(), list(table.feature_ids), list(table.sample_ids), md)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        biom_table.to_hdf5(fh, generated_by)  # type: ignore[attr-defined]


def read_table_tsv(path: str | os.PathLike[str]) -> FeatureTable:
    """Read the TSV form: optional ``# Constructed from biom file`` line, then ``#OTU ID``."""
    header: list[str] | None = None
    ids: list[str] = []
    seen: dict[str, int] = {}
    rows: list[list[float]] = []
    taxonomy: list[str] = []
    has_tax = False
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if lineno == 1:
                    line = line.lstrip("\ufeff")  # byte-order mark (Excel)
                if not line.strip():
                    continue
                if header is None:
                    if line.startswith("#") and "\t" not in line:
                        continue  # "# Constructed from biom file" and other comments
                    header = [c.strip() for c in line.split("\t")]
                    first = header[0].lstrip("#").strip()
                    if first not in _TSV_ID_HEADERS:
                        raise InputError(
                            path, f"first header cell is '{header[0]}', expected '#OTU ID'",
                            line=lineno,
                        )
                    if header[-1].lower() == "taxonomy":
                        has_tax = True
                        header = header[:-1]
                    if len(header) < 2:
                        raise InputError(path, "header has no sample columns", line=lineno)
                    samples = header[1:]
                    for s in samples:
                        if not s:
                            raise InputError(path, "empty sample id in header", line=lineno)
                        if samples.count(s) > 1:
                            raise InputError(path, f"duplicate sample id '{s}'", line=lineno)
                    continue
                cells = line.split("\t")
                n_expected = len(header) + (1 if has_tax else 0)
                if len(cells) != n_expected:
                    raise InputError(
                        path, f"{len(cells)} cells, expected {n_expected}", line=lineno
                    )
                if has_tax:
                    taxonomy.append(cells[-1].strip())
                    cells = cells[:-1]
                fid = cells[0].strip()
                if not fid:
                    raise InputError(path, "empty feature id", line=lineno)
                if fid in seen:
                    raise InputError(
                        path, f"duplicate feature id '{fid}' (first on line {seen[fid]})",
                        line=lineno,
                    )
                values: list[float] = []
                for sample, c in zip(header[1:], cells[1:]):
                    c = c.strip()
                    try:
                        v = float(c) if c else 0.0
                    except ValueError:
                        raise InputError(
                            path, f"count '{c}' is not a number", line=lineno, field=sample
                        ) from None
                    if not math.isfinite(v) or v < 0:
                        raise InputError(
                            path, f"count '{c}' must be finite and >= 0", line=lineno,
                            field=sample,
                        )
                    values.append(v)
                seen[fid] = lineno
                ids.append(fid)
                rows.append(values)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "empty feature table (no '#OTU ID' header)")
    samples = header[1:]
    mat = np.array(rows, dtype=np.float64) if rows else np.zeros((0, len(samples)))
    if np.all(mat == np.round(mat)):
        mat = mat.astype(np.int64)
    meta = pd.DataFrame({"taxonomy": taxonomy}, index=ids) if has_tax else None
    return FeatureTable(sp.csr_matrix(mat), tuple(ids), tuple(samples), meta)


def write_table_tsv(table: FeatureTable, path: str | os.PathLike[str]) -> None:
    """Write the TSV form with a ``#OTU ID`` header; integer counts stay integers.

    A ``taxonomy`` column of ``feature_metadata`` is written as the last column. A table
    without features is written as its header (every sample id), so it reads back as
    written.

    Raises
    ------
    ValueError
        A table without samples (:func:`read_table_tsv` refuses a header without sample
        columns, so no stage may write one), or an id that is empty or holds a tab or
        line break.
    """
    if not table.sample_ids:
        raise ValueError("a feature table without samples cannot be written as TSV "
                         "(it would not read back)")
    dense = table.data.toarray()
    is_int = bool(np.all(dense == np.round(dense)))
    tax = None
    if table.feature_metadata is not None and "taxonomy" in table.feature_metadata.columns:
        col = table.feature_metadata["taxonomy"].reindex(list(table.feature_ids))
        tax = [
            "" if not isinstance(v, str | list | tuple) else
            v if isinstance(v, str) else "; ".join(map(str, v))
            for v in col
        ]
    for name in (*table.feature_ids, *table.sample_ids):
        if not name or any(ch in name for ch in "\t\n\r"):
            raise ValueError(f"id {name!r} is empty or contains a tab or line break")
    with atomic_open(path) as fh:
        fh.write("#OTU ID\t" + "\t".join(table.sample_ids) + ("\ttaxonomy" if tax else "") + "\n")
        for i, (fid, row) in enumerate(zip(table.feature_ids, dense)):
            vals = (str(int(v)) for v in row) if is_int else (repr(float(v)) for v in row)
            fh.write(fid + "\t" + "\t".join(vals) + (f"\t{tax[i]}" if tax else "") + "\n")
