"""Classifier benchmark: microtrial classify vs R DADA2 assignTaxonomy, side by side.

Usage:
    .venv/bin/python benchmarks/classify.py [--shared ../shared/data] [--cv] [--folds 5]
        [--cv-test 300] [--cv-replicates 1] [--cv-only] [--skip-r]

Input: the 189 MiSeq SOP ASVs of the golden file
``miseq-sop/reference-outputs/dada2-1.26-assignTaxonomy-gg13_8.tsv`` and Greengenes 13_8
97% OTUs (``qiime-default-reference``), written for R in DADA2 format exactly as that
file's README says (header = k__ to g__ ranks, stopping before the first empty rank).

Prints: training time (no cache), time to classify with the model cached (in process and
as a fresh ``microtrial classify`` process), R's ``assignTaxonomy(seqs, TRAIN,
multithread=2, minBoot=80)`` time on the same input, their ratio, and per-rank agreement
of both with the golden file (NA = not assigned). With ``--cv``: k-fold cross-validation
on Greengenes with identical folds and held-out sequences for both classifiers, scored by
the same code (precision, recall, F-measure per rank).  ``--cv-region PRIMER_F PRIMER_R``
cross-validates as the classifiers are used on amplicon data: the held-out sequences are
cut to the primers' amplicon (those without both primer sites are skipped), and each tool
is trained on the training folds either cut to the same region (our ``--primers`` option;
for R, the same cut reference written in DADA2 format) or at full length (how
``assignTaxonomy`` is usually trained).  With ``--cv-replicates K`` every
held-out sequence is classified K times by each tool (independent bootstrap draws; R gets
the queries K times in one ``assignTaxonomy`` call), and the F-measures are reported as
mean and standard deviation over the K replicates, with the standard error of the
difference, so bootstrap noise is not mistaken for a difference between the tools.  It
also tests, query by query, whether one tool names the genus more often than the other
(paired over queries, averaged over replicates).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RANK_COLS = ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus"]

R_SCRIPT = r"""
suppressMessages(library(dada2))
args <- commandArgs(TRUE)
seqs <- readLines(args[1])
t0 <- proc.time()
set.seed(100)
tax <- assignTaxonomy(seqs, args[2], multithread=2, minBoot=80)
el <- (proc.time() - t0)[["elapsed"]]
write.table(tax, args[3], sep="\t", quote=FALSE, col.names=NA)
cat(sprintf("%.3f\n", el))
"""


def gg_levels(taxon: str) -> list[str]:
    """Greengenes ranks k__..g__ stopping before the first empty one (README recipe)."""
    out = []
    for part in taxon.split(";")[:6]:
        p = part.strip()
        if len(p) <= 3:
            break
        out.append(p)
    return out


def write_dada2_reference(ids: list[str], seqs: dict[str, str], tax: dict[str, str], path: Path) -> None:
    with open(path, "w") as fh:
        for i in ids:
            fh.write(">" + ";".join(gg_levels(tax[i])) + ";\n" + seqs[i] + "\n")


def run_r(queries: list[str], train_fa: Path, work: Path, tag: str) -> tuple[pd.DataFrame, float]:
    qfile = work / f"{tag}-queries.txt"
    qfile.write_text("\n".join(queries) + "\n")
    script = work / "assign.R"
    script.write_text(R_SCRIPT)
    out = work / f"{tag}-r.tsv"
    t0 = time.perf_counter()
    res = subprocess.run(["Rscript", str(script), str(qfile), str(train_fa), str(out)],
                         check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r_el = float(res.stdout.strip().splitlines()[-1])
    df = pd.read_csv(out, sep="\t", index_col=0, keep_default_na=True)
    return df, max(wall, r_el)


def greengenes() -> tuple[dict[str, str], dict[str, str]]:
    """Greengenes 13_8 97% sequences and taxonomy strings from ``qiime-default-reference``."""
    import qiime_default_reference as qdr

    from microtrial.io.fasta import read_fasta

    seqs = read_fasta(qdr.get_reference_sequences())
    with open(qdr.get_reference_taxonomy()) as fh:
        tax = dict(line.rstrip("\n").split("\t") for line in fh)
    return seqs, tax


def cv_split(n: int, folds: int) -> tuple[np.random.Generator, list[np.ndarray]]:
    """The cross-validation folds (seeded); the returned generator then draws each fold's
    held-out sequences, in fold order, so every script reproduces the same queries."""
    rng = np.random.default_rng(0)
    return rng, np.array_split(rng.permutation(n), folds)


def levels_from_row(row: pd.Series) -> list[str]:
    out = []
    for c in RANK_COLS:
        v = row.get(c)
        if not isinstance(v, str) or v == "NA":
            break
        out.append(v)
    return out


def norm(levels: list[str]) -> list[str]:
    from microtrial.taxa import split_taxon

    return split_taxon(";".join(levels))[:6] if levels else []


def agreement(a: list[list[str]], b: list[list[str]]) -> list[float]:
    out = []
    for r in range(6):
        same = sum((x[r] if r < len(x) else None) == (y[r] if r < len(y) else None) for x, y in zip(a, b, strict=True))
        out.append(same / len(a))
    return out


def score(truth: list[list[str]], pred: list[list[str]]) -> pd.DataFrame:
    rows = []
    for r in range(6):
        tp = fp = fn = 0
        for t, p in zip(truth, pred, strict=True):
            tv = t[r] if r < len(t) else None
            pv = p[r] if r < len(p) else None
            if pv is not None and pv == tv:
                tp += 1
            elif pv is not None:
                fp += 1
            if tv is not None and pv != tv:
                fn += 1
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append((RANK_COLS[r], prec, rec, f))
    return pd.DataFrame(rows, columns=["rank", "precision", "recall", "f_measure"])


def main() -> None:
    import qiime_default_reference as qdr

    from microtrial.io.fasta import sequence_id, write_fasta
    from microtrial.io.taxonomy import read_reference
    from microtrial.pipeline.classify import classify_stage
    from microtrial.taxonomy import classify, train_classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("MICROTRIAL_SHARED", ROOT.parent / "shared")) / "data")
    ap.add_argument("--cv", action="store_true", help="Also run k-fold cross-validation (both classifiers).")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cv-test", type=int, default=300, help="Held-out sequences classified per fold.")
    ap.add_argument("--cv-replicates", type=int, default=1,
                    help="Classify every held-out sequence this many times with each tool.")
    ap.add_argument("--cv-region", nargs=2, metavar=("PRIMER_F", "PRIMER_R"), default=None,
                    help="Cross-validate on amplicon queries: held-out sequences cut to this "
                         "region, classifiers trained on the region or on full length.")
    ap.add_argument("--cv-only", action="store_true", help="Only the cross-validation.")
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    have_r = shutil.which("Rscript") is not None and not args.skip_r
    if args.cv_only:
        with tempfile.TemporaryDirectory() as tmp:
            if args.cv_region:
                region_cross_validation(args, Path(tmp), have_r)
            else:
                cross_validation(args, Path(tmp), have_r)
        return
    golden = pd.read_csv(args.shared / "miseq-sop/reference-outputs/dada2-1.26-assignTaxonomy-gg13_8.tsv", sep="\t")
    queries = list(golden["sequence"])
    gold = [norm(levels_from_row(r)) for _, r in golden.iterrows()]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {len(queries)} ASVs; Greengenes 13_8 97%")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "cache"
        fasta = work / "asvs.fasta"
        write_fasta({sequence_id(s): s for s in queries}, fasta)
        # warm the JIT on a tiny input so compile time is not counted
        small = {sequence_id(s): s for s in queries[:3]}
        write_fasta(small, work / "small.fasta")
        t0 = time.perf_counter()
        ref = read_reference(qdr.get_reference_sequences(), qdr.get_reference_taxonomy())
        model = train_classifier(ref)
        t_train_first = time.perf_counter() - t0
        classify(small, model)
        t0 = time.perf_counter()
        ref = read_reference(qdr.get_reference_sequences(), qdr.get_reference_taxonomy())
        model = train_classifier(ref)
        t_train = time.perf_counter() - t0
        del ref
        # first stage call trains and caches; then cached runs
        t0 = time.perf_counter()
        classify_stage(fasta, work / "o0", cache_dir=cache)
        t_stage_train = time.perf_counter() - t0
        cached = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            path = classify_stage(fasta, work / f"o{i + 1}", cache_dir=cache)
            cached.append(time.perf_counter() - t0)
        t_cached = statistics.median(cached)
        cli = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "microtrial", "classify", str(fasta), "-o", str(work / f"c{i}"),
                            "--cache-dir", str(cache)], check=True, capture_output=True)
            cli.append(time.perf_counter() - t0)
        t_cli = statistics.median(cli)
        ours = pd.read_csv(path, sep="\t", index_col=0)
        ours_levels = []
        for s in queries:
            t = ours.at[sequence_id(s), "Taxon"]
            ours_levels.append(norm([t]) if t != "Unassigned" else [])
        ours_levels = [lv[:6] for lv in ours_levels]
        print(f"microtrial: training {t_train:.1f} s (first call incl. JIT compile {t_train_first:.1f} s); "
              f"classify_stage training+classifying {t_stage_train:.1f} s; "
              f"with the model cached: {t_cached:.2f} s in process, {t_cli:.2f} s as a CLI process "
              f"(median of {args.repeats})")
        agr = agreement(ours_levels, gold)
        print("agreement with golden assignTaxonomy (dada2 1.26):",
              ", ".join(f"{c} {a:.1%}" for c, a in zip(RANK_COLS, agr, strict=True)))
        if have_r:
            train_fa = work / "gg13_8_dada2.fa"
            seqs, tax = greengenes()
            write_dada2_reference(list(seqs), seqs, tax, train_fa)
            rdf, t_r = run_r(queries, train_fa, work, "sop")
            r_levels = [norm(levels_from_row(rdf.loc[s])) for s in queries]
            print(f"R dada2 assignTaxonomy (training + classifying, multithread=2): {t_r:.1f} s; "
                  f"ratio R / microtrial cached: {t_r / t_cached:.1f}x in process, {t_r / t_cli:.1f}x CLI; "
                  f"R / microtrial training+classifying: {t_r / t_stage_train:.1f}x")
            print("R run agreement with golden:", ", ".join(f"{c} {a:.1%}" for c, a in zip(RANK_COLS, agreement(r_levels, gold), strict=True)))
            print("microtrial vs this R run:", ", ".join(f"{c} {a:.1%}" for c, a in zip(RANK_COLS, agreement(ours_levels, r_levels), strict=True)))
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
        if args.cv:
            cross_validation(args, work, have_r)


def cross_validation(args: argparse.Namespace, work: Path, have_r: bool) -> None:
    from scipy import stats

    from microtrial.taxonomy import Reference, classify, train_classifier

    seqs, tax = greengenes()
    ids = list(seqs)
    rng, parts = cv_split(len(ids), args.folds)
    k_rep = max(1, args.cv_replicates)
    truth_all: list[list[str]] = []
    ours_all: list[list[list[str]]] = [[] for _ in range(k_rep)]
    r_all: list[list[list[str]]] = [[] for _ in range(k_rep)]
    t_ours = t_r = 0.0
    for f, test in enumerate(parts):
        train = np.concatenate([p for i, p in enumerate(parts) if i != f])
        test = rng.choice(test, size=min(args.cv_test, len(test)), replace=False)
        train_ids = [ids[i] for i in train]
        test_seqs = [seqs[ids[i]] for i in test]
        truth_all += [norm(gg_levels(tax[ids[i]])) for i in test]
        t0 = time.perf_counter()
        ref = Reference(tuple(train_ids), tuple(seqs[i] for i in train_ids), tuple(tax[i] for i in train_ids))
        model = train_classifier(ref)
        for rep in range(k_rep):
            # replicate 0 keeps the seed of the single-replicate benchmark
            res = classify({str(k): s for k, s in enumerate(test_seqs)}, model, confidence=0.8,
                           seed=f + 1000 * rep, both_orientations=False, threads=2)
            ours_all[rep] += [norm([t]) if t != "Unassigned" else [] for t in res["Taxon"]]
        t_ours += time.perf_counter() - t0
        if have_r:
            fa = work / f"fold{f}.fa"
            write_dada2_reference(train_ids, seqs, tax, fa)
            rdf, el = run_r(test_seqs * k_rep, fa, work, f"fold{f}")
            t_r += el
            n = len(test_seqs)
            for rep in range(k_rep):
                r_all[rep] += [norm(levels_from_row(rdf.iloc[rep * n + k])) for k in range(n)]
        print(f"fold {f + 1}/{args.folds} done (load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"\n{args.folds}-fold cross-validation on Greengenes 13_8 97% "
          f"({args.cv_test} held-out full-length sequences per fold, minBoot 80, "
          f"{k_rep} classification replicate(s) each):")
    tools = [("microtrial", ours_all, t_ours)] + ([("R dada2 assignTaxonomy", r_all, t_r)] if have_r else [])
    tabs = {}
    for name, calls, secs in tools:
        reps = [score(truth_all, c) for c in calls]
        tab = reps[0][["rank"]].copy()
        for col in ["precision", "recall", "f_measure"]:
            vals = np.array([r[col].to_numpy() for r in reps])
            tab[col] = vals.mean(axis=0)
            if k_rep > 1:
                tab[f"{col}_sd"] = vals.std(axis=0, ddof=1)
        tabs[name] = (tab, np.array([r["f_measure"].to_numpy() for r in reps]))
        print(f"{name} ({secs:.0f} s; mean over replicates):")
        print(tab.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if have_r and k_rep > 1:
        f_o, f_r = tabs["microtrial"][1], tabs["R dada2 assignTaxonomy"][1]
        diff = f_o.mean(axis=0) - f_r.mean(axis=0)
        se = np.sqrt(f_o.var(axis=0, ddof=1) / k_rep + f_r.var(axis=0, ddof=1) / k_rep)
        print("F-measure, microtrial minus R (mean over replicates, standard error):")
        for r, name in enumerate(RANK_COLS):
            print(f"  {name:8s} {diff[r]:+.4f}  (se {se[r]:.4f})")
        # per query: how often each tool names the true genus / any genus, over the replicates
        g = 5
        def rate(calls: list[list[list[str]]], correct: bool) -> np.ndarray:
            return np.array([[(len(c[q]) > g and (not correct or len(truth_all[q]) > g and c[q][g] == truth_all[q][g]))
                              for q in range(len(truth_all))] for c in calls], float).mean(axis=0)
        for label, correct in [("named the true genus", True), ("named any genus", False)]:
            a, b = rate(ours_all, correct), rate(r_all, correct)
            t = stats.ttest_rel(a, b)
            print(f"  per query, share of replicates that {label}: microtrial {a.mean():.4f}, R {b.mean():.4f}, "
                  f"paired t = {t.statistic:.2f}, p = {t.pvalue:.3g} ({int((a != b).sum())} queries differ)")


def region_cross_validation(args: argparse.Namespace, work: Path, have_r: bool) -> None:
    from microtrial.seqs import extract_amplicon
    from microtrial.taxonomy import Reference, classify, extract_region, train_classifier

    pf, pr = args.cv_region
    seqs, tax = greengenes()
    ids = list(seqs)
    rng, parts = cv_split(len(ids), args.folds)
    k_rep = max(1, args.cv_replicates)
    arms = ["microtrial, trained on the region", "microtrial, trained full-length"]
    if have_r:
        arms += ["R assignTaxonomy, trained on the region", "R assignTaxonomy, trained full-length"]
    calls: dict[str, list[list[list[str]]]] = {a: [[] for _ in range(k_rep)] for a in arms}
    secs = dict.fromkeys(arms, 0.0)
    truth_all: list[list[str]] = []
    for f, test in enumerate(parts):
        train = np.concatenate([p for i, p in enumerate(parts) if i != f])
        amp = {i: extract_amplicon(seqs[ids[i]], pf, pr) for i in test}
        usable = np.array([i for i in test if amp[i] is not None and len(amp[i]) >= 50])
        test = rng.choice(usable, size=min(args.cv_test, len(usable)), replace=False)
        queries = [str(amp[i]) for i in test]
        truth_all += [norm(gg_levels(tax[ids[i]])) for i in test]
        train_ids = [ids[i] for i in train]
        full = Reference(tuple(train_ids), tuple(seqs[i] for i in train_ids), tuple(tax[i] for i in train_ids))
        cut = extract_region(full, pf, pr)
        for arm, ref in [(arms[0], cut), (arms[1], full)]:
            t0 = time.perf_counter()
            model = train_classifier(ref)
            for rep in range(k_rep):
                res = classify({str(k): q for k, q in enumerate(queries)}, model, confidence=0.8,
                               seed=f + 1000 * rep, both_orientations=False, threads=2)
                calls[arm][rep] += [norm([t]) if t != "Unassigned" else [] for t in res["Taxon"]]
            secs[arm] += time.perf_counter() - t0
        if have_r:
            cut_seqs = dict(zip(cut.ids, cut.sequences, strict=True))
            for arm, rids, rseqs in [(arms[2], list(cut.ids), cut_seqs), (arms[3], train_ids, seqs)]:
                fa = work / f"fold{f}-{arm[-6:]}.fa"
                write_dada2_reference(rids, rseqs, tax, fa)
                rdf, el = run_r(queries * k_rep, fa, work, f"fold{f}")
                secs[arm] += el
                n = len(queries)
                for rep in range(k_rep):
                    calls[arm][rep] += [norm(levels_from_row(rdf.iloc[rep * n + k])) for k in range(n)]
        print(f"fold {f + 1}/{args.folds} done: {len(queries)} queries, region found in "
              f"{len(cut)} of {len(full)} training sequences (load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"\n{args.folds}-fold cross-validation on Greengenes 13_8 97%, amplicon queries "
          f"({pf} / {pr}; up to {args.cv_test} per fold, minBoot 80, {k_rep} replicate(s)):")
    genus_f = {}
    for arm in arms:
        reps = [score(truth_all, c) for c in calls[arm]]
        tab = reps[0][["rank"]].copy()
        for col in ["precision", "recall", "f_measure"]:
            tab[col] = np.mean([r[col].to_numpy() for r in reps], axis=0)
        genus_f[arm] = np.array([r["f_measure"].to_numpy()[5] for r in reps])
        print(f"{arm} ({secs[arm]:.0f} s):")
        print(tab.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("genus F-measure per replicate:")
    for arm in arms:
        print(f"  {arm:42s} {' '.join(f'{x:.4f}' for x in genus_f[arm])}")


if __name__ == "__main__":
    main()
