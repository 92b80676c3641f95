"""``microtrial validate STUDY.yaml``: check a study file and every file it names."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import options_of_study


@click.command(name="validate", context_settings={"show_default": True})
@click.argument("study", type=click.Path(path_type=Path))
def command(study: Path) -> None:
    """Check STUDY (a study YAML) and the files it names; report every problem at once.

    Prints "ok: <summary>" and exits 0, or lists the problems and exits 2.
    """
    from microtrial.io.metadata import read_metadata
    from microtrial.study import validate_study

    with options_of_study(study):
        s = validate_study(study)
    md = read_metadata(s.metadata)
    n_subjects = md[s.design.subject].nunique()
    groups = md[s.design.group.column].astype(str).value_counts(sort=False)
    group_txt = ", ".join(f"{g} {n}" for g, n in groups.items())
    source = f"reads in {s.reads.dir}" if s.reads is not None else f"table {s.table}"
    click.echo(
        f"ok: {s.name}: {len(md)} samples, {n_subjects} subjects, "
        f"groups ({s.design.group.column}): {group_txt}; "
        f"{len(s.comparisons)} comparisons ({', '.join(c.name for c in s.comparisons)}); "
        f"{source}"
    )
