"""``microtrial qza import|export``: QIIME 2 artifacts in and out."""

from __future__ import annotations

from pathlib import Path

import click

from microtrial.cli._common import output_option


@click.group(name="qza", context_settings={"show_default": True})
def command() -> None:
    """Import files into QIIME 2 artifacts (.qza) and export their data."""


@command.command(name="export", context_settings={"show_default": True})
@click.argument("artifact", type=click.Path(path_type=Path))
@output_option
def export_cmd(artifact: Path, output_dir: Path) -> None:
    """Extract ARTIFACT's data/ files (e.g. feature-table.biom) into the output folder.

    The folder also gets run-info.json recording the artifact's UUID and type.
    """
    from microtrial.io.qza import export_qza, qza_info
    from microtrial.io.runinfo import start_output, write_run_info

    info = qza_info(artifact)
    start_output(output_dir, command="qza export")
    files = export_qza(artifact, output_dir)
    for path in files:
        click.echo(f"{info.type}: {path}")
    write_run_info(
        output_dir, command="qza export", options={"artifact": str(artifact)},
        extra={"artifact": {"uuid": info.uuid, "type": info.type, "format": info.format,
                            "archive_version": info.archive_version}},
        outputs=files,
    )


@command.command(name="import", context_settings={"show_default": True})
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--type", "semantic_type", required=True,
    type=click.Choice(["FeatureTable[Frequency]", "FeatureData[Sequence]",
                       "FeatureData[Taxonomy]", "Phylogeny[Rooted]"]),
    help="QIIME 2 semantic type of SOURCE.",
)
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Output .qza file.")
def import_cmd(source: Path, semantic_type: str, output: Path) -> None:
    """Validate SOURCE (BIOM/TSV table, FASTA, taxonomy TSV or Newick) and wrap it as a .qza."""
    from microtrial.io.qza import import_file

    uid = import_file(source, output, semantic_type=semantic_type)
    click.echo(f"{output}: {semantic_type} (uuid {uid})")
