"""The denoise stage end to end: outputs per CONTRACT.md, read tracking, empty samples.

The plumbing tests replace the denoiser (``learn_errors``/``dada``, written and tested
elsewhere) by a stand-in that makes every unique sequence its own variant: with error-free
simulated reads that is the true answer, so every count below is known by construction.
The last test runs the real denoiser on three real MiSeq SOP samples against R DADA2's
golden sequence table.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.errors import InputError
from microtrial.io.fasta import read_fasta, sequence_id
from microtrial.io.feature_table import read_biom, read_table_tsv
from microtrial.pipeline.denoise import DenoiseOptions, denoise_stage

from ._reads import write_pairs

RNG = np.random.default_rng(42)
A = "".join(RNG.choice(list("ACGT"), 120))
B = "".join(c if RNG.random() > 0.15 else "ACGT"[("ACGT".index(c) + 1) % 4] for c in A)
CHIMERA = A[:60] + B[60:]
READ = 80  # 80 + 80 over a 120-nt amplicon: 40-nt overlap


@pytest.fixture
def reads_dir(tmp_path):
    d = tmp_path / "reads"
    write_pairs(d, "s1", [A] * 50 + [B] * 30 + [CHIMERA] * 5, READ)
    write_pairs(d, "s2", [B] * 40 + [A] * 20 + [CHIMERA] * 4, READ)
    write_pairs(d, "lost", [A] * 10, READ, bad_quality=True)  # Q2 at base 5: truncQ leaves 4 nt
    return d


@pytest.mark.parametrize("threads", [1, 2])
def test_outputs_and_tracking(exact_denoiser, reads_dir, tmp_path, caplog, threads):
    out = tmp_path / f"out{threads}"
    with caplog.at_level(logging.WARNING, logger="microtrial"):
        summary = denoise_stage(reads_dir, out, options=DenoiseOptions(trunc_len_f=75, trunc_len_r=75, threads=threads))
    assert any("lost" in r.getMessage() for r in caplog.records)
    assert summary.n_samples == 3 and summary.n_asvs == 2
    track = pd.read_csv(out / "read-tracking.tsv", sep="\t")
    assert list(track.columns) == ["sample-id", "input", "filtered", "denoised-f", "denoised-r", "merged", "non-chimeric"]
    rows = {r["sample-id"]: r[1:].tolist() for _, r in track.iterrows()}
    # merged = truncated forward (75) + the rest of the reverse: the whole 120-nt amplicon
    assert rows == {"lost": [10, 0, 0, 0, 0, 0], "s1": [85, 85, 85, 85, 85, 80], "s2": [64, 64, 64, 64, 64, 60]}
    seqs = read_fasta(out / "dna-sequences.fasta")
    assert set(seqs.values()) == {A, B}  # the chimera is gone, its parents kept
    assert set(seqs) == {sequence_id(A), sequence_id(B)}
    table = read_biom(out / "feature-table.biom")
    df = table.to_dataframe()
    assert df.loc[sequence_id(A), "s1"] == 50 and df.loc[sequence_id(B), "s2"] == 40
    assert "lost" not in table.sample_ids  # an empty sample has no column, only a tracking row
    assert read_table_tsv(out / "feature-table.tsv").to_dataframe().equals(df)
    assert (out / "feature-table.tsv").read_text().splitlines()[0].startswith("#OTU ID")
    prof = pd.read_csv(out / "quality-profile-f.tsv", sep="\t")
    assert list(prof.columns) == ["position", "mean_quality", "q25", "median", "q75", "n_reads"]
    assert prof["n_reads"].iloc[0] == 85 + 64 + 10
    info = json.loads((out / "run-info.json").read_text())
    assert info["truncation"]["trunc_len_f"] == 75 and info["options"]["threads"] == threads


def test_automatic_truncation_and_no_chimera_removal(exact_denoiser, reads_dir, tmp_path):
    summary = denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(chimeras=False, min_reads=1))  # the 9-read chimera stays
    # error-free Q40 reads of 80 nt: every rule allows the full length
    assert (summary.trunc_len_f, summary.trunc_len_r) == (80, 80)
    assert summary.n_asvs == 3
    info = json.loads((tmp_path / "o" / "run-info.json").read_text())
    assert info["truncation"]["automatic"] and info["truncation"]["amplicon_length"] == 120


def test_merge_options_respected(exact_denoiser, reads_dir, tmp_path):
    # a 40-nt overlap cannot satisfy min_overlap 50: nothing merges, so no ASV is left, an
    # error that names the reads folder and the step (merging), before anything is written
    with pytest.raises(InputError) as exc:
        denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(trunc_len_f=80, trunc_len_r=80, min_overlap=50))
    assert exc.value.path == str(reads_dir)
    assert "lost at merging" in exc.value.message and "merged 0," in exc.value.message
    assert "--min-overlap 50" in exc.value.message
    assert not (tmp_path / "o").exists()


def test_single_end(exact_denoiser, tmp_path):
    d = tmp_path / "se"
    d.mkdir()
    recs = "".join(f"@r{i}\n{A[:70]}\n+\n{'I' * 70}\n" for i in range(7))
    (d / "x.fastq").write_text(recs)
    summary = denoise_stage(d, tmp_path / "o", options=DenoiseOptions(trunc_len_f=60, min_reads=1))
    assert summary.n_asvs == 1 and not summary.paired
    assert read_fasta(tmp_path / "o" / "dna-sequences.fasta") == {sequence_id(A[:60]): A[:60]}
    track = pd.read_csv(tmp_path / "o" / "read-tracking.tsv", sep="\t")
    assert list(track.columns) == ["sample-id", "input", "filtered", "denoised-f", "denoised-r", "merged", "non-chimeric"]
    assert track.drop(columns="denoised-r").iloc[0].tolist() == ["x", 7, 7, 7, 7, 7]
    assert track["denoised-r"].isna().all()  # single-end: no reverse reads


def test_bad_option(tmp_path, reads_dir):
    from microtrial.errors import InputError

    with pytest.raises(InputError, match="--pool"):
        denoise_stage(reads_dir, tmp_path / "o", options=DenoiseOptions(pool="everything"))


def _golden_agreement(out: Path, golden: Path, samples: list[str]) -> float:
    gold = pd.read_csv(golden, sep="\t", index_col=0)[samples]
    gold = gold[gold.sum(axis=1) > 0]
    ours = read_table_tsv(out / "feature-table.tsv").to_dataframe()
    seqs = read_fasta(out / "dna-sequences.fasta")
    ours.index = [seqs[i] for i in ours.index]
    shared = ours.index.intersection(gold.index)
    return float(ours.loc[shared, samples].sum().sum() / ours[samples].sum().sum())


@pytest.mark.requires_shared
def test_agrees_with_r_dada2_on_real_samples(shared_data, tmp_path):
    sop = shared_data / "miseq-sop"
    samples = ["F3D1", "F3D141", "F3D142"]
    reads = tmp_path / "reads"
    reads.mkdir()
    for p in sop.glob("*_R[12]_001.fastq.gz"):
        if p.name.split("_")[0] in samples:
            (reads / p.name).symlink_to(p)
    out = tmp_path / "out"
    summary = denoise_stage(reads, out, options=DenoiseOptions(
        trunc_len_f=240, trunc_len_r=160, pool="none", chimera_one_off=False, reverse_partners=False, min_reads=1,
        threads=2))  # R DADA2's settings
    # R DADA2 1.26 filterAndTrim counts (see tests/reads/test_filter_real.py)
    filtered = dict(zip(summary.tracking["sample-id"], summary.tracking["filtered"]))
    assert filtered == {"F3D1": 5299, "F3D141": 5463, "F3D142": 2914}
    frac = _golden_agreement(out, sop / "reference-outputs" / "dada2-1.26-seqtab.tsv", samples)
    assert frac >= 0.95


def test_all_samples_lost(exact_denoiser, tmp_path):
    # every read fails the quality filter: an error (not an empty table) saying so, with the
    # read-tracking totals, and no output at all
    d = tmp_path / "reads"
    write_pairs(d, "a", [A] * 3, READ, bad_quality=True)
    write_pairs(d, "b", [B] * 2, READ, bad_quality=True)
    with pytest.raises(InputError) as exc:
        denoise_stage(d, tmp_path / "o", options=DenoiseOptions(trunc_len_f=70, trunc_len_r=70))
    assert exc.value.path == str(d)
    assert exc.value.message.startswith(
        "no ASV left in any sample: all 5 read pairs were lost at quality filtering (input 5, "
        "filtered 0, denoised-f 0, denoised-r 0, merged 0, non-chimeric 0): check "
        "--trunc-len-f/--trunc-len-r (used 70 nt/70 nt), --trunc-q 2")
    assert not (tmp_path / "o").exists()


def test_cli(exact_denoiser, reads_dir, tmp_path):
    from microtrial.cli import main

    out = tmp_path / "cli"
    code = main(["denoise", str(reads_dir), "-o", str(out), "--trunc-len-f", "75", "--trunc-len-r", "75", "--min-reads", "1",
                 "--no-chimera-removal", "--threads", "1", "--max-ee", "2", "3"])
    assert code == 0
    assert len(read_fasta(out / "dna-sequences.fasta")) == 3  # the chimera stays
    info = json.loads((out / "run-info.json").read_text())
    assert info["options"]["max_ee"] == [2.0, 3.0] and info["options"]["chimera_method"] == "none"


def test_one_off_chimeras_and_study_singletons(exact_denoiser, tmp_path):
    # a bimera of A and B with one base that neither parent has (where A and B agree), in
    # 9 reads, and a variant C seen in one read of the whole run
    i = next(k for k in range(70, 110) if A[k] == B[k])
    one_off = CHIMERA[:i] + ("A" if CHIMERA[i] != "A" else "C") + CHIMERA[i + 1 :]
    c = "".join(RNG.choice(list("ACGT"), 120))
    d = tmp_path / "reads"
    write_pairs(d, "s1", [A] * 50 + [B] * 30 + [one_off] * 5 + [c], READ)
    write_pairs(d, "s2", [B] * 40 + [A] * 20 + [one_off] * 4, READ)
    opts = dict(trunc_len_f=75, trunc_len_r=75)
    default = denoise_stage(d, tmp_path / "a", options=DenoiseOptions(**opts))
    assert set(read_fasta(tmp_path / "a" / "dna-sequences.fasta").values()) == {A, B}
    assert default.tracking["non-chimeric"].tolist() == [80, 60]
    keep_rare = denoise_stage(d, tmp_path / "k", options=DenoiseOptions(**opts, min_reads=1))
    assert set(read_fasta(tmp_path / "k" / "dna-sequences.fasta").values()) == {A, B, c}  # one-off flagged
    assert keep_rare.tracking["non-chimeric"].tolist() == [81, 60]
    nine = denoise_stage(d, tmp_path / "n", options=DenoiseOptions(**opts, chimera_one_off=False, min_reads=9))
    assert set(read_fasta(tmp_path / "n" / "dna-sequences.fasta").values()) == {A, B, one_off}  # 5 + 4 reads
    assert nine.n_asvs == 3
    dada2_like = denoise_stage(d, tmp_path / "b", options=DenoiseOptions(**opts, chimera_one_off=False, min_reads=1))
    assert set(read_fasta(tmp_path / "b" / "dna-sequences.fasta").values()) == {A, B, one_off, c}
    assert dada2_like.n_asvs == 4
    with pytest.raises(Exception, match="--min-reads"):
        denoise_stage(d, tmp_path / "c", options=DenoiseOptions(**opts, min_reads=0))
