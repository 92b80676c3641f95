"""The all-in-one function stage: every step from ASVs to metagenomes and pathways.

Two routes:

- ``picrust2-reference``: place the ASVs on the reference tree, predict every trait table of
  the reference (and the 16S copy number, with NSTI) by hidden-state prediction, predict
  the metagenomes, then MetaCyc pathways from EC (and KEGG pathways from KO when a KEGG map
  is given);
- ``embedded-genus-table``: each ASV takes its genus's (else family's) mean 16S copies and
  CAZyme family counts from the packaged table (:mod:`._genus`); metagenomes from those;
- ``genus-trait-table``: the embedded route plus a user's own genus-level trait table
  (e.g. EC copy numbers per genus, as ``microtrial simulate`` writes for its designed
  taxa): each ASV takes its genus's (else family's, else order's) row, metagenomes from
  those, and MetaCyc pathways from EC with the given pathway maps (by default the packaged
  copies of PICRUSt2's).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from microtrial.errors import InputError, OptionError
from microtrial.function._genus import (
    MARKER_COLUMN,
    predict_by_genus,
    predict_from_genus_traits,
    trait_kind,
)
from microtrial.function._metagenome import MetagenomeResult, predict_metagenome
from microtrial.function._pathways import PathwayMap, PathwayResult, pathway_abundance

log = logging.getLogger(__name__)

ROUTE_REFERENCE = "picrust2-reference"
ROUTE_GENUS = "embedded-genus-table"
ROUTE_GENUS_TRAITS = "genus-trait-table"
MARKER_TRAIT = "16S"


@dataclass(frozen=True)
class PathwaySpec:
    """A pathway map to apply to one trait's metagenome (e.g. EC -> MetaCyc)."""

    trait: str
    name: str
    pathway_map: PathwayMap
    regroup_map: Mapping[str, Sequence[str]] | None = None
    descriptions: Mapping[str, str] | None = None


@dataclass(frozen=True)
class FunctionResult:
    """Everything the all-in-one stage computes.

    Attributes
    ----------
    route : str
        ``picrust2-reference``, ``embedded-genus-table`` or ``genus-trait-table``.
    predictions : dict
        Trait table name -> per-ASV predictions (index ``sequence``; ``metadata_NSTI`` when
        known).
    marker_pred : pandas.DataFrame
        Per-ASV 16S copies (and ``metadata_NSTI``).
    nsti : pandas.Series or None
        Per-ASV NSTI (reference route).
    metagenomes : dict
        Trait -> :class:`MetagenomeResult`.
    pathways : PathwayResult or None
        Pathways from the first :class:`PathwaySpec` (MetaCyc from EC).
    other_pathways : dict
        Further pathway results by spec name (e.g. KEGG from KO).
    """

    route: str
    predictions: dict[str, pd.DataFrame]
    marker_pred: pd.DataFrame
    nsti: pd.Series | None
    metagenomes: dict[str, MetagenomeResult]
    pathways: PathwayResult | None = None
    pathway_descriptions: Mapping[str, str] | None = None
    pathway_map: str | None = None
    other_pathways: dict[str, PathwayResult] = field(default_factory=dict)
    tree_newick: str | None = None
    matches: pd.DataFrame | None = None
    unplaced: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def run_function(
    counts: pd.DataFrame,
    *,
    sequences: Mapping[str, str] | None = None,
    reference: Any = None,
    taxonomy: pd.DataFrame | None = None,
    pathway_specs: Sequence[PathwaySpec] = (),
    max_nsti: float = 2.0,
    stratified: bool = False,
    hsp_method: str = "mp",
    minpath: bool = True,
    gap_filling: bool = True,
    coverage: bool = False,
    threads: int = 1,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    genus_traits: pd.DataFrame | None = None,
    genus_traits_name: str = "genus_traits",
) -> FunctionResult:
    """Predict functions for the ASVs of ``counts`` (ASVs x samples).

    Parameters
    ----------
    counts : pandas.DataFrame
        ASV counts, ASVs as rows.
    sequences : mapping, optional
        ASV id -> sequence (reference route).
    reference : PicrustReference, optional
        From :func:`microtrial.function.load_reference`; None takes the genus route.
    taxonomy : pandas.DataFrame, optional
        ``Taxon`` per ASV (genus route).
    pathway_specs : sequence of PathwaySpec
        Pathway maps to apply (reference route); the first gives ``pathways``.
    max_nsti, stratified : see :func:`predict_metagenome`.
    hsp_method, seed : see :func:`microtrial.function.predict_traits`.
    minpath, gap_filling, coverage : see :func:`pathway_abundance`.
    genus_traits : pandas.DataFrame, optional
        Genus route only: a genus-level trait table (:func:`check_genus_traits`); its
        traits (named ``ec``, ``ko`` or ``traits`` by their columns) are predicted per ASV
        and ``pathway_specs`` are applied to their metagenomes.
    genus_traits_name : str
        The trait table's name in messages (its file).

    Returns
    -------
    FunctionResult
    """
    timings: dict[str, float] = {}
    if reference is None:
        if taxonomy is None:
            raise OptionError("function.taxonomy", "the genus route needs each ASV's taxonomy")
        t0 = time.perf_counter()
        in_table = taxonomy.loc[taxonomy.index.isin(counts.index)]
        if in_table.empty:
            raise OptionError("function.taxonomy", "no ASV of the table is in the taxonomy")
        if genus_traits is not None:
            return _genus_traits_route(counts, in_table, genus_traits, genus_traits_name,
                                       pathway_specs, max_nsti=max_nsti, stratified=stratified,
                                       minpath=minpath, gap_filling=gap_filling,
                                       coverage=coverage)
        gp = predict_by_genus(in_table)
        meta = predict_metagenome(counts, gp.traits, gp.marker, max_nsti=max_nsti,
                                  stratified=stratified)
        timings["genus"] = time.perf_counter() - t0
        genus_preds = {MARKER_TRAIT: gp.marker, "cazy": gp.traits}
        return FunctionResult(ROUTE_GENUS, genus_preds, gp.marker, None, {"cazy": meta},
                              matches=gp.matches, timings=timings)

    import microtrial.function as _function

    place_sequences = getattr(_function, "place_sequences", None)
    predict_traits = _function.predict_traits
    if place_sequences is None:
        raise OptionError("function.reference", "placement is not available in this build")

    if sequences is None:
        raise OptionError("function.sequences", "the reference route needs the ASV sequences")
    seqs = {k: v for k, v in sequences.items() if k in set(counts.index)}
    if not seqs:
        raise OptionError("function.sequences", "no sequence id is an ASV of the table")
    t0 = time.perf_counter()
    placed = place_sequences(seqs, reference, threads=threads, progress=progress)
    timings["place"] = time.perf_counter() - t0
    newick = getattr(placed, "placed_tree", None)
    if isinstance(newick, str):
        from microtrial.function._phylo import parse_newick

        tree = parse_newick(newick)
    else:  # a result carrying the tree with the queries itself
        tree = placed.tree
        newick = None
    unplaced = tuple(getattr(placed, "unplaced", {}) or ())
    asvs = [a for a in seqs if a not in set(unplaced)]
    if not asvs:
        raise OptionError("function.sequences", "no ASV could be placed on the reference tree")

    t0 = time.perf_counter()
    names = [n for n in reference.traits if n != MARKER_TRAIT]
    if MARKER_TRAIT not in reference.traits:
        raise InputError(reference.folder, "no 16S.txt.gz (16S copy numbers) in the reference")
    marker = predict_traits(tree, reference.read_traits(MARKER_TRAIT), method=hsp_method,
                            calculate_nsti=True, seed=seed)
    marker = marker.loc[marker.index.isin(asvs)]
    nsti = marker["metadata_NSTI"]
    preds: dict[str, pd.DataFrame] = {}
    for name in names:
        pred = predict_traits(tree, reference.read_traits(name), method=hsp_method,
                              calculate_nsti=False, seed=seed)  # NSTI: with the marker
        preds[name] = pred.loc[pred.index.isin(asvs)]
    timings["hsp"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    metas = {name: predict_metagenome(counts, pred, marker, max_nsti=max_nsti,
                                      stratified=stratified) for name, pred in preds.items()}
    timings["metagenome"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    main_path, main_spec, others = _pathways(metas, pathway_specs, minpath=minpath,
                                             gap_filling=gap_filling, coverage=coverage)
    timings["pathways"] = time.perf_counter() - t0
    preds_out = {MARKER_TRAIT: marker, **preds}
    return FunctionResult(
        ROUTE_REFERENCE, preds_out, marker, nsti, metas, main_path,
        main_spec.descriptions if main_spec else None, main_spec.name if main_spec else None,
        others, newick, None, unplaced, timings)


def _genus_traits_route(counts: pd.DataFrame, taxonomy: pd.DataFrame, table: pd.DataFrame,
                        name: str, pathway_specs: Sequence[PathwaySpec], *, max_nsti: float,
                        stratified: bool, minpath: bool, gap_filling: bool,
                        coverage: bool) -> FunctionResult:
    """The genus route with a user's genus-level trait table (see :func:`run_function`)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    user = predict_from_genus_traits(taxonomy, table, source=name)
    try:
        embedded = predict_by_genus(taxonomy)
    except InputError:
        embedded = None
    if user.marker is not None:
        marker = user.marker
    elif embedded is not None:
        marker = embedded.marker
    else:
        raise InputError(name, f"no '{MARKER_COLUMN}' column and no ASV's genus or family in "
                               "the embedded table: no 16S copy numbers to normalise by")
    kind = trait_kind(list(user.traits.columns))
    preds: dict[str, pd.DataFrame] = {MARKER_TRAIT: marker}
    metas: dict[str, MetagenomeResult] = {}
    if embedded is not None:
        preds["cazy"] = embedded.traits
        metas["cazy"] = predict_metagenome(counts, embedded.traits, marker, max_nsti=max_nsti,
                                           stratified=stratified)
    preds[kind] = user.traits
    metas[kind] = predict_metagenome(counts, user.traits, marker, max_nsti=max_nsti,
                                     stratified=stratified)
    timings["genus"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    main_path, main_spec, others = _pathways(metas, pathway_specs, minpath=minpath,
                                             gap_filling=gap_filling, coverage=coverage)
    timings["pathways"] = time.perf_counter() - t0
    matches = user.matches.rename(columns={"rank": "trait_rank", "name": "trait_name"})
    if embedded is not None:
        matches = embedded.matches.join(matches, how="outer")
    return FunctionResult(
        ROUTE_GENUS_TRAITS, preds, marker, None, metas, main_path,
        main_spec.descriptions if main_spec else None, main_spec.name if main_spec else None,
        others, None, matches, (), timings)


def _pathways(metas: dict[str, MetagenomeResult], pathway_specs: Sequence[PathwaySpec], *,
              minpath: bool, gap_filling: bool, coverage: bool
              ) -> tuple[PathwayResult | None, PathwaySpec | None, dict[str, PathwayResult]]:
    """Pathways from every metagenome a spec asks for: the first is the main result."""
    main_path: PathwayResult | None = None
    main_spec: PathwaySpec | None = None
    others: dict[str, PathwayResult] = {}
    for spec in pathway_specs:
        if spec.trait not in metas:
            continue
        res = pathway_abundance(metas[spec.trait].unstratified, spec.pathway_map,
                                regroup_map=spec.regroup_map, minpath=minpath,
                                gap_filling=gap_filling, coverage=coverage)
        if main_path is None:
            main_path, main_spec = res, spec
        else:
            others[spec.name] = res
    return main_path, main_spec, others
