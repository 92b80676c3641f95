"""Bad denoise options end in one ``error: <option>: ...`` line and exit status 2, before
any output is written; truncation longer than some (not all) reads still runs."""

from __future__ import annotations

import numpy as np
import pytest

from cli_checks import one_error as _one_error
from microtrial.errors import InputError
from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

from ._reads import write_pairs

RNG = np.random.default_rng(7)
AMPLICON = "".join(RNG.choice(list("ACGT"), 120))


@pytest.fixture
def reads_dir(tmp_path):
    d = tmp_path / "reads"
    write_pairs(d, "s1", [AMPLICON] * 20, 80)
    write_pairs(d, "s2", [AMPLICON] * 15, 80)
    return d


@pytest.mark.parametrize(("option", "value"), [
    ("--max-n", "-1"), ("--min-len", "-1"), ("--trunc-q", "-1"), ("--amplicon-length", "0"),
    ("--primer-f", "JJJ"),
])
def test_invalid_values_are_refused(reads_dir, tmp_path, capsys, option, value):
    out = tmp_path / "out"
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(out), option, value])
    assert line.startswith(f"error: {option}: ")  # the flag (a study file's run: the key)
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
    write_pairs(reads_dir, "short", [AMPLICON] * 10, 60)  # shorter than the truncation: loses every read
    summary = denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(
        trunc_len_f=75, trunc_len_r=75, min_reads=1, threads=1))
    rows = dict(zip(summary.tracking["sample-id"], summary.tracking["filtered"]))
    assert rows == {"s1": 20, "s2": 15, "short": 0}
    assert summary.n_asvs == 1


def test_check_at_function_level(reads_dir, tmp_path):
    with pytest.raises(InputError, match="^--max-n: "):
        denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(max_n=-1))


def test_study_file_and_command_line_share_the_options_model(tmp_path):
    from pydantic import ValidationError

    from microtrial.denoise import DenoiseSettings
    from microtrial.study._models import Reads

    keys = {"trim_left_f": 10, "trim_left_r": 5, "max_len": 300, "n_reads_learn": 1000000,
            "min_fold_parent_over_abundance": 1.0, "chimera_method": "pooled",
            "error_model": "monotone", "dada2_compatible": True}
    reads = Reads.model_validate({"dir": str(tmp_path), **keys})
    assert isinstance(reads, DenoiseSettings)
    assert {k: getattr(reads, k) for k in keys} == keys
    eff = reads.effective()  # what dada2_compatible implies
    assert (eff.pool, eff.reverse_partners, eff.chimera_one_off, eff.min_reads) == ("none", False, False, 1)
    assert eff.error_model == "monotone"  # set explicitly: kept
    opts = DenoiseOptions.from_settings(reads, threads=1)
    assert (opts.trim_left_f, opts.n_reads_learn, opts.chimera_method) == (10, 1000000, "pooled")
    with pytest.raises(ValidationError, match="trim_left_f"):
        Reads.model_validate({"dir": str(tmp_path), "trim_left_f": -1})
    with pytest.raises(ValidationError, match="cannot be combined with pool"):
        Reads.model_validate({"dir": str(tmp_path), "dada2_compatible": True, "pool": "pseudo"})


def test_dada2_compatible_conflicts_name_the_key(reads_dir, tmp_path, capsys):
    line = _one_error(capsys, ["denoise", str(reads_dir), "-o", str(tmp_path / "o"), "--dada2-compatible",
                               "--min-reads", "10"])
    # the settings the message mentions are named as the command line's flags
    assert line.startswith("error: --dada2-compatible: --dada2-compatible sets --pool: 'none', ")
    assert line.endswith("it cannot be combined with --min-reads: 10")
