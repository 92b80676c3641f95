"""Shared denoise-test inputs: error-free read pairs of known amplicons, and a stand-in
denoiser that makes every unique sequence its own variant (the true answer for such reads)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from microtrial.denoise._types import DadaResult
from microtrial.seqs import reverse_complement


def write_pairs(folder: Path, sample: str, amplicons: list[str], read_len: int, *,
                bad_quality: bool = False) -> None:
    """One read pair per amplicon (forward: its first ``read_len`` bases; reverse: those of
    its reverse complement), as Illumina-named ``<sample>_S1_L001_R{1,2}_001.fastq.gz``.
    ``bad_quality`` puts Q2 at base 5 of every read."""
    r1, r2 = [], []
    q = "I" * read_len if not bad_quality else "IIII#" + "I" * (read_len - 5)
    for i, amp in enumerate(amplicons):
        name = f"@M1:1:FC:1:1101:{i}:1"
        r1.append(f"{name} 1:N:0:1\n{amp[:read_len]}\n+\n{q}\n")
        r2.append(f"{name} 2:N:0:1\n{reverse_complement(amp)[:read_len]}\n+\n{q}\n")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sample}_S1_L001_R1_001.fastq.gz").write_bytes(gzip.compress("".join(r1).encode()))
    (folder / f"{sample}_S1_L001_R2_001.fastq.gz").write_bytes(gzip.compress("".join(r2).encode()))


def exact_dada(dereps, **kw):  # noqa: ANN001, ANN201
    return [DadaResult(d.sequences, d.abundances.copy(), np.arange(len(d.sequences), dtype=np.int64))
            for d in dereps]


def no_errors(dereps, **kw):  # noqa: ANN001, ANN201
    return np.zeros((16, 41))
