"""Report sections, second half: differential abundance, clinical response, associations,
functions and designs with interactions."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microtrial.design import Comparison
from microtrial.report import _figures as figs
from microtrial.report._context import Context, fmt_p, read_result_table
from microtrial.report._data import ordered_levels, short_taxon, unique_names
from microtrial.report._sections import CSM_LABELS

log = logging.getLogger(__name__)

VOLCANO_METHODS = ("ancombc", "aldex", "lmm", "paired-wilcoxon")


def _names(df: pd.DataFrame) -> list[str]:
    taxa = df["taxon"].fillna(df["feature"]).astype(str).tolist() if "taxon" in df else None
    return unique_names(df["feature"].astype(str).tolist(), taxa)


# ---------------------------------------------------------------------------- differential
def differential(ctx: Context) -> None:
    cons = ctx.read("differential-consensus.tsv")
    lefse = ctx.read("differential-lefse.tsv")
    if cons is None and lefse is None:
        ctx.page.text("No differential abundance results.")
        return
    if lefse is not None and {"effect", "feature", "contrast"} <= set(lefse.columns):
        for contrast, sub in lefse.groupby("contrast", sort=False):
            sig = sub[pd.to_numeric(sub["effect"], errors="coerce").abs() >= 2.0]
            if "rank" in sig.columns:
                sig = sig[sig["rank"].astype(str).isin(["genus", "family"])]
            if not len(sig):
                continue
            sig = sig.reindex(sig["effect"].abs().sort_values(ascending=False).index).head(30)
            test = str(sig["test_level"].iloc[0]) if "test_level" in sig else "test"
            ref = str(sig["reference_level"].iloc[0]) if "reference_level" in sig else "reference"
            groups = [test if e > 0 else ref for e in sig["effect"]]
            ctx.page.figure(f"lefse-{contrast}", *figs.hbars(
                _names(sig), sig["effect"].to_numpy(dtype=float), groups,
                title=f"LEfSe, {contrast}: genera and families with |LDA| >= 2",
                xtitle="LDA score (log10); sign = direction", group_order=[test, ref]),
                caption="LEfSe (Segata et al. 2011): Kruskal-Wallis then LDA effect size. LEfSe does "
                        "not control the false discovery rate; read it with the methods below.")
            from microtrial.report._cladogram import cladogram

            drawn = cladogram(sub, test=test, reference=ref, title=f"Cladogram, {contrast}")
            if drawn is not None:
                ctx.page.figure(f"cladogram-{contrast}", *drawn,
                                caption="Taxonomic tree (domain at the centre, genus outermost); taxa "
                                        "LEfSe calls (|LDA| >= 2) coloured by the group they are higher in.")
    for method in VOLCANO_METHODS:
        df = ctx.read(f"differential-{method}.tsv")
        if df is None or not len(df) or not {"feature", "contrast", "effect", "p_value", "q_value"} <= set(df.columns):
            continue
        if "rank" in df.columns:
            pick = "genus" if (df["rank"] == "genus").any() else str(df["rank"].iloc[0])
            df = df[df["rank"] == pick]
        else:
            pick = "feature"
        for contrast, sub in df.groupby("contrast", sort=False):
            sub = sub.assign(name=_names(sub))
            etype = str(sub["effect_type"].iloc[0]).replace("_", " ") if "effect_type" in sub else "effect"
            ctx.page.figure(f"volcano-{method}-{contrast}", *figs.volcano(
                sub, title=f"{method}, {contrast} ({pick} level)", xtitle=etype),
                caption="Each point a taxon; coloured when q < 0.05 (Benjamini-Hochberg).")
            break  # one volcano per method: the first contrast; every contrast is in the tables
    if cons is not None:
        ctx.page.text("Consensus across methods: for each taxon, the methods that call it (q < 0.05; "
                      "LEfSe |LDA| > 2), with direction and effect. Methods disagree (Nearing et al. "
                      "2022): trust what several agree on.")
        table = readable_consensus(cons)
        ctx.page.table(table, "differential-consensus", caption="Differential abundance, consensus.",
                       tsv=cons)
        _diff_findings(ctx, cons)
    guilds = ctx.read("differential-guilds.tsv")
    if guilds is not None:
        keep = [c for c in ("method", "feature", "contrast", "effect", "effect_type", "p_value", "q_value")
                if c in guilds.columns]
        ctx.page.table(guilds[keep], "differential-guilds", tsv=guilds,
                       caption="Functional guilds (butyrate producers, inflammation-associated taxa).")


def readable_consensus(cons: pd.DataFrame) -> pd.DataFrame:
    """Taxon name, rank, contrast, number of methods, then one 'direction effect' per method."""
    methods = [c.removesuffix("_called") for c in cons.columns if c.endswith("_called")]
    out = pd.DataFrame({"taxon": _names(cons)})
    for c in ("rank", "contrast", "n_methods"):
        if c in cons.columns:
            out[c] = cons[c].to_numpy()
    for m in methods:
        called = cons[f"{m}_called"].astype(str).str.lower() == "true"
        direction = cons.get(f"{m}_direction", pd.Series("", index=cons.index)).fillna("").astype(str)
        effect = pd.to_numeric(cons.get(f"{m}_effect", pd.Series(np.nan, index=cons.index)), errors="coerce")
        arrow = direction.map({"up": "\u2191 ", "down": "\u2193 "}).fillna("")
        text = [f"{a}{e:.2f}" if ok and e == e else ("" if e != e else f"({e:.2f})")
                for a, e, ok in zip(arrow, effect, called, strict=True)]
        out[m] = text
    if "n_methods" in out.columns:
        out = out.sort_values("n_methods", ascending=False, kind="stable")
    return out.reset_index(drop=True)


def _diff_findings(ctx: Context, cons: pd.DataFrame) -> None:
    if not {"contrast", "n_methods"} <= set(cons.columns):
        return
    for contrast, sub in cons.groupby("contrast", sort=False):
        sub = sub[(sub["n_methods"] >= 2) & (sub.get("rank", "genus") != "asv")]
        if not len(sub):
            continue
        names = _names(sub.sort_values("n_methods", ascending=False))[:6]
        ctx.note("differential", f"{len(sub)} {'taxon' if len(sub) == 1 else 'taxa'} (genus or family level) {'was' if len(sub) == 1 else 'were'} called by at least two "
                 f"methods for {contrast}: {', '.join(names)}{' and others' if len(sub) > 6 else ''}.")


# ---------------------------------------------------------------------------- clinical
def clinical(ctx: Context) -> None:
    resp = ctx.read("clinical-response.tsv")
    immune = ctx.read("immune-paired.tsv")
    if resp is None and immune is None:
        ctx.page.text("No clinical table in this study (no clinical or immune measures).")
        return
    if resp is not None:
        rates = ctx.read("response-rates.tsv")
        if rates is not None and "summary" in rates.columns and len(rates):
            keep = [c for c in ("group", "description", "summary") if c in rates.columns]
            ctx.page.table(rates[keep], "response-rates-clinical", tsv=rates,
                           caption="Responders, rates with exact (Clopper-Pearson) 95% CIs.")
            first = rates.iloc[0]
            ctx.note("clinical", f"{first.get('description', 'Response')}: {first['summary']}.")
        ctx.page.text("IMACS definition of improvement (Rider et al. 2004) and 2016 ACR/EULAR total "
                      "improvement score (Aggarwal et al. 2017). A baseline of 0 with follow-up 0 counts as "
                      "no change, with follow-up above 0 as worsened by more than 25%; a missing core set "
                      "measure makes the subject not evaluable for that criterion (never imputed).")
        if {"subject", "tis", "tis_category"} <= set(resp.columns):
            ok = resp.dropna(subset=["tis"])
            ctx.page.figure("tis-waterfall", *figs.waterfall(
                ok["subject"].astype(str).tolist(), ok["tis"].to_numpy(dtype=float),
                ok["tis_category"].astype(str).tolist(),
                {"minimal (20)": 20, "moderate (40)": 40, "major (60)": 60}
                if ctx.design.population != "juvenile"
                else {"minimal (30)": 30, "moderate (45)": 45, "major (70)": 70},
                "Total improvement score per subject"), caption="TIS waterfall, coloured by category.")
        pct = [c for c in resp.columns if c.startswith("pct_")]
        if pct and "subject" in resp.columns:
            wide = resp.set_index(resp["subject"].astype(str))[pct].apply(pd.to_numeric, errors="coerce")
            wide.columns = [CSM_LABELS.get(c.removeprefix("pct_"), c.removeprefix("pct_")) for c in pct]
            ctx.page.figure("csm-change", *figs.strips(wide, title="Core set measure change, baseline to follow-up",
                                                       ytitle="improvement (%)"),
                            caption="Percent improvement per core set measure (positive = better).")
        ctx.page.table(resp, "clinical-response", caption="Clinical response per subject.")
    if immune is not None:
        _immune(ctx, immune)


def _immune(ctx: Context, paired: pd.DataFrame) -> None:
    ctx.page.heading("Immune endpoints")
    raw = ctx.read("inputs/immune.tsv")
    before = ctx.design.clinical_baseline
    after = ctx.design.clinical_followup
    if raw is not None and {"subject", "visit"} <= set(raw.columns):
        visits = [str(v) for v in pd.unique(raw["visit"].astype(str))]
        before = before if before in visits else (visits[0] if visits else None)
        after = after if after in visits else next((v for v in visits if v != before), None)
    for _, r in paired.iterrows():
        m = str(r["measure"])
        res = f"{r.get('summary', '')}; Wilcoxon signed-rank ({r.get('method', '')}), {fmt_p(float(r['p_value']))}"
        if float(r["p_value"]) < 0.05:
            ctx.note("clinical", f"{m} changed from baseline to follow-up: {r.get('summary', '')} "
                     f"(follow-up vs baseline, median [IQR]; Wilcoxon {fmt_p(float(r['p_value']))}).")
        if raw is None or m not in raw.columns or before is None or after is None:
            continue
        wide = raw.pivot_table(index="subject", columns="visit", values=m)
        wide.columns = wide.columns.astype(str)
        if {before, after} <= set(wide.columns):
            wide = wide[[before, after]].dropna()
            ctx.page.figure(f"immune-{m}", *figs.paired(wide, before, after, title=m, ytitle=m,
                                                                     subtitle=_paired_note(r, after, before)),
                            caption=f"{m}: {res}.", small=True)
    ctx.page.table(paired, "immune-paired", caption="Immune endpoints, paired tests.")


def _paired_note(r: pd.Series, after: str, before: str) -> str:
    """``week12 16.6 [12.7, 22.1] vs baseline 11.7 [8.24, 12.9]`` and the Wilcoxon p."""
    cols = ("followup_median", "followup_q1", "followup_q3", "baseline_median", "baseline_q1", "baseline_q3")
    if all(c in r.index for c in cols):
        f = [float(r[c]) for c in cols]
        return (f"{after} {f[0]:.3g} [{f[1]:.3g}, {f[2]:.3g}] vs {before} {f[3]:.3g} [{f[4]:.3g}, {f[5]:.3g}]"
                f"\nWilcoxon signed-rank {fmt_p(float(r['p_value']))}")
    return f"Wilcoxon signed-rank {fmt_p(float(r['p_value']))}"


# ---------------------------------------------------------------------------- associations
def associations(ctx: Context) -> None:
    tables = sorted(p for p in ctx.results.glob("associations-*-spearman.tsv"))
    others = sorted(p for p in ctx.results.glob("associations-*.tsv")
                    if "matrix" not in p.name and p not in tables)
    if not tables and not others:
        ctx.page.text("No association results.")
        return
    best: list[tuple[float, str, pd.Series]] = []
    for path in tables:
        df = read_result_table(path)
        if not {"feature", "measure", "rho"} <= set(df.columns) or not len(df):
            continue
        kind = path.stem.removeprefix("associations-").removesuffix("-spearman")
        q = pd.to_numeric(df.get("q_value", pd.Series(np.nan, index=df.index)), errors="coerce")
        df = df.assign(_q=q.fillna(1.0))
        top = df.sort_values("_q").drop_duplicates("feature").head(25)["feature"]
        sub = df[df["feature"].isin(top)]
        mat = sub.pivot_table(index="feature", columns="measure", values="rho")
        sig = sub.assign(_s=sub["_q"] < 0.05).pivot_table(index="feature", columns="measure", values="_s",
                                                           aggfunc="max").reindex_like(mat).fillna(False)
        if mat.shape[0] >= 2 and mat.shape[1] >= 1:
            mat, sig = _cluster(mat, sig)
            mat.index = unique_names(list(mat.index))
            sig.index = mat.index
            ctx.page.figure(f"heatmap-{kind}", *figs.heatmap(
                mat, sig, title=f"Taxa, guilds and diversity vs {kind} measures (Spearman); * q < 0.05"),
                caption="Rows and columns clustered (average linkage on correlation distance).")
        taxa = df[df["feature"].astype(str).str.contains("__", regex=False)
                  | (df.get("feature_type", pd.Series("", index=df.index)).astype(str) == "guild")]
        for _, row in (taxa if len(taxa) else df).sort_values("_q").head(2).iterrows():
            best.append((float(row["_q"]), kind, row))
        show = df.sort_values("_q").drop(columns="_q")
        show.insert(0, "name", unique_names(show["feature"].astype(str).tolist()))
        ctx.page.table(show.drop(columns="feature"), path.stem, tsv=df.drop(columns="_q"),
                       caption=f"Spearman correlations with {kind} measures (BH q within table).")
    best.sort(key=lambda t: t[0])
    for q_best, kind, row in best[:6]:
        _scatter(ctx, kind, row)
        if q_best < 0.05:
            ctx.note("associations", f"{short_taxon(row['feature'])} correlated with {row['measure']} "
                     f"(Spearman rho = {float(row['rho']):.2f}, q = {q_best:.2g}, n = {row.get('n', '')}).")
    for path in others:
        df = read_result_table(path)
        if "feature" in df.columns:
            df.insert(0, "name", unique_names(df["feature"].astype(str).tolist()))
        ctx.page.table(df.drop(columns=["feature"], errors="ignore"), path.stem, tsv=df,
                       caption=f"{path.stem.removeprefix('associations-')}.")


def _cluster(mat: pd.DataFrame, sig: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from scipy.cluster.hierarchy import leaves_list, linkage

    filled = mat.fillna(0.0)
    rows = leaves_list(linkage(filled.to_numpy(), "average", metric="correlation")) \
        if len(mat) > 2 and filled.to_numpy().std(axis=1).min() > 0 else np.arange(len(mat))
    cols = leaves_list(linkage(filled.to_numpy().T, "average", metric="correlation")) \
        if mat.shape[1] > 2 and filled.to_numpy().std(axis=0).min() > 0 else np.arange(mat.shape[1])
    return mat.iloc[rows, cols], sig.iloc[rows, cols]


def _scatter(ctx: Context, kind: str, r: pd.Series) -> None:
    """Per-sample scatter of one association (when the raw values can be joined)."""
    x = _feature_values(ctx, str(r["feature"]))
    y = _measure_values(ctx, kind, str(r["measure"]))
    if x is None or y is None:
        return
    both = pd.concat([x.rename("x"), y.rename("y")], axis=1).dropna()
    if len(both) < 3:
        return
    name = short_taxon(r["feature"])
    xt = "relative abundance" if ";" in str(r["feature"]) else name
    ctx.page.figure(f"scatter-{kind}-{r['measure']}-{name}", *figs.scatter(
        both["x"], both["y"], ctx.column(ctx.design.group),
        title=name, subtitle=f"vs {r['measure']}: rho = {float(r['rho']):.2f}, {fmt_p(float(r['p_value']))}",
        xtitle=f"{name}, {xt}" if xt != name else name, ytitle=str(r["measure"])),
        caption="One point per sample with both values.", small=True)


def _feature_values(ctx: Context, feature: str) -> pd.Series | None:
    if ";" in feature:
        counts, tax = ctx.counts(), ctx.taxonomy()
        if counts is None or tax is None:
            return None
        rel = counts / counts.sum(axis=0).replace(0, np.nan)
        hit = tax.reindex(rel.index).fillna("").map(lambda t: str(t).startswith(feature))
        return rel[hit.to_numpy()].sum(axis=0) if hit.any() else None
    for name in ("guilds.tsv", "alpha-diversity.tsv"):
        df = ctx.read(name, index_col=0)
        if df is not None and feature in df.columns:
            out = pd.to_numeric(df[feature], errors="coerce")
            out.index = out.index.astype(str)
            return out
    return None


def _measure_values(ctx: Context, kind: str, measure: str) -> pd.Series | None:
    raw = ctx.read(f"inputs/{kind}.tsv")
    if raw is None or measure not in raw.columns:
        return None
    if "sample-id" in raw.columns:
        return pd.Series(pd.to_numeric(raw[measure], errors="coerce").to_numpy(),
                         index=raw["sample-id"].astype(str))
    subj, time = ctx.column(ctx.design.subject), ctx.column(ctx.design.time)
    if subj is None or time is None or not {"subject", "visit"} <= set(raw.columns):
        return None
    key = raw["subject"].astype(str) + "\t" + raw["visit"].astype(str)
    values = pd.Series(pd.to_numeric(raw[measure], errors="coerce").to_numpy(), index=key)
    values = values[~values.index.duplicated()]
    sample_key = subj + "\t" + time
    return pd.Series(values.reindex(sample_key.to_numpy()).to_numpy(), index=sample_key.index)


# ---------------------------------------------------------------------------- functions
def functions(ctx: Context) -> bool:
    """The predicted-function results, when the function stage ran; ``False`` otherwise."""
    diff = ctx.read("function-differential.tsv")
    assoc = ctx.read("function-associations.tsv")
    paths = ctx.read("pathway-abundance.tsv", index_col=0)
    if diff is None and assoc is None and paths is None:
        return False
    info = ctx.run_info("function")
    route = info.get("route") or info.get("options", {}).get("route") or info.get("reference")
    _route_note(ctx, info, route)
    drawn_interest = paths is not None and bool(interest_found(paths, info, diff)[0])
    if paths is not None:
        _pathways_of_interest(ctx, paths, diff, info)
    if diff is not None and {"feature", "effect", "q_value"} <= set(diff.columns):
        keys = [c for c in ("table", "comparison") if c in diff.columns] or \
            [c for c in ("contrast",) if c in diff.columns]
        groups = diff.groupby(keys, sort=False) if keys else [((), diff)]
        for key, sub in groups:
            label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
            if "method" in sub.columns:
                methods = list(pd.unique(sub["method"].astype(str)))
                method = next((m for m in ("aldex", "ancombc", "lmm", "paired-wilcoxon") if m in methods),
                              methods[0])
                sub = sub[sub["method"].astype(str) == method]
                label += f" ({method})"
            sig = sub.dropna(subset=["effect"]).sort_values("q_value").head(20)
            if not len(sig):
                continue
            desc = sig["description"] if "description" in sig else pd.Series("", index=sig.index)
            labels = [f"{f}: {html.unescape(d)}"[:60] if isinstance(d, str) and d else str(f)
                      for f, d in zip(sig["feature"], desc, strict=True)]
            a, b = _levels_of(ctx, str(sig["comparison"].iloc[0]) if "comparison" in sig else "")
            sides = [a if e > 0 else b for e in sig["effect"]]
            ctx.page.figure(f"function-{'-'.join(str(k) for k in (key if isinstance(key, tuple) else (key,)))}",
                            *figs.hbars(labels, sig["effect"].to_numpy(dtype=float), sides,
                                        title=f"Predicted functions, {label}: the 20 lowest q",
                                        xtitle=str(sig["effect_type"].iloc[0]).replace("_", " ")
                                        if "effect_type" in sig else "effect",
                                        group_order=[a, b]),
                            caption=f"Bars: effect (positive = higher in {a}); q: Benjamini-Hochberg."
                                    + (" The lowest q can be pathways most genera carry, shifted only because "
                                       "other pathways' share changed (a compositional effect)"
                                       + ("; the pathways of interest are drawn above." if drawn_interest
                                          else ".") if "pathway" in label else ""))
            hits = sig[sig["q_value"] < 0.05]
            if len(hits):
                ctx.note("functions", f"{len(hits)} predicted functions differed for {label} (q < 0.05), "
                         f"including {', '.join(hits['feature'].astype(str).head(4))}.")
        interest = [str(p) for p in info.get("pathways_of_interest") or []]
        if interest:
            found, absent = interest_found(paths, info, diff)
            hits = diff[diff["feature"].astype(str).isin(found)]
            gone = (f" Absent (not in the predicted pathway map of this run, so neither predicted nor "
                    f"tested): {', '.join(absent)}." if absent else "")
            if len(hits):
                ctx.page.table(hits, "function-pathways-of-interest",
                               caption=f"Pathways of interest found and tested: "
                                       f"{', '.join(p for p in found if p in set(hits['feature'].astype(str)))}."
                                       + gone)
            else:
                ctx.page.text(f"Pathways of interest ({', '.join(interest)}): none among the predicted "
                              "functions tested (the route taken predicts no MetaCyc pathways, or "
                              "they were absent)." + gone)
        ctx.page.table(diff, "function-differential", caption="Predicted functions, differential tests.")
    if assoc is not None:
        ctx.page.table(assoc, "function-associations", caption="Predicted pathways vs measures.")
    if paths is not None:
        top = paths.loc[paths.sum(axis=1).sort_values(ascending=False).index[:200]]
        ctx.page.table(top, "pathway-abundance", index=True, tsv=paths.reset_index(),
                       caption="Predicted pathway abundance (the 200 most abundant shown; all in the file).")
    return True


ROUTES = {
    "picrust2-reference": "each ASV placed on the PICRUSt2 reference tree and its gene content "
                          "predicted by hidden-state prediction from the reference genomes",
    "embedded-genus-table": "each ASV given its genus's (else family's) mean 16S copy number and "
                            "CAZyme families from the table packaged with microtrial (derived from "
                            "PICRUSt2's genomes); no pathways",
    "genus-trait-table": "each ASV given its genus's (else family's, else order's) row of a genus-level "
                         "trait table, MetaCyc pathways from its EC numbers",
}


def _route_note(ctx: Context, info: dict[str, Any], route: object) -> None:
    """Which route produced the functions, and a warning when the trait table is simulated."""
    if route:
        how = ROUTES.get(str(route))
        ctx.page.text(f"Functions predicted from the 16S data by the route '{route}'"
                      + (f": {how}" if how else "") + ". Predictions are not measurements.")
    note = str(info.get("genus_traits_note") or "")
    simulated = bool(info.get("genus_traits_simulated")) or "simulated" in note.lower()
    table = info.get("genus_traits") or info.get("options", {}).get("genus_traits")
    if simulated:
        text = ("The genus trait table is SIMULATED, not real genome content: these function results "
                "only show that the pipeline recovers what the simulator designed"
                + (f" (table note: {note})" if note else "") + ".")
        ctx.page.text(text, cls="missing")
        ctx.note("functions", "Function predictions come from a simulated genus trait table, not real "
                 "genome content.", caveat=True)
    elif table:
        ctx.page.text(f"Genus trait table: {Path(str(table)).name}" + (f" ({note})" if note else "") + ".")


PAIRED_METHODS = ("paired-wilcoxon", "lmm", "aldex", "ancombc")
BETWEEN_METHODS = ("aldex", "ancombc", "lmm")


def interest_found(paths: pd.DataFrame | None, info: dict[str, Any],
                   diff: pd.DataFrame | None = None) -> tuple[list[str], list[str]]:
    """The pathways of interest with a predicted abundance (or a test), and those without
    (absent from the pathway map or never predicted), each in the study's order."""
    interest = [str(p) for p in info.get("pathways_of_interest") or []]
    have: set[str] = set()
    if paths is not None:
        have |= set(paths.index.astype(str))
    if diff is not None and "feature" in diff.columns:
        have |= set(diff["feature"].astype(str))
    if paths is None and diff is None:  # no table to look in: the stage's own list
        have = {str(p) for p in info.get("pathways_of_interest_found") or []}
    return [p for p in interest if p in have], [p for p in interest if p not in have]


def _selected(ctx: Context, comp: Comparison) -> pd.Series | None:
    """Samples a comparison uses (its ``where``), as a boolean Series over the metadata."""
    if ctx.metadata is None:
        return None
    sel = pd.Series(True, index=ctx.metadata.index.astype(str))
    for k, v in comp.where.items():
        w = ctx.column(str(k))
        if w is None:
            return None
        sel &= (w == str(v)).to_numpy()
    return sel


def _effect_line(diff: pd.DataFrame | None, feature: str, comparison: str,
                 prefer: tuple[str, ...]) -> tuple[str, str]:
    """``("<method>: effect 0.54, q = 0.021", "log2 clr difference")`` for the first method of
    ``prefer`` that tested ``feature`` in ``comparison`` (empty strings when none did)."""
    if diff is None or not {"feature", "effect", "q_value"} <= set(diff.columns):
        return "", ""
    rows = diff[diff["feature"].astype(str) == feature]
    if "comparison" in rows.columns:
        rows = rows[rows["comparison"].astype(str) == comparison]
    if "table" in rows.columns and (rows["table"].astype(str) == "pathway").any():
        rows = rows[rows["table"].astype(str) == "pathway"]
    if not len(rows):
        return "", ""
    if "method" in rows.columns:
        methods = list(pd.unique(rows["method"].astype(str)))
        method = next((m for m in prefer if m in methods), methods[0])
        rows = rows[rows["method"].astype(str) == method]
    else:
        method = "test"
    r = rows.iloc[0]
    etype = str(r.get("effect_type", "effect")).replace("_", " ")
    q = float(r["q_value"])
    return f"{method}: effect {float(r['effect']):.2f}, q = " + (f"{q:.2g}" if q == q else "NA"), etype


def _pathways_of_interest(ctx: Context, paths: pd.DataFrame, diff: pd.DataFrame | None,
                          info: dict[str, Any]) -> None:
    """Per pathway of interest: each subject's relative abundance at the paired comparison's
    two time points (lines join a subject's samples), and the groups at baseline."""
    found, _absent = interest_found(paths, info, diff)
    if not found:
        return
    paths = paths.apply(pd.to_numeric, errors="coerce")
    paths.index = paths.index.astype(str)
    paths.columns = paths.columns.astype(str)
    rel = paths / paths.sum(axis=0).replace(0, np.nan) * 100
    desc: dict[str, str] = {}
    if diff is not None and {"feature", "description"} <= set(diff.columns):
        desc = dict(zip(diff["feature"].astype(str), diff["description"].fillna("").astype(str).map(html.unescape),
                        strict=True))
    paired = [c for c in ctx.design.comparisons if c.kind == "paired" and len(c.levels) >= 2]
    between = [c for c in ctx.design.comparisons if c.kind == "between" and len(c.levels) >= 2
               and c.column == ctx.design.group]
    subjects = ctx.column(ctx.design.subject)
    ctx.page.heading("Pathways of interest")
    if _absent:
        ctx.page.text(f"Found in the predicted pathways: {', '.join(found)}. Absent (not in this run's "
                      f"predicted pathway map, so not drawn or tested): {', '.join(_absent)}.")
    drawn = 0
    for pw in found:
        about = f"{pw} ({desc[pw]})" if desc.get(pw) else pw  # in the caption: small titles must fit
        values: pd.Series = rel.iloc[list(rel.index).index(pw)]
        for comp in paired[:1]:
            col = ctx.column(comp.column)
            sel = _selected(ctx, comp)
            if col is None or sel is None or subjects is None:
                continue
            after, before = comp.levels[:2]
            keep = sel & col.isin([before, after]).to_numpy() & col.index.isin(values.index)
            frame = pd.DataFrame({"s": subjects[keep], "t": col[keep]})
            frame["v"] = values.reindex(frame.index).to_numpy()
            wide = frame.pivot_table(index="s", columns="t", values="v", aggfunc="mean")
            if not {before, after} <= set(wide.columns):
                continue
            wide = wide[[before, after]].dropna()
            if len(wide) < 2:
                continue
            line, etype = _effect_line(diff, pw, comp.name, PAIRED_METHODS)
            ctx.page.figure(f"function-{pw}-{comp.name}", *figs.paired(
                wide, before, after, title=pw, ytitle="% of predicted pathways",
                subtitle="\n".join([comp.name, *([line] if line else [])])),
                caption=f"{about}: predicted relative abundance per subject, {before} to {after} "
                        f"({len(wide)} subjects with both; grey lines join a subject's samples)"
                        + (f"; {comp.name}, {line} (effect: {etype})." if line else "."),
                small=True)
            drawn += 1
        for comp in between[:1]:
            col = ctx.column(comp.column)
            sel = _selected(ctx, comp)
            if col is None or sel is None:
                continue
            levels = list(comp.levels)
            keep = sel & col.isin(levels).to_numpy() & col.index.isin(values.index)
            v = values.reindex(col.index[keep])
            if v.notna().sum() < 3:
                continue
            order = list(reversed(levels))  # reference first, as on the time axis
            where = ", ".join(f"{k} {w}" for k, w in comp.where.items())
            line, etype = _effect_line(diff, pw, comp.name, BETWEEN_METHODS)
            ctx.page.figure(f"function-{pw}-{comp.name}", *figs.boxes(
                v, col, order, title=pw, ytitle="% of predicted pathways",
                subtitle="\n".join([comp.name + (f" ({where})" if where else ""),
                                     *([line] if line else [])])),
                caption=f"{about}: predicted relative abundance by {comp.column}"
                        + (f" ({where})" if where else "")
                        + (f"; {line} (effect: {etype})." if line else "."), small=True)
            drawn += 1
    if not drawn:
        ctx.page.text("The pathways of interest were predicted, but the study file names no paired or "
                      "between-group comparison whose samples could be plotted.", cls="missing")


def _levels_of(ctx: Context, comparison: str) -> tuple[str, str]:
    """The two levels a comparison contrasts (test first), from the study file."""
    for c in ctx.design.comparisons:
        if c.name == comparison and len(c.levels) >= 2:
            return c.levels[0], c.levels[1]
    return "the first level", "the second level"


def designs(ctx: Context) -> bool:
    """Results of interaction / longitudinal terms; ``False`` when the study has none."""
    kinds = {c.kind for c in ctx.design.comparisons}
    rows = []
    for name in ("permanova.tsv", "diversity-tests.tsv", *(p.name for p in sorted(ctx.results.glob("differential-*.tsv"))
                                                         if "consensus" not in p.name)):
        df = ctx.read(name)
        if df is None or "term" not in df.columns:
            continue
        inter = df[df["term"].astype(str).str.contains(":", regex=False)]
        if len(inter):
            rows.append((name, inter))
    if not rows and not kinds & {"interaction", "longitudinal"}:
        return False
    spec = [c for c in ctx.design.comparisons if c.kind in ("interaction", "longitudinal")]
    for c in spec:
        levels = " vs ".join(c.levels)
        ctx.page.text(f"Comparison {c.name}: {c.kind} of {c.column}"
                      + (f" ({levels})" if levels else "")
                      + (f" by {c.by}" if c.by else "")
                      + (f" ({' vs '.join(c.by_levels)})" if c.by_levels else "")
                      + (f", random effects: {', '.join(c.random)}" if c.random else "") + ".")
    for name, df in rows:
        stem = name.removesuffix(".tsv")
        term = str(df["term"].iloc[0])
        if stem == "permanova" and {"metric", "R2", "p_value"} <= set(df.columns):
            for _, r in df[df["metric"] == "braycurtis"].head(1).iterrows():
                ctx.note("designs", f"PERMANOVA (Bray-Curtis), interaction {r['term']}: R2 = {float(r['R2']):.3f}, "
                         f"{fmt_p(float(r['p_value']))}.")
            ctx.page.table(df, f"interaction-{stem}", caption=f"Interaction terms in {name}.")
        elif stem == "diversity-tests" and {"index", "p_value"} <= set(df.columns):
            for _, r in df[df["index"] == "shannon"].head(1).iterrows():
                ctx.note("designs", f"Shannon diversity, interaction {r['term']}: {r.get('test', '')} "
                         f"{fmt_p(float(r['p_value']))}.")
            ctx.page.table(df, f"interaction-{stem}", caption=f"Interaction terms in {name}.")
        elif "feature" in df.columns and "q_value" in df.columns:
            method = stem.removeprefix("differential-")
            q = pd.to_numeric(df["q_value"], errors="coerce")
            hits = int((q < 0.05).sum())
            ctx.note("designs", f"{method}: {hits} of {len(df)} features with an interaction {term} "
                     "(q < 0.05).")
            shown = df.assign(_q=q).sort_values("_q").drop(columns="_q")
            keep = [c for c in ("rank", "contrast", "term", "effect", "effect_type", "p_value", "q_value")
                    if c in shown.columns]
            view = shown[keep].copy()
            view.insert(0, "name", _names(shown))
            ctx.page.table(view, f"interaction-{stem}", tsv=shown,
                           caption=f"Interaction {term}, {method} (sorted by q; all columns in the file).")
    if not rows:
        ctx.page.text("The study names interaction or longitudinal comparisons, but no result table "
                      "holds an interaction term yet.", cls="missing")
    return True


def level_order(ctx: Context, column: str | None) -> list[str]:
    values = ctx.column(column)
    return ordered_levels(values) if values is not None else []
