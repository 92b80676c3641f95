"""MinPath's integer program: microtrial (HiGHS via scipy) vs GLPK's glpsol, side by side.

    python benchmarks/minpath_glpk.py [--ref ../shared/data/picrust2-ref] [--samples 40]

PICRUSt2 runs MinPath 1.2, which writes its set-cover program as an MPS file (rows: one
``>= 1`` constraint per reaction found, in input order; columns: one binary variable per
candidate pathway, in the order of PICRUSt2's name-sorted map) and solves it with GLPK's
``glpsol``. Where several minimal pathway sets exist the solvers may choose differently;
this script measures how often, and what it does to the pathway abundances, on
metagenomes built from PICRUSt2's archaeal genomes (random mixtures of 5-30 genomes; their
EC copies regrouped to MetaCyc reactions). Needs ``glpsol`` (Debian: glpk-utils); it is
a benchmark-only competitor, never called by microtrial.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.function import (
    minimal_pathways,
    parse_pathway_map,
    parse_regroup_map,
    pathway_abundance,
    regroup,
)
from microtrial.function._minpath import POPULATE_FRACTION

ROOT = Path(__file__).resolve().parents[1]


def _mps(found: list[str], pathways: dict[str, list[str]]) -> tuple[str, list[str]]:
    """The program in MPS form, rows and columns ordered as MinPath writes them."""
    fam_index: dict[str, int] = {}
    for p in sorted(pathways):
        for r in dict.fromkeys(pathways[p]):
            fam_index.setdefault(r, len(fam_index) + 1)
    fset = set(found)
    cols = [p for p in sorted(pathways) if any(r in fset for r in pathways[p])]
    lines = ["NAME          PATH", "ROWS", " N  NUM"]
    lines += [f" G  F{fam_index[r]}" for r in found]
    lines.append("COLUMNS")
    for j, p in enumerate(cols, start=1):
        lines.append(f"    {'P' + str(j):<10}{'NUM':<10}{1:>10}")
        for r in found:
            if r in set(pathways[p]):
                lines.append(f"    {'P' + str(j):<10}{'F' + str(fam_index[r]):<10}{1:>10}")
    lines.append("RHS")
    lines += [f"    {'RHS1':<10}{'F' + str(fam_index[r]):<10}{1.0:>10.1f}" for r in found]
    lines.append("BOUNDS")
    lines += [f" BV {'BND1':<10}{'P' + str(j):<10}" for j in range(1, len(cols) + 1)]
    lines.append("ENDATA")
    return "\n".join(lines) + "\n", cols


def glpk_minimal(found: list[str], pathways: dict[str, list[str]], work: Path) -> set[str]:
    text, cols = _mps(found, pathways)
    mps, out = work / "p.mps", work / "p.out"
    mps.write_text(text)
    subprocess.run(["glpsol", "--mps", str(mps), "-o", str(out)], check=True,
                   capture_output=True)
    chosen: set[str] = set()
    in_cols = False
    for line in out.read_text().splitlines():
        parts = line.split()
        if parts[:2] == ["No.", "Column"]:
            in_cols = True
            continue
        if in_cols and len(parts) >= 4 and parts[1].startswith("P") and parts[0].isdigit():
            if parts[3] == "1":
                chosen.add(cols[int(parts[1][1:]) - 1])
    return chosen


def _populate(chosen: set[str], found: set[str], pathways: dict[str, list[str]]) -> set[str]:
    out = set(chosen)
    for p, rx in pathways.items():
        members = list(dict.fromkeys(rx))
        hits = sum(1 for r in members if r in found)
        if p not in out and hits and hits >= len(members) * POPULATE_FRACTION:
            out.add(p)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", type=Path, default=ROOT.parent / "shared" / "data" / "picrust2-ref")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--map", default="metacyc_pathways_structured_filtered_v24.txt")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("glpsol") is None:
        raise SystemExit("glpsol not found (Debian: apt-get install glpk-utils)")
    maps = args.ref / "pathway_mapfiles"
    pmap = parse_pathway_map((maps / args.map).read_text().splitlines())
    rg = parse_regroup_map((maps / "ec_level4_to_metacyc_rxn_new.tsv").read_text().splitlines())
    ec = pd.read_csv(args.ref / "archaea" / "ec.txt.gz", sep="\t", index_col=0)
    rng = np.random.default_rng(args.seed)
    cols = {}
    for s in range(args.samples):
        k = int(rng.integers(5, 31))
        genomes = rng.choice(ec.index, size=k, replace=False)
        weights = rng.gamma(1.0, 50.0, size=k).round(2)
        cols[f"S{s}"] = (ec.loc[genomes].T * weights).sum(axis=1)
    table = pd.DataFrame(cols)
    table = table.loc[(table != 0).any(axis=1)]
    reactions = regroup(table, rg)
    reactions = reactions[reactions.index.isin(pmap.all_reactions())]
    same_min = same_pop = 0
    t_highs = t_glpk = 0.0
    glpk_present: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in reactions.columns:
            found = [r for r in reactions.index if reactions.at[r, s] != 0]
            t0 = time.perf_counter()
            ours = minimal_pathways(found, pmap.reactions, populate=None)
            t_highs += time.perf_counter() - t0
            t0 = time.perf_counter()
            theirs = glpk_minimal(found, pmap.reactions, Path(tmp))
            t_glpk += time.perf_counter() - t0
            assert len(ours) == len(theirs), (s, len(ours), len(theirs))
            same_min += ours == theirs
            fset = set(found)
            pop_ours = _populate(ours, fset, pmap.reactions)
            pop_theirs = _populate(theirs, fset, pmap.reactions)
            same_pop += pop_ours == pop_theirs
            glpk_present[s] = sorted(pop_theirs)
    n = reactions.shape[1]
    print(f"samples: {n} (archaeal genome mixtures, seed {args.seed}); map {args.map}")
    print("minimum set size equal in every sample (both optimal)")
    print(f"identical minimal sets: {same_min}/{n}; identical after MinPath's add-back: {same_pop}/{n}")
    print(f"solver time: HiGHS {t_highs:.2f} s, glpsol (incl. process start) {t_glpk:.2f} s")
    res = pathway_abundance(table, pmap, regroup_map=rg)
    differing = 0
    total = 0
    for s in reactions.columns:
        a, b = set(res.present[s]), set(glpk_present[s])
        total += len(a | b)
        differing += len(a ^ b)
    print(f"pathways called present by one solver only: {differing} of {total} "
          f"sample-pathway calls ({100 * differing / max(total, 1):.2f}%)")


if __name__ == "__main__":
    main()
