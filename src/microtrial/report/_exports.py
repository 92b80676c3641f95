"""``exports/``: the run's table, sequences, taxonomy and tree for phyloseq and QIIME 2."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

QZA = (("table.qza", "FeatureTable[Frequency]", ("feature-table.biom", "feature-table.tsv")),
       ("rep-seqs.qza", "FeatureData[Sequence]", ("dna-sequences.fasta",)),
       ("taxonomy.qza", "FeatureData[Taxonomy]", ("taxonomy.tsv",)),
       ("rooted-tree.qza", "Phylogeny[Rooted]", ("tree.nwk",)))


def write_exports(results: Path, out: Path, *, metadata: pd.DataFrame | None) -> list[str]:
    """Write ``out/phyloseq/`` and ``out/qiime2/``; returns paths relative to ``out.parent``."""
    from microtrial.io.feature_table import read_table
    from microtrial.io.phyloseq import write_phyloseq
    from microtrial.io.qza import import_file
    from microtrial.io.taxonomy import read_taxonomy

    table_path = next((results / n for n in ("feature-table.biom", "feature-table.tsv")
                       if (results / n).is_file()), None)
    if table_path is None:
        return []
    counts = read_table(table_path).to_dataframe()
    tax = read_taxonomy(results / "taxonomy.tsv")["Taxon"] if (results / "taxonomy.tsv").is_file() else None
    tree = (results / "tree.nwk").read_text(encoding="utf-8") if (results / "tree.nwk").is_file() else None
    written = write_phyloseq(counts, out / "phyloseq", taxonomy=tax, metadata=metadata, tree_newick=tree)
    (out / "qiime2").mkdir(parents=True, exist_ok=True)
    for name, stype, sources in QZA:
        src = next((results / s for s in sources if (results / s).is_file()), None)
        if src is not None:
            import_file(src, out / "qiime2" / name, semantic_type=stype)
            written.append(out / "qiime2" / name)
    return [str(p.relative_to(out.parent)) for p in written]
