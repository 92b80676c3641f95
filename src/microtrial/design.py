"""The study design as stages see it: comparisons between groups or within subjects.

Metadata levels are compared as text: :func:`level_text` is the one canonical text of a
value (a whole number read as a float prints as ``"1"``, not ``"1.0"``), and
:func:`user_level` turns a level the user typed (``"1"``, ``"1.0"``, YAML ``1``) into that
text for the column it names, so that typed levels match numeric columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from numbers import Number
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
        """The metadata rows this comparison uses (after ``where``, levels only).

        Levels and ``where`` values match by :func:`user_level` (``"1"`` and ``"1.0"`` both
        match the number 1). In the rows returned, ``column`` holds the comparison's own
        level strings (``levels[0]`` or ``levels[1]``), so that stages can compare it with
        ``levels`` as text.
        """
        md = metadata
        for col, value in self.where.items():
            md = md[level_strings(md[col]) == user_level(value, md[col])]
        column = md[self.column]
        text = level_strings(column)
        spelled = {user_level(lv, column): lv for lv in reversed(self.levels)}
        md = md[text.isin(list(spelled))].copy()
        md[self.column] = text[md.index].map(spelled).astype(object)
        return md

    def resolved(self, metadata: pd.DataFrame) -> Comparison:
        """This comparison with its levels and ``where`` values in canonical text for the
        columns of ``metadata`` (``("1.0", "0")`` on a numeric column becomes ``("1", "0")``);
        columns ``metadata`` lacks keep the values as given."""

        def canon(value: str, col: str) -> str:
            return user_level(value, metadata[col]) if col in metadata.columns else value

        levels = (canon(self.levels[0], self.column), canon(self.levels[1], self.column))
        where = {col: canon(value, col) for col, value in self.where.items()}
        return replace(self, levels=levels, where=where)


def level_text(value: object) -> str:
    """The canonical text of one metadata level.

    Whole numbers (``1.0``, ``np.int64(1)``) print without a decimal part (``"1"``), other
    numbers as Python prints them (``"0.5"``), strings and everything else unchanged.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Number) and not isinstance(value, bool):
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value)
        if math.isfinite(x) and x.is_integer():
            return str(int(x))
        return str(x)
    return str(value)


def level_strings(values: pd.Series) -> pd.Series:
    """Metadata values as level labels (:func:`level_text`); missing values stay missing
    (a numeric ``time`` column of 0/12 matches the levels ``"0"``/``"12"``)."""
    return values.map(level_text, na_action="ignore")


def _is_numeric(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    present = values.dropna()
    return len(present) > 0 and all(
        isinstance(v, Number) and not isinstance(v, bool) for v in present
    )


def user_level(text: str, values: pd.Series) -> str:
    """The canonical text of the level ``text`` names in the column ``values``.

    On a numeric column a number typed as ``"1"``, ``"1.0"`` or ``"1e0"`` names the value
    1, whose text is ``"1"``; elsewhere (and for text that is not a number) ``text`` is
    returned unchanged.
    """
    text = str(text)
    if not _is_numeric(values):
        return text
    try:
        x = float(text)
    except ValueError:
        return text
    return level_text(x)


def column_levels(values: pd.Series) -> list[str]:
    """The distinct levels of a metadata column as canonical text, missing values left out;
    numeric columns in numeric order, others alphabetically."""
    present = values.dropna()
    if _is_numeric(values):
        return [level_text(v) for v in sorted(set(present.astype(float)))]
    return sorted(set(level_strings(present)))
