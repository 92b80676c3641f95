"""simulate's run-info.json lists every file it wrote, so a re-run there removes them."""

from __future__ import annotations

import json
from pathlib import Path

from microtrial.pipeline.simulate import simulate_stage
from microtrial.simulate import SimulationDesign


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_outputs_listed_and_replaced_by_a_smaller_run(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    simulate_stage(out, design=SimulationDesign(n_patients=2, n_controls=2, reads_per_sample=30), seed=2)
    info = json.loads((out / "run-info.json").read_text())
    assert info["outputs"] == sorted(_files(out) - {"run-info.json"})
    first = _files(out)
    simulate_stage(out, design=SimulationDesign(n_patients=1, n_controls=1, reads_per_sample=30), seed=2)
    info = json.loads((out / "run-info.json").read_text())
    assert info["outputs"] == sorted(_files(out) - {"run-info.json"})
    assert len(_files(out)) < len(first)  # fewer FASTQ files, none of the earlier run's left
