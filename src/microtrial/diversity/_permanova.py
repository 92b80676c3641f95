"""PERMANOVA (vegan ``adonis2`` semantics), PERMDISP, ANOSIM and restricted permutations.

Written here rather than calling ``skbio.stats.distance.permanova`` because scikit-bio has a
single grouping term, no marginal tests and no strata, and is slow for thousands of samples.

PERMANOVA uses the hat-matrix form (McArdle & Anderson 2001): with Gower's centred matrix
``G = -1/2 (I - 11'/n) D^2 (I - 11'/n)`` and an orthonormal basis ``Q_k`` of the (centred)
columns of term ``k``, the sum of squares of the term is ``tr(Q_k' G Q_k)``. A permutation
``p`` of the samples changes ``G`` to ``G[p][:, p]``, whose quadratic forms are those of
``G`` with the basis vectors scattered by ``p``, so all permutations of a batch are one
matrix product ``G @ U`` (BLAS).

Sequential terms (``by="terms"``): the basis of term ``k`` is orthogonal to terms before it;
permuted data are ``G`` itself (vegan's reduced model without conditioning). Marginal terms
(``by="margin"``): each term after all the others; the permuted data are the residuals of
``G`` on the other terms (vegan's reduced model), and the denominator is the residual of the
full model. ``p = (#{F* >= F - sqrt(eps)} + 1) / (permutations + 1)`` as vegan.

References
----------
Anderson 2001, Austral Ecol 26:32 (PERMANOVA); McArdle & Anderson 2001, Ecology 82:290;
Anderson 2006, Biometrics 62:245 (PERMDISP); Clarke 1993, Aust J Ecol 18:117 (ANOSIM);
Oksanen et al., vegan 2.6 (``adonis2``, ``betadisper``, ``anosim``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from microtrial.errors import AnalysisError

_EPS = np.sqrt(np.finfo(float).eps)

log = logging.getLogger(__name__)


def subset_distance(distance: pd.DataFrame, ids: Sequence[object]) -> pd.DataFrame:
    """``distance.loc[ids, ids]``, but the matrix itself (no copy) when ``ids`` are all its
    samples in its order, and a positional ``take`` otherwise (no label alignment)."""
    ids = list(ids)
    if len(ids) == distance.shape[0] and ids == list(distance.index):
        return distance
    pos = distance.index.get_indexer(pd.Index(ids))
    if (pos < 0).any():
        raise KeyError(f"{int((pos < 0).sum())} sample(s) not in the distance matrix")
    sub = distance.to_numpy()[np.ix_(pos, pos)]
    return pd.DataFrame(sub, index=distance.index[pos], columns=distance.columns[pos], copy=False)


def _any_positive(distance: np.ndarray) -> bool:
    """True when some distance is > 0 (row blocks: no boolean matrix of the full size)."""
    step = max(1, 2 ** 22 // max(1, distance.shape[1]))
    return any(bool(np.any(distance[lo:lo + step] > 0)) for lo in range(0, distance.shape[0], step))


def _upper_triangle(distance: np.ndarray) -> np.ndarray:
    """The distances ``d[i, j]``, ``i < j``, row by row (``d[np.triu_indices(n, 1)]`` without
    its two index arrays of n^2/2 int64)."""
    n = distance.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    pos = 0
    for i in range(n - 1):
        out[pos:pos + n - 1 - i] = distance[i, i + 1:]
        pos += n - 1 - i
    return out


def rank_matrix(distance: np.ndarray) -> np.ndarray:
    """Square matrix of the ranks (ties averaged, 1-based) of the distances above the
    diagonal, symmetric, zero diagonal (``scipy.stats.rankdata`` of the upper triangle).

    Built from one sort of the n(n-1)/2 distances with the temporaries freed as soon as
    they are used: about 3 arrays of n^2/2 float64/int64 at the peak besides the result.
    """
    n = distance.shape[0]
    vals = _upper_triangle(distance)
    order = np.argsort(vals)
    srt = vals[order]
    del vals
    # tie runs [a, b) of the sorted values share the average rank (a + 1 + b) / 2
    starts = np.flatnonzero(np.concatenate(([True], srt[1:] != srt[:-1])))
    del srt
    ends = np.append(starts[1:], order.size)
    ranked = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    del starts, ends
    flat = np.empty(order.size, dtype=np.float64)
    flat[order] = ranked
    del order, ranked
    out = np.zeros((n, n), dtype=np.float64)
    pos = 0
    for i in range(n - 1):
        k = n - 1 - i
        out[i, i + 1:] = flat[pos:pos + k]
        out[i + 1:, i] = flat[pos:pos + k]
        pos += k
    return out


def _all_distances_equal(distance: np.ndarray) -> bool:
    """True when every off-diagonal distance is the same (e.g. all 0: identical samples)."""
    n = distance.shape[0]
    if n < 2:
        return True
    lo, hi, top = np.inf, -np.inf, 0.0
    for i in range(n - 1):
        row = distance[i, i + 1:]
        lo, hi = min(lo, float(row.min())), max(hi, float(row.max()))
        top = max(top, float(np.abs(row).max()))
    return bool(hi - lo <= 1e-12 * top)


def permutation_matrix(
    n: int, permutations: int, *, strata: Sequence[object] | None = None, seed: int = 0,
) -> np.ndarray:
    """``permutations`` x ``n`` index permutations; with ``strata``, only within each stratum.

    Row ``r`` maps position ``i`` to sample ``perm[r, i]``; with strata,
    ``strata[perm[r, i]] == strata[i]`` always (labels never cross strata).
    """
    rng = np.random.default_rng(seed)
    if strata is None:
        codes = np.zeros(n, dtype=np.int64)
    else:
        codes = pd.factorize(pd.Series(list(strata)))[0].astype(np.int64)
        if codes.size != n:
            raise AnalysisError(f"strata has {codes.size} values for {n} samples")
    # samples grouped by stratum: in their own order, and in a random order within stratum
    # (sorting stratum code + a uniform key in [0, 1)); position k of the first grouping
    # takes the sample at position k of the second.
    order0 = np.argsort(codes, kind="stable")
    out = np.empty((permutations, n), dtype=np.int64)
    for start in range(0, permutations, 256):
        k = min(256, permutations - start)
        keys = codes[None, :] + rng.random((k, n))
        out[start:start + k][:, order0] = np.argsort(keys, axis=1)
    return out


def plot_permutations(
    plots: Sequence[object], permutations: int, *, within: bool = True, seed: int = 0,
) -> np.ndarray:
    """Restricted permutations of a split-plot design (``permute::how(plots=Plots(strata=plots,
    type="free"), within=Within(type="free"))``): whole plots (e.g. subjects) permuted with
    each other, and, when ``within``, samples permuted within each plot.

    Every plot must have the same number of samples (as ``permute`` requires for free
    whole-plot permutations). Row ``r`` maps position ``i`` to sample ``perm[r, i]``: the
    samples of plot ``j`` take the places of plot ``i``'s samples.
    """
    codes = pd.factorize(pd.Series(list(plots)))[0].astype(np.int64)
    n = codes.size
    sizes = np.bincount(codes)
    if sizes.size and (sizes != sizes[0]).any():
        raise AnalysisError("whole-plot permutations need the same number of samples in every "
                            f"plot (sizes {sorted(set(sizes.tolist()))})")
    members = np.stack([np.flatnonzero(codes == k) for k in range(sizes.size)]) if n else \
        np.zeros((0, 0), dtype=np.int64)
    rng = np.random.default_rng(seed)
    out = np.empty((permutations, n), dtype=np.int64)
    n_plots, size = members.shape
    for r in range(permutations):
        src = members[rng.permutation(n_plots)]
        if within and size > 1:
            src = np.take_along_axis(src, rng.random((n_plots, size)).argsort(axis=1), axis=1)
        out[r, members.ravel()] = src.ravel()
    return out


def gower_centred(distance: np.ndarray) -> np.ndarray:
    """``G = -1/2 (I - 11'/n) D^2 (I - 11'/n)``, built in one new float64 array.

    No temporaries of the matrix's size: at 20,000 samples every one is 3.2 GB.
    """
    d = np.asarray(distance)
    g = np.empty(d.shape, dtype=np.float64)
    step = max(1, 2 ** 22 // max(1, d.shape[1]))
    for lo in range(0, d.shape[0], step):
        blk = g[lo:lo + step]
        np.multiply(d[lo:lo + step], d[lo:lo + step], out=blk, dtype=np.float64)
        blk *= -0.5
    g -= g.mean(axis=0, keepdims=True)
    g -= g.mean(axis=1, keepdims=True)
    return g


def _raw_columns(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64)[:, None]
    levels = sorted(pd.unique(values.astype(str)))
    return (values.astype(str).to_numpy()[:, None] == np.asarray(levels)[None, 1:]).astype(float)


def _term_columns(values: pd.Series | list[pd.Series]) -> np.ndarray:
    """Centred model columns of a term; a list of columns is their interaction (products
    of the main-effect columns, as R's ``a:b``)."""
    if isinstance(values, list):
        x = _raw_columns(values[0])
        for v in values[1:]:
            y = _raw_columns(v)
            x = (x[:, :, None] * y[:, None, :]).reshape(len(x), -1)
    else:
        x = _raw_columns(values)
    return x - x.mean(axis=0, keepdims=True)


def _orth(x: np.ndarray, against: np.ndarray | None) -> np.ndarray:
    """Orthonormal basis of the columns of ``x`` after removing the span of ``against``."""
    if against is not None and against.shape[1]:
        x = x - against @ (against.T @ x)
    if x.shape[1] == 0:
        return x
    q, r = np.linalg.qr(x)
    d = np.abs(np.diag(r))
    keep = d > 1e-7 * max(d.max(initial=0.0), 1.0)
    return q[:, keep]


def _quad_forms(g: np.ndarray, bases: list[np.ndarray], perms: np.ndarray, chunk: int = 128) -> np.ndarray:
    """For each permutation and basis, ``sum_q q' G[p][:, p] q`` -> (n_perm, n_bases).

    Batches of ``chunk`` permutations are tasks of :func:`microtrial.parallel.map_ordered`
    (local, or the Dask cluster of ``microtrial run --jobs/--dask-scheduler``); each batch
    is computed the same way wherever it runs, so the statistics do not depend on it.
    """
    from microtrial.parallel import map_ordered

    n = g.shape[0]
    widths = [b.shape[1] for b in bases]
    v = np.hstack(bases) if bases else np.zeros((n, 0))
    owner = np.repeat(np.arange(len(bases)), widths)
    batches = [perms[start:start + chunk] for start in range(0, perms.shape[0], chunk)]
    parts = map_ordered(_quad_batch, batches, shared=(g, v, owner, len(bases)))
    return np.vstack(parts) if parts else np.zeros((0, len(bases)))


def _quad_batch(pp: np.ndarray, g: np.ndarray, v: np.ndarray, owner: np.ndarray, n_bases: int) -> np.ndarray:
    """:func:`_quad_forms` of one batch of permutations (one task)."""
    n, m = g.shape[0], v.shape[1]
    k = pp.shape[0]
    u = np.zeros((n, k * m))
    for r in range(k):
        u[pp[r], r * m:(r + 1) * m] = v  # u[p_i] = v_i
    gu = g @ u
    s = np.einsum("ij,ij->j", u, gu).reshape(k, m)
    out = np.zeros((k, n_bases))
    for b in range(n_bases):
        out[:, b] = s[:, owner == b].sum(axis=1)
    return out


def permanova(
    distance: pd.DataFrame, metadata: pd.DataFrame, terms: Sequence[str], *,
    by: str = "terms", strata: str | None = None, permutations: int = 999, seed: int = 0,
    plots: str | None = None, within: bool = True, gower: np.ndarray | None = None,
) -> pd.DataFrame:
    """Multi-term PERMANOVA on a distance matrix, as vegan ``adonis2``.

    Parameters
    ----------
    distance : pandas.DataFrame
        Square distance matrix (ids as index and columns).
    metadata : pandas.DataFrame
        Indexed by sample id; must contain every sample of ``distance``.
    terms : sequence of str
        Metadata columns (categorical -> treatment dummies; numeric -> linear), in model order;
        ``a:b`` is the interaction of columns ``a`` and ``b``.
    by : {"terms", "margin"}
        Sequential (type I) or marginal (type III-like) sums of squares.
    strata : str, optional
        Metadata column; permutations only within its levels (e.g. subject).
    plots : str, optional
        Metadata column of whole plots (e.g. subject, in a treatment-by-time design): whole
        plots are permuted with each other and samples within each plot
        (:func:`plot_permutations`; vegan's ``how(plots = Plots(strata, type = "free"),
        within = Within("free"))``; with ``within=False`` samples keep their place within
        the plot, ``Within("none")``). Not together with ``strata``.
    within : bool
    permutations : int
    seed : int
    gower : numpy.ndarray, optional
        :func:`gower_centred` of ``distance`` when the caller has it already (large studies:
        one matrix shared by PERMANOVA, PERMDISP and PCoA instead of one each).

    Returns
    -------
    pandas.DataFrame
        One row per term: ``term``, ``df``, ``SumOfSqs``, ``R2``, ``pseudo_F``, ``p_value``,
        ``permutations``, ``strata``; plus ``Residual`` and ``Total`` rows with df and SS.

    Notes
    -----
    ``F_k = (SS_k / df_k) / (SS_res / (n - rank - 1))``, ``R2_k = SS_k / tr(G)``.
    """
    if by not in ("terms", "margin"):
        raise AnalysisError(f"by must be 'terms' or 'margin', got '{by}'")
    ids = list(distance.index)
    missing = [s for s in ids if s not in metadata.index]
    if missing:
        raise AnalysisError(f"{len(missing)} sample(s) missing from the metadata, e.g. {missing[:3]}")
    md = metadata.loc[ids]
    if strata and plots:
        raise AnalysisError("give strata or plots, not both")
    parts = [p for t in terms for p in str(t).split(":")]
    for t in list(dict.fromkeys(parts)) + ([strata] if strata else []) + ([plots] if plots else []):
        if t not in md.columns:
            raise AnalysisError(f"no metadata column '{t}'")
        if md[t].isna().any():
            raise AnalysisError(f"metadata column '{t}' has missing values")
    n = len(ids)
    d = distance.to_numpy()
    # all distances 0: no variation to partition, F = 0/0 and every permutation ties
    degenerate = not _any_positive(d)
    g = gower_centred(d) if gower is None else gower
    total = float(np.trace(g))
    cols = [_term_columns([md[p] for p in str(t).split(":")] if ":" in str(t) else md[t])
            for t in terms]
    if by == "terms":
        bases = []
        acc = np.zeros((n, 0))
        for x in cols:
            q = _orth(x, acc)
            bases.append(q)
            acc = np.hstack([acc, q])
        rank = acc.shape[1]
    else:
        full = _orth(np.hstack(cols), None)
        rank = full.shape[1]
        bases, others = [], []
        for k in range(len(cols)):
            rest = [c for j, c in enumerate(cols) if j != k]
            z = _orth(np.hstack(rest), None) if rest else np.zeros((n, 0))
            others.append(z)
            bases.append(_orth(cols[k], z))
    for t, b in zip(terms, bases):
        if b.shape[1] == 0:
            raise AnalysisError(f"PERMANOVA: term '{t}' does not vary (or is aliased with the other terms)")
    r = n - rank - 1
    if r <= 0:
        raise AnalysisError(f"PERMANOVA: no residual degrees of freedom ({n} samples, {rank} model df)")
    dfs = np.array([b.shape[1] for b in bases])
    ss = np.array([float(np.einsum("ij,ij->", b, g @ b)) for b in bases])
    ss_res = total - (ss.sum() if by == "terms" else float(np.einsum("ij,ij->", full, g @ full)))
    ss_res = float(_snap_zero(ss_res, total))  # a perfect fit: F = inf, not +-1e16 from rounding
    pvals = np.full(len(terms), np.nan)
    if degenerate:
        log.warning("PERMANOVA of %s: all %d samples are at distance 0 from each other (no "
                    "variation to partition): pseudo-F and p-value are undefined (NaN)",
                    ", ".join(terms), n)
        f0 = np.full(len(terms), np.nan)
        ss = np.zeros(len(terms))
        return _permanova_table(terms, dfs, ss, f0, pvals, r, n, 0.0, 0.0, permutations,
                                strata or (f"plots:{plots}" if plots else None))
    with np.errstate(divide="ignore", invalid="ignore"):
        f0 = (ss / dfs) / (ss_res / r)
    if plots:
        perms = plot_permutations(md[plots].tolist(), permutations, within=within, seed=seed)
    else:
        perms = permutation_matrix(n, permutations, strata=md[strata].tolist() if strata else None,
                                   seed=seed)
    if permutations > 0:
        if by == "terms":
            num = _quad_forms(g, bases, perms)
            den = _snap_zero(total - num.sum(axis=1), total)
            with np.errstate(divide="ignore", invalid="ignore"):
                fp = (num / dfs[None, :]) / (den[:, None] / r)
            pvals = ((fp >= f0[None, :] - _EPS).sum(axis=0) + 1) / (permutations + 1)
        else:
            for k in range(len(terms)):
                z = others[k]
                e = g - z @ (z.T @ g)
                e = e - (e @ z) @ z.T
                qf = _quad_forms(e, [bases[k], z], perms)
                num = qf[:, 0]
                den = _snap_zero(float(np.trace(e)) - qf[:, 1] - num, total)
                with np.errstate(divide="ignore", invalid="ignore"):
                    fp = (num / dfs[k]) / (den / r)
                pvals[k] = ((fp >= f0[k] - _EPS).sum() + 1) / (permutations + 1)
    return _permanova_table(terms, dfs, ss, f0, pvals, r, n, ss_res, total, permutations,
                            strata or (f"plots:{plots}" if plots else None))


def _snap_zero(x: np.ndarray | float, scale: float) -> np.ndarray:
    """Residual sums of squares within rounding error of 0 set to exactly 0."""
    return np.where(np.abs(x) <= 1e-10 * abs(scale), 0.0, x)


def _permanova_table(
    terms: Sequence[str], dfs: np.ndarray, ss: np.ndarray, f0: np.ndarray, pvals: np.ndarray,
    r: int, n: int, ss_res: float, total: float, permutations: int, strata: str | None,
) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):  # total 0: R2 undefined (NaN)
        r2 = ss / total if total > 0 else np.full(len(terms), np.nan)
        r2_res = ss_res / total if total > 0 else np.nan
    rows = pd.DataFrame({
        "term": list(terms), "df": dfs, "SumOfSqs": ss, "R2": r2, "pseudo_F": f0,
        "p_value": pvals,
    })
    tail = pd.DataFrame({"term": ["Residual", "Total"], "df": [r, n - 1],
                         "SumOfSqs": [ss_res, total], "R2": [r2_res, 1.0 if total > 0 else np.nan],
                         "pseudo_F": [np.nan, np.nan], "p_value": [np.nan, np.nan]})
    out = pd.concat([rows, tail], ignore_index=True)
    out["permutations"] = permutations
    out["strata"] = strata or ""
    return out


def permdisp(
    distance: pd.DataFrame, groups: pd.Series, *, permutations: int = 999, seed: int = 0,
    gower: np.ndarray | None = None,
) -> tuple[float, float, pd.Series]:
    """Homogeneity of multivariate dispersions (vegan ``betadisper(type="centroid")`` + ``permutest``).

    Distances to the group centroid in the full principal coordinate space (negative
    eigenvalue axes subtracted, as vegan; computed from Gower's matrix directly), then the
    one-way ANOVA F of those distances;
    the permutation test recomputes F on permuted ANOVA residuals (vegan
    ``permutest.betadisper``).

    ``gower``: :func:`gower_centred` of ``distance`` if the caller has it (see
    :func:`permanova`). O(n^2): no eigendecomposition.

    Returns
    -------
    (F, p_value, distances_to_centroid)
    """
    ids = list(distance.index)
    grp = groups.loc[ids].astype(str).to_numpy()
    g = gower_centred(distance.to_numpy()) if gower is None else gower
    levels, codes = np.unique(grp, return_inverse=True)
    if levels.size < 2:
        raise AnalysisError("PERMDISP needs at least two groups")
    # squared distance to the group centroid in principal coordinate space, with negative
    # eigenvalue axes counted negatively (vegan), is the quadratic form of G itself:
    # z_i^2 = G_ii - 2 mean_{j in g} G_ij + mean_{j,k in g} G_jk  (no eigendecomposition)
    y = (codes[:, None] == np.arange(levels.size)[None, :]).astype(float)
    ng = y.sum(axis=0)
    row_means = (g @ y) / ng[None, :]  # mean_{j in g} G_ij for every i and g
    block = (y.T @ g @ y) / np.outer(ng, ng)
    z2 = np.diag(g) - 2 * row_means[np.arange(len(ids)), codes] + block[codes, codes]
    z = np.sqrt(np.maximum(z2, 0.0))

    def anova_f(y: np.ndarray) -> float:
        means = np.bincount(codes, y) / np.bincount(codes)
        fitted = means[codes]
        ssb = ((fitted - y.mean()) ** 2).sum()
        ssw = ((y - fitted) ** 2).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            return float((ssb / (levels.size - 1)) / (ssw / (y.size - levels.size)))

    zc = z - (np.bincount(codes, z) / np.bincount(codes))[codes]
    # rounding: z^2 is exact to ~1e-16 of the scale of G, so z (a square root) to ~1e-8
    tol = 1e-10 * max(float(np.trace(g)), 0.0)
    if len(ids) <= levels.size or float((zc ** 2).sum()) <= tol:
        # no spread of the distances within groups (e.g. all distances 0): F = x/0
        why = ("every sample is at its group centroid" if float((z ** 2).sum()) <= tol
               else "within each group, every sample is equally far from the centroid")
        log.warning("PERMDISP of %d samples: the distances to the group centroids do not vary "
                    "within groups (%s): F and p-value are undefined (NaN)", len(ids), why)
        return np.nan, np.nan, pd.Series(z, index=ids, name="distance_to_centroid")
    f0 = anova_f(z)
    resid = zc
    perms = permutation_matrix(len(ids), permutations, seed=seed)
    fp = np.array([anova_f(resid[p]) for p in perms])
    p = float(((fp >= f0).sum() + 1) / (permutations + 1))
    return f0, p, pd.Series(z, index=ids, name="distance_to_centroid")


def anosim(
    distance: pd.DataFrame, groups: pd.Series, *, permutations: int = 999, seed: int = 0,
    strata: pd.Series | None = None,
) -> tuple[float, float]:
    """ANOSIM R statistic and permutation p-value (vegan ``anosim``).

    ``R = (mean rank between - mean rank within) / (M / 2)``, ``M = n (n - 1) / 2``, ranks of
    the distances with ties averaged.
    """
    ids = list(distance.index)
    grp = groups.loc[ids].astype(str).to_numpy()
    n = len(ids)
    d = distance.to_numpy()
    m = n * (n - 1) / 2
    levels, codes = np.unique(grp, return_inverse=True)
    y = (codes[:, None] == np.arange(levels.size)[None, :]).astype(float)
    n_within = float(((y.sum(axis=0) * (y.sum(axis=0) - 1)) / 2).sum())
    if n_within == 0 or n_within == m:
        raise AnalysisError("ANOSIM needs groups with more than one sample and more than one group")
    if _all_distances_equal(d):
        # every rank tied: R = 0 for the data and every permutation, which says nothing
        log.warning("ANOSIM: all %d samples are at the same distance from each other (%s): "
                    "R and p-value are undefined (NaN)", n,
                    "all distances are 0" if not _any_positive(d) else f"all {d[0, 1]:.6g}")
        return np.nan, np.nan
    ranks = rank_matrix(d)
    total_rank = m * (m + 1) / 2  # the ranks 1..M, ties averaged, sum to this exactly

    def stat(within_sum: np.ndarray) -> np.ndarray:
        rw = within_sum / n_within
        rb = (total_rank - within_sum) / (m - n_within)
        return (rb - rw) / (m / 2)

    w0 = 0.5 * np.einsum("ij,ij->", y, ranks @ y)
    r0 = float(stat(np.array(w0)))
    perms = permutation_matrix(n, permutations, strata=None if strata is None else strata.loc[ids].tolist(), seed=seed)
    within = np.zeros(permutations)
    # two groups: y2 = 1 - y1, so y2' R y2 = 1'R1 - 2 y1'r + y1' R y1 (r = row sums of R):
    # one column per permutation instead of two
    cols = levels.size - 1 if levels.size == 2 else levels.size
    rowsum = ranks.sum(axis=1)
    batch = max(1, 128 // cols)
    for start in range(0, permutations, batch):
        pp = perms[start:start + batch]
        yp = np.concatenate([y[p][:, :cols] for p in pp], axis=1)
        q = np.einsum("ij,ij->j", yp, ranks @ yp).reshape(len(pp), cols)
        if levels.size == 2:
            y1r = yp.T @ rowsum
            s = 2.0 * q[:, 0] + 2.0 * total_rank - 2.0 * y1r
        else:
            s = q.sum(axis=1)
        within[start:start + len(pp)] = 0.5 * s
    rp = stat(within)
    p = float(((rp >= r0 - _EPS).sum() + 1) / (permutations + 1))
    return r0, p
