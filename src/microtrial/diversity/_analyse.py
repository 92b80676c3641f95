"""The diversity stage's one entry point: rarefy, alpha, beta, ordination, tests, dysbiosis.

:func:`analyse_diversity` takes the cleaned in-memory table and metadata and returns every
table ``pipeline/diversity.py`` writes, in a frozen :class:`DiversityResult`; it reads and
writes no files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from microtrial.design import Comparison
from microtrial.diversity._alpha import alpha_diversity
from microtrial.diversity._beta import beta_diversity, pcoa
from microtrial.diversity._compare import (
    TEST_COLUMNS,
    alpha_kruskal,
    alpha_mixed_model,
    alpha_tests,
    comparison_samples,
    design_tests,
    dysbiosis,
    dysbiosis_change,
    pairwise_permanova,
)
from microtrial.diversity._permanova import (
    anosim,
    gower_centred,
    permanova,
    permdisp,
    subset_distance,
)
from microtrial.diversity._rarefy import rarefy_samples
from microtrial.errors import AnalysisError, MicrotrialError, OptionError
from microtrial.names import PHYLOGENETIC_METRICS
from microtrial.stats import bh
from microtrial.table import FeatureTable

if TYPE_CHECKING:
    import skbio

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]
#: receives each metric's distance matrix as soon as it is computed (e.g. to write it)
DistanceSink = Callable[[str, pd.DataFrame], None]
PERMANOVA_COLUMNS = ["comparison", "metric", "term", "df", "pseudo_F", "R2", "p_value",
                     "permutations", "strata", "n"]
PERMDISP_COLUMNS = ["comparison", "metric", "pseudo_F", "p_value", "permutations"]
ANOSIM_COLUMNS = ["comparison", "metric", "R", "p_value", "permutations", "strata"]


@dataclass(frozen=True)
class DiversityResult:
    """Every table of the diversity stage.

    Attributes
    ----------
    depth : int or None
        Rarefaction depth (None = not rarefied).
    n_samples : int
        Samples analysed (after rarefaction drops).
    metrics : list of str
        Beta metrics computed (phylogenetic ones dropped without a tree).
    curves : DataFrame
        Rarefaction curves.
    alpha : DataFrame
        Alpha indices, one row per sample (index = sample id).
    distances : dict of str to DataFrame
        Square distance matrix per metric (empty when they went to a ``distance_sink``).
    ordinations : dict of str to (DataFrame, Series)
        PCoA coordinates and proportion explained per metric (metrics with >= 3 samples).
    tests : DataFrame
        Alpha tests of every comparison, with BH ``q_value`` within comparison and test.
    permanova, permdisp, anosim : DataFrame
    pairwise : DataFrame or None
        Pairwise PERMANOVA (grouping columns or comparisons with > 2 levels).
    dysbiosis, dysbiosis_change : DataFrame or None
        Dysbiosis scores (with a healthy reference) and their paired changes.
    dropped : dict of str to str
        Samples dropped by this step, with the reason, in the order they were dropped.
    skipped : list of str
        Tests or metrics not run, with the reason.
    timings : dict of str to float
        Seconds per step.
    """

    depth: int | None
    n_samples: int
    metrics: list[str]
    curves: pd.DataFrame
    alpha: pd.DataFrame
    distances: dict[str, pd.DataFrame]
    ordinations: dict[str, tuple[pd.DataFrame, pd.Series]]
    tests: pd.DataFrame
    permanova: pd.DataFrame
    permdisp: pd.DataFrame
    anosim: pd.DataFrame
    pairwise: pd.DataFrame | None
    dysbiosis: pd.DataFrame | None
    dysbiosis_change: pd.DataFrame | None
    dropped: dict[str, str]
    skipped: list[str]
    timings: dict[str, float]


class _Log:
    """Dropped samples and skipped tests, in the order they happen."""

    def __init__(self) -> None:
        self.dropped: dict[str, str] = {}
        self.skipped: list[str] = []

    def drop(self, sample: str, reason: str) -> None:
        if sample not in self.dropped:
            log.warning("dropping sample %s: %s", sample, reason)
            self.dropped[sample] = reason


def analyse_diversity(
    table: FeatureTable, metadata: pd.DataFrame, *,
    comparisons: Sequence[Comparison] = (), tree: skbio.TreeNode | None = None,
    subject: str | None = None, healthy: tuple[str, str] | None = None,
    rarefy: int | str | None = "auto", metrics: Sequence[str] = (),
    permutations: int = 999, seed: int = 0, group_columns: Sequence[str] = (),
    covariates: Sequence[str] = (), rarefaction_iterations: int = 1,
    progress: ProgressCallback | None = None, distance_sink: DistanceSink | None = None,
) -> DiversityResult:
    """Rarefy, compute alpha and beta diversity, and test every comparison.

    Parameters
    ----------
    table : FeatureTable
        Whole-number counts, every sample non-empty and present in ``metadata``.
    metadata : DataFrame
        Sample metadata indexed by sample id, holding every column the options name.
    comparisons : sequence of Comparison
        ``between``: Mann-Whitney per alpha index, PERMANOVA/PERMDISP/ANOSIM per metric.
        ``paired``: Wilcoxon signed-rank and a mixed model per alpha index, PERMANOVA and
        ANOSIM with permutations within subject. More levels, ``longitudinal`` and
        ``interaction``: the design tests.
    tree : skbio.TreeNode, optional
        Checked tree for Faith's PD and UniFrac (phylogenetic metrics skipped without it).
    subject : str, optional
        Subject column (strata for paired comparisons without their own).
    healthy : (column, level), optional
        Reference samples for the dysbiosis score.
    rarefy : int, "auto" or None
        Depth; ``"auto"`` = smallest sample depth; None = no rarefaction.
    metrics : sequence of str
        Beta metrics (validated names).
    permutations, seed : int
    group_columns : sequence of str
        Columns tested across all their levels.
    covariates : sequence of str
        Extra fixed effects (mixed model, PERMANOVA terms entered first).
    rarefaction_iterations : int
        Average this many rarefactions.
    progress : callable, optional
        ``progress(description, done, total)``; called per block of distance rows too.
    distance_sink : callable, optional
        ``distance_sink(metric, matrix)``, called once per metric as soon as its matrix is
        computed; the result then holds no distance matrix (``distances`` is empty), so
        only one metric's matrix is in memory at a time (large studies: 3.2 GB each in
        float64 at 20,000 samples). Without it ``distances`` holds every matrix.

    Returns
    -------
    DiversityResult

    Notes
    -----
    Beta diversity runs one metric at a time: its matrix, Gower's centred matrix (shared by
    PCoA, PERMANOVA and PERMDISP when they use every sample), the tests of every comparison,
    then ANOSIM's rank matrix after Gower's is freed. Rows are reported in the order
    comparison, then metric, as if all matrices had been computed first.

    Raises
    ------
    InputError
        When rarefaction cannot run (e.g. a depth no sample reaches), naming ``--rarefy``.
    """
    prog = progress or (lambda desc, done, total: None)
    rec = _Log()
    timings: dict[str, float] = {}
    metrics = [m for m in metrics if m not in PHYLOGENETIC_METRICS or tree is not None]
    for m in sorted(set(PHYLOGENETIC_METRICS) - set(metrics)):  # a fixed order in run-info
        rec.skipped.append(f"{m}: no tree given")
        log.info("skipping %s: no tree given", m)

    # ---- rarefaction --------------------------------------------------------------------
    t0 = time.perf_counter()
    try:
        rar = rarefy_samples(table, rarefy, seed=seed, iterations=rarefaction_iterations)
    except AnalysisError as exc:
        raise OptionError("options.rarefy", str(exc)) from exc
    for s, why in rar.dropped:
        rec.drop(s, why)
    ft, rt = rar.table, rar.rarefied
    md = metadata.loc[list(rt.sample_ids)]
    timings["rarefaction"] = round(time.perf_counter() - t0, 3)

    # ---- alpha ----------------------------------------------------------------------------
    t0 = time.perf_counter()
    alpha = alpha_diversity(rt, tree=tree)
    timings["alpha"] = round(time.perf_counter() - t0, 3)

    # ---- which samples each test uses; alpha tests (no distances needed) -----------------
    t0 = time.perf_counter()
    test_rows: list[pd.DataFrame] = []
    comps = []
    for comp in comparisons:
        if comp.kind == "paired" and comp.subject is None and subject is not None:
            comp = Comparison(comp.name, comp.kind, comp.column, comp.levels, comp.where, subject)
        cmd = _usable(comp, md, rec)
        if cmd is not None:
            comps.append((comp, cmd))
    for comp, cmd in comps:
        if _is_design(comp):
            t_df, _, _ = design_tests(alpha.loc[cmd.index], {}, cmd, comp, covariates=covariates,
                                      permutations=permutations, seed=seed)
            test_rows.append(t_df)
            continue
        test_rows.append(alpha_tests(alpha.loc[cmd.index], cmd, [comp]))
        if comp.kind == "paired":
            test_rows.append(alpha_mixed_model(alpha, md, comp, covariates=covariates))
    # slots in the order their rows are reported: comparisons, then grouping columns
    slots: list[_Slot] = [_Slot(comp=comp, md=cmd) for comp, cmd in comps]
    for col in group_columns:
        slots.append(_global_prep(col, md, alpha, rec, test_rows))
    timings["tests"] = time.perf_counter() - t0

    # ---- beta, one metric at a time: distances, ordination, tests, hand-over --------------
    dms: dict[str, pd.DataFrame] = {}
    ordinations: dict[str, tuple[pd.DataFrame, pd.Series]] = {}
    timings["beta"] = 0.0
    dys_metric = "braycurtis" if "braycurtis" in metrics else (metrics[0] if metrics else None)
    scores: pd.DataFrame | None = None
    dys_error: str | None = None
    for i, m in enumerate(metrics):
        prog("beta diversity", i, len(metrics))
        t0 = time.perf_counter()
        src = ft if m in ("aitchison", "robust_aitchison") else rt
        dm = beta_diversity(src, m, tree=tree, progress=_block_progress(prog, f"{m} distances"))
        if distance_sink is not None:
            distance_sink(m, dm)  # written now: the matrix is not kept in the result
        else:
            dms[m] = dm
        gower = gower_centred(dm.to_numpy()) if dm.shape[0] >= 3 else None
        if dm.shape[0] >= 3:
            ordinations[m] = pcoa(dm, gower=gower)
        t_beta = time.perf_counter() - t0
        timings["beta"] += t_beta
        t0 = time.perf_counter()
        for k, slot in enumerate(slots):
            prog(f"{m} tests", k, len(slots))
            slot.gower_tests(m, dm, gower, covariates=covariates, permutations=permutations,
                             seed=seed)
        del gower  # before ANOSIM's rank matrix: at 20,000 samples each is 3.2 GB
        for slot in slots:
            slot.rank_tests(m, dm, permutations=permutations, seed=seed)
        prog(f"{m} tests", len(slots), len(slots))
        if healthy is not None and m == dys_metric:
            try:
                scores = dysbiosis(dm, md, healthy)
            except AnalysisError as exc:
                dys_error = str(exc)
            else:
                scores.insert(1, "metric", m)
        del dm
        t_tests = time.perf_counter() - t0
        timings["tests"] += t_tests
        log.info("beta %s (%d of %d): distances and PCoA %.1f s, tests %.1f s", m, i + 1,
                 len(metrics), t_beta, t_tests)
    prog("beta diversity", len(metrics), len(metrics))

    # ---- collect the rows in report order (comparison, then metric) -------------------------
    perm_rows: list[dict] = []
    disp_rows: list[dict] = []
    anosim_rows: list[dict] = []
    pair_rows: list[pd.DataFrame] = []
    for slot in slots:
        rec.skipped.extend(slot.skipped_before)
        for m in metrics:
            out = slot.out.get(m)
            if out is None:
                continue
            rec.skipped.extend(out.skipped)
            perm_rows.extend(out.permanova)
            disp_rows.extend(out.permdisp)
            anosim_rows.extend(out.anosim)
            pair_rows.extend(out.pairs)

    # ---- dysbiosis ------------------------------------------------------------------------
    t0 = time.perf_counter()
    dys_rows: list[pd.DataFrame] = []
    if dys_error is not None:
        rec.skipped.append(f"dysbiosis: {dys_error}")
        log.warning("no dysbiosis score: %s", dys_error)
    if scores is not None:
        dm_name = str(scores["metric"].iloc[0]) if len(scores) else dys_metric
        for comp, _cmd in comps:
            if comp.kind != "paired":
                continue
            per, row = dysbiosis_change(scores, md, comp)
            row["index"] = f"dysbiosis_{dm_name}"
            row["q_value"] = row["p_value"]
            dys_rows.append(per)
            test_rows.append(pd.DataFrame([row], columns=TEST_COLUMNS))

    tests = pd.concat(test_rows, ignore_index=True) if test_rows else pd.DataFrame(columns=TEST_COLUMNS)
    if len(tests):
        tests["q_value"] = np.nan
        for _, idx in tests.groupby(["comparison", "test"]).groups.items():
            tests.loc[idx, "q_value"] = bh(tests.loc[idx, "p_value"].to_numpy(dtype=float))
    has_term = "term" in tests.columns and tests["term"].notna().any()  # designs
    tests = tests[TEST_COLUMNS + (["term"] if has_term else [])]
    timings["tests"] += time.perf_counter() - t0
    timings["beta"] = round(timings["beta"], 3)
    timings["tests"] = round(timings["tests"], 3)
    return DiversityResult(
        depth=rar.depth, n_samples=rt.shape[1], metrics=list(metrics), curves=rar.curves,
        alpha=alpha, distances=dms, ordinations=ordinations, tests=tests,
        permanova=pd.DataFrame(perm_rows, columns=PERMANOVA_COLUMNS),
        permdisp=pd.DataFrame(disp_rows, columns=PERMDISP_COLUMNS),
        anosim=pd.DataFrame(anosim_rows, columns=ANOSIM_COLUMNS),
        pairwise=pd.concat(pair_rows, ignore_index=True) if pair_rows else None,
        dysbiosis=scores,
        dysbiosis_change=pd.concat(dys_rows, ignore_index=True) if dys_rows else None,
        dropped=rec.dropped, skipped=rec.skipped, timings=timings,
    )


def _block_progress(prog: ProgressCallback, desc: str) -> Callable[[int, int], None]:
    """``progress(done, total)`` of the distance kernels as the stage's ``prog(desc, ...)``."""
    def call(done: int, total: int) -> None:
        prog(desc, done, total)
    return call


def _is_design(comp: Comparison) -> bool:
    """Comparisons tested by :func:`design_tests` (more levels, longitudinal, interaction)."""
    return comp.kind in ("longitudinal", "interaction") or len(comp.levels) > 2


@dataclass
class _MetricRows:
    """The beta-test rows of one slot and metric."""

    permanova: list[dict] = field(default_factory=list)
    permdisp: list[dict] = field(default_factory=list)
    anosim: list[dict] = field(default_factory=list)
    pairs: list[pd.DataFrame] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class _Slot:
    """One comparison (``comp``, its samples ``md``) or grouping column (``column``, ``md``)
    and its beta-test rows per metric, filled one metric at a time."""

    md: pd.DataFrame | None
    comp: Comparison | None = None
    column: str | None = None
    skipped_before: list[str] = field(default_factory=list)
    out: dict[str, _MetricRows] = field(default_factory=dict)

    def gower_tests(self, m: str, dm: pd.DataFrame, gower: np.ndarray | None, *,
                    covariates: Sequence[str], permutations: int, seed: int) -> None:
        """PERMANOVA (and PERMDISP, pairwise PERMANOVA, design PERMANOVAs) of metric ``m``;
        ``gower`` is reused when the test uses every sample of ``dm`` in its order."""
        if self.md is None:
            return
        rows = self.out.setdefault(m, _MetricRows())
        if self.column is not None:
            _global_beta(self.column, m, self.md, dm, gower, permutations, seed, rows)
            return
        comp, cmd = self.comp, self.md
        assert comp is not None
        if _is_design(comp):
            _, p_rows, p_pairs = design_tests(
                pd.DataFrame(index=cmd.index), {m: dm}, cmd, comp, covariates=covariates,
                permutations=permutations, seed=seed)
            rows.permanova.extend(p_rows)
            rows.pairs.extend(p_pairs)
            return
        strata = comp.subject if comp.kind == "paired" else None
        ids = list(cmd.index)
        # covariates enter the PERMANOVA first, so the comparison's term is tested after them
        covs = [c for c in covariates if c in cmd.columns and c != comp.column]
        terms = [*covs, comp.column]
        perm_ids = list(cmd.index[cmd[covs].notna().all(axis=1)]) if covs else ids
        try:
            res = permanova(subset_distance(dm, perm_ids), cmd.loc[perm_ids], terms,
                            strata=strata, permutations=permutations, seed=seed,
                            gower=_same(gower, dm, perm_ids))
        except AnalysisError as exc:
            rows.skipped.append(f"PERMANOVA {comp.name} {m}: {exc}")
            log.warning("PERMANOVA %s %s not run: %s", comp.name, m, exc)
        else:
            for _, r0 in res[res["term"].isin(terms)].iterrows():
                rows.permanova.append({
                    "comparison": comp.name, "metric": m, "term": r0["term"], "df": r0["df"],
                    "pseudo_F": r0["pseudo_F"], "R2": r0["R2"], "p_value": r0["p_value"],
                    "permutations": permutations, "strata": strata or "", "n": len(perm_ids)})
        if comp.kind == "between":
            f, p, _ = permdisp(subset_distance(dm, ids), cmd[comp.column],
                               permutations=permutations, seed=seed, gower=_same(gower, dm, ids))
            rows.permdisp.append({"comparison": comp.name, "metric": m, "pseudo_F": f,
                                  "p_value": p, "permutations": permutations})

    def rank_tests(self, m: str, dm: pd.DataFrame, *, permutations: int, seed: int) -> None:
        """ANOSIM of metric ``m`` (two-level comparisons)."""
        if self.md is None or self.comp is None or _is_design(self.comp):
            return
        comp, cmd = self.comp, self.md
        strata = comp.subject if comp.kind == "paired" else None
        r, p = anosim(subset_distance(dm, list(cmd.index)), cmd[comp.column],
                      permutations=permutations, seed=seed,
                      strata=cmd[strata] if strata else None)
        self.out.setdefault(m, _MetricRows()).anosim.append(
            {"comparison": comp.name, "metric": m, "R": r, "p_value": p,
             "permutations": permutations, "strata": strata or ""})


def _same(gower: np.ndarray | None, dm: pd.DataFrame, ids: list) -> np.ndarray | None:
    """``gower`` when ``ids`` are all of ``dm``'s samples in its order, else None."""
    if gower is not None and len(ids) == dm.shape[0] and ids == list(dm.index):
        return gower
    return None


def _usable(comp: Comparison, md: pd.DataFrame, rec: _Log) -> pd.DataFrame | None:
    """The samples a comparison can use, or None (with a logged reason) when it cannot run."""
    try:
        cmd, dropped = comparison_samples(md, comp)
    except AnalysisError as exc:
        rec.skipped.append(f"{comp.name}: {exc}")
        log.warning("skipping comparison %s: %s", comp.name, exc)
        return None
    for s, why in dropped.items():
        rec.drop(s, why)
    counts = cmd[comp.column].astype(str).value_counts()
    small = [lv for lv in comp.levels if counts.get(lv, 0) < 2]
    if small:
        why = ", ".join(f"{lv} has {counts.get(lv, 0)} sample(s)" for lv in small)
        for lv in small:
            for s in cmd.index[cmd[comp.column].astype(str) == lv]:
                rec.drop(s, f"{comp.name}: group {lv} has only one sample")
        rec.skipped.append(f"{comp.name}: {why}; needs at least 2 per level")
        log.warning("skipping comparison %s: %s", comp.name, why)
        return None
    return cmd


def _global_prep(col: str, md: pd.DataFrame, alpha: pd.DataFrame, rec: _Log,
                 test_rows: list) -> _Slot:
    """Samples of a grouping column's tests (levels with >= 2 samples) and its
    Kruskal-Wallis rows; the slot has no samples when fewer than two levels remain."""
    g = md[col].dropna().astype(str)
    counts = g.value_counts()
    for lv in counts.index[counts < 2]:
        for s in g.index[g == lv]:
            rec.drop(s, f"group {col}={lv} has only one sample")
    g = g[g.isin(counts.index[counts >= 2])]
    if g.nunique() < 2:
        log.warning("no tests across %s: fewer than two levels with at least 2 samples", col)
        return _Slot(md=None, column=col,
                     skipped_before=[f"{col}: fewer than two levels with >= 2 samples"])
    if g.nunique() > 2:
        test_rows.append(alpha_kruskal(alpha, g, name=f"{col}-all-levels"))
    return _Slot(md=md.loc[list(g.index)], column=col)


def _global_beta(col: str, m: str, sub_md: pd.DataFrame, dm: pd.DataFrame,
                 gower: np.ndarray | None, permutations: int, seed: int,
                 rows: _MetricRows) -> None:
    """PERMANOVA across all levels of ``col`` (and pairwise with more than two levels)."""
    name = f"{col}-all-levels"
    ids = list(sub_md.index)
    sub = subset_distance(dm, ids)
    multi = sub_md[col].astype(str).nunique() > 2
    try:
        res = permanova(sub, sub_md, [col], permutations=permutations, seed=seed,
                        gower=_same(gower, dm, ids))
    except MicrotrialError as exc:
        rows.skipped.append(f"PERMANOVA {name} {m}: {exc}")
        return
    r0 = res.iloc[0]
    rows.permanova.append({"comparison": name, "metric": m, "term": col,
                           "df": r0["df"], "pseudo_F": r0["pseudo_F"], "R2": r0["R2"],
                           "p_value": r0["p_value"], "permutations": permutations, "strata": "",
                           "n": len(ids)})
    if multi:
        pw = pairwise_permanova(sub, sub_md, col, permutations=permutations, seed=seed)
        pw.insert(0, "metric", m)
        rows.pairs.append(pw)
