"""A run that leaves no ASV in any sample is an error naming the reads folder and the step
where the reads were lost (from the read-tracking totals), raised before anything is
written; ``--trunc-q`` is a Phred score in the study file's range 0-41.

The reads are error-free copies of one random amplicon, and the denoiser is replaced by a
stand-in that makes every unique sequence its own variant (the true answer for such reads),
so every count in the messages follows from the construction.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from cli_checks import one_error
from microtrial.errors import InputError
from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

from ._reads import write_pairs

RNG = np.random.default_rng(11)
AMPLICON = "".join(RNG.choice(list("ACGT"), 250))


def _reads(tmp_path: Path, read_len: int) -> Path:
    d = tmp_path / f"reads{read_len}"
    write_pairs(d, "a", [AMPLICON] * 100, read_len)
    write_pairs(d, "b", [AMPLICON] * 165, read_len)
    return d


def _one_error(capsys, argv: list[str]) -> str:
    return one_error(capsys, argv, allow_warnings=True)


@pytest.mark.parametrize("read_len", [30, 100])  # 30 + 30 or 100 + 100 nt over 250 nt: no overlap
def test_pairs_that_never_merge(exact_denoiser, tmp_path, capsys, read_len):
    reads = _reads(tmp_path, read_len)
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads), "-o", str(out), "--threads", "1"])
    assert line == (
        f"error: {reads}: no ASV left in any sample: all 265 read pairs were lost at merging "
        f"(input 265, filtered 265, denoised-f 265, denoised-r 265, merged 0, non-chimeric 0): "
        f"no pair's reads ({read_len} nt, {read_len} nt) overlap by at least --min-overlap 12 nt "
        "with at most --max-mismatch 0 mismatches; are the reads long enough to overlap across "
        "the amplicon?")
    assert not out.exists()  # no empty feature table, FASTA or BIOM left behind


def test_every_read_filtered(exact_denoiser, tmp_path):
    reads = _reads(tmp_path, 150)
    with pytest.raises(InputError) as exc:  # Q40 reads, cut at the first base with Q <= 41
        denoise_stage(reads, tmp_path / "o", options=DenoiseOptions(trunc_q=41, threads=1))
    assert exc.value.path == str(reads)
    assert exc.value.message.startswith(
        "no ASV left in any sample: all 265 read pairs were lost at quality filtering (input "
        "265, filtered 0, denoised-f 0, denoised-r 0, merged 0, non-chimeric 0): check "
        "--trunc-len-f/--trunc-len-r")
    assert "--trunc-q 41" in exc.value.message
    assert not (tmp_path / "o").exists()


def test_every_asv_under_min_reads(exact_denoiser, tmp_path):
    reads = _reads(tmp_path, 150)  # one ASV of 265 reads
    with pytest.raises(InputError) as exc:
        denoise_stage(reads, tmp_path / "o", options=DenoiseOptions(min_reads=266, threads=1))
    assert ("all 265 read pairs were lost at the --min-reads floor (input 265, filtered 265, "
            "denoised-f 265, denoised-r 265, merged 265, non-chimeric 0): every ASV had fewer "
            "than --min-reads 266 reads") in exc.value.message
    assert not (tmp_path / "o").exists()
    # one read fewer and the ASV stays: the same folder gives a table
    summary = denoise_stage(reads, tmp_path / "o", options=DenoiseOptions(min_reads=265, threads=1))
    assert summary.n_asvs == 1


def test_a_lost_sample_is_a_warning_saying_where(exact_denoiser, tmp_path, caplog):
    reads = _reads(tmp_path, 150)
    write_pairs(reads, "short", [AMPLICON] * 7, 30)  # 30 + 30 nt: no overlap, but the others merge
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        summary = denoise_stage(reads, tmp_path / "o", options=DenoiseOptions(
            trunc_len_f=0, trunc_len_r=0, threads=1))
    assert summary.n_asvs == 1
    assert [r.getMessage() for r in caplog.records if "short" in r.getMessage()] == [
        "sample short has no reads left: all 7 read pairs were lost at merging (input 7, "
        "filtered 7, denoised-f 7, denoised-r 7, merged 0, non-chimeric 0)"]


@pytest.mark.parametrize("value", ["42", "99", "-1"])
def test_trunc_q_is_a_phred_score(tmp_path, capsys, value):
    reads = _reads(tmp_path, 150)
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads), "-o", str(out), "--trunc-q", value])
    assert line.startswith("error: --trunc-q: Input should be ") and line.endswith(f"got {value}")
    assert not out.exists()


def test_trunc_q_range_is_the_study_files():
    from microtrial.study._models import Reads

    field = Reads.model_fields["trunc_q"]
    bounds = {type(m).__name__: m for m in field.metadata}
    assert bounds["Ge"].ge == 0 and bounds["Le"].le == 41
