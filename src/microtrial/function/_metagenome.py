"""Predicted metagenomes from ASV abundances and per-ASV trait predictions.

The arithmetic, ordering and rounding follow PICRUSt2 2.x's ``metagenome_pipeline.py``
(Douglas et al. 2020), so that its output files can be compared value for value:

- ASVs whose ``metadata_NSTI`` is above ``max_nsti`` are dropped (and listed);
- the table, trait and marker predictions are cut to the ASVs they share, sorted by id;
- counts are divided by the predicted 16S copies and rounded to 2 decimals
  (``seqtab_norm.tsv.gz``, first column ``normalized``);
- the unstratified metagenome is, per sample, sum over ASVs of normalised abundance x
  predicted copies; functions that are 0 in every sample are dropped; functions sorted;
- the weighted NSTI of a sample is sum(abundance x NSTI) / sum(abundance) over the
  normalised abundances;
- contributions (long format) list, per sample and function, each ASV present with a
  non-zero copy number: ``taxon_abun`` (normalised abundance), ``taxon_rel_abun``
  (percent of the sample), ``genome_function_count``, ``taxon_function_abun``,
  ``taxon_rel_function_abun`` and ``norm_taxon_function_contrib`` (the ASV's share of the
  function in that sample).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from microtrial.errors import InputError, OptionError
from microtrial.options import mention
from microtrial.table import FeatureTable

log = logging.getLogger(__name__)

NSTI_COLUMN = "metadata_NSTI"
CONTRIB_COLUMNS = (
    "sample", "function", "taxon", "taxon_abun", "taxon_rel_abun", "genome_function_count",
    "taxon_function_abun", "taxon_rel_function_abun", "norm_taxon_function_contrib",
)


@dataclass(frozen=True)
class MetagenomeResult:
    """Outputs of :func:`predict_metagenome`.

    Attributes
    ----------
    normalized : pandas.DataFrame
        ASVs x samples, counts divided by predicted 16S copies (2 decimals); index name
        ``normalized`` (PICRUSt2's ``seqtab_norm.tsv.gz``).
    unstratified : pandas.DataFrame
        Functions x samples (index name ``function``): ``pred_metagenome_unstrat.tsv.gz``.
    weighted_nsti : pandas.DataFrame or None
        Samples x ``weighted_NSTI`` (index name ``sample``) when NSTI values were given.
    contributions : pandas.DataFrame or None
        Long-format contributions (``pred_metagenome_contrib.tsv.gz``) when stratified, or
        the wide stratified table (``pred_metagenome_strat.tsv.gz``, index function and
        sequence) when ``wide``.
    excluded_nsti : tuple of str
        ASVs dropped for an NSTI above ``max_nsti``.
    unpredicted : tuple of str
        ASVs of the table without a trait or marker prediction (dropped).
    wide : bool
        ``contributions`` is the wide stratified table.
    """

    normalized: pd.DataFrame
    unstratified: pd.DataFrame
    weighted_nsti: pd.DataFrame | None
    contributions: pd.DataFrame | None
    excluded_nsti: tuple[str, ...]
    unpredicted: tuple[str, ...]
    wide: bool = False


PREDICTION_SOURCES = {"table": "feature table", "traits": "trait predictions",
                      "marker": "marker predictions"}
"""The inputs of :func:`predict_metagenome` a :class:`PredictionInputError` can name."""


class PredictionInputError(InputError):
    """A problem inside one input of :func:`predict_metagenome`, which reads no file.

    ``source`` says which (``table``, ``traits`` or ``marker``: :data:`PREDICTION_SOURCES`);
    the caller that read that input from a file re-raises the problem naming the file
    (``InputError(path, exc.message)``). Unmapped, the error names the input in words
    (``trait predictions: sequence 'a' is listed twice``).
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(PREDICTION_SOURCES[source], message)


def table_to_frame(table: FeatureTable | pd.DataFrame) -> pd.DataFrame:
    """ASVs x samples as a float DataFrame (PICRUSt2 reads BIOM tables as floats)."""
    if isinstance(table, FeatureTable):
        return pd.DataFrame(
            table.data.toarray().astype(np.float64), index=list(table.feature_ids),
            columns=list(table.sample_ids),
        )
    return table


def _drop_by_nsti(pred: pd.DataFrame, max_nsti: float, source: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    keep = pred[NSTI_COLUMN] <= max_nsti
    excluded = [str(i) for i in pred.index[~keep.to_numpy()]]
    kept = pred[keep]
    if kept.shape[0] == 0:  # the cut-off, not the file: name the option
        raise OptionError("function.max_nsti", f"every ASV of the {PREDICTION_SOURCES[source]} has an "
                                               f"NSTI above {max_nsti:g}")
    if excluded:
        log.warning("%d of %d ASVs are above the max NSTI cut-off of %g and were removed",
                    len(excluded), pred.shape[0], max_nsti)
    nsti = kept[[NSTI_COLUMN]]
    return kept.drop(columns=NSTI_COLUMN), nsti, excluded


def _check_prediction(pred: pd.DataFrame, source: str) -> None:
    if pred.index.has_duplicates:
        dup = pred.index[pred.index.duplicated()][0]
        raise PredictionInputError(source, f"sequence '{dup}' is listed twice")
    bad = [c for c in pred.columns if not pd.api.types.is_numeric_dtype(pred[c])]
    if bad:
        raise PredictionInputError(source, f"column '{bad[0]}' is not numeric")
    if pred.shape[1] == 0 or (pred.shape[1] == 1 and NSTI_COLUMN in pred.columns):
        raise PredictionInputError(source, "no trait columns")


def predict_metagenome(
    table: FeatureTable | pd.DataFrame,
    traits_pred: pd.DataFrame,
    marker_pred: pd.DataFrame | None,
    *,
    max_nsti: float = 2.0,
    stratified: bool = False,
    wide: bool = False,
    min_reads: int = 1,
    min_samples: int = 1,
    skip_norm: bool = False,
) -> MetagenomeResult:
    """Predict each sample's gene-family content from its ASVs, as PICRUSt2 does.

    Parameters
    ----------
    table : FeatureTable or pandas.DataFrame
        ASV counts, ASVs as rows and samples as columns.
    traits_pred : pandas.DataFrame
        Predicted copies per ASV (index = ASV id, PICRUSt2's ``sequence`` column), one
        column per function, optionally ``metadata_NSTI``.
    marker_pred : pandas.DataFrame or None
        Predicted 16S copies per ASV (first non-NSTI column used), optionally
        ``metadata_NSTI``; None only with ``skip_norm``.
    max_nsti : float
        ASVs whose NSTI is above this are excluded.
    stratified : bool
        Also compute the stratified table: long-format contributions, or with ``wide``
        PICRUSt2's older wide format (function, sequence, one column per sample).
    wide : bool
        Wide stratified format (``pred_metagenome_strat.tsv.gz``).
    min_reads, min_samples : int
        In the stratified table, ASVs with fewer reads in total or present in fewer
        samples are pooled as ``RARE``.
    skip_norm : bool
        Do not divide by 16S copies (no marker table; no ``seqtab_norm``).

    Returns
    -------
    MetagenomeResult

    Raises
    ------
    PredictionInputError
        A problem inside the table or a prediction (``source`` says which): a sequence
        listed twice, a non-numeric or no trait column, a marker copy number <= 0, no ASV
        shared by the table and the predictions, an ASV called ``RARE``.
    OptionError
        ``function.max_nsti`` (``--max-nsti``) excludes every ASV; no marker table without
        ``skip_norm``.

    Notes
    -----
    With :math:`a_{is}` the count of ASV *i* in sample *s*, :math:`m_i` its predicted 16S
    copies and :math:`c_{if}` its predicted copies of function *f*, the normalised
    abundance is :math:`n_{is} = \\mathrm{round}(a_{is}/m_i, 2)` and the metagenome
    :math:`M_{fs} = \\sum_i n_{is} c_{if}`.

    References
    ----------
    Douglas GM et al. (2020) PICRUSt2 for prediction of metagenome functions. Nat
    Biotechnol 38:685-688 (``metagenome_pipeline.py``, whose numbers are matched).
    """
    if marker_pred is None and not skip_norm:
        raise OptionError("metagenome.marker", "a table of predicted 16S copies is needed (or "
                                               f"{mention('metagenome.skip_norm')})")
    counts = table_to_frame(table).copy()
    counts.index = counts.index.astype(str)
    traits_pred = traits_pred.copy()
    traits_pred.index = traits_pred.index.astype(str)
    _check_prediction(traits_pred, "traits")
    if skip_norm:
        marker_pred = None
    else:
        assert marker_pred is not None
        marker_pred = marker_pred.copy()
        marker_pred.index = marker_pred.index.astype(str)
        _check_prediction(marker_pred, "marker")

    nsti = pd.DataFrame()
    excluded: list[str] = []
    if NSTI_COLUMN in traits_pred.columns:
        traits_pred, nsti, ex = _drop_by_nsti(traits_pred, max_nsti, "traits")
        excluded.extend(ex)
    if marker_pred is not None and NSTI_COLUMN in marker_pred.columns:
        marker_pred, nsti, ex = _drop_by_nsti(marker_pred, max_nsti, "marker")
        excluded.extend(e for e in ex if e not in excluded)

    shared = counts.index.intersection(traits_pred.index)
    if marker_pred is not None:
        shared = shared.intersection(marker_pred.index)
    shared = shared.sort_values()
    if len(shared) == 0:
        raise PredictionInputError("table", "no ASV of the table has both a trait and a marker "
                                            "prediction (do the ASV ids match the predictions' "
                                            "'sequence' column?)")
    shared_set = set(shared)
    excluded_set = set(excluded)
    unpredicted = tuple(str(i) for i in counts.index
                        if i not in shared_set and i not in excluded_set)
    if unpredicted:
        log.warning("%d ASVs of the table have no prediction and were left out", len(unpredicted))
    counts = counts.reindex(shared)
    traits_pred = traits_pred.reindex(shared)

    if marker_pred is not None:
        marker_pred = marker_pred.reindex(shared)
        marker = marker_pred[marker_pred.columns[0]]
        if (marker.loc[counts.index] <= 0).any():
            bad = marker.index[(marker <= 0).to_numpy()][0]
            raise PredictionInputError("marker", f"ASV '{bad}' has a predicted marker copy number <= 0")
        norm = counts.div(marker.loc[counts.index.values], axis="index").round(decimals=2)
    else:
        norm = counts
    norm.index.name = "normalized"

    weighted = None
    if not nsti.empty:
        mult = norm.mul(nsti[NSTI_COLUMN], axis=0)
        weighted = pd.DataFrame(mult.sum(axis=0) / norm.sum(axis=0))
        weighted.columns = ["weighted_NSTI"]
        weighted = weighted.fillna(0)
        weighted.index.name = "sample"

    rare: list[str] = []
    if stratified and (min_reads != 1 or min_samples != 1):
        if "RARE" in counts.index:
            raise PredictionInputError("table", "an ASV is called 'RARE'; rename it (the name pools "
                                                "rare ASVs)")
        low = set(counts.index[norm.sum(axis=1) < min_reads])
        few = set(counts.index[(norm != 0).astype(int).sum(axis=1) < min_samples])
        rare = sorted(low | few)
    contrib = None
    if stratified and wide:
        contrib, unstrat = _wide(traits_pred, norm, rare)
    else:
        unstrat = _unstratified(traits_pred, norm)
        if stratified:
            contrib = _contributions(traits_pred, norm, rare)
    return MetagenomeResult(norm, unstrat, weighted, contrib, tuple(excluded), unpredicted,
                            wide=stratified and wide)


def _wide(func: pd.DataFrame, abun: pd.DataFrame, rare: list[str]
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    strat = pd.concat((abun.multiply(func[f], axis=0) for f in func.columns),
                      ignore_index=True, axis=0, sort=True)
    strat.index = pd.MultiIndex.from_product((func.columns, func.index),
                                             names=["function", "sequence"])
    if rare:
        is_rare = strat.index.get_level_values("sequence").isin(rare)
        pooled = strat[is_rare].groupby(level="function", sort=False).sum()
        pooled.index = pd.MultiIndex.from_arrays(
            [pooled.index, ["RARE"] * len(pooled)], names=["function", "sequence"])
        strat = pd.concat([strat[~is_rare], pooled], axis=0, sort=True)
    strat = strat.loc[~(strat == 0).all(axis=1)]
    strat = strat[list(abun.columns)]
    unstrat = strat.groupby(level="function").sum()
    return strat, unstrat


def _unstratified(func: pd.DataFrame, abun: pd.DataFrame) -> pd.DataFrame:
    per_sample = [func.mul(abun[s], axis=0).sum(axis=0) for s in abun.columns]
    out = pd.concat(per_sample, axis=1, sort=True)
    out = out.loc[~(out == 0).all(axis=1)]
    out.columns = list(abun.columns)
    out.index.name = "function"
    return out


def _contributions(func: pd.DataFrame, abun: pd.DataFrame, rare: list[str]) -> pd.DataFrame:
    """Long-format contributions, rows in PICRUSt2's order (per sample; per function in
    the prediction table's column order; taxa in table order), same arithmetic."""
    relabun = abun.div(abun.sum(axis=0), axis=1) * 100
    values = func.to_numpy()
    functions = np.asarray(func.columns, dtype=object)
    frames = []
    for sample in abun.columns:
        single = abun[sample]
        single = single.iloc[single.to_numpy().nonzero()[0]]
        single_rel = relabun[sample]
        single_rel = single_rel.iloc[single_rel.to_numpy().nonzero()[0]]
        taxa = single.index.intersection(func.index)
        sub = values[func.index.get_indexer(taxa)]
        jj, ii = np.nonzero(sub.T != 0)  # function-major, as pandas.melt lays them out
        names = np.asarray(taxa, dtype=object)[ii]
        count = sub[ii, jj]
        t_abun = single.loc[taxa].to_numpy()[ii]
        t_rel = single_rel.loc[taxa].to_numpy()[ii]
        long = pd.DataFrame({"taxon": names, "function": functions[jj],
                             "genome_function_count": count, "taxon_abun": t_abun,
                             "taxon_rel_abun": t_rel})
        long["taxon_function_abun"] = long["genome_function_count"] * long["taxon_abun"]
        long["taxon_rel_function_abun"] = long["genome_function_count"] * long["taxon_rel_abun"]
        totals = long.groupby("function").sum(numeric_only=True)["taxon_function_abun"]
        long["norm_taxon_function_contrib"] = (
            long["taxon_function_abun"] / totals[long["function"]].to_numpy())
        in_sample = [r for r in rare if r in set(names)]
        if in_sample:
            long.loc[long["taxon"].isin(in_sample), "taxon"] = "RARE"
            long = long.groupby(["function", "taxon"], as_index=False).sum()
        long["sample"] = sample
        frames.append(long[list(CONTRIB_COLUMNS)])
    if not frames:
        return pd.DataFrame(columns=list(CONTRIB_COLUMNS))
    return pd.concat(frames, axis=0, ignore_index=True)
