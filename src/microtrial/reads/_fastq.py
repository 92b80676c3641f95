"""FASTQ input: finding samples by Illumina file names, and parsing reads into numpy arrays.

Parsing is done by ``dnaio`` (C); the sequences and quality strings of a whole file are
then joined and converted to padded ``uint8`` matrices in one numpy pass, so no per-base
Python runs.  Qualities must be Phred+33 (Sanger / Illumina 1.8+); Phred+64 files are
recognised and refused with a clear message.

Every problem a user can cause raises :class:`~microtrial.errors.InputError` naming the
file (and the 1-based line, where known).
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microtrial.errors import InputError
from microtrial.reads._kernels import check_reads, fill_rows, phred_in_place, take_rows

__all__ = ["MANIFEST", "Reads", "SampleFiles", "find_samples", "read_fastq", "read_manifest",
           "read_pair"]

MANIFEST = "manifest.tsv"

log = logging.getLogger(__name__)

_FASTQ_EXT = r"\.(?:fastq|fq)(?:\.gz)?"
# <sample>_<anything>_L001_R1_001.fastq.gz  (Illumina/Casava 1.8 naming, e.g. _S1_L001 or a
# barcode _36_L001): the sample id is the part before the first underscore, QIIME 2's rule
_ILLUMINA = re.compile(rf"^(?P<sample>[^_]+)_.+_L\d{{3}}_R(?P<dir>[12])_001{_FASTQ_EXT}\Z",
                       re.DOTALL)
# <sample>_R1.fastq.gz, <sample>_R1_001.fastq.gz, <sample>_1.fastq.gz  (SRA and common short forms)
_SHORT = re.compile(rf"^(?P<sample>.+?)_(?:R(?P<dir>[12])(?:_\d{{3}})?|(?P<num>[12])){_FASTQ_EXT}\Z",
                    re.DOTALL)
# <sample>_forward.fastq.gz / <sample>_reverse.fastq.gz
_WORDS = re.compile(rf"^(?P<sample>.+?)_(?P<word>forward|reverse){_FASTQ_EXT}\Z",
                    re.IGNORECASE | re.DOTALL)
# DADA2's example data and tutorial: sam1F.fastq.gz / sam1R.fastq.gz (also sam1_F / sam1_R)
_LETTERS = re.compile(rf"^(?P<sample>.+?)_?(?P<letter>[FR]){_FASTQ_EXT}\Z", re.DOTALL)
# a direction-like tag anywhere in a name that none of the patterns above recognised
# (bare 1/2 or F/R after '-' or '.' are left out: 'mouse-1', 'mouse-2' are two samples)
_DIR_LIKE = re.compile(r"^(?P<pre>.*)(?P<sep>[._-])(?P<tag>R[12]|fwd|rev|forward|reverse)"
                       r"(?P<post>(?:[._-].*)?)$", re.IGNORECASE)
_TAG_DIR = {"r1": "1", "fwd": "1", "forward": "1", "r2": "2", "rev": "2", "reverse": "2"}
# (DOTALL and \Z: a name with a line break is still found, and refused, not skipped)
_ANY_FASTQ = re.compile(rf"^(?P<sample>.+?){_FASTQ_EXT}\Z", re.DOTALL)
# characters a sample id may not hold: the tables it goes into are tab- and line-separated
_ID_BREAKS = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}

# ASCII -> True for the accepted bases
_VALID = np.zeros(256, dtype=bool)
_VALID[np.frombuffer(b"ACGTN", dtype=np.uint8)] = True


@dataclass(frozen=True)
class SampleFiles:
    """The FASTQ file(s) of one sample: ``r2`` is None for single-end reads."""

    sample_id: str
    r1: Path
    r2: Path | None = None


@dataclass(frozen=True, eq=False)
class Reads:
    """The reads of one FASTQ file as padded matrices.

    Attributes
    ----------
    seq : numpy.ndarray of uint8, shape (n_reads, max_len)
        ASCII bases (``A C G T N``), padded with 0 after each read's end.
    qual : numpy.ndarray of uint8, shape (n_reads, max_len)
        Phred scores (ASCII - 33), padded with 0.
    lengths : numpy.ndarray of int64, shape (n_reads,)
        Read lengths.
    path : Path or None
        The file the reads came from (for messages).
    """

    seq: np.ndarray
    qual: np.ndarray
    lengths: np.ndarray
    path: Path | None = None

    @property
    def n_reads(self) -> int:
        return int(self.lengths.shape[0])

    def subset(self, keep: np.ndarray, lengths: np.ndarray | None = None) -> Reads:
        """The reads where ``keep`` is true, optionally cut to new ``lengths`` (<= old)."""
        new_len = (self.lengths[keep] if lengths is None else np.asarray(lengths)[keep]).astype(np.int64)
        width = int(new_len.max()) if new_len.size else 0
        if width > self.seq.shape[1]:
            raise ValueError("subset: new lengths longer than the reads")
        rows = np.arange(self.n_reads)[keep]
        seq = np.empty((rows.size, width), dtype=self.seq.dtype)
        qual = np.empty((rows.size, width), dtype=self.qual.dtype)
        take_rows(self.seq, rows, new_len, width, seq)
        take_rows(self.qual, rows, new_len, width, qual)
        return Reads(seq, qual, new_len, self.path)

    def sequences(self) -> list[str]:
        """The reads as Python strings (slow path, for small inputs and tests)."""
        return [self.seq[i, : self.lengths[i]].tobytes().decode() for i in range(self.n_reads)]


def find_samples(reads_dir: str | Path) -> list[SampleFiles]:
    """Find the samples in a folder of demultiplexed FASTQ(.gz) files.

    A ``manifest.tsv`` in the folder (QIIME 2's paired-end manifest: columns ``sample-id``,
    ``forward-absolute-filepath``, ``reverse-absolute-filepath``, see :func:`read_manifest`)
    names the samples and their files instead of the rules below.

    Pairs are recognised by Illumina/Casava names: ``<sample>_<anything>_L<nnn>_R1_001.fastq.gz``
    with ``..._R2_001.fastq.gz`` (the sample id is the part before the first underscore, as
    QIIME 2 reads Casava names: ``BAQ2420.2_36_L001_R1_001`` is ``BAQ2420.2``), or the short forms ``<sample>_1.fastq.gz`` / ``_2``,
    ``<sample>_R1.fastq.gz`` / ``_R2`` (also ``_R1_001``), and
    ``<sample>_forward.fastq.gz`` / ``_reverse`` and DADA2's ``<sample>F.fastq.gz`` /
    ``<sample>R.fastq.gz`` (these two only when both files are there).  For the short forms
    the sample id is the part of the name before ``_1`` / ``_R1`` / ``_forward`` / ``F``.  A folder without any R2 file is read as single-end (every FASTQ file
    one sample; the id is the name without the direction tag); two of its files whose
    names differ only by a direction-like tag (``x.R1.fq`` / ``x.R2.fq``, ``x-fwd.fq`` /
    ``x-rev.fq``) are logged as a warning: they look like a pair that was not recognised.

    Raises
    ------
    InputError
        The folder is missing or holds no FASTQ file; a FASTQ name is a broken symbolic
        link; a sample has only R1 or only R2 while other samples are paired; two files
        give the same sample id and direction; a sample id (taken from the file name) holds
        a tab or line break, which no feature table or metadata file can hold.
    """
    folder = Path(reads_dir)
    if folder.is_file() and folder.name.endswith((".tsv", ".txt")):
        return read_manifest(folder)
    if not folder.is_dir():
        raise InputError(folder, "no such folder (expected a folder of FASTQ files)")
    if (folder / MANIFEST).is_file():
        return read_manifest(folder / MANIFEST)
    files = []
    for p in sorted(folder.iterdir()):
        if not _ANY_FASTQ.match(p.name):
            continue
        if p.is_symlink() and not p.exists():
            raise InputError(p, f"broken symbolic link: its target {os.readlink(p)} does not exist")
        if p.is_dir():
            raise InputError(p, "is a folder named like a FASTQ file, not a FASTQ file "
                                "(rename or move it out of the reads folder)")
        if p.is_file():
            files.append(p)
    if not files:
        raise InputError(folder, "no FASTQ files (*.fastq, *.fastq.gz, *.fq, *.fq.gz) found")
    tagged: dict[str, dict[str, Path]] = {}
    untagged: dict[str, Path] = {}
    named = {p: parse_pair_name(p.name) for p in files}
    words = {d for p, d in named.items() if d is not None and _needs_partner(p.name)}
    for p in files:
        parsed = named[p]
        if parsed is not None and _needs_partner(p.name) \
                and (parsed[0], "2" if parsed[1] == "1" else "1") not in words:
            parsed = None  # a lone <x>_forward or <x>F file: a sample name, not half a pair
        if parsed is None:
            sid = _ANY_FASTQ.match(p.name).group("sample")  # type: ignore[union-attr]
            if sid in untagged:
                raise InputError(p, f"sample id '{sid}' is also given by {untagged[sid].name}")
            untagged[sid] = p
            continue
        sid, d = parsed
        slot = tagged.setdefault(sid, {})
        if d in slot:
            raise InputError(p, f"sample '{sid}' R{d} is also given by {slot[d].name}")
        slot[d] = p
    paired = any("2" in v for v in tagged.values())
    samples: list[SampleFiles] = []
    if paired:
        for sid, slot in tagged.items():
            if "2" not in slot:
                raise InputError(slot["1"], f"sample '{sid}' has R1 but no R2 file in a paired-end folder")
            if "1" not in slot:
                raise InputError(slot["2"], f"sample '{sid}' has R2 but no R1 file")
            samples.append(SampleFiles(sid, slot["1"], slot["2"]))
        if untagged:
            p = next(iter(untagged.values()))
            raise InputError(p, "not named as R1 or R2 of a pair in a paired-end folder")
    else:
        for sid, slot in tagged.items():
            samples.append(SampleFiles(sid, slot["1"]))
        for sid, p in untagged.items():
            if any(s.sample_id == sid for s in samples):
                raise InputError(p, f"sample id '{sid}' is given by two files")
            samples.append(SampleFiles(sid, p))
        _warn_unrecognised_pairs([s.r1 for s in samples])
    for s in samples:
        bad = next((ch for ch in s.sample_id if ch in _ID_BREAKS), None)
        if bad is not None:
            raise InputError(s.r1, f"sample id {s.sample_id!r} taken from this file name contains "
                             f"{_ID_BREAKS[bad]}: rename the file (tables are tab-separated, one "
                             "line per record)")
    return sorted(samples, key=lambda s: s.sample_id)


_MANIFEST_COLUMNS = {
    # QIIME 2's PairedEndFastqManifestPhred33V2 (tab-separated)
    "v2": ("sample-id", "forward-absolute-filepath", "reverse-absolute-filepath"),
    # single-end V2
    "v2se": ("sample-id", "absolute-filepath"),
}


def read_manifest(path: str | Path) -> list[SampleFiles]:
    """Samples and their FASTQ files from a QIIME 2 manifest.

    Accepted forms: the tab-separated V2 manifest (``PairedEndFastqManifestPhred33V2``:
    header ``sample-id``, ``forward-absolute-filepath``, ``reverse-absolute-filepath``, or
    ``sample-id``, ``absolute-filepath`` for single-end reads), and the older comma-separated
    manifest (header ``sample-id,absolute-filepath,direction``, one line per file,
    direction ``forward`` or ``reverse``).  Lines starting with ``#`` are comments.  Paths
    may be relative to the manifest's folder; ``$HOME``-style variables are expanded (as
    QIIME 2 does).

    Raises
    ------
    InputError
        Unreadable file, unknown header, a line with the wrong number of fields, an empty or
        repeated sample id (or direction), a sample with only one direction in a paired
        manifest, a missing FASTQ file (with the manifest line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read: {exc}") from exc
    rows = [(i + 1, line.rstrip("\r\n")) for i, line in enumerate(text.splitlines())]
    rows = [(n, line) for n, line in rows if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise InputError(path, "empty manifest (expected a header line and one line per sample)")
    head_line, header = rows[0]
    sep = "\t" if "\t" in header else ","
    cols = tuple(c.strip().lower() for c in header.split(sep))
    base = path.parent

    def resolve(p: str, line: int) -> Path:
        f = Path(os.path.expandvars(p.strip()))
        if not f.is_absolute():
            f = base / f
        if not f.is_file():
            raise InputError(path, f"FASTQ file {f} does not exist", line=line)
        return f

    samples: dict[str, dict[str, Path]] = {}
    order: list[str] = []
    if cols in (_MANIFEST_COLUMNS["v2"], _MANIFEST_COLUMNS["v2se"]):
        for line, text_line in rows[1:]:
            fields = text_line.split(sep)
            if len(fields) != len(cols):
                raise InputError(path, f"{len(fields)} fields, expected {len(cols)} "
                                 f"({', '.join(cols)})", line=line)
            sid = fields[0].strip()
            if not sid:
                raise InputError(path, "empty sample-id", line=line)
            if sid in samples:
                raise InputError(path, f"sample-id '{sid}' is listed twice", line=line)
            samples[sid] = {"1": resolve(fields[1], line)}
            if len(cols) == 3:
                samples[sid]["2"] = resolve(fields[2], line)
            order.append(sid)
    elif cols == ("sample-id", "absolute-filepath", "direction"):
        for line, text_line in rows[1:]:
            fields = text_line.split(sep)
            if len(fields) != 3:
                raise InputError(path, f"{len(fields)} fields, expected 3 "
                                 "(sample-id, absolute-filepath, direction)", line=line)
            sid, f, direction = (x.strip() for x in fields)
            d = {"forward": "1", "reverse": "2"}.get(direction.lower())
            if not sid or d is None:
                raise InputError(path, "needs a sample-id and a direction 'forward' or 'reverse'",
                                 line=line)
            slot = samples.setdefault(sid, {})
            if sid not in order:
                order.append(sid)
            if d in slot:
                raise InputError(path, f"sample-id '{sid}' has two {direction} files", line=line)
            slot[d] = resolve(f, line)
    else:
        raise InputError(path, "not a QIIME 2 manifest: the header must be 'sample-id<TAB>"
                         "forward-absolute-filepath<TAB>reverse-absolute-filepath' (or "
                         "'sample-id<TAB>absolute-filepath', or 'sample-id,absolute-filepath,"
                         "direction')", line=head_line)
    if not samples:
        raise InputError(path, "the manifest lists no samples")
    paired = any("2" in v for v in samples.values())
    out = []
    for sid in order:
        slot = samples[sid]
        if "1" not in slot:
            raise InputError(path, f"sample-id '{sid}' has a reverse file but no forward file")
        if paired and "2" not in slot:
            raise InputError(path, f"sample-id '{sid}' has no reverse file while other samples do")
        bad = next((ch for ch in sid if ch in _ID_BREAKS), None)
        if bad is not None:
            raise InputError(path, f"sample-id {sid!r} contains {_ID_BREAKS[bad]}")
        out.append(SampleFiles(sid, slot["1"], slot.get("2")))
    return sorted(out, key=lambda s: s.sample_id)


def parse_pair_name(name: str) -> tuple[str, str] | None:
    """``(sample id, "1" or "2")`` from a recognised paired FASTQ name, else None (the
    names :func:`find_samples` documents; ``_forward``/``F`` names pair only when the
    other half is there, which this single-name check cannot see)."""
    m = _ILLUMINA.match(name)
    if m is not None:
        return m.group("sample"), m.group("dir")
    m = _SHORT.match(name)
    if m is not None:
        return m.group("sample"), m.group("dir") or m.group("num")
    m = _WORDS.match(name)
    if m is not None:
        return m.group("sample"), "1" if m.group("word").lower() == "forward" else "2"
    m = _LETTERS.match(name)
    if m is not None:
        return m.group("sample"), "1" if m.group("letter") == "F" else "2"
    return None


def _needs_partner(name: str) -> bool:
    """Named ``<x>_forward``/``_reverse`` or ``<x>F``/``<x>R``: half of a pair only when the
    other half is there (otherwise the whole name is a sample id)."""
    if _ILLUMINA.match(name) or _SHORT.match(name):
        return False
    return bool(_WORDS.match(name) or _LETTERS.match(name))


def _warn_unrecognised_pairs(files: list[Path]) -> None:
    """Warn about single-end files whose names differ only by a direction-like tag."""
    by_rest: dict[tuple[str, str, str], dict[str, Path]] = {}
    for p in files:
        m = _DIR_LIKE.match(p.name)
        if m is None:
            continue
        key = (m.group("pre"), m.group("sep"), m.group("post"))
        by_rest.setdefault(key, {}).setdefault(_TAG_DIR[m.group("tag").lower()], p)
    for slot in by_rest.values():
        if "1" in slot and "2" in slot:
            log.warning(
                "%s and %s look like the two reads of one pair but were read as two single-end "
                "samples: name them <sample>_R1.fastq.gz / <sample>_R2.fastq.gz (or Illumina's "
                "<sample>_S1_L001_R1_001.fastq.gz) to pair them", slot["1"].name, slot["2"].name)


def _strip_name(name: str) -> str:
    """Read id for pairing: up to the first space, without a trailing ``/1`` or ``/2``."""
    rid = name.split(None, 1)[0] if name else name
    if rid.endswith(("/1", "/2")):
        rid = rid[:-2]
    return rid


def _parse(path: Path) -> tuple[list[str], list[str], list[str]]:
    import dnaio

    names: list[str] = []
    seqs: list[str] = []
    quals: list[str] = []
    try:
        with dnaio.open(path, fileformat="fastq") as reader:
            for rec in reader:
                names.append(rec.name)
                seqs.append(rec.sequence)
                quals.append(rec.qualities)
    except dnaio.exceptions.FileFormatError as exc:
        line = getattr(exc, "line", None)
        msg = str(exc)
        msg = re.sub(r"^Error in FASTQ file at line \d+: ", "", msg)
        raise InputError(path, f"not valid FASTQ: {msg}", line=None if line is None else line + 1) from exc
    except (EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise InputError(path, exc.strerror or str(exc)) from exc
        raise InputError(path, f"cannot be read (truncated or corrupt gzip?): {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, "not a text FASTQ file (non-ASCII bytes)") from exc
    return names, seqs, quals


def _to_matrix(strings: list[str], lengths: np.ndarray, width: int) -> np.ndarray:
    flat = np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8)
    if flat.size == len(strings) * width:  # all reads full length: a plain reshape
        return flat.reshape(len(strings), width).copy()
    if flat.size != int(lengths.sum()):
        raise ValueError("string lengths differ from the read lengths")
    mat = np.empty((len(strings), width), dtype=np.uint8)
    fill_rows(flat, lengths, mat)
    return mat


def read_fastq(path: str | Path, *, names: bool = False) -> Reads | tuple[Reads, list[str]]:
    """Read one FASTQ(.gz) file into a :class:`Reads` (and the read names with ``names``).

    Bases are upper-cased; anything but ``ACGTN`` is refused.  Qualities are Phred+33;
    a file whose quality characters are all >= ``@`` (64) and reach beyond ``K`` (Q42 in
    Phred+33, unused by Illumina 1.8+) is taken as Phred+64 and refused.

    Raises
    ------
    InputError
        Unreadable, truncated or malformed file (with the line when known), an empty file,
        an invalid base (with its line), Phred+64 qualities.
    """
    path = Path(path)
    rnames, seqs, quals = _parse(path)
    if not seqs:
        raise InputError(path, "contains no reads (empty file)")
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    width = int(lengths.max())
    try:
        seq = _to_matrix(seqs, lengths, width)
        qraw = _to_matrix(quals, lengths, width)
    except UnicodeEncodeError as exc:
        raise InputError(path, "non-ASCII characters in sequences or qualities") from exc
    # upper-case in place (a-z -> A-Z); the first invalid base and the quality range, in one
    # compiled pass
    first_bad, qmin, qmax = check_reads(seq, qraw, lengths, _VALID)
    if first_bad >= 0:
        i, j = divmod(first_bad, width)
        ch = chr(seq[i, j])
        raise InputError(path, f"read {i + 1}: invalid base '{ch}' (only A, C, G, T, N allowed)", line=4 * i + 2)
    if qmin < 33:
        raise InputError(path, "quality characters below '!' (not Phred+33)")
    if qmin >= 64 and qmax > ord("K"):
        raise InputError(
            path,
            "qualities look like Phred+64 (old Illumina 1.3-1.7 encoding); convert to "
            "Phred+33 first (e.g. seqtk seq -Q64 -V)",
        )
    qual = qraw
    phred_in_place(qual, lengths)  # Phred+33 -> scores, 0 beyond each read
    reads = Reads(seq, qual, lengths, path)
    if names:
        return reads, rnames
    return reads


def read_pair(files: SampleFiles) -> tuple[Reads, Reads | None]:
    """Read a sample's R1 (and R2), checking that the two files hold the same reads in order.

    Raises
    ------
    InputError
        As :func:`read_fastq`; R1 and R2 with different read counts, or a read id in R2
        that differs from the R1 read at the same position (naming the R2 file and line).
    """
    fwd, fnames = read_fastq(files.r1, names=True)  # type: ignore[misc]
    if files.r2 is None:
        return fwd, None
    rev, rnames = read_fastq(files.r2, names=True)  # type: ignore[misc]
    if rev.n_reads != fwd.n_reads:
        raise InputError(
            files.r2,
            f"{rev.n_reads} reads but its R1 file {files.r1.name} has {fwd.n_reads} "
            "(R1 and R2 must hold the same reads in the same order)",
        )
    ids_f = [n.partition(" ")[0] for n in fnames]
    ids_r = [n.partition(" ")[0] for n in rnames]
    if ids_f == ids_r:
        return fwd, rev
    for i, (a, b) in enumerate(zip(fnames, rnames)):
        if a != b and _strip_name(a) != _strip_name(b):
            raise InputError(
                files.r2,
                f"read {i + 1}: id '{_strip_name(b)}' does not match '{_strip_name(a)}' in {files.r1.name}",
                line=4 * i + 1,
            )
    return fwd, rev
