"""ASV trees: kernels vs slow versions, insertion on a simulated reference (known truth),
de novo, Greengenes subset, the pipeline stage."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skbio import TreeNode

from microtrial.errors import InputError
from microtrial.io.fasta import read_fasta, write_fasta
from microtrial.io.newick import read_tree
from microtrial.phylogeny import (
    _kernels,
    build_reference_index,
    de_novo_tree,
    insertion_tree,
    jc_distances,
    jukes_cantor,
    place,
)
from microtrial.taxonomy._kernels import encode

from ._naive import semiglobal_cost

TRUE_TREE = "((A:0.04,B:0.06):0.1,(C:0.05,(D:0.03,E:0.02):0.04):0.12);"


def _mutate(seq: str, n: int, rng) -> str:
    s = list(seq)
    for p in rng.choice(len(s), n, replace=False):
        s[p] = "ACGT"[("ACGT".index(s[p]) + int(rng.integers(1, 4))) % 4]
    return "".join(s)


@pytest.fixture(scope="module")
def simulated():
    """Sequences evolved down TRUE_TREE (substitutions only, count = length x branch)."""
    rng = np.random.default_rng(7)
    tree = TreeNode.read(io.StringIO(TRUE_TREE))
    root_seq = "".join(rng.choice(list("ACGT"), 400))
    seqs = {}

    def walk(node, seq):  # noqa: ANN001, ANN202
        for child in node.children:
            s = _mutate(seq, int(round(400 * child.length)), rng)
            if child.is_tip():
                seqs[child.name] = s
            walk(child, s)

    walk(tree, root_seq)
    return tree, seqs


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=1, max_size=25), st.text(alphabet="ACGTN", min_size=1, max_size=40))
def test_semiglobal_matches_naive(q, r):
    qmap = np.empty(len(q), dtype=np.int64)
    cost, cols = _kernels.align_semiglobal(encode(q), encode(r), qmap)
    assert cost == semiglobal_cost(q, r)
    mapped = qmap[qmap >= 0]
    assert np.all(np.diff(mapped) > 0) and cols >= len(q)
    mism = sum(1 for i, j in enumerate(qmap) if j >= 0 and (q[i] != r[j] or q[i] == "N"))
    span_gaps = (mapped[-1] - mapped[0] + 1 - len(mapped)) if len(mapped) else 0
    assert mism + int((qmap < 0).sum()) + span_gaps == cost


def test_pairwise_jc_matches_naive():
    rng = np.random.default_rng(3)
    msa = rng.integers(0, 6, size=(6, 50)).astype(np.uint8)
    out = jc_distances(msa)
    for a in range(6):
        for b in range(6):
            both = [(x, y) for x, y in zip(msa[a], msa[b], strict=True) if x < 4 and y < 4]
            p = sum(x != y for x, y in both) / len(both) if a != b else 0.0
            assert out[a, b] == pytest.approx(-0.75 * np.log(1 - 4 * min(p, 0.7499) / 3))


def test_identical_asv_is_sister_with_zero_length(simulated):
    tree, seqs = simulated
    index = build_reference_index(seqs)
    queries = {"asvA": seqs["A"][60:313], "asvD": _mutate(seqs["D"][100:350], 5, np.random.default_rng(1))}
    pl = place(queries, index)
    assert [index.ids[r] for r in pl.reference] == ["A", "D"]
    assert pl.p_distance[0] == 0.0 and pl.p_distance[1] == pytest.approx(5 / 250)
    full = insertion_tree(queries, tree, index, prune=False)
    a = full.find("asvA")
    assert {c.name for c in a.parent.children} == {"asvA", "A"}
    assert a.length == 0.0 and full.find("A").length == 0.0
    d = full.find("asvD")
    assert {c.name for c in d.parent.children} == {"asvD", "D"}
    assert d.distance(full.find("D")) == pytest.approx(float(jukes_cantor(5 / 250)))
    assert tree.count(tips=True) == 5  # the reference tree is not modified
    pruned = insertion_tree(queries, tree, index)
    assert {t.name for t in pruned.tips()} == set(queries)
    assert pruned.parent is None and len(pruned.children) == 2  # rooted, bifurcating root
    # asvD hangs d - x below a node x = d/2 above D (d/2 < D's branch 0.03), so its path
    # to A is D's path to A + (d - x) - x = D's path; asvA sits on A itself
    expect = tree.find("A").distance(tree.find("D"))
    assert pruned.find("asvA").distance(pruned.find("asvD")) == pytest.approx(expect)


def test_unplaceable_sequence_hangs_from_root(simulated):
    tree, seqs = simulated
    index = build_reference_index(seqs)
    t = insertion_tree({"a": seqs["B"][:200], "b": seqs["C"][:200], "junk": "NNNNNNNNNN"}, tree, index)
    assert {x.name for x in t.tips()} == {"a", "b", "junk"}
    assert t.find("junk").parent is t


def test_de_novo_tree_recovers_topology(simulated):
    tree, seqs = simulated
    queries = {f"asv{k}": s[30:290] for k, s in seqs.items()}
    t = de_novo_tree(queries, seqs)  # unaligned template: no gaps, one column per base
    assert {x.name for x in t.tips()} == set(queries)
    assert t.parent is None
    dist = jc_distances(np.vstack([encode(s[30:290]) for s in seqs.values()]))
    sister = {k: list(seqs)[int(np.argsort(dist[i])[1])] for i, k in enumerate(seqs)}
    assert sister["D"] == "E" and sister["A"] == "B"
    for x in ("D", "A"):  # the nearest pairs are cherries
        node = t.find(f"asv{x}")
        assert {c.name for c in node.parent.children} == {f"asv{x}", f"asv{sister[x]}"}


def test_tree_stage(tmp_path, simulated):
    from microtrial.pipeline.tree import tree_stage

    tree, seqs = simulated
    write_fasta(seqs, tmp_path / "ref.fasta")
    (tmp_path / "ref.nwk").write_text(TRUE_TREE + "\n")
    asvs = {"x1": seqs["E"][5:260], "x2": seqs["B"][40:300], "x3": seqs["C"][:250]}
    write_fasta(asvs, tmp_path / "asvs.fasta")
    for method in ("insertion", "de-novo"):
        path = tree_stage(tmp_path / "asvs.fasta", tmp_path / method, method=method, threads=1,
                          ref_seqs=tmp_path / "ref.fasta", ref_tree=tmp_path / "ref.nwk",
                          ref_alignment=tmp_path / "ref.fasta")
        t = read_tree(path)
        assert {x.name for x in t.tips()} == set(asvs)
        assert (tmp_path / method / "run-info.json").exists()
    with pytest.raises(InputError, match="unknown tree method"):
        tree_stage(tmp_path / "asvs.fasta", tmp_path / "bad", method="upgma")


def test_greengenes_subset_placement():
    """V4 fragments of Greengenes sequences are placed at distance 0 on a reference that
    holds them, and the de novo tree of the fragments has them all as tips."""
    import qiime_default_reference as qdr

    from microtrial.seqs import PRIMERS, extract_amplicon

    seqs = read_fasta(qdr.get_reference_sequences())
    ids = list(seqs)[:1500]
    subset = {i: seqs[i] for i in ids}
    asvs = {}
    for i in ids[::150]:
        amp = extract_amplicon(subset[i], *PRIMERS["V4"])
        if amp:
            asvs[f"asv_{i}"] = amp
    assert len(asvs) >= 6
    index = build_reference_index(subset)
    pl = place(asvs, index)
    for k, s in enumerate(asvs.values()):
        assert pl.p_distance[k] == 0.0
        assert s in subset[index.ids[pl.reference[k]]]
    template = read_fasta(qdr.get_template_alignment())
    t = de_novo_tree(asvs, template)
    assert {x.name for x in t.tips()} == set(asvs)
