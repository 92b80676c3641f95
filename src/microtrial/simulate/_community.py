"""Subjects, samples and their true compositions (Dirichlet with subject and time effects).

Model, on the natural-log scale of each OTU's Dirichlet mean weight (``j`` OTU, ``s``
subject, ``v`` visit)::

    b_j        = mu_target(j) + N(0, feature_sd)                  OTU's typical weight
    log w_sj   = b_j + f_s * e_j + N(0, subject_sd_group)         subject's own base
    log w_sjv  = log w_sj + N(0, visit_sd) - [responder, week12] * recovery * f_s * e_j
    p_sv       ~ Dirichlet(concentration * softmax(log w_sv) over the OTUs present)

with ``e_j = ln 2 * log2fc(guild_j)`` in patients (0 in controls) and ``f_s = max(0, 1 +
severity_effect * z_s)`` the patient's severity scaling. Each OTU is present in a subject
with probability ``presence_<group>`` (fewer taxa in patients, plus their larger subject
spread makes them more dominated: lower Shannon); responders regain lost OTUs with
probability ``recovery * (presence_control - presence_patient) / (1 - presence_patient)``
by week 12. Dirichlet draws use normalised gamma variates (Devroye 1986, ch. IX.3.4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from microtrial.simulate._design import SimulationDesign

BASELINE = "baseline"
FOLLOWUP = "week12"
PATIENT = "patient"
CONTROL = "control"
_MIN_PRESENT = 5


def make_subjects(design: SimulationDesign, rng: np.random.Generator) -> pd.DataFrame:
    """One row per subject: ``group``, ``responder`` (patients), ``severity`` z, age, sex."""
    width = max(2, len(str(max(design.n_patients, design.n_controls))))
    ids = [f"P{i + 1:0{width}d}" for i in range(design.n_patients)]
    ids += [f"C{i + 1:0{width}d}" for i in range(design.n_controls)]
    n_p = design.n_patients
    nonresp = set(rng.choice(n_p, size=design.n_nonresponders, replace=False).tolist())
    severity = rng.normal(0.0, 1.0, n_p)
    age_p = np.clip(rng.normal(48.0, 12.0, n_p), 18, 80).round()
    age_c = np.clip(rng.normal(46.0, 12.0, design.n_controls), 18, 80).round()
    sex = np.where(rng.random(n_p + design.n_controls) < 0.7, "F", "M")
    return pd.DataFrame(
        {
            "subject": ids,
            "group": [PATIENT] * n_p + [CONTROL] * design.n_controls,
            "responder": [i not in nonresp for i in range(n_p)] + [pd.NA] * design.n_controls,
            "severity": list(severity) + [0.0] * design.n_controls,
            "age": np.concatenate([age_p, age_c]).astype(int),
            "sex": sex,
        }
    ).set_index("subject")


def make_samples(subjects: pd.DataFrame) -> pd.DataFrame:
    """Sample metadata (index ``sample-id``): patients at baseline and week12, controls at
    baseline; columns subject, group, time, age, sex."""
    rows = []
    for subject, row in subjects.iterrows():
        times = [BASELINE, FOLLOWUP] if row["group"] == PATIENT else [BASELINE]
        for t in times:
            rows.append(
                {
                    "sample-id": f"{subject}-{t}",
                    "subject": subject,
                    "group": row["group"],
                    "time": t,
                    "age": int(row["age"]),
                    "sex": row["sex"],
                }
            )
    return pd.DataFrame(rows).set_index("sample-id")


def severity_factor(design: SimulationDesign, severity: float) -> float:
    """Per-patient scaling ``f = max(0, 1 + severity_effect * z)`` of the disease shift."""
    return max(0.0, 1.0 + design.severity_effect * float(severity))


def compositions(
    pool: pd.DataFrame,
    subjects: pd.DataFrame,
    samples: pd.DataFrame,
    design: SimulationDesign,
    rng: np.random.Generator,
) -> np.ndarray:
    """True relative abundances, features x samples (columns sum to 1); see module docs."""
    n_f = len(pool)
    base = pool["target_log_abundance"].to_numpy(float) + rng.normal(0.0, design.feature_sd, n_f)
    effect = np.log(2.0) * np.array([design.guild_log2fc(g) for g in pool["guild"]])
    regain = 0.0
    if design.presence_patient < 1:
        regain = design.recovery * max(0.0, design.presence_control - design.presence_patient)
        regain /= 1.0 - design.presence_patient
    out = np.zeros((n_f, len(samples)))
    col = {sid: k for k, sid in enumerate(samples.index)}
    for subject, row in subjects.iterrows():
        patient = row["group"] == PATIENT
        f = severity_factor(design, row["severity"]) if patient else 0.0
        sd = design.subject_sd_patient if patient else design.subject_sd_control
        presence = design.presence_patient if patient else design.presence_control
        log_w = base + f * effect + rng.normal(0.0, sd, n_f)
        present = rng.random(n_f) < presence
        present = _ensure_min_present(present, log_w)
        regained = rng.random(n_f) < regain
        for t in (BASELINE, FOLLOWUP):
            sid = f"{subject}-{t}"
            noise = rng.normal(0.0, design.visit_sd, n_f)
            if sid not in col:
                continue
            lw = log_w + noise
            mask = present
            if t == FOLLOWUP and patient and bool(row["responder"]):
                lw = lw - design.recovery * f * effect
                mask = present | regained
            out[:, col[sid]] = _dirichlet(lw, mask, design.concentration, rng)
    return out


def _ensure_min_present(present: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    if present.sum() >= _MIN_PRESENT:
        return present
    present = present.copy()
    present[np.argsort(-log_w)[:_MIN_PRESENT]] = True
    return present


def _dirichlet(
    log_w: np.ndarray, mask: np.ndarray, concentration: float, rng: np.random.Generator
) -> np.ndarray:
    w = np.where(mask, np.exp(log_w - log_w[mask].max()), 0.0)
    alpha = concentration * w / w.sum()
    g = np.zeros_like(alpha)
    g[mask] = rng.gamma(alpha[mask])
    if g.sum() <= 0:  # every gamma underflowed: fall back to the mean
        return alpha / alpha.sum()
    return g / g.sum()
