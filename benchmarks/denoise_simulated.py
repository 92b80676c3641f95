"""Denoising accuracy on simulated V3-V4 2 x 300 studies: recall, precision, abundance error.

For each seed: ``microtrial simulate`` (41 samples, ``--reads-per-sample`` pairs each),
then ``microtrial denoise`` with automatic truncation, the simulator's primers and the
requested ``--pool`` modes, scored against the simulation truth by exact sequence identity
(``microtrial.report._truth.score_against_truth``: true variants are those with reads in
``truth/counts.tsv``; abundance error against the true read counts).  It also lists the
total reads of every missed true variant and of every false ASV, which tells undetectable
(a handful of reads in the whole study) from real misses.  R DADA2 is not run here (it
takes minutes per study); ``benchmarks/denoise.py`` compares with it on real reads.

Usage::

    .venv/bin/python benchmarks/denoise_simulated.py [--seeds 1 2] [--reads-per-sample 3000]
        [--pool none pseudo] [--threads 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIMERS = ["--primer-f", "CCTACGGGNGGCWGCAG", "--primer-r", "GACTACHVGGGTATCTAATCC"]


def _run(args: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "microtrial", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
        raise RuntimeError(f"microtrial {args[0]} failed with status {proc.returncode}")
    return time.perf_counter() - t0


def _score(out: Path, truth: Path) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "src"))
    from microtrial.io.fasta import read_fasta
    from microtrial.io.feature_table import read_table
    from microtrial.report._truth import score_against_truth

    sc = score_against_truth(out, truth)
    tseq = {k: v.upper() for k, v in read_fasta(truth / "asv-sequences.fasta").items()}
    tdf = read_table(truth / "counts.tsv").to_dataframe()
    tc, tmax = tdf.sum(axis=1), tdf.max(axis=1)
    true = {tseq[k] for k in tseq if tc.get(k, 0) > 0}
    oseq = {k: v.upper() for k, v in read_fasta(out / "dna-sequences.fasta").items()}
    ot = read_table(out / "feature-table.biom").to_dataframe().sum(axis=1)
    found = set(oseq.values())
    missed = [k for k in tseq if tc.get(k, 0) > 0 and tseq[k] not in found]
    sc["missed (total reads)"] = sorted(int(tc[k]) for k in missed)
    # DADA2's partitioning never starts a new ASV from a sequence seen once in a sample, so a
    # variant with one or two reads in every sample is out of reach without full pooling
    sc["missed (total/most in a sample)"] = [f"{t}/{m}" for t, m in sorted((int(tc[k]), int(tmax[k])) for k in missed)]
    sc["false (total reads)"] = sorted(int(ot[k]) for k, s in oseq.items() if s not in true)
    return sc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--reads-per-sample", type=int, default=3000)
    ap.add_argument("--pool", nargs="+", default=["none", "pseudo"], choices=["none", "pseudo", "all"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="keep the simulations and outputs here")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="mt-dnsim-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for seed in a.seeds:
            sim = work / f"sim-{seed}"
            _run(["simulate", "-o", str(sim), "--seed", str(seed), "--reads-per-sample", str(a.reads_per_sample)])
            for pool in a.pool:
                out = work / f"denoise-{seed}-{pool}"
                wall = _run(["denoise", str(sim / "reads"), "-o", str(out), *PRIMERS, "--pool", pool,
                             "--threads", str(a.threads)])
                sc = _score(out, sim / "truth")
                print(f"seed {seed}, {a.reads_per_sample} pairs/sample, pool {pool}: {wall:.1f} s")
                for k in ["true variants", "ASVs found", "recall of true variants", "precision of ASVs",
                          "max relative-abundance error", "median per-sample max error",
                          "missed (total/most in a sample)",
                          "false (total reads)"]:
                    print(f"  {k:32s} {sc.get(k)}")
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
