"""Placement variants against EPA-ng's jplace on PICRUSt2's place_seqs test data (a
diagnostic, not a test; the figures are in PLACEMENT-NOTES.md).

Run from the repository root::

    .venv/bin/python -m tests.function._epa_variants [--papara DIR]

``DIR`` holds ``study_seqs_papara.fasta`` and ``ref_seqs_papara.fasta`` (or any subset of
its reference rows) from PICRUSt2's repository,
``tests/test_data/place_seqs/place_seqs_output/place_seqs_working/``: the alignment EPA-ng
actually placed. They are not part of ``../shared/data`` and are not copied here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

import microtrial.function._place as P
from microtrial.function import load_reference, predict_traits
from microtrial.function._jplace import parse_jplace
from microtrial.function._phylo import parse_newick

from ._naive_place import tree_loglik

DATA = (Path(os.environ.get("MICROTRIAL_SHARED", Path(__file__).resolve().parents[3] / "shared"))
        / "data" / "picrust2-tests" / "place_seqs")
# EPA-ng v0.2.1's log for this run (PICRUSt2's epa_out/epa_info.log): "Specified model: GTR+G",
# alpha 1 (4 mean categories), base frequencies 0.25, substitution rates 0.5 0.5 0.5 0.5 0.5 1;
# without --opt-ref-tree these are not re-estimated.
EPA_DEFAULT = "GTR{0.5/0.5/0.5/0.5/0.5/1}+FU{0.25/0.25/0.25/0.25}+G4m{1}"


def _fasta(path: Path) -> dict[str, str]:
    return P.read_aligned_fasta(path)


def _nsti(newick: str, query: str) -> float:
    t = parse_newick(newick)
    known = [n for n in t.names if n and not re.fullmatch(r"[0-9a-f]{32}", n)]
    table = pd.DataFrame({"x": np.zeros(len(known), dtype=int)}, index=known)
    return float(predict_traits(t, table, calculate_nsti=True).loc[query, "metadata_NSTI"])


class Bench:
    def __init__(self) -> None:
        self.seqs = {k: v.replace("-", "") for k, v in _fasta(DATA / "study_seqs_test.fasta").items()}
        self.ref = load_reference(DATA / "reference").read_placement()
        self.epa_tree, self.node_of_edge, self.epa = parse_jplace(
            (DATA / "expected" / "epa_result.jplace").read_text())
        self.expected_tree = (DATA / "expected" / "img_centroid_16S_aligned_head30_placed.tre"
                              ).read_text()
        self.hmmalign, _ = P.align_queries(self.seqs, self.ref)
        fna = _fasta(next((DATA / "reference").glob("*.fna.gz")))
        tree = self.ref.tree
        width = len(next(iter(fna.values())))
        codes = np.full((tree.n_nodes, width), 15, dtype=np.uint8)
        for v in np.flatnonzero(tree.is_tip):
            codes[v] = P._CODE[np.frombuffer(fna[tree.names[v]].encode(), dtype=np.uint8)]
        # the reference's own columns, without hmmalign --mapali's re-layout of its inserts
        self.raw = dataclasses.replace(self.ref, codes=codes, match_columns=np.arange(width),
                                       insert_width=np.zeros(width, dtype=np.int64))
        self.fna = fna
        hmm = next((DATA / "reference").glob("*.hmm")).read_text()
        self.hmm_map = P.parse_hmm_map(hmm)

    def own_columns(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """hmmalign's match-state residues in the reference's own columns (inserts dropped)."""
        out = {}
        for q, (cols, masks) in self.hmmalign.items():
            is_match = np.isin(cols, self.ref.match_columns)
            state = np.searchsorted(self.ref.match_columns, cols[is_match])
            out[q] = (self.hmm_map[state].astype(np.int64), masks[is_match])
        return out

    def place(self, ref: P.PlacementReference, aligned: dict) -> P.PlacementResult:
        real = P.align_queries
        P.align_queries = lambda seqs, r, **kw: ({q: aligned[q] for q in seqs}, {})
        try:
            return P.place_sequences(self.seqs, ref)
        finally:
            P.align_queries = real

    def measure(self, label: str, ref: P.PlacementReference, aligned: dict) -> P.PlacementResult:
        res = self.place(ref, aligned)
        ours = res.best.set_index("query")
        on_best = on_heavy = 0
        ratios, pendants = [], []
        for q, grp in self.epa.groupby("query"):
            grp = grp.sort_values("like_weight_ratio", ascending=False)
            top = int(self.node_of_edge[int(grp["edge"].iloc[0])])
            heavy = {int(self.node_of_edge[e])
                     for e in grp.loc[grp["like_weight_ratio"] > 0.1, "edge"]}
            e = int(ours.loc[q, "edge"])
            on_best += e == top
            on_heavy += e in heavy
            ratios.append(_nsti(res.placed_tree, q) / _nsti(self.expected_tree, q))
            pendants.append(float(ours.loc[q, "pendant_length"]))
        print(f"{label}: best edge {on_best}/5, on an edge EPA-ng weights > 0.1 {on_heavy}/5, "
              f"NSTI ours/EPA-ng {min(ratios):.3f}-{max(ratios):.3f}, pendant "
              f"{min(pendants):.3f}-{max(pendants):.3f}")
        return res


def papara(bench: Bench, folder: Path) -> tuple[np.ndarray, dict[str, str]]:
    """Map PaPaRa's columns onto the reference's (PaPaRa adds all-gap columns to the
    reference rows and drops some all-gap ones): -1 for added columns."""
    pap = _fasta(folder / "ref_seqs_papara.fasta")
    names = [n for n in pap if re.sub(r"_cluster$", "_test", n) in bench.fna]
    Pm = np.array([list(pap[n]) for n in names])
    Om = np.array([list(bench.fna[re.sub(r"_cluster$", "_test", n)]) for n in names])
    nP, nO = Pm.shape[1], Om.shape[1]
    gapP, gapO = (Pm == "-").all(0), (Om == "-").all(0)
    big = 10 ** 9
    f = np.full((nP + 1, nO + 1), big, dtype=np.int64)
    f[0, 0] = 0
    for j in range(nP + 1):
        if j:
            same = (Om == Pm[:, j - 1][:, None]).all(0)
            f[j, 1:] = np.where(same, f[j - 1, :-1], big)
            if gapP[j - 1]:
                f[j] = np.minimum(f[j], f[j - 1] + 1)
        for i in np.flatnonzero(gapO) + 1:
            f[j, i] = min(f[j, i], f[j, i - 1] + 1)
    if f[nP, nO] >= big:
        raise SystemExit("PaPaRa's reference rows do not fit the reference alignment")
    mapping = np.full(nP, -1)
    i, j = nO, nP
    while i or j:
        if i and j and (Om[:, i - 1] == Pm[:, j - 1]).all() and f[j - 1, i - 1] == f[j, i]:
            mapping[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif j and gapP[j - 1] and f[j - 1, i] + 1 == f[j, i]:
            j -= 1
        else:
            i -= 1
    return mapping, _fasta(folder / "study_seqs_papara.fasta")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papara", type=Path)
    args = ap.parse_args()
    b = Bench()
    epa_model = P.parse_model(EPA_DEFAULT)
    jc = P.parse_model("GTR{1/1/1/1/1/1}+FU{0.25/0.25/0.25/0.25}+G4m{1}")
    own = b.own_columns()
    b.measure("hmmalign --mapali layout, .model (default)", b.ref, b.hmmalign)
    b.measure("hmmalign --mapali layout, EPA-ng 0.2.1 GTR+G", dataclasses.replace(b.ref, model=epa_model), b.hmmalign)
    b.measure("hmmalign --mapali layout, JC+G4 alpha 1", dataclasses.replace(b.ref, model=jc), b.hmmalign)
    b.measure("hmmalign, reference's own columns, .model", b.raw, own)
    b.measure("hmmalign, reference's own columns, EPA-ng 0.2.1 GTR+G", dataclasses.replace(b.raw, model=epa_model), own)
    if args.papara is None:
        return
    mapping, pq = papara(b, args.papara)
    aligned = {}
    for q in b.seqs:
        a = np.frombuffer(pq[q].encode(), dtype=np.uint8)
        keep = (a != ord("-")) & (mapping >= 0)
        aligned[q] = (mapping[keep].astype(np.int64), P._CODE[a[keep]].astype(np.uint8))
    b.measure("PaPaRa, .model", b.raw, aligned)
    ref = dataclasses.replace(b.raw, model=epa_model)
    res = b.measure("PaPaRa, EPA-ng 0.2.1 GTR+G (EPA-ng's own input)", ref, aligned)
    # Felsenstein pruning at EPA-ng's reported points and at ours, over the query's range
    tree = ref.tree
    print("query  edge  logL at EPA-ng's point (rel. to its best) vs EPA-ng's; at ours")
    for q, grp in b.epa.groupby("query"):
        grp = grp.sort_values("like_weight_ratio", ascending=False)
        a = np.frombuffer(pq[q].encode(), dtype=np.uint8)
        res_cols = np.flatnonzero(a != ord("-"))
        rng = np.arange(res_cols[0], res_cols[-1] + 1)
        m = mapping[rng]
        codes = {tree.names[v]: list(ref.codes[v][m[m >= 0]]) for v in np.flatnonzero(tree.is_tip)}
        codes[q] = list(P._CODE[a[rng[m >= 0]]])

        def ll(e: int, d: float, p: float, q: str = q, codes: dict = codes) -> float:
            row = pd.DataFrame({"query": [q], "edge": [e], "distal_length": [d],
                                "pendant_length": [p]})
            return float(tree_loglik(parse_newick(P._graft(tree, row)), codes, ref.model).sum())

        base = None
        for _, r in grp.iterrows():
            e = int(b.node_of_edge[int(r["edge"])])
            at_epa = ll(e, r["distal_length"], r["pendant_length"])
            base = at_epa if base is None else base
            mine = res.placements[(res.placements["query"] == q) & (res.placements["edge"] == e)]
            at_ours = (ll(e, mine["distal_length"].iloc[0], mine["pendant_length"].iloc[0])
                       - base) if len(mine) else float("nan")
            print(f"{q[:6]} {e:4d}  {at_epa - base:+.3f} vs {r['likelihood'] - grp['likelihood'].iloc[0]:+.3f};"
                  f" {at_ours:+.3f}")


if __name__ == "__main__":
    main()
