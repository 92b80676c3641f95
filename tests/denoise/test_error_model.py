"""Error-model fit and self-consistent learning against known truth."""

from __future__ import annotations

import numpy as np
import pytest

from _naive_denoise import derep, known_err, mutate, random_seq, simulate_reads
from microtrial.denoise import fit_errors, learn_errors
from microtrial.denoise._error_model import loess


def test_loess_reproduces_a_quadratic_exactly():
    # a local quadratic fit of exactly quadratic data returns the data, whatever the weights
    x = np.arange(0, 41, dtype=float)
    y = 0.01 * x**2 - 0.3 * x + 2
    w = np.random.default_rng(0).uniform(0.5, 5, x.size)
    assert np.allclose(loess(x, y, w, x), y, atol=1e-9)
    assert np.isnan(loess(x[5:30], y[5:30], w[5:30], [2.0, 35.0])).all()


def test_fit_recovers_rates_from_expected_counts():
    truth = known_err()
    tot = np.full(41, 1e8)
    tot[:3] = 0  # qualities never observed take the nearest fitted value
    trans = np.zeros((16, 41))
    for x in range(4):
        trans[4 * x : 4 * x + 4] = truth[4 * x : 4 * x + 4] * tot
    fit = fit_errors(trans)
    assert fit.shape == (16, 41)
    assert np.allclose(fit.reshape(4, 4, 41).sum(axis=1), 1.0)
    ok = slice(3, 41)
    off = [r for r in range(16) if r % 5]
    # log10 rate is linear in q (truth) except where capped at 0.2: loess is exact there
    ratio = fit[off][:, ok] / truth[off][:, ok]
    assert np.all(np.abs(np.log10(ratio[:, 7:])) < 0.02)
    assert np.allclose(fit[off][:, 0], fit[off][:, 3])


def test_learn_errors_recovers_a_known_error_matrix():
    rng = np.random.default_rng(21)
    truth = known_err()
    samples = []
    for _ in range(3):
        parents = [random_seq(rng, 150) for _ in range(4)]
        parents += [mutate(rng, parents[0], 3), mutate(rng, parents[1], 5)]
        reads, _ = simulate_reads(rng, parents, rng.integers(800, 1500, len(parents)), truth,
                                  qlo=20, qhi=36, fixed_profile=True)
        samples.append(derep(reads))
    est = learn_errors(samples)
    assert est.shape == (16, 41)
    assert np.allclose(est.reshape(4, 4, 41).sum(axis=1), 1.0)
    off = [r for r in range(16) if r % 5]
    q = np.arange(20, 34)  # the top qualities see only a handful of errors
    ratio = est[off][:, q] / truth[off][:, q]
    # each rate within a factor 2 of the truth at every well-sampled quality, and the median
    # over transitions and qualities within 20%
    assert np.all(np.abs(np.log2(ratio)) < 1.0)
    assert abs(np.log(np.median(ratio))) < np.log(1.2)


def test_learn_errors_uses_whole_samples_up_to_nbases_and_is_thread_independent():
    rng = np.random.default_rng(22)
    truth = known_err()
    samples = []
    for _ in range(3):
        parents = [random_seq(rng, 120) for _ in range(3)]
        reads, _ = simulate_reads(rng, parents, [500, 400, 300], truth)
        samples.append(derep(reads))
    one = learn_errors(samples, threads=1)
    two = learn_errors(samples, threads=2)
    assert np.array_equal(one, two)
    first_only = learn_errors(samples, nbases=1)  # the first sample alone
    assert np.array_equal(first_only, learn_errors(samples[:1]))
    with pytest.raises(ValueError):
        learn_errors([])
