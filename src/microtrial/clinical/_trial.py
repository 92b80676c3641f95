"""The clinical stage's one entry point: a read clinical (and immune) table -> scored
response, response rates, paired immune endpoints, with the warnings a user should see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ._response import CSMS, ENZYMES, MEASURE_COLUMNS, resolve_uln, score_response
from ._summary import immune_paired, response_rates


class TrialInputError(ValueError):
    """A problem with one of :func:`evaluate_trial`'s inputs.

    Attributes
    ----------
    source : {"uln", "clinical", "immune"}
        Which input is at fault (the caller names the file or option).
    field : str or None
        Column at fault, when known.
    """

    def __init__(self, source: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ClinicalResult:
    """What :func:`evaluate_trial` computed.

    Attributes
    ----------
    response : DataFrame
        One row per subject (index ``subject``), every scored column.
    response_table : DataFrame
        The columns of ``clinical-response.tsv``, ``subject`` as a column.
    responders : dict
        Subject -> True (IMACS DOI met), False (not met), None (not evaluable).
    rates : DataFrame
        ``response-rates.tsv``.
    immune : DataFrame or None
        ``immune-paired.tsv`` (None without an immune table).
    uln_used : dict
        Upper limits of normal used per enzyme.
    warnings : tuple of (str, str)
        ``(source, message)`` in the order found; ``source`` is ``"clinical"`` or ``"immune"``.
    """

    response: pd.DataFrame
    response_table: pd.DataFrame
    responders: dict[str, bool | None]
    rates: pd.DataFrame
    immune: pd.DataFrame | None
    uln_used: dict[str, float]
    warnings: tuple[tuple[str, str], ...] = ()


def _response_table(response: pd.DataFrame) -> pd.DataFrame:
    cols = ["imacs_doi", "tis", "tis_category", "not_evaluable", "enzyme"]
    if "group" in response.columns:
        cols.append("group")
    cols += [f"pct_{c}" for c in CSMS] + [f"points_{c}" for c in CSMS] + ["n_improved", "n_worsened"]
    return response[cols].reset_index()


def _check_evaluable(response: pd.DataFrame, table: pd.DataFrame, warnings: list[tuple[str, str]], *,
                     baseline: str, followup: str) -> None:
    """Warn about subjects not evaluable (naming the columns at fault); an error when not
    one subject is evaluable (the stage would have no result)."""
    at_visits = table[table["visit"].astype(str).isin([baseline, followup])]
    core = [c for c in MEASURE_COLUMNS if c not in ENZYMES and c in at_visits.columns]
    empty = [c for c in core if at_visits[c].isna().all()]
    enzymes = [e for e in ENZYMES if e in at_visits.columns]
    if enzymes and all(at_visits[e].isna().all() for e in enzymes):
        empty.append(f"every enzyme ({', '.join(enzymes)})")
    not_eval = response[response["imacs_doi"].isna()]
    if len(not_eval) == len(response):
        if empty:
            what = (f"column {empty[0]!r} has" if len(empty) == 1
                    else f"columns {', '.join(repr(c) for c in empty)} have")
            reason = f"{what} no value at visit '{baseline}' or '{followup}'"
        else:
            reason = "; ".join(f"{s}: {r}" for s, r in not_eval["not_evaluable"].head(3).items())
            reason += "; ..." if len(not_eval) > 3 else ""
        raise TrialInputError("clinical", f"no subject is evaluable for IMACS DOI and TIS ({reason})")
    for e in enzymes:
        if at_visits[e].isna().all():
            warnings.append(("clinical", f"column '{e}' has no value at visit '{baseline}' or "
                             f"'{followup}'; the TIS enzyme is chosen among the others"))
    if len(not_eval):
        listed = ", ".join(f"{s} ({r})" for s, r in not_eval["not_evaluable"].head(5).items())
        warnings.append(("clinical", f"{len(not_eval)} of {len(response)} subjects not evaluable for "
                         f"IMACS DOI and TIS: {listed}{', ...' if len(not_eval) > 5 else ''}"))


def _check_immune_visits(imm: pd.DataFrame, *, baseline: str, followup: str) -> None:
    """Both visits present (as the clinical table must have them), and some subject at both."""
    visits = set(imm["visit"].astype(str))
    for label, opt in ((baseline, "--baseline"), (followup, "--followup")):
        if label not in visits:
            raise TrialInputError("immune", f"no visit '{label}' ({opt}); visits found: "
                                  f"{', '.join(sorted(visits))}", field="visit")
    at = imm.groupby(imm["subject"].astype(str))["visit"].agg(lambda v: {baseline, followup} <= set(v.astype(str)))
    if not at.any():
        raise TrialInputError("immune", f"no subject has both a '{baseline}' and a '{followup}' visit",
                              field="visit")


def evaluate_trial(table: pd.DataFrame, *, immune: pd.DataFrame | None = None,
                   baseline: str = "baseline", followup: str = "week12",
                   uln: Mapping[str, float] | None = None,
                   population: str = "adult") -> ClinicalResult:
    """Score IMACS DOI and TIS per subject, response rates, and paired immune endpoints.

    Parameters
    ----------
    table : DataFrame
        The clinical table as :func:`read_clinical` returns it (both visits present).
    immune : DataFrame, optional
        The immune table as :func:`read_immune` returns it.
    baseline, followup : str
        Visit labels.
    uln : mapping, optional
        Upper limits of normal given by the user (the rest from the table or defaults).
    population : {"adult", "juvenile"}
        TIS category thresholds.

    Returns
    -------
    ClinicalResult

    Raises
    ------
    TrialInputError
        Bad upper limits (``source="uln"``), no evaluable subject (``"clinical"``), or an
        immune table lacking a visit (``"immune"``).
    """
    try:
        uln_used = resolve_uln(table, uln)
        response = score_response(table, baseline=baseline, followup=followup, uln=uln_used,
                                  population=population)
    except ValueError as exc:
        raise TrialInputError("uln", str(exc)) from exc
    warnings: list[tuple[str, str]] = []
    _check_evaluable(response, table, warnings, baseline=baseline, followup=followup)
    rates = response_rates(response)
    paired = None
    if immune is not None:
        _check_immune_visits(immune, baseline=baseline, followup=followup)
        paired = immune_paired(immune, baseline=baseline, followup=followup)
        for m in paired.loc[paired["n"] == 0, "measure"]:
            warnings.append(("immune", f"column '{m}' has no subject measured at both '{baseline}' "
                             f"and '{followup}': not tested"))
    responders = {str(s): (None if pd.isna(v) else bool(v)) for s, v in response["imacs_doi"].items()}
    return ClinicalResult(response=response, response_table=_response_table(response),
                          responders=responders, rates=rates, immune=paired, uln_used=uln_used,
                          warnings=tuple(warnings))
