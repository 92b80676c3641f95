"""The differential stage end to end on a small simulated study, and its CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.cli import main
from microtrial.design import Comparison
from microtrial.pipeline.differential import differential_stage

GENERA = ["Faecalibacterium", "Roseburia", "Bacteroides", "Prevotella", "Akkermansia", "Blautia"]


def _study(tmp: Path, sim) -> tuple[Path, Path, Path, np.ndarray]:
    contrast, truth = sim(n_features=60, n_da=6, lfc=2.0, paired=True, subject_sd=1.0,
                          n_per_group=10, seed=4)
    counts = contrast.counts
    table = tmp / "table.tsv"
    counts.rename_axis("#OTU ID").to_csv(table, sep="\t")
    md = pd.DataFrame({"sample-id": counts.columns, "time": np.where(contrast.is_test, "week12", "baseline"),
                       "subject": contrast.subject.to_numpy(), "age": np.linspace(30, 60, counts.shape[1])})
    md.to_csv(tmp / "metadata.tsv", sep="\t", index=False)
    tax = [f"k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Fam{i % 4}; g__{GENERA[i % 6]}"
           for i in range(counts.shape[0])]
    pd.DataFrame({"Feature ID": counts.index, "Taxon": tax}).to_csv(tmp / "taxonomy.tsv", sep="\t", index=False)
    return table, tmp / "metadata.tsv", tmp / "taxonomy.tsv", truth


def test_stage_writes_contract_files(tmp_path: Path, sim) -> None:
    table, md, tax, truth = _study(tmp_path, sim)
    comps = [Comparison("week12-vs-baseline", "paired", "time", ("week12", "baseline"), subject="subject"),
             Comparison("unpaired", "between", "time", ("week12", "baseline"))]
    out = tmp_path / "out"
    summary = differential_stage(table, md, out, comparisons=comps, taxonomy=tax,
                                 ranks=("asv", "genus"), covariates=("age",), seed=1)
    for name in ("lefse", "ancombc", "aldex", "lmm", "paired-wilcoxon"):
        df = pd.read_csv(out / f"differential-{name}.tsv", sep="\t")
        assert list(df.columns[:6]) == ["feature", "contrast", "effect", "effect_type", "p_value", "q_value"]
    pw = pd.read_csv(out / "differential-paired-wilcoxon.tsv", sep="\t")
    assert set(pw["contrast"]) == {"week12-vs-baseline"}  # not applied to the between one
    asv = pw[pw["rank"] == "asv"].set_index("feature")
    called = asv.index[asv["q_value"] < 0.05]
    true = set(np.asarray(pd.read_csv(table, sep="\t", index_col=0).index)[truth != 0])
    assert len(true & set(called)) >= 5
    cons = pd.read_csv(out / "differential-consensus.tsv", sep="\t")
    assert {"feature", "rank", "contrast", "n_methods"} <= set(cons.columns)
    guilds = pd.read_csv(out / "guilds.tsv", sep="\t", index_col=0)
    assert list(guilds.columns) == ["butyrate_producers", "inflammation_associated"]
    assert ((guilds >= 0) & (guilds <= 1)).all().all()
    assert (out / "differential-guilds.tsv").exists() and (out / "run-info.json").exists()
    assert any("lefse skipped" in s for s in summary.skipped)


def test_cli_paired_and_errors(tmp_path: Path, sim, capsys) -> None:
    table, md, tax, _ = _study(tmp_path, sim)
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "time",
               "--subject", "subject", "--method", "paired-wilcoxon,lmm", "-o", str(tmp_path / "o")])
    assert rc == 0
    df = pd.read_csv(tmp_path / "o" / "differential-lmm.tsv", sep="\t")
    assert set(df["contrast"]) == {"week12-vs-baseline"}
    assert (df["rank"] == "asv").all()
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "time",
               "--method", "deseq2", "-o", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown differential method 'deseq2'" in err and "paired-wilcoxon" in err
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "nope",
               "-o", str(tmp_path / "bad")])
    assert rc == 2 and "no column 'nope'" in capsys.readouterr().err
    rc = main(["differential", "--table", str(table), "--metadata", str(md), "--group", "time",
               "--rank", "genus", "-o", str(tmp_path / "bad")])
    assert rc == 2 and "need a taxonomy" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
