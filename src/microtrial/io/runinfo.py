"""``run-info.json``: every output folder says how it was made and which files it wrote."""

from __future__ import annotations

import json
import logging
import os
import platform
import stat
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from microtrial.io._atomic import atomic_open

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_DEPENDENCIES = (
    "numpy", "scipy", "pandas", "numba", "scikit-bio", "biom-format", "statsmodels",
    "pydantic", "PyYAML", "click", "rich", "matplotlib", "cutadapt", "dnaio",
    "qiime-default-reference", "h5py", "plotly", "dask", "distributed",
)


def _requirements() -> list[str]:
    """The built-in list plus the runtime dependencies in microtrial's installed metadata."""
    import re

    try:
        reqs = metadata.requires("microtrial") or []
    except metadata.PackageNotFoundError:
        reqs = []
    names = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in reqs if "extra ==" not in r]
    seen = {n.lower() for n in _DEPENDENCIES}
    return [*_DEPENDENCIES, *(n for n in names if n and n.lower() not in seen)]


def _versions() -> dict[str, str]:
    out = {}
    for name in _requirements():
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


def start_output(
    out_dir: str | os.PathLike[str],
    *,
    command: str | None = None,
    keep: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Make ``out_dir`` ready for a run's outputs: create it, and clear what an earlier run
    there left behind.

    Removes the earlier run's ``run-info.json`` and then the files it lists under
    ``"outputs"``, so a stage re-run with fewer outputs (fewer metrics, methods, measures)
    leaves no stale tables for a reader or the report to pick up. Every stage writes
    ``run-info.json`` last, so until this run completes the folder is visibly incomplete: a
    run that fails half-way through a reused folder must not leave it looking complete.
    Call it once the inputs are checked (and read), before the first write.

    Parameters
    ----------
    out_dir : str or PathLike
        The output folder; created (with parents) if needed.
    command : str, optional
        This run's command (as given to :func:`write_run_info`). When given, the earlier
        run's outputs are removed only if it ran the same command: a stage sent into the
        folder of another stage (``denoise`` then ``diversity`` into one folder) must not
        delete that stage's outputs, which are often its own inputs.
    keep : iterable of path-like
        Input files or folders of this run: a listed output that is one of them, or lies
        inside one of them, is kept.

    Notes
    -----
    Only regular files are removed, and only those named by a relative path inside
    ``out_dir`` without ``..``; absolute entries and entries that pass through a symbolic
    link are ignored, and a symbolic link is never removed or followed. An unreadable or
    foreign ``run-info.json`` removes nothing but itself. Folders emptied this way are
    removed too. Files the earlier run did not list (a user's own) are never touched.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info_path = out / "run-info.json"
    listed = _listed_outputs(info_path, command)
    info_path.unlink(missing_ok=True)  # first: a crash below leaves the folder incomplete
    kept = [os.path.realpath(k) for k in keep]
    for rel in listed:
        _remove_output(out, rel, kept)
    return out


def _listed_outputs(info_path: Path, command: str | None) -> list[str]:
    """The ``"outputs"`` of an earlier run's run-info.json; ``[]`` when there are none, the
    file is unreadable or foreign, or it was written by another command."""
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not UTF-8, not JSON
        return []
    if not isinstance(info, dict) or info.get("schema_version") != SCHEMA_VERSION:
        return []
    if command is not None and info.get("command") != command:
        return []
    outputs = info.get("outputs")
    if isinstance(outputs, dict):  # ``run`` before outputs were unified: {stage: [paths]}
        outputs = [p for v in outputs.values() if isinstance(v, list) for p in v]
    if not isinstance(outputs, list):
        return []
    return [p for p in outputs if isinstance(p, str)]


def _remove_output(out: Path, rel: str, kept: list[str]) -> None:
    """Remove ``out/rel`` if it is a regular file reached without leaving ``out``."""
    rel_path = PurePosixPath(rel)
    parts = rel_path.parts
    if not parts or rel_path.is_absolute() or ".." in parts or parts == (".",):
        return
    folders = [out.joinpath(*parts[:i]) for i in range(1, len(parts))]
    path = out.joinpath(*parts)
    try:
        for folder in folders:  # a symlinked folder could lead anywhere: do not enter it
            if not stat.S_ISDIR(folder.lstat().st_mode):
                return
        if not stat.S_ISREG(path.lstat().st_mode):
            return
    except (OSError, ValueError):  # gone already, or a name no file can have
        return
    real = os.path.realpath(path)
    if any(real == k or real.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
        log.debug("kept %s: an input of this run", path)
        return
    path.unlink(missing_ok=True)
    log.debug("removed %s: an output of the earlier run", path)
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty: it holds other files
            break


def _relative_outputs(
    out_dir: str | os.PathLike[str], outputs: Iterable[str | os.PathLike[str]]
) -> list[str]:
    """``outputs`` (paths inside ``out_dir``) as sorted POSIX paths relative to it."""
    base = os.path.abspath(out_dir)
    rels = set()
    for p in outputs:
        full = os.path.abspath(p)
        if full == base or os.path.commonpath([base, full]) != base:
            raise ValueError(f"output {p} is not inside the output folder {out_dir}")
        rels.add(Path(os.path.relpath(full, base)).as_posix())
    return sorted(rels)


def write_run_info(
    out_dir: str | Path,
    *,
    command: str,
    options: Mapping[str, Any],
    seeds: Mapping[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
    outputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``run-info.json`` into ``out_dir`` (atomically) and return its path.

    ``outputs`` are the files this run wrote, as paths inside ``out_dir`` (``out_dir /
    "beta-braycurtis.tsv"``); they are recorded under ``"outputs"`` as sorted POSIX paths
    relative to ``out_dir``, and the next :func:`start_output` there removes them. An output
    outside ``out_dir`` is a ``ValueError``, as is ``"outputs"`` in ``extra``.
    """
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
        if "outputs" in extra:
            raise ValueError("list the files written with outputs=, not in extra")
        info.update(_jsonable(dict(extra)))
    info["outputs"] = _relative_outputs(out_dir, outputs)
    path = Path(out_dir) / "run-info.json"
    with atomic_open(path) as fh:
        json.dump(info, fh, indent=2)
        fh.write("\n")
    return path
