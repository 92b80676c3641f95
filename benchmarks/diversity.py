"""Diversity benchmark: agreement with vegan/phyloseq (run live) and speed at scale.

Usage::

    .venv/bin/python benchmarks/diversity.py            # agreement (needs Rscript) + speed
    .venv/bin/python benchmarks/diversity.py --skip-r   # speed only
    .venv/bin/python benchmarks/diversity.py --quick    # smaller speed case

Part 1 writes the MiSeq SOP table (../shared/data) and a random rooted tree over its ASVs
to a temporary folder, runs vegan (estimateR, diversity, vegdist, adonis2) and phyloseq
(estimate_richness, UniFrac) with Rscript, runs microtrial on the same inputs, and prints
the largest absolute differences and both timings.

Part 2 builds a sparse table of 2,000 samples x 10,000 ASVs (400 ASVs drawn per sample
from a Pareto popularity, geometric counts) and a random binary tree over the ASVs, warms
the JIT, and times (median of runs) PERMANOVA with 999 permutations on the 2,000-sample
Bray-Curtis matrix against ``skbio.stats.distance.permanova``, and UniFrac over all pairs
against scikit-bio's per-pair UniFrac (extrapolated from a sample subset: it is too slow to
run on all 2 million pairs). Prints ratios, peak memory and the machine load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from microtrial.diversity import alpha_diversity, beta_diversity, permanova
from microtrial.table import FeatureTable

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MICROTRIAL_SHARED", ROOT.parent / "shared")) / "data"

R_SCRIPT = r"""
suppressPackageStartupMessages({library(vegan); library(phyloseq); library(ape)})
args <- commandArgs(trailingOnly = TRUE); d <- args[1]
x <- t(as.matrix(read.delim(file.path(d, "table.tsv"), row.names = 1, check.names = FALSE)))
md <- read.delim(file.path(d, "metadata.tsv"), row.names = 1)
tree <- read.tree(file.path(d, "tree.nwk"))
tm <- function(expr) { t0 <- proc.time()[["elapsed"]]; force(expr); proc.time()[["elapsed"]] - t0 }
w <- function(v, f) write.table(v, file.path(d, f), sep = "\t", quote = FALSE, col.names = NA)
timing <- c()
timing["vegan_alpha"] <- tm({er <- t(estimateR(x)); sh <- diversity(x); si <- diversity(x, "simpson")})
w(data.frame(observed_features = er[, "S.obs"], shannon = sh, simpson = si,
             chao1 = er[, "S.chao1"], ace = er[, "S.ACE"]), "r-alpha.tsv")
timing["vegan_bray"] <- tm(bc <- vegdist(x, "bray"))
w(as.matrix(bc), "r-bray.tsv")
set.seed(1)
timing["vegan_adonis2_999"] <- tm(a <- adonis2(bc ~ time, data = md, permutations = 999))
w(as.data.frame(a), "r-adonis2.tsv")
ps <- phyloseq(otu_table(t(x), taxa_are_rows = TRUE), phy_tree(tree))
timing["phyloseq_richness"] <- tm(er2 <- estimate_richness(ps, measures = c("Observed", "Chao1", "ACE", "Shannon", "Simpson")))
w(er2, "r-phyloseq-richness.tsv")
timing["phyloseq_unweighted_unifrac"] <- tm(uu <- UniFrac(ps, weighted = FALSE))
timing["phyloseq_weighted_unifrac"] <- tm(wu <- UniFrac(ps, weighted = TRUE, normalized = FALSE))
w(as.matrix(uu), "r-uunifrac.tsv"); w(as.matrix(wu), "r-wunifrac.tsv")
w(data.frame(seconds = timing), "r-timing.tsv")
"""


def _median_time(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _random_tree(ids: list[str], rng: np.random.Generator):  # noqa: ANN202
    from skbio import TreeNode

    nodes = [TreeNode(name=i, length=float(rng.uniform(0.01, 1.0))) for i in ids]
    while len(nodes) > 1:
        i, j = sorted(rng.choice(len(nodes), 2, replace=False))
        b, a = nodes.pop(j), nodes.pop(i)
        nodes.append(TreeNode(children=[a, b], length=float(rng.uniform(0.0, 1.0))))
    return nodes[0]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def agreement() -> None:
    print("== agreement with vegan / phyloseq (live) ==")
    if shutil.which("Rscript") is None:
        print("Rscript not found: skipped")
        return
    seqtab = SHARED / "miseq-sop/reference-outputs/dada2-1.26-seqtab.tsv"
    if not seqtab.exists():
        print(f"{seqtab} missing: skipped")
        return
    st = pd.read_csv(seqtab, sep="\t", index_col=0)
    st.index = [f"asv{i}" for i in range(len(st))]
    md = pd.DataFrame({"time": ["Late" if int(s[3:]) >= 141 else "Early" for s in st.columns]},
                      index=st.columns)
    table = FeatureTable.from_dataframe(st)
    tree = _random_tree(list(st.index), np.random.default_rng(7))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        st.to_csv(d / "table.tsv", sep="\t")
        md.to_csv(d / "metadata.tsv", sep="\t")
        tree.write(str(d / "tree.nwk"), format="newick")
        (d / "bench.R").write_text(R_SCRIPT)
        t0 = time.perf_counter()
        subprocess.run(["Rscript", str(d / "bench.R"), str(d)], check=True)
        r_wall = time.perf_counter() - t0
        rt = pd.read_csv(d / "r-timing.tsv", sep="\t", index_col=0)["seconds"]
        ra = pd.read_csv(d / "r-alpha.tsv", sep="\t", index_col=0)
        rbc = pd.read_csv(d / "r-bray.tsv", sep="\t", index_col=0)
        rad = pd.read_csv(d / "r-adonis2.tsv", sep="\t", index_col=0)
        rps = pd.read_csv(d / "r-phyloseq-richness.tsv", sep="\t", index_col=0)
        ruu = pd.read_csv(d / "r-uunifrac.tsv", sep="\t", index_col=0)
        rwu = pd.read_csv(d / "r-wunifrac.tsv", sep="\t", index_col=0)
    cols = ["observed_features", "shannon", "simpson", "chao1", "ace"]
    alpha_diversity(table, metrics=cols)  # warm
    ta, a = _median_time(lambda: alpha_diversity(table, metrics=cols), 3)
    tb, bc = _median_time(lambda: beta_diversity(table, "braycurtis"), 3)
    tp, pm = _median_time(lambda: permanova(bc, md, ["time"], permutations=999, seed=1), 3)
    tu, uu = _median_time(lambda: beta_diversity(table, "unweighted_unifrac", tree=tree), 3)
    tw, wu = _median_time(lambda: beta_diversity(table, "weighted_unifrac", tree=tree), 3)
    ids = list(a.index)

    def diff(x: pd.DataFrame, y: pd.DataFrame) -> float:
        return float(np.abs(x.to_numpy(dtype=float) - y.loc[x.index, list(x.columns)].to_numpy(dtype=float)).max())

    print(f"R wall time (incl. start-up and package loading): {r_wall:.2f} s")
    print(f"{'quantity':<34}{'max |ours - R|':>16}{'ours s':>10}{'R s':>10}")
    for c in cols:
        print(f"{'vegan ' + c:<34}{float(np.abs(a[c] - ra.loc[ids, c]).max()):>16.2e}")
    print(f"{'alpha (all five)':<34}{'':>16}{ta:>10.4f}{rt['vegan_alpha']:>10.4f}")
    print(f"{'vegan vegdist bray':<34}{diff(bc, rbc):>16.2e}{tb:>10.4f}{rt['vegan_bray']:>10.4f}")
    r0 = pm.iloc[0]
    print(f"{'adonis2 pseudo-F':<34}{abs(r0['pseudo_F'] - rad.loc['time', 'F']):>16.2e}{tp:>10.4f}"
          f"{rt['vegan_adonis2_999']:>10.4f}")
    print(f"{'adonis2 R2':<34}{abs(r0['R2'] - rad.loc['time', 'R2']):>16.2e}")
    print(f"{'adonis2 p (999 perms)':<34}{'ours ' + format(r0['p_value'], '.3f') + ' R ' + format(rad.loc['time', 'Pr(>F)'], '.3f'):>16}")
    pmap = {"observed_features": "Observed", "chao1": "Chao1", "ace": "ACE", "shannon": "Shannon",
            "simpson": "Simpson"}
    rps.index = [i.lstrip("X") if i not in ids else i for i in rps.index]
    for c, rc in pmap.items():
        print(f"{'phyloseq ' + rc:<34}{float(np.abs(a[c].to_numpy() - rps.loc[ids, rc].to_numpy()).max()):>16.2e}")
    print(f"{'phyloseq UniFrac unweighted':<34}{diff(uu, ruu):>16.2e}{tu:>10.4f}{rt['phyloseq_unweighted_unifrac']:>10.4f}")
    print(f"{'phyloseq UniFrac weighted (unnorm.)':<34}{diff(wu, rwu):>16.2e}{tw:>10.4f}{rt['phyloseq_weighted_unifrac']:>10.4f}")


def _big_table(n: int, m: int, seed: int = 0) -> FeatureTable:
    rng = np.random.default_rng(seed)
    pop = rng.pareto(1.0, m) + 1e-3
    pop /= pop.sum()
    rows, cols, vals = [], [], []
    for j in range(n):
        f = np.unique(rng.choice(m, 400, p=pop))
        rows.append(f)
        cols.append(np.full(f.size, j))
        vals.append(rng.geometric(0.05, f.size))
    x = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, n))
    return FeatureTable(x, [f"f{i}" for i in range(m)], [f"s{i}" for i in range(n)])


def speed(n: int, m: int, runs: int, sk_perms: int) -> None:
    from skbio import DistanceMatrix
    from skbio.diversity.beta import unweighted_unifrac, weighted_unifrac
    from skbio.stats.distance import permanova as sk_permanova

    print(f"\n== speed: {n} samples x {m} ASVs (load average before: {_load()}) ==")
    rng = np.random.default_rng(1)
    table = _big_table(n, m)
    tree = _random_tree(list(table.feature_ids), rng)
    small = table.select_samples(list(table.sample_ids[:20])).drop_empty_features()
    beta_diversity(small, "weighted_unifrac", tree=tree)  # warm the JIT
    beta_diversity(small, "unweighted_unifrac", tree=tree)
    md = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n)}, index=list(table.sample_ids))

    tbc, bc = _median_time(lambda: beta_diversity(table, "braycurtis"), runs)
    print(f"Bray-Curtis all pairs: {tbc:.2f} s")
    tp, res = _median_time(lambda: permanova(bc, md, ["g"], permutations=999, seed=0), runs)
    dm = DistanceMatrix(bc.to_numpy(), list(bc.index))
    t0 = time.perf_counter()
    sk = sk_permanova(dm, md["g"].to_numpy(), permutations=sk_perms, seed=0)
    tsk = (time.perf_counter() - t0) * (999 + 1) / (sk_perms + 1)
    note = "" if sk_perms == 999 else f" (extrapolated from {sk_perms} permutations)"
    print(f"PERMANOVA 999 perms, {n} samples: microtrial {tp:.2f} s, scikit-bio {tsk:.2f} s{note}, "
          f"ratio skbio/ours = {tsk / tp:.1f}x; pseudo-F ours {res.iloc[0]['pseudo_F']:.10f} "
          f"skbio {sk['test statistic']:.10f}")
    for weighted, fn in ((False, unweighted_unifrac), (True, weighted_unifrac)):
        metric = "weighted_unifrac" if weighted else "unweighted_unifrac"
        cpu0 = time.process_time()
        tu, d = _median_time(lambda metric=metric: beta_diversity(table, metric, tree=tree), runs)
        cpu = (time.process_time() - cpu0) / runs
        k = 8
        sub = table.data[:, :k].toarray()
        ids = list(table.feature_ids)
        t0 = time.perf_counter()
        worst = 0.0
        for i in range(k):
            for j in range(i + 1, k):
                ref = fn(sub[:, i], sub[:, j], ids, tree)
                worst = max(worst, abs(ref - d.iat[i, j]))
        per_pair = (time.perf_counter() - t0) / (k * (k - 1) / 2)
        est = per_pair * n * (n - 1) / 2
        print(f"{metric}: microtrial {tu:.2f} s wall ({cpu:.2f} s CPU); scikit-bio per pair "
              f"{per_pair * 1e3:.1f} ms -> ~{est / 3600:.1f} h for all pairs (extrapolated); "
              f"max |diff| on {k * (k - 1) // 2} checked pairs {worst:.1e}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB; load average after: {_load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-r", action="store_true", help="skip the live vegan/phyloseq comparison")
    ap.add_argument("--quick", action="store_true", help="500 samples x 3,000 ASVs instead")
    ap.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    ap.add_argument("--skbio-permutations", type=int, default=999,
                    help="permutations for scikit-bio's permanova (time scaled to 999)")
    args = ap.parse_args()
    if not args.skip_r:
        agreement()
    if args.quick:
        speed(500, 3000, args.runs, args.skbio_permutations)
    else:
        speed(2000, 10000, args.runs, args.skbio_permutations)


if __name__ == "__main__":
    main()
