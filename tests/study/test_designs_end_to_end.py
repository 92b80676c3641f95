"""``between`` with three groups and ``longitudinal`` with three time points, from the study
file through validation, the diversity and differential stages (a simulated mouse
experiment's true counts as the feature table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from microtrial.io.feature_table import write_table_tsv
from microtrial.pipeline.differential import differential_stage
from microtrial.pipeline.diversity import diversity_stage
from microtrial.simulate import AnimalDesign, simulate_animal
from microtrial.study import validate_study
from microtrial.table import FeatureTable


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """8 IL-2 and 16 control mice at weeks 0, 2, 4; controls split into two groups of 8
    (different cages) for a three-group comparison at week 4."""
    out = tmp_path_factory.mktemp("designs")
    sim = simulate_animal(AnimalDesign(n_il2=8, n_control=16, weeks=(0, 2, 4)), seed=3)
    md = sim.metadata.copy()
    ctrl = sorted(set(md.loc[md["treatment"] == "control", "subject"]))
    md["group3"] = np.where(md["treatment"] == "il2", "il2",
                            np.where(md["subject"].isin(ctrl[:8]), "controlA", "controlB"))
    md.index.name = "sample-id"
    md.to_csv(out / "metadata.tsv", sep="\t")
    write_table_tsv(FeatureTable.from_dataframe(sim.counts), out / "table.tsv")
    pd.DataFrame({"Feature ID": sim.pool.index, "Taxon": sim.pool["taxon"]}).to_csv(
        out / "taxonomy.tsv", sep="\t", index=False)
    spec = {
        "metadata": "metadata.tsv", "table": "table.tsv", "taxonomy_file": "taxonomy.tsv",
        "design": {"subject": "subject", "group": {"column": "treatment", "reference": "control"},
                   "time": {"column": "week", "reference": 0}},
        "comparisons": [
            {"name": "three-groups", "kind": "between", "column": "group3",
             "levels": ["il2", "controlA", "controlB"], "where": {"week": 4}},
            {"name": "il2-over-time", "kind": "longitudinal", "column": "week",
             "levels": [0, 2, 4], "where": {"treatment": "il2"}},
        ],
    }
    (out / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return out, sim.effects.set_index("feature")


def test_three_groups_and_three_time_points(study: tuple[Path, pd.DataFrame]) -> None:
    folder, truth = study
    s = validate_study(folder / "study.yaml")
    kinds = {c.name: (c.kind, c.levels) for c in s.comparisons}
    assert kinds == {"three-groups": ("between", ("il2", "controlA", "controlB")),
                     "il2-over-time": ("longitudinal", ("0", "2", "4"))}
    out = folder / "out"
    diversity_stage(folder / "table.tsv", folder / "metadata.tsv", out / "div",
                    comparisons=s.comparisons, rarefy=None, metrics=("braycurtis",),
                    permutations=99, subject="subject")
    differential_stage(folder / "table.tsv", folder / "metadata.tsv", out / "dif",
                       comparisons=s.comparisons, taxonomy=folder / "taxonomy.tsv",
                       ranks=("asv",), methods=("lmm", "paired-wilcoxon", "ancombc"))
    tests = pd.read_csv(out / "div" / "diversity-tests.tsv", sep="\t")
    sh = tests[tests["index"] == "shannon"]
    three = sh[sh["comparison"] == "three-groups"]
    assert set(three["test"]) == {"kruskal-wallis", "mann-whitney-pairwise"}
    assert set(three["term"]) == {"group3", "group3:il2-vs-controlA", "group3:il2-vs-controlB",
                                  "group3:controlA-vs-controlB"}
    assert three[three["test"] == "kruskal-wallis"]["n_test"].iloc[0] == 24
    lon = sh[sh["comparison"] == "il2-over-time"]
    assert set(lon["term"]) == {"week:2", "week:4", "week:trend", "week"}
    assert lon[lon["test"] == "friedman"]["n_test"].iloc[0] == 8
    perm = pd.read_csv(out / "div" / "permanova.tsv", sep="\t")
    assert set(perm["comparison"]) == {"three-groups", "il2-over-time"}
    assert perm.set_index("comparison").loc["il2-over-time", "strata"] == "subject"
    pairs = pd.read_csv(out / "div" / "permanova-pairwise.tsv", sep="\t")
    assert len(pairs[pairs["comparison"] == "three-groups"]) == 3

    lmm = pd.read_csv(out / "dif" / "differential-lmm.tsv", sep="\t")
    eff = lambda df: truth["effect"].reindex(df["feature"]).to_numpy()  # noqa: E731
    # three groups at week 4: every pair tested, BH across pairs
    g = lmm[lmm["contrast"] == "three-groups"]
    omni = g[g["test_level"] == "all"]
    assert len(omni) and (omni["effect_type"] == "f_statistic").all()
    assert set(omni["term"]) == {"group3"}
    # IL-2 features differ between the three groups at week 4, unchanged ones do not
    op = omni["p_value"].to_numpy()
    assert np.median(op[eff(omni) == "interaction"]) * 5 < np.median(op[eff(omni) == "none"])
    g = g[g["test_level"] != "all"]
    assert set(zip(g["test_level"], g["reference_level"])) == {
        ("il2", "controlA"), ("il2", "controlB"), ("controlA", "controlB")}
    called = g[g["q_value"] < 0.05]
    # IL-2 features differ between IL-2 and control mice at week 4; the two control groups
    # differ only by their cages' effects (no designed effect), so few calls there
    il2_pairs = called[called["test_level"] == "il2"]
    assert (eff(il2_pairs) == "interaction").sum() >= 3
    assert (eff(il2_pairs) == "interaction").mean() >= 0.5
    assert (called["test_level"] == "controlA").sum() <= 3
    # three time points in the IL-2 arm: the trend calls drift and IL-2 features
    t = lmm[(lmm["contrast"] == "il2-over-time") & (lmm["term"] == "week:trend")]
    tc = t[t["q_value"] < 0.05]
    assert len(tc) >= 5
    assert np.isin(eff(tc), ["time-only", "interaction"]).mean() >= 0.8
    fr = pd.read_csv(out / "dif" / "differential-paired-wilcoxon.tsv", sep="\t")
    assert set(fr[fr["contrast"] == "il2-over-time"]["term"]) == {"week"}
    anc = pd.read_csv(out / "dif" / "differential-ancombc.tsv", sep="\t")
    assert {"week:2", "week:4"} <= set(anc[anc["contrast"] == "il2-over-time"]["term"])
