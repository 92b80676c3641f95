"""Binned quality scores (NovaSeq/NextSeq): the monotone error fit, chosen automatically.

Simulated reads carry errors drawn at their true per-base quality (``known_err``); the
binned copy reports the same reads with the quality replaced by its NovaSeq bin (2, 12, 23,
37), as the instrument does.  Truth is known by construction.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from _naive_denoise import derep, known_err, mutate, random_seq, simulate_reads
from microtrial.denoise import DenoiseSettings, dada, denoise_samples, learn_errors
from microtrial.denoise._samples import choose_error_model

BINS = np.array([2, 12, 23, 37])


def _bin(q: np.ndarray) -> np.ndarray:
    edges = np.array([2, 14, 30])  # <= 2 -> 2, 3..14 -> 12, 15..30 -> 23, >= 31 -> 37
    return BINS[np.searchsorted(edges, q, side="left")].astype(float)


@pytest.fixture(scope="module")
def study():
    """Three samples of 6 true variants (two of them 2-3 substitutions from another); every
    read has the same quality profile (position p: 39 - p % 15), so unique means are exact."""
    rng = np.random.default_rng(5)
    truth = known_err()
    full, binned, parents_all = [], [], []
    for _ in range(3):
        parents = [random_seq(rng, 150) for _ in range(4)]
        parents += [mutate(rng, parents[0], 2), mutate(rng, parents[1], 3)]
        reads, _ = simulate_reads(rng, parents, [900, 700, 500, 400, 150, 120], truth, qlo=25, qhi=39,
                                  fixed_profile=True)
        full.append(derep(reads))
        binned.append(derep([(s, _bin(q)) for s, q in reads]))
        parents_all.append(set(parents))
    return full, binned, parents_all


def test_binned_copy_carries_only_bin_values(study):
    _, binned, _ = study
    values = set(np.unique(np.concatenate([q for d in binned for q in d.mean_quality])))
    assert values == {23.0, 37.0}  # q 25..39 fall in two of the four bins


def test_monotone_rates_never_rise_with_quality(study):
    _, binned, _ = study
    err = learn_errors(binned, error_model="monotone")
    off = [r for r in range(16) if r % 5]
    assert np.all(np.diff(err[off], axis=1) <= 0)  # at every quality 0..40, every transition
    assert np.allclose(err.reshape(4, 4, 41).sum(axis=1), 1.0)
    # and it is not flat: errors are rarer at the top bin than at the lower one
    assert np.mean(err[off, 37] < err[off, 23]) >= 0.9


def test_binned_denoising_recovers_the_truth_as_well_as_full_scores(study):
    full, binned, parents = study
    res_full = dada(full, err=learn_errors(full))
    res_binned = dada(binned, err=learn_errors(binned, error_model="monotone"))
    for rf, rb, true in zip(res_full, res_binned, parents):
        assert set(rf.sequences) == true  # full scores: every variant, nothing else
        assert set(rb.sequences) == true  # binned scores with the monotone fit: the same
        # reads assigned to a variant: as many with binned scores as with full ones (+-1%)
        assert abs(int(rb.abundances.sum()) - int(rf.abundances.sum())) <= 0.01 * rf.abundances.sum()


def test_auto_takes_monotone_for_binned_runs_and_says_so(study, caplog):
    _, binned, parents = study
    assert choose_error_model("auto", 4) == "monotone"
    assert choose_error_model("auto", 5) == "loess"
    assert choose_error_model("auto", None) == "loess"
    assert choose_error_model("loess", 4) == "loess"
    with caplog.at_level(logging.INFO, logger="microtrial.denoise._samples"):
        res = denoise_samples(binned, settings=DenoiseSettings(pool="none", min_reads=1),
                              n_qualities=(4, None))
    assert res.error_models == {"forward": "monotone"}
    assert "4 distinct quality scores (binned): monotone error fit" in caplog.text
    assert {q for q in res.sequences} == set().union(*parents)
    # R DADA2's behaviour keeps its loess fit unless the monotone one is asked for
    res = denoise_samples(binned[:1], settings=DenoiseSettings(dada2_compatible=True),
                          n_qualities=(4, None))
    assert res.error_models == {"forward": "loess"}
