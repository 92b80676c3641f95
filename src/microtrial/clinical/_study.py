"""The associations stage's one entry point: read tables in, every association table out.

Features: relative abundances of taxa collapsed to each rank (features present in fewer
than ``min_prevalence`` of the samples dropped), then extra per-sample feature blocks
(guilds, alpha diversity, predicted pathways). Measures: long tables (clinical, immune)
matched to samples by (subject, visit); per-sample matrices (metabolites) by sample id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from microtrial.design import level_strings
from microtrial.taxa import collapse

from ._associations import associate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureBlock:
    """Extra per-sample features (samples x features) added beside the taxa.

    Attributes
    ----------
    kind : str
        Feature type written in ``feature_type`` (``guild``, ``alpha``, ``pathway``); also
        the prefix given to a column whose name is already taken.
    values : DataFrame
        Samples x features (rows in the table's sample order).
    filter_prevalence : bool
        Drop features present in fewer than ``min_prevalence`` of the samples.
    """

    kind: str
    values: pd.DataFrame
    filter_prevalence: bool = False


@dataclass(frozen=True)
class AssociationsResult:
    """What :func:`associate_study` computed.

    Attributes
    ----------
    tables : dict
        ``(kind, method)`` -> result table (sorted by q then p value).
    matrices : dict
        Kind -> features x measures cross-sectional Spearman rho.
    n_features : int
    cross_sectional_samples : int
    paired_subjects : int
    """

    tables: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_features: int = 0
    cross_sectional_samples: int = 0
    paired_subjects: int = 0


def _labels(values: pd.Series) -> pd.Series:
    """Metadata labels as strings (:func:`microtrial.design.level_strings`: ``1.0`` reads as
    ``1``); a missing value is ``""``, which matches no visit or subject."""
    return level_strings(values).fillna("")


def _features(ft: Any, tax: pd.Series | None, ranks: Sequence[str], blocks_in: Sequence[FeatureBlock],
              samples: list[str], min_prevalence: float) -> tuple[pd.DataFrame, pd.Series]:
    blocks: list[pd.DataFrame] = []
    types: dict[str, str] = {}
    for rank in ranks:
        if rank.lower() not in ("asv", "feature") and tax is None:
            log.warning("no taxonomy: rank '%s' skipped (features used as they are)", rank)
            rank = "asv"
        coll = ft if rank.lower() in ("asv", "feature") or tax is None else collapse(ft, tax, rank)
        counts = coll.to_dataframe().T.astype(float)  # samples x features
        rel = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
        keep = (rel > 0).mean(axis=0) >= min_prevalence
        rel = rel.loc[:, keep]
        rel.columns = [str(c) for c in rel.columns]
        blocks.append(rel)
        types.update({c: rank for c in rel.columns})
    for block in blocks_in:
        m = block.values.copy()
        if block.filter_prevalence:
            m = m.loc[:, (m.fillna(0) > 0).mean(axis=0) >= min_prevalence]
        m.columns = [c if c not in types else f"{block.kind}:{c}" for c in map(str, m.columns)]
        blocks.append(m)
        types.update({c: block.kind for c in m.columns})
    feats = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=samples)
    return feats, pd.Series(types)


def _long_measures(df: pd.DataFrame, md: pd.DataFrame, subject: str, time: str) -> pd.DataFrame:
    cols = [c for c in df.columns if c not in ("subject", "visit", "group")]
    lookup = df.set_index(["subject", "visit"])[cols]  # (subject, visit) is unique (reader)
    keys = pd.MultiIndex.from_arrays([_labels(md[subject]), _labels(md[time])])
    out = lookup.reindex(keys).astype(float)
    out.index = md.index
    return out.dropna(axis=1, how="all")


def associate_study(
    table: Any,
    metadata: pd.DataFrame,
    *,
    subject: str,
    time: str,
    taxonomy: pd.Series | None = None,
    long_measures: Mapping[str, pd.DataFrame] | None = None,
    sample_measures: Mapping[str, pd.DataFrame] | None = None,
    feature_blocks: Sequence[FeatureBlock] = (),
    ranks: Sequence[str] = ("genus",),
    baseline: str = "baseline",
    followup: str = "week12",
    covariates: Sequence[str] = (),
    min_prevalence: float = 0.1,
    progress: Callable[[str, int, int], None] | None = None,
) -> AssociationsResult:
    """Correlate microbiome features with clinical, immune and metabolite measures.

    Parameters
    ----------
    table : FeatureTable
        Counts, its samples all in ``metadata``.
    metadata : DataFrame
        Indexed by sample id, with the ``subject``, ``time`` and ``covariates`` columns.
    subject, time : str
        Metadata columns naming the subject and the visit.
    taxonomy : Series, optional
        Feature id -> lineage (ranks other than ``asv`` are skipped without it).
    long_measures : mapping, optional
        Kind -> long table with ``subject`` and ``visit`` columns (clinical, immune).
    sample_measures : mapping, optional
        Kind -> samples x measures (metabolites), rows in the table's sample order.
    feature_blocks : sequence of FeatureBlock
        Extra features beside the taxa.
    ranks, baseline, followup, covariates, min_prevalence
        See the ``associations`` stage.
    progress : callable, optional
        ``progress(label, done, total)`` per kind of measure.

    Returns
    -------
    AssociationsResult
        For each kind and method (``spearman``, ``partial_spearman`` with covariates,
        ``rmcorr`` when a subject has two samples, ``change_spearman`` with three subjects
        sampled at both visits) a table; for each kind the cross-sectional rho matrix.
    """
    samples = [str(s) for s in table.sample_ids]
    feats, ftypes = _features(table, taxonomy, ranks, feature_blocks, samples, min_prevalence)
    md = metadata.loc[feats.index]
    measures: dict[str, pd.DataFrame] = {}
    for kind, df in (long_measures or {}).items():
        measures[kind] = _long_measures(df, md, subject, time)
    for kind, df in (sample_measures or {}).items():
        measures[kind] = df.reindex(md.index)
    subj = _labels(md[subject])
    visit = _labels(md[time])
    base = md.index[visit == baseline]
    cross = base if len(base) else md.index
    if not len(base):
        log.warning("no sample at visit '%s': cross-sectional correlations use every sample", baseline)
    # change vs change: subjects with one sample at each of baseline and follow-up
    b_idx = pd.Series(md.index[visit == baseline], index=subj[visit == baseline].to_numpy())
    f_idx = pd.Series(md.index[visit == followup], index=subj[visit == followup].to_numpy())
    b_idx = b_idx[~b_idx.index.duplicated()]
    f_idx = f_idx[~f_idx.index.duplicated()]
    paired = b_idx.index.intersection(f_idx.index)
    tables: dict[tuple[str, str], pd.DataFrame] = {}
    matrices: dict[str, pd.DataFrame] = {}
    total = len(measures)
    for i, (kind, meas) in enumerate(measures.items()):
        if meas.shape[1] == 0 or feats.shape[1] == 0:
            log.warning("no %s measure matches any sample: skipped", kind)
            continue
        results: dict[str, pd.DataFrame] = {}
        results["spearman"] = associate(feats.loc[cross], meas.loc[cross], method="spearman",
                                        feature_types=ftypes)
        if covariates:
            results["partial_spearman"] = associate(
                feats.loc[cross], meas.loc[cross], method="partial_spearman",
                covariates=md.loc[cross, list(covariates)], feature_types=ftypes)
        if (subj.value_counts() >= 2).any():
            results["rmcorr"] = associate(feats, meas, method="rmcorr", subjects=subj, feature_types=ftypes)
        if len(paired) >= 3:
            df_ = pd.DataFrame(feats.loc[f_idx[paired]].to_numpy() - feats.loc[b_idx[paired]].to_numpy(),
                               index=paired, columns=feats.columns)
            dm = pd.DataFrame(meas.loc[f_idx[paired]].to_numpy() - meas.loc[b_idx[paired]].to_numpy(),
                              index=paired, columns=meas.columns)
            res = associate(df_, dm, method="spearman", feature_types=ftypes)
            res["method"] = "change_spearman"
            results["change_spearman"] = res
        for method, res in results.items():
            tables[(kind, method)] = res.sort_values(["q_value", "p_value"], na_position="last")
        mat = results["spearman"].pivot(index="feature", columns="measure", values="rho")
        matrices[kind] = mat.reindex(index=[f for f in feats.columns if f in mat.index],
                                     columns=list(meas.columns))
        if progress:
            progress("associations", i + 1, total)
    return AssociationsResult(tables=tables, matrices=matrices, n_features=int(feats.shape[1]),
                              cross_sectional_samples=len(cross), paired_subjects=len(paired))
