"""``microtrial run`` into the folder of an earlier, larger run: none of that run's files
that this run does not write are left behind, and the study's own inputs there are kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from microtrial.cli import main
from microtrial.pipeline.simulate import simulate_stage
from microtrial.simulate import SimulationDesign

pytestmark = pytest.mark.slow  # end to end; in make test, not make test-fast


def _files(folder: Path) -> set[str]:
    """The output folder's files, without the stage cache (``.microtrial-cache/``)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith(".microtrial-cache/")}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = tmp_path_factory.mktemp("sim")
    simulate_stage(sim, design=SimulationDesign(n_patients=6, n_controls=6, reads_per_sample=200), seed=5)
    return sim


def _full_study(sim: Path) -> Path:
    """The simulated study from its true table: clinical, immune, metabolites, 3 methods."""
    text = (sim / "study.yaml").read_text()
    head, _, rest = text.partition("reads:")
    rest = rest[rest.index("taxonomy:"):]
    rest = rest.replace("taxonomy: {reference: greengenes, confidence: 0.8, extract_region: true}\n", "")
    rest = rest.replace("tree: insertion\n", "")
    head += "table: truth/counts.tsv\ntaxonomy_file: truth/taxonomy.tsv\ntaxonomy: null\ntree: none\n"
    rest = re.sub(r"options: \{.*\}", "options: {seed: 5, threads: 1, permutations: 19, ranks: [genus], "
                  "beta_metrics: [braycurtis, jaccard, aitchison], "
                  "differential_methods: [lefse, ancombc, paired-wilcoxon]}", rest)
    assert "permutations: 19" in rest
    study = sim / "full-study.yaml"
    study.write_text(head + rest)
    return study


def _small_study(sim: Path, results: Path) -> Path:
    """Fewer metrics and methods, no clinical, immune or metabolite measures; its metadata is
    the earlier run's copy in ``results/inputs/`` (an output of that run, an input of this)."""
    study = sim / "small" / "study.yaml"
    study.parent.mkdir()
    study.write_text(
        "name: smaller\n"
        f"metadata: {results / 'inputs' / 'metadata.tsv'}\n"
        "design: {subject: subject, group: {column: group, reference: control}, "
        "time: {column: time, reference: baseline}}\n"
        f"table: {sim / 'truth' / 'counts.tsv'}\n"
        f"taxonomy_file: {sim / 'truth' / 'taxonomy.tsv'}\n"
        "tree: none\n"
        "comparisons:\n"
        "- {name: patient-vs-control, kind: between, column: group, levels: [patient, control], "
        "where: {time: baseline}}\n"
        "options: {seed: 5, threads: 1, permutations: 19, ranks: [genus], beta_metrics: [braycurtis], "
        "differential_methods: [lefse]}\n"
    )
    return study


def test_run_into_a_larger_earlier_run_leaves_none_of_its_files(sim: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    assert main(["run", str(_full_study(sim)), "-o", str(out)]) == 0
    before = _files(out)
    info = json.loads((out / "run-info.json").read_text())
    assert set(info["outputs"]) == before - {"run-info.json"}  # every file it wrote, listed
    stale = {"beta-aitchison.tsv", "beta-jaccard.tsv", "differential-ancombc.tsv",
             "clinical-response.tsv", "immune-paired.tsv", "inputs/immune.tsv",
             "logs/clinical.run-info.json", "logs/associations.run-info.json"}
    assert stale <= before
    assert any(n.startswith("associations-") for n in before)
    (out / "notes.txt").write_text("the user's own\n")

    assert main(["run", str(_small_study(sim, out)), "-o", str(out)]) == 0
    after = _files(out)
    assert not stale & after
    assert not [n for n in after if n.startswith("associations-") or "aitchison" in n]
    info = json.loads((out / "run-info.json").read_text())
    assert set(info["outputs"]) == after - {"run-info.json", "notes.txt"}
    assert "inputs/metadata.tsv" in after  # read by this run: kept, and copied onto itself
    assert info["stages_skipped"].keys() >= {"clinical", "associations"}
    report = (out / "report.html").read_text()
    assert "No clinical table in this study" in report
    assert "No association results" in report
    assert "aitchison" not in report and "ancombc" not in report
