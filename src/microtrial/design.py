"""The study design as stages see it: comparisons between groups or within subjects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

ComparisonKind = Literal["between", "paired"]


@dataclass(frozen=True)
class Comparison:
    """One contrast the study asks for.

    Attributes
    ----------
    name : str
        Label used in output tables (``contrast`` column), e.g. ``patient-vs-control``.
    kind : {"between", "paired"}
        ``between``: independent groups (Mann-Whitney, PERMANOVA, ...). ``paired``: the same
        subjects at two levels of ``column`` (Wilcoxon signed-rank, strata by subject).
    column : str
        Metadata column holding the levels (e.g. ``group`` or ``time``).
    levels : tuple of str
        ``(test, reference)``, e.g. ``("patient", "control")`` or ``("week12", "baseline")``;
        effects are test relative to reference.
    where : mapping
        Metadata filters applied first, e.g. ``{"time": "baseline"}``.
    subject : str or None
        Subject column (required for ``paired``).
    """

    name: str
    kind: ComparisonKind
    column: str
    levels: tuple[str, str]
    where: Mapping[str, str] = field(default_factory=dict)
    subject: str | None = None

    def samples(self, metadata: pd.DataFrame) -> pd.DataFrame:
        """The metadata rows this comparison uses (after ``where``, levels only)."""
        md = metadata
        for col, value in self.where.items():
            md = md[level_strings(md[col]) == str(value)]
        return md[level_strings(md[self.column]).isin(self.levels)]


def level_strings(values: pd.Series) -> pd.Series:
    """Metadata values as level labels: whole numbers read as floats print without ``.0``
    (a numeric ``time`` column of 0/12 matches the levels ``"0"``/``"12"``)."""

    def label(v: object) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return values.map(label)
