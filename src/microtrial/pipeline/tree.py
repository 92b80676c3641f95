"""``tree``: ASV sequences -> tree.nwk (rooted, every ASV a tip).

Reads the ASVs and the reference (checking it names its own tips), calls
:func:`microtrial.phylogeny.build_tree`, writes the tree and ``run-info.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from microtrial.errors import InputError, OptionError
from microtrial.names import TREE_METHODS as METHODS

log = logging.getLogger(__name__)


def tree_stage(sequences: Path, out_dir: Path, *, method: str = "insertion", threads: int = 2,
               progress: Callable[[str, int, int], None] | None = None,
               ref_seqs: Path | None = None, ref_tree: Path | None = None,
               ref_alignment: Path | None = None) -> Path:
    """Build the ASV tree and write ``tree.nwk`` and ``run-info.json`` into ``out_dir``.

    ``method="insertion"`` places every ASV into the Greengenes 13_8 97% tree (or
    ``ref_tree`` with ``ref_seqs``) next to its closest reference and prunes the tree to the
    ASVs; ``"de-novo"`` aligns the ASVs to the Greengenes 85% template alignment (or
    ``ref_alignment``) and builds a midpoint-rooted neighbour-joining tree.
    """
    import qiime_default_reference as qdr

    from microtrial.io.fasta import read_fasta
    from microtrial.io.newick import read_tree, write_tree
    from microtrial.io.runinfo import start_output, write_run_info
    from microtrial.phylogeny import build_tree

    m = method.lower().replace("_", "-").replace("denovo", "de-novo")
    if m not in METHODS:
        raise OptionError("tree", f"unknown tree method '{method}'; choose from {', '.join(METHODS)}")
    if (ref_seqs is None) != (ref_tree is None):
        raise OptionError("tree.ref_seqs", "give both the reference sequences and tree, or neither")
    timings: dict[str, float] = {}
    queries = read_fasta(sequences, as_dna=True)  # gapped or RNA ASVs place as plain DNA
    if not queries:
        raise InputError(sequences, "no sequences")
    reference: dict[str, Path]
    if m == "insertion":
        t0 = time.perf_counter()
        seqs_path = Path(ref_seqs) if ref_seqs is not None else Path(qdr.get_reference_sequences())
        tree_path = Path(ref_tree) if ref_tree is not None else Path(qdr.get_reference_tree())
        refs = read_fasta(seqs_path)
        reference_tree = read_tree(tree_path)
        _check_reference(refs, reference_tree, seqs_path, tree_path)
        timings["read_reference"] = round(time.perf_counter() - t0, 3)
        try:
            result = build_tree(queries, method=m, threads=threads, reference_seqs=refs,
                                reference_tree=reference_tree, progress=progress)
        except ValueError as exc:
            raise InputError(sequences, str(exc)) from exc
        reference = {"sequences": seqs_path, "tree": tree_path}
    else:
        aln_path = Path(ref_alignment) if ref_alignment is not None else Path(qdr.get_template_alignment())
        template = read_fasta(aln_path)
        _check_alignment(template, aln_path)
        result = build_tree(queries, method=m, threads=threads, template=template, progress=progress)
        reference = {"alignment": aln_path}
    timings.update(result.timings)
    tree = result.tree
    out_dir = Path(out_dir)
    start_output(out_dir, command="tree")
    path = out_dir / "tree.nwk"
    write_tree(tree, path)
    write_run_info(out_dir, command="tree",
                   options={"sequences": sequences, "method": m, "threads": threads, **reference},
                   timings=timings, extra={"n_tips": result.n_tips}, outputs=[path])
    return path


def _first(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (", ..." if len(ids) > n else "")


def _check_reference(refs: dict[str, str], tree, seqs_path: Path, tree_path: Path) -> None:  # noqa: ANN001
    """Every reference sequence must name a tip of the reference tree (else the ASVs placed
    next to it would be left out of the tree)."""
    if not refs:
        raise InputError(seqs_path, "no reference sequences")
    tips = {t.name for t in tree.tips()}
    missing = [r for r in refs if r not in tips]
    if missing:
        raise InputError(tree_path, f"{len(missing)} of the {len(refs)} reference sequence ids in "
                         f"{seqs_path} are not tips of this tree (e.g. {_first(missing)})")


def _check_alignment(template: dict[str, str], aln_path: Path) -> None:
    """A template alignment: at least one row, every row of the same length."""
    if not template:
        raise InputError(aln_path, "no aligned sequences")
    lengths = {k: len(v) for k, v in template.items()}
    first = next(iter(lengths))
    odd = [k for k, n in lengths.items() if n != lengths[first]]
    if odd:
        raise InputError(aln_path, f"not an alignment: rows have different lengths ({len(odd)} "
                         f"differ from '{first}' with {lengths[first]} columns, e.g. '{odd[0]}' "
                         f"with {lengths[odd[0]]})")
