"""Per-query bootstrap confidence: microtrial classify vs R DADA2 assignTaxonomy.

Cross-validation F-measures of two bootstrap classifiers differ by bootstrap noise from
run to run; this script asks the sharper question of whether, query by query, the two
give the same expected confidence.  On fold 1 of ``benchmarks/classify.py --cv`` (same
split of Greengenes 13_8 97%, same held-out sequences) each held-out sequence is
classified ``--copies`` times by each tool (R: the sequence repeated in one
``assignTaxonomy(..., outputBootstraps=TRUE)`` call; microtrial: ``--copies`` seeds), and
the mean bootstrap confidence per rank is compared.  With 100 bootstraps per copy, a
query's mean confidence has a standard error of at most 0.05 / sqrt(copies); the script
prints the mean paired difference per rank, its standard error over queries, and every
query whose difference exceeds 4 standard errors.

Usage::

    .venv/bin/python benchmarks/classify_confidence.py [--queries 600] [--copies 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import RANK_COLS, cv_split, greengenes, write_dada2_reference  # noqa: E402

R_SCRIPT = r"""
suppressMessages(library(dada2))
args <- commandArgs(TRUE)
seqs <- readLines(args[1])
set.seed(as.integer(args[4]))
res <- assignTaxonomy(seqs, args[2], multithread=2, minBoot=80, outputBootstraps=TRUE)
write.table(res$boot, args[3], sep="\t", quote=FALSE, row.names=FALSE)
"""


def main() -> None:
    from microtrial.taxonomy import Reference, classify, train_classifier

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=600)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--folds", type=int, default=5)
    a = ap.parse_args()
    seqs, tax = greengenes()
    ids = list(seqs)
    rng, parts = cv_split(len(ids), a.folds)  # the same split and held-out draw as classify.py --cv
    train = np.concatenate(parts[1:])
    test = rng.choice(parts[0], size=min(a.queries, len(parts[0])), replace=False)
    train_ids = [ids[i] for i in train]
    queries = [seqs[ids[i]] for i in test]
    n, k = len(queries), a.copies

    t0 = time.perf_counter()
    model = train_classifier(
        Reference(tuple(train_ids), tuple(seqs[i] for i in train_ids), tuple(tax[i] for i in train_ids))
    )
    ours = np.zeros((k, n, 6))
    for c in range(k):
        res = classify({str(q): s for q, s in enumerate(queries)}, model, confidence=0.8, seed=c,
                       both_orientations=False, threads=2)
        ours[c] = res[[f"confidence_{r}" for r in ["domain", "phylum", "class", "order", "family", "genus"]]]
    print(f"microtrial: {k} x {n} queries in {time.perf_counter() - t0:.0f} s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        fa = w / "train.fa"
        write_dada2_reference(train_ids, seqs, tax, fa)
        (w / "q.txt").write_text("\n".join(queries * k) + "\n")
        (w / "boot.R").write_text(R_SCRIPT)
        t0 = time.perf_counter()
        subprocess.run(["Rscript", str(w / "boot.R"), str(w / "q.txt"), str(fa), str(w / "boot.tsv"), "100"],
                       check=True, capture_output=True, text=True)
        print(f"R assignTaxonomy: {k} x {n} queries in {time.perf_counter() - t0:.0f} s", flush=True)
        rb = pd.read_csv(w / "boot.tsv", sep="\t").to_numpy(float)
    # R reports ranks down to the reference's depth; missing ranks (shorter lineages) are
    # confidence of the unnamed level, which both count the same way
    theirs = np.zeros((k, n, 6))
    theirs[:, :, : rb.shape[1]] = rb.reshape(k, n, rb.shape[1]) / 100.0
    mo, mt = ours.mean(axis=0), theirs.mean(axis=0)
    se_q = np.sqrt(ours.var(axis=0, ddof=1) / k + theirs.var(axis=0, ddof=1) / k)
    print(f"\nmean bootstrap confidence per query, {n} held-out queries x {k} copies each "
          "(microtrial minus R):")
    for r, name in enumerate(RANK_COLS):
        d = mo[:, r] - mt[:, r]
        z = np.divide(d, se_q[:, r], out=np.zeros_like(d), where=se_q[:, r] > 0)
        print(f"  {name:8s} mean {mo[:, r].mean():.4f} vs {mt[:, r].mean():.4f}; difference "
              f"{d.mean():+.5f} (se {d.std(ddof=1) / np.sqrt(n):.5f}); queries |z| > 4: {int((abs(z) > 4).sum())}")
    g = 5
    d = mo[:, g] - mt[:, g]
    z = np.divide(d, se_q[:, g], out=np.zeros_like(d), where=se_q[:, g] > 0)
    for q in np.argsort(-abs(z))[:10]:
        if abs(z[q]) > 3:
            print(f"  query {q}: genus confidence {mo[q, g]:.3f} vs {mt[q, g]:.3f} (z {z[q]:+.1f}) {tax[ids[test[q]]]}")


if __name__ == "__main__":
    main()
