"""microtrial's classifier against R DADA2 1.26's ``assignTaxonomy`` draw for draw.

``tests/data/taxonomy/dada2-replay/`` holds R's own output (see the README there): the
genus chosen for each query and by each of its 100 bootstraps when R's C classifier,
trained on DADA2's example training set, classifies 40 MiSeq SOP ASVs after
``set.seed(100)``. Given R's uniform random numbers, microtrial must make the same
choices, up to exact ties (broken at random in both tools).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.io.taxonomy import read_reference
from microtrial.taxonomy import train_classifier
from microtrial.taxonomy._replay import dada2_uniform_count, match_groups, r_runif, replay_dada2

# printed by R 4.x: set.seed(100); sprintf("%.17g", runif(5)); likewise set.seed(123456)
R_RUNIF = {
    100: [0.30776611086912453, 0.25767250102944672, 0.55232243333011866, 0.056383150396868587,
          0.46854928391985595],
    123456: [0.79778432077728212, 0.75356509489938617, 0.39125568419694901],
}


def test_r_runif_gives_r_values():
    for seed, values in R_RUNIF.items():
        assert r_runif(seed, len(values)).tolist() == values
    u = r_runif(7, 5000)  # past the first 624-word state refresh
    assert u.min() > 0 and u.max() < 1 and len(np.unique(u)) == 5000


@pytest.mark.requires_shared
def test_choices_match_assign_taxonomy(shared_data, test_data):
    d = test_data / "taxonomy/dada2-replay"
    golden = pd.read_csv(shared_data / "miseq-sop/reference-outputs/dada2-1.26-assignTaxonomy-gg13_8.tsv", sep="\t")
    queries = list(golden["sequence"])[:40]
    model = train_classifier(read_reference(shared_data / "dada2-extdata/example_train_set.fa.gz"))
    to_ours = match_groups(np.loadtxt(d / "example-ref-genus.txt", dtype=np.int64) - 1, model)
    r_best = to_ours[np.loadtxt(d / "example-best.txt", dtype=np.int64) - 1]
    r_choice = to_ours[np.loadtxt(d / "example-boot-tax.tsv", dtype=np.int64) - 1]
    r_boot = np.loadtxt(d / "example-boot.tsv", dtype=np.int64)
    assert r_choice.shape == (40, 100)
    unifs = r_runif(100, dada2_uniform_count(queries)[0])

    rep = replay_dada2(model, queries, unifs, r_best, r_choice)
    c = rep.disagreements()
    assert c["full"]["same"] == 40
    assert c["bootstrap"]["other"] == 0 and c["bootstrap"]["near"] == 0
    assert c["bootstrap"]["same"] >= 0.98 * 4000
    # per-rank bootstrap counts (the confidences) are R's wherever no tie went another way
    untied = (rep.choice == r_choice).all(axis=1)
    assert untied.sum() >= 20
    assert np.array_equal(rep.boots[untied][:, : r_boot.shape[1]], r_boot[untied])

    # the comparison can fail: draws one position off give other choices
    shifted = replay_dada2(model, queries, np.roll(unifs, 1), r_best, r_choice).disagreements()
    assert shifted["bootstrap"]["other"] > 100


def test_match_groups_rejects_another_partition(test_data):
    ref = read_reference(test_data / "taxonomy/ref.fasta", test_data / "taxonomy/ref-taxonomy.tsv")
    model = train_classifier(ref)
    ours = np.asarray(model.ref_group, dtype=np.int64)
    renumbered = np.random.default_rng(0).permutation(model.n_groups)[ours]  # same partition
    assert np.array_equal(match_groups(renumbered, model)[renumbered], ours)
    merged = ours.copy()
    merged[merged == 1] = 0
    with pytest.raises(ValueError, match="differently"):
        match_groups(merged, model)
