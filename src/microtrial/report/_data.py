"""What the report reads besides the result tables: the study's design and comparisons
(resolved as the run resolved them), the metadata, and readable taxon names."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microtrial.design import Comparison, DesignSpec, build_comparisons, design_of_comparisons

log = logging.getLogger(__name__)

RANK_PREFIXES = {"d": "domain", "k": "kingdom", "p": "phylum", "c": "class", "o": "order",
                 "f": "family", "g": "genus", "s": "species"}
RANK_NAMES = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species")


@dataclass(frozen=True)
class Design:
    """The study's design and comparisons as the run used them (columns named by the study).

    ``comparisons`` are :class:`microtrial.design.Comparison` objects, resolved against the
    metadata (:func:`microtrial.design.build_comparisons`); ``source`` says where the
    design came from (``study``, ``run-info.json``, ``inputs/study.yaml``, ``options`` or
    ``none``).
    """

    name: str = ""
    subject: str | None = None
    group: str | None = None
    group_reference: str | None = None
    time: str | None = None
    time_reference: str | None = None
    comparisons: tuple[Comparison, ...] = ()
    clinical_baseline: str | None = None
    clinical_followup: str | None = None
    population: str = "adult"
    source: str = "none"

    @property
    def columns(self) -> list[str]:
        """Group and time columns (those present), in that order."""
        return [c for c in (self.group, self.time) if c]


def _factor(value: Any) -> tuple[str | None, str | None]:
    """``(column, reference)`` of a factor: a model, a :class:`~microtrial.design.Factor`
    or its plain dict (``run-info.json``)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        col, ref = value.get("column"), value.get("reference")
    else:
        col, ref = getattr(value, "column", None), getattr(value, "reference", None)
    return (None if col is None else str(col)), (None if ref is None else str(ref))


def study_design(design: Any, comparisons: Sequence[Comparison], *, name: str = "", clinical: Any = None,
                 source: str = "study") -> Design:
    """A :class:`Design` from a study's design (model, :class:`DesignSpec` or plain dict),
    its resolved comparisons and its clinical settings (model, dict or None)."""
    get = (lambda k: design.get(k)) if isinstance(design, dict) else (lambda k: getattr(design, k, None))
    group, group_ref = _factor(get("group"))
    time, time_ref = _factor(get("time"))
    subject = get("subject")
    cget = (lambda k: clinical.get(k)) if isinstance(clinical, dict) else (lambda k: getattr(clinical, k, None))
    baseline = cget("baseline") if clinical is not None else None
    followup = cget("followup") if clinical is not None else None
    population = cget("population") if clinical is not None else None
    return Design(
        name=name, subject=None if subject is None else str(subject), group=group,
        group_reference=group_ref, time=time, time_reference=time_ref,
        comparisons=tuple(comparisons),
        clinical_baseline=_str(baseline) or time_ref, clinical_followup=_str(followup),
        population=str(population or "adult"), source=source,
    )


def design_of_study(study: Any) -> Design:
    """The design of a loaded :class:`microtrial.study.Study` (what ``run`` passes)."""
    return study_design(study.design, study.comparisons, name=str(study.name), clinical=study.clinical,
                        source="study")


def recorded_design(results: Path) -> Design | None:
    """The design a finished run recorded in ``run-info.json`` (``resolved_study`` and the
    resolved ``comparisons``), or the comparisons a diversity or differential run recorded
    (with the design they imply, :func:`microtrial.design.design_of_comparisons`, logged);
    None when there is neither."""
    path = Path(results) / "run-info.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        log.warning("cannot read %s (%s); the report does not take the design from it", path, exc)
        return None
    if not isinstance(info, dict):
        return None
    study = info.get("resolved_study")
    try:
        if isinstance(study, dict) and isinstance(study.get("design"), dict):
            comparisons = [Comparison.from_dict(c) for c in info.get("comparisons") or ()]
            return study_design(study["design"], comparisons, name=str(study.get("name") or ""),
                                clinical=study.get("clinical"), source="run-info.json")
        recorded = (info.get("options") or {}).get("comparisons")
        if not recorded:
            return None
        comparisons = [Comparison.from_dict(c) for c in recorded]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("%s: the comparisons cannot be read (%s); the report does not take the design "
                    "from it", path, exc)
        return None
    spec = design_of_comparisons(comparisons)
    log.info("design of %s inferred from the comparisons in %s: %s", results, path.name, _describe(spec))
    return study_design(spec, comparisons, name="", clinical=None, source="run-info.json")


def _describe(spec: Any) -> str:
    parts = []
    for key in ("group", "time"):
        col, ref = _factor(getattr(spec, key, None))
        if col is not None:
            parts.append(f"{key} '{col}' (reference '{ref}')")
    if getattr(spec, "subject", None):
        parts.append(f"subject '{spec.subject}'")
    return ", ".join(parts) or "no design columns"


def read_design(results: Path, metadata: pd.DataFrame | None, *, design: Design | None = None,
                columns: DesignSpec | None = None) -> Design:
    """The design and comparisons the report shows, as the run resolved them.

    Parameters
    ----------
    results : Path
        The results folder.
    metadata : DataFrame or None
        The sample metadata the report reads.
    design : Design, optional
        The study's design (:func:`design_of_study`; ``microtrial run`` passes its own, and
        ``microtrial report`` the one of the folder's ``inputs/study.yaml`` when
        ``run-info.json`` recorded none): used as it is.
    columns : DesignSpec, optional
        Design columns named on the command line (``microtrial report --group/--time/
        --subject``): they replace the design's columns; without comparisons from
        elsewhere, the comparisons are :func:`microtrial.design.level_comparisons`'.

    Without ``design``, the folder's ``run-info.json`` (:func:`recorded_design`). Nothing
    is guessed from column names: without a design the samples are shown ungrouped
    (logged).
    """
    found = design if design is not None else recorded_design(Path(results))
    if columns is not None:
        from microtrial.design import level_comparisons

        comparisons = found.comparisons if found is not None else ()
        if not comparisons and metadata is not None:
            comparisons = build_comparisons(columns, level_comparisons(columns, metadata), metadata)
        base = found or Design()
        found = replace(study_design(columns, comparisons, name=base.name, source="options"),
                        clinical_baseline=base.clinical_baseline or _factor(columns.time)[1],
                        clinical_followup=base.clinical_followup, population=base.population)
        log.info("design of the report from the command line: %s", _describe(columns))
    if found is None:
        log.info("no study design for %s (no study file, no run-info.json with comparisons): "
                 "samples are shown ungrouped; name the columns with --group, --time and "
                 "--subject", results)
        return Design()
    return _checked(found, metadata)


def _checked(design: Design, metadata: pd.DataFrame | None) -> Design:
    """``design`` without the columns ``metadata`` lacks (logged)."""
    if metadata is None:
        return design
    missing = {k: getattr(design, k) for k in ("group", "time")
               if getattr(design, k) is not None and getattr(design, k) not in metadata.columns}
    if not missing:
        return design
    log.warning("the metadata has no column %s; the report does not use %s",
                ", ".join(f"'{c}'" for c in missing.values()), ", ".join(missing))
    return replace(design, group=None if "group" in missing else design.group,
                   time=None if "time" in missing else design.time)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def ordered_levels(values: pd.Series, reference: str | None = None) -> list[str]:
    """Levels in order of appearance, the reference first."""
    levels = [str(v) for v in pd.unique(values.dropna().astype(str))]
    if reference is not None and reference in levels:
        levels.remove(reference)
        levels.insert(0, reference)
    return levels


# ---------------------------------------------------------------------------- taxon names
def _levels(taxon: str) -> list[str]:
    return [p.strip() for p in str(taxon).split(";") if p.strip()]


def _clean(level: str) -> str:
    return level.split("__", 1)[1] if "__" in level[:4] else level


def short_taxon(taxon: object) -> str:
    """A readable name: the deepest named rank, without its prefix.

    ``...; f__Lachnospiraceae; g__Roseburia`` -> ``Roseburia``;
    ``...; g__Faecalibacterium; s__prausnitzii`` -> ``Faecalibacterium prausnitzii``;
    ``...; f__Prevotellaceae; g__`` -> ``Prevotellaceae (unnamed genus)``.
    Names that are not lineages (guilds, indices) come back with ``_`` as spaces.
    """
    s = str(taxon)
    levels = _levels(s)
    if not levels or "__" not in levels[0][:4]:
        return s.replace("_", " ") if s.replace("_", "").isalnum() else s
    named = [lv for lv in levels if _clean(lv)]
    if not named:
        return s
    last = named[-1]
    prefix = last.split("__", 1)[0]
    name = _clean(last)
    if prefix == "s" and len(named) > 1 and named[-2].startswith("g__"):
        name = f"{_clean(named[-2])} {name}"
    if _clean(levels[-1]) == "":
        rank = RANK_PREFIXES.get(levels[-1].split("__", 1)[0], "rank")
        name = f"{name} (unnamed {rank})"
    return name


def unique_names(features: list[str], taxa: list[str] | None = None) -> list[str]:
    """Short names for ``features`` (taxon strings, or ids with their ``taxa``), one per
    distinct feature (a feature listed twice keeps one name).

    Distinct features sharing a short name are told apart: an ASV gets ``ASV`` and the
    first 6 characters of its id (``Prevotella ASV bc950e``); a taxon gets its parent
    (``Ruminococcus (Lachnospiraceae)``), then its rank if still needed.
    """
    lineages = taxa if taxa is not None else features
    first: dict[str, str] = {}
    for feat, lin in zip(features, lineages, strict=True):
        first.setdefault(str(feat), str(lin))
    base = {f: short_taxon(lin) for f, lin in first.items()}
    groups: dict[str, list[str]] = {}
    for f, name in base.items():
        groups.setdefault(name, []).append(f)
    final: dict[str, str] = {}
    for name, feats in groups.items():
        if len(feats) == 1:
            final[feats[0]] = name
            continue
        n_taxa = sum(1 for f in feats if not ("__" not in f and f != first[f]))
        for f in feats:
            lin = first[f]
            if "__" not in f and f != lin:  # an ASV id with its lineage
                final[f] = f"{name} ASV {f[:6]}"
                continue
            if n_taxa == 1:
                final[f] = name
                continue
            named = [lv for lv in _levels(lin) if _clean(lv)]
            parent = _clean(named[-2]) if len(named) >= 2 else ""
            final[f] = f"{name} ({parent})" if parent and parent not in name else name
        seen: dict[str, int] = {}
        for f in feats:
            seen[final[f]] = seen.get(final[f], 0) + 1
        for f in feats:
            if seen[final[f]] > 1:
                final[f] = f"{final[f]} [{rank_of(first[f]) or f[:8]}]"
    return [final[str(f)] for f in features]


def rank_of(taxon: object) -> str:
    levels = [lv for lv in _levels(str(taxon)) if "__" in lv[:4]]
    return RANK_PREFIXES.get(levels[-1].split("__", 1)[0], "") if levels else ""


def at_rank(taxon: object, prefix: str) -> str:
    """The named level at rank ``prefix`` (``p``, ``g``...), else ``unassigned``."""
    for lv in _levels(str(taxon)):
        if lv.startswith(f"{prefix}__") and _clean(lv):
            return _clean(lv)
    return "unassigned"


# ---------------------------------------------------------------------------- composition
def composition(counts: pd.DataFrame, taxonomy: pd.Series, prefix: str, top: int = 10) -> pd.DataFrame:
    """Relative abundance (samples x taxa) at rank ``prefix``: the ``top`` taxa by mean
    relative abundance, the rest summed as ``Other``; ``unassigned`` kept apart."""
    rel = counts / counts.sum(axis=0).replace(0, np.nan)
    names = taxonomy.reindex(rel.index).fillna("").map(lambda t: at_rank(t, prefix))
    agg = rel.groupby(names).sum().T  # samples x taxa
    order = agg.mean().sort_values(ascending=False)
    keep = [t for t in order.index if t != "unassigned"][:top]
    out = agg[keep].copy()
    rest = agg.drop(columns=keep).sum(axis=1)
    if "unassigned" in agg.columns:
        out["unassigned"] = agg["unassigned"]
        rest = rest - agg["unassigned"]
    out["Other"] = rest.clip(lower=0)
    return out.fillna(0.0)
