"""filterAndTrim on hand-made reads; kernels against the naive versions."""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.reads._fastq import Reads, read_fastq
from microtrial.reads._filter import (
    FilterParams,
    filter_and_trim,
    filter_pair,
    is_phix,
    phix_genome,
)
from microtrial.reads._kernels import trim_stats
from microtrial.seqs import reverse_complement
from reads._naive import phix_hits
from reads._naive import trim_stats as naive_trim


def _reads(seqs: list[str], quals: list[list[int]] | None = None) -> Reads:
    w = max(len(s) for s in seqs)
    s = np.zeros((len(seqs), w), np.uint8)
    q = np.zeros_like(s)
    for i, x in enumerate(seqs):
        s[i, : len(x)] = np.frombuffer(x.encode(), np.uint8)
        q[i, : len(x)] = 38 if quals is None else quals[i]
    return Reads(s, q, np.array([len(x) for x in seqs], dtype=np.int64))


@pytest.fixture
def cases(test_data):
    return read_fastq(test_data / "reads" / "filter_cases.fastq")


def test_filter_counts_by_hand(cases):
    # truncLen 10, truncQ 2, maxEE 1, minLen 5, maxN 0, by hand:
    # r1 12xQ40 -> cut to 10, EE 0.001: kept     r2 Q2 at base 6 -> 5 nt < truncLen: dropped
    # r3 has N: dropped                           r4 9xQ10 + Q40 in the first 10: EE 0.9001 kept
    # r5 10xQ7: EE 1.995 > 1: dropped             r6 Q2 at base 11 -> exactly 10 nt: kept
    # r7 8 nt < truncLen: dropped
    out = filter_and_trim(cases, FilterParams(trunc_len=10, trunc_q=2, max_ee=1.0, min_len=5, rm_phix=False))
    assert out.n_reads == 3
    assert out.sequences() == ["ACGTACGTAC"] * 3
    assert out.lengths.tolist() == [10, 10, 10]


def test_trunc_q_without_trunc_len(cases):
    # no truncLen: r2 is cut to 5 nt before its Q2 base and kept (minLen 5); r6 cut to 10;
    # r3 (N) and r5 (12 x Q7 = EE 2.39) dropped; r7 (8 nt) kept
    out = filter_and_trim(cases, FilterParams(trunc_len=0, trunc_q=2, max_ee=1.0, min_len=5, rm_phix=False))
    assert out.lengths.tolist() == [12, 5, 12, 10, 8]
    out9 = filter_and_trim(cases, FilterParams(trunc_len=0, trunc_q=2, max_ee=1.0, min_len=9, rm_phix=False))
    assert out9.lengths.tolist() == [12, 12, 10]


def test_max_ee_by_hand():
    # 20 bases at Q20 (p = 0.01): EE = 0.2; at Q10 (p = 0.1): EE = 2.0 -> over 1.5
    r = _reads(["A" * 20, "C" * 20], [[20] * 20, [10] * 20])
    out = filter_and_trim(r, FilterParams(trunc_q=2, max_ee=1.5, rm_phix=False))
    assert out.sequences() == ["A" * 20]


def test_max_n_allows_some():
    r = _reads(["ACGTNACGTACGTACGTACGT", "ACNTNACGTACGTACGTACGT"])
    assert filter_and_trim(r, FilterParams(max_n=1, rm_phix=False)).n_reads == 1


def test_pair_dropped_when_one_read_fails():
    f = _reads(["ACGT" * 10, "ACGT" * 10])
    r = _reads(["TTGCA" * 8, "TTGCA" * 4])  # second reverse read too short for truncLen 30
    of, orv = filter_pair(f, r, FilterParams(trunc_len=30, rm_phix=False), FilterParams(trunc_len=30, rm_phix=False))
    assert of.n_reads == orv.n_reads == 1


def test_phix_reads_removed():
    g = phix_genome()
    assert len(g) == 5386  # NC_001422.1
    piece = g[1000:1150]
    other = "ACGGTTAGCTAGCTAGGATCGATTTACGACTAGCATCAGCATCAGCATCGACTGACTAGCATCGACTAGCATCAGCA"
    r = _reads([piece, reverse_complement(piece), other, piece[:20] + other])
    assert is_phix(r).tolist() == [True, True, False, False]  # the last has one 16-mer only
    out = filter_and_trim(r, FilterParams(trunc_q=-1, rm_phix=True))
    assert out.sequences() == [other, piece[:20] + other]


def test_shared_phix_file_matches_package(shared_data):
    path = shared_data / "dada2-extdata" / "phix_genome.fa"
    if not path.exists():
        pytest.skip("shared phix genome not available")
    seq = "".join(x.strip() for x in path.read_text().splitlines() if not x.startswith(">"))
    assert seq == phix_genome()


def test_trim_kernel_matches_naive():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        seq = "".join(rng.choice(list("ACGTN"), n, p=[0.24, 0.24, 0.24, 0.24, 0.04]))
        qual = rng.integers(0, 42, n).tolist()
        tq, tl = int(rng.integers(-1, 6)), int(rng.integers(0, 45))
        r = _reads([seq], [qual])
        err = 10.0 ** (-np.arange(256) / 10.0)
        ln, keep, nn, ee = (np.empty(1, np.int64), np.empty(1, np.bool_), np.empty(1, np.int64), np.empty(1))
        trim_stats(r.seq, r.qual, r.lengths, tq, tl, err, ln, keep, nn, ee)
        e_ln, e_keep, e_nn, e_ee = naive_trim(seq, qual, tq, tl)
        assert (ln[0], bool(keep[0]), nn[0]) == (e_ln, e_keep, e_nn)
        assert ee[0] == pytest.approx(e_ee, rel=1e-12, abs=1e-15)


def test_phix_kernel_matches_naive():
    rng = np.random.default_rng(3)
    g = phix_genome()
    k = 16
    words = {g[i : i + k] for i in range(len(g) - k + 1)}
    rc = reverse_complement(g)
    words |= {rc[i : i + k] for i in range(len(rc) - k + 1)}
    seqs = []
    for _ in range(150):
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            if rng.random() < 0.5:
                s = int(rng.integers(0, len(g) - 40))
                parts.append(g[s : s + int(rng.integers(10, 40))])
            else:
                parts.append("".join(rng.choice(list("ACGTN"), int(rng.integers(5, 30)))))
        seqs.append("".join(parts))
    got = is_phix(_reads(seqs))
    want = [phix_hits(s, words, k, 2) for s in seqs]
    assert got.tolist() == want
    assert 0 < sum(want) < len(want)
