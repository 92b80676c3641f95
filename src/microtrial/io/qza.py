"""QIIME 2 artifacts (``.qza``): read, write, import and export, with safe extraction.

A ``.qza`` is a zip archive whose single top-level folder is named by the artifact's UUID
and holds ``metadata.yaml`` (``uuid``, ``type``, ``format``), ``VERSION`` and ``data/``
(plus ``provenance/`` and, from archive version 5, ``checksums.md5``). The payload in
``data/`` is an ordinary file per semantic type:

=========================  ====================  ==============================
semantic type              data file             directory format
=========================  ====================  ==============================
FeatureTable[Frequency]    feature-table.biom    BIOMV210DirFmt
FeatureData[Sequence]      dna-sequences.fasta   DNASequencesDirectoryFormat
FeatureData[Taxonomy]      taxonomy.tsv          TSVTaxonomyDirectoryFormat
Phylogeny[Rooted]          tree.nwk              NewickDirectoryFormat
=========================  ====================  ==============================

QIIME 2 itself is not a dependency: this module reads and writes the archive layout as the
QIIME 2 documentation describes it ("Anatomy of an Archive" and "Archive Versions",
https://dev.qiime2.org). Written archives use archive version 5 with a minimal
provenance record of an ``import`` action.

Extraction is defensive: every member must lie inside the top folder (no absolute paths,
no ``..``, no symbolic links), the number of members and the total uncompressed size are
capped, and a member whose compression ratio is absurd is refused (zip bombs).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import posixpath
import shutil
import stat
import tempfile
import uuid as _uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import atomic_path

log = logging.getLogger(__name__)

__all__ = [
    "SEMANTIC_TYPES",
    "ArtifactInfo",
    "export_qza",
    "import_file",
    "qza_info",
    "read_qza",
    "write_qza",
]

# semantic type -> (directory format, data file name)
SEMANTIC_TYPES: dict[str, tuple[str, str]] = {
    "FeatureTable[Frequency]": ("BIOMV210DirFmt", "feature-table.biom"),
    "FeatureData[Sequence]": ("DNASequencesDirectoryFormat", "dna-sequences.fasta"),
    "FeatureData[Taxonomy]": ("TSVTaxonomyDirectoryFormat", "taxonomy.tsv"),
    "Phylogeny[Rooted]": ("NewickDirectoryFormat", "tree.nwk"),
}
# Types we can also read (same payload as a supported one).
_READ_ALIASES: dict[str, str] = {"Phylogeny[Unrooted]": "Phylogeny[Rooted]"}

MAX_MEMBERS = 100_000
"""Most members an archive may hold."""
MAX_TOTAL_BYTES = 8 * 1024**3
"""Largest total uncompressed size (8 GiB)."""
MAX_RATIO = 200
"""Largest compression ratio for members above 1 MiB (zip-bomb guard). Real payloads
(BIOM HDF5 is itself compressed; FASTA, taxonomy and Newick text with random-looking ids)
compress well below 20:1; a run of zeros reaches deflate's limit of about 1000:1."""

_FRAMEWORK_VERSION = "2019.10.0"  # a framework release whose archive version is 5


@dataclass(frozen=True)
class ArtifactInfo:
    """What ``metadata.yaml`` and ``VERSION`` say about an artifact."""

    uuid: str
    type: str
    format: str | None
    archive_version: int | None
    framework_version: str | None


# --------------------------------------------------------------------------- safety


def _check_members(path: str | os.PathLike[str], zf: zipfile.ZipFile) -> str:
    """Validate every member; return the single top folder name (the UUID)."""
    infos = zf.infolist()
    if not infos:
        raise InputError(path, "empty archive")
    if len(infos) > MAX_MEMBERS:
        raise InputError(path, f"{len(infos)} members; at most {MAX_MEMBERS} allowed")
    total = 0
    tops: set[str] = set()
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
            raise InputError(path, f"member '{name}' has an absolute path; refusing to extract")
        parts = name.split("/")
        if any(p == ".." for p in parts):
            raise InputError(path, f"member '{name}' points outside the archive folder ('..')")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InputError(path, f"member '{name}' is a symbolic link; refusing to extract")
        if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InputError(path, f"member '{name}' has a suspicious compression ratio")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(path, f"uncompressed size exceeds {MAX_TOTAL_BYTES} bytes")
        tops.add(parts[0])
        if len(parts) == 1 and not info.is_dir():
            raise InputError(path, f"file '{name}' at the archive root; expected a UUID folder")
    if len(tops) != 1:
        raise InputError(path, f"expected one top-level folder, found {len(tops)}")
    top = tops.pop()
    try:
        _uuid.UUID(top)
    except ValueError as exc:
        raise InputError(path, f"top-level folder '{top}' is not a UUID") from exc
    return top


def _open_zip(path: str | os.PathLike[str]) -> zipfile.ZipFile:
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a folder, expected a .qza file")
    try:
        return zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(p, f"not a QIIME 2 artifact (not a zip archive: {exc})") from exc


def _safe_extract(
    path: str | os.PathLike[str], zf: zipfile.ZipFile, top: str, prefix: str, dest: Path
) -> list[Path]:
    """Extract members under ``top/prefix`` into ``dest`` (stripping ``top/prefix``)."""
    dest = dest.resolve()
    written: list[Path] = []
    budget = MAX_TOTAL_BYTES
    root = f"{top}/{prefix}" if prefix else f"{top}/"
    for info in zf.infolist():
        if not info.filename.startswith(root) or info.is_dir():
            continue
        rel = posixpath.normpath(info.filename[len(root):])
        target = (dest / rel).resolve()
        if not target.is_relative_to(dest):
            raise InputError(path, f"member '{info.filename}' escapes the target folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise InputError(path, "archive expands beyond the size limit")
                    out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InputError(path, f"cannot extract '{info.filename}': {exc}") from exc
        written.append(target)
    return written


# --------------------------------------------------------------------------- metadata


def _read_member_text(path: str | os.PathLike[str], zf: zipfile.ZipFile, name: str) -> str:
    try:
        info = zf.getinfo(name)
    except KeyError as exc:
        raise InputError(path, f"not a QIIME 2 artifact: '{name}' is missing") from exc
    if info.file_size > 1024**2:
        raise InputError(path, f"'{name}' is implausibly large")
    try:
        return zf.read(info).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read '{name}': {exc}") from exc


def _info(path: str | os.PathLike[str], zf: zipfile.ZipFile, top: str) -> ArtifactInfo:
    import yaml

    text = _read_member_text(path, zf, f"{top}/metadata.yaml")
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(path, f"metadata.yaml is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or "type" not in meta:
        raise InputError(path, "metadata.yaml has no 'type'")
    if str(meta.get("uuid", "")) != top:
        raise InputError(path, f"metadata.yaml uuid '{meta.get('uuid')}' differs from folder '{top}'")
    archive_version = framework = None
    version_text = _read_member_text(path, zf, f"{top}/VERSION")
    lines = version_text.splitlines()
    if not lines or lines[0].strip() != "QIIME 2":
        raise InputError(path, "VERSION does not start with 'QIIME 2'")
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip() == "archive":
            try:
                archive_version = int(value.strip().split(".")[0])
            except ValueError as exc:
                raise InputError(path, f"VERSION: bad archive version '{value.strip()}'") from exc
        elif key.strip() == "framework":
            framework = value.strip()
    fmt = meta.get("format")
    return ArtifactInfo(top, str(meta["type"]), None if fmt is None else str(fmt),
                        archive_version, framework)


def qza_info(path: str | os.PathLike[str]) -> ArtifactInfo:
    """Read an artifact's UUID, semantic type, format and archive version."""
    with _open_zip(path) as zf:
        top = _check_members(path, zf)
        return _info(path, zf, top)


# --------------------------------------------------------------------------- read


def _payload_reader(semantic_type: str):  # noqa: ANN202
    from microtrial.io._table_formats import read_biom
    from microtrial.io.fasta import read_fasta
    from microtrial.io.newick import read_tree
    from microtrial.io.taxonomy import read_taxonomy

    return {
        "FeatureTable[Frequency]": read_biom,
        "FeatureData[Sequence]": read_fasta,
        "FeatureData[Taxonomy]": read_taxonomy,
        "Phylogeny[Rooted]": read_tree,
    }[semantic_type]


def read_qza(path: str | os.PathLike[str]) -> Any:
    """Read a QIIME 2 artifact's payload.

    Returns
    -------
    FeatureTable, dict, DataFrame or skbio.TreeNode
        ``FeatureTable[Frequency]`` -> :class:`~microtrial.table.FeatureTable`;
        ``FeatureData[Sequence]`` -> ``{id: sequence}``; ``FeatureData[Taxonomy]`` ->
        DataFrame (``Taxon``, ``Confidence``) indexed by feature id;
        ``Phylogeny[Rooted]`` (or ``[Unrooted]``) -> :class:`skbio.TreeNode`.

    Raises
    ------
    InputError
        Not an artifact, an unsupported type, an unsafe member, or a malformed payload
        (the message names the member inside the archive).
    """
    with _open_zip(path) as zf:
        top = _check_members(path, zf)
        info = _info(path, zf, top)
        stype = _READ_ALIASES.get(info.type, info.type)
        if stype not in SEMANTIC_TYPES:
            raise InputError(
                path, f"unsupported artifact type '{info.type}' "
                f"(supported: {', '.join(SEMANTIC_TYPES)})",
            )
        fname = SEMANTIC_TYPES[stype][1]
        member = f"{top}/data/{fname}"
        if member not in zf.namelist():
            raise InputError(path, f"artifact of type {info.type} has no data/{fname}")
        with tempfile.TemporaryDirectory(prefix="microtrial-qza-") as tmp:
            _safe_extract(path, zf, top, "data/", Path(tmp))
            payload = Path(tmp) / fname
            try:
                return _payload_reader(stype)(payload)
            except InputError as exc:
                where = f"{path}!data/{fname}"
                raise InputError(where, exc.message, line=exc.line, field=exc.field) from exc


# --------------------------------------------------------------------------- write


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _provenance(uid: str, semantic_type: str, fmt: str,
                manifest: list[dict[str, str]] | None = None) -> dict[str, bytes]:
    import yaml

    from microtrial import __version__

    now = _dt.datetime.now(_dt.UTC).astimezone()
    action = {
        "execution": {
            "uuid": str(_uuid.uuid4()),
            "runtime": {"start": now.isoformat(), "end": now.isoformat(),
                        "duration": "0 microseconds"},
        },
        # as QIIME 2's own import records it: each imported data file with its md5
        "action": {"type": "import", "format": fmt, "manifest": manifest or []},
        "transformers": {},
        "environment": {
            "framework": {"version": _FRAMEWORK_VERSION, "website": "https://qiime2.org"},
            "plugins": {"microtrial": {"version": __version__}},
        },
    }
    meta = yaml.safe_dump({"uuid": uid, "type": semantic_type, "format": fmt}, sort_keys=False)
    return {
        "provenance/metadata.yaml": meta.encode(),
        "provenance/VERSION": _version_text().encode(),
        "provenance/citations.bib": b"",
        "provenance/action/action.yaml": yaml.safe_dump(action, sort_keys=False).encode(),
    }


def _version_text() -> str:
    return f"QIIME 2\narchive: 5\nframework: {_FRAMEWORK_VERSION}\n"


def _write_payload(obj: Any, semantic_type: str, dest: Path) -> None:
    from microtrial.table import FeatureTable

    if semantic_type == "FeatureTable[Frequency]":
        from microtrial.io._table_formats import write_biom

        if not isinstance(obj, FeatureTable):
            raise TypeError("FeatureTable[Frequency] needs a FeatureTable")
        write_biom(obj, dest)
    elif semantic_type == "FeatureData[Sequence]":
        from microtrial.io.fasta import write_fasta

        if not isinstance(obj, Mapping):
            raise TypeError("FeatureData[Sequence] needs a {id: sequence} mapping")
        write_fasta(obj, dest)
    elif semantic_type == "FeatureData[Taxonomy]":
        from microtrial.io.taxonomy import write_taxonomy

        if isinstance(obj, pd.Series):
            obj = obj.rename("Taxon").to_frame()
        elif isinstance(obj, Mapping):
            obj = pd.DataFrame({"Taxon": pd.Series(dict(obj), dtype=object)})
        if not isinstance(obj, pd.DataFrame) or "Taxon" not in obj.columns:
            raise TypeError("FeatureData[Taxonomy] needs a DataFrame with a 'Taxon' column")
        write_taxonomy(obj, dest)
    else:
        from microtrial.io.newick import write_tree

        if not hasattr(obj, "write") or not hasattr(obj, "tips"):
            raise TypeError("Phylogeny[Rooted] needs an skbio.TreeNode")
        write_tree(obj, dest)


def _check_type(semantic_type: str) -> tuple[str, str]:
    if semantic_type not in SEMANTIC_TYPES:
        raise OptionError(
            "qza.type", f"unsupported semantic type '{semantic_type}' "
            f"(choose from: {', '.join(SEMANTIC_TYPES)})",
        )
    return SEMANTIC_TYPES[semantic_type]


def write_qza(obj: Any, path: str | os.PathLike[str], *, semantic_type: str) -> str:
    """Write ``obj`` as a QIIME 2 artifact of ``semantic_type`` (atomically).

    Parameters
    ----------
    obj : FeatureTable, dict, DataFrame or skbio.TreeNode
        The payload, matching ``semantic_type`` as in :func:`read_qza`.
    path : path-like
        Output ``.qza``.
    semantic_type : str
        One of :data:`SEMANTIC_TYPES`.

    Returns
    -------
    str
        The new artifact's UUID.
    """
    fmt, fname = _check_type(semantic_type)
    with tempfile.TemporaryDirectory(prefix="microtrial-qza-") as tmp:
        payload = Path(tmp) / fname
        _write_payload(obj, semantic_type, payload)
        return _pack(payload.read_bytes(), fname, semantic_type, fmt, path)


def _pack(data: bytes, fname: str, semantic_type: str, fmt: str,
          path: str | os.PathLike[str]) -> str:
    import yaml

    uid = str(_uuid.uuid4())
    files: dict[str, bytes] = {
        "VERSION": _version_text().encode(),
        "metadata.yaml": yaml.safe_dump(
            {"uuid": uid, "type": semantic_type, "format": fmt}, sort_keys=False
        ).encode(),
        f"data/{fname}": data,
        **_provenance(uid, semantic_type, fmt, [{"name": fname, "md5sum": _md5(data)}]),
    }
    checksums = "".join(f"{_md5(b)}  {n}\n" for n, b in sorted(files.items()))
    files["checksums.md5"] = checksums.encode()
    with atomic_path(path) as tmp_path, zipfile.ZipFile(
        tmp_path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
    ) as zf:
        for name, content in files.items():
            zf.writestr(f"{uid}/{name}", content)
    return uid


# --------------------------------------------------------------------------- import / export


def import_file(
    source: str | os.PathLike[str], path: str | os.PathLike[str], *, semantic_type: str
) -> str:
    """Wrap a plain file (BIOM/TSV table, FASTA, taxonomy TSV, Newick) into a ``.qza``.

    The file is parsed and validated first, so a malformed input never becomes an
    artifact. A feature table given as TSV is converted to BIOM 2.1. Returns the UUID.
    """
    _check_type(semantic_type)
    src = Path(source)
    if not src.exists():
        raise InputError(src, "no such file")
    if semantic_type == "FeatureTable[Frequency]":
        from microtrial.io._table_formats import read_plain_table

        obj: Any = read_plain_table(src)
    elif semantic_type == "FeatureData[Taxonomy]":
        from microtrial.io.taxonomy import read_taxonomy

        obj = read_taxonomy(src)
        if len(obj) == 0:  # QIIME 2's TSVTaxonomyFormat refuses a file without records
            raise InputError(src, "no taxonomy records, only a header and/or blank lines")
    else:
        obj = _payload_reader(semantic_type)(src)
    return write_qza(obj, path, semantic_type=semantic_type)


def export_qza(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Extract an artifact's ``data/`` folder into ``out_dir`` (like ``qiime tools export``).

    Extraction goes to a temporary folder beside ``out_dir`` first; each file is then moved
    into place, so no half-written file is left behind. Returns the written paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _open_zip(path) as zf:
        top = _check_members(path, zf)
        _info(path, zf, top)
        staging = Path(tempfile.mkdtemp(prefix=".qza-export-", dir=out))
        try:
            files = _safe_extract(path, zf, top, "data/", staging)
            if not files:
                raise InputError(path, "artifact has no data/ files")
            written = []
            for f in files:
                dest = out / f.relative_to(staging.resolve())
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(f, dest)
                written.append(dest)
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)
