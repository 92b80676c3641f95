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

from microtrial.errors import InputError, OptionError

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
        raise OptionError("function.taxonomy", "no ASV's genus or family is in the embedded table "
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


# --- a user's own genus-level trait table --------------------------------------------
GENUS_TRAITS_RANKS = ("genus", "family", "order")
"""Ranks at which a user's genus-level trait table is looked up, in this order."""
PACKAGED_PATHWAY_MAP = "metacyc_path2rxn_struc_filt_pro.txt.gz"
PACKAGED_REGROUP_MAP = "ec_level4_to_metacyc_rxn.tsv.gz"
PACKAGED_DESCRIPTIONS = "metacyc-pwy_name.txt.gz"


def packaged_map_lines(name: str) -> list[str]:
    """Lines of one of the packaged MetaCyc map files (PICRUSt2 2.6.3, GPL-3; see
    ``data/README.md``): :data:`PACKAGED_PATHWAY_MAP`, :data:`PACKAGED_REGROUP_MAP` or
    :data:`PACKAGED_DESCRIPTIONS`."""
    ref = resources.files("microtrial.function") / "data" / name
    with ref.open("rb") as raw, gzip.open(raw, "rt") as fh:
        return fh.readlines()


def trait_kind(columns: list[str] | pd.Index) -> str:
    """``ec`` when the columns are EC numbers (``EC:1.1.1.1`` or ``1.1.1.1``), ``ko`` when
    KEGG orthologs (``K00001``/``ko:K00001``), else ``traits``."""
    cols = [str(c) for c in columns if str(c) != MARKER_COLUMN]
    if not cols:
        return "traits"
    if all(re.fullmatch(r"(EC:)?\d+\.[\d-]+\.[\d-]+\.[\w-]+", c) for c in cols):
        return "ec"
    if all(re.fullmatch(r"(ko:)?K\d{5}", c) for c in cols):
        return "ko"
    return "traits"


def check_genus_traits(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a genus-level trait table (index: genus/family/order names; numeric,
    non-negative columns, one per trait; an optional ``16S_rRNA_Count``)."""
    if df.shape[1] == 0:
        raise InputError(source, "a genus trait table needs a name column and trait columns")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise InputError(source, f"column '{c}' is not numeric")
    if df.isna().any().any():
        raise InputError(source, "empty or missing values (give 0 for absent traits)")
    if (df.to_numpy() < 0).any():
        raise InputError(source, "negative trait values")
    if MARKER_COLUMN in df.columns and (df[MARKER_COLUMN] <= 0).any():
        raise InputError(source, f"'{MARKER_COLUMN}' must be > 0")
    names = [_clean(str(n)) for n in df.index]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(source, f"name '{dup}' is listed twice")
    out = df.astype(np.float64).copy()
    out = out.set_axis(names, axis=0)
    out.index.name = df.index.name or "genus"
    return out


@dataclass(frozen=True)
class GenusTraitPrediction:
    """Outputs of :func:`predict_from_genus_traits`.

    Attributes
    ----------
    traits : pandas.DataFrame
        Matched ASVs x the table's trait columns (index name ``sequence``).
    marker : pandas.DataFrame or None
        Matched ASVs x ``16S_rRNA_Count`` when the table has that column.
    matches : pandas.DataFrame
        Every ASV: ``rank`` (genus, family, order or none) and ``name`` matched.
    """

    traits: pd.DataFrame
    marker: pd.DataFrame | None
    matches: pd.DataFrame


def predict_from_genus_traits(taxonomy: pd.DataFrame | pd.Series, table: pd.DataFrame, *,
                              source: str = "genus_traits") -> GenusTraitPrediction:
    """Per-ASV trait predictions from a user's genus-level trait table.

    Each ASV takes the row named as its genus, else its family, else its order (names
    without ``g__``/``f__``/``o__`` prefixes; an empty genus falls through to the family).

    Parameters
    ----------
    taxonomy : pandas.DataFrame or pandas.Series
        ``Taxon`` per ASV (Greengenes-style ``; ``-separated ranks).
    table : pandas.DataFrame
        From :func:`check_genus_traits`.
    source : str
        Named in errors.

    Returns
    -------
    GenusTraitPrediction
    """
    taxa = taxonomy["Taxon"] if isinstance(taxonomy, pd.DataFrame) else taxonomy
    names = set(table.index)
    rows = []
    matched: list[tuple[str, str]] = []
    for asv, taxon in taxa.items():
        taxon = taxon if isinstance(taxon, str) else ""
        hit = ("none", "")
        for rank in GENUS_TRAITS_RANKS:
            name = _clean(_rank_name(taxon, rank[0]))
            if name and name in names:
                hit = (rank, name)
                break
        rows.append((str(asv), *hit))
        if hit[0] != "none":
            matched.append((str(asv), hit[1]))
    matches = pd.DataFrame(rows, columns=["sequence", "rank", "name"]).set_index("sequence")
    if not matched:
        raise InputError(source, "no ASV's genus, family or order is named in this trait table")
    values = table.loc[[n for _, n in matched]]
    values.index = pd.Index([a for a, _ in matched], name="sequence")
    marker = values[[MARKER_COLUMN]] if MARKER_COLUMN in values.columns else None
    traits = values.drop(columns=[MARKER_COLUMN]) if marker is not None else values
    n_none = int((matches["rank"] == "none").sum())
    if n_none:
        log.warning("%d of %d ASVs have no genus, family or order in %s",
                    n_none, len(matches), source)
    return GenusTraitPrediction(traits, marker, matches)
