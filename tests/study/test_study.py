from __future__ import annotations

import pytest
from pydantic import ValidationError

from microtrial.cli import main
from microtrial.design import Comparison
from microtrial.errors import InputError, StudyError
from microtrial.study import find_read_pairs, load_study, parse_fastq_name, validate_study

from ._files import SAMPLES
from ._files import edit as _edit


def test_valid_study_loads(study_dir):
    s = validate_study(study_dir / "study.yaml")
    assert s.name == "Low-dose IL-2 (test)"
    assert s.metadata == study_dir / "metadata.tsv"  # resolved relative to the study file
    assert s.reads.dir == study_dir / "reads"
    assert s.reads.max_ee == (2.0, 3.0) and s.reads.pool == "pseudo"
    assert s.reads.trunc_len_f is None and s.reads.min_overlap == 12  # defaults
    assert s.clinical.uln["ck"] == 190 and s.clinical.uln["ldh"] == 250
    assert s.options.rarefy == 1000 and s.options.seed == 7 and s.options.permutations == 999
    assert s.tree == "de-novo" and s.taxonomy.confidence == 0.7
    assert isinstance(s.comparisons, tuple)
    assert all(isinstance(c, Comparison) for c in s.comparisons)
    assert s.comparisons[1] == Comparison(
        name="week12-vs-baseline", kind="paired", column="time", levels=("week12", "baseline"),
        where={"group": "patient"}, subject="subject",
    )
    assert s.comparisons[0].subject is None
    with pytest.raises(ValidationError):  # frozen
        s.name = "x"  # type: ignore[misc]
    assert load_study(study_dir / "study.yaml") == s


def test_several_problems_are_reported_together_with_lines(study_dir):
    y = study_dir / "study.yaml"
    _edit(y, "reference: control}", "reference: controls}")  # line 5
    _edit(y, "  primer_f: CCTACGGGNGGCWGCAG\n", "  primer_f: CCTACGGGNGGCWGCAGZ\n")  # line 9
    _edit(y, "  pool: pseudo", "  pool: sometimes")  # line 12
    _edit(y, "  confidence: 0.7", "  confidnce: 0.7")  # line 15, a typo
    _edit(y, "levels: [week12, baseline]", "levels: [week 12, baseline]")  # line 26
    _edit(y, "  seed: 7", "  seed: -1")  # line 41
    (study_dir / "reads" / "P2-12_S1_L001_R2_001.fastq.gz").unlink()
    (study_dir / "reads" / "X9_S1_L001_R1_001.fastq.gz").touch()
    (study_dir / "reads" / "X9_S1_L001_R2_001.fastq.gz").touch()
    with (study_dir / "clinical.tsv").open("a") as fh:
        fh.write("P9\tbaseline\t1\t1\t70\t0.1\t0\t100\n")
    with (study_dir / "metabolites.tsv").open("a") as fh:
        fh.write("Q1-0\t1\t1\n")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    problems = info.value.problems
    expected = [
        (5, "design.group.reference", "level 'controls' is not in column 'group'"),
        (9, "reads.primer_f", "non-IUPAC characters: Z"),
        (12, "reads.pool", "'none', 'pseudo' or 'all'"),
        (15, "taxonomy.confidnce", "unknown key 'confidnce' (did you mean 'confidence'?)"),
        (26, "comparisons.1.levels.0", "level 'week 12' is not in column 'time'"),
        (41, "options.seed", "greater than or equal to 0"),
        (8, "reads.dir", "P2-12_S1_L001_R1_001.fastq.gz has no mate"),
        (8, "reads.dir", "metadata samples without reads in"),
        (8, "reads.dir", "read pairs for samples not in the metadata: X9"),
        (34, "clinical.table", "not in the metadata's 'subject' column: P9"),
        (39, "metabolites", "not in the metadata: Q1-0"),
    ]
    for line, field, words in expected:
        prefix = f"{y}: line {line}: {field}: "
        assert any(p.startswith(prefix) and words in p for p in problems), (prefix, words, problems)
    assert len(problems) == len(expected), problems
    # the message lists every problem, one per line
    assert str(info.value).startswith(f"{y}: {len(expected)} problems found\n  - ")


def test_missing_files_and_design_columns(study_dir):
    y = study_dir / "study.yaml"
    _edit(y, "metadata: metadata.tsv", "metadata: meta.tsv")
    _edit(y, "immune: immune.tsv", "immune: immune-missing.tsv")
    with pytest.raises(StudyError) as info:
        validate_study(y)
    problems = info.value.problems
    assert any(p.startswith(f"{y}: line 2: metadata: no such file: ") for p in problems)
    assert any(p.startswith(f"{y}: line 38: immune: no such file: ") for p in problems)


def test_metadata_error_is_reported_with_its_own_line(study_dir):
    with (study_dir / "metadata.tsv").open("a") as fh:
        fh.write("P1-0\tP1\tpatient\tbaseline\t40\n")  # line 9 repeats line 3's id
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    (problem,) = info.value.problems
    # files beside the study file are named relative to it
    assert problem.startswith(f"{study_dir / 'study.yaml'}: line 2: metadata: ")
    assert problem.endswith("metadata.tsv: line 9: duplicate sample id 'P1-0' (first on line 3)")


def test_response_column_needs_the_clinical_table(study_dir):
    y = study_dir / "study.yaml"
    text = y.read_text()
    start, end = text.index("clinical:\n"), text.index("immune:")
    y.write_text(text[:start] + text[end:])
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert any("comparisons.2.column: column 'response' is not in" in p
               for p in info.value.problems), info.value.problems


def test_required_keys_and_reads_or_table(study_dir):
    y = study_dir / "study.yaml"
    y.write_text("name: x\nreads:\n  dir: reads/\n")
    with pytest.raises(StudyError) as info:
        load_study(y)
    problems = info.value.problems
    assert any("'metadata' is required" in p for p in problems)
    assert any("'design' is required" in p for p in problems)
    y.write_text("metadata: metadata.tsv\ndesign: {subject: subject, group: {column: group, "
                 "reference: control}}\n")
    with pytest.raises(StudyError, match="one of 'reads'"):
        load_study(y)


def test_yaml_syntax_error_has_a_line(study_dir):
    y = study_dir / "study.yaml"
    y.write_text("name: x\nmetadata: [unclosed\n")
    with pytest.raises(StudyError) as info:
        load_study(y)
    assert "line 3" in info.value.problems[0] or "line 2" in info.value.problems[0]


def test_table_study_checks_table_samples(study_dir):
    y = study_dir / "study.yaml"
    text = y.read_text()
    start, end = text.index("reads:\n"), text.index("taxonomy:")
    y.write_text(text[:start] + "table: table.tsv\n" + text[end:])
    (study_dir / "table.tsv").write_text(
        "#OTU ID\t" + "\t".join(SAMPLES[:-1] + ["Z1"]) + "\nf1\t1\t2\t3\t4\t5\t6\n"
    )
    with pytest.raises(StudyError) as info:
        validate_study(y)
    problems = info.value.problems
    assert any("table: metadata samples not in the table: C2-0" in p for p in problems)
    assert any("table: table samples not in the metadata: Z1" in p for p in problems)


def test_default_comparisons_from_the_design(study_dir):
    y = study_dir / "study.yaml"
    text = y.read_text()
    start, end = text.index("comparisons:\n"), text.index("clinical:")
    y.write_text(text[:start] + text[end:])
    s = validate_study(y)
    assert [(c.name, c.kind, c.levels, dict(c.where)) for c in s.comparisons] == [
        ("patient-vs-control", "between", ("patient", "control"), {"time": "baseline"}),
        ("week12-vs-baseline", "paired", ("week12", "baseline"), {"group": "patient"}),
    ]


def test_fastq_names():
    assert parse_fastq_name("F3D0_S188_L001_R1_001.fastq.gz") == ("F3D0", 1)
    # Casava names: QIIME 2's sample id, the part before the first underscore (reads c7c0571)
    assert parse_fastq_name("my_sample_S2_L001_R2_001.fastq") == ("my", 2)
    assert parse_fastq_name("A1_R2.fq.gz") == ("A1", 2)
    assert parse_fastq_name("SRR123_1.fastq.gz") == ("SRR123", 1)
    assert parse_fastq_name("sam1F.fastq.gz") == ("sam1", 1)  # DADA2's example names


@pytest.mark.requires_shared
def test_miseq_sop_reads_pair_up(shared_data):
    pairs = find_read_pairs(shared_data / "miseq-sop")
    assert len(pairs.pairs) == 13 and "F3D141" in pairs.pairs
    assert not pairs.unpaired


def test_cli_ok_and_error(study_dir, capsys):
    assert main(["validate", str(study_dir / "study.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ")
    assert "6 samples, 4 subjects" in out and "3 comparisons" in out
    _edit(study_dir / "study.yaml", "  pool: pseudo", "  pool: sometimes")
    _edit(study_dir / "study.yaml", "  seed: 7", "  seed: -1")
    assert main(["validate", str(study_dir / "study.yaml")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 3  # the problems, then one closing error line
    assert lines[0].startswith(f"{study_dir / 'study.yaml'}: line 12: reads.pool: ")
    assert lines[1].startswith(f"{study_dir / 'study.yaml'}: line 41: options.seed: ")
    assert lines[2] == f"error: {study_dir / 'study.yaml'}: 2 problems found (listed above)"
    assert "Traceback" not in captured.err + captured.out


def test_cli_missing_study_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_load_study_metadata_problem_is_input_error(study_dir):
    y = study_dir / "study.yaml"
    text = y.read_text()
    start, end = text.index("comparisons:\n"), text.index("clinical:")
    y.write_text(text[:start] + text[end:])
    (study_dir / "metadata.tsv").write_text("bad\theader\n")
    with pytest.raises(InputError):
        load_study(y)


@pytest.mark.parametrize("declared", ["categorical", ""])
def test_numeric_looking_levels_match_numeric_and_text_columns(study_dir, declared):
    # time 0/12: read as numbers (0.0, 12.0) when undeclared, as text when categorical;
    # the levels typed in the study (YAML 0, "12", "0.0" on the numeric column) match both.
    md = study_dir / "metadata.tsv"
    text = md.read_text().replace("baseline", "0").replace("week12", "12")
    md.write_text(text.replace("#q2:types\tcategorical\tcategorical\tcategorical\tnumeric",
                               f"#q2:types\tcategorical\tcategorical\t{declared}\tnumeric"))
    y = study_dir / "study.yaml"
    _edit(y, "time: {column: time, reference: baseline}", "time: {column: time, reference: 0}")
    _edit(y, "levels: [week12, baseline]", 'levels: ["12", 0]')
    _edit(y, "where: {time: baseline}", "where: {time: 0}")
    _edit(y, "where: {group: patient, time: baseline}", "where: {group: patient, time: 0}")
    for name in ("clinical.tsv", "immune.tsv"):
        (study_dir / name).write_text(
            (study_dir / name).read_text().replace("baseline", "0").replace("week12", "12"))
    _edit(y, "  baseline: baseline\n  followup: week12", "  baseline: 0\n  followup: 12")
    s = validate_study(y)
    assert s.comparisons[1].levels == ("12", "0")
    assert s.design.time is not None and s.design.time.reference == "0"
    # the paired comparison keeps both visits of P1 and P2 (metadata.tsv: 2 patients)
    from microtrial.io.metadata import read_metadata

    rows = s.comparisons[1].samples(read_metadata(md))
    assert sorted(rows.index) == ["P1-0", "P1-12", "P2-0", "P2-12"]
    assert sorted(rows["time"]) == ["0", "0", "12", "12"]
    if not declared:  # on the numeric column "0.0" names 0 as well
        _edit(y, "time: {column: time, reference: 0}", 'time: {column: time, reference: "0.0"}')
        assert validate_study(y).design.time.reference == "0"


def test_clinical_duplicates_and_missing_columns(study_dir):
    with (study_dir / "clinical.tsv").open("a") as fh:
        fh.write("P1\tbaseline\t6\t5\t60\t1.5\t3\t900\n")  # line 6 repeats line 2
    (study_dir / "immune.tsv").write_text("patient\ttime\ttreg\nP1\tbaseline\t8\n")
    with pytest.raises(StudyError) as info:
        validate_study(study_dir / "study.yaml")
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert problems[0].endswith(
        "clinical.tsv: line 6: second row for subject 'P1' at visit 'baseline' (first on line 2)")
    assert ": line 38: immune: " in problems[1] and "lacks column(s) subject, visit" in problems[1]


def test_bom_and_broken_gzip(tmp_path):
    from microtrial.io.metadata import read_metadata

    (tmp_path / "m.tsv").write_text("\ufeffsample-id\tg\nS1\ta\n", encoding="utf-8")
    assert list(read_metadata(tmp_path / "m.tsv").index) == ["S1"]
    (tmp_path / "m.tsv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="cannot read"):
        read_metadata(tmp_path / "m.tsv.gz")


def test_repeated_keys_are_reported(study_dir):
    y = study_dir / "study.yaml"
    with y.open("a") as fh:
        fh.write("options:\n  seed: 3\n")  # line 44 repeats the options block of line 40
    with pytest.raises(StudyError) as info:
        load_study(y)
    assert info.value.problems == [
        f"{y}: line 44: options: repeated key (YAML keeps only the last one)"]


@pytest.mark.requires_shared
def test_miseq_sop_study_lists_samples_without_reads(shared_data, tmp_path):
    # mouse.time.design lists 19 samples of mouse F3; the folder holds reads for 13 of them.
    design = (shared_data / "miseq-sop" / "mouse.time.design").read_text().splitlines()[1:]
    rows = [line.split("\t") for line in design if line.strip()]
    md = tmp_path / "metadata.tsv"
    md.write_text("sample-id\tmouse\ttime\n" + "".join(f"{s}\tF3\t{t}\n" for s, t in rows))
    y = tmp_path / "study.yaml"
    y.write_text(
        f"metadata: metadata.tsv\n"
        f"design: {{subject: mouse, group: {{column: time, reference: Early}}}}\n"
        f"reads: {{dir: {shared_data / 'miseq-sop'}}}\n"
        f"comparisons:\n  - {{name: late-vs-early, kind: between, column: time, "
        f"levels: [Late, Early]}}\n"
    )
    with pytest.raises(StudyError) as info:
        validate_study(y)
    assert info.value.problems == [
        f"{y}: line 3: reads.dir: metadata samples without reads in {shared_data / 'miseq-sop'}: "
        "F3D0, F3D147, F3D148, F3D149, F3D2, F3D6"
    ]
    keep = {"F3D1", "F3D141", "F3D142", "F3D143", "F3D144", "F3D145", "F3D146", "F3D150",
            "F3D3", "F3D5", "F3D7", "F3D8", "F3D9"}
    md.write_text("sample-id\tmouse\ttime\n" + "".join(
        f"{s}\tF3\t{t}\n" for s, t in rows if s in keep))
    s = validate_study(y)
    assert s.reads.dir == shared_data / "miseq-sop" and len(s.comparisons) == 1
