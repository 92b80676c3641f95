"""QIIME 2 taxonomy TSV: ``Feature ID``, ``Taxon``, optional ``Confidence``."""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd

from microtrial.errors import InputError
from microtrial.io._atomic import atomic_open, open_text

_ID_HEADERS = {"feature id", "feature-id", "featureid", "id", "#otuid", "#otu id"}
_TAXON_HEADERS = {"taxon", "taxonomy"}


def read_taxonomy(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a taxonomy TSV into a DataFrame indexed by feature id with ``Taxon`` and
    ``Confidence`` (NaN when absent) columns.

    With a header (QIIME 2: ``Feature ID<TAB>Taxon[<TAB>Confidence]``) the second column
    must be ``Taxon`` (or ``Taxonomy``, any case); without one, every line is
    ``id<TAB>taxon[<TAB>confidence]`` (Greengenes style). Leading ``#`` comment lines are
    skipped. A taxon that is a number is an error (a feature table is not a taxonomy).
    """
    ids: list[str] = []
    seen: set[str] = set()
    taxa: list[str] = []
    conf: list[float] = []
    started = False
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip():
                    continue
                cells = line.split("\t")
                if not started:
                    started = True
                    first = cells[0].strip().lower()
                    if first in _ID_HEADERS:
                        second = cells[1].strip() if len(cells) > 1 else ""
                        if second.lower() not in _TAXON_HEADERS:
                            hint = " (this looks like a feature table)" if first.startswith("#otu") else ""
                            raise InputError(path, f"header must be 'Feature ID<TAB>Taxon', the second "
                                                   f"column is '{second}'{hint}", line=lineno)
                        continue
                    if first.startswith("#"):  # a comment before the header or the first row
                        started = False
                        continue
                if len(cells) < 2 or not cells[1].strip():
                    raise InputError(path, "row without a taxon (expected id<TAB>taxon)", line=lineno)
                fid, taxon = cells[0], cells[1].strip()
                if fid in seen:
                    raise InputError(path, f"duplicate feature id '{fid}'", line=lineno)
                if _is_number(taxon):
                    raise InputError(path, f"taxon '{taxon}' is a number, not a taxonomy "
                                           f"(is this a feature table?)", line=lineno)
                seen.add(fid)
                ids.append(fid)
                taxa.append(taxon)
                if len(cells) > 2 and cells[2].strip():
                    try:
                        conf.append(float(cells[2]))
                    except ValueError as exc:
                        raise InputError(path, f"confidence '{cells[2]}' is not a number", line=lineno) from exc
                else:
                    conf.append(float("nan"))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from exc
        raise InputError(path, f"cannot read: {exc}") from exc
    if not started:
        raise InputError(path, "empty taxonomy file")
    return pd.DataFrame({"Taxon": taxa, "Confidence": conf}, index=pd.Index(ids, name="Feature ID"))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def write_taxonomy(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``Feature ID``, ``Taxon``, ``Confidence`` (atomic)."""
    with atomic_open(path) as fh:
        fh.write("Feature ID\tTaxon\tConfidence\n")
        for fid, row in df.iterrows():
            c = row.get("Confidence", float("nan"))
            cs = "" if pd.isna(c) else f"{float(c):.4g}"
            fh.write(f"{fid}\t{row['Taxon']}\t{cs}\n")


# ---- taxonomy references (classifier training data) -----------------------------------

_NUCLEOTIDES = frozenset("ACGTURYSWKMBDHVN.-")


def _fasta_records(path: str | os.PathLike[str]):  # noqa: ANN202 - generator of tuples
    """Yield ``(header, header_line, sequence)``; sequences may span lines; validates."""
    header: str | None = None
    hline = 0
    chunks: list[str] = []
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.strip()
                if not line:
                    continue
                if line.startswith(">"):
                    if header is not None:
                        yield header, hline, _finish(path, hline, chunks)
                    header, hline, chunks = line[1:].strip(), lineno, []
                    if not header:
                        raise InputError(path, "empty FASTA header", line=lineno)
                elif header is None:
                    raise InputError(path, "not FASTA: text before the first '>' header", line=lineno)
                else:
                    seq = line.upper()
                    bad = set(seq) - _NUCLEOTIDES
                    if bad:
                        raise InputError(
                            path, f"invalid nucleotide character(s) {''.join(sorted(bad))!r}",
                            line=lineno,
                        )
                    chunks.append(seq)
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if header is None:
        raise InputError(path, "no FASTA records")
    yield header, hline, _finish(path, hline, chunks)


def _finish(path: str | os.PathLike[str], hline: int, chunks: list[str]) -> str:
    seq = "".join(chunks).replace("-", "").replace(".", "").replace("U", "T")
    if not seq:
        raise InputError(path, "empty sequence", line=hline)
    return seq


def read_reference_taxonomy(path: str | os.PathLike[str]) -> dict[str, tuple[str, int]]:
    """QIIME-format reference taxonomy (``id<TAB>taxon``, optional header) ->
    ``{id: (taxon, line)}``; duplicate ids and rows without a taxon are errors."""
    out: dict[str, tuple[str, int]] = {}
    try:
        with open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.rstrip("\n\r")
                if not line.strip():
                    continue
                cells = line.split("\t")
                if lineno == 1 and cells[0].strip().lower() in _ID_HEADERS:
                    continue
                if len(cells) < 2 or not cells[1].strip():
                    raise InputError(path, "row without a taxonomy (expected id<TAB>taxon)", line=lineno)
                fid = cells[0].strip()
                if fid in out:
                    raise InputError(path, f"duplicate id '{fid}'", line=lineno)
                out[fid] = (cells[1].strip(), lineno)
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if not out:
        raise InputError(path, "empty taxonomy file")
    return out


def read_reference(
    seqs_path: str | os.PathLike[str], taxonomy_path: str | os.PathLike[str] | None = None
):  # noqa: ANN201 - microtrial.taxonomy.Reference
    """Read a classifier reference.

    With ``taxonomy_path``: QIIME format (FASTA ``>id`` + TSV ``id<TAB>k__..; p__..``).
    Without: DADA2 format, the taxonomy is the FASTA header (``Kingdom;Phylum;...;Genus;``),
    as in DADA2's SILVA/GTDB/RDP training sets. Errors name the file and line.
    """
    from microtrial.taxa import Reference

    ids: list[str] = []
    seqs: list[str] = []
    taxa: list[str] = []
    if taxonomy_path is not None:
        tax = read_reference_taxonomy(taxonomy_path)
        seen: set[str] = set()
        for header, hline, seq in _fasta_records(seqs_path):
            fid = header.split()[0]
            if fid in seen:
                raise InputError(seqs_path, f"duplicate id '{fid}'", line=hline)
            seen.add(fid)
            if fid not in tax:
                raise InputError(seqs_path, f"id '{fid}' has no row in {os.fspath(taxonomy_path)}", line=hline)
            ids.append(fid)
            seqs.append(seq)
            taxa.append(tax[fid][0])
    else:
        for n, (header, hline, seq) in enumerate(_fasta_records(seqs_path), start=1):
            if ";" not in header:
                hint = (" (this looks like a species-assignment file: '>ID Genus species')"
                        if len(header.split()) >= 3 else "")
                raise InputError(
                    seqs_path, f"header without taxonomy (expected 'Kingdom;Phylum;...;Genus;'){hint}",
                    line=hline,
                )
            ids.append(f"ref{n}")
            seqs.append(seq)
            taxa.append(header)
    return Reference(tuple(ids), tuple(seqs), tuple(taxa))


def read_species_reference(path: str | os.PathLike[str]):  # noqa: ANN201 - SpeciesReference
    """DADA2 species-assignment FASTA: ``>ID Genus species`` per record."""
    from microtrial.taxa import SpeciesReference

    genus: list[str] = []
    species: list[str] = []
    seqs: list[str] = []
    for header, hline, seq in _fasta_records(path):
        parts = header.split()
        if len(parts) < 3 or ";" in header:
            raise InputError(path, "header must be '>ID Genus species'", line=hline)
        genus.append(parts[1])
        species.append(parts[2])
        seqs.append(seq)
    return SpeciesReference(tuple(genus), tuple(species), tuple(seqs))


def write_model(model, path: str | os.PathLike[str]) -> None:  # noqa: ANN001 - TaxonomyModel
    """Save a trained classifier as an uncompressed ``.npz`` (plain arrays, no pickle)."""
    import numpy as np

    with atomic_open(path, "wb") as fh:
        np.savez(fh, **model.to_arrays())


def read_model_arrays(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The arrays of a classifier saved by :func:`write_model` (``allow_pickle=False``);
    ``microtrial.taxonomy.TaxonomyModel.from_arrays`` makes the model of them."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(path, f"not a microtrial classifier model ({exc})") from exc
