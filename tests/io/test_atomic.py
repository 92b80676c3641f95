"""Atomic output: permissions like a plain open(), no temporary left, errors name the target."""

from __future__ import annotations

import errno
import os
import stat
import sys

import pytest

from microtrial.io._atomic import atomic_open, atomic_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    try:
        yield lambda value: os.umask(value)
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("name", ["out.tsv", "out.tsv.gz"])
@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o007, 0o660, 0o770)])
def test_modes_follow_the_umask(tmp_path, umask, name, mask, file_mode, dir_mode):
    umask(mask)
    target = tmp_path / "new" / "sub" / name
    with atomic_open(target) as fh:
        fh.write("x\n")
    with open(tmp_path / "plain", "w") as fh:  # what a plain open() gives
        fh.write("x\n")
    assert _mode(target) == _mode(tmp_path / "plain") == file_mode
    assert _mode(tmp_path / "new") == _mode(tmp_path / "new" / "sub") == dir_mode
    assert sorted(p.name for p in target.parent.iterdir()) == [name]


def test_replacing_a_file_gets_fresh_permissions(tmp_path, umask):
    target = tmp_path / "out.tsv"
    target.write_text("old\n")
    target.chmod(0o600)
    with atomic_path(target) as tmp:
        tmp.write_text("new\n")
    assert target.read_text() == "new\n" and _mode(target) == 0o644


def test_failed_write_leaves_nothing_and_names_the_target(tmp_path):
    target = tmp_path / "out.tsv"
    with pytest.raises(OSError) as info:
        with atomic_open(target) as fh:
            fh.write("partial")
            raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk does
    assert info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_other_errors_inside_keep_their_file_name(tmp_path):
    with pytest.raises(OSError) as info:
        with atomic_open(tmp_path / "out.tsv"):
            raise OSError(errno.EIO, "Input/output error", "some-input.fastq.gz")
    assert info.value.filename == "some-input.fastq.gz"


def test_read_only_folder_names_the_target(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, mode=0o777, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OSError) as info:
        with atomic_open(tmp_path / "out.tsv") as fh:
            fh.write("x")
    assert info.value.errno == errno.EROFS
    assert info.value.filename == str(tmp_path / "out.tsv")


def test_failed_replace_names_the_target(tmp_path, monkeypatch):
    def cross_device(src, dst, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link", src, None, dst)

    monkeypatch.setattr(os, "replace", cross_device)
    with pytest.raises(OSError) as info:
        with atomic_open(tmp_path / "out.tsv") as fh:
            fh.write("x")
    assert info.value.filename == str(tmp_path / "out.tsv") and info.value.filename2 is None
    assert list(tmp_path.iterdir()) == []


def test_parent_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(NotADirectoryError) as info:
        with atomic_open(tmp_path / "afile" / "out.tsv") as fh:
            fh.write("x")
    assert info.value.filename == str(tmp_path / "afile")
