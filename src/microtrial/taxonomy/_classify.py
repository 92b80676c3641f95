"""Classifying sequences with a trained model: best group, bootstrap confidence, species.

Notes
-----
A query's words are all its overlapping k-mers (non-ACGT words skipped; a word occurring
twice counts twice). Its group is argmax_g sum_w log P(w | g). Confidence (Wang et al.
2007; DADA2's ``minBoot``): 100 times, draw 1/8 of the query's words with replacement and
classify that subset; the confidence at rank r is the fraction of these bootstraps whose
group has the same names as the full query's group at r and every rank above. Ranks are
reported down to the deepest one whose confidence reaches the threshold (DADA2
``minBoot=80`` is ``confidence=0.8``).

Groups with exactly equal scores (the words cannot tell them apart, e.g. two genera that
share a reference sequence) are tied, and the full query and each bootstrap pick one of
them uniformly at random, as DADA2 does. A query identical to a sequence held by genera A
and B thus gets genus confidence about 0.5 and no genus, not a confident call of whichever
group comes first. Random draws are seeded per query from ``seed`` and the sequence.

``both_orientations=True`` corresponds to DADA2's ``tryRC=TRUE`` (DADA2's default is
``FALSE``): the reverse complement is used when its best score is higher.

Species (DADA2 ``addSpecies``): the query must occur exactly (as a substring) in reference
sequences labelled with a species, all hits must share one genus, that genus must agree
with the assigned genus, and at most ``max_species`` distinct species may remain (joined
with '/'), otherwise no species.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping

import numba
import numpy as np
import pandas as pd

from microtrial.seqs import reverse_complement
from microtrial.taxa import RANKS, UNASSIGNED
from microtrial.taxonomy import _kernels
from microtrial.taxonomy._model import Scorer, SpeciesReference, TaxonomyModel
from microtrial.taxonomy._species import find_exact_hits

ProgressCallback = Callable[[str, int, int], None]


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if not n:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _query_seeds(seqs: list[str], seed: int) -> np.ndarray:
    """One 32-bit seed per query from (seed, sequence): a sequence's result does not
    depend on the other queries or their order."""
    out = np.empty(len(seqs), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i] = int.from_bytes(hashlib.sha256(f"{seed}:{s.upper()}".encode()).digest()[:4], "little")
    return out


def _match_genus(assigned: str, hit: str) -> bool:
    """Genus names agree, allowing composite names such as ``Escherichia/Shigella``."""
    a = {x.strip().lower() for x in assigned.replace("-", "/").split("/")}
    h = {x.strip().lower() for x in hit.replace("-", "/").split("/")}
    return bool(a & h)


def _classify_chunk(job: tuple[list[str], np.ndarray], sc: Scorer, model: TaxonomyModel,
                    both_orientations: bool, n_boot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best group, bootstrap counts and strand of one chunk of queries (one task)."""
    chunk, seeds = job
    m = len(chunk)
    best = np.full(m, -1, dtype=np.int64)
    boots = np.zeros((m, model.rank_ids.shape[1]), dtype=np.int64)
    strand = np.zeros(m, dtype=np.int64)
    score = np.zeros(m, dtype=np.float64)
    codes, offsets = _kernels.encode_many(chunk)
    rc_codes, _ = _kernels.encode_many([reverse_complement(s) for s in chunk])
    _kernels.classify_kernel(
        sc.wptr, sc.wgroup, sc.wdelta, sc.log_den, sc.log_prior, model.rank_ids, codes, offsets,
        rc_codes, both_orientations, model.k, n_boot, np.ascontiguousarray(seeds), best, boots,
        score, strand,
    )
    return best, boots, strand


def classify(
    sequences: Mapping[str, str],
    model: TaxonomyModel,
    *,
    confidence: float = 0.8,
    n_boot: int = 100,
    seed: int = 0,
    both_orientations: bool = True,
    species: SpeciesReference | None = None,
    max_species: int = 1,
    threads: int | None = None,
    scorer: Scorer | None = None,
    chunk_size: int = 2000,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Assign taxonomy to sequences (see module notes).

    Parameters
    ----------
    sequences : mapping of feature id -> sequence
    model : TaxonomyModel
    confidence : float
        Bootstrap confidence threshold in [0, 1].
    n_boot : int
        Number of bootstrap resamples.
    seed : int
        Seed of the bootstrap draws.
    both_orientations : bool
        Also score the reverse complement and keep the better orientation.
    species : SpeciesReference, optional
        Exact-match species assignment (only for queries assigned to genus).
    max_species : int
        Most species reported for an ambiguous exact match (joined with '/'); more gives
        none.
    threads : int, optional
    scorer : Scorer, optional
        ``model.scorer()``, if already built.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``Feature ID``: ``Taxon`` (normalised, as deep as the confidence
        allows, ``Unassigned`` if not even the domain is), ``Confidence`` (at the deepest
        reported rank), ``Lineage`` (best group, unthresholded), ``Strand`` (+/-), and one
        ``confidence_<rank>`` column per classification rank.
    """
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    ids = list(sequences)
    seqs = [str(sequences[i]).upper() for i in ids]
    n = len(seqs)
    n_ranks = model.rank_ids.shape[1]
    best = np.full(n, -1, dtype=np.int64)
    boots = np.zeros((n, n_ranks), dtype=np.int64)
    strand = np.zeros(n, dtype=np.int64)
    if n:
        sc = model.scorer() if scorer is None else scorer
        seeds = _query_seeds(seqs, seed)
        from microtrial.parallel import current_executor, map_ordered, n_workers

        if current_executor() is not None:  # chunks to the cluster: a few per worker
            chunk_size = max(50, min(chunk_size, -(-n // (4 * n_workers()))))
        starts = list(range(0, n, chunk_size))
        jobs = [(seqs[a:a + chunk_size], seeds[a:a + chunk_size]) for a in starts]
        chunk_progress = None
        if progress is not None:
            chunk_progress = lambda _d, done, _t: progress("classifying", min(n, done * chunk_size), n)  # noqa: E731
        with _threads(threads):
            parts = map_ordered(_classify_chunk, jobs, shared=(sc, model, both_orientations, n_boot),
                                progress=chunk_progress, desc="classifying")
        for a, (b, bt, st) in zip(starts, parts):
            best[a:a + len(b)] = b
            boots[a:a + len(b)] = bt
            strand[a:a + len(b)] = st
    frac = boots / float(n_boot)
    threshold = confidence - 1e-9
    taxa: list[str] = []
    conf: list[float] = []
    lineages: list[str] = []
    for i in range(n):
        if best[i] < 0:
            taxa.append(UNASSIGNED)
            conf.append(0.0)
            lineages.append(UNASSIGNED)
            continue
        levels = model.lineages[best[i]].split("; ") if model.lineages[best[i]] else []
        lineages.append(model.lineages[best[i]] or UNASSIGNED)
        depth = 0
        while depth < min(len(levels), n_ranks) and frac[i, depth] >= threshold:
            depth += 1
        kept = levels[:depth]
        taxa.append("; ".join(kept) if kept else UNASSIGNED)
        conf.append(float(frac[i, depth - 1]) if depth else float(frac[i, 0]))
    if species is not None and n:
        _add_species(seqs, strand, taxa, species, max_species)
    out = pd.DataFrame(
        {"Taxon": taxa, "Confidence": conf, "Lineage": lineages,
         "Strand": np.where(strand == 1, "-", "+")},
        index=pd.Index(ids, name="Feature ID"),
    )
    for r in range(n_ranks):
        out[f"confidence_{RANKS[r]}"] = frac[:, r]
    return out


def _add_species(seqs: list[str], strand: np.ndarray, taxa: list[str],
                 species: SpeciesReference, max_species: int) -> None:
    want = [i for i, t in enumerate(taxa) if "; g__" in t]
    if not want:
        return
    queries = [seqs[i] if strand[i] == 0 else reverse_complement(seqs[i]) for i in want]
    hits = find_exact_hits(queries, species.sequences)
    for q, i in enumerate(want):
        h = hits[q]
        if not h:
            continue
        genera = {species.genus[j] for j in h}
        if len(genera) != 1:
            continue
        genus = taxa[i].split("; g__", 1)[1]
        if not _match_genus(genus, next(iter(genera))):
            continue
        names = sorted({species.species[j] for j in h})
        if len(names) > max_species:
            continue
        taxa[i] = f"{taxa[i]}; s__{'/'.join(names)}"
