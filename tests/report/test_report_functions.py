"""The Functions section, on results folders built by hand: the pathways of interest drawn per
subject (baseline vs follow-up) and by group, the route and a simulated trait table stated,
absent pathways named as absent, and function results scored against simulation truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

STUDY = """name: fn
metadata: metadata.tsv
design:
  subject: subject
  group: {column: group, reference: control}
  time: {column: time, reference: baseline}
comparisons:
- {name: pc, kind: between, column: group, levels: [patient, control], where: {time: baseline}}
- {name: wb, kind: paired, column: time, levels: [week12, baseline], where: {group: patient}}
"""
# three patients with baseline and week12, three controls at baseline
SAMPLES = ["P1-b", "P1-w", "P2-b", "P2-w", "P3-b", "P3-w", "C1-b", "C2-b", "C3-b"]
SUBJECT = ["P1", "P1", "P2", "P2", "P3", "P3", "C1", "C2", "C3"]
GROUP = ["patient"] * 6 + ["control"] * 3
TIME = ["baseline", "week12"] * 3 + ["baseline"] * 3
# CENTFERM-PWY and a housekeeping pathway; each sample's total is 100 so relative = value %
CENT = [10.0, 30.0, 20.0, 25.0, 5.0, 40.0, 50.0, 60.0, 55.0]
INFO = {"route": "genus-trait-table", "traits": ["16S", "cazy", "ec"],
        "genus_traits_note": "simulated by microtrial simulate: not real genome content (seed 1)",
        "genus_traits_simulated": True,
        "pathways_of_interest": ["CENTFERM-PWY", "LEUSYN-PWY"],
        "pathways_of_interest_found": ["CENTFERM-PWY"]}


@pytest.fixture
def fn_results(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    (d / "inputs").mkdir(parents=True)
    (d / "logs").mkdir()
    (d / "inputs" / "study.yaml").write_text(STUDY)
    pd.DataFrame({"sample-id": SAMPLES, "subject": SUBJECT, "group": GROUP, "time": TIME}).to_csv(
        d / "metadata-with-response.tsv", sep="\t", index=False)
    pd.DataFrame({"sample-id": SAMPLES, "shannon": [2.0] * 9}).to_csv(
        d / "alpha-diversity.tsv", sep="\t", index=False)
    paths = pd.DataFrame([CENT, [100 - v for v in CENT]], columns=SAMPLES,
                         index=pd.Index(["CENTFERM-PWY", "GLYCOLYSIS"], name="pathway"))
    paths.to_csv(d / "pathway-abundance.tsv", sep="\t")
    rows = [("CENTFERM-PWY", "pyruvate fermentation to butanoate", "wb", "paired-wilcoxon", 0.54, 0.0216),
            ("CENTFERM-PWY", "pyruvate fermentation to butanoate", "wb", "aldex", 0.51, 0.03),
            ("CENTFERM-PWY", "pyruvate fermentation to butanoate", "pc", "aldex", -1.26, 4e-5),
            ("GLYCOLYSIS", "glycolysis &beta; I", "pc", "aldex", 0.2, 0.5),
            ("GLYCOLYSIS", None, "wb", "paired-wilcoxon", -0.1, 0.6)]  # descriptions may be missing
    pd.DataFrame(rows, columns=["feature", "description", "comparison", "method", "effect", "q_value"]).assign(
        effect_type="log2_clr_difference", p_value=lambda x: x["q_value"], table="pathway").to_csv(
        d / "function-differential.tsv", sep="\t", index=False)
    (d / "logs" / "function.run-info.json").write_text(json.dumps(INFO))
    return d


def test_pathways_of_interest_paired_and_between_by_hand(fn_results: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from microtrial.pipeline.report import report_stage
    from microtrial.report import _figures as figs

    seen: dict[str, object] = {}
    paired, boxes = figs.paired, figs.boxes

    def spy_paired(wide, before, after, **kw):  # noqa: ANN001, ANN003, ANN202
        seen["paired"] = (wide.copy(), before, after, kw)
        return paired(wide, before, after, **kw)

    def spy_boxes(values, groups, order, **kw):  # noqa: ANN001, ANN003, ANN202
        if "CENTFERM" in kw.get("title", ""):
            seen["boxes"] = (values.copy(), groups.reindex(values.index).tolist(), order, kw)
        return boxes(values, groups, order, **kw)

    monkeypatch.setattr(figs, "paired", spy_paired)
    monkeypatch.setattr(figs, "boxes", spy_boxes)
    out = tmp_path / "rep"
    report_stage(fn_results, out, static_figures=True, exports=False)
    wide, before, after, kw = seen["paired"]  # type: ignore[misc]
    assert (before, after) == ("baseline", "week12")  # the study's levels, reference first
    assert wide.to_dict("index") == {"P1": {"baseline": 10.0, "week12": 30.0},
                                     "P2": {"baseline": 20.0, "week12": 25.0},
                                     "P3": {"baseline": 5.0, "week12": 40.0}}
    assert kw["title"] == "CENTFERM-PWY"
    # the description, the comparison, the paired test's effect and q (the Wilcoxon row, not ALDEx2's)
    assert kw["subtitle"] == "wb\npaired-wilcoxon: effect 0.54, q = 0.022"
    values, groups, order, kw = seen["boxes"]  # type: ignore[misc]
    assert sorted(values.index) == ["C1-b", "C2-b", "C3-b", "P1-b", "P2-b", "P3-b"]  # baseline only
    assert values["C2-b"] == 60.0 and values["P3-b"] == 5.0
    assert order == ["control", "patient"]
    assert kw["subtitle"] == "pc (time baseline)\naldex: effect -1.26, q = 4e-05"
    for name in ("function-CENTFERM-PWY-wb", "function-CENTFERM-PWY-pc"):
        for ext in ("svg", "pdf", "png"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert ("CENTFERM-PWY (pyruvate fermentation to butanoate): predicted relative abundance per subject, "
            "baseline to week12 (3 subjects with both; grey lines join a subject&#x27;s samples); wb, "
            "paired-wilcoxon: effect 0.54, q = 0.022 (effect: log2 clr difference).") in page
    # the housekeeping pathway gets no per-subject figure
    assert not list((out / "figures").glob("function-GLYCOLYSIS*"))


def test_route_and_simulated_traits_are_stated(fn_results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage

    page = report_stage(fn_results, tmp_path / "rep", static_figures=False, exports=False).read_text()
    assert "could not be drawn" not in page
    section = page[page.index("<section id='functions'>"):]
    section = section[:section.index("</section>")]
    assert "by the route &#x27;genus-trait-table&#x27;: each ASV given its genus" in section
    assert "The genus trait table is SIMULATED, not real genome content" in section
    assert "(table note: simulated by microtrial simulate: not real genome content (seed 1))" in section
    summary = page[page.index("<section id='summary'>"):]
    assert "Caveat: Function predictions come from a simulated genus trait table" in summary
    # a PICRUSt2 reference run with no trait table says neither
    info = {"route": "picrust2-reference", "pathways_of_interest": ["CENTFERM-PWY"]}
    (fn_results / "logs" / "function.run-info.json").write_text(json.dumps(info))
    page = report_stage(fn_results, tmp_path / "rep2", static_figures=False, exports=False).read_text()
    assert "by the route &#x27;picrust2-reference&#x27;: each ASV placed on the PICRUSt2 reference" in page
    assert "SIMULATED" not in page and "simulated genus trait table" not in page
    assert "could not be drawn" not in page


@pytest.mark.parametrize(("route", "says", "never"), [
    ("genus-trait-table", ["row of its genus (else family, else order) of a genus-level trait table "
                           "(genus-traits.tsv; SIMULATED, not real genome content)", "MinPath", "EC"],
     ["placed on the PICRUSt2 reference tree", "predicts no pathways"]),
    ("embedded-genus-table", ["mean 16S copy number and CAZyme family counts of its genus",
                              "this route predicts no pathways"],
     ["MinPath", "placed on the PICRUSt2 reference tree", "trait table"]),
    ("picrust2-reference", ["placed on the PICRUSt2 reference tree", "hidden-state prediction (maximum "
                            "parsimony", "NSTI above 2.0 were left out", "MinPath"],
     ["packaged with microtrial", "SIMULATED"]),
])
def test_methods_describe_each_function_route(fn_results: Path, tmp_path: Path, route: str,
                                               says: list[str], never: list[str]) -> None:
    from microtrial.pipeline.report import report_stage

    info = {"route": route, "traits": ["16S", "cazy"] if route == "embedded-genus-table" else ["16S", "ec"],
            "options": {"max_nsti": 2.0, "hsp_method": "mp", "minpath": True, "gap_fill": True}}
    if route == "genus-trait-table":
        info.update(genus_traits="/x/function/genus-traits.tsv", genus_traits_simulated=True,
                    genus_traits_note="simulated by microtrial simulate")
    (fn_results / "logs" / "function.run-info.json").write_text(json.dumps(info))
    out = tmp_path / route
    report_stage(fn_results, out, static_figures=False, exports=False)
    text = (out / "methods.txt").read_text()
    para = next(p for p in text.split("\n\n") if p.startswith("Functions were predicted"))
    for s in says:
        assert s in para
    for s in never:
        assert s not in para
    assert "embedded table of mean gene content per genus" not in text
    assert ("Ye Y, Doak TG" in text) == ("MinPath" in para)


def test_absent_pathways_of_interest_are_named_absent(fn_results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage

    page = report_stage(fn_results, tmp_path / "rep", static_figures=False, exports=False).read_text()
    absent = "Absent (not in the predicted pathway map of this run, so neither predicted nor tested): LEUSYN-PWY."
    assert f"Pathways of interest found and tested: CENTFERM-PWY. {absent}" in page
    assert ("Found in the predicted pathways: CENTFERM-PWY. Absent (not in this run&#x27;s predicted "
            "pathway map, so not drawn or tested): LEUSYN-PWY.") in page
    shown = pd.read_csv(tmp_path / "rep" / "tables" / "function-pathways-of-interest.tsv", sep="\t")
    assert set(shown["feature"]) == {"CENTFERM-PWY"}
    # the tables decide: a pathway of interest present in them is found
    info = {**INFO, "pathways_of_interest": ["CENTFERM-PWY", "GLYCOLYSIS"]}
    (fn_results / "logs" / "function.run-info.json").write_text(json.dumps(info))
    page = report_stage(fn_results, tmp_path / "rep2", static_figures=False, exports=False).read_text()
    assert "Pathways of interest found and tested: CENTFERM-PWY, GLYCOLYSIS." in page
    assert "Absent (" not in page


def _truth(d: Path, centferm_pc: str = "down") -> Path:
    d.mkdir(exist_ok=True)
    pd.DataFrame([
        ("CENTFERM-PWY", "True", "True", "True", "pc", centferm_pc),
        ("CENTFERM-PWY", "True", "True", "True", "wb", "up"),
        ("GLYCOLYSIS", "False", "True", "True", "pc", "up"),
        ("LEUSYN-PWY", "True", "False", "False", "", "none"),
    ], columns=["pathway", "of_interest", "in_maps", "designed_change", "comparison", "direction"]).to_csv(
        d / "function-pathways.tsv", sep="\t", index=False)
    return d


def test_function_results_scored_against_truth_by_hand(fn_results: Path, tmp_path: Path) -> None:
    from microtrial.pipeline.report import report_stage
    from microtrial.report._truth import functions_recovered

    truth = _truth(tmp_path / "truth")
    scores = functions_recovered(fn_results, truth)
    # aldex: CENTFERM pc (-1.26, q 4e-5, down) and wb (0.51, q 0.03, up) hit; GLYCOLYSIS pc q 0.5 misses
    assert scores["designed pathway changes recovered (aldex, q < 0.05, designed direction)"] == \
        "2/3; missed: GLYCOLYSIS (pc)"
    # paired-wilcoxon tests only wb: CENTFERM 0.54, q 0.0216
    assert scores["designed pathway changes recovered (paired-wilcoxon, q < 0.05, designed direction)"] == "1/1"
    assert scores["designed pathway changes recovered (any method)"] == "2/3"
    assert scores["pathways of interest not in the pathway maps (cannot be predicted)"] == "LEUSYN-PWY"
    # the wrong direction is no recovery, however small q is
    flipped = functions_recovered(fn_results, _truth(tmp_path / "truth2", centferm_pc="up"))
    assert flipped["designed pathway changes recovered (aldex, q < 0.05, designed direction)"] == \
        "1/3; missed: CENTFERM-PWY (pc), GLYCOLYSIS (pc)"
    # and the report's truth section shows them (a truth folder with only this file is accepted)
    page = report_stage(fn_results, tmp_path / "rep", static_figures=False, exports=False,
                        truth_dir=truth).read_text()
    rows = pd.read_csv(tmp_path / "rep" / "tables" / "truth-scores.tsv", sep="\t")
    assert dict(zip(rows["measure"], rows["value"], strict=True))[
        "designed pathway changes recovered (any method)"] == "2/3"
    assert "a designed change counts as recovered" in page
