"""``microtrial classify`` and ``microtrial tree`` from the command line."""

from __future__ import annotations

from cli_checks import one_error as _one_error
from microtrial.cli import main
from microtrial.io.taxonomy import read_taxonomy


def test_classify_cli(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    rc = main(["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
               "--ref-seqs", str(d / "ref-dada2.fasta"), "--cache-dir", str(tmp_path / "cache"),
               "--threads", "1"])
    assert rc == 0
    tax = read_taxonomy(tmp_path / "out/taxonomy.tsv")
    assert tax.loc["qB", "Taxon"].endswith("g__Ruminococcus")
    assert (tmp_path / "out/run-info.json").exists()


def test_classify_cli_malformed_reference(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    rc = main(["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
               "--ref-seqs", str(d / "no-taxonomy.fasta"), "--no-cache"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-taxonomy.fasta: line 3: header without taxonomy" in err[0]
    assert not (tmp_path / "out/taxonomy.tsv").exists()


def test_classify_cli_evaluate(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    rc = main(["classify", "--evaluate", "-o", str(tmp_path / "ev"), "--ref-seqs", str(d / "ref.fasta"),
               "--ref-taxonomy", str(d / "ref-taxonomy.tsv"), "--folds", "2", "--confidence", "0.5"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "f_measure" in out and "genus" in out
    assert (tmp_path / "ev/evaluation.tsv").exists()


def test_classify_cli_max_species_below_one(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    line = _one_error(capsys, ["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
                               "--ref-seqs", str(d / "ref-dada2.fasta"), "--no-cache",
                               "--max-species", "0"])
    assert line == "error: --max-species: must be >= 1, got 0"
    assert not (tmp_path / "out/taxonomy.tsv").exists()


def test_classify_cli_invalid_primer_names_the_option(tmp_path, test_data, capsys):
    d = test_data / "taxonomy"
    base = ["classify", str(d / "queries.fasta"), "-o", str(tmp_path / "out"),
            "--ref-seqs", str(d / "ref-dada2.fasta"), "--no-cache"]
    line = _one_error(capsys, [*base, "--primer-f", "JJJ", "--primer-r", "GGACTACHVGGGTWTCTAAT"])
    assert line.startswith("error: --primer-f: 'JJJ' is not a primer sequence")
    line = _one_error(capsys, [*base, "--primer-f", "GTGCCAGCMGCCGCGGTAA", "--primer-r", "AC-GT"])
    assert line.startswith("error: --primer-r: 'AC-GT' is not a primer sequence")
    line = _one_error(capsys, ["classify", "--evaluate", "-o", str(tmp_path / "ev"), "--ref-seqs",
                               str(d / "ref-dada2.fasta"), "--primer-f", "JJJ", "--primer-r", "ACGT"])
    assert line.startswith("error: --primer-f: ")
    assert not (tmp_path / "out/taxonomy.tsv").exists()
