"""Preparing references: in-silico amplicon extraction and species labels."""

from __future__ import annotations

import logging

from microtrial.seqs import extract_amplicon, reverse_complement
from microtrial.taxa import split_taxon
from microtrial.taxonomy._model import Reference, SpeciesReference

log = logging.getLogger(__name__)


def extract_region(reference: Reference, primer_f: str, primer_r: str, *,
                   min_length: int = 50) -> Reference:
    """Cut each reference sequence down to the amplicon between the primers (either
    strand; IUPAC codes, no mismatches) and drop sequences where the primers are not found
    or the amplicon is shorter than ``min_length``, as q2-feature-classifier's
    ``extract-reads`` does before training."""
    keep_ids: list[str] = []
    keep_seqs: list[str] = []
    keep_taxa: list[str] = []
    for fid, seq, taxon in zip(reference.ids, reference.sequences, reference.taxa, strict=True):
        amp = extract_amplicon(seq, primer_f, primer_r)
        if amp is None:
            amp = extract_amplicon(reverse_complement(seq), primer_f, primer_r)
        if amp is None or len(amp) < min_length:
            continue
        keep_ids.append(fid)
        keep_seqs.append(amp)
        keep_taxa.append(taxon)
    log.info("primers found in %d of %d reference sequences", len(keep_ids), len(reference))
    if not keep_ids:
        raise ValueError("the primers match no reference sequence")
    return Reference(tuple(keep_ids), tuple(keep_seqs), tuple(keep_taxa))


def species_from_reference(reference: Reference) -> SpeciesReference:
    """Species labels carried by the reference's own taxonomy (seventh rank, e.g.
    Greengenes' ``g__Escherichia; s__coli``): sequences with both genus and species."""
    genus: list[str] = []
    species: list[str] = []
    seqs: list[str] = []
    for seq, taxon in zip(reference.sequences, reference.taxa, strict=True):
        levels = split_taxon(taxon)
        if len(levels) >= 7:
            g = levels[5][3:]
            s = levels[6][3:]
            if s.startswith(g + "_") or s.startswith(g + " "):
                s = s[len(g) + 1 :]
            genus.append(g)
            species.append(s)
            seqs.append(seq)
    return SpeciesReference(tuple(genus), tuple(species), tuple(seqs))
