"""Associations stage orchestration: microbiome features vs clinical, immune and metabolite
measures.

Features: relative abundances of taxa collapsed to each of ``ranks`` (features present in
fewer than ``min_prevalence`` of the samples dropped), guild abundances, alpha diversity
indices and predicted pathway abundances (when those tables are given). Measures: clinical
and immune rows matched to samples by (subject, visit) through the metadata's ``subject``
and ``time`` columns; metabolites by sample id.

For each kind of measure (``clinical``, ``immune``, ``metabolites``) and each method:

* ``spearman``: cross-sectional, over the baseline samples (one per subject; all samples
  when no sample is at the baseline visit);
* ``partial_spearman``: the same samples, adjusted for ``covariates`` (when given);
* ``rmcorr``: repeated-measures correlation over every visit of the subjects with at least
  two samples;
* ``change_spearman``: change in feature vs change in measure (follow-up minus baseline)
  over the subjects sampled at both.

Writes ``associations-<kind>-<method>.tsv`` (columns ``feature``, ``feature_type``,
``measure``, ``method``, ``n``, ``rho``, ``df``, ``p_value``, ``q_value``; BH within the
file), ``associations-matrix-<kind>.tsv`` (features x measures, cross-sectional Spearman
rho) and ``run-info.json``.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.clinical import associate, read_sample_matrix
from microtrial.clinical import long_table as _long_table
from microtrial.design import level_strings
from microtrial.errors import InputError
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.io.taxonomy import read_taxonomy
from microtrial.pipeline.clinical import write_tsv
from microtrial.taxa import collapse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssociationsSummary:
    """What :func:`associations_stage` wrote.

    Attributes
    ----------
    files : dict
        Output name -> path.
    n_tests : dict
        Output table name -> number of feature-measure tests.
    n_significant : dict
        Output table name -> tests with ``q_value < 0.05``.
    n_features : int
    """

    files: dict[str, Path] = field(default_factory=dict)
    n_tests: dict[str, int] = field(default_factory=dict)
    n_significant: dict[str, int] = field(default_factory=dict)
    n_features: int = 0


def _features(
    table: Path, md: pd.DataFrame, taxonomy: Path | None, ranks: Sequence[str], alpha: Path | None,
    guilds: Path | None, pathways: Path | None, min_prevalence: float,
) -> tuple[pd.DataFrame, pd.Series]:
    ft = read_table(table)
    samples = [s for s in ft.sample_ids if s in md.index]
    if not samples:
        raise InputError(table, "no sample of the table is in the metadata")
    ft = ft.select_samples(samples)
    blocks: list[pd.DataFrame] = []
    types: dict[str, str] = {}
    tax = None
    if taxonomy is not None:
        tx = read_taxonomy(taxonomy)
        tax = tx["Taxon"] if isinstance(tx, pd.DataFrame) else tx
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
    for path, kind, filt in ((guilds, "guild", False), (alpha, "alpha", False), (pathways, "pathway", True)):
        if path is None or not Path(path).exists():
            continue
        m = read_sample_matrix(path, samples).reindex(samples)
        if filt:
            m = m.loc[:, (m.fillna(0) > 0).mean(axis=0) >= min_prevalence]
        m.columns = [c if c not in types else f"{kind}:{c}" for c in map(str, m.columns)]
        blocks.append(m)
        types.update({c: kind for c in m.columns})
    feats = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=samples)
    return feats, pd.Series(types)


def _labels(values: pd.Series) -> pd.Series:
    """Metadata labels as strings (:func:`microtrial.design.level_strings`: ``1.0`` reads as
    ``1``); a missing value is ``""``, which matches no visit or subject."""
    return level_strings(values).fillna("")


def _long_measures(path: Path, md: pd.DataFrame, subject: str, time: str) -> pd.DataFrame:
    df, _ = _long_table(path, "measure")
    cols = [c for c in df.columns if c not in ("subject", "visit", "group")]
    lookup = df.set_index(["subject", "visit"])[cols]  # (subject, visit) is unique (reader)
    keys = pd.MultiIndex.from_arrays([_labels(md[subject]), _labels(md[time])])
    out = lookup.reindex(keys).astype(float)
    out.index = md.index
    return out.dropna(axis=1, how="all")


def associations_stage(
    out_dir: Path,
    *,
    table: Path,
    metadata: Path,
    subject: str,
    time: str,
    taxonomy: Path | None = None,
    clinical: Path | None = None,
    immune: Path | None = None,
    metabolites: Path | None = None,
    alpha: Path | None = None,
    guilds: Path | None = None,
    pathways: Path | None = None,
    ranks: Sequence[str] = ("genus",),
    baseline: str = "baseline",
    followup: str = "week12",
    covariates: Sequence[str] = (),
    min_prevalence: float = 0.1,
    progress: Callable[[str, int, int], None] | None = None,
) -> AssociationsSummary:
    """Correlate microbiome features with clinical, immune and metabolite measures (see the
    module docs for features, methods and outputs)."""
    t0 = _time.perf_counter()
    out_dir = Path(out_dir)
    md = read_metadata(metadata)
    for col in (subject, time, *covariates):
        if col not in md.columns:
            raise InputError(metadata, f"no column '{col}' (columns: {', '.join(map(str, md.columns))})")
    feats, ftypes = _features(table, md, taxonomy, ranks, alpha, guilds, pathways, min_prevalence)
    md = md.loc[feats.index]
    measures: dict[str, pd.DataFrame] = {}
    if clinical is not None:
        measures["clinical"] = _long_measures(clinical, md, subject, time)
    if immune is not None:
        measures["immune"] = _long_measures(immune, md, subject, time)
    if metabolites is not None:
        measures["metabolites"] = read_sample_matrix(metabolites, list(md.index)).reindex(md.index)
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
    files: dict[str, Path] = {}
    n_tests: dict[str, int] = {}
    n_sig: dict[str, int] = {}
    start_output(out_dir, command="associations")
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
            name = f"associations-{kind}-{method}.tsv"
            files[name] = out_dir / name
            write_tsv(res.sort_values(["q_value", "p_value"], na_position="last"), files[name])
            n_tests[name] = int(res["p_value"].notna().sum())
            n_sig[name] = int((res["q_value"] < 0.05).sum())
        mat = results["spearman"].pivot(index="feature", columns="measure", values="rho")
        mat = mat.reindex(index=[f for f in feats.columns if f in mat.index], columns=list(meas.columns))
        name = f"associations-matrix-{kind}.tsv"
        files[name] = out_dir / name
        write_tsv(mat.rename_axis("feature"), files[name], index=True)
        if progress:
            progress("associations", i + 1, total)
    write_run_info(
        out_dir, command="associations",
        options={"table": table, "metadata": metadata, "subject": subject, "time": time,
                 "taxonomy": taxonomy, "clinical": clinical, "immune": immune,
                 "metabolites": metabolites, "alpha": alpha, "guilds": guilds, "pathways": pathways,
                 "ranks": list(ranks), "baseline": baseline, "followup": followup,
                 "covariates": list(covariates), "min_prevalence": min_prevalence},
        timings={"associations": _time.perf_counter() - t0},
        extra={"n_features": int(feats.shape[1]), "n_tests": n_tests, "n_significant_q05": n_sig,
               "cross_sectional_samples": len(cross), "paired_subjects": len(paired)},
        outputs=files.values(),
    )
    return AssociationsSummary(files, n_tests, n_sig, int(feats.shape[1]))
