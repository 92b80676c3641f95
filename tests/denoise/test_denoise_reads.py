"""``denoise_reads``, the denoise step's entry point, called directly on FASTQ samples.

Error-free copies of one random 250 nt amplicon, read as 150 + 150 nt pairs (50 nt overlap),
with the stand-in denoiser that makes every unique sequence its own variant (the true answer
for such reads): every count below follows from the construction.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from microtrial.denoise import TRACKING_COLUMNS, denoise_reads, parse_settings
from microtrial.reads import find_samples

from ._reads import write_pairs

RNG = np.random.default_rng(5)
AMPLICON = "".join(RNG.choice(list("ACGT"), 250))


def _samples(tmp_path):
    d = tmp_path / "reads"
    write_pairs(d, "a", [AMPLICON] * 100, 150)
    write_pairs(d, "b", [AMPLICON] * 165, 150)
    return d, find_samples(d)


def test_counts_tracking_and_no_files_written(exact_denoiser, tmp_path):
    d, samples = _samples(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    res = denoise_reads(samples, settings=parse_settings({"trunc_len_f": 140, "trunc_len_r": 130}),
                        threads=1)
    assert res.lost is None
    assert res.result.sequences == [AMPLICON]
    assert res.result.counts.tolist() == [[100], [165]]
    assert list(res.tracking.columns) == TRACKING_COLUMNS
    assert res.tracking.values.tolist() == [["a", 100, 100, 100, 100, 100, 100],
                                            ["b", 165, 165, 165, 165, 165, 165]]
    assert (res.trunc_len_f, res.trunc_len_r, res.automatic, res.paired) == (140, 130, False, True)
    assert res.hist_f.n_reads == 265 and res.hist_r is not None and res.hist_r.n_reads == 265
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # a stage writes no file
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.lost = "x"  # type: ignore[misc]


def test_nothing_left_is_reported_not_raised(exact_denoiser, tmp_path):
    _, samples = _samples(tmp_path)
    res = denoise_reads(samples, settings=parse_settings({"trunc_q": 41}), threads=1)
    assert res.result.sequences == []
    assert res.lost is not None and res.lost.startswith(
        "all 265 read pairs were lost at quality filtering (input 265, filtered 0, ")
