"""``simulate_trial``: a whole trial in memory, with its ground truth.

Random streams are independent per purpose (``numpy.random.default_rng([seed, stream])``),
so e.g. changing the read depth leaves the compositions and subject data unchanged; reads
are generated on demand per sample (:meth:`SimulatedTrial.reads`) from their own stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from microtrial.io.fasta import sequence_id
from microtrial.simulate._community import (
    BASELINE,
    CONTROL,
    FOLLOWUP,
    PATIENT,
    compositions,
    make_samples,
    make_subjects,
)
from microtrial.simulate._design import GUILD_BUTYRATE, GUILD_PREVOTELLACEAE, SimulationDesign
from microtrial.simulate._reads import (
    PairedReads,
    SampleSources,
    read_names,
    sample_sources,
    simulate_reads,
)
from microtrial.simulate._reference import reference_pool

if TYPE_CHECKING:
    from microtrial.simulate._functions import SimulatedFunctions
from microtrial.simulate._subjects import (
    associations_table,
    clinical_tables,
    immune_table,
    metabolite_table,
)

COMPARISONS = (
    # name, kind, column, (test, reference), where
    ("patient-vs-control", "between", "group", (PATIENT, CONTROL), {"time": BASELINE}),
    ("week12-vs-baseline", "paired", "time", (FOLLOWUP, BASELINE), {"group": PATIENT}),
)
_PSEUDO = 1e-5


@dataclass(frozen=True)
class SimulatedTrial:
    """A simulated trial and its truth (all in memory; reads generated on demand).

    Attributes
    ----------
    design, seed
        What produced it.
    pool : DataFrame
        The reference OTUs used (index feature id): sequence, taxon, gg_id, target, guild.
    subjects : DataFrame
        Index subject: group, responder (patients), severity z, age, sex.
    metadata : DataFrame
        Index ``sample-id``: subject, group, time, age, sex.
    composition, counts : DataFrame
        True relative abundance and true non-chimeric read pairs, features x samples.
    sources : dict
        Per sample, the origin of every read pair in file order (:class:`SampleSources`).
    chimeras : DataFrame
        One row per chimera and sample: chimera id, sample-id, sequence, parents, cuts, reads.
    clinical, immune, metabolites : DataFrame
        Subject measures as written to ``clinical.tsv``, ``immune.tsv``, ``metabolites.tsv``.
    responders : DataFrame
        subject, responder, and the IMACS DOI counts that the construction guarantees.
    effects, associations : DataFrame
        Designed log2 fold changes per feature and comparison; designed measure links.
    """

    design: SimulationDesign
    seed: int
    pool: pd.DataFrame
    subjects: pd.DataFrame
    metadata: pd.DataFrame
    composition: pd.DataFrame
    counts: pd.DataFrame
    sources: dict[str, SampleSources]
    chimeras: pd.DataFrame
    clinical: pd.DataFrame
    immune: pd.DataFrame
    metabolites: pd.DataFrame
    responders: pd.DataFrame
    effects: pd.DataFrame
    associations: pd.DataFrame
    guild_abundance: pd.DataFrame = field(repr=False)

    @property
    def sample_ids(self) -> list[str]:
        return list(self.metadata.index)

    def functions(self) -> SimulatedFunctions:
        """The designed gene content of the trial's genera and its truth
        (:func:`microtrial.simulate.simulate_functions` of this trial's design)."""
        from microtrial.simulate._functions import simulate_functions

        return simulate_functions(self.design)

    def sample_number(self, sample_id: str) -> int:
        """The Illumina ``S<n>`` number (1-based position in the sample sheet)."""
        return self.sample_ids.index(sample_id) + 1

    def templates(self, sample_id: str) -> list[str]:
        """Amplicons (without primers) indexed like ``sources[sample_id].source``."""
        chim = [c.sequence for c in self.sources[sample_id].chimeras]
        return list(self.pool["sequence"]) + chim

    def reads(self, sample_id: str) -> PairedReads:
        """The sample's read pairs (deterministic: stream ``[seed, 401, sample number]``)."""
        src = self.sources[sample_id]
        rng = np.random.default_rng([self.seed, 401, self.sample_number(sample_id)])
        return simulate_reads(
            src.source,
            self.templates(sample_id),
            self.design,
            rng,
            names=read_names(len(src.source)),
        )

    def read_origins(self, sample_id: str) -> pd.DataFrame:
        """``sample-id``, ``read`` (1-based position in the FASTQ), ``origin`` (true ASV id
        or ``chimera``) and ``source`` (ASV id or chimera id) of every read pair."""
        src = self.sources[sample_id]
        feats = np.asarray(self.pool.index, dtype=object)
        chim_ids = np.asarray([sequence_id(c.sequence) for c in src.chimeras], dtype=object)
        n_f = len(feats)
        is_chim = src.source >= n_f
        source = np.empty(len(src.source), dtype=object)
        source[~is_chim] = feats[src.source[~is_chim]]
        source[is_chim] = chim_ids[src.source[is_chim] - n_f]
        origin = source.copy()
        origin[is_chim] = "chimera"
        return pd.DataFrame(
            {
                "sample-id": sample_id,
                "read": np.arange(1, len(source) + 1),
                "origin": origin,
                "source": source,
            }
        )


def simulate_trial(design: SimulationDesign | None = None, *, seed: int = 1) -> SimulatedTrial:
    """Simulate a trial: communities over real 16S genes, read sources, subject measures.

    Parameters
    ----------
    design : SimulationDesign, optional
        Parameters (defaults: the model study, see :class:`SimulationDesign`).
    seed : int
        Non-negative; the whole trial, reads included, is a deterministic function of it.

    Returns
    -------
    SimulatedTrial
    """
    design = design or SimulationDesign()
    if int(seed) < 0:
        raise ValueError("seed must be >= 0")
    seed = int(seed)
    pool = reference_pool(design, seed=seed)
    subjects = make_subjects(design, np.random.default_rng([seed, 201]))
    samples = make_samples(subjects)
    comp = compositions(pool, subjects, samples, design, np.random.default_rng([seed, 202]))
    composition = pd.DataFrame(comp, index=pool.index, columns=samples.index)

    depth_rng = np.random.default_rng([seed, 206])
    spread = design.depth_spread
    depths = np.rint(
        design.reads_per_sample * depth_rng.uniform(1 - spread, 1 + spread, len(samples))
    )
    amplicons = list(pool["sequence"])
    known = set(amplicons)
    sources: dict[str, SampleSources] = {}
    chim_rows = []
    for k, sid in enumerate(samples.index):
        rng = np.random.default_rng([seed, 301, k + 1])
        src = sample_sources(comp[:, k], int(depths[k]), amplicons, design, rng, known=known)
        sources[sid] = src
        for c in src.chimeras:
            chim_rows.append(
                {
                    "chimera": sequence_id(c.sequence),
                    "sample-id": sid,
                    "parent_a": pool.index[c.parent_a],
                    "parent_b": pool.index[c.parent_b],
                    "cut_a": c.cut_a,
                    "cut_b": c.cut_b,
                    "reads": c.reads,
                    "sequence": c.sequence,
                }
            )
    chim_cols = [
        "chimera",
        "sample-id",
        "parent_a",
        "parent_b",
        "cut_a",
        "cut_b",
        "reads",
        "sequence",
    ]
    chimeras = pd.DataFrame(chim_rows, columns=chim_cols)
    counts = pd.DataFrame(
        np.column_stack([sources[s].counts for s in samples.index]),
        index=pool.index,
        columns=samples.index,
    )

    guild_abundance = pd.DataFrame(
        {
            g: composition[pool["guild"] == g].sum(axis=0)
            for g in (GUILD_BUTYRATE, GUILD_PREVOTELLACEAE)
        }
    )
    guild_abundance.index.name = "sample-id"
    clinical, checks = clinical_tables(subjects, design, np.random.default_rng([seed, 203]))
    immune = immune_table(subjects, design, np.random.default_rng([seed, 204]))
    metabolites = metabolite_table(guild_abundance, design, np.random.default_rng([seed, 205]))
    return SimulatedTrial(
        design=design,
        seed=seed,
        pool=pool,
        subjects=subjects,
        metadata=samples,
        composition=composition,
        counts=counts,
        sources=sources,
        chimeras=chimeras,
        clinical=clinical,
        immune=immune,
        metabolites=metabolites,
        responders=checks,
        effects=_effects(pool, composition, samples, design),
        associations=associations_table(design),
        guild_abundance=guild_abundance,
    )


def _effects(
    pool: pd.DataFrame, composition: pd.DataFrame, samples: pd.DataFrame, design: SimulationDesign
) -> pd.DataFrame:
    """Designed and realised log2 fold changes per feature and comparison.

    ``log2fc``: the designed shift of the feature's Dirichlet mean weight (patients vs
    controls: the guild's fold change; week 12 vs baseline: ``-recovery`` times it, in
    responders). ``realized_log2fc``: log2 of the ratio of the mean true relative
    abundances of the two sides (pseudo-count 1e-5), over the samples of the comparison.
    """
    rows = []
    for name, _kind, column, (test, ref), where in COMPARISONS:
        md = samples
        for col, value in where.items():
            md = md[md[col] == value]
        a = composition[md.index[md[column] == test]].mean(axis=1)
        b = composition[md.index[md[column] == ref]].mean(axis=1)
        realized = np.log2((a + _PSEUDO) / (b + _PSEUDO))
        for fid, row in pool.iterrows():
            fc = design.guild_log2fc(row["guild"])
            designed = fc if name == "patient-vs-control" else -design.recovery * fc
            applies = (
                "patients vs controls at baseline" if name == "patient-vs-control" else "responders"
            )
            rows.append(
                {
                    "feature": fid,
                    "taxon": row["taxon"],
                    "guild": row["guild"],
                    "comparison": name,
                    "log2fc": float(designed) + 0.0,
                    "realized_log2fc": round(float(realized[fid]), 4),  # type: ignore[call-overload]
                    "applies_to": applies,
                }
            )
    return pd.DataFrame(rows)
