"""Statistics shared by several stages (core: no stage imports another's tests).

``bh`` is the one Benjamini-Hochberg correction of the project; ``wilcoxon_paired`` the one
paired signed-rank test with Hodges-Lehmann estimate, matching R's ``wilcox.test``;
``random_intercept_fit`` and ``variance_components_fit`` the REML mixed models (lme4's fits).
"""

from __future__ import annotations

from microtrial.stats._mixed import random_intercept_fit, variance_components_fit
from microtrial.stats._multitest import bh
from microtrial.stats._wilcoxon import (
    EXACT_MAX_N,
    WilcoxonResult,
    psignrank,
    qsignrank,
    signrank_counts,
    wilcoxon_paired,
)

__all__ = ["EXACT_MAX_N", "WilcoxonResult", "bh", "psignrank", "qsignrank",
           "random_intercept_fit", "signrank_counts", "variance_components_fit", "wilcoxon_paired"]
