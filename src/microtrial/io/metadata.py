"""QIIME 2 sample metadata (TSV): id header variants, ``#q2:types``, comment lines.

Rules follow QIIME 2's metadata file format (https://docs.qiime2.org, "Metadata in
QIIME 2"): the first non-comment line is the header, whose first cell names the id
column (one of :data:`ID_HEADERS`, case-insensitive, or :data:`ID_HEADERS_CASED`); an
optional ``#q2:types`` line right after it declares each column ``numeric`` or
``categorical``; other lines starting with ``#`` are comments; blank lines are skipped;
cells are stripped of surrounding white space. A row shorter than the header is padded
with empty cells (as QIIME 2 does); a row with more non-empty cells than the header is an
error, as are empty or duplicate ids, duplicate or empty column names, and a non-numeric
value in a column declared ``numeric``. Every error names the file and the 1-based line.
"""

from __future__ import annotations

import os

import pandas as pd

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text

# Id headers QIIME 2 accepts (case-insensitive), plus its case-sensitive extras.
ID_HEADERS = {"id", "sampleid", "sample id", "sample-id", "featureid", "feature id", "feature-id"}
ID_HEADERS_CASED = {"#SampleID", "#Sample ID", "#OTUID", "#OTU ID", "sample_name"}
_MISSING = {"", "NA", "nan", "NaN", "N/A", "NULL", "null"}


def _is_id_header(cell: str) -> bool:
    return cell.lower() in ID_HEADERS or cell in ID_HEADERS_CASED


def read_metadata(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read sample metadata into a DataFrame indexed by ``sample-id``.

    Columns declared ``numeric`` in ``#q2:types`` (or whose every non-missing value parses as
    a number, when undeclared) become float; the rest stay strings (object dtype). Missing
    values (empty cells and :data:`_MISSING` spellings) are NaN/NA.

    Raises
    ------
    InputError
        With the file and 1-based line of the first problem found.
    """
    header: list[str] | None = None
    header_line = 0
    types: dict[str, str] = {}
    rows: list[list[str]] = []
    row_lines: list[int] = []
    seen: dict[str, int] = {}
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if lineno == 1:
                    line = line.lstrip("\ufeff")  # byte-order mark (Excel)
                if not line.strip():
                    continue
                cells = [c.strip() for c in line.split("\t")]
                if header is None:
                    if line.startswith("#") and cells[0] not in ID_HEADERS_CASED:
                        continue
                    if not _is_id_header(cells[0]):
                        raise InputError(
                            path,
                            f"first column header '{cells[0]}' is not a sample id header "
                            "(use 'sample-id')",
                            line=lineno,
                        )
                    while len(cells) > 1 and not cells[-1]:
                        cells.pop()
                    header, header_line = cells, lineno
                    for i, col in enumerate(header[1:], start=2):
                        if not col:
                            raise InputError(path, f"column {i} has an empty name", line=lineno)
                        if _is_id_header(col):
                            raise InputError(
                                path, f"column name '{col}' is reserved for the id column",
                                line=lineno,
                            )
                    if len(set(header)) != len(header):
                        dup = next(c for c in header if header.count(c) > 1)
                        raise InputError(path, f"duplicate column name '{dup}'", line=lineno)
                    continue
                if cells[0].lower() == "#q2:types":
                    if rows or types:
                        raise InputError(
                            path, "#q2:types must come right after the header (once)", line=lineno
                        )
                    _parse_types(path, header, cells, lineno, types)
                    continue
                if line.startswith("#"):
                    continue
                if len(cells) > len(header):
                    extra = cells[len(header):]
                    if any(extra):
                        raise InputError(
                            path, f"{len(cells)} cells but the header has {len(header)} columns",
                            line=lineno,
                        )
                    cells = cells[: len(header)]
                cells += [""] * (len(header) - len(cells))
                sid = cells[0]
                if not sid:
                    raise InputError(path, "empty sample id", line=lineno)
                if sid in seen:
                    raise InputError(
                        path, f"duplicate sample id '{sid}' (first on line {seen[sid]})",
                        line=lineno,
                    )
                seen[sid] = lineno
                rows.append(cells)
                row_lines.append(lineno)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        if isinstance(exc, IsADirectoryError):
            raise InputError(path, "is a folder, expected a metadata file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "no header line (expected 'sample-id' then column names)")
    if not rows:
        raise InputError(path, "no samples", line=header_line)
    ids = [r[0] for r in rows]
    df = pd.DataFrame(
        [r[1:] for r in rows], index=pd.Index(ids, name="sample-id"), columns=header[1:],
        dtype=object,
    )
    line_of = dict(zip(ids, row_lines))
    for col in df.columns:
        raw_values = df[col]
        values = raw_values.where(~raw_values.isin(list(_MISSING)), None).astype(object)
        declared = types.get(col, "")
        if declared == "categorical":
            df[col] = values
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & numeric.isna()
        if declared == "numeric" and bad.any():
            sid = bad[bad].index[0]
            raise InputError(
                path, f"value '{values[sid]}' of sample '{sid}' is not numeric",
                line=line_of[sid], field=col,
            )
        if not bad.any() and values.notna().any():
            df[col] = numeric.astype(float)
        elif declared == "numeric":  # all missing
            df[col] = numeric.astype(float)
        else:
            df[col] = values
    return df


def _parse_types(
    path: str | os.PathLike[str], header: list[str], cells: list[str], lineno: int,
    types: dict[str, str],
) -> None:
    while len(cells) > 1 and not cells[-1]:
        cells.pop()
    if len(cells) > len(header):
        raise InputError(
            path, f"#q2:types has {len(cells)} cells but the header has {len(header)} columns",
            line=lineno,
        )
    for col, typ in zip(header[1:], cells[1:]):
        typ = typ.lower()
        if typ and typ not in ("numeric", "categorical"):
            raise InputError(
                path, f"unknown type '{typ}' (numeric or categorical)", line=lineno, field=col
            )
        types[col] = typ


def write_metadata(df: pd.DataFrame, path: str | os.PathLike[str], *, types: bool = True) -> None:
    """Write sample metadata with a ``sample-id`` header and (by default) ``#q2:types``.

    Numeric (non-boolean) columns are declared ``numeric``, the rest ``categorical``;
    missing values are written as empty cells. Ids and values must not contain tabs or
    line breaks (``ValueError``).
    """
    kinds = [
        "numeric"
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        else "categorical"
        for c in df.columns
    ]

    def cell(v: object) -> str:
        if v is None or (not isinstance(v, str) and bool(pd.isna(v))):  # type: ignore[call-overload]
            return ""
        s = str(v)
        if any(ch in s for ch in "\t\n\r"):
            raise ValueError(f"metadata value {s!r} contains a tab or line break")
        return s

    with atomic_open(path) as fh:
        fh.write("sample-id\t" + "\t".join(cell(c) for c in df.columns) + "\n")
        if types:
            fh.write("#q2:types\t" + "\t".join(kinds) + "\n")
        for sid, row in zip(df.index, df.itertuples(index=False, name=None)):
            fh.write(cell(sid) + "\t" + "\t".join(cell(v) for v in row) + "\n")
