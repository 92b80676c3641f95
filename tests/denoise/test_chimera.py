"""Consensus bimera removal on hand-made parents and chimeras (truth by construction)."""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.denoise._chimera import is_bimera, is_bimera_denovo_table, remove_bimera_denovo


def _parents():
    rng = np.random.default_rng(5)
    a = "".join(rng.choice(list("ACGT"), 200))
    b = list(a)
    for i in rng.choice(200, 25, replace=False):
        b[i] = "ACGT"[("ACGT".index(b[i]) + 1 + int(rng.integers(0, 3))) % 4]
    return a, "".join(b)


def test_exact_bimera_flagged_parents_kept():
    a, b = _parents()
    chim = a[:100] + b[100:]
    assert is_bimera(chim, [a, b])
    assert not is_bimera(a, [b, chim])
    assert not is_bimera(chim, [a])  # one parent cannot make a bimera
    counts = np.array([[300, 200, 20], [150, 120, 9], [80, 90, 0]])
    flags = is_bimera_denovo_table(counts, [a, b, chim])
    assert flags.tolist() == [False, False, True]
    kept, seqs = remove_bimera_denovo(counts, [a, b, chim])
    assert seqs == [a, b] and kept.shape == (3, 2)


def test_one_off_bimera_not_flagged_by_default():
    a, b = _parents()
    chim = list(a[:100] + b[100:])
    chim[150] = "A" if chim[150] != "A" else "C"  # one mismatch away from an exact bimera
    chim = "".join(chim)
    assert not is_bimera(chim, [a, b])
    assert is_bimera(chim, [a, b], allow_one_off=True)


def test_parents_must_be_abundant_enough():
    a, b = _parents()
    chim = a[:100] + b[100:]
    # 1.5-fold rule: a parent with 15 reads (not > 1.5 x 10) is no parent
    assert not is_bimera_denovo_table(np.array([[15, 100, 10]]), [a, b, chim])[2]
    assert is_bimera_denovo_table(np.array([[16, 100, 10]]), [a, b, chim])[2]
    # minParentAbundance 2: parents with one read are ignored
    assert not is_bimera_denovo_table(np.array([[1, 1, 0], [0, 0, 0]]) + np.array([[0, 0, 0], [0, 0, 0]]), [a, b, chim])[2]


def test_consensus_vote():
    a, b = _parents()
    chim = a[:100] + b[100:]
    # flagged in 2 samples, not in 1 (parents absent there): 2 >= (3 - 1) * 0.9 -> bimera
    counts = np.array([[100, 100, 5], [100, 100, 5], [0, 0, 50]])
    assert is_bimera_denovo_table(counts, [a, b, chim])[2]
    # flagged in 1 of 3: 1 < (3 - 1) * 0.9 -> kept
    counts = np.array([[100, 100, 5], [0, 0, 5], [0, 0, 50]])
    assert not is_bimera_denovo_table(counts, [a, b, chim])[2]


def test_shifted_parent_still_detected():
    a, b = _parents()
    chim = a[:100] + b[100:]
    shifted_b = "GATTACA" + b  # same right part, 7 extra bases in front (within maxShift 16)
    assert is_bimera(chim, [a, shifted_b])


def test_bounds_never_below_exact():
    from microtrial.denoise._chimera import _pack, _pair_bounds, _pair_stats

    rng = np.random.default_rng(9)
    base = "".join(rng.choice(list("ACGT"), 60))
    seqs = [base]
    for _ in range(40):  # relatives: substitutions, indels, shifts
        s = list(base)
        for _ in range(int(rng.integers(0, 6))):
            i = int(rng.integers(0, len(s)))
            op = rng.integers(0, 3)
            if op == 0:  # N included: the alignment counts N against N as equal
                s[i] = str(rng.choice(list("ACGTN")))
            elif op == 1:
                s.insert(i, str(rng.choice(list("ACGT"))))
            elif len(s) > 10:
                s.pop(i)
        cut = int(rng.integers(0, 5))
        seqs.append("".join(s)[cut:] if rng.random() < 0.5 else "".join(s))
    codes, offsets = _pack(seqs)
    q = np.repeat(np.arange(len(seqs)), len(seqs))
    p = np.tile(np.arange(len(seqs)), len(seqs))
    stats = np.zeros((q.size, 5), dtype=np.int64)
    bounds = np.zeros((q.size, 4), dtype=np.int64)
    _pair_stats(codes, offsets, q, p, 16, stats)
    _pair_bounds(codes, offsets, q, p, 16, bounds)
    # exact left/right, then the one-off versions (one mismatch or 1-base gap allowed)
    for col in range(4):
        assert (bounds[:, col] >= stats[:, col]).all(), col
    # and tight enough to prune: for unrelated random sequences neither one-off bound
    # comes near the length (a run of 4-5 chance matches, one error, a few more)
    other = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(20)]
    codes, offsets = _pack([base, *other])
    p = np.arange(1, 21)
    q = np.zeros_like(p)
    loose = np.zeros((20, 4), dtype=np.int64)
    _pair_bounds(codes, offsets, q, p, 16, loose)
    assert loose[:, 2:].max() < 30


def test_pruning_never_changes_one_off_flags(test_data):
    # the alignment-free bounds only skip alignments that cannot make a bimera: flags with
    # them equal flags from aligning every candidate parent (test_chimera_bnb's reference)
    import pandas as pd

    from .test_chimera_bnb import _reference_flags

    st = pd.read_csv(test_data / "reads" / "dada2-1.26-sop-prechimera.tsv.gz", sep="\t", index_col=0)
    st.pop("bimera")
    counts, seqs = st.to_numpy().T, list(st.index)
    # add one-off bimeras: the left half of the most abundant sequence joined to the right
    # half of the second, one base changed, with a few reads in every sample
    order = np.argsort(-counts.sum(axis=0))
    a, b = seqs[order[0]], seqs[order[1]]
    extra = []
    for cut, pos in [(120, 30), (150, 220), (100, 180)]:
        c = list(a[:cut] + b[cut:])
        c[pos] = "A" if c[pos] != "A" else "C"
        extra.append("".join(c))
    seqs = seqs + extra
    counts = np.hstack([counts, np.full((counts.shape[0], len(extra)), 3)])
    exact = is_bimera_denovo_table(counts, seqs)
    pruned = is_bimera_denovo_table(counts, seqs, allow_one_off=True)
    assert not exact[-3:].any() and pruned[-3:].all()

    full = _reference_flags(counts, seqs, allow_one_off=True)
    assert (pruned == full).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_flags_equal_r_dada2_on_real_table(test_data, threads):
    # R dada2 1.26 isBimeraDenovoTable on the 13-sample MiSeq SOP pre-chimera table
    # (tests/data/reads/README.md has the exact R commands); the pairs aligned on 2 threads
    import pandas as pd

    st = pd.read_csv(test_data / "reads" / "dada2-1.26-sop-prechimera.tsv.gz", sep="\t", index_col=0)
    r_flags = st.pop("bimera").astype(str).str.upper().eq("TRUE").to_numpy()
    ours = is_bimera_denovo_table(st.to_numpy().T, list(st.index), threads=threads)
    assert r_flags.sum() == 33
    assert (ours == r_flags).all()
