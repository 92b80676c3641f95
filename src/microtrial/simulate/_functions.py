"""Simulated gene content: EC copy numbers per simulated genus, designed from MetaCyc.

The simulated trial's taxa get *designed*, not real, gene content so that the function
stage has something true to find: the butyrate-producer guild (whose abundance falls in
patients and recovers in responders by week 12) carries complete MetaCyc pathways for
L-aspartate/L-asparagine and branched-chain amino acid (L-leucine, L-valine, L-isoleucine)
synthesis and for butanoate fermentation; every other genus carries a shared core of
housekeeping pathways, a few unrelated pathways, and at most half of the key reactions of
the two amino-acid pathways (too few for gap filling to complete them).

Pathway definitions and EC -> reaction links are PICRUSt2 2.6.3's ``EC:``-keyed MetaCyc
maps packaged with :mod:`microtrial.function` (``function/data/README.md``). The table is
written with a ``# simulated`` note so that every run using it says so.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microtrial.simulate._design import GUILD_BUTYRATE, SimulationDesign, TaxonTarget

DESIGNED_PATHWAYS = ("ASPASN-PWY", "BRANCHED-CHAIN-AA-SYN-PWY", "CENTFERM-PWY", "PWY-5676",
                     "P162-PWY")
"""Pathways of interest carried completely by the butyrate-producer guild only."""
UNMAPPED_PATHWAYS = ("ASPARAGINESYN-PWY", "LEUSYN-PWY")
"""Pathways of interest that PICRUSt2 2.6.3's MetaCyc maps do not define (their reactions
are part of ASPASN-PWY and BRANCHED-CHAIN-AA-SYN-PWY): no EC table can make them appear."""
PARTIAL_PATHWAYS = ("ASPASN-PWY", "BRANCHED-CHAIN-AA-SYN-PWY")
"""Of these, the other genera carry at most half of the key reactions."""
CORE_PATHWAYS = ("GLYCOLYSIS", "NONOXIPENT-PWY", "PWY-7221", "PWY-5686", "PWY-6122",
                 "PWY-7229", "PWY-6163", "COA-PWY", "PEPTIDOGLYCANSYN-PWY",
                 "PWY-6387", "DTDPRHAMSYN-PWY")
"""Carried by every simulated genus (no designed change)."""
OTHER_PATHWAYS = ("HISTSYN-PWY", "TRPSYN-PWY", "GLYCOGENSYNTH-PWY", "PWY-7228", "THRESYN-PWY",
                  "ARGSYN-PWY", "PWY-6151", "PWY-7220", "PWY-7222", "PWY-6897",
                  "SER-GLYSYN-PWY", "PWY-6703", "PWY-6609", "PWY-5097", "PWY-2942")
"""Each genus draws four of these (by a hash of its name; no designed change)."""
N_OTHER = 4
NOTE = ("simulated by microtrial simulate: EC copy numbers designed from MetaCyc pathway "
        "definitions (PICRUSt2 2.6.3 maps), not real genome content")


@dataclass(frozen=True)
class SimulatedFunctions:
    """Outputs of :func:`simulate_functions`.

    Attributes
    ----------
    traits : pandas.DataFrame
        Index ``genus`` (genus name, else family, else order of each pool target), one
        column per EC number (``EC:x.x.x.x``), copy numbers.
    carriers : pandas.DataFrame
        Index ``genus``: ``guild`` and ``pathways`` (the complete pathways given to it,
        ``;``-separated).
    truth : pandas.DataFrame
        One row per pathway of interest and comparison (and one per core pathway):
        ``pathway``, ``of_interest``, ``in_maps``, ``carried_by``, ``designed_change``,
        ``comparison``, ``direction`` (``up``/``down``/``none``), ``applies_to``.
    """

    traits: pd.DataFrame
    carriers: pd.DataFrame
    truth: pd.DataFrame


def _maps() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]],
                    dict[str, list[str]]]:
    from microtrial.function import (
        PACKAGED_PATHWAY_MAP,
        PACKAGED_REGROUP_MAP,
        packaged_map_lines,
        parse_pathway_map,
        parse_regroup_map,
    )

    pmap = parse_pathway_map(packaged_map_lines(PACKAGED_PATHWAY_MAP))
    regroup = parse_regroup_map(packaged_map_lines(PACKAGED_REGROUP_MAP))
    by_reaction: dict[str, list[str]] = {}
    for ec, rxns in regroup.items():
        for r in rxns:
            by_reaction.setdefault(r, []).append(ec)
    return pmap.reactions, pmap.key_reactions, by_reaction, regroup


def _ec_for(reaction: str, by_reaction: dict[str, list[str]], regroup_size: dict[str, int]
            ) -> str | None:
    ecs = by_reaction.get(reaction, [])
    if not ecs:
        return None
    return sorted(ecs, key=lambda e: (regroup_size[e], e))[0]  # the most specific EC


def target_name(t: TaxonTarget) -> str:
    """The trait-table name of a pool target: its genus, else family, else order."""
    return t.genus or t.family or t.order


def simulate_functions(design: SimulationDesign | None = None,
                       pools: Sequence[TaxonTarget] | None = None) -> SimulatedFunctions:
    """Designed EC copy numbers for every genus of the design's pool, and their truth.

    Deterministic (no random stream): the unrelated pathways of a genus are chosen by a
    CRC-32 of its name.
    """
    design = design or SimulationDesign()
    pool = tuple(pools if pools is not None else design.pool)
    reactions, keys, by_reaction, regroup = _maps()
    sizes: dict[str, int] = {}
    for rxns in by_reaction.values():
        for ec in rxns:
            sizes[ec] = sizes.get(ec, 0) + 1

    def ecs(pathway: str, only: Sequence[str] | None = None) -> set[str]:
        out = set()
        for r in (only if only is not None else reactions[pathway]):
            ec = _ec_for(r, by_reaction, sizes)
            if ec is not None:
                out.add(ec)
        return out

    for p in (*DESIGNED_PATHWAYS, *CORE_PATHWAYS, *OTHER_PATHWAYS):
        if p not in reactions:
            raise ValueError(f"pathway {p} is not in the packaged MetaCyc map")
    guild_of: dict[str, str] = {}
    for t in pool:
        guild_of.setdefault(target_name(t), t.guild)
    rows: dict[str, set[str]] = {}
    carried: dict[str, list[str]] = {}
    for name, guild in guild_of.items():
        h = zlib.crc32(name.encode())
        order = np.random.default_rng(h).permutation(len(OTHER_PATHWAYS))
        others = [OTHER_PATHWAYS[i] for i in sorted(order[:N_OTHER])]
        complete = [*CORE_PATHWAYS, *others]
        genes: set[str] = set()
        if guild == GUILD_BUTYRATE:
            complete = [*DESIGNED_PATHWAYS, *complete]
        for p in complete:
            genes |= ecs(p)
        if guild != GUILD_BUTYRATE:
            for p in PARTIAL_PATHWAYS:  # key reactions while at least half stay missing
                k = keys[p]
                floor = max(2, len(k) // 2)
                for r in k:
                    found = _ec_for(r, by_reaction, sizes)
                    if found is None or found in genes:
                        continue
                    have = {x for e in genes | {found} for x in regroup[e]}
                    if sum(x not in have for x in k) >= floor:
                        genes.add(found)
        if guild != GUILD_BUTYRATE:  # the design: too few key reactions to gap-fill
            have = {r for e in genes for r in regroup[e]}
            for p in DESIGNED_PATHWAYS:
                if sum(r not in have for r in keys[p]) < 2:
                    raise ValueError(f"{name} would carry {p} (or all but one of its key "
                                     "reactions): the simulated gene content is inconsistent")
        rows[name] = genes
        carried[name] = complete
    all_ecs = sorted({e for g in rows.values() for e in g})
    traits = pd.DataFrame(0, index=pd.Index(list(rows), name="genus"), columns=all_ecs,
                          dtype=np.int64)
    for name, genes in rows.items():
        traits.loc[name, sorted(genes)] = 1
    carriers = pd.DataFrame({"guild": [guild_of[n] for n in rows],
                             "pathways": [";".join(carried[n]) for n in rows]},
                            index=traits.index)
    truth = _truth(design, [n for n in rows if guild_of[n] == GUILD_BUTYRATE])
    return SimulatedFunctions(traits, carriers, truth)


def _truth(design: SimulationDesign, guild: list[str]) -> pd.DataFrame:
    """Designed direction of each pathway of interest in the trial's comparisons: with the
    guild's patient-vs-control log2 fold change ``f`` (< 0: fewer butyrate producers in
    patients) and responders recovering ``recovery * f`` by week 12."""
    f = design.butyrate_log2fc
    sign = {True: "up", False: "down"}
    pvc = "none" if f == 0 else sign[f > 0]
    w12 = "none" if f == 0 or design.recovery == 0 else sign[-f > 0]
    carried_by = ";".join(guild)
    rows = []
    for p in DESIGNED_PATHWAYS:
        for comp, direction, applies in (
                ("patient-vs-control", pvc, "patients vs controls at baseline"),
                ("week12-vs-baseline", w12, "responders")):
            rows.append((p, True, True, carried_by, direction != "none", comp, direction,
                         applies))
    for p in UNMAPPED_PATHWAYS:
        rows.append((p, True, False, "", False, "", "none",
                     "not defined in PICRUSt2 2.6.3's MetaCyc maps"))
    for p in CORE_PATHWAYS:
        rows.append((p, False, True, "all", False, "", "none",
                     "every genus: constant per cell (compositional tests may show the small "
                     "opposite shift of the rest of the community)"))
    return pd.DataFrame(rows, columns=["pathway", "of_interest", "in_maps", "carried_by",
                                       "designed_change", "comparison", "direction",
                                       "applies_to"])
