"""``microtrial demo``: simulate a small trial and run every stage on it, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from microtrial.pipeline.run import RunRecord, run_study

ProgressCallback = Callable[[str, int, int], None]


def run_demo(
    out_dir: Path, *, seed: int = 1, threads: int = 2, progress: ProgressCallback | None = None
) -> tuple[RunRecord, float]:
    """Simulate into ``out_dir/simulated`` and run the study into ``out_dir``.

    Returns the run record and the wall time in seconds.
    """
    from microtrial.pipeline.simulate import simulate_stage

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    study = simulate_stage(out_dir / "simulated", seed=seed, progress=progress)
    record = run_study(
        study, out_dir, threads=threads, progress=progress, truth_dir=out_dir / "simulated" / "truth"
    )
    return record, time.perf_counter() - t0
