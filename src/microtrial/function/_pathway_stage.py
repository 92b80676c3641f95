"""The pathways step's one entry point: gene families (and, when given, their stratified
table) -> pathway abundances, coverages and per-sequence contributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from microtrial.function._pathways import (
    PathwayMap,
    PathwayResult,
    pathway_abundance,
    pathway_contributions,
    pathway_stratified_wide,
)


@dataclass(frozen=True)
class PathwayTables:
    """What :func:`pathway_tables` computed.

    Attributes
    ----------
    result : PathwayResult
        Unstratified abundances (and coverages).
    stratified : DataFrame or None
        Per-sequence pathway abundances: PICRUSt2's ``path_abun_contrib`` (from a
        contribution table) or ``path_abun_strat`` (from a wide stratified table).
    stratified_kind : {"contrib", "strat"} or None
    """

    result: PathwayResult
    stratified: pd.DataFrame | None = None
    stratified_kind: str | None = None


def pathway_tables(table: pd.DataFrame, pathway_map: PathwayMap, *,
                   regroup_map: Mapping[str, Sequence[str]] | None = None,
                   stratified: pd.DataFrame | None = None, minpath: bool = True,
                   gap_filling: bool = True, coverage: bool = False) -> PathwayTables:
    """Pathway abundances as PICRUSt2's ``pathway_pipeline.py``.

    Parameters
    ----------
    table : DataFrame
        Gene families x samples.
    pathway_map, regroup_map
        As :func:`pathway_abundance`.
    stratified : DataFrame, optional
        The stratified gene-family table as read: a contribution table (with
        ``genome_function_count``) or a wide stratified table (``function``, ``sequence``,
        samples).
    minpath, gap_filling, coverage
        As :func:`pathway_abundance`.

    Returns
    -------
    PathwayTables
    """
    result = pathway_abundance(table, pathway_map, regroup_map=regroup_map, minpath=minpath,
                               gap_filling=gap_filling, coverage=coverage)
    if stratified is None:
        return PathwayTables(result)
    if "genome_function_count" in stratified.columns:
        return PathwayTables(result, pathway_contributions(stratified, result, pathway_map,
                                                           regroup_map=regroup_map,
                                                           gap_filling=gap_filling), "contrib")
    return PathwayTables(result, pathway_stratified_wide(stratified, result, pathway_map,
                                                         regroup_map=regroup_map,
                                                         gap_filling=gap_filling), "strat")
