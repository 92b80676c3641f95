"""Newick reading: every unreadable, binary or malformed tree is one InputError naming the file."""

from __future__ import annotations

import gzip
import warnings

import pytest

from microtrial.cli import main
from microtrial.errors import InputError
from microtrial.io.newick import read_tree, write_tree


def test_round_trip(tmp_path):
    (tmp_path / "t.nwk").write_text("((a:1,b:2)ab:0.5,c:3);\n")
    tree = read_tree(tmp_path / "t.nwk")
    assert sorted(t.name for t in tree.tips()) == ["a", "b", "c"]
    write_tree(tree, tmp_path / "out.nwk.gz")
    assert sorted(t.name for t in read_tree(tmp_path / "out.nwk.gz").tips()) == ["a", "b", "c"]


BAD_TREES = [
    (b"\x00\x01\xff\xfe\x89PNG\r\n", "not a Newick text file"),  # binary, not UTF-8
    (b"\x00\x00\x00;", "binary file"),  # binary, but valid UTF-8
    (b"((a:1,b:2)ab:0.5,c:", "does not end with ';'"),  # truncated
    (b"", "empty Newick file"),
    (b"  \n", "empty Newick file"),
    (b"((a,b)c;;", "not a valid Newick tree"),  # unbalanced
    (b"(a,b));", "not a valid Newick tree"),
    (b"(a:x,b);", "not a valid Newick tree"),  # branch length is not a number
]


@pytest.mark.parametrize(("content", "message"), BAD_TREES)
def test_bad_tree_is_input_error(tmp_path, content, message):
    path = tmp_path / "t.nwk"
    path.write_bytes(content)
    # scikit-bio's FormatIdentificationWarning must not reach the user
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=message) as info:
            read_tree(path)
    assert caught == []
    assert info.value.path == str(path)
    assert "\n" not in str(info.value)


def test_bad_gzip_is_input_error(tmp_path):
    good = gzip.compress(b"((a,b),c);\n")
    (tmp_path / "trunc.nwk.gz").write_bytes(good[:12])
    (tmp_path / "fake.nwk.gz").write_bytes(b"((a,b),c);\n")
    for name in ("trunc.nwk.gz", "fake.nwk.gz"):
        with pytest.raises(InputError, match="cannot be read") as info:
            read_tree(tmp_path / name)
        assert info.value.path == str(tmp_path / name)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_tree(tmp_path / "nope.nwk")
    with pytest.raises(InputError, match="is a folder"):
        read_tree(tmp_path)


@pytest.mark.parametrize(("content", "message"), BAD_TREES[:4])
def test_bad_tree_cli_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "t.nwk"
    path.write_bytes(content)
    rc = main(["qza", "import", str(path), "--type", "Phylogeny[Rooted]", "-o", str(tmp_path / "t.qza")])
    assert rc == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}: ") and message in lines[0]
    assert not (tmp_path / "t.qza").exists()
