"""Build the LEfSe input from the shared MiSeq SOP outputs and run the real LEfSe on it.

Usage (needs Debian's ``lefse`` 1.1.2 package and the shared data; see README.md):

    .venv/bin/python tests/differential/golden/make_lefse_golden.py /work/shared/data/miseq-sop OUTDIR
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from microtrial.differential._features import hierarchy_counts
from microtrial.io.fasta import sequence_id
from microtrial.table import FeatureTable


def miseq_hierarchy(sop: Path) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Clade counts (domain..genus), their ranks, and the Early/Late class per sample."""
    ref = sop / "reference-outputs"
    seqtab = pd.read_csv(ref / "dada2-1.26-seqtab.tsv", sep="\t", index_col=0)
    tax = pd.read_csv(ref / "dada2-1.26-assignTaxonomy-gg13_8.tsv", sep="\t", index_col=0)
    design = pd.read_csv(sop / "mouse.time.design", sep="\t", index_col=0)["time"]
    ids = [sequence_id(s) for s in seqtab.index]
    taxonomy = pd.Series(
        ["; ".join(str(v) for v in row if isinstance(v, str)) for row in tax.loc[seqtab.index].itertuples(index=False)],
        index=ids,
    )
    table = FeatureTable.from_dataframe(seqtab.set_axis(ids, axis=0))
    counts, ranks = hierarchy_counts(table, taxonomy, deepest="genus")
    return counts, ranks, design.reindex(counts.columns)


def main(sop: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    counts, ranks, cls = miseq_hierarchy(sop)
    leaves = counts[(ranks == "genus") | (ranks == "unassigned")]
    lines = ["class\t" + "\t".join(cls.astype(str)), "subject\t" + "\t".join(cls.index)]
    for name, row in leaves.iterrows():
        lines.append(name.replace("; ", "|") + "\t" + "\t".join(str(int(v)) for v in row))
    (out / "miseq-early-late.lefse.txt").write_text("\n".join(lines) + "\n")
    env = {"PATH": "/usr/bin:/bin"}  # Debian's python3 with rpy2, not the venv
    subprocess.run(["lefse_format_input.py", str(out / "miseq-early-late.lefse.txt"),
                    str(out / "miseq-early-late.in"), "-c", "1", "-u", "2", "-o", "1000000"], check=True, env=env)
    subprocess.run(["lefse_run.py", str(out / "miseq-early-late.in"),
                    str(out / "lefse-1.1.2-miseq-early-late.res")], check=True, env=env)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
