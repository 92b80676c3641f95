"""The study design as stages see it: comparisons between groups or within subjects.

Four kinds of comparison (docs/study-file.md):

- ``between``: independent groups, two or more levels of ``column`` (``(test, reference)``
  for two; with more, an omnibus test over all levels, then every pair, BH across pairs);
- ``paired``: the same subjects at two levels of ``column``;
- ``longitudinal``: the same subjects at two or more time points (``levels`` in time order,
  the first is the reference): a mixed model with a subject random intercept and time as a
  factor, a trend test, Friedman for complete subjects;
- ``interaction``: ``column`` is the within-subject factor (``(test, reference)``, e.g.
  ``("4", "0")``), ``by`` the between-subject factor (``(test, reference)`` arms, e.g.
  ``("il2", "control")``); the estimate is the difference between arms of the
  within-subject change, the term is ``<by>:<column>``.

:func:`build_comparisons` is the one function that turns a study design, the study file's
comparisons (or none) and the metadata into :class:`Comparison` objects; the study file,
the run engine and the command line (``microtrial diversity --group/--time``, ``microtrial
differential --group/--levels``, through :class:`DesignSpec` and
:func:`level_comparisons`) all use it.

Metadata levels are compared as text: :func:`level_text` is the one canonical text of a
value (a whole number read as a float prints as ``"1"``, not ``"1.0"``), and
:func:`user_level` turns a level the user typed (``"1"``, ``"1.0"``, YAML ``1``) into that
text for the column it names, so that typed levels match numeric columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Number
from typing import Any, Literal

import pandas as pd

ComparisonKind = Literal["between", "paired", "longitudinal", "interaction"]
KINDS: tuple[str, ...] = ("between", "paired", "longitudinal", "interaction")
#: kinds whose samples repeat within subjects (need ``subject``)
WITHIN_SUBJECT_KINDS: tuple[str, ...] = ("paired", "longitudinal", "interaction")


@dataclass(frozen=True)
class Comparison:
    """One contrast the study asks for.

    Attributes
    ----------
    name : str
        Label used in output tables (``contrast`` column), e.g. ``patient-vs-control``.
    kind : {"between", "paired", "longitudinal", "interaction"}
        ``between``: independent groups (Mann-Whitney, PERMANOVA, ...). ``paired``: the same
        subjects at two levels of ``column`` (Wilcoxon signed-rank, strata by subject).
        ``longitudinal`` and ``interaction``: see the module notes.
    column : str
        Metadata column holding the levels (e.g. ``group`` or ``time``).
    levels : tuple of str
        ``(test, reference)``, e.g. ``("patient", "control")`` or ``("week12", "baseline")``;
        effects are test relative to reference. ``between`` may list more than two levels;
        ``longitudinal`` lists two or more time points in time order.
    where : mapping
        Metadata filters applied first, e.g. ``{"time": "baseline"}``.
    subject : str or None
        Subject column (required for ``paired``, ``longitudinal`` and ``interaction``).
    by : str or None
        ``interaction`` only: the between-subject column (e.g. ``treatment``).
    by_levels : tuple of str
        ``interaction`` only: ``(test, reference)`` arms of ``by``.
    random : tuple of str
        Further random-intercept columns (e.g. ``("cage",)``) for the models that take them.
    covariates : tuple of str
        Adjustment covariates of this comparison (added to the study-wide ones).
    """

    name: str
    kind: ComparisonKind
    column: str
    levels: tuple[str, ...]
    where: Mapping[str, str] = field(default_factory=dict)
    subject: str | None = None
    by: str | None = None
    by_levels: tuple[str, ...] = ()
    random: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()

    @property
    def term(self) -> str:
        """The model term this comparison tests: ``column``, or ``by:column`` for an
        interaction."""
        return f"{self.by}:{self.column}" if self.kind == "interaction" and self.by else self.column

    @property
    def columns(self) -> list[str]:
        """Every metadata column the comparison reads."""
        cols = [self.column, *self.where, *([self.subject] if self.subject else []),
                *([self.by] if self.by else []), *self.random, *self.covariates]
        return list(dict.fromkeys(cols))

    def pairs(self) -> list[tuple[str, str]]:
        """Two-level contrasts a ``between`` comparison with more than two levels breaks
        into (every pair, earlier level as test); otherwise ``[levels]``."""
        if self.kind == "between" and len(self.levels) > 2:
            return [(a, b) for i, a in enumerate(self.levels) for b in self.levels[i + 1:]]
        return [(self.levels[0], self.levels[1])]

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
        if self.by is not None and self.by_levels:
            by = md[self.by]
            by_text = level_strings(by)
            by_spelled = {user_level(lv, by): lv for lv in reversed(self.by_levels)}
            md = md[by_text.isin(list(by_spelled))].copy()
            md[self.by] = by_text[md.index].map(by_spelled).astype(object)
        return md

    def resolved(self, metadata: pd.DataFrame) -> Comparison:
        """This comparison with its levels and ``where`` values in canonical text for the
        columns of ``metadata`` (``("1.0", "0")`` on a numeric column becomes ``("1", "0")``);
        columns ``metadata`` lacks keep the values as given."""

        def canon(value: str, col: str) -> str:
            return user_level(value, metadata[col]) if col in metadata.columns else value

        levels = tuple(canon(lv, self.column) for lv in self.levels)
        where = {col: canon(value, col) for col, value in self.where.items()}
        by_levels = tuple(canon(lv, self.by) for lv in self.by_levels) if self.by else ()
        return replace(self, levels=levels, where=where, by_levels=by_levels)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """A comparison from its plain form (``dataclasses.asdict``, as ``run-info.json``
        records it: lists for tuples, ``where`` a mapping)."""
        return cls(
            name=str(data["name"]), kind=data["kind"], column=str(data["column"]),
            levels=tuple(str(v) for v in data["levels"]),
            where={str(k): str(v) for k, v in (data.get("where") or {}).items()},
            subject=None if data.get("subject") is None else str(data["subject"]),
            by=None if data.get("by") is None else str(data["by"]),
            by_levels=tuple(str(v) for v in data.get("by_levels") or ()),
            random=tuple(str(v) for v in data.get("random") or ()),
            covariates=tuple(str(v) for v in data.get("covariates") or ()),
        )


REFERENCE_NAMES: tuple[str, ...] = (
    "control", "controls", "healthy", "hc", "baseline", "week0", "w0", "pre", "before",
    "early", "day0")
"""Level names taken as the reference of a column when none is named (case-insensitive)."""


@dataclass(frozen=True)
class Factor:
    """A design column and its reference level."""

    column: str
    reference: str


@dataclass(frozen=True)
class DesignSpec:
    """A design as the command line describes it (the study file's ``design:`` section has
    the same attributes): the subject column and the group and time factors, each optional.
    """

    subject: str | None = None
    group: Factor | None = None
    time: Factor | None = None


@dataclass(frozen=True)
class ComparisonSpec:
    """One requested comparison, as :func:`build_comparisons` reads it (the study file's
    comparisons have the same attributes). ``subject`` lets a ``between`` comparison name
    the subject column of repeated samples (within-subject kinds take the design's)."""

    name: str
    kind: ComparisonKind
    column: str
    levels: tuple[str, ...]
    where: Mapping[str, str] = field(default_factory=dict)
    subject: str | None = None


RESPONSE_COLUMN = "response"
"""The metadata column the clinical stage adds (``metadata-with-response.tsv``): each
sample's subject as a responder or not (:data:`RESPONSE_LEVELS`, empty when not evaluable).
A comparison may compare or filter on it; the report leaves it out of the cohort table."""

RESPONSE_LEVELS: tuple[str, str] = ("responder", "non-responder")
"""The levels of :data:`RESPONSE_COLUMN` (IMACS definition of improvement met, or not)."""


def reference_level(levels: Sequence[str], given: str | None = None) -> str:
    """The reference among ``levels``: ``given`` when it is one of them, else the first
    level named like a reference (:data:`REFERENCE_NAMES`: control, baseline, week0, ...),
    else the first level."""
    if given is not None and given in levels:
        return given
    for level in levels:
        if level.lower() in REFERENCE_NAMES:
            return level
    return levels[0]


def paired_kind(metadata: pd.DataFrame, column: str, levels: tuple[str, str],
                subject: str | None) -> ComparisonKind:
    """``paired`` when at least two subjects have samples at both levels of ``column``,
    else ``between`` (always ``between`` without a subject column)."""
    if subject is None:
        return "between"
    sub = metadata[level_strings(metadata[column]).isin(list(levels))]
    per_subject = sub.groupby(sub[subject].astype(str))[column].nunique()
    return "paired" if (per_subject == 2).sum() >= 2 else "between"


def design_of_columns(metadata: pd.DataFrame, *, group: str | None = None, time: str | None = None,
                      subject: str | None = None, reference: str | None = None) -> DesignSpec:
    """The design named by columns (``--group``, ``--time``, ``--subject``), each factor's
    reference :func:`reference_level` among the column's levels (``reference`` when it is
    one of them; typed levels match numeric columns, :func:`user_level`).

    Raises
    ------
    KeyError
        A named column is not in ``metadata`` (the message names it).
    """
    for col in (group, time, subject):
        if col is not None and col not in metadata.columns:
            raise KeyError(col)
    factors: dict[str, Factor] = {}
    for key, col in (("group", group), ("time", time)):
        if col is None:
            continue
        levels = column_levels(metadata[col])
        given = None if reference is None else user_level(reference, metadata[col])
        factors[key] = Factor(col, reference_level(levels, given) if levels else str(reference or ""))
    return DesignSpec(subject=subject, group=factors.get("group"), time=factors.get("time"))


def design_of_comparisons(comparisons: Sequence[Comparison]) -> DesignSpec:
    """The design that a list of comparisons implies, for a results folder that records
    its comparisons but not its design (``microtrial diversity`` or ``differential``):
    the group is the compared column of the first ``between`` comparison (its last level,
    the reference, as :func:`level_comparisons` writes them), the time the compared column
    of the first within-subject comparison (reference: the first level of a
    ``longitudinal`` one, else the last), the subject that comparison's subject (else the
    first one given). Callers log what this inferred."""
    group = time = None
    subject = None
    for c in comparisons:
        if c.kind == "between" and group is None:
            group = Factor(c.column, c.levels[-1])
        elif c.kind in WITHIN_SUBJECT_KINDS and time is None:
            time = Factor(c.column, c.levels[0] if c.kind == "longitudinal" else c.levels[-1])
            subject = subject or c.subject
        if c.kind == "interaction" and c.by is not None and group is None and c.by_levels:
            group = Factor(c.by, c.by_levels[-1])
    if subject is None:
        subject = next((c.subject for c in comparisons if c.subject), None)
    if group is not None and time is not None and group.column == time.column:
        time = None
    return DesignSpec(subject=subject, group=group, time=time)


def level_comparisons(design: DesignSpec, metadata: pd.DataFrame) -> list[ComparisonSpec]:
    """Each level of the group column against its reference (``between``), and each level
    of the time column against its reference within subjects (``paired``), named
    ``<column>-<level>-vs-<reference>``, over all samples (no filters): what ``microtrial
    diversity --group/--time`` asks for. Levels in :func:`column_levels` order."""
    out: list[ComparisonSpec] = []
    for factor, kind in ((design.group, "between"), (design.time, "paired")):
        if factor is None:
            continue
        col, ref = factor.column, factor.reference
        for level in column_levels(metadata[col]):
            if level != ref:
                out.append(ComparisonSpec(f"{col}-{level}-vs-{ref}", kind, col,  # type: ignore[arg-type]
                                          (level, ref)))
    return out


def covariate_problem(comparison: Comparison, covariate: str) -> str | None:
    """Why ``covariate`` cannot adjust ``comparison`` (its compared column, or the subject
    column of a within-subject comparison), else None. The differential stage refuses such
    a covariate and ``microtrial validate`` reports it, with this one message."""
    if covariate == comparison.column:
        return (f"'{covariate}' is the compared column of comparison '{comparison.name}'; "
                "a covariate cannot be the group itself")
    if comparison.subject is not None and covariate == comparison.subject:
        return (f"'{covariate}' is the subject column of comparison '{comparison.name}'; "
                "subjects are not a covariate")
    return None


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


def build_comparisons(design: Any, specs: Sequence[Any] | None,
                      metadata: pd.DataFrame | None) -> tuple[Comparison, ...]:
    """The study's comparisons, ready for the stages.

    Parameters
    ----------
    design : object
        The study's design (``subject``, ``group.column``/``group.reference``, optional
        ``time.column``/``time.reference``), e.g. :class:`microtrial.study.Design`.
    specs : sequence or None
        The study file's comparisons (objects with ``name, kind, column, levels, where`` and
        optionally ``by`` (``column``, ``levels``), ``random``, ``covariates``, and, for a
        ``between`` comparison of repeated samples, ``subject``), or the command line's
        (:class:`ComparisonSpec`); None derives them from the design
        (:func:`default_comparisons`).
    metadata : pandas.DataFrame or None
        Sample metadata; when given, levels are put in canonical text for its columns
        (:meth:`Comparison.resolved`). Needed when ``specs`` is None.

    Every within-subject kind (``paired``, ``longitudinal``, ``interaction``) carries
    ``design.subject``.
    """
    if specs is None:
        if metadata is None:
            raise ValueError("metadata is needed to derive the default comparisons")
        out = default_comparisons(design, metadata)
    else:
        out = []
        for c in specs:
            by = getattr(c, "by", None)
            out.append(Comparison(
                name=c.name, kind=c.kind, column=c.column, levels=tuple(c.levels),
                where=dict(c.where),
                subject=(design.subject if c.kind in WITHIN_SUBJECT_KINDS
                         else getattr(c, "subject", None)),
                by=None if by is None else by.column,
                by_levels=() if by is None else tuple(by.levels),
                random=tuple(getattr(c, "random", ()) or ()),
                covariates=tuple(getattr(c, "covariates", ()) or ()),
            ))
    if metadata is not None:
        out = [c.resolved(metadata) for c in out]
    return tuple(out)


def default_comparisons(design: Any, metadata: pd.DataFrame) -> list[Comparison]:
    """Comparisons implied by the design when the study file lists none.

    Each non-reference group level against the reference group (at the reference time
    point when there is a time column), and, within each group that has subjects sampled
    at both, each non-reference time point against the reference time point (paired).
    """
    out: list[Comparison] = []
    g, t = design.group, design.time
    if g.column not in metadata.columns:
        return out
    g_ref = user_level(g.reference, metadata[g.column])
    g_levels = list(dict.fromkeys(level_text(v) for v in metadata[g.column].dropna()))
    gcol = level_strings(metadata[g.column])
    t_ref = None if t is None else (user_level(t.reference, metadata[t.column])
                                     if t.column in metadata.columns else t.reference)
    for level in g_levels:
        if level == g_ref:
            continue
        where = {t.column: t_ref} if t is not None and t_ref is not None else {}
        out.append(Comparison(f"{level}-vs-{g_ref}", "between", g.column, (level, g_ref),
                              where))
    if t is not None and t.column in metadata.columns and design.subject in metadata.columns:
        tcol = level_strings(metadata[t.column])
        t_levels = list(dict.fromkeys(tcol.dropna()))
        for level in t_levels:
            if level == t_ref:
                continue
            groups = []
            for gl in g_levels:
                rows = metadata[gcol == gl]
                subj_ref = set(rows[tcol[rows.index] == t_ref][design.subject].dropna())
                subj_lvl = set(rows[tcol[rows.index] == level][design.subject].dropna())
                if subj_ref & subj_lvl:
                    groups.append(gl)
            for gl in groups:
                name = f"{level}-vs-{t_ref}" + (f"-in-{gl}" if len(groups) > 1 else "")
                out.append(Comparison(name, "paired", t.column, (level, str(t_ref)),
                                      {g.column: gl}, subject=design.subject))
    return out
