"""The function stage of `microtrial run` (genus route): predictions, then the study's
comparisons on the predicted functions; a designed rise of Roseburia shows in the CAZy
families only Roseburia carries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.function import DIFF_COLUMNS, load_genus_table
from microtrial.pipeline.function import function_study_stage
from microtrial.study import load_study

ROSEBURIA = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Roseburia"
BACTEROIDES = "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides"


def _study(tmp: Path) -> Path:
    rng = np.random.default_rng(7)
    subjects = [f"P{i}" for i in range(8)]
    samples = [f"{s}-{t}" for s in subjects for t in ("baseline", "week12")]
    md = pd.DataFrame({"sample-id": samples, "subject": [s.split("-")[0] for s in samples],
                       "group": "patient", "time": [s.split("-")[1] for s in samples]})
    md.to_csv(tmp / "metadata.tsv", sep="\t", index=False)
    asvs = [f"r{i}" for i in range(3)] + [f"b{i}" for i in range(3)]
    counts = pd.DataFrame(0, index=asvs, columns=samples)
    for s in samples:
        week12 = s.endswith("week12")
        counts.loc[[a for a in asvs if a.startswith("r")], s] = rng.poisson(400 if week12 else 100, 3)
        counts.loc[[a for a in asvs if a.startswith("b")], s] = rng.poisson(300, 3)
    counts.to_csv(tmp / "table.tsv", sep="\t", index_label="#OTU ID")
    # a metabolite that follows the Roseburia reads (plus noise)
    rose = counts.loc[[a for a in asvs if a.startswith("r")]].sum(axis=0)
    butyrate = rose / 100 + rng.normal(0, 0.3, len(samples))
    pd.DataFrame({"sample-id": samples, "butyrate": butyrate.to_numpy()}).to_csv(
        tmp / "metabolites.tsv", sep="\t", index=False)
    tax = pd.DataFrame({"Feature ID": asvs,
                        "Taxon": [ROSEBURIA if a.startswith("r") else BACTEROIDES for a in asvs]})
    tax.to_csv(tmp / "taxonomy.tsv", sep="\t", index=False)
    (tmp / "study.yaml").write_text(
        "metadata: metadata.tsv\n"
        "design: {subject: subject, group: {column: group, reference: patient}, "
        "time: {column: time, reference: baseline}}\n"
        "table: table.tsv\ntaxonomy_file: taxonomy.tsv\ntree: none\n"
        "comparisons:\n  - {name: week12-vs-baseline, kind: paired, column: time, "
        "levels: [week12, baseline]}\n")
    return tmp / "study.yaml"


def test_function_stage_tests_predicted_functions(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path))
    out = tmp_path / "out"
    function_study_stage(out, table=tmp_path / "table.tsv", metadata=study.metadata,
                         comparisons=study.comparisons, taxonomy=tmp_path / "taxonomy.tsv",
                         seed=1)
    info = json.loads((out / "run-info.json").read_text())
    assert info["route"] == "embedded-genus-table"
    diff = pd.read_csv(out / "function-differential.tsv", sep="\t")
    assert list(diff.columns[:len(DIFF_COLUMNS)]) == DIFF_COLUMNS
    assert set(diff["comparison"]) == {"week12-vs-baseline"}
    table = load_genus_table()
    rose, bact = table.loc[("genus", "Roseburia")], table.loc[("genus", "Bacteroides")]
    only_rose = [c for c in table.columns[2:] if rose[c] > 0 and bact[c] == 0]
    assert only_rose
    hits = diff[diff["feature"].isin(only_rose) & (diff["method"] == "paired-wilcoxon")]
    assert len(hits) and (hits["effect"] > 0).all()
    assert not (out / "function-associations.tsv").exists()  # no measures given


def test_function_stage_associations(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path))
    out = tmp_path / "out"
    function_study_stage(out, table=tmp_path / "table.tsv", metadata=study.metadata,
                         comparisons=study.comparisons, taxonomy=tmp_path / "taxonomy.tsv",
                         subject="subject", time_column="time", baseline="baseline",
                         followup="week12", metabolites=tmp_path / "metabolites.tsv", seed=1)
    assoc = pd.read_csv(out / "function-associations.tsv", sep="\t")
    assert list(assoc.columns[:7]) == ["feature", "measure", "method", "rho", "p_value",
                                       "q_value", "n"]
    assert {"spearman", "rmcorr", "change_spearman"} <= set(assoc["method"])
    table = load_genus_table()
    rose, bact = table.loc[("genus", "Roseburia")], table.loc[("genus", "Bacteroides")]
    only_rose = [c for c in table.columns[2:] if rose[c] > 0 and bact[c] == 0]
    rmcorr = assoc[(assoc["method"] == "rmcorr") & assoc["feature"].isin(only_rose)]
    assert len(rmcorr) and (rmcorr["rho"] > 0.5).all()
