"""`microtrial function` and its metagenome/pathways subcommands: PICRUSt2's file names and
formats, the genus route, bad input (one error line, exit 2)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.cli_checks import one_error

from microtrial.cli import main

TABLE = "#OTU ID\tS1\tS2\na\t10\t0\nb\t5\t6\nc\t3\t3\n"
TRAITS = "sequence\tEC:1.1.1.1\tEC:2.2.2.2\tmetadata_NSTI\na\t1\t0\t0.1\nb\t2\t4\t0.5\n"
MARKER = "sequence\t16S_rRNA_Count\tmetadata_NSTI\na\t2\t0.1\nb\t3\t0.5\n"


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text)
    return p


def _gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return fh.read().splitlines()


def test_metagenome_writes_picrust2_files(tmp_path: Path) -> None:
    t = _write(tmp_path, "table.tsv", TABLE)
    f = _write(tmp_path, "EC_predicted.tsv", TRAITS)
    m = _write(tmp_path, "marker.tsv", MARKER)
    out = tmp_path / "out"
    assert main(["function", "metagenome", "--table", str(t), "--traits", str(f),
                 "--marker", str(m), "--strat-out", "-o", str(out)]) == 0
    # hand: a -> 5, 0; b -> 1.67, 2 (5/3 rounded to 2 decimals)
    assert _gz_lines(out / "seqtab_norm.tsv.gz") == [
        "normalized\tS1\tS2", "a\t5.0\t0.0", "b\t1.67\t2.0"]
    assert _gz_lines(out / "pred_metagenome_unstrat.tsv.gz") == [
        "function\tS1\tS2", "EC:1.1.1.1\t8.34\t4.0", "EC:2.2.2.2\t6.68\t8.0"]
    assert _gz_lines(out / "weighted_nsti.tsv.gz")[0] == "sample\tweighted_NSTI"
    contrib = _gz_lines(out / "pred_metagenome_contrib.tsv.gz")
    assert contrib[0] == ("sample\tfunction\ttaxon\ttaxon_abun\ttaxon_rel_abun\t"
                          "genome_function_count\ttaxon_function_abun\t"
                          "taxon_rel_function_abun\tnorm_taxon_function_contrib")
    excluded = (out / "excluded_asvs.tsv").read_text().splitlines()
    assert excluded == ["sequence\treason", "c\tno_prediction"]
    info = json.loads((out / "run-info.json").read_text())
    assert info["command"] == "function metagenome"


def test_metagenome_max_nsti_lists_excluded(tmp_path: Path) -> None:
    t = _write(tmp_path, "table.tsv", TABLE)
    f = _write(tmp_path, "f.tsv", TRAITS)
    m = _write(tmp_path, "m.tsv", MARKER)
    out = tmp_path / "out"
    assert main(["function", "metagenome", "--table", str(t), "--traits", str(f),
                 "--marker", str(m), "--max-nsti", "0.2", "-o", str(out)]) == 0
    excluded = (out / "excluded_asvs.tsv").read_text().splitlines()
    assert "b\tnsti_above_max" in excluded
    assert _gz_lines(out / "seqtab_norm.tsv.gz") == ["normalized\tS1\tS2", "a\t5.0\t0.0"]


def test_metagenome_no_predicted_asv_is_one_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    t = _write(tmp_path, "table.tsv", "#OTU ID\tS1\nx\t3\ny\t4\n")
    f = _write(tmp_path, "f.tsv", TRAITS)
    m = _write(tmp_path, "m.tsv", MARKER)
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "metagenome", "--table", str(t), "--traits", str(f),
                              "--marker", str(m), "-o", str(out)], out=out, allow_warnings=True)
    assert "no ASV of the table" in line


MAP = "PWY-A\t ( R1 , R2 )  R3 \nPWY-B\t R4 R5 \n"
REGROUP = "EC:1.1.1.1\tR1,R3\nEC:2.2.2.2\tR3\nEC:3.3.3.3\tR4\n"


def test_pathways_with_given_maps(tmp_path: Path) -> None:
    inp = _write(tmp_path, "unstrat.tsv",
                 "function\tS1\tS2\nEC:1.1.1.1\t2\t0\nEC:2.2.2.2\t4\t1\n")
    mp = _write(tmp_path, "map.txt", MAP)
    rg = _write(tmp_path, "regroup.tsv", REGROUP)
    out = tmp_path / "out"
    assert main(["function", "pathways", "--input", str(inp), "--map", str(mp),
                 "--regroup-map", str(rg), "--coverage", "-o", str(out)]) == 0
    abun = _gz_lines(out / "path_abun_unstrat.tsv.gz")
    # key reactions R1, R2, R3. S1: R1 = 2, R2 = 0, R3 = 2 + 4 = 6; one key reaction
    # missing, so gap filling gives R2 the second least value (2): OR block max(2, 2) = 2,
    # AND = harmonic mean of (2, 6) = 3. S2: R1 = R2 = 0 (two missing: no filling), OR
    # block 0, so the AND is 0. PWY-B has none of its reactions: absent.
    assert abun == ["pathway\tS1\tS2", "PWY-A\t3.0\t0.0"]
    assert (out / "path_cov_unstrat.tsv.gz").is_file()


def test_pathways_unknown_ids_is_one_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    inp = _write(tmp_path, "unstrat.tsv", "function\tS1\nEC:9.9.9.9\t2\n")
    mp = _write(tmp_path, "map.txt", MAP)
    rg = _write(tmp_path, "regroup.tsv", REGROUP)
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "pathways", "--input", str(inp), "--map", str(mp),
                              "--regroup-map", str(rg), "-o", str(out)], out=out)
    assert "EC:9.9.9.9" in line


@pytest.mark.requires_shared
def test_pathways_default_maps_from_reference(tmp_path: Path, shared_data: Path) -> None:
    ref = shared_data / "picrust2-ref" / "archaea"
    ec = pd.read_csv(ref / "ec.txt.gz", sep="\t", index_col=0)
    # two archaeal genomes as two samples: their EC copies as gene-family abundances
    unstrat = ec.iloc[:2].T
    unstrat.columns = ["S1", "S2"]
    unstrat = unstrat.loc[(unstrat != 0).any(axis=1)]
    inp = tmp_path / "unstrat.tsv"
    unstrat.to_csv(inp, sep="\t", index_label="function")
    out = tmp_path / "out"
    assert main(["function", "pathways", "--input", str(inp), "--reference", str(ref),
                 "--description", "-o", str(out)]) == 0
    df = pd.read_csv(out / "path_abun_unstrat.tsv.gz", sep="\t", index_col=0)
    assert list(df.columns) == ["description", "S1", "S2"]
    assert len(df) > 20 and (df[["S1", "S2"]] >= 0).all().all()
    info = json.loads((out / "run-info.json").read_text())
    assert info["options"]["regroup_map"].endswith("ec_level4_to_metacyc_rxn_new.tsv")
    assert info["options"]["map"].endswith("metacyc_pathways_structured_filtered_v24.txt")
    # 'EC:' ids (PICRUSt2 up to 2.5): that release's default maps
    unstrat.index = "EC:" + unstrat.index
    unstrat.to_csv(inp, sep="\t", index_label="function")
    out2 = tmp_path / "out2"
    assert main(["function", "pathways", "--input", str(inp), "--reference", str(ref),
                 "-o", str(out2)]) == 0
    info = json.loads((out2 / "run-info.json").read_text())
    assert info["options"]["regroup_map"].endswith("ec_level4_to_metacyc_rxn.tsv")
    assert info["options"]["map"].endswith("metacyc_path2rxn_struc_filt_pro.txt")
    legacy = pd.read_csv(out2 / "path_abun_unstrat.tsv.gz", sep="\t", index_col=0)
    assert len(legacy) > 20


def test_all_in_one_genus_route(tmp_path: Path) -> None:
    t = _write(tmp_path, "table.tsv", "#OTU ID\tS1\tS2\nr\t30\t10\nl\t10\t10\nz\t5\t5\n")
    tax = _write(tmp_path, "taxonomy.tsv",
                 "Feature ID\tTaxon\tConfidence\n"
                 "r\tk__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; "
                 "f__Lachnospiraceae; g__Roseburia\t0.99\n"
                 "l\tk__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; "
                 "f__Lachnospiraceae; g__\t0.99\n"
                 "z\tk__Bacteria\t0.9\n")
    out = tmp_path / "out"
    assert main(["function", "--table", str(t), "--taxonomy", str(tax), "-o", str(out)]) == 0
    info = json.loads((out / "run-info.json").read_text())
    assert info["route"] == "embedded-genus-table"
    pred = pd.read_csv(out / "asv-cazy-predictions.tsv", sep="\t", index_col=0)
    assert pred.columns[0] == "nsti" and list(pred.index) == ["r", "l"]
    marker = pd.read_csv(out / "asv-16S-predictions.tsv", sep="\t", index_col=0)
    norm = pd.read_csv(out / "function" / "CAZY_metagenome_out" / "seqtab_norm.tsv.gz",
                       sep="\t", index_col=0)
    # counts divided by the genus's (family's) mean 16S copies, 2 decimals
    assert norm.loc["r", "S1"] == round(30 / marker.loc["r", "16S_rRNA_Count"], 2)
    assert norm.loc["l", "S2"] == round(10 / marker.loc["l", "16S_rRNA_Count"], 2)
    assert (out / "cazy-metagenome.tsv").is_file()
    matches = pd.read_csv(out / "function" / "genus_matches.tsv", sep="\t", index_col=0)
    assert matches["rank"].to_dict() == {"r": "genus", "l": "family", "z": "none"}


def test_all_in_one_needs_taxonomy_without_reference(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    t = _write(tmp_path, "table.tsv", TABLE)
    out = tmp_path / "out"
    line = one_error(capsys, ["function", "--table", str(t), "-o", str(out)], out=out)
    assert "--taxonomy" in line


def _small_archaeal_reference(shared_data: Path, folder: Path) -> Path:
    """PICRUSt2's archaeal reference with trait tables cut to 40 EC columns (fast hsp)."""
    src = shared_data / "picrust2-ref"
    ref = folder / "archaea"
    ref.mkdir(parents=True)
    (ref / "arc_ref").symlink_to(src / "archaea" / "arc_ref")
    (folder / "pathway_mapfiles").symlink_to(src / "pathway_mapfiles")
    (folder / "description_mapfiles").symlink_to(src / "description_mapfiles")
    ec = pd.read_csv(src / "archaea" / "ec.txt.gz", sep="\t", index_col=0)
    keep = [c for c in ec.columns if c.startswith(("2.3.1.9", "1.1.1.35", "4.2.1.17", "1.3.8.1",
                                                   "2.7.2.1", "2.3.1.8", "6.3.5.4", "3.5.1.1",
                                                   "2.6.1.1", "4.3.1.1"))]
    keep += [c for c in ec.columns[:40] if c not in keep]
    ec[keep].to_csv(ref / "ec.txt.gz", sep="\t", index_label="assembly")
    pd.read_csv(src / "archaea" / "16S.txt.gz", sep="\t", index_col=0).to_csv(
        ref / "16S.txt.gz", sep="\t", index_label="assembly")
    return ref


@pytest.mark.slow
@pytest.mark.requires_shared
def test_all_in_one_reference_route(tmp_path: Path, shared_data: Path) -> None:
    from microtrial.io.fasta import read_fasta

    ref = _small_archaeal_reference(shared_data, tmp_path / "ref")
    aligned = read_fasta(shared_data / "picrust2-ref" / "archaea" / "arc_ref" / "arc_ref.fna")
    genomes = list(aligned)[:4]
    fasta = tmp_path / "asvs.fasta"
    fasta.write_text("".join(f">asv{i}\n{aligned[g].replace('-', '').replace('.', '').upper()}\n"
                             for i, g in enumerate(genomes)))
    t = _write(tmp_path, "table.tsv",
               "#OTU ID\tS1\tS2\nasv0\t10\t3\nasv1\t4\t0\nasv2\t7\t9\nasv3\t0\t12\n")
    out = tmp_path / "out"
    assert main(["function", "--table", str(t), "--sequences", str(fasta), "--reference",
                 str(ref), "-o", str(out)]) == 0
    info = json.loads((out / "run-info.json").read_text())
    assert info["route"] == "picrust2-reference"
    for name in ("out.tre", "EC_predicted.tsv.gz", "marker_predicted_and_nsti.tsv.gz",
                 "EC_metagenome_out/pred_metagenome_unstrat.tsv.gz",
                 "EC_metagenome_out/seqtab_norm.tsv.gz", "EC_metagenome_out/weighted_nsti.tsv.gz"):
        assert (out / "function" / name).is_file(), name
    # the flat metagenome equals sum_i round(count_i / 16S_i, 2) * EC_i, from the written
    # per-ASV predictions
    pred = pd.read_csv(out / "asv-ec-predictions.tsv", sep="\t", index_col=0)
    marker = pd.read_csv(out / "asv-16S-predictions.tsv", sep="\t", index_col=0)
    assert pred.columns[0] == "nsti" and (pred["nsti"] >= 0).all()
    counts = pd.read_csv(t, sep="\t", index_col=0).loc[pred.index]
    norm = (counts.to_numpy() / marker.loc[pred.index, "16S_rRNA_Count"].to_numpy()[:, None]).round(2)
    expected = pred.drop(columns="nsti").to_numpy().T @ norm
    meta = pd.read_csv(out / "ec-metagenome.tsv", sep="\t", index_col=0)
    want = pd.DataFrame(expected, index=pred.columns[1:], columns=["S1", "S2"])
    want = want.loc[(want != 0).any(axis=1)].sort_index()
    np.testing.assert_allclose(meta.sort_index().to_numpy(), want.to_numpy(), rtol=1e-12)
    assert (out / "pathway-abundance.tsv").is_file()


def test_metagenome_reads_a_mothur_shared_file(tmp_path: Path) -> None:
    t = _write(tmp_path, "table.shared",
               "label\tGroup\tnumOtus\ta\tb\tc\n0.03\tS1\t3\t10\t5\t3\n0.03\tS2\t3\t0\t6\t3\n")
    f = _write(tmp_path, "f.tsv", TRAITS)
    m = _write(tmp_path, "m.tsv", MARKER)
    out = tmp_path / "out"
    assert main(["function", "metagenome", "--table", str(t), "--traits", str(f),
                 "--marker", str(m), "-o", str(out)]) == 0
    assert _gz_lines(out / "pred_metagenome_unstrat.tsv.gz") == [
        "function\tS1\tS2", "EC:1.1.1.1\t8.34\t4.0", "EC:2.2.2.2\t6.68\t8.0"]


def test_pathways_from_stratified_and_contribution_tables(tmp_path: Path) -> None:
    mp = _write(tmp_path, "map.txt", MAP)
    rg = _write(tmp_path, "regroup.tsv", REGROUP)
    # wide stratified: summed over sequences it is the unstratified table of the test above
    strat = _write(tmp_path, "strat.tsv", "function\tsequence\tS1\tS2\n"
                   "EC:1.1.1.1\ta\t1.5\t0\nEC:1.1.1.1\tb\t0.5\t0\nEC:2.2.2.2\tb\t4\t1\n")
    contrib = _write(tmp_path, "contrib.tsv",
                     "sample\tfunction\ttaxon\ttaxon_abun\ttaxon_rel_abun\tgenome_function_count\t"
                     "taxon_function_abun\ttaxon_rel_function_abun\tnorm_taxon_function_contrib\n"
                     "S1\tEC:1.1.1.1\ta\t1.5\t50\t1\t1.5\t50\t0.75\n"
                     "S1\tEC:1.1.1.1\tb\t0.5\t50\t1\t0.5\t50\t0.25\n"
                     "S1\tEC:2.2.2.2\tb\t0.5\t50\t8\t4\t400\t1\n"
                     "S2\tEC:2.2.2.2\tb\t1\t100\t1\t1\t100\t1\n")
    for name, inp in (("strat", strat), ("contrib", contrib)):
        out = tmp_path / name
        assert main(["function", "pathways", "--input", str(inp), "--map", str(mp),
                     "--regroup-map", str(rg), "-o", str(out)]) == 0
        assert _gz_lines(out / "path_abun_unstrat.tsv.gz") == ["pathway\tS1\tS2", "PWY-A\t3.0\t0.0"]
    # contribution input: community-wide contributions per taxon (path_abun_contrib)
    rows = pd.read_csv(tmp_path / "contrib" / "path_abun_contrib.tsv.gz", sep="\t")
    assert list(rows.columns) == ["sample", "function", "taxon", "taxon_abun", "taxon_rel_abun",
                                  "genome_function_count", "taxon_function_abun",
                                  "taxon_rel_function_abun"]
    # S1, PWY-A = 3 over reactions R1 = 2 (a 1.5, b 0.5) and R3 = 6 (a 1.5, b 0.5 + 4):
    # a: 3/8 * 3 = 1.125, b: 5/8 * 3 = 1.875; relative: a 100/8 * 3, b 500/8 * 3; S2 has 0
    got = rows.set_index("taxon")
    assert list(rows["sample"]) == ["S1", "S1"] and set(rows["function"]) == {"PWY-A"}
    assert got.loc["a", "taxon_function_abun"] == 1.125
    assert got.loc["b", "taxon_function_abun"] == 1.875
    assert got.loc["a", "taxon_rel_function_abun"] == 37.5
    assert got.loc["b", "taxon_rel_function_abun"] == 187.5
    assert got.loc["b", "genome_function_count"] == pytest.approx(1.875 / 0.5)
    # wide stratified input: the same shares per sequence (path_abun_strat)
    wide = _gz_lines(tmp_path / "strat" / "path_abun_strat.tsv.gz")
    assert wide == ["pathway\tsequence\tS1\tS2", "PWY-A\ta\t1.125\t0.0", "PWY-A\tb\t1.875\t0.0"]
