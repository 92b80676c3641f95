"""Pathway steps on hand-worked inputs: MinPath, structured abundance, gap filling,
unstructured (KEGG) pathways, regrouping, coverage; MinPath checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from microtrial.errors import InputError
from microtrial.function import (
    gap_fill,
    minimal_pathways,
    parse_pathway_map,
    parse_regroup_map,
    pathway_abundance,
    regroup,
)

MINPATH_CASE = {
    "P1": ["r1", "r2"],
    "P2": ["r2", "r3"],
    "P3": ["r3"],
    "P4": ["r4", "r5", "r6", "r7"],
    "P5": ["r2", "r8", "r9"],
}


def test_minpath_by_hand() -> None:
    # r1 needs P1, r4 needs P4, r3 needs P2 or P3: the minimum is 3 pathways, and of the
    # two minimal sets the one with pathways earlier in name order (P2) is taken
    bare = minimal_pathways(["r1", "r2", "r3", "r4"], MINPATH_CASE, populate=None)
    assert bare == {"P1", "P2", "P4"}
    renamed = {("Z3" if k == "P2" else k): v for k, v in MINPATH_CASE.items()}
    assert minimal_pathways(["r1", "r2", "r3", "r4"], renamed, populate=None) == {"P1", "P3", "P4"}
    # populate (>= half of a pathway's reactions found) adds back P2 (2/2) and P3 (1/1),
    # not P5 (1/3)
    assert minimal_pathways(["r1", "r2", "r3", "r4"], MINPATH_CASE) == {"P1", "P2", "P3", "P4"}
    assert minimal_pathways(["zz"], MINPATH_CASE) == set()


def _brute_force_minimum(present: set[str], pathways: dict[str, list[str]]) -> int:
    need = {r for r in present if any(r in rx for rx in pathways.values())}
    names = list(pathways)
    for k in range(len(names) + 1):
        for combo in itertools.combinations(names, k):
            covered = set().union(*(pathways[p] for p in combo)) if combo else set()
            if need <= covered:
                return k
    raise AssertionError


@pytest.mark.parametrize("seed", range(12))
def test_minpath_is_a_minimum_cover(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reactions = [f"r{i}" for i in range(14)]
    pathways = {f"P{j}": sorted(set(rng.choice(reactions, size=rng.integers(1, 5))))
                for j in range(9)}
    present = set(rng.choice(reactions, size=8, replace=False))
    chosen = minimal_pathways(present, pathways, populate=None)
    covered = set().union(*(pathways[p] for p in chosen)) if chosen else set()
    assert {r for r in present if any(r in rx for rx in pathways.values())} <= covered
    assert len(chosen) == _brute_force_minimum(present, pathways)


STRUCTURED = [
    "PWY-OR\t ( A , B )  C -D ",
    "PWY-GAP\t A B C ",
    "PWY-TWO\t E F G ",
]


def test_structured_abundance_by_hand() -> None:
    pmap = parse_pathway_map(STRUCTURED)
    assert pmap.structured
    assert pmap.key_reactions["PWY-OR"] == ["A", "B", "C"]
    assert pmap.reactions["PWY-OR"] == ["A", "B", "C", "D"]
    table = pd.DataFrame({"S1": [2.0, 4.0, 3.0, 10.0, 0.0, 0.0, 5.0]},
                         index=["A", "B", "C", "D", "E", "F", "G"])
    res = pathway_abundance(table, pmap, minpath=False)
    # OR block = max(2, 4) = 4; AND of key scores (4, C=3): 2/(1/4+1/3) = 24/7 = 3.4286;
    # optional D=10 > 3.4286 joins: 3/(1/4 + 1/3 + 1/10) = 4.3902
    assert res.abundance.loc["PWY-OR", "S1"] == round(3 / (1 / 4 + 1 / 3 + 1 / 10), 4)
    # PWY-TWO: E and F are 0 (two key reactions missing: no gap filling) -> 0 -> dropped
    assert "PWY-TWO" not in res.abundance.index


def test_gap_filling_by_hand() -> None:
    pmap = parse_pathway_map(STRUCTURED)
    table = pd.DataFrame({"S1": [0.0, 2.0, 6.0, 1.0, 1.0, 1.0, 1.0]},
                         index=["A", "B", "C", "D", "E", "F", "G"])
    filled = pathway_abundance(table, pmap, minpath=False, gap_filling=True)
    # A (the one missing key reaction) takes B's 2: harmonic mean of 2, 2, 6 = 3/(7/6)
    assert filled.abundance.loc["PWY-GAP", "S1"] == round(3 / (1 / 2 + 1 / 2 + 1 / 6), 4)
    plain = pathway_abundance(table, pmap, minpath=False, gap_filling=False)
    assert "PWY-GAP" not in plain.abundance.index  # harmonic mean with a zero is 0
    assert gap_fill(["A", "B", "C"], {"A": 0, "B": 0, "C": 6}) == {"A": 0, "B": 0, "C": 6}
    # PICRUSt2 (as HUMAnN2) raises the least abundant key reaction even when none is 0
    assert gap_fill(["A", "B", "C"], {"A": 5, "B": 1, "C": 6})["B"] == 5


def test_unstructured_kegg_style_by_hand() -> None:
    pmap = parse_pathway_map(["ko1\tK1\tK2\tK3\tK4", "ko2\tK5\tK6\tK7"])
    assert not pmap.structured
    table = pd.DataFrame({"S1": [1.0, 2.0, 3.0, 10.0, 1.0, 5.0, 9.0],
                          "S2": [0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0]},
                         index=["ko:K1", "ko:K2", "ko:K3", "ko:K4", "ko:K5", "ko:K6", "ko:K7"])
    res = pathway_abundance(table, pmap, minpath=False, coverage=True)
    # mean of the upper half of the sorted abundances: (3 + 10)/2, (5 + 9)/2
    assert res.abundance.loc["ko1", "S1"] == 6.5
    assert res.abundance.loc["ko2", "S1"] == 7.0
    assert res.abundance.loc["ko1", "S2"] == 2.0  # upper half (0, 4) -> 2
    # coverage: fraction above the sample's median of positive reaction abundances
    # S1 median of (1, 2, 3, 10, 1, 5, 9) = 3 -> ko1: 1/4 (10), ko2: 2/3 (5, 9)
    assert res.coverage is not None
    assert res.coverage.loc["ko1", "S1"] == 0.25
    assert res.coverage.loc["ko2", "S1"] == round(2 / 3, 10)


def test_structured_coverage_is_chi_square_cdf() -> None:
    # a map is structured when any of its pathways has a '(' (as PICRUSt2 reads it)
    pmap = parse_pathway_map(["PWY-1\t A B ", "PWY-2\t ( A , B ) "])
    table = pd.DataFrame({"S1": [2.0, 6.0]}, index=["A", "B"])
    res = pathway_abundance(table, pmap, minpath=False, coverage=True, gap_filling=False)
    # median of (2, 6) = 4; coverage = harmonic mean of chi2.cdf(2, 4), chi2.cdf(6, 4)
    a, b = scipy.stats.chi2.cdf(2, 4), scipy.stats.chi2.cdf(6, 4)
    assert res.coverage is not None
    assert res.coverage.loc["PWY-1", "S1"] == pytest.approx(round(2 / (1 / a + 1 / b), 10))


def test_regroup_by_hand() -> None:
    mapping = parse_regroup_map(["EC1\tR1,R2", "EC2\tR2", "EC9\tR9"])
    table = pd.DataFrame({"S1": [1.0, 10.0, 100.0]}, index=["EC1", "EC2", "EC3"])
    out = regroup(table, mapping)
    assert out["S1"].to_dict() == {"R1": 1.0, "R2": 11.0}


def test_minpath_drops_a_redundant_pathway() -> None:
    pmap = parse_pathway_map(["PA\t A B ", "PB\t A C D E ", "PC\t ( X , Y ) "])
    table = pd.DataFrame({"S1": [4.0, 4.0, 0.0, 0.0, 0.0]}, index=["A", "B", "C", "D", "E"])
    # A and B are covered by PA alone; PB has 1 of 4 reactions: not added back
    res = pathway_abundance(table, pmap, minpath=True, gap_filling=False)
    assert res.present["S1"] == ["PA"]
    assert list(res.abundance.index) == ["PA"]


def test_unknown_ids_are_an_input_error() -> None:
    pmap = parse_pathway_map(STRUCTURED)
    table = pd.DataFrame({"S1": [1.0]}, index=["9.9.9.9"])
    with pytest.raises(InputError, match="not|no function id"):
        pathway_abundance(table, pmap, regroup_map={"1.1.1.1": ["A"]})
    with pytest.raises(InputError, match="no function id"):
        pathway_abundance(table, pmap)
