"""A genus-level trait table on the genus route: the demo-sized simulated trial's designed
gene content (``microtrial simulate``'s ``function/genus-traits.tsv``) gives MetaCyc
pathways whose changes are judged against the simulator's truth
(``truth/function-pathways.tsv``), and the run says the traits are simulated."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from microtrial.errors import InputError
from microtrial.function import check_genus_traits, predict_from_genus_traits, trait_kind
from microtrial.io.feature_table import write_table_tsv
from microtrial.io.metadata import write_metadata
from microtrial.io.taxonomy import write_taxonomy
from microtrial.pipeline.function import function_study_stage, read_genus_traits
from microtrial.pipeline.simulate import _write_functions, study_dict
from microtrial.simulate import simulate_trial
from microtrial.study import load_study
from microtrial.table import FeatureTable

ROSEBURIA = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Roseburia"
UNNAMED = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__"
ORDER_ONLY = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__; g__"


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The default (demo-sized) simulated trial, seed 1: true read counts and taxa as the
    function stage's input, the study's comparisons, its simulated genus trait table."""
    tmp = tmp_path_factory.mktemp("simfn")
    trial = simulate_trial(seed=1)
    write_metadata(trial.metadata, tmp / "metadata.tsv")
    write_table_tsv(FeatureTable.from_dataframe(trial.counts), tmp / "table.tsv")
    write_taxonomy(pd.DataFrame({"Taxon": trial.pool["taxon"], "Confidence": 1.0}),
                   tmp / "taxonomy.tsv")
    _write_functions(trial, tmp)
    study = study_dict(trial)
    for key in ("reads", "taxonomy", "clinical", "immune", "metabolites"):
        study.pop(key, None)
    study.update({"table": "table.tsv", "taxonomy_file": "taxonomy.tsv", "tree": "none"})
    # the responder comparison needs the clinical stage's response column
    study["comparisons"] = [c for c in study["comparisons"] if c["column"] != "response"]
    (tmp / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    loaded = load_study(tmp / "study.yaml")
    assert loaded.function is not None and loaded.function.genus_traits is not None
    out = tmp / "out"
    function_study_stage(out, table=tmp / "table.tsv", metadata=loaded.metadata,
                         comparisons=loaded.comparisons, taxonomy=tmp / "taxonomy.tsv",
                         genus_traits=loaded.function.genus_traits, seed=1)
    return {"out": out, "truth": tmp / "truth", "traits": loaded.function.genus_traits}


def test_simulated_traits_are_labelled_and_the_route_recorded(sim_run: dict[str, Path]) -> None:
    assert sim_run["traits"].read_text().startswith("# simulated by microtrial simulate")
    info = json.loads((sim_run["out"] / "run-info.json").read_text())
    assert info["route"] == "genus-trait-table"
    assert info["genus_traits_simulated"] is True
    assert "not real genome content" in info["genus_traits_note"]
    assert info["pathway_maps"].startswith("packaged MetaCyc maps")
    assert (sim_run["out"] / "pathway-abundance.tsv").is_file()
    assert (sim_run["out"] / "asv-ec-predictions.tsv").is_file()


def test_designed_pathways_of_interest_change_as_the_truth_says(sim_run: dict[str, Path]) -> None:
    truth = pd.read_csv(sim_run["truth"] / "function-pathways.tsv", sep="\t",
                        keep_default_na=False)
    designed = truth[truth["designed_change"].astype(str) == "True"]
    assert set(designed["pathway"]) == {"ASPASN-PWY", "BRANCHED-CHAIN-AA-SYN-PWY",
                                        "CENTFERM-PWY", "PWY-5676", "P162-PWY"}
    info = json.loads((sim_run["out"] / "run-info.json").read_text())
    found = set(info["pathways_of_interest_found"])
    assert set(designed["pathway"]) <= found
    unmapped = set(truth.loc[truth["in_maps"].astype(str) == "False", "pathway"])
    assert unmapped == {"ASPARAGINESYN-PWY", "LEUSYN-PWY"} and not unmapped & found

    diff = pd.read_csv(sim_run["out"] / "function-differential.tsv", sep="\t")
    diff = diff[diff["table"] == "pathway"]
    core = set(truth.loc[truth["carried_by"] == "all", "pathway"])
    for (pathway, comparison), want in designed.set_index(["pathway", "comparison"])[
            "direction"].items():
        rows = diff[(diff["feature"] == pathway) & (diff["comparison"] == comparison)]
        assert not rows.empty, (pathway, comparison)
        signs = {"up" if e > 0 else "down" for e in rows["effect"]}
        assert signs == {want}, (pathway, comparison, rows[["method", "effect"]])
        assert rows["q_value"].min() < 0.05, (pathway, comparison, rows)
        # larger than any pathway every genus carries (no designed change), per method
        for method, row in rows.set_index("method").iterrows():
            others = diff[(diff["comparison"] == comparison) & (diff["method"] == method)
                          & diff["feature"].isin(core)]
            assert abs(row["effect"]) > others["effect"].abs().max(), (pathway, method)


def test_user_trait_table_lookup_by_genus_family_order() -> None:
    table = check_genus_traits(pd.DataFrame(
        {"EC:1.1.1.1": [2.0, 1.0, 0.0], "EC:2.7.2.7": [1.0, 0.0, 3.0]},
        index=pd.Index(["Roseburia", "Lachnospiraceae", "Clostridiales"], name="genus")), "t")
    assert trait_kind(list(table.columns)) == "ec"
    assert trait_kind(["1.1.1.1", "2.7.2.-"]) == "ec" and trait_kind(["K00001"]) == "ko"
    tax = pd.Series({"a": ROSEBURIA, "b": UNNAMED, "c": ORDER_ONLY, "d": "k__Archaea; p__"})
    pred = predict_from_genus_traits(tax, table)
    assert pred.matches.loc["a", "rank"] == "genus"
    assert tuple(pred.matches.loc["b", ["rank", "name"]]) == ("family", "Lachnospiraceae")
    assert tuple(pred.matches.loc["c", ["rank", "name"]]) == ("order", "Clostridiales")
    assert pred.matches.loc["d", "rank"] == "none"
    assert pred.traits.loc["c", "EC:2.7.2.7"] == 3.0 and pred.marker is None


@pytest.mark.parametrize("text, message", [
    ("genus\tEC:1.1.1.1\nRoseburia\tx\n", "not numeric"),
    ("genus\tEC:1.1.1.1\nRoseburia\t-1\n", "negative"),
    ("genus\tEC:1.1.1.1\nRoseburia\t1\nRoseburia\t2\n", "listed twice"),
    ("genus\n", "name column and trait columns"),
])
def test_bad_genus_trait_tables(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "traits.tsv"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        read_genus_traits(p)
