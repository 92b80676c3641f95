"""The shared 2-bit DNA encoding of the k-mer stages (taxonomy, phylogeny): core, so that
no stage imports another stage's kernels.

Codes: ``A=0, C=1, G=2, T=3`` (``U`` as ``T``, either case); every other byte (``N``, IUPAC
ambiguity codes, gaps) is ``4``, and k-mers containing a ``4`` are skipped, as in RDP and
DADA2. (Denoising keeps its own codes: its alignments score ``N`` and gaps themselves.)
"""

from __future__ import annotations

import numpy as np
from numba import njit

OTHER = 4
"""The code of every byte that is not A, C, G, T or U."""

_LUT = np.full(256, OTHER, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i
_LUT[ord("U")] = 3
_LUT[ord("u")] = 3


def encode(seq: str) -> np.ndarray:
    """uint8 codes of a nucleotide string (A,C,G,T/U -> 0..3, other -> 4)."""
    return _LUT[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


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


__all__ = ["OTHER", "encode", "encode_many", "kmer_codes"]
