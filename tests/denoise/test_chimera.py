"""Consensus bimera removal on hand-made parents and chimeras (truth by construction)."""

from __future__ import annotations

import numpy as np

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
