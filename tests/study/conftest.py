"""The ``study_dir`` fixture: a copy of ``tests/data/study`` with empty paired FASTQ files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ._files import SAMPLES


@pytest.fixture
def study_dir(tmp_path, test_data) -> Path:
    d = tmp_path / "study"
    shutil.copytree(test_data / "study", d)
    (d / "reads").mkdir()
    for s in SAMPLES:
        for r in (1, 2):
            (d / "reads" / f"{s}_S1_L001_R{r}_001.fastq.gz").touch()
    return d
