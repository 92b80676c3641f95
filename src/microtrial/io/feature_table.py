"""Feature tables: BIOM 2.1 (HDF5) and the TSV of CONTRACT.md (``#OTU ID`` header)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, atomic_path, open_text
from microtrial.table import FeatureTable


def read_table(path: str | os.PathLike[str]) -> FeatureTable:
    """Read a feature table, BIOM 2.1 (HDF5) or TSV, chosen by content."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\x89HDF"):
        return read_biom(p)
    if p.suffix == ".qza":
        from microtrial.io.qza import read_qza

        obj = read_qza(p)
        if not isinstance(obj, FeatureTable):
            raise InputError(p, "artifact is not a FeatureTable[Frequency]")
        return obj
    return read_table_tsv(p)


def read_biom(path: str | os.PathLike[str]) -> FeatureTable:
    """Read BIOM 2.1 (HDF5)."""
    import h5py
    from biom import Table

    try:
        with h5py.File(path, "r") as fh:
            table = Table.from_hdf5(fh)
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(path, f"not a readable BIOM 2.1 file ({exc})") from exc
    return FeatureTable.from_biom(table)


def write_biom(table: FeatureTable, path: str | os.PathLike[str], *, generated_by: str = "microtrial") -> None:
    """Write BIOM 2.1 (HDF5), atomically."""
    import h5py

    biom_table = table.to_biom()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        biom_table.to_hdf5(fh, generated_by)  # type: ignore[attr-defined]


def read_table_tsv(path: str | os.PathLike[str]) -> FeatureTable:
    """Read the TSV form: optional ``# Constructed from biom file`` line, then ``#OTU ID``."""
    header: list[str] | None = None
    ids: list[str] = []
    rows: list[np.ndarray] = []
    taxonomy: list[str] = []
    has_tax = False
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip():
                    continue
                if header is None:
                    if line.startswith("#") and not line.startswith("#OTU ID") and "\t" not in line:
                        continue
                    header = line.split("\t")
                    if len(header) < 2:
                        raise InputError(path, "header has no sample columns", line=lineno)
                    if header[0].lstrip("#").strip() not in ("OTU ID", "OTUID", "Feature ID", "feature-id", "id"):
                        raise InputError(
                            path, f"first header cell is '{header[0]}', expected '#OTU ID'", line=lineno
                        )
                    if header[-1].lower() == "taxonomy":
                        has_tax = True
                        header = header[:-1]
                    continue
                cells = line.split("\t")
                n_expected = len(header) + (1 if has_tax else 0)
                if len(cells) != n_expected:
                    raise InputError(
                        path, f"{len(cells)} cells, expected {n_expected}", line=lineno
                    )
                if has_tax:
                    taxonomy.append(cells[-1])
                    cells = cells[:-1]
                try:
                    values = np.array([float(c) if c else 0.0 for c in cells[1:]])
                except ValueError as exc:
                    raise InputError(path, f"non-numeric count ({exc})", line=lineno) from exc
                if np.any(values < 0) or not np.all(np.isfinite(values)):
                    raise InputError(path, "counts must be finite and >= 0", line=lineno)
                if cells[0] in ids:
                    raise InputError(path, f"duplicate feature id '{cells[0]}'", line=lineno)
                ids.append(cells[0])
                rows.append(values)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "empty feature table")
    samples = header[1:]
    if len(set(samples)) != len(samples):
        raise InputError(path, "duplicate sample ids in header", line=1)
    mat = np.vstack(rows) if rows else np.zeros((0, len(samples)))
    if np.all(mat == np.round(mat)):
        mat = mat.astype(np.int64)
    meta = pd.DataFrame({"taxonomy": taxonomy}, index=ids) if has_tax else None
    return FeatureTable(sp.csr_matrix(mat), tuple(ids), tuple(samples), meta)


def write_table_tsv(table: FeatureTable, path: str | os.PathLike[str]) -> None:
    """Write the TSV form with a ``#OTU ID`` header; integer counts stay integers."""
    dense = table.data.toarray()
    is_int = np.all(dense == np.round(dense))
    with atomic_open(path) as fh:
        fh.write("#OTU ID\t" + "\t".join(table.sample_ids) + "\n")
        for fid, row in zip(table.feature_ids, dense):
            vals = (str(int(v)) for v in row) if is_int else (repr(float(v)) for v in row)
            fh.write(fid + "\t" + "\t".join(vals) + "\n")
