"""Rebuild microtrial's embedded genus/family trait table from PICRUSt2 2.6.3's files.

    python benchmarks/make_genus_table.py [--ref ../shared/data/picrust2-ref] \
        [-o src/microtrial/function/data/genus_traits.tsv.gz]

Reads ``bacteria/bacteria_metadata.csv.gz`` (per GTDB genome: its Greengenes, SILVA and
GTDB taxonomy strings), ``bacteria/16S.txt.gz`` (16S copies) and ``bacteria/cazy.txt.gz``
(CAZyme family counts). For every genus and family name (Greengenes first, then SILVA and
GTDB names not already present) it writes the mean over the genomes carrying that name of
the 16S copy number and of each CAZy family count (3 decimals), and the number of genomes.
PICRUSt2's phenotype table (``prokaryotic/pheno.txt.gz``) is keyed by IMG genome ids, which
none of these files ties to a taxonomy, so phenotypes are not in the table.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _names(taxonomy: str, rank: str, sep: str = ";") -> str:
    if not isinstance(taxonomy, str):
        return ""
    for part in taxonomy.split(sep):
        part = part.strip()
        if part.startswith(f"{rank}__"):
            name = part[3:].strip()
            return name
    return ""


def _silva(taxonomy: str, depth: int) -> str:
    # SILVA strings: Bacteria;Phylum;Class;Order;Family;Genus[;species]
    if not isinstance(taxonomy, str):
        return ""
    parts = [p.strip() for p in taxonomy.split(";")]
    if len(parts) <= depth:
        return ""
    name = parts[depth]
    return "" if name.lower().startswith(("uncultured", "unknown", "unidentified")) else name


def build(ref: Path) -> pd.DataFrame:
    meta = pd.read_csv(ref / "bacteria" / "bacteria_metadata.csv.gz", dtype=str)
    copies = pd.read_csv(ref / "bacteria" / "16S.txt.gz", sep="\t", index_col=0)
    cazy = pd.read_csv(ref / "bacteria" / "cazy.txt.gz", sep="\t", index_col=0)
    traits = copies.rename(columns={copies.columns[0]: "16S_rRNA_Count"}).join(cazy, how="left")
    traits = traits.fillna(0)
    meta = meta.set_index("accession")
    meta = meta.loc[meta.index.intersection(traits.index)]
    names = pd.DataFrame(index=meta.index)
    names["gg_genus"] = meta["ssu_gg_taxonomy"].map(lambda t: _names(t, "g"))
    names["gg_family"] = meta["ssu_gg_taxonomy"].map(lambda t: _names(t, "f"))
    names["silva_genus"] = meta["ssu_silva_taxonomy"].map(lambda t: _silva(t, 5))
    names["silva_family"] = meta["ssu_silva_taxonomy"].map(lambda t: _silva(t, 4))
    names["gtdb_genus"] = meta["gtdb_taxonomy"].map(lambda t: _names(t, "g"))
    names["gtdb_family"] = meta["gtdb_taxonomy"].map(lambda t: _names(t, "f"))
    parts = []
    for rank in ("genus", "family"):
        seen: set[str] = set()
        for source in ("gg", "silva", "gtdb"):
            col = names[f"{source}_{rank}"]
            col = col[(col != "") & ~col.isin(seen)]
            grouped = traits.loc[col.index].groupby(col)
            means = grouped.mean().round(3)
            lead = pd.DataFrame({"rank": rank, "name": means.index, "source": source,
                                 "genomes": grouped.size().to_numpy()}, index=means.index)
            means = pd.concat([lead, means], axis=1)
            seen.update(means.index)
            parts.append(means.reset_index(drop=True))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["rank", "name"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", type=Path, default=ROOT.parent / "shared" / "data" / "picrust2-ref")
    parser.add_argument("-o", "--output", type=Path,
                        default=ROOT / "src" / "microtrial" / "function" / "data" / "genus_traits.tsv.gz")
    args = parser.parse_args()
    table = build(args.ref)
    with gzip.GzipFile(args.output, "wb", mtime=0) as raw:
        raw.write(table.to_csv(sep="\t", index=False, float_format="%g").encode())
    print(f"{args.output}: {len(table)} rows, {table.shape[1] - 4} traits, "
          f"{args.output.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
