"""What every section builder gets: the page, the results folder, the design, the metadata,
and a list the sections add their key findings to (the Summary is written from it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from microtrial.errors import InputError
from microtrial.report._data import Design
from microtrial.report._page import Page


def read_result_table(path: Path, **kwargs: object) -> pd.DataFrame:
    """A tab-separated result table; an unreadable one is an :class:`InputError` naming it."""
    try:
        return pd.read_csv(path, sep="\t", **kwargs)  # type: ignore[call-overload, no-any-return]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        msg = " ".join(str(exc).split()).replace("Error tokenizing data. C error: ", "")
        raise InputError(path, f"not a readable tab-separated table ({msg})") from None


def numeric(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    """Refuse a table whose ``columns`` hold anything but numbers (or empty cells)."""
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() & df[c].notna()
        if bad.any():
            row = str(df.index[bad.to_numpy().nonzero()[0][0]])
            raise InputError(path, f"'{df[c][bad].iloc[0]}' (row '{row}') is not a number", field=c)


@dataclass
class Finding:
    """One sentence of the Summary, linking to its section."""

    anchor: str
    text: str
    caveat: bool = False


@dataclass
class Context:
    page: Page
    results: Path
    design: Design
    metadata: pd.DataFrame | None
    findings: list[Finding] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict)

    def read(self, name: str, **kwargs: object) -> pd.DataFrame | None:
        path = self.results / name
        if not path.is_file():
            return None
        return read_result_table(path, **kwargs)

    def run_info(self, stage: str) -> dict[str, Any]:
        """``logs/<stage>.run-info.json`` (empty when absent or unreadable)."""
        key = f"info:{stage}"
        if key not in self._cache:
            path = self.results / "logs" / f"{stage}.run-info.json"
            try:
                info = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (ValueError, UnicodeDecodeError):
                info = {}
            self._cache[key] = info if isinstance(info, dict) else {}
        return self._cache[key]  # type: ignore[no-any-return]

    def note(self, anchor: str, text: str, *, caveat: bool = False) -> None:
        self.findings.append(Finding(anchor, text, caveat))

    def column(self, name: str | None) -> pd.Series | None:
        """A metadata column as text (``None`` when absent)."""
        if name is None or self.metadata is None or name not in self.metadata.columns:
            return None
        from microtrial.design import level_strings

        return level_strings(self.metadata[name])

    def counts(self) -> pd.DataFrame | None:
        """The feature table (features x samples) or ``None``."""
        if "counts" not in self._cache:
            from microtrial.io.feature_table import read_table

            for name in ("feature-table.biom", "feature-table.tsv"):
                if (self.results / name).is_file():
                    self._cache["counts"] = read_table(self.results / name).to_dataframe()
                    break
            else:
                self._cache["counts"] = None
        return self._cache["counts"]  # type: ignore[no-any-return]

    def taxonomy(self) -> pd.Series | None:
        """``Taxon`` by feature id, or ``None``."""
        if "taxonomy" not in self._cache:
            from microtrial.io.taxonomy import read_taxonomy

            path = self.results / "taxonomy.tsv"
            self._cache["taxonomy"] = read_taxonomy(path)["Taxon"] if path.is_file() else None
        return self._cache["taxonomy"]  # type: ignore[no-any-return]


def fmt_p(p: float) -> str:
    """A p-value as papers print it: two significant digits below 0.1 (``p = 0.012``), two
    decimals above (``p = 0.34``), powers of ten below 0.001 (``p = 2e-7``, never hidden
    behind ``p < 0.001``)."""
    if p != p:  # NaN
        return "p = NA"
    if p < 0.001:
        return f"p = {p:.0e}".replace("e-0", "e-")
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def fmt_num(v: float) -> str:
    if v != v:
        return "NA"
    return f"{v:.3g}"
