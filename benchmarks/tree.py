"""Tree benchmark: UniFrac on our trees vs on a MAFFT + FastTree tree of the same ASVs.

Usage:
    .venv/bin/python benchmarks/tree.py [--shared ../shared/data] [--threads 2]

Data: R DADA2 1.26's chimera-free sequence table of the 13 MiSeq SOP samples (189 ASVs,
golden file in ``miseq-sop/reference-outputs``). Competitor (benchmark only, never a
dependency): ``mafft --auto`` then ``FastTree -nt -gtr``, midpoint-rooted with scikit-bio.
For each of our methods (insertion into Greengenes 13_8, de novo) it prints the wall time,
and the Mantel r (Pearson, 999 permutations) between the samples' weighted and unweighted
UniFrac distance matrices computed on our tree and on the FastTree tree.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
from skbio import TreeNode
from skbio.diversity import beta_diversity
from skbio.stats.distance import mantel

from microtrial.io.fasta import sequence_id, write_fasta
from microtrial.pipeline.tree import tree_stage

ROOT = Path(__file__).resolve().parents[1]


def fasttree_tree(fasta: Path, work: Path, threads: int) -> tuple[TreeNode, float]:
    mafft = shutil.which("mafft")
    ft = shutil.which("FastTree") or shutil.which("fasttree")
    if not mafft or not ft:
        raise SystemExit("mafft and FastTree are needed for this benchmark (apt: mafft fasttree)")
    t0 = time.perf_counter()
    aln = subprocess.run([mafft, "--auto", "--thread", str(threads), "--quiet", str(fasta)],
                         check=True, capture_output=True, text=True).stdout
    (work / "aln.fasta").write_text(aln)
    nwk = subprocess.run([ft, "-nt", "-gtr", "-quiet", str(work / "aln.fasta")],
                         check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - t0
    tree = TreeNode.read(io.StringIO(nwk)).root_at_midpoint()
    return tree, elapsed


def unifrac(counts: pd.DataFrame, tree: TreeNode, metric: str):  # noqa: ANN201
    ids = list(counts.columns)
    return beta_diversity(metric, counts.T.values.astype(int), ids=ids,
                          taxa=list(counts.index), tree=tree)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("MICROTRIAL_SHARED", ROOT.parent / "shared")) / "data")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    seqtab = pd.read_csv(args.shared / "miseq-sop/reference-outputs/dada2-1.26-seqtab.tsv", sep="\t", index_col=0)
    seqs = {sequence_id(s): s for s in seqtab.index}
    counts = seqtab.copy()
    counts.index = [sequence_id(s) for s in seqtab.index]
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average), {len(seqs)} ASVs x {counts.shape[1]} samples")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fasta = work / "asvs.fasta"
        write_fasta(seqs, fasta)
        ref_tree, t_ft = fasttree_tree(fasta, work, args.threads)
        print(f"MAFFT + FastTree: {t_ft:.1f} s")
        ref_dm = {m: unifrac(counts, ref_tree, m) for m in ("weighted_unifrac", "unweighted_unifrac")}
        for method in ("insertion", "de-novo"):
            t0 = time.perf_counter()
            path = tree_stage(fasta, work / method, method=method, threads=args.threads)
            elapsed = time.perf_counter() - t0
            tree = TreeNode.read(str(path))
            n_tips = tree.count(tips=True)
            line = [f"microtrial tree {method:9s}: {elapsed:6.1f} s, {n_tips} tips"]
            for m, dm_ref in ref_dm.items():
                r, p, _ = mantel(unifrac(counts, tree, m), dm_ref, method="pearson", permutations=999, seed=0)
                line.append(f"{m} Mantel r = {r:.3f} (p = {p:.3g})")
            print("; ".join(line))


if __name__ == "__main__":
    main()
