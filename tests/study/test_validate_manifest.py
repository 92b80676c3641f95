"""``validate`` checks a QIIME 2 manifest given as the reads (``manifest.tsv`` in the reads
folder, or ``reads.dir`` naming it) with the denoise stage's own parser, and matches its
samples against the metadata as it does for a folder of FASTQ files."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_checks import one_error
from microtrial.cli import main
from microtrial.errors import InputError, StudyError
from microtrial.reads import find_samples
from microtrial.study import validate_study

from ._files import SAMPLES, edit

HEADER = "sample-id\tforward-absolute-filepath\treverse-absolute-filepath\n"


def _manifest(study_dir: Path, samples: list[str], *, header: str = HEADER) -> Path:
    """A V2 manifest in the reads folder, paths relative to it (as QIIME 2 allows)."""
    lines = [f"{s}\t{s}_S1_L001_R1_001.fastq.gz\t{s}_S1_L001_R2_001.fastq.gz\n" for s in samples]
    path = study_dir / "reads" / "manifest.tsv"
    path.write_text(header + "".join(lines))
    return path


def _problems(study_dir: Path) -> list[str]:
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    return info.value.problems


def test_a_good_manifest_in_the_reads_folder(study_dir, capsys):
    _manifest(study_dir, SAMPLES)
    assert main(["validate", str(study_dir / "study.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_reads_dir_may_name_the_manifest(study_dir, capsys):
    manifest = _manifest(study_dir, SAMPLES)
    moved = study_dir / "my-manifest.tsv"
    # paths relative to the manifest's own folder: the new place needs reads/ in front
    moved.write_text(manifest.read_text().replace("\tP", "\treads/P").replace("\tC", "\treads/C"))
    manifest.unlink()
    edit(study_dir / "study.yaml", "dir: reads/", "dir: my-manifest.tsv")
    assert main(["validate", str(study_dir / "study.yaml")]) == 0, capsys.readouterr().err


def test_a_missing_fastq_file_is_one_line_naming_the_manifest_line(study_dir, capsys):
    _manifest(study_dir, SAMPLES)
    (study_dir / "reads" / "P2-0_S1_L001_R2_001.fastq.gz").unlink()
    line = one_error(capsys, ["validate", str(study_dir / "study.yaml")])
    assert line.startswith(f"error: {study_dir / 'study.yaml'}: line 8: reads.dir: "), line
    # P2-0 is the manifest's third sample: line 4 (the header is line 1)
    # files beside the study file are named as the user wrote them (relative to it)
    assert line.endswith("reads.dir: reads/manifest.tsv: line 4: FASTQ file "
                         "reads/P2-0_S1_L001_R2_001.fastq.gz does not exist"), line


def test_a_repeated_sample_id(study_dir):
    _manifest(study_dir, [*SAMPLES, "P1-0"])
    problems = _problems(study_dir)
    assert len(problems) == 1
    assert problems[0].endswith(f"manifest.tsv: line {len(SAMPLES) + 2}: sample-id 'P1-0' is listed twice")


def test_a_wrong_header(study_dir, capsys):
    _manifest(study_dir, SAMPLES, header="sample\tforward\treverse\n")
    line = one_error(capsys, ["validate", str(study_dir / "study.yaml")])
    assert "manifest.tsv: line 1: not a QIIME 2 manifest: the header must be" in line


def test_samples_are_matched_against_the_metadata(study_dir):
    for r in (1, 2):
        (study_dir / "reads" / f"X9-0_S1_L001_R{r}_001.fastq.gz").touch()
    _manifest(study_dir, [*SAMPLES[1:], "X9-0"])
    problems = _problems(study_dir)
    assert len(problems) == 2
    assert problems[0].endswith("reads.dir: metadata samples not in reads/manifest.tsv: P1-0"), problems
    assert problems[1].endswith("reads.dir: samples in reads/manifest.tsv not in the metadata: X9-0"), problems


def test_single_end_manifest_is_refused(study_dir):
    path = study_dir / "reads" / "manifest.tsv"
    path.write_text("sample-id\tabsolute-filepath\n"
                    + "".join(f"{s}\t{s}_S1_L001_R1_001.fastq.gz\n" for s in SAMPLES))
    problems = _problems(study_dir)
    assert len(problems) == 1
    assert "lists single-end reads (no reverse file)" in problems[0]
    assert "a study's reads must be paired" in problems[0]


@pytest.mark.parametrize("case", ["missing", "repeated", "header"])
def test_validate_refuses_what_the_denoise_parser_refuses(study_dir, case):
    """The same manifest fails find_samples (what denoise calls) and validate, with the
    parser's own message inside validate's problem."""
    samples = [*SAMPLES, "P1-0"] if case == "repeated" else SAMPLES
    _manifest(study_dir, samples, header="id\tf\tr\n" if case == "header" else HEADER)
    if case == "missing":
        (study_dir / "reads" / "C1-0_S1_L001_R1_001.fastq.gz").unlink()
    with pytest.raises(InputError) as parser:
        find_samples(study_dir / "reads")
    problems = _problems(study_dir)
    assert len(problems) == 1
    assert problems[0].endswith("reads.dir: " + str(parser.value).replace(f"{study_dir}/", "")), problems
