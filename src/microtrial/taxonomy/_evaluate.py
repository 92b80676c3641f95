"""k-fold cross-validation of the classifier on its own reference.

Notes
-----
The reference is split at random into ``folds`` parts; each part in turn is held out, the
classifier is trained on the others and the held-out sequences (at most
``max_test_per_fold`` of them, drawn at random) are classified. Per rank, with t the true
name and p the reported name (absent when the confidence is too low or the reference names
no such rank):

    TP: p present and p == t;  FP: p present and p != t (or t absent);
    FN: t present and p != t (wrong or not reported)
    precision = TP / (TP + FP), recall = TP / (TP + FN), F = 2 P R / (P + R)

Held-out sequences whose lineage is missing from the training folds count like any other,
so a cautious classifier is rewarded for leaving novel genera unassigned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from microtrial.taxa import RANKS
from microtrial.taxonomy._classify import classify
from microtrial.taxonomy._model import N_CLASS_RANKS, Reference, lineage_levels, train_classifier


def cross_validate(
    reference: Reference,
    *,
    folds: int = 5,
    confidence: float = 0.8,
    max_test_per_fold: int | None = 500,
    seed: int = 0,
    threads: int | None = None,
    n_boot: int = 100,
) -> pd.DataFrame:
    """Precision, recall and F-measure per rank over k folds (see module notes).

    Returns
    -------
    pandas.DataFrame
        One row per rank (``rank``, ``tp``, ``fp``, ``fn``, ``precision``, ``recall``,
        ``f_measure``), domain to genus.
    """
    if folds < 2:
        raise ValueError("folds must be at least 2")
    n = len(reference)
    if n < folds:
        raise ValueError(f"the reference has {n} sequences, fewer than {folds} folds")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    parts = np.array_split(perm, folds)
    tp = np.zeros(N_CLASS_RANKS, dtype=np.int64)
    fp = np.zeros(N_CLASS_RANKS, dtype=np.int64)
    fn = np.zeros(N_CLASS_RANKS, dtype=np.int64)
    for f, test in enumerate(parts):
        train = np.concatenate([p for i, p in enumerate(parts) if i != f])
        model = train_classifier(reference.subset(train))
        if max_test_per_fold is not None and len(test) > max_test_per_fold:
            test = rng.choice(test, size=max_test_per_fold, replace=False)
        queries = {str(i): reference.sequences[i] for i in test}
        res = classify(queries, model, confidence=confidence, seed=seed + f, threads=threads,
                       n_boot=n_boot, both_orientations=False)
        for i in test:
            truth = lineage_levels(reference.taxa[i])
            taxon = str(res.at[str(i), "Taxon"])
            pred = lineage_levels(taxon) if taxon != "Unassigned" else []
            for r in range(N_CLASS_RANKS):
                t = truth[r] if r < len(truth) else None
                p = pred[r] if r < len(pred) else None
                if p is not None and p == t:
                    tp[r] += 1
                elif p is not None:
                    fp[r] += 1
                if t is not None and p != t:
                    fn[r] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), np.nan)
        f_measure = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame({
        "rank": list(RANKS[:N_CLASS_RANKS]), "tp": tp, "fp": fp, "fn": fn,
        "precision": precision, "recall": recall, "f_measure": f_measure,
    })
