"""Phylogenetic placement of ASVs on a PICRUSt2 reference tree, by maximum likelihood as
EPA-ng does it.

Notes
-----
1. **Alignment.** Each query is aligned to the reference profile HMM (pyhmmer's
   ``TraceAligner``, the engine of ``hmmalign``). With many queries, a sample of 24 is
   aligned to the whole model first and the rest to the model cut to the match states the
   sample used plus 60 on each side (amplicons cover a few hundred of ~1,500 states, and the
   cost grows with the model length); a query whose alignment reaches the cut's edge, or
   aligns too little, is aligned again to the whole model. Residues aligned to match states go into
   the reference alignment column the HMM's ``MAP`` annotation names; inserted residues are
   dropped (they have no reference column), as are queries with less than ``min_align`` of
   their residues in match states (PICRUSt2's ``--min_align``, default 0.8).
2. **Model.** GTR + discrete Gamma (4 categories, mean rates unless the model says ``G4a``)
   with the frequencies and rates of the reference's ``.model`` file (RAxML-ng model string,
   or an old RAxML info file). Gaps and N are all-ones tip vectors.
3. **Likelihood vectors.** For every edge, the partial likelihoods of the subtree below it and
   of the rest of the tree above it, per alignment column and rate category (Felsenstein's
   pruning, with per-column log scaling), computed in blocks of columns over the columns
   the queries cover.
4. **Pre-placement.** Each query is scored on every edge with the query attached at the
   edge's midpoint by a pendant of 0.1 substitutions/site (a look-up table of per-column,
   per-base log-likelihoods, as EPA-ng's pre-placement); the best edges up to 99.999% of the
   accumulated likelihood weight, at most ``max_candidates``, go on.
5. **Thorough placement.** On each candidate edge the distal (from the edge's lower node)
   and pendant lengths are optimised (coordinate ascent, golden-section search) and the
   likelihood weight ratios are the normalised likelihoods across the candidates. As EPA-ng,
   placements are kept up to an accumulated weight of 0.99, at most 7 per query.
6. A query whose sequence equals a reference sequence (ungapped, case-insensitive) is placed
   on that tip's edge with distal and pendant length 0 (NSTI 0).

Columns where a query has no residue contribute the reference tree's own site likelihood
whatever the edge, so they are left out of the comparison between edges and added back for
the reported likelihood.

References
----------
Barbera P, Kozlov AM, Czech L, et al. (2019). EPA-ng: massively parallel evolutionary
placement of genetic sequences. Syst Biol 68:365. Berger SA, Krompass D, Stamatakis A
(2011). Performance, accuracy, and web server for evolutionary placement of short sequence
reads under maximum likelihood. Syst Biol 60:291. Felsenstein J (1981). J Mol Evol 17:368.
Yang Z (1994). J Mol Evol 39:306 (discrete Gamma). Eddy SR (2011). PLoS Comput Biol
7:e1002195 (HMMER3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microtrial.dna import MASKS
from microtrial.function import _kernels
from microtrial.function._phylo import TreeArrays, from_parents

log = logging.getLogger(__name__)

PENDANT_START = 0.1
MIN_BRANCH = 1e-6
MAX_PENDANT = 10.0
BLOCK = 64
KEEP_ACC_LWR = 0.99
KEEP_MAX = 7
ROUNDS = 3
TOLERANCE = 1e-3
ALIGN_BLOCK = 500
SLICE_SAMPLE = 24
SLICE_MARGIN = 60
SLICE_EDGE = 8
SLICE_MAX_FRACTION = 0.8

# byte -> IUPAC bit mask (A1 C2 G4 T/U8, ambiguity codes the union, N and gaps 15; 0 for a
# byte that is no nucleotide code): the shared encoding's table
_CODE = MASKS


@dataclass(frozen=True)
class SubstitutionModel:
    """GTR + discrete Gamma.

    Attributes
    ----------
    rates : array (6,)
        Exchangeabilities AC, AG, AT, CG, CT, GT.
    freqs : array (4,)
        Base frequencies A, C, G, T.
    alpha : float
        Gamma shape.
    categories : int
    median : bool
        Category rates are medians (RAxML-ng ``G4a``) instead of means.
    """

    rates: np.ndarray
    freqs: np.ndarray
    alpha: float
    categories: int = 4
    median: bool = False

    def eigen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(V, V^-1, eigenvalues) of the rate matrix scaled to one substitution per unit."""
        pi = self.freqs / self.freqs.sum()
        r = self.rates
        Q = np.zeros((4, 4))
        pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        for k, (i, j) in enumerate(pairs):
            Q[i, j] = r[k] * pi[j]
            Q[j, i] = r[k] * pi[i]
        np.fill_diagonal(Q, -Q.sum(axis=1))
        Q /= -np.dot(pi, np.diag(Q))
        sq = np.sqrt(pi)
        S = (sq[:, None] * Q) / sq[None, :]
        evals, U = np.linalg.eigh((S + S.T) / 2)
        V = U / sq[:, None]
        Vinv = U.T * sq[None, :]
        return np.ascontiguousarray(V), np.ascontiguousarray(Vinv), evals

    def category_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """(rates, weights) of the Gamma categories (mean 1)."""
        from scipy import special, stats

        K, a = self.categories, self.alpha
        if K == 1:
            return np.ones(1), np.ones(1)
        if self.median:
            med = stats.gamma.ppf((2 * np.arange(K) + 1) / (2 * K), a, scale=1 / a)
            return med / med.mean(), np.full(K, 1 / K)
        cuts = stats.gamma.ppf(np.arange(1, K) / K, a, scale=1 / a)
        upper = np.concatenate([special.gammainc(a + 1, cuts * a), [1.0]])
        lower = np.concatenate([[0.0], upper[:-1]])
        return (upper - lower) * K, np.full(K, 1 / K)


def parse_model(text: str) -> SubstitutionModel:
    """Parse a RAxML-ng model string (``GTR{...}+FU{...}+G4m{alpha}``) or an old RAxML info
    file (``alpha: ...``, ``rate A <-> C: ...``, ``freq pi(A): ...``). Raises ValueError."""
    s = text.strip()
    m = re.search(r"GTR\{([^}]*)\}", s)
    if m:
        rates = np.array([float(x) for x in m.group(1).split("/")])
        fm = re.search(r"\+F[UOCE]?\{([^}]*)\}", s)
        freqs = (np.array([float(x) for x in fm.group(1).split("/")]) if fm
                 else np.full(4, 0.25))
        gm = re.search(r"\+G(\d*)([am]?)\{([^}]*)\}", s)
        if re.search(r"\+I", s):
            raise ValueError("invariant-sites models (+I) are not supported")
        if len(rates) != 6 or len(freqs) != 4:
            raise ValueError("GTR needs 6 rates and 4 frequencies")
        if gm:
            k = int(gm.group(1) or 4)
            return SubstitutionModel(rates, freqs, float(gm.group(3)), k, gm.group(2) == "a")
        return SubstitutionModel(rates, freqs, 1.0, 1)
    am = re.search(r"alpha[^:]*:\s*([0-9.eE+-]+)", s)
    pairs = ["A <-> C", "A <-> G", "A <-> T", "C <-> G", "C <-> T", "G <-> T"]
    rates_l = []
    for p in pairs:
        rm = re.search(r"rate\s+" + re.escape(p) + r":\s*([0-9.eE+-]+)", s)
        if rm:
            rates_l.append(float(rm.group(1)))
    freqs_l = []
    for b in "ACGT":
        fm2 = re.search(r"freq pi\(" + b + r"\):\s*([0-9.eE+-]+)", s)
        if fm2:
            freqs_l.append(float(fm2.group(1)))
    if am and len(rates_l) == 6 and len(freqs_l) == 4:
        return SubstitutionModel(np.array(rates_l), np.array(freqs_l), float(am.group(1)))
    raise ValueError("not a RAxML-ng model string (GTR{...}+FU{...}+G4m{...}) or RAxML info "
                     "file (alpha, rate A <-> C..., freq pi(A)...)")


def parse_hmm_map(text: str) -> np.ndarray:
    """0-based alignment column of each match state, from a HMMER3 file's ``MAP`` column.
    Raises ValueError when the HMM has no map."""
    if not re.search(r"^MAP\s+yes", text, flags=re.M):
        raise ValueError("the profile HMM has no MAP annotation (build it with hmmbuild "
                         "from the reference alignment)")
    body = text[text.index("\nHMM ") + 1:]
    cols = []
    for line in body.splitlines()[2:]:
        parts = line.split()
        if len(parts) >= 6 and parts[0].isdigit():
            cols.append(int(parts[5]) - 1)
    return np.array(cols, dtype=np.int64)


@dataclass(frozen=True)
class PlacementReference:
    """Everything placement needs, in memory."""

    tree: TreeArrays
    tip_rows: np.ndarray  # node -> row of ``codes`` (-1 for internal nodes)
    codes: np.ndarray  # uint8 (n_refs, n_columns)
    hmm: object  # pyhmmer.plan7.HMM
    match_columns: np.ndarray  # column of each match state in ``codes``
    model: SubstitutionModel
    exact: dict[str, list[int]] = field(default_factory=dict)  # ungapped seq -> tip nodes
    insert_width: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_columns(self) -> int:
        return int(self.codes.shape[1])


def build_placement_reference(aligned: Mapping[str, str], tree: TreeArrays, hmm,  # noqa: ANN001
                              hmm_map: np.ndarray, model: SubstitutionModel
                              ) -> PlacementReference:
    """Check and assemble the reference pieces (raises ValueError naming what is wrong).

    The reference alignment is laid out as ``hmmalign --trim --mapali`` lays it out for
    EPA-ng in PICRUSt2: the HMM's match columns (taken from the columns its MAP names), and
    after match state k the residues of the alignment's other columns up to match state k+1,
    left-justified; residues before the first and after the last match column are trimmed.
    """
    lengths = {len(s) for s in aligned.values()}
    if len(lengths) != 1:
        raise ValueError("the reference sequences are not aligned (lengths differ)")
    L = lengths.pop()
    tips = np.flatnonzero(tree.is_tip)
    missing = [tree.names[v] for v in tips if tree.names[v] not in aligned]
    if missing:
        raise ValueError(f"{len(missing)} tree tip(s) have no aligned sequence, e.g. "
                         f"{missing[0]}")
    if hmm_map.size == 0 or hmm_map.max() >= L or hmm_map.min() < 0 or \
            (np.diff(hmm_map) <= 0).any():
        raise ValueError(f"the HMM's MAP columns do not fit the {L}-column alignment")
    M = hmm_map.size
    raw = np.empty((tips.size, L), dtype=np.uint8)
    exact: dict[str, list[int]] = {}
    for i, v in enumerate(tips):
        s = aligned[tree.names[v]]
        raw[i] = np.frombuffer(s.encode("ascii", "replace"), dtype=np.uint8)
        c = _CODE[raw[i]]
        if (c == 0).any():
            bad = s[int(np.argmax(c == 0))]
            raise ValueError(f"reference sequence {tree.names[v]} has a character '{bad}' "
                             "that is not a nucleotide code")
        key = re.sub(r"[-.]", "", s).upper().replace("U", "T")
        exact.setdefault(key, []).append(int(v))
    is_res = (raw != ord("-")) & (raw != ord("."))
    # insert region k: alignment columns strictly between MAP[k] and MAP[k+1]
    width = np.zeros(M, dtype=np.int64)
    for k in range(M - 1):
        lo, hi = hmm_map[k] + 1, hmm_map[k + 1]
        if hi > lo:
            width[k] = int(is_res[:, lo:hi].sum(axis=1).max())
    match_col = np.zeros(M, dtype=np.int64)
    pos = 0
    for k in range(M):
        match_col[k] = pos
        pos += 1 + width[k]
    n_cols = pos
    codes = np.full((tree.n_nodes, n_cols), 15, dtype=np.uint8)
    for i, v in enumerate(tips):
        codes[v, match_col] = _CODE[raw[i, hmm_map]]
        for kk in np.flatnonzero(width):
            lo, hi = int(hmm_map[kk]) + 1, int(hmm_map[kk + 1])
            res = raw[i, lo:hi][is_res[i, lo:hi]]
            codes[v, match_col[kk] + 1: match_col[kk] + 1 + res.size] = _CODE[res]
    rows = np.full(tree.n_nodes, -1, dtype=np.int64)
    rows[tips] = np.arange(tips.size)
    return PlacementReference(tree, rows, codes, hmm, match_col, model, exact, width)


@dataclass(frozen=True)
class PlacementResult:
    """Placements of the queries.

    Attributes
    ----------
    placements : DataFrame
        One row per kept placement: ``query``, ``edge`` (jplace edge number: post-order
        number of the edge's lower node), ``likelihood``, ``like_weight_ratio``,
        ``distal_length`` (from the edge's lower node), ``pendant_length``; best first.
    best : DataFrame
        The best placement of each placed query (same columns).
    tree : TreeArrays
        The reference tree (edge numbers are post-order node numbers, root excluded).
    placed_tree : str
        Newick of the reference tree with every placed query grafted at its best placement
        (as gappa graft).
    unplaced : dict
        Query -> reason it could not be placed.
    """

    placements: pd.DataFrame
    best: pd.DataFrame
    tree: TreeArrays
    placed_tree: str
    unplaced: dict[str, str]


def edge_numbers(tree: TreeArrays) -> np.ndarray:
    """jplace edge number of each node's parent edge (-1 for the root): post-order."""
    num = np.full(tree.n_nodes, -1, dtype=np.int64)
    num[: tree.n_nodes - 1] = np.arange(tree.n_nodes - 1)
    return num


def align_queries(sequences: Mapping[str, str], ref: PlacementReference, *,
                  min_align: float = 0.8, threads: int = 1
                  ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Align to the HMM; per query (reference columns, residue masks); and the unplaced."""
    unplaced: dict[str, str] = {}
    names, texts = [], []
    for name, seq in sequences.items():
        s = re.sub(r"[-.\s]", "", str(seq)).upper().replace("U", "T")
        if not s:
            unplaced[name] = "empty sequence"
            continue
        bad = set(s) - set("ACGTRYSWKMBDHVN")
        if bad:
            unplaced[name] = f"characters that are no nucleotide codes: {''.join(sorted(bad))}"
            continue
        names.append(name)
        texts.append(s)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not names:
        return out, unplaced
    hmm = ref.hmm
    M = int(hmm.M)  # type: ignore[attr-defined]
    rows: dict[int, _Aligned] = {}

    def run(model, idx: list[int], offset: int) -> None:  # noqa: ANN001
        blocks = [idx[b:b + ALIGN_BLOCK] for b in range(0, len(idx), ALIGN_BLOCK)]
        results = None
        if threads > 1 and len(idx) >= 2 * ALIGN_BLOCK:
            # pyhmmer holds the GIL while aligning: worker processes share the work ("fork"
            # where the platform has it: "spawn" re-imports the caller's main module)
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures.process import BrokenProcessPool

            size = -(-len(idx) // threads)
            par_blocks = [idx[b:b + size] for b in range(0, len(idx), size)]
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            try:
                with ProcessPoolExecutor(max_workers=threads, mp_context=ctx) as pool:
                    results = list(pool.map(_align_block, [model] * len(par_blocks),
                                            [[texts[i] for i in blk] for blk in par_blocks]))
                blocks = par_blocks
            except (BrokenProcessPool, RuntimeError, OSError) as exc:
                log.warning("aligning in one process (worker processes failed: %s)", exc)
                results = None
        if results is None:
            results = [_align_block(model, [texts[i] for i in blk]) for blk in blocks]
        for blk, res in zip(blocks, results, strict=True):
            for i, (state, ins, chars) in zip(blk, res, strict=True):
                rows[i] = _Aligned(np.where(state >= 0, state + offset, -1), ins, chars)

    everyone = list(range(len(names)))
    if len(names) > 2 * SLICE_SAMPLE:
        # align a sample with the whole model, then the rest with the model cut to the
        # sample's match states (and a margin); a query that reaches the cut's edge, or
        # aligns too little there, is aligned again with the whole model
        sample = sorted({int(x) for x in np.linspace(0, len(names) - 1, SLICE_SAMPLE)})
        run(hmm, sample, 0)
        spans = [rows[i].span() for i in sample]
        firsts = [a for a, _ in spans if a >= 0]
        lo = max(0, min(firsts, default=0) - SLICE_MARGIN)
        hi = min(M, max((b for _, b in spans if b >= 0), default=M) + 1 + SLICE_MARGIN)
        in_sample = set(sample)
        rest = [i for i in everyone if i not in in_sample]
        if hi - lo < SLICE_MAX_FRACTION * M:
            run(_slice_hmm(hmm, lo, hi), rest, lo)
            redo = []
            for i in rest:
                a, b = rows[i].span()
                if a < 0 or (lo > 0 and a < lo + SLICE_EDGE) or \
                        (hi < M and b > hi - 1 - SLICE_EDGE) or \
                        rows[i].n_match() < min_align * len(texts[i]):
                    redo.append(i)
            if redo:
                run(hmm, redo, 0)
        else:
            run(hmm, rest, 0)
    else:
        run(hmm, everyone, 0)
    for i in everyone:
        name = names[i]
        length = len(texts[i])
        cols, masks = _query_columns(rows[i], ref)
        n_match = rows[i].n_match()
        if cols.size == 0 or n_match < min_align * length:
            unplaced[name] = (f"only {n_match} of {length} residues align to the "
                              f"reference HMM (--min-align {min_align})")
            continue
        out[name] = (cols, masks)
    return out, unplaced


@dataclass(frozen=True)
class _Aligned:
    """One aligned query: for each aligned residue the match state (0-based) it is in or
    follows, its position within the insert after that state (-1 for a match), and the
    residue."""

    state: np.ndarray
    insert: np.ndarray
    chars: bytes

    def n_match(self) -> int:
        return int((self.insert < 0).sum())

    def span(self) -> tuple[int, int]:
        m = self.state[self.insert < 0]
        return (int(m.min()), int(m.max())) if m.size else (-1, -1)


def _align_block(model, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray, bytes]]:  # noqa: ANN001
    """hmmalign --trim of ``texts`` to ``model``: per text (state, insert, residues) as in
    :class:`_Aligned` (states relative to ``model``)."""
    from pyhmmer.easel import Alphabet, TextSequence, TextSequenceBlock
    from pyhmmer.plan7 import TraceAligner

    out = []
    for b in range(0, len(texts), ALIGN_BLOCK):
        chunk = texts[b:b + ALIGN_BLOCK]
        block = TextSequenceBlock([TextSequence(name=str(i).encode(), sequence=t)
                                   for i, t in enumerate(chunk)]).digitize(Alphabet.dna())
        aligner = TraceAligner()
        traces = aligner.compute_traces(model, block)
        msa: Any = aligner.align_traces(model, block, traces, trim=True,
                                        all_consensus_cols=True)
        rf = msa.reference.decode() if isinstance(msa.reference, bytes) else msa.reference
        match = np.frombuffer(str(rf or "").encode(), dtype=np.uint8) == ord("x")
        if int(match.sum()) != model.M:
            raise ValueError("the HMM alignment has a different number of match columns "
                             "than the HMM")
        k_of_col = np.cumsum(match) - 1  # match state a column is, or follows
        for row in msa.alignment:
            arr = np.frombuffer(row.encode(), dtype=np.uint8)
            is_res = ((arr >= ord("A")) & (arr <= ord("Z"))) | ((arr >= ord("a")) & (arr <= ord("z")))
            cols = np.flatnonzero(is_res)
            state = k_of_col[cols].astype(np.int64)
            ins = np.full(cols.size, -1, dtype=np.int64)
            ins_mask = ~match[cols]
            if ins_mask.any():
                # position within each insert run: count of earlier inserted residues after
                # the same state
                st = state[ins_mask]
                first = np.searchsorted(st, st, side="left")
                ins[ins_mask] = np.arange(st.size) - first
            out.append((state, ins, arr[cols].tobytes()))
    return out


def _slice_hmm(hmm, lo: int, hi: int):  # noqa: ANN001, ANN202 - pyhmmer HMM
    """The profile HMM restricted to match states lo+1..hi (1-based): the states' emission
    and transition rows copied, the begin row and the last row's transitions from the
    whole model."""
    from pyhmmer.plan7 import HMM

    m = hi - lo
    sub: Any = HMM(hmm.alphabet, m, f"{hmm.name}[{lo + 1}-{hi}]")
    me, ie = np.asarray(hmm.match_emissions), np.asarray(hmm.insert_emissions)
    tp = np.asarray(hmm.transition_probabilities)
    sme, sie = np.asarray(sub.match_emissions), np.asarray(sub.insert_emissions)
    stp = np.asarray(sub.transition_probabilities)
    sme[0], sie[0], stp[0] = me[0], ie[0], tp[0]
    sme[1:m + 1] = me[lo + 1:hi + 1]
    sie[1:m + 1] = ie[lo + 1:hi + 1]
    stp[1:m] = tp[lo + 1:hi]
    stp[m] = tp[hmm.M]
    sub.set_consensus()
    sub.set_composition()
    return sub


def _query_columns(aligned: _Aligned, ref: PlacementReference
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Reference columns and residue masks of an aligned query: residues in match states go
    to that state's column; inserted residues after match state k go left-justified into
    insert region k (those beyond the reference's own inserts there, and before the first
    match state, have no reference column and are dropped)."""
    width = ref.insert_width
    st, ins = aligned.state, aligned.insert
    codes = _CODE[np.frombuffer(aligned.chars, dtype=np.uint8)]
    keep = (ins < 0) | ((st >= 0) & (st < width.size) & (ins < width[np.clip(st, 0, None)]))
    keep &= st >= 0
    cols = ref.match_columns[st[keep]] + np.where(ins[keep] < 0, 0, ins[keep] + 1)
    return cols.astype(np.int64), codes[keep].astype(np.uint8)


def place_sequences(sequences: Mapping[str, str], reference, *, threads: int = 1,  # noqa: ANN001
                    min_align: float = 0.8, max_candidates: int = 10,
                    progress: Callable[[str, int, int], None] | None = None
                    ) -> PlacementResult:
    """Place each sequence on the reference tree by maximum likelihood (see module notes).

    Parameters
    ----------
    sequences : mapping of str to str
        Query id -> nucleotide sequence (the ASVs).
    reference : PlacementReference or PicrustReference
        The reference (a PicrustReference is read with its ``read_placement`` reader).
    threads : int
        Worker threads (results do not depend on it).
    min_align : float
        Least fraction of a query's residues that must align to the HMM's match states.
    max_candidates : int
        Most edges optimised thoroughly per query.
    progress : callable, optional
        ``progress(step, done, total)``.

    Returns
    -------
    PlacementResult
    """
    ref = reference if isinstance(reference, PlacementReference) else reference.read_placement()
    tree = ref.tree
    aligned, unplaced = align_queries(sequences, ref, min_align=min_align, threads=threads)
    if progress is not None:
        progress("align", len(sequences), len(sequences))
    names = [n for n in sequences if n in aligned]
    evec, evec_inv, evals = ref.model.eigen()
    rates, cat_w = ref.model.category_rates()
    freqs = ref.model.freqs / ref.model.freqs.sum()
    C = rates.size
    n = tree.n_nodes
    pmat = _pmats(evec, evec_inv, evals, rates, tree.length)
    phalf = _pmats(evec, evec_inv, evals, rates, tree.length / 2)
    pq = _pmats(evec, evec_inv, evals, rates, np.array([PENDANT_START]))[0]
    edges = np.arange(n - 1, dtype=np.int64)
    if not names:
        empty = _empty_placements()
        return PlacementResult(empty, empty, tree, _graft(tree, empty), unplaced)
    used = np.unique(np.concatenate([aligned[q][0] for q in names]))
    col_index = np.full(ref.n_columns, -1, dtype=np.int64)
    col_index[used] = np.arange(used.size)
    # pass 1: pre-placement table over the used columns, and the tree's site likelihoods
    lut = np.empty((n, used.size, 4), dtype=np.float64)
    site_ll = np.zeros(ref.n_columns)
    for _b0, cols in _blocks(np.arange(ref.n_columns)):
        down, dscale, up, uscale, sll = _clv(tree, ref, pmat, cols, freqs, cat_w, C)
        site_ll[cols] = sll
        keep = col_index[cols] >= 0
        if keep.any():
            sub = np.flatnonzero(keep)
            _kernels.lookup_block(np.ascontiguousarray(down[:, sub]),
                                  np.ascontiguousarray(dscale[:, sub]),
                                  np.ascontiguousarray(up[:, sub]),
                                  np.ascontiguousarray(uscale[:, sub]), phalf, pq, freqs,
                                  cat_w, tree.parent, lut, int(col_index[cols[sub[0]]]))
    ref_total = float(site_ll.sum())
    if progress is not None:
        progress("likelihood vectors", 1, 2)
    # candidates per query
    cand: dict[str, np.ndarray] = {}
    scores = np.empty(edges.size)
    for q in names:
        cols, masks = aligned[q]
        base = np.array([_SINGLE.get(int(m), -1) for m in masks], dtype=np.int64)
        _kernels.prescore(lut, col_index[cols], base, edges, scores)
        order = np.argsort(-scores, kind="stable")
        w = np.exp(scores[order] - scores[order[0]])
        acc = np.cumsum(w) / w.sum()
        k = int(np.searchsorted(acc, 0.99999) + 1)
        cand[q] = order[: max(1, min(k, max_candidates))]
    del lut
    # pass 2: likelihood vectors of the candidate edges only
    slots = np.unique(np.concatenate(list(cand.values())))
    slot_of = np.full(n, -1, dtype=np.int64)
    slot_of[slots] = np.arange(slots.size)
    sdown = np.empty((slots.size, used.size, C, 4))
    sup = np.empty_like(sdown)
    sscale = np.empty((slots.size, used.size))
    for b0, cols in _blocks(used):
        down, dscale, up, uscale, _ = _clv(tree, ref, pmat, cols, freqs, cat_w, C)
        sdown[:, b0:b0 + cols.size] = down[slots]
        sup[:, b0:b0 + cols.size] = up[slots]
        sscale[:, b0:b0 + cols.size] = dscale[slots] + uscale[slots]
    if progress is not None:
        progress("likelihood vectors", 2, 2)
    numbers = edge_numbers(tree)

    nq = len(names)
    K = max(len(c) for c in cand.values())
    cand_arr = np.full((nq, K), -1, dtype=np.int64)
    q_ptr = np.zeros(nq + 1, dtype=np.int64)
    for i, q in enumerate(names):
        cand_arr[i, : len(cand[q])] = cand[q]
        q_ptr[i + 1] = q_ptr[i] + aligned[q][0].size
    q_ucols = np.concatenate([col_index[aligned[q][0]] for q in names])
    q_masks = np.concatenate([aligned[q][1] for q in names]).astype(np.uint8)
    out_t = np.zeros((nq, K))
    out_q = np.zeros((nq, K))
    out_f = np.full((nq, K), -np.inf)
    step = max(1, min(50, -(-nq // (4 * max(1, threads)))))
    spans = [(lo, min(lo + step, nq)) for lo in range(0, nq, step)]

    def thorough(span: tuple[int, int]) -> int:
        _kernels.optimise_many(q_ptr, q_ucols, q_masks, cand_arr, slot_of, tree.length,
                               sdown, sup, sscale, evec, evec_inv, evals, rates, cat_w, freqs,
                               MIN_BRANCH, MAX_PENDANT, ROUNDS, TOLERANCE, span[0], span[1],
                               out_t, out_q, out_f)
        return span[1] - span[0]

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        done = 0
        for n_done in pool.map(thorough, spans):
            done += n_done
            if progress is not None:
                progress("place", done, nq)
    all_rows: list[tuple] = []
    for i, q in enumerate(names):
        rest = ref_total - float(site_ll[aligned[q][0]].sum())
        for j in range(K):
            v = cand_arr[i, j]
            if v >= 0:
                all_rows.append((q, int(numbers[v]), float(out_f[i, j]) + rest,
                                 float(out_t[i, j]), float(out_q[i, j])))
    df = pd.DataFrame(all_rows, columns=["query", "edge", "likelihood", "distal_length",
                                         "pendant_length"])
    df["like_weight_ratio"] = df.groupby("query")["likelihood"].transform(
        lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum())
    df = df.sort_values(["query", "like_weight_ratio"], ascending=[True, False], kind="stable")
    df = _exact_override(df, sequences, ref, numbers)
    acc = df.groupby("query")["like_weight_ratio"].cumsum() - df["like_weight_ratio"]
    rank = df.groupby("query").cumcount()
    kept = df[(acc < KEEP_ACC_LWR) & (rank < KEEP_MAX)].copy()
    kept = kept[["query", "edge", "likelihood", "like_weight_ratio", "distal_length",
                 "pendant_length"]].reset_index(drop=True)
    rank_of = {q: i for i, q in enumerate(names)}
    kept = kept.sort_values(["query", "like_weight_ratio"], ascending=[True, False],  # type: ignore[call-overload]
                            key=lambda s: s.map(rank_of) if s.name == "query" else s,
                            kind="stable").reset_index(drop=True)
    best = kept.groupby("query", sort=False).head(1).reset_index(drop=True)
    return PlacementResult(kept, best, tree, _graft(tree, best), unplaced)


_SINGLE = {1: 0, 2: 1, 4: 2, 8: 3}


def _exact_override(df: pd.DataFrame, sequences: Mapping[str, str], ref: PlacementReference,
                    numbers: np.ndarray) -> pd.DataFrame:
    """Queries identical to a reference sequence: that tip's edge, lengths 0, weight 1."""
    rows = []
    for q, grp in df.groupby("query", sort=False):
        key = re.sub(r"[-.\s]", "", str(sequences[str(q)])).upper().replace("U", "T")
        tips = ref.exact.get(key)
        if not tips:
            rows.append(grp)
            continue
        tip_edges = {int(numbers[v]) for v in tips}
        pick = grp[grp["edge"].isin(tip_edges)]
        edge = int(pick["edge"].iloc[0]) if len(pick) else int(numbers[tips[0]])
        ll = float(pick["likelihood"].iloc[0]) if len(pick) else float(grp["likelihood"].max())
        rows.append(pd.DataFrame({"query": [q], "edge": [edge], "likelihood": [ll],
                                  "distal_length": [0.0], "pendant_length": [0.0],
                                  "like_weight_ratio": [1.0]}))
    return pd.concat(rows, ignore_index=True) if rows else df


def _empty_placements() -> pd.DataFrame:
    return pd.DataFrame({"query": pd.Series(dtype=str), "edge": pd.Series(dtype=np.int64),
                         "likelihood": pd.Series(dtype=float),
                         "like_weight_ratio": pd.Series(dtype=float),
                         "distal_length": pd.Series(dtype=float),
                         "pendant_length": pd.Series(dtype=float)})


def _blocks(cols: np.ndarray):  # noqa: ANN202
    for b0 in range(0, cols.size, BLOCK):
        yield b0, np.ascontiguousarray(cols[b0:b0 + BLOCK], dtype=np.int64)


def _clv(tree: TreeArrays, ref: PlacementReference, pmat: np.ndarray, cols: np.ndarray,
         freqs: np.ndarray, cat_w: np.ndarray, C: int):  # noqa: ANN202
    n, B = tree.n_nodes, cols.size
    down = np.empty((n, B, C, 4))
    up = np.empty((n, B, C, 4))
    dscale = np.empty((n, B))
    uscale = np.empty((n, B))
    sll = np.empty(B)
    _kernels.clv_block(tree.parent, tree.child_ptr, tree.child_idx, ref.codes, pmat, cols,
                       down, dscale, up, uscale, freqs, cat_w, sll)
    return down, dscale, up, uscale, sll


def _pmats(evec: np.ndarray, evec_inv: np.ndarray, evals: np.ndarray, rates: np.ndarray,
           lengths: np.ndarray) -> np.ndarray:
    """P_c(l) for every length and category: (n, C, 4, 4)."""
    ex = np.exp(evals[None, None, :] * rates[None, :, None] * lengths[:, None, None])
    P = np.einsum("xk,nck,ky->ncxy", evec, ex, evec_inv)
    return np.ascontiguousarray(np.clip(P, 0.0, None))


def _graft(tree: TreeArrays, best: pd.DataFrame) -> str:
    """Newick of ``tree`` with each query attached at its placement (queries on one edge
    chained by distal length, as gappa graft)."""
    by_edge: dict[int, list[tuple[float, float, str]]] = {}
    for q, e, d, p in zip(best["query"], best["edge"], best["distal_length"],
                          best["pendant_length"], strict=True):
        by_edge.setdefault(int(e), []).append((float(d), float(p), str(q)))
    n = tree.n_nodes
    parent: list[int] = []
    length: list[float] = []
    names: list[str] = []
    # build a new parent list in post-order: children first
    new_id: dict[int, int] = {}
    pending_children: dict[int, list[int]] = {}

    def add(name: str, ln: float) -> int:
        parent.append(-1)
        length.append(ln)
        names.append(name)
        return len(parent) - 1

    top_of: dict[int, int] = {}
    for v in range(n):
        kids = pending_children.pop(v, [])
        nv = add(tree.names[v], float(tree.length[v]))
        for k in kids:
            parent[k] = nv
        new_id[v] = nv
        top = nv
        if v < n - 1 and v in by_edge:
            pos = 0.0
            lower = nv
            for d, p, q in sorted(by_edge[v]):
                d = min(max(d, 0.0), float(tree.length[v]))
                leaf = add(q, p)
                mid = add("", 0.0)
                parent[leaf] = mid
                parent[lower] = mid
                length[lower] = d - pos
                pos = d
                lower = mid
            length[lower] = float(tree.length[v]) - pos
            top = lower
        top_of[v] = top
        if tree.parent[v] >= 0:
            pending_children.setdefault(int(tree.parent[v]), []).append(top)
    arr = from_parents(np.array(parent), np.array(length), names)
    from microtrial.function._phylo import to_newick

    return to_newick(arr)


def read_aligned_fasta(path: Path) -> dict[str, str]:
    """Aligned FASTA (``.gz`` transparent) -> id -> aligned sequence (upper case)."""
    from microtrial.errors import InputError
    from microtrial.io._atomic import open_text

    seqs: dict[str, list[str]] = {}
    name = None
    try:
        with open_text(path) as fh:
            for i, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(">"):
                    name = line[1:].split()[0] if line[1:].split() else ""
                    if not name:
                        raise InputError(path, "empty sequence name", line=i)
                    if name in seqs:
                        raise InputError(path, f"sequence '{name}' appears twice", line=i)
                    seqs[name] = []
                elif name is None:
                    raise InputError(path, "not FASTA: no '>' header before sequence", line=i)
                else:
                    seqs[name].append(line.upper())
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot be read as FASTA: {exc}") from exc
    if not seqs:
        raise InputError(path, "no sequences")
    return {k: "".join(v) for k, v in seqs.items()}


def read_placement_reference(fna: Path, tre: Path, hmm: Path, model: Path
                             ) -> PlacementReference:
    """Read and check a reference's four files; problems are InputErrors naming the file."""
    from pyhmmer.plan7 import HMMFile

    from microtrial.errors import InputError
    from microtrial.function._phylo import read_newick
    from microtrial.io._atomic import open_text

    tree = read_newick(tre)
    aligned = read_aligned_fasta(fna)
    try:
        with open_text(hmm) as fh:
            hmm_text = fh.read()
        hmm_map = parse_hmm_map(hmm_text)
        with HMMFile(str(hmm)) as hf:
            hmm_obj = hf.read()
    except ValueError as exc:
        raise InputError(hmm, str(exc)) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(hmm, f"cannot be read as a HMMER3 profile: {exc}") from exc
    if hmm_obj is None or hmm_obj.alphabet.type != "DNA":
        raise InputError(hmm, "not a DNA profile HMM")
    try:
        with open_text(model) as fh:
            sub = parse_model(fh.read())
    except ValueError as exc:
        raise InputError(model, str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(model, f"cannot be read: {exc}") from exc
    try:
        return build_placement_reference(aligned, tree, hmm_obj, hmm_map, sub)
    except ValueError as exc:
        raise InputError(fna, str(exc)) from exc


