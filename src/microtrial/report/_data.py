"""What the report reads besides the result tables: the study's design (from the copy of the
study file a run keeps in ``inputs/study.yaml``), the metadata, and readable taxon names."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

RANK_PREFIXES = {"d": "domain", "k": "kingdom", "p": "phylum", "c": "class", "o": "order",
                 "f": "family", "g": "genus", "s": "species"}
RANK_NAMES = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species")


@dataclass(frozen=True)
class Design:
    """The study's design as the study file states it (columns named by the study)."""

    name: str = ""
    subject: str | None = None
    group: str | None = None
    group_reference: str | None = None
    time: str | None = None
    time_reference: str | None = None
    comparisons: tuple[dict[str, Any], ...] = ()
    clinical_baseline: str | None = None
    clinical_followup: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Group and time columns (those present), in that order."""
        return [c for c in (self.group, self.time) if c]


def _column(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, dict):
        col = value.get("column")
        ref = value.get("reference")
        return (None if col is None else str(col)), (None if ref is None else str(ref))
    if value is None:
        return None, None
    return str(value), None


def read_design(results: Path, metadata: pd.DataFrame | None) -> Design:
    """The design from ``inputs/study.yaml``; without it, the common column names that exist."""
    import yaml

    path = results / "inputs" / "study.yaml"
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
            log.warning("cannot read %s (%s); guessing the design from the metadata", path, exc)
    design = data.get("design") if isinstance(data.get("design"), dict) else {}
    assert isinstance(design, dict)
    group, group_ref = _column(design.get("group"))
    time, time_ref = _column(design.get("time"))
    subject = design.get("subject")
    cols = set(metadata.columns) if metadata is not None else set()
    if not data:  # no study file: guess from the metadata
        group = "group" if "group" in cols else None
        time = "time" if "time" in cols else None
        subject = "subject" if "subject" in cols else None
    comparisons = tuple(c for c in data.get("comparisons") or () if isinstance(c, dict))
    clinical = data.get("clinical") if isinstance(data.get("clinical"), dict) else {}
    assert isinstance(clinical, dict)
    return Design(
        name=str(data.get("name") or ""), subject=None if subject is None else str(subject),
        group=group if group in cols or not cols else None, group_reference=group_ref,
        time=time if time in cols or not cols else None, time_reference=time_ref,
        comparisons=comparisons,
        clinical_baseline=_str(clinical.get("baseline")) or time_ref,
        clinical_followup=_str(clinical.get("followup")), raw=data,
    )


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
