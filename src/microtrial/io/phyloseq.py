"""phyloseq-ready files: OTU table, taxonomy, sample data and tree, with an R snippet.

phyloseq (McMurdie & Holmes 2013, PLoS ONE 8:e61217) builds an object from an
``otu_table`` (taxa as rows), a ``tax_table`` (a character matrix, one column per rank),
``sample_data`` (a data frame with sample names as row names) and a ``phy_tree``; the
snippet written here reads each file with base R and ``ape::read.tree`` and calls
``phyloseq::phyloseq``. Names are matched exactly, so the files keep the ids as they are
and R is told not to mangle them (``check.names = FALSE``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from microtrial.io._atomic import atomic_open

__all__ = ["RANKS", "split_taxonomy", "write_phyloseq"]

RANKS = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species")
_PREFIXES = {"d": 0, "k": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}

_SNIPPET = """# Load the microtrial export into a phyloseq object `ps`.
# Run from the folder holding this script, or set `dir` to it.
library(phyloseq)
dir <- if (exists("dir")) dir else "."
read <- function(f) read.delim(file.path(dir, f), row.names = 1, check.names = FALSE,
                               colClasses = "character", na.strings = "", quote = "",
                               comment.char = "")
otu <- as.matrix(read("otu-table.tsv"))
storage.mode(otu) <- "numeric"
parts <- list(otu_table(otu, taxa_are_rows = TRUE))
if (file.exists(file.path(dir, "taxonomy.tsv")))
  parts <- c(parts, list(tax_table(as.matrix(read("taxonomy.tsv")))))
if (file.exists(file.path(dir, "sample-data.tsv")))
  parts <- c(parts, list(sample_data(read("sample-data.tsv"))))
if (file.exists(file.path(dir, "tree.nwk")))
  parts <- c(parts, list(phy_tree(ape::read.tree(file.path(dir, "tree.nwk")))))
ps <- do.call(phyloseq, parts)
ps
"""


def split_taxonomy(taxa: pd.Series) -> pd.DataFrame:
    """``d__Bacteria; p__...`` strings as one column per rank (:data:`RANKS`), prefixes removed;
    unnamed ranks are empty."""
    rows = []
    for taxon in taxa.astype(str):
        row = [""] * len(RANKS)
        for part in (p.strip() for p in taxon.split(";")):
            prefix, sep, name = part.partition("__")
            if sep and prefix in _PREFIXES:
                row[_PREFIXES[prefix]] = name
        rows.append(row)
    return pd.DataFrame(rows, index=taxa.index, columns=list(RANKS))


def _write(df: pd.DataFrame, path: Path, index_label: str) -> None:
    with atomic_open(path) as fh:
        df.to_csv(fh, sep="\t", index_label=index_label, lineterminator="\n")


def write_phyloseq(
    counts: pd.DataFrame, out_dir: str | os.PathLike[str], *, taxonomy: pd.Series | None = None,
    metadata: pd.DataFrame | None = None, tree_newick: str | None = None,
) -> list[Path]:
    """Write ``otu-table.tsv``, ``taxonomy.tsv``, ``sample-data.tsv``, ``tree.nwk`` and
    ``load-phyloseq.R`` into ``out_dir``.

    Parameters
    ----------
    counts : DataFrame
        Features x samples counts.
    taxonomy : Series, optional
        ``Taxon`` strings by feature id.
    metadata : DataFrame, optional
        Sample metadata indexed by sample id (only the table's samples are written).
    tree_newick : str, optional
        The tree as Newick text (tips named by feature id).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    _write(counts.astype("int64"), out / "otu-table.tsv", "feature")
    written.append(out / "otu-table.tsv")
    if taxonomy is not None:
        tax = split_taxonomy(taxonomy.reindex(counts.index).fillna(""))
        _write(tax, out / "taxonomy.tsv", "feature")
        written.append(out / "taxonomy.tsv")
    if metadata is not None:
        md = metadata.reindex([c for c in counts.columns if c in metadata.index])
        _write(md, out / "sample-data.tsv", "sample")
        written.append(out / "sample-data.tsv")
    if tree_newick is not None:
        with atomic_open(out / "tree.nwk") as fh:
            fh.write(tree_newick)
        written.append(out / "tree.nwk")
    with atomic_open(out / "load-phyloseq.R") as fh:
        fh.write(_SNIPPET)
    written.append(out / "load-phyloseq.R")
    return written
