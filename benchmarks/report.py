"""The demo report in Chromium: size, time to interactive, and the exports checked by their
own tools.

    python benchmarks/report.py [--results DIR] [--repeats 5] [--r]

Without ``--results`` the demo is run first (about a minute). Prints:

- ``report.html`` size (target: under 10 MB);
- time from navigation start until the tables sort and filter (set up before plotly.js is
  parsed), until the figure hooks are ready (``body[data-ready]``) and until the figures on
  the first screen are drawn, median of ``--repeats`` fresh page loads (target: under 3 s);
- the time to draw every figure of the page at once (what a reader never waits for: figures
  are drawn as they come near the screen);
- the ``.qza`` exports read back with ``microtrial.io.qza`` and their QIIME 2 layout;
- with ``--r``: ``Rscript`` sources ``exports/phyloseq/load-phyloseq.R`` (needs
  r-bioc-phyloseq; benchmark only) and prints the phyloseq object and its dimensions,
  compared with the feature table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def browser_times(report: Path, repeats: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    tables, ready, first, full = [], [], [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for _ in range(repeats):
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))  # noqa: B023
            page.goto(report.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=30000)
            ready.append(page.evaluate("performance.now()") / 1000)
            tables.append(float(page.evaluate("document.body.dataset.tablesReady")) / 1000)
            page.wait_for_function(
                "[...document.querySelectorAll('.plot')].filter(e => e.getBoundingClientRect().top < "
                "innerHeight).every(e => e.dataset.rendered === '1')", timeout=30000)
            first.append(page.evaluate("performance.now()") / 1000)
            t0 = time.perf_counter()
            page.evaluate("microtrialDrawAll()")
            page.wait_for_function("[...document.querySelectorAll('.plot')].every(e => e.dataset.rendered)",
                                   timeout=120000)
            full.append(time.perf_counter() - t0)
            if errors:
                print("page errors:", errors)
            page.close()
        b.close()
    return {"tables": statistics.median(tables), "ready": statistics.median(ready), "first_screen": statistics.median(first),
            "all_figures": statistics.median(full)}


def check_qza(folder: Path) -> None:
    from microtrial.io.qza import qza_info, read_qza

    for path in sorted(folder.glob("*.qza")):
        info = qza_info(path)
        payload = read_qza(path)
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        top = info.uuid
        layout = all(f"{top}/{n}" in names for n in ("metadata.yaml", "VERSION"))
        layout &= any(n.startswith(f"{top}/data/") for n in names)
        layout &= any(n.startswith(f"{top}/provenance/") for n in names)
        size = (f"{payload.count(tips=True)} tips" if hasattr(payload, "tips")
                else getattr(payload, "shape", None) or len(payload))
        print(f"  {path.name:<16} {info.type:<24} format {info.format}, archive {info.archive_version}, "
              f"layout ok: {layout}; read back: {type(payload).__name__} {size}")


def check_r(phyloseq_dir: Path) -> None:
    script = (f"dir <- '{phyloseq_dir}'; source(file.path(dir, 'load-phyloseq.R')); print(ps); "
              "cat('ntaxa', ntaxa(ps), 'nsamples', nsamples(ps), 'total', sum(otu_table(ps)), '\\n'); "
              "cat('ranks', rank_names(ps), '\\n'); cat('tree tips', length(phy_tree(ps)$tip.label), '\\n')")
    t0 = time.perf_counter()
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=False)
    print(out.stdout.strip())
    if out.returncode:
        print(out.stderr.strip())
    print(f"  Rscript exit {out.returncode} in {time.perf_counter() - t0:.1f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, help="a run's output folder holding report.html")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--r", action="store_true", help="check the phyloseq export in R")
    a = ap.parse_args()
    results = a.results
    if results is None:
        from microtrial.pipeline.demo import run_demo

        results = Path(tempfile.mkdtemp(prefix="report-bench-")) / "demo"
        _, secs = run_demo(results, seed=1, threads=2)
        print(f"demo: {secs:.1f} s")
    report = results / "report.html"
    print(f"report.html: {report.stat().st_size / 1024**2:.2f} MB (target < 10 MB)")
    n_fig = len(list((results / "figures").glob("*.svg")))
    print(f"figures/: {n_fig} figures x (svg, pdf, png); tables/: "
          f"{len(list((results / 'tables').glob('*.tsv')))} TSV")
    t = browser_times(report, a.repeats)
    print(f"Chromium, median of {a.repeats} loads (seconds from navigation start): tables sort and "
          f"filter at {t['tables']:.2f} s; figure hooks ready {t['ready']:.2f} s; "
          f"first screen drawn {t['first_screen']:.2f} s (target < 3 s); every figure drawn at once "
          f"{t['all_figures']:.2f} s")
    print("QIIME 2 artifacts:")
    check_qza(results / "exports" / "qiime2")
    if a.r:
        print("phyloseq in R:")
        check_r(results / "exports" / "phyloseq")
    return 0


if __name__ == "__main__":
    sys.exit(main())
