"""Readers for the clinical stage's tables: core set measures, immune measures, per-sample
measure matrices (metabolites, guilds, pathways, alpha diversity).

Readers validate while parsing and raise :class:`~microtrial.errors.InputError` naming the
file, the 1-based line, the subject, the visit and the column.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

import pandas as pd

from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import open_text
from microtrial.options import mention

from ._response import DEFAULT_ULN, ENZYMES

log = logging.getLogger(__name__)

MISSING = {"", "NA", "na", "NaN", "nan", "N/A", "NULL", "null", "."}
_ID_COLUMNS = {"subject", "visit", "group"}

# Valid ranges (inclusive) of the core set measures; ``mmt8`` depends on the scale.
RANGES: dict[str, tuple[float, float]] = {
    "phga": (0, 10), "ptga": (0, 10), "extramuscular": (0, 10), "haq": (0, 3),
    "cdasi_activity": (0, 100), "cdasi_damage": (0, 32),
    **{e: (0, math.inf) for e in ENZYMES},
}


def _read_tsv(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]], list[int]]:
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip() or (line.startswith("#") and header is not None):
                    continue
                cells = [c.strip() for c in line.split("\t")]
                if header is None:
                    header = [c.lstrip("#").strip() for c in cells]
                    if len(set(header)) != len(header):
                        raise InputError(path, "duplicate column names", line=lineno)
                    continue
                if len(cells) > len(header):
                    raise InputError(path, f"{len(cells)} cells but {len(header)} columns", line=lineno)
                rows.append(cells + [""] * (len(header) - len(cells)))
                lines.append(lineno)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "no header line")
    if not rows:
        raise InputError(path, "no data rows")
    return header, rows, lines


def _long_table(path: str | os.PathLike[str], what: str) -> tuple[pd.DataFrame, list[int]]:
    """A long table keyed by ``subject`` and ``visit``; every other column but ``group``
    numeric (missing = empty/NA)."""
    header, rows, lines = _read_tsv(path)
    lower = [h.lower() for h in header]
    for need in ("subject", "visit"):
        if need not in lower:
            raise InputError(path, f"{what} table needs a '{need}' column (found: {', '.join(header)})", line=1)
    header = [h.lower() if h.lower() in _ID_COLUMNS or h.lower() in RANGES or h.lower() == "mmt8" else h
              for h in header]
    seen: dict[tuple[str, str], int] = {}
    data: dict[str, list[object]] = {h: [] for h in header}
    for cells, ln in zip(rows, lines):
        rec = dict(zip(header, cells))
        key = (rec["subject"], rec["visit"])
        if not key[0]:
            raise InputError(path, "empty subject", line=ln, field="subject")
        if not key[1]:
            raise InputError(path, f"subject '{key[0]}': empty visit", line=ln, field="visit")
        if key in seen:
            raise InputError(path, f"subject '{key[0]}' visit '{key[1]}' appears twice (first on line {seen[key]})",
                             line=ln)
        seen[key] = ln
        for h, v in rec.items():
            if h in _ID_COLUMNS:
                data[h].append(v if v not in MISSING or h != "group" else None)
                continue
            if v in MISSING:
                data[h].append(math.nan)
                continue
            try:
                x = float(v)
            except ValueError:
                raise InputError(path, f"subject '{key[0]}' visit '{key[1]}': '{v}' is not a number",
                                 line=ln, field=h) from None
            if not math.isfinite(x):
                raise InputError(path, f"subject '{key[0]}' visit '{key[1]}': '{v}' is not a finite number",
                                 line=ln, field=h)
            data[h].append(x)
    df = pd.DataFrame(data)
    for h in header:
        if h not in _ID_COLUMNS:
            df[h] = df[h].astype(float)
    return df, lines


def read_clinical(
    path: str | os.PathLike[str],
    *,
    mmt_scale: int = 80,
    baseline: str = "baseline",
    uln: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Read and check a long clinical table (``subject``, ``visit``, CSMs, enzymes).

    Values outside a scale's range raise :class:`InputError` (file, line, subject, visit,
    column). Baseline values below the active-disease entry thresholds of the IMACS
    investigators (MMT-8 <= 142/150, PhGA or PtGA >= 2 cm, HAQ >= 0.25, enzyme >= 1.3 x ULN,
    extramuscular >= 1 cm, CDASI activity >= 5) are logged as warnings, never refused.
    """
    if mmt_scale not in (80, 150):
        raise OptionError("clinical.mmt_scale", f"{mmt_scale} is not 80 or 150")
    df, lines = _long_table(path, "clinical")
    core = ("phga", "ptga", "mmt8", "haq", "extramuscular")
    absent = [c for c in core if c not in df.columns]
    if absent:
        raise InputError(path, f"missing core set measure column(s): {', '.join(absent)}", line=1)
    if not any(e in df.columns for e in ENZYMES):
        raise InputError(path, f"no muscle enzyme column (any of {', '.join(ENZYMES)})", line=1)
    ranges = dict(RANGES, mmt8=(0, float(mmt_scale)))
    for col, (lo, hi) in ranges.items():
        if col not in df.columns:
            continue
        bad = df[col].notna() & ((df[col] < lo) | (df[col] > hi))
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            scale = f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">= {lo:g}"
            extra = f" ({mention('clinical.mmt_scale')} {mmt_scale})" if col == "mmt8" else ""
            raise InputError(
                path, f"subject '{df['subject'][i]}' visit '{df['visit'][i]}': {df[col][i]:g} is outside "
                f"the scale's range {scale}{extra}", line=lines[i], field=col,
            )
    _warn_entry(df, baseline=baseline, mmt_scale=mmt_scale, uln=uln)
    return df


def _warn_entry(df: pd.DataFrame, *, baseline: str, mmt_scale: int, uln: Mapping[str, float] | None) -> None:
    base = df[df["visit"] == baseline]
    uln_all = dict(DEFAULT_ULN, **{k.lower(): float(v) for k, v in (uln or {}).items()})
    mmt_max = 142 / 150 * mmt_scale
    for _, r in base.iterrows():
        low = []
        if not pd.isna(r["mmt8"]) and r["mmt8"] > mmt_max:
            low.append(f"mmt8 {r['mmt8']:g} > {mmt_max:.4g}")
        gl = [r[c] for c in ("phga", "ptga") if not pd.isna(r[c])]
        if gl and max(gl) < 2:
            low.append("phga and ptga < 2 cm")
        if not pd.isna(r["haq"]) and r["haq"] < 0.25:
            low.append(f"haq {r['haq']:g} < 0.25")
        enz = [r[e] / uln_all[e] for e in ENZYMES if e in r.index and not pd.isna(r[e])]
        if enz and max(enz) < 1.3:
            low.append("every enzyme < 1.3 x ULN")
        if not pd.isna(r["extramuscular"]) and r["extramuscular"] < 1:
            low.append(f"extramuscular {r['extramuscular']:g} < 1 cm")
        if "cdasi_activity" in r.index and not pd.isna(r["cdasi_activity"]) and r["cdasi_activity"] < 5:
            low.append(f"cdasi_activity {r['cdasi_activity']:g} < 5")
        if low:
            log.warning("subject '%s' at %s is below active-disease entry thresholds: %s",
                        r["subject"], baseline, "; ".join(low))


def is_percentage(column: str) -> bool:
    """A measure column holding percentages, by name: ``%``, ``pct`` or ``percent`` in it
    (``treg_pct``, ``Treg %``, ``cd4_percent``)."""
    low = column.lower()
    return "%" in low or "percent" in low or low.endswith("pct") or low.startswith("pct") or "_pct_" in low


def read_immune(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a long immune table (``subject``, ``visit``, one numeric column per measure).

    Percentage columns (see :func:`is_percentage`) must lie within 0-100; a value outside
    is refused (file, line, subject, visit, column), never passed to the statistics.
    """
    df, lines = _long_table(path, "immune")
    measures = [c for c in df.columns if c not in _ID_COLUMNS]
    if not measures:
        raise InputError(path, "no measure columns besides subject and visit", line=1)
    for col in measures:
        if not is_percentage(col):
            continue
        bad = df[col].notna() & ((df[col] < 0) | (df[col] > 100))
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                path, f"subject '{df['subject'][i]}' visit '{df['visit'][i]}': {df[col][i]:g} is not a "
                f"percentage (0-100)", line=lines[i], field=col,
            )
    return df


def read_sample_matrix(path: str | os.PathLike[str], sample_ids: list[str] | None = None) -> pd.DataFrame:
    """Read a numeric per-sample table as samples x measures.

    Accepts samples as rows (``sample-id`` then one column per measure: metabolites,
    alpha diversity) or as columns (first column the feature id, then one column per
    sample: PICRUSt2 pathway tables, guild tables); the orientation is chosen by which side
    holds more of ``sample_ids`` (rows when not given).
    """
    header, rows, lines = _read_tsv(path)
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(path, f"duplicate id '{dup}' in the first column")
    values = []
    for cells, ln in zip(rows, lines):
        out = []
        for h, v in zip(header[1:], cells[1:]):
            if v in MISSING:
                out.append(math.nan)
                continue
            try:
                out.append(float(v))
            except ValueError:
                raise InputError(path, f"'{v}' of '{cells[0]}' is not a number", line=ln, field=h) from None
        values.append(out)
    df = pd.DataFrame(values, index=pd.Index(ids, name=header[0]), columns=header[1:], dtype=float)
    if sample_ids is not None:
        s = set(sample_ids)
        if sum(c in s for c in df.columns) > sum(i in s for i in df.index):
            df = df.T
    df.index = df.index.astype(str)
    return df
