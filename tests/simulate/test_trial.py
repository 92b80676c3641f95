"""simulate_trial in memory: reads reproduce the truth, designed effects are present.

Expected values come from the simulation truth itself (read origins, designed parameters)
or from the definitions (Phred: P(error) = 10^(-Q/10); IMACS DOI as in STUDY.md),
recomputed here independently of the simulator's code.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from microtrial.io.fasta import sequence_id
from microtrial.seqs import primer_regex, reverse_complement
from microtrial.simulate import (
    GUILD_BUTYRATE,
    GUILD_PREVOTELLACEAE,
    SimulationDesign,
    simulate_trial,
)

SMALL = SimulationDesign(n_patients=4, n_controls=3, n_nonresponders=1, reads_per_sample=600)


@pytest.fixture(scope="module")
def small():
    return simulate_trial(SMALL, seed=7)


@pytest.fixture(scope="module")
def full():
    # default sample sizes (13 patients x 2 + 15 controls); compositions do not depend on depth
    return simulate_trial(SimulationDesign(reads_per_sample=50), seed=3)


def decode(codes: np.ndarray) -> str:
    return np.frombuffer(b"ACGT", dtype=np.uint8)[codes].tobytes().decode()


def shannon(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# --- reads against truth ------------------------------------------------------------------


def test_origins_reproduce_counts(small) -> None:
    """'Denoising perfectly' by the recorded origin gives back the true count table."""
    rows = []
    for sid in small.sample_ids:
        o = small.read_origins(sid)
        assert list(o["read"]) == list(range(1, len(o) + 1))
        rows.append(o[o["origin"] != "chimera"].groupby("origin").size().rename(sid))
        n_chim = int((o["origin"] == "chimera").sum())
        assert n_chim == small.chimeras.loc[small.chimeras["sample-id"] == sid, "reads"].sum()
    table = pd.concat(rows, axis=1).reindex(index=small.counts.index, columns=small.sample_ids)
    table = table.fillna(0).astype(int)
    pd.testing.assert_frame_equal(table, small.counts, check_names=False)


def test_error_free_pairs_map_to_their_source_by_sequence(small) -> None:
    """Rebuild each pair's molecule from R1 + reverse-complemented R2, strip the primers,
    and look the amplicon up among the true sequences: every error-free pair lands on its
    recorded origin, chimeric pairs never land on a true ASV."""
    pf, pr = small.design.primers
    lf, lr = len(pf), len(pr)
    by_seq = {seq: fid for fid, seq in small.pool["sequence"].items()}
    found = total = 0
    for sid in small.sample_ids[:3]:
        reads = small.reads(sid)
        origins = small.read_origins(sid)
        for i in range(len(origins)):
            r1 = decode(reads.r1[i, : reads.len1[i]])
            r2 = decode(reads.r2[i, : reads.len2[i]])
            origin = origins["origin"].iat[i]
            src_seq = (
                small.pool.loc[origin, "sequence"]
                if origin != "chimera"
                else small.chimeras.set_index("chimera").loc[origins["source"].iat[i], "sequence"]
            )
            if isinstance(src_seq, pd.Series):
                src_seq = src_seq.iat[0]
            flen = lf + len(src_seq) + lr
            molecule = r1 + reverse_complement(r2)[len(r1) - (flen - len(r2)) :]
            assert len(molecule) == flen
            amplicon = molecule[lf : flen - lr]
            hit = by_seq.get(amplicon)
            total += 1
            if origin == "chimera":
                assert hit is None
                assert sequence_id(src_seq) == origins["source"].iat[i]
            elif hit is not None:
                found += 1
                assert hit == origin
    # with MiSeq-like qualities most pairs carry no error inside the amplicon
    assert found > 0.2 * total


def test_reads_carry_primers_and_illumina_names(small) -> None:
    pf, pr = small.design.primers
    reads = small.reads(small.sample_ids[0])
    r1_ok = sum(
        bool(primer_regex(pf).fullmatch(decode(reads.r1[i, : len(pf)])))
        for i in range(len(reads.names))
    )
    r2_ok = sum(
        bool(primer_regex(pr).fullmatch(decode(reads.r2[i, : len(pr)])))
        for i in range(len(reads.names))
    )
    n = len(reads.names)
    assert r1_ok > 0.95 * n and r2_ok > 0.9 * n  # the rest carry sequencing errors
    text = reads.fastq(1).decode().splitlines()
    assert re.fullmatch(r"@\S+:\d+:\S+:\d+:\d+:\d+:\d+ 1:N:0:\d+", text[0])
    assert text[2] == "+" and len(text[1]) == len(text[3]) == small.design.read_length
    assert len(set(reads.names)) == n
    assert reads.fastq(2).decode().splitlines()[0].endswith(" 2:N:0:1")


def test_errors_follow_quality_scores(small) -> None:
    """Observed mismatches vs the error-free molecule, against sum(10^(-Q/10)), per Q bin."""
    pf, pr = small.design.primers
    lf, lr = len(pf), len(pr)
    L = small.design.read_length
    enc = {c: i for i, c in enumerate("ACGT")}
    obs = {}
    exp = {}
    for sid in small.sample_ids[:4]:
        reads = small.reads(sid)
        origins = small.read_origins(sid)
        keep = np.flatnonzero(origins["origin"].to_numpy() != "chimera")
        for mate, seqs, quals in ((1, reads.r1, reads.q1), (2, reads.r2, reads.q2)):
            for i in keep:
                amp = small.pool.loc[origins["origin"].iat[i], "sequence"]
                truth = amp if mate == 1 else reverse_complement(amp)
                start = lf if mate == 1 else lr
                n = min(L, start + len(truth)) - start  # bases of the amplicon in the read
                t = np.array([enc[c] for c in truth[:n]], dtype=np.uint8)
                q = quals[i, start : start + n].astype(int)
                mism = seqs[i, start : start + n] != t
                for lo, hi in ((2, 20), (20, 30), (30, 41)):
                    sel = (q >= lo) & (q < hi)
                    key = (mate, lo)
                    obs[key] = obs.get(key, 0) + int(mism[sel].sum())
                    exp[key] = exp.get(key, 0.0) + float((10.0 ** (-q[sel] / 10)).sum())
    for key in exp:
        if exp[key] >= 100:  # Poisson sd <= 10%: allow 4 sd
            assert abs(obs[key] - exp[key]) < 4 * np.sqrt(exp[key]), (key, obs[key], exp[key])
    # R2 is worse than R1 at the 3' end, as on a MiSeq
    reads = small.reads(small.sample_ids[0])
    assert reads.q2[:, -50:].mean() < reads.q1[:, -50:].mean() - 3
    assert reads.q1[:, :50].mean() > reads.q1[:, -50:].mean()


def test_counts_follow_composition(small) -> None:
    comp = small.composition
    for sid in small.sample_ids:
        n = small.counts[sid].sum()
        p = comp[sid].to_numpy()
        f = small.counts[sid].to_numpy() / n
        assert np.all(np.abs(f - p) <= 5 * np.sqrt(p * (1 - p) / n) + 2 / n)
        assert np.isclose(p.sum(), 1.0)
        assert np.all(small.counts[sid].to_numpy()[p == 0] == 0)


def test_chimeras_are_two_parent_joins(small) -> None:
    seqs = small.pool["sequence"]
    assert len(small.chimeras) > 0
    for _, c in small.chimeras.iterrows():
        a, b = seqs[c["parent_a"]], seqs[c["parent_b"]]
        assert c["sequence"] == a[: c["cut_a"]] + b[c["cut_b"] :]
        assert c["sequence"] not in set(seqs)
        assert sequence_id(c["sequence"]) == c["chimera"]
    rate = small.chimeras["reads"].sum() / sum(len(s.source) for s in small.sources.values())
    assert 0.01 < rate < 0.06  # design: 3%


# --- designed effects ---------------------------------------------------------------------


def _groups(trial):
    md = trial.metadata
    pb = md.index[(md["group"] == "patient") & (md["time"] == "baseline")]
    ctrl = md.index[md["group"] == "control"]
    return md, pb, ctrl


def test_designed_microbiome_effects(full) -> None:
    md, pb, ctrl = _groups(full)
    guild = full.pool["guild"]
    comp = full.composition
    but = comp[guild == GUILD_BUTYRATE].sum()
    prev = comp[guild == GUILD_PREVOTELLACEAE].sum()
    assert but[pb].mean() < 0.6 * but[ctrl].mean()
    assert prev[pb].mean() > 1.5 * prev[ctrl].mean()
    sh = comp.apply(lambda col: shannon(col.to_numpy()))
    assert sh[pb].mean() < sh[ctrl].mean() - 0.2
    assert (comp[pb] > 0).sum().mean() < (comp[ctrl] > 0).sum().mean()
    # responders recover butyrate producers at week 12
    resp = [s for s in pb if bool(full.subjects.loc[md.loc[s, "subject"], "responder"])]
    rise = [but[s.replace("baseline", "week12")] - but[s] for s in resp]
    assert np.mean(rise) > 0 and np.mean(np.array(rise) > 0) >= 0.6
    # effects.tsv: designed values as set, nulls zero
    eff = full.effects[full.effects["comparison"] == "patient-vs-control"].set_index("feature")
    assert (eff.loc[guild.index[guild == GUILD_BUTYRATE], "log2fc"] == -1.5).all()
    assert (eff.loc[guild.index[guild == GUILD_PREVOTELLACEAE], "log2fc"] == 2.0).all()
    assert (eff.loc[guild.index[guild == "none"], "log2fc"] == 0).all()


def test_pool_spans_gut_taxa(full) -> None:
    taxa = " ".join(full.pool["taxon"])
    for name in (
        "g__Roseburia",
        "g__Blautia",
        "g__Pseudobutyrivibrio",
        "g__Coprococcus",
        "g__Faecalibacterium",
        "f__Bacteroidaceae",
        "g__Prevotella",
        "f__Enterobacteriaceae",
        "g__Bifidobacterium",
        "g__Akkermansia",
    ):
        assert name in taxa
    assert 120 <= len(full.pool) <= 200
    assert full.pool["sequence"].is_unique
    assert all(fid == sequence_id(s) for fid, s in full.pool["sequence"].items())
    assert all(t.startswith("d__Bacteria; p__") for t in full.pool["taxon"])


def test_treg_rises_in_responders(full) -> None:
    im = full.immune.pivot(index="subject", columns="visit", values="treg_pct_cd4")
    resp = full.subjects["responder"].dropna().astype(bool)
    ratio = im["week12"] / im["baseline"]
    assert (ratio[resp.index[resp]] > 1.1).all()
    assert 13 <= np.median(im.loc[resp.index[resp], "week12"]) <= 18
    assert 7 <= np.median(im["baseline"]) <= 13
    assert (0.6 < ratio[resp.index[~resp]]).all() and (ratio[resp.index[~resp]] < 1.4).all()


def test_metabolites_follow_their_guild(full) -> None:
    m = full.metabolites
    g = full.guild_abundance
    rho = m.rank(axis=0).corrwith(g[GUILD_BUTYRATE].rank())
    assert rho["l_asparagine"] > 0.5 and rho["l_leucine"] > 0.5 and rho["butyrate"] > 0.5
    assert abs(rho["acetate"]) < 0.4
    assert (m > 0).all().all()
    links = full.associations
    assert set(links.loc[links["direction"] == "positive", "measure"]) >= {
        "l_asparagine",
        "l_leucine",
    }


# --- clinical construction ----------------------------------------------------------------


def test_clinical_values_in_range_and_doi_by_hand(full) -> None:
    """Recompute the IMACS DOI from clinical.tsv by its definition (STUDY.md)."""
    uln = {"ck": 200, "aldolase": 7.6, "ldh": 250, "alt": 40, "ast": 40}
    cl = full.clinical.set_index(["subject", "visit"])
    assert cl[["phga", "ptga", "extramuscular"]].stack().between(0, 10).all()
    assert cl["mmt8"].between(0, 80).all() and cl["haq"].between(0, 3).all()
    assert (cl[list(uln)] > 0).all().all()
    truth = full.responders.set_index("subject")["responder"]
    n_resp = 0
    for subject in truth.index:
        b, f = cl.loc[(subject, "baseline")], cl.loc[(subject, "week12")]
        enzyme = max(uln, key=lambda e: b[e] / uln[e])
        # entry activity at baseline
        assert max(b["phga"], b["ptga"]) >= 2 and b["haq"] >= 0.25 and b["extramuscular"] >= 1
        assert b[enzyme] / uln[enzyme] >= 1.3 and b["mmt8"] <= 142 / 150 * 80
        pct = {c: (b[c] - f[c]) / b[c] * 100 for c in ("phga", "ptga", "haq", "extramuscular")}
        pct["enzyme"] = (b[enzyme] - f[enzyme]) / b[enzyme] * 100
        pct["mmt8"] = (f["mmt8"] - b["mmt8"]) / b["mmt8"] * 100
        improved = sum(v >= 20 for v in pct.values())
        worse = [c for c, v in pct.items() if v <= -25]
        doi = improved >= 3 and len(worse) <= 2 and "mmt8" not in worse
        assert doi == bool(truth[subject]), (subject, pct)
        n_resp += doi
    assert n_resp == 12 and len(truth) == 13  # as the paper: 12/13


# --- determinism --------------------------------------------------------------------------


def test_same_seed_same_trial_different_seed_differs(small) -> None:
    again = simulate_trial(SMALL, seed=7)
    pd.testing.assert_frame_equal(again.counts, small.counts)
    pd.testing.assert_frame_equal(again.clinical, small.clinical)
    sid = small.sample_ids[1]
    assert again.reads(sid).fastq(1) == small.reads(sid).fastq(1)
    other = simulate_trial(SMALL, seed=8)
    assert not other.counts.equals(small.counts)
    assert other.reads(sid).fastq(1) != small.reads(sid).fastq(1)


def test_v4_region_and_short_reads() -> None:
    design = SimulationDesign(
        n_patients=1,
        n_controls=1,
        n_nonresponders=0,
        reads_per_sample=50,
        region="V4",
        read_length=250,
    )
    trial = simulate_trial(design, seed=2)
    lengths = trial.pool["sequence"].str.len()
    assert lengths.between(245, 260).all()
    reads = trial.reads(trial.sample_ids[0])
    assert reads.r1.shape[1] == 250
    pf = design.primers[0]
    assert decode(reads.r1[0, : len(pf)]) != ""


def test_invalid_design_is_refused() -> None:
    with pytest.raises(ValueError, match="n_nonresponders"):
        SimulationDesign(n_patients=2, n_nonresponders=3)
    with pytest.raises(ValueError, match="region"):
        SimulationDesign(region="V9")


def test_pool_amplicons_are_distinct_real_gene_segments(full) -> None:
    """Every amplicon is cut from its own Greengenes gene between the two primers, and no
    two amplicons are closer than ``min_distance`` edits."""
    import qiime_default_reference as qdr

    from microtrial.simulate._kernels import capped_edit_distance
    from microtrial.simulate._reference import encode

    pool = full.pool
    wanted = set(pool["gg_id"])
    genes = {}
    with open(qdr.get_reference_sequences()) as fh:
        current = None
        for line in fh:
            if line.startswith(">"):
                current = line[1:].split()[0]
            elif current in wanted:
                genes[current] = genes.get(current, "") + line.strip()
    pf, pr = full.design.primers
    for _, row in pool.iterrows():
        gene = genes[row["gg_id"]].upper()
        at = gene.find(row["sequence"])
        assert at >= len(pf)
        assert primer_regex(pf).fullmatch(gene[at - len(pf) : at])
        end = at + len(row["sequence"])
        assert primer_regex(reverse_complement(pr)).fullmatch(gene[end : end + len(pr)])
    codes = [encode(s) for s in pool["sequence"]]
    k = full.design.min_distance
    for i in range(len(codes)):
        for j in range(i):
            assert capped_edit_distance(codes[i], codes[j], k) >= k
    # independent of the kernel: equal-length amplicons differ at >= k positions
    by_len: dict[int, list[np.ndarray]] = {}
    for c in codes:
        by_len.setdefault(len(c), []).append(c)
    for group in by_len.values():
        m = np.array(group)
        ham = (m[:, None, :] != m[None, :, :]).sum(axis=2)
        assert (ham[~np.eye(len(m), dtype=bool)] >= k).all()
