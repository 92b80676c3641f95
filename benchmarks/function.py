"""Functional prediction benchmark on PICRUSt2's complete archaeal reference.

Usage:
    .venv/bin/python benchmarks/function.py [--shared ../shared/data] [--holdout 50]
        [--asvs 5000] [--threads 2] [--seed 1] [--skip-accuracy] [--skip-speed]

Accuracy (leave-genomes-out): ``--holdout`` genomes drawn at random (seed) are held out
together: their traits are hidden and, for the placement route, their tips are removed from
the reference tree and alignment (the profile HMM, built with them, is kept: a small leak).
Their full 16S (ungapped from arc_ref.fna) is then placed as a query against the reduced
reference and their KO copy numbers predicted. Printed per route, over the held-out genomes:
the mean, median and quartiles of the per-genome Spearman correlation between predicted and
true copy numbers across all KO columns (as PICRUSt2's paper reports it):

- ``mp (tree)``: mp on the full tree with the genomes' tips kept but their traits hidden
  (the genome's true position, no placement error);
- ``mp (placed)``: the genomes placed on the reduced reference, then mp;
- ``nearest (placed)``: baseline, the KO profile of the nearest reference genome (by branch
  length) to the placed genome.

Most KOs are absent from most genomes, so rho over all columns is high for any method that
gets absences right; rho over the KOs present in the genome or its prediction is printed
too.

Speed: ``--asvs`` ASVs simulated from random reference genomes (their V4 region: the
alignment columns between the 515F and 806R primer sites of the first reference sequence
that has both, ungapped; genomes with less than 200 nt there are skipped; with 0-5% random
substitutions) are placed on the full archaeal reference and their 16S and KO copy numbers
predicted; time per step and peak memory (ru_maxrss) are printed. No competitor runs here
(PICRUSt2 needs conda, EPA-ng, R); the target is "within minutes on 2 cores".
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from microtrial.function import load_reference, place_sequences, predict_traits  # noqa: E402
from microtrial.function._hsp import _nearest, prune_to_known  # noqa: E402
from microtrial.function._phylo import parse_newick  # noqa: E402
from microtrial.function._place import (  # noqa: E402
    build_placement_reference,
    parse_hmm_map,
    read_aligned_fasta,
)

F515 = "GTG[CT]CAGC[AC]GCCGCGG[ACGT]AA"
R806_RC = "ATTAGA[AT]ACCC[CGT][ACGT]GTAGTCC"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes (user + system): on a
    shared machine wall-clock times depend on the load, CPU time much less."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def spearman_rows(pred: np.ndarray, true: np.ndarray, *, present_only: bool = False
                  ) -> np.ndarray:
    """Spearman's rho per genome over all KO columns (or, with ``present_only``, over the
    KOs non-zero in the truth or the prediction of that genome)."""
    out = np.full(pred.shape[0], np.nan)
    for i in range(pred.shape[0]):
        p, t = pred[i], true[i]
        if present_only:
            keep = (p > 0) | (t > 0)
            p, t = p[keep], t[keep]
        if p.size > 2 and np.ptp(p) > 0 and np.ptp(t) > 0:
            out[i] = stats.spearmanr(p, t).statistic
    return out


def summary(name: str, rho: np.ndarray) -> None:
    ok = rho[~np.isnan(rho)]
    q1, med, q3 = np.percentile(ok, [25, 50, 75])
    print(f"  {name:<18} mean {ok.mean():.3f}  median {med:.3f}  IQR {q1:.3f}-{q3:.3f}  "
          f"(n={ok.size}{', ' + str(rho.size - ok.size) + ' undefined' if ok.size < rho.size else ''})")


def accuracy(ref, aligned: dict[str, str], holdout: int, seed: int, threads: int) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    ko = ref.read_traits("ko")
    tree = ref.read_tree()
    tips = tree.tip_index()
    genomes = [g for g in ko.index if g in tips and g in aligned]
    held = sorted(rng.choice(genomes, size=min(holdout, len(genomes)), replace=False))
    known = ko.drop(index=held)
    truth = ko.loc[held].to_numpy()
    print(f"leave-{len(held)}-genomes-out on {len(genomes)} archaeal genomes, "
          f"{ko.shape[1]} KO columns (seed {seed})")
    t0 = time.perf_counter()
    pred_tree = predict_traits(tree, known).loc[held].to_numpy()
    t_tree = time.perf_counter() - t0
    # reduced reference without the held-out genomes
    t0 = time.perf_counter()
    keep = {tips[g]: i for i, g in enumerate(tips) if g not in set(held)}
    reduced = prune_to_known(tree, keep).tree
    hmm_text = ref.hmm.read_text()
    from pyhmmer.plan7 import HMMFile

    from microtrial.function._place import parse_model

    with HMMFile(str(ref.hmm)) as fh:
        hmm = fh.read()
    red_aligned = {k: v for k, v in aligned.items() if k not in set(held)}
    pref = build_placement_reference(red_aligned, reduced, hmm, parse_hmm_map(hmm_text),
                                     parse_model(ref.model.read_text()))
    queries = {f"held_{g}": re.sub(r"[-.]", "", aligned[g]) for g in held}
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    placed = place_sequences(queries, pref, threads=threads)
    t_place = time.perf_counter() - t0
    placed_tree = parse_newick(placed.placed_tree)
    names = [f"held_{g}" for g in held]
    t0 = time.perf_counter()
    pred_placed = predict_traits(placed_tree, known.loc[known.index.isin(placed_tree.names)])
    pred_placed = pred_placed.reindex(names).to_numpy()
    t_hsp = time.perf_counter() - t0
    t0 = time.perf_counter()
    dist, nearest = _nearest(placed_tree, list(known.index))
    pred_nn = known.loc[nearest.loc[names].to_numpy()].to_numpy()
    t_nn = time.perf_counter() - t0
    print(f"  times: mp on the full tree {t_tree:.1f} s; reduced reference {t_ref:.1f} s; "
          f"placement {t_place:.1f} s; mp on the placed tree {t_hsp:.1f} s; "
          f"nearest neighbour {t_nn:.1f} s")
    print(f"  unplaced: {len(placed.unplaced)}; NSTI of the placed genomes: median "
          f"{np.median(dist.loc[names]):.4f}, max {dist.loc[names].max():.4f}")
    print("  Spearman rho per held-out genome (predicted vs true KO copy numbers):")
    summary("mp (tree)", spearman_rows(pred_tree, truth))
    summary("mp (placed)", spearman_rows(pred_placed, truth))
    summary("nearest (placed)", spearman_rows(pred_nn, truth))
    print("  the same over the KOs present (non-zero) in the genome or its prediction:")
    summary("mp (tree)", spearman_rows(pred_tree, truth, present_only=True))
    summary("mp (placed)", spearman_rows(pred_placed, truth, present_only=True))
    summary("nearest (placed)", spearman_rows(pred_nn, truth, present_only=True))
    exact = [(pred_placed[i] == truth[i]).mean() for i in range(len(held))]
    exact_nn = [(pred_nn[i] == truth[i]).mean() for i in range(len(held))]
    print(f"  share of KO values exactly right: mp (placed) {np.mean(exact):.3f}, "
          f"nearest (placed) {np.mean(exact_nn):.3f}")


def v4_columns(aligned: dict[str, str]) -> tuple[int, int]:
    """Alignment columns of the V4 amplicon (between the 515F and 806R primer sites), from
    the first reference sequence where both primers are found."""
    for s in aligned.values():
        ungapped_pos = [i for i, ch in enumerate(s) if ch not in "-."]
        u = "".join(s[i] for i in ungapped_pos)
        f = re.search(F515, u)
        r = re.search(R806_RC, u)
        if f and r and r.start() > f.end():
            return ungapped_pos[f.end()], ungapped_pos[r.start() - 1] + 1
    raise SystemExit("no reference sequence has both V4 primer sites")


def v4(seq_aligned: str, cols: tuple[int, int]) -> str:
    return re.sub(r"[-.]", "", seq_aligned[cols[0]:cols[1]])


def speed(ref, aligned: dict[str, str], n_asvs: int, seed: int, threads: int) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    cols = v4_columns(aligned)
    ids = [g for g in aligned if len(v4(aligned[g], cols)) >= 200]
    asvs = {}
    for i in range(n_asvs):
        g = ids[int(rng.integers(len(ids)))]
        s = np.array(list(v4(aligned[g], cols)))
        rate = rng.uniform(0, 0.05)
        hit = rng.random(s.size) < rate
        s[hit] = rng.choice(list("ACGT"), size=int(hit.sum()))
        asvs[f"asv{i}"] = "".join(s)
    lengths = [len(s) for s in asvs.values()]
    print(f"\n{n_asvs} simulated ASVs (median length {int(np.median(lengths))}), threads "
          f"{threads}")
    t0 = time.perf_counter()
    pref = ref.read_placement()
    t_read = time.perf_counter() - t0
    steps: dict[str, float] = {}
    wall = {}

    def stamp(name: str, since: float, cpu_since: float) -> None:
        wall[name] = time.perf_counter() - since
        steps[name] = cpu_seconds() - cpu_since

    def step_timer(step: str, done: int, total: int) -> None:
        if done == total and step not in marks:
            marks[step] = (time.perf_counter(), cpu_seconds())

    marks: dict[str, tuple[float, float]] = {}
    t0, c0 = time.perf_counter(), cpu_seconds()
    placed = place_sequences(asvs, pref, threads=threads, progress=step_timer)
    stamp("place", t0, c0)
    t_place = wall["place"]
    prev = (t0, c0)
    for step in ("align", "likelihood vectors", "place"):
        if step in marks:
            print(f"  placement step {step}: wall {marks[step][0] - prev[0]:.1f} s, CPU "
                  f"{marks[step][1] - prev[1]:.1f} s")
            prev = marks[step]
    tree = parse_newick(placed.placed_tree)
    t0, c0 = time.perf_counter(), cpu_seconds()
    marker = predict_traits(tree, ref.read_traits("16S"), calculate_nsti=True)
    stamp("hsp 16S", t0, c0)
    t_16s = wall["hsp 16S"]
    t0, c0 = time.perf_counter(), cpu_seconds()
    ko = ref.read_traits("ko")
    stamp("read ko", t0, c0)
    t_read_ko = wall["read ko"]
    t0, c0 = time.perf_counter(), cpu_seconds()
    pred = predict_traits(tree, ko)
    stamp("hsp ko", t0, c0)
    t_ko = wall["hsp ko"]
    total = t_read + t_place + t_16s + t_read_ko + t_ko
    print(f"  read reference {t_read:.1f} s; place {t_place:.1f} s "
          f"({len(placed.unplaced)} unplaced); hsp 16S + NSTI {t_16s:.1f} s; read ko "
          f"{t_read_ko:.1f} s; hsp ko ({ko.shape[1]} traits) {t_ko:.1f} s; total {total:.1f} s")
    print("  CPU seconds (user + system, worker processes included): " + "; ".join(
        f"{k} {v:.1f}" for k, v in steps.items()) + f"; total {sum(steps.values()):.1f}")
    print(f"  predicted {pred.shape[0]} tips x {pred.shape[1]} KOs; median NSTI "
          f"{marker['metadata_NSTI'].median():.4f}; peak memory {peak_mb():.0f} MB "
          f"(this process)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--holdout", type=int, default=50)
    ap.add_argument("--asvs", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    ref = load_reference(args.shared / "picrust2-ref" / "archaea")
    aligned = read_aligned_fasta(ref.fna)
    # JIT warm-up on a tiny input
    warm = {"w": re.sub(r"[-.]", "", next(iter(aligned.values())))[500:700]}
    pref = ref.read_placement()
    place_sequences(warm, pref)
    predict_traits(parse_newick("((a:1,b:1):1,c:1);"),
                   pd.DataFrame({"t": [1, 2]}, index=["a", "b"]))
    del pref
    if not args.skip_accuracy:
        accuracy(ref, aligned, args.holdout, args.seed, args.threads)
    if not args.skip_speed:
        speed(ref, aligned, args.asvs, args.seed, args.threads)


if __name__ == "__main__":
    main()
