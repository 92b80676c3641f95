"""Orchestration: each stage's files in, compute, files out; ``run`` chains them."""

from __future__ import annotations

__all__: list[str] = []
