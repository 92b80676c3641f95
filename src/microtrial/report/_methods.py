"""The Summary (sentences from the findings the sections noted), the Methods paragraph
(from the ``run-info.json`` of what actually ran) and the simulation-truth scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from microtrial.errors import InputError
from microtrial.report._context import Context
from microtrial.report._page import esc
from microtrial.report._truth import score_against_truth

REFERENCES = {
    "dada2": "Callahan BJ et al. DADA2: high-resolution sample inference from Illumina amplicon data. "
             "Nat Methods 2016;13:581-3.",
    "cutadapt": "Martin M. Cutadapt removes adapter sequences from high-throughput sequencing reads. "
                "EMBnet.journal 2011;17:10-2.",
    "rdp": "Wang Q et al. Naive Bayesian classifier for rapid assignment of rRNA sequences into the new "
           "bacterial taxonomy. Appl Environ Microbiol 2007;73:5261-7.",
    "greengenes": "McDonald D et al. An improved Greengenes taxonomy with explicit ranks for ecological and "
                  "evolutionary analyses of bacteria and archaea. ISME J 2012;6:610-8.",
    "unifrac": "Lozupone C, Knight R. UniFrac: a new phylogenetic method for comparing microbial "
               "communities. Appl Environ Microbiol 2005;71:8228-35.",
    "permanova": "Anderson MJ. A new method for non-parametric multivariate analysis of variance. "
                 "Austral Ecol 2001;26:32-46.",
    "lefse": "Segata N et al. Metagenomic biomarker discovery and explanation. Genome Biol 2011;12:R60.",
    "ancombc": "Lin H, Peddada SD. Analysis of compositions of microbiomes with bias correction. "
               "Nat Commun 2020;11:3514.",
    "aldex": "Fernandes AD et al. Unifying the analysis of high-throughput sequencing datasets: "
             "characterizing RNA-seq, 16S rRNA gene sequencing and selective growth experiments by "
             "compositional data analysis. Microbiome 2014;2:15.",
    "bh": "Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B 1995;57:289-300.",
    "imacs": "Rider LG et al. International consensus on preliminary definitions of improvement in adult "
             "and juvenile myositis. Arthritis Rheum 2004;50:2281-90.",
    "tis": "Aggarwal R et al. 2016 ACR/EULAR criteria for minimal, moderate, and major clinical response in "
           "adult dermatomyositis and polymyositis. Arthritis Rheumatol 2017;69:898-910.",
    "rmcorr": "Bakdash JZ, Marusich LR. Repeated measures correlation. Front Psychol 2017;8:456.",
    "picrust2": "Douglas GM et al. PICRUSt2 for prediction of metagenome functions. Nat Biotechnol "
                "2020;38:685-8.",
    "minpath": "Ye Y, Doak TG. A parsimony approach to biological pathway reconstruction/inference for "
               "genomes and metagenomes. PLoS Comput Biol 2009;5:e1000465.",
    "nearing": "Nearing JT et al. Microbiome differential abundance methods produce different results "
               "across 38 datasets. Nat Commun 2022;13:342.",
}


def methods(ctx: Context, *, complete: bool) -> None:
    """A paragraph per stage that ran, with the options it used, then references."""
    from microtrial import __version__

    used: list[str] = []
    paras: list[str] = []
    den = ctx.run_info("denoise")
    if den:
        o = den.get("options", {})
        tr = den.get("truncation", {})
        primers = " and ".join(p for p in (o.get("primer_f"), o.get("primer_r")) if p)
        paras.append(
            f"Paired-end reads were processed with microtrial {den.get('microtrial_version', __version__)}"
            + (f": primers ({primers}) were removed with cutadapt" if primers else "")
            + f"; reads were truncated at {tr.get('trunc_len_f', o.get('trunc_len_f'))} (forward) and "
            f"{tr.get('trunc_len_r', o.get('trunc_len_r'))} (reverse) nucleotides"
            + (" (chosen automatically from the quality profiles)" if tr.get("automatic") else "")
            + f", filtered to at most {_pair(o.get('max_ee'))} expected errors, and denoised into amplicon "
            f"sequence variants (ASVs) with a reimplementation of the DADA2 algorithm (pooling: "
            f"{o.get('pool')}); pairs were merged with at least {o.get('min_overlap')} nt of overlap and "
            f"chimeras removed ({'consensus' if o.get('chimeras', True) else 'not removed'}).")
        used += ["dada2", "cutadapt"]
    cl = ctx.run_info("classify")
    if cl:
        o = cl.get("options", {})
        paras.append(
            f"Taxonomy was assigned with a naive Bayesian classifier (k = {o.get('k', 8)}, "
            f"{o.get('n_boot', 100)} bootstraps, minimum confidence {o.get('confidence')}) against the "
            f"{_REFERENCE_NAMES.get(str(o.get('reference')), o.get('reference') or 'the given')} reference.")
        used += ["rdp"] + (["greengenes"] if str(o.get("reference", "")).startswith("greengenes") else [])
    tree = ctx.run_info("tree")
    if tree:
        paras.append(f"A phylogeny of the ASVs was built by {tree.get('options', {}).get('method', 'the tree stage')}"
                     f" ({tree.get('n_tips', '?')} tips).")
    div = ctx.run_info("diversity")
    if div:
        o = div.get("options", {})
        metrics = ", ".join(_METRICS.get(str(m), str(m)) for m in o.get("metrics", []))
        paras.append(
            f"Samples were rarefied to {o.get('depth', o.get('rarefy'))} reads for diversity. Alpha "
            "diversity (observed ASVs, Chao1, Shannon, Simpson, Faith's PD) was compared with the "
            "Mann-Whitney U test between groups and the Wilcoxon signed-rank test within subjects. "
            f"Beta diversity ({metrics}) was tested with PERMANOVA ({o.get('permutations', 999)} "
            "permutations, restricted within subject for paired comparisons) and PERMDISP.")
        used += ["permanova"] + (["unifrac"] if "UniFrac" in metrics else [])
    dif = ctx.run_info("differential")
    if dif:
        o = dif.get("options", {})
        ms = [str(m) for m in o.get("methods", [])]
        paras.append(
            f"Differential abundance was tested with {', '.join(_METHODS.get(m, m) for m in ms)} at the {', '.join(map(str, o.get('ranks', [])))} "
            "levels; p-values were adjusted with the Benjamini-Hochberg procedure (q < 0.05), LEfSe used "
            "|LDA| > 2, and taxa called by several methods are reported as the consensus.")
        used += [m for m in ("lefse", "ancombc", "aldex") if m in ms] + ["bh", "nearing"]
    if ctx.run_info("clinical"):
        paras.append("Clinical response was scored with the IMACS definition of improvement and the 2016 "
                     "ACR/EULAR total improvement score; response rates carry exact Clopper-Pearson 95% "
                     "confidence intervals; immune measures were compared with the Wilcoxon signed-rank "
                     "test (exact for small n).")
        used += ["imacs", "tis"]
    if ctx.run_info("associations"):
        paras.append("Taxa, guilds and diversity were correlated with clinical, immune and metabolite "
                     "measures with Spearman's rho (and repeated-measures correlation across visits), "
                     "Benjamini-Hochberg adjusted within each table.")
        used += ["rmcorr", "bh"]
    fn = ctx.run_info("function")
    if fn:
        paras.append(function_methods(fn))
        used += ["picrust2"] + (["minpath"] if "MinPath" in paras[-1] else [])
    deps = (den or div or dif).get("dependencies", {}) if (den or div or dif) else {}
    if deps:
        paras.append("Software: microtrial " + str((den or div or dif).get("microtrial_version", __version__))
                     + " with " + ", ".join(f"{k} {v}" for k, v in deps.items()
                                            if k in ("numpy", "scipy", "pandas", "scikit-bio", "statsmodels",
                                                     "cutadapt", "numba")) + ".")
    if not paras:
        ctx.page.text("No stage left a run-info.json in logs/: the methods cannot be written from what ran.",
                      cls="missing")
    else:
        refs = list(dict.fromkeys(used))
        ctx.page.raw("<div class='methods' id='methods-text'>" + "".join(f"<p>{esc(p)}</p>" for p in paras)
                     + "<p><b>References.</b></p><ol>" + "".join(f"<li>{esc(REFERENCES[r])}</li>" for r in refs)
                     + "</ol></div>")
        (ctx.page.out_dir / "tables").mkdir(exist_ok=True)
        (ctx.page.out_dir / "methods.txt").write_text(
            "\n\n".join(paras) + "\n\nReferences\n" + "\n".join(f"{i}. {REFERENCES[r]}" for i, r in
                                                                 enumerate(refs, 1)) + "\n", encoding="utf-8")
    _provenance(ctx, complete=complete)


def function_methods(fn: dict[str, Any]) -> str:
    """The function stage's paragraph, for the route that ran (``run-info.json`` of the stage)."""
    route = str(fn.get("route", ""))
    o = fn.get("options", {}) or {}
    traits = [str(t) for t in fn.get("traits", []) if str(t) != "16S"]
    names = ", ".join(t.upper() if t in ("ec", "ko") else ("CAZyme families" if t == "cazy" else t)
                      for t in traits) or "gene families"
    minpath = o.get("minpath", True) is not False
    gap = o.get("gap_fill", True) is not False
    pathways = ("MetaCyc pathway abundances were inferred from the predicted EC numbers as PICRUSt2's "
                "pathway pipeline does: reactions regrouped from EC numbers, "
                + ("the minimal set of pathways explaining them chosen with MinPath (parsimony, solved "
                   "as an integer program), " if minpath else "every pathway with a reaction kept (MinPath off), ")
                + ("with gap filling, " if gap else "without gap filling, ")
                + f"using {fn.get('pathway_maps') or 'the reference map files'}.")
    if route == "picrust2-reference":
        hsp = o.get("hsp_method", "mp")
        text = ("Functions were predicted following PICRUSt2: the ASVs were aligned to the reference "
                "profile HMM and placed on the PICRUSt2 reference tree by maximum-likelihood placement; "
                f"16S copy number and {names} were predicted for each ASV by hidden-state prediction "
                f"({'maximum parsimony' if hsp == 'mp' else hsp}, as castor does), with the nearest "
                f"sequenced taxon index (NSTI); ASVs with NSTI above {o.get('max_nsti', 2)} were left out. "
                "Each sample's metagenome was predicted from the ASV abundances divided by their 16S copy "
                "number and multiplied by their predicted gene content. ")
        text += pathways if any(t in ("ec", "EC") for t in traits) else ""
    elif route == "genus-trait-table":
        note = str(fn.get("genus_traits_note") or "")
        simulated = bool(fn.get("genus_traits_simulated")) or "simulated" in note.lower()
        table = Path(str(fn.get("genus_traits") or o.get("genus_traits") or "a genus trait table")).name
        text = ("Functions were predicted from each ASV's taxonomy: the ASV took the 16S copy number and "
                "CAZyme families of its genus (else family) from a table packaged with microtrial (means "
                "over PICRUSt2's reference genomes), and the row of its genus (else family, else order) "
                f"of a genus-level trait table ({table}"
                + ("; SIMULATED, not real genome content" if simulated else "") + "). "
                "Each sample's metagenome was predicted from the ASV abundances divided by their 16S copy "
                f"number and multiplied by the predicted gene content ({names}). " + pathways)
    elif "genus" in route:
        text = ("Functions were predicted from each ASV's taxonomy, without placement: the ASV took the "
                "mean 16S copy number and CAZyme family counts of its genus (else family) from a table "
                "packaged with microtrial (means over PICRUSt2's reference genomes by their Greengenes and "
                "SILVA taxonomy). Each sample's CAZyme content was predicted from the ASV abundances "
                "divided by their 16S copy number; this route predicts no pathways.")
    else:
        text = f"Functions ({names}) were predicted following PICRUSt2 (route: {route or 'not recorded'})."
    methods = ", ".join(str(m) for m in o.get("methods") or []) or "the differential methods of the taxa"
    return (text + f" The predicted tables were compared between groups and within subjects as the taxa "
            f"were ({methods}; Benjamini-Hochberg q) and correlated with the clinical measures.")


_REFERENCE_NAMES = {"greengenes": "Greengenes 13_8 (97% OTUs)", "silva": "SILVA"}
_METRICS = {"braycurtis": "Bray-Curtis", "jaccard": "Jaccard", "unweighted_unifrac": "unweighted UniFrac",
            "weighted_unifrac": "weighted UniFrac", "aitchison": "Aitchison"}
_METHODS = {"lefse": "LEfSe", "ancombc": "ANCOM-BC", "aldex": "ALDEx2", "lmm": "linear mixed models on CLR",
            "paired-wilcoxon": "the paired Wilcoxon test on CLR"}


def _pair(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{value[0]:g} (forward) and {value[1]:g} (reverse)"
    return str(value)


def _provenance(ctx: Context, *, complete: bool) -> None:
    rows = []
    for path in sorted((ctx.results / "logs").glob("*.run-info.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(path, f"not a readable run-info file ({exc})") from None
        timings = info.get("timings_seconds") or {}
        secs = timings.get("total") or sum(v for v in timings.values() if isinstance(v, int | float))
        rows.append({"stage": path.name.split(".")[0], "command": info.get("command"),
                     "microtrial": info.get("microtrial_version"), "seconds": round(float(secs or 0), 2),
                     "seeds": json.dumps(info.get("seeds", {})), "finished": info.get("created")})
    if rows:
        ctx.page.table(pd.DataFrame(rows), "provenance", caption="Stages that ran (from logs/*.run-info.json).")
    if complete:
        ctx.page.text("Every output folder holds run-info.json with the versions, options and seeds used.")
    else:
        ctx.page.text("This results folder has no run-info.json: the versions, options and seeds of "
                      "the run that wrote it are not recorded (see logs/ for the stages that finished).",
                      cls="missing")


def caveats(ctx: Context) -> None:
    """Findings about what the analysis had to drop or could not do."""
    dropped = ctx.read("dropped-samples.tsv")
    if dropped is not None and len(dropped):
        reasons = "; ".join(f"{r.iloc[0]} ({r.iloc[1]})" for _, r in dropped.head(3).iterrows())
        ctx.note("sequencing", f"{len(dropped)} sample(s) were left out of some tests: {reasons}"
                 f"{'...' if len(dropped) > 3 else ''}.", caveat=True)
    div = ctx.run_info("diversity")
    depth = div.get("options", {}).get("depth")
    tracking = ctx.read("read-tracking.tsv", index_col=0)
    if depth and tracking is not None and "non-chimeric" in tracking:
        low = tracking[tracking["non-chimeric"] < float(depth)]
        if len(low):
            ctx.note("sequencing", f"{len(low)} sample(s) had fewer reads than the rarefaction depth "
                     f"({int(depth):,}) and were left out of diversity.", caveat=True)
    seen: set[str] = set()
    for stage, anchor in (("diversity", "alpha"), ("differential", "differential")):
        for why in ctx.run_info(stage).get("skipped") or []:
            text = str(why)
            if "does not apply" in text:
                continue  # a method that never applies to a kind of comparison is no caveat
            key = text.split(":")[0].removeprefix("comparison ").split(" skipped")[0]
            if key in seen:
                continue
            seen.add(key)
            ctx.note(anchor, f"Not tested ({stage}): {text.rstrip('.')}.", caveat=True)
    skipped = ctx.run_info("run").get("stages_skipped") or {}
    for stage, why in skipped.items():
        ctx.note("methods", f"The {stage} stage did not run: {why}.", caveat=True)


def summary(ctx: Context, titles: dict[str, str]) -> str:
    """The Summary's markup: one list item per finding, each linking to its section."""
    items = []
    for f in ctx.findings:
        if f.anchor not in titles:
            continue
        cls = " class='caveat'" if f.caveat else ""
        lead = "Caveat: " if f.caveat else ""
        items.append(f"<li{cls}>{esc(lead + f.text)} <a href='#{f.anchor}'>({esc(titles[f.anchor])})</a></li>")
    if not items:
        return "<p class='note'>No result tables to summarise.</p>"
    return "<ul class='summary'>" + "".join(items) + "</ul>"


def truth(ctx: Context, truth_dir: Path) -> None:
    import logging

    scores = score_against_truth(ctx.results, truth_dir)
    if not scores:
        logging.getLogger(__name__).warning("nothing in %s can be scored against %s", ctx.results, truth_dir)
        ctx.page.text(f"None of the results can be scored against {truth_dir} (no ASV sequences, "
                      "feature table, clinical response or association tables to compare).", cls="missing")
        return
    ctx.page.text("The demo's data are simulated, so every result can be scored against the truth.")
    table: Any = pd.DataFrame({"measure": list(scores), "value": [str(v) for v in scores.values()]})
    ctx.page.table(table, "truth-scores", caption="Results scored against the simulation truth.")
    if any(k.startswith("designed pathway changes") for k in scores):
        ctx.page.text("Predicted pathways: a designed change counts as recovered when the method tests that "
                      "pathway in that comparison with q < 0.05 and the designed direction. Pathways the "
                      "simulator did not change but a method still calls are mostly compositional: when the "
                      "designed pathways rise, every other pathway's share falls.")
