"""``--dada2-compatible`` gives R DADA2 1.26's ASVs and counts exactly, sample by sample.

Golden files: R's own output on 10 samples x 100 real MiSeq SOP read pairs (made from
../shared/data by tests/data/denoise/make_tiny.py), written by tests/data/denoise/dada2_tiny.R
(see the README there for the exact commands).  Nothing here comes from microtrial.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from microtrial.cli import main
from microtrial.io.fasta import read_fasta

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "denoise"

# golden prefix -> microtrial options (the R script's arguments, see the README)
RUNS = {
    "default": ["--trunc-len-f", "240", "--trunc-len-r", "160"],
    "trimleft": ["--trunc-len-f", "240", "--trunc-len-r", "160", "--trim-left-f", "10",
                 "--trim-left-r", "5"],
    "nreads": ["--trunc-len-f", "240", "--trunc-len-r", "160", "--n-reads-learn", "300"],
    "q2": ["--trunc-len-f", "240", "--trunc-len-r", "160", "--n-reads-learn", "1000000",
           "--min-fold-parent-over-abundance", "1.0"],
    "pooled": ["--trunc-len-f", "230", "--trunc-len-r", "150", "--chimera-method", "pooled"],
}


def _make_tiny():
    spec = importlib.util.spec_from_file_location("make_tiny", GOLDEN / "make_tiny.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.write_tiny


@pytest.fixture(scope="module")
def tiny_reads(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("tiny")
    _make_tiny()(shared_data / "miseq-sop", out)
    return out


def _ours(out: Path) -> dict[tuple[str, str], int]:
    table = pd.read_csv(out / "feature-table.tsv", sep="\t", index_col=0)
    seqs = read_fasta(out / "dna-sequences.fasta")
    return {(s, seqs[i]): int(c) for i in table.index for s, c in table.loc[i].items() if c > 0}


@pytest.mark.requires_shared
@pytest.mark.parametrize("run", sorted(RUNS))
def test_asvs_and_counts_equal_r_dada2_per_sample(tiny_reads, tmp_path, run):
    out = tmp_path / "out"
    code = main(["denoise", str(tiny_reads), "-o", str(out), "--dada2-compatible", "--threads", "2",
                 *RUNS[run]])
    assert code == 0
    golden = pd.read_csv(GOLDEN / f"tiny-{run}-table.tsv", sep="\t")
    expected = {(r.sample, r.sequence): int(r.count) for r in golden.itertuples()}
    ours = _ours(out)
    assert len({q for _, q in ours}) == len({q for _, q in expected})
    assert ours == expected
    # the read tracking too: filtered, denoised forward/reverse and merged reads per sample
    track = pd.read_csv(out / "read-tracking.tsv", sep="\t").set_index("sample-id")
    rt = pd.read_csv(GOLDEN / f"tiny-{run}-tracking.tsv", sep="\t").set_index("sample")
    for col, rcol in (("input", "input"), ("filtered", "filtered"), ("denoised-f", "denoised_f"),
                      ("denoised-r", "denoised_r"), ("merged", "merged")):
        assert track[col].to_dict() == rt[rcol].to_dict(), col
