"""Speed of the metagenome and pathway steps (PICRUSt2's metagenome_pipeline.py and
pathway_pipeline.py equivalents) on PICRUSt2's archaeal trait tables.

    python benchmarks/function_steps.py [--asvs 500] [--samples 50] [--repeats 3]

ASVs are archaeal reference genomes (their EC copies and 16S copies as predictions), counts
are random; prints the median time of each step and the peak memory (ru_maxrss). PICRUSt2
itself is not installed here (conda-only), so there is no side-by-side run; the MinPath
solver is compared with GLPK in benchmarks/minpath_glpk.py.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.function import (
    parse_pathway_map,
    parse_regroup_map,
    pathway_abundance,
    predict_metagenome,
)

ROOT = Path(__file__).resolve().parents[1]


def _median_time(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", type=Path, default=ROOT.parent / "shared" / "data" / "picrust2-ref")
    parser.add_argument("--asvs", type=int, default=500)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ec = pd.read_csv(args.ref / "archaea" / "ec.txt.gz", sep="\t", index_col=0)
    s16 = pd.read_csv(args.ref / "archaea" / "16S.txt.gz", sep="\t", index_col=0)
    ids = ec.index[: args.asvs]
    rng = np.random.default_rng(1)
    counts = rng.poisson(20, (len(ids), args.samples)) * rng.integers(0, 2, (len(ids), args.samples))
    table = pd.DataFrame(counts, index=ids, columns=[f"S{i}" for i in range(args.samples)])
    maps = args.ref / "pathway_mapfiles"
    pmap = parse_pathway_map((maps / "metacyc_pathways_structured_filtered_v24.txt").read_text().splitlines())
    rg = parse_regroup_map((maps / "ec_level4_to_metacyc_rxn_new.tsv").read_text().splitlines())
    print(f"{len(ids)} ASVs x {args.samples} samples x {ec.shape[1]} EC numbers; "
          f"median of {args.repeats} runs")
    t, meta = _median_time(lambda: predict_metagenome(table, ec.loc[ids], s16.loc[ids]),
                           args.repeats)
    print(f"metagenome (unstratified):          {t:8.2f} s")
    t, strat = _median_time(lambda: predict_metagenome(table, ec.loc[ids], s16.loc[ids],
                                                       stratified=True), args.repeats)
    print(f"metagenome + contributions:         {t:8.2f} s  ({len(strat.contributions):,} rows)")
    unstrat = meta.unstratified
    t, res = _median_time(lambda: pathway_abundance(unstrat, pmap, regroup_map=rg),
                          args.repeats)
    print(f"pathways (MinPath, gap filling):    {t:8.2f} s  ({res.abundance.shape[0]} pathways)")
    t, _ = _median_time(lambda: pathway_abundance(unstrat, pmap, regroup_map=rg, coverage=True),
                        args.repeats)
    print(f"pathways + coverage:                {t:8.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
