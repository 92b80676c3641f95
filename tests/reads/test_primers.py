"""Primer removal through cutadapt: anchored, IUPAC, mixed orientation, untrimmed pairs."""

from __future__ import annotations

import numpy as np

from microtrial.reads._fastq import Reads
from microtrial.reads._primers import remove_primers
from microtrial.seqs import PRIMERS

PF, PR = PRIMERS["V4"]  # GTGYCAGCMGCCGCGGTAA / GGACTACNVGGGTWTCTAAT


def _reads(seqs: list[str], q0: int = 30) -> Reads:
    w = max(len(s) for s in seqs)
    s = np.zeros((len(seqs), w), np.uint8)
    q = np.zeros_like(s)
    for i, x in enumerate(seqs):
        s[i, : len(x)] = np.frombuffer(x.encode(), np.uint8)
        q[i, : len(x)] = q0 + i
    return Reads(s, q, np.array([len(x) for x in seqs], dtype=np.int64))


def test_anchored_iupac_swap_and_discard():
    fwd = _reads([
        "GTGCCAGCAGCCGCGGTAATACGGAG",   # forward primer (Y=C, M=A) then the insert
        "GGACTACAAGGGTATCTAATCCTGTT",   # reverse primer on R1: the pair is swapped
        "ACGTACGTACGTACGTACGTACGTAC",   # no primer: discarded
        "TTGTGCCAGCAGCCGCGGTAATACGG",   # primer not at the start (anchored): discarded
    ])
    rev = _reads([
        "GGACTACCAGGGTATCTAATCCTGTT",
        "GTGTCAGCCGCCGCGGTAATACGGAG",
        "GGACTACAAGGGTATCTAATCCTGTT",
        "GGACTACAAGGGTATCTAATCCTGTT",
    ], q0=20)
    f, r, stats = remove_primers(fwd, rev, primer_f=PF, primer_r=PR)
    assert f.sequences() == ["TACGGAG", "TACGGAG"]
    assert r.sequences() == ["CCTGTT", "CCTGTT"]
    assert (stats.n_input, stats.n_trimmed, stats.n_swapped, stats.n_discarded) == (4, 2, 1, 2)
    # qualities travel with their bases: the swapped pair's forward read came from R2
    assert f.qual[1, 0] == 21 and r.qual[1, 0] == 31
    kept_f, _, st2 = remove_primers(fwd, rev, primer_f=PF, primer_r=PR, discard_untrimmed=False)
    assert kept_f.n_reads == 4 and st2.n_discarded == 0


def test_single_end():
    f, r, stats = remove_primers(_reads(["GTGCCAGCAGCCGCGGTAATACG", "ACGTACGTACGTACGTACGTACGT"]),
                                 None, primer_f=PF)
    assert r is None and f.sequences() == ["TACG"] and stats.n_discarded == 1
