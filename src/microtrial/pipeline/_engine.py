"""The run engine: stages as a graph, each result cached under a key of its inputs' content.

``microtrial run`` calls :meth:`Engine.run` once per stage. A stage is a function that
writes its outputs into the (empty) folder it is given; the engine decides whether it has
to run at all:

- its **cache key** is the sha256 of the stage name, the microtrial version, the
  fingerprint of the stage's code, the stage's resolved options (JSON) and the content of
  its inputs: files and folders by their bytes (sha256), results of earlier stages by the
  digests of the files read from them. A stage whose inputs and options did not change is
  not run again; a stage reading only ``alpha-diversity.tsv`` from diversity is not re-run
  when a new permutation count changes ``permanova.tsv`` but not the alpha table;
- the **code fingerprint** (:func:`code_fingerprint`) is the sha256 of the source of the
  stage's modules (by default ``microtrial.pipeline.<stage>``) and of every microtrial
  module they import, followed transitively through the ``import`` statements of the
  source (function-level imports included), with the parent packages' ``__init__.py`` and
  the data files of every package reached. So editing a stage's code on a git checkout
  (where the version string does not change) re-runs that stage and the stages reading its
  results, and no other: editing ``diversity/_beta.py`` re-runs diversity and the report,
  not denoising. Each file is read and hashed once per process (a few hundred small files:
  tens of milliseconds);
- a result lives in ``<out>/.microtrial-cache/<stage>/<key>/``. The stage writes into a
  temporary folder beside it, which is renamed to the key only once complete (with its
  ``.manifest.json``: files, their digests, the seconds it took). A run killed at any moment
  (``kill -9``) leaves either a complete entry or a temporary folder the next run removes,
  so re-running resumes at the first stage that had not finished;
- the stage's files are then copied from its cache entry into the output folder (each
  written to a temporary name and renamed), its ``run-info.json`` as
  ``logs/<stage>.run-info.json``;
- ``force=True`` (``--force``) runs every stage again; ``force={"diversity"}``
  (``--force diversity``) that stage only; a forced stage's new result replaces the cached
  one, and stages downstream re-run only when its outputs' bytes changed.

Adding a stage (e.g. ``function``) to ``run_study`` takes a few lines::

    res = engine.run(
        "function",
        lambda folder: function_stage(table, seqs, folder, **opts),   # writes into folder
        inputs={"table": table, "sequences": seqs, "reference": ref_dir},
        options=opts,            # everything that changes the result, JSON-able, no paths
        code=("microtrial.pipeline.function",),   # its code (this is the default)
    )
    predictions = res.path("pathway-abundance.tsv")   # read by later stages

Options that do not change the result (thread counts, progress callbacks) stay out of
``options``, so changing them reuses the cache. Stages must be deterministic (seeded) and
their tables free of timestamps, so that a re-run writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_DIR = ".microtrial-cache"
MANIFEST = ".manifest.json"
DIGESTS = "digests.json"
KEEP_PER_STAGE = 4
"""Cache entries kept per stage (the ones this run used, then the most recent)."""

ProgressCallback = Callable[[str, int, int], None]


def file_digest(path: Path) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


SOURCE_ROOT = Path(__file__).resolve().parents[1]
"""The ``microtrial`` package folder whose source the code fingerprints hash."""

_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.]+)", re.MULTILINE)
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_code_lock = threading.Lock()
_file_digests: dict[str, tuple[str, frozenset[str]]] = {}
_fingerprints: dict[tuple[str, tuple[str, ...]], str] = {}
_package_listing: dict[str, tuple[dict[str, Path], dict[str, list[Path]]]] = {}


def _package_files(root: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Module name -> source file of every module under the package folder ``root``, and
    package name -> its data files (not ``.py``, outside ``__pycache__`` and subpackages);
    one walk of the folder per process."""
    key = str(root)
    known = _package_listing.get(key)
    if known is not None:
        return known
    modules: dict[str, Path] = {}
    data: dict[str, list[Path]] = {}
    owner: dict[str, str] = {}  # folder -> the package its data files belong to
    for folder, dirs, names in os.walk(root):  # top-down: a folder's parent comes first
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        here = Path(folder)
        parts = here.relative_to(root).parts
        dotted = ".".join((root.name, *parts))
        if "__init__.py" in names or here == root:
            owner[folder] = dotted
        else:
            owner[folder] = owner.get(str(here.parent), root.name)
        for name in sorted(names):
            if name.endswith(".py"):
                stem = name[:-3]
                modules[dotted if stem == "__init__" else f"{dotted}.{stem}"] = here / name
            else:
                data.setdefault(owner[folder], []).append(here / name)
    for files in data.values():
        files.sort()
    _package_listing[key] = (modules, data)
    return modules, data


def _scan(path: Path, module: str, is_package: bool) -> tuple[str, frozenset[str]]:
    """sha256 of a source file and the (absolute) module names its imports may name."""
    key = str(path)
    known = _file_digests.get(key)
    if known is not None:
        return known
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    names: set[str] = {m.group(1) for m in _IMPORT.finditer(text)}
    here = module if is_package else module.rpartition(".")[0]
    for m in _FROM.finditer(text):
        base, what = m.group(1), m.group(2)
        level = len(base) - len(base.lstrip("."))
        if level:
            anchor = here.split(".")
            anchor = anchor[: len(anchor) - (level - 1)] if level > 1 else anchor
            base = ".".join([*anchor, base[level:]] if base[level:] else anchor)
        names.add(base)
        for item in re.sub(r"#[^\n]*", "", what).strip("()").split(","):
            word = item.strip().split(" ")[0].strip("\\ ")
            if word.isidentifier():
                names.add(f"{base}.{word}")  # may be a submodule: kept only if it is one
    out = (hashlib.sha256(data).hexdigest(), frozenset(names))
    _file_digests[key] = out
    return out


def code_fingerprint(modules: Iterable[str], root: Path | None = None) -> str:
    """sha256 of the source of ``modules`` and of every module of the package they import.

    Imports are followed transitively through the source text (``import x``, ``from x
    import y``, relative imports, at any indentation: function-level imports count), with
    the ``__init__.py`` of every parent package; the data files (non-Python files outside
    ``__pycache__``) of every package reached count too. Names outside the package
    (numpy, ...) are not followed: their versions are not part of the key.

    Parameters
    ----------
    modules : iterable of str
        Dotted module names, e.g. ``("microtrial.pipeline.diversity",)``; names that are
        not modules of the package are ignored.
    root : Path, optional
        The package folder (default: the installed ``microtrial`` package,
        :data:`SOURCE_ROOT`); tests point it at a copy.

    Returns
    -------
    str
        A hex digest; each file is read once per process (per ``root``).
    """
    root = Path(root) if root is not None else SOURCE_ROOT
    wanted = tuple(sorted(set(modules)))
    memo_key = (str(root), wanted)
    with _code_lock:
        if memo_key in _fingerprints:
            return _fingerprints[memo_key]
        files, data = _package_files(root)
        seen: set[str] = set()
        todo = [m for m in wanted if m in files]
        h = hashlib.sha256()
        while todo:
            mod = todo.pop()
            if mod in seen:
                continue
            seen.add(mod)
            parts = mod.split(".")
            todo += [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in files]
            path = files[mod]
            _, names = _scan(path, mod, path.name == "__init__.py")
            todo += [n for n in names if n in files and n not in seen]
        for mod in sorted(seen):
            path = files[mod]
            h.update(f"{mod}\0{_scan(path, mod, path.name == '__init__.py')[0]}\n".encode())
            for f in data.get(mod, []) if path.name == "__init__.py" else []:
                known = _file_digests.get(str(f))
                if known is None:
                    known = _file_digests[str(f)] = (file_digest(f), frozenset())
                rel = f.relative_to(path.parent).as_posix()
                h.update(f"{mod}/{rel}\0{known[0]}\n".encode())
        d = h.hexdigest()
        _fingerprints[memo_key] = d
        return d


@dataclass(frozen=True)
class StageResult:
    """One stage's outcome: its cache entry, key and status."""

    name: str
    key: str
    status: str  # "ran" or "cached"
    seconds: float
    folder: Path
    files: tuple[str, ...]
    outputs: tuple[str, ...]  # where the files were copied to, relative to the output folder

    def path(self, rel: str) -> Path:
        """A file of this stage's result (in its cache entry)."""
        return self.folder / rel

    def has(self, rel: str) -> bool:
        return rel in self.files

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "key": self.key,
                "seconds": self.seconds}


@dataclass
class Engine:
    """Runs stages into ``out_dir`` through the content-addressed cache (see module docs).

    Parameters
    ----------
    out_dir : Path
        The output folder; the cache is ``out_dir/.microtrial-cache``.
    force : bool or collection of str
        ``True`` runs every stage; a collection names the stages to run regardless of the
        cache.
    progress : callable, optional
        ``progress(description, done, total)``.
    code_root : Path, optional
        The package folder whose source the code fingerprints hash (default: the installed
        ``microtrial``; see :func:`code_fingerprint`).
    """

    out_dir: Path
    force: bool | Collection[str] = False
    progress: ProgressCallback | None = None
    code_root: Path | None = None
    results: dict[str, StageResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    _memo: dict[str, str] = field(default_factory=dict)
    _used: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.cache = self.out_dir / CACHE_DIR
        self.cache.mkdir(parents=True, exist_ok=True)
        for tmp in self.cache.glob("*/.tmp-*"):  # left by a killed run
            shutil.rmtree(tmp, ignore_errors=True)
        self._disk_memo: dict[str, Any] = {}
        self._disk_memo_changed = False
        try:
            loaded = json.loads((self.cache / DIGESTS).read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._disk_memo = loaded
        except (OSError, ValueError):
            pass

    # ---- keys -------------------------------------------------------------------------
    def digest(self, path: str | os.PathLike[str] | None) -> str:
        """Content digest of a file, or of a folder (every file's relative path and bytes).

        A file's sha256 is remembered in ``.microtrial-cache/digests.json`` under its path,
        size, inode and modification and change times (as ``make`` and ``ccache`` trust
        them), so a re-run does not read large unchanged inputs (FASTQ) again.
        """
        if path is None:
            return "-"
        p = Path(path)
        real = os.path.realpath(p)
        try:
            st = os.stat(real)
        except OSError:
            return "missing"
        memo_key = f"{real}\0{st.st_size}\0{st.st_mtime_ns}"
        if memo_key in self._memo:
            return self._memo[memo_key]
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                h.update(f.relative_to(p).as_posix().encode() + b"\0")
                h.update(self.digest(f).encode())
            d = h.hexdigest()
        else:
            stamp = f"{st.st_size}:{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns}"
            known = self._disk_memo.get(real)
            if isinstance(known, list) and len(known) == 2 and known[0] == stamp:
                d = str(known[1])
            else:
                d = file_digest(p)
                if not real.startswith(os.path.realpath(self.cache) + os.sep):
                    self._disk_memo[real] = [stamp, d]
                    self._disk_memo_changed = True
            if not real.startswith(os.path.realpath(self.cache) + os.sep):
                self.checksums[os.path.abspath(p)] = d
        self._memo[memo_key] = d
        return d

    def save_digests(self) -> None:
        """Write the remembered input digests (see :meth:`digest`) atomically."""
        if not self._disk_memo_changed:
            return
        path = self.cache / DIGESTS
        tmp = self.cache / f".{DIGESTS}.{secrets.token_hex(4)}.tmp"
        try:
            tmp.write_text(json.dumps(self._disk_memo, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # only a speed-up: never fail a run for it
            log.debug("could not save %s: %s", path, exc)
            tmp.unlink(missing_ok=True)
        self._disk_memo_changed = False

    def key(self, name: str, inputs: Mapping[str, Any], options: Mapping[str, Any],
            code: Iterable[str] | None = None) -> str:
        """The cache key of stage ``name`` for these inputs, options and code (module names,
        default ``microtrial.pipeline.<name>``; see :func:`code_fingerprint`)."""
        from microtrial import __version__
        from microtrial.io.runinfo import _jsonable

        modules = tuple(code) if code is not None else (f"microtrial.pipeline.{name}",)
        parts = {
            "stage": name,
            "microtrial": __version__,
            "code": code_fingerprint(modules, self.code_root),
            "options": _jsonable(dict(options)),
            "inputs": {k: self._input_digest(v) for k, v in sorted(inputs.items())},
        }
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _input_digest(self, value: Any) -> Any:
        if isinstance(value, StageResult):
            return value.key
        if isinstance(value, list | tuple):
            return [self._input_digest(v) for v in value]
        if value is None:
            return "-"
        return self.digest(value)

    # ---- running ------------------------------------------------------------------------
    def _forced(self, name: str) -> bool:
        if isinstance(self.force, bool):
            return self.force
        return name in self.force

    def run(
        self,
        name: str,
        fn: Callable[[Path], Any],
        *,
        inputs: Mapping[str, Any],
        options: Mapping[str, Any],
        dest: str = "",
        code: Iterable[str] | None = None,
    ) -> StageResult:
        """Run stage ``name`` (or take its cached result) and copy its files into the output
        folder (under ``dest``, a sub-folder, if given).

        Parameters
        ----------
        name : str
            The stage name (also its cache folder).
        fn : callable
            ``fn(folder)`` writes the stage's outputs into ``folder`` (empty, existing).
        inputs : mapping
            What the stage reads: paths (files or folders, hashed by content), earlier
            :class:`StageResult` objects (by key), ``None`` (absent), or lists of these.
        options : mapping
            Every option that changes the result (JSON-able).
        dest : str
            Sub-folder of the output folder to copy the files into.
        code : iterable of str, optional
            The modules holding the stage's code (default ``microtrial.pipeline.<name>``):
            their source, and that of every microtrial module they import, is part of the
            key (:func:`code_fingerprint`).
        """
        t0 = time.perf_counter()
        key = self.key(name, inputs, options, code)
        entry = self.cache / name / key[:32]
        status = "cached"
        if self._forced(name) and entry.exists():
            shutil.rmtree(entry)
        manifest = _read_manifest(entry)
        if manifest is None:
            status = "ran"
            if self.progress:
                self.progress(f"stage: {name}", 0, 1)
            if entry.exists():  # an unreadable entry: replace it
                shutil.rmtree(entry)
            tmp = self.cache / name / f".tmp-{key[:16]}-{secrets.token_hex(4)}"
            tmp.mkdir(parents=True)
            try:
                fn(tmp)
                written = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
                manifest = {"stage": name, "key": key, "seconds": round(time.perf_counter() - t0, 3),
                            "files": {f: file_digest(tmp / f) for f in written}}
                with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
                    json.dump(manifest, fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.rename(tmp, entry)
                except OSError:  # another run finished the same entry first
                    if _read_manifest(entry) is None:
                        raise
                    shutil.rmtree(tmp, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            if self.progress:
                self.progress(f"stage: {name}", 1, 1)
        else:
            os.utime(entry)  # most recently used: kept longest
        files = tuple(manifest["files"])
        for rel, d in manifest["files"].items():  # later stages hash these without reading
            st = os.stat(entry / rel)
            self._memo[f"{os.path.realpath(entry / rel)}\0{st.st_size}\0{st.st_mtime_ns}"] = d
        outputs = tuple(self._promote(name, entry, files, dest))
        self._used.setdefault(name, set()).add(entry.name)
        self.save_digests()
        res = StageResult(name, key, status, round(time.perf_counter() - t0, 3), entry, files, outputs)
        self.results[name] = res
        log.info("stage %s: %s (%.1f s, key %s)", name, status, res.seconds, key[:12])
        return res

    def skip(self, name: str, reason: str) -> None:
        """Record that stage ``name`` does not apply to this study."""
        log.info("stage %s skipped: %s", name, reason)
        self.skipped[name] = reason

    def _promote(self, name: str, entry: Path, files: tuple[str, ...], dest: str) -> list[str]:
        """Copy a stage's files into the output folder, each atomically."""
        moved = []
        for rel in files:
            if rel == "run-info.json" and not dest:
                target = self.out_dir / "logs" / f"{name}.run-info.json"
            else:
                target = self.out_dir / dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
            try:
                shutil.copyfile(entry / rel, tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            moved.append(target.relative_to(self.out_dir).as_posix())
        return moved

    def records(self) -> list[dict[str, Any]]:
        """Every stage, in run order: ``name``, ``status`` (ran/cached/skipped), ``key``,
        ``seconds`` (and ``reason`` when skipped)."""
        out = [r.record() for r in self.results.values()]
        out += [{"name": n, "status": "skipped", "key": None, "seconds": 0.0, "reason": why}
                for n, why in self.skipped.items()]
        return out

    def prune(self, keep: int = KEEP_PER_STAGE) -> None:
        """Remove old cache entries: per stage, keep the ones this run used and the most
        recent others, ``keep`` in all; forget the digests of input files that are gone."""
        gone = [p for p in self._disk_memo if not os.path.exists(p)]
        for p in gone:
            del self._disk_memo[p]
        if gone:
            self._disk_memo_changed = True
            self.save_digests()
        for stage_dir in self.cache.iterdir():
            if not stage_dir.is_dir():
                continue
            used = self._used.get(stage_dir.name, set())
            others = sorted((p for p in stage_dir.iterdir() if p.is_dir() and p.name not in used
                             and not p.name.startswith(".tmp-")),
                            key=lambda p: p.stat().st_mtime, reverse=True)
            for old in others[max(0, keep - len(used)):]:
                shutil.rmtree(old, ignore_errors=True)


def _read_manifest(entry: Path) -> dict[str, Any] | None:
    """A complete cache entry's manifest, or ``None``."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    if not all((entry / f).is_file() for f in manifest["files"]):
        return None
    return manifest
