"""The diversity stage and CLI end to end on the small simulated paired design (golden/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from diversity_inputs import GOLDEN, golden_paired, write_inputs

from microtrial.cli import main
from microtrial.design import Comparison
from microtrial.pipeline.diversity import diversity_stage


def _inputs(tmp_path: Path, *, bad: bool = False) -> tuple[Path, Path]:
    t, m = golden_paired()
    if bad:
        t["orphan"] = 3  # in the table, not in the metadata
        t["empty"] = 0  # all-zero sample
        t["lonely"] = 5  # subject with one time point
        t["single"] = 4  # the only sample of its group
        m.loc["empty"] = ["P90", "baseline", "patient"]
        m.loc["lonely"] = ["P91", "baseline", "patient"]
        m.loc["single"] = ["P92", "baseline", "other"]
    return write_inputs(tmp_path, t, m)


def _tree(tmp_path: Path) -> Path:
    # caterpillar tree over the 40 OTUs: ((((OTU01:1,OTU02:1):1,OTU03:1):1,...)
    text = "OTU01:1"
    for i in range(2, 41):
        text = f"({text},OTU{i:02d}:{0.5 + i / 40}):0.3"
    path = tmp_path / "tree.nwk"
    path.write_text(text + ";\n")
    return path


def test_stage_outputs_match_direct_permanova(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    comp = Comparison("week12-vs-baseline", "paired", "time", ("week12", "baseline"), subject="subject")
    out = tmp_path / "out"
    s = diversity_stage(tp, mp, out, comparisons=[comp], rarefy=None, metrics=("braycurtis",),
                        permutations=99, healthy=("group", "control"))
    assert s.depth is None and s.n_samples == 24 and not s.dropped
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    ref = pd.read_csv(GOLDEN / "permanova.tsv", sep="\t")
    ref = ref[ref["test"] == "paired-time-strata"].iloc[0]
    row = perm.iloc[0]
    assert row["strata"] == "subject" and row["metric"] == "braycurtis"
    assert row["pseudo_F"] == pytest.approx(ref["pseudo_F"], rel=1e-9)  # file keeps 10 digits
    tests = pd.read_csv(out / "diversity-tests.tsv", sep="\t")
    assert set(tests["test"]) == {"wilcoxon-signed-rank", "lmm"}
    assert list(tests.columns) == ["comparison", "index", "test", "n_test", "n_reference", "statistic",
                                   "effect", "ci_low", "ci_high", "p_value", "q_value"]
    w = pd.read_csv(GOLDEN / "wilcoxon.tsv", sep="\t").set_index("test").loc["paired-shannon-week12-vs-baseline"]
    sh = tests[(tests["index"] == "shannon") & (tests["test"] == "wilcoxon-signed-rank")].iloc[0]
    assert sh["p_value"] == pytest.approx(w["p_value"], rel=1e-9)
    assert sh["effect"] == pytest.approx(w["estimate"], rel=1e-8)
    dys = pd.read_csv(out / "dysbiosis.tsv", sep="\t")
    bc = pd.read_csv(out / "beta-braycurtis.tsv", sep="\t", index_col=0)
    vegan_bc = pd.read_csv(GOLDEN / "paired-braycurtis.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(bc.to_numpy(), vegan_bc.loc[bc.index, bc.columns].to_numpy(), atol=1e-12)
    ctrl = list(dys.loc[dys["reference"], "sample-id"])
    first_ctrl = ctrl[0]
    assert dys.set_index("sample-id").at[first_ctrl, "dysbiosis"] == pytest.approx(
        np.median(bc.loc[first_ctrl, [c for c in ctrl if c != first_ctrl]]), rel=1e-9)
    change = pd.read_csv(out / "dysbiosis-change.tsv", sep="\t")
    assert len(change) == 12
    np.testing.assert_allclose(change["change"], change["dysbiosis_week12"] - change["dysbiosis_baseline"])
    assert (tests["index"] == "dysbiosis_braycurtis").sum() == 1
    info = json.loads((out / "run-info.json").read_text())
    assert info["seeds"]["seed"] == 0
    coords = pd.read_csv(out / "pcoa-braycurtis.tsv", sep="\t", index_col=0, comment="#")
    assert list(coords.columns) == ["PC1", "PC2", "PC3", "PC4", "PC5"]
    assert (out / "pcoa-braycurtis.tsv").read_text().startswith("# proportion explained: PC1=")


def test_cli_bad_inputs_are_dropped_and_recorded(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path, bad=True)
    out = tmp_path / "out"
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--group", "group",
               "--subject", "subject", "--time", "time", "--permutations", "49",
               "--tree", str(_tree(tmp_path)), "-o", str(out)])
    assert rc == 0
    dropped = pd.read_csv(out / "dropped-samples.tsv", sep="\t").set_index("sample-id")["reason"]
    assert "not in the metadata" in dropped["orphan"]
    assert "all-zero" in dropped["empty"]
    assert "P91" in dropped["lonely"]
    assert "only one sample" in dropped["single"]
    alpha = pd.read_csv(out / "alpha-diversity.tsv", sep="\t", index_col=0)
    assert "faith_pd" in alpha.columns and "orphan" not in alpha.index
    for m in ("braycurtis", "jaccard", "unweighted_unifrac", "weighted_unifrac", "aitchison"):
        assert (out / f"beta-{m}.tsv").exists()
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    assert {"time", "group"} <= set(perm["term"])
    tests = pd.read_csv(out / "diversity-tests.tsv", sep="\t")
    assert "kruskal-wallis" not in set(tests["test"])  # 'other' (one sample) dropped -> 2 levels
    assert (out / "rarefaction-curves.tsv").exists()


def test_unifrac_skipped_without_tree(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    s = diversity_stage(tp, mp, tmp_path / "o", permutations=0)
    assert s.metrics == ["braycurtis", "jaccard", "aitchison"]
    assert any("unweighted_unifrac" in x for x in s.skipped)


def test_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tp, mp = _inputs(tmp_path)
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--group", "nosuch",
               "-o", str(tmp_path / "o")])
    assert rc == 2
    assert "no column 'nosuch'" in capsys.readouterr().err
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--time", "time",
               "-o", str(tmp_path / "o")])
    assert rc == 2
    assert "--subject" in capsys.readouterr().err
    rc = main(["diversity", "--table", str(tp), "--metadata", str(mp), "--rarefy", "100000",
               "-o", str(tmp_path / "o")])
    assert rc == 2
    assert "no sample has 100000 reads" in capsys.readouterr().err


def test_covariates_enter_permanova_before_the_compared_term(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    m = pd.read_csv(mp, sep="\t", index_col=0)
    m["age"] = np.arange(len(m)) % 7 + 30.0
    m.to_csv(mp, sep="\t")
    comp = Comparison("patient-vs-control", "between", "group", ("patient", "control"))
    out = tmp_path / "out"
    diversity_stage(tp, mp, out, comparisons=[comp], rarefy=None, metrics=("braycurtis",),
                    permutations=0, covariates=("age",))
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    assert list(perm["term"]) == ["age", "group"]
    assert list(perm["df"]) == [1, 1]


def test_three_groups_give_kruskal_and_pairwise_permanova(tmp_path: Path) -> None:
    tp, mp = _inputs(tmp_path)
    m = pd.read_csv(mp, sep="\t", index_col=0)
    m["arm"] = np.array(["a", "b", "c"])[np.arange(len(m)) % 3]
    m.to_csv(mp, sep="\t")
    out = tmp_path / "out"
    assert main(["diversity", "--table", str(tp), "--metadata", str(mp), "--group", "arm",
                 "--permutations", "19", "--rarefy", "none", "--metrics", "braycurtis", "-o", str(out)]) == 0
    tests = pd.read_csv(out / "diversity-tests.tsv", sep="\t")
    assert (tests["test"] == "kruskal-wallis").sum() == 7  # one per alpha index
    assert set(tests.loc[tests["test"] == "mann-whitney", "comparison"]) == {"arm-b-vs-a", "arm-c-vs-a"}
    pw = pd.read_csv(out / "permanova-pairwise.tsv", sep="\t")
    assert sorted(zip(pw["level_a"], pw["level_b"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (pw["q_value"] >= pw["p_value"]).all()


def test_mixed_model_recovers_simulated_time_effect() -> None:
    from microtrial.diversity import alpha_mixed_model

    rng = np.random.default_rng(5)
    n_subj = 40
    subj = np.repeat([f"P{i}" for i in range(n_subj)], 2)
    time = np.tile(["baseline", "week12"], n_subj)
    intercept = rng.normal(3.0, 0.6, n_subj)
    value = np.repeat(intercept, 2) + 0.5 * (time == "week12") + rng.normal(0, 0.2, 2 * n_subj)
    ids = [f"s{i}" for i in range(2 * n_subj)]
    md = pd.DataFrame({"subject": subj, "time": time}, index=ids)
    alpha = pd.DataFrame({"shannon": value}, index=ids)
    comp = Comparison("t", "paired", "time", ("week12", "baseline"), subject="subject")
    row = alpha_mixed_model(alpha, md, comp).iloc[0]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["effect"] == pytest.approx(0.5, abs=0.15)
    assert row["p_value"] < 1e-6
