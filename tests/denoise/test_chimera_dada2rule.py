"""``is_bimera_denovo_table(dada2_rule=True)`` against R dada2 1.26 (goldens written by R:
``tests/data/chimera/README.md``), and its branch and bound against aligning every parent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.denoise._chimera import (
    _bounds_dada2,
    _lr_dada2,
    _nw_dada2,
    _pack,
    is_bimera_denovo_table,
)
from microtrial.denoise._merge import _BASES, _codes

from .test_chimera_bnb import _family, _table


def _r_flags(x):
    return x["bimera"].astype(str).str.upper().eq("TRUE").to_numpy()


def _family_tables(test_data):
    x = pd.read_csv(test_data / "chimera" / "families-r126.tsv.gz", sep="\t")
    for _, y in x.groupby("family", sort=False):
        cols = [c for c in ("s1", "s2", "s3") if (y[c] >= 0).all()]
        yield y[cols].to_numpy().T, list(y["sequence"]), _r_flags(y)


def test_aligner_equals_r_nwalign(test_data):
    x = pd.read_csv(test_data / "chimera" / "nwalign-r126.tsv.gz", sep="\t")
    d = np.empty((300, 300), np.int32)
    tb = np.empty((300, 300), np.uint8)
    for q, p, al in zip(x["q"], x["p"], x["alignment"]):
        a, b = _codes(q), _codes(p)
        oa = np.empty(a.size + b.size + 1, np.uint8)
        ob = np.empty_like(oa)
        k = _nw_dada2(a, b, 16, oa, ob, d, tb)
        assert (_BASES[oa[:k]].tobytes().decode(), _BASES[ob[:k]].tobytes().decode()) == tuple(al.split(" "))


def test_flags_equal_r_on_families(test_data):
    n_diff_default = 0
    for counts, seqs, r in _family_tables(test_data):
        assert (is_bimera_denovo_table(counts, seqs, dada2_rule=True) == r).all()
        assert (is_bimera_denovo_table(counts, seqs, dada2_rule=True, threads=2) == r).all()
        n_diff_default += int((is_bimera_denovo_table(counts, seqs) != r).sum())
    # the default rule differs from R on these families (what the option is for)
    assert n_diff_default > 100


def test_flags_equal_r_on_sop_table(test_data):
    st = pd.read_csv(test_data / "reads" / "dada2-1.26-sop-prechimera.tsv.gz", sep="\t", index_col=0)
    r = _r_flags(st)
    st.pop("bimera")
    assert (is_bimera_denovo_table(st.to_numpy().T, list(st.index), dada2_rule=True) == r).all()


def _reference(counts, seqs, fold=1.5, min_abund=2, frac=0.9, ignore=1):
    """R's procedure: every parent of every sample aligned, left'/right' maxima."""
    codes, offsets = _pack(list(seqs))
    w = max(len(s) for s in seqs) + 1
    d = np.empty((w, w), np.int32)
    tb = np.empty((w, w), np.uint8)
    oa = np.empty(2 * w, np.uint8)
    ob = np.empty(2 * w, np.uint8)
    out = np.zeros(2, np.int64)
    flags = np.zeros(len(seqs), bool)
    for j, q in enumerate(seqs):
        nsam = nflag = 0
        for i in range(counts.shape[0]):
            if counts[i, j] <= 0:
                continue
            nsam += 1
            ml = mr = 0
            for k, p in enumerate(seqs):
                if counts[i, k] > fold * counts[i, j] and counts[i, k] >= min_abund:
                    n_al = _nw_dada2(_codes(q), _codes(p), 16, oa, ob, d, tb)
                    _lr_dada2(oa, ob, n_al, 16, len(q), out)
                    ml, mr = max(ml, out[0]), max(mr, out[1])
            nflag += ml + mr >= len(q)
        flags[j] = nflag >= nsam or (nflag > 0 and nflag >= (nsam - ignore) * frac)
    return flags


@pytest.mark.parametrize("seed", range(4))
def test_branch_and_bound_equals_aligning_every_parent(seed):
    rng = np.random.default_rng(300 + seed)
    seqs = _family(rng, [40, 80, 150, 250][seed], n_parents=6, n_children=30)
    for n_samples, p_zero in [(1, 0.0), (4, 0.3)]:
        counts = _table(rng, len(seqs), n_samples, p_zero)
        counts[0, counts.sum(axis=0) == 0] = 1
        ref = _reference(counts, seqs)
        assert (is_bimera_denovo_table(counts, seqs, dada2_rule=True) == ref).all()


def test_bounds_never_below_exact():
    rng = np.random.default_rng(12)
    seqs = _family(rng, 120, n_parents=6, n_children=40)
    seqs += ["GATTACA" + seqs[0], seqs[1] + "TTAG", seqs[2][5:], seqs[3][:-6]]  # overhangs
    codes, offsets = _pack(seqs)
    w = max(map(len, seqs)) + 1
    d, tb = np.empty((w, w), np.int32), np.empty((w, w), np.uint8)
    oa, ob = np.empty(2 * w, np.uint8), np.empty(2 * w, np.uint8)
    exact, bnd = np.zeros(2, np.int64), np.zeros(2, np.int64)
    for qi, q in enumerate(seqs):
        for pi, p in enumerate(seqs):
            k = _nw_dada2(_codes(q), _codes(p), 16, oa, ob, d, tb)
            # left/right before the 0, 0 rule: pass a length nothing reaches
            _lr_dada2(oa, ob, k, 16, 10**6, exact)
            _bounds_dada2(codes, offsets[qi], len(q), offsets[pi], len(p), 16, 16, bnd)
            assert bnd[0] >= exact[0] and bnd[1] >= exact[1], (qi, pi)


def test_one_off_not_with_dada2_rule():
    with pytest.raises(ValueError):
        is_bimera_denovo_table(np.ones((1, 3), int), ["ACGT", "ACGA", "ACGC"], dada2_rule=True, allow_one_off=True)
