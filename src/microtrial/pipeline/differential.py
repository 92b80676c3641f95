"""``differential`` stage: read a table, metadata and taxonomy, test every comparison at
every rank with every method, write ``differential-<method>.tsv``, ``guilds.tsv``,
``differential-guilds.tsv``, ``differential-consensus.tsv`` and ``run-info.json``.

LEfSe runs once per comparison over the whole taxonomic hierarchy (domain to genus, and
species when asked for; all clades together, as LEfSe's cladogram input), or over ASVs when
there is no taxonomy; the other methods run per rank. Methods that do not apply to a
comparison's kind (LEfSe and ANCOM-BC to paired comparisons, the paired Wilcoxon test to
between-group comparisons) are skipped with a logged note.

A ``between`` comparison with more than two levels is tested per pair of levels (BH across
the pairs), after the LMM's F test over all levels (rows with ``test_level`` ``all``, left
out of the consensus); ``longitudinal`` and ``interaction`` comparisons go to the methods
that handle them (lmm, ancombc, paired-wilcoxon; docs/study-file.md).

Samples without reads are left out (with a warning). A comparison that cannot be tested
(too few samples, no subject sampled at both levels, a covariate missing for all of its
samples) is skipped with a warning; when nothing at all could be tested the stage raises
:class:`~microtrial.errors.InputError` (before writing anything) with the reasons.

This module checks the options, reads the inputs, calls
:func:`microtrial.differential.run_differential` (all of the above) and writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from microtrial.design import Comparison, covariate_problem
from microtrial.differential import (
    FEATURE_RANKS,
    METHODS,
    DifferentialInputError,
    check_rank,
    get_method,
    run_differential,
)
from microtrial.errors import AnalysisError, InputError, OptionError
from microtrial.io._atomic import atomic_open
from microtrial.io.feature_table import read_table
from microtrial.io.metadata import read_metadata
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.io.taxonomy import read_taxonomy
from microtrial.names import DEFAULT_DIFFERENTIAL_METHODS
from microtrial.options import mention
from microtrial.taxa import UNASSIGNED

log = logging.getLogger(__name__)
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class DifferentialSummary:
    """What the stage did: output files, calls per method, skipped tests and timings."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    n_called: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _check_options(methods: Sequence[str], ranks: Sequence[str], *, min_prevalence: float,
                   min_abundance: float, threads: int) -> tuple[list[str], list[str]]:
    """Method and rank names resolved (duplicates dropped) and the numeric options checked;
    errors name the option's study-file key (:class:`~microtrial.errors.OptionError`)."""
    try:
        names = list(dict.fromkeys(get_method(m).name for m in methods))
    except AnalysisError as exc:
        raise OptionError("options.differential_methods", str(exc)) from exc
    if not names:
        raise OptionError("options.differential_methods", f"no method given; choose from {', '.join(METHODS)}")
    checked: list[str] = []
    for r in ranks:
        try:
            checked.append(check_rank(r))
        except ValueError as exc:
            raise OptionError("options.ranks", f"unknown rank '{r}'; choose from {', '.join(FEATURE_RANKS)}") from exc
    checked = list(dict.fromkeys(checked))
    if not 0.0 <= min_prevalence <= 1.0:
        raise OptionError("options.min_prevalence", f"{min_prevalence} is not a fraction between 0 and 1")
    if not 0.0 <= min_abundance <= 1.0:
        raise OptionError("differential.min_abundance", f"{min_abundance} is not a relative abundance between 0 and 1")
    if threads < 1:
        raise OptionError("options.threads", f"must be >= 1, got {threads}")
    return names, checked


def _check_covariates(comparisons: Sequence[Comparison], covariates: Sequence[str],
                      metadata: pd.DataFrame, sample_ids: Sequence[str], metadata_path: Path) -> None:
    """A covariate may be neither a comparison's own column nor its subject column, and
    must have a value for at least one sample (errors name ``options.covariates``)."""
    for comp in comparisons:
        for c in covariates:
            problem = covariate_problem(comp, c)
            if problem is not None:
                raise OptionError("options.covariates", problem)
    for c in covariates:
        if c in metadata.columns and metadata.loc[list(sample_ids), c].isna().all():
            raise InputError(metadata_path, f"covariate '{c}' ({mention('options.covariates')}) is missing for "
                                            f"every sample")


def _write_tsv(df: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    with atomic_open(path, "w") as fh:
        df.to_csv(fh, sep="\t", index=index, na_rep="NaN", float_format="%.6g")
    return path


def differential_stage(table: Path, metadata: Path, out_dir: Path, *,
                       comparisons: Sequence[Comparison], taxonomy: Path | None = None,
                       ranks: Sequence[str] = ("asv", "genus", "family"),
                       methods: Sequence[str] = DEFAULT_DIFFERENTIAL_METHODS,
                       covariates: Sequence[str] = (), min_prevalence: float = 0.1,
                       seed: int = 0, threads: int = 2,
                       progress: ProgressCallback | None = None,
                       lefse_subclass: str | None = None,
                       min_abundance: float = 0.0) -> DifferentialSummary:
    """Run the differential stage (see the module notes) and write its outputs.

    ``lefse_subclass`` names a metadata column of subclasses for LEfSe's pairwise
    Wilcoxon step (none by default). Features are kept when present in at least
    ``min_prevalence`` of a comparison's samples and with mean relative abundance at least
    ``min_abundance`` there.

    ``threads`` is recorded but not used: every method is vectorised across features
    (numpy may use its own BLAS threads).
    """
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    names, ranks = _check_options(methods, ranks, min_prevalence=min_prevalence,
                                  min_abundance=min_abundance, threads=threads)
    ftable = read_table(table)
    md = read_metadata(metadata)
    shared = [s for s in ftable.sample_ids if s in md.index]
    if len(shared) < 2:
        example = (f"; e.g. '{ftable.sample_ids[0]}' in the table, '{md.index[0]}' in the metadata"
                   if len(ftable.sample_ids) and len(md.index) else "")
        raise InputError(table, f"fewer than 2 samples ({len(shared)}) are also in the metadata "
                                f"{metadata}{example}")
    reads = ftable.sample_totals()
    usable = [s for s in shared if reads[s] > 0]
    if len(usable) < 2:
        what = ("all counts are zero" if not (reads > 0).any()
                else f"fewer than 2 samples with reads ({len(usable)}) among the {len(shared)} "
                     f"also in the metadata {metadata}")
        raise InputError(table, what)
    if len(usable) < len(shared):
        empty = [s for s in shared if reads[s] <= 0]
        log.warning("%d sample(s) of %s have no reads and are left out: %s%s", len(empty), table,
                    ", ".join(empty[:5]), ", ..." if len(empty) > 5 else "")
    _check_covariates(comparisons, covariates, md, usable, Path(metadata))
    tax: pd.Series | None = None
    if taxonomy is not None:
        tax = read_taxonomy(taxonomy)["Taxon"]
        known = int(pd.Index(ftable.feature_ids).isin(tax.index).sum())
        n = len(ftable.feature_ids)
        if known == 0 and n:
            raise InputError(taxonomy, f"none of the {n} features of {table} are in it "
                                       f"(e.g. '{ftable.feature_ids[0]}')")
        if known < n:
            log.warning("%d of %d features of %s are not in %s; they count as %s",
                        n - known, n, table, taxonomy, UNASSIGNED)
    elif any(r != "asv" for r in ranks):
        raise InputError(str(taxonomy or "--taxonomy"), f"ranks {', '.join(r for r in ranks if r != 'asv')} need a taxonomy")
    summary = DifferentialSummary(out_dir)
    try:
        result = run_differential(ftable, md, usable, comparisons=comparisons, tax=tax, names=names,
                                  ranks=ranks, covariates=covariates, min_prevalence=min_prevalence,
                                  min_abundance=min_abundance, seed=seed,
                                  lefse_subclass=lefse_subclass, progress=progress)
    except DifferentialInputError as exc:
        if exc.source not in ("metadata", "table"):
            raise OptionError(exc.source, exc.message) from exc
        raise InputError(metadata if exc.source == "metadata" else table, exc.message) from exc
    summary.skipped.extend(result.skipped)
    summary.timings.update(result.timings)
    summary.n_called.update(result.n_called)
    for level, note in result.notes:
        log.log(level, "%s", note)
    start_output(out_dir, command="differential")  # only once every test has run
    for name, df in result.tables.items():
        summary.files.append(_write_tsv(df, out_dir / f"differential-{name}.tsv"))
    summary.files.append(_write_tsv(result.consensus, out_dir / "differential-consensus.tsv"))
    if result.guilds is not None and result.guild_tests is not None:
        summary.files.append(_write_tsv(result.guilds, out_dir / "guilds.tsv", index=True))
        summary.files.append(_write_tsv(result.guild_tests, out_dir / "differential-guilds.tsv"))
    summary.timings["total"] = round(time.perf_counter() - t_start, 3)
    write_run_info(
        out_dir, command="differential",
        options={"table": str(table), "metadata": str(metadata), "taxonomy": str(taxonomy) if taxonomy else None,
                 "comparisons": [c.__dict__ | {"where": dict(c.where)} for c in comparisons],
                 "ranks": ranks, "methods": names, "covariates": list(covariates),
                 "min_prevalence": min_prevalence, "threads": threads,
                 "lefse_subclass": lefse_subclass, "min_abundance": min_abundance},
        seeds={"differential": seed}, timings=summary.timings,
        extra={"n_called": summary.n_called, "skipped": summary.skipped},
        outputs=summary.files,
    )
    return summary
