"""Readers and writers, one module per format; ``.gz`` is transparent for text formats."""

from __future__ import annotations
