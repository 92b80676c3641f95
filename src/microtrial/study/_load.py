"""Load a study file into :class:`Study`, reporting schema problems with their lines.

Each top-level section is validated on its own, so one bad section does not hide the
problems of the others: ``validate_study`` can then go on to check the files of every
section that did validate.
"""

from __future__ import annotations

import difflib
import logging
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from microtrial.design import Comparison, build_comparisons, user_level
from microtrial.design import default_comparisons as _default_comparisons
from microtrial.errors import StudyError
from microtrial.study._models import ComparisonSpec, Study, StudySpec
from microtrial.study._yaml import duplicate_keys, line_of, parse_yaml

log = logging.getLogger(__name__)

_MISSING = object()


class Parsed:
    """The outcome of schema validation: valid sections and problems found so far."""

    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.path = path
        self.node = node
        self.sections: dict[str, Any] = {}
        self.problems: list[str] = []

    def where(self, loc: typing.Sequence[str | int]) -> str:
        """``<study>: line N: a.b.c`` for a location in the study file."""
        line = line_of(self.node, loc)
        dotted = ".".join(str(p) for p in loc)
        parts = [str(self.path)]
        if line is not None:
            parts.append(f"line {line}")
        if dotted:
            parts.append(dotted)
        return ": ".join(parts)

    def add(self, loc: typing.Sequence[str | int], message: str) -> None:
        # Files next to the study file are named as the user wrote them (relative).
        base = str(self.path.resolve().parent) + os.sep
        if self.path.is_absolute():
            message = message.replace(base, "")
        else:
            prefix = os.path.dirname(str(self.path))
            message = message.replace(base, prefix + os.sep if prefix else "")
        self.problems.append(f"{self.where(loc)}: {message}")

    def get(self, key: str) -> Any:
        return self.sections.get(key)

    @property
    def ok(self) -> bool:
        return not self.problems


def _model_at(loc: typing.Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that the mapping at ``loc`` is validated against."""
    model: type[BaseModel] | None = StudySpec
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _message(err: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return "required but missing"
    if loc and loc[-1] == "rarefy":
        return f"must be 'auto', 'none' or a depth >= 1 (got {err.get('input')!r})"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in err and kind not in ("model_type", "dict_type"):
        value = err["input"]
        if isinstance(value, str | int | float | bool):
            msg = f"{msg} (got {value!r})"
    return msg


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch tags (``literal['auto','none']``, ``int``) from a loc."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str):
            if part.startswith(("literal[", "constrained-")) or part in _TYPE_TAGS:
                continue
            if part.endswith("[key]"):
                part = part[: -len("[key]")]
        out.append(part)
    return tuple(out)


_TYPE_TAGS = {"int", "str", "float", "bool", "function-before", "function-after"}


def parse_study(path: str | os.PathLike[str]) -> Parsed:
    """Validate every top-level section of the study file against the schema."""
    p = Path(path)
    data, node = parse_yaml(p)
    parsed = Parsed(p, node)
    context = {"base": p.resolve().parent}
    for line, loc, key in duplicate_keys(node):
        dotted = ".".join(str(x) for x in (*loc, key))
        parsed.problems.append(
            f"{p}: line {line}: {dotted}: repeated key (YAML keeps only the last one)"
        )
    fields = StudySpec.model_fields
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            parsed.add((key,), f"unknown key '{key}'{hint}; allowed: {', '.join(fields)}")
    for name, field in fields.items():
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            if field.is_required():
                parsed.add((), f"'{name}' is required but missing")
                continue
            parsed.sections[name] = field.get_default(call_default_factory=True)
            continue
        annotation: Any = field.annotation
        if field.metadata:
            annotation = Annotated[(annotation, *field.metadata)]  # keep BeforeValidators
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        value: Any = _MISSING
        reported: set[tuple[tuple[str | int, ...], str]] = set()
        for _attempt in range(4):
            try:
                value = adapter.validate_python(raw, context=context)
                break
            except ValidationError as exc:
                bad_keys = set()
                for err in exc.errors():
                    loc = (name, *_clean_loc(tuple(err["loc"])))
                    msg = _message(dict(err), loc)
                    if _attempt == 0 and not any(r[0] == loc for r in reported):
                        parsed.add(loc, msg)
                    reported.add((loc, msg))
                    if len(loc) >= 2 and isinstance(raw, dict) and loc[1] in raw:
                        bad_keys.add(loc[1])
                # Salvage: drop the offending keys so the rest of the section can still be
                # checked against the data files (their problems are already reported).
                if not bad_keys or not isinstance(raw, dict):
                    break
                raw = {k: v for k, v in raw.items() if k not in bad_keys}
        if value is _MISSING and isinstance(raw, dict):
            # Last resort: the section's required keys alone (e.g. the reads folder), so
            # that the files it names are still checked.
            model = _inner_model(field.annotation)
            if model is not None:
                minimal = {k: raw[k] for k, f in model.model_fields.items()
                           if f.is_required() and k in raw}
                try:
                    value = adapter.validate_python(minimal, context=context)
                except ValidationError:
                    value = _MISSING
        if value is not _MISSING:
            parsed.sections[name] = value
    _cross_checks(parsed, data)
    return parsed


def _cross_checks(parsed: Parsed, data: dict[str, Any]) -> None:
    """Rules that involve several sections."""
    has_reads = data.get("reads") is not None
    has_table = data.get("table") is not None
    if has_reads and has_table:
        parsed.add(("table",), "give either 'reads' or 'table', not both")
    elif not has_reads and not has_table:
        parsed.add((), "one of 'reads' (FASTQ folder) or 'table' (feature table) is required")
    for key in ("sequences", "taxonomy_file", "tree_file"):
        if data.get(key) is not None and not has_table:
            parsed.add((key,), f"'{key}' goes with an existing 'table' (not with 'reads')")
    if data.get("taxonomy_file") is not None and data.get("taxonomy") is not None:
        parsed.add(("taxonomy",), "give 'taxonomy' (classify) or 'taxonomy_file', not both")
    if data.get("tree_file") is not None and data.get("tree") not in (None, "none"):
        parsed.add(("tree",), "give 'tree' (build one) or 'tree_file', not both")
    comps = parsed.get("comparisons")
    if comps:
        seen: dict[str, int] = {}
        for i, c in enumerate(comps):
            if c.name in seen:
                parsed.add(("comparisons", i, "name"),
                           f"duplicate comparison name '{c.name}' (also item {seen[c.name] + 1})")
            seen.setdefault(c.name, i)
    design = parsed.get("design")
    if design is not None:
        cols = [design.subject, design.group.column] + ([design.time.column] if design.time else [])
        if len(set(cols)) != len(cols):
            parsed.add(("design",), "subject, group and time must be different columns")


def build_study(parsed: Parsed, metadata: Any = None) -> Study:
    """Assemble the :class:`Study` from a problem-free :class:`Parsed`.

    ``metadata`` (the sample metadata DataFrame) is needed only when the file gives no
    ``comparisons``: the default ones are derived from the design columns' levels.
    """
    s = parsed.sections
    design = s["design"]
    specs: tuple[ComparisonSpec, ...] | None = s["comparisons"]
    if specs is None and metadata is None:
        from microtrial.io.metadata import read_metadata

        metadata = read_metadata(s["metadata"])
    # the one design -> comparisons rule (microtrial.design.build_comparisons)
    comparisons = build_comparisons(design, specs, metadata)
    if metadata is not None:
        design = resolved_design(design, metadata)
    taxonomy = s["taxonomy"]
    if s["taxonomy_file"] is not None:
        taxonomy = None
    tree: Any = "none" if s["tree_file"] is not None else s["tree"]
    return Study(
        path=parsed.path, name=s["name"], metadata=s["metadata"], design=design,
        reads=s["reads"], table=s["table"], sequences=s["sequences"],
        taxonomy_file=s["taxonomy_file"], tree_file=s["tree_file"], taxonomy=taxonomy,
        tree=tree, comparisons=comparisons, clinical=s["clinical"], immune=s["immune"],
        metabolites=s["metabolites"], options=s["options"], function=s.get("function"),
    )


def resolved_design(design: Any, metadata: Any) -> Any:
    """``design`` with its reference levels in canonical text for ``metadata``'s columns
    (:func:`microtrial.design.user_level`)."""
    update = {}
    for key in ("group", "time"):
        factor = getattr(design, key)
        if factor is not None and factor.column in metadata.columns:
            ref = user_level(factor.reference, metadata[factor.column])
            update[key] = factor.model_copy(update={"reference": ref})
    return design.model_copy(update=update)


def default_comparisons(design: Any, metadata: Any) -> tuple[Comparison, ...]:
    """Comparisons implied by the design when the study file lists none
    (:func:`microtrial.design.default_comparisons`)."""
    return tuple(_default_comparisons(design, metadata))


@dataclass(frozen=True)
class StudyDesign:
    """What a study file says about its design, read tolerantly (:func:`load_design`).

    Attributes
    ----------
    name : str
        The study's name.
    design : Design or None
        The ``design:`` section (reference levels in canonical text for the metadata), or
        None when it has problems.
    comparisons : tuple of microtrial.design.Comparison
        The comparisons, resolved as :func:`load_study` resolves them (the file's, or the
        design's defaults); empty when they cannot be built.
    clinical : ClinicalSettings or None
        The ``clinical:`` section (None when absent or with problems).
    problems : tuple of str
        Every problem of the file (``<file>: line N: key: what``); the sections they are in
        are left out.
    """

    name: str
    design: Any
    comparisons: tuple[Comparison, ...]
    clinical: Any
    problems: tuple[str, ...]


def load_design(path: str | os.PathLike[str], metadata: Any = None) -> StudyDesign:
    """The design, comparisons and clinical settings of a study file, for a reader that can
    do without the rest (the report of a results folder keeps a copy of its study file in
    ``inputs/``): the file's other sections may have problems, or name files that are gone.

    ``metadata`` resolves the comparisons' levels and derives the default comparisons (none
    without it when the file lists none).

    Raises
    ------
    StudyError
        The file cannot be read as YAML.
    """
    parsed = parse_study(path)
    design = parsed.get("design")
    specs = parsed.get("comparisons")
    comparisons: tuple[Comparison, ...] = ()
    if specs is not None or (design is not None and metadata is not None):
        from microtrial.design import DesignSpec

        try:
            comparisons = build_comparisons(design if design is not None else DesignSpec(), specs, metadata)
        except (KeyError, ValueError) as exc:  # metadata without a column the design names
            parsed.problems.append(f"{parsed.path}: comparisons: cannot be resolved against the "
                                   f"metadata ({exc})")
    if design is not None and metadata is not None:
        design = resolved_design(design, metadata)
    return StudyDesign(name=str(parsed.get("name") or ""), design=design, comparisons=comparisons,
                       clinical=parsed.get("clinical"), problems=tuple(parsed.problems))


def option_line(path: str | os.PathLike[str], key: str) -> int | None:
    """The 1-based line of a dotted study-file key (``options.permutations``) in the study
    file, or of its closest written parent when the key is not written; None when neither
    is (the option has its default) or the file cannot be parsed."""
    try:
        _data, node = parse_yaml(Path(path))
    except StudyError:
        return None
    return line_of(node, key.split("."))


def load_study(path: str | os.PathLike[str]) -> Study:
    """Load and schema-check a study file; paths are resolved relative to its folder.

    Checks the schema only (unknown keys, types, ranges, required keys); use
    :func:`microtrial.study.validate_study` to check the files it names as well.

    Raises
    ------
    StudyError
        Every schema problem, each with the study file's line.
    InputError
        The metadata cannot be read when default comparisons must be derived from it.
    """
    parsed = parse_study(path)
    if not parsed.ok:
        raise StudyError(path, parsed.problems)
    return build_study(parsed)
