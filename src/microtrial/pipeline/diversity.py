"""``diversity`` stage: read a table (and tree), compute alpha and beta diversity, test every
comparison, and write the tidy tables plus ``run-info.json``.

Outputs: ``alpha-diversity.tsv``, ``rarefaction-curves.tsv``, ``beta-<metric>.tsv``,
``pcoa-<metric>.tsv`` + ``pcoa-explained-<metric>.tsv``, ``diversity-tests.tsv``,
``permanova.tsv``, ``permanova-pairwise.tsv`` (for grouping columns with > 2 levels),
``permdisp.tsv``, ``anosim.tsv``, ``dysbiosis.tsv`` + ``dysbiosis-change.tsv`` (with a healthy
reference), ``dropped-samples.tsv``.

Per comparison: ``between`` -> Mann-Whitney U with Hodges-Lehmann shift per alpha index,
PERMANOVA (covariates first, then the compared column), PERMDISP and ANOSIM per metric;
``paired`` -> Wilcoxon signed-rank and a subject random-intercept mixed model per alpha
index, PERMANOVA and ANOSIM with permutations within subject (no PERMDISP: dispersion
between time points of the same subjects is not exchangeable). ``q_value`` in
``diversity-tests.tsv`` is BH within each comparison and test.

Distance matrices are written as soon as each metric's is computed (only one is in memory
at a time). Up to :data:`LARGE_MATRIX` samples as ``beta-<metric>.tsv``; above, as
``beta-<metric>.h5`` (a 20,000-sample matrix is about 8 GB as text): HDF5 with the dataset
``order`` (sample ids, UTF-8) and ``matrix`` (n x n float64, the same numbers the TSV would
hold to 17 digits), the layout of the ``unifrac`` package's ``--format hdf5`` output, written
in blocks of rows; read with ``h5py`` (``f["matrix"][i0:i1]`` reads rows without loading
the rest).

Alpha diversity and Bray-Curtis/Jaccard/UniFrac use the rarefied table (when rarefying);
Aitchison and robust Aitchison use the unrarefied counts (compositional methods do not need
even depth).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.design import Comparison
from microtrial.diversity import (
    BETA_METRICS,
    DiversityResult,
    analyse_diversity,
    check_tree,
)
from microtrial.errors import AnalysisError, InputError, OptionError
from microtrial.io._atomic import atomic_open, atomic_path
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.names import DEFAULT_BETA_METRICS
from microtrial.names import PHYLOGENETIC_METRICS as PHYLOGENETIC  # noqa: F401  (cli/diversity.py)
from microtrial.table import FeatureTable

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class DiversitySummary:
    """What the stage did: files written, rarefaction depth, metrics, dropped samples, timings."""

    out_dir: Path
    depth: int | None = None
    n_samples: int = 0
    metrics: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _write(df: pd.DataFrame, path: Path, summary: DiversitySummary, *, index: bool = False,
           header_comment: str | None = None) -> None:
    with atomic_open(path) as fh:
        if header_comment:
            fh.write(f"# {header_comment}\n")
        df.to_csv(fh, sep="\t", index=index, na_rep="", float_format="%.10g")
    summary.files.append(path)


def _write_square(dm: pd.DataFrame, path: Path, summary: DiversitySummary) -> None:
    """Square distance matrix, ids as header and first column, 17 significant digits (fast)."""
    values = dm.to_numpy(dtype=np.float64)
    row_fmt = "\t".join(["%.17g"] * values.shape[1])
    with atomic_open(path) as fh:
        fh.write("\t".join(["sample-id", *map(str, dm.columns)]) + "\n")
        for sid, row in zip(dm.index, values):
            fh.write(f"{sid}\t" + row_fmt % tuple(row) + "\n")
    summary.files.append(path)


#: above this many samples, distance matrices are written as HDF5 (``beta-<metric>.h5``)
LARGE_MATRIX = 5000
_H5_ROWS = 512  # rows per write (and per HDF5 chunk) of a large matrix


def _write_distance(metric: str, dm: pd.DataFrame, out_dir: Path, summary: DiversitySummary) -> None:
    if dm.shape[0] <= LARGE_MATRIX:
        _write_square(dm, out_dir / f"beta-{metric}.tsv", summary)
    else:
        _write_h5(dm, out_dir / f"beta-{metric}.h5", summary)


def _write_h5(dm: pd.DataFrame, path: Path, summary: DiversitySummary) -> None:
    """Square matrix as HDF5 (``order``: ids, ``matrix``: float64), in blocks of rows."""
    import h5py

    values = dm.to_numpy()
    n = values.shape[0]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("order", data=[str(i) for i in dm.index],
                          dtype=h5py.string_dtype(encoding="utf-8"))
        ds = h5.create_dataset("matrix", shape=(n, n), dtype="f8", chunks=(min(n, _H5_ROWS), n))
        for lo in range(0, n, _H5_ROWS):
            ds[lo:lo + _H5_ROWS] = values[lo:lo + _H5_ROWS]
    summary.files.append(path)


def _drop(summary: DiversitySummary, sample: str, reason: str) -> None:
    if sample not in summary.dropped:
        log.warning("dropping sample %s: %s", sample, reason)
        summary.dropped[sample] = reason


def _clean_inputs(table: FeatureTable, md: pd.DataFrame, table_path: Path,
                  summary: DiversitySummary) -> tuple[FeatureTable, pd.DataFrame]:
    keep = []
    dropped: dict[str, str] = {}
    totals = np.asarray(table.data.sum(axis=0)).ravel()
    for s, tot in zip(table.sample_ids, totals):
        if s not in md.index:
            dropped[s] = "in the feature table but not in the metadata"
        elif tot <= 0:
            dropped[s] = "all-zero sample (no reads)"
        else:
            keep.append(s)
    if len(keep) < 2:  # said once, in the error, not as a warning per sample before it
        no_md = sum(1 for why in dropped.values() if "metadata" in why)
        raise InputError(table_path, f"fewer than 2 usable samples ({len(keep)}) after removing "
                                     f"{no_md} sample(s) without metadata and "
                                     f"{len(dropped) - no_md} without reads")
    for s, why in dropped.items():
        _drop(summary, s, why)
    return table.select_samples(keep).drop_empty_features(), md.loc[keep]


def _check_columns(md: pd.DataFrame, metadata_path: Path, *, comparisons: Sequence[Comparison],
                   subject: str | None, healthy: tuple[str, str] | None,
                   group_columns: Sequence[str], covariates: Sequence[str]) -> None:
    """Every column an option or comparison names must be in the metadata."""
    wanted: list[tuple[str, str]] = [("--covariates", c) for c in covariates]
    wanted += [("--group", c) for c in group_columns]
    if subject is not None:
        wanted.append(("--subject", subject))
    if healthy is not None:
        wanted.append(("--healthy", healthy[0]))
    for comp in comparisons:
        cols = [comp.column, *comp.where, *([comp.subject] if comp.subject else [])]
        wanted += [(f"comparison '{comp.name}'", c) for c in cols]
    for opt, col in wanted:
        if col not in md.columns:
            names = [str(c) for c in md.columns]
            shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
            raise InputError(metadata_path, f"no column '{col}' ({opt}); columns are {shown}")


def _check_integer_counts(ft: FeatureTable, table_path: Path) -> None:
    """Rarefaction and rarefaction curves subsample reads: the counts must be whole numbers."""
    data = ft.data.tocoo()
    bad = np.flatnonzero(data.data != np.round(data.data))
    if bad.size:
        k = bad[0]
        raise InputError(
            table_path,
            f"counts must be whole numbers (reads), but {bad.size} are not, e.g. "
            f"{data.data[k]:g} for feature '{ft.feature_ids[data.row[k]]}' in sample "
            f"'{ft.sample_ids[data.col[k]]}'",
        )


def diversity_stage(
    table: Path, metadata: Path, out_dir: Path, *,
    comparisons: Sequence[Comparison] = (), tree: Path | None = None,
    subject: str | None = None, healthy: tuple[str, str] | None = None,
    rarefy: int | str | None = "auto",
    metrics: Sequence[str] = DEFAULT_BETA_METRICS,
    permutations: int = 999, seed: int = 0, progress: ProgressCallback | None = None,
    group_columns: Sequence[str] = (), covariates: Sequence[str] = (),
    rarefaction_iterations: int = 1,
) -> DiversitySummary:
    """Run the diversity stage and write its tables into ``out_dir``.

    Parameters
    ----------
    table, metadata : Path
        Feature table (BIOM or TSV) and QIIME 2 sample metadata.
    out_dir : Path
        Output folder (created).
    comparisons : sequence of Comparison
        ``between``: Mann-Whitney per alpha index, PERMANOVA/PERMDISP/ANOSIM per metric.
        ``paired``: Wilcoxon signed-rank and a mixed model per alpha index, PERMANOVA and
        ANOSIM with permutations within subject.
    tree : Path, optional
        Rooted Newick tree for Faith's PD and UniFrac (skipped without it).
    subject : str, optional
        Subject column (default strata for paired comparisons without their own).
    healthy : (column, level), optional
        Reference samples for the dysbiosis score (median Bray-Curtis distance to them).
    rarefy : int, "auto" or None
        Depth; ``"auto"`` = smallest sample depth; None = no rarefaction.
    metrics : sequence of str
        Beta metrics (see :data:`microtrial.diversity.BETA_METRICS`).
    permutations, seed : int
    progress : callable, optional
        ``progress(description, done, total)``.
    group_columns : sequence of str
        Columns tested across all their levels (Kruskal-Wallis, PERMANOVA, pairwise PERMANOVA).
    covariates : sequence of str
        Extra fixed effects of the alpha mixed model.
    rarefaction_iterations : int
        Average this many rarefactions (1 = a single draw).
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    summary = DiversitySummary(out_dir)
    unknown = [m for m in metrics if m not in BETA_METRICS]
    if unknown:
        raise OptionError("options.beta_metrics", f"unknown beta metric(s) {unknown}; choose from {list(BETA_METRICS)}")
    if permutations < 0:
        raise OptionError("options.permutations", "must be >= 0")
    if rarefaction_iterations < 1:
        raise OptionError("diversity.rarefaction_iterations", "must be >= 1")

    # every input is read and checked before anything is written
    ft = read_table(table)
    md = read_metadata(metadata)
    _check_columns(md, Path(metadata), comparisons=comparisons, subject=subject, healthy=healthy,
                   group_columns=group_columns, covariates=covariates)
    ft, md = _clean_inputs(ft, md, Path(table), summary)
    _check_integer_counts(ft, Path(table))  # rarefaction (and its curves) draw whole reads
    tree_obj = None
    if tree is not None:
        from microtrial.io.newick import read_tree

        tree_obj = read_tree(tree)
        try:
            check_tree(tree_obj, ft.feature_ids)
        except AnalysisError as exc:
            raise InputError(tree, str(exc)) from exc
    started: list[bool] = []

    def write_distance(metric: str, dm: pd.DataFrame) -> None:
        if not started:  # the first write: clear what an earlier run left
            start_output(out_dir, command="diversity")
            started.append(True)
        _write_distance(metric, dm, out_dir, summary)

    res = analyse_diversity(
        ft, md, comparisons=comparisons, tree=tree_obj, subject=subject, healthy=healthy,
        rarefy=rarefy, metrics=metrics, permutations=permutations, seed=seed,
        group_columns=group_columns, covariates=covariates,
        rarefaction_iterations=rarefaction_iterations, progress=progress,
        distance_sink=write_distance,
    )
    for s, why in res.dropped.items():
        summary.dropped.setdefault(s, why)
    summary.skipped.extend(res.skipped)
    summary.depth, summary.n_samples, summary.metrics = res.depth, res.n_samples, res.metrics
    summary.timings.update(res.timings)
    if not started:
        start_output(out_dir, command="diversity")
    _write_result(res, out_dir, summary)
    _write(pd.DataFrame({"sample-id": list(summary.dropped), "reason": list(summary.dropped.values())}),
           out_dir / "dropped-samples.tsv", summary)
    summary.timings["total"] = round(time.perf_counter() - t_start, 3)
    write_run_info(
        out_dir, command="diversity",
        options={"table": str(table), "metadata": str(metadata), "tree": str(tree) if tree else None,
                 "comparisons": [c.__dict__ | {"where": dict(c.where)} for c in comparisons],
                 "subject": subject, "healthy": healthy, "rarefy": rarefy, "depth": res.depth,
                 "metrics": res.metrics, "permutations": permutations,
                 "group_columns": list(group_columns), "covariates": list(covariates),
                 "rarefaction_iterations": rarefaction_iterations},
        seeds={"seed": seed}, timings=summary.timings,
        extra={"dropped_samples": summary.dropped, "skipped": summary.skipped},
        outputs=summary.files,
    )
    return summary



def _write_result(res: DiversityResult, out_dir: Path, summary: DiversitySummary) -> None:
    """Write every table of ``res`` into ``out_dir``."""
    _write(res.curves, out_dir / "rarefaction-curves.tsv", summary)
    _write(res.alpha, out_dir / "alpha-diversity.tsv", summary, index=True)
    for m, dm in res.distances.items():  # empty when written through the distance sink
        _write_distance(m, dm, out_dir, summary)
    for m in res.metrics:
        if m in res.ordinations:
            coords, explained = res.ordinations[m]
            _write(coords, out_dir / f"pcoa-{m}.tsv", summary, index=True,
                   header_comment="proportion explained: " + " ".join(f"{c}={v:.6g}" for c, v in explained.items()))
            _write(explained.rename_axis("axis").reset_index(), out_dir / f"pcoa-explained-{m}.tsv", summary)
    if res.dysbiosis is not None:
        _write(res.dysbiosis, out_dir / "dysbiosis.tsv", summary)
    if res.dysbiosis_change is not None:
        _write(res.dysbiosis_change, out_dir / "dysbiosis-change.tsv", summary)
    _write(res.tests, out_dir / "diversity-tests.tsv", summary)
    _write(res.permanova, out_dir / "permanova.tsv", summary)
    if res.pairwise is not None:
        _write(res.pairwise, out_dir / "permanova-pairwise.tsv", summary)
    _write(res.permdisp, out_dir / "permdisp.tsv", summary)
    _write(res.anosim, out_dir / "anosim.tsv", summary)
