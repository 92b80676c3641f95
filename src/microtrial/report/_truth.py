"""Score a run's results against a simulator's ``truth/`` folder (demo and tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def score_against_truth(results: Path, truth: Path) -> dict[str, object]:
    """Figures comparing results with truth; keys name the measure.

    ASV recall/precision: exact sequence identity between ``dna-sequences.fasta`` and
    ``truth/asv-sequences.fasta`` (true variants with reads in ``truth/counts.tsv``).
    Abundance error: the largest absolute difference of relative abundance between the
    observed table and the true read counts (``truth/counts.tsv``, the exact target of
    denoising; ``truth/composition.tsv``, the community sampled from, when counts are absent)
    over shared samples.
    Responders: agreement of ``clinical-response.tsv``'s ``imacs_doi`` with ``truth/responders.tsv``.
    """
    from microtrial.io.fasta import read_fasta
    from microtrial.io.feature_table import read_table

    out: dict[str, object] = {}
    seqs_path, true_path = results / "dna-sequences.fasta", truth / "asv-sequences.fasta"
    if seqs_path.exists() and true_path.exists():
        found = {s.upper() for s in read_fasta(seqs_path).values()}
        true = read_fasta(true_path)
        counts_path = truth / "counts.tsv"
        if counts_path.exists():
            counts = read_table(counts_path).feature_totals()
            true = {k: v for k, v in true.items() if counts.get(k, 0) > 0}
        true_set = {s.upper() for s in true.values()}
        out["true variants"] = len(true_set)
        out["ASVs found"] = len(found)
        out["recall of true variants"] = round(len(found & true_set) / max(len(true_set), 1), 4)
        out["precision of ASVs"] = round(len(found & true_set) / max(len(found), 1), 4)
        comp_path = counts_path if counts_path.exists() else truth / "composition.tsv"
        table_path = results / "feature-table.biom"
        if comp_path.exists() and table_path.exists():
            obs = read_table(table_path).to_dataframe()
            obs = obs / obs.sum(axis=0).replace(0, np.nan)
            exp = read_table(comp_path).to_dataframe()
            exp = exp / exp.sum(axis=0).replace(0, np.nan)
            shared = obs.columns.intersection(exp.columns)
            ids = obs.index.union(exp.index)
            diff = (obs.reindex(ids, fill_value=0)[shared] - exp.reindex(ids, fill_value=0)[shared]).abs()
            out["max relative-abundance error"] = round(float(np.nanmax(diff.to_numpy())), 4)
            out["median per-sample max error"] = round(float(np.nanmedian(diff.max(axis=0))), 4)
    resp_path, truth_resp = results / "clinical-response.tsv", truth / "responders.tsv"
    if resp_path.exists() and truth_resp.exists():
        resp = pd.read_csv(resp_path, sep="\t", dtype=str).set_index("subject")
        tr = pd.read_csv(truth_resp, sep="\t", dtype=str).set_index("subject")
        col = "responder" if "responder" in tr.columns else tr.columns[0]
        both = resp.index.intersection(tr.index)
        agree = sum(
            str(resp.at[s, "imacs_doi"]).lower() == str(tr.at[s, col]).lower() for s in both
        )
        out["responders classified as in truth"] = f"{agree}/{len(both)}"
    out.update(_associations_recovered(results, truth))
    out.update(functions_recovered(results, truth))
    return out


def _true(v: object) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def functions_recovered(results: Path, truth: Path) -> dict[str, object]:
    """Designed pathway changes of ``truth/function-pathways.tsv`` recovered in
    ``function-differential.tsv``: the same pathway and comparison with q < 0.05 and the
    designed direction (``up``: positive effect, i.e. higher in the comparison's first level).

    Per method; plus the pathways the simulator designed no change in that a method still
    called (q < 0.05), and the pathways of interest the maps cannot predict."""
    path, diff_path = truth / "function-pathways.tsv", results / "function-differential.tsv"
    if not path.exists():
        return {}
    tr = pd.read_csv(path, sep="\t", dtype=str).fillna("")
    out: dict[str, object] = {}
    if "in_maps" in tr.columns and "of_interest" in tr.columns:
        unmappable = tr[tr["of_interest"].map(_true) & ~tr["in_maps"].map(_true)]["pathway"].unique()
        if len(unmappable):
            out["pathways of interest not in the pathway maps (cannot be predicted)"] = ", ".join(unmappable)
    designed = tr[tr["designed_change"].map(_true) & tr["direction"].isin(["up", "down"])]
    if not diff_path.exists():
        if len(designed):
            out["designed pathway changes recovered"] = f"0/{len(designed)}: no function-differential.tsv"
        return out
    diff = pd.read_csv(diff_path, sep="\t")
    if "table" in diff.columns:
        diff = diff[diff["table"].astype(str) == "pathway"]
    diff = diff.assign(q=pd.to_numeric(diff["q_value"], errors="coerce"),
                       e=pd.to_numeric(diff["effect"], errors="coerce"))
    methods = list(pd.unique(diff["method"].astype(str))) if "method" in diff.columns else ["test"]
    if "method" not in diff.columns:
        diff = diff.assign(method="test")
    any_found: set[tuple[str, str]] = set()
    for m in methods:
        sub = diff[diff["method"].astype(str) == m]
        tested = hits = 0
        missed = []
        for _, row in designed.iterrows():
            rows = sub[(sub["feature"].astype(str) == row["pathway"])
                       & (sub["comparison"].astype(str) == row["comparison"])]
            if not len(rows):
                continue  # this method does not test this comparison
            tested += 1
            sign = 1 if row["direction"] == "up" else -1
            if ((rows["q"] < 0.05) & (np.sign(rows["e"]) == sign)).any():
                hits += 1
                any_found.add((row["pathway"], row["comparison"]))
            else:
                missed.append(f"{row['pathway']} ({row['comparison']})")
        if tested:
            out[f"designed pathway changes recovered ({m}, q < 0.05, designed direction)"] = (
                f"{hits}/{tested}" + (f"; missed: {', '.join(missed)}" if missed else ""))
        nochange = tr[~tr["designed_change"].map(_true)]
        if "in_maps" in tr.columns:
            nochange = nochange[nochange["in_maps"].map(_true)]
        called = sub[sub["feature"].astype(str).isin(set(nochange["pathway"])) & (sub["q"] < 0.05)]
        n_tested = sub[sub["feature"].astype(str).isin(set(nochange["pathway"]))]
        if len(n_tested):
            out[f"pathways without a designed change called ({m}, q < 0.05)"] = (
                f"{len(called)}/{len(n_tested)} tests")
    if len(designed):
        out["designed pathway changes recovered (any method)"] = f"{len(any_found)}/{len(designed)}"
    return out


def _associations_recovered(results: Path, truth: Path) -> dict[str, object]:
    """Designed guild-measure links of ``truth/associations.tsv`` found by plain Spearman
    (q < 0.05, designed sign) for the guild itself or for a taxon named after it."""
    path = truth / "associations.tsv"
    if not path.exists():
        return {}
    designed = pd.read_csv(path, sep="\t")
    designed = designed[designed["direction"].isin(["positive", "negative"])]
    found: dict[str, list[str]] = {"strong": [], "weak": []}
    totals = {"strong": 0, "weak": 0}
    for _, row in designed.iterrows():
        kind = "weak" if str(row.get("mechanism", "")).startswith("weak") else "strong"
        totals[kind] += 1
        table = results / f"associations-{row['table']}-spearman.tsv"
        if not table.exists():
            continue
        assoc = pd.read_csv(table, sep="\t")
        guild = str(row["guild"]).lower().replace("-", "_")
        name = str(row["guild"]).split("-")[0].capitalize()
        hits = assoc[(assoc["measure"] == row["measure"])
                     & ((assoc["feature"].str.lower() == guild) | assoc["feature"].str.contains(f"__{name}"))]
        sign = 1 if row["direction"] == "positive" else -1
        if ((hits["q_value"] < 0.05) & (np.sign(hits["rho"]) == sign)).any():
            found[kind].append(f"{row['guild']}~{row['measure']}")
    out: dict[str, object] = {}
    for kind in ("strong", "weak"):
        if totals[kind]:
            out[f"designed associations recovered ({kind})"] = (
                f"{len(found[kind])}/{totals[kind]}: {', '.join(found[kind]) or 'none'}")
    return out
