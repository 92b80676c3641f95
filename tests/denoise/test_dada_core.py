"""The DADA2 partitioning on small simulations whose truth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from _naive_denoise import derep, known_err, mutate, random_seq, simulate_reads
from microtrial.denoise import DadaResult, Derep, dada
from microtrial.denoise import _kernels as K


def _derep_of(items):
    """Derep from (sequence, abundance, quality) items, most abundant first."""
    items = sorted(items, key=lambda t: -t[1])
    return Derep(tuple(s for s, _, _ in items), np.array([a for _, a, _ in items], np.int64),
                 tuple(np.full(len(s), float(q)) for s, _, q in items),
                 np.zeros(0, np.int64))


def test_read_with_known_errors_is_corrected_to_its_parent():
    rng = np.random.default_rng(3)
    parent = random_seq(rng, 150)
    err1 = mutate(rng, parent, 1)
    err2 = mutate(rng, parent, 2)
    d = _derep_of([(parent, 2000, 35), (err1, 3, 35), (err2, 1, 35)])
    (res,) = dada([d], err=known_err())
    assert res.sequences == (parent,)
    assert res.abundances.tolist() == [2004]
    assert res.unique_to_asv.tolist() == [0, 0, 0]


def test_two_variants_one_substitution_apart_are_both_found():
    rng = np.random.default_rng(4)
    a = random_seq(rng, 150)
    b = mutate(rng, a, 1)
    d = _derep_of([(a, 2000, 35), (b, 800, 35)])
    (res,) = dada([d], err=known_err())
    assert res.sequences == (a, b)
    assert res.abundances.tolist() == [2000, 800]


def test_rare_error_explained_by_abundant_parent_but_not_a_true_rare_variant():
    # the expected count of a 1-substitution error of a 2000-read parent at Q35 is about
    # 2000 * 150 * 10^-3.5 * 0.4 / 150 ~ 0.25 for one specific substitution, so 30 reads of
    # it are far beyond chance (p << 1e-40), while 3 reads are not (p ~ 1e-3)
    rng = np.random.default_rng(5)
    a = random_seq(rng, 150)
    b = mutate(rng, a, 1)
    (res,) = dada([_derep_of([(a, 2000, 35), (b, 30, 35)])], err=known_err())
    assert len(res.sequences) == 2
    (res,) = dada([_derep_of([(a, 2000, 35), (b, 3, 35)])], err=known_err())
    assert len(res.sequences) == 1


def _simulated_samples(rng, n_samples=3):
    err = known_err()
    parents = [random_seq(rng, 150)]
    parents.append(mutate(rng, parents[0], 1))
    parents.append(mutate(rng, parents[0], 3))
    parents.append(mutate(rng, parents[2], 2))
    parents += [random_seq(rng, 150) for _ in range(2)]
    samples = []
    for _ in range(n_samples):
        counts = rng.integers(60, 900, len(parents))
        reads, truth = simulate_reads(rng, parents, counts, err)
        samples.append((derep(reads), truth))
    return parents, err, samples


def test_simulation_recall_and_precision():
    rng = np.random.default_rng(11)
    parents, err, samples = _simulated_samples(rng)
    results = dada([d for d, _ in samples], err=err)
    for (d, truth), res in zip(samples, results):
        assert set(res.sequences) == set(parents)  # recall 1, precision 1
        # reads are attributed to the parent they were simulated from (a read of one parent
        # whose error makes it identical to another parent cannot be told apart: allow 0.5%)
        asv_of_read = res.unique_to_asv[d.read_to_unique]
        seq_of_read = np.array(res.sequences)[asv_of_read]
        assert (asv_of_read >= 0).mean() > 0.99
        ok = asv_of_read >= 0
        assert (seq_of_read[ok] == np.array(parents)[truth[ok]]).mean() > 0.995


@pytest.mark.parametrize("pool", ["none", "pseudo", "all"])
def test_threads_give_identical_results(pool):
    rng = np.random.default_rng(12)
    _, err, samples = _simulated_samples(rng, n_samples=4)
    dereps = [d for d, _ in samples]
    one = dada(dereps, err=err, pool=pool, threads=1)
    two = dada(dereps, err=err, pool=pool, threads=2)
    for r1, r2 in zip(one, two):
        assert isinstance(r1, DadaResult)
        assert r1.sequences == r2.sequences
        assert np.array_equal(r1.abundances, r2.abundances)
        assert np.array_equal(r1.unique_to_asv, r2.unique_to_asv)


def test_pooling_finds_a_variant_too_rare_in_each_sample():
    # b is 2 substitutions from a; 4 reads of it per sample are not significant alone
    # (p ~ E^3/24 with E ~ 1e-3.. per sample) but 4 samples x 4 reads pooled are
    rng = np.random.default_rng(13)
    a = random_seq(rng, 150)
    b = mutate(rng, a, 2)
    d = [_derep_of([(a, 1500, 30), (b, 3, 30)]) for _ in range(4)]
    alone = dada(d, err=known_err(), pool="none")
    pooled = dada(d, err=known_err(), pool="all")
    assert all(r.sequences == (a,) for r in alone)
    assert all(r.sequences == (a, b) for r in pooled)
    assert all(r.abundances.tolist() == [1500, 3] for r in pooled)
    assert all(r.unique_to_asv.tolist() == [0, 1] for r in pooled)


def test_pseudo_pooling_uses_priors():
    rng = np.random.default_rng(14)
    a = random_seq(rng, 150)
    b = mutate(rng, a, 1)
    c = mutate(rng, a, 2)
    # b is abundant in samples 0 and 1 (becomes a prior), rare in sample 2
    d = [_derep_of([(a, 1500, 30), (b, 400, 30)]), _derep_of([(a, 1500, 30), (b, 300, 30)]),
         _derep_of([(a, 1500, 30), (b, 6, 30), (c, 1, 30)])]
    none = dada(d, err=known_err(), pool="none")
    pseudo = dada(d, err=known_err(), pool="pseudo")
    assert b not in none[2].sequences
    assert b in pseudo[2].sequences and c not in pseudo[2].sequences


def test_pseudo_pooling_buds_abundant_priors_before_rare_neighbours():
    # y (far from x: screened out, p = 0) is a prior; z is 1 substitution from y with
    # 2 reads at low quality: an error of y.  DADA2 tests the most significant unique
    # overall against OMEGA_A first, so y (more abundant at the same p = 0) becomes a
    # centre first and explains z.  Trying non-priors first made z an ASV (issue 3).
    rng = np.random.default_rng(16)
    x = random_seq(rng, 150)
    y = random_seq(rng, 150)
    z = mutate(rng, y, 1)
    d = [_derep_of([(x, 1500, 30), (y, 300, 30), (z, 2, 12)]) for _ in range(2)]
    none = dada(d, err=known_err(), pool="none")
    pseudo = dada(d, err=known_err(), pool="pseudo")
    for r in none + pseudo:
        assert r.sequences == (x, y)
        assert r.abundances.tolist() == [1500, 302]


def test_prior_pvalue_is_not_conditioned_on_presence():
    # DADA2's calc_pA(prior=TRUE): P(X >= a), not P(X >= a | X >= 1)
    from scipy.stats import poisson

    pv = np.ones(2)
    K.update_pvals(pv, np.zeros(2, np.int64), np.array([1.0, 1e-3]), np.array([1000.0]),
                   np.array([1000, 3], np.int64), np.array([True, False]), np.ones(1, np.bool_),
                   False, np.array([False, True]))
    assert pv[1] == pytest.approx(poisson.sf(2, 1.0), rel=1e-9)


def test_bad_pool_and_err_rejected():
    d = _derep_of([("ACGTACGTACGTAAAA", 5, 30)])
    with pytest.raises(ValueError, match="pool"):
        dada([d], err=known_err(), pool="some")
    with pytest.raises(ValueError, match="shape"):
        dada([d], err=np.ones((16, 40)))


def test_empty_sample():
    empty = Derep((), np.zeros(0, np.int64), (), np.zeros(0, np.int64))
    (res,) = dada([empty], err=known_err())
    assert res.sequences == () and res.unique_to_asv.shape == (0,)


def test_progress_callback_reports_every_sample():
    rng = np.random.default_rng(15)
    _, err, samples = _simulated_samples(rng, n_samples=3)
    calls = []
    dada([d for d, _ in samples], err=err, threads=2,
         progress=lambda desc, done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
