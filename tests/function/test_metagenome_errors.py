"""Problems inside the metagenome step's inputs name the file they are in; a cut-off that
excludes every ASV names the option (``--max-nsti``, or ``function.max_nsti`` in a study)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.cli_checks import one_error

from microtrial.errors import OptionError
from microtrial.function import PredictionInputError, predict_metagenome

TABLE = "#OTU ID\tS1\tS2\na\t10\t0\nb\t5\t6\n"
TRAITS = "sequence\tEC:1.1.1.1\tmetadata_NSTI\na\t1\t0.1\nb\t2\t0.5\n"
MARKER = "sequence\t16S_rRNA_Count\tmetadata_NSTI\na\t2\t0.1\nb\t3\t0.5\n"


def _files(d: Path, traits: str = TRAITS, marker: str = MARKER) -> list[str]:
    for name, text in (("table.tsv", TABLE), ("traits.tsv", traits), ("marker.tsv", marker)):
        (d / name).write_text(text)
    return ["function", "metagenome", "--table", str(d / "table.tsv"), "--traits", str(d / "traits.tsv"),
            "--marker", str(d / "marker.tsv"), "-o", str(d / "out")]


def test_a_trait_table_without_traits_names_its_file(tmp_path: Path, capsys) -> None:
    argv = _files(tmp_path, traits="sequence\tmetadata_NSTI\na\t0.1\nb\t0.5\n")
    line = one_error(capsys, argv, out=tmp_path / "out")
    assert line == f"error: {tmp_path / 'traits.tsv'}: no trait columns"


def test_a_zero_marker_copy_number_names_the_marker_file(tmp_path: Path, capsys) -> None:
    argv = _files(tmp_path, marker="sequence\t16S_rRNA_Count\tmetadata_NSTI\na\t0\t0.1\nb\t3\t0.5\n")
    line = one_error(capsys, argv, out=tmp_path / "out")
    assert line == f"error: {tmp_path / 'marker.tsv'}: ASV 'a' has a predicted marker copy number <= 0"


def test_no_shared_asv_names_the_table(tmp_path: Path, capsys) -> None:
    argv = _files(tmp_path, traits="sequence\tEC:1.1.1.1\tmetadata_NSTI\nx\t1\t0.1\n")
    line = one_error(capsys, argv, out=tmp_path / "out", allow_warnings=True)
    assert line.startswith(f"error: {tmp_path / 'table.tsv'}: no ASV of the table has both a trait and a marker")


def test_an_nsti_cut_off_that_excludes_every_asv_names_the_option(tmp_path: Path, capsys) -> None:
    argv = [*_files(tmp_path), "--max-nsti", "0.05"]
    line = one_error(capsys, argv, out=tmp_path / "out", allow_warnings=True)
    assert line == "error: --max-nsti: every ASV of the trait predictions has an NSTI above 0.05"


def test_in_memory_inputs_are_named_in_words() -> None:
    table = pd.DataFrame({"S1": [1, 2]}, index=["a", "b"])
    traits = pd.DataFrame({"F1": [1, 2]}, index=["a", "a"])
    marker = pd.DataFrame({"16S_rRNA_Count": [1, 1]}, index=["a", "b"])
    with pytest.raises(PredictionInputError) as info:
        predict_metagenome(table, traits, marker)
    assert info.value.source == "traits"
    assert str(info.value) == "trait predictions: sequence 'a' is listed twice"
    with pytest.raises(OptionError) as opt:
        predict_metagenome(table, traits.iloc[:1], None)
    assert str(opt.value) == "--marker: a table of predicted 16S copies is needed (or --skip-norm)"
