"""Clinical response of myositis patients: IMACS DOI and the 2016 ACR/EULAR TIS.

Written from the published rules (no library implements them):

* **IMACS definition of improvement (DOI)** (Rider et al. 2004): improvement of at least
  20% in at least 3 of the 6 core set measures (CSM), with no more than 2 CSM worse by 25%
  or more, and manual muscle testing (MMT) not among the worsened.
* **2016 ACR/EULAR total improvement score (TIS)** (Aggarwal et al. 2017; Rider et al.
  2017, Table 3): points per CSM by absolute percent improvement (any worsening scores 0),
  summed to 0-100, then categorised (adult: minimal >= 20, moderate >= 40, major >= 60;
  juvenile: >= 30, >= 45, >= 70).

Percent improvement is ``(baseline - follow-up) / baseline * 100`` for measures where lower
is better and ``(follow-up - baseline) / baseline * 100`` for MMT. It is computed in exact
rational arithmetic (:class:`fractions.Fraction` of each value's shortest decimal
representation), so ``1.0 -> 0.8`` is exactly 20% and no value crosses a bracket edge by
floating-point error. Bracket upper bounds are inclusive (exactly 15% scores in ">5-15%").

Decisions the sources leave open (documented in the report):

* baseline 0 and follow-up 0: no change (0%); baseline 0 and follow-up above 0 (a measure
  where lower is better): worsened beyond 25% (counts as worsened for the DOI, 0 TIS
  points), reported as a percent improvement of ``-inf``. For MMT (higher is better) a
  baseline of 0 with follow-up above 0 is an unbounded improvement (``+inf``).
* a missing CSM makes the subject *not evaluable* for DOI and TIS, with the reason; values
  are never imputed.
* the muscle enzyme CSM is the enzyme most abnormal at baseline as a multiple of its upper
  limit of normal (ULN), among the enzymes with a baseline value and a ULN (ties: the order
  ck, aldolase, ldh, alt, ast).

References
----------
Rider LG, Giannini EH, Brunner HI, et al. International consensus on preliminary definitions
of improvement in adult and juvenile myositis. Arthritis Rheum 2004;50:2281-2290.
Aggarwal R, Rider LG, Ruperto N, et al. 2016 American College of Rheumatology/European League
Against Rheumatism criteria for minimal, moderate, and major clinical response in adult
dermatomyositis and polymyositis. Arthritis Rheumatol 2017;69:898-910.
Rider LG, Aggarwal R, Pistorio A, et al. 2016 ACR-EULAR adult dermatomyositis and
polymyositis and juvenile dermatomyositis response criteria: methodological aspects.
Rheumatology 2017;56:1884-1893.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

log = logging.getLogger(__name__)

CSMS: tuple[str, ...] = ("phga", "ptga", "mmt8", "haq", "enzyme", "extramuscular")
"""The six core set measures, in output order (``enzyme`` = the chosen muscle enzyme)."""
ENZYMES: tuple[str, ...] = ("ck", "aldolase", "ldh", "alt", "ast")
MEASURE_COLUMNS: tuple[str, ...] = ("phga", "ptga", "mmt8", "haq", "extramuscular", *ENZYMES)
DEFAULT_ULN: dict[str, float] = {"ck": 200.0, "aldolase": 7.6, "ldh": 250.0, "alt": 40.0, "ast": 40.0}
"""Typical laboratory upper limits of normal (U/L), used only for enzymes without a ULN option."""

# TIS points for absolute percent improvement brackets (upper bounds inclusive):
# worse to <=5%, >5-15%, >15-25%, >25-40%, >40% (MMT: <=2, >2-10, >10-20, >20-30, >30).
_EDGES = (5, 15, 25, 40)
_EDGES_MMT = (2, 10, 20, 30)
TIS_POINTS: dict[str, tuple[float, float, float, float, float]] = {
    "phga": (0, 7.5, 15, 17.5, 20),
    "ptga": (0, 2.5, 5, 7.5, 10),
    "mmt8": (0, 10, 20, 27.5, 32.5),
    "haq": (0, 5, 7.5, 7.5, 10),
    "enzyme": (0, 2.5, 5, 7.5, 7.5),
    "extramuscular": (0, 7.5, 12.5, 15, 20),
}
CATEGORY_THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "adult": (20, 40, 60),
    "juvenile": (30, 45, 70),
}
CATEGORIES: tuple[str, ...] = ("none", "minimal", "moderate", "major")
DOI_IMPROVED = Fraction(20)
DOI_WORSENED = Fraction(-25)

_POS_INF = math.inf
_NEG_INF = -math.inf


def exact(value: float) -> Fraction:
    """The exact rational of a value's shortest decimal representation (``0.8`` -> 4/5)."""
    return Fraction(repr(float(value)))


def percent_improvement(baseline: float, followup: float, *, higher_is_better: bool = False) -> Fraction | float:
    """Percent improvement of one CSM, exact.

    Parameters
    ----------
    baseline, followup : float
        The measure at baseline and follow-up (non-missing).
    higher_is_better : bool
        True for MMT.

    Returns
    -------
    fractions.Fraction or float
        ``(b - f) / b * 100`` (``(f - b) / b * 100`` when higher is better) as an exact
        Fraction; ``-inf`` for a baseline of 0 with a worse follow-up, ``+inf`` for a
        baseline of 0 with a better follow-up (see the module notes), 0 when both are 0.
    """
    b, f = exact(baseline), exact(followup)
    if b == 0:
        if f == 0:
            return Fraction(0)
        worse = (f < 0) if higher_is_better else (f > 0)
        return _NEG_INF if worse else _POS_INF
    diff = (f - b) if higher_is_better else (b - f)
    return diff / b * 100


def tis_points(csm: str, improvement: Fraction | float) -> float:
    """TIS points of one CSM for its percent improvement (worsening scores 0).

    Brackets are ``(lo, hi]`` with inclusive upper bounds: PhGA at exactly 15% improvement
    scores 7.5 (">5-15%"), MMT at exactly 10% scores 10 (">2-10%").
    """
    if improvement == _POS_INF:
        return float(TIS_POINTS[csm][-1])
    if improvement == _NEG_INF or improvement <= 0:
        return 0.0
    edges = _EDGES_MMT if csm == "mmt8" else _EDGES
    k = sum(1 for e in edges if improvement > e)
    return float(TIS_POINTS[csm][k])


def tis_category(tis: float, *, population: str = "adult") -> str:
    """``none``/``minimal``/``moderate``/``major`` for a total improvement score."""
    if population not in CATEGORY_THRESHOLDS:
        raise ValueError(f"unknown population '{population}'; choose adult or juvenile")
    lo, mid, hi = CATEGORY_THRESHOLDS[population]
    if tis >= hi:
        return "major"
    if tis >= mid:
        return "moderate"
    if tis >= lo:
        return "minimal"
    return "none"


@dataclass(frozen=True)
class SubjectResponse:
    """Response of one subject (see :func:`score_subject`)."""

    subject: str
    improvement: dict[str, Fraction | float | None]
    points: dict[str, float | None]
    enzyme: str | None
    imacs_doi: bool | None
    tis: float | None
    tis_category: str | None
    not_evaluable: str


def choose_enzyme(baseline: Mapping[str, float | None], uln: Mapping[str, float]) -> str | None:
    """The enzyme most abnormal at baseline as a multiple of its ULN (``None`` if none)."""
    best, best_ratio = None, None
    for enz in ENZYMES:
        value = baseline.get(enz)
        if value is None or _missing(value) or enz not in uln:
            continue
        ratio = exact(value) / exact(uln[enz])
        if best_ratio is None or ratio > best_ratio:
            best, best_ratio = enz, ratio
    return best


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def score_subject(
    subject: str,
    baseline: Mapping[str, float | None],
    followup: Mapping[str, float | None],
    *,
    uln: Mapping[str, float],
    population: str = "adult",
) -> SubjectResponse:
    """IMACS DOI and TIS of one subject from its baseline and follow-up values.

    Parameters
    ----------
    subject : str
    baseline, followup : mapping
        Measure name (``phga``, ``ptga``, ``mmt8``, ``haq``, ``extramuscular``, enzymes) to
        value; missing measures absent or NaN.
    uln : mapping
        Upper limit of normal per enzyme.
    population : {"adult", "juvenile"}
        TIS category thresholds.

    Notes
    -----
    DOI met iff ``#{CSM: improvement >= 20%} >= 3`` and ``#{CSM: improvement <= -25%} <= 2``
    and MMT improvement ``> -25%``. TIS = sum of :func:`tis_points`.
    """
    enzyme = choose_enzyme(baseline, uln)
    improvement: dict[str, Fraction | float | None] = {}
    points: dict[str, float | None] = {}
    missing: list[str] = []
    for csm in CSMS:
        col = enzyme if csm == "enzyme" else csm
        if col is None:
            improvement[csm] = None
            points[csm] = None
            missing.append("enzyme (no enzyme with a baseline value and a ULN)")
            continue
        b, f = baseline.get(col), followup.get(col)
        if b is None or f is None or _missing(b) or _missing(f):
            improvement[csm] = None
            points[csm] = None
            which = " and ".join(w for w, v in (("baseline", b), ("follow-up", f)) if _missing(v))
            missing.append(f"{col} missing at {which}")
            continue
        pct = percent_improvement(float(b), float(f), higher_is_better=(csm == "mmt8"))
        improvement[csm] = pct
        points[csm] = tis_points(csm, pct)
    if missing:
        return SubjectResponse(subject, improvement, points, enzyme, None, None, None, "; ".join(missing))
    known = [v for v in improvement.values() if v is not None]
    improved = sum(1 for v in known if v >= DOI_IMPROVED)
    worsened = sum(1 for v in known if v <= DOI_WORSENED)
    mmt = improvement["mmt8"]
    mmt_worse = mmt is not None and mmt <= DOI_WORSENED
    doi = improved >= 3 and worsened <= 2 and not mmt_worse
    tis = float(sum(v for v in points.values() if v is not None))
    return SubjectResponse(
        subject, improvement, points, enzyme, doi, tis, tis_category(tis, population=population), ""
    )


def _pct_float(value: Fraction | float | None) -> float:
    if value is None:
        return math.nan
    return float(value)


def score_response(
    clinical: pd.DataFrame,
    *,
    baseline: str = "baseline",
    followup: str = "week12",
    uln: Mapping[str, float] | None = None,
    population: str = "adult",
) -> pd.DataFrame:
    """Score every subject of a long clinical table (one row per subject and visit).

    Parameters
    ----------
    clinical : pandas.DataFrame
        Columns ``subject``, ``visit``, the CSM columns, enzymes, optional ``group``.
    baseline, followup : str
        Visit labels.
    uln : mapping, optional
        ULN per enzyme; enzymes without one use :data:`DEFAULT_ULN` (with a warning).
    population : {"adult", "juvenile"}

    Returns
    -------
    pandas.DataFrame
        Indexed by ``subject``: ``imacs_doi`` (bool or NA), ``tis``, ``tis_category``,
        ``not_evaluable``, ``enzyme``, ``group`` (if given), ``pct_<csm>`` (percent
        improvement; positive = better) and ``points_<csm>``, and the ``n_improved`` /
        ``n_worsened`` counts used by the DOI.
    """
    if population not in CATEGORY_THRESHOLDS:
        raise ValueError(f"unknown population '{population}'; choose adult or juvenile")
    uln_full = resolve_uln(clinical, uln)
    rows = []
    visits = clinical.set_index(["subject", "visit"])
    subjects = list(dict.fromkeys(clinical["subject"].astype(str)))
    for subject in subjects:
        sub = clinical[clinical["subject"].astype(str) == subject]
        present = set(sub["visit"].astype(str))
        base = _row(visits, subject, baseline) if baseline in present else {}
        fup = _row(visits, subject, followup) if followup in present else {}
        res = score_subject(subject, base, fup, uln=uln_full, population=population)
        reason = res.not_evaluable
        if baseline not in present or followup not in present:
            absent = [v for v in (baseline, followup) if v not in present]
            reason = f"no {' or '.join(repr(v) for v in absent)} visit"
        row: dict[str, object] = {
            "subject": subject,
            "imacs_doi": res.imacs_doi if not reason else None,
            "tis": res.tis if not reason else None,
            "tis_category": res.tis_category if not reason else None,
            "not_evaluable": reason,
            "enzyme": res.enzyme or "",
        }
        if "group" in sub.columns:
            groups = sub["group"].dropna().astype(str).unique()
            row["group"] = groups[0] if len(groups) else ""
        for csm in CSMS:
            row[f"pct_{csm}"] = _pct_float(res.improvement.get(csm))
            row[f"points_{csm}"] = res.points.get(csm)
        known = [v for v in res.improvement.values() if v is not None]
        row["n_improved"] = sum(1 for v in known if v >= DOI_IMPROVED)
        row["n_worsened"] = sum(1 for v in known if v <= DOI_WORSENED)
        rows.append(row)
    out = pd.DataFrame(rows).set_index("subject")
    out["imacs_doi"] = out["imacs_doi"].astype("boolean")
    out["tis"] = out["tis"].astype(float)
    return out


def check_uln(uln: Mapping[str, float]) -> None:
    """Raise ValueError unless every upper limit of normal is a positive finite number
    (enzyme / ULN ratios choose the TIS enzyme; a ULN <= 0 makes them meaningless)."""
    bad = [f"{k}={v:g}" for k, v in uln.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"{', '.join(bad)}: an upper limit of normal must be a positive number")


def resolve_uln(clinical: pd.DataFrame, uln: Mapping[str, float] | None) -> dict[str, float]:
    """ULN per enzyme column present: the given value, else :data:`DEFAULT_ULN` (warned)."""
    given = {k.lower(): float(v) for k, v in (uln or {}).items()}
    unknown = sorted(set(given) - set(ENZYMES))
    if unknown:
        raise ValueError(f"ULN given for unknown enzyme(s) {', '.join(unknown)}; choose from {', '.join(ENZYMES)}")
    check_uln(given)
    out = {}
    defaulted = []
    for enz in ENZYMES:
        if enz in clinical.columns and clinical[enz].notna().any():
            if enz in given:
                out[enz] = given[enz]
            else:
                out[enz] = DEFAULT_ULN[enz]
                defaulted.append(f"{enz}={DEFAULT_ULN[enz]:g}")
    if defaulted:
        log.warning("no ULN given for %s: using typical values %s U/L", ", ".join(e.split("=")[0] for e in defaulted), ", ".join(defaulted))
    return out


def _row(visits: pd.DataFrame, subject: str, visit: str) -> dict[str, float | None]:
    rec = visits.loc[[(subject, visit)]].iloc[0]
    return {c: (None if pd.isna(rec[c]) else float(rec[c])) for c in MEASURE_COLUMNS if c in rec.index}
