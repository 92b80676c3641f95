from __future__ import annotations

import math

import pandas as pd
import pytest

from microtrial.errors import InputError
from microtrial.io.metadata import read_metadata, write_metadata


def test_reads_types_comments_and_missing(test_data):
    md = read_metadata(test_data / "io" / "metadata.tsv")
    assert list(md.index) == ["S1", "S2", "S3"]
    assert md.index.name == "sample-id"
    assert list(md.columns) == ["subject", "group", "age", "week"]
    assert md["age"].dtype == float
    assert md.loc["S1", "age"] == 41.5 and math.isnan(md.loc["S3", "age"])
    # declared categorical: kept as text although it looks numeric
    assert list(md["week"]) == ["0", "12", "0"]


@pytest.mark.parametrize(
    "header",
    ["id", "ID", "sampleid", "SampleID", "sample id", "Sample ID", "sample-id", "Sample-ID",
     "featureid", "feature id", "feature-id", "FEATURE-ID",
     "#SampleID", "#Sample ID", "#OTUID", "#OTU ID", "sample_name"],
)
def test_id_header_variants(tmp_path, header):
    (tmp_path / "m.tsv").write_text(f"{header}\tx\nA\t1\nB\tfoo\n")
    md = read_metadata(tmp_path / "m.tsv")
    assert list(md.index) == ["A", "B"]
    assert list(md["x"]) == ["1", "foo"]  # mixed: categorical


def test_undeclared_numeric_column_is_inferred(tmp_path):
    (tmp_path / "m.tsv").write_text("sample-id\tx\ty\nA\t1\t\nB\t2.5\tNA\n")
    md = read_metadata(tmp_path / "m.tsv")
    assert list(md["x"]) == [1.0, 2.5]
    assert md["y"].isna().all()


def test_round_trip_with_types(tmp_path):
    df = pd.DataFrame(
        {"group": ["patient", "control"], "age": [30.0, float("nan")], "week": ["0", "12"]},
        index=pd.Index(["S1", "S2"], name="sample-id"),
    )
    write_metadata(df, tmp_path / "m.tsv")
    lines = (tmp_path / "m.tsv").read_text().splitlines()
    assert lines[0] == "sample-id\tgroup\tage\tweek"
    assert lines[1] == "#q2:types\tcategorical\tnumeric\tcategorical"
    back = read_metadata(tmp_path / "m.tsv")
    assert list(back["group"]) == ["patient", "control"]
    assert back.loc["S1", "age"] == 30.0 and math.isnan(back.loc["S2", "age"])
    assert list(back["week"]) == ["0", "12"]
    write_metadata(df, tmp_path / "m.tsv.gz")
    assert list(read_metadata(tmp_path / "m.tsv.gz").index) == ["S1", "S2"]


def test_short_rows_are_padded_like_qiime2(tmp_path):
    (tmp_path / "m.tsv").write_text("sample-id\ta\tb\nS1\tx\nS2\ty\tz\n")
    md = read_metadata(tmp_path / "m.tsv")
    assert pd.isna(md.loc["S1", "b"]) and md.loc["S2", "b"] == "z"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("sample-id\tg\nS1\ta\nS1\tb\n", 3, "duplicate sample id 'S1' (first on line 2)"),
        ("# comment\nsample-id\tg\n\tb\n", 3, "empty sample id"),
        ("sample-id\tg\nS1\ta\nS2\tb\textra\n", 3, "3 cells but the header has 2"),
        ("sample-id\tage\n#q2:types\tnumeric\nS1\t3\nS2\told\n", 4, "'old' of sample 'S2' is not numeric"),
        ("sample-id\tage\n#q2:types\tnumber\nS1\t3\n", 2, "unknown type 'number'"),
        ("name\tage\nS1\t3\n", 1, "not a sample id header"),
        ("sample-id\tg\tg\nS1\ta\tb\n", 1, "duplicate column name 'g'"),
        ("sample-id\tg\nS1\ta\n#q2:types\tcategorical\n", 3, "#q2:types must come right after"),
    ],
)
def test_malformed_metadata_names_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "m.tsv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_metadata(path)
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}: line {line}: ")


def test_numeric_error_names_the_column(tmp_path):
    (tmp_path / "m.tsv").write_text("sample-id\tage\n#q2:types\tnumeric\nS1\tx\n")
    with pytest.raises(InputError) as info:
        read_metadata(tmp_path / "m.tsv")
    assert info.value.field == "age"


def test_no_samples_and_missing_file(tmp_path):
    (tmp_path / "m.tsv").write_text("# only a comment\nsample-id\tg\n")
    with pytest.raises(InputError, match="no samples"):
        read_metadata(tmp_path / "m.tsv")
    with pytest.raises(InputError, match="no such file"):
        read_metadata(tmp_path / "missing.tsv")
