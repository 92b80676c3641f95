"""The capped edit-distance kernel against a slow, obviously correct full Levenshtein DP."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from microtrial.simulate._kernels import capped_edit_distance


def naive_levenshtein(a: list[int], b: list[int]) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j - 1] + (a[i - 1] != b[j - 1]), d[i - 1][j] + 1, d[i][j - 1] + 1
            )
    return d[len(a)][len(b)]


def test_hand_examples() -> None:
    enc = {"A": 0, "C": 1, "G": 2, "T": 3}

    def e(s: str) -> np.ndarray:
        return np.array([enc[c] for c in s], dtype=np.uint8)

    assert capped_edit_distance(e("ACGT"), e("ACGT"), 3) == 0
    assert capped_edit_distance(e("ACGT"), e("AGGT"), 3) == 1  # one substitution
    assert capped_edit_distance(e("ACGT"), e("ACGGT"), 3) == 1  # one insertion
    assert capped_edit_distance(e("ACGTAC"), e("CGTACA"), 3) == 2  # delete first, add last
    assert capped_edit_distance(e("AAAA"), e("TTTT"), 3) == 3  # 4 capped at 3
    assert capped_edit_distance(e("A"), e("AAAAA"), 3) == 3  # length gap alone >= cap


seqs = st.lists(st.integers(0, 3), min_size=0, max_size=25)


@settings(max_examples=300, deadline=None)
@given(a=seqs, b=seqs, cap=st.integers(1, 6))
def test_matches_naive_on_random(a: list[int], b: list[int], cap: int) -> None:
    got = capped_edit_distance(np.array(a, dtype=np.uint8), np.array(b, dtype=np.uint8), cap)
    assert got == min(naive_levenshtein(a, b), cap)


@settings(max_examples=100, deadline=None)
@given(a=st.lists(st.integers(0, 3), min_size=20, max_size=40), data=st.data())
def test_matches_naive_on_near_copies(a: list[int], data: st.DataObject) -> None:
    # mutate a few positions: distances near the cap are the cases that matter
    b = list(a)
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["sub", "ins", "del"]))
        k = data.draw(st.integers(0, max(len(b) - 1, 0)))
        if op == "sub" and b:
            b[k] = (b[k] + 1) % 4
        elif op == "ins":
            b.insert(k, data.draw(st.integers(0, 3)))
        elif b:
            del b[k]
    for cap in (1, 2, 3, 5):
        got = capped_edit_distance(np.array(a, dtype=np.uint8), np.array(b, dtype=np.uint8), cap)
        assert got == min(naive_levenshtein(a, b), cap)
