"""Clinical stage orchestration: read the clinical (and immune) tables, score the response,
write ``clinical-response.tsv``, ``response-rates.tsv``, ``immune-paired.tsv`` and
``run-info.json``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microtrial.clinical import (
    CSMS,
    ENZYMES,
    MEASURE_COLUMNS,
    immune_paired,
    read_clinical,
    read_immune,
    resolve_uln,
    response_rates,
    score_response,
)
from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open
from microtrial.io.runinfo import start_output, write_run_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClinicalSummary:
    """What :func:`clinical_stage` computed.

    Attributes
    ----------
    response : DataFrame
        One row per subject (index ``subject``), columns as ``clinical-response.tsv``.
    responders : dict
        Subject -> True (IMACS DOI met), False (not met), None (not evaluable).
    rates : DataFrame
        ``response-rates.tsv``.
    immune : DataFrame or None
        ``immune-paired.tsv`` (None without an immune table).
    files : dict
        Output name -> path.
    """

    response: pd.DataFrame
    responders: dict[str, bool | None]
    rates: pd.DataFrame
    immune: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)


def write_tsv(df: pd.DataFrame, path: Path, *, index: bool = False) -> None:
    """Write a TSV atomically (missing values as empty cells, booleans as true/false)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_bool_dtype(out[c]) or str(out[c].dtype) == "boolean":
            out[c] = out[c].map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
    with atomic_open(path) as fh:
        out.to_csv(fh, sep="\t", index=index, na_rep="", float_format="%.10g", lineterminator="\n")


def _response_table(response: pd.DataFrame) -> pd.DataFrame:
    cols = ["imacs_doi", "tis", "tis_category", "not_evaluable", "enzyme"]
    if "group" in response.columns:
        cols.append("group")
    cols += [f"pct_{c}" for c in CSMS] + [f"points_{c}" for c in CSMS] + ["n_improved", "n_worsened"]
    return response[cols].reset_index()


def _check_evaluable(response: pd.DataFrame, table: pd.DataFrame, clinical: Path, *,
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
        raise InputError(clinical, f"no subject is evaluable for IMACS DOI and TIS ({reason})")
    for e in enzymes:
        if at_visits[e].isna().all():
            log.warning("%s: column '%s' has no value at visit '%s' or '%s'; the TIS enzyme is "
                        "chosen among the others", clinical, e, baseline, followup)
    if len(not_eval):
        listed = ", ".join(f"{s} ({r})" for s, r in not_eval["not_evaluable"].head(5).items())
        log.warning("%s: %d of %d subjects not evaluable for IMACS DOI and TIS: %s%s", clinical,
                    len(not_eval), len(response), listed, ", ..." if len(not_eval) > 5 else "")


def _check_immune_visits(imm: pd.DataFrame, immune: Path, *, baseline: str, followup: str) -> None:
    """Both visits present (as the clinical table must have them), and some subject at both."""
    visits = set(imm["visit"].astype(str))
    for label, opt in ((baseline, "--baseline"), (followup, "--followup")):
        if label not in visits:
            raise InputError(immune, f"no visit '{label}' ({opt}); visits found: {', '.join(sorted(visits))}",
                             field="visit")
    at = imm.groupby(imm["subject"].astype(str))["visit"].agg(lambda v: {baseline, followup} <= set(v.astype(str)))
    if not at.any():
        raise InputError(immune, f"no subject has both a '{baseline}' and a '{followup}' visit", field="visit")


def clinical_stage(
    clinical: Path,
    out_dir: Path,
    *,
    immune: Path | None = None,
    baseline: str = "baseline",
    followup: str = "week12",
    uln: Mapping[str, float] | None = None,
    mmt_scale: int = 80,
    population: str = "adult",
    progress: Callable[[str, int, int], None] | None = None,
) -> ClinicalSummary:
    """Score IMACS DOI and TIS per subject, response rates, and paired immune endpoints.

    Writes ``clinical-response.tsv``, ``response-rates.tsv``, ``immune-paired.tsv`` (when
    ``immune`` is given) and ``run-info.json`` into ``out_dir``.
    """
    t0 = time.perf_counter()
    if population not in ("adult", "juvenile"):
        raise InputError("--population", f"'{population}' is not adult or juvenile")
    if baseline == followup:
        raise InputError("--followup", f"follow-up visit '{followup}' is the baseline visit")
    clinical = Path(clinical)
    out_dir = Path(out_dir)
    table = read_clinical(clinical, mmt_scale=mmt_scale, baseline=baseline, uln=uln)
    visits = set(table["visit"].astype(str))
    for label, opt in ((baseline, "--baseline"), (followup, "--followup")):
        if label not in visits:
            raise InputError(clinical, f"no visit '{label}' ({opt}); visits found: {', '.join(sorted(visits))}",
                             field="visit")
    try:
        uln_used = resolve_uln(table, uln)
        response = score_response(table, baseline=baseline, followup=followup, uln=uln_used, population=population)
    except ValueError as exc:
        raise InputError("--uln", str(exc)) from exc
    _check_evaluable(response, table, clinical, baseline=baseline, followup=followup)
    if progress:
        progress("clinical response", 1, 2)
    rates = response_rates(response)
    imm = read_immune(immune) if immune is not None else None
    paired = None
    if imm is not None and immune is not None:
        _check_immune_visits(imm, Path(immune), baseline=baseline, followup=followup)
        paired = immune_paired(imm, baseline=baseline, followup=followup)
        for m in paired.loc[paired["n"] == 0, "measure"]:
            log.warning("%s: column '%s' has no subject measured at both '%s' and '%s': not tested",
                        immune, m, baseline, followup)
    start_output(out_dir, command="clinical")
    files = {"clinical-response.tsv": out_dir / "clinical-response.tsv",
             "response-rates.tsv": out_dir / "response-rates.tsv"}
    write_tsv(_response_table(response), files["clinical-response.tsv"])
    write_tsv(rates, files["response-rates.tsv"])
    if paired is not None:
        files["immune-paired.tsv"] = out_dir / "immune-paired.tsv"
        write_tsv(paired, files["immune-paired.tsv"])
    responders = {str(s): (None if pd.isna(v) else bool(v)) for s, v in response["imacs_doi"].items()}
    n_eval = sum(v is not None for v in responders.values())
    log.info("IMACS DOI met in %d of %d evaluable subjects", sum(bool(v) for v in responders.values()), n_eval)
    write_run_info(
        out_dir, command="clinical",
        options={"clinical": clinical, "immune": immune, "baseline": baseline, "followup": followup,
                 "uln": uln_used, "uln_given": dict(uln or {}), "mmt_scale": mmt_scale,
                 "population": population},
        timings={"clinical": time.perf_counter() - t0},
        extra={"decisions": [
            "baseline 0 and follow-up 0 = no change (0%); baseline 0 and follow-up > 0 = worsened beyond 25% (0 TIS points)",
            "a missing core set measure makes the subject not evaluable (never imputed)",
            "enzyme = the most abnormal at baseline as x ULN",
            "percentages compared in exact rational arithmetic",
        ]},
        outputs=files.values(),
    )
    if progress:
        progress("clinical response", 2, 2)
    return ClinicalSummary(response, responders, rates, paired, files)
