"""Same random numbers, same answers? microtrial's classifier replayed on assignTaxonomy's draws.

Cross-validation F-measures of two bootstrap classifiers differ from run to run by
bootstrap noise alone, so comparing two runs cannot tell a faithful implementation from
one that is slightly worse.  This script removes the noise: it gives microtrial's scoring
the very uniform random numbers that R DADA2's ``assignTaxonomy`` used, and compares the
two classifiers' choices draw by draw.

R side (``dada2_replay.R``): on each cross-validation fold of ``benchmarks/classify.py
--cv`` (same split of Greengenes 13_8 97%, same held-out sequences), R trains exactly as
``assignTaxonomy`` does (DADA2-format headers padded to equal depth, groups = unique
headers in file order, one integer per name and rank) and calls DADA2's own
``C_assign_taxonomy2`` directly, so that it returns the genus chosen by every bootstrap
(``boot_tax``), which ``assignTaxonomy`` discards.  It also saves the ``runif`` vector
that ``C_assign_taxonomy2`` draws first (re-seeded, drawn again), and the script checks
that microtrial's ``r_runif`` (R's ``set.seed`` and generator) gives exactly those numbers.

microtrial side (``microtrial.taxonomy._replay``): the model trained by
``train_classifier`` on the same training sequences must group them exactly as R did;
it is scored with microtrial's own kernels (the word-major sparse scorer with float64 sums
and random choice among tied groups), each bootstrap taking the words that DADA2's layout
of the uniforms picks.  Only what DADA2 draws with ``std::random_device`` (the choice
among tied genera) cannot be replayed.

Printed: how many full queries and how many bootstraps choose R's genus; every
disagreement classed as an exact tie in microtrial's score (a random choice in both
tools), a near tie (microtrial's score of R's genus within 1e-3 of its best: R sums
float32 log-probabilities, so it cannot order genera closer than that), or other; per-rank
bootstrap counts equal to R's; and precision, recall and F-measure per rank of R's calls,
of microtrial's calls on R's draws and of microtrial's with its own draws.

Usage::

    .venv/bin/python benchmarks/classify_replay.py [--folds 5] [--cv-test 600]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import cv_split, gg_levels, greengenes, norm, score, write_dada2_reference  # noqa: E402

R_SCRIPT = Path(__file__).resolve().parent / "dada2_replay.R"


def run_r(queries: list[str], train_fa: Path, work: Path, seed: int) -> dict:
    """``dada2_replay.R`` on these queries: R's groups and choices (0-based), its per-rank
    bootstrap counts, the uniforms it drew and its classification time."""
    (work / "q.txt").write_text("\n".join(queries) + "\n")
    pre = str(work / "r")
    out = subprocess.run(["Rscript", str(R_SCRIPT), str(work / "q.txt"), str(train_fa), pre, str(seed)],
                         check=True, capture_output=True, text=True, env={**os.environ, "REPLAY_SAVE_UNIFS": "1"})
    return {
        "seconds": float(out.stdout.strip().splitlines()[-1]),
        "genus": Path(pre + "-genus.txt").read_text().splitlines(),
        "ref_genus": np.loadtxt(pre + "-ref-genus.txt", dtype=np.int64) - 1,
        "best": np.loadtxt(pre + "-best.txt", dtype=np.int64).reshape(-1) - 1,
        "boot": np.loadtxt(pre + "-boot.tsv", dtype=np.int64, ndmin=2),
        "boot_tax": np.loadtxt(pre + "-boot-tax.tsv", dtype=np.int64, ndmin=2) - 1,
        "unifs": np.fromfile(pre + "-unifs.bin", dtype="<f8"),
    }


def main() -> None:
    from microtrial.taxonomy import Reference, classify, train_classifier
    from microtrial.taxonomy._replay import dada2_uniform_count, match_groups, r_runif, replay_dada2

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cv-test", type=int, default=600, help="Held-out sequences per fold.")
    ap.add_argument("--max-folds", type=int, default=None, help="Stop after this many folds.")
    a = ap.parse_args()
    seqs, tax = greengenes()
    ids = list(seqs)
    rng, parts = cv_split(len(ids), a.folds)  # the same split and held-out draws as classify.py --cv
    truth: list[list[str]] = []
    calls: dict[str, list[list[str]]] = {"R assignTaxonomy": [], "microtrial, R's draws": [],
                                         "microtrial, own draws": []}
    tally: dict[str, dict[str, float]] = {}
    n_counts_same = n_queries = 0
    unifs_checked = 0
    t_r = t_ours = 0.0
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        for f, test in enumerate(parts):
            if a.max_folds is not None and f >= a.max_folds:
                break
            train = np.concatenate([p for i, p in enumerate(parts) if i != f])
            test = rng.choice(test, size=min(a.cv_test, len(test)), replace=False)
            train_ids = [ids[i] for i in train]
            queries = [seqs[ids[i]] for i in test]
            truth += [norm(gg_levels(tax[ids[i]])) for i in test]
            fa = w / "train.fa"
            write_dada2_reference(train_ids, seqs, tax, fa)
            r = run_r(queries, fa, w, 100 + f)
            t_r += r["seconds"]
            # our reimplementation of R's generator must give R's uniforms
            n_unif, _ = dada2_uniform_count(queries)
            if not np.array_equal(r_runif(100 + f, n_unif), r["unifs"]):
                raise SystemExit("r_runif differs from R's runif")
            unifs_checked += n_unif

            t0 = time.perf_counter()
            model = train_classifier(Reference(tuple(train_ids), tuple(seqs[i] for i in train_ids),
                                               tuple(tax[i] for i in train_ids)))
            to_ours = match_groups(r["ref_genus"], model)
            rep = replay_dada2(model, queries, r["unifs"], to_ours[r["best"]], to_ours[r["boot_tax"]], seed=f)
            own = classify({str(q): s for q, s in enumerate(queries)}, model, confidence=0.8, seed=f,
                           both_orientations=False, threads=2)
            t_ours += time.perf_counter() - t0

            for kind, counts in rep.disagreements().items():
                acc = tally.setdefault(kind, dict.fromkeys(counts, 0.0))
                for key, v in counts.items():
                    acc[key] = max(acc[key], v) if key == "worst" else acc[key] + v
            r_boot = r["boot"]
            width = min(r_boot.shape[1], rep.boots.shape[1])
            n_counts_same += int(np.all(rep.boots[:, :width] == r_boot[:, :width], axis=1).sum())
            n_queries += len(queries)
            for j in range(len(queries)):
                lv = model.lineages[rep.best[j]].split("; ") if model.lineages[rep.best[j]] else []
                d = 0
                while d < len(lv) and rep.boots[j, d] >= 80:
                    d += 1
                calls["microtrial, R's draws"].append(norm(lv[:d]))
                rl = [x for x, b in zip(r["genus"][r["best"][j]].split(";"), r_boot[j], strict=False)
                      if b >= 80 and x and x != "_DADA2_UNSPECIFIED"]
                calls["R assignTaxonomy"].append(norm(rl))
            calls["microtrial, own draws"] += [norm([t]) if t != "Unassigned" else [] for t in own["Taxon"]]
            print(f"fold {f + 1}/{a.folds}: {len(queries)} queries (load {os.getloadavg()[0]:.2f})", flush=True)

    print(f"\nR's uniforms reproduced by microtrial's r_runif: {unifs_checked} of {unifs_checked}")
    for kind, c in tally.items():
        print(f"{kind}: {int(c['n'])}; microtrial chooses R's genus in {int(c['same'])}; of the others, "
              f"{int(c['tie'])} exact ties, {int(c['near'])} near ties (< 1e-3, R's float32 sums), "
              f"{int(c['other'])} other" + (f" (largest score gap {c['worst']:.4f})" if c["other"] else ""))
    print(f"per-rank bootstrap counts identical to R's for {n_counts_same} of {n_queries} queries")
    print(f"\nscores of the {n_queries} held-out queries (minBoot 80); R {t_r:.0f} s, microtrial {t_ours:.0f} s:")
    fm = {}
    for name, c in calls.items():
        tab = score(truth, c)
        fm[name] = tab["f_measure"].to_numpy()
        print(f"{name}:")
        print(tab.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("genus F-measure: " + ", ".join(f"{k} {v[5]:.4f}" for k, v in fm.items()))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
