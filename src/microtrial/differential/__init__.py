"""Differential abundance: LEfSe, ANCOM-BC, ALDEx2-style, linear mixed models and paired
Wilcoxon tests, at any taxonomic rank, on functional guilds, with a consensus of methods."""

from __future__ import annotations

from microtrial.differential._aldex import aldex
from microtrial.differential._consensus import called, consensus
from microtrial.differential._data import Contrast, bh, clr
from microtrial.differential._features import (
    FEATURE_RANKS,
    check_rank,
    filter_features,
    hierarchy_counts,
    rank_counts,
)
from microtrial.differential._guilds import (
    GUILDS,
    Guild,
    guild_abundance,
    guild_counts,
    guild_membership,
)
from microtrial.differential._lefse import lefse
from microtrial.differential._lmm import lmm
from microtrial.differential._methods import (
    METHODS,
    ancombc,
    get_method,
    paired_wilcoxon,
    run_method,
)
from microtrial.differential._run import (
    DifferentialInputError,
    DifferentialResult,
    run_differential,
)

__all__ = [
    "FEATURE_RANKS", "GUILDS", "METHODS", "Contrast", "DifferentialInputError", "DifferentialResult", "Guild", "aldex", "ancombc", "bh",
    "called", "check_rank", "clr", "consensus", "filter_features", "get_method", "guild_abundance",
    "guild_counts", "guild_membership", "hierarchy_counts", "lefse", "lmm", "paired_wilcoxon",
    "rank_counts", "run_differential", "run_method",
]
