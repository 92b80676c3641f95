"""Inputs of the design goldens (run once; the R script then writes the goldens).

Plain numpy draws, no microtrial code: an alpha-diversity-like value per sample of a
treatment-by-week mouse design (two samples missing, so the design is unbalanced), the same
for three time points, and a Bray-Curtis matrix of a complete treatment-by-week design.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261205)

# treatment x week, 12 mice in 4 cages, 2 samples missing
rows = []
for m in range(12):
    arm = "il2" if m < 6 else "control"
    cage = f"c{m // 3 + 1}"
    b = rng.normal(0, 0.6)
    for week in (0, 4):
        if (m, week) in ((2, 4), (9, 0)):
            continue
        v = 3.0 + b + 0.3 * (week == 4) + 0.5 * (arm == "il2") * (week == 4) + rng.normal(0, 0.3)
        rows.append({"sample-id": f"m{m + 1}w{week}", "subject": f"m{m + 1}", "treatment": arm,
                     "week": str(week), "cage": cage, "value": round(v, 6)})
pd.DataFrame(rows).to_csv("interaction-alpha.tsv", sep="\t", index=False)

# three time points, 8 subjects, 2 samples missing
rows = []
for s in range(8):
    b = rng.normal(0, 0.5)
    for k, week in enumerate((0, 4, 12)):
        if (s, week) in ((1, 4), (5, 12)):
            continue
        v = 2.0 + b + (0.0, 0.4, 0.7)[k] + rng.normal(0, 0.25)
        rows.append({"sample-id": f"s{s + 1}w{week}", "subject": f"s{s + 1}", "week": str(week),
                     "value": round(v, 6)})
pd.DataFrame(rows).to_csv("longitudinal-alpha.tsv", sep="\t", index=False)

# Bray-Curtis of 24 samples: 12 mice x weeks 0 and 4 (complete), 40 taxa
ids, md, x = [], [], []
base = rng.gamma(0.8, 1.0, 40)
for m in range(12):
    arm = "il2" if m < 6 else "control"
    subj = base * rng.lognormal(0, 0.6, 40)
    for week in (0, 4):
        eff = np.ones(40)
        if week == 4:
            eff[:6] *= 1.6  # time, both arms
            if arm == "il2":
                eff[6:12] *= 1.8  # interaction
        lam = subj * eff * rng.lognormal(0, 0.3, 40)
        x.append(rng.poisson(200 * lam / lam.sum() * 10))
        ids.append(f"m{m + 1}w{week}")
        md.append({"sample-id": ids[-1], "subject": f"m{m + 1}", "treatment": arm,
                   "week": str(week)})
x = np.asarray(x, dtype=float)
num = np.abs(x[:, None, :] - x[None, :, :]).sum(axis=2)
den = x.sum(axis=1)[:, None] + x.sum(axis=1)[None, :]
bc = pd.DataFrame(num / den, index=ids, columns=ids)
bc.round(12).to_csv("interaction-braycurtis.tsv", sep="\t", float_format="%.12f")
pd.DataFrame(md).to_csv("interaction-metadata.tsv", sep="\t", index=False)

# treatment x week with strong cage effects: 16 mice in 6 cages (3 il2, 3 control), one
# sample missing (rng continues from the draws above)
rows = []
cage_eff = rng.normal(0, 0.8, 6)
for m in range(16):
    arm = "il2" if m < 8 else "control"
    cage = (m // 3) if m < 8 else 3 + (m - 8) // 3
    cage = min(cage, 2) if m < 8 else min(cage, 5)
    b = rng.normal(0, 0.4) + cage_eff[cage]
    for week in (0, 4):
        if (m, week) == (12, 4):
            continue
        v = 3.0 + b + 0.3 * (week == 4) + 0.4 * (arm == "il2") * (week == 4) + rng.normal(0, 0.3)
        rows.append({"sample-id": f"m{m + 1}w{week}", "subject": f"m{m + 1}", "treatment": arm,
                     "week": str(week), "cage": f"c{cage + 1}", "value": round(v, 6)})
pd.DataFrame(rows).to_csv("interaction-alpha-cage.tsv", sep="\t", index=False)
