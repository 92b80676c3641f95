"""Dereplication: uniques by abundance, mean qualities, read -> unique map (by hand)."""

from __future__ import annotations

import numpy as np

from microtrial.reads._derep import dereplicate
from microtrial.reads._fastq import Reads


def _reads(seqs, quals):
    w = max(len(s) for s in seqs)
    s = np.zeros((len(seqs), w), np.uint8)
    q = np.zeros_like(s)
    for i, (x, y) in enumerate(zip(seqs, quals)):
        s[i, : len(x)] = np.frombuffer(x.encode(), np.uint8)
        q[i, : len(x)] = y
    return Reads(s, q, np.array([len(x) for x in seqs], dtype=np.int64))


def test_by_hand():
    seqs = ["ACGT", "TTTT", "ACGT", "ACG", "TTTT", "ACGT", "GGGG"]
    quals = [[30, 30, 30, 30], [10, 20, 30, 40], [36, 30, 30, 30], [20, 20, 20],
             [20, 20, 10, 0], [30, 30, 30, 33], [5, 5, 5, 5]]
    d = dereplicate(_reads(seqs, quals))
    # ACGT x3, TTTT x2, then the singletons alphabetically: ACG, GGGG
    assert d.sequences == ("ACGT", "TTTT", "ACG", "GGGG")
    assert d.abundances.tolist() == [3, 2, 1, 1]
    assert d.read_to_unique.tolist() == [0, 1, 0, 2, 1, 0, 3]
    assert np.allclose(d.mean_quality[0], [32, 30, 30, 31])
    assert np.allclose(d.mean_quality[1], [15, 20, 20, 20])
    assert d.mean_quality[2].shape == (3,)
    assert d.n_reads == 7


def test_ties_alphabetical_as_r_derepfastq():
    # R's derepFastq lists uniques in sequence order before its stable sort by abundance
    d = dereplicate(_reads(["TTTT", "GGGG", "AAAA", "GGGG", "CCCC", "TTTT"], [[30] * 4] * 6))
    assert d.sequences == ("GGGG", "TTTT", "AAAA", "CCCC")
    assert d.read_to_unique.tolist() == [1, 0, 2, 0, 3, 1]


def test_ties_by_chunk_then_alphabetical(monkeypatch):
    # R reads 1e6 reads at a time and appends each chunk's new uniques (sorted) after the
    # earlier ones; with chunks of 2 reads: [TTTT GGGG] [AAAA CCCC]
    import microtrial.reads._derep as derep_mod

    monkeypatch.setattr(derep_mod, "CHUNK", 2)
    d = dereplicate(_reads(["TTTT", "GGGG", "CCCC", "AAAA"], [[30] * 4] * 4))
    assert d.sequences == ("GGGG", "TTTT", "AAAA", "CCCC")


def test_prefix_is_a_different_unique():
    d = dereplicate(_reads(["ACGTA", "ACGT", "ACGT"], [[30] * 5, [30] * 4, [30] * 4]))
    assert d.sequences == ("ACGT", "ACGTA")


def test_empty():
    r = Reads(np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8), np.zeros(0, np.int64))
    d = dereplicate(r)
    assert d.sequences == () and d.n_reads == 0
