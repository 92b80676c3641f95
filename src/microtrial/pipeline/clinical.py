"""Clinical stage orchestration: read the clinical (and immune) tables, score the response
with :func:`microtrial.clinical.evaluate_trial`, log its warnings against the file at fault,
write ``clinical-response.tsv``, ``response-rates.tsv``, ``immune-paired.tsv`` and
``run-info.json``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microtrial.clinical import TrialInputError, evaluate_trial, read_clinical, read_immune
from microtrial.errors import InputError, OptionError
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
        raise OptionError("clinical.population", f"'{population}' is not adult or juvenile")
    if baseline == followup:
        raise OptionError("clinical.followup", f"follow-up visit '{followup}' is the baseline visit")
    clinical = Path(clinical)
    out_dir = Path(out_dir)
    table = read_clinical(clinical, mmt_scale=mmt_scale, baseline=baseline, uln=uln)
    visits = set(table["visit"].astype(str))
    for label, opt in ((baseline, "--baseline"), (followup, "--followup")):
        if label not in visits:
            raise InputError(clinical, f"no visit '{label}' ({opt}); visits found: {', '.join(sorted(visits))}",
                             field="visit")
    imm = read_immune(immune) if immune is not None else None
    try:
        result = evaluate_trial(table, immune=imm, baseline=baseline, followup=followup, uln=uln,
                                population=population)
    except TrialInputError as exc:
        if exc.source == "uln":
            what = f"{exc.field}: {exc.message}" if exc.field else exc.message
            raise OptionError("clinical.uln", what) from exc
        raise InputError(clinical if exc.source == "clinical" else immune, exc.message,
                         field=exc.field) from exc
    for source, message in result.warnings:
        log.warning("%s: %s", clinical if source == "clinical" else immune, message)
    if progress:
        progress("clinical response", 1, 2)
    uln_used, paired, responders = result.uln_used, result.immune, result.responders
    start_output(out_dir, command="clinical")
    files = {"clinical-response.tsv": out_dir / "clinical-response.tsv",
             "response-rates.tsv": out_dir / "response-rates.tsv"}
    write_tsv(result.response_table, files["clinical-response.tsv"])
    write_tsv(result.rates, files["response-rates.tsv"])
    if paired is not None:
        files["immune-paired.tsv"] = out_dir / "immune-paired.tsv"
        write_tsv(paired, files["immune-paired.tsv"])
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
    return ClinicalSummary(result.response, responders, result.rates, paired, files)
