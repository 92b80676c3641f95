"""IMACS DOI and 2016 ACR/EULAR TIS on worked examples computed by hand from the published
rules (Rider et al. 2004; Aggarwal et al. 2017; Rider et al. 2017 Table 3; STUDY.md).

Every expected value below is written out by hand beside the example.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import pandas as pd
import pytest

from microtrial.clinical import (
    choose_enzyme,
    percent_improvement,
    read_clinical,
    score_response,
    score_subject,
    tis_category,
    tis_points,
)
from microtrial.errors import InputError

ULN = {"ck": 200.0, "aldolase": 7.6, "ldh": 250.0, "alt": 40.0, "ast": 40.0}


def _score(base: dict, fup: dict, population: str = "adult"):
    return score_subject("S", base, fup, uln=ULN, population=population)


def test_one_to_point_eight_is_exactly_twenty_percent() -> None:
    # (1.0 - 0.8) / 1.0 * 100 = 20 exactly; naive floats give 19.999999999999996
    assert (1.0 - 0.8) / 1.0 * 100 < 20  # the trap this guards against
    assert percent_improvement(1.0, 0.8) == 20
    assert percent_improvement(1.0, 0.8) == Fraction(20)
    # HAQ at exactly 20% scores the >15-25% bracket (7.5), not >5-15% (5)
    assert tis_points("haq", percent_improvement(1.0, 0.8)) == 7.5


def test_exactly_twenty_percent_counts_as_improved() -> None:
    # phga 5 -> 4: (5-4)/5 = 20%; ptga 5 -> 4: 20%; haq 1.0 -> 0.8: 20%;
    # mmt8 60 -> 60, ck 1000 -> 1000, extramuscular 2 -> 2: 0%.
    # improved (>= 20%) = 3, worsened = 0 -> DOI met.
    # TIS: phga 20% in (15,25] -> 15; ptga -> 5; haq -> 7.5; others 0 -> 27.5 (adult minimal)
    r = _score(
        {"phga": 5, "ptga": 5, "haq": 1.0, "mmt8": 60, "ck": 1000, "extramuscular": 2},
        {"phga": 4, "ptga": 4, "haq": 0.8, "mmt8": 60, "ck": 1000, "extramuscular": 2},
    )
    assert r.imacs_doi is True
    assert r.tis == 27.5
    assert r.tis_category == "minimal"
    assert r.points == {"phga": 15, "ptga": 5, "mmt8": 0, "haq": 7.5, "enzyme": 0, "extramuscular": 0}


def test_just_below_twenty_percent_is_not_improved() -> None:
    # haq 1.0 -> 0.81: 19% -> only 2 CSM improved (phga, ptga 20%) -> DOI not met
    r = _score(
        {"phga": 5, "ptga": 5, "haq": 1.0, "mmt8": 60, "ck": 1000, "extramuscular": 2},
        {"phga": 4, "ptga": 4, "haq": 0.81, "mmt8": 60, "ck": 1000, "extramuscular": 2},
    )
    assert r.imacs_doi is False


def test_exactly_twenty_five_percent_worse_counts_as_worsened() -> None:
    # improved: phga 4 -> 2 (50%), ptga 4 -> 2 (50%), mmt8 60 -> 72 ((72-60)/60 = 20%)
    # worsened: haq 2 -> 2.5 ((2-2.5)/2 = -25%), ck 400 -> 500 (-25%),
    #           extramuscular 4 -> 5 (-25%)  -> 3 worsened > 2 -> DOI not met.
    # TIS: phga 50% > 40 -> 20; ptga -> 10; mmt 20% in (10,20] -> 20; worse -> 0: 50 moderate
    base = {"phga": 4, "ptga": 4, "mmt8": 60, "haq": 2, "ck": 400, "extramuscular": 4}
    r = _score(base, {"phga": 2, "ptga": 2, "mmt8": 72, "haq": 2.5, "ck": 500, "extramuscular": 5})
    assert r.improvement["haq"] == -25 and r.improvement["enzyme"] == -25
    assert r.imacs_doi is False
    assert r.tis == 50 and r.tis_category == "moderate"
    # extramuscular 4 -> 4.99: -24.75%, not worsened -> 2 worsened -> DOI met
    r2 = _score(base, {"phga": 2, "ptga": 2, "mmt8": 72, "haq": 2.5, "ck": 500, "extramuscular": 4.99})
    assert r2.imacs_doi is True


def test_mmt_worsened_with_three_improvements_is_not_met() -> None:
    # phga 5 -> 3 (40%), ptga 5 -> 3 (40%), haq 1 -> 0.5 (50%): 3 improved;
    # mmt8 80 -> 60: (60-80)/80 = -25% worsened: only 1 worsened, but it is MMT -> not met.
    # TIS: phga 40% in (25,40] -> 17.5 (upper bound inclusive); ptga 40% -> 7.5; haq 50% -> 10;
    #      mmt worse -> 0; ck, extramuscular 0% -> 0: total 35 -> minimal
    r = _score(
        {"phga": 5, "ptga": 5, "haq": 1, "mmt8": 80, "ck": 500, "extramuscular": 2},
        {"phga": 3, "ptga": 3, "haq": 0.5, "mmt8": 60, "ck": 500, "extramuscular": 2},
    )
    assert r.imacs_doi is False
    assert r.tis == 35 and r.tis_category == "minimal"


@pytest.mark.parametrize(
    ("csm", "baseline", "followup", "points"),
    [
        ("ptga", 10, 9.5, 0),          # 5%: "worse to <=5%" -> 0
        ("phga", 10, 8.5, 7.5),        # exactly 15%: ">5-15%" -> 7.5 (not 15)
        ("phga", 10, 8.49, 15),        # 15.1%: ">15-25%" -> 15
        ("haq", 2.0, 1.5, 7.5),        # exactly 25%: ">15-25%" -> 7.5
        ("enzyme", 400, 300, 5),       # exactly 25%: ">15-25%" -> 5
        ("extramuscular", 10, 6, 15),  # exactly 40%: ">25-40%" -> 15 (not 20)
        ("extramuscular", 10, 5.9, 20),  # 41%: ">40%" -> 20
        ("mmt8", 50, 51, 0),           # exactly 2%: "worse to <=2%" -> 0
        ("mmt8", 50, 51.5, 10),        # 3%: ">2-10%" -> 10
        ("mmt8", 50, 55, 10),          # exactly 10% -> 10
        ("mmt8", 50, 60, 20),          # exactly 20%: ">10-20%" -> 20
        ("mmt8", 50, 65, 27.5),        # exactly 30%: ">20-30%" -> 27.5
        ("mmt8", 50, 65.5, 32.5),      # 31%: ">30%" -> 32.5
        ("phga", 5, 6, 0),             # worse -> 0
    ],
)
def test_bracket_edges(csm: str, baseline: float, followup: float, points: float) -> None:
    pct = percent_improvement(baseline, followup, higher_is_better=(csm == "mmt8"))
    assert tis_points(csm, pct) == points


def test_missing_csm_is_not_evaluable() -> None:
    r = _score(
        {"phga": 5, "ptga": 5, "haq": 1, "mmt8": 60, "ck": 500, "extramuscular": 2},
        {"phga": 3, "ptga": float("nan"), "haq": 0.5, "mmt8": 70, "ck": 250, "extramuscular": 1},
    )
    assert r.imacs_doi is None and r.tis is None and r.tis_category is None
    assert "ptga" in r.not_evaluable and "follow-up" in r.not_evaluable
    # the other CSMs are still reported: phga (5-3)/5 = 40%
    assert r.improvement["phga"] == 40


def test_baseline_zero() -> None:
    # extramuscular 0 -> 1: worsened beyond 25% (-inf), 0 points.
    # phga 5 -> 2 (60%), ptga 5 -> 2 (60%), haq 1 -> 0.5 (50%), ck 500 -> 250 (50%),
    # mmt8 60 -> 66 (10%): improved 4, worsened 1 (not MMT) -> DOI met.
    # TIS: 20 + 10 + 10 + 7.5 + 10 (MMT 10%) + 0 = 57.5: adult moderate (>=40, <60),
    #      juvenile moderate (>=45, <70)
    base = {"phga": 5, "ptga": 5, "haq": 1, "mmt8": 60, "ck": 500, "extramuscular": 0}
    fup = {"phga": 2, "ptga": 2, "haq": 0.5, "mmt8": 66, "ck": 250, "extramuscular": 1}
    r = _score(base, fup)
    assert r.improvement["extramuscular"] == float("-inf")
    assert r.points["extramuscular"] == 0
    assert r.imacs_doi is True
    assert r.tis == 57.5 and r.tis_category == "moderate"
    # 0 -> 0: no change (0%), 0 points, TIS unchanged
    r0 = _score(base, dict(fup, extramuscular=0))
    assert r0.improvement["extramuscular"] == 0 and r0.points["extramuscular"] == 0
    assert r0.tis == 57.5
    # three CSMs from 0 up -> 3 worsened -> DOI not met even with 3 improved
    base3 = dict(base, haq=0, ck=0)
    r3 = _score(base3, dict(fup, haq=0.5, ck=250))
    assert r3.imacs_doi is False


def test_enzyme_is_the_most_abnormal_at_baseline() -> None:
    # ck 300/200 = 1.5 x ULN; aldolase 15/7.6 = 1.97 x; ldh 600/250 = 2.4 x -> ldh.
    # ldh 600 -> 300: (600-300)/600 = 50% -> ">40%" -> 7.5 points; ck's worsening is ignored.
    base = {"phga": 5, "ptga": 5, "haq": 1, "mmt8": 60, "extramuscular": 2, "ck": 300, "aldolase": 15, "ldh": 600}
    fup = {"phga": 5, "ptga": 5, "haq": 1, "mmt8": 60, "extramuscular": 2, "ck": 900, "aldolase": 15, "ldh": 300}
    assert choose_enzyme(base, ULN) == "ldh"
    r = _score(base, fup)
    assert r.enzyme == "ldh"
    assert r.improvement["enzyme"] == 50 and r.points["enzyme"] == 7.5
    # ck 1000/200 = 5 x beats ldh 1000/250 = 4 x with equal absolute values
    assert choose_enzyme({"ck": 1000, "ldh": 1000}, ULN) == "ck"
    # an enzyme without a ULN is not a candidate
    assert choose_enzyme({"ck": 100, "ldh": 1000}, {"ck": 40.0}) == "ck"


def test_category_thresholds() -> None:
    # adult: minimal >= 20, moderate >= 40, major >= 60
    assert [tis_category(t) for t in (19.5, 20, 39.5, 40, 57.5, 60)] == [
        "none", "minimal", "minimal", "moderate", "moderate", "major"]
    # juvenile: minimal >= 30, moderate >= 45, major >= 70
    j = [tis_category(t, population="juvenile") for t in (27.5, 30, 44.5, 45, 67.5, 70)]
    assert j == ["none", "minimal", "minimal", "moderate", "moderate", "major"]
    # the 27.5-point subject of test_exactly_twenty_percent: adult minimal, juvenile none
    r = _score(
        {"phga": 5, "ptga": 5, "haq": 1.0, "mmt8": 60, "ck": 1000, "extramuscular": 2},
        {"phga": 4, "ptga": 4, "haq": 0.8, "mmt8": 60, "ck": 1000, "extramuscular": 2},
        population="juvenile",
    )
    assert r.tis == 27.5 and r.tis_category == "none"


def _long(tmp_path, rows: list[str], name: str = "clinical.tsv"):
    header = "subject\tvisit\tgroup\tphga\tptga\tmmt8\thaq\textramuscular\tck\tldh"
    p = tmp_path / name
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def test_out_of_range_is_an_input_error(tmp_path) -> None:
    p = _long(tmp_path, ["P1\tbaseline\tA\t5\t5\t60\t1\t2\t500\t300",
                         "P1\tweek12\tA\t11\t5\t60\t1\t2\t500\t300"])
    with pytest.raises(InputError) as exc:
        read_clinical(p)
    msg = str(exc.value)
    for part in (str(p), "line 3", "phga", "'P1'", "'week12'", "0-10"):
        assert part in msg
    # MMT-8 of 120 is out of range on the 0-80 scale but fine on 0-150
    p2 = _long(tmp_path, ["P1\tbaseline\tA\t5\t5\t120\t1\t2\t500\t300"], "mmt.tsv")
    with pytest.raises(InputError, match="mmt8.*0-80"):
        read_clinical(p2, mmt_scale=80)
    assert read_clinical(p2, mmt_scale=150)["mmt8"].iloc[0] == 120
    p3 = _long(tmp_path, ["P1\tbaseline\tA\t5\t5\t60\t3.5\t2\t500\t300"], "haq.tsv")
    with pytest.raises(InputError, match="haq"):
        read_clinical(p3)
    p4 = _long(tmp_path, ["P1\tbaseline\tA\t5\tabc\t60\t1\t2\t500\t300"], "text.tsv")
    with pytest.raises(InputError, match="ptga.*not a number"):
        read_clinical(p4)


def test_below_entry_thresholds_is_a_warning(tmp_path, caplog) -> None:
    # HAQ 0.1 < 0.25 and extramuscular 0.5 < 1 at baseline: warned, not refused
    p = _long(tmp_path, ["P1\tbaseline\tA\t5\t5\t60\t0.1\t0.5\t500\t300",
                         "P1\tweek12\tA\t3\t3\t70\t0.1\t0.5\t300\t250"])
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        df = read_clinical(p)
    assert len(df) == 2
    assert any("haq 0.1 < 0.25" in r.getMessage() and "extramuscular" in r.getMessage() for r in caplog.records)


def test_score_response_long_table(tmp_path) -> None:
    p = _long(tmp_path, [
        # P1: phga 5->2 60%, ptga 5->2 60%, mmt 60->66 10%, haq 1->0.5 50%, extra 2->1 50%,
        # enzyme ck 500/200 = 2.5x beats ldh 300/250 = 1.2x: 500 -> 250 50%
        # DOI met; TIS 20 + 10 + 10 + 10 + 7.5 + 20 = 77.5 major
        "P1\tbaseline\tA\t5\t5\t60\t1\t2\t500\t300",
        "P1\tweek12\tA\t2\t2\t66\t0.5\t1\t250\t300",
        # P2: no follow-up visit -> not evaluable
        "P2\tbaseline\tB\t5\t5\t60\t1\t2\t500\t300",
        # P3: ck missing at follow-up (the chosen enzyme) -> not evaluable, ldh not substituted
        "P3\tbaseline\tB\t5\t5\t60\t1\t2\t500\t300",
        "P3\tweek12\tB\t2\t2\t66\t0.5\t1\t\t250",
    ])
    df = read_clinical(p)
    res = score_response(df, uln={"ck": 200, "ldh": 250})
    assert res.loc["P1", "imacs_doi"] == True  # noqa: E712 (nullable boolean)
    assert res.loc["P1", "tis"] == 77.5 and res.loc["P1", "tis_category"] == "major"
    assert res.loc["P1", "enzyme"] == "ck"
    assert pd.isna(res.loc["P2", "imacs_doi"]) and "week12" in res.loc["P2", "not_evaluable"]
    assert pd.isna(res.loc["P3", "imacs_doi"]) and "ck missing at follow-up" in res.loc["P3", "not_evaluable"]
    assert list(res["group"]) == ["A", "B", "B"]
