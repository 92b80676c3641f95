"""Each denoiser kernel against its slow reference in tests/_naive_denoise.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from _naive_denoise import kmer_dist, lambda_, nw_banded, poisson_pval
from microtrial.denoise import _dada as D
from microtrial.denoise import _kernels as K

BASES = "ACGT"


def _rand(rng, n):
    return "".join(rng.choice(list(BASES), n))


def _edit(rng, s, n_edits):
    s = list(s)
    for _ in range(n_edits):
        kind = rng.integers(3)
        p = int(rng.integers(len(s)))
        if kind == 0:
            s[p] = rng.choice([b for b in BASES if b != s[p]])
        elif kind == 1 and len(s) > 10:
            del s[p]
        else:
            s.insert(p, rng.choice(list(BASES)))
    return "".join(s)


def _codes(s):
    return D._LUT[np.frombuffer(s.encode(), np.uint8)]


def test_kmer_distance_matches_naive():
    rng = np.random.default_rng(1)
    seqs = [_rand(rng, int(rng.integers(6, 60))) for _ in range(10)]
    seqs += [_edit(rng, seqs[0], k) for k in range(1, 8)] + ["AAAAAAAAAA", "AAAAAAA"]
    prep = D.prepare(seqs, np.ones(len(seqs), np.int64), [np.zeros(len(s)) for s in seqs])
    for i, a in enumerate(seqs):
        for j, b in enumerate(seqs):
            got = K.kmer_dist_dense(prep.kdense[i], prep.kdense[j], len(a), len(b))
            assert got == pytest.approx(kmer_dist(a, b), abs=1e-12)


def test_kmer_distance_by_hand():
    # AAAAAAA has 3 copies of AAAAA; AAAAAC has 1 AAAAA and 1 AAAAC: min-sum 1 of 2
    seqs = ["AAAAAAA", "AAAAAC"]
    prep = D.prepare(seqs, np.ones(2, np.int64), [np.zeros(7), np.zeros(6)])
    assert K.kmer_dist_dense(prep.kdense[0], prep.kdense[1], 7, 6) == pytest.approx(0.5)


@pytest.mark.parametrize("band", [3, 8, 16])
def test_banded_alignment_matches_naive(band):
    rng = np.random.default_rng(band)
    tp = np.empty(200, np.int16)
    tf = np.empty(200, np.uint8)
    tt = np.empty(200, np.uint8)
    ti = np.empty(400, np.int16)
    for case in range(80):
        a = _rand(rng, int(rng.integers(4, 70)))
        b = _edit(rng, a, int(rng.integers(0, 8))) if case % 4 else _rand(rng, len(a))
        ref_score, ref_subs = nw_banded(a, b, band)
        tbuf = np.empty((max(len(a), len(b)) + 1, 2 * band + 1 + abs(len(a) - len(b))), np.uint8)
        score, ns, _ = K.align_banded(_codes(a), _codes(b), band, tbuf, tp, tf, tt, ti)
        assert score == ref_score, (a, b, band)
        assert [(int(tp[k]), BASES[tf[k]], BASES[tt[k]]) for k in range(ns)] == ref_subs


def test_alignment_by_hand():
    # one deletion in the middle: 5 * 19 matches - 8 = 87, no substitutions
    a = "ACGTACGTACGATTGCAGCT"
    b = "ACGTACGTAC" + "ATTGCAGCT"
    tbuf = np.empty((30, 36), np.uint8)
    tp, tf, tt = np.empty(30, np.int16), np.empty(30, np.uint8), np.empty(30, np.uint8)
    ti = np.empty(60, np.int16)
    score, ns, nins = K.align_banded(_codes(a), _codes(b), 16, tbuf, tp, tf, tt, ti)
    assert (score, ns, nins) == (87, 0, 0)  # a deletion leaves no read base unaligned
    # one inserted T at read position 10: 5 * 20 - 8 = 92, one read base against a gap
    score, ns, nins = K.align_banded(_codes(a), _codes(a[:10] + "T" + a[10:]), 16, tbuf, tp, tf,
                                     tt, ti)
    assert (score, ns, nins, int(ti[0])) == (92, 0, 1, 10)
    # one substitution (T -> G at read position 3): 5 * 19 - 4 = 91
    score, ns, nins = K.align_banded(_codes(a), _codes(a[:3] + "G" + a[4:]), 16, tbuf, tp, tf,
                                     tt, ti)
    assert (score, ns, nins, int(tp[0]), int(tf[0]), int(tt[0])) == (91, 1, 0, 3, 3, 2)


def test_compare_centre_and_lambda_match_naive():
    rng = np.random.default_rng(7)
    centre = _rand(rng, 80)
    seqs = [centre] + [_edit(rng, centre, k % 5) for k in range(30)] + [_rand(rng, 80)]
    quals = [rng.integers(10, 41, len(s)).astype(float) for s in seqs]
    prep = D.prepare(seqs, np.ones(len(seqs), np.int64), quals)
    cmp = D._compare(prep, 0, 16, 0.42)
    err_rows = rng.uniform(1e-4, 0.05, (16, 41))
    for x in range(4):
        err_rows[5 * x] = 1 - sum(err_rows[4 * x + y] for y in range(4) if y != x)
    logerr = np.log(err_rows)
    self_log = K.self_log_lambda(prep.codes, prep.quals, prep.offsets, logerr)
    lam = K.lambdas_from_subs(cmp.status, cmp.sub_off, cmp.pos, cmp.frm, cmp.to, prep.quals,
                              prep.offsets, logerr, self_log)
    err = {(BASES[x], BASES[y]): err_rows[4 * x + y] for x in range(4) for y in range(4)}
    for j, s in enumerate(seqs):
        kd = kmer_dist(centre, s)
        if kd > 0.42:
            assert cmp.status[j] == 0 and lam[j] == 0
            continue
        subs = [(int(p), BASES[f], BASES[t]) for p, f, t in zip(
            cmp.pos[cmp.sub_off[j]:cmp.sub_off[j + 1]], cmp.frm[cmp.sub_off[j]:cmp.sub_off[j + 1]],
            cmp.to[cmp.sub_off[j]:cmp.sub_off[j + 1]])]
        if len(s) != len(centre):  # gapped pairs always get the exact alignment
            assert subs == nw_banded(centre, s, 16)[1]
        q = [int(v) for v in prep.quals[prep.offsets[j]:prep.offsets[j + 1]]]
        assert lam[j] == pytest.approx(lambda_(s, q, subs, err), rel=1e-9)
    assert cmp.status[-1] == 0  # the unrelated random sequence fails the k-mer screen


def test_kmer_layers_give_the_dense_shared_count():
    # sum_w min(c_a(w), c_b(w)) from the bit layers equals the dense sum, for sequences with
    # repeated 5-mers (counts up to and above KLAYERS) and for ordinary ones
    rng = np.random.default_rng(11)
    seqs = [_rand(rng, 120) for _ in range(6)]
    seqs += ["ACGTA" * 20, "ACGTA" * 12 + _rand(rng, 40), "AAAAA" * 3 + _rand(rng, 50), "A" * 60]
    prep = D.prepare(seqs, np.ones(len(seqs), np.int64), [np.full(len(s), 30.0) for s in seqs])
    assert prep.kmax.max() > K.KLAYERS and (prep.kmax <= K.KLAYERS).sum() >= 6
    for i in range(len(seqs)):
        for j in range(len(seqs)):
            dense = int(np.minimum(prep.kdense[i].astype(int), prep.kdense[j]).sum())
            if prep.kmax[i] <= K.KLAYERS:
                assert K._layer_dot(prep.kbits[i], prep.kbits[j], int(prep.kmax[i])) == dense


@pytest.mark.parametrize(("a", "e"), [(2, 0.5), (3, 0.01), (5, 2.0), (10, 9.5), (40, 50.0),
                                      (2, 1e-8), (7, 1e-5), (100, 80.0)])
def test_poisson_pvalue_against_scipy(a, e):
    ref = stats.poisson.sf(a - 1, e) / stats.poisson.sf(0, e)
    assert K.poisson_pval(a, e, False) == pytest.approx(ref, rel=1e-9)
    assert poisson_pval(a, e) == pytest.approx(ref, rel=1e-6)


def test_poisson_pvalue_special_cases():
    # by hand: a = 2, E = 1: (1 - e^-1 - e^-1) / (1 - e^-1)
    ref = (1 - 2 * np.exp(-1)) / (1 - np.exp(-1))
    assert K.poisson_pval(2, 1.0, False) == pytest.approx(ref, rel=1e-12)
    assert K.poisson_pval(1, 1e-30, False) == 1.0  # singletons never significant
    assert K.poisson_pval(1, 0.5, True) == pytest.approx(1 - np.exp(-0.5))
    assert K.poisson_pval(3, 0.0, False) == 0.0
    # tiny E: P(X >= a | X >= 1) ~ E^(a-1) / a!
    assert K.poisson_pval(4, 1e-20, False) == pytest.approx(1e-60 / 24, rel=1e-6)
    assert K.poisson_pval(30, 1e-20, False) >= 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compare_centre_row_reuse_matches_naive(seed):
    # families of reads sharing long prefixes (one parent each, one or two edits per read,
    # equal and unequal lengths): compare_centre aligns them in sorted order and reuses the
    # score-matrix rows of their common prefixes; every read's substitutions and unaligned
    # read positions must equal the naive full-band alignment of that read alone
    rng = np.random.default_rng(seed)
    centre = _rand(rng, 90)
    parents = [_edit(rng, centre, int(rng.integers(3, 9))) for _ in range(3)]
    seqs = [centre]
    for par in parents:
        for _ in range(25):
            s = list(par)
            p = int(rng.integers(len(s)))
            s[p] = rng.choice([b for b in BASES if b != s[p]])
            v = "".join(s)
            seqs.append(_edit(rng, v, 1) if rng.random() < 0.3 else v)
    seqs = list(dict.fromkeys(seqs))
    prep = D.prepare(seqs, np.ones(len(seqs), np.int64), [np.full(len(s), 30.0) for s in seqs])
    lcp = prep.lcp[1:]
    assert (lcp > 40).sum() > 10  # the sorted order really shares long prefixes
    out = K.compare_centre(0, prep.codes, prep.offsets, prep.kdense, 16, 1.0, prep.max_len,
                           np.ones(len(seqs), np.bool_), False, prep.order, prep.lcp,
                           prep.kbits, prep.kmax)
    status, nsub, sub_off, pos, frm, to, ins_off, ins = out
    for j, s in enumerate(seqs):
        assert status[j] == 2
        got = [(int(pos[k]), BASES[frm[k]], BASES[to[k]]) for k in range(sub_off[j], sub_off[j + 1])]
        assert got == nw_banded(centre, s, 16)[1], (seed, j)
        assert nsub[j] == len(got)
        # unaligned read positions: a single gap of the centre against extra read bases
        if len(s) == len(centre) + 1 and not got:
            assert ins_off[j + 1] - ins_off[j] >= 1
    # the same pairs aligned one by one, each from an empty score matrix
    tp = np.empty(200, np.int16)
    tf = np.empty(200, np.uint8)
    tt = np.empty(200, np.uint8)
    ti = np.empty(400, np.int16)
    for j, s in enumerate(seqs):
        band = 16
        if len(s) == len(centre):
            h = sum(x != y for x, y in zip(s, centre))
            band = min(band, (9 * h) // 5)
        _, ns, ni = K.align_banded(_codes(centre), _codes(s), band, None, tp, tf, tt, ti)
        assert ns == nsub[j]
        assert sorted(int(v) for v in ti[:ni]) == sorted(int(v) for v in ins[ins_off[j]:ins_off[j + 1]])


@pytest.mark.parametrize("seed", [3, 4])
def test_compare_centre_batches_match_one_by_one(seed):
    # distant reads (many edits: the band stays at 16) of lengths shorter than, equal to and
    # longer than the centre, more than LANES of each length and groups that do not fill a
    # batch: compare_centre aligns them LANES at a time (fill_batch/trace_lane); each
    # read's substitutions, their count and its unaligned positions must equal
    # align_banded's on that pair alone and the naive full-band alignment's
    rng = np.random.default_rng(seed)
    centre = _rand(rng, 70)
    seqs = [centre]
    # (bases deleted (<0) or inserted inside, bases cut from the 5' end, added at the 3' end)
    for shift, cut, add, count in ((0, 0, 0, 2 * K.LANES + 3), (-3, 0, 0, K.LANES + 1),
                                   (2, 0, 0, 5), (0, 3, 0, K.LANES + 2), (0, 0, 4, 7),
                                   (0, 2, 2, 3)):
        for _ in range(count):
            v = list(centre)
            for p_ in rng.choice(len(v), int(rng.integers(5, 14)), replace=False):
                v[p_] = rng.choice([b for b in BASES if b != v[p_]])
            p_ = int(rng.integers(5, len(v) - 5))
            v = v[:p_] + v[p_ - shift:] if shift < 0 else v[:p_] + list(_rand(rng, shift)) + v[p_:]
            seqs.append("".join(v[cut:]) + _rand(rng, add))
    seqs = list(dict.fromkeys(seqs))
    prep = D.prepare(seqs, np.ones(len(seqs), np.int64), [np.full(len(s), 30.0) for s in seqs])
    lens = np.diff(prep.offsets)
    by_len = np.bincount(lens)
    assert (by_len > K.LANES).any() and (lens < len(centre)).any() and (lens > len(centre)).any()
    out = K.compare_centre(0, prep.codes, prep.offsets, prep.kdense, 16, 1.0, prep.max_len,
                           np.ones(len(seqs), np.bool_), True, prep.order, prep.lcp,
                           prep.kbits, prep.kmax)
    status, nsub, sub_off, pos, frm, to, ins_off, ins = out
    tp = np.empty(200, np.int16)
    tf = np.empty(200, np.uint8)
    tt = np.empty(200, np.uint8)
    ti = np.empty(400, np.int16)
    n_batched = 0
    for j, s in enumerate(seqs):
        if status[j] != 2:
            continue
        band = 16
        if len(s) == len(centre):
            band = min(band, (9 * sum(x != y for x, y in zip(s, centre))) // 5)
        n_batched += band >= K.BATCH_MIN_BAND
        _, ns, ni = K.align_banded(_codes(centre), _codes(s), band, None, tp, tf, tt, ti)
        got = [(int(pos[k]), int(frm[k]), int(to[k])) for k in range(sub_off[j], sub_off[j + 1])]
        assert got == [(int(tp[k]), int(tf[k]), int(tt[k])) for k in range(ns)], (seed, j)
        assert nsub[j] == ns
        assert sorted(int(v) for v in ti[:ni]) == sorted(int(v) for v in ins[ins_off[j]:ins_off[j + 1]])
        assert [(p_, BASES[f], BASES[t]) for p_, f, t in got] == nw_banded(centre, s, 16)[1]
    assert n_batched > 2 * K.LANES


def test_pick_bud_matches_lexsort_rule():
    # the bud rule written with numpy (eligible, p < bonf else priors with p < omega_p; order
    # smallest p, most reads, smallest cluster, first in its list) on random states with ties
    rng = np.random.default_rng(5)
    for case in range(200):
        n = int(rng.integers(1, 40))
        own_lam = rng.choice([0.0, 1e-3, 0.5], n)
        reads = rng.choice([1.0, 10.0, 100.0], 4)
        assign = rng.integers(0, 4, n)
        abund = rng.integers(1, 4, n).astype(np.int64)
        is_centre = rng.random(n) < 0.1
        own_nsub = rng.integers(0, 3, n).astype(np.int32)
        pvals = rng.choice([1e-50, 1e-45, 1e-5, 0.5], n)
        prior_ok = rng.random(n) < 0.3
        pos = rng.permutation(n).astype(np.int64)
        bonf, omega_p = 1e-42, 1e-4
        e = own_lam * reads[assign]
        eligible = (~is_centre) & (own_nsub >= 1) & ((e == 0) | (abund >= 1.0 * e))
        cand = np.flatnonzero(eligible & (pvals < bonf))
        if cand.size == 0:
            cand = np.flatnonzero(eligible & prior_ok & (pvals < omega_p))
        want = -1
        if cand.size:
            want = int(cand[np.lexsort((pos[cand], assign[cand], -abund[cand], pvals[cand]))[0]])
        got = K.pick_bud(own_lam, reads, assign, abund, is_centre, own_nsub, pvals, prior_ok, pos,
                         bonf, omega_p, 1, 1.0)
        assert got == want, case


def test_cluster_entries_match_lambdas_and_bound():
    rng = np.random.default_rng(8)
    centre = _rand(rng, 60)
    seqs = [centre] + [_edit(rng, centre, k % 6) for k in range(40)]
    seqs = list(dict.fromkeys(seqs))
    n = len(seqs)
    quals = [rng.integers(10, 41, len(s)).astype(float) for s in seqs]
    prep = D.prepare(seqs, np.ones(n, np.int64), quals)
    cmp = D._compare(prep, 0, 16, 1.0)
    logerr = np.log(np.full((16, 41), 0.01))
    for x in range(4):
        logerr[5 * x] = np.log(0.97)
    self_log = K.self_log_lambda(prep.codes, prep.quals, prep.offsets, logerr)
    want = K.lambdas_from_subs(cmp.status, cmp.sub_off, cmp.pos, cmp.frm, cmp.to, prep.quals,
                               prep.offsets, logerr, self_log)
    lb0 = rng.choice([0.0, 1e-30, 1e-3], n)
    lb = lb0.copy()
    l_idx, l_lam, l_nsub = np.empty(n + 5, np.int64), np.empty(n + 5), np.empty(n + 5, np.int32)
    lam = np.empty(n)
    end = K.cluster_entries(cmp.status, cmp.nsub, cmp.sub_off, cmp.pos, cmp.frm, cmp.to,
                            prep.quals, prep.offsets, logerr, self_log, 7.0, 50.0, lb, l_idx,
                            l_lam, l_nsub, 5, lam)
    assert np.array_equal(lam, want)
    assert np.array_equal(lb, np.maximum(lb0, want * 7.0))
    keep = np.flatnonzero((want > 0) & (want * 50.0 >= lb))
    assert 0 < keep.size < n or (lb0 == 0).all()
    assert end - 5 == keep.size
    assert np.array_equal(l_idx[5:end], keep)
    assert np.array_equal(l_lam[5:end], want[keep])
    assert np.array_equal(l_nsub[5:end], cmp.nsub[keep])
