"""Regression on real MiSeq SOP reads against R DADA2 1.26's golden sequence table.

The golden table (../shared/data/miseq-sop/reference-outputs/dada2-1.26-seqtab.tsv, README
there) holds merged, chimera-free ASVs; the first 240 nt of each is its forward-read ASV.
Reads are filtered here with a small private helper that does what the README's
``filterAndTrim(truncLen=c(240,160), maxN=0, maxEE=c(2,2), truncQ=2)`` does to a pair
(PhiX removal skipped: these reads contain none to speak of).
"""

from __future__ import annotations

import numpy as np
import pytest

from _naive_denoise import derep
from microtrial.denoise import dada, learn_errors

SAMPLES = ("F3D142", "F3D143")


def _filter(rec, trunc_len):
    q = np.frombuffer(rec.qualities.encode(), np.uint8).astype(np.int64) - 33
    s = rec.sequence
    low = np.flatnonzero(q <= 2)
    if low.size:
        s, q = s[: low[0]], q[: low[0]]
    if len(s) < trunc_len:
        return None
    s, q = s[:trunc_len], q[:trunc_len]
    if "N" in s or np.sum(10.0 ** (-q / 10)) > 2:
        return None
    return s, q.astype(float)


def _forward_dereps(folder):
    import dnaio

    out = []
    for name in SAMPLES:
        r1 = next(folder.glob(f"{name}_*_R1_001.fastq.gz"))
        reads = []
        with dnaio.open(r1, str(r1).replace("_R1_", "_R2_")) as pairs:
            for a, b in pairs:
                fa, fb = _filter(a, 240), _filter(b, 160)
                if fa is not None and fb is not None:
                    reads.append(fa)
        out.append(derep(reads))
    return out


@pytest.mark.requires_shared
def test_forward_reads_match_dada2(shared_data):
    import pandas as pd

    folder = shared_data / "miseq-sop"
    golden = pd.read_csv(folder / "reference-outputs" / "dada2-1.26-seqtab.tsv", sep="\t",
                         index_col=0)
    dereps = _forward_dereps(folder)
    assert [d.n_reads for d in dereps] == [2914, 2941]  # as filterAndTrim (reads.out)
    err = learn_errors(dereps, threads=2)
    results = dada(dereps, err=err, threads=2)
    ref = {s[:240] for s in golden.index}
    for name, res in zip(SAMPLES, results):
        in_golden = np.array([s in ref for s in res.sequences])
        frac = res.abundances[in_golden].sum() / res.abundances.sum()
        assert frac >= 0.95, (name, frac)
        # the abundant golden forward ASVs are all found
        top = golden[name][golden[name] >= 50].index
        found = set(res.sequences)
        assert sum(s[:240] in found for s in top) >= 0.95 * len(top), name
