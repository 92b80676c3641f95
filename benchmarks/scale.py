"""Scale benchmark: table-only studies of 100 to 20,000 samples, and denoising of 10 to 400.

Usage::

    .venv/bin/python benchmarks/scale.py --samples 100 1000 5000      # table-only stages
    .venv/bin/python benchmarks/scale.py --samples 2000 --stages diversity
    .venv/bin/python benchmarks/scale.py --samples 20000 --timeout 7200
    .venv/bin/python benchmarks/scale.py --denoise 10 100 400         # denoising memory
    .venv/bin/python benchmarks/scale.py --samples 2000 --skbio       # beside scikit-bio

Table-only part: a simulated study of N samples x 5,000 ASVs (about 2,100 ASVs per sample
drawn from a Pareto popularity, 1 + geometric counts, about 20,000 reads a sample), a random
rooted binary tree of 10,000 tips (the 5,000 ASVs and 5,000 others), and metadata with a
two-level ``group`` column and a numeric ``age``. Each stage runs as its own
``microtrial`` process (so its peak memory is its own, from ``/usr/bin/time -v``'s
"Maximum resident set size"): ``diversity`` (Bray-Curtis, Jaccard, Aitchison, unweighted
and weighted UniFrac, PERMANOVA, PERMDISP, ANOSIM, 999 permutations) and ``differential``
(all methods). Per stage: wall time, peak memory and the stage's own timings.

``--skbio`` times scikit-bio's ``beta_diversity("braycurtis")``, ``permanova`` (999) and
``pcoa`` (fsvd) on the same rarefied table beside microtrial's functions, in one process.

Denoising part: ``microtrial simulate``-style reads (N samples x R read pairs) denoised with
``microtrial denoise``; peak memory per N, and the ratio of the largest to the smallest.
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

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
N_ASVS = 5000
PER_SAMPLE = 2100
N_TIPS = 10000


def _random_newick(ids: list[str], rng: np.random.Generator) -> str:
    """A random rooted binary tree (random joins) with uniform branch lengths, as Newick."""
    nodes = [f"{i}:{rng.uniform(0.01, 0.5):.4f}" for i in ids]
    order = list(rng.permutation(len(nodes)))
    nodes = [nodes[i] for i in order]
    while len(nodes) > 1:
        nxt = []
        rng.shuffle(nodes)
        for k in range(0, len(nodes) - 1, 2):
            nxt.append(f"({nodes[k]},{nodes[k + 1]}):{rng.uniform(0.0, 0.2):.4f}")
        if len(nodes) % 2:
            nxt.append(nodes[-1])
        nodes = nxt
    return nodes[0].rsplit(":", 1)[0] + ";\n"


def simulate_table(n_samples: int, *, n_asvs: int = N_ASVS, per_sample: int = PER_SAMPLE,
                   seed: int = 1, chunk: int = 500) -> sp.csr_matrix:
    """Features x samples CSR counts: ``per_sample`` ASVs per sample, weighted by popularity."""
    rng = np.random.default_rng(seed)
    logw = np.log(rng.pareto(1.2, n_asvs) + 0.05)
    cols = []
    for lo in range(0, n_samples, chunk):
        m = min(chunk, n_samples - lo)
        keys = logw[None, :] + rng.gumbel(size=(m, n_asvs))  # Gumbel top-k = weighted draw w/o replacement
        top = np.argpartition(-keys, per_sample - 1, axis=1)[:, :per_sample]
        top.sort(axis=1)
        counts = 1 + rng.geometric(0.1, size=top.shape)
        # ASV abundance also follows its popularity
        counts = counts * (1 + (np.exp(logw[top]) > 2))
        indptr = np.arange(0, m * per_sample + 1, per_sample)
        cols.append(sp.csr_matrix((counts.ravel().astype(np.int64), top.ravel(), indptr),
                                  shape=(m, n_asvs)))
    return sp.csr_matrix(sp.vstack(cols).T)


def write_study(d: Path, n_samples: int, seed: int = 1) -> dict[str, Path]:
    """Write table.biom, metadata.tsv and tree.nwk of a simulated table-only study."""
    from microtrial.io.feature_table import write_biom
    from microtrial.table import FeatureTable

    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1000)
    data = simulate_table(n_samples, seed=seed)
    fids = [f"ASV{i:05d}" for i in range(N_ASVS)]
    sids = [f"S{i:06d}" for i in range(n_samples)]
    write_biom(FeatureTable(data, fids, sids), d / "table.biom")
    md = pd.DataFrame({"group": np.where(np.arange(n_samples) % 2, "treated", "control"),
                       "age": rng.integers(20, 80, n_samples)},
                      index=pd.Index(sids, name="sample-id"))
    md.to_csv(d / "metadata.tsv", sep="\t")
    others = [f"OTHER{i:05d}" for i in range(N_TIPS - N_ASVS)]
    (d / "tree.nwk").write_text(_random_newick(fids + others, rng))
    return {"table": d / "table.biom", "metadata": d / "metadata.tsv", "tree": d / "tree.nwk"}


def _timed(cmd: list[str], timeout: float | None) -> tuple[float, float, int, str]:
    """Run under /usr/bin/time -v: (wall s, peak GB, exit status, stderr tail).

    The tail starts with ``cpu=<user+system s>``: on a shared machine CPU time is the
    load-independent figure (the stages are mostly single-threaded).
    """
    t0 = time.perf_counter()
    try:
        p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                           timeout=timeout)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc = -9
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    wall = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    peak = int(m.group(1)) / 1024 ** 2 if m else float("nan")
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))
    tail = "\n".join(line for line in err.splitlines() if not line.startswith("\t"))[-600:]
    return wall, peak, rc, f"cpu={cpu:.1f} " + tail


def _stage_timings(out: Path) -> str:
    import json

    ri = out / "run-info.json"
    if not ri.exists():
        return ""
    t = json.loads(ri.read_text()).get("timings_seconds", {})
    return " ".join(f"{k}={v:.1f}" for k, v in t.items() if isinstance(v, int | float))


def run_table(n: int, stages: list[str], work: Path, timeout: float | None) -> list[dict]:
    rows = []
    t0 = time.perf_counter()
    files = write_study(work / f"n{n}", n)
    rows.append({"samples": n, "stage": "simulate (write BIOM)", "seconds": time.perf_counter() - t0,
                 "peak_GB": float("nan"), "status": 0, "detail": ""})
    mt = [PY, "-m", "microtrial"]
    for st in stages:
        out = work / f"n{n}" / st
        if st == "diversity":
            cmd = [*mt, "diversity", "--table", str(files["table"]), "--metadata",
                   str(files["metadata"]), "--tree", str(files["tree"]), "--group", "group",
                   "--metrics", "braycurtis,jaccard,aitchison,unweighted_unifrac,weighted_unifrac",
                   "--output-dir", str(out)]
        elif st == "diversity-default":  # the command's default metrics, no tree (table-only study)
            cmd = [*mt, "diversity", "--table", str(files["table"]), "--metadata",
                   str(files["metadata"]), "--group", "group", "--output-dir", str(out)]
        elif st == "differential":
            cmd = [*mt, "differential", "--table", str(files["table"]), "--metadata",
                   str(files["metadata"]), "--group", "group", "--method", "all", "--output-dir", str(out)]
        else:
            raise SystemExit(f"unknown stage {st}")
        wall, peak, rc, tail = _timed(cmd, timeout)
        cpu = tail.split(" ", 1)[0]
        rows.append({"samples": n, "stage": st, "seconds": wall, "peak_GB": peak, "status": rc,
                     "detail": f"{cpu} " + (_stage_timings(out) if rc == 0 else tail.replace("\n", " | "))})
        print(_fmt_row(rows[-1]), flush=True)
    return rows


def run_skbio(n: int, work: Path) -> list[dict]:
    """scikit-bio's beta_diversity, permanova and pcoa beside microtrial's, same rarefied table."""
    import warnings

    from skbio import DistanceMatrix
    from skbio.diversity import beta_diversity as sk_beta
    from skbio.stats.distance import permanova as sk_permanova
    from skbio.stats.ordination import pcoa as sk_pcoa

    from microtrial.diversity import beta_diversity, pcoa, permanova, rarefy
    from microtrial.io.feature_table import read_table

    files = write_study(work / f"n{n}", n) if not (work / f"n{n}" / "table.biom").exists() else {
        "table": work / f"n{n}" / "table.biom", "metadata": work / f"n{n}" / "metadata.tsv"}
    ft = read_table(files["table"])
    md = pd.read_csv(files["metadata"], sep="\t", index_col=0)
    md.index = md.index.astype(str)
    rt = rarefy(ft, int(ft.sample_totals().min()), seed=0)
    ids = list(rt.sample_ids)
    rows = []

    def pair(what: str, ours, theirs) -> None:  # noqa: ANN001
        t0 = time.perf_counter()
        a = ours()
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = theirs()
        t_sk = time.perf_counter() - t0
        rows.append({"samples": n, "what": what, "ours": t_ours, "skbio": t_sk, "ratio": t_sk / t_ours,
                     "agree": _agree(what, a, b)})
        print(f"{n:>7} {what:<28} ours {t_ours:8.2f} s  scikit-bio {t_sk:8.2f} s  "
              f"ratio {t_sk / t_ours:6.1f}  {rows[-1]['agree']}", flush=True)

    counts = rt.data.T.toarray()
    beta_diversity(rt.select_samples(ids[:3]), "braycurtis")  # warm the JIT
    pair("beta braycurtis", lambda: beta_diversity(rt, "braycurtis").to_numpy(),
         lambda: sk_beta("braycurtis", counts, ids).data)
    dm = beta_diversity(rt, "braycurtis")
    grouping = md.loc[ids, "group"].to_numpy()
    skdm = DistanceMatrix(dm.to_numpy(), ids)
    pair("permanova 999", lambda: permanova(dm, md.loc[ids], ["group"], permutations=999, seed=1),
         lambda: sk_permanova(skdm, grouping, permutations=999))
    k = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pair("pcoa (5 axes)", lambda: pcoa(dm, dimensions=k),
             lambda: sk_pcoa(skdm, method="eigh" if n <= 1000 else "fsvd", dimensions=k))
    return rows


def _agree(what: str, a: object, b: object) -> str:
    if what.startswith("beta"):
        return f"max|diff| {float(np.abs(np.asarray(a) - np.asarray(b)).max()):.1e}"
    if what.startswith("permanova"):
        fa = float(a.iloc[0]["pseudo_F"])  # type: ignore[attr-defined]
        fb = float(b["test statistic"])  # type: ignore[index]
        return f"pseudo-F {fa:.10g} vs {fb:.10g}"
    if what.startswith("pcoa"):
        ea = np.asarray(a[1])  # type: ignore[index]
        eb = np.asarray(b.proportion_explained)[: ea.size]  # type: ignore[attr-defined]
        return f"max|explained diff| {float(np.abs(ea - eb).max()):.1e}"
    return ""


def run_denoise(n: int, pairs: int, work: Path, timeout: float | None) -> dict:
    """Simulate about ``n`` samples of ``pairs`` read pairs and denoise them: time and peak."""
    d = work / f"reads{n}"
    controls = max(2, n // 10)
    patients = max(1, (n - controls) // 2)
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "microtrial", "simulate", "-o", str(d), "--patients", str(patients),
                    "--controls", str(controls), "--reads-per-sample", str(pairs), "--seed", "3"],
                   check=True, capture_output=True)
    t_sim = time.perf_counter() - t0
    n_samples = len(list((d / "reads").glob("*_R1_*")))
    wall, peak, rc, tail = _timed([PY, "-m", "microtrial", "denoise", str(d / "reads"),
                                   "--primer-f", "CCTACGGGNGGCWGCAG", "--primer-r", "GACTACHVGGGTATCTAATCC",
                                   "-o", str(d / "denoise")], timeout)
    row = {"samples": n_samples, "stage": f"denoise ({pairs} pairs)", "seconds": wall, "peak_GB": peak,
           "status": rc, "detail": tail.split(" ", 1)[0] + f" simulate={t_sim:.0f}"
           + ("" if rc == 0 else " " + tail.replace("\n", " | "))}
    print(_fmt_row(row), flush=True)
    shutil.rmtree(d, ignore_errors=True)
    return row


def _fmt_row(r: dict) -> str:
    return (f"{r['samples']:>7} {r['stage']:<24} {r['seconds']:>9.1f} {r['peak_GB']:>8.2f} "
            f"{r['status']:>6}  {r['detail']}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, nargs="*", default=[])
    ap.add_argument("--stages", nargs="+", default=["diversity", "differential"])
    ap.add_argument("--denoise", type=int, nargs="*", default=[])
    ap.add_argument("--skbio", action="store_true")
    ap.add_argument("--pairs", type=int, default=20000, help="read pairs per sample for --denoise")
    ap.add_argument("--timeout", type=float, default=None, help="per stage, seconds")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: temporary)")
    args = ap.parse_args(argv)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cpus")
    work = args.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        print(f"{'samples':>7} {'stage':<24} {'seconds':>9} {'peak GB':>8} {'status':>6}  stage timings")
        for n in args.samples:
            run_table(n, args.stages, work, args.timeout)
        rows = [run_denoise(n, args.pairs, work, args.timeout) for n in args.denoise]
        if len(rows) >= 2 and all(r["status"] == 0 for r in rows):
            print(f"peak memory, largest / smallest run: {rows[-1]['peak_GB'] / rows[0]['peak_GB']:.3f}")
        if args.skbio:
            for n in args.samples:
                run_skbio(n, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
