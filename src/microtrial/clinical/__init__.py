"""Clinical stage: myositis response criteria (IMACS DOI, 2016 ACR/EULAR TIS), response
rates with exact intervals, paired immune endpoints (Wilcoxon signed-rank as R), and
associations of microbiome features with clinical, immune and metabolite measures.
"""

from __future__ import annotations

from microtrial.stats import WilcoxonResult, psignrank, qsignrank, wilcoxon_paired

from ._associations import METHODS as ASSOCIATION_METHODS
from ._associations import associate, bh_fdr, rmcorr_anova
from ._io import _long_table as long_table
from ._io import read_clinical, read_immune, read_sample_matrix
from ._response import (
    CATEGORY_THRESHOLDS,
    CSMS,
    DEFAULT_ULN,
    ENZYMES,
    MEASURE_COLUMNS,
    TIS_POINTS,
    SubjectResponse,
    check_uln,
    choose_enzyme,
    percent_improvement,
    resolve_uln,
    score_response,
    score_subject,
    tis_category,
    tis_points,
)
from ._study import AssociationsResult, FeatureBlock, associate_study
from ._summary import (
    clopper_pearson,
    immune_paired,
    quantiles7,
    responders_metadata,
    response_rates,
)
from ._trial import ClinicalResult, TrialInputError, evaluate_trial

__all__ = [
    "ASSOCIATION_METHODS", "AssociationsResult", "CATEGORY_THRESHOLDS", "CSMS", "FeatureBlock", "ClinicalResult", "TrialInputError", "DEFAULT_ULN", "ENZYMES", "TIS_POINTS",
    "SubjectResponse", "WilcoxonResult", "associate", "associate_study", "check_uln", "bh_fdr", "choose_enzyme", "clopper_pearson", "evaluate_trial",
    "MEASURE_COLUMNS", "immune_paired", "long_table", "percent_improvement", "psignrank", "qsignrank", "quantiles7", "read_clinical",
    "read_immune", "read_sample_matrix", "resolve_uln", "responders_metadata", "response_rates", "rmcorr_anova",
    "score_response", "score_subject", "tis_category", "tis_points", "wilcoxon_paired",
]
