"""The naive Bayesian classifier: kernels vs slow versions, known answers, bootstrap,
orientation, species, references, cache."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microtrial.errors import InputError
from microtrial.io.fasta import read_fasta
from microtrial.io.taxonomy import (
    read_model_arrays,
    read_reference,
    read_species_reference,
    read_taxonomy,
    write_model,
)
from microtrial.seqs import reverse_complement
from microtrial.taxa import split_taxon
from microtrial.taxonomy import (
    Reference,
    TaxonomyModel,
    _kernels,
    classify,
    cross_validate,
    find_exact_hits,
    species_from_reference,
    train_classifier,
)

from ._naive import best_groups, train, words

DNA = st.text(alphabet="ACGTN", min_size=0, max_size=40)


@pytest.fixture(scope="module")
def ref(test_data):
    return read_reference(test_data / "taxonomy/ref.fasta", test_data / "taxonomy/ref-taxonomy.tsv")


@pytest.fixture(scope="module")
def model(ref):
    return train_classifier(ref)


@settings(max_examples=60, deadline=None)
@given(DNA, st.integers(1, 5))
def test_kmer_codes_match_naive(seq, k):
    out = np.empty(max(len(seq), 1), dtype=np.int64)
    n = _kernels.kmer_codes(_kernels.encode(seq), k, out)
    assert out[:n].tolist() == words(seq, k)


def test_word_probability_by_hand():
    # k=2; three sequences, two groups. Word "AC" is in s1 and s2 (group X), not in s3.
    # n(AC)=2, N=3 -> P_w = 2.5/4; m(AC, X)=2, M_X=2 -> P(AC|X) = (2 + 0.625)/3
    # m(AC, Y)=0, M_Y=1 -> P(AC|Y) = 0.625/2
    ref = Reference(("s1", "s2", "s3"), ("ACGT", "TACG", "GGGG"),
                    ("k__B; p__X", "k__B; p__X", "k__B; p__Y"))
    m = train_classifier(ref, k=2)
    lp = m.log_probs()
    ac = 0 * 4 + 1
    assert lp[ac, 0] == pytest.approx(math.log(2.625 / 3), rel=1e-6)
    assert lp[ac, 1] == pytest.approx(math.log(0.3125), rel=1e-6)


def test_training_and_scoring_match_naive(ref, model):
    lineages, lp_naive = train(list(ref.sequences), list(ref.taxa), 8)
    assert list(model.lineages) == lineages
    lp = model.log_probs()
    np.testing.assert_allclose(lp.T, lp_naive, rtol=1e-5)
    rng = np.random.default_rng(1)
    queries = {}
    for i in range(12):  # random fragments, some mutated, of the reference
        s = ref.sequences[i % len(ref.sequences)]
        a = int(rng.integers(0, 100))
        frag = list(s[a : a + 120])
        for p in rng.choice(len(frag), 10, replace=False):
            frag[p] = "ACGT"[int(rng.integers(4))]
        queries[f"q{i}"] = "".join(frag)
    res = classify(queries, model, confidence=0.0, both_orientations=False, n_boot=1)
    for qid, s in queries.items():
        assert res.at[qid, "Lineage"] in {lineages[g] for g in best_groups(lp_naive, words(s, 8))}


def test_known_answers(test_data, model):
    res = classify(read_fasta(test_data / "taxonomy/queries.fasta"), model, seed=3)
    assert res.at["qA", "Taxon"].endswith("f__Lachnospiraceae; g__Blautia")
    assert res.at["qC", "Taxon"].endswith("g__Bacteroides")
    assert res.at["qB", "Taxon"].endswith("g__Ruminococcus")
    assert res.at["qA", "Taxon"].startswith("d__Bacteria; p__Firmicutes")
    assert (res["Confidence"] == 1.0).all()


def test_dada2_format_gives_same_model(test_data, ref):
    ref2 = read_reference(test_data / "taxonomy/ref-dada2.fasta")
    m1, m2 = train_classifier(ref), train_classifier(ref2)
    assert m1.lineages == m2.lineages
    np.testing.assert_array_equal(m1.counts, m2.counts)


def test_bootstrap_confidence(ref, model):
    a, b = ref.sequences[0], ref.sequences[2]  # groups A and B share names down to order
    chimera = a[:120] + b[120:]
    q = {"chimera": chimera, "pure": a[:200]}
    res = classify(q, model, confidence=0.8, seed=5)
    conf = res.loc["chimera", [f"confidence_{r}" for r in ("domain", "phylum", "class", "order", "family", "genus")]]
    assert conf.iloc[:4].tolist() == [1.0, 1.0, 1.0, 1.0]  # A and B agree down to order
    assert 0.1 < conf["confidence_genus"] < 0.9  # half of the words point each way
    assert conf["confidence_genus"] == conf["confidence_family"]
    assert res.at["chimera", "Taxon"] == "d__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales"
    assert res.at["chimera", "Confidence"] == 1.0
    low = classify(q, model, confidence=0.0, seed=5)
    assert low.at["chimera", "Taxon"].count(";") == 5
    assert res.at["pure", "confidence_genus"] == 1.0
    # seeded: same seed same answer, 1 vs 2 threads identical, order-independent
    again = classify(dict(reversed(list(q.items()))), model, confidence=0.8, seed=5, threads=1)
    assert again.loc[res.index].equals(res)
    other = classify(q, model, confidence=0.8, seed=6, threads=2)
    assert other.at["pure", "Taxon"] == res.at["pure", "Taxon"]


def test_ties_are_broken_at_random():
    """Genera A and B hold the same sequence, so a query equal to it scores exactly the
    same in both, in the full query and in every bootstrap (same words, same M_g). Each
    winner is then A or B with probability 1/2 (DADA2 assignTaxonomy picks one at random:
    with R dada2 1.26, the same construction (R's own random sequences) gave genus
    bootstraps 46, 54, 47, 51, 52 and best hits B, A, A, B, A over set.seed(1..5)). Family confidence is 1: A
    and B share it. A fixed choice (say, the first group) would give genus confidence 1."""
    rng = np.random.default_rng(4)
    shared, other = ("".join(rng.choice(list("ACGT"), 400)) for _ in range(2))
    ref = Reference(("a", "b", "c"), (shared, shared, other),
                    ("k__B; p__P; c__C; o__O; f__F; g__A", "k__B; p__P; c__C; o__O; f__F; g__B",
                     "k__B; p__P; c__C; o__O; f__G; g__C"))
    model = train_classifier(ref)
    runs = [classify({"q": shared}, model, confidence=0.8, seed=s, both_orientations=False)
            for s in range(40)]
    genus = np.array([r.at["q", "confidence_genus"] for r in runs])
    assert all(r.at["q", "confidence_family"] == 1.0 for r in runs)
    # Binomial(100, 1/2) / 100 is 0.5 +- 0.05: [0.25, 0.75] is five standard deviations;
    # the mean of 40 runs is 0.5 +- 0.008
    assert ((genus >= 0.25) & (genus <= 0.75)).all()
    assert abs(genus.mean() - 0.5) < 0.04
    assert all(r.at["q", "Taxon"] == "d__B; p__P; c__C; o__O; f__F" for r in runs)
    best_a = sum(r.at["q", "Lineage"].endswith("g__A") for r in runs)
    assert 8 <= best_a <= 32  # Binomial(40, 1/2); a fixed choice gives 0 or 40


def test_groups_keep_the_reference_names():
    """Greengenes names ``g__[R]`` and ``g__R`` are two genera for DADA2 (groups are the
    exact header text), although we report both as ``g__R``. A query made of the first
    half of the [R] sequence and the second half of the R sequence splits its bootstraps
    between them: R dada2 1.26 on this construction (set.seed(1..5), minBoot=80) gave
    family f__F (100) and no genus, genus bootstraps 60, 50, 56, 50, 59, and the pure [R]
    sequence g__[R] (100). Pooling the two names into one group would give genus 1.0."""
    rng = np.random.default_rng(8)
    s1, s2, s3 = ("".join(rng.choice(list("ACGT"), 400)) for _ in range(3))
    ref = Reference(("r1", "r2", "r3"), (s1, s2, s3),
                    ("k__B; p__P; c__C; o__O; f__F; g__[R]", "k__B; p__P; c__C; o__O; f__F; g__R",
                     "k__B; p__P; c__C; o__O; f__G; g__C"))
    model = train_classifier(ref)
    assert model.n_groups == 3
    assert model.lineages[0] == model.lineages[1] == "d__B; p__P; c__C; o__O; f__F; g__R"
    assert model.rank_ids[0, 5] != model.rank_ids[1, 5]
    assert model.rank_ids[0, 4] == model.rank_ids[1, 4]
    res = classify({"mix": s1[:200] + s2[200:], "pure": s1}, model, confidence=0.8, seed=1,
                   both_orientations=False)
    assert res.at["mix", "confidence_family"] == 1.0
    assert 0.25 <= res.at["mix", "confidence_genus"] <= 0.75
    assert res.at["mix", "Taxon"] == "d__B; p__P; c__C; o__O; f__F"
    assert res.at["pure", "Taxon"] == "d__B; p__P; c__C; o__O; f__F; g__R"
    assert res.at["pure", "confidence_genus"] == 1.0


def test_both_orientations(ref, model):
    q = {"fwd": ref.sequences[4][:200], "rev": reverse_complement(ref.sequences[4][:200])}
    res = classify(q, model)
    assert res.at["rev", "Taxon"] == res.at["fwd", "Taxon"]
    assert res.at["fwd", "Strand"] == "+" and res.at["rev", "Strand"] == "-"
    single = classify(q, model, both_orientations=False)
    assert single.at["rev", "Strand"] == "+"
    assert single.at["rev", "confidence_genus"] < 1.0


def test_species_exact_match(test_data, ref, model):
    sp = read_species_reference(test_data / "taxonomy/species.fasta")
    c1 = ref.sequences[4]
    q = {
        "A": ref.sequences[0][20:220],  # only sp1 (Blautia producta)
        "C_amb": c1[10:190],  # inside sp2 (fragilis) and sp3 (ovatus)
        "C_one": c1[10:230],  # only sp2 (sp3 is C1[:200])
        "B": ref.sequences[2][:200],  # sp4 Ruminococcus and sp5 Blautia: two genera -> none
        "A_mut": ref.sequences[1][:200],  # A2 is in no species record
    }
    res = classify(q, model, species=sp)
    assert res.at["A", "Taxon"].endswith("g__Blautia; s__producta")
    assert res.at["C_one", "Taxon"].endswith("g__Bacteroides; s__fragilis")
    assert res.at["C_amb", "Taxon"].endswith("g__Bacteroides")
    assert res.at["B", "Taxon"].endswith("g__Ruminococcus")
    assert res.at["A_mut", "Taxon"].endswith("g__Blautia")
    two = classify(q, model, species=sp, max_species=2)
    assert two.at["C_amb", "Taxon"].endswith("s__fragilis/ovatus")
    # genus must agree: a species record of another genus is not used
    from microtrial.taxonomy import SpeciesReference

    wrong = SpeciesReference(("Escherichia",), ("coli",), (ref.sequences[0],))
    assert classify({"A": q["A"]}, model, species=wrong).at["A", "Taxon"].endswith("g__Blautia")
    # species carried by the reference's own taxonomy (Greengenes style)
    own = species_from_reference(ref)
    assert sorted(zip(own.genus, own.species, strict=True)) == [("Bacteroides", "fragilis"), ("Blautia", "producta")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="ACGT", min_size=0, max_size=60), min_size=1, max_size=6),
       st.lists(st.text(alphabet="ACGTN", min_size=1, max_size=45), min_size=1, max_size=5))
def test_exact_hits_match_naive(refs, queries):
    queries = queries + [refs[0][3:40]] if len(refs[0]) > 40 else queries
    expected = [[r for r, s in enumerate(refs) if q in s] for q in queries]
    assert find_exact_hits(queries, refs) == expected


def test_malformed_references(test_data):
    d = test_data / "taxonomy"
    with pytest.raises(InputError, match=r"no-taxonomy.fasta: line 3: header without taxonomy"):
        read_reference(d / "no-taxonomy.fasta")
    with pytest.raises(InputError, match=r"dup-ids.fasta: line 6: duplicate id 'x1'"):
        read_reference(d / "dup-ids.fasta", d / "dup-ids-taxonomy.tsv")
    with pytest.raises(InputError, match=r"empty-seq.fasta: line 3: empty sequence"):
        read_reference(d / "empty-seq.fasta")
    with pytest.raises(InputError, match=r"looks like a species-assignment file"):
        read_reference(d / "species.fasta")
    with pytest.raises(InputError, match=r"species.fasta|header must be"):
        read_species_reference(d / "ref-dada2.fasta")
    with pytest.raises(InputError, match="no row in"):
        read_reference(d / "ref.fasta", d / "dup-ids-taxonomy.tsv")


def test_model_npz_round_trip(tmp_path, model):
    path = tmp_path / "m.npz"
    write_model(model, path)
    with np.load(path, allow_pickle=False) as z:  # plain arrays only, no pickled objects
        assert all(z[name].dtype != object for name in z.files)
    back = TaxonomyModel.from_arrays(read_model_arrays(path))
    assert back.lineages == model.lineages
    for name in ("rank_ids", "indptr", "words", "counts", "prior_counts", "group_size", "ref_group"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a microtrial classifier model"):
        read_model_arrays(tmp_path / "bad.npz")


def test_classify_stage_cache(tmp_path, test_data):
    from microtrial.pipeline.classify import classify_stage

    d = test_data / "taxonomy"
    kw = dict(ref_seqs=d / "ref.fasta", ref_taxonomy=d / "ref-taxonomy.tsv", cache_dir=tmp_path / "cache")
    p1 = classify_stage(d / "queries.fasta", tmp_path / "o1", **kw)
    info1 = json.loads((tmp_path / "o1/run-info.json").read_text())["classifier"]
    p2 = classify_stage(d / "queries.fasta", tmp_path / "o2", **kw)
    info2 = json.loads((tmp_path / "o2/run-info.json").read_text())["classifier"]
    assert info1["cached"] is False and info2["cached"] is True
    assert info1["cache_key"] == info2["cache_key"]
    assert p1.read_text() == p2.read_text()
    assert sorted(p.suffix for p in (tmp_path / "cache").glob("*.npz")) == [".npz", ".npz"]
    tax = read_taxonomy(p2)
    assert list(tax.columns) == ["Taxon", "Confidence"]
    assert tax.loc["qA", "Taxon"].endswith("g__Blautia; s__producta")
    # other training parameters or other files -> another key
    from microtrial.pipeline.classify import cache_key

    files = [d / "ref.fasta", d / "ref-taxonomy.tsv"]
    assert cache_key(files, {"k": 8}) != cache_key(files, {"k": 8, "primer_f": "GTGYCAGCMGCCGCGGTAA"})
    assert cache_key(files, {"k": 8}) != cache_key([d / "ref.fasta", d / "dup-ids-taxonomy.tsv"], {"k": 8})


def test_cross_validate(ref):
    table = cross_validate(ref, folds=2, seed=0, max_test_per_fold=None, confidence=0.5)
    assert list(table["rank"]) == ["domain", "phylum", "class", "order", "family", "genus"]
    # every group has two near-identical members; any split leaves most with a relative
    assert (table["tp"] + table["fn"]).iloc[0] == len(ref)
    assert table.loc[0, "precision"] == 1.0
    assert (table["f_measure"] <= 1.0).all()


@pytest.mark.requires_shared
def test_dada2_example_training_set(shared_data):
    d = shared_data / "dada2-extdata"
    ref = read_reference(d / "example_train_set.fa.gz")
    model = train_classifier(ref)
    picks = list(range(0, len(ref), max(1, len(ref) // 12)))[:12]
    res = classify({str(i): ref.sequences[i] for i in picks}, model, confidence=0.0)
    for i in picks:  # a training sequence scores best in its own group
        own = "; ".join(split_taxon(ref.taxa[i])[:6])
        assert res.at[str(i), "Lineage"] == own
    sp = read_species_reference(d / "example_species_assignment.fa.gz")
    assert (sp.genus[0], sp.species[0]) == ("Rhodococcus", "erythropolis")
    assert find_exact_hits([sp.sequences[0][100:400]], sp.sequences)[0][0] == 0


def test_greengenes_subset_v4():
    """Genera of held-out Greengenes sequences (V4 cut in silico) from a subset."""
    import qiime_default_reference as qdr

    from microtrial.seqs import PRIMERS
    from microtrial.taxonomy import extract_region

    genera = ("g__Bacteroides", "g__Lactobacillus", "g__Streptococcus", "g__Prevotella", "g__Pseudomonas")
    seqs = read_fasta(qdr.get_reference_sequences())
    ids, taxa = [], []
    per = dict.fromkeys(genera, 0)
    with open(qdr.get_reference_taxonomy()) as fh:
        for line in fh:
            fid, taxon = line.rstrip("\n").split("\t")
            g = next((g for g in genera if f"; {g};" in taxon), None)
            if g and per[g] < 45:
                per[g] += 1
                ids.append(fid)
                taxa.append(taxon)
    full = Reference(tuple(ids), tuple(seqs[i] for i in ids), tuple(taxa))
    v4 = extract_region(full, *PRIMERS["V4"])
    test_idx = [i for i in range(len(v4)) if i % 5 == 0]
    train_idx = [i for i in range(len(v4)) if i % 5 != 0]
    model = train_classifier(v4.subset(train_idx))
    res = classify({v4.ids[i]: v4.sequences[i] for i in test_idx}, model, seed=1)
    truth = {v4.ids[i]: split_taxon(v4.taxa[i])[5] for i in test_idx}
    got = {fid: (split_taxon(t)[5] if len(split_taxon(t)) > 5 else None) for fid, t in res["Taxon"].items()}
    correct = sum(got[f] == truth[f] for f in truth)
    wrong = sum(got[f] is not None and got[f] != truth[f] for f in truth)
    assert correct >= 0.9 * len(truth)
    assert wrong == 0
