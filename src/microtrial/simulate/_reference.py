"""The reference pool: real 16S genes from Greengenes 13_8 (97% OTUs), cut in silico.

For each :class:`~microtrial.simulate._design.TaxonTarget` the OTUs whose Greengenes
taxonomy matches are shuffled with the seed; the first candidates are read from the
packaged ``97_otus.fasta`` in one streaming pass that stops as soon as every candidate has
been seen, cut with the study's primers (:func:`microtrial.seqs.extract_amplicon`) and
accepted in shuffled order when the amplicon is plain ACGT, of the region's usual length,
and at least ``design.min_distance`` edits away from every amplicon accepted before.

The packaged reference is the only file this stage reads; it is data that ships with the
``qiime-default-reference`` dependency, not user input.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd

from microtrial.dna import OTHER, encode
from microtrial.io.fasta import sequence_id
from microtrial.seqs import extract_amplicon
from microtrial.simulate._design import AMPLICON_LENGTHS, SimulationDesign, TaxonTarget
from microtrial.simulate._kernels import capped_edit_distance
from microtrial.taxa import normalize_taxon

log = logging.getLogger(__name__)

_CANDIDATES_PER_WANTED = 6


@lru_cache(maxsize=1)
def _taxonomy() -> tuple[tuple[str, ...], tuple[str, ...]]:
    import qiime_default_reference as qdr

    ids: list[str] = []
    taxa: list[str] = []
    with open(qdr.get_reference_taxonomy(), encoding="ascii") as fh:
        for line in fh:
            otu, _, taxon = line.rstrip("\n").partition("\t")
            ids.append(otu)
            taxa.append(taxon)
    return tuple(ids), tuple(taxa)


def _matches(target: TaxonTarget, levels: list[str]) -> bool:
    if len(levels) < 6 or levels[0] != "k__Bacteria":
        return False
    if not target.family:
        return levels[3] == f"o__{target.order}" and levels[4] == "f__"
    return levels[4] == f"f__{target.family}" and levels[5] == f"g__{target.genus}"


def _stream_sequences(wanted: set[str]) -> dict[str, str]:
    """Sequences of ``wanted`` OTU ids from the packaged FASTA, stopping when all are seen."""
    import qiime_default_reference as qdr

    out: dict[str, str] = {}
    keep: str | None = None
    chunks: list[str] = []
    with open(qdr.get_reference_sequences(), encoding="ascii") as fh:
        for line in fh:
            if line.startswith(">"):
                if keep is not None:
                    out[keep] = "".join(chunks)
                    if len(out) == len(wanted):
                        keep = None
                        break
                otu = line[1:].split(None, 1)[0]
                keep = otu if otu in wanted else None
                chunks = []
            elif keep is not None:
                chunks.append(line.strip())
    if keep is not None:
        out[keep] = "".join(chunks)
    return out


@lru_cache(maxsize=8)
def _pool_cached(
    targets: tuple[TaxonTarget, ...],
    primers: tuple[str, str],
    length_range: tuple[int, int] | None,
    min_distance: int,
    seed: int,
) -> pd.DataFrame:
    ids, taxa = _taxonomy()
    by_target: list[list[int]] = [[] for _ in targets]
    for k, taxon in enumerate(taxa):
        levels = [p.strip() for p in taxon.split(";")]
        for t, target in enumerate(targets):
            if _matches(target, levels):
                by_target[t].append(k)
                break
    rng = np.random.default_rng([seed, 101])
    ranked: list[list[int]] = []
    for t, target in enumerate(targets):
        cand = np.asarray(by_target[t], dtype=np.int64)
        order = rng.permutation(len(cand))
        ranked.append([int(c) for c in cand[order][: _CANDIDATES_PER_WANTED * target.n + 10]])
    wanted = {ids[k] for ranks in ranked for k in ranks}
    seqs = _stream_sequences(wanted)

    accepted: list[np.ndarray] = []
    seen: set[str] = set()
    rows = []
    for t, target in enumerate(targets):
        n_ok = 0
        for k in ranked[t]:
            if n_ok >= target.n:
                break
            gene = seqs.get(ids[k])
            if gene is None:
                continue
            amp = extract_amplicon(gene, *primers)
            if amp is None or amp in seen:
                continue
            if length_range is not None and not length_range[0] <= len(amp) <= length_range[1]:
                continue
            code = encode(amp)
            if np.any(code >= OTHER):  # an ambiguous base: not a clean amplicon
                continue
            if any(
                capped_edit_distance(code, other, min_distance) < min_distance for other in accepted
            ):
                continue
            accepted.append(code)
            seen.add(amp)
            n_ok += 1
            rows.append(
                {
                    "feature": sequence_id(amp),
                    "sequence": amp,
                    "taxon": normalize_taxon(taxa[k]),
                    "gg_id": ids[k],
                    "target": target.label,
                    "guild": target.guild,
                    "target_log_abundance": target.log_abundance,
                }
            )
        if n_ok < target.n:
            log.warning(
                "reference pool: only %d of %d distinct amplicons for %s",
                n_ok,
                target.n,
                target.label,
            )
    return pd.DataFrame(rows).set_index("feature")


def reference_pool(design: SimulationDesign, *, seed: int) -> pd.DataFrame:
    """Choose the simulated community's taxa: real Greengenes 13_8 amplicons.

    Parameters
    ----------
    design : SimulationDesign
        Supplies the targets (``pool``), primers, ``region`` and ``min_distance``.
    seed : int
        Selection is a deterministic function of the seed and the design.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature id (md5 of the amplicon without primers), columns ``sequence``,
        ``taxon`` (normalised ``d__...``), ``gg_id``, ``target``, ``guild``,
        ``target_log_abundance``; in target order.
    """
    primers = design.primers
    length_range = None
    if design.primer_f is None or tuple(design.primers) == tuple(_region_primers(design.region)):
        length_range = AMPLICON_LENGTHS.get(design.region)
    pool = _pool_cached(
        tuple(design.pool), primers, length_range, int(design.min_distance), int(seed)
    )
    return pool.copy()


def _region_primers(region: str) -> tuple[str, str]:
    from microtrial.seqs import PRIMERS

    return PRIMERS.get(region, ("", ""))
