"""The run engine: cached stages, re-runs, forced stages, kill -9 and resume, Dask.

A tiny simulated trial, from its reads (denoising included; no taxonomy or tree, which
need the Greengenes reference and have their own tests). Expected statuses follow from the
stage graph (which stage reads what), and every comparison is against an independent,
uninterrupted run, never against numbers the engine produced itself.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from microtrial.cli import main
from microtrial.pipeline.simulate import simulate_stage
from microtrial.simulate import SimulationDesign

pytestmark = pytest.mark.slow  # end to end (the report stage dominates); in make test

CACHE = ".microtrial-cache/"
# not analysis tables: run-info.json and the report (its provenance table and exports carry
# run times and timestamps); the stages' own logs/ likewise
NOT_TABLES = ("run-info.json", "report.html")
SKIPPED = (CACHE, "logs/", "figures/", "tables/", "exports/")


def _tables(folder: Path) -> dict[str, bytes]:
    """Every result table of a run folder, by relative path (BIOM by its content: the format
    stores a creation date)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if not p.is_file() or rel.startswith(SKIPPED) or rel in NOT_TABLES:
            continue
        if rel.endswith(".biom"):
            with h5py.File(p, "r") as fh:
                parts = [_h5_bytes(fh[k][()]) for k in
                         ("observation/ids", "sample/ids", "observation/matrix/data",
                          "observation/matrix/indices", "observation/matrix/indptr")]
            out[rel] = b"\0".join(parts)
        else:
            out[rel] = p.read_bytes()
    return out


def _h5_bytes(values: np.ndarray) -> bytes:
    arr = np.asarray(values)
    if arr.dtype.kind == "O":  # variable-length strings
        return "\n".join(v.decode() if isinstance(v, bytes) else str(v) for v in arr).encode()
    return arr.tobytes()


def _statuses(folder: Path) -> dict[str, str]:
    info = json.loads((folder / "run-info.json").read_text())
    return {s["name"]: s["status"] for s in info["stages"]}


def _study(sim: Path, name: str, permutations: int) -> Path:
    """The simulated study from its reads, without taxonomy and tree; few permutations."""
    text = (sim / "study.yaml").read_text()
    text = text.replace("taxonomy: {reference: greengenes, confidence: 0.8, extract_region: true}\n",
                        "taxonomy: null\n").replace("tree: insertion\n", "tree: none\n")
    text = re.sub(r"options: \{.*\}", "options: {seed: 7, threads: 1, permutations: "
                  f"{permutations}, ranks: [asv], differential_methods: [lefse, paired-wilcoxon]}}",
                  text)
    assert f"permutations: {permutations}" in text and "tree: none" in text
    path = sim / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = tmp_path_factory.mktemp("sim")
    design = SimulationDesign(n_patients=4, n_controls=4, reads_per_sample=300)
    simulate_stage(sim, design=design, seed=7)
    return sim


@pytest.fixture(scope="module")
def first(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run, the reference of the other tests."""
    out = tmp_path_factory.mktemp("first") / "out"
    assert main(["run", str(_study(sim, "study-99.yaml", 99)), "-o", str(out)]) == 0
    return out


def test_first_run_runs_every_stage_and_records_them(first: Path, sim: Path) -> None:
    info = json.loads((first / "run-info.json").read_text())
    statuses = _statuses(first)
    assert {n for n, s in statuses.items() if s == "ran"} == {
        "denoise", "clinical", "diversity", "differential", "associations", "report"}
    assert {n for n, s in statuses.items() if s == "skipped"} >= {"classify", "tree"}
    for s in info["stages"]:
        if s["status"] != "skipped":
            assert len(s["key"]) == 64 and s["seconds"] >= 0
            assert (first / CACHE / s["name"] / s["key"][:32] / ".manifest.json").is_file()
    # provenance: every input file by checksum, the resolved study, versions, seeds
    fastq = sorted((sim / "reads").glob("*.fastq.gz"))
    assert {str(p.resolve()) for p in fastq} <= set(info["input_checksums"])
    assert info["resolved_study"]["options"]["permutations"] == 99
    assert info["seeds"] == {"seed": 7}
    assert info["dependencies"]["numpy"] == np.__version__
    assert not list((first / CACHE).glob("*/.tmp-*"))


def test_rerun_reuses_every_stage_and_writes_the_same_bytes(first: Path, sim: Path, tmp_path: Path) -> None:
    before = _tables(first)
    assert main(["run", str(sim / "study-99.yaml"), "-o", str(first)]) == 0
    assert set(_statuses(first).values()) == {"cached", "skipped"}
    assert _tables(first) == before
    # and byte for byte, BIOM included: the cached file itself is copied
    assert (first / "report.html").read_bytes() == (
        next((first / CACHE / "report").glob("*/report.html")).read_bytes())


def test_changing_permutations_reruns_only_diversity_and_report(first: Path, sim: Path) -> None:
    study = _study(sim, "study-49.yaml", 49)
    assert main(["run", str(study), "-o", str(first)]) == 0
    statuses = _statuses(first)
    ran = {n for n, s in statuses.items() if s == "ran"}
    assert ran == {"diversity", "report"}
    assert statuses["denoise"] == statuses["differential"] == statuses["associations"] == "cached"
    perm = (first / "permanova.tsv").read_text()
    assert "\t49\n" in perm or "\t49" in perm
    # back to 99: every result comes from the cache again
    assert main(["run", str(sim / "study-99.yaml"), "-o", str(first)]) == 0
    assert set(_statuses(first).values()) == {"cached", "skipped"}


def test_force_one_stage(first: Path, sim: Path) -> None:
    before = _tables(first)
    assert main(["run", str(sim / "study-99.yaml"), "-o", str(first), "--force", "diversity"]) == 0
    statuses = _statuses(first)
    assert statuses["diversity"] == "ran"
    assert {n for n, s in statuses.items() if s == "ran"} == {"diversity"}  # same bytes: report cached
    assert _tables(first) == before


def test_force_unknown_stage_is_one_error_line(sim: Path, tmp_path: Path, capsys) -> None:
    assert main(["run", str(sim / "study-99.yaml"), "-o", str(tmp_path / "o"), "--force", "denoize"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --force: unknown stage denoize")


@pytest.mark.slow
def test_replay_reruns_with_the_recorded_settings(first: Path, sim: Path, tmp_path: Path) -> None:
    out = tmp_path / "replayed"
    assert main(["run", "--replay", str(first / "run-info.json"), "-o", str(out)]) == 0
    info = json.loads((out / "run-info.json").read_text())
    assert Path(info["options"]["study"]) == (sim / "study-99.yaml").resolve()
    assert _tables(out) == _tables(first)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_local_tables(first: Path, sim: Path, tmp_path: Path) -> None:
    """Two Dask workers (threads of this process: processes=False, to keep the test fast;
    ``--jobs N`` uses processes) get the per-sample and per-chunk work."""
    from distributed import Client, LocalCluster

    out = tmp_path / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert main(["run", str(sim / "study-99.yaml"), "-o", str(out),
                     "--dask-scheduler", cluster.scheduler_address]) == 0
        tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes))
    assert tasks > 0  # the cluster did receive work
    assert _statuses(out)["denoise"] == "ran"
    assert _tables(out) == _tables(first)


def _run_cmd(study: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "microtrial", "run", str(study), "-o", str(out)]


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_tables(sim: Path, tmp_path: Path) -> None:
    """kill -9 the run at random moments, then let it finish; tables as the uninterrupted run."""
    study = _study(sim, "study-kill.yaml", 99)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # the uninterrupted run, as a subprocess like the killed ones (and how long it takes)
    t0 = time.perf_counter()
    subprocess.run(_run_cmd(study, tmp_path / "whole"), check=True, env=env, capture_output=True)
    whole = time.perf_counter() - t0
    out = tmp_path / "killed"
    rng = random.Random(16)
    killed = 0
    for _ in range(3):
        delay = rng.uniform(0.3, 0.9) * whole
        proc = subprocess.Popen(_run_cmd(study, out), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
    assert killed >= 2  # most kills landed mid-run (later runs resume, so they are faster)
    subprocess.run(_run_cmd(study, out), check=True, env=env, capture_output=True)
    got, want = _tables(out), _tables(tmp_path / "whole")
    assert sorted(got) == sorted(want)
    assert [n for n in want if got[n] != want[n]] == []
    assert not list((out / CACHE).glob("*/.tmp-*"))
