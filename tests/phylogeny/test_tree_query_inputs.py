"""``microtrial tree``: gapped or RNA ASV FASTA gives exactly the tree of the plain-DNA file
(the template alignment keeps its gaps)."""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.cli import main
from microtrial.io.fasta import write_fasta

RNG = np.random.default_rng(5)
BASE = "".join(RNG.choice(list("ACGT"), 200))


def _mutate(seq: str, rate: float) -> str:
    return "".join(c if RNG.random() > rate else "ACGT"[("ACGT".index(c) + 1) % 4] for c in seq)


REFS = {f"ref{i}": _mutate(BASE, 0.1) for i in range(6)}
TREE = "(((ref0:0.1,ref1:0.1):0.1,ref2:0.2):0.1,((ref3:0.1,ref4:0.1):0.1,ref5:0.2):0.1);\n"
QUERIES = {f"x{i}": _mutate(REFS[f"ref{i}"], 0.05)[10:190] for i in range(6)}
VARIANTS = {
    "gapped": {k: v[:40] + "--" + v[40:100] + "..." + v[100:] for k, v in QUERIES.items()},
    "rna": {k: v.replace("T", "U").lower() for k, v in QUERIES.items()},
}

@pytest.mark.parametrize(("method", "variant"), [
    ("insertion", "rna"), ("insertion", "gapped"), ("de-novo", "rna"), ("de-novo", "gapped"),
])
def test_gapped_and_rna_asvs_give_the_plain_tree(tmp_path, method, variant):
    refs, tree, aln = tmp_path / "refs.fasta", tmp_path / "ref.nwk", tmp_path / "aln.fasta"
    write_fasta(REFS, refs)
    tree.write_text(TREE)
    write_fasta({k: v[:50] + "--" + v[50:] + "--" for k, v in REFS.items()}, aln)
    ref_args = (["--ref-seqs", str(refs), "--ref-tree", str(tree)] if method == "insertion"
                else ["--de-novo", "--ref-alignment", str(aln)])
    write_fasta(QUERIES, tmp_path / "plain.fasta")
    write_fasta(VARIANTS[variant], tmp_path / f"{variant}.fasta")
    trees = {}
    for name in ("plain", variant):
        out = tmp_path / f"out-{name}"
        assert main(["tree", str(tmp_path / f"{name}.fasta"), "-o", str(out), "--threads", "1",
                     *ref_args]) == 0
        trees[name] = (out / "tree.nwk").read_text()
    assert trees[variant] == trees["plain"]
