"""analyse_functions: the differential tests and associations of predicted function tables,
in memory (hand-checkable truths: a function that rises in every subject, a metabolite
that is a monotone function of one function's relative abundance)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from microtrial.design import Comparison
from microtrial.function import DIFF_COLUMNS, FunctionStats, analyse_functions


def _inputs() -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[Comparison], pd.DataFrame]:
    subjects = [f"P{i}" for i in range(8)]
    samples = [f"{s}-{t}" for s in subjects for t in ("baseline", "week12")]
    md = pd.DataFrame({"subject": [s.split("-")[0] for s in samples],
                       "time": [s.split("-")[1] for s in samples]}, index=samples)
    up = [100.0 + 10 * i + (150 if s.endswith("week12") else 0)
          for i, s in enumerate(samples)]
    pathway = pd.DataFrame({s: {"UP": u, "FLAT1": 300.0 + (i % 3), "FLAT2": 250.0 + (i % 2)}
                            for i, (s, u) in enumerate(zip(samples, up))})
    rel = pathway.loc["UP"] / pathway.sum(axis=0)
    metabolites = pd.DataFrame({"butyrate": rel.to_numpy() ** 2}, index=samples)
    stranger = pathway.rename(columns=lambda s: f"X-{s}")  # no sample in the metadata
    comps = [Comparison(name="week12-vs-baseline", kind="paired", column="time",
                        levels=("week12", "baseline"), subject="subject")]
    return {"pathway": pathway, "stranger": stranger}, md, comps, metabolites


def test_analyse_functions_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables, md, comps, metabolites = _inputs()
    monkeypatch.chdir(tmp_path)
    stats = analyse_functions(tables, md, comparisons=comps, descriptions={"UP": "rises"},
                              subject="subject", time="time", baseline="baseline",
                              followup="week12", sample_measures={"metabolites": metabolites},
                              min_prevalence=0.1, seed=1)
    assert os.listdir(tmp_path) == []  # no temporary files
    assert isinstance(stats, FunctionStats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.differential = pd.DataFrame()  # type: ignore[misc]
    diff = stats.differential
    assert list(diff.columns) == [*DIFF_COLUMNS, "table"]
    assert set(diff["table"]) == {"pathway"}
    # the table whose samples are not in the metadata is skipped with its reason
    assert [s.split(":")[0] for s in stats.skipped] == ["differential (stranger)",
                                                       "associations (stranger)"]
    wil = diff[(diff["method"] == "paired-wilcoxon") & (diff["feature"] == "UP")]
    assert len(wil) == 1
    assert wil["effect"].iloc[0] > 0 and wil["p_value"].iloc[0] < 0.05
    assert wil["description"].iloc[0] == "rises"
    assert wil["contrast"].iloc[0] == "week12 vs baseline"
    # butyrate is a strictly increasing function of UP's relative abundance: rho = 1 over
    # the baseline samples (8 subjects)
    assoc = stats.associations
    assert assoc is not None
    sp = assoc[(assoc["method"] == "spearman") & (assoc["feature"] == "UP")]
    assert len(sp) == 1 and sp["measure_type"].iloc[0] == "metabolites"
    assert sp["rho"].iloc[0] == pytest.approx(1.0)
    assert sp["n"].iloc[0] == 8
    # no measures: no associations
    none = analyse_functions({"pathway": tables["pathway"]}, md, comparisons=comps,
                             subject="subject", time="time", baseline="baseline",
                             followup="week12")
    assert none.associations is None and none.skipped == []
    assert np.isfinite(none.differential["p_value"]).any()
