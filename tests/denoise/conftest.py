"""The ``exact_denoiser`` fixture (see ``_reads.py``)."""

from __future__ import annotations

import pytest

import microtrial.denoise

from ._reads import exact_dada, no_errors


@pytest.fixture
def exact_denoiser(monkeypatch):
    """Every unique sequence its own variant, no error model."""
    monkeypatch.setattr(microtrial.denoise, "dada", exact_dada, raising=False)
    monkeypatch.setattr(microtrial.denoise, "learn_errors", no_errors, raising=False)
