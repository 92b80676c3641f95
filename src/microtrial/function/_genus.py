"""The embedded default: trait predictions by genus (falling back to family).

When no PICRUSt2 reference is given, each ASV takes the mean trait values of the genomes
of its genus (or, when the genus is unknown to the table, of its family) from a compact
table derived from PICRUSt2 2.6.3's bacterial genome metadata (see ``data/README.md`` and
``benchmarks/make_genus_table.py``): 16S copy number and CAZyme family counts. Names are
looked up as Greengenes (``g__``/``f__``) names first, then as SILVA and GTDB names.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from microtrial.errors import InputError

log = logging.getLogger(__name__)

MARKER_COLUMN = "16S_rRNA_Count"
TABLE_FILE = "genus_traits.tsv.gz"
_LEAD = ("rank", "name", "source", "genomes")


@lru_cache(maxsize=1)
def load_genus_table() -> pd.DataFrame:
    """The packaged genus/family table: index (rank, name), columns ``genomes``, the 16S
    copy number (``16S_rRNA_Count``) and one column per CAZy family."""
    ref = resources.files("microtrial.function") / "data" / TABLE_FILE
    with ref.open("rb") as raw, gzip.open(raw, "rt") as fh:
        df = pd.read_csv(fh, sep="\t", dtype={"name": str})
    return df.drop(columns="source").set_index(["rank", "name"])


def _rank_name(taxon: str, rank: str) -> str:
    for part in re.split(r"[;|]", taxon):
        part = part.strip()
        if part.startswith(f"{rank}__"):
            return part[3:].strip()
    return ""


def _clean(name: str) -> str:
    return name.strip("[]'\" ")


@dataclass(frozen=True)
class GenusPrediction:
    """Outputs of :func:`predict_by_genus`.

    Attributes
    ----------
    marker : pandas.DataFrame
        ASVs x ``16S_rRNA_Count`` (index name ``sequence``), matched ASVs only.
    traits : pandas.DataFrame
        ASVs x CAZy families (index name ``sequence``), matched ASVs only.
    matches : pandas.DataFrame
        Every ASV: ``rank`` (genus, family or none), ``name`` matched, ``genomes``.
    """

    marker: pd.DataFrame
    traits: pd.DataFrame
    matches: pd.DataFrame


def predict_by_genus(taxonomy: pd.DataFrame | pd.Series, *,
                     table: pd.DataFrame | None = None) -> GenusPrediction:
    """Trait predictions per ASV from its taxonomy.

    Parameters
    ----------
    taxonomy : pandas.DataFrame or pandas.Series
        Indexed by ASV id; the ``Taxon`` column (or the series) holds strings such as
        ``k__Bacteria; ...; f__Lachnospiraceae; g__Roseburia``.
    table : pandas.DataFrame, optional
        A table shaped as :func:`load_genus_table`'s (default: the packaged one).

    Returns
    -------
    GenusPrediction
    """
    taxa = taxonomy["Taxon"] if isinstance(taxonomy, pd.DataFrame) else taxonomy
    ref = load_genus_table() if table is None else table
    genus_names = set(ref.loc["genus"].index) if "genus" in ref.index.get_level_values(0) else set()
    family_names = set(ref.loc["family"].index) if "family" in ref.index.get_level_values(0) else set()
    keys: list[tuple[str, str] | None] = []
    rows = []
    for asv, taxon in taxa.items():
        taxon = "" if not isinstance(taxon, str) else taxon
        key: tuple[str, str] | None = None
        for rank, names in (("genus", genus_names), ("family", family_names)):
            name = _rank_name(taxon, rank[0])
            for candidate in (name, _clean(name)):
                if candidate and candidate in names:
                    key = (rank, candidate)
                    break
            if key is not None:
                break
        keys.append(key)
        if key is None:
            rows.append((str(asv), "none", "", 0))
        else:
            rows.append((str(asv), key[0], key[1], int(ref.at[key, "genomes"])))  # type: ignore[arg-type]
    matches = pd.DataFrame(rows, columns=["sequence", "rank", "name", "genomes"]).set_index("sequence")
    matched = [(str(a), k) for a, k in zip(taxa.index, keys) if k is not None]
    if not matched:
        raise InputError("--taxonomy", "no ASV's genus or family is in the embedded table "
                         "(expected Greengenes-style 'g__Genus'/'f__Family' names)")
    values = ref.loc[[k for _, k in matched]].drop(columns="genomes")
    values.index = pd.Index([a for a, _ in matched], name="sequence")
    values = values.astype(np.float64)
    marker = values[[MARKER_COLUMN]]
    traits = values.drop(columns=MARKER_COLUMN)
    n_none = int((matches["rank"] == "none").sum())
    if n_none:
        log.warning("%d of %d ASVs have no genus or family in the embedded table",
                    n_none, len(matches))
    return GenusPrediction(marker, traits, matches)
