"""Bad denoise options end in one ``error: <option>: ...`` line and exit status 2, before
any output is written; truncation longer than some (not all) reads still runs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import microtrial.denoise
from microtrial.cli import main
from microtrial.denoise._types import DadaResult
from microtrial.errors import InputError
from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage
from microtrial.seqs import reverse_complement

RNG = np.random.default_rng(7)
AMPLICON = "".join(RNG.choice(list("ACGT"), 120))


def _write_pairs(folder: Path, sample: str, n: int, read_len: int) -> None:
    r1, r2 = [], []
    q = "I" * read_len
    for i in range(n):
        name = f"@M1:1:FC:1:1101:{i}:1"
        r1.append(f"{name} 1:N:0:1\n{AMPLICON[:read_len]}\n+\n{q}\n")
        r2.append(f"{name} 2:N:0:1\n{reverse_complement(AMPLICON)[:read_len]}\n+\n{q}\n")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sample}_S1_L001_R1_001.fastq.gz").write_bytes(gzip.compress("".join(r1).encode()))
    (folder / f"{sample}_S1_L001_R2_001.fastq.gz").write_bytes(gzip.compress("".join(r2).encode()))


@pytest.fixture
def exact_denoiser(monkeypatch):
    """Every unique sequence its own variant (the true answer for error-free reads)."""

    def dada(dereps, **kw):
        return [DadaResult(d.sequences, d.abundances.copy(), np.arange(len(d.sequences), dtype=np.int64))
                for d in dereps]

    monkeypatch.setattr(microtrial.denoise, "dada", dada, raising=False)
    monkeypatch.setattr(microtrial.denoise, "learn_errors", lambda dereps, **kw: np.zeros((16, 41)),
                        raising=False)


@pytest.fixture
def reads_dir(tmp_path):
    d = tmp_path / "reads"
    _write_pairs(d, "s1", 20, 80)
    _write_pairs(d, "s2", 15, 80)
    return d


def _one_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(("option", "value"), [
    ("--max-n", "-1"), ("--min-len", "-1"), ("--trunc-q", "-1"), ("--amplicon-length", "0"),
    ("--primer-f", "JJJ"),
])
def test_invalid_values_are_refused(reads_dir, tmp_path, capsys, option, value):
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(out), option, value])
    assert line.startswith(f"error: {option}: ")
    assert not out.exists()


def test_truncation_longer_than_every_read(exact_denoiser, reads_dir, tmp_path, capsys):
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(out), "--trunc-len-f", "1000",
                               "--trunc-len-r", "70", "--threads", "1"])
    assert line.startswith("error: --trunc-len-f: 1000 ") and "longest is 80 nt" in line
    assert not (out / "feature-table.biom").exists()
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(out), "--trunc-len-f", "70",
                               "--trunc-len-r", "81", "--threads", "1"])
    assert line.startswith("error: --trunc-len-r: 81 ") and "longest is 80 nt" in line


def test_overlap_longer_than_the_reads(exact_denoiser, reads_dir, tmp_path, capsys):
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(out), "--min-overlap", "1000",
                               "--threads", "1"])
    assert line.startswith("error: --min-overlap: 1000 is longer than the reads")
    assert not (out / "feature-table.biom").exists()


def test_truncation_longer_than_some_samples_reads_still_runs(exact_denoiser, reads_dir, tmp_path):
    _write_pairs(reads_dir, "short", 10, 60)  # shorter than the truncation: loses every read
    summary = denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(
        trunc_len_f=75, trunc_len_r=75, min_reads=1, threads=1))
    rows = dict(zip(summary.tracking["sample-id"], summary.tracking["filtered"]))
    assert rows == {"s1": 20, "s2": 15, "short": 0}
    assert summary.n_asvs == 1


def test_check_at_function_level(reads_dir, tmp_path):
    with pytest.raises(InputError, match="^--max-n: "):
        denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(max_n=-1))
