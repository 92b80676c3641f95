"""Assemble ``report.html`` (plotly figures and tables inline), ``figures/``, ``tables/`` and
``exports/`` from a results folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from microtrial.design import DesignSpec
from microtrial.errors import InputError, MicrotrialError, OptionError
from microtrial.io._atomic import atomic_open
from microtrial.report import _methods as M
from microtrial.report import _results as R
from microtrial.report import _sections as S
from microtrial.report._context import Context
from microtrial.report._data import Design, read_design
from microtrial.report._page import Page, esc

log = logging.getLogger(__name__)

# What a run (or one stage) writes; a results folder holds at least one of these.
RESULT_FILES = (
    "read-tracking.tsv", "feature-table.biom", "feature-table.tsv", "dna-sequences.fasta",
    "taxonomy.tsv", "tree.nwk", "clinical-response.tsv", "immune-paired.tsv",
    "alpha-diversity.tsv", "permanova.tsv", "beta-*.tsv", "pcoa-*.tsv", "differential-*.tsv",
    "associations-*.tsv",
)
# What every finished run holds (alternatives in one tuple); what else it holds depends on
# the study (clinical, immune, taxonomy, tree), so only these are listed as missing.
EXPECTED_OUTPUTS = (
    ("feature-table.biom", "feature-table.tsv"), ("alpha-diversity.tsv",), ("permanova.tsv",),
    ("differential-consensus.tsv",),
)
# Files of a simulator's truth/ folder that the truth section scores against.
TRUTH_FILES = ("asv-sequences.fasta", "counts.tsv", "composition.tsv", "responders.tsv",
               "associations.tsv", "function-pathways.tsv")


def _check_folders(results: Path, truth: Path | None) -> None:
    if not results.is_dir():
        raise InputError(results, "not a results folder")
    if not any(any(results.glob(pattern)) for pattern in RESULT_FILES):
        raise InputError(results, "holds none of the result tables of a run (read-tracking.tsv, "
                         "feature-table.biom, alpha-diversity.tsv, ...): is it the output "
                         "folder of 'microtrial run'?")
    if truth is not None and not truth.is_dir():
        raise InputError(truth, "no such folder (expected a simulator's truth/ folder)")
    if truth is not None and not any((truth / name).is_file() for name in TRUTH_FILES):
        raise OptionError("report.truth", f"{truth} holds none of a simulator's truth files "
                                    f"({', '.join(TRUTH_FILES)})")


def _incomplete(results: Path) -> str | None:
    """Why ``results`` looks like an unfinished run (no ``run-info.json``), else ``None``.

    Every finished run or stage writes ``run-info.json`` last.
    """
    if (results / "run-info.json").is_file():
        return None
    missing = [alts[0] for alts in EXPECTED_OUTPUTS if not any((results / a).exists() for a in alts)]
    stages = sorted(p.name.split(".")[0] for p in (results / "logs").glob("*.run-info.json"))
    why = f"{results} has no run-info.json: the run that wrote it did not finish (or is still running)"
    why += f"; missing expected outputs: {', '.join(missing)}" if missing else ""
    why += f"; stages that finished: {', '.join(stages)}" if stages else ""
    return why

SECTIONS = (
    ("cohort", "Cohort (Table 1)"), ("sequencing", "Sequencing"), ("composition", "Composition"),
    ("alpha", "Alpha diversity"), ("beta", "Beta diversity"), ("differential", "Differential abundance"),
    ("clinical", "Clinical response"), ("associations", "Associations"),
)


def _guarded(ctx: Context, anchor: str, title: str, fn: Callable[[], object]) -> object:
    ctx.page.section(anchor, title)
    try:
        return fn()
    except MicrotrialError:  # a bad input file is the user's to fix: say which
        raise
    except Exception as exc:  # a broken section must not sink the report
        log.warning("report section %r failed: %s", title, exc)
        ctx.page.text(f"This section could not be drawn: {exc}", cls="missing")
        return None


def write_report(
    results_dir: Path, out_dir: Path | None = None, *, title: str | None = None,
    truth_dir: Path | None = None, finishing_run: bool = False, exports: bool = True,
    static_figures: bool = True, design: Design | None = None, columns: DesignSpec | None = None,
) -> Path:
    """Build ``report.html`` from the result tables in ``results_dir``.

    Parameters
    ----------
    results_dir : Path
        The output folder of ``microtrial run``.
    out_dir : Path, optional
        Where to write ``report.html``, ``figures/``, ``tables/`` and ``exports/``
        (default: results_dir).
    title : str, optional
        The study's name (default: the name in ``inputs/study.yaml``, else
        "microtrial study report").
    truth_dir : Path, optional
        A simulator's ``truth/`` folder: adds a section scoring the results against it.
    finishing_run : bool
        Set by ``microtrial run``, which writes the report as its last stage and its
        ``run-info.json`` right after: the folder is not flagged as incomplete.
    exports : bool
        Also write ``exports/phyloseq/`` and ``exports/qiime2/`` (when the table is there).
    static_figures : bool
        Also draw every figure with matplotlib into ``figures/`` (most of the time taken).
    design : Design, optional
        The study's design and resolved comparisons (:func:`design_of_study`; ``microtrial
        run`` passes its study's). Default: what the folder's ``run-info.json`` recorded
        (:func:`recorded_design`); without it the samples are shown ungrouped (logged).
    columns : microtrial.design.DesignSpec, optional
        Design columns named on the command line (``microtrial report --group``): they
        replace the design's columns (:func:`microtrial.report.read_design`).

    Returns
    -------
    Path
        The written ``report.html``.

    Raises
    ------
    InputError
        ``results_dir`` holds none of a run's result tables, ``truth_dir`` is not a folder
        or holds no truth file, or a result table cannot be read (``report.html`` is then
        not written).

    Notes
    -----
    The sections follow a paper: Summary, Cohort, Sequencing, Composition, Alpha and Beta
    diversity, Differential abundance, Clinical response, Associations, Functions and
    Designs with interactions (when present), Methods. A section whose tables are absent
    says so. A ``results_dir`` without ``run-info.json`` is an unfinished run: the report
    says so at the top (with the expected outputs that are missing) and one warning is
    logged.
    """
    results_dir = Path(results_dir)
    truth = Path(truth_dir) if truth_dir is not None else None
    _check_folders(results_dir, truth)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    incomplete = None if finishing_run else _incomplete(results_dir)
    page = Page(out_dir, static=static_figures)
    metadata = results_metadata(results_dir)
    ctx = Context(page, results_dir, read_design(results_dir, metadata, design=design, columns=columns),
                  metadata)
    title = title or ctx.design.name or "microtrial study report"
    banner = ""
    if incomplete is not None:
        banner = (f"<p class='missing'>{esc(f'Incomplete results folder: {incomplete}. This report shows only the results that are there.')}</p>")

    steps: dict[str, Callable[[], object]] = {
        "cohort": lambda: S.cohort(ctx), "sequencing": lambda: S.sequencing(ctx),
        "composition": lambda: S.composition_section(ctx), "alpha": lambda: S.alpha(ctx),
        "beta": lambda: S.beta(ctx), "differential": lambda: R.differential(ctx),
        "clinical": lambda: R.clinical(ctx), "associations": lambda: R.associations(ctx),
    }
    for anchor, name in SECTIONS:
        _guarded(ctx, anchor, name, steps[anchor])
    for anchor, name, fn in (("functions", "Functions", lambda: R.functions(ctx)),
                             ("designs", "Designs with interactions", lambda: R.designs(ctx))):
        if not _guarded(ctx, anchor, name, fn):
            if page.current.parts == []:
                page.sections.pop()  # nothing of this kind in the study
    if truth is not None:
        _guarded(ctx, "truth", "Simulation truth", lambda: M.truth(ctx, truth))
    if exports:
        _guarded(ctx, "exports", "Exports", lambda: _exports(ctx))
    _guarded(ctx, "methods", "Methods", lambda: M.methods(ctx, complete=incomplete is None))
    M.caveats(ctx)
    summary = page.section("summary", "Summary")
    page.sections.insert(0, page.sections.pop())
    summary.parts.append(M.summary(ctx, {s.anchor: s.title for s in page.sections}))

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = page.html(title, f"microtrial report, {stamp}. Every figure is also in figures/ (SVG, PDF, "
                           "PNG at 300 dpi) and every table in tables/ (TSV).", banner)
    dest = out_dir / "report.html"
    with atomic_open(dest) as fh:
        fh.write(doc)
    if incomplete is not None:  # once the report is written (a failing report just errors)
        log.warning("incomplete results folder: %s", incomplete)
    return dest


def _exports(ctx: Context) -> None:
    from microtrial.report._exports import write_exports

    written = write_exports(ctx.results, ctx.page.out_dir / "exports", metadata=ctx.metadata)
    if not written:
        ctx.page.text("No feature table: nothing to export.")
        return
    ctx.page.text("Files for other tools, written beside this report:")
    items = "".join(f"<li><span class='file'>{esc(p)}</span></li>" for p in written)
    ctx.page.raw(f"<ul>{items}</ul>")
    ctx.page.text("In R: source('exports/phyloseq/load-phyloseq.R') builds the phyloseq object 'ps'. "
                  "The .qza files are QIIME 2 artifacts (qiime tools peek exports/qiime2/table.qza).")


def results_metadata(results: Path) -> pd.DataFrame | None:
    """The sample metadata of a results folder (``metadata-with-response.tsv``, else the
    copy in ``inputs/``), or None."""
    from microtrial.io.metadata import read_metadata

    for name in ("metadata-with-response.tsv", "inputs/metadata.tsv"):
        if (results / name).exists():
            return read_metadata(results / name)
    return None


