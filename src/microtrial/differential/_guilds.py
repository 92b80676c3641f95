"""Functional guilds: butyrate producers and inflammation-associated taxa.

Membership is decided from a feature's normalised taxon string (:func:`microtrial.taxa.
split_taxon`): a feature belongs to a guild when its genus is one of the guild's genera,
its genus and species are one of its species, or (for the families listed) it is assigned
to the family but to no genus. Guilds are disjoint by construction (checked at import).

``butyrate_producers``: the butyrate-producing genera of human colonic Firmicutes reviewed
by Louis & Flint (2009) and confirmed by butyrate-pathway gene screening of gut genomes
(Vital et al. 2014): *Faecalibacterium* (F. prausnitzii), *Roseburia* and *Agathobacter*
(Eubacterium rectale), *Eubacterium* (E. hallii, now *Anaerobutyricum*), *Anaerostipes*,
*Coprococcus*, *Butyrivibrio*, *Pseudobutyrivibrio*, *Subdoligranulum*, *Butyricicoccus*,
*Shuttleworthia*, *Odoribacter*; *Blautia* is grouped with them as the model study does
(it is a Lachnospiraceae genus with butyrate-pathway genes in some strains); and
Lachnospiraceae not classified to a genus (most uncultured Lachnospiraceae carry the
butyryl-CoA:acetate CoA-transferase route; Vital et al. 2014).

``inflammation_associated``: taxa enriched in inflammatory and autoimmune conditions:
*Prevotella* / Prevotellaceae (P. copri; Scher et al. 2013), Enterobacteriaceae (Lupp et al.
2007), *Ruminococcus gnavus* (genus [Ruminococcus] species gnavus in Greengenes,
*Mediterraneibacter gnavus* in GTDB; Hall et al. 2017), *Fusobacterium*.

References
----------
Louis P, Flint HJ. Diversity, metabolism and microbial ecology of butyrate-producing bacteria
from the human large intestine. FEMS Microbiol Lett. 2009;294:1-8.
Vital M, Howe AC, Tiedje JM. Revealing the bacterial butyrate synthesis pathways by analyzing
(meta)genomic data. mBio. 2014;5:e00889-14.
Scher JU, Sczesnak A, Longman RS, et al. Expansion of intestinal Prevotella copri correlates
with enhanced susceptibility to arthritis. eLife. 2013;2:e01202.
Lupp C, Robertson ML, Wickham ME, et al. Host-mediated inflammation disrupts the intestinal
microbiota and promotes the overgrowth of Enterobacteriaceae. Cell Host Microbe. 2007;2:119-129.
Hall AB, Yassour M, Sauk J, et al. A novel Ruminococcus gnavus clade enriched in
inflammatory bowel disease patients. Genome Med. 2017;9:103.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microtrial.taxa import split_taxon


@dataclass(frozen=True)
class Guild:
    """Taxa of a functional guild (names without rank prefixes)."""

    name: str
    genera: frozenset[str] = frozenset()
    species: frozenset[tuple[str, str]] = frozenset()
    families_unclassified: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    exclude_species: frozenset[tuple[str, str]] = frozenset()

    def contains(self, taxon: str) -> bool:
        """Whether a taxon string belongs to this guild."""
        levels = {lv[:3]: lv[3:] for lv in split_taxon(taxon)}
        family, genus = levels.get("f__"), levels.get("g__")
        species = levels.get("s__")
        if species is not None and genus is not None:
            sp = species.split()[-1] if species else species
            if (genus, sp) in self.exclude_species:
                return False
            if (genus, sp) in self.species:
                return True
        if genus is not None and genus in self.genera:
            return True
        if family is not None and family in self.families:
            return True
        return family is not None and genus is None and family in self.families_unclassified


GUILDS: dict[str, Guild] = {
    "butyrate_producers": Guild(
        "butyrate_producers",
        genera=frozenset({
            "Faecalibacterium", "Roseburia", "Agathobacter", "Eubacterium", "Anaerobutyricum",
            "Anaerostipes", "Coprococcus", "Butyrivibrio", "Pseudobutyrivibrio",
            "Subdoligranulum", "Butyricicoccus", "Shuttleworthia", "Odoribacter", "Blautia",
        }),
        families_unclassified=frozenset({"Lachnospiraceae"}),
    ),
    "inflammation_associated": Guild(
        "inflammation_associated",
        genera=frozenset({"Prevotella", "Fusobacterium", "Mediterraneibacter"}),
        species=frozenset({("Ruminococcus", "gnavus")}),
        families=frozenset({"Prevotellaceae", "Enterobacteriaceae"}),
    ),
}


def guild_membership(taxonomy: pd.Series, guilds: Mapping[str, Guild] | None = None) -> pd.DataFrame:
    """Boolean table, features x guilds; a feature belongs to at most one guild."""
    guilds = GUILDS if guilds is None else guilds
    out = pd.DataFrame(
        {name: [g.contains(str(t)) for t in taxonomy.to_numpy()] for name, g in guilds.items()},
        index=taxonomy.index,
    )
    if len(out.columns) and (out.sum(axis=1) > 1).any():
        raise ValueError("guild definitions overlap")
    return out


def guild_counts(counts: pd.DataFrame, taxonomy: pd.Series,
                 guilds: Mapping[str, Guild] | None = None) -> pd.DataFrame:
    """Summed counts of each guild's member features (guilds x samples)."""
    member = guild_membership(taxonomy.reindex(counts.index).fillna(""), guilds)
    return pd.DataFrame(member.to_numpy(dtype=float).T @ counts.to_numpy(dtype=float),
                        index=member.columns, columns=counts.columns)


def guild_abundance(counts: pd.DataFrame, taxonomy: pd.Series,
                    guilds: Mapping[str, Guild] | None = None) -> pd.DataFrame:
    """Guild relative abundance per sample: the sum of the relative abundances of the
    member features (samples x guilds; a sample without reads gets 0)."""
    gc = guild_counts(counts, taxonomy, guilds)
    tot = counts.to_numpy(dtype=float).sum(axis=0)
    rel = np.divide(gc.to_numpy(), tot[None, :], out=np.zeros(gc.shape), where=tot[None, :] > 0)
    out = pd.DataFrame(rel.T, index=counts.columns, columns=gc.index)
    out.index.name = "sample-id"
    return out
