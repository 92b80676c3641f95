"""Replaying R DADA2's ``assignTaxonomy`` draw for draw.

Two bootstrap classifiers cannot be compared run against run: their confidences and
cross-validation scores differ by bootstrap noise. Given the uniform random numbers that
``assignTaxonomy`` drew, this module makes microtrial's scorer take the very same
bootstrap samples, so that its choices can be compared with R's bootstrap by bootstrap
(``tests/taxonomy/test_replay.py`` against golden R output, and
``benchmarks/classify_replay.py`` on Greengenes cross-validation folds). It is not used
for classification.

R's generator: ``set.seed(s)`` with R's default Mersenne-Twister scrambles the seed with
the linear congruential step ``s <- 69069 s + 1`` (mod 2^32) 50 times, then fills the
generator's 625 seed words with 625 further steps; the first word is the position (set to
624, so the next draw regenerates the state) and the other 624 are the MT19937 state.
``runif`` returns each tempered 32-bit output times 2.3283064365386963e-10 (2^-32,
rounded), nudged off 0 and 1. numpy's ``MT19937`` bit generator, given that state, gives
the same outputs. (Checked against R output in the tests.)

DADA2's layout (``C_assign_taxonomy2`` in DADA2 1.26): one vector of
``n_queries * 100 * (max_arraylen // 8)`` uniforms is drawn before classification, where
``max_arraylen`` is the longest query's length minus k - 1. A query's words are sorted;
query j's bootstraps read consecutive uniforms from position ``j * max_arraylen`` on
(so the blocks of neighbouring queries overlap), each bootstrap taking n // 8 words at
positions ``floor(n * u)`` of the sorted words. Ties among groups are broken at random
in both tools, with generators that cannot be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from microtrial.taxonomy import _kernels
from microtrial.taxonomy._model import Scorer, TaxonomyModel

N_BOOT_DADA2 = 100  # fixed in DADA2 1.26's C code

_R_UNIF_SCALE = 2.3283064365386963e-10
_R_I2_32M1 = 2.328306437080797e-10  # R's fixup: 1 / (2^32 - 1)


def r_runif(seed: int, n: int) -> np.ndarray:
    """The first ``n`` values of R's ``set.seed(seed); runif(n)`` (default generator)."""
    s = np.uint32(seed & 0xFFFFFFFF)
    key = np.empty(625, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for _ in range(50):
            s = np.uint32(69069) * s + np.uint32(1)
        for j in range(625):
            s = np.uint32(69069) * s + np.uint32(1)
            key[j] = s
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    u = bg.random_raw(n).astype(np.float64) * _R_UNIF_SCALE
    u[u <= 0.0] = 0.5 * _R_I2_32M1
    u[1.0 - u <= 0.0] = 1.0 - 0.5 * _R_I2_32M1
    return u


def dada2_uniform_count(queries: list[str], k: int = 8) -> tuple[int, int]:
    """``(number of uniforms DADA2 draws, max_arraylen)`` for these queries."""
    max_arraylen = max(len(q) for q in queries) - k + 1
    return len(queries) * N_BOOT_DADA2 * (max_arraylen // 8), max_arraylen


def match_groups(other_ref_group: np.ndarray, model: TaxonomyModel) -> np.ndarray:
    """Map the other tool's group indices to the model's, given each training sequence's
    group in the other tool (same sequences, same order); ValueError unless the two
    trainings partition the sequences identically."""
    other = np.asarray(other_ref_group, dtype=np.int64)
    ours = np.asarray(model.ref_group, dtype=np.int64)
    if other.shape != ours.shape or other.size == 0:
        raise ValueError("the two trainings have different training sequences")
    to_ours = np.full(int(other.max()) + 1, -1, dtype=np.int64)
    to_ours[other] = ours
    back = np.full(model.n_groups, -1, dtype=np.int64)
    back[to_ours[to_ours >= 0]] = np.flatnonzero(to_ours >= 0)
    if not (np.array_equal(to_ours[other], ours) and np.array_equal(back[ours], other)):
        raise ValueError("the two trainings group the training sequences differently")
    return to_ours


@njit(cache=True)
def _replay(wptr, wgroup, wdelta, log_den, rank_ids, codes, offsets, k, unifs, max_arraylen, seeds,
            other_best, other_choice, best_out, choice_out, boot_out, full_gap, boot_gap):
    n_q = offsets.shape[0] - 1
    n_ranks = rank_ids.shape[1]
    scores = np.empty(log_den.shape[0], dtype=np.float64)
    for j in range(n_q):
        words = np.empty(offsets[j + 1] - offsets[j], dtype=np.int64)
        m = _kernels.kmer_codes(codes[offsets[j]: offsets[j + 1]], k, words)
        words = np.sort(words[:m])
        np.random.seed(seeds[j])
        best, _ = _kernels._best_group(wptr, wgroup, wdelta, log_den, words, m, scores)
        best_out[j] = best
        full_gap[j] = scores[best] - scores[other_best[j]]
        a = m // 8
        sub = np.empty(a, dtype=np.int64)
        pos = j * max_arraylen
        for b in range(N_BOOT_DADA2):
            for i in range(a):
                sub[i] = words[int(m * unifs[pos])]
                pos += 1
            bg, _ = _kernels._best_group(wptr, wgroup, wdelta, log_den, sub, a, scores)
            choice_out[j, b] = bg
            boot_gap[j, b] = scores[bg] - scores[other_choice[j, b]]
            for r in range(n_ranks):
                if rank_ids[bg, r] == rank_ids[best, r]:
                    boot_out[j, r] += 1
                else:
                    break


@dataclass(frozen=True)
class Replay:
    """microtrial's choices on DADA2's draws, next to the other tool's.

    ``best`` (n,) and ``choice`` (n, 100): microtrial's group for each full query and each
    bootstrap; ``boots`` (n, ranks): its per-rank bootstrap agreement counts;
    ``full_gap`` and ``boot_gap``: microtrial's score of its own choice minus its score of
    the other tool's (0 when they agree or tie exactly, > 0 otherwise).
    """

    best: np.ndarray
    choice: np.ndarray
    boots: np.ndarray
    full_gap: np.ndarray
    boot_gap: np.ndarray
    other_best: np.ndarray
    other_choice: np.ndarray

    def disagreements(self, near_tie: float = 1e-3) -> dict[str, dict[str, float]]:
        """For full queries and for bootstraps: how many (``n``), how many choose the
        other tool's group (``same``), and how the others split: an exact tie in
        microtrial's score (``tie``), microtrial's score of the other's group within
        ``near_tie`` of its best (``near``; R sums float32 log-probabilities, so it cannot
        order groups that close) or further below (``other``, and the largest such gap,
        ``worst``)."""
        out = {}
        for name, mine, theirs, gap in [("full", self.best, self.other_best, self.full_gap),
                                        ("bootstrap", self.choice, self.other_choice, self.boot_gap)]:
            differ = mine != theirs
            far = differ & (gap >= near_tie)
            out[name] = {
                "n": float(mine.size), "same": float((~differ).sum()),
                "tie": float((differ & (gap == 0)).sum()),
                "near": float((differ & (gap > 0) & (gap < near_tie)).sum()),
                "other": float(far.sum()), "worst": float(gap[far].max()) if far.any() else 0.0,
            }
        return out


def replay_dada2(model: TaxonomyModel, queries: list[str], unifs: np.ndarray, other_best: np.ndarray,
                 other_choice: np.ndarray, *, scorer: Scorer | None = None, seed: int = 0) -> Replay:
    """Classify ``queries`` (forward strand only, queries of at least 8 k-mers) with the
    bootstrap samples that DADA2 takes from ``unifs``, and compare with the other tool's
    group choices (``other_best``, ``other_choice``: microtrial group indices)."""
    n_unif, max_arraylen = dada2_uniform_count(queries, model.k)
    if unifs.shape[0] < n_unif:
        raise ValueError(f"DADA2 draws {n_unif} uniforms for these queries; {unifs.shape[0]} given")
    sc = model.scorer() if scorer is None else scorer
    codes, offsets = _kernels.encode_many(queries)
    n = len(queries)
    best = np.empty(n, dtype=np.int64)
    choice = np.empty((n, N_BOOT_DADA2), dtype=np.int64)
    boots = np.zeros((n, model.rank_ids.shape[1]), dtype=np.int64)
    full_gap = np.empty(n)
    boot_gap = np.empty((n, N_BOOT_DADA2))
    seeds = np.arange(n, dtype=np.int64) + 7919 * (seed + 1)
    other_best = np.asarray(other_best, dtype=np.int64)
    other_choice = np.asarray(other_choice, dtype=np.int64)
    _replay(sc.wptr, sc.wgroup, sc.wdelta, sc.log_den, model.rank_ids, codes, offsets, model.k, unifs,
            max_arraylen, seeds, other_best, other_choice, best, choice, boots, full_gap, boot_gap)
    return Replay(best, choice, boots, full_gap, boot_gap, other_best, other_choice)
