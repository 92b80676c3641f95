"""``microtrial tree`` refuses references that do not fit together, with one error line."""

from __future__ import annotations

import numpy as np

from cli_checks import one_error as _one_error
from microtrial.cli import main
from microtrial.io.fasta import write_fasta

RNG = np.random.default_rng(3)
REFS = {f"ref{i}": "".join(RNG.choice(list("ACGT"), 200)) for i in range(4)}
TREE = "((ref0:0.1,ref1:0.1):0.1,(ref2:0.1,ref3:0.1):0.1);\n"


def _asvs(tmp_path):
    path = tmp_path / "asvs.fasta"
    write_fasta({"x1": REFS["ref0"][10:190], "x2": REFS["ref3"][5:180]}, path)
    return path


def test_reference_ids_not_tips_of_the_tree(tmp_path, capsys):
    refs, tree = tmp_path / "refs.fasta", tmp_path / "ref.nwk"
    write_fasta(REFS, refs)
    tree.write_text("((a:0.1,b:0.1):0.1,(c:0.1,ref3:0.1):0.1);\n")
    line = _one_error(capsys, ["tree", str(_asvs(tmp_path)), "-o", str(tmp_path / "out"),
                               "--ref-seqs", str(refs), "--ref-tree", str(tree), "--threads", "1"])
    assert line.startswith(f"error: {tree}: 3 of the 4 reference sequence ids in {refs} are not "
                           "tips of this tree (e.g. ref0, ref1, ref2)")
    assert not (tmp_path / "out" / "tree.nwk").exists()
    # the same files with matching names build a tree
    tree.write_text(TREE)
    assert main(["tree", str(_asvs(tmp_path)), "-o", str(tmp_path / "ok"), "--ref-seqs", str(refs),
                 "--ref-tree", str(tree), "--threads", "1"]) == 0


def test_ragged_template_alignment(tmp_path, capsys):
    aln = tmp_path / "aln.fasta"
    write_fasta({"t0": REFS["ref0"], "t1": REFS["ref1"][:150], "t2": REFS["ref2"]}, aln)
    line = _one_error(capsys, ["tree", str(_asvs(tmp_path)), "-o", str(tmp_path / "out"), "--de-novo",
                               "--ref-alignment", str(aln), "--threads", "1"])
    assert line.startswith(f"error: {aln}: not an alignment: rows have different lengths")
    assert "'t1' with 150" in line
    assert not (tmp_path / "out" / "tree.nwk").exists()
