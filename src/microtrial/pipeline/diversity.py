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
    alpha_diversity,
    alpha_kruskal,
    alpha_mixed_model,
    alpha_tests,
    anosim,
    beta_diversity,
    check_tree,
    comparison_samples,
    dysbiosis,
    dysbiosis_change,
    pairwise_permanova,
    pcoa,
    permanova,
    permdisp,
    rarefy_samples,
)
from microtrial.diversity._beta import PHYLOGENETIC
from microtrial.diversity._compare import TEST_COLUMNS, design_tests
from microtrial.errors import AnalysisError, InputError, MicrotrialError
from microtrial.io._atomic import atomic_open
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.names import DEFAULT_BETA_METRICS
from microtrial.stats import bh
from microtrial.table import FeatureTable

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]
PERMANOVA_COLUMNS = ["comparison", "metric", "term", "df", "pseudo_F", "R2", "p_value",
                     "permutations", "strata", "n"]


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


def _usable(comp: Comparison, md: pd.DataFrame, summary: DiversitySummary) -> pd.DataFrame | None:
    """The samples a comparison can use, or None (with a logged reason) when it cannot run."""
    try:
        cmd, dropped = comparison_samples(md, comp)
    except AnalysisError as exc:
        summary.skipped.append(f"{comp.name}: {exc}")
        log.warning("skipping comparison %s: %s", comp.name, exc)
        return None
    for s, why in dropped.items():
        _drop(summary, s, why)
    counts = cmd[comp.column].astype(str).value_counts()
    small = [lv for lv in comp.levels if counts.get(lv, 0) < 2]
    if small:
        why = ", ".join(f"{lv} has {counts.get(lv, 0)} sample(s)" for lv in small)
        for lv in small:
            for s in cmd.index[cmd[comp.column].astype(str) == lv]:
                _drop(summary, s, f"{comp.name}: group {lv} has only one sample")
        summary.skipped.append(f"{comp.name}: {why}; needs at least 2 per level")
        log.warning("skipping comparison %s: %s", comp.name, why)
        return None
    return cmd


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
    prog = progress or (lambda desc, done, total: None)
    unknown = [m for m in metrics if m not in BETA_METRICS]
    if unknown:
        raise InputError("--metrics", f"unknown beta metric(s) {unknown}; choose from {list(BETA_METRICS)}")
    if permutations < 0:
        raise InputError("--permutations", "must be >= 0")
    if rarefaction_iterations < 1:
        raise InputError("--rarefaction-iterations", "must be >= 1")

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
    metrics = [m for m in metrics if m not in PHYLOGENETIC or tree_obj is not None]
    for m in set(PHYLOGENETIC) - set(metrics):
        summary.skipped.append(f"{m}: no tree given")
        log.info("skipping %s: no tree given", m)

    # ---- rarefaction --------------------------------------------------------------------
    t0 = time.perf_counter()
    try:
        rar = rarefy_samples(ft, rarefy, seed=seed, iterations=rarefaction_iterations)
    except AnalysisError as exc:
        raise InputError("--rarefy", str(exc)) from exc
    depth = summary.depth = rar.depth
    for s, why in rar.dropped:
        _drop(summary, s, why)
    ft, rt = rar.table, rar.rarefied
    md = md.loc[list(rt.sample_ids)]
    summary.n_samples = rt.shape[1]
    start_output(out_dir, command="diversity")
    _write(rar.curves, out_dir / "rarefaction-curves.tsv", summary)
    summary.timings["rarefaction"] = round(time.perf_counter() - t0, 3)

    # ---- alpha ----------------------------------------------------------------------------
    t0 = time.perf_counter()
    alpha = alpha_diversity(rt, tree=tree_obj)
    _write(alpha, out_dir / "alpha-diversity.tsv", summary, index=True)
    summary.timings["alpha"] = round(time.perf_counter() - t0, 3)

    # ---- beta -----------------------------------------------------------------------------
    t0 = time.perf_counter()
    dms: dict[str, pd.DataFrame] = {}
    for i, m in enumerate(metrics):
        prog("beta diversity", i, len(metrics))
        src = ft if m in ("aitchison", "robust_aitchison") else rt
        dm = beta_diversity(src, m, tree=tree_obj)
        dms[m] = dm
        _write_square(dm, out_dir / f"beta-{m}.tsv", summary)
        if dm.shape[0] >= 3:
            coords, explained = pcoa(dm)
            _write(coords, out_dir / f"pcoa-{m}.tsv", summary, index=True,
                   header_comment="proportion explained: " + " ".join(f"{c}={v:.6g}" for c, v in explained.items()))
            _write(explained.rename_axis("axis").reset_index(), out_dir / f"pcoa-explained-{m}.tsv", summary)
    prog("beta diversity", len(metrics), len(metrics))
    summary.metrics = list(dms)
    summary.timings["beta"] = round(time.perf_counter() - t0, 3)

    # ---- tests ----------------------------------------------------------------------------
    t0 = time.perf_counter()
    test_rows: list[pd.DataFrame] = []
    perm_rows: list[dict] = []
    disp_rows: list[dict] = []
    anosim_rows: list[dict] = []
    pair_rows: list[pd.DataFrame] = []
    comps = []
    for comp in comparisons:
        if comp.kind == "paired" and comp.subject is None and subject is not None:
            comp = Comparison(comp.name, comp.kind, comp.column, comp.levels, comp.where, subject)
        cmd = _usable(comp, md, summary)
        if cmd is not None:
            comps.append((comp, cmd))
    for ci, (comp, cmd) in enumerate(comps):
        prog("comparisons", ci, len(comps))
        if comp.kind in ("longitudinal", "interaction") or len(comp.levels) > 2:
            # designs beyond two levels: microtrial.diversity.design_tests (H14)
            t_df, p_rows, p_pairs = design_tests(alpha.loc[cmd.index], dms, cmd, comp,
                                                 covariates=covariates,
                                                 permutations=permutations, seed=seed)
            test_rows.append(t_df)
            perm_rows.extend(p_rows)
            pair_rows.extend(p_pairs)
            continue
        test_rows.append(alpha_tests(alpha.loc[cmd.index], cmd, [comp]))
        if comp.kind == "paired":
            test_rows.append(alpha_mixed_model(alpha, md, comp, covariates=covariates))
        strata = comp.subject if comp.kind == "paired" else None
        ids = list(cmd.index)
        # covariates enter the PERMANOVA first, so the comparison's term is tested after them
        covs = [c for c in covariates if c in cmd.columns and c != comp.column]
        terms = [*covs, comp.column]
        perm_ids = list(cmd.index[cmd[covs].notna().all(axis=1)]) if covs else ids
        for m, dm in dms.items():
            sub = dm.loc[ids, ids]
            try:
                res = permanova(dm.loc[perm_ids, perm_ids], cmd.loc[perm_ids], terms, strata=strata,
                                permutations=permutations, seed=seed)
            except AnalysisError as exc:
                summary.skipped.append(f"PERMANOVA {comp.name} {m}: {exc}")
                log.warning("PERMANOVA %s %s not run: %s", comp.name, m, exc)
            else:
                for _, r0 in res[res["term"].isin(terms)].iterrows():
                    perm_rows.append({"comparison": comp.name, "metric": m, "term": r0["term"],
                                      "df": r0["df"], "pseudo_F": r0["pseudo_F"], "R2": r0["R2"],
                                      "p_value": r0["p_value"], "permutations": permutations,
                                      "strata": strata or "", "n": len(perm_ids)})
            r, p = anosim(sub, cmd[comp.column], permutations=permutations, seed=seed,
                          strata=cmd[strata] if strata else None)
            anosim_rows.append({"comparison": comp.name, "metric": m, "R": r, "p_value": p,
                                "permutations": permutations, "strata": strata or ""})
            if comp.kind == "between":
                f, p, _ = permdisp(sub, cmd[comp.column], permutations=permutations, seed=seed)
                disp_rows.append({"comparison": comp.name, "metric": m, "pseudo_F": f,
                                  "p_value": p, "permutations": permutations})
    for col in group_columns:
        _global_tests(col, md, alpha, dms, permutations, seed, summary, test_rows, perm_rows, pair_rows)
    prog("comparisons", len(comps), len(comps))

    # ---- dysbiosis ------------------------------------------------------------------------
    dys_rows = []
    if healthy is not None and dms:
        dm_name = "braycurtis" if "braycurtis" in dms else next(iter(dms))
        try:
            scores = dysbiosis(dms[dm_name], md, healthy)
        except AnalysisError as exc:
            summary.skipped.append(f"dysbiosis: {exc}")
            log.warning("no dysbiosis score: %s", exc)
        else:
            scores.insert(1, "metric", dm_name)
            _write(scores, out_dir / "dysbiosis.tsv", summary)
            for comp, _cmd in comps:
                if comp.kind != "paired":
                    continue
                per, row = dysbiosis_change(scores, md, comp)
                row["index"] = f"dysbiosis_{dm_name}"
                row["q_value"] = row["p_value"]
                dys_rows.append(per)
                test_rows.append(pd.DataFrame([row], columns=TEST_COLUMNS))
            if dys_rows:
                _write(pd.concat(dys_rows, ignore_index=True), out_dir / "dysbiosis-change.tsv", summary)

    tests = pd.concat(test_rows, ignore_index=True) if test_rows else pd.DataFrame(columns=TEST_COLUMNS)
    if len(tests):
        tests["q_value"] = np.nan
        for _, idx in tests.groupby(["comparison", "test"]).groups.items():
            tests.loc[idx, "q_value"] = bh(tests.loc[idx, "p_value"].to_numpy(dtype=float))
    has_term = "term" in tests.columns and tests["term"].notna().any()  # designs (H14)
    _write(tests[TEST_COLUMNS + (["term"] if has_term else [])], out_dir / "diversity-tests.tsv",
           summary)
    _write(pd.DataFrame(perm_rows, columns=PERMANOVA_COLUMNS), out_dir / "permanova.tsv", summary)
    if pair_rows:
        _write(pd.concat(pair_rows, ignore_index=True), out_dir / "permanova-pairwise.tsv", summary)
    _write(pd.DataFrame(disp_rows, columns=["comparison", "metric", "pseudo_F", "p_value", "permutations"]),
           out_dir / "permdisp.tsv", summary)
    _write(pd.DataFrame(anosim_rows, columns=["comparison", "metric", "R", "p_value", "permutations", "strata"]),
           out_dir / "anosim.tsv", summary)
    summary.timings["tests"] = round(time.perf_counter() - t0, 3)

    _write(pd.DataFrame({"sample-id": list(summary.dropped), "reason": list(summary.dropped.values())}),
           out_dir / "dropped-samples.tsv", summary)
    summary.timings["total"] = round(time.perf_counter() - t_start, 3)
    write_run_info(
        out_dir, command="diversity",
        options={"table": str(table), "metadata": str(metadata), "tree": str(tree) if tree else None,
                 "comparisons": [c.__dict__ | {"where": dict(c.where)} for c in comparisons],
                 "subject": subject, "healthy": healthy, "rarefy": rarefy, "depth": depth,
                 "metrics": list(metrics), "permutations": permutations,
                 "group_columns": list(group_columns), "covariates": list(covariates),
                 "rarefaction_iterations": rarefaction_iterations},
        seeds={"seed": seed}, timings=summary.timings,
        extra={"dropped_samples": summary.dropped, "skipped": summary.skipped},
        outputs=summary.files,
    )
    return summary


def _global_tests(col: str, md: pd.DataFrame, alpha: pd.DataFrame, dms: dict[str, pd.DataFrame],
                  permutations: int, seed: int, summary: DiversitySummary,
                  test_rows: list, perm_rows: list, pair_rows: list) -> None:
    g = md[col].dropna().astype(str)
    counts = g.value_counts()
    for lv in counts.index[counts < 2]:
        for s in g.index[g == lv]:
            _drop(summary, s, f"group {col}={lv} has only one sample")
    g = g[g.isin(counts.index[counts >= 2])]
    if g.nunique() < 2:
        summary.skipped.append(f"{col}: fewer than two levels with >= 2 samples")
        log.warning("no tests across %s: fewer than two levels with at least 2 samples", col)
        return
    name = f"{col}-all-levels"
    if g.nunique() > 2:
        test_rows.append(alpha_kruskal(alpha, g, name=name))
    ids = list(g.index)
    sub_md = md.loc[ids]
    for m, dm in dms.items():
        try:
            res = permanova(dm.loc[ids, ids], sub_md, [col], permutations=permutations, seed=seed)
        except MicrotrialError as exc:
            summary.skipped.append(f"PERMANOVA {name} {m}: {exc}")
            continue
        r0 = res.iloc[0]
        perm_rows.append({"comparison": name, "metric": m, "term": col, "df": r0["df"],
                          "pseudo_F": r0["pseudo_F"], "R2": r0["R2"], "p_value": r0["p_value"],
                          "permutations": permutations, "strata": "", "n": len(ids)})
        if g.nunique() > 2:
            pw = pairwise_permanova(dm.loc[ids, ids], sub_md, col, permutations=permutations, seed=seed)
            pw.insert(0, "metric", m)
            pair_rows.append(pw)
