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
    """Group lineages (first-seen order) and dense log P(w|g) [g][w] from the formulas."""
    lineages: list[str] = []
    group = []
    for t in taxa:
        lin = "; ".join(split_taxon(t)[:6])
        if lin not in lineages:
            lineages.append(lin)
        group.append(lineages.index(lin))
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


def best_group(lp: np.ndarray, query_words: list[int]) -> int:
    scores = [sum(lp[g][w] for w in query_words) for g in range(lp.shape[0])]
    return int(np.argmax(scores))

