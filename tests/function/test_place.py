"""Placement: the likelihood against plain Felsenstein pruning, the optimiser, the jplace
round trip, EPA-ng's placements on PICRUSt2's test data, and exact references on the complete
archaeal reference."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from microtrial.function import load_reference, place_sequences, predict_traits
from microtrial.function._jplace import jplace_text, parse_jplace
from microtrial.function._phylo import parse_newick
from microtrial.function._place import (
    _graft,
    align_queries,
    parse_model,
    read_aligned_fasta,
)

from ._naive_place import tree_loglik

pytestmark = pytest.mark.requires_shared


def _fasta(path):
    out, name = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith(">"):
            name = line[1:]
            out[name] = ""
        elif line:
            out[name] += line
    return out


@pytest.fixture(scope="module")
def test_ref(shared_data):
    d = shared_data / "picrust2-tests" / "place_seqs"
    ref = load_reference(d / "reference").read_placement()
    return d, ref, _fasta(d / "study_seqs_test.fasta")


@pytest.fixture(scope="module")
def placed(test_ref):
    _, ref, seqs = test_ref
    return place_sequences(seqs, ref)


def test_reported_likelihood_is_the_grafted_trees_likelihood(test_ref, placed):
    """The likelihood of each kept placement equals Felsenstein pruning (scipy expm) on the
    reference tree with the query grafted at that position, over all alignment columns."""
    _, ref, seqs = test_ref
    tree = ref.tree
    for q in list(seqs)[:1]:
        cols, masks = align_queries({q: seqs[q]}, ref)[0][q]
        rows = placed.placements[placed.placements["query"] == q].head(2)
        for _, row in rows.iterrows():
            grafted = parse_newick(_graft(tree, pd.DataFrame([row])))
            codes = {tree.names[v]: list(ref.codes[v]) for v in np.flatnonzero(tree.is_tip)}
            qcodes = np.full(ref.n_columns, 15, dtype=np.uint8)
            qcodes[cols] = masks
            codes[q] = list(qcodes)
            naive = tree_loglik(grafted, codes, ref.model).sum()
            assert row["likelihood"] == pytest.approx(naive, rel=1e-9, abs=1e-6)


def test_placements_are_local_optima(test_ref, placed):
    """Moving the distal or pendant length of a best placement never raises the likelihood
    (checked with the independent Felsenstein implementation)."""
    _, ref, seqs = test_ref
    tree = ref.tree
    q = next(iter(seqs))
    cols, masks = align_queries({q: seqs[q]}, ref)[0][q]
    best = placed.best[placed.best["query"] == q].iloc[0]
    codes = {tree.names[v]: list(ref.codes[v][cols]) for v in np.flatnonzero(tree.is_tip)}
    codes[q] = list(masks)

    def ll(d, p):
        row = best.copy()
        row["distal_length"], row["pendant_length"] = d, p
        return tree_loglik(parse_newick(_graft(tree, pd.DataFrame([row]))), codes,
                           ref.model).sum()

    d0, p0 = best["distal_length"], best["pendant_length"]
    edge_len = tree.length[int(best["edge"])]
    f0 = ll(d0, p0)
    for d, p in [(d0, p0 * 1.05), (d0, p0 * 0.95), (min(d0 + 0.05 * edge_len, edge_len), p0),
                 (max(d0 - 0.05 * edge_len, 0.0), p0)]:
        assert ll(d, p) <= f0 + 1e-6


def test_jplace_round_trip(placed):
    text = jplace_text(placed.tree, placed.placements)
    tree, node_of_edge, df = parse_jplace(text)
    assert tree.names == placed.tree.names
    assert (node_of_edge == np.arange(tree.n_nodes - 1)).all()
    pd.testing.assert_frame_equal(df, placed.placements[df.columns], check_dtype=False)
    assert json.loads(text)["version"] == 3


def _split(tree, node):
    """Tip names below a node, with the reference's suffix removed (the expected jplace
    names the same genomes ..._cluster, the reference files ..._test)."""
    out = set()
    todo = [node]
    while todo:
        v = todo.pop()
        kids = tree.child_idx[tree.child_ptr[v]:tree.child_ptr[v + 1]]
        if kids.size == 0:
            out.add(re.sub(r"_(test|cluster)$", "", tree.names[v]))
        todo.extend(int(k) for k in kids)
    return frozenset(out)


def _nsti(tree_newick, query):
    t = parse_newick(tree_newick)
    known = [n for n in t.names if n and not re.fullmatch(r"[0-9a-f]{32}", n)]
    table = pd.DataFrame({"x": np.zeros(len(known), dtype=int)}, index=known)
    return predict_traits(t, table, calculate_nsti=True).loc[query, "metadata_NSTI"]


def _epa(test_ref):
    d, _, _ = test_ref
    return parse_jplace((d / "expected" / "epa_result.jplace").read_text())


def test_epa_edges_match_our_tree(test_ref, placed):
    """EPA-ng's edge numbers name the same splits as ours (post-order numbering), and its
    tree has the reference tree's branch lengths: EPA-ng placed on the same tree (it did not
    re-optimise it), so the gaps below come from the alignment and the model."""
    epa_tree, node_of_edge, _ = _epa(test_ref)
    for e, v in enumerate(node_of_edge):
        assert _split(epa_tree, v) == _split(placed.tree, e)
        assert epa_tree.length[v] == pytest.approx(placed.tree.length[e], rel=1e-12)


_EPA_INPUT_GAP = (
    "known gap, see tests/function/PLACEMENT-NOTES.md: the expected jplace was made by an "
    "early PICRUSt2 2.0.0 beta with PaPaRa's alignment and EPA-ng v0.2.1 without --model "
    "(GTR+G with fixed default parameters, not the reference's .model); where its best edge "
    "differs from ours, EPA-ng reports points 1.8-3.5 log-units below that edge's optimum. "
    "We align with hmmalign and use the .model, as PICRUSt2's place_seqs.py does today. Our "
    "best edge is EPA-ng's for 2 of 5 queries (03af6a..., 03cb13...), 3 of 5 are on an "
    "edge EPA-ng weights > 0.1; no principled variant tried reaches 5 of 5")


@pytest.mark.xfail(strict=True, reason=_EPA_INPUT_GAP)
def test_best_edges_agree_with_epa_ng(test_ref, placed):
    """Every query on the edge EPA-ng weights highest (or, where EPA-ng's best weight is
    below 0.5, on an edge it weights above 0.1)."""
    _, _, epa = _epa(test_ref)
    for q, grp in epa.groupby("query"):
        ours = int(placed.best.set_index("query").loc[q, "edge"])
        top = grp.sort_values("like_weight_ratio", ascending=False).iloc[0]
        if top["like_weight_ratio"] >= 0.5:
            assert ours == int(top["edge"]), q
        else:
            assert ours in set(grp.loc[grp["like_weight_ratio"] > 0.1, "edge"]), q


@pytest.mark.xfail(strict=True, reason=(
    "follows from the gap above: with hmmalign's alignment our pendant lengths are smaller "
    "(0.09-0.36 vs EPA-ng's 0.24-0.41 on PaPaRa's), NSTI ours/EPA-ng 0.59-0.96"))
def test_nsti_within_5_percent_of_epa_ng(test_ref, placed):
    d, _, seqs = test_ref
    expected_tree = (d / "expected" / "img_centroid_16S_aligned_head30_placed.tre").read_text()
    for q in seqs:
        assert _nsti(placed.placed_tree, q) == pytest.approx(_nsti(expected_tree, q), rel=0.05)


def test_where_we_agree_with_epa_ng(test_ref, placed):
    """What holds today (a regression guard, not the target above): every query is placed,
    2 of 5 on EPA-ng's best edge and 3 of 5 on an edge EPA-ng weights above 0.1."""
    _, node_of_edge, epa = _epa(test_ref)
    assert set(placed.best["query"]) == set(epa["query"])
    ours = placed.best.set_index("query")["edge"]
    on_best = on_weighted = 0
    for q, grp in epa.groupby("query"):
        grp = grp.sort_values("like_weight_ratio", ascending=False)
        on_best += int(node_of_edge[int(grp["edge"].iloc[0])]) == int(ours[q])
        heavy = {int(node_of_edge[e]) for e in grp.loc[grp["like_weight_ratio"] > 0.1, "edge"]}
        on_weighted += int(ours[q]) in heavy
    assert on_best >= 2 and on_weighted >= 3


@pytest.mark.slow
def test_exact_references_get_the_genomes_traits(shared_data):
    """ASVs identical to a genome's 16S (ungapped from arc_ref.fna) on the complete archaeal
    reference: NSTI 0 and exactly that genome's values (16S copies, CAZy, 300 KO columns)."""
    ref = load_reference(shared_data / "picrust2-ref" / "archaea")
    aligned = read_aligned_fasta(ref.fna)
    genomes = list(aligned)[5:1000:330]
    seqs = {f"asv{i}": re.sub(r"[-.]", "", aligned[g]).lower() for i, g in enumerate(genomes)}
    result = place_sequences(seqs, ref.read_placement())
    assert not result.unplaced
    assert (result.best["distal_length"] == 0).all()
    assert (result.best["pendant_length"] == 0).all()
    tree = parse_newick(result.placed_tree)
    ko = ref.read_traits("ko").iloc[:, :300]
    for table in (ref.read_traits("16S"), ref.read_traits("cazy"), ko):
        pred = predict_traits(tree, table, calculate_nsti=True)
        for i, g in enumerate(genomes):
            q = f"asv{i}"
            assert pred.loc[q, "metadata_NSTI"] == 0.0
            assert (pred.loc[q, table.columns].to_numpy() == table.loc[g].to_numpy()).all()


def test_model_strings():
    m = parse_model("GTR{1/2/3/4/5/6}+FU{0.1/0.2/0.3/0.4}+G4m{0.5}, noname = 1-100")
    assert list(m.rates) == [1, 2, 3, 4, 5, 6] and m.alpha == 0.5 and not m.median
    rates, w = m.category_rates()
    assert rates.mean() == pytest.approx(1.0) and (np.diff(rates) > 0).all()
    # Yang (1994) Table 1: alpha 0.5, K 4, mean rates
    np.testing.assert_allclose(rates, [0.0334, 0.2519, 0.8203, 2.8944], atol=5e-4)
    with pytest.raises(ValueError):
        parse_model("HKY{2}+G")


def test_cut_model_aligns_as_the_whole_model(test_ref, monkeypatch):
    """With more than 48 queries the rest are aligned to the model cut to the sample's match
    states: the columns and residues equal aligning each query alone to the whole model."""
    _, ref, seqs = test_ref
    rng = np.random.default_rng(5)
    queries = {}
    for i in range(60):
        s = np.array(list(list(seqs.values())[i % 5][60:330]))
        hit = rng.random(s.size) < 0.03
        s[hit] = rng.choice(list("ACGT"), size=int(hit.sum()))
        queries[f"q{i}"] = "".join(s)
    import microtrial.function._place as place_module

    cuts = []
    real_cut = place_module._slice_hmm

    def counting_cut(hmm, lo, hi):
        cuts.append((lo, hi))
        return real_cut(hmm, lo, hi)

    monkeypatch.setattr(place_module, "_slice_hmm", counting_cut)
    together, _ = align_queries(queries, ref)
    assert len(cuts) == 1 and cuts[0][1] - cuts[0][0] < 0.5 * ref.hmm.M
    for name, seq in queries.items():
        alone, _ = align_queries({name: seq}, ref)
        np.testing.assert_array_equal(alone[name][0], together[name][0])
        np.testing.assert_array_equal(alone[name][1], together[name][1])


def test_one_and_two_threads_identical(test_ref):
    _, ref, seqs = test_ref
    queries = {f"{name}_{i}": seq[i * 20:i * 20 + 300] for name, seq in seqs.items()
               for i in range(3)}
    one = place_sequences(queries, ref, threads=1)
    two = place_sequences(queries, ref, threads=2)
    pd.testing.assert_frame_equal(one.placements, two.placements)
    assert one.placed_tree == two.placed_tree
