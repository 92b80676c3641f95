"""``run-info.json``: every output folder says how it was made."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from microtrial.io._atomic import atomic_open

SCHEMA_VERSION = 1
_DEPENDENCIES = (
    "numpy", "scipy", "pandas", "numba", "scikit-bio", "biom-format", "statsmodels",
    "pydantic", "PyYAML", "click", "rich", "matplotlib", "cutadapt", "dnaio",
    "qiime-default-reference",
)


def _versions() -> dict[str, str]:
    out = {}
    for name in _DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def start_output(out_dir: str | Path) -> Path:
    """Create ``out_dir`` for a run's outputs and remove a ``run-info.json`` left there by an
    earlier run. Every stage writes ``run-info.json`` last, so until this run completes the
    folder is visibly incomplete: a run that fails half-way through a reused folder must not
    leave it looking complete. Call it once the inputs are checked, before the first write."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run-info.json").unlink(missing_ok=True)
    return out


def write_run_info(
    out_dir: str | Path,
    *,
    command: str,
    options: Mapping[str, Any],
    seeds: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``run-info.json`` into ``out_dir`` (atomically) and return its path."""
    from microtrial import __version__

    info = {
        "schema_version": SCHEMA_VERSION,
        "microtrial_version": __version__,
        "command": command,
        "argv": sys.argv,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "dependencies": _versions(),
        "options": _jsonable(dict(options)),
        "seeds": _jsonable(dict(seeds or {})),
        "timings_seconds": _jsonable(dict(timings or {})),
    }
    if extra:
        info.update(_jsonable(dict(extra)))
    path = Path(out_dir) / "run-info.json"
    with atomic_open(path) as fh:
        json.dump(info, fh, indent=2)
        fh.write("\n")
    return path
