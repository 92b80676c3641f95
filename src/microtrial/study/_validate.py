"""``validate_study``: check a study file and every file it names, reporting all problems.

Schema problems (unknown keys, wrong types, out-of-range options) come with the study
file's line. Then, for every section that passed the schema, the files are opened and
checked against each other: the metadata has the design columns and levels, the
comparisons' columns, levels and filters exist (and select samples), the reads folder
holds paired FASTQ files whose sample ids match the metadata, an existing table's samples
match the metadata, clinical/immune tables name known subjects and the baseline/follow-up
visits, metabolite samples exist. Everything is collected into one :class:`StudyError`.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from microtrial.design import (
    RESPONSE_COLUMN,
    RESPONSE_LEVELS,
    build_comparisons,
    covariate_problem,
    level_strings,
    user_level,
)
from microtrial.errors import InputError, StudyError
from microtrial.io._atomic import open_text
from microtrial.study._load import (
    Parsed,
    build_study,
    default_comparisons,
    parse_study,
)
from microtrial.study._models import Study
from microtrial.study._reads import find_read_pairs, manifest_path

log = logging.getLogger(__name__)

# the column the clinical stage adds to the metadata, and its levels (one definition, in
# microtrial.design, shared with microtrial.clinical.responders_metadata and the report)
_RESPONSE = RESPONSE_COLUMN


def _ids(values: Iterable[Any], n: int = 6) -> str:
    vals = sorted(str(v) for v in values)
    shown = ", ".join(vals[:n])
    return shown + (f", ... ({len(vals)} in all)" if len(vals) > n else "")


def _levels(series: pd.Series) -> set[str]:
    return set(level_strings(series.dropna()))


def _hint(value: str, levels: Iterable[str]) -> str:
    """Explain a miss caused by a column read as numbers (``12.0`` is not ``12``)."""
    try:
        x = float(value)
    except ValueError:
        return ""
    for level in levels:
        try:
            if float(level) == x:
                return (f"; the column was read as numbers ('{level}'): declare it "
                        "categorical in the metadata's #q2:types line")
        except ValueError:
            continue
    return ""


def _file(p: Parsed, loc: Sequence[str | int], path: Path | None, *, folder: bool = False) -> bool:
    """Record a problem unless ``path`` exists (as a folder when ``folder``)."""
    if path is None:
        return False
    if not path.exists():
        p.add(loc, f"no such {'folder' if folder else 'file'}: {path}")
        return False
    if folder and not path.is_dir():
        p.add(loc, f"{path} is a file, expected a folder")
        return False
    if not folder and path.is_dir():
        p.add(loc, f"{path} is a folder, expected a file")
        return False
    return True


def _read_tsv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """A plain TSV (header + ``(line, cells)`` rows; ``#`` comments skipped), shape-checked."""
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip() or line.startswith("#"):
                    continue
                cells = [c.strip() for c in line.split("\t")]
                if header is None:
                    header = cells
                    continue
                if len(cells) > len(header) and any(cells[len(header):]):
                    raise InputError(
                        path, f"{len(cells)} cells but the header has {len(header)} columns",
                        line=lineno,
                    )
                rows.append((lineno, (cells + [""] * len(header))[: len(header)]))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "empty file (no header)")
    return header, rows


def validate_study(path: str | os.PathLike[str]) -> Study:
    """Check the study file and everything it names; return the :class:`Study`.

    Raises
    ------
    StudyError
        Listing every problem found, each naming the study file's line and field or the
        data file (and its line) at fault.
    """
    p = parse_study(path)
    md = _check_metadata(p)
    design = p.get("design")
    if md is not None and design is not None:
        _check_design(p, md, design)
        _check_comparisons(p, md, design)
        opts = p.get("options")
        if opts is not None:
            for i, cov in enumerate(opts.covariates):
                if cov not in md.columns:
                    p.add(("options", "covariates", i),
                          f"covariate '{cov}' is not a column of {p.get('metadata')}")
            _check_covariates(p, md, design, opts.covariates)
    _check_reads(p, md)
    _check_table(p, md)
    _check_taxonomy(p)
    _check_subject_tables(p, md, design)
    _check_metabolites(p, md)
    if not p.ok:
        raise StudyError(p.path, p.problems)
    return build_study(p, md)


# --------------------------------------------------------------------------- sections


def _check_metadata(p: Parsed) -> pd.DataFrame | None:
    path = p.get("metadata")
    if not _file(p, ("metadata",), path):
        return None
    from microtrial.io.metadata import read_metadata

    try:
        return read_metadata(path)
    except InputError as exc:
        p.add(("metadata",), f"cannot read the metadata: {exc}")
        return None


def _check_design(p: Parsed, md: pd.DataFrame, design: Any) -> None:
    mpath = p.get("metadata")
    cols = ", ".join(map(str, md.columns))
    if design.subject not in md.columns:
        p.add(("design", "subject"), f"column '{design.subject}' is not in {mpath} (columns: {cols})")
    elif md[design.subject].isna().any():
        missing = md.index[md[design.subject].isna()]
        p.add(("design", "subject"), f"samples without a subject in {mpath}: {_ids(missing)}")
    for key in ("group", "time"):
        factor = getattr(design, key)
        if factor is None:
            continue
        if factor.column not in md.columns:
            p.add(("design", key, "column"),
                  f"column '{factor.column}' is not in {mpath} (columns: {cols})")
            continue
        levels = _levels(md[factor.column])
        if user_level(factor.reference, md[factor.column]) not in levels:
            p.add(("design", key, "reference"),
                  f"level '{factor.reference}' is not in column '{factor.column}' of {mpath} "
                  f"(levels: {_ids(levels)})")


def _response_level(p: Parsed, loc: Sequence[str | int], value: str, what: str) -> bool:
    """Record a problem unless ``value`` is a level of the clinical stage's ``response``."""
    if value in RESPONSE_LEVELS:
        return True
    close = difflib.get_close_matches(value, RESPONSE_LEVELS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    p.add(loc, f"{what} '{value}' is not a level of column '{_RESPONSE}', which the clinical "
          f"stage fills with {' or '.join(RESPONSE_LEVELS)}{hint}")
    return False


def _check_comparisons(p: Parsed, md: pd.DataFrame, design: Any) -> None:
    mpath = p.get("metadata")
    specs = p.get("comparisons")
    explicit = specs is not None
    if specs is None:
        specs = default_comparisons(design, md)
        if not specs:
            p.add(("comparisons",), f"none given and none can be derived from the design "
                  f"(column '{design.group.column}' has only the reference level?)")
        return
    if not specs:
        # A run needs at least one comparison (the differential stage has nothing to test).
        p.add(("comparisons",), "the list is empty: list at least one comparison, or omit "
              "'comparisons' to derive them from the design")
        return
    # With 'clinical', the run (re)writes the response column from the clinical table.
    late = p.get("clinical") is not None
    for i, c in enumerate(specs):
        base = ("comparisons", i) if explicit else ()
        frame = md
        ok = True
        for col, value in c.where.items():
            if late and col == _RESPONSE:
                _response_level(p, (*base, "where", col), value, "filter level")
                ok = False
                continue
            if col not in md.columns:
                p.add((*base, "where", col), f"filter column '{col}' is not in {mpath}")
                ok = False
                continue
            levels = _levels(md[col])
            wanted = user_level(value, md[col])
            if wanted not in levels:
                p.add((*base, "where", col), f"filter level '{value}' is not in column '{col}' "
                      f"of {mpath} (levels: {_ids(levels)})")
                ok = False
                continue
            frame = frame[level_strings(frame[col]) == wanted]
        if late and c.column == _RESPONSE:
            for j, level in enumerate(c.levels):
                _response_level(p, (*base, "levels", j), level, "level")
            continue
        if c.column not in md.columns:
            hint = " (added by the clinical stage only when 'clinical' is given)" if c.column == _RESPONSE else ""
            p.add((*base, "column"), f"column '{c.column}' is not in {mpath}{hint}")
            continue
        levels = _levels(md[c.column])
        wanted_levels = [user_level(level, md[c.column]) for level in c.levels]
        for j, (level, wanted) in enumerate(zip(c.levels, wanted_levels)):
            if wanted not in levels:
                p.add((*base, "levels", j), f"level '{level}' is not in column '{c.column}' of "
                      f"{mpath} (levels: {_ids(levels)})")
                ok = False
        if ok and len(set(wanted_levels)) < len(wanted_levels):
            seen: dict[str, str] = {}
            for level, wanted in zip(c.levels, wanted_levels):
                if wanted in seen:
                    p.add((*base, "levels"), f"'{seen[wanted]}' and '{level}' are the same level "
                          f"({wanted}) of the numeric column '{c.column}'")
                    break
                seen[wanted] = level
            ok = False
        for key in ("random", "covariates"):
            for j, col in enumerate(getattr(c, key, ()) or ()):
                if col not in md.columns:
                    p.add((*base, key, j), f"column '{col}' is not in {mpath}")
                    ok = False
        by = getattr(c, "by", None)
        if by is not None:
            if by.column not in md.columns:
                p.add((*base, "by", "column"), f"column '{by.column}' is not in {mpath}")
                ok = False
            else:
                by_levels = _levels(md[by.column])
                for j, level in enumerate(by.levels):
                    if user_level(level, md[by.column]) not in by_levels:
                        p.add((*base, "by", "levels", j), f"level '{level}' is not in column "
                              f"'{by.column}' of {mpath} (levels: {_ids(by_levels)})")
                        ok = False
        if not ok:
            continue
        col_levels = level_strings(frame[c.column])
        where_txt = f" where {', '.join(f'{k}={v}' for k, v in c.where.items())}" if c.where else ""
        for j, (level, wanted) in enumerate(zip(c.levels, wanted_levels)):
            if not (col_levels == wanted).any():
                p.add((*base, "levels", j), f"no sample has {c.column}={level}{where_txt}")
                ok = False
        if not ok or design.subject not in md.columns:
            continue
        subj = frame[design.subject]
        if c.kind == "paired":
            a = set(subj[col_levels == wanted_levels[0]].dropna())
            b = set(subj[col_levels == wanted_levels[1]].dropna())
            if not a & b:
                p.add((*base, "kind"), f"paired, but no subject has samples at both "
                      f"{c.levels[0]} and {c.levels[1]}{where_txt}")
        elif c.kind == "longitudinal":
            _check_longitudinal(p, base, c, frame, design.subject, wanted_levels, where_txt)
        elif c.kind == "interaction":
            _check_interaction(p, base, c, frame, design.subject, wanted_levels, where_txt)


def _check_covariates(p: Parsed, md: pd.DataFrame, design: Any, covariates: Sequence[str]) -> None:
    """No covariate (study-wide or a comparison's own) is a comparison's compared column or
    its subject column: the rule the differential stage applies
    (:func:`microtrial.design.covariate_problem`), found before the run."""
    specs = p.get("comparisons")
    try:
        comparisons = build_comparisons(design, specs, md)
    except (ValueError, KeyError):
        return  # the comparisons' own problems are reported by _check_comparisons
    for k, comp in enumerate(comparisons):
        for i, cov in enumerate(covariates):
            problem = covariate_problem(comp, cov)
            if problem is not None:
                p.add(("options", "covariates", i), problem)
        if specs is not None:
            for i, cov in enumerate(comp.covariates):
                problem = covariate_problem(comp, cov)
                if problem is not None:
                    p.add(("comparisons", k, "covariates", i), problem)


def _check_longitudinal(p: Parsed, base: tuple[str | int, ...], c: Any, frame: pd.DataFrame,
                        subject: str, wanted: list[str], where_txt: str) -> None:
    """At least two of the time points sampled, and some subject followed over two."""
    col = level_strings(frame[c.column])
    present = [lv for lv, w in zip(c.levels, wanted) if (col == w).any()]
    if len(present) < 2:
        p.add((*base, "levels"), f"longitudinal, but only one time point ({present[0] if present else '-'}) "
              f"has samples{where_txt}; give two or more time points")
        return
    per_subject = pd.DataFrame({"s": frame[subject], "t": col}).dropna()
    n_times = per_subject[per_subject["t"].isin(wanted)].groupby("s")["t"].nunique()
    if not (n_times >= 2).any():
        p.add((*base, "kind"), f"longitudinal, but no subject has samples at two or more of "
              f"{', '.join(c.levels)}{where_txt}")


def _check_interaction(p: Parsed, base: tuple[str | int, ...], c: Any, frame: pd.DataFrame,
                       subject: str, wanted: list[str], where_txt: str) -> None:
    """Each arm of ``by`` has subjects sampled at both time points; no subject in two arms."""
    by = c.by
    arm = level_strings(frame[by.column])
    arms = [user_level(lv, frame[by.column]) for lv in by.levels]
    col = level_strings(frame[c.column])
    df = pd.DataFrame({"s": frame[subject], "arm": arm, "t": col}).dropna()
    df = df[df["arm"].isin(arms) & df["t"].isin(wanted)]
    two = df.groupby("s")["arm"].nunique()
    crossed = sorted(map(str, two.index[two > 1]))
    if crossed:
        p.add((*base, "by"), f"subject(s) {_ids(crossed)} have samples in both arms "
              f"{by.levels[0]} and {by.levels[1]} of '{by.column}'; an interaction needs each "
              f"subject in one arm")
        return
    for level, want in zip(by.levels, arms):
        rows = df[df["arm"] == want]
        both = set(rows[rows["t"] == wanted[0]]["s"]) & set(rows[rows["t"] == wanted[1]]["s"])
        if len(both) < 2:
            who = "no subject" if not both else "only one subject"
            p.add((*base, "by", "levels"), f"interaction, but in arm {by.column}={level} {who} "
                  f"has samples at both {c.column}={c.levels[0]} and {c.column}={c.levels[1]}"
                  f"{where_txt} (at least 2 needed)")


def _check_reads(p: Parsed, md: pd.DataFrame | None) -> None:
    reads = p.get("reads")
    if reads is None:
        return
    manifest = manifest_path(reads.dir) if reads.dir.exists() else None
    if manifest is not None:
        _check_manifest(p, manifest, md)
        return
    if not _file(p, ("reads", "dir"), reads.dir, folder=True):
        return
    found = find_read_pairs(reads.dir)
    for f in found.unpaired:
        p.add(("reads", "dir"), f"{f} has no mate (expected R1 and R2 files per sample)")
    for s in found.duplicates:
        p.add(("reads", "dir"), f"sample '{s}' has more than one R1 or R2 file")
    for f in found.broken_links:
        p.add(("reads", "dir"), f"{f} is a broken symbolic link (its target does not exist)")
    if found.unrecognised:
        p.add(("reads", "dir"), "cannot tell sample and read from these FASTQ names "
              f"(use <sample>_S1_L001_R1_001.fastq.gz or <sample>_1.fastq.gz): "
              f"{_ids(f.name for f in found.unrecognised)}")
    if not found.pairs:
        if not found.unpaired and not found.unrecognised:
            p.add(("reads", "dir"), f"no FASTQ files in {reads.dir}")
        return
    _check_read_samples(p, set(found.pairs), md, "read pairs for samples not in the metadata",
                        f"metadata samples without reads in {reads.dir}")


def _check_manifest(p: Parsed, manifest: Path, md: pd.DataFrame | None) -> None:
    """A QIIME 2 manifest, read by the denoise stage's own parser (header, fields, repeated
    sample ids, missing FASTQ files: its first problem, with the manifest's line), then its
    sample ids against the metadata as for a folder of FASTQ files."""
    from microtrial.reads import find_samples

    try:
        samples = find_samples(manifest)
    except InputError as exc:
        p.add(("reads", "dir"), str(exc))
        return
    single = [s.sample_id for s in samples if s.r2 is None]
    if single:
        p.add(("reads", "dir"), f"{manifest} lists single-end reads (no reverse file) for "
              f"{_ids(single)}; a study's reads must be paired")
    _check_read_samples(p, {s.sample_id for s in samples}, md,
                        f"samples in {manifest} not in the metadata",
                        f"metadata samples not in {manifest}")


def _check_read_samples(p: Parsed, have: set[str], md: pd.DataFrame | None, extra: str,
                        missing: str) -> None:
    """Every metadata sample has reads and every read sample is in the metadata."""
    if md is None:
        return
    want = set(map(str, md.index))
    if want - have:
        p.add(("reads", "dir"), f"{missing}: {_ids(want - have)}")
    if have - want:
        p.add(("reads", "dir"), f"{extra}: {_ids(have - want)}")


def _check_table(p: Parsed, md: pd.DataFrame | None) -> None:
    table_path = p.get("table")
    table = None
    if _file(p, ("table",), table_path):
        from microtrial.io.feature_table import read_table

        try:
            table = read_table(table_path)
        except InputError as exc:
            p.add(("table",), f"cannot read the feature table: {exc}")
    if table is not None and md is not None:
        have, want = set(table.sample_ids), set(map(str, md.index))
        if want - have:
            p.add(("table",), f"metadata samples not in the table: {_ids(want - have)}")
        if have - want:
            p.add(("table",), f"table samples not in the metadata: {_ids(have - want)}")
    seqs_path = p.get("sequences")
    if _file(p, ("sequences",), seqs_path):
        from microtrial.io.fasta import read_fasta

        try:
            seqs = read_fasta(seqs_path)
        except InputError as exc:
            p.add(("sequences",), f"cannot read the sequences: {exc}")
        else:
            if table is not None:
                missing = set(table.feature_ids) - set(seqs)
                if missing:
                    p.add(("sequences",), f"table features without a sequence: {_ids(missing)}")
    tax_path = p.get("taxonomy_file")
    if _file(p, ("taxonomy_file",), tax_path):
        from microtrial.io.taxonomy import read_taxonomy

        try:
            tax = read_taxonomy(tax_path)
        except InputError as exc:
            p.add(("taxonomy_file",), f"cannot read the taxonomy: {exc}")
        else:
            if table is not None:
                missing = set(table.feature_ids) - set(map(str, tax.index))
                if missing:
                    p.add(("taxonomy_file",), f"table features without a taxon: {_ids(missing)}")
    tree_path = p.get("tree_file")
    if _file(p, ("tree_file",), tree_path):
        from microtrial.io.newick import read_tree

        try:
            tree = read_tree(tree_path)
        except InputError as exc:
            p.add(("tree_file",), f"cannot read the tree: {exc}")
        else:
            if table is not None:
                tips = {t.name for t in tree.tips()}
                missing = set(table.feature_ids) - tips
                if missing:
                    p.add(("tree_file",), f"table features not among the tree's tips: {_ids(missing)}")


def _check_taxonomy(p: Parsed) -> None:
    tx = p.get("taxonomy")
    if tx is None:
        return
    _file(p, ("taxonomy", "ref_seqs"), tx.ref_seqs)
    _file(p, ("taxonomy", "ref_taxonomy"), tx.ref_taxonomy)
    if tx.extract_region and p.get("reads") is not None and p.get("reads").primer_f is None:
        log.info("extract_region is set but the study gives no primers; the full reference is used")


def _check_subject_tables(p: Parsed, md: pd.DataFrame | None, design: Any) -> None:
    clinical = p.get("clinical")
    visits: tuple[str, ...]
    if clinical is not None:
        visits = (clinical.baseline, clinical.followup)
    elif design is not None and design.time is not None and md is not None \
            and design.time.column in md.columns:
        visits = tuple(sorted(_levels(md[design.time.column])))
    else:
        visits = ()
    subjects: set[str] | None = None
    if md is not None and design is not None and design.subject in md.columns:
        subjects = _levels(md[design.subject])
    tables: list[tuple[tuple[str, ...], Path, bool]] = []
    if clinical is not None:
        tables.append((("clinical", "table"), clinical.table, True))
    if p.get("immune") is not None:
        tables.append((("immune",), p.get("immune"), clinical is not None))
    for loc, path, exact in tables:
        if not _file(p, loc, path):
            continue
        n_problems = len(p.problems)
        try:
            header, rows = _read_tsv(path)
        except InputError as exc:
            p.add(loc, f"cannot read: {exc}")
            continue
        missing = [c for c in ("subject", "visit") if c not in header]
        if missing:
            p.add(loc, f"{path} lacks column(s) {', '.join(missing)} (header: {', '.join(header)})")
            continue
        si, vi = header.index("subject"), header.index("visit")
        first: dict[tuple[str, str], int] = {}
        for lineno, r in rows:
            key = (r[si], r[vi])
            if not r[si] or not r[vi]:
                p.add(loc, f"{path}: line {lineno}: empty subject or visit")
            elif key in first:
                p.add(loc, f"{path}: line {lineno}: second row for subject '{r[si]}' at visit "
                      f"'{r[vi]}' (first on line {first[key]})")
            first.setdefault(key, lineno)
        if subjects is not None:
            unknown = {r[si] for _, r in rows if r[si]} - subjects
            if unknown:
                p.add(loc, f"subjects in {path} not in the metadata's '{design.subject}' "
                      f"column: {_ids(unknown)}{_hint(sorted(unknown)[0], subjects)}")
        found = {r[vi] for _, r in rows if r[vi]}
        if exact:
            for v in visits:
                if v not in found:
                    p.add(loc, f"visit '{v}' does not occur in {path} (visits: {_ids(found)})")
        elif visits:
            stray = found - set(visits)
            if stray:
                p.add(loc, f"visits in {path} that are not time points of the metadata: "
                      f"{_ids(stray)}")
        if len(p.problems) == n_problems:
            _check_values(p, loc, path, clinical if loc[0] == "clinical" else None)


def _check_values(p: Parsed, loc: tuple[str, ...], path: Path, clinical: Any) -> None:
    """Read a clinical or immune table as the clinical stage will (numbers, scale ranges),
    so that a bad value is found now rather than after the slow stages of a run."""
    from microtrial.clinical import read_clinical, read_immune

    try:
        if clinical is not None:
            read_clinical(path, mmt_scale=clinical.mmt_scale, baseline=clinical.baseline,
                          uln=clinical.uln)
        else:
            read_immune(path)
    except InputError as exc:
        p.add(loc, str(exc))


def _check_metabolites(p: Parsed, md: pd.DataFrame | None) -> None:
    path = p.get("metabolites")
    if not _file(p, ("metabolites",), path):
        return
    # The associations stage's own reader: numbers only (a bad value names its line).
    from microtrial.clinical import read_sample_matrix

    try:
        met = read_sample_matrix(path, None if md is None else list(map(str, md.index)))
    except InputError as exc:
        p.add(("metabolites",), f"cannot read: {exc}")
        return
    if md is not None:
        unknown = set(map(str, met.index)) - set(map(str, md.index))
        if unknown:
            p.add(("metabolites",), f"samples in {path} not in the metadata: {_ids(unknown)}")
