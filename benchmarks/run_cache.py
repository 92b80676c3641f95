"""The run engine's cache: a fresh ``microtrial demo`` against the same demo run again.

Usage::

    python benchmarks/run_cache.py [--out DIR] [--seed N] [--repeats R]

Runs ``microtrial demo -o DIR`` into an empty folder (every stage runs: simulation,
denoising, classification, tree, diversity, differential, associations, report), then R
more times into the same folder (every stage cached), each as a subprocess, side by side.
Prints each run's wall time and peak memory (from ``wait4``), the ratio of the median
re-run to the first run (the target is under 0.10), the stage statuses of the last run,
and whether every result table is byte-identical to the first run's (BIOM by content: the
format stores a creation date; run-info.json, logs/ and the report's own files carry times).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = (".microtrial-cache/", "logs/", "figures/", "tables/", "exports/", "simulated/")


def _tables(folder: Path) -> dict[str, str]:
    import h5py
    import numpy as np

    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if not p.is_file() or rel.startswith(SKIP) or rel in ("run-info.json", "report.html"):
            continue
        h = hashlib.sha256()
        if rel.endswith(".biom"):
            with h5py.File(p, "r") as fh:
                for k in ("observation/ids", "sample/ids", "observation/matrix/data",
                          "observation/matrix/indices", "observation/matrix/indptr"):
                    arr = np.asarray(fh[k][()])
                    h.update(repr(arr.tolist()).encode())
        else:
            h.update(p.read_bytes())
        out[rel] = h.hexdigest()
    return out


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one subprocess."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "MPLBACKEND": "Agg"})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise SystemExit(f"{' '.join(cmd)} failed:\n" + "\n".join(tail))
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="demo folder (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = None
    if args.out is None:
        tmp = Path(tempfile.mkdtemp(prefix="run-cache-"))
        out = tmp / "demo"
    else:
        out = args.out
        shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "microtrial", "demo", "-o", str(out), "--seed", str(args.seed)]
    first, first_mem = _run(cmd)
    tables = _tables(out)
    print(f"first run (every stage runs): {first:8.1f} s  peak {first_mem:7.0f} MB")
    reruns = []
    identical = True
    for i in range(args.repeats):
        wall, mem = _run(cmd)
        reruns.append(wall)
        same = _tables(out) == tables
        identical &= same
        print(f"re-run {i + 1} (cached):          {wall:8.1f} s  peak {mem:7.0f} MB  "
              f"tables identical: {same}")
    info = json.loads((out / "run-info.json").read_text())
    print("last re-run's stages:", ", ".join(f"{s['name']}={s['status']}" for s in info["stages"]))
    ratio = statistics.median(reruns) / first
    print(f"median re-run / first run: {ratio:.3f} (target < 0.10); {len(tables)} tables "
          f"{'all byte-identical' if identical else 'DIFFER'}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
