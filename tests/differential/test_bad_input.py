"""Bad input to ``microtrial differential``: one ``error:`` line naming the file or option,
exit status 2, and no output folder left behind."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_checks import one_error
from microtrial.cli import main
from microtrial.design import Comparison
from microtrial.errors import InputError
from microtrial.pipeline.differential import differential_stage

GENERA = ["Faecalibacterium", "Roseburia", "Bacteroides", "Prevotella", "Akkermansia", "Blautia"]


def _study(tmp: Path, sim) -> tuple[Path, Path, Path]:
    contrast, _ = sim(n_features=30, n_da=4, n_per_group=6, seed=2)
    counts = contrast.counts
    table = tmp / "table.tsv"
    counts.rename_axis("#OTU ID").to_csv(table, sep="\t")
    md = pd.DataFrame({"sample-id": counts.columns,
                       "group": np.where(contrast.is_test, "patient", "control"),
                       "age": np.linspace(30, 60, counts.shape[1])})
    md.to_csv(tmp / "metadata.tsv", sep="\t", index=False)
    tax = [f"k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Fam{i % 4}; g__{GENERA[i % 6]}"
           for i in range(counts.shape[0])]
    pd.DataFrame({"Feature ID": counts.index, "Taxon": tax}).to_csv(tmp / "taxonomy.tsv", sep="\t", index=False)
    return table, tmp / "metadata.tsv", tmp / "taxonomy.tsv"


def _error(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> str:
    return one_error(capsys, ["differential", *argv, "-o", str(out)], out=out, allow_warnings=True)


@pytest.mark.parametrize(("args", "start"), [
    (["--rank", "genera"], "error: --rank: unknown rank 'genera'; choose from asv, species, genus,"),
    (["--levels", "patient,patient"], "error: --levels: TEST and REFERENCE are both 'patient'"),
    (["--method", "ancom"], "error: --method: unknown differential method 'ancom'; choose from lefse,"),
    (["--method", ","], "error: --method: no method given"),
    (["--min-prevalence", "1.5"], "error: --min-prevalence: 1.5 is not a fraction between 0 and 1"),
    (["--min-prevalence", "-0.1"], "error: --min-prevalence: -0.1 is not a fraction"),
    (["--min-abundance", "-1"], "error: --min-abundance: -1.0 is not a relative abundance between 0 and 1"),
    (["--min-abundance", "2"], "error: --min-abundance: 2.0 is not a relative abundance"),
    (["--threads", "0"], "error: --threads: must be >= 1, got 0"),
])
def test_bad_options_name_the_option(tmp_path: Path, sim, capsys: pytest.CaptureFixture[str],
                                     args: list[str], start: str) -> None:
    table, md, tax = _study(tmp_path, sim)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--taxonomy", str(tax), *args], tmp_path / "out")
    assert line.startswith(start), line


def test_metadata_matching_no_sample_is_an_error(tmp_path: Path, sim,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    table, md, _ = _study(tmp_path, sim)
    m = pd.read_csv(md, sep="\t")
    m["sample-id"] = "X" + m["sample-id"]
    m.to_csv(md, sep="\t", index=False)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--method", "lmm"], tmp_path / "out")
    assert line.startswith(f"error: {table}: fewer than 2 samples (0) are also in the metadata {md}")


def test_feature_table_given_as_taxonomy(tmp_path: Path, sim,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    table, md, _ = _study(tmp_path, sim)
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--method", "lmm", "--rank", "genus", "--taxonomy", str(table)], tmp_path / "out")
    assert line.startswith(f"error: {table}: line 1: header must be 'Feature ID<TAB>Taxon'")
    assert "feature table" in line


def test_taxonomy_without_the_tables_features(tmp_path: Path, sim,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    table, md, tax = _study(tmp_path, sim)
    tax.write_text("Feature ID\tTaxon\nOTHER1\td__Bacteria; p__Firmicutes\n")
    line = _error(capsys, ["--table", str(table), "--metadata", str(md), "--group", "group",
                           "--method", "lmm", "--rank", "genus", "--taxonomy", str(tax)], tmp_path / "out")
    assert line.startswith(f"error: {tax}: none of the 30 features of {table} are in it")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_partial_taxonomy_warns_with_the_count(tmp_path: Path, sim) -> None:
    table, md, tax = _study(tmp_path, sim)
    lines = tax.read_text().splitlines()
    tax.write_text("\n".join(lines[:21]) + "\n")  # header + 20 of 30 features
    logger = logging.getLogger("microtrial.pipeline.differential")
    handler = _Records()
    logger.addHandler(handler)
    try:
        differential_stage(table, md, tmp_path / "out", taxonomy=tax, ranks=("genus",), methods=("lmm",),
                           comparisons=[Comparison("p-vs-c", "between", "group", ("patient", "control"))])
    finally:
        logger.removeHandler(handler)
    assert any(m.startswith("10 of 30 features of ") and "Unassigned" in m for m in handler.messages)
    df = pd.read_csv(tmp_path / "out" / "differential-lmm.tsv", sep="\t")
    assert "Unassigned" in set(df["feature"])  # the 10 features without a taxon, as before


def test_headerless_greengenes_taxonomy_works(tmp_path: Path, sim,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    table, md, tax = _study(tmp_path, sim)
    tax.write_text("".join(line + "\n" for line in tax.read_text().splitlines()[1:]))  # drop the header
    out = tmp_path / "out"
    assert main(["differential", "--table", str(table), "--metadata", str(md), "--group", "group",
                 "--method", "lmm", "--rank", "genus", "--taxonomy", str(tax), "-o", str(out)]) == 0
    df = pd.read_csv(out / "differential-lmm.tsv", sep="\t")
    assert set(df["feature"]) <= {f"d__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Fam{i}; g__{g}"
                                  for i in range(4) for g in GENERA}
    assert len(df) > 0


def test_stage_errors_name_the_option(tmp_path: Path, sim) -> None:
    table, md, tax = _study(tmp_path, sim)
    comp = [Comparison("p-vs-c", "between", "group", ("patient", "control"))]
    with pytest.raises(InputError) as exc:
        differential_stage(table, md, tmp_path / "out", comparisons=comp, ranks=("genera",), taxonomy=tax)
    assert exc.value.path == "--rank"
    assert not (tmp_path / "out").exists()
