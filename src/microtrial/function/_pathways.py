"""Pathway abundance and coverage from gene-family (EC, KO) abundances.

As PICRUSt2 2.x's ``pathway_pipeline.py`` does it (unstratified input), which follows
HUMAnN2's structured-pathway approach:

1. gene families are regrouped to reactions with a map (EC -> MetaCyc reactions): each
   family's abundance counts for every reaction it maps to, summed per reaction;
2. per sample, MinPath (:mod:`._minpath`) picks the pathways present (or all of them with
   ``minpath=False``);
3. gap filling: when at most one key (non-optional) reaction of a structured pathway is
   missing, the least abundant key reaction takes the abundance of the second least;
4. the abundance of a structured pathway is computed over its structure: an AND block
   (space-separated) is the harmonic mean of its key reactions, then of those plus any
   optional reaction above that mean; an OR block (``,``) is the maximum; any zero key
   reaction makes the AND block 0. An unstructured pathway (e.g. KEGG pathway -> KO) is
   the mean of the upper half of its sorted reaction abundances;
5. coverage (``coverage=True``) replaces each reaction's abundance by the chi-square CDF
   of it with the sample's median reaction abundance as degrees of freedom, then combines
   the same way; for unstructured pathways it is the fraction of reactions above the
   median;
6. abundances are rounded to 4 decimals, coverages to 10; all-zero pathways dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.special

from microtrial.errors import InputError, OptionError
from microtrial.function._minpath import minimal_pathways

log = logging.getLogger(__name__)

_SYNTAX = ("(", ")", "", "+", ",")


@dataclass(frozen=True)
class PathwayMap:
    """Pathway definitions: pathway -> reactions, with structure when the map has one.

    Attributes
    ----------
    reactions : dict
        Pathway -> all its reactions in file order (optional ones without their ``-``).
    key_reactions : dict
        Pathway -> its non-optional reactions (structured maps only).
    structures : dict
        Pathway -> nested lists ``[join, item, ...]`` where ``join`` is ``" "`` (AND),
        ``"+"`` or ``","`` (OR) and items are reaction ids or nested lists.
    """

    reactions: dict[str, list[str]]
    key_reactions: dict[str, list[str]] = field(default_factory=dict)
    structures: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def structured(self) -> bool:
        return bool(self.structures)

    def all_reactions(self) -> set[str]:
        out: set[str] = set()
        for r in self.reactions.values():
            out.update(r)
        return out


def _optional(item: str, names: set[str]) -> bool:
    return not (item in names or item[:2] == "--") and item[:1] == "-"


def _structure(items: Sequence[str], names: set[str]) -> list[Any]:
    root: list[Any] = [" "]
    levels = {0: root}
    level = 0
    for item in items:
        if not item:
            continue
        if _optional(item, names):
            item = item[1:]
        if item == "(":
            new: list[Any] = [" "]
            levels[level + 1] = new
            levels[level].append(new)
            level += 1
        elif item == ")":
            level -= 1
        elif item in ("+", ","):
            levels[level][0] = item
        else:
            levels[level].append(item)
    return root


def parse_pathway_map(lines: Iterable[str], *, reaction_names: Iterable[str] = (),
                      source: str = "--map") -> PathwayMap:
    """Parse a pathway map: one pathway per line, ``id<TAB>reactions...``.

    Structured MetaCyc maps (PICRUSt2's ``metacyc_path2rxn_struc_filt_pro.txt``) give
    the reactions as one space-separated field with ``(``, ``)``, ``,`` (OR), ``+`` and a
    leading ``-`` for optional reactions; unstructured maps (``KEGG_pathways_to_KO.tsv``)
    give one reaction per tab-separated field.
    """
    raw: dict[str, list[str]] = {}
    structured = False
    for line in lines:
        data = line.strip().split("\t")
        if len(data) > 1:
            pathway = data.pop(0)
            raw.setdefault(pathway, []).extend(data)
            if "(" in data[0]:
                structured = True
    if not raw:
        raise InputError(source, "no pathway definitions (expected 'pathway<TAB>reactions' lines)")
    names = set(reaction_names)
    if not structured:
        return PathwayMap({p: [r for r in rx if r] for p, rx in raw.items()})
    reactions: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    structures: dict[str, list[Any]] = {}
    for pathway, fields in raw.items():
        items = " ".join(fields).split(" ")
        structures[pathway] = _structure(items, names)
        rx, key = [], []
        for item in items:
            if item in _SYNTAX:
                continue
            if _optional(item, names):
                item = item[1:]
            else:
                key.append(item)
            rx.append(item)
        reactions[pathway] = rx
        keys[pathway] = key
    return PathwayMap(reactions, keys, structures)


def parse_regroup_map(lines: Iterable[str], *, source: str = "--regroup-map"
                      ) -> dict[str, list[str]]:
    """Parse a regrouping map: ``family<whitespace>new1,new2,...`` per line."""
    out: dict[str, list[str]] = {}
    for lineno, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise InputError(source, f"expected 'id<TAB>new,ids', got '{line.strip()}'",
                             line=lineno)
        out.setdefault(parts[0], []).extend(parts[1].split(","))
    if not out:
        raise InputError(source, "empty regrouping map")
    return out


def regroup(table: pd.DataFrame, mapping: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Functions x samples -> new ids x samples (each function counts for each of its
    new ids; summed per new id; sorted). Functions the map lacks are dropped."""
    old_ids: list[str] = []
    new_ids: list[str] = []
    for func in table.index:
        for new in mapping.get(str(func), ()):
            old_ids.append(func)
            new_ids.append(new)
    if not old_ids:
        return table.iloc[0:0]
    out = table.loc[old_ids]
    out.index = pd.Index(new_ids)
    out = out.groupby(level=0).sum()
    out.index.name = "function"
    return out.sort_index()


def strip_prefix(ids: Sequence[str], known: set[str]) -> dict[str, str] | None:
    """When no id is known but some are once a ``xx:`` prefix is removed (``ko:K00001``
    in PICRUSt2 2.6 trait tables vs ``K00001`` in its KEGG map), the renaming to use."""
    if any(i in known for i in ids):
        return None
    renamed = {i: i.split(":", 1)[1] for i in ids if ":" in i}
    if any(v in known for v in renamed.values()):
        return renamed
    return None


def _harmonic_mean(values: list[float]) -> float:
    if not values:
        return 0.0
    vals = list(np.around(values, decimals=16))
    if min(vals) > 0:
        return float(len(vals) / sum(1.0 / v for v in vals))
    return 0.0


def _structured_score(structure: list[Any], keys: set[str], abun: Mapping[str, float],
                      coverage: bool, median: float | None) -> float:
    key_scores: list[float] = []
    optional_scores: list[float] = []
    join = structure[0]
    for item in structure[1:]:
        if isinstance(item, list):
            key_scores.append(_structured_score(item, keys, abun, coverage, median))
            continue
        score = float(abun.get(item, 0))
        if coverage:  # chi-square CDF with the median as degrees of freedom (chi2.cdf)
            score = float(scipy.special.chdtr(median, score))
        (key_scores if item in keys else optional_scores).append(score)
    if join == ",":
        scores = key_scores + optional_scores
        return max(scores) if scores else 0.0
    value = _harmonic_mean(key_scores)
    if optional_scores:
        value = _harmonic_mean(key_scores + [v for v in optional_scores if v > value])
    return value


def gap_fill(key_reactions: Sequence[str], abun: Mapping[str, float]) -> dict[str, float]:
    """HUMAnN2's gap filling: with at most one key reaction at zero, the least abundant key
    reaction gets the abundance of the second least (pathways with one key reaction are
    left as they are)."""
    filled = dict(abun)
    values = [float(abun.get(r, 0)) for r in key_reactions]
    if sum(1 for v in values if v == 0) > 1 or len(values) < 2:
        return filled
    order = list(np.argsort(values))
    filled[key_reactions[order[0]]] = values[order[1]]
    return filled


def _pathway_value(pathway: str, pmap: PathwayMap, abun: Mapping[str, float],
                   median: float | None, coverage: bool, fill: bool
                   ) -> tuple[float, float | None]:
    rxns = pmap.reactions[pathway]
    path_abun = {r: float(abun.get(r, 0)) for r in rxns}
    if pmap.structured:
        keys = pmap.key_reactions[pathway]
        if fill:
            path_abun = gap_fill(keys, path_abun)
        structure = pmap.structures[pathway]
        value = _structured_score(structure, set(keys), path_abun, False, median)
        cov = (_structured_score(structure, set(keys), path_abun, True, median)
               if coverage else None)
        return value, cov
    values = list(path_abun.values())
    ordered = [values[i] for i in np.argsort(values)]
    upper = ordered[int(len(ordered) / 2):]
    value = sum(upper) / len(upper)
    cov = None
    if coverage:
        cov = sum(1 for v in values if median is not None and v > median) / len(values)
    return value, cov


@dataclass(frozen=True)
class PathwayResult:
    """Outputs of :func:`pathway_abundance`.

    Attributes
    ----------
    abundance : pandas.DataFrame
        Pathways x samples (index name ``pathway``), 4 decimals.
    coverage : pandas.DataFrame or None
        Pathways x samples, 10 decimals (``coverage=True``).
    regrouped : pandas.DataFrame
        The input after regrouping (reactions x samples), restricted to the map's reactions.
    present : dict
        Sample -> pathways called present (MinPath, or all with ``minpath=False``).
    """

    abundance: pd.DataFrame
    coverage: pd.DataFrame | None
    regrouped: pd.DataFrame
    present: dict[str, list[str]]


def pathway_abundance(
    table: pd.DataFrame,
    pathway_map: PathwayMap,
    *,
    regroup_map: Mapping[str, Sequence[str]] | None = None,
    minpath: bool = True,
    gap_filling: bool = True,
    coverage: bool = False,
) -> PathwayResult:
    """Pathway abundances (and coverages) per sample, as PICRUSt2's ``pathway_pipeline.py``.

    Parameters
    ----------
    table : pandas.DataFrame
        Gene families x samples (e.g. ``pred_metagenome_unstrat.tsv.gz`` indexed by
        ``function``); a ``description`` column is ignored.
    pathway_map : PathwayMap
        From :func:`parse_pathway_map`.
    regroup_map : mapping, optional
        Family -> reactions (:func:`parse_regroup_map`); None uses the families as they
        are (KEGG pathways from KO).
    minpath : bool
        Keep only MinPath's parsimonious set of pathways per sample.
    gap_filling : bool
        Gap-fill structured pathways.
    coverage : bool
        Also compute pathway coverage.

    Returns
    -------
    PathwayResult

    Notes
    -----
    Harmonic mean of an AND block with key reaction abundances :math:`a_1..a_k`:
    :math:`k / \\sum_i 1/a_i` (0 if any :math:`a_i = 0`).

    References
    ----------
    Douglas GM et al. (2020) Nat Biotechnol 38:685-688; Franzosa EA et al. (2018) Nat
    Methods 15:962-968 (HUMAnN2); Ye Y, Doak TG (2009) PLoS Comput Biol 5:e1000465.
    """
    table = table.drop(columns=[c for c in ("description",) if c in table.columns])
    table = table.copy()
    table.index = table.index.astype(str)
    samples = [str(c) for c in table.columns]
    table.columns = samples
    for c in samples:
        if not pd.api.types.is_numeric_dtype(table[c]):
            raise OptionError("pathways.input", f"column '{c}' is not numeric")
    first_known = set(regroup_map) if regroup_map is not None else pathway_map.all_reactions()
    renamed = strip_prefix(list(table.index), first_known)
    if renamed is not None:
        log.info("function ids matched to the map without their prefix (e.g. %s -> %s)",
                 *next(iter(renamed.items())))
        table = table.rename(index=renamed)
        table = table.groupby(level=0).sum()
    if regroup_map is not None:
        grouped = regroup(table, regroup_map)
        if grouped.shape[0] == 0:
            raise OptionError("pathways.input", "no function id of the table is in the regrouping map "
                             f"(first ids: {', '.join(map(str, table.index[:3]))}); is it the "
                             "right map for these ids (EC numbers -> MetaCyc reactions)?")
        table = grouped
    known = pathway_map.all_reactions()
    table = table[table.index.isin(known)]
    if table.shape[0] == 0:
        raise OptionError("pathways.input", "no function id of the table is in the pathway map; "
                         "is it the right map for these ids?")

    abun_cols: list[pd.Series] = []
    cov_cols: list[pd.Series] = []
    present_by_sample: dict[str, list[str]] = {}
    for s in samples:
        col = table[s]
        abun = {str(k): float(v) for k, v in col.items()}
        if minpath:
            present = minimal_pathways(
                [r for r, v in abun.items() if v != 0], pathway_map.reactions)
        else:
            present = set(pathway_map.reactions)
        present_by_sample[s] = sorted(present)
        median = None
        if coverage and present:
            values = [abun.get(r, 0.0) for p in present for r in pathway_map.reactions[p]]
            positive = [v for v in values if v > 0]
            median = float(np.median(positive)) if positive else float("nan")
        a_vals: dict[str, float] = {}
        c_vals: dict[str, float] = {}
        for p in sorted(present):
            value, cov = _pathway_value(p, pathway_map, abun, median, coverage, gap_filling)
            a_vals[p] = value
            if cov is not None:
                c_vals[p] = cov
        abun_cols.append(pd.Series(a_vals, dtype=np.float64))
        cov_cols.append(pd.Series(c_vals, dtype=np.float64))

    abundance = _prep(abun_cols, samples, 4)
    cov_df = _prep(cov_cols, samples, 10) if coverage else None
    return PathwayResult(abundance, cov_df, table, present_by_sample)


def _prep(cols: list[pd.Series], samples: list[str], digits: int) -> pd.DataFrame:
    df = pd.concat(cols, axis=1, sort=True) if cols else pd.DataFrame()
    df = df.fillna(0)
    df = df.loc[~(df == 0).all(axis=1)]
    df.columns = samples
    df = df.sort_index(axis=0).round(decimals=digits)
    df.index.name = "pathway"
    return df


def add_descriptions(df: pd.DataFrame, descriptions: Mapping[str, str]) -> pd.DataFrame:
    """Insert a ``description`` column after the ids (``not_found`` for unknown ids), as
    PICRUSt2's ``add_descriptions.py``."""
    out = df.copy()
    out.insert(0, "description", [descriptions.get(str(i), "not_found") for i in out.index])
    return out


def parse_descriptions(lines: Iterable[str]) -> dict[str, str]:
    """``id<TAB>description`` lines (PICRUSt2's description map files)."""
    out: dict[str, str] = {}
    for line in lines:
        parts = line.rstrip("\n\r").split("\t", 1)
        if len(parts) == 2 and parts[0]:
            out[parts[0]] = parts[1]
    return out


CONTRIB_PATH_COLUMNS = ("sample", "function", "taxon", "taxon_abun", "taxon_rel_abun",
                        "genome_function_count", "taxon_function_abun", "taxon_rel_function_abun")


def regroup_contributions(contrib: pd.DataFrame, mapping: Mapping[str, Sequence[str]]
                          ) -> pd.DataFrame:
    """A contribution table with each gene family replaced by its reactions (rows of the
    same sample, reaction and taxon summed)."""
    old, new = [], []
    for i, func in enumerate(contrib["function"].astype(str)):
        for n in mapping.get(func, ()):
            old.append(i)
            new.append(n)
    out = contrib.iloc[old].copy()
    out["function"] = new
    keys = ["sample", "function", "taxon", "taxon_abun", "taxon_rel_abun"]
    values = [c for c in ("genome_function_count", "taxon_function_abun",
                          "taxon_rel_function_abun") if c in out.columns]
    return out.groupby(keys, as_index=False, sort=True)[values].sum()


def pathway_contributions(contrib: pd.DataFrame, result: PathwayResult, pathway_map: PathwayMap,
                          *, regroup_map: Mapping[str, Sequence[str]] | None = None,
                          gap_filling: bool = True) -> pd.DataFrame:
    """Community-wide pathway contributions per taxon (PICRUSt2's ``path_abun_contrib``).

    For each sample and pathway present with abundance :math:`A`, a taxon's share is its
    summed ``taxon_function_abun`` over the pathway's reactions divided by the summed
    reaction abundances of the pathway, times :math:`A` (4 decimals); the same for
    ``taxon_rel_function_abun``; ``genome_function_count`` is then
    ``taxon_function_abun / taxon_abun``.
    """
    table = contrib.copy()
    table["function"] = table["function"].astype(str)
    table["sample"] = table["sample"].astype(str)
    table["taxon"] = table["taxon"].astype(str)
    if regroup_map is not None:
        table = regroup_contributions(table, regroup_map)
    table = table[table["function"].isin(pathway_map.all_reactions())]
    frames = []
    for sample, present in result.present.items():
        if sample not in result.regrouped.columns:
            continue
        abun = {str(k): float(v) for k, v in result.regrouped[sample].items()}
        rows = table[table["sample"] == sample]
        for p in present:
            value, _ = _pathway_value(p, pathway_map, abun, None, False, gap_filling)
            if value == 0:
                continue
            rxns = pathway_map.reactions[p]
            total = sum({r: abun.get(r, 0.0) for r in rxns}.values())
            sub = rows[rows["function"].isin(rxns)]
            if sub.empty:
                continue
            per = sub.groupby(["taxon", "taxon_abun", "taxon_rel_abun"], as_index=False)[
                ["taxon_function_abun", "taxon_rel_function_abun"]].sum()
            per["taxon_function_abun"] = np.around(per["taxon_function_abun"] / total * value, 4)
            per["taxon_rel_function_abun"] = np.around(
                per["taxon_rel_function_abun"] / total * value, 4)
            per = per[per["taxon_function_abun"] > 0].copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                per["genome_function_count"] = per["taxon_function_abun"] / per["taxon_abun"]
            per["function"] = p
            per["sample"] = sample
            frames.append(per[list(CONTRIB_PATH_COLUMNS)])
    if not frames:
        return pd.DataFrame(columns=list(CONTRIB_PATH_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["sample", "function", "taxon"]).reset_index(drop=True)


def pathway_stratified_wide(strat: pd.DataFrame, result: PathwayResult, pathway_map: PathwayMap,
                            *, regroup_map: Mapping[str, Sequence[str]] | None = None,
                            gap_filling: bool = True) -> pd.DataFrame:
    """Wide stratified pathway abundances (PICRUSt2's ``path_abun_strat``) from a wide
    stratified gene-family table (``function``, ``sequence``, one column per sample): each
    sequence's share of the pathway's reaction abundance times the pathway abundance."""
    samples = [c for c in strat.columns if c not in ("function", "sequence")]
    long = strat.melt(id_vars=["function", "sequence"], value_vars=samples, var_name="sample",
                      value_name="taxon_function_abun")
    long = long[long["taxon_function_abun"] != 0].rename(columns={"sequence": "taxon"})
    long["taxon_abun"] = 0.0
    long["taxon_rel_abun"] = 0.0
    long["taxon_rel_function_abun"] = 0.0
    long["genome_function_count"] = 0.0
    rows = pathway_contributions(long, result, pathway_map, regroup_map=regroup_map,
                                 gap_filling=gap_filling)
    if rows.empty:
        return pd.DataFrame(columns=["pathway", "sequence", *samples])
    wide = rows.pivot_table(index=["function", "taxon"], columns="sample",
                            values="taxon_function_abun", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=samples, fill_value=0)
    wide = wide.astype(np.float64)
    wide = wide.loc[~(wide == 0).all(axis=1)].round(4)
    wide.columns.name = None
    wide.index.names = ["pathway", "sequence"]
    return wide.reset_index().sort_values(["pathway", "sequence"]).reset_index(drop=True)
