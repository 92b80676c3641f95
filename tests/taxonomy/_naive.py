"""Slow, obviously correct versions of the classifier's kernels (written from Wang et al.
2007 and DADA2's documentation, not from our kernels)."""

from __future__ import annotations

import math

import numpy as np

from microtrial.taxa import split_taxon


def words(seq: str, k: int) -> list[int]:
    out = []
    for i in range(len(seq) - k + 1):
        w = seq[i : i + k]
        if all(c in "ACGT" for c in w):
            out.append(int(w.translate(str.maketrans("ACGT", "0123")), 4))
    return out


def train(seqs: list[str], taxa: list[str], k: int):  # noqa: ANN201
    """Group lineages (first-seen order; groups are the distinct texts of the reference's
    levels down to genus, as DADA2's headers; reported normalised) and dense log P(w|g)
    [g][w] from the formulas."""
    keys: list[list[str]] = []
    lineages: list[str] = []
    group = []
    for t in taxa:
        norm = split_taxon(t)[:6]
        key = [p.strip() for p in t.split(";") if p.strip()][: len(norm)]
        if key not in keys:
            keys.append(key)
            lineages.append("; ".join(norm))
        group.append(keys.index(key))
    n_words = 4**k
    N = len(seqs)
    n_w = [0] * n_words
    m = [[0] * n_words for _ in lineages]
    size = [0] * len(lineages)
    for s, g in zip(seqs, group, strict=True):
        size[g] += 1
        for w in set(words(s, k)):
            n_w[w] += 1
            m[g][w] += 1
    prior = [(n_w[w] + 0.5) / (N + 1) for w in range(n_words)]
    lp = [[math.log((m[g][w] + prior[w]) / (size[g] + 1)) for w in range(n_words)]
          for g in range(len(lineages))]
    return lineages, np.array(lp)


def best_groups(lp: np.ndarray, query_words: list[int]) -> set[int]:
    """All groups with the highest score (a tie is broken at random by the classifier)."""
    scores = [sum(lp[g][w] for w in query_words) for g in range(lp.shape[0])]
    top = max(scores)
    return {g for g, sc in enumerate(scores) if sc == top}

