"""Statistics of the predicted functions: the differential tests and the associations with
clinical, immune and metabolite measures, run in memory on each function table through the
differential and associations stages' entry points
(:func:`microtrial.differential.run_differential`, :func:`microtrial.clinical.associate_study`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from microtrial.clinical import associate_study
from microtrial.differential import DifferentialInputError, get_method, run_differential
from microtrial.errors import AnalysisError, InputError
from microtrial.table import FeatureTable

log = logging.getLogger(__name__)

#: Differential methods run on each function table.
STAT_METHODS = ("aldex", "lmm", "paired-wilcoxon")
#: Columns of the function differential table (then ``table``).
DIFF_COLUMNS = ["feature", "description", "comparison", "contrast", "method", "effect",
                "effect_type", "p_value", "q_value"]
#: Columns kept from the associations tables (then ``measure_type`` and ``table``).
ASSOC_COLUMNS = ["feature", "measure", "method", "rho", "p_value", "q_value", "n"]


@dataclass(frozen=True)
class FunctionStats:
    """Differential tests and associations of the predicted functions.

    Attributes
    ----------
    differential : DataFrame
        Columns :data:`DIFF_COLUMNS` and ``table`` (the function table tested).
    associations : DataFrame or None
        Columns :data:`ASSOC_COLUMNS`, ``measure_type`` and ``table``; None when not asked.
    skipped : list of str
        ``"<test> (<table>): <reason>"`` for each table a test could not run on.
    """

    differential: pd.DataFrame
    associations: pd.DataFrame | None
    skipped: list[str] = field(default_factory=list)


def _differential_rows(kind: str, df: pd.DataFrame, metadata: pd.DataFrame, *,
                       comparisons: Sequence[Any], names: Sequence[str],
                       descriptions: Mapping[str, str], min_prevalence: float,
                       seed: int) -> list[pd.DataFrame]:
    """Whole-number counts of one function table through :func:`run_differential`; raises
    :class:`DifferentialInputError` when it cannot be tested."""
    counts = df.round().clip(lower=0).astype("int64")
    counts = counts.loc[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2:
        return []
    counts.index = counts.index.astype(str)
    counts.columns = counts.columns.astype(str)
    ftable = FeatureTable.from_dataframe(counts)
    shared = [s for s in ftable.sample_ids if s in metadata.index]
    if len(shared) < 2:
        raise DifferentialInputError("table", f"fewer than 2 samples ({len(shared)}) are also "
                                              "in the metadata")
    reads = ftable.sample_totals()
    usable = [s for s in shared if reads[s] > 0]
    if len(usable) < 2:
        raise DifferentialInputError("table", f"fewer than 2 samples with reads ({len(usable)})")
    result = run_differential(ftable, metadata, usable, comparisons=comparisons, tax=None,
                              names=names, ranks=["asv"], min_prevalence=min_prevalence,
                              seed=seed)
    for level, note in result.notes:
        log.log(level, "function differential (%s): %s", kind, note)
    rows = []
    for method, res in result.tables.items():
        if method == "guilds" or res.empty:
            continue
        feats = res["feature"].astype(str)
        out = pd.DataFrame({
            "feature": feats,
            "description": [descriptions.get(x, "") for x in feats],
            "comparison": res["contrast"],
            "contrast": res["test_level"].astype(str) + " vs " + res["reference_level"].astype(str),
            "method": method, "effect": res["effect"], "effect_type": res["effect_type"],
            "p_value": res["p_value"], "q_value": res["q_value"],
        })
        out["table"] = kind
        rows.append(out.reset_index(drop=True))
    return rows


def _association_rows(kind: str, df: pd.DataFrame, metadata: pd.DataFrame, *, subject: str,
                      time: str, baseline: str, followup: str,
                      long_measures: Mapping[str, pd.DataFrame],
                      sample_measures: Mapping[str, pd.DataFrame],
                      min_prevalence: float) -> list[pd.DataFrame]:
    """One function table through :func:`associate_study`; raises :class:`InputError` when
    it cannot be correlated."""
    for col in (subject, time):
        if col not in metadata.columns:
            raise InputError("metadata", f"no column '{col}'")
    table = df.copy()
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    samples = [s for s in table.columns if s in metadata.index]
    if not samples:
        raise InputError("table", "no sample of the table is in the metadata")
    ft = FeatureTable.from_dataframe(table[samples])
    result = associate_study(ft, metadata, subject=subject, time=time, taxonomy=None,
                             long_measures=long_measures, sample_measures=sample_measures,
                             ranks=("asv",), baseline=baseline, followup=followup,
                             min_prevalence=min_prevalence)
    rows = []
    for measure_kind in result.matrices:
        for (k, _method), res in result.tables.items():
            if k != measure_kind or res.empty:
                continue
            out = res[[c for c in ASSOC_COLUMNS if c in res.columns]].copy()
            out["feature"] = out["feature"].astype(str)
            out["measure_type"] = measure_kind
            out["table"] = kind
            rows.append(out.reset_index(drop=True))
    return rows


def analyse_functions(
    tables: Mapping[str, pd.DataFrame], metadata: pd.DataFrame, *, comparisons: Sequence[Any],
    descriptions: Mapping[str, str] | None = None, min_prevalence: float = 0.1, seed: int = 0,
    subject: str | None = None, time: str | None = None, baseline: str | None = None,
    followup: str | None = None, long_measures: Mapping[str, pd.DataFrame] | None = None,
    sample_measures: Mapping[str, pd.DataFrame] | None = None,
) -> FunctionStats:
    """Differential tests and associations of each predicted function table.

    Parameters
    ----------
    tables : mapping
        Table name (``pathway``, ``ec``, ...) -> features x samples abundances. The
        differential tests use them rounded to whole numbers (features with no count
        dropped; a table with fewer than 2 features is skipped).
    metadata : DataFrame
        Indexed by sample id.
    comparisons : sequence of Comparison
        The study's comparisons (see :func:`microtrial.differential.run_differential`).
    descriptions : mapping, optional
        Feature id -> description for the differential rows.
    min_prevalence, seed
        As for the differential and associations stages (methods :data:`STAT_METHODS`).
    subject, time, baseline, followup : str, optional
        Metadata columns and visits of the associations; they run only when all four are
        given with at least one of ``long_measures`` / ``sample_measures``.
    long_measures, sample_measures : mapping, optional
        See :func:`microtrial.clinical.associate_study`.

    Returns
    -------
    FunctionStats
        A table that cannot be tested is skipped with its reason in ``skipped`` (and a
        warning logged), as the stages would refuse it.
    """
    try:
        names = list(dict.fromkeys(get_method(m).name for m in STAT_METHODS))
    except AnalysisError as exc:  # pragma: no cover - the names are fixed
        raise ValueError(str(exc)) from exc
    descriptions = dict(descriptions or {})
    skipped: list[str] = []
    diff_rows: list[pd.DataFrame] = []
    for kind, df in tables.items():
        try:
            diff_rows += _differential_rows(kind, df, metadata, comparisons=comparisons,
                                            names=names, descriptions=descriptions,
                                            min_prevalence=min_prevalence, seed=seed)
        except DifferentialInputError as exc:
            log.warning("function differential (%s) skipped: %s", kind, exc.message)
            skipped.append(f"differential ({kind}): {exc.message}")
    diff = (pd.concat(diff_rows, ignore_index=True) if diff_rows
            else pd.DataFrame(columns=[*DIFF_COLUMNS, "table"]))
    assoc: pd.DataFrame | None = None
    if subject and time and baseline and followup and (long_measures or sample_measures):
        assoc_rows: list[pd.DataFrame] = []
        for kind, df in tables.items():
            try:
                assoc_rows += _association_rows(
                    kind, df, metadata, subject=subject, time=time, baseline=baseline,
                    followup=followup, long_measures=dict(long_measures or {}),
                    sample_measures=dict(sample_measures or {}), min_prevalence=min_prevalence)
            except InputError as exc:
                log.warning("function associations (%s) skipped: %s", kind, exc)
                skipped.append(f"associations ({kind}): {exc}")
        assoc = (pd.concat(assoc_rows, ignore_index=True) if assoc_rows
                 else pd.DataFrame(columns=[*ASSOC_COLUMNS, "measure_type", "table"]))
    return FunctionStats(diff, assoc, skipped)
