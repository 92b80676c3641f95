"""Sequencing: which molecule each read pair comes from, PCR chimeras, and the reads.

Sources. A sample of depth ``N`` gets ``B ~ Binomial(N, chimera_rate)`` chimeric pairs and
``N - B`` pairs drawn ``Multinomial(N - B, p)`` from its true composition ``p``. Chimeras
come in ``ceil(B / reads_per_chimera)`` distinct sequences; each joins the 5' part of one
parent to the 3' part of another (parents drawn by ``p``, distinct) at a shared 8-mer near
the same position in both, as template switching during PCR does (Haas et al. 2011, Genome
Res 21:494); reads are spread over them by weights proportional to ``p_a * p_b``.

Reads. The molecule is ``forward primer + amplicon + reverse complement of the reverse
primer``, each degenerate primer base resolved at random per read (primer mixes hold every
variant). R1 reads the molecule from its 5' end, R2 its reverse complement, ``read_length``
nt each (shorter if the molecule is). Quality scores fall along the read like a MiSeq run's
(mean ``q_start + d_r * (q_end - q_start) * (i / (L - 1))^2`` with a per-read decline
factor ``d_r ~ LogNormal(0, q_decline_sd)``, plus a per-read offset and per-base noise,
rounded and clipped to 2..40; R2 worse; a fraction ``q_tail_rate`` of reads turns to Q2 from
a random point after the first third, like Illumina's Q2 "B-tails"); each base is replaced by one of
the three others with probability ``10^(-Q/10)``, so the Phred scores are exact
(Ewing & Green 1998, Genome Res 8:186). All of it is vectorised over the reads of a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microtrial.seqs import IUPAC
from microtrial.simulate._design import SimulationDesign

_CODES = np.frombuffer(b"ACGT", dtype=np.uint8)
_BASE_INDEX = {b: i for i, b in enumerate("ACGT")}
_JUNCTION_K = 8
#: Phred error probability 10^(-Q/10) per score 0..93 (float32, as the uniforms it meets)
_P_ERROR = (10.0 ** (-np.arange(94) / 10.0)).astype(np.float32)
_MIN_ARM = 40


@dataclass(frozen=True)
class Chimera:
    """One chimeric sequence of one sample: ``parent_a[:cut_a] + parent_b[cut_b:]``."""

    sequence: str
    parent_a: int
    parent_b: int
    cut_a: int
    cut_b: int
    reads: int


@dataclass(frozen=True)
class SampleSources:
    """What a sample's read pairs are, in file order.

    ``source[i]`` indexes ``0..n_features-1`` (a true amplicon) or ``n_features + c`` (the
    sample's chimera ``c``); ``counts`` are the non-chimeric pairs per feature.
    """

    source: np.ndarray
    counts: np.ndarray
    chimeras: tuple[Chimera, ...]


@dataclass(frozen=True)
class PairedReads:
    """Simulated read pairs of one sample (bases as uint8 0-3, Phred scores as uint8)."""

    names: tuple[str, ...]
    r1: np.ndarray
    q1: np.ndarray
    len1: np.ndarray
    r2: np.ndarray
    q2: np.ndarray
    len2: np.ndarray

    def fastq(self, mate: int) -> bytes:
        """FASTQ text (Phred+33) of mate 1 or 2."""
        seq, qual, lens = (
            (self.r1, self.q1, self.len1) if mate == 1 else (self.r2, self.q2, self.len2)
        )
        s = _CODES[seq]
        q = (qual + 33).astype(np.uint8)
        tag = f" {mate}:N:0:1\n".encode()
        parts = []
        for i, name in enumerate(self.names):
            n = int(lens[i])
            parts.append(
                b"@"
                + name.encode()
                + tag
                + s[i, :n].tobytes()
                + b"\n+\n"
                + q[i, :n].tobytes()
                + b"\n"
            )
        return b"".join(parts)


def _shared_kmer_cut(a: str, b: str, rng: np.random.Generator) -> tuple[int, int] | None:
    lo, hi = _MIN_ARM, min(len(a), len(b)) - _MIN_ARM
    if hi <= lo:
        return None
    for _ in range(30):
        cut_a = int(rng.integers(lo, hi))
        kmer = a[cut_a - _JUNCTION_K : cut_a]
        start = max(_JUNCTION_K, cut_a - 12)
        pos = b.find(kmer, start - _JUNCTION_K, cut_a + 12)
        if pos >= 0:
            cut_b = pos + _JUNCTION_K
            if a[cut_a:] != b[cut_b:] and a[:cut_a] != b[:cut_b]:
                return cut_a, cut_b
    return None


def sample_sources(
    p: np.ndarray,
    depth: int,
    amplicons: list[str],
    design: SimulationDesign,
    rng: np.random.Generator,
    *,
    known: set[str],
) -> SampleSources:
    """Draw the origin of every read pair of one sample (see module docs).

    ``known`` holds the true amplicons: a chimera identical to one is redrawn.
    """
    n_f = len(p)
    present = np.flatnonzero(p > 0)
    n_chim = int(rng.binomial(depth, design.chimera_rate)) if len(present) >= 2 else 0
    chimeras: list[Chimera] = []
    weights: list[float] = []
    if n_chim:
        n_types = int(np.ceil(n_chim / design.reads_per_chimera))
        attempts = 0
        while len(chimeras) < n_types and attempts < 50 * n_types:
            attempts += 1
            a, b = rng.choice(n_f, size=2, replace=False, p=p)
            cut = _shared_kmer_cut(amplicons[a], amplicons[b], rng)
            if cut is None:
                continue
            seq = amplicons[a][: cut[0]] + amplicons[b][cut[1] :]
            if seq in known or any(c.sequence == seq for c in chimeras):
                continue
            chimeras.append(Chimera(seq, int(a), int(b), cut[0], cut[1], 0))
            weights.append(p[a] * p[b])
        if not chimeras:
            n_chim = 0
    counts = rng.multinomial(depth - n_chim, p)
    if chimeras:
        w = np.asarray(weights)
        chim_counts = rng.multinomial(n_chim, w / w.sum())
        kept = [i for i, c in enumerate(chim_counts) if c > 0]
        chimeras = [
            Chimera(
                chimeras[i].sequence,
                chimeras[i].parent_a,
                chimeras[i].parent_b,
                chimeras[i].cut_a,
                chimeras[i].cut_b,
                int(chim_counts[i]),
            )
            for i in kept
        ]
    ids = np.concatenate(
        [
            np.repeat(np.arange(n_f), counts),
            np.repeat(n_f + np.arange(len(chimeras)), [c.reads for c in chimeras]),
        ]
    ).astype(np.int64)
    return SampleSources(
        source=rng.permutation(ids), counts=counts.astype(np.int64), chimeras=tuple(chimeras)
    )


def _primer_variants(primer: str, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, len(primer)), dtype=np.uint8)
    for k, base in enumerate(primer.upper()):
        opts = np.array([_BASE_INDEX[b] for b in IUPAC[base]], dtype=np.uint8)
        out[:, k] = opts[0] if len(opts) == 1 else opts[rng.integers(0, len(opts), n)]
    return out


def _qualities(
    n: int,
    length: int,
    q_start: float,
    q_end: float,
    design: SimulationDesign,
    rng: np.random.Generator,
) -> np.ndarray:
    x = np.arange(length, dtype=np.float32) / max(length - 1, 1)
    decline = ((q_end - q_start) * x**2).astype(np.float32)
    factor = np.exp(rng.normal(0.0, design.q_decline_sd, (n, 1))).astype(np.float32)
    q = rng.standard_normal((n, length), dtype=np.float32)
    q *= np.float32(design.q_base_sd)
    q += np.float32(q_start) + factor * decline[None, :]
    q += rng.normal(0.0, design.q_read_sd, (n, 1)).astype(np.float32)
    np.rint(q, out=q)
    np.clip(q, 2, 40, out=q)
    tails = np.flatnonzero(rng.random(n) < design.q_tail_rate)
    starts = rng.integers(length // 3, length, tails.size)
    q[tails[:, None], np.arange(length)[None, :]] = np.where(
        np.arange(length)[None, :] >= starts[:, None], 2, q[tails]
    )
    return q.astype(np.uint8)


def _add_errors(bases: np.ndarray, qual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hit = np.flatnonzero(rng.random(bases.size, dtype=np.float32) < _P_ERROR[qual.ravel()])
    out = bases.copy()
    flat = out.reshape(-1)
    shift = rng.integers(1, 4, size=hit.size, dtype=np.uint8)
    flat[hit] = (flat[hit] + shift) % 4
    return out


def simulate_reads(
    source: np.ndarray,
    templates: list[str],
    design: SimulationDesign,
    rng: np.random.Generator,
    *,
    names: list[str],
) -> PairedReads:
    """Paired reads with primers, MiSeq-like qualities and quality-driven substitutions.

    ``templates[k]`` is the amplicon (without primers) of source ``k``.
    """
    n = len(source)
    length = design.read_length
    primer_f, primer_r = design.primers
    lf, lr = len(primer_f), len(primer_r)
    uniq, inverse = np.unique(source, return_inverse=True)
    lens_t = np.array([len(templates[k]) for k in uniq], dtype=np.int64)
    mat = np.zeros((len(uniq), max(int(lens_t.max()), 1) if n else 1), dtype=np.uint8)
    for row, k in enumerate(uniq):
        t = templates[k]
        mat[row, : len(t)] = np.frombuffer(t.encode("ascii"), dtype=np.uint8)
    mat = np.searchsorted(_CODES, mat).astype(np.uint8)  # A,C,G,T -> 0..3 (padding -> 0)
    width = lf + mat.shape[1] + lr
    frag = np.zeros((n, width), dtype=np.uint8)
    frag[:, :lf] = _primer_variants(primer_f, n, rng)
    frag[:, lf : lf + mat.shape[1]] = mat[inverse]
    amp_len = lens_t[inverse]
    rc_r = 3 - _primer_variants(primer_r, n, rng)[:, ::-1]
    rows = np.arange(n)[:, None]
    frag[rows, lf + amp_len[:, None] + np.arange(lr)[None, :]] = rc_r
    flen = lf + amp_len + lr
    pos = np.arange(length)[None, :]
    r1 = frag[:, :length] if width >= length else np.pad(frag, ((0, 0), (0, length - width)))
    idx = flen[:, None] - 1 - pos
    r2 = 3 - frag[rows, np.clip(idx, 0, None)]
    read_len = np.minimum(flen, length)
    q1 = _qualities(n, length, design.q_start[0], design.q_end[0], design, rng)
    q2 = _qualities(n, length, design.q_start[1], design.q_end[1], design, rng)
    r1 = _add_errors(r1, q1, rng)
    r2 = _add_errors(r2, q2, rng)
    return PairedReads(tuple(names), r1, q1, read_len, r2, q2, read_len.copy())


def read_names(n: int, *, run: str = "MTSIM:1:000000000-SIMUL") -> list[str]:
    """Illumina-style read names (instrument:run:flowcell:lane:tile:x:y), unique per file."""
    return [
        f"{run}:1:{1101 + i // 20000}:{1000 + i % 20000}:{1000 + (i * 7919) % 30000}"
        for i in range(n)
    ]
