"""``simulate`` and ``demo`` options: seeds in the study file's range (else one ``error:``
line naming ``--seed``, nothing written), and a trial without controls writes a study that
validates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli_checks import one_error as _one_error
from microtrial.cli import main


@pytest.mark.parametrize("command", ["simulate", "demo"])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "99999999999"])
def test_seed_outside_the_study_range(tmp_path, capsys, command, seed):
    out = tmp_path / "out"
    line = _one_error(capsys, [command, "-o", str(out), "--seed", seed])
    assert line == f"error: --seed: {seed} is not in the range 0<=x<=4294967295"
    assert not out.exists()


def test_largest_seed_gives_a_valid_study(tmp_path: Path, capsys) -> None:
    from microtrial.study import validate_study

    out = tmp_path / "sim"
    assert main(["simulate", "-o", str(out), "--patients", "2", "--controls", "1",
                 "--reads-per-sample", "10", "--seed", str(2**32 - 1)]) == 0
    assert validate_study(out / "study.yaml").options.seed == 2**32 - 1


def test_no_controls_writes_a_study_that_validates(tmp_path: Path, capsys) -> None:
    from microtrial.study import validate_study

    out = tmp_path / "sim"
    assert main(["simulate", "-o", str(out), "--patients", "3", "--controls", "0",
                 "--nonresponders", "1", "--reads-per-sample", "10"]) == 0
    raw = yaml.safe_load((out / "study.yaml").read_text())
    assert raw["design"]["group"] == {"column": "group", "reference": "patient"}
    assert [c["name"] for c in raw["comparisons"]] == ["week12-vs-baseline",
                                                     "responder-vs-nonresponder"]
    assert validate_study(out / "study.yaml") is not None
    capsys.readouterr()
    assert main(["validate", str(out / "study.yaml")]) == 0
    # with controls, the patient-vs-control comparison and the control reference stay
    with_controls = tmp_path / "sim2"
    assert main(["simulate", "-o", str(with_controls), "--patients", "2", "--controls", "1",
                 "--reads-per-sample", "10"]) == 0
    raw = yaml.safe_load((with_controls / "study.yaml").read_text())
    assert raw["design"]["group"]["reference"] == "control"
    assert raw["comparisons"][0]["name"] == "patient-vs-control"
