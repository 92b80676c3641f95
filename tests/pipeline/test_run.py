"""End to end: ``microtrial run`` on a simulated trial, starting from the true table.

Starting from truth's counts (not reads) keeps this fast; denoising has its own tests.
Expected values come from the simulation's truth, never from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from microtrial.cli import main
from microtrial.pipeline.simulate import simulate_stage
from microtrial.simulate import SimulationDesign

pytestmark = pytest.mark.slow  # end to end; in make test, not make test-fast


@pytest.fixture(scope="module")
def table_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = tmp_path_factory.mktemp("sim")
    design = SimulationDesign(n_patients=10, n_controls=10, reads_per_sample=200)
    simulate_stage(sim, design=design, seed=3)
    study = sim / "table-study.yaml"
    text = (sim / "study.yaml").read_text()
    head, _, rest = text.partition("reads:")
    # swap the reads section for the true table and taxonomy
    rest = rest[rest.index("taxonomy:"):]
    rest = rest.replace("taxonomy: {reference: greengenes, confidence: 0.8, extract_region: true}\n", "")
    rest = rest.replace("tree: insertion\n", "")
    head += ("table: truth/counts.tsv\ntaxonomy_file: truth/taxonomy.tsv\ntaxonomy: null\n"
             "tree: none\n")
    rest = re.sub(r"options: \{.*\}", "options: {seed: 3, threads: 1, permutations: 199, "
                  "ranks: [asv, genus]}", rest)
    assert "permutations: 199" in rest
    study.write_text(head + rest)
    return study


@pytest.fixture(scope="module")
def results(table_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(table_study), "-o", str(out)]) == 0
    return out


def test_run_writes_the_contract_files(results: Path):
    for name in ("alpha-diversity.tsv", "beta-braycurtis.tsv", "permanova.tsv",
                 "differential-lefse.tsv", "differential-consensus.tsv",
                 "clinical-response.tsv", "immune-paired.tsv", "report.html", "run-info.json"):
        assert (results / name).exists(), name
    info = json.loads((results / "run-info.json").read_text())
    assert {"diversity", "differential", "clinical", "report"} <= set(info["stages_completed"])
    assert not (results / ".staging").exists()


def test_run_recovers_designed_truth(results: Path, table_study: Path):
    truth = table_study.parent / "truth"
    # responders: IMACS DOI from the clinical table equals the simulator's truth
    resp = pd.read_csv(results / "clinical-response.tsv", sep="\t", dtype=str).set_index("subject")
    tr = pd.read_csv(truth / "responders.tsv", sep="\t", dtype=str).set_index("subject")
    assert (resp["imacs_doi"].str.lower() == tr.loc[resp.index, "responder"].str.lower()).all()
    # the butyrate guild is designed lower in patients than controls at baseline
    guilds = pd.read_csv(results / "differential-guilds.tsv", sep="\t")
    but = guilds[guilds["feature"].str.contains("butyrate") & (guilds["contrast"] == "patient-vs-control")]
    assert len(but) and (but["effect"] < 0).all()
    # Treg % designed to rise in responders: the paired test sees it
    imm = pd.read_csv(results / "immune-paired.tsv", sep="\t").set_index("measure")
    assert imm.loc["treg_pct_cd4", "p_value"] < 0.05


def test_run_refuses_a_bad_study_in_one_line(tmp_path: Path, capsys):
    bad = tmp_path / "study.yaml"
    bad.write_text("metadata: missing.tsv\ndesign: {subject: s, group: {column: g, reference: c}}\n"
                   "table: none.tsv\n")
    assert main(["run", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: {bad}: ")  # ends in one error line
    assert sum(line.startswith("error: ") for line in err.splitlines()) == 1
    assert "Traceback" not in err
