"""The consensus bimera flags, exact and one-off (branch and bound over the alignment-free bounds, the
samples of a sequence visited until its vote is settled) against the plain procedure: every
candidate parent of every sample aligned, the decision taken on all of them.

The reference below is the procedure ``is_bimera_denovo_table`` ran before the branch and
bound (kept here, in the test file, as the reference): per sample the parents by the
abundance rules, a sample with two or more parents aligns all of them (one-off: one or
more), a sample with one parent uses it only when that pair is aligned for another sample,
and ``_decide`` on the exact stats of the pairs.  It shares only the alignment kernel (``_pair_stats``, tested
against R's flags on the MiSeq SOP table in ``test_chimera.py``) with the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from microtrial.denoise._chimera import _decide, _pack, _pair_stats, is_bimera_denovo_table


def _reference_flags(counts, seqs, *, min_sample_fraction=0.9, ignore_n_negatives=1,
                     min_fold_parent_over_abundance=1.5, min_parent_abundance=2, allow_one_off=False,
                     min_one_off_parent_distance=4, max_shift=16, cache=None):
    # cache: (q, p) -> stats row, shared between calls on the same sequences
    counts = np.asarray(counts)
    n_samples, n_seqs = counts.shape
    if n_seqs < 3:
        return np.zeros(n_seqs, bool)
    tasks, needed = [], set()
    for s in range(n_samples):
        row = counts[s]
        present = np.nonzero(row > 0)[0]
        for q in present:
            par = present[(row[present] > min_fold_parent_over_abundance * row[q])
                          & (row[present] >= min_parent_abundance)]
            par = par[par != q]
            tasks.append((int(q), par))
            if par.size >= 2 or (par.size >= 1 and allow_one_off):
                needed.update((int(q), int(p)) for p in par)
    cache = {} if cache is None else cache
    codes, offsets = _pack(list(seqs))
    new = sorted(needed - cache.keys())
    if new:
        arr = np.array(new, dtype=np.int64)
        out = np.zeros((len(new), 5), dtype=np.int64)
        _pair_stats(codes, offsets, arr[:, 0].copy(), arr[:, 1].copy(), max_shift, out)
        cache.update(zip(new, out))
    pairs = sorted(needed)
    stats = np.array([cache[pq] for pq in pairs], dtype=np.int64).reshape(-1, 5)
    row_of = {pq: i for i, pq in enumerate(pairs)}
    n_flag = np.zeros(n_seqs, np.int64)
    n_present = np.zeros(n_seqs, np.int64)
    for q, par in tasks:
        n_present[q] += 1
        if par.size and (q, int(par[0])) in row_of:
            rows = [row_of[(q, int(p))] for p in par]
            if _decide(stats[rows], len(seqs[q]), allow_one_off, min_one_off_parent_distance):
                n_flag[q] += 1
    return (n_flag > 0) & (n_flag >= (n_present - ignore_n_negatives) * min_sample_fraction)


def _mutate(rng, s, n_ops):
    s = list(s)
    for _ in range(n_ops):
        i = int(rng.integers(0, len(s)))
        op = int(rng.integers(0, 3))
        if op == 0:
            s[i] = str(rng.choice(list("ACGT")))
        elif op == 1:
            s.insert(i, str(rng.choice(list("ACGT"))))
        elif len(s) > 20:
            s.pop(i)
    return "".join(s)


def _family(rng, length, n_parents, n_children):
    """Parents (relatives of one random sequence), their point/indel mutants, shifted copies
    and chimeras (left of one, right of another, sometimes mutated or shifted)."""
    base = "".join(rng.choice(list("ACGT"), length))
    parents = [_mutate(rng, base, int(rng.integers(3, 3 + length // 10))) for _ in range(n_parents)]
    seqs = list(parents)
    while len(seqs) < n_parents + n_children:
        kind = int(rng.integers(0, 4))
        a = parents[int(rng.integers(0, n_parents))]
        b = parents[int(rng.integers(0, n_parents))]
        if kind == 0:  # exact chimera
            cut = int(rng.integers(5, min(len(a), len(b)) - 5))
            x = a[:cut] + b[cut:]
        elif kind == 1:  # near chimera
            cut = int(rng.integers(5, min(len(a), len(b)) - 5))
            x = _mutate(rng, a[:cut] + b[cut:], int(rng.integers(1, 3)))
        elif kind == 2:  # shifted relative (bases cut or added at either end)
            k = int(rng.integers(1, 12))
            x = a[k:] if rng.random() < 0.5 else "".join(rng.choice(list("ACGT"), k)) + a
            if rng.random() < 0.5:
                x = x[:-k] if len(x) > k + 20 else x
        else:  # point/indel mutant
            x = _mutate(rng, a, int(rng.integers(1, 4)))
        if x not in seqs:
            seqs.append(x)
    return seqs


def _table(rng, n_seqs, n_samples, p_zero):
    counts = np.floor(rng.pareto(1.0, size=(n_samples, n_seqs)) * 20).astype(np.int64) + 1
    counts[rng.random(counts.shape) < p_zero] = 0
    return counts


@pytest.mark.parametrize("seed", range(6))
def test_flags_equal_reference_on_random_families(seed):
    rng = np.random.default_rng(100 + seed)
    length = [40, 60, 120, 250][seed % 4]
    seqs = _family(rng, length, n_parents=6, n_children=34)
    for n_samples, p_zero in [(1, 0.0), (4, 0.3), (9, 0.6)]:
        counts = _table(rng, len(seqs), n_samples, p_zero)
        for kw in [{}, {"min_fold_parent_over_abundance": 1.0, "min_parent_abundance": 1},
                   {"min_sample_fraction": 0.5, "ignore_n_negatives": 0}, {"allow_one_off": True},
                   {"allow_one_off": True, "min_one_off_parent_distance": 1}]:
            ref = _reference_flags(counts, seqs, **kw)
            got = is_bimera_denovo_table(counts, seqs, **kw)
            assert (got == ref).all(), (n_samples, kw, np.nonzero(got != ref))
            assert (is_bimera_denovo_table(counts, seqs, threads=2, **kw) == ref).all()
    # the families do hold bimeras and non-bimeras (the comparison is not all-False)
    counts = np.tile(np.arange(len(seqs), 0, -1) * 10, (3, 1))
    ref = _reference_flags(counts, seqs)
    assert 0 < ref.sum() < len(seqs)
    # and one-off bimeras that are not exact ones
    assert (_reference_flags(counts, seqs, allow_one_off=True) & ~ref).any()


def test_single_parent_sample_follows_reference():
    # a sample where q has one parent uses that pair only when another sample aligns it
    # among two or more parents; the parent with one base inserted (left + right = len(q))
    # then flags q there, as the reference procedure does
    rng = np.random.default_rng(3)
    q = "".join(rng.choice(list("ACGT"), 80))
    p_ins = q[:40] + "G" + q[40:]
    other = "".join(rng.choice(list("ACGT"), 80))
    seqs = [p_ins, other, q]
    alone = np.array([[100, 0, 10]])  # one parent, never aligned elsewhere: not flagged
    both = np.array([[100, 0, 10], [100, 100, 10]])  # sample 2 aligns (q, p_ins)
    for counts in (alone, both):
        assert (is_bimera_denovo_table(counts, seqs) == _reference_flags(counts, seqs)).all()
    assert not is_bimera_denovo_table(alone, seqs)[2]
    assert is_bimera_denovo_table(both, seqs)[2]
    # one-off bimeras: every sample with a parent tests it
    for counts in (alone, both):
        ref = _reference_flags(counts, seqs, allow_one_off=True)
        assert ref[2] and (is_bimera_denovo_table(counts, seqs, allow_one_off=True) == ref).all()


def test_flags_equal_reference_on_real_merged_sequences(test_data):
    # R dada2's merged MiSeq SOP sequences (13 samples), their counts shuffled between
    # sequences and samples (other parent sets), plus chimeras of abundant ones cut at
    # several points, some shifted by a few bases or with one base changed
    import pandas as pd

    st = pd.read_csv(test_data / "reads" / "dada2-1.26-sop-prechimera.tsv.gz", sep="\t", index_col=0)
    st.pop("bimera")
    counts, seqs = st.to_numpy().T, list(st.index)
    rng = np.random.default_rng(11)
    order = np.argsort(-counts.sum(axis=0))
    extra = []
    for i in range(30):
        a, b = seqs[order[i % 8]], seqs[order[(i * 3 + 1) % 8]]
        cut = int(rng.integers(20, 230))
        x = a[:cut] + b[cut:]
        if i % 3 == 1:
            x = x[int(rng.integers(1, 10)):]
        elif i % 3 == 2:
            x = _mutate(rng, x, 1)
        if x not in seqs and x not in extra:
            extra.append(x)
    seqs = seqs + extra
    counts = np.hstack([counts, rng.integers(0, 6, size=(counts.shape[0], len(extra)))])
    cache: dict = {}
    for trial in range(2):
        c = counts if trial == 0 else rng.permuted(counts, axis=1)
        ref = _reference_flags(c, seqs, cache=cache)
        assert (is_bimera_denovo_table(c, seqs) == ref).all()
        assert (is_bimera_denovo_table(c, seqs, threads=2) == ref).all()
        assert ref.sum() >= 5  # the comparison is not all-False
        ref = _reference_flags(c, seqs, allow_one_off=True, cache=cache)
        assert (is_bimera_denovo_table(c, seqs, allow_one_off=True) == ref).all()
    # pooled, as removeBimeraDenovo(method="pooled") tests the totals
    tot = counts.sum(axis=0)[None, :]
    kw = {"min_fold_parent_over_abundance": 2.0, "min_parent_abundance": 8}
    assert (is_bimera_denovo_table(tot, seqs, **kw) == _reference_flags(tot, seqs, cache=cache, **kw)).all()
