"""Finding samples: broken links are errors, forward/reverse names pair up, and names that
look like an unrecognised pair are warned about."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.reads._fastq import find_samples
from microtrial.study import find_read_pairs, parse_fastq_name

SEQ = "TACGGAGGATCCGAGCGTTATCCGGATTTATTGGGTTTAAAGGG"


def _fastq(path: Path, tag: str = "1") -> Path:
    path.write_text("".join(f"@M1:1:FC:1:1101:{i}:1 {tag}:N:0:1\n{SEQ}\n+\n{'I' * len(SEQ)}\n"
                            for i in range(3)))
    return path


def test_broken_r2_link_is_an_error_naming_it(tmp_path, capsys):
    reads = tmp_path / "reads"
    reads.mkdir()
    _fastq(reads / "A_S1_L001_R1_001.fastq")
    link = reads / "A_S1_L001_R2_001.fastq"
    link.symlink_to(tmp_path / "gone.fastq")
    with pytest.raises(InputError) as exc:
        find_samples(reads)
    assert exc.value.path == str(link) and "broken symbolic link" in exc.value.message
    assert main(["denoise", str(reads), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {link}: broken symbolic link")
    assert not (tmp_path / "out").exists()


def test_forward_reverse_names_pair_up(tmp_path):
    _fastq(tmp_path / "sampleA_forward.fastq")
    _fastq(tmp_path / "sampleA_reverse.fastq", tag="2")
    _fastq(tmp_path / "sampleB_R1_001.fastq")
    _fastq(tmp_path / "sampleB_R2_001.fastq", tag="2")
    samples = find_samples(tmp_path)
    assert [(s.sample_id, s.r1.name, s.r2.name if s.r2 else None) for s in samples] == [
        ("sampleA", "sampleA_forward.fastq", "sampleA_reverse.fastq"),
        ("sampleB", "sampleB_R1_001.fastq", "sampleB_R2_001.fastq"),
    ]
    # the study check pairs the same names
    assert parse_fastq_name("sampleA_reverse.fastq.gz") == ("sampleA", 2)
    assert set(find_read_pairs(tmp_path).pairs) == {"sampleA", "sampleB"}


def test_lone_forward_file_stays_a_single_end_sample(tmp_path):
    _fastq(tmp_path / "soil_reverse.fastq")
    _fastq(tmp_path / "water.fastq")
    assert [(s.sample_id, s.r2) for s in find_samples(tmp_path)] == [("soil_reverse", None), ("water", None)]


def test_unrecognised_pair_is_warned_about(tmp_path, caplog):
    _fastq(tmp_path / "sampleA.R1.fastq")
    _fastq(tmp_path / "sampleA.R2.fastq", tag="2")
    _fastq(tmp_path / "mouse-1.fastq")  # two samples numbered 1 and 2, not a pair
    _fastq(tmp_path / "mouse-2.fastq")
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        samples = find_samples(tmp_path)
    assert all(s.r2 is None for s in samples) and len(samples) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "sampleA.R1.fastq and sampleA.R2.fastq look like the two reads of one pair" in warnings[0]


def test_broken_link_in_study_reads_folder(tmp_path):
    _fastq(tmp_path / "A_R1.fastq")
    (tmp_path / "A_R2.fastq").symlink_to(tmp_path / "gone.fastq")
    found = find_read_pairs(tmp_path)
    assert found.broken_links == (tmp_path / "A_R2.fastq",)


@pytest.mark.parametrize(("char", "what"), [("\t", "a tab"), ("\n", "a line break"), ("\r", "a carriage return")])
@pytest.mark.parametrize("paired", [True, False])
def test_sample_id_with_a_tab_or_line_break_is_refused(tmp_path, capsys, char, what, paired):
    # the id goes into tab-separated tables (feature table, read tracking, metadata): refused
    # when the samples are found, naming the file, before anything is written
    reads = tmp_path / "reads"
    reads.mkdir()
    for sample in ("ok", f"bad{char}name"):
        if paired:
            _fastq(reads / f"{sample}_S1_L001_R1_001.fastq", "1")
            _fastq(reads / f"{sample}_S1_L001_R2_001.fastq", "2")
        else:
            _fastq(reads / f"{sample}.fastq")
    bad = reads / (f"bad{char}name_S1_L001_R1_001.fastq" if paired else f"bad{char}name.fastq")
    with pytest.raises(InputError) as exc:
        find_samples(reads)
    assert exc.value.path == str(bad)
    assert exc.value.message.startswith(f"sample id {f'bad{char}name'!r} taken from this file "
                                        f"name contains {what}")
    out = tmp_path / "out"
    assert main(["denoise", str(reads), "-o", str(out), "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "taken from this file name" in err[0]
    assert not out.exists()


def test_dada2_example_names_pair_up(tmp_path):
    """DADA2's example data and tutorial name pairs sam1F / sam1R; a lone xF stays a sample."""
    _fastq(tmp_path / "sam1F.fastq")
    _fastq(tmp_path / "sam1R.fastq", tag="2")
    _fastq(tmp_path / "sam2_F.fq")
    _fastq(tmp_path / "sam2_R.fq", tag="2")
    assert [(s.sample_id, s.r1.name, s.r2.name if s.r2 else None) for s in find_samples(tmp_path)] == [
        ("sam1", "sam1F.fastq", "sam1R.fastq"), ("sam2", "sam2_F.fq", "sam2_R.fq")]
    assert set(find_read_pairs(tmp_path).pairs) == {"sam1", "sam2"}
    lone = tmp_path / "lone"
    lone.mkdir()
    _fastq(lone / "mouseF.fastq")
    _fastq(lone / "other.fastq")
    assert [s.sample_id for s in find_samples(lone)] == ["mouseF", "other"]


@pytest.mark.requires_shared
def test_dada2_extdata_is_two_paired_samples(shared_data):
    samples = find_samples(shared_data / "dada2-extdata")
    assert [(s.sample_id, s.r1.name, s.r2.name if s.r2 else None) for s in samples] == [
        ("sam1", "sam1F.fastq.gz", "sam1R.fastq.gz"), ("sam2", "sam2F.fastq.gz", "sam2R.fastq.gz")]
