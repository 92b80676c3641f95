"""Shared test fixtures: the ``requires_shared`` marker and the path to ../shared/data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MICROTRIAL_SHARED", ROOT.parent / "shared")) / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

# Test modules import their slow reference implementations ("naive" versions) by name;
# with --import-mode=importlib the tests folder must be importable explicitly.
_TESTS = Path(__file__).resolve().parent
for _p in (_TESTS, _TESTS / "diversity"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    if os.environ.get("MICROTRIAL_REQUIRE_SHARED") == "1":
        raise pytest.UsageError(
            f"MICROTRIAL_REQUIRE_SHARED=1 but {SHARED_DATA} is missing"
        )
    skip = pytest.mark.skip(reason=f"needs {SHARED_DATA}")
    for item in items:
        if "requires_shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (tests using it carry ``@pytest.mark.requires_shared``)."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA
