"""Write the tiny paired-end inputs of the DADA2-compatibility goldens.

The first ``--pairs`` read pairs (default 100) of the first ``--samples`` (default 10) MiSeq
SOP samples in name order (``F3D0`` is not in ../shared/data/miseq-sop; the 13 ``F3D*``
pairs sort as F3D141, F3D142, ..., F3D9), written uncompressed under their Illumina names.
The reads themselves are not stored in the repository: tests and ``dada2_tiny.R`` make
them from ``../shared/data`` with this script (or :func:`write_tiny`).

Usage::

    python tests/data/denoise/make_tiny.py OUT_DIR [--data ../shared/data/miseq-sop]
        [--samples 10] [--pairs 100]
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path


def _head(path: Path, n_reads: int) -> bytes:
    out = []
    with gzip.open(path, "rt") as fh:
        for i, line in enumerate(fh):
            if i >= 4 * n_reads:
                break
            out.append(line)
    return "".join(out).encode()


def write_tiny(data: Path, out: Path, *, samples: int = 10, pairs: int = 100) -> list[str]:
    """Write the tiny inputs into ``out``; return their sample ids."""
    out.mkdir(parents=True, exist_ok=True)
    r1s = sorted(Path(data).glob("*_R1_001.fastq.gz"))[:samples]
    ids = []
    for r1 in r1s:
        r2 = r1.with_name(r1.name.replace("_R1_001", "_R2_001"))
        for src in (r1, r2):
            (out / src.name.removesuffix(".gz")).write_bytes(_head(src, pairs))
        ids.append(r1.name.split("_")[0])
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[4] / "shared" / "data" / "miseq-sop")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=100)
    a = ap.parse_args()
    print(" ".join(write_tiny(a.data, a.out, samples=a.samples, pairs=a.pairs)))


if __name__ == "__main__":
    main()
