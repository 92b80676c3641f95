"""QIIME 2 sample metadata (TSV): id header variants, ``#q2:types``, comment lines."""

from __future__ import annotations

import os

import pandas as pd

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text

# Id headers QIIME 2 accepts (case-insensitive), plus its case-sensitive extras.
ID_HEADERS = {"id", "sampleid", "sample id", "sample-id", "featureid", "feature id", "feature-id"}
ID_HEADERS_CASED = {"#SampleID", "#Sample ID", "#OTUID", "#OTU ID", "sample_name"}
_MISSING = {"", "NA", "nan", "NaN", "N/A", "NULL", "null"}


def read_metadata(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read sample metadata into a DataFrame indexed by ``sample-id``.

    Columns declared ``numeric`` in ``#q2:types`` (or whose every non-missing value parses as
    a number, when undeclared) become float; the rest stay strings. Missing values are NaN.
    """
    header: list[str] | None = None
    types: dict[str, str] = {}
    rows: list[list[str]] = []
    row_lines: list[int] = []
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip():
                    continue
                cells = [c.strip() for c in line.split("\t")]
                if header is None:
                    if line.startswith("#") and cells[0] not in ID_HEADERS_CASED:
                        continue
                    if cells[0].lower() not in ID_HEADERS and cells[0] not in ID_HEADERS_CASED:
                        raise InputError(
                            path,
                            f"first column header '{cells[0]}' is not a sample id header "
                            "(use 'sample-id')",
                            line=lineno,
                        )
                    header = cells
                    if len(set(header)) != len(header):
                        raise InputError(path, "duplicate column names", line=lineno)
                    continue
                if cells[0].lower() == "#q2:types":
                    if rows:
                        raise InputError(path, "#q2:types must come right after the header", line=lineno)
                    for col, typ in zip(header[1:], cells[1:]):
                        typ = typ.lower()
                        if typ and typ not in ("numeric", "categorical"):
                            raise InputError(path, f"unknown type '{typ}'", line=lineno, field=col)
                        types[col] = typ
                    continue
                if line.startswith("#"):
                    continue
                if len(cells) > len(header):
                    raise InputError(path, f"{len(cells)} cells but {len(header)} columns", line=lineno)
                cells += [""] * (len(header) - len(cells))
                rows.append(cells)
                row_lines.append(lineno)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "no header line")
    if not rows:
        raise InputError(path, "no samples")
    ids = [r[0] for r in rows]
    seen: dict[str, int] = {}
    for sid, ln in zip(ids, row_lines):
        if not sid:
            raise InputError(path, "empty sample id", line=ln)
        if sid in seen:
            raise InputError(path, f"duplicate sample id '{sid}' (first on line {seen[sid]})", line=ln)
        seen[sid] = ln
    df = pd.DataFrame([r[1:] for r in rows], index=pd.Index(ids, name="sample-id"), columns=header[1:])
    df = df.replace(list(_MISSING), pd.NA)
    for col in df.columns:
        declared = types.get(col, "")
        values = df[col]
        if declared == "categorical":
            df[col] = values.astype("object")
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & numeric.isna()
        if declared == "numeric" and bad.any():
            sid = bad[bad].index[0]
            raise InputError(
                path, f"value '{values[sid]}' of sample '{sid}' is not numeric",
                line=row_lines[ids.index(sid)], field=col,
            )
        if not bad.any() and values.notna().any():
            df[col] = numeric.astype(float)
        else:
            df[col] = values.astype("object")
    return df


def write_metadata(df: pd.DataFrame, path: str | os.PathLike[str], *, types: bool = True) -> None:
    """Write sample metadata with a ``sample-id`` header and (by default) ``#q2:types``."""
    with atomic_open(path) as fh:
        fh.write("sample-id\t" + "\t".join(map(str, df.columns)) + "\n")
        if types:
            kinds = [
                "numeric" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
                else "categorical"
                for c in df.columns
            ]
            fh.write("#q2:types\t" + "\t".join(kinds) + "\n")
        for sid, row in df.iterrows():
            cells = ["" if pd.isna(v) else str(v) for v in row]
            fh.write(f"{sid}\t" + "\t".join(cells) + "\n")
