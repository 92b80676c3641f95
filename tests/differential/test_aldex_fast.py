"""The faster ALDEx2-style code against the code it replaced (kept unchanged in
``_aldex_reference.py``): same data and seed give the same table, to 1e-12."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.differential._aldex import _merge_u, _ranksum_p, aldex, signed_rank_p

from ._aldex_reference import _ranksum_p as ranksum_reference
from ._aldex_reference import aldex_reference
from ._aldex_reference import signed_rank_p as signed_rank_reference
from .conftest import simulate

NUMERIC = ["effect", "p_value", "q_value", "we_ep", "we_ebh", "wi_ep", "wi_ebh", "aldex_effect", "diff_win"]


def _same(new: pd.DataFrame, old: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    assert list(new["feature"]) == list(old["feature"])
    for col in NUMERIC:
        a, b = new[col].to_numpy(float), old[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-12, atol=1e-15, err_msg=col)


@pytest.mark.parametrize(("n_per_group", "paired"), [(12, False), (60, False), (12, True), (55, True)])
def test_aldex_equals_reference(n_per_group: int, paired: bool) -> None:
    # 12 per group: exact rank tests; 55-60: the normal approximation and the merge count
    contrast, _ = simulate(n_features=40, n_per_group=n_per_group, paired=paired, seed=n_per_group)
    new = aldex(contrast, mc_samples=16, seed=7)
    old = aldex_reference(contrast, mc_samples=16, seed=7)
    _same(new, old)
    # not a vacuous comparison: the planted features are found by both
    assert (new["we_ep"] < 0.05).sum() >= 4


def test_aldex_unequal_groups_equals_reference() -> None:
    contrast, _ = simulate(n_features=30, n_per_group=40, seed=3)
    keep = list(contrast.counts.columns[:40]) + list(contrast.counts.columns[40:55])  # 40 vs 15 -> 55
    sub = contrast.counts[keep]
    from microtrial.differential import Contrast

    c2 = Contrast(sub, contrast.level[keep], "treated", "control")
    # 40 reference vs 15 test: below 50 in both, exact; add 20 more test samples: approximation
    _same(aldex(c2, mc_samples=8, seed=1), aldex_reference(c2, mc_samples=8, seed=1))
    keep = list(contrast.counts.columns[:20]) + list(contrast.counts.columns[40:80])
    c3 = Contrast(contrast.counts[keep], contrast.level[keep], "treated", "control")
    _same(aldex(c3, mc_samples=8, seed=1), aldex_reference(c3, mc_samples=8, seed=1))


def test_merge_count_is_the_mann_whitney_u_and_finds_ties() -> None:
    a = np.array([[1.0, 4.0, 6.0], [1.0, 2.0, 2.0], [0.5, 3.0, 9.0]])
    b = np.array([[2.0, 3.0, 5.0, 7.0], [0.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0]])
    u, tied = _merge_u(np.sort(a, axis=1), np.sort(b, axis=1))
    # by hand: row 0: 1 beats none, 4 beats 2 and 3, 6 beats 2, 3, 5 -> 5
    # row 1: 1 beats 0, 2 beats 0, 2 beats 0 -> 3 (tie within a); row 2: 3 == 3 tie between groups
    assert u[:2].tolist() == [5.0, 3.0]
    assert tied.tolist() == [False, True, True]


def test_large_sample_ranksum_equals_pooled_ranks() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.3, 1, (200, 70))
    b = rng.normal(0, 1, (200, 90))
    a[:10, 0] = b[:10, 0]  # ties go to scipy in both
    np.testing.assert_array_equal(_ranksum_p(a, b), ranksum_reference(a, b))


@pytest.mark.parametrize("n", [30, 51, 120])
def test_signed_rank_equals_reference(n: int) -> None:
    rng = np.random.default_rng(n)
    d = rng.normal(0.2, 1, (300, n))
    d[:20, 0] = 0.0  # zeros
    d[20:40, 1] = d[20:40, 2]  # ties
    d[40] = 0.0  # all zero: NaN
    new, old = signed_rank_p(d), signed_rank_reference(d)
    assert np.isnan(new[40]) and np.isnan(old[40])
    np.testing.assert_allclose(new, old, rtol=1e-12, atol=0)
    assert (new[41:] < 0.05).sum() > 10  # a real shift is found
