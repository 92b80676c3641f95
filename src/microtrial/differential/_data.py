"""The data one differential test sees, and helpers every method shares (BH, CLR).

A :class:`Contrast` holds the counts of the samples of one comparison (features x samples),
their level (test or reference), the subject of each sample (paired designs) and covariates.
For paired contrasts the samples are ordered so that ``pairs()`` gives, per subject, the
column of its test sample and of its reference sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from microtrial.errors import AnalysisError
from microtrial.stats import bh

RESULT_COLUMNS = ("feature", "effect", "effect_type", "p_value", "q_value")


@dataclass(frozen=True, eq=False)
class Contrast:
    """Counts and design of one comparison.

    Attributes
    ----------
    counts : pandas.DataFrame
        Non-negative counts, features as rows, samples as columns.
    level : pandas.Series
        Level of each sample (index = the columns of ``counts``), ``test`` or ``reference``.
    test, reference : str
        The two levels; effects are ``test`` relative to ``reference``.
    kind : {"between", "paired", "longitudinal", "interaction"}
    subject : pandas.Series or None
        Subject of each sample (needed for within-subject contrasts and random intercepts).
    covariates : pandas.DataFrame
        Adjustment covariates per sample (may have no columns).
    arm : pandas.Series or None
        ``interaction``: the between-subject arm of each sample (``arm_levels`` = (test,
        reference)); ``level`` then holds the within-subject (time) level.
    arm_levels : tuple of str
    time_levels : tuple of str
        ``longitudinal``: every time point in time order (``reference`` is the first and
        ``test`` the last); ``level`` may hold any of them.
    term : str
        The model term tested, as written to the ``term`` column (e.g. ``treatment:week``).
    random : pandas.DataFrame
        Further random-intercept groupings per sample (e.g. a ``cage`` column); may have no
        columns.
    """

    counts: pd.DataFrame
    level: pd.Series
    test: str
    reference: str
    kind: str = "between"
    subject: pd.Series | None = None
    covariates: pd.DataFrame = field(default_factory=pd.DataFrame)
    arm: pd.Series | None = None
    arm_levels: tuple[str, ...] = ()
    time_levels: tuple[str, ...] = ()
    term: str = ""
    random: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        if list(self.level.index) != list(self.counts.columns):
            raise ValueError("level must be indexed like the columns of counts")
        allowed = set(self.time_levels) | {self.test, self.reference}
        bad = set(self.level.astype(str)) - allowed
        if bad:
            raise ValueError(f"levels {sorted(bad)} are neither test nor reference")
        if self.kind not in ("between", "paired", "longitudinal", "interaction"):
            raise ValueError(f"unknown contrast kind '{self.kind}'")
        if self.kind != "between" and self.subject is None:
            raise ValueError(f"a {self.kind} contrast needs subjects")
        if self.kind == "interaction" and (self.arm is None or len(self.arm_levels) != 2):
            raise ValueError("an interaction contrast needs arms (arm, arm_levels)")

    @property
    def is_test_arm(self) -> np.ndarray:
        """``interaction``: boolean mask of samples in the test arm."""
        if self.arm is None:
            raise AnalysisError("not an interaction contrast")
        return (self.arm.astype(str) == self.arm_levels[0]).to_numpy()

    @property
    def is_test(self) -> np.ndarray:
        """Boolean mask of test samples, in column order."""
        return (self.level.astype(str) == self.test).to_numpy()

    def n_per_level(self) -> tuple[int, int]:
        t = int(self.is_test.sum())
        return t, int(len(self.level) - t)

    def has_repeated_subjects(self) -> bool:
        return self.subject is not None and bool(self.subject.duplicated().any())

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Column indices ``(test_idx, reference_idx)`` of the subjects sampled at both
        levels (first sample of each subject at each level), ordered by subject."""
        if self.subject is None:
            raise AnalysisError("paired test needs a subject column")
        subj = self.subject.astype(str).to_numpy()
        is_t = self.is_test
        first_t: dict[str, int] = {}
        first_r: dict[str, int] = {}
        for i, s in enumerate(subj):
            (first_t if is_t[i] else first_r).setdefault(s, i)
        common = sorted(set(first_t) & set(first_r))
        return (
            np.array([first_t[s] for s in common], dtype=np.int64),
            np.array([first_r[s] for s in common], dtype=np.int64),
        )

    def with_counts(self, counts: pd.DataFrame) -> Contrast:
        """The same design with other features (same samples)."""
        return Contrast(counts, self.level, self.test, self.reference, self.kind,
                        self.subject, self.covariates, self.arm, self.arm_levels,
                        self.time_levels, self.term, self.random)


def clr(counts: np.ndarray, *, pseudocount: float = 0.5) -> np.ndarray:
    """Centred log-ratio (natural log) of each column of ``counts + pseudocount``.

    ``clr(x)_i = log x_i - mean_j log x_j`` (Aitchison 1986).
    """
    x = np.log(np.asarray(counts, dtype=float) + pseudocount)
    return x - x.mean(axis=0, keepdims=True)


def relative(counts: np.ndarray) -> np.ndarray:
    """Column proportions (a sample with no reads stays all zero)."""
    c = np.asarray(counts, dtype=float)
    tot = c.sum(axis=0, keepdims=True)
    return np.divide(c, tot, out=np.zeros_like(c), where=tot > 0)


def result_frame(features: pd.Index | list[str], effect: np.ndarray, effect_type: str,
                 p_value: np.ndarray, q_value: np.ndarray | None = None,
                 **extra: Any) -> pd.DataFrame:
    """Assemble a method's result with the contract's columns (q by BH when not given)."""
    p = np.asarray(p_value, dtype=float)
    df = pd.DataFrame({
        "feature": [str(f) for f in features],
        "effect": np.asarray(effect, dtype=float),
        "effect_type": effect_type,
        "p_value": p,
        "q_value": bh(p) if q_value is None else np.asarray(q_value, dtype=float),
    })
    for k, v in extra.items():
        df[k] = v
    return df
