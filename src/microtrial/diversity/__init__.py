"""Diversity stage: alpha and beta diversity, rarefaction, and design-aware community tests.

Numbers follow R's vegan 2.6 (``diversity``, ``estimateR``, ``vegdist``, ``adonis2``,
``betadisper``, ``anosim``) and ``wilcox.test``; UniFrac and Faith's PD follow scikit-bio.
"""

from __future__ import annotations

from microtrial.diversity._alpha import (
    ALPHA_METRICS,
    ace,
    alpha_diversity,
    chao1,
    goods_coverage,
    pielou_evenness,
    shannon,
    simpson,
)
from microtrial.diversity._analyse import DiversityResult, analyse_diversity
from microtrial.diversity._beta import BETA_METRICS, beta_diversity, clr, pcoa, rclr
from microtrial.diversity._compare import (
    alpha_kruskal,
    alpha_mixed_model,
    alpha_tests,
    comparison_samples,
    dysbiosis,
    dysbiosis_change,
    pairwise_permanova,
)
from microtrial.diversity._permanova import anosim, permanova, permdisp, permutation_matrix
from microtrial.diversity._rarefy import (
    DepthSuggestion,
    Rarefaction,
    choose_depth,
    rarefaction_curves,
    rarefy,
    rarefy_samples,
    suggest_depth,
)
from microtrial.diversity._stats import (
    RankTest,
    bh,
    kruskal_wallis,
    mann_whitney,
    wilcoxon_signed_rank,
)
from microtrial.diversity._unifrac import check_tree, faith_pd, unifrac

__all__ = [
    "ALPHA_METRICS", "BETA_METRICS", "DepthSuggestion", "DiversityResult", "analyse_diversity", "RankTest", "ace", "alpha_diversity",
    "alpha_kruskal", "alpha_mixed_model", "alpha_tests", "comparison_samples", "anosim", "beta_diversity", "bh", "chao1",
    "check_tree", "choose_depth",
    "clr", "dysbiosis", "dysbiosis_change", "faith_pd", "goods_coverage", "kruskal_wallis",
    "mann_whitney", "pairwise_permanova", "pcoa", "permanova", "permdisp", "permutation_matrix",
    "pielou_evenness", "Rarefaction", "rarefaction_curves", "rarefy", "rarefy_samples", "rclr",
    "shannon", "simpson",
    "suggest_depth", "unifrac", "wilcoxon_signed_rank",
]
