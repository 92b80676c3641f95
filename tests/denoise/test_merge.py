"""mergePairs semantics on hand-made variants; the aligner against a naive DP."""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.denoise._merge import align_ends_free, merge_pairs, reverse_partners
from microtrial.denoise._types import DadaResult, Derep
from microtrial.seqs import reverse_complement

AMPLICON = "TACGGAGGATCCGAGCGTTATCCGGATTTATTGGGTTTAAAGGGAGCGTAGGCGGACGCTTAAGT"  # 65 nt


def _one_sample(fwd: list[str], rev: list[str], pairs: list[tuple[int, int]]):
    """Dereps/DadaResults where unique i is variant i, and reads are the given pairs."""
    rf = np.array([p[0] for p in pairs], dtype=np.int64)
    rr = np.array([p[1] for p in pairs], dtype=np.int64)

    def build(seqs, r2u):
        ab = np.bincount(r2u[r2u >= 0], minlength=len(seqs)).astype(np.int64)
        d = Derep(tuple(seqs), ab, tuple(np.full(len(s), 35.0) for s in seqs), r2u.clip(min=0))
        u2a = np.arange(len(seqs), dtype=np.int64)
        return d, DadaResult(tuple(seqs), ab, u2a)

    df, ddf = build(fwd, rf)
    dr, ddr = build(rev, rr)
    return ddf, df, ddr, dr


def test_exact_overlap_merges():
    f = AMPLICON[:40]
    r = reverse_complement(AMPLICON[-40:])  # overlap 15 nt
    m = merge_pairs(*_one_sample([f], [r], [(0, 0)] * 5))
    assert m.sequences == (AMPLICON,)
    assert m.abundances.tolist() == [5]
    assert m.combinations[0, 3:].tolist() == [15, 0, 0, 1]  # nmatch, nmismatch, nindel, accept


def test_mismatch_in_overlap_refused_and_allowed_when_asked():
    f = AMPLICON[:40]
    tail = list(AMPLICON[-40:])
    tail[3] = "A" if tail[3] != "A" else "C"  # amplicon position 28: inside the 15-nt overlap
    r = reverse_complement("".join(tail))
    m = merge_pairs(*_one_sample([f], [r], [(0, 0)] * 3))
    assert m.sequences == () and m.n_merged == 0
    assert m.n_denoised == 3


def test_mismatch_allowed_in_a_long_overlap():
    # with mismatch -64 a mismatch only pays off in an overlap of more than 64 matches:
    # a 200-nt amplicon read 150 + 150 overlaps by 100
    rng = np.random.default_rng(2)
    amp = "".join(rng.choice(list("ACGT"), 200))
    tail = list(amp[50:])
    tail[60] = "A" if tail[60] != "A" else "C"  # amplicon position 110, in the overlap
    r = reverse_complement("".join(tail))
    args = _one_sample([amp[:150]], [r], [(0, 0)] * 2)
    assert merge_pairs(*args).n_merged == 0
    m1 = merge_pairs(*args, max_mismatch=1)
    assert m1.sequences == (amp,)  # the forward base is kept in the overlap
    assert m1.combinations[0, 3:].tolist() == [99, 1, 0, 1]


def test_short_overlap_refused():
    f = AMPLICON[:30]
    r = reverse_complement(AMPLICON[-45:])  # overlap 10 < 12
    assert merge_pairs(*_one_sample([f], [r], [(0, 0)])).n_merged == 0
    assert merge_pairs(*_one_sample([f], [r], [(0, 0)]), min_overlap=10).sequences == (AMPLICON,)


def test_each_combination_counted_and_uncorrected_reads_dropped():
    f0, f1 = AMPLICON[:40], "G" + AMPLICON[1:40]
    r0 = reverse_complement(AMPLICON[-40:])
    ddf, df, ddr, dr = _one_sample([f0, f1], [r0], [(0, 0), (0, 0), (1, 0), (0, 0)])
    # the 4th pair's forward unique is uncorrected (-1): dropped
    ddf = DadaResult(ddf.sequences, ddf.abundances, np.array([0, 1], dtype=np.int64))
    df = Derep(df.sequences, df.abundances, df.mean_quality, np.array([0, 0, 1, 0]))
    ddf = DadaResult(ddf.sequences, ddf.abundances, np.array([0, 1], dtype=np.int64))
    m = merge_pairs(ddf, df, ddr, dr)
    assert dict(zip(m.sequences, m.abundances.tolist())) == {AMPLICON: 3, "G" + AMPLICON[1:]: 1}
    ddf2 = DadaResult(ddf.sequences, ddf.abundances, np.array([0, -1], dtype=np.int64))
    m2 = merge_pairs(ddf2, df, ddr, dr)
    assert m2.n_denoised == 3 and dict(zip(m2.sequences, m2.abundances.tolist())) == {AMPLICON: 3}


def _naive_score(a: str, b: str, match: int, mismatch: int, gap: int) -> int:
    """Ends-free global alignment score by the textbook recursion (no band)."""
    m, n = len(a), len(b)
    h = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            s = match if a[i - 1] == b[j - 1] else mismatch
            h[i][j] = max(
                h[i - 1][j - 1] + s,
                h[i - 1][j] + (0 if j == n else gap),
                h[i][j - 1] + (0 if i == m else gap),
            )
    return h[m][n]


@pytest.mark.parametrize("scores", [(1, -64, -64), (5, -4, -8)])
def test_aligner_matches_naive(scores):
    rng = np.random.default_rng(11)
    for _ in range(150):
        a = "".join(rng.choice(list("ACGT"), int(rng.integers(1, 25))))
        b = "".join(rng.choice(list("ACGT"), int(rng.integers(1, 25))))
        al_a, al_b, score = align_ends_free(a, b, match=scores[0], mismatch=scores[1], gap=scores[2])
        assert score == _naive_score(a, b, *scores)
        assert al_a.replace("-", "") == a and al_b.replace("-", "") == b
        # the alignment's own score equals the reported score
        cols = list(zip(al_a, al_b))
        s = 0
        first = next(i for i, (x, y) in enumerate(cols) if x != "-" and y != "-") if any(
            x != "-" and y != "-" for x, y in cols) else len(cols)
        for x, y in cols:
            if x != "-" and y != "-":
                s += scores[0] if x == y else scores[1]
        last = max((i for i, (x, y) in enumerate(cols) if x != "-" and y != "-"), default=-1)
        s += scores[2] * sum(1 for i in range(first, last + 1) if "-" in cols[i])
        assert s == score


def _naive_banded_score(a: str, b: str, band: int) -> int:
    """Banded ends-free score by the textbook recursion: cells with |i - j| > band are
    unreachable, except in the last row and column (where the free trailing gaps run)."""
    m, n = len(a), len(b)
    neg = float("-inf")
    h = [[neg] * (n + 1) for _ in range(m + 1)]
    for i in range(m + 1):
        if i <= band:
            h[i][0] = 0
    for j in range(n + 1):
        if j <= band:
            h[0][j] = 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if abs(i - j) > band and i != m and j != n:
                continue
            s = 5 if a[i - 1] == b[j - 1] else -4
            h[i][j] = max(h[i - 1][j - 1] + s, h[i - 1][j] + (0 if j == n else -8), h[i][j - 1] + (0 if i == m else -8))
    return int(h[m][n])


def test_banded_aligner_matches_naive_with_reused_buffers():
    from microtrial.denoise._merge import _codes, _nw_ends_free_buf

    rng = np.random.default_rng(4)
    score = np.full((41, 41), 12345, dtype=np.int64)  # dirty buffers: must not matter
    tb = np.full((41, 41), 7, dtype=np.uint8)
    oa, ob = np.empty(81, np.uint8), np.empty(81, np.uint8)
    for _ in range(300):
        a = "".join(rng.choice(list("ACGT"), int(rng.integers(1, 40))))
        b = list(a) if rng.random() < 0.5 else list(rng.choice(list("ACGT"), int(rng.integers(1, 40))))
        for _ in range(int(rng.integers(0, 4))):  # a few edits
            if b:
                b.pop(int(rng.integers(0, len(b))))
        b = "".join(b) or "A"
        band = int(rng.integers(0, 6))
        _, got = _nw_ends_free_buf(_codes(a), _codes(b), 5, -4, -8, band, oa, ob, score, tb)
        assert got == _naive_banded_score(a, b, band), (a, b, band)
        score[:] = int(rng.integers(-5, 5))  # scribble over the buffers between runs


def test_merges_equal_r_dada2_on_real_variants(test_data):
    # every pair R dada2 1.26 mergePairs accepted on the MiSeq SOP (README in tests/data/reads)
    import pandas as pd

    from microtrial.denoise._merge import _BASES, _codes, _merge_one

    df = pd.read_csv(test_data / "reads" / "dada2-1.26-sop-mergers.tsv.gz", sep="\t")
    assert len(df) > 200
    stats = np.zeros(5, dtype=np.int64)
    for row in df.itertuples():
        f, r = _codes(row.forward), _codes(reverse_complement(row.reverse))
        w = f.size + r.size + 1
        oa, ob, merged = np.empty(w, np.uint8), np.empty(w, np.uint8), np.empty(w, np.uint8)
        _merge_one(f, r, 12, 0, False, oa, ob, merged, stats)
        assert stats[3] == 1 and stats[0] == row.nmatch
        assert _BASES[merged[: stats[4]]].tobytes().decode() == row.merged


def test_exact_overlap_shortcut_equals_dp():
    from microtrial.denoise._merge import _codes, _exact_overlap, _nw_ends_free

    rng = np.random.default_rng(8)
    n_fast = 0
    for _ in range(300):
        amp = "".join(rng.choice(list("ACGT"), int(rng.integers(60, 200))))
        lf = int(rng.integers(20, len(amp)))
        lr = int(rng.integers(20, len(amp)))
        f, r = amp[:lf], amp[len(amp) - lr:]
        if rng.random() < 0.3:  # a mismatch somewhere
            i = int(rng.integers(0, len(r)))
            r = r[:i] + ("A" if r[i] != "A" else "C") + r[i + 1:]
        if rng.random() < 0.2:  # r longer than the amplicon on the left: overhang
            r = "".join(rng.choice(list("ACGT"), 5)) + r
        a, b = _codes(f), _codes(r)
        w = a.size + b.size + 1
        fa, fb, da, db = (np.empty(w, np.uint8) for _ in range(4))
        k = _exact_overlap(a, b, fa, fb)
        kd, _ = _nw_ends_free(a, b, 1, -64, -64, -1, da, db)
        if k >= 0:
            n_fast += 1
            assert k == kd and (fa[:k] == da[:kd]).all() and (fb[:k] == db[:kd]).all()
    assert n_fast > 50


def _flip(seq: str, i: int) -> str:
    return seq[:i] + ("A" if seq[i] != "A" else "C") + seq[i + 1 :]


def _partner_case(x_reverse_reads_carry_x: bool, deletion: bool = False):
    """W abundant, X rare: X differs at amplicon 10 (forward only) and 50 (reverse only).

    Reads 40 + 40 over the 65-nt amplicon (overlap 25..39).  The reverse denoising has
    absorbed X's reverse unique into W's reverse variant (unique_to_asv [0, 0]), as happens
    when the rare variant's reverse reads are tested against all of W's.  Returns the merge
    arguments of one sample and the error matrix (substitutions 1e-3 at every quality).
    """
    w = AMPLICON
    x = _flip(AMPLICON, 10)
    x = x[:50] + x[51:] if deletion else _flip(x, 50)  # a deletion shifts X's reverse read
    w_r, x_r = reverse_complement(w[25:]), reverse_complement(x[-40:])
    r_unique_of_x = x_r if x_reverse_reads_carry_x else w_r
    fwd = (w[:40], x[:40])
    rev = (w_r, x_r) if x_reverse_reads_carry_x else (w_r,)
    pairs_f = np.array([0] * 20 + [1] * 3, dtype=np.int64)
    pairs_r = np.array([0] * 20 + [rev.index(r_unique_of_x)] * 3, dtype=np.int64)
    qual = lambda s: np.full(len(s), 38.0)  # noqa: E731
    df = Derep(fwd, np.bincount(pairs_f).astype(np.int64), tuple(qual(s) for s in fwd), pairs_f)
    dr = Derep(rev, np.bincount(pairs_r).astype(np.int64), tuple(qual(s) for s in rev), pairs_r)
    ddf = DadaResult(fwd, df.abundances.copy(), np.arange(2, dtype=np.int64))
    ddr = DadaResult((w_r,), np.array([23], dtype=np.int64), np.zeros(len(rev), dtype=np.int64))
    err = np.full((16, 41), 1e-3 / 3)
    err[[0, 5, 10, 15]] = 1 - 1e-3
    return (ddf, df, ddr, dr), err, w, x, x_r


def test_reverse_partner_gives_rare_variant_its_own_reverse_half():
    args, err, w, x, x_r = _partner_case(x_reverse_reads_carry_x=True)
    plain = merge_pairs(*args)
    chimeric = x[:50] + w[50] + x[51:]  # X's forward half with W's reverse half
    assert dict(zip(plain.sequences, plain.abundances.tolist())) == {w: 20, chimeric: 3}
    ddf, _, ddr, _ = args
    partners = reverse_partners([(ddf, ddr, plain)])  # one sample: X_f only pairs with W_r here
    assert partners == {w[:40]: (reverse_complement(w[25:]),), x[:40]: (reverse_complement(w[25:]),)}
    assert merge_pairs(*args, err_r=err, partners_r=partners).sequences == plain.sequences
    partners = {x[:40]: (reverse_complement(w[25:]), x_r)}  # X_f met X_r in another sample
    fixed = merge_pairs(*args, err_r=err, partners_r=partners)
    assert dict(zip(fixed.sequences, fixed.abundances.tolist())) == {w: 20, x: 3}


def test_reverse_partner_with_an_indel_in_the_reverse_read():
    args, err, w, x, x_r = _partner_case(x_reverse_reads_carry_x=True, deletion=True)
    plain = merge_pairs(*args)
    assert dict(zip(plain.sequences, plain.abundances.tolist())) == {w: 20, x[:40] + w[40:]: 3}
    fixed = merge_pairs(*args, err_r=err, partners_r={x[:40]: (reverse_complement(w[25:]), x_r)})
    assert dict(zip(fixed.sequences, fixed.abundances.tolist())) == {w: 20, x: 3}
    assert len(x) == 64


def test_reverse_partner_keeps_reads_that_carry_the_abundant_base():
    # the same class, but its reverse reads really carry W's base at 50: W_r explains them
    args, err, w, x, x_r = _partner_case(x_reverse_reads_carry_x=False)
    partners = {x[:40]: (reverse_complement(w[25:]), x_r)}
    fixed = merge_pairs(*args, err_r=err, partners_r=partners)
    assert dict(zip(fixed.sequences, fixed.abundances.tolist())) == {w: 20, x[:50] + w[50] + x[51:]: 3}


def test_reverse_partners_over_samples():
    args, err, w, x, x_r = _partner_case(x_reverse_reads_carry_x=True)
    ddf, df, ddr, dr = args
    own = DadaResult(dr.sequences, dr.abundances.copy(), np.arange(2, dtype=np.int64))
    a = merge_pairs(ddf, df, ddr, dr)  # X_f + W_r
    b = merge_pairs(ddf, df, own, dr)  # X_f + X_r
    got = reverse_partners([(ddf, ddr, a), (ddf, own, b)])
    assert got == {x[:40]: tuple(sorted([reverse_complement(w[25:]), x_r])), w[:40]: (reverse_complement(w[25:]),)}


def test_reverse_partner_rescues_a_pair_that_does_not_merge():
    # X differs from W by a deletion inside the overlap's reach: X_f + W_r cannot merge (the
    # shifted overlap mismatches), so without the check X's pairs are lost
    w = AMPLICON
    x = _flip(w, 10)
    x = x[:30] + x[31:]  # deletion at 30, inside the 25..39 overlap of W's reads
    w_r, x_r = reverse_complement(w[25:]), reverse_complement(x[-40:])
    fwd, rev = (w[:40], x[:40]), (w_r, x_r)
    pf = np.array([0] * 20 + [1] * 3, dtype=np.int64)
    pr = np.array([0] * 20 + [1] * 3, dtype=np.int64)
    q = tuple(np.full(40, 38.0) for _ in range(2))
    df = Derep(fwd, np.bincount(pf).astype(np.int64), q, pf)
    dr = Derep(rev, np.bincount(pr).astype(np.int64), q, pr)
    ddf = DadaResult(fwd, df.abundances.copy(), np.arange(2, dtype=np.int64))
    ddr = DadaResult((w_r,), np.array([23], dtype=np.int64), np.zeros(2, dtype=np.int64))  # X_r absorbed
    err = np.full((16, 41), 1e-3 / 3)
    err[[0, 5, 10, 15]] = 1 - 1e-3
    plain = merge_pairs(ddf, df, ddr, dr)
    assert dict(zip(plain.sequences, plain.abundances.tolist())) == {w: 20}
    fixed = merge_pairs(ddf, df, ddr, dr, err_r=err, partners_r={x[:40]: (x_r,)})
    assert dict(zip(fixed.sequences, fixed.abundances.tolist())) == {w: 20, x: 3}
