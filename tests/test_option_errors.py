"""Bad options are named by their study-file key below the CLI (``OptionError``), and the
CLI renders them as the flag the user typed, or as the study file's line and key.

The same bad value is given once as a command-line flag and once in a study file; the
message is the stage's own in both, only the name of the option differs. The registry
(``microtrial.options``) is checked against the study file's schema and the CLI's options.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest

from cli_checks import one_error
from microtrial.errors import InputError, OptionError
from microtrial.options import STAGE_OPTIONS, STUDY_OPTIONS, flag_for, in_study_file

SRC = Path(__file__).resolve().parents[1] / "src" / "microtrial"


# ----------------------------------------------------------------------------- source rules


def test_no_flag_named_error_is_raised_below_the_cli() -> None:
    # InputError("--x", ...), also split over lines, and the stage errors that carry a source
    flag_raise = re.compile(r"(?:InputError|OptionError|DifferentialInputError|TrialInputError)"
                            r"\(\s*f?[\"']--")
    found = []
    for path in SRC.rglob("*.py"):
        if path.parent.name == "cli":
            continue
        text = path.read_text(encoding="utf-8")
        for m in flag_raise.finditer(text):
            found.append(f"{path.relative_to(SRC)}:{text[:m.start()].count(chr(10)) + 1}")
    assert not found, found


def _raised_keys() -> set[str]:
    """Every literal key given to OptionError (or to the primer check, or through the
    denoise stage's (key, value) loops) in the source."""
    keys: set[str] = set()
    pattern = re.compile(r"(?:OptionError|check_primer_option|DifferentialInputError)\(\s*\"([^\"]+)\"")
    loop = re.compile(r"\(\"((?:reads|options)\.[a-z_]+)\", ")
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys |= set(pattern.findall(text)) | set(loop.findall(text))
    return keys - {"metadata", "table"}


def test_every_raised_key_is_in_the_registry() -> None:
    keys = _raised_keys()
    assert len(keys) > 40  # the stages' option checks were found
    unknown = sorted(k for k in keys if k not in STUDY_OPTIONS and k not in STAGE_OPTIONS)
    assert not unknown, unknown


def _study_fields(key: str) -> bool:
    """Whether a dotted key is a field of the study file's models."""
    from pydantic import BaseModel

    from microtrial.study._load import _inner_model
    from microtrial.study._models import StudySpec

    model: type[BaseModel] | None = StudySpec
    for part in key.split("."):
        if model is None or part not in model.model_fields:
            return False
        model = _inner_model(model.model_fields[part].annotation)
    return True


def test_study_keys_are_keys_of_the_study_file_and_stage_keys_are_not() -> None:
    assert [k for k in STUDY_OPTIONS if not _study_fields(k)] == []
    assert [k for k in STAGE_OPTIONS if _study_fields(k)] == []
    assert not set(STUDY_OPTIONS) & set(STAGE_OPTIONS)


def _cli_params() -> set[str]:
    from microtrial.cli import COMMANDS, cli

    names: set[str] = set()

    def walk(cmd: click.Command) -> None:
        for p in cmd.params:
            if isinstance(p, click.Option):
                names.update(p.opts)
                names.update(p.secondary_opts)
            elif isinstance(p, click.Argument):
                names.add(p.human_readable_name)
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                walk(sub)

    ctx = click.Context(cli)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        if cmd is not None:
            walk(cmd)
    return names


def test_every_flag_of_the_registry_is_an_option_of_some_command() -> None:
    params = _cli_params()
    flags = {f for flag in [*STUDY_OPTIONS.values(), *STAGE_OPTIONS.values()] for f in flag.split("/")}
    assert sorted(flags - params) == []


# ----------------------------------------------------------------------------- the error type


def test_option_error_names_the_flag_then_the_study_key() -> None:
    exc = OptionError("options.permutations", "must be >= 0")
    assert isinstance(exc, InputError)
    assert str(exc) == "--permutations: must be >= 0"
    assert exc.path == "--permutations" and exc.key == "options.permutations"
    exc.in_study("study.yaml", 12)
    assert str(exc) == "study.yaml: line 12: options.permutations: must be >= 0"
    assert str(OptionError("reads.min_overlap", "x").in_study("s.yaml")) == "s.yaml: reads.min_overlap: x"


def test_registry_lookups() -> None:
    assert flag_for("reads.trim_left_f") == "--trim-left-f"
    assert flag_for("options.beta_metrics") == "--metrics"
    assert flag_for("tree") == "--method"
    assert flag_for("no.such.key") == "no.such.key"
    assert in_study_file("taxonomy.confidence") and not in_study_file("diversity.rarefaction_iterations")


# ----------------------------------------------------------------------------- same value, both ways


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """12 samples: 4 patients at baseline and week 12, 4 controls at baseline; 20 ASVs whose
    abundances differ between samples (a study with a table, nothing to classify)."""
    rng = np.random.default_rng(7)
    samples = ([f"P{i}-0" for i in range(1, 5)] + [f"P{i}-12" for i in range(1, 5)]
               + [f"C{i}-0" for i in range(1, 5)])
    md = pd.DataFrame({"sample-id": samples, "subject": [s.split("-")[0] for s in samples],
                       "group": ["patient"] * 8 + ["control"] * 4,
                       "time": ["baseline"] * 4 + ["week12"] * 4 + ["baseline"] * 4})
    md.to_csv(tmp_path / "metadata.tsv", sep="\t", index=False)
    counts = rng.poisson(rng.gamma(0.7, 60, size=(20, 12))) + 1
    pd.DataFrame(counts, index=[f"asv{i}" for i in range(20)], columns=samples).rename_axis(
        "#OTU ID").to_csv(tmp_path / "table.tsv", sep="\t")
    return tmp_path


def _study(d: Path, option_lines: str) -> tuple[Path, int]:
    """A study file with ``option_lines`` under ``options:``; returns it and the 1-based
    line of the first of them."""
    head = ("name: tiny\nmetadata: metadata.tsv\n"
            "design: {subject: subject, group: {column: group, reference: control}, "
            "time: {column: time, reference: baseline}}\n"
            "table: table.tsv\ntaxonomy: null\ntree: none\nfunction: null\ncomparisons:\n"
            "  - {name: patient-vs-control, kind: between, column: group, "
            "levels: [patient, control], where: {time: baseline}}\noptions:\n  permutations: 9\n")
    path = d / "study.yaml"
    path.write_text(head + option_lines)
    return path, head.count("\n") + 1


def _baseline_metadata(d: Path) -> Path:
    md = pd.read_csv(d / "metadata.tsv", sep="\t")
    path = d / "metadata-baseline.tsv"
    md[md["time"] == "baseline"].to_csv(path, sep="\t", index=False)
    return path


def test_rarefaction_depth_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    largest = int(pd.read_csv(tiny / "table.tsv", sep="\t", index_col=0).sum().max())
    what = f"no sample has 100000 reads (largest: {largest})"
    line = one_error(capsys, ["diversity", "--table", str(tiny / "table.tsv"), "--metadata",
                              str(tiny / "metadata.tsv"), "--group", "group", "--rarefy", "100000",
                              "--permutations", "9", "-o", str(tiny / "div")], out=tiny / "div")
    assert line == f"error: --rarefy: {what}"
    study, at = _study(tiny, "  rarefy: 100000\n")
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out")])
    assert line == f"error: {study}: line {at}: options.rarefy: {what}"


def test_inapplicable_method_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    what = "paired-wilcoxon does not apply to between comparison patient-vs-control"
    line = one_error(capsys, ["differential", "--table", str(tiny / "table.tsv"), "--metadata",
                              str(_baseline_metadata(tiny)), "--group", "group", "--subject",
                              "subject", "--method", "paired-wilcoxon", "-o", str(tiny / "d")],
                     out=tiny / "d")
    assert line.startswith(f"error: --method: {what}"), line
    study, at = _study(tiny, "  differential_methods: [paired-wilcoxon]\n")
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out")], allow_warnings=True)
    assert line.startswith(f"error: {study}: line {at}: options.differential_methods: {what}"), line


def test_covariate_equal_to_the_compared_column_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    what = ("'group' is the compared column of comparison 'patient-vs-control'; a covariate "
            "cannot be the group itself")
    line = one_error(capsys, ["differential", "--table", str(tiny / "table.tsv"), "--metadata",
                              str(_baseline_metadata(tiny)), "--group", "group", "--covariates",
                              "group", "-o", str(tiny / "d")], out=tiny / "d")
    assert line == f"error: --covariates: {what}"
    study, at = _study(tiny, "  covariates: [group]\n")
    # found by validate (before any stage runs), and so by run, which validates first
    for argv in (["validate", str(study)], ["run", str(study), "-o", str(tiny / "out")]):
        line = one_error(capsys, argv)
        assert line == f"error: {study}: line {at}: options.covariates.0: {what}"


def test_an_option_of_the_command_line_only_keeps_its_flag_in_a_run(tiny: Path, capsys) -> None:
    study, _ = _study(tiny, "")
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out"), "--force", "diversty"])
    assert line.startswith("error: --force: unknown stage diversty; choose from denoise, "), line


@pytest.mark.parametrize("exc", [
    InputError("f.tsv", "bad value", line=3, field="x"),
    OptionError("options.rarefy", "too deep"),
    OptionError("options.rarefy", "too deep").in_study("s.yaml", 4),
])
def test_errors_survive_pickling(exc: InputError) -> None:
    # errors raised in worker processes (--jobs, a Dask cluster) come back pickled
    import pickle

    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc) and back.args == exc.args
    assert back.line == exc.line and getattr(back, "key", None) == getattr(exc, "key", None)


def test_study_error_survives_pickling() -> None:
    import pickle

    from microtrial.errors import StudyError

    exc = StudyError("s.yaml", ["s.yaml: line 2: a: bad", "s.yaml: line 3: b: bad"])
    back = pickle.loads(pickle.dumps(exc))
    assert back.problems == exc.problems and str(back) == str(exc)


def test_truncation_length_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    """A reads: key checked by the denoise stage against the reads (150 nt here)."""
    import gzip
    import random

    rng = random.Random(1)
    amplicon = "".join(rng.choice("ACGT") for _ in range(250))
    reverse = amplicon[::-1].translate(str.maketrans("ACGT", "TGCA"))
    reads = tiny / "reads"
    reads.mkdir()
    for sample in pd.read_csv(tiny / "metadata.tsv", sep="\t")["sample-id"]:
        for r, seq in ((1, amplicon[:150]), (2, reverse[:150])):
            with gzip.open(reads / f"{sample}_S1_L001_R{r}_001.fastq.gz", "wt") as fh:
                fh.write("".join(f"@r{i}\n{seq}\n+\n{'I' * 150}\n" for i in range(20)))
    what = "400 is longer than every forward read (the longest is 150 nt): no read would survive filtering"
    line = one_error(capsys, ["denoise", str(reads), "--trunc-len-f", "400", "-o", str(tiny / "dn")],
                     out=tiny / "dn")
    assert line == f"error: --trunc-len-f: {what}"
    study, _ = _study(tiny, "")
    text = study.read_text().replace("table: table.tsv\n", "reads:\n  dir: reads/\n  trunc_len_f: 400\n")
    study.write_text(text)
    at = text.splitlines().index("  trunc_len_f: 400") + 1
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out")])
    assert line == f"error: {study}: line {at}: reads.trunc_len_f: {what}"


# ----------------------------------------------------------------------------- options a message mentions


def test_a_mentioned_option_is_named_as_the_error_names_its_own() -> None:
    from microtrial.options import mention, render

    what = f"must be at least the minimum overlap ({mention('reads.min_overlap')} 12), got 5"
    exc = OptionError("reads.amplicon_length", what)
    assert str(exc) == "--amplicon-length: must be at least the minimum overlap (--min-overlap 12), got 5"
    exc.in_study("study.yaml", 7)
    assert str(exc) == ("study.yaml: line 7: reads.amplicon_length: must be at least the minimum "
                        "overlap (reads.min_overlap 12), got 5")
    # an option the study file has no key for keeps its flag in a study's report
    inner = InputError("t.tsv", f"no ASV passes {mention('metagenome.marker')} and {mention('function.max_nsti')}")
    assert str(inner) == "t.tsv: no ASV passes --marker and --max-nsti"
    assert str(inner.in_study_keys()) == "t.tsv: no ASV passes --marker and function.max_nsti"
    # braces around anything but a registered key are text
    assert render("{'ck': 200} {not.a.key} {reads.pool}") == "{'ck': 200} {not.a.key} --pool"
    with pytest.raises(KeyError):
        mention("reads.no_such_key")


def test_mentions_survive_pickling() -> None:
    import pickle

    from microtrial.options import mention

    exc = InputError("f.tsv", f"see {mention('options.rarefy')}").in_study_keys()
    back = pickle.loads(pickle.dumps(exc))
    assert str(back) == str(exc) == "f.tsv: see options.rarefy"


def test_mentioned_option_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    """The reads: check that names another option: the amplicon shorter than the overlap."""
    import gzip

    reads = tiny / "reads"
    reads.mkdir()
    for sample in pd.read_csv(tiny / "metadata.tsv", sep="\t")["sample-id"]:
        for r in (1, 2):
            with gzip.open(reads / f"{sample}_S1_L001_R{r}_001.fastq.gz", "wt") as fh:
                fh.write("@r0\n" + "ACGT" * 20 + "\n+\n" + "I" * 80 + "\n")
    line = one_error(capsys, ["denoise", str(reads), "--amplicon-length", "5", "-o", str(tiny / "dn")],
                     out=tiny / "dn")
    assert line == ("error: --amplicon-length: must be at least the minimum overlap of the read pairs "
                    "(--min-overlap 12), got 5")
    study, _ = _study(tiny, "")
    text = study.read_text().replace("table: table.tsv\n", "reads:\n  dir: reads/\n  amplicon_length: 5\n")
    study.write_text(text)
    at = text.splitlines().index("  amplicon_length: 5") + 1
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out")])
    assert line == (f"error: {study}: line {at}: reads.amplicon_length: must be at least the minimum "
                    "overlap of the read pairs (reads.min_overlap 12), got 5")


def test_a_settings_error_names_the_other_settings_by_flag() -> None:
    from microtrial.denoise import parse_settings

    with pytest.raises(OptionError) as info:
        parse_settings({"primer_r": "ACGT"})
    assert info.value.key == "reads.primer_r"
    assert str(info.value) == "--primer-r: --primer-r is given without --primer-f"
    assert str(info.value.in_study("s.yaml", 3)) == (
        "s.yaml: line 3: reads.primer_r: reads.primer_r is given without reads.primer_f")


def test_a_file_error_mentions_the_option_by_flag_and_by_study_key(tiny: Path, capsys) -> None:
    """An error about the metadata that names the option it comes from: the flag on the
    command line, the study-file key in a run."""
    md = pd.read_csv(tiny / "metadata.tsv", sep="\t").assign(bmi="")
    md.to_csv(tiny / "metadata.tsv", sep="\t", index=False)
    base = _baseline_metadata(tiny)
    line = one_error(capsys, ["differential", "--table", str(tiny / "table.tsv"), "--metadata", str(base),
                              "--group", "group", "--covariates", "bmi", "-o", str(tiny / "d")],
                     out=tiny / "d", allow_warnings=True)
    assert line == f"error: {base}: covariate 'bmi' (--covariates) is missing for every sample"
    study, _ = _study(tiny, "  covariates: [bmi]\n")
    line = one_error(capsys, ["run", str(study), "-o", str(tiny / "out")], allow_warnings=True)
    assert line == (f"error: {tiny / 'metadata.tsv'}: covariate 'bmi' (options.covariates) is missing for "
                    "every sample")
