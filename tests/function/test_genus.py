"""The embedded genus table and the genus route."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from microtrial.errors import InputError
from microtrial.function import load_genus_table, predict_by_genus

SIMULATED_BUTYRATE_GENERA = ("Roseburia", "Blautia", "Pseudobutyrivibrio", "Coprococcus")


def _small_table() -> pd.DataFrame:
    df = pd.DataFrame(
        {"rank": ["genus", "family"], "name": ["Gen", "Fam"], "genomes": [2, 5],
         "16S_rRNA_Count": [4.0, 2.0], "GH1": [1.5, 0.0]},
    )
    return df.set_index(["rank", "name"])


def test_genus_then_family_then_none() -> None:
    tax = pd.Series({"a": "k__Bacteria; f__Fam; g__Gen", "b": "k__Bacteria; f__Fam; g__Other",
                     "c": "k__Bacteria; f__[Fam]; g__", "d": "k__Bacteria; p__X"})
    res = predict_by_genus(tax, table=_small_table())
    assert res.matches["rank"].to_dict() == {"a": "genus", "b": "family", "c": "family",
                                             "d": "none"}
    assert res.marker["16S_rRNA_Count"].to_dict() == {"a": 4.0, "b": 2.0, "c": 2.0}
    assert res.traits["GH1"].to_dict() == {"a": 1.5, "b": 0.0, "c": 0.0}


def test_nothing_matched_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no ASV's genus"):
        predict_by_genus(pd.Series({"a": "k__Bacteria"}), table=_small_table())


def test_packaged_table_is_small_and_covers_the_simulated_butyrate_producers() -> None:
    import microtrial.function

    path = Path(microtrial.function.__file__).parent / "data" / "genus_traits.tsv.gz"
    assert path.stat().st_size < 2_000_000
    table = load_genus_table()
    genera = set(table.loc["genus"].index)
    for g in SIMULATED_BUTYRATE_GENERA:
        assert g in genera
    assert "Lachnospiraceae" in set(table.loc["family"].index)


@pytest.mark.requires_shared
def test_packaged_values_equal_the_picrust2_genome_means(shared_data: Path) -> None:
    """Recomputed here from PICRUSt2's bacterial metadata and 16S table: the mean 16S copy
    number of the genomes whose Greengenes taxonomy names the genus."""
    ref = shared_data / "picrust2-ref" / "bacteria"
    with gzip.open(ref / "bacteria_metadata.csv.gz", "rt") as fh:
        meta = pd.read_csv(fh, usecols=["accession", "ssu_gg_taxonomy"], dtype=str)
    copies = pd.read_csv(ref / "16S.txt.gz", sep="\t", index_col=0).iloc[:, 0]
    table = load_genus_table()
    for genus in SIMULATED_BUTYRATE_GENERA:
        ids = meta.loc[meta["ssu_gg_taxonomy"].str.contains(f"g__{genus};", regex=False,
                                                            na=False), "accession"]
        ids = [i for i in ids if i in copies.index]
        assert ids
        assert table.loc[("genus", genus), "genomes"] == len(ids)
        assert table.loc[("genus", genus), "16S_rRNA_Count"] == pytest.approx(
            copies.loc[ids].mean(), abs=5e-4)
