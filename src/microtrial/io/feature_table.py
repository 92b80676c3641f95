"""Feature tables: BIOM 2.1 (HDF5) and the TSV of CONTRACT.md (``#OTU ID`` header).

The TSV form: an optional ``# Constructed from biom file`` line (what ``biom convert``
writes), then a header whose first cell is ``#OTU ID`` (also accepted: ``#OTUID``,
``Feature ID``, ``feature-id``, ``id``) followed by sample ids, an optional last
``taxonomy`` column, then one row per feature. Counts must be finite and non-negative;
empty cells count as 0. Errors name the file and 1-based line. ``.gz`` is transparent.

BIOM 2.1 is read and written with the ``biom-format`` package; the older JSON BIOM 1.0 is
read too. A taxonomy given as a list of ranks (how BIOM stores it) becomes one
``"; "``-joined string in ``feature_metadata["taxonomy"]``.

The formats are implemented in :mod:`microtrial.io._table_formats` (shared with
:mod:`microtrial.io.qza`, so the two modules do not import each other); this module adds
``.qza`` input to :func:`read_table`.
"""

from __future__ import annotations

import os
from pathlib import Path

from microtrial.errors import InputError
from microtrial.io._table_formats import (
    read_biom,
    read_plain_table,
    read_table_tsv,
    write_biom,
    write_table_tsv,
)
from microtrial.table import FeatureTable

__all__ = ["read_biom", "read_plain_table", "read_table", "read_table_tsv", "write_biom",
           "write_table_tsv"]


def read_table(path: str | os.PathLike[str]) -> FeatureTable:
    """Read a feature table, BIOM 2.1 (HDF5), JSON BIOM, ``.qza`` or TSV, chosen by content."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a folder, expected a feature table")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\x89HDF"):
        return read_biom(p)
    if magic.startswith(b"PK\x03\x04") or p.suffix == ".qza":
        from microtrial.io.qza import read_qza

        obj = read_qza(p)
        if not isinstance(obj, FeatureTable):
            raise InputError(p, "artifact is not a FeatureTable[Frequency]")
        return obj
    if magic.lstrip().startswith(b"{"):
        return read_biom(p)
    return read_table_tsv(p)
