"""Assemble ``report.html`` (figures embedded as base64 PNG), ``figures/`` and ``tables/``."""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.errors import InputError, MicrotrialError
from microtrial.io._atomic import atomic_open
from microtrial.report import _figures as figs
from microtrial.report._truth import score_against_truth

log = logging.getLogger(__name__)

# What a run (or one stage) writes; a results folder holds at least one of these.
RESULT_FILES = (
    "read-tracking.tsv", "feature-table.biom", "feature-table.tsv", "dna-sequences.fasta",
    "taxonomy.tsv", "tree.nwk", "clinical-response.tsv", "immune-paired.tsv",
    "alpha-diversity.tsv", "permanova.tsv", "beta-*.tsv", "pcoa-*.tsv", "differential-*.tsv",
    "associations-*.tsv",
)
ALPHA_INDICES = ("observed_features", "shannon", "simpson", "chao1", "faith_pd")
# What every finished run holds (alternatives in one tuple); what else it holds depends on
# the study (clinical, immune, taxonomy, tree), so only these are listed as missing.
EXPECTED_OUTPUTS = (
    ("feature-table.biom", "feature-table.tsv"), ("alpha-diversity.tsv",), ("permanova.tsv",),
    ("differential-consensus.tsv",),
)
# Files of a simulator's truth/ folder that the truth section scores against.
TRUTH_FILES = ("asv-sequences.fasta", "counts.tsv", "composition.tsv", "responders.tsv",
               "associations.tsv")


def read_result_table(path: Path, **kwargs: object) -> pd.DataFrame:
    """A tab-separated result table; an unreadable one is an :class:`InputError` naming it."""
    try:
        return pd.read_csv(path, sep="\t", **kwargs)  # type: ignore[call-overload, no-any-return]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        msg = " ".join(str(exc).split()).replace("Error tokenizing data. C error: ", "")
        raise InputError(path, f"not a readable tab-separated table ({msg})") from None


def _numeric(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    """Refuse a table whose ``columns`` hold anything but numbers (or empty cells)."""
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() & df[c].notna()
        if bad.any():
            row = str(df.index[bad.to_numpy().nonzero()[0][0]])
            raise InputError(path, f"'{df[c][bad].iloc[0]}' (row '{row}') is not a number", field=c)


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
        raise InputError("--truth", f"{truth} holds none of a simulator's truth files "
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

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:3px solid #1b6ca8;padding-bottom:.3em}h2{margin-top:2em;color:#1b6ca8}
table{border-collapse:collapse;font-size:12px;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:right}th{background:#eef3f8}td:first-child,th:first-child{text-align:left}
.note{color:#666;font-size:13px}.missing{color:#a33;font-size:13px}img{max-width:100%}
nav a{margin-right:1em}
"""


class _Report:
    def __init__(self, results: Path, out_dir: Path) -> None:
        self.results = results
        self.out_dir = out_dir
        self.parts: list[str] = []
        self.toc: list[tuple[str, str]] = []
        self.n_fig = 0
        (out_dir / "figures").mkdir(parents=True, exist_ok=True)
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)

    def section(self, title: str) -> None:
        anchor = f"s{len(self.toc) + 1}"
        self.toc.append((anchor, title))
        self.parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')

    def text(self, text: str, cls: str = "note") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>')

    def table(self, df: pd.DataFrame, name: str | None = None, max_rows: int = 30) -> None:
        if name:
            df.to_csv(self.out_dir / "tables" / f"{name}.tsv", sep="\t")
        shown = df.head(max_rows)
        self.parts.append(shown.to_html(float_format=lambda v: f"{v:.4g}", na_rep="", border=0))
        if len(df) > max_rows:
            self.text(f"{len(df) - max_rows} more rows in tables/{name or 'the results folder'}.tsv")

    def figure(self, fig: object, name: str) -> None:
        import matplotlib.pyplot as plt

        self.n_fig += 1
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)  # type: ignore[attr-defined]
        fig.savefig(self.out_dir / "figures" / f"{name}.png", dpi=150)  # type: ignore[attr-defined]
        fig.savefig(self.out_dir / "figures" / f"{name}.svg")  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        self.parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')

    def read(self, name: str, **kwargs: object) -> pd.DataFrame | None:
        path = self.results / name
        if not path.exists():
            return None
        return read_result_table(path, **kwargs)

    def guarded(self, title: str, fn: Callable[[], None]) -> None:
        self.section(title)
        try:
            fn()
        except MicrotrialError:  # a bad input file is the user's to fix: say which
            raise
        except Exception as exc:  # a broken section must not sink the report
            log.warning("report section %r failed: %s", title, exc)
            self.text(f"This section could not be drawn: {exc}", cls="missing")


def write_report(
    results_dir: Path, out_dir: Path | None = None, *, title: str = "microtrial study report",
    truth_dir: Path | None = None, finishing_run: bool = False,
) -> Path:
    """Build ``report.html`` from the result tables in ``results_dir``.

    Parameters
    ----------
    results_dir : Path
        The output folder of ``microtrial run``.
    out_dir : Path, optional
        Where to write ``report.html``, ``figures/`` and ``tables/`` (default: results_dir).
    title : str
        The study's name.
    truth_dir : Path, optional
        A simulator's ``truth/`` folder: adds a section scoring the results against it.
    finishing_run : bool
        Set by ``microtrial run``, which writes the report as its last stage and its
        ``run-info.json`` right after: the folder is not flagged as incomplete.

    Raises
    ------
    InputError
        ``results_dir`` holds none of a run's result tables, ``truth_dir`` is not a folder
        or holds no truth file, or a result table cannot be read (``report.html`` is then
        not written).

    Notes
    -----
    A ``results_dir`` without ``run-info.json`` is an unfinished run: the report says so at
    the top (with the expected outputs that are missing) and one warning is logged.
    """
    results_dir = Path(results_dir)
    truth = Path(truth_dir) if truth_dir is not None else None
    _check_folders(results_dir, truth)
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    incomplete = None if finishing_run else _incomplete(results_dir)
    rep = _Report(results_dir, out_dir)
    metadata = _metadata(results_dir)
    if incomplete is not None:
        rep.text(f"Incomplete results folder: {incomplete}. This report shows only the "
                 "results that are there.", cls="missing")

    rep.guarded("Reads and denoising", lambda: _reads(rep))
    rep.guarded("Cohort and clinical response", lambda: _clinical(rep))
    rep.guarded("Immune endpoints", lambda: _immune(rep))
    rep.guarded("Alpha diversity", lambda: _alpha(rep, metadata))
    rep.guarded("Beta diversity", lambda: _beta(rep, metadata))
    rep.guarded("Differential abundance", lambda: _differential(rep))
    rep.guarded("Associations with clinical, immune and metabolite measures", lambda: _associations(rep))
    if truth is not None:
        rep.guarded("Simulation truth: how close are the results?", lambda: _truth(rep, truth))
    rep.guarded("Methods and provenance", lambda: _methods(rep, complete=incomplete is None))

    nav = " ".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in rep.toc)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='note'>microtrial report, {stamp}.</p><nav>{nav}</nav>"
        + "\n".join(rep.parts) + "</body></html>"
    )
    dest = out_dir / "report.html"
    with atomic_open(dest) as fh:
        fh.write(doc)
    if incomplete is not None:  # once the report is written (a failing report just errors)
        log.warning("incomplete results folder: %s", incomplete)
    return dest


def _metadata(results: Path) -> pd.DataFrame | None:
    from microtrial.io.metadata import read_metadata

    for name in ("metadata-with-response.tsv", "inputs/metadata.tsv"):
        if (results / name).exists():
            return read_metadata(results / name)
    return None


def _reads(rep: _Report) -> None:
    tracking = rep.read("read-tracking.tsv", index_col=0)
    if tracking is None:
        rep.text("No read tracking: the run started from a feature table.")
        return
    totals = tracking.sum()
    if "input" in totals and totals["input"] > 0 and "non-chimeric" in totals:
        rep.text(f"{len(tracking)} samples; {int(totals['input']):,} read pairs in, "
                 f"{int(totals['non-chimeric']):,} ({totals['non-chimeric'] / totals['input']:.1%}) "
                 "in the final table.")
    rep.figure(figs.read_tracking(tracking), "read-tracking")
    rep.table(tracking, "read-tracking")
    profiles = {}
    for d, name in (("forward", "quality-profile-f.tsv"), ("reverse", "quality-profile-r.tsv")):
        df = rep.read(name)
        if df is not None and "mean_quality" in df:
            profiles[d] = df
    if profiles:
        rep.figure(figs.quality_profiles(profiles), "quality-profiles")


def _clinical(rep: _Report) -> None:
    resp = rep.read("clinical-response.tsv")
    if resp is None:
        rep.text("No clinical table in this study.")
        return
    rates = rep.read("response-rates.tsv")
    if rates is not None:
        rep.text("Response rates with exact (Clopper-Pearson) 95% confidence intervals.")
        rep.table(rates, "response-rates")
    rep.text("IMACS definition of improvement (Rider et al. 2004) and 2016 ACR/EULAR total "
             "improvement score (Aggarwal et al. 2017). A baseline of 0 with follow-up 0 counts as "
             "no change, with follow-up above 0 as worsened by more than 25%; a missing core set "
             "measure makes the subject not evaluable for that criterion (never imputed).")
    rep.table(resp, "clinical-response", max_rows=60)


def _immune(rep: _Report) -> None:
    paired = rep.read("immune-paired.tsv")
    if paired is None:
        rep.text("No immune measures in this study.")
        return
    rep.table(paired, "immune-paired")
    raw = rep.read("inputs/immune.tsv")
    if raw is None or not {"subject", "visit"} <= set(raw.columns):
        return
    visits = list(pd.unique(raw["visit"].astype(str)))
    if len(visits) < 2:
        return
    before, after = visits[0], visits[1]
    for measure in [c for c in raw.columns if c not in ("subject", "visit", "group")][:4]:
        wide = raw.pivot_table(index="subject", columns="visit", values=measure).dropna()
        if {before, after} <= set(wide.columns.astype(str)):
            wide.columns = wide.columns.astype(str)
            rep.figure(figs.paired_lines(wide, before, after, measure), f"paired-{measure}")


def _alpha(rep: _Report, metadata: pd.DataFrame | None) -> None:
    alpha = rep.read("alpha-diversity.tsv", index_col=0)
    if alpha is None:
        rep.text("No alpha diversity table.")
        return
    cols = [c for c in ALPHA_INDICES if c in alpha]
    if not cols:
        raise InputError(rep.results / "alpha-diversity.tsv",
                         f"no alpha diversity column (any of {', '.join(ALPHA_INDICES)})", line=1)
    _numeric(alpha, rep.results / "alpha-diversity.tsv", cols)
    if metadata is not None and cols:
        for by in _design_columns(metadata):
            rep.figure(figs.grouped_boxes(alpha, metadata[by].astype(str), cols, f"Alpha diversity by {by}"),
                       f"alpha-by-{by}")
    tests = rep.read("diversity-tests.tsv")
    if tests is not None:
        rep.text("Between groups: Mann-Whitney U with Hodges-Lehmann shift; within subjects: "
                 "Wilcoxon signed-rank; q = Benjamini-Hochberg within comparison.")
        rep.table(tests, "diversity-tests", max_rows=60)
    dys = rep.read("dysbiosis.tsv")
    if dys is not None:
        rep.text("Dysbiosis score: median distance of a sample to the healthy controls.")
        rep.table(dys, "dysbiosis")


def _beta(rep: _Report, metadata: pd.DataFrame | None) -> None:
    perm = rep.read("permanova.tsv")
    shown = False
    for metric in ("braycurtis", "weighted_unifrac", "unweighted_unifrac", "jaccard", "aitchison"):
        path = rep.results / f"pcoa-{metric}.tsv"
        if not path.exists() or metadata is None:
            continue
        coords = read_result_table(path, index_col=0, comment="#")
        if not {"PC1", "PC2"} <= set(coords.columns):
            continue
        explained = _explained(path)
        by = _design_columns(metadata)
        if by:
            rep.figure(figs.ordination(coords, metadata[by[0]].astype(str), f"PCoA, {metric}", explained),
                       f"pcoa-{metric}")
            shown = True
        if metric == "braycurtis" and len(by) > 1:
            rep.figure(figs.ordination(coords, metadata[by[1]].astype(str), f"PCoA, {metric}", explained),
                       f"pcoa-{metric}-{by[1]}")
    if perm is not None:
        rep.text("PERMANOVA (vegan adonis2 semantics); permutations within subject for paired designs.")
        rep.table(perm, "permanova", max_rows=60)
    elif not shown:
        rep.text("No beta diversity results.")


def _explained(path: Path) -> tuple[float, float] | None:
    side = path.with_name(path.name.replace("pcoa-", "pcoa-explained-"))
    if side.exists():
        df = read_result_table(side)
        col = [c for c in df.columns if "explained" in c.lower()]
        if col and len(df) >= 2:
            return float(df[col[0]].iloc[0]), float(df[col[0]].iloc[1])
    return None


def _differential(rep: _Report) -> None:
    cons = rep.read("differential-consensus.tsv")
    lefse = rep.read("differential-lefse.tsv")
    if cons is None and lefse is None:
        rep.text("No differential abundance results.")
        return
    if lefse is not None and {"effect", "feature", "contrast"} <= set(lefse.columns):
        for contrast, sub in lefse.groupby("contrast"):
            sig = sub[sub["effect"].abs() >= 2.0]
            if "rank" in sig.columns:
                sig = sig[sig["rank"].astype(str).isin(["genus", "family"])]
            if len(sig):
                sig = sig.reindex(sig["effect"].abs().sort_values(ascending=False).index).head(30)
                rep.figure(figs.lda_bars(sig, f"LEfSe, {contrast} (|LDA| >= 2, genus and family)"),
                           f"lefse-{contrast}")
    if cons is not None:
        rep.text("Consensus: for each feature, the methods that call it (q < 0.05; LEfSe |LDA| > 2). "
                 "Methods disagree (Nearing et al. 2022); trust what several agree on.")
        if "n_methods" in cons.columns:
            cons = cons.sort_values("n_methods", ascending=False)
        rep.table(cons, "differential-consensus", max_rows=40)
    guilds = rep.read("differential-guilds.tsv")
    if guilds is not None:
        rep.text("Functional guilds (butyrate producers, inflammation-associated taxa).")
        rep.table(guilds, "differential-guilds")


def _associations(rep: _Report) -> None:
    files = sorted(rep.results.glob("associations-matrix-*.tsv"))
    tables = sorted(p for p in rep.results.glob("associations-*.tsv") if "matrix" not in p.name)
    if not files and not tables:
        rep.text("No association results.")
        return
    for path in tables:
        df = read_result_table(path)
        if {"feature", "measure", "rho"} <= set(df.columns) and len(df):
            kind = path.stem.removeprefix("associations-")
            q = df["q_value"] if "q_value" in df else pd.Series(np.nan, index=df.index)
            top = df.assign(_q=q).sort_values("_q").drop_duplicates("feature").head(20)["feature"]
            sub = df[df["feature"].isin(top)]
            mat = sub.pivot_table(index="feature", columns="measure", values="rho")
            stars = (sub.assign(_sig=sub.get("q_value", 1.0) < 0.05)
                     .pivot_table(index="feature", columns="measure", values="_sig", aggfunc="max")
                     .reindex_like(mat).fillna(False))
            if mat.shape[0] and mat.shape[1]:
                rep.figure(figs.heatmap(mat, f"Spearman correlations ({kind}); * q < 0.05", stars),
                           f"heatmap-{kind}")
            rep.table(df.sort_values("q_value") if "q_value" in df else df, path.stem, max_rows=25)


def _truth(rep: _Report, truth: Path) -> None:
    scores = score_against_truth(rep.results, truth)
    if not scores:
        log.warning("nothing in %s can be scored against %s", rep.results, truth)
        rep.text(f"None of the results can be scored against {truth} (no ASV sequences, "
                 "feature table, clinical response or association tables to compare).", cls="missing")
        return
    rep.text("The demo's data are simulated, so every result can be scored against the truth.")
    rep.table(pd.DataFrame(scores.items(), columns=["measure", "value"]).set_index("measure"), "truth-scores")


def _methods(rep: _Report, *, complete: bool) -> None:
    import json

    rows = []
    for path in sorted((rep.results / "logs").glob("*.run-info.json")):
        try:
            info = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(path, f"not a readable run-info file ({exc})") from None
        secs = sum(info.get("timings_seconds", {}).values()) if info.get("timings_seconds") else None
        rows.append({"stage": path.name.split(".")[0], "command": info.get("command"),
                     "seconds": secs, "options": json.dumps(info.get("options", {}))[:200]})
    if rows:
        rep.table(pd.DataFrame(rows).set_index("stage"), "provenance")
    if complete:
        rep.text("Every output folder holds run-info.json with the versions, options and seeds used.")
    else:
        rep.text("This results folder has no run-info.json: the versions, options and seeds of "
                 "the run that wrote it are not recorded (see logs/ for the stages that finished).",
                 cls="missing")


def _design_columns(metadata: pd.DataFrame) -> list[str]:
    return [c for c in ("group", "time", "response") if c in metadata.columns
            and metadata[c].notna().any()]
