"""Casava file names give QIIME 2's sample ids; a QIIME 2 manifest replaces name matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from microtrial.errors import InputError
from microtrial.reads._fastq import find_samples, read_manifest

SEQ = "TACGGAGGATCCGAGCGTTATCCGGATTTATTGGGTTTAAAGGG"


def _fastq(path: Path, tag: str = "1") -> Path:
    path.write_text("".join(f"@M1:1:FC:1:1101:{i}:1 {tag}:N:0:1\n{SEQ}\n+\n{'I' * len(SEQ)}\n"
                            for i in range(3)))
    return path


@pytest.mark.parametrize(("stem", "sample"), [
    ("BAQ2420.2_36_L001", "BAQ2420.2"),      # QIIME 2's own example: barcode, no S number
    ("F3D0_S188_L001", "F3D0"),              # bcl2fastq
    ("sampleA_S1_L002", "sampleA"),          # another lane
    ("my_sample_S2_L001", "my"),             # the part before the first underscore
    ("x-1.a_AGCT-TTGA_extra_L003", "x-1.a"),
])
def test_casava_names_give_the_part_before_the_first_underscore(tmp_path, stem, sample):
    for r in (1, 2):
        _fastq(tmp_path / f"{stem}_R{r}_001.fastq.gz".replace(".gz", ""), str(r))
    (s,) = find_samples(tmp_path)
    assert s.sample_id == sample
    assert s.r1.name.startswith(stem) and "_R1_" in s.r1.name and "_R2_" in s.r2.name


def test_casava_ids_that_collide_are_an_error(tmp_path):
    for stem in ("my_a_S1_L001", "my_b_S2_L001"):
        for r in (1, 2):
            _fastq(tmp_path / f"{stem}_R{r}_001.fastq", str(r))
    with pytest.raises(InputError, match="sample 'my' R1 is also given by"):
        find_samples(tmp_path)


def test_manifest_v2_pairs_files_by_sample_id(tmp_path):
    data = tmp_path / "anywhere"
    data.mkdir()
    f1 = _fastq(data / "reads-one.fq", "1")
    f2 = _fastq(data / "reads-two.fq", "2")
    g1 = _fastq(data / "x_R1.fq", "1")
    g2 = _fastq(data / "x_R2.fq", "2")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.tsv").write_text(
        "# a comment\nsample-id\tforward-absolute-filepath\treverse-absolute-filepath\n"
        f"S.1\t{f1}\t{f2}\n"
        f"B_2\t../anywhere/{g1.name}\t{g2}\n")
    samples = find_samples(folder)
    assert [(s.sample_id, s.r1, s.r2) for s in samples] == [
        ("B_2", folder / "../anywhere/x_R1.fq", g2), ("S.1", f1, f2)]
    # the manifest file itself can be given instead of the folder
    assert find_samples(folder / "manifest.tsv") == samples


def test_manifest_old_csv_form(tmp_path):
    f1 = _fastq(tmp_path / "a.fq", "1")
    f2 = _fastq(tmp_path / "b.fq", "2")
    m = tmp_path / "manifest.txt"
    m.write_text(f"sample-id,absolute-filepath,direction\nS1,{f1},forward\nS1,{f2},reverse\n")
    assert [(s.sample_id, s.r1, s.r2) for s in read_manifest(m)] == [("S1", f1, f2)]


@pytest.mark.parametrize(("body", "message", "line"), [
    ("sample-id\tfile\nS1\tx.fq\n", "not a QIIME 2 manifest", 1),
    ("sample-id\tforward-absolute-filepath\treverse-absolute-filepath\nS1\tnope.fq\tnope2.fq\n",
     "does not exist", 2),
    ("sample-id\tforward-absolute-filepath\treverse-absolute-filepath\nS1\t{f}\n",
     "2 fields, expected 3", 2),
    ("sample-id\tforward-absolute-filepath\treverse-absolute-filepath\nS1\t{f}\t{f}\nS1\t{f}\t{f}\n",
     "listed twice", 3),
])
def test_bad_manifests_are_one_line_errors_with_the_line(tmp_path, body, message, line):
    f = _fastq(tmp_path / "r.fq")
    (tmp_path / "manifest.tsv").write_text(body.format(f=f))
    with pytest.raises(InputError, match=message) as exc:
        find_samples(tmp_path)
    assert exc.value.line == line
