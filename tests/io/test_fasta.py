from __future__ import annotations

import gzip

import pytest

from microtrial.errors import InputError
from microtrial.io.fasta import read_fasta, read_fasta_headers, sequence_id, write_fasta


def test_reads_wrapped_records_and_drops_descriptions(test_data):
    seqs = read_fasta(test_data / "io" / "seqs.fasta")
    assert seqs == {"asv1": "ACGTACGTACGT", "asv2": "TTTTNNGG"}
    headers = [h for h, _ in read_fasta_headers(test_data / "io" / "seqs.fasta")]
    assert headers == ["asv1 first", "asv2"]


@pytest.mark.parametrize("name", ["out.fasta", "out.fasta.gz"])
def test_round_trip(tmp_path, name):
    records = {"a": "ACGT", "b": "GGGCCCAAATTT", "c": "N"}
    write_fasta(records, tmp_path / name)
    assert read_fasta(tmp_path / name) == records
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


def test_gz_is_really_gzip(tmp_path):
    write_fasta({"a": "ACGT"}, tmp_path / "x.fa.gz")
    with gzip.open(tmp_path / "x.fa.gz", "rt") as fh:
        assert fh.read() == ">a\nACGT\n"


def test_sequence_id_is_md5_of_upper_case():
    # md5("ACGT") computed independently: `printf ACGT | md5sum`
    assert sequence_id("acgt") == "f1f8f4bf413b16ad135722aa4591043e"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("ACGT\n>a\nACGT\n", 1, "expected a '>'"),
        (">a\nACGT\n>b\nAC-GT\nACXT\n", 5, "'X'"),
        (">a\nACGT\n\n>a\nGG\n", 4, "duplicate id 'a'"),
        (">a\n>b\nACGT\n", 1, "empty sequence"),
        (">\nACGT\n", 1, "empty FASTA header"),
    ],
)
def test_malformed_fasta_names_the_line(tmp_path, text, line, words):
    path = tmp_path / "bad.fasta"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_fasta(path)
    assert info.value.line == line
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.fasta").write_text("")
    with pytest.raises(InputError, match="no FASTA records"):
        read_fasta(tmp_path / "empty.fasta")
    with pytest.raises(InputError, match="no such file"):
        read_fasta(tmp_path / "missing.fasta")


def test_write_refuses_ids_that_would_not_read_back(tmp_path):
    with pytest.raises(ValueError):
        write_fasta({"a b": "ACGT"}, tmp_path / "x.fasta")
    assert not (tmp_path / "x.fasta").exists()


def test_as_dna_removes_gaps_and_u_with_one_warning(tmp_path, caplog):
    path = tmp_path / "q.fasta"
    path.write_text(">a\nAC-GT..A\n>b\nacgu\nuu\n>c\nACGT\n")
    assert read_fasta(path) == {"a": "AC-GT..A", "b": "ACGUUU", "c": "ACGT"}  # default: as written
    assert not caplog.records
    with caplog.at_level("WARNING", logger="microtrial"):
        assert read_fasta(path, as_dna=True) == {"a": "ACGTA", "b": "ACGTTT", "c": "ACGT"}
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 2 of 3 sequences had alignment gaps ('-', '.') or U: read with the gaps "
        "removed and U as T"]


def test_as_dna_refuses_a_record_of_gaps_only(tmp_path):
    path = tmp_path / "q.fasta"
    path.write_text(">a\nACGT\n>b\n--..\n")
    assert read_fasta(path)["b"] == "--.."  # an alignment row may be all gaps
    with pytest.raises(InputError) as exc:
        read_fasta(path, as_dna=True)
    assert str(exc.value) == f"{path}: line 3: record 'b' holds only alignment gaps"
