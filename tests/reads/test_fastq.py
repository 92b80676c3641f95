"""FASTQ input: pairing by Illumina names, parsing, and one-line errors for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.reads._fastq import find_samples, read_fastq, read_pair

SEQ = "TACGGAGGATCCGAGCGTTATCCGGATTTATTGGGTTTAAAGGG"


def _records(n: int, *, seq: str = SEQ, qual: str | None = None, tag: str = "1") -> list[str]:
    q = qual if qual is not None else "I" * len(seq)
    return [f"@M00967:43:A3JHG:1:1101:{1000 + i}:2112 {tag}:N:0:1\n{seq}\n+\n{q}\n" for i in range(n)]


def _write(path: Path, records: list[str]) -> Path:
    data = "".join(records).encode()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _pair(folder: Path, sample: str, n: int = 3, **kw) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    r1 = _write(folder / f"{sample}_S1_L001_R1_001.fastq.gz", _records(n, tag="1"))
    r2 = _write(folder / f"{sample}_S1_L001_R2_001.fastq.gz", _records(n, tag="2", **kw))
    return r1, r2


def test_pairing_by_illumina_and_short_names(tmp_path):
    _pair(tmp_path, "F3D1")
    _write(tmp_path / "B_1.fastq.gz", _records(2))
    _write(tmp_path / "B_2.fastq.gz", _records(2, tag="2"))
    _write(tmp_path / "C_S12_L002_R1_001.fq", _records(2))
    _write(tmp_path / "C_S12_L002_R2_001.fq", _records(2, tag="2"))
    (tmp_path / "notes.txt").write_text("not a FASTQ")
    samples = find_samples(tmp_path)
    assert [s.sample_id for s in samples] == ["B", "C", "F3D1"]
    assert samples[2].r1.name == "F3D1_S1_L001_R1_001.fastq.gz"
    assert samples[2].r2.name == "F3D1_S1_L001_R2_001.fastq.gz"
    assert samples[0].r2.name == "B_2.fastq.gz"


def test_single_end_folder(tmp_path):
    _write(tmp_path / "A_S1_L001_R1_001.fastq.gz", _records(2))
    _write(tmp_path / "B.fastq", _records(2))
    samples = find_samples(tmp_path)
    assert [(s.sample_id, s.r2) for s in samples] == [("A", None), ("B", None)]


def test_read_matrices(tmp_path):
    p = _write(tmp_path / "x.fastq", [
        "@a\nACGTN\n+\n!+5?I\n", "@b\nacg\n+\nIII\n",
    ])
    r = read_fastq(p)
    assert r.lengths.tolist() == [5, 3]
    assert r.sequences() == ["ACGTN", "ACG"]
    assert r.qual[0].tolist() == [0, 10, 20, 30, 40]
    assert r.qual[1].tolist() == [40, 40, 40, 0, 0]


def test_pair_ids_compared_without_comment(tmp_path):
    r1, r2 = _pair(tmp_path, "S")
    f, r = read_pair(find_samples(tmp_path)[0])
    assert f.n_reads == r.n_reads == 3


def _cli_error(capsys, folder: Path, out: Path) -> str:
    code = main(["denoise", str(folder), "-o", str(out), "--trunc-len-f", "30", "--trunc-len-r", "30"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    return err[0]


def test_truncated_gzip(tmp_path, capsys):
    r1, _ = _pair(tmp_path / "in", "S", n=200)
    r1.write_bytes(r1.read_bytes()[:-30])
    assert _cli_error(capsys, tmp_path / "in", tmp_path / "out").startswith(f"error: {r1}")


def test_different_read_counts(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    _write(r2, _records(2, tag="2"))
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r2}") and "2 reads" in line


def test_mismatching_read_ids(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    recs = _records(3, tag="2")
    recs[1] = recs[1].replace(":1001:", ":9999:")
    _write(r2, recs)
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r2}: line 5:") and "does not match" in line


def test_quality_length_differs(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    recs = _records(3)
    recs[2] = recs[2].replace("I" * len(SEQ), "I" * (len(SEQ) - 3))
    _write(r1, recs)
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r1}: line ")


def test_invalid_base(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    recs = _records(3)
    recs[1] = recs[1].replace(SEQ, SEQ[:5] + "X" + SEQ[6:])
    _write(r1, recs)
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r1}: line 6:") and "'X'" in line


def test_empty_file(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    _write(r2, [])
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r2}") and "no reads" in line


def test_r1_without_r2(tmp_path, capsys):
    _pair(tmp_path / "in", "A")
    lone = _write(tmp_path / "in" / "B_S2_L001_R1_001.fastq.gz", _records(3))
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {lone}") and "no R2" in line


def test_phred64_refused(tmp_path, capsys):
    r1, r2 = _pair(tmp_path / "in", "S")
    _write(r1, _records(3, qual="h" * 30 + "B" * (len(SEQ) - 30)))  # 'h' = Q40 in Phred+64
    line = _cli_error(capsys, tmp_path / "in", tmp_path / "out")
    assert line.startswith(f"error: {r1}") and "Phred+64" in line


def test_missing_folder(tmp_path, capsys):
    line = _cli_error(capsys, tmp_path / "nope", tmp_path / "out")
    assert line.startswith(f"error: {tmp_path / 'nope'}")


def test_read_fastq_errors_are_input_errors(tmp_path):
    p = _write(tmp_path / "bad.fastq", ["@a\nACGT\n+\nIII\n"])
    with pytest.raises(InputError) as exc:
        read_fastq(p)
    assert str(exc.value).startswith(str(p))


def test_numpy_qualities_are_bulk_converted(tmp_path):
    p = _write(tmp_path / "q.fastq.gz", _records(50))
    r = read_fastq(p)
    assert r.qual.dtype == np.uint8 and r.qual.shape == (50, len(SEQ))
    assert (r.qual == 40).all()
