"""predict_metagenome against hand-worked numbers (PICRUSt2's metagenome_pipeline.py rules)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microtrial.errors import InputError
from microtrial.function import predict_metagenome


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # ASV c has no prediction, d is above the NSTI cut-off (3 > 2)
    table = pd.DataFrame({"S1": [10, 5, 3, 4], "S2": [0, 6, 3, 4]}, index=["a", "b", "c", "d"])
    traits = pd.DataFrame({"F1": [1, 2, 7], "F2": [0, 4, 7], "F3": [0, 0, 7],
                           "metadata_NSTI": [0.1, 0.5, 3.0]}, index=["a", "b", "d"])
    marker = pd.DataFrame({"16S_rRNA_Count": [2, 3, 1], "metadata_NSTI": [0.1, 0.5, 3.0]},
                          index=["a", "b", "d"])
    return table, traits, marker


def test_normalisation_unstratified_and_weighted_nsti_by_hand() -> None:
    table, traits, marker = _inputs()
    res = predict_metagenome(table, traits, marker, max_nsti=2.0)
    # a: 10/2 = 5, 0/2 = 0; b: 5/3 = 1.666.. -> 1.67 (2 decimals), 6/3 = 2
    assert res.normalized.index.name == "normalized"
    assert res.normalized.loc["a"].tolist() == [5.0, 0.0]
    assert res.normalized.loc["b"].tolist() == [1.67, 2.0]
    assert list(res.normalized.index) == ["a", "b"]
    # F1: S1 = 5*1 + 1.67*2 = 8.34, S2 = 2*2 = 4; F2: S1 = 1.67*4 = 6.68, S2 = 2*4 = 8
    # F3 is 0 everywhere once d is excluded: dropped
    assert list(res.unstratified.index) == ["F1", "F2"]
    assert res.unstratified.index.name == "function"
    assert res.unstratified.loc["F1"].tolist() == pytest.approx([8.34, 4.0])
    assert res.unstratified.loc["F2"].tolist() == pytest.approx([6.68, 8.0])
    # weighted NSTI: S1 = (5*0.1 + 1.67*0.5) / 6.67, S2 = 2*0.5/2
    assert res.weighted_nsti is not None
    assert res.weighted_nsti["weighted_NSTI"].tolist() == pytest.approx(
        [(0.5 + 0.835) / 6.67, 0.5])
    assert res.excluded_nsti == ("d",)
    assert res.unpredicted == ("c",)
    assert res.contributions is None


def test_contributions_long_format_by_hand() -> None:
    table, traits, marker = _inputs()
    res = predict_metagenome(table, traits, marker, stratified=True)
    c = res.contributions
    assert c is not None
    assert list(c.columns) == ["sample", "function", "taxon", "taxon_abun", "taxon_rel_abun",
                               "genome_function_count", "taxon_function_abun",
                               "taxon_rel_function_abun", "norm_taxon_function_contrib"]
    s1 = c[c["sample"] == "S1"].set_index(["function", "taxon"])
    # S1: a = 5 (74.96% of 6.67), b = 1.67; F2 only from b (a has 0 copies: no row)
    assert ("F2", "a") not in s1.index
    assert s1.loc[("F1", "a"), "taxon_rel_abun"] == pytest.approx(500 / 6.67)
    assert s1.loc[("F1", "b"), "taxon_function_abun"] == pytest.approx(3.34)
    assert s1.loc[("F1", "a"), "norm_taxon_function_contrib"] == pytest.approx(5 / 8.34)
    assert s1.loc[("F1", "b"), "norm_taxon_function_contrib"] == pytest.approx(3.34 / 8.34)
    assert s1.loc[("F2", "b"), "taxon_rel_function_abun"] == pytest.approx(4 * 167 / 6.67)
    assert s1.loc[("F2", "b"), "norm_taxon_function_contrib"] == 1.0
    # S2: a is absent (0 reads): only b rows
    assert set(c[c["sample"] == "S2"]["taxon"]) == {"b"}
    # the contributions add up to the unstratified metagenome
    sums = c.groupby(["function", "sample"])["taxon_function_abun"].sum().unstack()
    np.testing.assert_allclose(sums.loc[["F1", "F2"], ["S1", "S2"]].to_numpy(),
                               res.unstratified.to_numpy())


def test_no_shared_asvs_is_an_input_error() -> None:
    table, traits, marker = _inputs()
    table.index = ["w", "x", "y", "z"]
    with pytest.raises(InputError, match="no ASV of the table"):
        predict_metagenome(table, traits, marker)


def test_all_above_max_nsti_is_an_input_error() -> None:
    table, traits, marker = _inputs()
    with pytest.raises(InputError, match="NSTI above"):
        predict_metagenome(table, traits, marker, max_nsti=0.01)


@pytest.mark.requires_shared
def test_archaeal_genomes_as_asvs(shared_data) -> None:  # noqa: ANN001
    """Genomes of PICRUSt2's archaeal reference as 'ASVs' with their own EC and 16S copies:
    each sample's metagenome is sum_i round(count_i / 16S_i, 2) * EC_i, computed here with
    numpy from the trait tables."""
    ref = shared_data / "picrust2-ref" / "archaea"
    ec = pd.read_csv(ref / "ec.txt.gz", sep="\t", index_col=0)
    s16 = pd.read_csv(ref / "16S.txt.gz", sep="\t", index_col=0)
    ids = list(ec.index[:25])
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 200, size=(25, 4))
    table = pd.DataFrame(counts, index=ids, columns=["A", "B", "C", "D"])
    res = predict_metagenome(table, ec.loc[ids], s16.loc[ids])
    norm = np.round(counts / s16.loc[ids].to_numpy(dtype=float), 2)
    expected = ec.loc[ids].to_numpy(dtype=float).T @ norm
    keep = ~(expected == 0).all(axis=1)
    got = res.unstratified.reindex(sorted(np.array(ec.columns)[keep]))
    want = pd.DataFrame(expected[keep], index=np.array(ec.columns)[keep],
                        columns=table.columns).sort_index()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)


def _rare_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # marker copies of 1: normalised abundances equal the counts
    table = pd.DataFrame({"S1": [8, 1, 2], "S2": [4, 0, 1]}, index=["x", "y", "z"])
    traits = pd.DataFrame({"F1": [1, 3, 2], "F2": [2, 0, 5]}, index=["x", "y", "z"])
    marker = pd.DataFrame({"16S_rRNA_Count": [1, 1, 1]}, index=["x", "y", "z"])
    return table, traits, marker


def test_rare_asvs_pooled_in_contributions_by_hand() -> None:
    table, traits, marker = _rare_inputs()
    # y has 1 read in total (< 4) and z 3 reads (< 4): both pooled as RARE
    res = predict_metagenome(table, traits, marker, stratified=True, min_reads=4)
    c = res.contributions
    assert c is not None
    s1 = c[c["sample"] == "S1"].set_index(["function", "taxon"])
    assert set(s1.index) == {("F1", "x"), ("F1", "RARE"), ("F2", "x"), ("F2", "RARE")}
    # S1 F1: RARE = y (1 * 3) + z (2 * 2) = 7; F2: RARE = z (2 * 5) = 10 (y has 0 copies)
    assert s1.loc[("F1", "RARE"), "taxon_function_abun"] == 7.0
    assert s1.loc[("F2", "RARE"), "taxon_function_abun"] == 10.0
    assert s1.loc[("F1", "RARE"), "norm_taxon_function_contrib"] == pytest.approx(7 / 15)
    # the unstratified table is unchanged by pooling
    assert res.unstratified.loc["F1"].tolist() == [8 + 3 + 4, 4 + 2]


def test_wide_stratified_and_skip_norm_by_hand() -> None:
    table, traits, marker = _rare_inputs()
    res = predict_metagenome(table, traits, None, stratified=True, wide=True, skip_norm=True)
    w = res.contributions
    assert w is not None and res.wide
    assert list(w.index.names) == ["function", "sequence"]
    # F2 of y is 0 in both samples: the row is dropped
    assert ("F2", "y") not in w.index
    assert w.loc[("F1", "y")].tolist() == [3.0, 0.0]
    assert w.loc[("F2", "z")].tolist() == [10.0, 5.0]
    assert res.unstratified.loc["F2"].tolist() == [2 * 8 + 5 * 2, 2 * 4 + 5 * 1]
    with pytest.raises(InputError, match="--marker"):
        predict_metagenome(table, traits, None)


def _naive_contributions(func: pd.DataFrame, abun: pd.DataFrame) -> pd.DataFrame:
    """Slow, obvious reference: melt the sample's prediction table (PICRUSt2's layout)."""
    rel = abun.div(abun.sum(axis=0), axis=1) * 100
    frames = []
    for s in abun.columns:
        present = abun.index[abun[s].to_numpy() != 0]
        sub = func.loc[present].copy()
        sub["taxon"] = list(sub.index)
        long = pd.melt(sub, id_vars="taxon", var_name="function", value_name="genome_function_count")
        long = long[long["genome_function_count"] != 0].copy()
        long["taxon_abun"] = [abun.at[t, s] for t in long["taxon"]]
        long["taxon_rel_abun"] = [rel.at[t, s] for t in long["taxon"]]
        long["taxon_function_abun"] = long["genome_function_count"] * long["taxon_abun"]
        long["taxon_rel_function_abun"] = long["genome_function_count"] * long["taxon_rel_abun"]
        tot = long.groupby("function")["taxon_function_abun"].transform("sum")
        long["norm_taxon_function_contrib"] = long["taxon_function_abun"] / tot
        long["sample"] = s
        frames.append(long)
    cols = ["sample", "function", "taxon", "taxon_abun", "taxon_rel_abun", "genome_function_count",
            "taxon_function_abun", "taxon_rel_function_abun", "norm_taxon_function_contrib"]
    return pd.concat(frames)[cols].reset_index(drop=True)


@pytest.mark.parametrize("seed", range(4))
def test_contributions_equal_the_naive_melt(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"asv{i}" for i in range(12)]
    table = pd.DataFrame(rng.poisson(5, (12, 4)) * rng.integers(0, 2, (12, 4)), index=ids,
                         columns=["A", "B", "C", "D"])
    traits = pd.DataFrame(rng.poisson(1, (12, 7)) * rng.integers(0, 2, (12, 7)), index=ids,
                          columns=[f"K{j}" for j in (5, 1, 3, 0, 6, 2, 4)])
    marker = pd.DataFrame({"16S": rng.integers(1, 5, 12)}, index=ids)
    res = predict_metagenome(table, traits, marker, stratified=True)
    naive = _naive_contributions(traits, res.normalized)
    pd.testing.assert_frame_equal(res.contributions.reset_index(drop=True), naive,
                                  check_dtype=False, rtol=1e-12)
