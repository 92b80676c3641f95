"""Write the inputs of the R dada2 bimera goldens (see README.md): ``families.tsv`` and
``pairs.tsv``.  Deterministic (numpy seed 2026)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def mutate(rng, s, n_ops):
    s = list(s)
    for _ in range(n_ops):
        i = int(rng.integers(0, len(s)))
        op = int(rng.integers(0, 3))
        if op == 0:
            s[i] = str(rng.choice(list("ACGT")))
        elif op == 1:
            s.insert(i, str(rng.choice(list("ACGT"))))
        elif len(s) > 20:
            s.pop(i)
    return "".join(s)


def main(out: Path) -> None:
    rng = np.random.default_rng(2026)
    rows = []
    for fam in range(40):
        length = int(rng.choice([60, 120, 250]))
        base = "".join(rng.choice(list("ACGT"), length))
        parents = [mutate(rng, base, int(rng.integers(3, 3 + length // 10))) for _ in range(5)]
        seqs = list(parents)
        while len(seqs) < 30:
            kind = int(rng.integers(0, 6))
            a = parents[int(rng.integers(0, 5))]
            b = parents[int(rng.integers(0, 5))]
            cut = int(rng.integers(5, min(len(a), len(b)) - 5))
            x = a[:cut] + b[cut:]
            if kind == 1:
                x = mutate(rng, x, 1)  # one indel/substitution away from a bimera
            elif kind == 2:
                x = "".join(rng.choice(list("ACGT"), int(rng.integers(1, 8)))) + x  # 5' overhang
            elif kind == 3:
                x = x + "".join(rng.choice(list("ACGT"), int(rng.integers(1, 8))))  # 3' overhang
            elif kind == 4:
                x = mutate(rng, a, 1)  # a parent's close relative (often one indel)
            elif kind == 5:
                k = int(rng.integers(1, 10))
                x = x[k:] if rng.random() < 0.5 else x[:-k]  # contained in a longer one
            if x not in seqs:
                seqs.append(x)
        n_samples = int(rng.choice([1, 3]))
        counts = np.floor(rng.pareto(1.0, size=(n_samples, len(seqs))) * 20).astype(np.int64) + 1
        counts[:, :5] += 200  # abundant parents
        counts[rng.random(counts.shape) < 0.2] = 0
        counts[0, counts.sum(axis=0) == 0] = 1  # every sequence occurs somewhere
        for j, s in enumerate(seqs):
            rows.append((fam, s, *[int(c) for c in counts[:, j]] + [-1] * (3 - n_samples)))
    with open(out / "families.tsv", "w") as fh:
        fh.write("family\tsequence\ts1\ts2\ts3\n")
        for r in rows:
            fh.write("\t".join(map(str, r)) + "\n")
    # 400 (sequence, parent) pairs of one family each, for the aligner golden
    pairs = []
    for fam in range(0, 40, 4):
        fs = [r[1] for r in rows if r[0] == fam]
        for _ in range(40):
            i, j = rng.choice(len(fs), 2, replace=False)
            pairs.append((fs[i], fs[j]))
    with open(out / "pairs.tsv", "w") as fh:
        fh.write("q\tp\n")
        for q, p in pairs:
            fh.write(f"{q}\t{p}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
