"""The animal experiment: NOD mice on low-dose IL-2 or control, sampled before and after.

The model study's closing experiment (STUDY.md) asks an interaction question: does the
microbiome change more under IL-2 than it changes anyway in control mice over the same
weeks? This simulation has exactly that structure, with a truth that separates the two:

- ``n_il2`` + ``n_control`` mice, housed ``3-4`` per cage within an arm, sampled at
  ``weeks`` (default 0 and 4; ``(0, 2, 4)`` adds a middle time point);
- on the natural-log scale of each OTU's Dirichlet mean weight (``j`` OTU, ``m`` mouse in
  cage ``c``, time ``t`` with ``f_t = (t - t_0) / (t_last - t_0)``)::

      log w_mjt = b_j + u_cj + v_mj + f_t ln2 (drift_j + [m in IL-2] il2_j) + N(0, visit_sd)

  with ``b_j`` the OTU's typical weight (target mean + ``N(0, feature_sd)``), cage effects
  ``u ~ N(0, cage_sd)``, mouse effects ``v ~ N(0, mouse_sd)``. ``drift_j`` is an age drift
  of ``+-drift_log2fc`` on ``n_drift`` OTUs, in both arms (time-only features: a within-arm
  before/after test calls them, an interaction test must not); ``il2_j`` an IL-2 effect of
  ``+-il2_log2fc`` on ``n_il2_features`` other OTUs, in the IL-2 arm only (interaction
  features). Effects are half up, half down, on OTUs drawn among the more abundant half.
- each OTU is present in a mouse with probability ``presence``; compositions are Dirichlet
  draws with precision ``concentration``; reads as in the trial simulation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from microtrial.io.fasta import sequence_id
from microtrial.simulate._community import _dirichlet, _ensure_min_present
from microtrial.simulate._design import SimulationDesign
from microtrial.simulate._reads import (
    PairedReads,
    SampleSources,
    read_names,
    sample_sources,
    simulate_reads,
)
from microtrial.simulate._reference import reference_pool

IL2 = "il2"
CONTROL_ARM = "control"
INTERACTION = "interaction"
TIME_ONLY = "time-only"
NONE = "none"


@dataclass(frozen=True)
class AnimalDesign:
    """Parameters of the simulated mouse experiment (see the module notes).

    ``reads`` carries the sequencing and reference-pool settings of the trial simulation
    (:class:`SimulationDesign`; its subject settings are not used).
    """

    n_il2: int = 10
    n_control: int = 10
    weeks: tuple[int, ...] = (0, 4)
    cage_size: tuple[int, int] = (3, 4)
    cage_sd: float = 0.5
    mouse_sd: float = 0.5
    visit_sd: float = 0.25
    feature_sd: float = 1.0
    presence: float = 0.9
    concentration: float = 5000.0
    n_drift: int = 10
    drift_log2fc: float = 2.0
    n_il2_features: int = 10
    il2_log2fc: float = 2.0
    reads: SimulationDesign = field(default_factory=SimulationDesign)

    def __post_init__(self) -> None:
        problems = []
        if self.n_il2 < 2 or self.n_control < 2:
            problems.append("each arm needs at least 2 mice")
        if len(self.weeks) < 2 or list(self.weeks) != sorted(set(self.weeks)):
            problems.append("weeks must be two or more increasing time points")
        lo, hi = self.cage_size
        if not 1 <= lo <= hi:
            problems.append("cage_size must be (min, max) with 1 <= min <= max")
        if self.n_drift < 0 or self.n_il2_features < 0:
            problems.append("n_drift and n_il2_features must be >= 0")
        if not 0 < self.presence <= 1:
            problems.append("presence must be in (0, 1]")
        if problems:
            raise ValueError("invalid animal design: " + "; ".join(problems))

    def replace(self, **changes: Any) -> AnimalDesign:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reads"] = self.reads.to_dict()
        return out


def _cages(n: int, lo: int, hi: int) -> list[int]:
    """Cage sizes between ``lo`` and ``hi`` summing to ``n`` (as even as possible)."""
    k = max(1, -(-n // hi))
    while k * lo > n and k > 1:
        k -= 1
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


@dataclass(frozen=True)
class SimulatedAnimal:
    """A simulated mouse experiment and its truth (reads generated on demand).

    Attributes
    ----------
    design, seed
    pool : DataFrame
        Reference OTUs used (index feature id), as in the trial simulation.
    mice : DataFrame
        Index subject: treatment, cage, sex.
    metadata : DataFrame
        Index ``sample-id``: subject, treatment, week, cage, sex.
    composition, counts : DataFrame
        True relative abundance and true non-chimeric read pairs, features x samples.
    sources : dict
        Per sample, the origin of every read pair (:class:`SampleSources`).
    chimeras : DataFrame
    effects : DataFrame
        Per feature: ``effect`` (``interaction``, ``time-only`` or ``none``), the designed
        ``time_log2fc`` (both arms, first to last week) and ``interaction_log2fc`` (IL-2
        arm's extra change), and the realised interaction (log2 of the ratio of mean true
        abundances, change in IL-2 minus change in controls, pseudo-count 1e-5).
    """

    design: AnimalDesign
    seed: int
    pool: pd.DataFrame
    mice: pd.DataFrame
    metadata: pd.DataFrame
    composition: pd.DataFrame
    counts: pd.DataFrame
    sources: dict[str, SampleSources]
    chimeras: pd.DataFrame
    effects: pd.DataFrame

    @property
    def sample_ids(self) -> list[str]:
        return list(self.metadata.index)

    def sample_number(self, sample_id: str) -> int:
        return self.sample_ids.index(sample_id) + 1

    def templates(self, sample_id: str) -> list[str]:
        chim = [c.sequence for c in self.sources[sample_id].chimeras]
        return list(self.pool["sequence"]) + chim

    def reads(self, sample_id: str) -> PairedReads:
        """The sample's read pairs (stream ``[seed, 401, sample number]``)."""
        src = self.sources[sample_id]
        rng = np.random.default_rng([self.seed, 401, self.sample_number(sample_id)])
        return simulate_reads(src.source, self.templates(sample_id), self.design.reads, rng,
                              names=read_names(len(src.source)))


def simulate_animal(design: AnimalDesign | None = None, *, seed: int = 1) -> SimulatedAnimal:
    """Simulate the mouse experiment (see the module notes); deterministic in ``seed``."""
    design = design or AnimalDesign()
    if int(seed) < 0:
        raise ValueError("seed must be >= 0")
    seed = int(seed)
    rd = design.reads
    pool = reference_pool(rd, seed=seed)
    n_f = len(pool)
    rng = np.random.default_rng([seed, 501])
    base = pool["target_log_abundance"].to_numpy(float) + rng.normal(0.0, design.feature_sd, n_f)
    # effects on OTUs of the more abundant half, disjoint sets, half up and half down
    candidates = np.flatnonzero(base >= np.median(base))
    n_eff = min(design.n_drift + design.n_il2_features, len(candidates))
    chosen = rng.choice(candidates, size=n_eff, replace=False)
    drift_idx = chosen[:min(design.n_drift, n_eff)]
    il2_idx = chosen[len(drift_idx):]
    drift = np.zeros(n_f)
    il2 = np.zeros(n_f)
    drift[drift_idx] = design.drift_log2fc * np.resize([1.0, -1.0], len(drift_idx))
    il2[il2_idx] = design.il2_log2fc * np.resize([1.0, -1.0], len(il2_idx))

    # mice and cages (cages within arms)
    rows, width = [], max(2, len(str(design.n_il2 + design.n_control)))
    cage_no = 0
    k = 0
    for arm, n in ((IL2, design.n_il2), (CONTROL_ARM, design.n_control)):
        for size in _cages(n, *design.cage_size):
            cage_no += 1
            for _ in range(size):
                k += 1
                rows.append({"subject": f"M{k:0{width}d}", "treatment": arm,
                             "cage": f"cage{cage_no}"})
    mice = pd.DataFrame(rows).set_index("subject")
    mice["sex"] = np.where(rng.random(len(mice)) < 0.5, "F", "M")
    cages = sorted(set(mice["cage"]), key=lambda c: int(c[4:]))
    cage_eff = {c: rng.normal(0.0, design.cage_sd, n_f) for c in cages}
    weeks = list(design.weeks)
    span = float(weeks[-1] - weeks[0])
    samples, cols = [], []
    for subject, m in mice.iterrows():
        log_w = base + cage_eff[m["cage"]] + rng.normal(0.0, design.mouse_sd, n_f)
        present = _ensure_min_present(rng.random(n_f) < design.presence, log_w)
        for w in weeks:
            frac = (w - weeks[0]) / span
            lw = log_w + rng.normal(0.0, design.visit_sd, n_f) + frac * np.log(2.0) * (
                drift + (il2 if m["treatment"] == IL2 else 0.0))
            cols.append(_dirichlet(lw, present, design.concentration, rng))
            samples.append({"sample-id": f"{subject}-w{w}", "subject": subject,
                            "treatment": m["treatment"], "week": int(w), "cage": m["cage"],
                            "sex": m["sex"]})
    metadata = pd.DataFrame(samples).set_index("sample-id")
    comp = np.column_stack(cols)
    composition = pd.DataFrame(comp, index=pool.index, columns=metadata.index)

    depth_rng = np.random.default_rng([seed, 506])
    spread = rd.depth_spread
    depths = np.rint(rd.reads_per_sample * depth_rng.uniform(1 - spread, 1 + spread,
                                                             len(metadata)))
    amplicons = list(pool["sequence"])
    known = set(amplicons)
    sources: dict[str, SampleSources] = {}
    chim_rows = []
    for j, sid in enumerate(metadata.index):
        src = sample_sources(comp[:, j], int(depths[j]), amplicons, rd,
                             np.random.default_rng([seed, 301, j + 1]), known=known)
        sources[sid] = src
        for c in src.chimeras:
            chim_rows.append({"chimera": sequence_id(c.sequence), "sample-id": sid,
                              "parent_a": pool.index[c.parent_a], "parent_b": pool.index[c.parent_b],
                              "cut_a": c.cut_a, "cut_b": c.cut_b, "reads": c.reads,
                              "sequence": c.sequence})
    chimeras = pd.DataFrame(chim_rows, columns=["chimera", "sample-id", "parent_a", "parent_b",
                                                "cut_a", "cut_b", "reads", "sequence"])
    counts = pd.DataFrame(np.column_stack([sources[s].counts for s in metadata.index]),
                          index=pool.index, columns=metadata.index)
    effect = np.where(il2 != 0, INTERACTION, np.where(drift != 0, TIME_ONLY, NONE))

    def mean_at(arm: str, week: int) -> pd.Series:
        sel = (metadata["treatment"] == arm) & (metadata["week"] == week)
        return composition.loc[:, sel.to_numpy()].mean(axis=1)

    pseudo = 1e-5
    change = {a: np.log2(((mean_at(a, weeks[-1]) + pseudo) / (mean_at(a, weeks[0]) + pseudo))
                         .to_numpy(dtype=float)) for a in (IL2, CONTROL_ARM)}
    effects = pd.DataFrame({
        "feature": pool.index, "taxon": pool["taxon"].to_numpy(), "effect": effect,
        "time_log2fc": drift, "interaction_log2fc": il2,
        "realized_change_il2": change[IL2].round(4),
        "realized_change_control": change[CONTROL_ARM].round(4),
    })
    effects["realized_interaction"] = (effects["realized_change_il2"]
                                       - effects["realized_change_control"]).round(4)
    return SimulatedAnimal(design=design, seed=seed, pool=pool, mice=mice, metadata=metadata,
                           composition=composition, counts=counts, sources=sources,
                           chimeras=chimeras, effects=effects)


def animal_study_dict(sim: SimulatedAnimal) -> dict[str, Any]:
    """The ``study.yaml`` of a simulated mouse experiment: the interaction question (and,
    with three or more weeks, the IL-2 arm over time)."""
    d = sim.design
    primer_f, primer_r = d.reads.primers
    first, last = str(d.weeks[0]), str(d.weeks[-1])
    comparisons: list[dict[str, Any]] = [{
        "name": f"il2-vs-control-change-week{last}",
        "kind": "interaction", "column": "week", "levels": [last, first],
        "by": {"column": "treatment", "levels": [IL2, CONTROL_ARM]}, "random": ["cage"],
    }]
    if len(d.weeks) > 2:
        comparisons.append({"name": "il2-over-time", "kind": "longitudinal", "column": "week",
                            "levels": [str(w) for w in d.weeks], "where": {"treatment": IL2}})
    return {
        "name": f"Simulated low-dose IL-2 experiment in NOD mice (seed {sim.seed})",
        "metadata": "metadata.tsv",
        "design": {"subject": "subject", "group": {"column": "treatment", "reference": CONTROL_ARM},
                   "time": {"column": "week", "reference": first}},
        "reads": {"dir": "reads/", "primer_f": primer_f, "primer_r": primer_r},
        "taxonomy": {"reference": "greengenes", "confidence": 0.8, "extract_region": True},
        "tree": "insertion",
        "comparisons": comparisons,
        "options": {"seed": sim.seed, "threads": 2},
    }
