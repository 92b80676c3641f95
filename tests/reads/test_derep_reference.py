"""The compiled dereplication against the numpy version it replaced (kept here as the reference).

``_reference_dereplicate`` is the implementation of ``microtrial.reads._derep.dereplicate`` as it
was before the compiled kernel (``np.unique`` over padded ``void`` rows, ``np.add.reduceat`` of
float64 qualities), written as it was; its own order and tie rules are checked by hand in
``test_derep.py``.  The new version must give the same uniques in the same order, the same
``read_to_unique`` and the same mean qualities to the last bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import microtrial.reads._derep as derep_mod
from microtrial.derep import Derep
from microtrial.reads import FilterParams, filter_pair, find_samples, read_pair
from microtrial.reads._derep import dereplicate
from microtrial.reads._fastq import Reads


def _reference_dereplicate(reads: Reads, chunk: int) -> Derep:
    n = reads.n_reads
    if n == 0:
        return Derep((), np.zeros(0, dtype=np.int64), (), np.zeros(0, dtype=np.int64))
    seq = np.ascontiguousarray(reads.seq)
    width = seq.shape[1]
    # append the length so that rows differing only by padding stay distinct
    key = np.empty((n, width + 2), dtype=np.uint8)
    key[:, :width] = seq
    key[:, width] = reads.lengths & 0xFF
    key[:, width + 1] = (reads.lengths >> 8) & 0xFF
    rows = key.view(np.dtype((np.void, width + 2))).ravel()
    _, first, inverse, counts = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    # order uniques: abundance descending, then chunk of first appearance, then sequence
    # (np.unique sorts the rows bytewise: zero padding puts a prefix first, as strings do)
    order = np.lexsort((np.arange(counts.size), first // chunk, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    read_to_unique = rank[inverse.ravel()].astype(np.int64)
    abundances = counts[order].astype(np.int64)
    # mean quality per unique and position
    by_unique = np.argsort(read_to_unique, kind="stable")
    starts = np.concatenate(([0], np.cumsum(abundances)[:-1]))
    qsum = np.add.reduceat(reads.qual[by_unique].astype(np.float64), starts, axis=0)
    qmean = qsum / abundances[:, None]
    rep = by_unique[starts]  # one read of each unique
    lengths = reads.lengths[rep]
    sequences = tuple(seq[r, : lengths[i]].tobytes().decode("ascii") for i, r in enumerate(rep))
    mean_quality = tuple(np.ascontiguousarray(qmean[i, : lengths[i]]) for i in range(order.size))
    return Derep(sequences, abundances, mean_quality, read_to_unique)


def _assert_identical(got: Derep, want: Derep) -> None:
    assert got.sequences == want.sequences
    assert got.abundances.dtype == want.abundances.dtype == np.int64
    assert np.array_equal(got.abundances, want.abundances)
    assert got.read_to_unique.dtype == want.read_to_unique.dtype == np.int64
    assert np.array_equal(got.read_to_unique, want.read_to_unique)
    assert len(got.mean_quality) == len(want.mean_quality)
    for a, b in zip(got.mean_quality, want.mean_quality):
        assert a.dtype == b.dtype == np.float64
        assert a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit


def _random_reads(rng: np.random.Generator, n: int, n_templates: int, min_len: int, max_len: int,
                  error: float) -> Reads:
    """Reads drawn from a few templates (many ties in abundance), some with substitutions,
    some cut shorter (prefixes of other reads), random qualities; zero-padded."""
    templates = rng.choice(np.frombuffer(b"ACGT", np.uint8), size=(n_templates, max_len))
    pick = rng.integers(0, n_templates, size=n)
    seq = templates[pick].copy()
    errs = rng.random(seq.shape) < error
    seq[errs] = rng.choice(np.frombuffer(b"ACGT", np.uint8), size=int(errs.sum()))
    lengths = rng.integers(min_len, max_len + 1, size=n).astype(np.int64)
    qual = rng.integers(0, 42, size=seq.shape).astype(np.uint8)
    pad = np.arange(max_len)[None, :] >= lengths[:, None]
    seq[pad] = 0
    qual[pad] = 0
    return Reads(seq, qual, lengths)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("chunk", [1_000_000, 7, 100])
def test_random_reads_equal_reference(seed, chunk, monkeypatch):
    monkeypatch.setattr(derep_mod, "CHUNK", chunk)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 600))
    max_len = int(rng.integers(1, 40))
    min_len = int(rng.integers(1, max_len + 1))
    reads = _random_reads(rng, n, n_templates=int(rng.integers(1, 12)), min_len=min_len,
                          max_len=max_len, error=float(rng.choice([0.0, 0.01, 0.05])))
    want = _reference_dereplicate(reads, chunk)
    got = dereplicate(reads)
    _assert_identical(got, want)
    # the cases the tie rules are about did occur
    assert got.n_reads == n


def test_ties_prefixes_and_chunks_occur(monkeypatch):
    # one fixed case that certainly holds abundance ties across chunks and prefixes
    monkeypatch.setattr(derep_mod, "CHUNK", 5)
    rng = np.random.default_rng(42)
    reads = _random_reads(rng, 300, n_templates=4, min_len=3, max_len=6, error=0.02)
    want = _reference_dereplicate(reads, 5)
    got = dereplicate(reads)
    _assert_identical(got, want)
    ab = got.abundances
    assert (ab[1:] == ab[:-1]).sum() > 10  # many ties
    seqs = got.sequences
    assert any(a != b and b.startswith(a) for a in seqs for b in seqs)  # a prefix of another unique
    first = [int(np.nonzero(got.read_to_unique == k)[0][0]) // 5 for k in range(len(seqs))]
    tied_chunks = {(int(ab[k]), first[k]) for k in range(len(seqs))}
    assert len({c for a, c in tied_chunks if a == 1}) > 1  # singletons from several chunks


def test_key_length_bytes():
    # the key is the padded row plus the length's low and second byte, compared as unsigned
    # bytes: rows left unpadded (equal rows, lengths 5, 200, 261 = 0x105 and 456 = 0x1C8)
    # are told apart and ordered by the length bytes, 200 (>= 128) after 5
    rng = np.random.default_rng(3)
    n, w = 400, 300
    seq = np.full((n, w), ord("A"), dtype=np.uint8)
    seq[:, 250:] = rng.choice(np.frombuffer(b"AC", np.uint8), size=(n, 1))  # two row kinds
    lengths = rng.choice(np.array([5, 200, 261, 456], dtype=np.int64), size=n)
    reads = Reads(seq, rng.integers(0, 41, size=(n, w)).astype(np.uint8), lengths)
    want = _reference_dereplicate(reads, derep_mod.CHUNK)
    got = dereplicate(reads)
    assert len(got.sequences) == 8
    _assert_identical(got, want)
    # the same 8 keys once each (all tied): only the key order decides
    kinds = [(k, ln) for k in b"AC" for ln in (456, 261, 200, 5)]
    seq8 = np.full((8, w), ord("A"), dtype=np.uint8)
    for i, (k, _) in enumerate(kinds):
        seq8[i, 250:] = k
    reads8 = Reads(seq8, np.full((8, w), 30, np.uint8), np.array([ln for _, ln in kinds], np.int64))
    got8 = dereplicate(reads8)
    _assert_identical(got8, _reference_dereplicate(reads8, derep_mod.CHUNK))
    # rows equal for reads 0-3: low length byte 5 (261), 5 (5), 200 (456), 200 (200);
    # then the second byte: 5 < 261 and 200 < 456
    assert got8.read_to_unique[:4].tolist() == [3, 1, 2, 0]


@pytest.mark.requires_shared
def test_miseq_sop_reads_equal_reference(shared_data):
    samples = find_samples(shared_data / "miseq-sop")[:3]
    for s in samples:
        f, r = read_pair(s)
        ff, fr = filter_pair(f, r, FilterParams(trunc_len=240, max_ee=2.0),
                             FilterParams(trunc_len=160, max_ee=2.0))
        for reads in (ff, fr, f):  # filtered (equal lengths), and raw (varied lengths)
            want = _reference_dereplicate(reads, derep_mod.CHUNK)
            got = dereplicate(reads)
            assert len(got.sequences) > 100
            _assert_identical(got, want)
