"""MinPath: the smallest set of pathways that explains the reactions found.

Ye Y, Doak TG (2009) A parsimony approach to biological pathway reconstruction/inference
for genomes and metagenomes. PLoS Comput Biol 5:e1000465. MinPath 1.2 ("hmp" version, as
PICRUSt2 runs it with ``-any``) solves

.. math:: \\min \\sum_p x_p \\quad \\text{s.t.} \\quad \\sum_{p \\ni r} x_p \\ge 1
          \\;\\; \\forall r \\in R, \\qquad x_p \\in \\{0, 1\\},

with *R* the reactions of the sample that belong to at least one pathway and *p* the
pathways holding at least one of them; then adds back every pathway that was left out but
has at least half of its (distinct) reactions in *R*. Here the integer program is solved
with HiGHS (``scipy.optimize.milp``) instead of GLPK. Where several minimal sets exist, GLPK
(as MinPath calls it) settles towards pathways early in name order; we take, among the
minimal sets, the one with the smallest sum of name ranks (one program whose costs put
cardinality first). On mixtures of PICRUSt2's archaeal genomes this agrees with glpsol
(GLPK 5.0) on 99.2% of the pathway calls after the add-back (``benchmarks/minpath_glpk.py``;
89.3% when HiGHS settles ties its own way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

POPULATE_FRACTION = 0.5


def minimal_pathways(
    present: Iterable[str],
    pathway_reactions: Mapping[str, Sequence[str]],
    *,
    populate: float | None = POPULATE_FRACTION,
) -> set[str]:
    """Pathways MinPath calls present for a set of reactions.

    Parameters
    ----------
    present : iterable of str
        Reactions (or gene families) with non-zero abundance in the sample.
    pathway_reactions : mapping
        Pathway id -> its reactions (duplicates ignored).
    populate : float or None
        Add back pathways not in the minimal set with at least this fraction of their
        reactions present (MinPath 1.2's ``PopulatePath``, 0.5); None skips it.

    Returns
    -------
    set of str
    """
    members = {p: list(dict.fromkeys(r)) for p, r in pathway_reactions.items() if r}
    in_any: set[str] = set()
    for rxns in members.values():
        in_any.update(rxns)
    found = [r for r in dict.fromkeys(present) if r in in_any]
    if not found:
        return set()
    found_set = set(found)
    # columns in pathway-name order, as MinPath writes its MPS file from PICRUSt2's sorted map
    candidates = sorted(p for p, rxns in members.items() if any(r in found_set for r in rxns))
    row = {r: i for i, r in enumerate(found)}
    rows, cols = [], []
    for j, p in enumerate(candidates):
        for r in members[p]:
            if r in row:
                rows.append(row[r])
                cols.append(j)
    a = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(found), len(candidates)))
    n = len(candidates)
    # minimum number of pathways first; among the minimal sets, the one with the smallest
    # sum of name ranks (GLPK, which MinPath calls, settles ties towards earlier columns;
    # see benchmarks/minpath_glpk.py). One program: each pathway costs big + its rank, with
    # big above any sum of ranks, so cardinality always dominates (exact integers).
    big = float(n * (n + 1) // 2 + 1)
    res = milp(c=big + np.arange(1, n + 1, dtype=np.float64),
               constraints=LinearConstraint(a, lb=np.ones(len(found)), ub=np.inf),
               integrality=np.ones(n), bounds=Bounds(0, 1),
               options={"mip_rel_gap": 0.0, "time_limit": 120.0})
    if res.x is None:  # cannot happen: every reaction is covered by some candidate
        raise RuntimeError(f"MinPath integer program failed: {res.message}")
    chosen = {p for p, x in zip(candidates, res.x) if x > 0.5}
    if populate is not None:
        for p, rxns in members.items():
            if p in chosen:
                continue
            hits = sum(1 for r in rxns if r in found_set)
            if hits and hits >= len(rxns) * populate:
                chosen.add(p)
    return chosen
