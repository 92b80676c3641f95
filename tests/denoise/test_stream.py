"""Streaming denoising: samples beyond the error-model samples are loaded, denoised and merged
one at a time, and the result equals the whole-run computation.

Inputs: the first 300 read pairs of five MiSeq SOP samples (real reads). ``n_reads_learn`` is
set low so that the error model is learned from the first two samples only and the other
three are streamed. The reference is the whole run held in memory and computed with the
stage's public building blocks in one go, as the denoiser did before it streamed:
``learn_errors`` on the same samples, one ``dada`` call over all samples (whose own
``pool="pseudo"`` finds the priors), a first merge of every sample for
``reverse_partners``, a second merge, the sequence table, bimeras and the read floor.
"""

from __future__ import annotations

import gc
import gzip
import weakref
from pathlib import Path

import numpy as np
import pytest

from microtrial.denoise import (
    DenoiseSettings,
    Derep,
    dada,
    denoise_reads,
    learn_errors,
    merge_pairs,
    reverse_partners,
)
from microtrial.denoise._samples import SampleData, bimeras, run_samples, sequence_table
from microtrial.reads import FilterParams, dereplicate, filter_pair, find_samples, read_pair

pytestmark = pytest.mark.requires_shared

SAMPLES = ("F3D1", "F3D141", "F3D142", "F3D143", "F3D144")
N_PAIRS = 300
TRUNC = (240, 160)
LEARN = 400  # reads: the first two samples (about 250 filtered reads each) cross it


@pytest.fixture(scope="module")
def reads_dir(tmp_path_factory, shared_data: Path) -> Path:
    src = shared_data / "miseq-sop"
    out = tmp_path_factory.mktemp("sop-small")
    for name in SAMPLES:
        for mate in ("R1", "R2"):
            matches = sorted(src.glob(f"{name}_*_L001_{mate}_001.fastq.gz"))
            assert len(matches) == 1, f"{name} {mate} not in {src}"
            with gzip.open(matches[0], "rt") as fh:
                lines = [next(fh) for _ in range(4 * N_PAIRS)]
            (out / matches[0].name).write_bytes(gzip.compress("".join(lines).encode()))
    return out


@pytest.fixture(scope="module")
def dereps(reads_dir: Path) -> tuple[list[Derep], list[Derep]]:
    fs, rs = [], []
    for files in find_samples(reads_dir):
        fwd, rev = read_pair(files)
        ff, fr = filter_pair(fwd, rev, *(FilterParams(trunc_len=t, max_ee=2.0, rm_phix=False)
                                         for t in TRUNC))
        fs.append(dereplicate(ff))
        rs.append(dereplicate(fr))
    return fs, rs


def _whole_run(dereps_f, dereps_r, s: DenoiseSettings):
    """The whole run in memory (see the module docstring): (counts, sequences, merged reads)."""
    s = s.effective()
    err_f = learn_errors(dereps_f, nreads=s.n_reads_learn)
    err_r = learn_errors(dereps_r, nreads=s.n_reads_learn)
    dd_f = dada(dereps_f, err=err_f, pool=s.pool)
    dd_r = dada(dereps_r, err=err_r, pool=s.pool)
    kw = dict(min_overlap=s.min_overlap, max_mismatch=s.max_mismatch)
    partners = None
    if s.reverse_partners:
        partners = reverse_partners([(df, dr, merge_pairs(df, xf, dr, xr, **kw))
                                     for xf, xr, df, dr in zip(dereps_f, dereps_r, dd_f, dd_r)])
    per_sample = []
    for xf, xr, df, dr in zip(dereps_f, dereps_r, dd_f, dd_r):
        m = merge_pairs(df, xf, dr, xr, **kw, err_r=err_r if partners else None, partners_r=partners)
        per_sample.append(dict(zip(m.sequences, (int(a) for a in m.abundances))))
    counts, seqs = sequence_table(per_sample)
    merged = counts.sum(axis=1)
    bim = bimeras(counts, seqs, s)
    counts, seqs = counts[:, ~bim], [q for q, b in zip(seqs, bim) if not b]
    rare = counts.sum(axis=0) < s.min_reads
    return counts[:, ~rare], [q for q, r in zip(seqs, rare) if not r], merged


@pytest.mark.parametrize("options", [
    {},  # the defaults: pseudo-pooling, reverse partners
    {"dada2_compatible": True},  # independent samples, no partner check
    {"pool": "all"},  # held whole by definition
    {"pool": "none", "reverse_partners": True},
])
def test_streamed_run_equals_the_whole_run(reads_dir, dereps, options, monkeypatch) -> None:
    import microtrial.denoise._samples as engine

    monkeypatch.setattr(engine, "TASK_BATCH", 1)  # tasks in batches of 4 samples (2 threads)
    s = DenoiseSettings(trunc_len_f=TRUNC[0], trunc_len_r=TRUNC[1], n_reads_learn=LEARN,
                        rm_phix=False, **options)
    got = denoise_reads(find_samples(reads_dir), settings=s, threads=2)
    counts, seqs, merged = _whole_run(*dereps, s)
    assert len(seqs) > 10
    assert got.result.sequences == seqs
    assert np.array_equal(got.result.counts, counts)
    assert got.tracking["merged"].tolist() == merged.tolist()
    assert got.tracking["filtered"].tolist() == [d.n_reads for d in dereps[0]]


class _CountingSource:
    """Fresh copies of in-memory samples, counting loads and watching the copies' lifetime."""

    def __init__(self, dereps_f, dereps_r) -> None:
        self.f, self.r = dereps_f, dereps_r
        self.loads = [0] * len(dereps_f)
        self.alive: list[weakref.ref] = []

    def __call__(self, i: int) -> SampleData:
        self.loads[i] += 1
        copy = [Derep(d.sequences, d.abundances.copy(), d.mean_quality, d.read_to_unique.copy())
                for d in (self.f[i], self.r[i])]
        self.alive += [weakref.ref(c) for c in copy]
        return SampleData(copy[0], copy[1], meta=i)


def test_only_the_error_model_samples_are_held(dereps) -> None:
    source = _CountingSource(*dereps)
    s = DenoiseSettings(n_reads_learn=LEARN)
    res, metas = run_samples(source, len(SAMPLES), paired=True, settings=s, threads=1)
    assert metas == list(range(len(SAMPLES)))
    # every sample once per pass (pseudo-pooling's first pass, denoise + first merge, final
    # merge), the two error-model samples once more before (dropped after learning)
    assert source.loads == [4, 4, 3, 3, 3]
    del res
    gc.collect()
    assert not any(ref() is not None for ref in source.alive)  # nothing kept after the run
    none = _CountingSource(*dereps)
    run_samples(none, len(SAMPLES), paired=True, threads=1,
                settings=DenoiseSettings(n_reads_learn=LEARN, dada2_compatible=True))
    assert none.loads == [2, 2, 1, 1, 1]  # independent samples, no partner check: one pass
    whole = _CountingSource(*dereps)  # the error model learned from every sample: held
    run_samples(whole, len(SAMPLES), paired=True, threads=1, settings=DenoiseSettings())
    assert whole.loads == [1, 1, 1, 1, 1]


def test_a_dask_cluster_gives_the_local_result(reads_dir) -> None:
    from microtrial.parallel import dask_executor

    s = DenoiseSettings(trunc_len_f=TRUNC[0], trunc_len_r=TRUNC[1], n_reads_learn=LEARN, rm_phix=False)
    samples = find_samples(reads_dir)
    local = denoise_reads(samples, settings=s, threads=1)
    with dask_executor(jobs=2, processes=False) as ex:
        remote = denoise_reads(samples, settings=s, executor=ex)
    assert remote.result.sequences == local.result.sequences
    assert np.array_equal(remote.result.counts, local.result.counts)
    assert remote.tracking.equals(local.tracking)
