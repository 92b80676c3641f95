"""Find paired FASTQ files for checking a study's reads folder (or its QIIME 2 manifest).

The names are the denoise stage's (:func:`microtrial.reads._fastq.find_samples`, which
documents them; the parsing is its :func:`~microtrial.reads._fastq.parse_pair_name`):
Illumina/CASAVA ``<sample>_S<n>_L<lane>_R1_001.fastq.gz``, ``<sample>_R1[_001]``,
``<sample>_1``, ``<sample>_forward`` and DADA2's ``<sample>F``, with the matching reverse
names. A study's reads must be paired. A QIIME 2 manifest (``reads.dir`` naming a
``.tsv``/``.txt`` file, or a folder holding ``manifest.tsv``) is read by the denoise stage's
own parser (:func:`microtrial.reads.find_samples`), so validate and denoise agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from microtrial.reads._fastq import MANIFEST, parse_pair_name

_FASTQ = re.compile(r"\.f(?:ast)?q(?:\.gz)?$")


@dataclass(frozen=True)
class ReadPairs:
    """Paired FASTQ files in a folder, by sample id, and what could not be paired."""

    pairs: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    unpaired: tuple[Path, ...] = ()
    unrecognised: tuple[Path, ...] = ()
    duplicates: tuple[str, ...] = ()
    broken_links: tuple[Path, ...] = ()


def manifest_path(reads: Path) -> Path | None:
    """The QIIME 2 manifest the denoise stage reads for ``reads`` (a ``.tsv``/``.txt``
    file itself, or ``manifest.tsv`` in the folder), else None (FASTQ names are used)."""
    if reads.is_file() and reads.name.endswith((".tsv", ".txt")):
        return reads
    if reads.is_dir() and (reads / MANIFEST).is_file():
        return reads / MANIFEST
    return None


def parse_fastq_name(name: str) -> tuple[str, int] | None:
    """``(sample id, read 1 or 2)`` from a paired FASTQ file name, else None."""
    parsed = parse_pair_name(name)
    return None if parsed is None else (parsed[0], int(parsed[1]))


def find_read_pairs(folder: Path) -> ReadPairs:
    """Pair the FASTQ files in ``folder`` (not recursive) by sample id."""
    found: dict[str, dict[int, list[Path]]] = {}
    unrecognised: list[Path] = []
    broken: list[Path] = []
    for p in sorted(folder.iterdir()):
        if not _FASTQ.search(p.name):
            continue
        if p.is_symlink() and not p.exists():
            broken.append(p)
            continue
        if not p.is_file():
            continue
        parsed = parse_fastq_name(p.name)
        if parsed is None:
            unrecognised.append(p)
            continue
        sample, read = parsed
        found.setdefault(sample, {}).setdefault(read, []).append(p)
    pairs: dict[str, tuple[Path, Path]] = {}
    unpaired: list[Path] = []
    duplicates: list[str] = []
    for sample, reads in found.items():
        if any(len(v) > 1 for v in reads.values()):
            duplicates.append(sample)
            continue
        if 1 in reads and 2 in reads:
            pairs[sample] = (reads[1][0], reads[2][0])
        else:
            unpaired.extend(v[0] for v in reads.values())
    return ReadPairs(pairs, tuple(unpaired), tuple(unrecognised), tuple(duplicates), tuple(broken))
