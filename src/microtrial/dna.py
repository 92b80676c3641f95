"""The one nucleotide encoding of microtrial (core: every stage uses it, none keeps its own).

Codes: ``A=0, C=1, G=2, T=3`` (``U`` as ``T``, either case); every other byte (``N``, IUPAC
ambiguity codes, gaps, anything else) is :data:`OTHER` ``= 4``. Kernels test ``code > 3``
(``code >= OTHER``) for "not A, C, G or T": k-mers containing such a base are skipped (as
in RDP and DADA2), denoising refuses them, read filtering counts them out of PhiX words,
pair merging scores them as never matching.

- :data:`CODES` is the 256-entry lookup table (read-only), :func:`encode` and
  :func:`encode_many` apply it; :data:`BASES` turns codes 0-3 back into bytes.
- :data:`MASKS` is the IUPAC bit-mask table of the likelihood kernels (placement): A=1,
  C=2, G=4, T/U=8 (``1 << CODES``), ambiguity codes the union of their bases, ``N``,
  ``-``, ``.``, ``?`` and ``X`` 15 (unknown), every other byte 0 (not a nucleotide code).
  Either case.

A module needing another code for "not ACGT" (pair merging keeps 4 for its gaps) derives
its table from :data:`CODES` rather than spelling bases out again; ``tests/test_dna.py``
checks every module's table against this one on all 256 bytes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OTHER = 4
"""The code of every byte that is not A, C, G, T or U (either case)."""

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
"""Codes 0-3 -> the bytes ``ACGT`` (``BASES[codes].tobytes()``)."""


def _codes_table() -> np.ndarray:
    table = np.full(256, OTHER, dtype=np.uint8)
    for code, base in enumerate("ACGT"):
        table[ord(base)] = code
        table[ord(base.lower())] = code
    table[ord("U")] = table[ord("u")] = 3
    table.setflags(write=False)
    return table


CODES = _codes_table()
"""uint8[256]: byte -> code (A,C,G,T/U either case -> 0..3, anything else -> ``OTHER``)."""

_AMBIGUOUS = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
              "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG"}
_UNKNOWN = "N-.?X"


def _masks_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    acgt = CODES < OTHER
    table[acgt] = np.left_shift(1, CODES[acgt])
    for code, bases in _AMBIGUOUS.items():
        mask = int(np.bitwise_or.reduce([table[ord(b)] for b in bases]))
        table[ord(code)] = table[ord(code.lower())] = mask
    for code in _UNKNOWN:
        table[ord(code)] = table[ord(code.lower())] = 15
    table.setflags(write=False)
    return table


MASKS = _masks_table()
"""uint8[256]: byte -> IUPAC bit mask (A1 C2 G4 T/U8, ambiguity unions, N/gap 15, else 0)."""


def encode(seq: str) -> np.ndarray:
    """uint8 codes of a nucleotide string (A,C,G,T/U -> 0..3, other -> 4)."""
    return CODES[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def encode_many(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated codes and offsets (``offsets[i]:offsets[i+1]`` is sequence i)."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    codes = encode("".join(seqs)) if seqs else np.zeros(0, dtype=np.uint8)
    return codes, offsets


@njit(cache=True, nogil=True)
def kmer_codes(codes, k, out):  # noqa: ANN001, ANN201 - numba kernel
    """Write the k-mer words of ``codes`` in order into ``out``; return how many.

    A word is the base-4 number of its k bases. Words overlapping a non-ACGT base are
    skipped (``out`` needs len(codes) slots).
    """
    n = 0
    word = 0
    valid = 0
    mask = (1 << (2 * k)) - 1
    for i in range(codes.shape[0]):
        c = codes[i]
        if c > 3:
            valid = 0
            word = 0
            continue
        word = ((word << 2) | c) & mask
        valid += 1
        if valid >= k:
            out[n] = word
            n += 1
    return n


__all__ = ["BASES", "CODES", "MASKS", "OTHER", "encode", "encode_many", "kmer_codes"]
