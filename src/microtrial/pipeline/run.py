"""``microtrial run``: every stage of a study, from reads (or a table) to the report.

Each stage runs into its own staging folder and its files are then moved into the output
folder with ``os.replace`` (atomic per file); the stage's ``run-info.json`` is kept as
``logs/<stage>.run-info.json``. The output folder's ``run-info.json`` is written last and
lists the stages that completed and every file the run wrote, so a folder without it is
visibly incomplete, and the next run into the folder removes this run's files first (never
the study's own input files, should they lie in the folder).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microtrial.errors import InputError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

STAGES = ("denoise", "classify", "tree", "clinical", "diversity", "differential", "associations", "report")


@dataclass
class RunRecord:
    """What a run did: stage timings, skipped stages and why, and where outputs are."""

    out_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, progress: ProgressCallback | None) -> Iterator[Path]:
        """Run a stage in a staging folder, then move its files up into ``out_dir``."""
        staging = self.out_dir / ".staging" / name
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        if progress:
            progress(f"stage: {name}", 0, 1)
        t0 = time.perf_counter()
        yield staging
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.outputs[name] = _promote(staging, self.out_dir, name)
        shutil.rmtree(staging, ignore_errors=True)
        if progress:
            progress(f"stage: {name}", 1, 1)

    def skip(self, name: str, reason: str) -> None:
        log.info("stage %s skipped: %s", name, reason)
        self.skipped[name] = reason


def _promote(staging: Path, out_dir: Path, stage: str) -> list[str]:
    """Move every file of a finished stage into ``out_dir`` (run-info.json into logs/)."""
    moved = []
    for src in sorted(staging.rglob("*")):
        if src.is_dir():
            continue
        rel = src.relative_to(staging)
        dest = out_dir / "logs" / f"{stage}.run-info.json" if rel.as_posix() == "run-info.json" else out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        moved.append(dest.relative_to(out_dir).as_posix())
    return moved


def run_study(
    study_path: Path,
    out_dir: Path,
    *,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    truth_dir: Path | None = None,
) -> RunRecord:
    """Run every stage the study file asks for; write everything into ``out_dir``.

    Parameters
    ----------
    study_path : Path
        The study YAML (validated first; every problem is reported at once).
    out_dir : Path
        Output folder; created if needed.
    threads : int, optional
        Overrides the study's ``options.threads``.
    progress : callable, optional
        ``progress(description, done, total)``.
    truth_dir : Path, optional
        A simulator's ``truth/`` folder: the report then scores the results against it.
    """
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.study import validate_study

    study = validate_study(study_path)
    out_dir = Path(out_dir)
    # the folder is incomplete until this run finishes; an earlier run's files go
    start_output(out_dir, command="run", keep=[Path(study_path), *_study_paths(study.model_dump()),
                                               *([truth_dir] if truth_dir is not None else [])])
    rec = RunRecord(out_dir)
    opts = study.options
    n_threads = threads or opts.threads
    seed = opts.seed

    # ---- reads -> feature table -------------------------------------------------------
    table_path, seqs_path = _feature_table(study, rec, n_threads, progress)

    # ---- taxonomy and tree ------------------------------------------------------------
    taxonomy_path = None
    if seqs_path is not None and study.taxonomy is not None:
        from microtrial.pipeline.classify import classify_stage

        tx = study.taxonomy
        primers: tuple[str | None, str | None] = (None, None)
        if study.reads is not None and tx.extract_region:
            primers = (study.reads.primer_f, study.reads.primer_r)
        with rec.stage("classify", progress) as sd:
            classify_stage(
                seqs_path, sd, reference=tx.reference or "greengenes", ref_seqs=tx.ref_seqs,
                ref_taxonomy=tx.ref_taxonomy, confidence=tx.confidence,
                primer_f=primers[0], primer_r=primers[1], threads=n_threads, seed=seed,
                progress=progress,
            )
        taxonomy_path = out_dir / "taxonomy.tsv"
    elif getattr(study, "taxonomy_file", None) is not None:
        taxonomy_path = study.taxonomy_file
    else:
        rec.skip("classify", "no sequences or no taxonomy reference")

    tree_path = None
    if seqs_path is not None and study.tree != "none":
        from microtrial.pipeline.tree import tree_stage

        with rec.stage("tree", progress) as sd:
            tree_stage(seqs_path, sd, method=study.tree, threads=n_threads, progress=progress)
        tree_path = out_dir / "tree.nwk"
    elif getattr(study, "tree_file", None) is not None:
        tree_path = study.tree_file
    else:
        rec.skip("tree", "no sequences or tree: none")

    # ---- clinical response: adds the `response` grouping to the metadata --------------
    metadata_path = study.metadata
    design = study.design
    if study.clinical is not None:
        from microtrial.pipeline.clinical import clinical_stage

        cl = study.clinical
        with rec.stage("clinical", progress) as sd:
            summary = clinical_stage(
                cl.table, sd, immune=study.immune, baseline=cl.baseline, followup=cl.followup,
                uln={str(k): float(v) for k, v in cl.uln.items()}, mmt_scale=cl.mmt_scale, population=cl.population,
                progress=progress,
            )
            metadata_path = _metadata_with_response(
                study.metadata, summary.responders, design.subject, sd / "metadata-with-response.tsv"
            )
        metadata_path = out_dir / "metadata-with-response.tsv"
    else:
        rec.skip("clinical", "no clinical table in the study file")

    # ---- diversity ----------------------------------------------------------------------
    from microtrial.pipeline.diversity import diversity_stage

    healthy = (design.group.column, design.group.reference)
    with rec.stage("diversity", progress) as sd:
        diversity_stage(
            table_path, metadata_path, sd, comparisons=study.comparisons, tree=tree_path,
            subject=design.subject, healthy=healthy, rarefy=opts.rarefy,
            metrics=tuple(opts.beta_metrics), permutations=opts.permutations, seed=seed,
            progress=progress,
        )

    # ---- differential abundance -------------------------------------------------------
    from microtrial.pipeline.differential import differential_stage

    ranks = tuple(opts.ranks) if taxonomy_path is not None else ("asv",)
    with rec.stage("differential", progress) as sd:
        differential_stage(
            table_path, metadata_path, sd, comparisons=study.comparisons,
            taxonomy=taxonomy_path, ranks=ranks, methods=tuple(opts.differential_methods),
            covariates=tuple(opts.covariates), min_prevalence=opts.min_prevalence, seed=seed,
            threads=n_threads, progress=progress,
        )

    # ---- associations -----------------------------------------------------------------
    has_measures = any(x is not None for x in (study.clinical, study.immune, study.metabolites))
    if has_measures and design.time is not None:
        from microtrial.pipeline.associations import associations_stage

        guilds = out_dir / "guilds.tsv"
        with rec.stage("associations", progress) as sd:
            associations_stage(
                sd, table=table_path, metadata=metadata_path, subject=design.subject,
                time=design.time.column, taxonomy=taxonomy_path,
                clinical=study.clinical.table if study.clinical else None,
                immune=study.immune, metabolites=study.metabolites,
                alpha=out_dir / "alpha-diversity.tsv",
                guilds=guilds if guilds.exists() else None,
                ranks=tuple(opts.association_ranks) if taxonomy_path is not None else ("asv",),
                baseline=study.clinical.baseline if study.clinical else design.time.reference,
                followup=study.clinical.followup if study.clinical else _other_level(study),
                covariates=tuple(opts.covariates), min_prevalence=opts.min_prevalence,
                progress=progress,
            )
    else:
        rec.skip("associations", "no clinical, immune or metabolite measures, or no time column")

    # ---- report -------------------------------------------------------------------------
    copies = _copy_inputs(
        {"metadata.tsv": study.metadata, "immune.tsv": study.immune,
         "clinical.tsv": study.clinical.table if study.clinical else None,
         "metabolites.tsv": study.metabolites, "study.yaml": Path(study_path)},
        out_dir,
    )
    from microtrial.report import write_report

    with rec.stage("report", progress) as sd:
        write_report(out_dir, sd, title=study.name, truth_dir=truth_dir, finishing_run=True)

    write_run_info(
        out_dir, command="run",
        options={"study": str(study_path), "threads": n_threads, "study_options": opts.model_dump()},
        seeds={"seed": seed}, timings=rec.timings,
        extra={"stages_completed": list(rec.timings), "stages_skipped": rec.skipped,
               "stage_outputs": rec.outputs},
        outputs=[*(out_dir / p for files in rec.outputs.values() for p in files), *copies],
    )
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)
    return rec


def _feature_table(
    study: Any, rec: RunRecord, threads: int, progress: ProgressCallback | None
) -> tuple[Path, Path | None]:
    """Denoise the study's reads, or take its existing table (and sequences)."""
    out_dir = rec.out_dir
    if study.reads is not None:
        from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

        r = study.reads
        options = DenoiseOptions(
            trunc_len_f=r.trunc_len_f, trunc_len_r=r.trunc_len_r, max_ee=tuple(r.max_ee),
            trunc_q=r.trunc_q, primer_f=r.primer_f, primer_r=r.primer_r, pool=r.pool,
            min_overlap=r.min_overlap, max_mismatch=r.max_mismatch, reverse_partners=r.reverse_partners,
            chimera_one_off=r.chimera_one_off, min_reads=r.min_reads, threads=threads,
        )
        with rec.stage("denoise", progress) as sd:
            denoise_stage(r.dir, sd, options=options, progress=progress)
        return out_dir / "feature-table.biom", out_dir / "dna-sequences.fasta"
    rec.skip("denoise", "the study gives a feature table")
    if study.table is None:
        raise InputError(None, "the study file names neither reads nor a table")
    return study.table, study.sequences


def _metadata_with_response(
    metadata: Path, responders: dict[str, bool | None], subject_col: str, dest: Path
) -> Path:
    """Copy the metadata with a ``response`` column (responder / non-responder / empty)."""
    from microtrial.clinical import responders_metadata
    from microtrial.io.metadata import read_metadata, write_metadata

    write_metadata(responders_metadata(responders, read_metadata(metadata), subject_col), dest)
    return dest


def _copy_inputs(paths: dict[str, Path | None], results: Path) -> list[Path]:
    """Copy the small input tables into ``results/inputs/`` so the report can show them;
    returns the copies."""
    dest = results / "inputs"
    dest.mkdir(parents=True, exist_ok=True)
    copies = []
    for name, path in paths.items():
        if path is not None and Path(path).exists():
            if not (dest / name).exists() or not os.path.samefile(path, dest / name):
                shutil.copyfile(path, dest / name)  # (a study may name an earlier run's copy)
            copies.append(dest / name)
    return copies


def _study_paths(value: Any) -> Iterable[Path]:
    """Every file or folder named anywhere in a study (``Study.model_dump()``)."""
    if isinstance(value, Path):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _study_paths(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _study_paths(v)


def _other_level(study: Any) -> str:
    for c in study.comparisons:
        if c.kind == "paired":
            return c.levels[0]
    return "week12"
