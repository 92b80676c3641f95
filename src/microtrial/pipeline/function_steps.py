"""``microtrial function place`` and ``microtrial function hsp``: PICRUSt2's place_seqs.py and
hsp.py steps, with its file names (``out.tre``, ``place_seqs.jplace``,
``<traits>_predicted.tsv.gz``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import atomic_open

log = logging.getLogger(__name__)

PLACED_TREE = "out.tre"
JPLACE = "place_seqs.jplace"


def place_stage(sequences: Path, reference: Path, out_dir: Path, *, threads: int = 1,
                min_align: float = 0.8,
                progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Place the ASVs of ``sequences`` on the reference tree; writes ``out.tre`` (the tree
    with the placed ASVs), ``place_seqs.jplace`` and ``run-info.json``; returns out.tre."""
    from microtrial.function import jplace_text, load_reference, place_sequences
    from microtrial.io.fasta import read_fasta
    from microtrial.io.runinfo import start_output, write_run_info

    if not 0.0 <= min_align <= 1.0:
        raise OptionError("place.min_align", f"{min_align} is not between 0 and 1")
    t0 = time.perf_counter()
    seqs = read_fasta(sequences)
    if not seqs:
        raise InputError(sequences, "no sequences")
    ref = load_reference(reference)
    placement_ref = ref.read_placement()
    timings = {"read": round(time.perf_counter() - t0, 3)}
    t1 = time.perf_counter()
    try:
        result = place_sequences(seqs, placement_ref, threads=threads, min_align=min_align,
                                 progress=progress)
    except ValueError as exc:
        raise InputError(ref.hmm, str(exc)) from exc
    timings["place"] = round(time.perf_counter() - t1, 3)
    if result.best.empty:
        first = next(iter(result.unplaced.items()))
        raise InputError(sequences, f"none of the {len(seqs)} sequences could be placed "
                                    f"(e.g. {first[0]}: {first[1]})")
    for name, why in result.unplaced.items():
        log.warning("not placed: %s (%s)", name, why)
    out_dir = Path(out_dir)
    start_output(out_dir, command="function place", keep=[sequences, reference])
    tree_path = out_dir / PLACED_TREE
    with atomic_open(tree_path) as fh:
        fh.write(result.placed_tree + "\n")
    jplace_path = out_dir / JPLACE
    with atomic_open(jplace_path) as fh:
        fh.write(jplace_text(result.tree, result.placements,
                             invocation=f"microtrial function place --sequences {sequences} "
                                        f"--reference {reference}"))
    write_run_info(
        out_dir, command="function place",
        options={"sequences": sequences, "reference": ref.folder, "threads": threads,
                 "min_align": min_align},
        timings=timings,
        extra={"placed": int(result.best.shape[0]), "unplaced": result.unplaced,
               "reference_files": {"fna": ref.fna, "tre": ref.tre, "hmm": ref.hmm,
                                   "model": ref.model}},
        outputs=[tree_path, jplace_path],
    )
    return tree_path


def trait_stem(path: Path) -> str:
    """``ko.txt.gz`` -> ``ko``; ``EC.tsv`` -> ``EC``."""
    name = Path(path).name
    for suffix in (".txt.gz", ".tsv.gz", ".txt", ".tsv", ".gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def hsp_stage(tree: Path, traits: Path, out_dir: Path, *, method: str = "mp",
              calculate_nsti: bool = False, ci: bool = False, seed: int = 0,
              progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Predict the traits of the tips of ``tree`` that are not rows of ``traits``; writes
    ``<traits>_predicted.tsv.gz`` (``sequence`` column first; ``metadata_NSTI`` with
    ``calculate_nsti``), with ``ci`` also ``<traits>_predicted_ci.tsv.gz`` (``<trait>_5``,
    ``<trait>_95``), and ``run-info.json``."""
    from microtrial.function import HSP_METHODS, predict_traits, read_newick, read_trait_table
    from microtrial.io.runinfo import start_output, write_run_info

    if method not in HSP_METHODS:
        raise OptionError("hsp.method", f"unknown method '{method}'; choose one of "
                                     f"{', '.join(HSP_METHODS)}")
    if ci and method not in ("mp", "emp_prob"):
        raise OptionError("hsp.ci", f"confidence intervals need --method mp or emp_prob, "
                                 f"not {method}")
    t0 = time.perf_counter()
    arr = read_newick(tree)
    table = read_trait_table(traits)
    tips = arr.tip_index()
    missing = [x for x in table.index if x not in tips]
    if missing:
        shown = ", ".join(map(str, missing[:3])) + (" ..." if len(missing) > 3 else "")
        raise InputError(traits, f"{len(missing)} of {len(table)} genome ids are no tips of "
                                 f"{tree}: {shown}")
    try:
        pred = predict_traits(arr, table, method=method, calculate_nsti=calculate_nsti or ci,
                              ci=ci, seed=seed, progress=progress)
    except ValueError as exc:
        raise InputError(traits, str(exc)) from exc
    elapsed = round(time.perf_counter() - t0, 3)
    out_dir = Path(out_dir)
    start_output(out_dir, command="function hsp", keep=[tree, traits])
    stem = trait_stem(traits)
    cols = [str(c) for c in table.columns]
    main = pred[cols + (["metadata_NSTI"] if calculate_nsti else [])]
    path = out_dir / f"{stem}_predicted.tsv.gz"
    with atomic_open(path) as fh:
        main.to_csv(fh, sep="\t", index_label="sequence", float_format="%.10g")
    outputs = [path]
    if ci:
        ci_cols = [f"{c}_{s}" for c in cols for s in ("5", "95")]
        ci_path = out_dir / f"{stem}_predicted_ci.tsv.gz"
        with atomic_open(ci_path) as fh:
            pred[ci_cols].to_csv(fh, sep="\t", index_label="sequence")
        outputs.append(ci_path)
    write_run_info(out_dir, command="function hsp",
                   options={"tree": tree, "traits": traits, "method": method,
                            "calculate_nsti": calculate_nsti, "ci": ci},
                   seeds={"ties": seed}, timings={"hsp": elapsed},
                   extra={"predicted_tips": int(pred.shape[0]), "traits": len(cols)},
                   outputs=outputs)
    return path
