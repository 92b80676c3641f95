"""The report's parts, each against a hand-worked case: taxon names, Table 1, the readable
consensus, escaping (JSON in a page, SVG figures), and the exports read back."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from microtrial.io.phyloseq import split_taxonomy, write_phyloseq
from microtrial.report._data import short_taxon, unique_names
from microtrial.report._page import script_json
from microtrial.report._results import readable_consensus

SCRIPT = "<script>alert(1)</script>"


def test_short_names_by_hand() -> None:
    assert short_taxon("d__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; "
                       "f__Lachnospiraceae; g__Roseburia") == "Roseburia"
    assert short_taxon("d__B; f__Ruminococcaceae; g__Faecalibacterium; s__prausnitzii") == \
        "Faecalibacterium prausnitzii"
    assert short_taxon("d__B; p__Bacteroidetes; f__Prevotellaceae; g__") == "Prevotellaceae (unnamed genus)"
    assert short_taxon("butyrate_producers") == "butyrate producers"
    # two genera named alike in different families get their family; ASVs of one genus their id
    lach = "d__B; f__Lachnospiraceae; g__Ruminococcus"
    rumi = "d__B; f__Ruminococcaceae; g__Ruminococcus"
    assert unique_names([lach, rumi, lach]) == ["Ruminococcus (Lachnospiraceae)",
                                                "Ruminococcus (Ruminococcaceae)",
                                                "Ruminococcus (Lachnospiraceae)"]
    assert unique_names(["9595866af1", "aad6d13d72"], [lach, lach]) == ["Ruminococcus ASV 959586",
                                                                       "Ruminococcus ASV aad6d1"]


def test_readable_consensus_by_hand() -> None:
    cons = pd.DataFrame({
        "feature": ["d__B; f__Prevotellaceae; g__Prevotella", "d__B; f__Lachnospiraceae"],
        "rank": ["genus", "family"], "contrast": ["p-vs-c", "p-vs-c"],
        "taxon": ["d__B; f__Prevotellaceae; g__Prevotella", "d__B; f__Lachnospiraceae"],
        "lefse_called": [True, False], "lefse_direction": ["up", ""], "lefse_effect": [4.83, np.nan],
        "aldex_called": [False, True], "aldex_direction": ["", "down"], "aldex_effect": [2.96, -1.5],
        "n_methods": [1, 1],
    })
    t = readable_consensus(cons)
    assert list(t.columns) == ["taxon", "rank", "contrast", "n_methods", "lefse", "aldex"]
    assert t["taxon"].tolist() == ["Prevotella", "Lachnospiraceae"]
    # called: arrow and effect; not called: effect in brackets; no effect: empty
    assert t["lefse"].tolist() == ["\u2191 4.83", ""]
    assert t["aldex"].tolist() == ["(2.96)", "\u2193 -1.50"]


def test_json_in_a_page_cannot_end_its_script() -> None:
    data = {"rows": [[SCRIPT, "</script><script>alert(2)</script>", "a & b"]]}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


def test_table1_by_hand(results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage

    md = pd.DataFrame({"sample-id": ["s1", "s2", "s3", "s4", "s5"], "group": ["a", "a", "a", "b", "b"],
                       "age": [30, 40, 50, 20, 22], "sex": ["F", "F", "M", "M", "M"]})
    md.to_csv(results / "metadata-with-response.tsv", sep="\t", index=False)
    # no study file: the groups named as on the command line (microtrial report --group group)
    report_stage(results, tmp_path / "rep", group="group", static_figures=False, exports=False)
    t1 = pd.read_csv(tmp_path / "rep" / "tables" / "table1-cohort.tsv", sep="\t", dtype=str).set_index(
        "characteristic")
    # medians and quartiles (linear interpolation) by hand: a = 30, 40, 50; b = 20, 22
    assert t1.loc["age, median [IQR]", "a"] == "40 [35, 45]"
    assert t1.loc["age, median [IQR]", "b"] == "21 [20.5, 21.5]"
    assert t1.loc["samples, n", "a"] == "3"
    assert t1.loc["sex: F, n (%)", "a"] == "2 (67%)" and t1.loc["sex: F, n (%)", "b"] == "0 (0%)"
    assert t1.loc["sex: M, n (%)", "b"] == "2 (100%)"
    # exact Mann-Whitney for 3 vs 2 with complete separation: two-sided p = 2 / C(5, 2) = 0.2
    assert t1.loc["age, median [IQR]", "test"] == "Mann-Whitney, p = 0.20"
    # Fisher's exact on [[2, 0], [1, 2]]: two-sided p = 0.4 (hypergeometric, by hand)
    assert t1.loc["sex: F, n (%)", "test"] == "Fisher's exact, p = 0.40"


def test_svg_figures_escape_labels(tmp_path: Path) -> None:
    from microtrial.report import _figures as figs

    values = pd.Series([1.0, 2.0, 3.0, 4.0], index=["s1", "s2", SCRIPT, "s4"])
    groups = pd.Series(["ctl\"><img src=x onerror=alert(1)>", "ctl\"><img src=x onerror=alert(1)>",
                        "b", "b"], index=values.index)
    _, draw = figs.boxes(values, groups, ["ctl\"><img src=x onerror=alert(1)>", "b"],
                         title=SCRIPT, ytitle="y")
    fig = draw()
    fig.savefig(tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg


def test_phyloseq_files_by_hand(tmp_path: Path) -> None:
    tax = pd.Series({"f1": "d__Bacteria; p__Firmicutes; c__Clostridia; o__; f__; g__",
                     "f2": "k__Bacteria; p__Bacteroidetes; g__Prevotella; s__copri"})
    split = split_taxonomy(tax)
    assert split.loc["f1"].tolist() == ["Bacteria", "Firmicutes", "Clostridia", "", "", "", ""]
    assert split.loc["f2", "Genus"] == "Prevotella" and split.loc["f2", "Species"] == "copri"
    counts = pd.DataFrame({"s1": [3, 0], "s2": [1, 5]}, index=["f1", "f2"])
    md = pd.DataFrame({"group": ["a", "b"], "age": [30, 40]}, index=["s1", "s2"])
    files = write_phyloseq(counts, tmp_path, taxonomy=tax, metadata=md, tree_newick="(f1:1,f2:1);\n")
    assert [f.name for f in files] == ["otu-table.tsv", "taxonomy.tsv", "sample-data.tsv", "tree.nwk",
                                       "load-phyloseq.R"]
    assert (tmp_path / "otu-table.tsv").read_text() == "feature\ts1\ts2\nf1\t3\t1\nf2\t0\t5\n"
    assert (tmp_path / "sample-data.tsv").read_text() == "sample\tgroup\tage\ns1\ta\t30\ns2\tb\t40\n"
    assert "do.call(phyloseq, parts)" in (tmp_path / "load-phyloseq.R").read_text()


def test_qza_exports_read_back_with_qiime2_layout(tmp_path: Path) -> None:
    from microtrial.io.fasta import sequence_id, write_fasta
    from microtrial.io.feature_table import write_biom
    from microtrial.io.qza import read_qza
    from microtrial.report._exports import write_exports
    from microtrial.table import FeatureTable

    res = tmp_path / "results"
    res.mkdir()
    seqs = {sequence_id(s): s for s in ("ACGTACGTAA", "ACGTACGTCC")}
    ids = list(seqs)
    write_fasta(seqs, res / "dna-sequences.fasta")
    write_biom(FeatureTable(np.array([[5, 0], [2, 7]]), ids, ["s1", "s2"]), res / "feature-table.biom")
    pd.DataFrame({"Feature ID": ids, "Taxon": ["d__Bacteria; p__Firmicutes", "d__Bacteria"],
                  "Confidence": [0.9, 1.0]}).to_csv(res / "taxonomy.tsv", sep="\t", index=False)
    (res / "tree.nwk").write_text(f"({ids[0]}:0.1,{ids[1]}:0.2);\n")
    written = write_exports(res, tmp_path / "exports", metadata=None)
    assert "exports/qiime2/table.qza" in written and "exports/phyloseq/load-phyloseq.R" in written
    q = tmp_path / "exports" / "qiime2"
    table = read_qza(q / "table.qza")
    assert table.to_dataframe().loc[ids[1], "s2"] == 7
    assert read_qza(q / "rep-seqs.qza") == seqs
    assert read_qza(q / "taxonomy.qza").loc[ids[0], "Taxon"] == "d__Bacteria; p__Firmicutes"
    assert sorted(t.name for t in read_qza(q / "rooted-tree.qza").tips()) == sorted(ids)
    expected_types = {"table.qza": ("FeatureTable[Frequency]", "BIOMV210DirFmt"),
                      "rep-seqs.qza": ("FeatureData[Sequence]", "DNASequencesDirectoryFormat"),
                      "taxonomy.qza": ("FeatureData[Taxonomy]", "TSVTaxonomyDirectoryFormat"),
                      "rooted-tree.qza": ("Phylogeny[Rooted]", "NewickDirectoryFormat")}
    for name, (stype, fmt) in expected_types.items():
        with zipfile.ZipFile(q / name) as zf:
            names = zf.namelist()
            top = names[0].split("/")[0]
            assert all(n.startswith(f"{top}/") for n in names)
            meta = yaml.safe_load(zf.read(f"{top}/metadata.yaml"))
            assert meta == {"uuid": top, "type": stype, "format": fmt}
            assert zf.read(f"{top}/VERSION").decode().startswith("QIIME 2\narchive: ")
            assert any(n.startswith(f"{top}/data/") for n in names)
            assert f"{top}/provenance/action/action.yaml" in names


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs R with phyloseq (benchmark only; CI has no R)")
def test_phyloseq_snippet_in_r(tmp_path: Path) -> None:
    import subprocess

    tax = pd.Series({"f1": "d__Bacteria; p__Firmicutes", "f2": "d__Bacteria; p__Bacteroidetes"})
    counts = pd.DataFrame({"s1": [3, 0], "s2": [1, 5]}, index=["f1", "f2"])
    md = pd.DataFrame({"group": ["a", "b"]}, index=["s1", "s2"])
    write_phyloseq(counts, tmp_path, taxonomy=tax, metadata=md, tree_newick="(f1:1,f2:1);\n")
    check = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(phyloseq))", "-e",
         f"dir <- '{tmp_path}'; source(file.path(dir, 'load-phyloseq.R')); "
         "cat(ntaxa(ps), nsamples(ps), sum(otu_table(ps)), as.character(tax_table(ps)['f2', 'Phylum']), "
         "as.character(sample_data(ps)$group), length(phy_tree(ps)$tip.label), '\\n')"],
        capture_output=True, text=True, check=False, timeout=120)
    if "there is no package called" in check.stderr:
        pytest.skip("R without phyloseq")
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["2", "2", "9", "Bacteroidetes", "a", "b", "2"]


def test_interaction_design_gets_its_section(results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage

    (results / "inputs").mkdir()
    (results / "inputs" / "study.yaml").write_text(
        "name: mice\nmetadata: metadata.tsv\n"
        "design: {subject: mouse, group: {column: group, reference: a}}\n"
        "comparisons:\n- {name: a-by-time, kind: interaction, column: time, by: group, levels: [w4, w0]}\n")
    pd.DataFrame({"comparison": ["a-by-time", "a-by-time"], "metric": ["braycurtis"] * 2,
                  "term": ["group", "group:time"], "df": [1, 1], "pseudo_F": [3.0, 5.0], "R2": [0.1, 0.2],
                  "p_value": [0.04, 0.002], "permutations": [999, 999]}).to_csv(
        results / "permanova.tsv", sep="\t", index=False)
    page = report_stage(results, tmp_path / "rep", static_figures=False, exports=False).read_text()
    assert "<section id='designs'><h2>Designs with interactions</h2>" in page
    inter = pd.read_csv(tmp_path / "rep" / "tables" / "interaction-permanova.tsv", sep="\t")
    assert inter["term"].tolist() == ["group:time"]  # only the interaction row
    assert "PERMANOVA (Bray-Curtis), interaction group:time: R2 = 0.200, p = 0.002." in page
    # without an interaction there is no such section
    (results / "inputs" / "study.yaml").unlink()
    pd.read_csv(results / "permanova.tsv", sep="\t").iloc[:1].to_csv(results / "permanova.tsv", sep="\t",
                                                                      index=False)
    page = report_stage(results, tmp_path / "rep2", static_figures=False, exports=False).read_text()
    assert "id='designs'" not in page


def test_read_losses_by_hand() -> None:
    from microtrial.report._sections import _losses

    t = pd.DataFrame({"input": [100, 100], "filtered": [90, 98], "denoised-f": [85, 97],
                      "denoised-r": [88, 96], "merged": [80, 80], "non-chimeric": [79, 79]},
                     index=["s1", "s2"])
    lost = _losses(t)
    # each direction from the filtered reads; merging from the fewer denoised (85; 96)
    assert lost.loc["s1"].tolist() == [10, 5, 2, 5, 1]
    assert lost.loc["s2"].tolist() == [2, 1, 2, 16, 1]
    assert lost.idxmax(axis=1).tolist() == ["filtered", "merged"]


def test_summary_sentence_by_hand(results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage

    (results / "inputs").mkdir()
    (results / "inputs" / "study.yaml").write_text(
        "name: s\nmetadata: metadata.tsv\ndesign: {group: {column: group, reference: b}}\n"
        "comparisons:\n- {name: a-vs-b, kind: between, column: group, levels: [a, b]}\n")
    pd.DataFrame({"comparison": ["a-vs-b"], "index": ["shannon"], "test": ["mann-whitney"],
                  "p_value": [0.0123]}).to_csv(results / "diversity-tests.tsv", sep="\t", index=False)
    page = report_stage(results, tmp_path / "rep", static_figures=False, exports=False).read_text()
    assert "<title>s</title>" in page  # the study's name when no title is given
    # shannon: a = 1.5, 1.7 (median 1.6); b = 2.5, 2.4 (median 2.45)
    assert ("Shannon diversity was lower in a than b (median 1.6 vs 2.45; Mann-Whitney, p = 0.012). "
            "<a href='#alpha'>(Alpha diversity)</a>") in page
