"""Subject measures: IMACS core set measures, immune subsets and stool metabolites.

Clinical values are built so the IMACS definition of improvement (Rider et al. 2004,
Arthritis Rheum 50:2281; STUDY.md) holds or fails *by construction*, with margins wide
enough that rounding cannot move a value across a threshold:

- baseline: PhGA, PtGA 2.5-9.5 cm, MMT-8 40-72 of 80, HAQ 0.75-2.75 (steps of 0.125),
  extramuscular 1.5-8.5 cm, the most abnormal enzyme >= 1.5 x ULN (all above the entry
  thresholds of STUDY.md), each rising with the patient's severity z;
- responders: PhGA, PtGA, the enzyme CSM (most abnormal at baseline, as x ULN) and each
  of HAQ / extramuscular with probability 0.6 improve by 35-70%; MMT-8 improves by 5-20%;
  the other CSM change by -10..+10%: >= 3 CSM improve >= 20%, none worsens >= 25%;
- non-responders: PhGA changes by -5..+10% (worse .. better), the others worsen by 0-25%
  at most (MMT-8 by 0-7%): no CSM improves >= 20%, so the DOI fails.

Each construction is verified with :func:`imacs_doi_check` and redrawn if rounding broke it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from microtrial.simulate._community import BASELINE, FOLLOWUP, PATIENT
from microtrial.simulate._design import GUILD_BUTYRATE, GUILD_PREVOTELLACEAE, SimulationDesign

CSM = ("phga", "ptga", "mmt8", "haq", "extramuscular", "enzyme")
ENZYMES = ("ck", "aldolase", "ldh", "alt", "ast")
CLINICAL_COLUMNS = ("subject", "visit", "phga", "ptga", "mmt8", "haq", "extramuscular", *ENZYMES)
# log-normal medians and sds of each enzyme as x ULN at baseline, and clip bounds
_ENZYME_RATIO = {
    "ck": (4.0, 0.7, 1.5, 40.0),
    "aldolase": (1.8, 0.4, 0.8, 6.0),
    "ldh": (1.5, 0.3, 0.8, 4.0),
    "alt": (1.3, 0.4, 0.5, 5.0),
    "ast": (1.3, 0.4, 0.5, 5.0),
}
_MAX_TRIES = 200


def _round_visit(v: dict[str, float]) -> dict[str, float]:
    out = dict(v)
    for k in ("phga", "ptga", "extramuscular"):
        out[k] = round(float(np.clip(v[k], 0.0, 10.0)), 1)
    out["mmt8"] = float(int(round(float(np.clip(v["mmt8"], 0.0, 80.0)))))
    out["haq"] = float(np.clip(round(v["haq"] / 0.125) * 0.125, 0.0, 3.0))
    for e in ENZYMES:
        out[e] = round(float(v[e]), 1) if e == "aldolase" else float(int(round(float(v[e]))))
    return out


def enzyme_csm(visit: dict[str, float], uln: dict[str, float]) -> str:
    """The enzyme CSM: the most abnormal enzyme as a multiple of its ULN."""
    return max(ENZYMES, key=lambda e: visit[e] / uln[e])


def percent_improvement(base: float, follow: float, *, higher_is_better: bool) -> float:
    """(baseline - follow-up) / baseline x 100 (reversed for MMT); 0/0 is 0%."""
    if base == 0:
        return 0.0 if follow == 0 else -np.inf
    return (follow - base) / base * 100 if higher_is_better else (base - follow) / base * 100


def imacs_doi_check(
    base: dict[str, float], follow: dict[str, float], uln: dict[str, float]
) -> dict:
    """The IMACS DOI counts for one patient (used to verify the construction)."""
    enz = enzyme_csm(base, uln)
    pct = {}
    for c in CSM:
        key = enz if c == "enzyme" else c
        pct[c] = percent_improvement(base[key], follow[key], higher_is_better=c == "mmt8")
    improved = sum(p >= 20 - 1e-9 for p in pct.values())
    worse = [c for c, p in pct.items() if p <= -25 + 1e-9]
    doi = improved >= 3 and len(worse) <= 2 and "mmt8" not in worse
    return {
        "doi": doi,
        "n_improved_20": improved,
        "n_worse_25": len(worse),
        "mmt_worse": "mmt8" in worse,
        "enzyme_csm": enz,
        **{f"pct_{c}": round(p, 2) for c, p in pct.items()},
    }


def _baseline(z: float, uln: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    v = {
        "phga": np.clip(5.0 + 1.2 * z + rng.normal(0, 0.6), 2.5, 9.5),
        "ptga": np.clip(5.5 + 1.0 * z + rng.normal(0, 0.8), 2.5, 9.5),
        "mmt8": np.clip(62.0 - 5.0 * z + rng.normal(0, 4.0), 40, 72),
        "haq": np.clip(1.2 + 0.35 * z + rng.normal(0, 0.3), 0.75, 2.75),
        "extramuscular": np.clip(3.5 + 1.0 * z + rng.normal(0, 0.8), 1.5, 8.5),
    }
    for e, (median, sd, lo, hi) in _ENZYME_RATIO.items():
        v[e] = uln[e] * float(np.clip(median * np.exp(rng.normal(0, sd) + 0.15 * z), lo, hi))
    return _round_visit(v)


def _followup(
    base: dict[str, float], responder: bool, uln: dict[str, float], rng: np.random.Generator
) -> dict[str, float]:
    enz = enzyme_csm(base, uln)
    f = dict(base)
    if responder:
        improved = {"phga", "ptga", enz}
        improved |= {c for c in ("haq", "extramuscular") if rng.random() < 0.6}
        for c in ("phga", "ptga", "haq", "extramuscular", *ENZYMES):
            if c in improved:
                f[c] = base[c] * (1 - rng.uniform(0.35, 0.7))
            elif c in ENZYMES:
                f[c] = base[c] * rng.uniform(0.5, 1.1)
            else:
                f[c] = base[c] * (1 + rng.uniform(-0.1, 0.1))
        f["mmt8"] = min(80.0, base["mmt8"] * (1 + rng.uniform(0.05, 0.2)))
    else:
        f["phga"] = base["phga"] * rng.uniform(0.9, 1.05)
        for c in ("ptga", "haq"):
            f[c] = base[c] * rng.uniform(1.0, 1.15)
        f["extramuscular"] = base["extramuscular"] * rng.uniform(1.0, 1.2)
        f["mmt8"] = base["mmt8"] * rng.uniform(0.93, 1.0)
        for e in ENZYMES:
            f[e] = base[e] * rng.uniform(0.95, 1.2)
    return _round_visit(f)


def clinical_tables(
    subjects: pd.DataFrame, design: SimulationDesign, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Core set measures (long: subject, visit, ...) and the per-patient DOI construction."""
    uln = design.uln_map
    rows, checks = [], []
    for subject, s in subjects[subjects["group"] == PATIENT].iterrows():
        responder = bool(s["responder"])
        for _ in range(_MAX_TRIES):
            base = _baseline(float(s["severity"]), uln, rng)
            follow = _followup(base, responder, uln, rng)
            check = imacs_doi_check(base, follow, uln)
            if check["doi"] == responder:
                break
        else:  # pragma: no cover - the construction has wide margins
            raise RuntimeError(f"could not construct clinical values for {subject}")
        rows.append({"subject": subject, "visit": BASELINE, **base})
        rows.append({"subject": subject, "visit": FOLLOWUP, **follow})
        checks.append({"subject": subject, "responder": responder, **check})
    clinical = pd.DataFrame(rows, columns=list(CLINICAL_COLUMNS))
    clinical["mmt8"] = clinical["mmt8"].astype(int)
    for e in ("ck", "ldh", "alt", "ast"):
        clinical[e] = clinical[e].astype(int)
    return clinical, pd.DataFrame(checks)


def immune_table(
    subjects: pd.DataFrame, design: SimulationDesign, rng: np.random.Generator
) -> pd.DataFrame:
    """Patients' immune subsets at both visits: Treg % CD4 rises ``treg_fold``-fold in
    responders (log-normal, sd 0.12); Th17 % CD4 and NK % lymphocytes carry no effect."""
    rows = []
    for subject, s in subjects[subjects["group"] == PATIENT].iterrows():
        treg = design.treg_baseline * np.exp(rng.normal(0, 0.3))
        th17 = 1.8 * np.exp(rng.normal(0, 0.35))
        nk = 12.0 * np.exp(rng.normal(0, 0.3))
        fold = design.treg_fold if bool(s["responder"]) else 1.0
        treg12 = treg * fold * np.exp(rng.normal(0, 0.12))
        th17_12 = th17 * np.exp(rng.normal(0, 0.15))
        nk12 = nk * np.exp(rng.normal(0, 0.15))
        rows.append(
            {
                "subject": subject,
                "visit": BASELINE,
                "treg_pct_cd4": round(treg, 2),
                "th17_pct_cd4": round(th17, 2),
                "nk_pct_lymphocytes": round(nk, 2),
            }
        )
        rows.append(
            {
                "subject": subject,
                "visit": FOLLOWUP,
                "treg_pct_cd4": round(treg12, 2),
                "th17_pct_cd4": round(th17_12, 2),
                "nk_pct_lymphocytes": round(nk12, 2),
            }
        )
    return pd.DataFrame(rows)


# metabolite: (guild it follows or None, median level, elasticity multiplier)
METABOLITES: dict[str, tuple[str | None, float, float]] = {
    "butyrate": (GUILD_BUTYRATE, 15.0, 1.0),
    "l_asparagine": (GUILD_BUTYRATE, 40.0, 1.0),
    "l_leucine": (GUILD_BUTYRATE, 120.0, 1.0),
    "propionate": (GUILD_PREVOTELLACEAE, 12.0, 0.5),
    "acetate": (None, 45.0, 0.0),
    "l_glutamine": (None, 80.0, 0.0),
}


def metabolite_table(
    guild_abundance: pd.DataFrame, design: SimulationDesign, rng: np.random.Generator
) -> pd.DataFrame:
    """Stool metabolites per sample: ``level = median * (G / G_ref)^(elasticity) * LN(0, sd)``.

    ``G`` is the sample's true relative abundance of the linked guild (floored at 1e-4) and
    ``G_ref`` its geometric mean over samples; the elasticity is
    ``design.metabolite_elasticity`` times the metabolite's multiplier (0 = no link).
    """
    out = pd.DataFrame(index=guild_abundance.index.copy())
    out.index.name = "sample-id"
    for name, (guild, median, mult) in METABOLITES.items():
        noise = np.exp(rng.normal(0.0, design.metabolite_sd, len(out)))
        level = median * noise
        if guild is not None:
            g = np.maximum(guild_abundance[guild].to_numpy(float), 1e-4)
            ref = np.exp(np.mean(np.log(g)))
            level = level * (g / ref) ** (design.metabolite_elasticity * mult)
        out[name] = np.round(level, 3)
    return out


def associations_table(design: SimulationDesign) -> pd.DataFrame:
    """The designed links between guilds and subject measures (direction of the link)."""
    rows = []
    for name, (guild, _median, mult) in METABOLITES.items():
        for g in (GUILD_BUTYRATE, GUILD_PREVOTELLACEAE):
            if guild == g:
                rows.append(
                    (
                        g,
                        name,
                        "metabolites",
                        "positive",
                        "all samples",
                        f"elasticity {design.metabolite_elasticity * mult:g} on relative abundance",
                    )
                )
            elif guild is None:
                rows.append((g, name, "metabolites", "none", "all samples", "no designed link"))
    for measure, sign in (
        ("phga", -1),
        ("ptga", -1),
        ("haq", -1),
        ("extramuscular", -1),
        ("mmt8", 1),
    ):
        for g, gsign in ((GUILD_BUTYRATE, 1), (GUILD_PREVOTELLACEAE, -1)):
            direction = "positive" if sign * gsign > 0 else "negative"
            rows.append(
                (
                    g,
                    measure,
                    "clinical",
                    direction,
                    "patients at baseline",
                    "weak: both follow disease severity",
                )
            )
    for measure in ("th17_pct_cd4", "nk_pct_lymphocytes"):
        rows.append((GUILD_BUTYRATE, measure, "immune", "none", "patients", "no designed link"))
    return pd.DataFrame(
        rows, columns=["guild", "measure", "table", "direction", "samples", "mechanism"]
    )
