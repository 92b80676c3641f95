"""``microtrial simulate --design animal``: the NOD mouse experiment, its truth and study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from microtrial.cli import main
from microtrial.simulate import AnimalDesign, SimulationDesign, simulate_animal
from microtrial.study import validate_study


def test_animal_design_and_truth() -> None:
    sim = simulate_animal(AnimalDesign(reads=SimulationDesign(reads_per_sample=200)), seed=5)
    mice = sim.mice
    assert (mice["treatment"] == "il2").sum() == 10 and (mice["treatment"] == "control").sum() == 10
    per_cage = mice.groupby("cage")
    assert per_cage["treatment"].nunique().max() == 1  # a cage holds one arm
    assert set(per_cage.size()) <= {3, 4}
    md = sim.metadata
    assert sorted(set(md["week"])) == [0, 4] and len(md) == 40
    eff = sim.effects.set_index("feature")
    assert (eff["effect"] == "interaction").sum() == 10 and (eff["effect"] == "time-only").sum() == 10
    # interaction features move in the IL-2 arm only, time-only ones in both arms
    ix, drift = eff[eff["effect"] == "interaction"], eff[eff["effect"] == "time-only"]
    assert (ix["time_log2fc"] == 0).all() and (ix["interaction_log2fc"].abs() == 2).all()
    assert (drift["interaction_log2fc"] == 0).all() and (drift["time_log2fc"].abs() == 2).all()
    # realised: drift features change alike in both arms; IL-2 features differ between arms
    assert np.corrcoef(drift["realized_change_il2"], drift["realized_change_control"])[0, 1] > 0.8
    agree = np.sign(ix["realized_interaction"]) == np.sign(ix["interaction_log2fc"])
    assert agree.mean() >= 0.8


def test_simulate_cli_animal_writes_a_valid_interaction_study(tmp_path: Path) -> None:
    out = tmp_path / "mice"
    assert main(["simulate", "--design", "animal", "--mice", "4", "--weeks", "0,2,4",
                 "--reads-per-sample", "100", "-o", str(out)]) == 0
    spec = yaml.safe_load((out / "study.yaml").read_text())
    kinds = [c["kind"] for c in spec["comparisons"]]
    assert kinds == ["interaction", "longitudinal"]
    ix = spec["comparisons"][0]
    assert ix["levels"] == ["4", "0"] and ix["by"] == {"column": "treatment",
                                                       "levels": ["il2", "control"]}
    study = validate_study(out / "study.yaml")
    assert study.comparisons[0].term == "treatment:week"
    assert len(list((out / "reads").glob("*_R1_001.fastq.gz"))) == 24
    eff = pd.read_csv(out / "truth" / "effects.tsv", sep="\t")
    assert set(eff["effect"]) == {"interaction", "time-only", "none"}
    assert main(["simulate", "--design", "animal", "--weeks", "4,0", "-o", str(tmp_path / "x")]) == 2
    assert main(["simulate", "--design", "animal", "--patients", "3", "-o", str(tmp_path / "x")]) == 2
    assert main(["simulate", "--weeks", "0,2", "-o", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_run_recovers_the_interaction_and_calls_no_age_drift(tmp_path: Path) -> None:
    """The default animal simulation through `microtrial run` (reads to report)."""
    sim = tmp_path / "sim"
    assert main(["simulate", "--design", "animal", "--seed", "11", "-o", str(sim)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(sim / "study.yaml"), "-o", str(out)]) == 0
    truth = pd.read_csv(sim / "truth" / "effects.tsv", sep="\t").set_index("feature")["effect"]
    for method in ("lmm", "paired-wilcoxon", "ancombc"):
        res = pd.read_csv(out / f"differential-{method}.tsv", sep="\t")
        res = res[(res["rank"] == "asv") & (res["term"] == "treatment:week")]
        called = truth.reindex(res.loc[res["q_value"] < 0.05, "feature"]).fillna("none")
        assert (called == "time-only").sum() == 0, method
        assert (called == "interaction").sum() >= 4, method
        assert (called != "interaction").sum() <= 1, method
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    assert "treatment:week" in set(perm["term"])
