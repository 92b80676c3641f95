"""``classify`` inputs: gapped or RNA query FASTA gives exactly the plain-DNA result, the
exact species search ignores case, gaps and U/T, and unknown references and seeds out of
the study file's range are one ``error:`` line naming the option."""

from __future__ import annotations

import pytest

from cli_checks import one_error as _one_error
from microtrial.cli import main
from microtrial.io.fasta import read_fasta, write_fasta
from microtrial.taxonomy import find_exact_hits


def _gapped(seq: str) -> str:
    return seq[:50] + "--..-" + seq[50:120] + "-" + seq[120:] + "."


def _rna(seq: str) -> str:
    return seq.replace("T", "U").lower()


def test_gapped_and_rna_queries_classify_as_plain_dna(tmp_path, test_data):
    d = test_data / "taxonomy"
    plain = read_fasta(d / "queries.fasta")
    write_fasta({k: _gapped(v) for k, v in plain.items()}, tmp_path / "gapped.fasta")
    write_fasta({k: _rna(v) for k, v in plain.items()}, tmp_path / "rna.fasta")
    outputs = {}
    for name, path in (("plain", d / "queries.fasta"), ("gapped", tmp_path / "gapped.fasta"),
                       ("rna", tmp_path / "rna.fasta")):
        assert main(["classify", str(path), "-o", str(tmp_path / name), "--ref-seqs",
                     str(d / "ref-dada2.fasta"), "--ref-species", str(d / "species.fasta"),
                     "--no-cache", "--threads", "1"]) == 0
        outputs[name] = (tmp_path / name / "taxonomy.tsv").read_text()
    # species.fasta holds qA and qC exactly (tests/data/taxonomy/make_data.py)
    assert "g__Blautia; s__producta" in outputs["plain"]
    assert "g__Bacteroides; s__fragilis" in outputs["plain"]
    assert outputs["gapped"] == outputs["plain"]
    assert outputs["rna"] == outputs["plain"]


def test_exact_hits_ignore_case_gaps_and_u():
    ref = "ACGTACGTTTGACCATGACGGTACCATGCATTGACCAGTAGGACAT"
    query = ref[5:40]  # 35 nt: found through its packed 32-nt prefix
    short = ref[3:20]  # under 32 nt: found by str.find
    for refs in ([ref], [_gapped(ref)], [_rna(ref)]):
        for q in (query, _gapped(query), _rna(query), short, _gapped(short), _rna(short)):
            assert find_exact_hits([q], refs) == [[0]], (q, refs)
    assert find_exact_hits(["--.."], [ref]) == [[]]


def test_unknown_reference_names_the_option(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    line = _one_error(capsys, ["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
                               "--reference", "silva"])
    assert line.startswith("error: --reference: unknown reference 'silva'; the known ones are "
                           "greengenes, custom")
    assert "--ref-seqs" in line
    line = _one_error(capsys, ["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
                               "--reference", "custom"])
    assert line == "error: --reference: custom needs --ref-seqs FASTA [--ref-taxonomy TSV]"
    line = _one_error(capsys, ["classify", "--evaluate", "-o", str(tmp_path / "out"),
                               "--reference", "silva"])
    assert line.startswith("error: --reference: unknown reference 'silva'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999"])
def test_seed_outside_the_study_range(tmp_path, test_data, capsys, seed):
    d = test_data / "taxonomy"
    line = _one_error(capsys, ["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
                               "--ref-seqs", str(d / "ref-dada2.fasta"), "--no-cache",
                               "--seed", seed])
    assert line == f"error: --seed: {seed} is not in the range 0<=x<=4294967295"
    assert not (tmp_path / "out").exists()
