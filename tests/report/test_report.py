from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.io.fasta import sequence_id, write_fasta
from microtrial.io.feature_table import write_biom, write_table_tsv
from microtrial.report import write_report
from microtrial.report._truth import score_against_truth
from microtrial.table import FeatureTable


def _tables(tmp_path: Path) -> tuple[Path, Path]:
    results, truth = tmp_path / "results", tmp_path / "truth"
    results.mkdir()
    truth.mkdir()
    a, b, c, d = "ACGTACGTAA", "ACGTACGTCC", "ACGTACGTGG", "TTTTACGTGG"
    # truth: three variants a, b, c (c has no reads, so it does not count)
    write_fasta({sequence_id(s): s for s in (a, b, c)}, truth / "asv-sequences.fasta")
    ids = [sequence_id(s) for s in (a, b, c)]
    counts = FeatureTable(np.array([[30, 10], [10, 30], [0, 0]]), ids, ["s1", "s2"])
    write_table_tsv(counts, truth / "counts.tsv")
    write_table_tsv(counts, truth / "composition.tsv")
    # results: found a and a false variant d; b missed
    write_fasta({sequence_id(a): a, sequence_id(d): d}, results / "dna-sequences.fasta")
    obs = FeatureTable(np.array([[30, 10], [10, 30]]), [sequence_id(a), sequence_id(d)], ["s1", "s2"])
    write_biom(obs, results / "feature-table.biom")
    pd.DataFrame({"subject": ["P1", "P2", "P3"], "imacs_doi": ["true", "false", "true"]}).to_csv(
        results / "clinical-response.tsv", sep="\t", index=False
    )
    pd.DataFrame({"subject": ["P1", "P2", "P3"], "responder": ["true", "true", "true"]}).to_csv(
        truth / "responders.tsv", sep="\t", index=False
    )
    return results, truth


def test_truth_scores_by_hand(tmp_path):
    results, truth = _tables(tmp_path)
    s = score_against_truth(results, truth)
    # hand count: true variants with reads = {a, b}; found = {a, d}
    assert s["true variants"] == 2
    assert s["recall of true variants"] == 0.5
    assert s["precision of ASVs"] == 0.5
    # s1: truth a=.75 b=.25, observed a=.75 d=.25 -> errors b .25, d .25
    # s2: truth a=.25 b=.75, observed a=.25 d=.75 -> errors b .75, d .75 -> max .75
    assert s["max relative-abundance error"] == 0.75
    assert s["median per-sample max error"] == 0.5  # median of (.25, .75)
    assert s["responders classified as in truth"] == "2/3"


def test_report_is_self_contained_and_survives_missing_tables(tmp_path):
    results, truth = _tables(tmp_path)
    pd.DataFrame(
        {"sample-id": ["s1", "s2"], "input": [100, 90], "filtered": [90, 80], "denoised-f": [85, 70],
         "denoised-r": [85, 70], "merged": [80, 60], "non-chimeric": [80, 59]}
    ).to_csv(results / "read-tracking.tsv", sep="\t", index=False)
    path = write_report(results, title="A <test> study", truth_dir=truth)
    text = path.read_text()
    assert "A &lt;test&gt; study" in text  # titles are escaped
    assert "class='plot'" in text and "Plotly.newPlot" in text  # figures are embedded
    # no network needed to open it: nothing is loaded from elsewhere (the browser test also
    # blocks and counts every request); plotly.js itself names URLs for map tiles it never fetches
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    assert "recall of true variants" in text
    for ext in ("png", "svg", "pdf"):
        assert (results / "figures" / f"read-tracking.{ext}").exists()
    assert "No alpha diversity table." in text


def test_designed_associations_scored_by_hand(tmp_path):
    results, truth = _tables(tmp_path)
    pd.DataFrame({
        "guild": ["butyrate-producers", "butyrate-producers", "prevotellaceae", "butyrate-producers"],
        "measure": ["l_leucine", "butyrate", "propionate", "phga"],
        "table": ["metabolites", "metabolites", "metabolites", "clinical"],
        "direction": ["positive", "positive", "positive", "negative"],
        "mechanism": ["elasticity", "elasticity", "elasticity", "weak: severity"],
    }).to_csv(truth / "associations.tsv", sep="\t", index=False)
    pd.DataFrame({
        "feature": ["butyrate_producers", "butyrate_producers", "d__B; f__Prevotellaceae; g__Prevotella"],
        "measure": ["l_leucine", "butyrate", "propionate"],
        "rho": [0.7, -0.6, 0.5], "q_value": [0.01, 0.01, 0.2],
    }).to_csv(results / "associations-metabolites-spearman.tsv", sep="\t", index=False)
    s = score_against_truth(results, truth)
    # l_leucine: right sign, q < .05 -> found; butyrate: wrong sign; propionate: q too high
    assert s["designed associations recovered (strong)"] == "1/3: butyrate-producers~l_leucine"
    # the clinical table is absent -> the weak link cannot be found
    assert s["designed associations recovered (weak)"] == "0/1: none"
