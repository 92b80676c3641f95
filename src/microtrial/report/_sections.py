"""Report sections, first half: cohort, sequencing, composition, alpha and beta diversity."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.design import RESPONSE_COLUMN, Comparison
from microtrial.errors import InputError
from microtrial.names import BETA_METRICS
from microtrial.report import _figures as figs
from microtrial.report._context import Context, fmt_num, fmt_p, numeric, read_result_table
from microtrial.report._data import composition, ordered_levels
from microtrial.report._page import MAX_TABLE_ROWS

log = logging.getLogger(__name__)

ALPHA_INDICES = ("observed_features", "shannon", "simpson", "chao1", "faith_pd")
ALPHA_LABELS = {"observed_features": "observed features (ASVs)", "shannon": "Shannon index (nats)",
                "simpson": "Simpson index (1 - sum p^2)", "chao1": "Chao1 (estimated ASVs)",
                "faith_pd": "Faith's phylogenetic diversity (branch length)",
                "ace": "ACE (estimated ASVs)", "pielou_evenness": "Pielou's evenness"}
CSM = ("phga", "ptga", "mmt8", "haq", "extramuscular", "ck", "aldolase", "ldh", "alt", "ast")
CSM_LABELS = {"phga": "PhGA (0-10 cm)", "ptga": "PtGA (0-10 cm)", "mmt8": "MMT-8",
              "haq": "HAQ (0-3)", "extramuscular": "extramuscular (0-10 cm)", "ck": "CK (U/L)",
              "aldolase": "aldolase (U/L)", "ldh": "LDH (U/L)", "alt": "ALT (U/L)", "ast": "AST (U/L)",
              "enzyme": "muscle enzyme"}


def group_labels(ctx: Context) -> tuple[pd.Series | None, list[str]]:
    """Each sample's group x time label ("patient, week12") and their order."""
    d = ctx.design
    g, t = ctx.column(d.group), ctx.column(d.time)
    if g is None and t is None:
        return None, []
    if g is not None and t is not None:
        lab = g + ", " + t
        order = [f"{a}, {b}" for a in ordered_levels(g, d.group_reference)
                 for b in ordered_levels(t, d.time_reference)]
        return lab, [o for o in order if (lab == o).any()]
    one = g if g is not None else t
    assert one is not None
    return one, ordered_levels(one, d.group_reference if g is not None else d.time_reference)


# ---------------------------------------------------------------------------- cohort
def cohort(ctx: Context) -> None:
    md = ctx.metadata
    d = ctx.design
    if md is None:
        ctx.page.text("No sample metadata in this results folder.")
        return
    g = ctx.column(d.group)
    t = ctx.column(d.time)
    base = md if t is None or d.time_reference is None else md[t == d.time_reference]
    groups = g.reindex(base.index) if g is not None else pd.Series("all", index=base.index)
    levels = ordered_levels(groups, d.group_reference)
    subj = ctx.column(d.subject)
    rows: list[dict[str, object]] = []
    header = {lv: f"{lv}" for lv in levels}

    def count_row(label: str, values: dict[str, str], test: str = "") -> None:
        rows.append({"characteristic": label, **{header[k]: v for k, v in values.items()}, "test": test})

    n = {lv: int((groups == lv).sum()) for lv in levels}
    if subj is not None:
        ns = {lv: int(subj.reindex(base.index)[groups == lv].nunique()) for lv in levels}
        count_row("subjects, n", {lv: str(ns[lv]) for lv in levels})
    count_row("samples at baseline, n" if t is not None else "samples, n", {lv: str(n[lv]) for lv in levels})
    skip = {c for c in (d.subject, d.group, d.time, RESPONSE_COLUMN) if c}
    for col in md.columns:
        if col in skip:
            continue
        _char_row(col, md.loc[base.index, col], groups, levels, count_row)
    # core set measures at baseline (one row per subject)
    clin = ctx.read("inputs/clinical.tsv")
    if clin is not None and subj is not None and {"subject", "visit"} <= set(clin.columns):
        vis = clin["visit"].astype(str)
        bl = clin[vis == str(d.clinical_baseline)] if d.clinical_baseline else clin
        sub_group = pd.Series(groups.to_numpy(), index=subj.reindex(base.index).astype(str).to_numpy())
        sub_group = sub_group[~sub_group.index.duplicated()]
        bl = bl.assign(_g=bl["subject"].astype(str).map(sub_group))
        for col in [c for c in CSM if c in bl.columns]:
            _char_row(CSM_LABELS.get(col, col), pd.Series(bl[col].to_numpy(), index=bl.index),
                      bl["_g"].fillna("(not in metadata)").astype(str), levels, count_row, numeric_only=True)
    rates = ctx.read("response-rates.tsv")
    table = pd.DataFrame(rows).fillna("")
    ctx.page.text("Baseline characteristics by group: continuous values as median [IQR], categories "
                  "as n (%). Groups compared with the Mann-Whitney U test (Kruskal-Wallis for more than "
                  "two groups) or Fisher's exact test (chi-square beyond 2 x 2); a blank test cell "
                  "means the measure was taken in one group only.")
    ctx.page.table(table, "table1-cohort", caption="Table 1. Cohort at baseline.", page_size=25)
    if rates is not None and "summary" in rates.columns:
        ctx.page.text("Response rates with exact (Clopper-Pearson) 95% confidence intervals.")
        keep = [c for c in ("group", "description", "summary", "not_evaluable") if c in rates.columns]
        ctx.page.table(rates[keep], "response-rates", caption="Response rates.", tsv=rates)


def _char_row(label: str, values: pd.Series, groups: pd.Series, levels: list[str], add,  # noqa: ANN001
              *, numeric_only: bool = False) -> None:
    from scipy import stats

    nums = pd.to_numeric(values, errors="coerce")
    is_num = nums.notna().sum() >= max(1, 0.8 * values.notna().sum())
    if is_num:
        cells, samples = {}, []
        for lv in levels:
            v = nums[groups.reindex(nums.index) == lv].dropna()
            samples.append(v)
            cells[lv] = (f"{_q(v.median())} [{_q(v.quantile(0.25))}, {_q(v.quantile(0.75))}]"
                         if len(v) else "")
        present = [s for s in samples if len(s)]
        test = ""
        if len(present) == 2:
            p = stats.mannwhitneyu(*present).pvalue
            test = f"Mann-Whitney, {fmt_p(p)}"
        elif len(present) > 2:
            test = f"Kruskal-Wallis, {fmt_p(stats.kruskal(*present).pvalue)}"
        add(f"{label}, median [IQR]", cells, test)
    elif not numeric_only:
        cats = values.astype(str).where(values.notna())
        tab = pd.crosstab(cats, groups.reindex(cats.index)).reindex(columns=levels, fill_value=0)
        if tab.empty or len(tab) > 8:
            return
        test = ""
        observed = tab.loc[:, tab.sum() > 0]
        if observed.shape[1] >= 2 and observed.shape[0] >= 2:
            if observed.shape == (2, 2):
                test = f"Fisher's exact, {fmt_p(stats.fisher_exact(observed.to_numpy())[1])}"
            else:
                test = f"chi-square, {fmt_p(stats.chi2_contingency(observed.to_numpy())[1])}"
        first = True
        for cat, row in tab.iterrows():
            tot = tab.sum()
            add(f"{label}: {cat}, n (%)", {lv: f"{int(row[lv])} ({row[lv] / tot[lv]:.0%})" if tot[lv] else ""
                                            for lv in levels}, test if first else "")
            first = False


def _q(v: object) -> str:
    """A summary value: whole numbers from 100 up, else three significant digits."""
    x = float(v)  # type: ignore[arg-type]
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


# ---------------------------------------------------------------------------- sequencing
def _losses(tracking: pd.DataFrame) -> pd.DataFrame:
    """Read pairs lost at each step: each denoising direction from the filtered reads,
    merging from the fewer of the two denoised counts."""
    t = tracking.apply(pd.to_numeric, errors="coerce")
    before = {"filtered": "input", "denoised-f": "filtered", "denoised-r": "filtered",
              "non-chimeric": "merged"}
    out = {}
    for step, prev in before.items():
        if step in t and prev in t:
            out[step] = t[prev] - t[step]
    if "merged" in t:
        denoised = [c for c in ("denoised-f", "denoised-r") if c in t]
        if denoised:
            out["merged"] = t[denoised].min(axis=1) - t["merged"]
    order = [c for c in ("filtered", "denoised-f", "denoised-r", "merged", "non-chimeric") if c in out]
    return pd.DataFrame(out, index=tracking.index)[order]

def sequencing(ctx: Context) -> None:
    tracking = ctx.read("read-tracking.tsv", index_col=0)
    if tracking is None:
        ctx.page.text("No read tracking: the run started from a feature table.")
    else:
        totals = tracking.sum(numeric_only=True)
        if "input" in totals and totals["input"] > 0 and "non-chimeric" in totals:
            kept = totals["non-chimeric"] / totals["input"]
            ctx.page.text(f"{len(tracking)} samples; {int(totals['input']):,} read pairs in, "
                          f"{int(totals['non-chimeric']):,} ({kept:.1%}) in the final table.")
            losses = _losses(tracking).sum()
            worst = str(losses.idxmax()) if len(losses) else None
            if worst:
                ctx.page.text(f"Most reads were lost at the '{worst}' step "
                              f"({losses[worst] / totals['input']:.1%} of all input read pairs).")
            low = tracking[tracking["non-chimeric"] < 0.5 * tracking["non-chimeric"].median()]
            if len(low):
                ctx.note("sequencing", f"{len(low)} sample(s) kept fewer than half the median number of "
                         f"reads ({', '.join(map(str, low.index[:5]))}{'...' if len(low) > 5 else ''}).",
                         caveat=True)
        ctx.page.figure("read-tracking", *figs.read_tracking(tracking),
                        caption="Read pairs per sample after each processing step.")
        frac = tracking.copy()
        if "input" in frac and "non-chimeric" in frac:
            frac["kept_fraction"] = (frac["non-chimeric"] / frac["input"].replace(0, np.nan)).round(4)
            lost = _losses(tracking)
            if lost.shape[1]:  # the step that lost the most reads, per sample
                frac["most_lost_at"] = lost.idxmax(axis=1).where(lost.max(axis=1) > 0, "")
        _per_row_table(ctx, frac, "read-tracking", "Read tracking per sample", "samples", index=True)
    profiles = {}
    for d, name in (("forward", "quality-profile-f.tsv"), ("reverse", "quality-profile-r.tsv")):
        df = ctx.read(name)
        if df is not None and {"mean_quality", "position"} <= set(df.columns):
            profiles[d] = df
    trunc_info = ctx.run_info("denoise").get("truncation") or {}
    trunc = {"forward": trunc_info.get("trunc_len_f"), "reverse": trunc_info.get("trunc_len_r")}
    if profiles:
        how = "chosen automatically" if trunc_info.get("automatic") else "set in the study file"
        cap = "Mean quality (line) and 25th-75th percentile (band) per position."
        if any(trunc.values()):
            cap += f" Truncation ({how}): forward {trunc['forward']}, reverse {trunc['reverse']} nt."
        ctx.page.figure("quality-profiles", *figs.quality(profiles, trunc), caption=cap)
    curves = ctx.read("rarefaction-curves.tsv")
    if curves is not None and {"sample-id", "depth"} <= set(curves.columns):
        measure = "observed_features" if "observed_features" in curves else curves.columns[-1]
        depth = ctx.run_info("diversity").get("options", {}).get("depth")
        labels, _ = group_labels(ctx)
        ctx.page.figure("rarefaction", *figs.rarefaction(curves, labels, depth, measure),
                        caption="Observed features by subsampled depth; the dashed line is the depth "
                                "every sample was rarefied to for diversity.")


# ---------------------------------------------------------------------------- composition
def composition_section(ctx: Context) -> None:
    counts, tax = ctx.counts(), ctx.taxonomy()
    if counts is None or tax is None:
        ctx.page.text("Composition needs the feature table and taxonomy.tsv.")
        return
    labels, order = group_labels(ctx)
    samples = list(counts.columns)
    if labels is not None:
        rank = {lv: i for i, lv in enumerate(order)}
        samples = sorted(samples, key=lambda s: (rank.get(str(labels.get(s, "")), 99), s))
    for prefix, rank_name, top in (("p", "phylum", 8), ("g", "genus", 12)):
        comp = composition(counts[samples], tax, prefix, top=top)
        if labels is not None and order:
            lab = labels.reindex(comp.index)
            means = comp.groupby(lab).mean().reindex([o for o in order if o in set(lab)])
            ctx.page.figure(f"composition-{rank_name}-by-group", *figs.stacked(
                means, list(means.index), f"Mean composition by group, {rank_name}", "group", rank_name),
                caption=f"Mean relative abundance of the {top} most abundant {rank_name} taxa; the rest "
                        "summed as Other.")
            ctx.page.table((means * 100).round(2).T.rename_axis(rank_name), f"composition-{rank_name}-by-group",
                           index=True, caption=f"Mean relative abundance (%) by group, {rank_name}.")
        ctx.page.figure(f"composition-{rank_name}-by-sample", *figs.stacked(
            comp, list(comp.index), f"Composition per sample, {rank_name}", "sample", rank_name),
            caption="Samples ordered by group and time point.")


# ---------------------------------------------------------------------------- alpha
def alpha(ctx: Context) -> None:
    path = ctx.results / "alpha-diversity.tsv"
    alpha = ctx.read("alpha-diversity.tsv", index_col=0)
    if alpha is None:
        ctx.page.text("No alpha diversity table.")
        return
    cols = [c for c in ALPHA_INDICES if c in alpha]
    if not cols:
        raise InputError(path, f"no alpha diversity column (any of {', '.join(ALPHA_INDICES)})", line=1)
    numeric(alpha, path, cols)
    alpha.index = alpha.index.astype(str)
    labels, order = group_labels(ctx)
    tests = ctx.read("diversity-tests.tsv")
    if labels is not None:
        subjects = ctx.column(ctx.design.subject)
        for col in [c for c in ("shannon", "observed_features", "faith_pd", "chao1", "simpson") if c in cols][:3]:
            name = ALPHA_LABELS[col].split(" (")[0]
            ctx.page.figure(f"alpha-{col}", *figs.boxes(
                pd.to_numeric(alpha[col]), labels, order, title=f"{name[0].upper()}{name[1:]} by group",
                ytitle=ALPHA_LABELS[col], subjects=subjects, subtitle=_test_line(tests, col)),
                caption="Boxes: median and IQR; points: samples; grey lines join each subject's samples.")
    if tests is not None:
        ctx.page.text("Between groups: Mann-Whitney U with the Hodges-Lehmann shift and its 95% CI; "
                      "within subjects: Wilcoxon signed-rank (and a linear mixed model when listed); "
                      "q = Benjamini-Hochberg within each comparison.")
        ctx.page.table(tests, "diversity-tests", caption="Alpha diversity tests.")
        _alpha_findings(ctx, alpha, tests)


def _test_line(tests: pd.DataFrame | None, index: str) -> str:
    """``comparison: test p`` for each comparison of one index (the rank tests)."""
    if tests is None or not {"comparison", "index", "p_value"} <= set(tests.columns):
        return ""
    rows = tests[tests["index"] == index]
    if "test" in rows:
        rows = rows[rows["test"] != "lmm"]
    return "; ".join(f"{r['comparison']}: {r.get('test', '')} {fmt_p(float(r['p_value']))}"
                     for _, r in rows.iterrows())


def _alpha_findings(ctx: Context, alpha: pd.DataFrame, tests: pd.DataFrame) -> None:
    if not {"comparison", "index", "p_value"} <= set(tests.columns):
        return
    sh = tests[(tests["index"] == "shannon")]
    if "test" in sh:
        sh = sh[~sh["test"].astype(str).str.startswith("lmm")]
    sh = sh.drop_duplicates("comparison")
    for _, r in sh.iterrows():
        comp = _comparison(ctx, str(r["comparison"]))
        if comp is None or len(comp.levels) < 2 or comp.kind not in ("between", "paired"):
            continue  # interaction and longitudinal results are summarised with the designs
        col = comp.column
        values = ctx.column(col)
        if values is None:
            continue
        where = comp.where
        sel = pd.Series(True, index=values.index)
        for k, v in where.items():
            w = ctx.column(str(k))
            if w is not None:
                sel &= w == str(v)
        a, b = comp.levels[:2]
        sh_vals = pd.to_numeric(alpha["shannon"]).reindex(values.index)
        ma, mb = sh_vals[sel & (values == a)].median(), sh_vals[sel & (values == b)].median()
        test = str(r.get("test", "")).replace("-", " ").replace("mann whitney", "Mann-Whitney").replace(
            "wilcoxon signed rank", "Wilcoxon signed-rank")
        if float(r["p_value"]) < 0.05:
            verdict = f"was {'lower' if ma < mb else 'higher'} in {a} than {b}"
        else:
            verdict = f"did not differ clearly between {a} and {b}"
        ctx.note("alpha", f"Shannon diversity {verdict} (median {fmt_num(ma)} vs "
                 f"{fmt_num(mb)}; {test}, {fmt_p(float(r['p_value']))}).")


def _comparison(ctx: Context, name: str) -> Comparison | None:
    for c in ctx.design.comparisons:
        if c.name == name:
            return c
    return None


# ---------------------------------------------------------------------------- beta
METRIC_NAMES = {"braycurtis": "Bray-Curtis", "weighted_unifrac": "weighted UniFrac",
                "unweighted_unifrac": "unweighted UniFrac", "jaccard": "Jaccard", "aitchison": "Aitchison",
                "robust_aitchison": "robust Aitchison"}


def beta(ctx: Context) -> None:
    perm = ctx.read("permanova.tsv")
    d = ctx.design
    colour_by = ctx.column(d.group) if d.group else ctx.column(d.time)
    symbol_by = ctx.column(d.time) if d.group and d.time else None
    times = ordered_levels(symbol_by, d.time_reference) if symbol_by is not None else []
    shown = 0
    for metric in BETA_METRICS:  # the registry's order; a metric shows when its PCoA exists
        path = ctx.results / f"pcoa-{metric}.tsv"
        if not path.exists() or colour_by is None:
            continue
        coords = read_result_table(path, index_col=0, comment="#")
        if not {"PC1", "PC2"} <= set(coords.columns):
            continue
        coords.index = coords.index.astype(str)
        note = _permanova_note(perm, metric)
        ctx.page.figure(f"pcoa-{metric}", *figs.pcoa(
            coords, colour_by, symbol_by=symbol_by, subjects=ctx.column(d.subject), time_order=times,
            explained=_explained(path), note=note, title=f"PCoA, {METRIC_NAMES.get(metric, metric)}"),
            caption="Colour: group; symbol: time point; arrows join each subject's first and last "
                    "samples. PERMANOVA R2 and p on the plot.")
        shown += 1
        if shown >= 2:
            break
    if perm is not None:
        ctx.page.text("PERMANOVA (vegan adonis2 semantics; permutations within subject for paired "
                      "designs), with PERMDISP to check dispersion.")
        ctx.page.table(perm, "permanova", caption="PERMANOVA per comparison and metric.")
        _beta_findings(ctx, perm)
    disp = ctx.read("permdisp.tsv")
    if disp is not None:
        ctx.page.table(disp, "permdisp", caption="PERMDISP (homogeneity of dispersions).")
    _dysbiosis(ctx)
    change = ctx.read("dysbiosis-change.tsv")
    if change is not None:
        _per_row_table(ctx, change, "dysbiosis-change", "Dysbiosis score change per subject", "subjects")
    if perm is None and not shown:
        ctx.page.text("No beta diversity results.")


def _dysbiosis(ctx: Context) -> None:
    labels, order = group_labels(ctx)
    dys = ctx.read("dysbiosis.tsv")
    if dys is not None and len(dys) and {"sample-id", "dysbiosis"} <= set(dys.columns) and labels is not None:
        first = dys[dys["metric"] == dys["metric"].iloc[0]] if "metric" in dys else dys
        v = pd.Series(pd.to_numeric(first["dysbiosis"]).to_numpy(), index=first["sample-id"].astype(str))
        metric = str(first["metric"].iloc[0]) if "metric" in first else ""
        ctx.page.figure("dysbiosis", *figs.boxes(v, labels, order, title="Dysbiosis score by group",
                                                 ytitle=f"median {METRIC_NAMES.get(metric, metric)} distance to reference",
                                                 subjects=ctx.column(ctx.design.subject)),
                        caption="Dysbiosis: a sample's median distance to the healthy reference samples.")


def _permanova_note(perm: pd.DataFrame | None, metric: str) -> str:
    if perm is None or not {"metric", "R2", "p_value"} <= set(perm.columns):
        return ""
    lines = []
    for _, r in perm[perm["metric"] == metric].iterrows():
        label = str(r.get("comparison", r.get("term", "")))
        lines.append(f"PERMANOVA {label}: R2 = {float(r['R2']):.3f}, {fmt_p(float(r['p_value']))}")
    return "\n".join(lines)


def _beta_findings(ctx: Context, perm: pd.DataFrame) -> None:
    if not {"metric", "R2", "p_value"} <= set(perm.columns):
        return
    sub = perm[perm["metric"] == "braycurtis"]
    for _, r in sub.iterrows():
        label = str(r.get("comparison", r.get("term", "")))
        if "term" in r and ":" in str(r["term"]):
            continue  # with the designs
        if "comparison" in r and "term" in r and sub["comparison"].eq(r["comparison"]).sum() > 1:
            label = f"{r['term']} ({r['comparison']})"
        verdict = "differed" if float(r["p_value"]) < 0.05 else "did not differ clearly"
        ctx.note("beta", f"Community composition (Bray-Curtis) {verdict} for {label} "
                 f"(PERMANOVA R2 = {float(r['R2']):.3f}, {fmt_p(float(r['p_value']))}).")


def _explained(path: Path) -> tuple[float, float] | None:
    side = path.with_name(path.name.replace("pcoa-", "pcoa-explained-"))
    if side.exists():
        df = read_result_table(side)
        col = [c for c in df.columns if "explained" in c.lower()]
        if col and len(df) >= 2:
            return float(df[col[0]].iloc[0]), float(df[col[0]].iloc[1])
    return None


def per_row_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Each numeric column's n, minimum, 5th, 25th, 50th, 75th and 95th percentiles and
    maximum (rows), for a per-sample or per-subject table too long to list."""
    num = df.select_dtypes("number")
    qs = num.quantile([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    qs.index = ["minimum", "5%", "25%", "median", "75%", "95%", "maximum"]
    out = pd.concat([num.count().to_frame("n").T, qs])
    return out.rename_axis("statistic")


def _per_row_table(ctx: Context, df: pd.DataFrame, name: str, caption: str, what: str, *,
                   index: bool = False) -> None:
    """A per-sample or per-subject table: listed when short, summarised (percentiles of each
    numeric column) when longer than ``MAX_TABLE_ROWS``; its TSV has every row either way."""
    if len(df) <= MAX_TABLE_ROWS:
        ctx.page.table(df, name, index=index, caption=f"{caption}.")
        return
    ctx.page.table(per_row_summary(df).round(4), name, index=True,
                   caption=f"{caption}: summary of {len(df):,} {what} (every row is in the file).",
                   tsv=df.reset_index() if index else df)
