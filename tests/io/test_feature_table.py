from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from microtrial.errors import InputError
from microtrial.io.feature_table import (
    read_biom,
    read_table,
    read_table_tsv,
    write_biom,
    write_table_tsv,
)
from microtrial.table import FeatureTable

# tests/data/io/table.tsv, read off by eye
EXPECTED = np.array([[10, 0, 3], [0, 5, 1], [7, 7, 0]])


def _table(taxonomy: bool = True) -> FeatureTable:
    meta = None
    if taxonomy:
        meta = pd.DataFrame({"taxonomy": ["k__B; p__F", "k__B; p__B", "k__B"]},
                            index=["f1", "f2", "f3"])
    return FeatureTable(sp.csr_matrix(EXPECTED), ("f1", "f2", "f3"), ("S1", "S2", "S3"), meta)


def test_reads_tsv_with_comment_line_and_taxonomy(test_data):
    t = read_table(test_data / "io" / "table.tsv")
    assert t.feature_ids == ("asv1", "asv2", "asv3")
    assert t.sample_ids == ("S1", "S2", "S3")
    np.testing.assert_array_equal(t.data.toarray(), EXPECTED)
    assert t.data.dtype.kind == "i"
    assert list(t.feature_metadata["taxonomy"]) == [
        "k__Bacteria; p__Firmicutes", "k__Bacteria; p__Bacteroidetes", "k__Bacteria"]


@pytest.mark.parametrize("name", ["t.tsv", "t.tsv.gz"])
def test_tsv_round_trip(tmp_path, name):
    write_table_tsv(_table(), tmp_path / name)
    back = read_table(tmp_path / name)
    np.testing.assert_array_equal(back.data.toarray(), EXPECTED)
    assert back.feature_ids == ("f1", "f2", "f3")
    assert list(back.feature_metadata["taxonomy"]) == ["k__B; p__F", "k__B; p__B", "k__B"]
    if name == "t.tsv":
        assert (tmp_path / name).read_text().splitlines()[0] == "#OTU ID\tS1\tS2\tS3\ttaxonomy"


def test_tsv_float_values_round_trip(tmp_path):
    t = FeatureTable(sp.csr_matrix(np.array([[0.25, 0.5]])), ("f",), ("a", "b"))
    write_table_tsv(t, tmp_path / "rel.tsv")
    np.testing.assert_array_equal(read_table_tsv(tmp_path / "rel.tsv").data.toarray(), [[0.25, 0.5]])


@pytest.mark.parametrize("taxonomy", [True, False])
def test_biom_round_trip(tmp_path, taxonomy):
    write_biom(_table(taxonomy), tmp_path / "t.biom")
    assert (tmp_path / "t.biom").read_bytes()[:4] == b"\x89HDF"
    back = read_biom(tmp_path / "t.biom")
    assert back.sample_ids == ("S1", "S2", "S3")
    np.testing.assert_array_equal(back.data.toarray(), EXPECTED)
    if taxonomy:
        assert list(back.feature_metadata["taxonomy"]) == ["k__B; p__F", "k__B; p__B", "k__B"]
    else:
        assert back.feature_metadata is None
    assert read_table(tmp_path / "t.biom").shape == (3, 3)  # dispatch by content


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("#OTU ID\tA\tB\nf1\t1\t2\nf2\t1\n", 3, "2 cells, expected 3"),
        ("#OTU ID\tA\tB\nf1\t1\tx\n", 2, "'x' is not a number"),
        ("#OTU ID\tA\tB\nf1\t1\t-2\n", 2, ">= 0"),
        ("# Constructed from biom file\n#OTU ID\tA\tB\nf1\t1\t2\nf1\t3\t4\n", 4, "duplicate feature id"),
        ("# Constructed from biom file\nSample\tA\tB\nf1\t1\t2\n", 2, "expected '#OTU ID'"),
        ("#OTU ID\tA\tA\nf1\t1\t2\n", 1, "duplicate sample id 'A'"),
        ("#OTU ID\tA\tB\n\t1\t2\n", 2, "empty feature id"),
    ],
)
def test_malformed_tsv_names_the_line(tmp_path, text, line, words):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert info.value.line == line
    assert words in str(info.value)


def test_non_numeric_names_the_sample_column(tmp_path):
    (tmp_path / "bad.tsv").write_text("#OTU ID\tA\tB\nf1\t1\tx\n")
    with pytest.raises(InputError) as info:
        read_table(tmp_path / "bad.tsv")
    assert info.value.field == "B"


def test_broken_biom_is_input_error(tmp_path):
    (tmp_path / "x.biom").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InputError, match="BIOM"):
        read_table(tmp_path / "x.biom")
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "missing.biom")


@pytest.mark.parametrize("taxonomy", [False, True])
def test_table_without_features_keeps_its_samples(tmp_path, taxonomy):
    meta = pd.DataFrame({"taxonomy": pd.Series([], dtype=object)}, index=[]) if taxonomy else None
    empty = FeatureTable(sp.csr_matrix((0, 2), dtype=np.int64), (), ("S1", "S2"), meta)
    write_table_tsv(empty, tmp_path / "t.tsv")
    assert (tmp_path / "t.tsv").read_text() == "#OTU ID\tS1\tS2\n"
    back = read_table_tsv(tmp_path / "t.tsv")
    assert back.sample_ids == ("S1", "S2") and back.feature_ids == () and back.data.shape == (0, 2)
    write_biom(empty, tmp_path / "t.biom")
    assert read_biom(tmp_path / "t.biom").sample_ids == ("S1", "S2")


def test_table_without_samples_is_not_written(tmp_path):
    # '#OTU ID\t' with no sample would not read back ("empty sample id in header")
    no_samples = FeatureTable(sp.csr_matrix((2, 0), dtype=np.int64), ("f1", "f2"), ())
    with pytest.raises(ValueError, match="without samples"):
        write_table_tsv(no_samples, tmp_path / "t.tsv")
    assert not (tmp_path / "t.tsv").exists()
