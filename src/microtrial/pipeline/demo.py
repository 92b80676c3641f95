"""``microtrial demo``: simulate a small trial and run every stage on it, end to end.

The simulation is a cached stage too (key: its seed and the microtrial version), so running
the demo again into the same folder reuses the simulated reads and every result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from microtrial.pipeline.run import RunRecord, run_study

ProgressCallback = Callable[[str, int, int], None]


def run_demo(
    out_dir: Path, *, seed: int = 1, threads: int = 2, progress: ProgressCallback | None = None,
    force: bool = False, jobs: int | None = None,
) -> tuple[RunRecord, float]:
    """Simulate into ``out_dir/simulated`` and run the study into ``out_dir``.

    Returns the run record and the wall time in seconds.
    """
    from microtrial.pipeline._engine import Engine
    from microtrial.pipeline.simulate import simulate_stage

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    engine = Engine(out_dir, force=force, progress=progress)
    engine.run("simulate", lambda sd: simulate_stage(sd, seed=seed, progress=progress),
               inputs={}, options={"seed": seed}, dest="simulated")
    study = out_dir / "simulated" / "study.yaml"
    record = run_study(
        study, out_dir, threads=threads, progress=progress, truth_dir=out_dir / "simulated" / "truth",
        force=force, jobs=jobs,
    )
    return record, time.perf_counter() - t0
