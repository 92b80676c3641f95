"""PICRUSt2 reference folders: the files of a ``default_files`` folder or of one domain
folder in it, and readers for its trait tables.

A domain folder (``bacteria/``, ``archaea/``, ``prokaryotic/`` or any folder laid out the same
way) holds ``<x>_ref/<x>_ref.{fna,tre,hmm,model}`` (the aligned 16S of the reference genomes,
their tree, the profile HMM built from that alignment and the substitution model in RAxML or
RAxML-ng format; the FASTA may be gzipped) and trait tables ``<name>.txt.gz`` (tab-separated,
first column ``assembly``, one column per trait). ``pathway_mapfiles/`` and
``description_mapfiles/`` are taken from the domain folder or its parent. A folder holding
the four reference files side by side (``<x>.fna[.gz]``, ``.tre``, ``.hmm``, ``.model``, the
layout of PICRUSt2's ``--ref_dir``) is accepted too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from microtrial.errors import InputError

DOMAINS = ("prokaryotic", "bacteria", "archaea")
"""Domain folders tried, in this order, when given a whole ``default_files`` folder."""

REF_EXTENSIONS = ("fna", "tre", "hmm", "model")


@dataclass(frozen=True)
class PicrustReference:
    """Paths of one PICRUSt2 reference.

    Attributes
    ----------
    folder : Path
        The domain folder.
    name : str
        The reference's stem (``arc_ref``, ``bac_ref``, ``pro_ref``, ...).
    fna, tre, hmm, model : Path or None
        The reference files (``fna`` may be absent for references used only for hsp).
    traits : dict
        Trait table name (``ko``, ``ec``, ``16S``, ...) -> path.
    pathway_mapfiles, description_mapfiles : Path or None
    """

    folder: Path
    name: str
    fna: Path | None
    tre: Path
    hmm: Path | None
    model: Path | None
    traits: dict[str, Path] = field(default_factory=dict)
    pathway_mapfiles: Path | None = None
    description_mapfiles: Path | None = None

    def read_traits(self, name: str) -> pd.DataFrame:
        """The trait table ``name`` (e.g. ``"ko"``), read with :func:`read_trait_table`."""
        if name not in self.traits:
            known = ", ".join(sorted(self.traits)) or "none"
            raise InputError(self.folder, f"no trait table '{name}' ({name}.txt.gz); "
                             f"the tables here are: {known}")
        return read_trait_table(self.traits[name])

    def read_tree(self):  # noqa: ANN201 - TreeArrays
        """The reference tree (underscores in tip names kept)."""
        from microtrial.function._phylo import read_newick

        return read_newick(self.tre)

    def read_placement(self):  # noqa: ANN201 - PlacementReference
        """Read the aligned FASTA, tree, HMM and model for placement."""
        from microtrial.function._place import read_placement_reference

        self.require_placement_files()
        return read_placement_reference(self.fna, self.tre, self.hmm, self.model)  # type: ignore[arg-type]

    def require_placement_files(self) -> None:
        """Raise InputError naming the first of fna/hmm/model that placement needs and is
        missing."""
        for ext in ("fna", "hmm", "model"):
            if getattr(self, ext) is None:
                raise InputError(self.tre.parent / f"{self.name}.{ext}",
                                 "missing: placement needs the reference's aligned FASTA, "
                                 "profile HMM and model")


def _flat_stem(path: Path) -> str | None:
    """Stem of a flat reference (``<stem>.tre`` with ``<stem>.hmm`` beside it), if any."""
    for tre in sorted(path.glob("*.tre")):
        if (path / f"{tre.stem}.hmm").is_file():
            return tre.stem
    return None


def _is_domain(path: Path) -> bool:
    return any(p.is_dir() and p.name.endswith("_ref") for p in path.iterdir()) or \
        _flat_stem(path) is not None


def load_reference(path: str | os.PathLike[str], *, need_fna: bool = True) -> PicrustReference:
    """Find the files of a PICRUSt2 reference.

    Parameters
    ----------
    path : path-like
        A ``default_files`` folder (the first complete domain folder of prokaryotic,
        bacteria, archaea is used) or a domain folder.
    need_fna : bool
        Require the aligned reference FASTA, HMM and model (placement needs them; hsp alone
        needs only the tree).

    Raises
    ------
    InputError
        Naming the missing file or folder.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(root, "no such folder")
    if not root.is_dir():
        raise InputError(root, "is a file, expected a PICRUSt2 reference folder")
    if not _is_domain(root):
        domains = [root / d for d in DOMAINS if (root / d).is_dir() and _is_domain(root / d)]
        if not domains:
            raise InputError(root, "not a PICRUSt2 reference folder: no '<name>_ref/' folder, "
                                   "no <name>.tre with <name>.hmm, and none of "
                                   f"{', '.join(d + '/' for d in DOMAINS)}")
        first_error: InputError | None = None
        for d in domains:  # the first complete domain
            try:
                return load_reference(d, need_fna=need_fna)
            except InputError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error
    folder = root
    refs = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.endswith("_ref"))
    if refs:
        ref_dir = refs[0]
        name = ref_dir.name
    else:  # flat: the four files side by side (as PICRUSt2's --ref_dir test folders)
        ref_dir = folder
        name = _flat_stem(folder) or ""
    found: dict[str, Path | None] = {}
    for ext in REF_EXTENSIONS:
        candidates = [ref_dir / f"{name}.{ext}", ref_dir / f"{name}.{ext}.gz"]
        found[ext] = next((c for c in candidates if c.is_file()), None)
    if found["tre"] is None:
        raise InputError(ref_dir / f"{name}.tre", "missing (the reference tree)")
    if need_fna:
        for ext, what in (("fna", "the aligned reference 16S"), ("hmm", "the profile HMM"),
                          ("model", "the substitution model")):
            if found[ext] is None:
                raise InputError(ref_dir / f"{name}.{ext}", f"missing ({what})")
    traits = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.endswith(".txt.gz"):
            traits[p.name[: -len(".txt.gz")]] = p
    maps = {}
    for sub in ("pathway_mapfiles", "description_mapfiles"):
        maps[sub] = next((c for c in (folder / sub, folder.parent / sub) if c.is_dir()), None)
    return PicrustReference(folder, name, found["fna"], found["tre"], found["hmm"],  # type: ignore[arg-type]
                            found["model"], traits, maps["pathway_mapfiles"],
                            maps["description_mapfiles"])


def read_trait_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PICRUSt2-format trait table: tab-separated (``.gz`` transparent), first column
    the genome id (``assembly`` in PICRUSt2's files; any name accepted), one numeric column
    per trait. Returns a DataFrame indexed by genome id (index name ``assembly``).

    Raises
    ------
    InputError
        Missing/empty file, duplicated ids or columns, non-numeric or missing values (the
        first offending line named).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file" if not p.exists() else "is not a file")
    try:
        fast = pd.read_csv(p, sep="\t", index_col=0, dtype={0: str}, keep_default_na=False,
                           na_values=[], engine="c", low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise InputError(p, "empty trait table") from exc
    except (UnicodeDecodeError, EOFError, OSError, pd.errors.ParserError, ValueError) as exc:
        raise InputError(p, f"cannot be read as a tab-separated trait table: "
                            f"{' '.join(str(exc).split())}") from exc
    if fast.shape[1] >= 1 and len(fast) and all(
            pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
            for t in fast.dtypes) and not fast.isna().to_numpy().any():
        ids = pd.Series(fast.index.astype(str).str.strip())
        values = fast.astype(np.float64)
        body = None
    else:
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
        if df.shape[1] < 2:
            raise InputError(p, "a trait table needs a genome id column and at least one "
                                "trait column (tab-separated)")
        if df.empty:
            raise InputError(p, "trait table has no rows")
        ids = df.iloc[:, 0].str.strip()
        body = df.iloc[:, 1:]
        values = body.apply(pd.to_numeric, errors="coerce")
    dup = ids[ids.duplicated()]
    if len(dup):
        line = int(dup.index[0]) + 2
        raise InputError(p, f"genome id '{dup.iloc[0]}' appears twice", line=line)
    cols = [str(c) for c in values.columns]
    from microtrial.io._atomic import open_text

    with open_text(p) as fh:
        header = fh.readline().rstrip("\r\n").split("\t")[1:]
    dup_cols = sorted({c for c in header if header.count(c) > 1})
    if dup_cols:
        raise InputError(p, f"trait column '{dup_cols[0]}' appears twice", line=1)
    if body is not None:
        bad = values.isna().to_numpy()
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(p, f"value '{str(body.iat[r, c])}' is not a number", line=int(r) + 2,
                             field=str(cols[c]))
    values.index = pd.Index(ids.to_numpy(), name="assembly")
    values.columns = [str(c) for c in cols]
    return values
