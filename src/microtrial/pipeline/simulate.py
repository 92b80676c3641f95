"""``microtrial simulate``: write a simulated trial (reads, subject data, study.yaml, truth).

Layout of ``out_dir``::

    reads/<sample-id>_S<n>_L001_R{1,2}_001.fastq.gz
    metadata.tsv  clinical.tsv  immune.tsv  metabolites.tsv  study.yaml  run-info.json
    truth/asv-sequences.fasta  taxonomy.tsv  composition.tsv  counts.tsv
          read-origins.tsv.gz  chimeras.fasta  chimeras.tsv  effects.tsv  responders.tsv
          associations.tsv  guild-abundance.tsv  reference-pool.tsv  design.json
          function-pathways.tsv  function-carriers.tsv
    function/genus-traits.tsv  (simulated EC copies per genus, named in study.yaml)

Every file is written atomically; ``study.yaml`` and then ``run-info.json`` come last, so a
folder without them is visibly incomplete. Gzip members carry no time stamp, so the same
seed gives byte-identical files.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml

from microtrial.design import RESPONSE_COLUMN, RESPONSE_LEVELS
from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import atomic_open, atomic_path
from microtrial.io.fasta import write_fasta
from microtrial.io.feature_table import write_table_tsv
from microtrial.io.metadata import write_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.io.taxonomy import write_taxonomy
from microtrial.simulate import (
    AnimalDesign,
    SimulatedAnimal,
    SimulatedTrial,
    SimulationDesign,
    animal_study_dict,
    simulate_animal,
    simulate_trial,
)
from microtrial.table import FeatureTable

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
_FASTQ_RE = re.compile(r".*_R[12]_001\.fastq\.gz$")


def simulate_animal_stage(
    out_dir: Path,
    *,
    design: AnimalDesign | None = None,
    seed: int = 1,
    progress: ProgressCallback | None = None,
) -> Path:
    """Simulate the NOD mouse experiment (:func:`microtrial.simulate.simulate_animal`) into
    ``out_dir`` and return its ``study.yaml`` (the interaction question).

    Writes ``reads/``, ``metadata.tsv``, ``study.yaml``, ``run-info.json`` and ``truth/``
    (``asv-sequences.fasta``, ``taxonomy.tsv``, ``composition.tsv``, ``counts.tsv``,
    ``chimeras.tsv``, ``effects.tsv`` with each feature's ``interaction``/``time-only``/
    ``none`` class, ``mice.tsv``, ``design.json``).
    """
    design = design or AnimalDesign()
    out_dir = Path(out_dir)
    sim, outputs, timings = _simulate_with_reads(
        out_dir, seed, lambda: simulate_animal(design, seed=seed), progress)
    write_metadata(sim.metadata, out_dir / "metadata.tsv")
    outputs.append(out_dir / "metadata.tsv")
    truth = out_dir / "truth"
    outputs += _write_shared_truth(sim, truth, ("asv-sequences.fasta", "taxonomy.tsv",
                                                "composition.tsv", "counts.tsv", "chimeras.tsv",
                                                "effects.tsv", "mice.tsv", "design.json"))
    _write_tsv(sim.mice, truth / "mice.tsv", index=True)
    study = out_dir / "study.yaml"
    with atomic_open(study) as fh:
        fh.write(f"# Simulated by microtrial simulate --design animal (seed {seed}); truth in truth/\n")
        yaml.safe_dump(animal_study_dict(sim), fh, sort_keys=False, default_flow_style=None)
    outputs.append(study)
    write_run_info(out_dir, command="simulate", options=design.to_dict(), seeds={"simulate": seed},
                   timings=timings,
                   extra={"design": "animal", "samples": len(sim.sample_ids),
                          "features": len(sim.pool),
                          "read_pairs": int(sum(len(s.source) for s in sim.sources.values()))},
                   outputs=outputs)
    return study


def simulate_stage(
    out_dir: Path,
    *,
    design: SimulationDesign | None = None,
    seed: int = 1,
    progress: ProgressCallback | None = None,
) -> Path:
    """Simulate a trial into ``out_dir`` and return the path of its ``study.yaml``.

    Parameters
    ----------
    out_dir : Path
        Output folder (created if needed). FASTQ files left in ``reads/`` by an earlier
        ``simulate`` run there are removed; a ``reads/`` folder with FASTQ files from
        elsewhere is refused rather than mixed with ours.
    design : SimulationDesign, optional
        Simulation parameters (defaults: 13 patients x 2 visits + 15 controls, 3,000 pairs).
    seed : int
        Non-negative seed; same seed and design give byte-identical outputs.
    progress : callable, optional
        ``progress(description, done, total)``.
    """
    design = design or SimulationDesign()
    out_dir = Path(out_dir)
    trial, outputs, timings = _simulate_with_reads(
        out_dir, seed, lambda: simulate_trial(design, seed=seed), progress)

    t0 = time.perf_counter()
    outputs += _write_subject_data(trial, out_dir)
    outputs += _write_truth(trial, out_dir / "truth")
    outputs += _write_functions(trial, out_dir)  # simulated gene content (function stage)
    timings["tables"] = round(time.perf_counter() - t0, 3)
    study = out_dir / "study.yaml"
    with atomic_open(study) as fh:
        fh.write(f"# Simulated by microtrial simulate (seed {seed}); truth in truth/\n")
        yaml.safe_dump(study_dict(trial), fh, sort_keys=False, default_flow_style=None)
    outputs.append(study)
    write_run_info(
        out_dir,
        command="simulate",
        options=design.to_dict(),
        seeds={"simulate": seed},
        timings=timings,
        extra={
            "samples": len(trial.sample_ids),
            "features": len(trial.pool),
            "read_pairs": int(sum(len(s.source) for s in trial.sources.values())),
        },
        outputs=outputs,
    )
    return study


_Sim = TypeVar("_Sim", SimulatedTrial, SimulatedAnimal)


def _simulate_with_reads(out_dir: Path, seed: int, simulate: Callable[[], _Sim],
                         progress: ProgressCallback | None
                         ) -> tuple[_Sim, list[Path], dict[str, float]]:
    """The simulators' common start: check the seed and ``reads/`` (refusing FASTQ files
    that ``simulate`` did not write), simulate, start the output folder, write the reads and
    remove an earlier run's FASTQ that this run did not write again.

    Returns the simulation, the FASTQ files written and the seconds of both steps.
    """
    if seed < 0:
        raise OptionError("simulate.seed", "must be >= 0")
    reads_dir = out_dir / "reads"
    stale = _stale_fastq(out_dir)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    sim = simulate()
    timings["simulate"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    start_output(out_dir, command="simulate")
    reads_dir.mkdir(parents=True, exist_ok=True)
    written = _write_reads(sim, reads_dir, progress)
    for path in stale:  # an earlier run's FASTQ, also when its run-info.json lists no outputs
        if path.name not in written:
            path.unlink(missing_ok=True)
    timings["reads"] = round(time.perf_counter() - t0, 3)
    return sim, [reads_dir / name for name in written], timings


def _write_shared_truth(sim: SimulatedTrial | SimulatedAnimal, truth: Path,
                        listed: tuple[str, ...]) -> list[Path]:
    """The truth files both simulators write (the pool's sequences and taxonomy, the true
    composition and counts, chimeras, effects, design.json); returns ``listed`` in
    ``truth`` (every truth file of the caller, in its order)."""
    truth.mkdir(parents=True, exist_ok=True)
    pool = sim.pool
    write_fasta(dict(pool["sequence"]), truth / "asv-sequences.fasta")
    write_taxonomy(pd.DataFrame({"Taxon": pool["taxon"], "Confidence": 1.0}),
                   truth / "taxonomy.tsv")
    write_table_tsv(FeatureTable.from_dataframe(sim.composition), truth / "composition.tsv")
    write_table_tsv(FeatureTable.from_dataframe(sim.counts), truth / "counts.tsv")
    _write_tsv(sim.chimeras.drop(columns="sequence"), truth / "chimeras.tsv")
    _write_tsv(sim.effects, truth / "effects.tsv")
    with atomic_open(truth / "design.json") as fh:
        json.dump({"seed": sim.seed, "design": sim.design.to_dict()}, fh, indent=2)
        fh.write("\n")
    return [truth / name for name in listed]


def _stale_fastq(out_dir: Path) -> list[Path]:
    reads_dir = out_dir / "reads"
    if not reads_dir.is_dir():
        return []
    fastq = [p for p in reads_dir.iterdir() if p.is_file() and _FASTQ_RE.match(p.name)]
    if not fastq:
        return []
    info = out_dir / "run-info.json"
    try:
        ours = json.loads(info.read_text()).get("command") == "simulate"
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise InputError(
            reads_dir,
            "holds FASTQ files that microtrial simulate did not write; "
            "choose an empty output folder",
        )
    return fastq


def fastq_names(trial: SimulatedTrial | SimulatedAnimal, sample_id: str) -> tuple[str, str]:
    """Illumina file names of a sample's R1 and R2."""
    n = trial.sample_number(sample_id)
    return (f"{sample_id}_S{n}_L001_R1_001.fastq.gz", f"{sample_id}_S{n}_L001_R2_001.fastq.gz")


def _write_gzip(data: bytes, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz:
            gz.write(data)


def _write_reads(
    trial: SimulatedTrial | SimulatedAnimal, reads_dir: Path, progress: ProgressCallback | None
) -> set[str]:
    samples = trial.sample_ids
    names: set[str] = set()

    def one(sample_id: str) -> None:
        reads = trial.reads(sample_id)
        f1, f2 = fastq_names(trial, sample_id)
        _write_gzip(reads.fastq(1), reads_dir / f1)
        _write_gzip(reads.fastq(2), reads_dir / f2)

    # numpy and zlib release the GIL: two threads use both cores; outputs do not depend on order
    with ThreadPoolExecutor(max_workers=2) as pool:
        for k, _ in enumerate(pool.map(one, samples), start=1):
            if progress:
                progress("simulate reads", k, len(samples))
    for sid in samples:
        names.update(fastq_names(trial, sid))
    return names


def _write_tsv(df: pd.DataFrame, path: Path, *, index: bool = False) -> None:
    with atomic_open(path) as fh:
        df.to_csv(fh, sep="\t", index=index, lineterminator="\n")


def _write_subject_data(trial: SimulatedTrial, out_dir: Path) -> list[Path]:
    metadata, clinical, immune, metabolites = (
        out_dir / n for n in ("metadata.tsv", "clinical.tsv", "immune.tsv", "metabolites.tsv")
    )
    write_metadata(trial.metadata, metadata)
    _write_tsv(trial.clinical, clinical)
    _write_tsv(trial.immune, immune)
    _write_tsv(trial.metabolites, metabolites, index=True)
    return [metadata, clinical, immune, metabolites]


_TRUTH_FILES = (
    "asv-sequences.fasta", "taxonomy.tsv", "composition.tsv", "counts.tsv", "read-origins.tsv.gz",
    "chimeras.fasta", "chimeras.tsv", "effects.tsv", "responders.tsv", "associations.tsv",
    "guild-abundance.tsv", "reference-pool.tsv", "design.json",
)


def _write_truth(trial: SimulatedTrial, truth: Path) -> list[Path]:
    """Write the simulation truth into ``truth`` and return the files (``_TRUTH_FILES``)."""
    listed = _write_shared_truth(trial, truth, _TRUTH_FILES)
    pool = trial.pool
    origins = pd.concat([trial.read_origins(s) for s in trial.sample_ids], ignore_index=True)
    _write_gzip(
        origins.to_csv(sep="\t", index=False, lineterminator="\n").encode(),
        truth / "read-origins.tsv.gz",
    )
    chim = trial.chimeras
    with atomic_open(truth / "chimeras.fasta") as fh:
        for cid, grp in chim.groupby("chimera", sort=False):
            r = grp.iloc[0]
            fh.write(
                f">{cid} parent_a={r['parent_a']} cut_a={r['cut_a']} parent_b={r['parent_b']} "
                f"cut_b={r['cut_b']} samples={len(grp)} reads={int(grp['reads'].sum())}\n{r['sequence']}\n"
            )
    resp = trial.responders.copy()
    resp["responder"] = resp["responder"].map({True: "true", False: "false"})
    resp["doi"] = resp["doi"].map({True: "true", False: "false"})
    resp["mmt_worse"] = resp["mmt_worse"].map({True: "true", False: "false"})
    _write_tsv(resp, truth / "responders.tsv")
    _write_tsv(trial.associations, truth / "associations.tsv")
    _write_tsv(trial.guild_abundance.round(6), truth / "guild-abundance.tsv", index=True)
    _write_tsv(pool.drop(columns="sequence"), truth / "reference-pool.tsv", index=True)
    return listed


def _write_functions(trial: SimulatedTrial, out_dir: Path) -> list[Path]:
    """``function/genus-traits.tsv`` (designed EC copies per simulated genus, headed by a
    ``# simulated`` note), ``truth/function-pathways.tsv`` (which pathways are designed to
    change, and how) and ``truth/function-carriers.tsv`` (each genus's complete pathways);
    see :mod:`microtrial.simulate._functions`."""
    from microtrial.simulate import FUNCTION_NOTE as NOTE

    sim = trial.functions()
    path = out_dir / "function" / "genus-traits.tsv"
    with atomic_open(path) as fh:
        fh.write(f"# {NOTE} (seed {trial.seed}); truth in truth/function-pathways.tsv\n")
        sim.traits.to_csv(fh, sep="\t", lineterminator="\n")
    truth = out_dir / "truth"
    _write_tsv(sim.truth, truth / "function-pathways.tsv")
    _write_tsv(sim.carriers, truth / "function-carriers.tsv", index=True)
    return [path, truth / "function-pathways.tsv", truth / "function-carriers.tsv"]


def study_dict(trial: SimulatedTrial) -> dict[str, Any]:
    """The ``study.yaml`` of a simulated trial (docs/study-file.md schema).

    Without controls (``n_controls=0``, which the design allows) the group column holds
    only ``patient``: that is the group's reference level and the patient-vs-control
    comparison is left out, so the study still validates.
    """
    d = trial.design
    primer_f, primer_r = d.primers
    controls = d.n_controls > 0
    between_groups = [
        {
            "name": "patient-vs-control",
            "kind": "between",
            "column": "group",
            "levels": ["patient", "control"],
            "where": {"time": "baseline"},
        }
    ] if controls else []
    return {
        "name": f"Simulated low-dose IL-2 trial in dermatomyositis (seed {trial.seed})",
        "metadata": "metadata.tsv",
        "design": {
            "subject": "subject",
            "group": {"column": "group", "reference": "control" if controls else "patient"},
            "time": {"column": "time", "reference": "baseline"},
        },
        "reads": {
            "dir": "reads/",
            "primer_f": primer_f,
            "primer_r": primer_r,
            "trunc_len_f": None,
            "trunc_len_r": None,
            "max_ee": [2.0, 2.0],
            "trunc_q": 2,
            "pool": "pseudo",
            "min_overlap": 12,
            "max_mismatch": 0,
            "reverse_partners": True,
            "chimera_one_off": True,
            "min_reads": 10,
        },
        "taxonomy": {"reference": "greengenes", "confidence": 0.8, "extract_region": True},
        "tree": "insertion",
        "comparisons": [
            *between_groups,
            {
                "name": "week12-vs-baseline",
                "kind": "paired",
                "column": "time",
                "levels": ["week12", "baseline"],
                "where": {"group": "patient"},
            },
            {
                "name": "responder-vs-nonresponder",
                "kind": "between",
                "column": RESPONSE_COLUMN,  # the clinical stage's column and levels
                "levels": list(RESPONSE_LEVELS),
                "where": {"group": "patient", "time": "baseline"},
            },
        ],
        "clinical": {
            "table": "clinical.tsv",
            "baseline": "baseline",
            "followup": "week12",
            "mmt_scale": 80,
            "population": "adult",
            "uln": {k: (int(v) if float(v).is_integer() else v) for k, v in d.uln},
        },
        "immune": "immune.tsv",
        "metabolites": "metabolites.tsv",
        "function": {"genus_traits": "function/genus-traits.tsv"},  # simulated gene content
        "options": {"seed": trial.seed, "threads": 2},
    }
