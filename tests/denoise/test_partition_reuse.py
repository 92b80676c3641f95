"""The last partition of a sample is reused only when it is the partition asked for."""

from __future__ import annotations

import dataclasses

import numpy as np

from _naive_denoise import derep, known_err, mutate, random_seq, simulate_reads
from microtrial.denoise import _dada as D
from microtrial.denoise import dada, learn_errors


def _samples(seed):
    rng = np.random.default_rng(seed)
    truth = known_err()
    out = []
    for _ in range(3):
        parents = [random_seq(rng, 120) for _ in range(3)]
        parents.append(mutate(rng, parents[0], 2))
        reads, _ = simulate_reads(rng, parents, [600, 400, 300, 40], truth)
        out.append(derep(reads))
    return out


def _fresh(d):
    """An equal Derep that shares no cached alignments or partitions."""
    return dataclasses.replace(d, sequences=tuple(d.sequences))


def _same(a, b):
    assert a.sequences == b.sequences
    assert np.array_equal(a.abundances, b.abundances)
    assert np.array_equal(a.unique_to_asv, b.unique_to_asv)


def test_dada_after_learn_errors_reuses_its_last_partition_and_equals_a_fresh_run(monkeypatch):
    samples = _samples(31)
    err = learn_errors(samples)
    calls = []
    real = D._partition
    monkeypatch.setattr(D, "_partition", lambda *a, **k: calls.append(1) or real(*a, **k))
    reused = dada(samples, err=err)
    assert not calls  # learn_errors' last round made these very partitions
    fresh = dada([_fresh(d) for d in samples], err=err)
    assert len(calls) == len(samples)
    for a, b in zip(reused, fresh):
        _same(a, b)
    # omega_c only decides which members are corrected: the partition is reused, and the
    # result equals a fresh run with the same omega_c
    calls.clear()
    strict = dada(samples, err=err, omega_c=0.5)
    assert not calls
    for a, b in zip(strict, dada([_fresh(d) for d in samples], err=err, omega_c=0.5)):
        _same(a, b)


def test_another_error_matrix_or_setting_partitions_again(monkeypatch):
    samples = _samples(32)
    err = learn_errors(samples)
    calls = []
    real = D._partition
    monkeypatch.setattr(D, "_partition", lambda *a, **k: calls.append(1) or real(*a, **k))
    other = err.copy()
    other[1, 30] *= 1.5
    for a, b in zip(dada(samples, err=other), dada([_fresh(d) for d in samples], err=other)):
        _same(a, b)
    assert len(calls) == 2 * len(samples)
    calls.clear()
    dada(samples, err=other, omega_a=1e-10)
    assert len(calls) == len(samples)
