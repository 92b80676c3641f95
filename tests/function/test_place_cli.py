"""``microtrial function place`` / ``hsp`` through the CLI: outputs and bad input (one
error line, exit 2, nothing that looks complete)."""

from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest

from cli_checks import one_error
from microtrial.cli import main

pytestmark = pytest.mark.requires_shared


@pytest.fixture
def place_data(shared_data):
    return shared_data / "picrust2-tests" / "place_seqs"


def test_place_then_hsp(tmp_path, place_data, shared_data):
    out = tmp_path / "placed"
    rc = main(["function", "place", "--sequences", str(place_data / "study_seqs_test.fasta"),
               "--reference", str(place_data / "reference"), "-o", str(out)])
    assert rc == 0
    info = json.loads((out / "run-info.json").read_text())
    assert sorted(info["outputs"]) == ["out.tre", "place_seqs.jplace"]
    assert info["placed"] == 5 and info["unplaced"] == {}
    jplace = json.loads((out / "place_seqs.jplace").read_text())
    assert len(jplace["placements"]) == 5
    # hsp on the placed tree with traits for the reference tips
    tips = [line[1:].strip() for line in gzip.open(
        place_data / "reference" / "img_centroid_16S_aligned_head30.fna.gz", "rt")
        if line.startswith(">")]
    traits = tmp_path / "16S.txt.gz"
    pd.DataFrame({"assembly": tips, "16S_rRNA_Count": range(1, len(tips) + 1)}).to_csv(
        traits, sep="\t", index=False)
    hsp_out = tmp_path / "hsp"
    rc = main(["function", "hsp", "--tree", str(out / "out.tre"), "--traits", str(traits),
               "--calculate-nsti", "-o", str(hsp_out)])
    assert rc == 0
    pred = pd.read_csv(hsp_out / "16S_predicted.tsv.gz", sep="\t")
    assert list(pred.columns) == ["sequence", "16S_rRNA_Count", "metadata_NSTI"]
    assert len(pred) == 5 and (pred["metadata_NSTI"] > 0).all()


def test_reference_missing_a_file(tmp_path, capsys, place_data):
    ref = tmp_path / "ref"
    shutil.copytree(place_data / "reference", ref)
    (ref / "img_centroid_16S_aligned_head30.model").unlink()
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "place", "--sequences",
                              str(place_data / "study_seqs_test.fasta"), "--reference",
                              str(ref), "-o", str(out)], out=out)
    assert "img_centroid_16S_aligned_head30.model: missing" in line


def test_no_sequence_placeable(tmp_path, capsys, place_data):
    fasta = tmp_path / "junk.fasta"
    fasta.write_text(">a\n" + "ACGT" * 30 + "\n>b\n" + "GGGGCCCC" * 20 + "\n")
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "place", "--sequences", str(fasta), "--reference",
                              str(place_data / "reference"), "-o", str(out)], out=out,
                     allow_warnings=True)
    assert "none of the 2 sequences could be placed" in line


def test_trait_ids_not_in_tree(tmp_path, capsys, shared_data):
    d = shared_data / "picrust2-tests" / "hsp"
    traits = pd.read_csv(d / "known_traits.tsv.gz", sep="\t")
    traits.loc[0, "assembly"] = "no_such_genome"
    path = tmp_path / "ec.tsv"
    traits.to_csv(path, sep="\t", index=False)
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "hsp", "--tree", str(d / "tree.tre"), "--traits",
                              str(path), "-o", str(out)], out=out)
    assert "1 of 40 genome ids are no tips" in line and "no_such_genome" in line


def test_hsp_ci_needs_discrete_method(tmp_path, capsys, shared_data):
    d = shared_data / "picrust2-tests" / "hsp"
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "hsp", "--tree", str(d / "tree.tre"), "--traits",
                              str(d / "known_traits.tsv.gz"), "--method", "pic", "--ci",
                              "-o", str(out)], out=out)
    assert "--ci" in line
