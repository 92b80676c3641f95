"""Restricted permutations: with strata, labels never move between subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from microtrial.diversity import permanova, permutation_matrix


def test_strata_permutations_stay_within_subjects() -> None:
    strata = np.repeat([f"P{i}" for i in range(7)], [2, 3, 2, 2, 4, 1, 2])
    perms = permutation_matrix(strata.size, 500, strata=strata, seed=3)
    assert perms.shape == (500, strata.size)
    for row in perms:
        assert sorted(row) == list(range(strata.size))  # a permutation
        assert np.array_equal(strata[row], strata)  # never crosses a stratum
    # and it does permute within strata
    assert any(not np.array_equal(row, np.arange(strata.size)) for row in perms)


def test_free_permutations_are_seeded_and_mix() -> None:
    a = permutation_matrix(10, 50, seed=1)
    b = permutation_matrix(10, 50, seed=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, permutation_matrix(10, 50, seed=2))
    assert len({tuple(r) for r in a}) > 45


def test_between_subject_term_cannot_be_tested_within_subjects() -> None:
    # group is constant within subject: permuting within subjects leaves its statistic
    # unchanged, so the single-term strata test must give p = 1 (vegan does the same)
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(12)]
    md = pd.DataFrame({"subject": np.repeat([f"P{i}" for i in range(6)], 2),
                       "group": np.repeat(["a", "b"], 6)}, index=ids)
    x = rng.random((12, 4))
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    dm = pd.DataFrame(d, index=ids, columns=ids)
    res = permanova(dm, md, ["group"], strata="subject", permutations=99, seed=0)
    assert res.iloc[0]["p_value"] == 1.0
    free = permanova(dm, md, ["group"], permutations=99, seed=0)
    assert free.iloc[0]["pseudo_F"] == res.iloc[0]["pseudo_F"]


def test_constant_term_is_an_error() -> None:
    import pytest

    from microtrial.errors import AnalysisError

    ids = [f"s{i}" for i in range(6)]
    md = pd.DataFrame({"g": ["a"] * 6, "h": list("aabbcc")}, index=ids)
    x = np.arange(36, dtype=float).reshape(6, 6)
    dm = pd.DataFrame(np.abs(x - x.T), index=ids, columns=ids)
    with pytest.raises(AnalysisError, match="term 'g' does not vary"):
        permanova(dm, md, ["h", "g"], permutations=9)
