"""``function``: file I/O around the function stage (metagenome, pathways, all-in-one).

Reads inputs, calls one entry point of :mod:`microtrial.function`, writes PICRUSt2's file
names and formats atomically, then ``run-info.json`` (which records the route that produced
the functions: ``picrust2-reference``, ``embedded-genus-table`` or ``genus-trait-table``,
with the trait table's own note, e.g. that its traits are simulated).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from microtrial.errors import InputError, OptionError
from microtrial.io._atomic import atomic_open, open_text
from microtrial.io.runinfo import start_output, write_run_info
from microtrial.options import mention

log = logging.getLogger(__name__)

DEFAULT_PATHWAY_MAPS = (
    "metacyc_pathways_structured_filtered_v24_subreactions.txt",
    "metacyc_pathways_structured_filtered_v24.txt",
    "metacyc_path2rxn_struc_filt_pro.txt",
)
"""PICRUSt2 2.6's default MetaCyc map, then the files of earlier releases, first found used
(for EC ids without a prefix, as in 2.6's trait tables)."""
LEGACY_PATHWAY_MAPS = ("metacyc_path2rxn_struc_filt_pro.txt",) + DEFAULT_PATHWAY_MAPS[:2]
"""For ``EC:``-prefixed ids (PICRUSt2 up to 2.5): that release's default map first."""
DEFAULT_REGROUP_MAPS = ("ec_level4_to_metacyc_rxn_new.tsv", "ec_level4_to_metacyc_rxn.tsv")
"""EC -> MetaCyc reaction maps: 2.6's (EC ids without a prefix), then the ``EC:`` one."""
KEGG_PATHWAY_MAP = "KEGG_pathways_to_KO.tsv"


# --- readers ---------------------------------------------------------------------------
def _lines(path: Path) -> list[str]:
    try:
        with open_text(path) as fh:
            return fh.readlines()
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(path, f"cannot read: {' '.join(str(exc).split())}") from exc


def _read_tsv(p: Path, *, empty: str, kind: str = "table", **read_csv: Any) -> pd.DataFrame:
    """``pd.read_csv(p, sep="\\t", **read_csv)``, its failures as an :class:`InputError`
    naming ``p``: a missing path, ``empty`` for an empty file, "cannot be read as a
    tab-separated <kind>" for anything else."""
    if not p.is_file():
        raise InputError(p, "no such file" if not p.exists() else "is not a file")
    try:
        return pd.read_csv(p, sep="\t", **read_csv)
    except pd.errors.EmptyDataError as exc:
        raise InputError(p, empty) from exc
    except (UnicodeDecodeError, EOFError, OSError, pd.errors.ParserError) as exc:
        raise InputError(p, f"cannot be read as a tab-separated {kind}: "
                            f"{' '.join(str(exc).split())}") from exc


def read_tsv_frame(path: Path, *, what: str = "table") -> pd.DataFrame:
    """A tab-separated table with ids in the first column (``.gz`` transparent)."""
    p = Path(path)
    df = _read_tsv(p, empty=f"empty {what}", kind=what, dtype={0: str}, comment=None)
    if df.shape[1] < 2:
        raise InputError(p, f"a {what} needs an id column and at least one value column "
                            "(tab-separated)")
    first = df.columns[0]
    df[first] = df[first].astype(str)
    if df[first].duplicated().any():
        dup = df[first][df[first].duplicated()].iloc[0]
        raise InputError(p, f"id '{dup}' is listed twice")
    return df.set_index(first)


def read_prediction(path: Path) -> pd.DataFrame:
    """A PICRUSt2 hsp output (``sequence`` column, one column per trait, optional
    ``metadata_NSTI``)."""
    df = read_tsv_frame(path, what="trait prediction table")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise InputError(path, f"column '{c}' is not numeric")
    df.index.name = "sequence"
    return df


def read_abundance_table(path: Path) -> pd.DataFrame:
    """ASV counts (BIOM, ``.qza``, or TSV with any first-column name) as ASVs x samples."""
    from microtrial.function import table_to_frame
    from microtrial.io.feature_table import read_table

    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith((b"\x89HDF", b"PK\x03\x04")) or magic.lstrip().startswith(b"{"):
        return table_to_frame(read_table(p))
    lines = [ln for ln in _lines(p) if ln.strip() and not (ln.startswith("#") and "\t" not in ln)]
    if not lines:
        raise InputError(p, "empty feature table")
    import io

    df = pd.read_csv(io.StringIO("".join(lines)), sep="\t", dtype={0: str})
    first = df.columns[0]
    if df.shape[1] < 2:
        raise InputError(p, "a feature table needs an id column and sample columns")
    if list(df.columns[:3]) == ["label", "Group", "numOtus"]:  # mothur shared file
        df = df.drop(columns=["label", "numOtus"])
        df["Group"] = df["Group"].astype(str)
        df = df.set_index("Group").T
        df.columns.name = None
    else:
        df = df.set_index(first)
    if "taxonomy" in df.columns:
        df = df.drop(columns="taxonomy")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise InputError(p, f"column '{c}' is not numeric")
    if df.index.duplicated().any():
        raise InputError(p, f"ASV '{df.index[df.index.duplicated()][0]}' is listed twice")
    if (df.to_numpy() < 0).any():
        raise InputError(p, "negative counts")
    df.index = df.index.astype(str)
    return df


def _write_tsv(df: pd.DataFrame, path: Path, *, index: bool = True,
               index_label: str | None = None) -> Path:
    with atomic_open(path) as fh:
        df.to_csv(fh, sep="\t", index=index, index_label=index_label)
    return path


# --- metagenome ------------------------------------------------------------------------
def write_metagenome(result: Any, out_dir: Path, *, skip_norm: bool = False) -> list[Path]:
    """PICRUSt2's metagenome_pipeline.py files for a :class:`MetagenomeResult`."""
    out = []
    if not skip_norm:
        out.append(_write_tsv(result.normalized, out_dir / "seqtab_norm.tsv.gz",
                              index_label="normalized"))
    out.append(_write_tsv(result.unstratified, out_dir / "pred_metagenome_unstrat.tsv.gz",
                          index_label="function"))
    if result.contributions is not None and result.wide:
        out.append(_write_tsv(result.contributions, out_dir / "pred_metagenome_strat.tsv.gz"))
    elif result.contributions is not None:
        out.append(_write_tsv(result.contributions, out_dir / "pred_metagenome_contrib.tsv.gz",
                              index=False))
    if result.weighted_nsti is not None:
        out.append(_write_tsv(result.weighted_nsti, out_dir / "weighted_nsti.tsv.gz",
                              index_label="sample"))
    rows = [(a, "nsti_above_max") for a in result.excluded_nsti]
    rows += [(a, "no_prediction") for a in result.unpredicted]
    excl = pd.DataFrame(rows, columns=["sequence", "reason"])
    out.append(_write_tsv(excl, out_dir / "excluded_asvs.tsv", index=False))
    return out


def metagenome_stage(table: Path, traits: Path, marker: Path | None, out_dir: Path, *,
                     max_nsti: float = 2.0, strat_out: bool = False, wide_table: bool = False,
                     min_reads: int = 1, min_samples: int = 1, skip_norm: bool = False) -> Path:
    """``microtrial function metagenome``: PICRUSt2's metagenome_pipeline.py."""
    from microtrial.function import PredictionInputError, predict_metagenome

    if marker is None and not skip_norm:
        raise OptionError("metagenome.marker", f"needed unless {mention('metagenome.skip_norm')} "
                                               "(predicted 16S copies per ASV)")
    if marker is not None and skip_norm:
        raise OptionError("metagenome.marker", f"not used with {mention('metagenome.skip_norm')}; "
                                               "give one or the other")
    t0 = time.perf_counter()
    counts = read_abundance_table(table)
    pred = read_prediction(traits)
    mark = read_prediction(marker) if marker is not None else None
    try:
        result = predict_metagenome(counts, pred, mark, max_nsti=max_nsti, stratified=strat_out,
                                    wide=wide_table, min_reads=min_reads, min_samples=min_samples,
                                    skip_norm=skip_norm)
    except PredictionInputError as exc:  # name the file the problem is in
        path = {"table": table, "traits": traits, "marker": marker}[exc.source]
        raise InputError(path, exc.message) from None
    start_output(out_dir, command="function metagenome",
                 keep=[p for p in (table, traits, marker) if p is not None])
    outputs = write_metagenome(result, out_dir, skip_norm=skip_norm)
    write_run_info(
        out_dir, command="function metagenome",
        options={"table": table, "traits": traits, "marker": marker, "max_nsti": max_nsti,
                 "strat_out": strat_out, "wide_table": wide_table, "min_reads": min_reads,
                 "min_samples": min_samples, "skip_norm": skip_norm},
        timings={"metagenome": time.perf_counter() - t0},
        extra={"excluded_nsti": list(result.excluded_nsti),
               "unpredicted": list(result.unpredicted)},
        outputs=outputs,
    )
    return out_dir / "pred_metagenome_unstrat.tsv.gz"


# --- pathways --------------------------------------------------------------------------
@dataclass(frozen=True)
class PathwayFiles:
    """The map files a pathways run uses (None = none)."""

    pathway_map: Path
    regroup_map: Path | None
    descriptions: Path | None


def default_map_folder(reference: Path | None = None) -> Path | None:
    """``pathway_mapfiles/`` of a reference (or of ``$MICROTRIAL_PICRUST2_REF``)."""
    import os

    candidates = []
    if reference is not None:
        candidates += [reference / "pathway_mapfiles", reference.parent / "pathway_mapfiles"]
    env = os.environ.get("MICROTRIAL_PICRUST2_REF")
    if env:
        candidates += [Path(env) / "pathway_mapfiles", Path(env).parent / "pathway_mapfiles"]
    return next((c for c in candidates if c.is_dir()), None)


def resolve_pathway_files(function_ids: Iterable[str], *, map_file: Path | None,
                          regroup_map: Path | None, no_regroup: bool,
                          map_folder: Path | None) -> PathwayFiles:
    """Pick the map files: given ones, else the reference's defaults (KO ids -> KEGG
    pathways without regrouping; EC ids -> MetaCyc with the EC map matching their form)."""
    ids = [str(i) for i in function_ids]
    is_ko = bool(ids) and all(i.removeprefix("ko:").startswith("K") for i in ids[:50])
    desc_folder = map_folder.parent / "description_mapfiles" if map_folder is not None else None

    def _find(names: Iterable[str], what: str) -> Path:
        if map_folder is None:
            raise OptionError("pathways.map", f"no {what} given and no PICRUSt2 pathway_mapfiles/ "
                             "folder known (give --map/--regroup-map or --reference)")
        for n in names:
            if (map_folder / n).is_file():
                return map_folder / n
        raise InputError(map_folder, f"no {what} ({', '.join(names)}) in this folder")

    if map_file is None:
        legacy = any(i.startswith("EC:") for i in ids[:50])
        names = ((KEGG_PATHWAY_MAP,) if is_ko else
                 LEGACY_PATHWAY_MAPS if legacy else DEFAULT_PATHWAY_MAPS)
        map_file = _find(names, "pathway map")
        if is_ko:
            no_regroup = True
    if no_regroup:
        regroup_map = None
    elif regroup_map is None:
        if is_ko:
            regroup_map = None
        else:
            prefixed = any(i.startswith("EC:") for i in ids[:50])
            order = DEFAULT_REGROUP_MAPS[::-1] if prefixed else DEFAULT_REGROUP_MAPS
            regroup_map = _find(order, "EC -> reaction map")
    desc = None
    if desc_folder is not None and desc_folder.is_dir():
        name = "KEGG_pathways_info.tsv.gz" if map_file.name == KEGG_PATHWAY_MAP else \
            "metacyc-pwy_name.txt.gz"
        desc = desc_folder / name if (desc_folder / name).is_file() else None
    return PathwayFiles(map_file, regroup_map, desc)


def read_gene_families(path: Path) -> pd.DataFrame:
    """:func:`read_metagenome_table`'s gene families x samples table."""
    return read_metagenome_table(path)[0]


def read_metagenome_table(path: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Gene families x samples from a metagenome table in any of PICRUSt2's three formats
    (with the stratified table as read, or None):
    unstratified (``function``, samples), wide stratified (``function``, ``sequence``,
    samples: summed over sequences) or contributions (long: ``taxon_function_abun`` summed
    per function and sample)."""
    p = Path(path)
    df = _read_tsv(p, empty="empty gene-family table",
                   dtype={"function": str, "sequence": str, "sample": str, "taxon": str})
    if "function" not in df.columns:
        raise InputError(p, "no 'function' column (expected a metagenome_pipeline output such "
                            "as pred_metagenome_unstrat.tsv.gz)")
    df = df.drop(columns=[c for c in ("description",) if c in df.columns])
    if "genome_function_count" in df.columns:
        for col in ("sample", "taxon_function_abun"):
            if col not in df.columns:
                raise InputError(p, f"contribution table without a '{col}' column")
        samples = list(dict.fromkeys(df["sample"]))
        wide = df.pivot_table(index="function", columns="sample", values="taxon_function_abun",
                              aggfunc="sum", fill_value=0)
        wide = wide.reindex(columns=samples, fill_value=0)
        wide.columns.name = None
        return wide, df
    if "sequence" in df.columns:
        raw = df.copy()
        df = df.drop(columns="sequence").groupby("function", sort=True).sum()
        for c in df.columns:
            if not pd.api.types.is_numeric_dtype(df[c]):
                raise InputError(p, f"column '{c}' is not numeric")
        return df, raw
    else:
        if df["function"].duplicated().any():
            dup = df["function"][df["function"].duplicated()].iloc[0]
            raise InputError(p, f"function '{dup}' is listed twice")
        df = df.set_index("function")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise InputError(p, f"column '{c}' is not numeric")
    if df.shape[1] == 0:
        raise InputError(p, "no sample columns")
    return df, None


def _descriptions(path: Path | None) -> dict[str, str]:
    from microtrial.function import parse_descriptions

    return parse_descriptions(_lines(path)) if path is not None else {}


def write_pathways(result: Any, out_dir: Path, *, descriptions: dict[str, str] | None = None
                   ) -> list[Path]:
    from microtrial.function import add_descriptions

    abun, cov = result.abundance, result.coverage
    if descriptions:
        abun = add_descriptions(abun, descriptions)
        cov = add_descriptions(cov, descriptions) if cov is not None else None
    out = [_write_tsv(abun, out_dir / "path_abun_unstrat.tsv.gz", index_label="pathway")]
    if cov is not None:
        out.append(_write_tsv(cov, out_dir / "path_cov_unstrat.tsv.gz", index_label="pathway"))
    return out


def pathways_stage(input_table: Path, out_dir: Path, *, map_file: Path | None = None,
                   regroup_map: Path | None = None, no_regroup: bool = False,
                   minpath: bool = True, gap_fill: bool = True, coverage: bool = False,
                   descriptions: bool = False, reference: Path | None = None) -> Path:
    """``microtrial function pathways``: PICRUSt2's pathway_pipeline.py (unstratified)."""
    t0 = time.perf_counter()
    table, contrib = read_metagenome_table(input_table)
    folder = default_map_folder(reference)
    if folder is None and map_file is not None:
        folder = map_file.parent if map_file.parent.name == "pathway_mapfiles" else None
    files = resolve_pathway_files(table.index, map_file=map_file, regroup_map=regroup_map,
                                  no_regroup=no_regroup, map_folder=folder)
    if descriptions and files.descriptions is None:
        raise OptionError("pathways.description", "no description_mapfiles/ folder beside the pathway "
                                          "maps (give --reference, a PICRUSt2 reference folder)")
    from microtrial.function import parse_pathway_map, parse_regroup_map, pathway_tables

    pmap = parse_pathway_map(_lines(files.pathway_map), source=str(files.pathway_map))
    regroup = (parse_regroup_map(_lines(files.regroup_map), source=str(files.regroup_map))
               if files.regroup_map is not None else None)
    tables = pathway_tables(table, pmap, regroup_map=regroup, stratified=contrib, minpath=minpath,
                            gap_filling=gap_fill, coverage=coverage)
    result, path_contrib = tables.result, tables.stratified
    contrib_name = ("path_abun_contrib.tsv.gz" if tables.stratified_kind == "contrib"
                    else "path_abun_strat.tsv.gz")
    desc = _descriptions(files.descriptions) if descriptions else None
    start_output(out_dir, command="function pathways", keep=[input_table])
    outputs = write_pathways(result, out_dir, descriptions=desc)
    if path_contrib is not None:
        outputs.append(_write_tsv(path_contrib, out_dir / contrib_name, index=False))
    write_run_info(
        out_dir, command="function pathways",
        options={"input": input_table, "map": files.pathway_map, "regroup_map": files.regroup_map,
                 "minpath": minpath, "gap_fill": gap_fill, "coverage": coverage,
                 "descriptions": files.descriptions if descriptions else None},
        timings={"pathways": time.perf_counter() - t0},
        outputs=outputs,
    )
    return out_dir / "path_abun_unstrat.tsv.gz"


# --- all-in-one ------------------------------------------------------------------------
ProgressCallback = Callable[[str, int, int], None]


def _asv_predictions(pred: pd.DataFrame, nsti: pd.Series | None) -> pd.DataFrame:
    values = pred.drop(columns=[c for c in pred.columns if c == "metadata_NSTI"])
    out = values.copy()
    out.insert(0, "nsti", nsti.reindex(out.index) if nsti is not None else float("nan"))
    out.index.name = "feature-id"
    return out


def function_stage(table: Path, out_dir: Path, *, sequences: Path | None = None,
                   reference: Path | None = None, taxonomy: Path | None = None,
                   max_nsti: float = 2.0, strat_out: bool = False, hsp_method: str = "mp",
                   minpath: bool = True, gap_fill: bool = True, coverage: bool = False,
                   threads: int = 1, seed: int = 0,
                   progress: ProgressCallback | None = None,
                   genus_traits: Path | None = None, map_folder: Path | None = None) -> Path:
    """``microtrial function``: all steps. With ``reference``: placement, hsp for every trait
    table, metagenomes, pathways (PICRUSt2 route); without: the embedded genus table
    (needs ``taxonomy``), plus ``genus_traits`` (a genus-level trait table, e.g. EC per
    genus) whose pathways use ``map_folder``'s maps or the packaged MetaCyc maps."""
    from microtrial.function import PredictionInputError, run_function

    if genus_traits is not None and reference is not None:
        raise OptionError("function.genus_traits", "goes with the genus route (not with "
                                                   f"{mention('function.reference')})")
    t0 = time.perf_counter()
    inp = read_function_inputs(
        table, sequences=sequences, reference=reference, taxonomy=taxonomy,
        genus_traits=genus_traits, map_folder=map_folder,
        no_sequences=OptionError("function.sequences", f"needed with {mention('function.reference')} "
                                 "(the ASV sequences to place)"),
        no_taxonomy=OptionError("function.taxonomy", f"needed without {mention('function.reference')} "
                                "(the embedded genus table predicts from each ASV's genus)"))
    gt_note = inp.genus_traits_note
    try:
        result = run_function(inp.counts, sequences=inp.sequences, reference=inp.reference,
                              taxonomy=inp.taxonomy, pathway_specs=inp.pathway_specs,
                              max_nsti=max_nsti, stratified=strat_out, hsp_method=hsp_method,
                              minpath=minpath, gap_filling=gap_fill, coverage=coverage,
                              threads=threads, seed=seed, progress=progress,
                              genus_traits=inp.genus_traits, genus_traits_name=str(genus_traits))
    except PredictionInputError as exc:
        if exc.source != "table":  # predictions made here: named in words
            raise
        raise InputError(table, exc.message) from None
    start_output(out_dir, command="function",
                 keep=[p for p in (table, sequences, taxonomy, reference, genus_traits)
                       if p is not None])
    outputs = write_function_outputs(result, out_dir)
    write_run_info(
        out_dir, command="function",
        options={"table": table, "sequences": sequences, "reference": reference,
                 "taxonomy": taxonomy, "max_nsti": max_nsti, "strat_out": strat_out,
                 "hsp_method": hsp_method, "minpath": minpath, "gap_fill": gap_fill,
                 "coverage": coverage, "threads": threads, "genus_traits": genus_traits,
                 "map_folder": map_folder},
        seeds={"hsp": seed},
        timings={"function": time.perf_counter() - t0, **result.timings},
        extra={**_result_extra(result), **_genus_traits_extra(genus_traits, gt_note,
                                                              map_folder, result)},
        outputs=outputs,
    )
    return out_dir


@dataclass(frozen=True)
class FunctionInputs:
    """What both function stages (``microtrial function`` and ``run``'s) read."""

    counts: pd.DataFrame
    sequences: dict[str, str] | None
    reference: Any
    taxonomy: pd.DataFrame | None
    pathway_specs: list[Any]
    genus_traits: pd.DataFrame | None
    genus_traits_note: str


def read_function_inputs(table: Path, *, sequences: Path | None, reference: Path | None,
                         taxonomy: Path | None, genus_traits: Path | None,
                         map_folder: Path | None, no_sequences: Exception,
                         no_taxonomy: Exception) -> FunctionInputs:
    """Read the ASV counts, then the reference route's reference and sequences, or the
    genus route's taxonomy and (optional) genus trait table with its pathway maps.

    ``no_sequences`` / ``no_taxonomy`` are raised when the route's sequences / taxonomy are
    missing (each caller words them for its user: flags or study-file keys). The genus
    trait table goes with the genus route only: it is not read with a reference.
    """
    counts = read_abundance_table(table)
    seqs = tax = ref = None
    specs: list[Any] = []
    if reference is not None:
        from microtrial.function import load_reference
        from microtrial.io.fasta import read_fasta

        if sequences is None:
            raise no_sequences
        ref = load_reference(reference)
        seqs = read_fasta(sequences, as_dna=True)
        specs = reference_pathway_specs(ref)
    else:
        if taxonomy is None:
            raise no_taxonomy
        from microtrial.io.taxonomy import read_taxonomy

        tax = read_taxonomy(taxonomy)
    gt_table, gt_note, gt_specs = (_genus_traits_inputs(genus_traits, map_folder)
                                   if reference is None else (None, "", []))
    return FunctionInputs(counts, seqs, ref, tax, specs or gt_specs, gt_table, gt_note)


def _result_extra(result: Any) -> dict[str, Any]:
    return {"route": result.route, "traits": list(result.predictions),
            "pathway_map": result.pathway_map, "unplaced": list(result.unplaced),
            "excluded_nsti": sorted({a for m in result.metagenomes.values()
                                     for a in m.excluded_nsti})}


def _genus_traits_extra(path: Path | None, note: str, map_folder: Path | None,
                        result: Any) -> dict[str, Any]:
    if path is None:
        return {}
    return {"genus_traits": str(path), "genus_traits_note": note,
            "genus_traits_simulated": "simulated" in note.lower(),
            "pathway_maps": (str(map_folder) if map_folder is not None else
                             "packaged MetaCyc maps (PICRUSt2 2.6.3)")
            if result.pathways is not None else None}


def reference_pathway_specs(ref: Any) -> list[Any]:
    """MetaCyc pathways from EC, KEGG pathways from KO, with the reference's map files."""
    from microtrial.function import PathwaySpec, parse_pathway_map, parse_regroup_map

    folder = ref.pathway_mapfiles
    if folder is None:
        log.warning("%s: no pathway_mapfiles/ folder: no pathway abundances", ref.folder)
        return []
    specs = []
    for trait, name in (("ec", "metacyc"), ("ko", "kegg")):
        if trait not in ref.traits:
            continue
        with open_text(ref.traits[trait]) as fh:
            header = fh.readline().rstrip("\n").split("\t")[1:]
        try:
            files = resolve_pathway_files(header, map_file=None, regroup_map=None,
                                          no_regroup=False, map_folder=folder)
        except InputError as exc:
            log.warning("no %s pathways: %s", name, exc)
            continue
        pmap = parse_pathway_map(_lines(files.pathway_map), source=str(files.pathway_map))
        regroup = (parse_regroup_map(_lines(files.regroup_map), source=str(files.regroup_map))
                   if files.regroup_map is not None else None)
        specs.append(PathwaySpec(trait, name, pmap, regroup, _descriptions(files.descriptions)))
    return specs


def read_genus_traits(path: Path) -> tuple[pd.DataFrame, str]:
    """A genus-level trait table (first column genus/family/order names, one column per
    trait, e.g. EC numbers) and the text of its leading ``#`` comment lines (which say,
    e.g., that the traits are simulated)."""
    from microtrial.function import check_genus_traits

    p = Path(path)
    note_lines = []
    for line in _lines(p):
        if not line.startswith("#"):
            break
        note_lines.append(line.lstrip("#").strip())
    df = _read_tsv(p, empty="empty genus trait table", comment=None,
                   skiprows=len(note_lines), dtype={0: str})
    if df.shape[1] < 2:
        raise InputError(p, "a genus trait table needs a name column and trait columns "
                            "(tab-separated)")
    first = df.columns[0]
    df[first] = df[first].astype(str)
    return check_genus_traits(df.set_index(first), str(p)), " ".join(n for n in note_lines if n)


def genus_pathway_specs(kind: str, map_folder: Path | None = None,
                        ids: Iterable[str] = ()) -> list[Any]:
    """MetaCyc pathways from EC for the genus trait route: the maps of ``map_folder`` (a
    PICRUSt2 ``pathway_mapfiles/`` folder; chosen for the form of ``ids`` as
    :func:`resolve_pathway_files` does) or, by default, the packaged copies of the
    ``EC:``-keyed MetaCyc maps shipped with PICRUSt2 2.6.3 (``metacyc_path2rxn_struc_filt_pro.txt``,
    ``ec_level4_to_metacyc_rxn.tsv``, descriptions ``metacyc-pwy_name.txt``). KO traits get
    KEGG pathways only from a map folder; other traits no pathways."""
    from microtrial.function import (
        PACKAGED_DESCRIPTIONS,
        PACKAGED_PATHWAY_MAP,
        PACKAGED_REGROUP_MAP,
        PathwaySpec,
        packaged_map_lines,
        parse_descriptions,
        parse_pathway_map,
        parse_regroup_map,
    )

    if kind not in ("ec", "ko"):
        return []
    if map_folder is not None:
        if not Path(map_folder).is_dir():
            raise InputError(map_folder, "no such folder (a PICRUSt2 pathway_mapfiles/ folder)")
        probe = list(ids) or (["K00001"] if kind == "ko" else ["EC:1.1.1.1"])
        files = resolve_pathway_files(probe, map_file=None, regroup_map=None, no_regroup=False,
                                      map_folder=Path(map_folder))
        pmap = parse_pathway_map(_lines(files.pathway_map), source=str(files.pathway_map))
        regroup = (parse_regroup_map(_lines(files.regroup_map), source=str(files.regroup_map))
                   if files.regroup_map is not None else None)
        return [PathwaySpec(kind, "metacyc" if kind == "ec" else "kegg", pmap, regroup,
                            _descriptions(files.descriptions))]
    if kind != "ec":
        log.warning("KO traits: no packaged KEGG map; name a pathway_mapfiles/ folder for "
                    "KEGG pathways")
        return []
    pmap = parse_pathway_map(packaged_map_lines(PACKAGED_PATHWAY_MAP),
                             source=PACKAGED_PATHWAY_MAP)
    regroup = parse_regroup_map(packaged_map_lines(PACKAGED_REGROUP_MAP),
                                source=PACKAGED_REGROUP_MAP)
    desc = parse_descriptions(packaged_map_lines(PACKAGED_DESCRIPTIONS))
    return [PathwaySpec("ec", "metacyc", pmap, regroup, desc)]


def _genus_traits_inputs(genus_traits: Path | None, map_folder: Path | None
                         ) -> tuple[pd.DataFrame | None, str, list[Any]]:
    if genus_traits is None:
        return None, "", []
    from microtrial.function import trait_kind

    table, note = read_genus_traits(genus_traits)
    kind = trait_kind(list(table.columns))
    if kind == "ec" and map_folder is None:  # the packaged maps key EC numbers as EC:x.x.x.x
        table = table.rename(columns=lambda c: c if c == "16S_rRNA_Count" or c.startswith("EC:")
                             else f"EC:{c}")
    ids = [c for c in table.columns if c != "16S_rRNA_Count"]
    return table, note, genus_pathway_specs(kind, map_folder, ids)


def write_function_outputs(result: Any, out_dir: Path) -> list[Path]:
    """The all-in-one outputs: ``function/`` in PICRUSt2's layout plus the flat tables."""
    fdir = out_dir / "function"
    outputs: list[Path] = []
    if result.tree_newick is not None:
        p = fdir / "out.tre"
        with atomic_open(p) as fh:
            fh.write(result.tree_newick)
        outputs.append(p)
    if result.marker_pred is not None:
        outputs.append(_write_tsv(result.marker_pred, fdir / "marker_predicted_and_nsti.tsv.gz",
                                  index_label="sequence"))
    for trait, pred in result.predictions.items():
        outputs.append(_write_tsv(pred, fdir / f"{trait.upper()}_predicted.tsv.gz",
                                  index_label="sequence"))
        outputs.append(_write_tsv(_asv_predictions(pred, result.nsti),
                                  out_dir / f"asv-{trait}-predictions.tsv"))
    for trait, meta in result.metagenomes.items():
        outputs += write_metagenome(meta, fdir / f"{trait.upper()}_metagenome_out")
        outputs.append(_write_tsv(meta.unstratified, out_dir / f"{trait}-metagenome.tsv",
                                  index_label="function"))
    if result.matches is not None:
        outputs.append(_write_tsv(result.matches, fdir / "genus_matches.tsv",
                                  index_label="sequence"))
    for name, other in result.other_pathways.items():
        outputs += write_pathways(other, fdir / f"{name}_pathways_out")
    if result.pathways is not None:
        outputs += write_pathways(result.pathways, fdir / "pathways_out")
        if result.pathway_descriptions:
            from microtrial.function import add_descriptions

            described = add_descriptions(result.pathways.abundance, result.pathway_descriptions)
            outputs.append(_write_tsv(described, fdir / "pathways_out" /
                                      "path_abun_unstrat_descrip.tsv.gz", index_label="pathway"))
        outputs.append(_write_tsv(result.pathways.abundance, out_dir / "pathway-abundance.tsv",
                                  index_label="pathway"))
    return outputs


# --- inside `microtrial run` -----------------------------------------------------------
DEFAULT_PATHWAYS_OF_INTEREST = ("ASPASN-PWY", "ASPARAGINESYN-PWY", "LEUSYN-PWY",
                                "BRANCHED-CHAIN-AA-SYN-PWY", "CENTFERM-PWY", "PWY-5676",
                                "P162-PWY")


def _stat_tables(result: Any) -> dict[str, pd.DataFrame]:
    """Function tables that go through the statistics: MetaCyc pathways, then the trait
    metagenomes with few enough features (CAZy; EC/KO are summarised by the pathways)."""
    tables: dict[str, pd.DataFrame] = {}
    if result.pathways is not None and len(result.pathways.abundance):
        tables["pathway"] = result.pathways.abundance
    for trait, meta in result.metagenomes.items():
        if len(meta.unstratified) <= 1000:
            tables[trait] = meta.unstratified
    return tables


def _read_measures(clinical: Path | None, immune: Path | None, metabolites: Path | None,
                   samples: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The clinical and immune long tables and the metabolite matrix, read as the
    associations stage reads them."""
    from microtrial.clinical import long_table, read_sample_matrix

    long_measures = {kind: long_table(path, "measure")[0]
                     for kind, path in (("clinical", clinical), ("immune", immune))
                     if path is not None}
    sample_measures = ({"metabolites": read_sample_matrix(metabolites, samples)}
                       if metabolites is not None else {})
    return long_measures, sample_measures


def function_study_stage(
    out_dir: Path, *, table: Path, metadata: Path, comparisons: Any,
    sequences: Path | None = None, taxonomy: Path | None = None,
    reference: Path | None = None, pathways_of_interest: Iterable[str] = DEFAULT_PATHWAYS_OF_INTEREST,
    max_nsti: float = 2.0, hsp_method: str = "mp", minpath: bool = True, gap_fill: bool = True,
    subject: str | None = None, time_column: str | None = None, baseline: str | None = None,
    followup: str | None = None, clinical: Path | None = None, immune: Path | None = None,
    metabolites: Path | None = None, min_prevalence: float = 0.1, seed: int = 0,
    threads: int = 1, progress: ProgressCallback | None = None,
    genus_traits: Path | None = None, map_folder: Path | None = None,
) -> Path:
    """The function stage of ``microtrial run``: predictions (reference or genus route),
    then the differential tests and associations of the predicted functions."""
    from microtrial.function import STAT_METHODS, analyse_functions, run_function
    from microtrial.io.metadata import read_metadata

    t0 = time.perf_counter()
    inp = read_function_inputs(
        table, sequences=sequences, reference=reference, taxonomy=taxonomy,
        genus_traits=genus_traits, map_folder=map_folder,
        no_sequences=InputError("function.reference", "needs the ASV sequences (reads or "
                                "sequences:)"),
        no_taxonomy=InputError("function", "the embedded genus table needs a taxonomy "
                               "(taxonomy: or taxonomy_file:)"))
    counts, gt_note = inp.counts, inp.genus_traits_note
    result = run_function(counts, sequences=inp.sequences, reference=inp.reference,
                          taxonomy=inp.taxonomy, pathway_specs=inp.pathway_specs,
                          max_nsti=max_nsti, hsp_method=hsp_method, minpath=minpath,
                          gap_filling=gap_fill, threads=threads, seed=seed, progress=progress,
                          genus_traits=inp.genus_traits, genus_traits_name=str(genus_traits))
    tables = _stat_tables(result)
    t1 = time.perf_counter()
    md = read_metadata(metadata)
    want_assoc = bool(subject and time_column and baseline and followup and any(
        x is not None for x in (clinical, immune, metabolites)))
    long_measures, sample_measures = (
        _read_measures(clinical, immune, metabolites, [str(s) for s in counts.columns])
        if want_assoc else ({}, {}))
    stats = analyse_functions(
        tables, md, comparisons=comparisons, descriptions=result.pathway_descriptions or {},
        min_prevalence=min_prevalence, seed=seed, subject=subject, time=time_column,
        baseline=baseline, followup=followup, long_measures=long_measures,
        sample_measures=sample_measures)
    diff, assoc = stats.differential, stats.associations
    t_stats = time.perf_counter() - t1
    start_output(out_dir, command="function")
    outputs = write_function_outputs(result, out_dir)
    outputs.append(_write_tsv(diff, out_dir / "function-differential.tsv", index=False))
    if assoc is not None:
        outputs.append(_write_tsv(assoc, out_dir / "function-associations.tsv", index=False))
    interest = [p for p in pathways_of_interest]
    found = ([p for p in interest if p in result.pathways.abundance.index]
             if result.pathways is not None else [])
    write_run_info(
        out_dir, command="function",
        options={"reference": reference, "max_nsti": max_nsti, "hsp_method": hsp_method,
                 "minpath": minpath, "gap_fill": gap_fill, "min_prevalence": min_prevalence,
                 "methods": list(STAT_METHODS), "genus_traits": genus_traits,
                 "map_folder": map_folder},
        seeds={"function": seed},
        timings={"function": time.perf_counter() - t0, "statistics": t_stats, **result.timings},
        extra={**_result_extra(result),
               **_genus_traits_extra(genus_traits if reference is None else None, gt_note,
                                     map_folder, result),
               "pathways_of_interest": interest,
               "pathways_of_interest_found": found, "stat_tables": list(tables)},
        outputs=outputs,
    )
    return out_dir
