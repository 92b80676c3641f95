"""Scale benchmark: table-only studies of 100 to 20,000 samples, and denoising of 10 to 400.

Usage::

    .venv/bin/python benchmarks/scale.py --samples 100 1000 5000      # table-only stages
    .venv/bin/python benchmarks/scale.py --samples 2000 --stages diversity
    .venv/bin/python benchmarks/scale.py --samples 20000 --timeout 7200
    .venv/bin/python benchmarks/scale.py --denoise 10 100 400 --pairs 20000   # denoising memory
    .venv/bin/python benchmarks/scale.py --samples 2000 --skbio       # beside scikit-bio

Table-only part: a simulated study of N samples x 5,000 ASVs (about 2,100 ASVs per sample
drawn from a Pareto popularity, 1 + geometric counts, about 20,000 reads a sample), a random
rooted binary tree of 10,000 tips (the 5,000 ASVs and 5,000 others), and metadata with a
two-level ``group`` column and a numeric ``age``. Each stage runs as its own
``microtrial`` process (so its peak memory is its own, from ``/usr/bin/time -v``'s
"Maximum resident set size"): ``diversity`` (Bray-Curtis, Jaccard, Aitchison, unweighted
and weighted UniFrac, PERMANOVA, PERMDISP, ANOSIM, 999 permutations) and ``differential``
(all methods). Per stage: wall time, peak memory and the stage's own timings.

``--stages study`` runs the whole table-only study as a user would instead: ``study.yaml``
naming the BIOM table, the tree (``tree_file``), metadata (each subject sampled at
``baseline`` and ``week12``, half the subjects ``treated``) and a metabolite table;
comparisons treated vs control at baseline and week12 vs baseline in the treated; every beta
metric, the default differential methods, associations and the report, by ``microtrial -v
run``. Per stage: seconds and the stage's own peak memory (the process's high-water mark read
when the stage's log line arrives, then reset), and the size of ``report.html``::

    .venv/bin/python benchmarks/scale.py --samples 100 1000 5000 20000 --stages study

``--skbio`` times scikit-bio's ``beta_diversity("braycurtis")``, ``permanova`` (999) and
``pcoa`` (fsvd) on the same rarefied table beside microtrial's functions, in one process.

Denoising part: one simulated run (the project's trial simulator, V3-V4 2 x 300 nt with
primers; max(N) samples x about R read pairs, written one sample at a time and kept in
``--keep``'s folder for reuse); its first N samples denoised with ``microtrial denoise`` for
each N; wall and CPU time and peak memory per N, and the ratios of the peaks.
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


def write_study_file(d: Path, n_samples: int, seed: int = 1) -> Path:
    """A whole table-only study as a user writes it: ``study.yaml`` naming the BIOM table,
    the tree, metadata and a metabolite table; returns the study file.

    Every subject gives two samples (``baseline`` and ``week12``; ``n_samples / 2``
    subjects), half of the subjects ``treated``; comparisons: treated vs control at baseline
    (``between``, n/2 samples) and week12 vs baseline in the treated (``paired``, n/4
    pairs). Metabolites: five per sample, ``m1`` rising with the log abundance of the most
    common ASV (a planted association), the others noise.
    """
    files = ({k: d / v for k, v in (("table", "table.biom"), ("metadata", "metadata.tsv"),
                                     ("tree", "tree.nwk"))}
             if (d / "table.biom").exists() else write_study(d, n_samples, seed))
    rng = np.random.default_rng(seed + 2000)
    n = n_samples
    sids = [f"S{i:06d}" for i in range(n)]
    subj = np.arange(n) // 2
    md = pd.DataFrame({"subject": [f"P{s:06d}" for s in subj],
                       "time": np.where(np.arange(n) % 2, "week12", "baseline"),
                       "group": np.where(subj % 2, "treated", "control"),
                       "age": rng.integers(20, 80, n)},
                      index=pd.Index(sids, name="sample-id"))
    md.to_csv(files["metadata"], sep="\t")
    from microtrial.io.feature_table import read_table

    ft = read_table(files["table"])
    data = ft.data.tocsr()
    top = int(np.argmax(np.asarray((data > 0).sum(axis=1)).ravel()))
    rel = np.asarray(data[top].toarray()).ravel() / np.asarray(data.sum(axis=0)).ravel()
    met = pd.DataFrame({"m1": np.log(rel + 1e-4) + rng.normal(0, 0.5, n)},
                       index=pd.Index(list(ft.sample_ids), name="sample-id")).reindex(sids)
    for k in range(2, 6):
        met[f"m{k}"] = rng.lognormal(0, 1, n)
    met.to_csv(d / "metabolites.tsv", sep="\t", float_format="%.6g")
    study = d / "study.yaml"
    study.write_text(f"""name: simulated table-only study, {n} samples
metadata: metadata.tsv
design:
  subject: subject
  group: {{column: group, reference: control}}
  time: {{column: time, reference: baseline}}
table: table.biom
tree_file: tree.nwk
metabolites: metabolites.tsv
comparisons:
  - {{name: treated-vs-control, kind: between, column: group, levels: [treated, control], where: {{time: baseline}}}}
  - {{name: week12-vs-baseline, kind: paired, column: time, levels: [week12, baseline], where: {{group: treated}}}}
options:
  seed: 1
  threads: 2
  permutations: 999
  beta_metrics: [braycurtis, jaccard, aitchison, unweighted_unifrac, weighted_unifrac]
""")
    return study


def _read_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (every thread), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def run_study_timed(n: int, work: Path, timeout: float | None) -> list[dict]:
    """``microtrial -v run study.yaml``: wall seconds and peak memory of each stage.

    One process runs every stage, so the peak per stage comes from the kernel's high-water
    mark of that process (``VmHWM``), read when the stage's "stage X: ran" log line arrives
    and then reset (``/proc/PID/clear_refs`` = 5), so each stage's figure is its own peak;
    the whole run's peak is ``ru_maxrss`` from ``wait4``.
    """
    import json
    import threading

    t0 = time.perf_counter()
    study = write_study_file(work / f"n{n}", n)
    t_sim = time.perf_counter() - t0
    out = work / f"n{n}" / "run"
    cmd = [PY, "-m", "microtrial", "-v", "run", str(study), "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks: dict[str, float] = {}
    tail: list[str] = []
    stage_re = re.compile(r"stage (\w+): (ran|cached) \(([\d.]+) s")
    done: dict[str, float] = {}
    cpu_at = [0.0]

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip())
            del tail[:-20]
            m = stage_re.search(line)
            if m:
                peaks[m.group(1)] = _read_kb(proc.pid, "VmHWM") / 1024 ** 2
                try:
                    Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
                except OSError:
                    pass
                done[m.group(1)] = float(m.group(3))
                cpu = _cpu_seconds(proc.pid)
                print(_fmt_row({"samples": n, "stage": f"run: {m.group(1)}", "seconds": done[m.group(1)],
                                "peak_GB": peaks[m.group(1)], "status": 0,
                                "detail": f"{m.group(2)} cpu={cpu - cpu_at[0]:.1f}"}), flush=True)
                cpu_at[0] = cpu

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    rc: int | None = None
    ru = None
    while rc is None:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            rc = os.waitstatus_to_exitcode(status)
            break
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            _, status, ru = os.wait4(proc.pid, 0)
            rc = -9
            break
        time.sleep(0.5)
    proc.returncode = rc
    th.join(5)
    wall = time.perf_counter() - t0
    # the resets lower the kernel's own maximum too: the run's peak is the largest stage peak
    total_peak = max([ru.ru_maxrss / 1024 ** 2 if ru is not None else 0.0, *peaks.values()])
    cpu = (ru.ru_utime + ru.ru_stime) if ru is not None else float("nan")
    secs: dict[str, float] = dict(done)  # from the log lines (a run stopped by --timeout has no run-info)
    ri = out / "run-info.json"
    if ri.exists():
        secs.update({k: float(v) for k, v in json.loads(ri.read_text()).get("timings_seconds", {}).items()})
    rows = [{"samples": n, "stage": "simulate study files", "seconds": t_sim, "peak_GB": float("nan"),
             "status": 0, "detail": ""}]
    for st, pk in peaks.items():
        rows.append({"samples": n, "stage": f"run: {st}", "seconds": secs.get(st, float("nan")),
                     "peak_GB": pk, "status": 0, "detail": ""})
    size = (out / "report.html").stat().st_size / 1e6 if (out / "report.html").exists() else float("nan")
    rows.append({"samples": n, "stage": "run (whole study)", "seconds": wall, "peak_GB": total_peak,
                 "status": rc, "detail": f"cpu={cpu:.1f} report.html={size:.1f} MB"
                 + ("" if rc == 0 else " | " + " | ".join(tail[-5:]))})
    print(_fmt_row(rows[-1]), flush=True)
    return rows


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
        if st == "study":
            rows.extend(run_study_timed(n, work, timeout))
            continue
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
                     "agree": _agree(what, a, b), "theirs": b})
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
        if n > 1000 and n <= 5000:  # accuracy beside scikit-bio's exact (slow) eigh, untimed
            ours = np.asarray(pcoa(dm, dimensions=k)[1])
            exact = np.asarray(sk_pcoa(skdm, method="eigh", dimensions=k).proportion_explained)[:k]
            fast = np.asarray(rows[-1]["theirs"].proportion_explained)[:k]
            print(f"{n:>7} pcoa vs scikit-bio eigh: ours max|explained diff| "
                  f"{float(np.abs(ours - exact).max()):.1e}, scikit-bio fsvd "
                  f"{float(np.abs(fast - exact).max()):.1e}", flush=True)
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


def _trial(n: int, pairs: int, seed: int):  # noqa: ANN202
    from microtrial.simulate import SimulationDesign, simulate_trial

    controls = max(2, n // 10)
    patients = max(1, (n - controls) // 2)
    controls = max(0, n - 2 * patients)
    return simulate_trial(SimulationDesign(n_patients=patients, n_controls=controls,
                                           n_nonresponders=1, reads_per_sample=pairs), seed=seed)


def _write_samples(d: Path, n: int, pairs: int, seed: int, part: int, parts: int) -> None:
    """Write every ``parts``-th sample from ``part`` on (each file under a temporary name,
    renamed when complete; complete files are kept)."""
    import gzip

    trial = _trial(n, pairs, seed)
    for k, sid in enumerate(trial.sample_ids, start=1):
        if (k - 1) % parts != part:
            continue
        names = [d / f"{sid}_S{k}_L001_R{mate}_001.fastq.gz" for mate in (1, 2)]
        if all(p.exists() for p in names):
            continue
        reads = trial.reads(sid)
        for mate, path in zip((1, 2), names):
            tmp = path.with_name(path.name + ".part")
            with gzip.open(tmp, "wb", compresslevel=1) as fh:
                fh.write(reads.fastq(mate))
            tmp.rename(path)
        del reads


def simulate_reads(d: Path, n: int, pairs: int, seed: int = 3, jobs: int = 2) -> list[str]:
    """Write ``n`` simulated samples of about ``pairs`` read pairs (V3-V4, 2 x 300 nt, with
    primers; ``n // 10`` controls, the rest patients at baseline and week 12) into ``d`` as
    Illumina-named FASTQ.gz, one sample at a time in each of ``jobs`` processes (memory
    does not grow with ``n``; each sample's reads come from its own random stream, so the
    files do not depend on ``jobs``; gzip level 1 for speed).  An interrupted simulation is
    resumed; a finished one of the same parameters is reused.  Returns the FASTQ file
    pairs' common prefixes in sample order."""
    import json
    from concurrent.futures import ProcessPoolExecutor

    done = d / "simulated.json"
    params = {"n": n, "pairs": pairs, "seed": seed}
    if done.exists():
        info = json.loads(done.read_text())
        if info["params"] == params:
            return info["samples"]
        shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for f in [pool.submit(_write_samples, d, n, pairs, seed, j, jobs) for j in range(jobs)]:
            f.result()
    prefixes = [f"{sid}_S{k}_L001" for k, sid in enumerate(_trial(n, pairs, seed).sample_ids, start=1)]
    done.write_text(json.dumps({"params": params, "samples": prefixes}))
    return prefixes


def run_denoise(sizes: list[int], pairs: int, work: Path, timeout: float | None,
                threads: int = 2, run_size: int | None = None) -> list[dict]:
    """Denoise the first ``n`` samples of one simulated run of ``run_size`` (default
    ``max(sizes)``) samples of
    about ``pairs`` read pairs, for each ``n`` in ``sizes`` (``microtrial denoise``, default
    options, ``--threads`` 2, truncation 280/180 given so that the files are not read an
    extra time for the automatic choice): wall time, CPU time, peak memory per ``n``."""
    total = max(max(sizes), run_size or 0)
    folder = work / f"reads-{total}x{pairs}"
    t0 = time.perf_counter()
    prefixes = simulate_reads(folder, total, pairs)
    t_sim = time.perf_counter() - t0
    print(f"simulated {len(prefixes)} samples x ~{pairs} read pairs in {t_sim:.0f} s", flush=True)
    rows = []
    for n in sizes:
        d = work / f"denoise{n}"
        shutil.rmtree(d, ignore_errors=True)
        (d / "reads").mkdir(parents=True)
        for p in prefixes[:n]:
            for mate in (1, 2):
                name = f"{p}_R{mate}_001.fastq.gz"
                (d / "reads" / name).symlink_to(folder / name)
        wall, peak, rc, tail = _timed([PY, "-m", "microtrial", "denoise", str(d / "reads"),
                                       "--primer-f", "CCTACGGGNGGCWGCAG",
                                       "--primer-r", "GACTACHVGGGTATCTAATCC",
                                       "--trunc-len-f", "280", "--trunc-len-r", "180",
                                       "--threads", str(threads), "-o", str(d / "out")], timeout)
        row = {"samples": min(n, len(prefixes)), "stage": f"denoise ({pairs} pairs)", "seconds": wall,
               "peak_GB": peak, "status": rc,
               "detail": tail.split(" ", 1)[0] + " " + _stage_timings(d / "out")
               + ("" if rc == 0 else " " + tail.replace("\n", " | "))}
        print(_fmt_row(row), flush=True)
        rows.append(row)
        shutil.rmtree(d, ignore_errors=True)
    return rows


def _fmt_row(r: dict) -> str:
    return (f"{r['samples']:>7} {r['stage']:<24} {r['seconds']:>9.1f} {r['peak_GB']:>8.2f} "
            f"{r['status']:>6}  {r['detail']}")


def report_at_scale(results: Path, n: int, work: Path, timeout: float | None) -> dict:
    """Time ``microtrial report`` on a results folder shaped like an ``n``-sample study.

    ``results`` is a finished ``--stages study`` run (its ``run`` folder); its feature-level
    tables (differential, associations: their size does not grow with the samples) are kept and
    the per-sample ones (metadata, metabolites, alpha diversity, rarefaction curves, PCoA
    coordinates, dysbiosis) are replaced by random values for ``n`` samples (two per
    subject, as in :func:`write_study_file`). Prints wall and CPU time, peak memory and the
    size of ``report.html``.
    """
    rng = np.random.default_rng(0)
    dst = work / f"report{n}"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(results, dst, ignore=shutil.ignore_patterns(
        ".microtrial-cache", "figures", "tables", "exports", "report.html", "beta-*"))
    ids = pd.Index([f"S{i:06d}" for i in range(n)], name="sample-id")
    subj = np.arange(n) // 2
    md = pd.DataFrame({"subject": [f"P{s:06d}" for s in subj],
                       "time": np.where(np.arange(n) % 2, "week12", "baseline"),
                       "group": np.where(subj % 2, "treated", "control"),
                       "age": rng.integers(20, 80, n)}, index=ids)
    md.to_csv(dst / "inputs" / "metadata.tsv", sep="\t")
    pd.DataFrame(rng.lognormal(0, 1, (n, 5)), index=ids, columns=[f"m{k}" for k in range(1, 6)]).to_csv(
        dst / "inputs" / "metabolites.tsv", sep="\t", float_format="%.6g")
    a = pd.read_csv(results / "alpha-diversity.tsv", sep="\t", index_col=0)
    pd.DataFrame(a.sample(n, replace=True, random_state=0).to_numpy(), index=ids, columns=a.columns).to_csv(
        dst / "alpha-diversity.tsv", sep="\t")
    depths = sorted(pd.read_csv(results / "rarefaction-curves.tsv", sep="\t")["depth"].unique())
    curves = pd.DataFrame({"sample-id": np.repeat(ids, len(depths)), "depth": np.tile(depths, n)})
    curves["observed_features"] = np.minimum(curves["depth"], PER_SAMPLE) * rng.uniform(0.9, 1.0, len(curves))
    curves["shannon"] = np.log1p(curves["observed_features"])
    curves.to_csv(dst / "rarefaction-curves.tsv", sep="\t", index=False)
    for f in results.glob("pcoa-*.tsv"):
        if "explained" in f.name:
            continue
        pc = pd.DataFrame(rng.normal(0, 0.01, (n, 5)), index=ids, columns=[f"PC{i}" for i in range(1, 6)])
        with open(dst / f.name, "w") as fh:
            fh.write(f.read_text().splitlines()[0] + "\n")
            pc.to_csv(fh, sep="\t")
    pd.DataFrame({"sample-id": ids, "metric": "braycurtis", "dysbiosis": rng.uniform(0.5, 0.6, n),
                  "reference": (md["group"] == "control").to_numpy()}).to_csv(
        dst / "dysbiosis.tsv", sep="\t", index=False)
    treated = md.loc[md["group"] == "treated", "subject"].unique()
    ch = pd.DataFrame({"subject": treated, "comparison": "week12-vs-baseline",
                       "dysbiosis_baseline": rng.uniform(0.5, 0.6, len(treated)),
                       "dysbiosis_week12": rng.uniform(0.5, 0.6, len(treated))})
    ch["change"] = ch["dysbiosis_week12"] - ch["dysbiosis_baseline"]
    ch.to_csv(dst / "dysbiosis-change.tsv", sep="\t", index=False)
    wall, peak, rc, tail = _timed([PY, "-m", "microtrial", "report", str(dst)], timeout)
    size = (dst / "report.html").stat().st_size / 1e6 if (dst / "report.html").exists() else float("nan")
    row = {"samples": n, "stage": "report (per-sample tables at n)", "seconds": wall, "peak_GB": peak,
           "status": rc, "detail": tail.split(" ", 1)[0] + f" report.html={size:.1f} MB"
           + ("" if rc == 0 else " " + tail.replace("\n", " | "))}
    print(_fmt_row(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, nargs="*", default=[])
    ap.add_argument("--stages", nargs="+", default=["diversity", "differential"],
                    help="diversity, diversity-default, differential (each its own process) or "
                    "study (the whole study by `microtrial run`, per-stage time and peak)")
    ap.add_argument("--denoise", type=int, nargs="*", default=[])
    ap.add_argument("--skbio", action="store_true")
    ap.add_argument("--pairs", type=int, default=20000, help="read pairs per sample for --denoise")
    ap.add_argument("--denoise-run", type=int, default=None,
                    help="samples of the simulated run whose first N --denoise denoises (default: "
                    "the largest N; with --keep, one simulation serves separate invocations)")
    ap.add_argument("--timeout", type=float, default=None, help="per stage, seconds")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: temporary)")
    ap.add_argument("--report-from", type=Path, default=None, metavar="RUN_DIR",
                    help="with --report-samples: the run folder of a finished --stages study run")
    ap.add_argument("--report-samples", type=int, nargs="*", default=[],
                    help="time the report on RUN_DIR's tables with per-sample tables of N samples")
    args = ap.parse_args(argv)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cpus")
    work = args.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        print(f"{'samples':>7} {'stage':<24} {'seconds':>9} {'peak GB':>8} {'status':>6}  stage timings")
        for n in args.samples:
            run_table(n, args.stages, work, args.timeout)
        rows = (run_denoise(args.denoise, args.pairs, work, args.timeout, run_size=args.denoise_run)
                if args.denoise else [])
        if len(rows) >= 2 and all(r["status"] == 0 for r in rows):
            print(f"peak memory, largest / smallest run: {rows[-1]['peak_GB'] / rows[0]['peak_GB']:.3f}")
            if len(rows) >= 3:
                print(f"peak memory, largest / second largest run: "
                      f"{rows[-1]['peak_GB'] / rows[-2]['peak_GB']:.3f}")
        if args.skbio:
            for n in args.samples:
                run_skbio(n, work)
        for n in args.report_samples:
            if args.report_from is None:
                raise SystemExit("--report-samples needs --report-from RUN_DIR")
            report_at_scale(args.report_from, n, work, args.timeout)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
