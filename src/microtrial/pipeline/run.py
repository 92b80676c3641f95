"""``microtrial run``: every stage of a study, from reads (or a table) to the report.

The stages form a graph; each reads files of the study or of earlier stages::

    reads --> denoise --> feature table, ASV sequences
                              |-> classify --> taxonomy --------------------------+
                              |-> tree ----------------------+                    |
    clinical table, immune --> clinical --> metadata + response                   |
    table, metadata(+response), tree ------> diversity --> alpha, beta, tests     |
    table, metadata(+response), taxonomy --> differential --> per-method tables <-+
    table, taxonomy, measures, alpha, ... -> associations
    table, sequences | taxonomy, metadata, measures -> function (predicted pathways + tests)
    every result table + the study's inputs -> report

Every stage goes through :class:`microtrial.pipeline._engine.Engine`: its result is cached
in ``<out>/.microtrial-cache/<stage>/<key>/`` under a key of its inputs' content, its
options, the microtrial version and the fingerprint of its code (its modules' source and
that of every microtrial module they import), so a re-run of the same study reuses every
result, a changed option re-runs only the stages whose inputs it changes, an edited stage
re-runs with the stages reading its results, and a killed run resumes (see the engine
module for how to add a stage). The output folder's ``run-info.json`` is
written last: it lists each stage with its ``status`` (``ran``, ``cached``, ``skipped``),
cache key and seconds, the checksums of the input files, the resolved study, versions and
seeds, and every file the run wrote, so a folder without it is visibly incomplete and the
next run into the folder removes this run's files first (never the study's own inputs).
``microtrial run --replay run-info.json`` re-runs with the recorded settings.

Per-sample and per-chunk work goes to ``--jobs N`` local processes or a Dask cluster
(``--dask-scheduler``) through :mod:`microtrial.parallel`; results do not depend on it, so
it is not part of any cache key (nor are thread counts).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microtrial.errors import InputError, OptionError
from microtrial.pipeline._engine import Engine

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

STAGES = ("denoise", "classify", "tree", "clinical", "diversity", "differential", "associations",
          "function", "report")


@dataclass
class RunRecord:
    """What a run did: each stage's status, key and seconds, skipped stages and why, outputs."""

    out_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    """Options as JSON-able plain data (dataclasses and pydantic models as dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run_study(
    study_path: Path,
    out_dir: Path,
    *,
    threads: int | None = None,
    progress: ProgressCallback | None = None,
    truth_dir: Path | None = None,
    force: bool | Collection[str] = False,
    jobs: int | None = None,
    dask_scheduler: str | None = None,
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
    force : bool or collection of str
        Run every stage (``True``), or the named stages, regardless of the cache.
    jobs : int, optional
        Send per-sample and per-chunk work to a local Dask cluster of ``jobs`` processes.
    dask_scheduler : str, optional
        Send it to the Dask cluster at this address instead.
    """
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.parallel import dask_executor, use_executor
    from microtrial.study import validate_study

    study = validate_study(study_path)
    out_dir = Path(out_dir)
    if not isinstance(force, bool):
        unknown = sorted(set(force) - set(STAGES))
        if unknown:
            raise OptionError("run.force", f"unknown stage {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    # the folder is incomplete until this run finishes; an earlier run's files go
    start_output(out_dir, command="run", keep=[Path(study_path), *_study_paths(study.model_dump()),
                                               *([truth_dir] if truth_dir is not None else [])])
    engine = Engine(out_dir, force=force, progress=progress)
    opts = study.options
    n_threads = threads or opts.threads
    with dask_executor(scheduler=dask_scheduler, jobs=jobs) as executor, use_executor(executor):
        copies = _stages(study, Path(study_path), engine, n_threads, progress, truth_dir)
    rec = RunRecord(out_dir, skipped=dict(engine.skipped))
    for name, res in engine.results.items():
        rec.timings[name] = res.seconds
        rec.outputs[name] = list(res.outputs)
        rec.status[name] = res.status
        rec.keys[name] = res.key
    from microtrial.io.runinfo import _jsonable

    write_run_info(
        out_dir, command="run",
        options={"study": str(Path(study_path).resolve()), "threads": n_threads,
                 "jobs": jobs, "dask_scheduler": dask_scheduler,
                 "force": sorted(force) if not isinstance(force, bool) else force,
                 "truth_dir": str(Path(truth_dir).resolve()) if truth_dir is not None else None,
                 "study_options": opts.model_dump()},
        seeds={"seed": opts.seed},
        timings=rec.timings,
        extra={"stages": engine.records(),
               "stages_completed": list(rec.timings),
               "stages_skipped": rec.skipped, "stage_outputs": rec.outputs,
               "study_checksum": engine.digest(study_path),
               "input_checksums": dict(sorted(engine.checksums.items())),
               "resolved_study": _jsonable(_plain(study.model_dump(exclude={"comparisons"}))),
               "comparisons": _plain(list(study.comparisons))},
        outputs=[*(out_dir / p for files in rec.outputs.values() for p in files), *copies],
    )
    engine.prune()
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)  # left by versions before the cache
    return rec


def _stages(study: Any, study_path: Path, engine: Engine, n_threads: int,
            progress: ProgressCallback | None, truth_dir: Path | None) -> list[Path]:
    """The stage graph (see the module docs); returns the copies of the inputs."""
    out_dir = engine.out_dir
    opts = study.options
    seed = opts.seed
    design = study.design

    # ---- reads -> feature table -------------------------------------------------------
    table_path, seqs_path = _feature_table(study, engine, n_threads, progress)

    # ---- taxonomy and tree ------------------------------------------------------------
    taxonomy_path: Path | None = None
    if seqs_path is not None and study.taxonomy is not None:
        from microtrial.pipeline.classify import classify_stage

        tx = study.taxonomy
        primers: tuple[str | None, str | None] = (None, None)
        if study.reads is not None and tx.extract_region:
            primers = (study.reads.primer_f, study.reads.primer_r)
        classify_opts = {"reference": tx.reference or "greengenes", "confidence": tx.confidence,
                         "primer_f": primers[0], "primer_r": primers[1], "seed": seed}
        res = engine.run(
            "classify",
            lambda sd: classify_stage(seqs_path, sd, ref_seqs=tx.ref_seqs, ref_taxonomy=tx.ref_taxonomy,
                                      threads=n_threads, progress=progress, **classify_opts),
            inputs={"sequences": seqs_path, "ref_seqs": tx.ref_seqs, "ref_taxonomy": tx.ref_taxonomy},
            options=classify_opts,
        )
        taxonomy_path = res.path("taxonomy.tsv")
    elif getattr(study, "taxonomy_file", None) is not None:
        taxonomy_path = study.taxonomy_file
    else:
        engine.skip("classify", "no sequences or no taxonomy reference")

    tree_path: Path | None = None
    if seqs_path is not None and study.tree != "none":
        from microtrial.pipeline.tree import tree_stage

        res = engine.run(
            "tree", lambda sd: tree_stage(seqs_path, sd, method=study.tree, threads=n_threads, progress=progress),
            inputs={"sequences": seqs_path}, options={"method": study.tree},
        )
        tree_path = res.path("tree.nwk")
    elif getattr(study, "tree_file", None) is not None:
        tree_path = study.tree_file
    else:
        engine.skip("tree", "no sequences or tree: none")

    # ---- clinical response: adds the `response` grouping to the metadata --------------
    metadata_path: Path = study.metadata
    if study.clinical is not None:
        from microtrial.pipeline.clinical import clinical_stage

        cl = study.clinical
        clinical_opts = {"baseline": cl.baseline, "followup": cl.followup,
                         "uln": {str(k): float(v) for k, v in cl.uln.items()},
                         "mmt_scale": cl.mmt_scale, "population": cl.population}

        def _clinical(sd: Path) -> None:
            summary = clinical_stage(cl.table, sd, immune=study.immune, progress=progress, **clinical_opts)
            _metadata_with_response(study.metadata, summary.responders, design.subject,
                                    sd / "metadata-with-response.tsv")

        res = engine.run("clinical", _clinical,
                         inputs={"clinical": cl.table, "immune": study.immune, "metadata": study.metadata},
                         options={**clinical_opts, "subject": design.subject},
                         code=("microtrial.pipeline.clinical", "microtrial.clinical",
                               "microtrial.io.metadata"))  # and _metadata_with_response's
        metadata_path = res.path("metadata-with-response.tsv")
    else:
        engine.skip("clinical", "no clinical table in the study file")

    # ---- diversity ----------------------------------------------------------------------
    from microtrial.pipeline.diversity import diversity_stage

    healthy = (design.group.column, design.group.reference)
    div_opts = {"comparisons": _plain(list(study.comparisons)), "subject": design.subject,
                "healthy": healthy, "rarefy": opts.rarefy, "metrics": tuple(opts.beta_metrics),
                "permutations": opts.permutations, "seed": seed}
    diversity = engine.run(
        "diversity",
        lambda sd: diversity_stage(
            table_path, metadata_path, sd, comparisons=study.comparisons, tree=tree_path,
            subject=design.subject, healthy=healthy, rarefy=opts.rarefy,
            metrics=tuple(opts.beta_metrics), permutations=opts.permutations, seed=seed,
            progress=progress,
        ),
        inputs={"table": table_path, "metadata": metadata_path, "tree": tree_path},
        options=div_opts,
    )

    # ---- differential abundance -------------------------------------------------------
    from microtrial.pipeline.differential import differential_stage

    ranks = tuple(opts.ranks) if taxonomy_path is not None else ("asv",)
    diff_opts = {"comparisons": _plain(list(study.comparisons)), "ranks": ranks,
                 "methods": tuple(opts.differential_methods), "covariates": tuple(opts.covariates),
                 "min_prevalence": opts.min_prevalence, "seed": seed}
    differential = engine.run(
        "differential",
        lambda sd: differential_stage(
            table_path, metadata_path, sd, comparisons=study.comparisons,
            taxonomy=taxonomy_path, ranks=ranks, methods=tuple(opts.differential_methods),
            covariates=tuple(opts.covariates), min_prevalence=opts.min_prevalence, seed=seed,
            threads=n_threads, progress=progress,
        ),
        inputs={"table": table_path, "metadata": metadata_path, "taxonomy": taxonomy_path},
        options=diff_opts,
    )

    # ---- associations -----------------------------------------------------------------
    has_measures = any(x is not None for x in (study.clinical, study.immune, study.metabolites))
    followup = study.clinical.followup if study.clinical else _followup_level(study)
    if has_measures and design.time is not None and followup is not None:
        from microtrial.pipeline.associations import associations_stage

        alpha = diversity.path("alpha-diversity.tsv") if diversity.has("alpha-diversity.tsv") else None
        guilds = differential.path("guilds.tsv") if differential.has("guilds.tsv") else None
        assoc_opts = {"subject": design.subject, "time": design.time.column,
                      "ranks": tuple(opts.association_ranks) if taxonomy_path is not None else ("asv",),
                      "baseline": study.clinical.baseline if study.clinical else design.time.reference,
                      "followup": followup, "covariates": tuple(opts.covariates),
                      "min_prevalence": opts.min_prevalence}
        clinical_table = study.clinical.table if study.clinical else None
        engine.run(
            "associations",
            lambda sd: associations_stage(
                sd, table=table_path, metadata=metadata_path, taxonomy=taxonomy_path,
                clinical=clinical_table, immune=study.immune, metabolites=study.metabolites,
                alpha=alpha, guilds=guilds, progress=progress, **assoc_opts,
            ),
            inputs={"table": table_path, "metadata": metadata_path, "taxonomy": taxonomy_path,
                    "clinical": clinical_table, "immune": study.immune,
                    "metabolites": study.metabolites, "alpha": alpha, "guilds": guilds},
            options=assoc_opts,
        )
    elif has_measures and design.time is not None:
        engine.skip("associations", "no follow-up level: no clinical table and no paired "
                    "comparison or single other level of the time column")
    else:
        engine.skip("associations", "no clinical, immune or metabolite measures, or no time column")

    # ---- predicted functions (PICRUSt2 reference, or the embedded genus table) --------
    fn = getattr(study, "function", None)
    if fn is not None and (fn.reference is not None or taxonomy_path is not None):
        from microtrial.pipeline.function import function_study_stage

        fn_followup = study.clinical.followup if study.clinical else _followup_level(study)
        fn_opts = {"pathways_of_interest": list(fn.pathways_of_interest), "max_nsti": fn.max_nsti,
                   "hsp_method": fn.hsp_method, "minpath": fn.minpath, "gap_fill": fn.gap_fill,
                   "comparisons": _plain(list(study.comparisons)), "subject": design.subject,
                   "time": design.time.column if design.time is not None else None,
                   "baseline": (study.clinical.baseline if study.clinical else
                                design.time.reference if design.time is not None else None),
                   "followup": fn_followup, "min_prevalence": opts.min_prevalence, "seed": seed}
        engine.run(
            "function",
            lambda sd: function_study_stage(
                sd, table=table_path, metadata=metadata_path, comparisons=study.comparisons,
                sequences=seqs_path, taxonomy=taxonomy_path, reference=fn.reference,
                pathways_of_interest=fn.pathways_of_interest, max_nsti=fn.max_nsti,
                hsp_method=fn.hsp_method, minpath=fn.minpath, gap_fill=fn.gap_fill,
                subject=design.subject, time_column=fn_opts["time"],
                baseline=fn_opts["baseline"], followup=fn_followup,
                clinical=study.clinical.table if study.clinical else None, immune=study.immune,
                metabolites=study.metabolites, min_prevalence=opts.min_prevalence, seed=seed,
                threads=n_threads, progress=progress,
                genus_traits=fn.genus_traits, map_folder=fn.pathway_maps),
            inputs={"table": table_path, "metadata": metadata_path, "sequences": seqs_path,
                    "taxonomy": taxonomy_path, "reference": fn.reference,
                    "genus_traits": fn.genus_traits, "pathway_maps": fn.pathway_maps,
                    "clinical": study.clinical.table if study.clinical else None,
                    "immune": study.immune, "metabolites": study.metabolites},
            options=fn_opts,
        )
    elif fn is None:
        engine.skip("function", "function: none in the study file")
    else:
        engine.skip("function", "no PICRUSt2 reference and no taxonomy for the genus table")

    # ---- report -------------------------------------------------------------------------
    sources = {"metadata.tsv": study.metadata, "immune.tsv": study.immune,
               "clinical.tsv": study.clinical.table if study.clinical else None,
               "metabolites.tsv": study.metabolites, "study.yaml": study_path}
    sources = {k: v for k, v in sources.items() if v is not None and Path(v).exists()}
    (out_dir / "inputs").mkdir(parents=True, exist_ok=True)
    _copy_inputs(sources, out_dir / "inputs")  # not a stage: always fresh, for the report
    from microtrial.report import design_of_study, write_report

    upstream = [r for n, r in engine.results.items() if n != "report"]
    engine.run(
        "report",  # the design and comparisons as this run resolved them
        lambda sd: write_report(out_dir, sd, title=study.name, truth_dir=truth_dir, finishing_run=True,
                                design=design_of_study(study)),
        inputs={"stages": upstream, "truth": truth_dir, **{f"inputs/{k}": v for k, v in sources.items()}},
        options={"title": study.name, "skipped": dict(sorted(engine.skipped.items()))},
        code=("microtrial.report",),
    )
    return [out_dir / "inputs" / k for k in sources]


def _feature_table(
    study: Any, engine: Engine, threads: int, progress: ProgressCallback | None
) -> tuple[Path, Path | None]:
    """Denoise the study's reads, or take its existing table (and sequences)."""
    if study.reads is not None:
        from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

        r = study.reads
        options = DenoiseOptions.from_settings(r, threads=threads)  # every reads: key
        key_opts = {k: v for k, v in dataclasses.asdict(options).items() if k != "threads"}
        res = engine.run("denoise", lambda sd: denoise_stage(r.dir, sd, options=options, progress=progress),
                         inputs={"reads": r.dir}, options=key_opts)
        return res.path("feature-table.biom"), res.path("dna-sequences.fasta")
    engine.skip("denoise", "the study gives a feature table")
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


def _copy_inputs(paths: dict[str, Path], dest: Path) -> None:
    """Copy the small input tables (so the report can show them) into ``dest``, each
    atomically (a study may name an earlier run's copy: that one is left as it is)."""
    for name, path in paths.items():
        if (dest / name).exists() and os.path.samefile(path, dest / name):
            continue
        tmp = dest / f".{name}.{secrets.token_hex(4)}.tmp"
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest / name)


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


def _followup_level(study: Any) -> str | None:
    """The follow-up level of the time column when there is no clinical table: the test
    level of a paired comparison on it, else its one level besides the reference."""
    time_col = study.design.time.column
    for c in study.comparisons:
        if c.kind == "paired" and c.column == time_col:
            return str(c.levels[0])
    from microtrial.design import column_levels
    from microtrial.io.metadata import read_metadata

    md = read_metadata(study.metadata)
    if time_col not in md.columns:
        return None
    others = [lv for lv in column_levels(md[time_col]) if lv != str(study.design.time.reference)]
    return others[0] if len(others) == 1 else None


def read_replay(path: Path) -> dict[str, Any]:
    """The settings of an earlier run from its ``run-info.json`` (for ``--replay``).

    Returns ``{"study": Path, "threads": int, "truth_dir": Path | None, "out_dir": Path}``.

    Raises
    ------
    InputError
        Not a ``microtrial run`` run-info file, or its study file is gone or was changed
        since (its sha256 differs from the recorded one).
    """
    from microtrial.pipeline._engine import file_digest

    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable run-info.json ({exc})") from None
    if not isinstance(info, dict) or info.get("command") not in ("run", "demo"):
        raise InputError(path, "not the run-info.json of microtrial run")
    options = info.get("options") or {}
    study = options.get("study")
    if not study:
        raise InputError(path, "names no study file (written by an older microtrial?)")
    study_path = Path(study)
    if not study_path.is_file():
        raise InputError(study_path, "the study file of the run to replay is gone")
    recorded = info.get("study_checksum")
    if recorded and file_digest(study_path) != recorded:
        raise InputError(study_path, "changed since the run to replay (sha256 differs from "
                         f"the one in {path}); edit it back or run it afresh")
    for name, digest in (info.get("input_checksums") or {}).items():
        p = Path(name)
        if p.is_file() and file_digest(p) != digest:
            log.warning("input %s changed since the run to replay", p)
    truth = options.get("truth_dir")
    return {"study": study_path, "threads": options.get("threads"),
            "truth_dir": Path(truth) if truth else None, "out_dir": Path(path).resolve().parent}
