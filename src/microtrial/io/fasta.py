"""FASTA: ``>ID`` then the sequence (any line width on input, one line on output).

Reading validates as it goes: every sequence line may hold only IUPAC nucleotide codes
(upper or lower case; ``U`` allowed) and the alignment gaps ``-`` and ``.``; ids are the
header up to the first white space and must be unique and non-empty. Errors name the
file and the 1-based line.

Sequences are returned as written (upper-cased), so aligned references keep their gaps.
ASV query sequences are read with ``as_dna=True``: gaps removed and ``U`` written as ``T``,
so a gapped or RNA copy of a FASTA file gives the same results as the plain DNA one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text

_BAD_CHAR = re.compile(r"[^ACGTURYSWKMBDHVNacgturyswkmbdhvn.\-]")
_NOT_DNA = re.compile(r"[-.U]")

log = logging.getLogger(__name__)


def sequence_id(seq: str) -> str:
    """The feature id of a sequence: md5 hex digest of the upper-case sequence (QIIME 2)."""
    return hashlib.md5(seq.upper().encode("ascii")).hexdigest()


def read_fasta(path: str | os.PathLike[str], *, as_dna: bool = False) -> dict[str, str]:
    """Read FASTA (optionally .gz) into an ordered ``{id: sequence}``.

    The id is the header up to the first white space; the rest of the header is dropped
    (use :func:`read_fasta_headers` to keep it).

    Parameters
    ----------
    path : path-like
    as_dna : bool
        Remove the alignment gaps ``-`` and ``.`` and write ``U`` as ``T`` (for ASV query
        sequences, never for alignments); one warning says how many sequences changed.
    """
    return {h.split(None, 1)[0] if h.strip() else h: s
            for h, s in read_fasta_headers(path, as_dna=as_dna)}


def read_fasta_headers(
    path: str | os.PathLike[str], *, as_dna: bool = False
) -> list[tuple[str, str]]:
    """Read FASTA into ``[(full header, sequence)]``, validating as it goes (``as_dna``: as
    in :func:`read_fasta`; a record of gaps only is then an error)."""
    records: list[tuple[str, str]] = []
    n_changed = 0
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    seen: set[str] = set()

    def flush() -> None:
        nonlocal n_changed
        if header is None:
            return
        seq = "".join(chunks).upper()
        if not seq:
            raise InputError(path, f"record '{header}' has an empty sequence", line=header_line)
        if as_dna and _NOT_DNA.search(seq):
            n_changed += 1
            seq = seq.replace("-", "").replace(".", "").replace("U", "T")
            if not seq:
                raise InputError(path, f"record '{header}' holds only alignment gaps",
                                 line=header_line)
        rid = header.split(None, 1)[0] if header.strip() else ""
        if not rid:
            raise InputError(path, "empty FASTA header", line=header_line)
        if rid in seen:
            raise InputError(path, f"duplicate id '{rid}'", line=header_line)
        seen.add(rid)
        records.append((header, seq))

    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.strip()
                if lineno == 1:
                    line = line.lstrip("\ufeff").strip()  # a byte-order mark (QIIME 2 accepts it)
                if not line:
                    continue
                if line.startswith(">"):
                    flush()
                    header, header_line, chunks = line[1:].strip(), lineno, []
                elif header is None:
                    raise InputError(path, "not FASTA: expected a '>' header", line=lineno)
                else:
                    bad = _BAD_CHAR.search(line)
                    if bad is not None:
                        raise InputError(
                            path,
                            f"character '{bad.group()}' in record '{header.split(None, 1)[0] if header.strip() else header}' "
                            "is not a nucleotide code",
                            line=lineno,
                        )
                    chunks.append(line)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        if isinstance(exc, IsADirectoryError):
            raise InputError(path, "is a folder, expected a FASTA file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    flush()
    if not records:
        raise InputError(path, "no FASTA records")
    if n_changed:
        log.warning("%s: %d of %d sequences had alignment gaps ('-', '.') or U: read with the "
                    "gaps removed and U as T", path, n_changed, len(records))
    return records


def write_fasta(records: Mapping[str, str], path: str | os.PathLike[str]) -> None:
    """Write ``{id: sequence}`` as FASTA, one sequence line per record (atomic).

    Raises ``ValueError`` for an empty id, an id with white space, or an empty sequence
    (any of which would not read back as written).
    """
    for rid, seq in records.items():
        if not rid or any(ch.isspace() for ch in rid):
            raise ValueError(f"FASTA id {rid!r} is empty or contains white space")
        if not seq or any(ch in seq for ch in "\n\r>"):
            raise ValueError(f"sequence of {rid!r} is empty or contains a line break")
    with atomic_open(path) as fh:
        for rid, seq in records.items():
            fh.write(f">{rid}\n{seq}\n")
