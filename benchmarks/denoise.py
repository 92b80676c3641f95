"""Benchmark: ``microtrial denoise`` vs R DADA2 vs a vsearch UNOISE3 pipeline, by depth.

Depth axis (``--depths``): ``sop`` is the 13 MiSeq SOP samples (about 5,000 pairs each,
truncation 240/160); a number N is 4 simulated V3-V4 2 x 300 samples of N read pairs each
(``microtrial simulate --patients 1 --controls 2``, primers removed by microtrial's
primer removal before any tool sees the reads, truncation 260/200).  Every tool runs with
maxEE 2, truncQ 2, PhiX removal, 2 threads; microtrial with ``--dada2-compatible`` (R's
behaviour: ``--pool none --no-chimera-one-off --no-reverse-partners --min-reads 1``),
all side by side in one run, and prints wall times, ratios,
peak memory (max RSS of each tool's process tree, via ``/usr/bin/time -v``) and accuracy: the fraction of microtrial's
reads in ASVs identical to R DADA2's, against R's live output and against the golden
sequence table in ``reference-outputs/``.  Nothing is written into the repository.

microtrial's numba cache is warmed by one untimed run first.  A missing competitor is
reported as ``skipped: ... not found``.

Usage::

    .venv/bin/python benchmarks/denoise.py [--data ../shared/data/miseq-sop] [--threads 2]
        [--repeats 1] [--no-r] [--no-vsearch] [--depths sop 20000 50000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "miseq-sop"

R_SCRIPT = r"""
suppressMessages(library(dada2))
args <- commandArgs(trailingOnly=TRUE)
path <- args[1]; out <- args[2]; threads <- as.integer(args[3])
truncF <- as.integer(args[4]); truncR <- as.integer(args[5])
fnFs <- sort(list.files(path, pattern="_R1_001.fastq.gz", full.names=TRUE))
fnRs <- sort(list.files(path, pattern="_R2_001.fastq.gz", full.names=TRUE))
sample.names <- sapply(strsplit(basename(fnFs), "_"), `[`, 1)
filtF <- file.path(tempdir(), paste0(sample.names, "_F_filt.fastq.gz"))
filtR <- file.path(tempdir(), paste0(sample.names, "_R_filt.fastq.gz"))
names(filtF) <- sample.names; names(filtR) <- sample.names
filterAndTrim(fnFs, filtF, fnRs, filtR, truncLen=c(truncF,truncR), maxN=0, maxEE=c(2,2), truncQ=2,
              rm.phix=TRUE, multithread=threads)
errF <- learnErrors(filtF, multithread=threads); errR <- learnErrors(filtR, multithread=threads)
dadaF <- dada(filtF, err=errF, multithread=threads); dadaR <- dada(filtR, err=errR, multithread=threads)
mergers <- mergePairs(dadaF, filtF, dadaR, filtR)
seqtab <- removeBimeraDenovo(makeSequenceTable(mergers), method="consensus", multithread=threads)
write.table(t(seqtab), out, sep="\t", quote=FALSE, col.names=NA)
"""


def _timed(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None) -> tuple[float, float]:
    """Run ``cmd`` under /usr/bin/time -v; return (wall seconds, peak RSS MB)."""
    tv = shutil.which("time") or "/usr/bin/time"
    use_time = Path(tv).exists()
    full = [tv, "-v", *cmd] if use_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{cmd[0]} failed with status {proc.returncode}")
    rss = float("nan")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if m:
        rss = int(m.group(1)) / 1024
    return wall, rss


def _agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Fraction of our reads in sequences that the reference table also has."""
    cols = [c for c in ours.columns if c in ref.columns]
    ref_seqs = set(ref.index[ref[cols].sum(axis=1) > 0])
    total = ours[cols].to_numpy().sum()
    inside = ours.loc[[s for s in ours.index if s in ref_seqs], cols].to_numpy().sum()
    return float(inside / total) if total else float("nan")


def _microtrial_table(out: Path) -> pd.DataFrame:
    sys.path.insert(0, str(ROOT / "src"))
    from microtrial.io.fasta import read_fasta
    from microtrial.io.feature_table import read_table_tsv

    df = read_table_tsv(out / "feature-table.tsv").to_dataframe()
    seqs = read_fasta(out / "dna-sequences.fasta")
    df.index = [seqs[i] for i in df.index]
    return df


# R DADA2's settings: independent samples, no one-off bimeras, every ASV kept
DADA2_SETTINGS = ["--dada2-compatible"]
TRUNC = {"sop": (240, 160), "sim": (260, 200)}
PRIMERS = ("CCTACGGGNGGCWGCAG", "GACTACHVGGGTATCTAATCC")  # the simulator's V3-V4 primers


def _exe(data: Path, threads: int, extra: list[str], trunc: tuple[int, int] = TRUNC["sop"]) -> list[str]:
    return [sys.executable, "-m", "microtrial", "denoise", str(data), "--trunc-len-f", str(trunc[0]),
            "--trunc-len-r", str(trunc[1]), "--max-ee", "2", "2", "--trunc-q", "2", *extra,
            "--threads", str(threads)]


def simulate(work: Path, pairs: int, seed: int = 1) -> Path:
    """4 simulated V3-V4 samples of ``pairs`` read pairs, primers removed (gzipped FASTQ)."""
    import gzip

    sys.path.insert(0, str(ROOT / "src"))
    from microtrial.reads import find_samples, read_pair, remove_primers

    sim = work / f"sim-{pairs}"
    subprocess.run([sys.executable, "-m", "microtrial", "simulate", "-o", str(sim), "--seed", str(seed),
                    "--patients", "1", "--controls", "2", "--reads-per-sample", str(pairs)],
                   check=True, capture_output=True)
    out = work / f"reads-{pairs}"
    out.mkdir()
    for s in find_samples(sim / "reads"):
        f, r = read_pair(s)
        f, r, _ = remove_primers(f, r, primer_f=PRIMERS[0], primer_r=PRIMERS[1], discard_untrimmed=True)
        for reads, tag in ((f, "R1"), (r, "R2")):
            with gzip.open(out / f"{s.sample_id}_S1_L001_{tag}_001.fastq.gz", "wt", compresslevel=1) as fh:
                for i in range(reads.n_reads):
                    n = int(reads.lengths[i])
                    seq = reads.seq[i, :n].tobytes().decode()
                    qual = (reads.qual[i, :n] + 33).astype("uint8").tobytes().decode()
                    fh.write(f"@r{i} {tag[1]}:N:0:1\n{seq}\n+\n{qual}\n")
    return out


def run_microtrial(data: Path, work: Path, threads: int, repeats: int,
                   trunc: tuple[int, int] = TRUNC["sop"]) -> tuple[list[float], float, Path]:
    exe = _exe(data, threads, DADA2_SETTINGS, trunc)
    _timed([*exe, "-o", str(work / "mt-warm")])  # warms the numba cache
    times, rss = [], 0.0
    for i in range(repeats):
        out = work / f"mt-{i}"
        wall, r = _timed([*exe, "-o", str(out)])
        times.append(wall)
        rss = max(rss, r)
    median_run = sorted(range(repeats), key=lambda i: times[i])[repeats // 2]
    return times, rss, work / f"mt-{median_run}"


def run_r(data: Path, work: Path, threads: int,
          trunc: tuple[int, int] = TRUNC["sop"]) -> tuple[float, float, pd.DataFrame] | None:
    if shutil.which("Rscript") is None:
        print("R DADA2: skipped: Rscript not found")
        return None
    script = work / "dada2.R"
    script.write_text(R_SCRIPT)
    out = work / "r-seqtab.tsv"
    wall, rss = _timed(["Rscript", str(script), str(data), str(out), str(threads), str(trunc[0]),
                        str(trunc[1])])
    return wall, rss, pd.read_csv(out, sep="\t", index_col=0)


def run_vsearch(data: Path, work: Path, threads: int) -> tuple[float, float, int] | None:
    vs = shutil.which("vsearch")
    if vs is None:
        print("vsearch UNOISE3: skipped: vsearch not found")
        return None
    d = work / "vsearch"
    d.mkdir(parents=True)
    lines = ["set -euo pipefail", f"cd {d}", ": > merged.fq"]
    for r1 in sorted(data.glob("*_R1_001.fastq.gz")):
        sample = r1.name.split("_")[0]
        r2 = r1.with_name(r1.name.replace("_R1_001", "_R2_001"))
        lines.append(
            f"{vs} --quiet --fastq_mergepairs {r1} --reverse {r2} --threads {threads} "
            f"--fastqout {sample}.fq --relabel {sample}. && cat {sample}.fq >> merged.fq"
        )
    lines += [
        f"{vs} --quiet --fastq_filter merged.fq --fastq_maxee 1.0 --fastaout filtered.fa --threads {threads}",
        f"{vs} --quiet --derep_fulllength filtered.fa --sizeout --relabel Uniq --output uniques.fa --threads {threads}",
        f"{vs} --quiet --cluster_unoise uniques.fa --centroids zotus.fa --threads {threads}",
        f"{vs} --quiet --uchime3_denovo zotus.fa --nonchimeras zotus_nochim.fa --relabel Zotu",
        f"{vs} --quiet --fastx_filter merged.fq --fastaout merged.fa",
        f"{vs} --quiet --usearch_global merged.fa --db zotus_nochim.fa --id 0.97 --otutabout table.tsv --threads {threads}",
    ]
    sh = d / "run.sh"
    sh.write_text("\n".join(lines) + "\n")
    wall, rss = _timed(["bash", str(sh)])
    n = sum(1 for line in (d / "zotus_nochim.fa").read_text().splitlines() if line.startswith(">"))
    return wall, rss, n


def bench_depth(name: str, data: Path, work: Path, args: argparse.Namespace, trunc: tuple[int, int]) -> None:
    """One row of the depth axis: microtrial, R DADA2 and vsearch on ``data``."""
    work.mkdir(parents=True, exist_ok=True)
    n = len(list(data.glob("*_R1_001.fastq.gz")))
    print(f"== {name}: {data} ({n} samples), truncation {trunc[0]}/{trunc[1]}, threads {args.threads}, "
          f"load {os.getloadavg()[0]:.1f}")
    times, mt_rss, mt_out = run_microtrial(data, work, args.threads, args.repeats, trunc)
    mt = sorted(times)[len(times) // 2]
    ours = _microtrial_table(mt_out)
    print(f"microtrial --dada2-compatible: {mt:7.1f} s  peak RSS {mt_rss:7.0f} MB  ({ours.shape[0]} ASVs; "
          f"runs {[round(t, 1) for t in times]})")
    golden = data / "reference-outputs" / "dada2-1.26-seqtab.tsv"
    if golden.exists():
        gold = pd.read_csv(golden, sep="\t", index_col=0)
        print(f"  reads in ASVs identical to golden R DADA2 1.26 table: {100 * _agreement(ours, gold):.2f} %"
              f" ({gold.shape[0]} golden ASVs)")
    if not args.no_r:
        r = run_r(data, work, args.threads, trunc)
        if r is not None:
            wall, rss, tab = r
            print(f"R DADA2 1.26   : {wall:7.1f} s  peak RSS {rss:7.0f} MB  ({tab.shape[0]} ASVs)  "
                  f"ratio R/microtrial = {wall / mt:.1f}x")
            print(f"  reads in ASVs identical to R DADA2 (live run): {100 * _agreement(ours, tab):.2f} %;"
                  f" cells (sample, ASV) with equal counts: {100 * _cells_equal(ours, tab):.2f} %")
    if not args.no_vsearch:
        v = run_vsearch(data, work / "vs", args.threads)
        if v is not None:
            wall, rss, nz = v
            print(f"vsearch UNOISE3: {wall:7.1f} s  peak RSS {rss:7.0f} MB  ({nz} ZOTUs)  "
                  f"ratio vsearch/microtrial = {wall / mt:.2f}x")
    info = mt_out / "run-info.json"
    if info.exists():
        import json

        print("  microtrial stage timings of the median run (s):", json.loads(info.read_text())["timings_seconds"])


def _cells_equal(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Fraction of non-zero (sample, sequence) cells of either table with equal counts."""
    cols = [c for c in ours.columns if c in ref.columns]
    o = {(c, q): int(v) for c in cols for q, v in ours[c].items() if v > 0}
    r = {(c, q): int(v) for c in cols for q, v in ref[c].items() if v > 0}
    keys = set(o) | set(r)
    return sum(o.get(k) == r.get(k) for k in keys) / max(len(keys), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timed microtrial runs (median reported)")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--no-vsearch", action="store_true")
    ap.add_argument("--depths", nargs="+", default=["sop", "20000", "50000"],
                    help="'sop' and/or simulated read pairs per sample")
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
        work = Path(tmp)
        for depth in args.depths:
            if depth == "sop":
                data = args.data.resolve()
                if not data.is_dir():
                    print(f"sop: skipped: {data} not found")
                    continue
                bench_depth("MiSeq SOP depth", data, work / "sop", args, TRUNC["sop"])
            else:
                pairs = int(depth)
                data = simulate(work, pairs)
                bench_depth(f"{pairs} simulated V3-V4 pairs a sample", data, work / f"d{pairs}", args,
                            TRUNC["sim"])
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
