"""``microtrial clinical``: IMACS DOI, ACR/EULAR TIS, response rates, paired immune endpoints."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import existing_file, output_option, parse_key_values, progress_bars


@click.command(name="clinical")
@click.option("--clinical", "clinical", required=True, type=click.Path(path_type=Path),
              help="Long TSV: subject, visit, phga, ptga, mmt8, haq, extramuscular, enzymes "
                   "(ck, aldolase, ldh, alt, ast), optional group.")
@click.option("--immune", type=click.Path(path_type=Path), default=None,
              help="Long TSV: subject, visit, one column per immune measure (e.g. treg_pct_cd4).")
@click.option("--baseline", default="baseline", show_default=True, help="Baseline visit label.")
@click.option("--followup", default="week12", show_default=True, help="Follow-up visit label.")
@click.option("--uln", default=None,
              help="Upper limits of normal, e.g. ck=200,ldh=250 (enzymes without one use typical "
                   "values: ck=200, aldolase=7.6, ldh=250, alt=40, ast=40 U/L).")
@click.option("--mmt-scale", type=click.Choice(["80", "150"]), default="80", show_default=True,
              help="MMT-8 scale: 0-80 (unilateral) or 0-150 (bilateral).")
@click.option("--population", type=click.Choice(["adult", "juvenile"]), default="adult",
              show_default=True, help="TIS category thresholds: adult DM/PM or juvenile DM.")
@output_option
def command(clinical: Path, immune: Path | None, baseline: str, followup: str, uln: str | None,
            mmt_scale: str, population: str, output_dir: Path) -> None:
    """Clinical response (IMACS DOI, 2016 ACR/EULAR TIS) and paired immune endpoints."""
    from microtrial.clinical import check_uln
    from microtrial.errors import InputError
    from microtrial.pipeline.clinical import clinical_stage

    limits = parse_key_values(uln, "--uln")
    try:
        check_uln(limits)  # before the table is read: its entry checks divide by the ULN
    except ValueError as exc:
        raise InputError("--uln", str(exc)) from None
    existing_file(clinical)
    if immune is not None:
        existing_file(immune)
    with progress_bars() as progress:
        summary = clinical_stage(
            clinical, output_dir, immune=immune, baseline=baseline, followup=followup,
            uln=limits, mmt_scale=int(mmt_scale), population=population, progress=progress,
        )
    met = sum(bool(v) for v in summary.responders.values())
    n = sum(v is not None for v in summary.responders.values())
    click.echo(f"IMACS DOI met: {met}/{n} evaluable subjects; results in {output_dir}")
