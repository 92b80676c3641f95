"""``microtrial simulate -o DIR``: a simulated trial with reads, subject data and truth."""

from __future__ import annotations

import time
from pathlib import Path

import click

from microtrial.cli._common import output_option, progress_bars


@click.command(name="simulate", context_settings={"show_default": True})
@output_option
@click.option(
    "--design",
    "kind",
    type=click.Choice(["trial", "animal"]),
    default="trial",
    show_default=True,
    help="trial: the dermatomyositis trial (patients at baseline and week12, controls); "
    "animal: the NOD mouse experiment (IL-2 vs control mice before and after, in cages).",
)
@click.option(
    "--mice",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="--design animal: mice per arm (IL-2 and control).",
)
@click.option(
    "--weeks",
    default="0,4",
    show_default=True,
    help="--design animal: sampling weeks, increasing (e.g. 0,2,4 adds a middle time point).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),  # the study file's options.seed range
    default=1,
    show_default=True,
    help="Random seed (0 to 2^32-1); the same seed gives identical files.",
)
@click.option(
    "--patients",
    type=click.IntRange(min=1),
    default=13,
    show_default=True,
    help="Patients, each sampled at baseline and week12.",
)
@click.option(
    "--controls",
    type=click.IntRange(min=0),
    default=15,
    show_default=True,
    help="Healthy controls, sampled at baseline.",
)
@click.option(
    "--nonresponders",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Patients who do not meet the IMACS definition of improvement.",
)
@click.option(
    "--reads-per-sample",
    type=click.IntRange(min=10),
    default=3000,
    show_default=True,
    help="Read pairs per sample (each sample varies by +-20%).",
)
@click.option(
    "--read-length",
    type=click.IntRange(min=50),
    default=300,
    show_default=True,
    help="Length of each read of a pair (nt).",
)
@click.option(
    "--region",
    type=click.Choice(["V3-V4", "V4"]),
    default="V3-V4",
    show_default=True,
    help="Amplified region: V3-V4 (341F/805R) or V4 (515F/806R).",
)
@click.option(
    "--chimera-rate",
    type=click.FloatRange(0, 0.5, max_open=True),
    default=0.03,
    show_default=True,
    help="Fraction of read pairs from PCR chimeras.",
)
def command(
    output_dir: Path,
    kind: str,
    mice: int,
    weeks: str,
    seed: int,
    patients: int,
    controls: int,
    nonresponders: int,
    reads_per_sample: int,
    read_length: int,
    region: str,
    chimera_rate: float,
) -> None:
    """Simulate a small trial over real 16S genes (Greengenes 13_8) with its ground truth.

    --design animal simulates the NOD mouse experiment instead (IL-2 vs control mice,
    before and after, cages, an age drift; its study.yaml asks the treatment-by-time
    interaction; truth/effects.tsv separates interaction from time-only features).

    Writes reads/ (paired FASTQ.gz, Illumina names), metadata.tsv, clinical.tsv, immune.tsv,
    metabolites.tsv, study.yaml (ready for `microtrial run`) and truth/.
    """
    from microtrial.errors import InputError
    from microtrial.pipeline.simulate import simulate_stage
    from microtrial.simulate import SimulationDesign

    ctx = click.get_current_context()
    from click.core import ParameterSource

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

    wrong = [f"--{n}" for n in (("patients", "controls", "nonresponders") if kind == "animal"
                                else ("mice", "weeks")) if given(n)]
    if wrong:
        raise InputError(wrong[0], f"does not apply to --design {kind}")
    if kind == "animal":
        from microtrial.pipeline.simulate import simulate_animal_stage
        from microtrial.simulate import AnimalDesign

        try:
            week_list = tuple(int(w) for w in weeks.split(","))
        except ValueError:
            raise InputError("--weeks", f"'{weeks}' is not a comma-separated list of whole "
                                        f"weeks") from None
        if len(week_list) < 2 or list(week_list) != sorted(set(week_list)):
            raise InputError("--weeks", f"give two or more increasing weeks (got '{weeks}')")
        reads = SimulationDesign(reads_per_sample=reads_per_sample, read_length=read_length,
                                 region=region, chimera_rate=chimera_rate)
        animal = AnimalDesign(n_il2=mice, n_control=mice, weeks=week_list, reads=reads)
        t0 = time.perf_counter()
        with progress_bars() as progress:
            study = simulate_animal_stage(output_dir, design=animal, seed=seed,
                                          progress=progress)
        click.echo(f"study: {study}")
        click.echo(f"simulate time: {time.perf_counter() - t0:.1f} s")
        return
    if nonresponders > patients:
        raise InputError("--nonresponders", f"{nonresponders} is more than --patients {patients}")
    design = SimulationDesign(
        n_patients=patients,
        n_controls=controls,
        n_nonresponders=nonresponders,
        reads_per_sample=reads_per_sample,
        read_length=read_length,
        region=region,
        chimera_rate=chimera_rate,
    )
    t0 = time.perf_counter()
    with progress_bars() as progress:
        study = simulate_stage(output_dir, design=design, seed=seed, progress=progress)
    click.echo(f"study: {study}")
    click.echo(f"simulate time: {time.perf_counter() - t0:.1f} s")
