"""simulate_stage / `microtrial simulate`: files, names, study.yaml, byte-level determinism."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import dnaio
import numpy as np
import pandas as pd
import pytest
import yaml

from microtrial.cli import main
from microtrial.io.fasta import read_fasta, sequence_id
from microtrial.io.feature_table import read_table_tsv
from microtrial.io.metadata import read_metadata
from microtrial.io.taxonomy import read_taxonomy
from microtrial.pipeline.simulate import simulate_stage
from microtrial.simulate import SimulationDesign

DESIGN = SimulationDesign(n_patients=3, n_controls=2, n_nonresponders=1, reads_per_sample=200)
NAME = re.compile(r"^(?P<sid>[A-Za-z0-9-]+)_S(?P<n>\d+)_L001_R(?P<mate>[12])_001\.fastq\.gz$")


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    study = simulate_stage(out, design=DESIGN, seed=5)
    assert study == out / "study.yaml"
    return out


def test_layout_and_illumina_names(sim: Path) -> None:
    for name in (
        "metadata.tsv",
        "clinical.tsv",
        "immune.tsv",
        "metabolites.tsv",
        "study.yaml",
        "run-info.json",
    ):
        assert (sim / name).is_file(), name
    for name in (
        "asv-sequences.fasta",
        "taxonomy.tsv",
        "composition.tsv",
        "counts.tsv",
        "read-origins.tsv.gz",
        "chimeras.fasta",
        "effects.tsv",
        "responders.tsv",
        "associations.tsv",
        "design.json",
    ):
        assert (sim / "truth" / name).is_file(), name
    md = read_metadata(sim / "metadata.tsv")
    assert list(md.columns) == ["subject", "group", "time", "age", "sex"]
    assert len(md) == 3 * 2 + 2
    assert all("_" not in s for s in md.index)
    files = sorted(p.name for p in (sim / "reads").iterdir())
    assert len(files) == 2 * len(md)
    seen = set()
    for f in files:
        m = NAME.match(f)
        assert m, f
        assert m["sid"] in md.index
        seen.add((m["sid"], m["mate"]))
    assert len(seen) == 2 * len(md)


def test_fastq_files_match_truth(sim: Path) -> None:
    counts = read_table_tsv(sim / "truth" / "counts.tsv").to_dataframe()
    origins = pd.read_csv(sim / "truth" / "read-origins.tsv.gz", sep="\t")
    for path in sorted((sim / "reads").glob("*_R1_001.fastq.gz")):
        sid = path.name.split("_S")[0]
        r2 = path.with_name(path.name.replace("_R1_", "_R2_"))
        with dnaio.open(path, file2=r2) as reader:
            pairs = list(reader)
        o = origins[origins["sample-id"] == sid]
        assert len(pairs) == len(o)
        assert (o["origin"] != "chimera").sum() == counts[sid].sum()
        r1, r2rec = pairs[0]
        assert r1.name.split()[0] == r2rec.name.split()[0]
        assert r1.name.split()[1].startswith("1:") and r2rec.name.split()[1].startswith("2:")
        assert len(r1.sequence) == DESIGN.read_length


def test_truth_tables(sim: Path) -> None:
    seqs = read_fasta(sim / "truth" / "asv-sequences.fasta")
    assert all(fid == sequence_id(s) for fid, s in seqs.items())
    pf, pr = DESIGN.primers
    assert not any(s.startswith(pf[:8]) for s in seqs.values())  # primers removed
    tax = read_taxonomy(sim / "truth" / "taxonomy.tsv")
    assert set(tax.index) == set(seqs)
    assert tax["Taxon"].str.match(r"^d__Bacteria; p__").all()
    comp = read_table_tsv(sim / "truth" / "composition.tsv").to_dataframe()
    assert np.allclose(comp.sum(axis=0), 1.0)
    assert set(comp.index) == set(seqs)
    chim = read_fasta(sim / "truth" / "chimeras.fasta")
    assert all(fid == sequence_id(s) for fid, s in chim.items())
    origins = pd.read_csv(sim / "truth" / "read-origins.tsv.gz", sep="\t")
    assert set(origins.loc[origins["origin"] == "chimera", "source"]) == set(chim)
    eff = pd.read_csv(sim / "truth" / "effects.tsv", sep="\t")
    assert set(eff["comparison"]) == {"patient-vs-control", "week12-vs-baseline"}
    resp = pd.read_csv(sim / "truth" / "responders.tsv", sep="\t")
    assert sorted(resp["responder"].astype(str).str.lower()) == ["false", "true", "true"]
    design = json.loads((sim / "truth" / "design.json").read_text())
    assert design["seed"] == 5 and design["design"]["n_patients"] == 3


def test_study_yaml_is_valid(sim: Path) -> None:
    from microtrial.study import validate_study

    raw = yaml.safe_load((sim / "study.yaml").read_text())
    assert raw["reads"]["primer_f"] == DESIGN.primers[0]
    assert raw["reads"]["trunc_len_f"] is None and raw["reads"]["trunc_len_r"] is None
    assert raw["clinical"]["uln"] == {"ck": 200, "aldolase": 7.6, "ldh": 250, "alt": 40, "ast": 40}
    study = validate_study(sim / "study.yaml")
    assert study is not None


def test_same_seed_byte_identical_different_seed_differs(sim: Path, tmp_path: Path) -> None:
    again = simulate_stage(tmp_path / "a", design=DESIGN, seed=5).parent
    for path in sim.rglob("*"):
        if path.is_file() and path.name != "run-info.json":
            assert (again / path.relative_to(sim)).read_bytes() == path.read_bytes(), path
    other = simulate_stage(tmp_path / "b", design=DESIGN, seed=6).parent
    name = sorted((sim / "reads").iterdir())[0].name
    assert gzip.decompress((other / "reads" / name).read_bytes()) != gzip.decompress(
        (sim / "reads" / name).read_bytes()
    )


def test_cli_and_stale_reads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    args = [
        "simulate",
        "-o",
        str(out),
        "--patients",
        "2",
        "--controls",
        "1",
        "--reads-per-sample",
        "30",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    assert len(list((out / "reads").glob("*.fastq.gz"))) == 2 * 5
    # re-running with fewer patients removes our own stale FASTQ files
    assert main(args[:3] + ["--patients", "1", "--controls", "1", "--reads-per-sample", "30"]) == 0
    assert len(list((out / "reads").glob("*.fastq.gz"))) == 2 * 3
    # a reads/ folder with someone else's FASTQ files is refused, not mixed
    foreign = tmp_path / "foreign"
    (foreign / "reads").mkdir(parents=True)
    (foreign / "reads" / "X_S1_L001_R1_001.fastq.gz").write_bytes(b"")
    assert main(["simulate", "-o", str(foreign)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (
        main(["simulate", "-o", str(tmp_path / "x"), "--patients", "1", "--nonresponders", "2"])
        == 2
    )
