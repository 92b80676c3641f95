"""Read loading's compiled kernels against the numpy code they replaced (kept here as references).

``_reference_read_fastq`` is ``read_fastq``'s conversion of parsed records to matrices as it
was (boolean-mask scatter, ``_VALID[seq]`` check, ``qraw - 33``), ``_reference_subset`` is
``Reads.subset`` as it was, and ``_reference_codes`` the ``CODES[seq]`` matrix ``is_phix``
used to build.  The new code must give the same matrices and the same errors.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from microtrial.dna import CODES
from microtrial.errors import InputError
from microtrial.reads import FilterParams, filter_pair, find_samples, is_phix, read_pair
from microtrial.reads._fastq import _VALID, Reads, _parse, read_fastq


def _reference_to_matrix(strings, lengths, width):
    flat = np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8)
    if flat.size == len(strings) * width:  # all reads full length: a plain reshape
        return flat.reshape(len(strings), width).copy()
    mat = np.zeros((len(strings), width), dtype=np.uint8)
    mat[np.arange(width)[None, :] < lengths[:, None]] = flat
    return mat


def _reference_read_fastq(path):
    """(seq, qual, lengths) or the InputError message, as read_fastq computed them."""
    rnames, seqs, quals = _parse(path)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    width = int(lengths.max())
    seq = _reference_to_matrix(seqs, lengths, width)
    qraw = _reference_to_matrix(quals, lengths, width)
    full = bool((lengths == width).all())
    if (seq >= 97).any():
        lower = (seq >= 97) & (seq <= 122)
        seq[lower] -= 32
    mask = np.arange(width)[None, :] < lengths[:, None]
    bad = ~_VALID[seq] if full else mask & ~_VALID[seq]
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        ch = chr(seq[i, j])
        return f"{path}: line {4 * i + 2}: read {i + 1}: invalid base '{ch}' (only A, C, G, T, N allowed)"
    qvals = qraw if full else qraw[mask]
    qmin, qmax = int(qvals.min()), int(qvals.max())
    if qmin < 33:
        return f"{path}: quality characters below '!' (not Phred+33)"
    if qmin >= 64 and qmax > ord("K"):
        return "Phred+64"
    qual = qraw - np.uint8(33)
    if not full:
        qual[~mask] = 0
    return seq, qual, lengths


def _reference_subset(r: Reads, keep, lengths=None):
    new_len = r.lengths[keep] if lengths is None else np.asarray(lengths)[keep]
    width = int(new_len.max()) if new_len.size else 0
    seq = r.seq[keep, :width].copy()
    qual = r.qual[keep, :width].copy()
    pad = np.arange(width)[None, :] >= new_len[:, None]
    seq[pad] = 0
    qual[pad] = 0
    return Reads(seq, qual, new_len.astype(np.int64), r.path)


def _reference_codes(seq):
    return CODES[seq]


def _write_fastq(path: Path, seqs, quals) -> Path:
    text = "".join(f"@r{i} x\n{s}\n+\n{q}\n" for i, (s, q) in enumerate(zip(seqs, quals)))
    path.write_bytes(gzip.compress(text.encode()))
    return path


def _random_fastq(rng, path, *, n, full, lower, bad, qlo=33, qhi=74):
    lengths = np.full(n, 30) if full else rng.integers(0, 31, size=n)
    alphabet = list("ACGTN") + (list("acgtn") if lower else [])
    seqs = ["".join(rng.choice(alphabet, int(ln))) for ln in lengths]
    if bad:
        for _ in range(2):
            i = int(rng.integers(0, n))
            if seqs[i]:
                j = int(rng.integers(0, len(seqs[i])))
                seqs[i] = seqs[i][:j] + str(rng.choice(list("xX.-R"))) + seqs[i][j + 1:]
    quals = ["".join(chr(int(c)) for c in rng.integers(qlo, qhi, size=len(s))) for s in seqs]
    return _write_fastq(path, seqs, quals)


def _same_reads(a: Reads, b: Reads) -> None:
    assert a.seq.dtype == b.seq.dtype == np.uint8 and a.qual.dtype == b.qual.dtype == np.uint8
    assert a.seq.shape == b.seq.shape and a.qual.shape == b.qual.shape
    assert np.array_equal(a.seq, b.seq) and np.array_equal(a.qual, b.qual)
    assert a.lengths.dtype == b.lengths.dtype == np.int64
    assert np.array_equal(a.lengths, b.lengths)


@pytest.mark.parametrize("seed", range(12))
def test_read_fastq_equals_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    case = dict(n=int(rng.integers(1, 60)), full=bool(seed % 2), lower=seed % 3 == 0,
                bad=seed % 4 in (1, 2))
    if seed in (10, 11):  # qualities below '!' / Phred+64 files
        case.update(qlo=30 if seed == 10 else 64, qhi=80 if seed == 10 else 105, bad=False)
    path = _random_fastq(rng, tmp_path / "r.fastq.gz", **case)
    want = _reference_read_fastq(path)
    if isinstance(want, str):
        with pytest.raises(InputError) as exc:
            read_fastq(path)
        assert want in str(exc.value)
        return
    got = read_fastq(path)
    _same_reads(got, Reads(*want))


@pytest.mark.parametrize(("qmin", "qmax"), [(32, 70), (33, 70), (64, 75), (64, 76), (63, 100)])
def test_quality_range_bounds_equal_reference(tmp_path, qmin, qmax):
    # the lowest / highest quality character at the limits of the Phred+33 and +64 checks
    rng = np.random.default_rng(qmin + qmax)
    seqs = ["ACGT" * 5, "ACG", "acgtN"]
    qual_codes = [rng.integers(qmin, qmax + 1, size=len(x)) for x in seqs]
    qual_codes[1][0], qual_codes[2][-1] = qmin, qmax
    path = _write_fastq(tmp_path / "q.fastq.gz", seqs, ["".join(map(chr, q)) for q in qual_codes])
    want = _reference_read_fastq(path)
    if isinstance(want, str):
        with pytest.raises(InputError) as exc:
            read_fastq(path)
        assert want in str(exc.value)
    else:
        _same_reads(read_fastq(path), Reads(*want))


@pytest.mark.parametrize("seed", range(8))
def test_subset_equals_reference(seed):
    rng = np.random.default_rng(seed)
    n, w = int(rng.integers(1, 80)), int(rng.integers(1, 40))
    lengths = rng.integers(0, w + 1, size=n).astype(np.int64)
    seq = rng.integers(1, 255, size=(n, w)).astype(np.uint8)
    seq[np.arange(w)[None, :] >= lengths[:, None]] = 0
    r = Reads(seq, rng.integers(0, 42, size=(n, w)).astype(np.uint8), lengths)
    keep = rng.random(n) < 0.6
    new = np.minimum(lengths, rng.integers(0, w + 1, size=n)) if seed % 2 else None
    _same_reads(r.subset(keep, new), _reference_subset(r, keep, new))
    none = np.zeros(n, dtype=bool)
    _same_reads(r.subset(none, new), _reference_subset(r, none, new))


def test_phix_reads_as_from_code_matrix():
    # is_phix reads the bases through CODES inside the kernel: same flags as from the code
    # matrix, including lower-case bases and Ns (codes of the reference's CODES[seq])
    from microtrial.reads._filter import _phix_prefixes, _phix_words
    from microtrial.reads._kernels import word_hits

    rng = np.random.default_rng(5)
    g = np.frombuffer(__import__("microtrial.reads", fromlist=["x"]).phix_genome().encode(), np.uint8)
    n, w = 300, 120
    seq = rng.choice(np.frombuffer(b"ACGTNacgt", np.uint8), size=(n, w))
    starts = rng.integers(0, g.size - w, size=n // 2)
    seq[: n // 2] = np.stack([g[s : s + w] for s in starts])
    lengths = rng.integers(20, w + 1, size=n).astype(np.int64)
    seq[np.arange(w)[None, :] >= lengths[:, None]] = 0
    r = Reads(seq, np.zeros_like(seq), lengths)
    codes = _reference_codes(seq)
    want = np.zeros(n, dtype=np.bool_)
    identity = np.arange(256, dtype=np.uint8)
    word_hits(codes, identity, lengths, 16, _phix_words(16), 2, want, _phix_prefixes(16), 12)
    got = is_phix(r)
    assert np.array_equal(got, want)
    assert 0 < got.sum() < n


@pytest.mark.requires_shared
def test_miseq_sop_loading_equals_reference(shared_data):
    for s in find_samples(shared_data / "miseq-sop")[:2]:
        f, r = read_pair(s)
        for reads, path in ((f, s.r1), (r, s.r2)):
            seq, qual, lengths = _reference_read_fastq(path)
            _same_reads(reads, Reads(seq, qual, lengths))
        assert not (f.lengths == f.lengths.max()).all()  # varied lengths: the scatter path
        ff, fr = filter_pair(f, r, FilterParams(trunc_len=240, max_ee=2.0),
                             FilterParams(trunc_len=160, max_ee=2.0))
        keep = np.random.default_rng(0).random(f.n_reads) < 0.5
        _same_reads(f.subset(keep), _reference_subset(f, keep))
        assert ff.n_reads > 1000


def test_first_invalid_base_reported_as_reference(tmp_path):
    # invalid bases at a read's first position and later ones: the first, row by row
    seqs = ["ACGT", "xCGTA", "AC", "ACG.T", "AAAAAA"]
    path = _write_fastq(tmp_path / "b.fastq.gz", seqs, ["I" * len(x) for x in seqs])
    want = _reference_read_fastq(path)
    assert isinstance(want, str) and "line 6: read 2: invalid base 'X'" in want
    with pytest.raises(InputError) as exc:
        read_fastq(path)
    assert want in str(exc.value)
