"""validate: one clear line per design problem (interaction arms, longitudinal time
points, subjects in two arms)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from microtrial.errors import StudyError
from microtrial.study import validate_study

ROWS = [  # sample, subject, treatment, week
    ("a0", "m1", "il2", 0), ("a4", "m1", "il2", 4), ("b0", "m2", "il2", 0), ("b4", "m2", "il2", 4),
    ("c0", "m3", "control", 0), ("c4", "m3", "control", 4),
    ("d0", "m4", "control", 0), ("d4", "m4", "control", 4),
]
IX = {"name": "ix", "kind": "interaction", "column": "week", "levels": [4, 0],
      "by": {"column": "treatment", "levels": ["il2", "control"]}}


def _study(tmp: Path, rows: list[tuple[str, str, str, int]], comparisons: list[dict]) -> Path:
    (tmp / "md.tsv").write_text("sample-id\tsubject\ttreatment\tweek\n" + "".join(
        f"{s}\t{m}\t{t}\t{w}\n" for s, m, t, w in rows))
    ids = [r[0] for r in rows]
    (tmp / "t.tsv").write_text("#OTU ID\t" + "\t".join(ids) + "\nf1\t" +
                               "\t".join(str(i + 1) for i in range(len(ids))) + "\n")
    spec = {"metadata": "md.tsv", "table": "t.tsv",
            "design": {"subject": "subject", "group": {"column": "treatment", "reference": "control"},
                       "time": {"column": "week", "reference": 0}},
            "comparisons": comparisons}
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(StudyError) as info:
        validate_study(path)
    return info.value.problems


def test_valid_interaction_and_longitudinal(tmp_path: Path) -> None:
    lon = {"name": "lon", "kind": "longitudinal", "column": "week", "levels": [0, 4]}
    s = validate_study(_study(tmp_path, ROWS, [IX, lon]))
    ix = s.comparisons[0]
    assert (ix.kind, ix.levels, ix.by, ix.by_levels, ix.subject, ix.term) == (
        "interaction", ("4", "0"), "treatment", ("il2", "control"), "subject", "treatment:week")
    assert s.comparisons[1].levels == ("0", "4")


def test_interaction_arm_without_subjects_at_both_times(tmp_path: Path) -> None:
    rows = [r for r in ROWS if r[0] not in ("c4", "d4")]
    p = _problems(_study(tmp_path, rows, [IX]))
    assert len(p) == 1 and "\n" not in p[0]
    assert p[0].endswith("comparisons.0.by.levels: interaction, but in arm treatment=control no "
                         "subject has samples at both week=4 and week=0 (at least 2 needed)")


def test_subject_in_two_arms(tmp_path: Path) -> None:
    rows = [*ROWS, ("e4", "m1", "control", 4)]
    rows[1] = ("a4", "m1", "il2", 4)
    rows = [r for r in rows if r[0] != "a4"]
    p = _problems(_study(tmp_path, rows, [IX]))
    assert len(p) == 1 and "\n" not in p[0]
    assert "comparisons.0.by: subject(s) m1 have samples in both arms il2 and control of " \
           "'treatment'; an interaction needs each subject in one arm" in p[0]


def test_longitudinal_with_one_time_point(tmp_path: Path) -> None:
    lon = {"name": "lon", "kind": "longitudinal", "column": "week", "levels": [0]}
    p = _problems(_study(tmp_path, ROWS, [lon]))
    assert len(p) == 1
    assert p[0].endswith("comparisons.0.levels: a longitudinal comparison needs two or more "
                         "time points; got 1")
    # two time points named, but only one of them sampled
    rows = [r for r in ROWS if r[3] == 0] + [("z9", "m9", "il2", 9)]
    lon2 = {"name": "lon", "kind": "longitudinal", "column": "week", "levels": [0, 9],
            "where": {"treatment": "control"}}
    p = _problems(_study(tmp_path, rows, [lon2]))
    assert any("no sample has week=9 where treatment=control" in x for x in p)


def test_schema_rules_for_kinds(tmp_path: Path) -> None:
    bad = [{**IX, "by": None}, {"name": "p", "kind": "paired", "column": "week", "levels": [0, 4],
                                "by": {"column": "treatment", "levels": ["il2", "control"]}},
           {"name": "q", "kind": "paired", "column": "week", "levels": [0, 4, 8]}]
    for comp, msg in zip(bad, ["an interaction needs 'by:", "'by' goes with kind 'interaction' only",
                               "a paired comparison has exactly two levels"]):
        p = _problems(_study(tmp_path, ROWS, [comp]))
        assert len(p) == 1 and msg in p[0], p
