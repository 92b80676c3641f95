"""Association methods against hand calculations and independent formulas, and the
associations stage end to end on a small planted data set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from microtrial.clinical import associate, bh_fdr, rmcorr_anova
from microtrial.io.feature_table import write_table_tsv
from microtrial.pipeline.associations import associations_stage
from microtrial.table import FeatureTable


def test_bh_by_hand() -> None:
    # p = 0.01, 0.04, 0.03, 0.20 (m = 4). Sorted: 0.01*4/1 = 0.04, 0.03*4/2 = 0.06,
    # 0.04*4/3 = 0.05333, 0.20*4/4 = 0.20; running minimum from the top:
    # 0.20, 0.05333, min(0.06, 0.05333) = 0.05333, 0.04.
    q = bh_fdr(np.array([0.01, 0.04, 0.03, 0.20, np.nan]))
    assert q[:4] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])


# Repeated-measures correlation worked example (Bakdash & Marusich 2017):
# subject A: x 1,2,3  y 2,4,5 ; B: x 4,5,6  y 1,2,4 ; C: x 2,4,6  y 3,3,6
# within-subject deviations: A xc -1,0,1 yc -5/3,1/3,4/3; B xc -1,0,1 yc -4/3,-1/3,5/3;
# C xc -2,0,2 yc -1,-1,2.
# sum xc*yc = 3 + 3 + 6 = 12; sum xc^2 = 2 + 2 + 8 = 12; sum yc^2 = 42/9 + 42/9 + 6 = 46/3.
# ANCOVA y ~ subject + x: SS_x = 12^2 / 12 = 12, SS_res = 46/3 - 12 = 10/3,
# r_rm = +sqrt(12 / (12 + 10/3)) = sqrt(36/46) = 0.884651...; df = N - k - 1 = 9 - 3 - 1 = 5;
# t = r sqrt(df / (1 - r^2)) = sqrt(36/46) sqrt(5 * 46/10) = sqrt(18).
RM_X = np.array([1, 2, 3, 4, 5, 6, 2, 4, 6], dtype=float)
RM_Y = np.array([2, 4, 5, 1, 2, 4, 3, 3, 6], dtype=float)
RM_S = np.array(list("AAABBBCCC"))


def test_rmcorr_hand_example() -> None:
    r, df, p = rmcorr_anova(RM_X, RM_Y, RM_S)
    assert r == pytest.approx(np.sqrt(36 / 46), abs=1e-12)
    assert df == 5
    assert p == pytest.approx(2 * stats.t.sf(np.sqrt(18), 5), rel=1e-10)


def test_rmcorr_equals_ancova_sums_of_squares() -> None:
    # residual sums of squares of y ~ subject and y ~ subject + x by least squares
    dummies = (RM_S[:, None] == np.array(["A", "B", "C"])[None, :]).astype(float)
    rss1 = np.sum((RM_Y - dummies @ np.linalg.lstsq(dummies, RM_Y, rcond=None)[0]) ** 2)
    full = np.column_stack([dummies, RM_X])
    beta = np.linalg.lstsq(full, RM_Y, rcond=None)[0]
    rss2 = np.sum((RM_Y - full @ beta) ** 2)
    assert rss1 - rss2 == pytest.approx(12) and rss2 == pytest.approx(10 / 3)
    r_ancova = np.sign(beta[-1]) * np.sqrt((rss1 - rss2) / rss1)
    assert rmcorr_anova(RM_X, RM_Y, RM_S)[0] == pytest.approx(r_ancova)
    # a subject with a single observation is dropped (df unchanged)
    r2, df2, _ = rmcorr_anova(np.append(RM_X, 10.0), np.append(RM_Y, -5.0), np.append(RM_S, "D"))
    assert df2 == 5 and r2 == pytest.approx(r_ancova)


def test_spearman_matches_scipy_with_missing_measure() -> None:
    rng = np.random.default_rng(1)
    feats = pd.DataFrame(rng.gamma(1, 1, (20, 3)), columns=list("abc"))
    meas = pd.DataFrame({"m": feats["a"] * 2 + rng.normal(0, 0.5, 20)})
    meas.iloc[[3, 7], 0] = np.nan
    res = associate(feats, meas, method="spearman").set_index("feature")
    ok = meas["m"].notna()
    for f in "abc":
        rho, p = stats.spearmanr(feats.loc[ok, f], meas.loc[ok, "m"])
        assert res.loc[f, "rho"] == pytest.approx(rho) and res.loc[f, "p_value"] == pytest.approx(p)
        assert res.loc[f, "n"] == 18


def test_partial_spearman_first_order_formula() -> None:
    # one numeric covariate z: partial correlation of the ranks,
    # r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)), t on n - 3 df
    rng = np.random.default_rng(2)
    z = rng.normal(size=25)
    x = z + rng.normal(size=25)
    y = z + 0.5 * x + rng.normal(size=25)
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    rxy, rxz, ryz = (np.corrcoef(a, b)[0, 1] for a, b in ((rx, ry), (rx, rz), (ry, rz)))
    expected = (rxy - rxz * ryz) / np.sqrt((1 - rxz**2) * (1 - ryz**2))
    res = associate(pd.DataFrame({"x": x}), pd.DataFrame({"y": y}), method="partial_spearman",
                    covariates=pd.DataFrame({"z": z})).iloc[0]
    assert res["rho"] == pytest.approx(expected)
    assert res["df"] == 22
    t = expected * np.sqrt(22 / (1 - expected**2))
    assert res["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 22))
    # a constant covariate adjusts nothing and costs no degree of freedom
    res2 = associate(pd.DataFrame({"x": x}), pd.DataFrame({"y": y}), method="partial_spearman",
                     covariates=pd.DataFrame({"z": z, "site": 1.0})).iloc[0]
    assert res2["rho"] == pytest.approx(expected) and res2["df"] == 22
    # a two-level categorical covariate enters as one 0/1 column: the same first-order
    # formula with the indicator in place of the ranks of z
    sex = np.where(z > 0, "F", "M")
    ind = (sex == "M").astype(float)
    rxs, rys = np.corrcoef(rx, ind)[0, 1], np.corrcoef(ry, ind)[0, 1]
    exp_sex = (rxy - rxs * rys) / np.sqrt((1 - rxs**2) * (1 - rys**2))
    res3 = associate(pd.DataFrame({"x": x}), pd.DataFrame({"y": y}), method="partial_spearman",
                     covariates=pd.DataFrame({"sex": sex})).iloc[0]
    assert res3["rho"] == pytest.approx(exp_sex) and res3["df"] == 22


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="choose from"):
        associate(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"m": [1.0]}), method="pearson")


def _planted_study(tmp_path):
    """10 patients x (baseline, week12) + 5 controls; genus Blautia tracks Treg %."""
    rng = np.random.default_rng(7)
    samples, md, imm, clin, met = [], [], [], [], []
    counts = {}
    for i in range(15):
        subj = f"P{i}" if i < 10 else f"C{i}"
        for visit in (("baseline", "week12") if i < 10 else ("baseline",)):
            sid = f"{subj}-{visit}"
            samples.append(sid)
            treg = rng.uniform(5, 20)
            blautia = int(50 * treg + rng.normal(0, 20))
            counts[sid] = [blautia, blautia // 2, int(rng.integers(200, 800)), int(rng.integers(200, 800)),
                           0 if i % 3 else 5]
            md.append((sid, subj, visit, "patient" if i < 10 else "control", rng.uniform(20, 60)))
            imm.append((subj, visit, treg))
            if i < 10:
                clin.append((subj, visit, rng.uniform(1, 8)))
            met.append((sid, 0.1 * treg + rng.normal(0, 0.1)))
    feats = ["asv1", "asv2", "asv3", "asv4", "asv5"]
    table = pd.DataFrame(counts, index=feats)
    write_table_tsv(FeatureTable.from_dataframe(table), tmp_path / "table.tsv")
    (tmp_path / "taxonomy.tsv").write_text(
        "Feature ID\tTaxon\n"
        "asv1\td__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__Blautia\n"
        "asv2\td__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__Blautia\n"
        "asv3\td__Bacteria; p__Bacteroidota; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; g__Prevotella\n"
        "asv4\td__Bacteria; p__Bacteroidota; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; g__Bacteroides\n"
        "asv5\td__Bacteria; p__Firmicutes; c__Bacilli; o__Lactobacillales; f__Streptococcaceae; g__Streptococcus\n"
    )
    (tmp_path / "metadata.tsv").write_text(
        "sample-id\tsubject\ttime\tgroup\tage\n" + "".join(f"{a}\t{b}\t{c}\t{d}\t{e:.1f}\n" for a, b, c, d, e in md))
    (tmp_path / "immune.tsv").write_text(
        "subject\tvisit\ttreg_pct_cd4\n" + "".join(f"{a}\t{b}\t{c:.3f}\n" for a, b, c in imm))
    (tmp_path / "clinical.tsv").write_text(
        "subject\tvisit\tphga\n" + "".join(f"{a}\t{b}\t{c:.2f}\n" for a, b, c in clin))
    (tmp_path / "metabolites.tsv").write_text(
        "sample-id\tL-leucine\n" + "".join(f"{a}\t{b:.4f}\n" for a, b in met))
    return tmp_path


def test_associations_stage_planted(tmp_path) -> None:
    d = _planted_study(tmp_path)
    out = d / "out"
    summary = associations_stage(
        out, table=d / "table.tsv", metadata=d / "metadata.tsv", subject="subject", time="time",
        taxonomy=d / "taxonomy.tsv", clinical=d / "clinical.tsv", immune=d / "immune.tsv",
        metabolites=d / "metabolites.tsv", ranks=("genus",), covariates=("age",), min_prevalence=0.5,
    )
    names = set(summary.files)
    for kind in ("immune", "clinical", "metabolites"):
        assert f"associations-matrix-{kind}.tsv" in names
        for method in ("spearman", "partial_spearman", "rmcorr", "change_spearman"):
            assert f"associations-{kind}-{method}.tsv" in names
    imm = pd.read_csv(out / "associations-immune-spearman.tsv", sep="\t")
    assert list(imm.columns[:9]) == ["feature", "feature_type", "measure", "method", "n", "rho", "df",
                                     "p_value", "q_value"]
    # Streptococcus (present in 5 of 25 samples) is below min_prevalence 0.5
    assert not imm["feature"].str.contains("Streptococcus").any()
    top = imm.iloc[0]
    assert top["feature"].endswith("g__Blautia") and top["rho"] > 0.5 and top["q_value"] < 0.05
    assert top["n"] == 15  # baseline samples: 10 patients + 5 controls
    rm = pd.read_csv(out / "associations-immune-rmcorr.tsv", sep="\t").set_index("feature")
    blautia = [f for f in rm.index if f.endswith("g__Blautia")][0]
    assert rm.loc[blautia, "n"] == 20 and rm.loc[blautia, "df"] == 20 - 10 - 1
    ch = pd.read_csv(out / "associations-immune-change_spearman.tsv", sep="\t")
    assert set(ch["n"]) == {10}
    met = pd.read_csv(out / "associations-metabolites-spearman.tsv", sep="\t")
    assert met.iloc[0]["feature"].endswith("g__Blautia")
    mat = pd.read_csv(out / "associations-matrix-immune.tsv", sep="\t", index_col=0)
    assert mat.loc[blautia, "treg_pct_cd4"] == pytest.approx(top["rho"])
    info = json.loads((out / "run-info.json").read_text())
    assert info["command"] == "associations" and info["paired_subjects"] == 10


def test_associations_stage_other_feature_tables(tmp_path) -> None:
    d = _planted_study(tmp_path)
    md = pd.read_csv(d / "metadata.tsv", sep="\t")
    ids = list(md["sample-id"])
    imm = pd.read_csv(d / "immune.tsv", sep="\t")
    treg = {f"{s}-{v}": t for s, v, t in imm.itertuples(index=False)}
    # alpha: samples as rows; pathways and guilds: features as rows, samples as columns
    (d / "alpha.tsv").write_text("sample-id\tshannon\n" + "".join(f"{i}\t{treg[i] / 10:.4f}\n" for i in ids))
    (d / "pathways.tsv").write_text(
        "pathway\t" + "\t".join(ids) + "\nLEUSYN-PWY\t" + "\t".join(f"{100 - treg[i]:.3f}" for i in ids)
        + "\nRARE-PWY\t" + "\t".join("1" if k == 0 else "0" for k in range(len(ids))) + "\n")
    (d / "guilds.tsv").write_text(
        "guild\t" + "\t".join(ids) + "\nbutyrate-producers\t" + "\t".join(str(k % 7) for k in range(len(ids))) + "\n")
    out = d / "out"
    s = associations_stage(
        out, table=d / "table.tsv", metadata=d / "metadata.tsv", subject="subject", time="time",
        immune=d / "immune.tsv", alpha=d / "alpha.tsv", pathways=d / "pathways.tsv", guilds=d / "guilds.tsv",
        ranks=("asv",), min_prevalence=0.5,
    )
    res = pd.read_csv(out / "associations-immune-spearman.tsv", sep="\t").set_index("feature")
    assert res.loc["shannon", "feature_type"] == "alpha" and res.loc["shannon", "rho"] == pytest.approx(1.0)
    assert res.loc["LEUSYN-PWY", "feature_type"] == "pathway"
    assert res.loc["LEUSYN-PWY", "rho"] == pytest.approx(-1.0)
    assert "RARE-PWY" not in res.index  # present in 1 of 25 samples < min_prevalence
    assert res.loc["butyrate-producers", "feature_type"] == "guild"
    assert res.loc["asv1", "feature_type"] == "asv"
    assert s.n_features == 4 + 3  # asv1-asv4 (asv5 below prevalence) + alpha, pathway, guild


def test_numeric_subject_and_time_labels(tmp_path) -> None:
    # metadata read as numbers (subject 1.0, time 0.0/12.0) still match '1' / '0' / '12'
    d = _planted_study(tmp_path)
    md = (d / "metadata.tsv").read_text()
    imm = (d / "immune.tsv").read_text()
    for i in range(15):
        tag = f"P{i}" if i < 10 else f"C{i}"
        md = md.replace(f"\t{tag}\t", f"\t{i + 1}\t")
        imm = imm.replace(f"{tag}\t", f"{i + 1}\t")
    md = md.replace("\tbaseline\t", "\t0\t").replace("\tweek12\t", "\t12\t")
    imm = imm.replace("\tbaseline\t", "\t0\t").replace("\tweek12\t", "\t12\t")
    (d / "metadata.tsv").write_text(md)
    (d / "immune.tsv").write_text(imm)
    associations_stage(d / "out", table=d / "table.tsv", metadata=d / "metadata.tsv", subject="subject",
                       time="time", immune=d / "immune.tsv", ranks=("asv",), baseline="0", followup="12")
    res = pd.read_csv(d / "out" / "associations-immune-spearman.tsv", sep="\t")
    assert set(res["n"]) == {15}
    assert len(pd.read_csv(d / "out" / "associations-immune-change_spearman.tsv", sep="\t"))
