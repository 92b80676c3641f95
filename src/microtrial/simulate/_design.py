"""The simulation design: every parameter of a simulated trial, frozen, with defaults.

The defaults mimic the model study (Zhufeng et al. 2022, STUDY.md): 13 dermatomyositis
patients sampled at baseline and week 12 of low-dose IL-2, 15 healthy controls at baseline,
V3-V4 amplicons sequenced 2x300 on an Illumina MiSeq; 12 of the 13 patients respond (IMACS
DOI). Patients carry fewer taxa, fewer butyrate producers (Lachnospiraceae: Roseburia,
Blautia, Pseudobutyrivibrio, Coprococcus and unnamed Lachnospiraceae) and more
Prevotellaceae than controls; responders recover part of that shift by week 12.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from microtrial.seqs import PRIMERS

GUILD_BUTYRATE = "butyrate-producers"
GUILD_PREVOTELLACEAE = "prevotellaceae"
GUILD_NONE = "none"

#: Expected amplicon lengths (between the primers) per region: in-silico PCR products
#: outside these bounds (partial or odd reference sequences) are not used.
AMPLICON_LENGTHS: dict[str, tuple[int, int]] = {"V3-V4": (380, 440), "V4": (245, 260)}


@dataclass(frozen=True)
class TaxonTarget:
    """A slice of the Greengenes 13_8 97% OTUs to draw reference genes from.

    Attributes
    ----------
    family, genus : str
        Greengenes family and genus names without prefixes (``genus=""`` = unnamed genus
        within the family; ``family=""`` = unnamed family within ``order``).
    n : int
        How many distinct amplicons to draw.
    log_abundance : float
        Mean natural-log weight of the target's OTUs (before subject effects); the
        feature-level spread is :attr:`SimulationDesign.feature_sd`.
    guild : str
        Functional guild carrying a designed effect (or ``none``).
    order : str
        Order name, used only with ``family=""``.
    """

    family: str
    genus: str
    n: int
    log_abundance: float
    guild: str = GUILD_NONE
    order: str = ""

    @property
    def label(self) -> str:
        if not self.family:
            return f"o__{self.order}; f__"
        return f"f__{self.family}; g__{self.genus}"


DEFAULT_POOL: tuple[TaxonTarget, ...] = (
    TaxonTarget("Bacteroidaceae", "Bacteroides", 18, 2.2),
    TaxonTarget("Porphyromonadaceae", "Parabacteroides", 5, 0.8),
    TaxonTarget("Rikenellaceae", "", 5, 0.6),
    TaxonTarget("Prevotellaceae", "Prevotella", 10, 0.6, GUILD_PREVOTELLACEAE),
    TaxonTarget("Prevotellaceae", "", 4, -0.2, GUILD_PREVOTELLACEAE),
    TaxonTarget("Ruminococcaceae", "Faecalibacterium", 8, 1.8),
    TaxonTarget("Ruminococcaceae", "Ruminococcus", 6, 0.8),
    TaxonTarget("Ruminococcaceae", "Oscillospira", 8, 0.4),
    TaxonTarget("Ruminococcaceae", "", 10, 0.4),
    TaxonTarget("Lachnospiraceae", "Roseburia", 6, 1.2, GUILD_BUTYRATE),
    TaxonTarget("Lachnospiraceae", "Blautia", 8, 1.2, GUILD_BUTYRATE),
    TaxonTarget("Lachnospiraceae", "Pseudobutyrivibrio", 4, 0.6, GUILD_BUTYRATE),
    TaxonTarget("Lachnospiraceae", "Coprococcus", 6, 0.9, GUILD_BUTYRATE),
    TaxonTarget("Lachnospiraceae", "", 14, 1.0, GUILD_BUTYRATE),
    TaxonTarget("", "", 8, 0.0, order="Clostridiales"),
    TaxonTarget("Christensenellaceae", "", 3, -0.5),
    TaxonTarget("Enterobacteriaceae", "", 4, -0.3),
    TaxonTarget("Bifidobacteriaceae", "Bifidobacterium", 5, 0.6),
    TaxonTarget("Verrucomicrobiaceae", "Akkermansia", 2, 0.3),
    TaxonTarget("Streptococcaceae", "Streptococcus", 4, -0.3),
    TaxonTarget("Lactobacillaceae", "Lactobacillus", 3, -0.8),
    TaxonTarget("Veillonellaceae", "Dialister", 3, 0.0),
    TaxonTarget("Veillonellaceae", "Veillonella", 2, -0.6),
    TaxonTarget("Erysipelotrichaceae", "", 4, -0.3),
    TaxonTarget("Coriobacteriaceae", "Collinsella", 3, -0.2),
    TaxonTarget("Alcaligenaceae", "Sutterella", 2, -0.2),
    TaxonTarget("Desulfovibrionaceae", "Desulfovibrio", 2, -0.8),
)


@dataclass(frozen=True)
class SimulationDesign:
    """All parameters of a simulated trial (defaults: the model study, kept small).

    Sample sizes
        ``n_patients`` sampled at ``baseline`` and ``week12``, ``n_controls`` at baseline;
        ``n_nonresponders`` of the patients do not meet the IMACS DOI.
    Sequencing
        ``reads_per_sample`` read pairs (each sample's depth varies uniformly by
        +-``depth_spread``), ``read_length`` nt per read, primers of ``region`` (or
        ``primer_f``/``primer_r`` when given), ``chimera_rate`` of read pairs from PCR
        chimeras (about ``reads_per_chimera`` reads per chimeric sequence). Quality means
        fall from ``q_start`` to ``q_end`` along each read (R1, R2 values), per-read offset
        sd ``q_read_sd``, per-read spread of the decline ``q_decline_sd`` (log scale),
        per-base sd ``q_base_sd``; a fraction ``q_tail_rate`` of reads ends in a Q2 tail.
    Communities (natural-log scale of the Dirichlet mean weights)
        ``feature_sd``: spread of OTU weights within a target; ``subject_sd_*``: subject
        effects; ``visit_sd``: visit-to-visit noise; ``presence_*``: probability that an OTU
        is present in a subject; ``concentration``: Dirichlet precision (sum of alphas).
    Effects (log2 fold changes, patients vs controls)
        ``butyrate_log2fc`` (butyrate-producer guild), ``prevotellaceae_log2fc``; scaled per
        patient by ``1 + severity_effect * z`` (z: standardised disease severity, which also
        raises PhGA/PtGA/HAQ/extramuscular activity and lowers MMT-8). Responders recover
        ``recovery`` of the shift (and of the lost taxa) by week 12.
    Subject measures
        Treg % of CD4+ T cells around ``treg_baseline`` at baseline, times ``treg_fold`` in
        responders at week 12; metabolites tied to guild abundance with elasticity
        ``metabolite_elasticity`` and log-normal noise ``metabolite_sd``.
    """

    n_patients: int = 13
    n_controls: int = 15
    n_nonresponders: int = 1
    reads_per_sample: int = 3000
    depth_spread: float = 0.2
    read_length: int = 300
    region: str = "V3-V4"
    primer_f: str | None = None
    primer_r: str | None = None
    chimera_rate: float = 0.03
    reads_per_chimera: float = 4.0
    min_distance: int = 3
    q_start: tuple[float, float] = (36.0, 35.0)
    q_end: tuple[float, float] = (27.0, 15.0)
    q_read_sd: float = 2.0
    q_decline_sd: float = 0.3
    q_base_sd: float = 3.0
    q_tail_rate: float = 0.03
    pool: tuple[TaxonTarget, ...] = field(default=DEFAULT_POOL)
    feature_sd: float = 1.0
    subject_sd_control: float = 0.8
    subject_sd_patient: float = 1.1
    visit_sd: float = 0.35
    presence_control: float = 0.85
    presence_patient: float = 0.6
    concentration: float = 500.0
    butyrate_log2fc: float = -1.5
    prevotellaceae_log2fc: float = 2.0
    severity_effect: float = 0.3
    recovery: float = 0.5
    treg_baseline: float = 10.0
    treg_fold: float = 1.5
    metabolite_elasticity: float = 0.8
    metabolite_sd: float = 0.25
    uln: tuple[tuple[str, float], ...] = (
        ("ck", 200.0),
        ("aldolase", 7.6),
        ("ldh", 250.0),
        ("alt", 40.0),
        ("ast", 40.0),
    )

    def __post_init__(self) -> None:
        problems = []
        if self.n_patients < 1:
            problems.append("n_patients must be >= 1")
        if self.n_controls < 0:
            problems.append("n_controls must be >= 0")
        if not 0 <= self.n_nonresponders <= self.n_patients:
            problems.append("n_nonresponders must be between 0 and n_patients")
        if self.reads_per_sample < 10:
            problems.append("reads_per_sample must be >= 10")
        if not 0 <= self.depth_spread < 1:
            problems.append("depth_spread must be in [0, 1)")
        if self.read_length < 50:
            problems.append("read_length must be >= 50")
        if not 0 <= self.chimera_rate < 0.5:
            problems.append("chimera_rate must be in [0, 0.5)")
        if self.primer_f is None and self.primer_r is None and self.region not in PRIMERS:
            problems.append(f"region must be one of {', '.join(PRIMERS)} (or give primers)")
        if (self.primer_f is None) != (self.primer_r is None):
            problems.append("give both primer_f and primer_r, or neither")
        if self.min_distance < 1:
            problems.append("min_distance must be >= 1")
        if not 0 <= self.recovery <= 1:
            problems.append("recovery must be in [0, 1]")
        if problems:
            raise ValueError("invalid simulation design: " + "; ".join(problems))

    @property
    def primers(self) -> tuple[str, str]:
        """(forward, reverse) primers, 5'->3'."""
        if self.primer_f is not None and self.primer_r is not None:
            return self.primer_f.upper(), self.primer_r.upper()
        return PRIMERS[self.region]

    @property
    def uln_map(self) -> dict[str, float]:
        return dict(self.uln)

    def guild_log2fc(self, guild: str) -> float:
        """Designed patient-vs-control log2 fold change of a guild's weights."""
        return {
            GUILD_BUTYRATE: self.butyrate_log2fc,
            GUILD_PREVOTELLACEAE: self.prevotellaceae_log2fc,
        }.get(guild, 0.0)

    def replace(self, **changes: Any) -> SimulationDesign:
        """A copy with some parameters changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (for ``design.json`` and run-info)."""
        out = dataclasses.asdict(self)
        out["pool"] = [dataclasses.asdict(t) for t in self.pool]
        out["uln"] = dict(self.uln)
        out["primers"] = list(self.primers)
        return out
