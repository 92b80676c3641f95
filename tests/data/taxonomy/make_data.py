"""Writes the tiny hand-made references in this folder (run once; output committed).

Four unrelated random 240-nt "genes" (numpy seed 20261124), one per group; each group has
a second member with 12 random substitutions. Because the groups share no ancestry, the
right answer for a query cut from a group's sequence is that group, by construction.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
rng = np.random.default_rng(20261124)
LINEAGES = {
    "A": "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; g__Blautia",
    "B": "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Ruminococcus",
    "C": "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides",
    "D": "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__S24-7; g__",
}
SPECIES = {"A1": "producta", "A2": "", "B1": "", "B2": "", "C1": "fragilis", "C2": "", "D1": "", "D2": ""}


def mutate(seq: str, n: int) -> str:
    s = list(seq)
    for pos in rng.choice(len(s), n, replace=False):
        s[pos] = rng.choice([b for b in "ACGT" if b != s[pos]])
    return "".join(s)


seqs = {}
for g in LINEAGES:
    base = "".join(rng.choice(list("ACGT"), 240))
    seqs[g + "1"] = base
    seqs[g + "2"] = mutate(base, 12)

with open(HERE / "ref.fasta", "w") as fh:
    for i, s in seqs.items():
        fh.write(f">{i}\n{s[:120]}\n{s[120:]}\n")
with open(HERE / "ref-taxonomy.tsv", "w") as fh:
    for i in seqs:
        fh.write(f"{i}\t{LINEAGES[i[0]]}; s__{SPECIES[i]}\n")
with open(HERE / "ref-dada2.fasta", "w") as fh:
    for i, s in seqs.items():
        ranks = [p.strip()[3:] for p in LINEAGES[i[0]].split(";") if p.strip()[3:]]
        fh.write(">" + ";".join(ranks) + ";\n" + s + "\n")
with open(HERE / "species.fasta", "w") as fh:
    # C1 twice under two species names (an ambiguous exact match), A1 once.
    fh.write(f">sp1 Blautia producta\n{seqs['A1']}\n")
    fh.write(f">sp2 Bacteroides fragilis\n{seqs['C1']}\n")
    fh.write(f">sp3 Bacteroides ovatus\n{seqs['C1'][:200]}\n")
    fh.write(f">sp4 Ruminococcus bromii\n{seqs['B1']}\n")
    fh.write(f">sp5 Blautia obeum\n{seqs['B1']}\n")
with open(HERE / "queries.fasta", "w") as fh:
    fh.write(f">qA\n{seqs['A1'][20:220]}\n>qC\n{seqs['C1'][10:210]}\n>qB\n{mutate(seqs['B2'], 3)}\n")
