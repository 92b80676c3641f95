"""Nucleotide helpers shared by stages: reverse complement, IUPAC primers, in-silico PCR."""

from __future__ import annotations

import re
from functools import lru_cache

IUPAC: dict[str, str] = {
    "A": "A", "C": "C", "G": "G", "T": "T", "U": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
_COMPLEMENT = str.maketrans("ACGTURYSWKMBDHVNacgturyswkmbdhvn", "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn")

PRIMERS: dict[str, tuple[str, str]] = {
    # region: (forward, reverse) as ordered from the vendor, 5'->3'
    "V3-V4": ("CCTACGGGNGGCWGCAG", "GACTACHVGGGTATCTAATCC"),  # 341F / 805R
    "V4": ("GTGYCAGCMGCCGCGGTAA", "GGACTACNVGGGTWTCTAAT"),  # 515F / 806R (Parada/Apprill)
}


def reverse_complement(seq: str) -> str:
    """Reverse complement, IUPAC-aware, case kept."""
    return seq.translate(_COMPLEMENT)[::-1]


@lru_cache(maxsize=64)
def primer_regex(primer: str) -> re.Pattern[str]:
    """A compiled regex matching ``primer`` with IUPAC codes expanded (exact otherwise)."""
    parts = []
    for base in primer.upper():
        if base not in IUPAC:
            raise ValueError(f"'{base}' is not an IUPAC nucleotide code")
        opts = IUPAC[base]
        parts.append(opts if len(opts) == 1 else f"[{opts}]")
    return re.compile("".join(parts))


def check_primer_option(option: str, primer: str | None) -> None:
    """Raise an OptionError naming ``option`` (a study-file key, ``reads.primer_f``)
    unless ``primer`` is None or a non-empty sequence of IUPAC nucleotide codes."""
    from microtrial.errors import OptionError

    if primer is None:
        return
    if not primer.strip():
        raise OptionError(option, "is empty")
    try:
        primer_regex(primer)
    except ValueError as exc:
        raise OptionError(option, f"'{primer}' is not a primer sequence: {exc}") from None


def extract_amplicon(
    seq: str, primer_f: str, primer_r: str, *, keep_primers: bool = False
) -> str | None:
    """Cut the amplicon between two primers out of a (forward-strand) gene, in silico.

    The forward primer must match the gene, the reverse primer's reverse complement must
    match downstream of it (IUPAC codes allowed, no mismatches). Returns the sequence
    between the primers (or including them with ``keep_primers``), or None.
    """
    s = seq.upper()
    mf = primer_regex(primer_f).search(s)
    if mf is None:
        return None
    rc_r = reverse_complement(primer_r.upper())
    mr = primer_regex(rc_r).search(s, mf.end())
    if mr is None:
        return None
    return s[mf.start() : mr.end()] if keep_primers else s[mf.end() : mr.start()]
