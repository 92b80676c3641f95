"""Differential abundance benchmark: empirical FDR and power on simulations with known
truth (case-control and paired designs), and time per method on 500 samples x 2,000
features.

Usage:
    .venv/bin/python benchmarks/differential.py [--reps 5] [--skip-speed] [--speed-only]
    .venv/bin/python benchmarks/differential.py --animal [--seeds 1-8]
    .venv/bin/python benchmarks/differential.py --animal-permanova --seeds 1-20

``--animal``: the treatment-by-time interaction on simulated NOD mouse experiments
(``microtrial.simulate.simulate_animal``: 10 IL-2 + 10 control mice, weeks 0 and 4, cages,
an age drift moving 10 OTUs in both arms, IL-2 moving 10 others in the IL-2 arm only), on
the true read counts. Empirical FDR (time-only and unchanged features count as false) and
power for every method that reports the interaction, next to the naive within-arm
before/after tests (IL-2 arm only), which call the age-drift features.

The simulator (negative binomial counts, log-normal sample depths, a known set of
differential features going up or down by equal log fold changes, per-subject per-feature
effects for paired designs) is written here so that the truth is independent of the code
under test. "True" effects are changes of absolute abundance; because up and down effects
are balanced, the relative abundances of null features barely move.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from microtrial.differential import Contrast, called, guild_counts, run_method

BETWEEN = ("lefse", "ancombc", "aldex", "lmm")
PAIRED = ("aldex", "lmm", "paired-wilcoxon", "ancombc")


def simulate(*, n_features: int, n_per_group: int, n_da: int, lfc_range: tuple[float, float],
             paired: bool, subject_sd: float, seed: int) -> tuple[Contrast, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(2.5, 1.5, n_features)
    truth = np.zeros(n_features)
    da = rng.choice(n_features, n_da, replace=False)
    size = rng.uniform(*lfc_range, n_da)
    truth[da] = np.where(np.arange(n_da) % 2 == 0, size, -size)
    n = 2 * n_per_group
    test = np.r_[np.zeros(n_per_group), np.ones(n_per_group)]
    subj = np.r_[np.arange(n_per_group), np.arange(n_per_group)] if paired else np.arange(n)
    subj_eff = rng.normal(0, subject_sd, (n_features, subj.max() + 1))[:, subj] if subject_sd else 0.0
    log_mu = (base[:, None] + truth[:, None] * test + subj_eff
              + rng.normal(0, 0.3, (n_features, n)) + rng.normal(0, 0.4, (1, n)))
    mu = np.exp(log_mu)
    counts = rng.negative_binomial(3.0, 3.0 / (3.0 + mu))
    cols = [f"S{i}" for i in range(n)]
    return Contrast(
        pd.DataFrame(counts, index=[f"F{j}" for j in range(n_features)], columns=cols),
        pd.Series(np.where(test == 1, "test", "ref"), index=cols), "test", "ref",
        "paired" if paired else "between",
        pd.Series([f"P{s}" for s in subj], index=cols) if paired else None,
    ), truth


def accuracy(reps: int) -> None:
    designs = {
        "case-control (25 vs 25, 300 features, 30 DA, |log FC| 1-2.5)":
            dict(n_features=300, n_per_group=25, n_da=30, lfc_range=(1.0, 2.5), paired=False, subject_sd=0.0),
        "small case-control (7 vs 7, 200 features, 20 DA, |log FC| 1-2.5)":
            dict(n_features=200, n_per_group=7, n_da=20, lfc_range=(1.0, 2.5), paired=False, subject_sd=0.0),
        "paired (20 subjects x 2 visits, subject sd 1.5, 300 features, 30 DA, |log FC| 0.7-2)":
            dict(n_features=300, n_per_group=20, n_da=30, lfc_range=(0.7, 2.0), paired=True, subject_sd=1.5),
        "small paired (8 subjects x 2 visits, subject sd 1.5, 200 features, 20 DA, |log FC| 1-2.5)":
            dict(n_features=200, n_per_group=8, n_da=20, lfc_range=(1.0, 2.5), paired=True, subject_sd=1.5),
    }
    for label, kw in designs.items():
        methods = PAIRED if kw["paired"] else BETWEEN
        fdp: dict[str, list[float]] = {m: [] for m in methods}
        power: dict[str, list[float]] = {m: [] for m in methods}
        for rep in range(reps):
            contrast, truth = simulate(seed=100 + rep, **kw)
            true = truth != 0
            for m in methods:
                c = called(run_method(m, contrast, seed=rep))
                fdp[m].append((c & ~true).sum() / max(c.sum(), 1))
                power[m].append((c & true).sum() / true.sum())
        print(f"\n{label}; {reps} replicates; call = q < 0.05 (LEfSe: KW p < 0.05 and LDA > 2)")
        print(f"{'method':<16}{'empirical FDR':>14}{'power':>8}")
        for m in methods:
            note = "  (LEfSe does not control FDR)" if m == "lefse" else ""
            print(f"{m:<16}{np.mean(fdp[m]):>14.3f}{np.mean(power[m]):>8.3f}{note}")


def trial(seed: int = 1) -> None:
    """The project's trial simulator (``microtrial.simulate``): true read counts of the
    model study; truth = features with a designed log2 fold change (the week-12 change is
    designed for responders only, so power there is bounded)."""
    from microtrial.design import Comparison
    from microtrial.simulate import COMPARISONS, simulate_trial

    tr = simulate_trial(seed=seed)
    md = tr.metadata
    print(f"\nproject trial simulator (seed {seed}): {tr.counts.shape[0]} features, {tr.counts.shape[1]} samples")
    for name, kind, column, levels, where in COMPARISONS:
        comp = Comparison(name, kind, column, levels, where, subject="subject")
        sub = comp.samples(md)
        if kind == "paired":
            both = set(sub[sub[column] == levels[0]]["subject"]) & set(sub[sub[column] == levels[1]]["subject"])
            sub = sub[sub["subject"].isin(both)]
        counts = tr.counts[sub.index]
        counts = counts[(counts > 0).mean(axis=1) >= 0.1]
        contrast = Contrast(counts, sub[column].astype(str), levels[0], levels[1], kind,
                            sub["subject"].astype(str) if kind == "paired" else None)
        eff = tr.effects[tr.effects["comparison"] == name].set_index("feature")["log2fc"]
        true = (eff.reindex(counts.index).fillna(0.0) != 0).to_numpy()
        print(f"{name} ({kind}; {true.sum()} of {len(true)} features with a designed effect)")
        methods = PAIRED if kind == "paired" else BETWEEN
        taxonomy = tr.pool["taxon"]
        gc = guild_counts(tr.counts[sub.index], taxonomy)
        gc.loc["other"] = tr.counts[sub.index].sum() - gc.sum()
        designed = {g: tr.effects[(tr.effects["comparison"] == name) & (tr.effects["guild"] == key)]["log2fc"].mean()
                    for g, key in (("butyrate_producers", "butyrate-producers"),
                                   ("inflammation_associated", "prevotellaceae"))}
        for m in methods:
            r = run_method(m, contrast.with_counts(gc), seed=0).set_index("feature")
            txt = ", ".join(f"{g} effect {r.loc[g, 'effect']:+.2f} p {r.loc[g, 'p_value']:.2g} "
                            f"(designed log2FC {designed[g]:+.2f})" for g in designed)
            print(f"  guilds {m:<16} {txt}")
        for m in methods:
            c = called(run_method(m, contrast, seed=0))
            print(f"  {m:<16} called {c.sum():3d}  false {int((c & ~true).sum()):3d}  "
                  f"FDP {(c & ~true).sum() / max(c.sum(), 1):.3f}  power {(c & true).sum() / max(true.sum(), 1):.3f}")


def animal_contrasts(sim, min_prevalence: float = 0.1):  # type: ignore[no-untyped-def]
    """The interaction contrast and the naive within-IL-2-arm paired contrast of a simulated
    mouse experiment (true counts), and the truth per kept feature."""
    md = sim.metadata
    first, last = min(md["week"]), max(md["week"])
    md = md[md["week"].isin([first, last])]
    counts = sim.counts[md.index]
    counts = counts[(counts > 0).mean(axis=1) >= min_prevalence]
    from microtrial.differential._features import arm_prevalence_filter

    counts = arm_prevalence_filter(counts, (md["treatment"] == "il2").to_numpy())  # as the stage
    week = md["week"].astype(str)
    ix = Contrast(counts, week, str(last), str(first), "interaction", md["subject"].astype(str),
                  arm=md["treatment"].astype(str), arm_levels=("il2", "control"),
                  term="treatment:week")
    il2 = md.index[md["treatment"] == "il2"]
    naive = Contrast(counts[il2], week[il2], str(last), str(first), "paired",
                     md.loc[il2, "subject"].astype(str), term="week")
    eff = sim.effects.set_index("feature")["effect"].reindex(counts.index).fillna("none")
    return ix, naive, eff.to_numpy()


def animal(seeds: list[int]) -> None:
    from microtrial.simulate import simulate_animal

    methods = [("lmm", "interaction"), ("paired-wilcoxon", "interaction"),
               ("ancombc", "interaction"), ("lmm", "naive"), ("paired-wilcoxon", "naive")]
    rows = []
    for seed in seeds:
        sim = simulate_animal(seed=seed)
        ix, naive, eff = animal_contrasts(sim)
        true = eff == "interaction"
        for m, which in [*methods, ("t-test of CLR changes", "reference")]:
            if which == "reference":
                # the yardstick: Student's t test of the subjects' CLR changes between arms
                from scipy import stats

                from microtrial.differential import bh, clr

                ti, ri = ix.pairs()
                d = clr(ix.counts.to_numpy(dtype=float))
                d = d[:, ti] - d[:, ri]
                arm = ix.is_test_arm[ti]
                p = stats.ttest_ind(d[:, arm], d[:, ~arm], axis=1).pvalue
                c = bh(p) < 0.05
            else:
                res = run_method(m, ix if which == "interaction" else naive, seed=seed)
                if res is None:
                    continue
                c = called(res)
            rows.append({"seed": seed, "method": f"{m} ({which})", "calls": int(c.sum()),
                         "false": int((c & ~true).sum()),
                         "time_only_called": int((c & (eff == "time-only")).sum()),
                         "fdp": (c & ~true).sum() / max(c.sum(), 1),
                         "power": (c & true).sum() / max(true.sum(), 1)})
    df = pd.DataFrame(rows)
    print(f"\nanimal experiment, interaction treatment:week; {len(seeds)} seeds "
          f"({', '.join(map(str, seeds))}); call = q < 0.05; false = time-only or unchanged")
    summary = df.groupby("method", sort=False).agg(
        FDR=("fdp", "mean"), power=("power", "mean"), calls=("calls", "mean"),
        time_only_called=("time_only_called", "mean"))
    print(summary.round(3).to_string())


def animal_permanova_null(seeds: list[int], permutations: int = 199) -> None:
    """Size of the PERMANOVA interaction test (Bray-Curtis on true counts) on mouse
    experiments without IL-2 effects (age drift and cages only): whole subjects permuted
    between arms and time within subject (the stage's design) vs whole subjects only."""
    from microtrial.diversity._permanova import permanova
    from microtrial.simulate import AnimalDesign, simulate_animal

    ps: dict[bool, list[float]] = {True: [], False: []}
    for seed in seeds:
        sim = simulate_animal(AnimalDesign(n_il2_features=0), seed=seed)
        x = sim.counts.T.to_numpy(dtype=float)
        num = np.abs(x[:, None, :] - x[None, :, :]).sum(axis=2)
        den = x.sum(axis=1)[:, None] + x.sum(axis=1)[None, :]
        d = pd.DataFrame(num / den, index=sim.counts.columns, columns=sim.counts.columns)
        md = sim.metadata.copy()
        md["week"] = md["week"].astype(str)
        for within in (True, False):
            r = permanova(d, md, ["treatment", "week", "treatment:week"], plots="subject",
                          within=within, permutations=permutations, seed=seed).set_index("term")
            ps[within].append(float(r.loc["treatment:week", "p_value"]))
    print(f"\nPERMANOVA treatment:week under no interaction ({len(seeds)} seeds, "
          f"{permutations} permutations): rejections at 0.05")
    for within, label in ((True, "subjects between arms + time within subject"),
                          (False, "whole subjects only")):
        a = np.asarray(ps[within])
        print(f"  {label:<45} {int((a <= 0.05).sum())} of {len(a)}  (median p {np.median(a):.3f})")


def speed() -> None:
    print(f"\nspeed: 500 samples x 2,000 features (load: {os.getloadavg()[0]:.2f})")
    for paired in (False, True):
        contrast, _ = simulate(n_features=2000, n_per_group=250, n_da=100, lfc_range=(1, 2),
                               paired=paired, subject_sd=1.0 if paired else 0.0, seed=1)
        print("paired (250 subjects x 2)" if paired else "case-control (250 vs 250)")
        for m in (PAIRED if paired else BETWEEN):
            t0 = time.perf_counter()
            run_method(m, contrast, seed=0)
            print(f"  {m:<16}{time.perf_counter() - t0:8.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--animal", action="store_true", help="the interaction benchmark only")
    ap.add_argument("--animal-permanova", action="store_true",
                    help="size of the PERMANOVA interaction test without IL-2 effects")
    ap.add_argument("--seeds", default="1-8", help="animal simulation seeds, e.g. 1-8 or 1,5")
    args = ap.parse_args()
    if args.animal or args.animal_permanova:
        a, _, b = args.seeds.partition("-")
        seeds = list(range(int(a), int(b) + 1)) if b else [int(x) for x in args.seeds.split(",")]
        if args.animal:
            animal(seeds)
        if args.animal_permanova:
            animal_permanova_null(seeds)
        return
    if not args.speed_only:
        accuracy(args.reps)
        trial()
    if not args.skip_speed:
        speed()


if __name__ == "__main__":
    main()
