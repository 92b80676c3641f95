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

This module reads the inputs, calls :func:`microtrial.clinical.associate_study` and writes.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microtrial.clinical import FeatureBlock, associate_study, read_sample_matrix
from microtrial.clinical import long_table as _long_table
from microtrial.errors import InputError
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.io.taxonomy import read_taxonomy
from microtrial.pipeline.clinical import write_tsv

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
    ft = read_table(table)
    samples = [s for s in ft.sample_ids if s in md.index]
    if not samples:
        raise InputError(table, "no sample of the table is in the metadata")
    ft = ft.select_samples(samples)
    tax = None
    if taxonomy is not None:
        tx = read_taxonomy(taxonomy)
        tax = tx["Taxon"] if isinstance(tx, pd.DataFrame) else tx
    blocks = [FeatureBlock(kind, read_sample_matrix(path, samples).reindex(samples), filt)
              for path, kind, filt in ((guilds, "guild", False), (alpha, "alpha", False),
                                       (pathways, "pathway", True))
              if path is not None and Path(path).exists()]
    long_measures = {kind: _long_table(path, "measure")[0]
                     for kind, path in (("clinical", clinical), ("immune", immune)) if path is not None}
    sample_measures = ({"metabolites": read_sample_matrix(metabolites, list(samples))}
                       if metabolites is not None else {})
    result = associate_study(ft, md, subject=subject, time=time, taxonomy=tax,
                             long_measures=long_measures, sample_measures=sample_measures,
                             feature_blocks=blocks, ranks=ranks, baseline=baseline, followup=followup,
                             covariates=covariates, min_prevalence=min_prevalence, progress=progress)
    files: dict[str, Path] = {}
    n_tests: dict[str, int] = {}
    n_sig: dict[str, int] = {}
    start_output(out_dir, command="associations")
    for kind, mat in result.matrices.items():
        for (k, method), res in result.tables.items():
            if k != kind:
                continue
            name = f"associations-{kind}-{method}.tsv"
            files[name] = out_dir / name
            write_tsv(res, files[name])
            n_tests[name] = int(res["p_value"].notna().sum())
            n_sig[name] = int((res["q_value"] < 0.05).sum())
        name = f"associations-matrix-{kind}.tsv"
        files[name] = out_dir / name
        write_tsv(mat.rename_axis("feature"), files[name], index=True)
    write_run_info(
        out_dir, command="associations",
        options={"table": table, "metadata": metadata, "subject": subject, "time": time,
                 "taxonomy": taxonomy, "clinical": clinical, "immune": immune,
                 "metabolites": metabolites, "alpha": alpha, "guilds": guilds, "pathways": pathways,
                 "ranks": list(ranks), "baseline": baseline, "followup": followup,
                 "covariates": list(covariates), "min_prevalence": min_prevalence},
        timings={"associations": _time.perf_counter() - t0},
        extra={"n_features": result.n_features, "n_tests": n_tests, "n_significant_q05": n_sig,
               "cross_sectional_samples": result.cross_sectional_samples,
               "paired_subjects": result.paired_subjects},
        outputs=files.values(),
    )
    return AssociationsSummary(files, n_tests, n_sig, result.n_features)
