"""Find paired FASTQ files by Illumina names, for checking a study's reads folder.

Names recognised (``.fastq``/``.fq``, optionally ``.gz``), sample id = the part before
the suffix:

- ``<sample>_S<n>_L<lane>_R1_001.fastq.gz`` (Illumina/CASAVA 1.8, what MiSeq writes;
  the sample id drops ``_S<n>_L<lane>`` as QIIME 2's Casava import does),
- ``<sample>_R1_001.fastq.gz``, ``<sample>_R1.fastq.gz``,
- ``<sample>_1.fastq.gz`` (SRA/ENA style), with ``R2``/``2`` for the reverse reads,
- ``<sample>_forward.fastq.gz`` / ``<sample>_reverse.fastq.gz``.

The same names as the denoise stage's :func:`microtrial.reads._fastq.find_samples`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_PATTERNS = (
    re.compile(r"^(?P<sample>.+?)_S\d+_L\d{3}_R(?P<read>[12])_\d{3}\.f(?:ast)?q(?:\.gz)?$"),
    re.compile(r"^(?P<sample>.+?)_R(?P<read>[12])(?:_\d{3})?\.f(?:ast)?q(?:\.gz)?$"),
    re.compile(r"^(?P<sample>.+?)_(?P<read>[12])\.f(?:ast)?q(?:\.gz)?$"),
    re.compile(r"^(?P<sample>.+?)_(?P<read>forward|reverse)\.f(?:ast)?q(?:\.gz)?$", re.IGNORECASE),
)
_READ = {"1": 1, "2": 2, "forward": 1, "reverse": 2}
_FASTQ = re.compile(r"\.f(?:ast)?q(?:\.gz)?$")


@dataclass(frozen=True)
class ReadPairs:
    """Paired FASTQ files in a folder, by sample id, and what could not be paired."""

    pairs: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    unpaired: tuple[Path, ...] = ()
    unrecognised: tuple[Path, ...] = ()
    duplicates: tuple[str, ...] = ()
    broken_links: tuple[Path, ...] = ()


def parse_fastq_name(name: str) -> tuple[str, int] | None:
    """``(sample id, read 1 or 2)`` from an Illumina-style FASTQ file name, else None."""
    for pattern in _PATTERNS:
        m = pattern.match(name)
        if m is not None:
            return m.group("sample"), _READ[m.group("read").lower()]
    return None


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
