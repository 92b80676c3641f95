"""Quality profiles from histograms, and the automatic truncation rule (by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.reads._fastq import Reads
from microtrial.reads._quality import (
    amplicon_length_estimates,
    amplicon_length_from_primers,
    choose_trunc_len,
    planning_amplicon_length,
    quality_histogram,
    quality_profile,
)
from microtrial.seqs import PRIMERS, reverse_complement


def _reads(quals: list[list[int]], seqs: list[str] | None = None) -> Reads:
    w = max(len(q) for q in quals)
    s = np.zeros((len(quals), w), np.uint8)
    q = np.zeros_like(s)
    for i, y in enumerate(quals):
        x = seqs[i] if seqs else "A" * len(y)
        s[i, : len(x)] = np.frombuffer(x.encode(), np.uint8)
        q[i, : len(y)] = y
    return Reads(s, q, np.array([len(y) for y in quals], dtype=np.int64))


def test_profile_by_hand():
    r = _reads([[10, 20, 30], [20, 30], [30, 40, 40], [40, 40, 40]])
    p = quality_profile(quality_histogram(r))
    assert p["position"].tolist() == [1, 2, 3]
    assert p["n_reads"].tolist() == [4, 4, 3]
    assert p["mean_quality"].tolist() == pytest.approx([25.0, 32.5, (30 + 40 + 40) / 3], abs=1e-3)
    # type-1 quantiles of {10,20,30,40}: q25 = 10, median = 20, q75 = 30
    assert p.loc[0, ["q25", "median", "q75"]].tolist() == [10, 20, 30]
    assert p.loc[2, ["q25", "median", "q75"]].tolist() == [30, 40, 40]


def test_histograms_add_up():
    a = _reads([[30, 30, 30]])
    b = _reads([[20, 20]])
    p = quality_profile(quality_histogram(a) + quality_histogram(b))
    assert p["n_reads"].tolist() == [2, 2, 1]


def test_auto_truncation_by_quality_drop():
    # 100 reads of 50 nt: Q38 up to position 30, then Q20 (p = 0.01 per base).
    # mean EE(L) = 30 * 10^-3.8 + (L - 30) * 0.01 <= 0.25 * 2 = 0.5  ->  L <= 79 (not binding);
    # the median drops below 30 at position 31  ->  L_q = 30
    q = [[38] * 30 + [20] * 20] * 100
    tf, tr = choose_trunc_len(quality_histogram(_reads(q)), None, max_ee=(2.0, 2.0))
    assert (tf, tr) == (30, None)


def test_auto_truncation_by_expected_errors():
    # Q30 everywhere (p = 0.001): mean EE(L) = L / 1000 <= 0.25 * 0.1 -> L = 25
    q = [[30] * 40] * 10
    tf, _ = choose_trunc_len(quality_histogram(_reads(q)), None, max_ee=(0.1, 0.1))
    assert tf == 25


def test_auto_truncation_keeps_overlap():
    # forward Q38 x 60 then Q20; reverse Q38 x 40 then Q25 -> quality rule 60 / 40; an
    # amplicon of 100 needs 100 + 20 = 120: 20 more bases go, one by one, to the direction
    # with the better next median (forward 20 < reverse 25 -> all to the reverse read)
    f = quality_histogram(_reads([[38] * 60 + [20] * 40] * 10))
    r = quality_histogram(_reads([[38] * 40 + [25] * 60] * 10))
    assert choose_trunc_len(f, r, max_ee=(10.0, 10.0), amplicon_length=100) == (60, 60)
    assert choose_trunc_len(f, r, max_ee=(10.0, 10.0), amplicon_length=None) == (60, 40)


def test_amplicon_length():
    assert amplicon_length_from_primers(*PRIMERS["V4"]) == 253
    assert amplicon_length_from_primers(*PRIMERS["V3-V4"]) == 425
    assert amplicon_length_from_primers("ACGT", "TTTT") is None
    rng = np.random.default_rng(0)
    amps = ["".join(rng.choice(list("ACGT"), 230)) for _ in range(30)]
    f = _reads([[38] * 150] * 30, [a[:150] for a in amps])
    r = _reads([[38] * 150] * 30, [reverse_complement(a[-150:]) for a in amps])
    assert planning_amplicon_length(amplicon_length_estimates(f, r), 30) == 230


def test_histogram_kernel_matches_naive():
    rng = np.random.default_rng(1)
    quals = [rng.integers(0, 99, int(rng.integers(1, 30))).tolist() for _ in range(50)]
    h = quality_histogram(_reads(quals))
    want = np.zeros_like(h.counts)
    for q in quals:
        for p, v in enumerate(q):
            want[p, min(v, 93)] += 1
    assert (h.counts == want).all()
    assert h.lengths.tolist() == np.bincount([len(q) for q in quals], minlength=h.lengths.size).tolist()


def test_planning_length_keeps_long_minority_classes():
    # 0.01 % of pairs is the planning limit: k = ceil((1 - 1e-4) * n) - 1 of the sorted
    # lengths; n = 20000 -> k = 19997, the third longest: three 437-nt pairs (0.015 %) set
    # the plan, two (0.01 %) do not
    three = np.array([425] * 19997 + [437] * 3)
    two = np.array([425] * 19998 + [437] * 2)
    assert planning_amplicon_length(three, 20000) == 437
    assert planning_amplicon_length(two, 20000) == 425
    assert planning_amplicon_length(np.array([425] * 9), 9) is None  # too few to measure
    assert planning_amplicon_length(np.array([425] * 50), 500) is None  # under 20 % overlap


def test_amplicon_length_estimates_per_pair():
    rng = np.random.default_rng(1)
    amps = ["".join(rng.choice(list("ACGT"), n)) for n in [230] * 20 + [250] * 5]
    f = _reads([[38] * 150] * 25, [a[:150] for a in amps])
    r = _reads([[38] * 150] * 25, [reverse_complement(a[-150:]) for a in amps])
    assert sorted(amplicon_length_estimates(f, r).tolist()) == [230] * 20 + [250] * 5
