"""read_taxonomy: QIIME 2 taxonomy with a header, Greengenes-style without, and files that
are not a taxonomy (a feature table) rejected with the file and line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from microtrial.errors import InputError
from microtrial.io.taxonomy import read_taxonomy

TAXON = "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Blautia"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "taxonomy.tsv"
    p.write_text(text)
    return p


@pytest.mark.parametrize("header", ["Feature ID\tTaxon\tConfidence", "Feature ID\ttaxonomy\tConfidence",
                                    "#OTU ID\tTaxonomy\tConfidence", "feature-id\tTAXON\tConfidence"])
def test_header_with_a_taxon_column(tmp_path: Path, header: str) -> None:
    tax = read_taxonomy(_write(tmp_path, f"{header}\nASV1\t{TAXON}\t0.9\nASV2\tk__Bacteria\t\n"))
    assert list(tax.index) == ["ASV1", "ASV2"] and tax.index.name == "Feature ID"
    assert tax.loc["ASV1", "Taxon"] == TAXON and tax.loc["ASV1", "Confidence"] == 0.9
    assert math.isnan(tax.loc["ASV2", "Confidence"])


def test_headerless_greengenes(tmp_path: Path) -> None:
    tax = read_taxonomy(_write(tmp_path, f"228054\t{TAXON}\n844\tk__Bacteria; p__Proteobacteria\n"))
    assert list(tax.index) == ["228054", "844"]
    assert tax.loc["228054", "Taxon"] == TAXON


def test_feature_table_is_not_a_taxonomy(tmp_path: Path) -> None:
    p = _write(tmp_path, "#OTU ID\tS1\tS2\nASV1\t10\t0\nASV2\t3\t7\n")
    with pytest.raises(InputError, match="line 1: header must be 'Feature ID<TAB>Taxon'.*feature table") as exc:
        read_taxonomy(p)
    assert exc.value.path == str(p)


def test_biom_converted_feature_table_is_not_a_taxonomy(tmp_path: Path) -> None:
    p = _write(tmp_path, "# Constructed from biom file\n#OTU ID\tS1\tS2\nASV1\t10\t0\n")
    with pytest.raises(InputError, match="line 2: header must be 'Feature ID<TAB>Taxon'"):
        read_taxonomy(p)


def test_headerless_feature_table_is_not_a_taxonomy(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 1: taxon '10' is a number"):
        read_taxonomy(_write(tmp_path, "ASV1\t10\t0\nASV2\t3\t7\n"))


@pytest.mark.parametrize(("text", "message"), [
    ("Feature ID\tConfidence\nASV1\t0.9\n", "line 1: header must be 'Feature ID<TAB>Taxon', the second column is 'Confidence'"),
    ("Feature ID\n", "line 1: header must be"),
    (f"Feature ID\tTaxon\nASV1\t{TAXON}\nASV1\t{TAXON}\n", "line 3: duplicate feature id 'ASV1'"),
    (f"ASV1\t{TAXON}\nASV2\n", "line 2: row without a taxon"),
    ("\n\n", "empty taxonomy file"),
])
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        read_taxonomy(p)
    assert exc.value.path == str(p)
