"""One DNA encoding: microtrial.dna against a hand-written truth, and every module's lookup
table (the one it actually uses, imported from it) against microtrial.dna on all 256 bytes.

Truth here is spelled out by hand (which byte is which base) or taken from the IUPAC
definitions in ``microtrial.seqs`` (the primer matcher's table), never from dna.py itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from microtrial import dna
from microtrial.seqs import IUPAC

ALL = np.arange(256, dtype=np.uint8)
HAND = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3, "a": 0, "c": 1, "g": 2, "t": 3, "u": 3}


def _truth_code(b: int) -> int:
    return HAND.get(chr(b), 4)


def test_codes_on_all_bytes() -> None:
    want = np.array([_truth_code(b) for b in range(256)], dtype=np.uint8)
    assert dna.OTHER == 4
    assert np.array_equal(dna.CODES, want)
    assert dna.CODES.dtype == np.uint8 and dna.CODES.shape == (256,)
    assert not dna.CODES.flags.writeable  # shared: nobody may change it for the others


@pytest.mark.parametrize(
    ("seq", "codes"),
    [
        ("ACGT", [0, 1, 2, 3]),
        ("acgt", [0, 1, 2, 3]),  # lowercase
        ("ACGU", [0, 1, 2, 3]),  # RNA: U as T
        ("acgu", [0, 1, 2, 3]),
        ("ANNT", [0, 4, 4, 3]),  # N
        ("RYSWKMBDHV", [4] * 10),  # IUPAC ambiguity codes
        ("ryswkmbdhvn", [4] * 11),
        ("A-C.G", [0, 4, 1, 4, 2]),  # gaps
        ("A C\nX*?", [0, 4, 1, 4, 4, 4, 4]),  # anything else
        ("AéT", [0, 4, 3]),  # non-ASCII: one code per character
        ("", []),
    ],
)
def test_encode_cases(seq: str, codes: list[int]) -> None:
    assert dna.encode(seq).tolist() == codes


def test_encode_many_offsets() -> None:
    codes, offsets = dna.encode_many(["ACG", "", "nU"])
    assert codes.tolist() == [0, 1, 2, 4, 3]
    assert offsets.tolist() == [0, 3, 3, 5]


def test_bases_decode_codes() -> None:
    assert dna.BASES[dna.encode("acguT")].tobytes() == b"ACGTT"


def test_kmer_codes_skip_words_with_other_bases() -> None:
    codes = dna.encode("ACGNACGTa")  # words of 3: ACG, then (N breaks) ACG CGT GTA
    out = np.zeros(codes.size, dtype=np.int64)
    n = dna.kmer_codes(codes, 3, out)
    base4 = {"A": 0, "C": 1, "G": 2, "T": 3}
    want = [sum(base4[c] * 4 ** (2 - i) for i, c in enumerate(w)) for w in ("ACG", "ACG", "CGT", "GTA")]
    assert out[:n].tolist() == want


def _truth_mask(b: int) -> int:
    """IUPAC bit mask from seqs.IUPAC's base lists; gaps, ``?`` and ``X`` unknown (15)."""
    ch = chr(b)
    if ch in "-.?xX":
        return 15
    if b < 128 and ch.upper() in IUPAC:
        return sum(1 << "ACGT".index(x) for x in IUPAC[ch.upper()])
    return 0


def test_masks_on_all_bytes() -> None:
    want = np.array([_truth_mask(b) for b in range(256)], dtype=np.uint8)
    assert np.array_equal(dna.MASKS, want)
    # spot checks by hand
    m = {c: int(dna.MASKS[ord(c)]) for c in "ACGTUrN-Z"}
    assert m == {"A": 1, "C": 2, "G": 4, "T": 8, "U": 8, "r": 5, "N": 15, "-": 15, "Z": 0}
    assert not dna.MASKS.flags.writeable


# ---- every module's table, as the module uses it --------------------------------------


def test_read_filtering_uses_the_codes() -> None:
    from microtrial.reads import _filter

    assert np.array_equal(_filter._CODE[ALL], dna.CODES)


def test_simulated_reference_pool_uses_the_codes() -> None:
    from microtrial.simulate import _reference

    assert _reference.encode is dna.encode


def test_placement_uses_the_masks() -> None:
    from microtrial.function import _place

    assert np.array_equal(_place._CODE[ALL], dna.MASKS)


def test_denoising_uses_the_codes() -> None:
    from microtrial.denoise import _dada

    assert np.array_equal(_dada._LUT[ALL], dna.CODES)


def test_merging_and_chimeras_use_the_codes_with_their_own_gap() -> None:
    from microtrial.denoise import _chimera, _merge

    table = _merge._CODE[ALL]
    acgt = dna.CODES < dna.OTHER
    assert np.array_equal(table[acgt], dna.CODES[acgt])
    # everything else is one "never matches" code, which is neither a base nor the gap
    assert set(table[~acgt].tolist()) == {_merge.N_CODE}
    assert _merge.N_CODE not in (0, 1, 2, 3, _merge.GAP_CODE)
    assert _merge._BASES[_merge.N_CODE] == ord("N") and _merge._BASES[_merge.GAP_CODE] == ord("-")
    assert _chimera._CODE is _merge._CODE


# ---- behaviour at the non-ACGT bases ---------------------------------------------------


def test_ambiguous_bases_never_match_in_pair_merging() -> None:
    from microtrial.denoise._merge import align_ends_free

    assert align_ends_free("A", "a") == ("A", "A", 1)
    assert align_ends_free("U", "T") == ("T", "T", 1)
    for x in ("N", "R", "y"):  # free end gaps beat the -64 mismatch: no match column
        a, b, score = align_ends_free(x, x)
        assert score == 0 and sorted((a, b)) == ["-N", "N-"]


def test_phix_words_with_n_are_never_hits() -> None:
    from microtrial.reads._fastq import Reads
    from microtrial.reads._filter import is_phix, phix_genome

    frag = phix_genome()[1000:1100]
    # an N every 15 bases leaves no 16-mer without one; the same read without Ns is PhiX
    broken = "".join("N" if i % 15 == 14 else c for i, c in enumerate(frag))
    seq = np.zeros((2, 100), dtype=np.uint8)
    seq[0] = np.frombuffer(frag.encode(), dtype=np.uint8)
    seq[1] = np.frombuffer(broken.encode(), dtype=np.uint8)
    reads = Reads(seq, np.full((2, 100), 30, dtype=np.uint8), np.array([100, 100], dtype=np.int64))
    assert is_phix(reads).tolist() == [True, False]


def test_no_module_builds_its_own_byte_table() -> None:
    """The 256-entry code tables live in dna.py only (modules derive theirs from it); a
    boolean table of accepted bytes (the FASTQ reader's ACGTN) is no encoding."""
    import re
    from pathlib import Path

    src = Path(dna.__file__).parent
    pattern = re.compile(r"np\.(full|zeros|empty|ones)\(\s*256\b(?![^\n]*bool)")
    own = [p.relative_to(src).as_posix() for p in sorted(src.rglob("*.py"))
           if p.name != "dna.py" or p.parent != src
           if pattern.search(p.read_text(encoding="utf-8"))]
    assert own == []
