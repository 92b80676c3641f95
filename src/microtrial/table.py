"""The feature table type shared by every stage.

A thin, immutable wrapper around a sparse integer matrix (features x samples) with its
ids; converts to and from :class:`biom.Table` (BIOM 2.1) and pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Counts of features (ASVs, taxa) in samples.

    Attributes
    ----------
    data : scipy.sparse.csr_matrix
        Shape (n_features, n_samples), integer or float counts.
    feature_ids, sample_ids : tuple of str
        Unique ids, in row and column order.
    feature_metadata : pandas.DataFrame or None
        Optional per-feature annotations (e.g. a ``taxonomy`` column), indexed by id.
    """

    data: sp.csr_matrix
    feature_ids: tuple[str, ...]
    sample_ids: tuple[str, ...]
    feature_metadata: pd.DataFrame | None = field(default=None)

    def __post_init__(self) -> None:
        data = self.data if sp.issparse(self.data) else sp.csr_matrix(self.data)
        data = sp.csr_matrix(data)
        if data.dtype.kind == "f" and data.nnz and np.all(data.data == np.round(data.data)):
            data = data.astype(np.int64)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "feature_ids", tuple(str(f) for f in self.feature_ids))
        object.__setattr__(self, "sample_ids", tuple(str(s) for s in self.sample_ids))
        if data.shape != (len(self.feature_ids), len(self.sample_ids)):
            raise ValueError(
                f"data shape {data.shape} does not match "
                f"{len(self.feature_ids)} features x {len(self.sample_ids)} samples"
            )
        if len(set(self.feature_ids)) != len(self.feature_ids):
            raise ValueError("feature ids are not unique")
        if len(set(self.sample_ids)) != len(self.sample_ids):
            raise ValueError("sample ids are not unique")

    # --- construction -------------------------------------------------------------
    @classmethod
    def from_dataframe(cls, df: pd.DataFrame) -> FeatureTable:
        """Build from a dense DataFrame, features as rows and samples as columns."""
        return cls(sp.csr_matrix(df.to_numpy()), tuple(df.index), tuple(df.columns))

    @classmethod
    def from_biom(cls, table: object) -> FeatureTable:
        """Build from a :class:`biom.Table`."""
        mat = table.matrix_data  # type: ignore[attr-defined]
        fids = table.ids(axis="observation")  # type: ignore[attr-defined]
        sids = table.ids(axis="sample")  # type: ignore[attr-defined]
        meta = None
        md = table.metadata(axis="observation")  # type: ignore[attr-defined]
        if md is not None and any(m for m in md):
            meta = pd.DataFrame([dict(m or {}) for m in md], index=list(fids))
        return cls(sp.csr_matrix(mat), tuple(fids), tuple(sids), meta)

    # --- views --------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    def to_biom(self) -> object:
        """Return a :class:`biom.Table` with the same counts and ids."""
        from biom import Table

        md = None
        if self.feature_metadata is not None:
            md = [
                {k: v for k, v in row.items() if isinstance(v, list | tuple) or pd.notna(v)}
                for row in self.feature_metadata.reindex(list(self.feature_ids)).to_dict(
                    "records"
                )
            ]
        return Table(self.data.copy(), list(self.feature_ids), list(self.sample_ids), md)

    def to_dataframe(self) -> pd.DataFrame:
        """Dense DataFrame, features as rows and samples as columns."""
        return pd.DataFrame(
            self.data.toarray(), index=list(self.feature_ids), columns=list(self.sample_ids)
        )

    def sample_totals(self) -> pd.Series:
        return pd.Series(
            np.asarray(self.data.sum(axis=0)).ravel(), index=list(self.sample_ids)
        )

    def feature_totals(self) -> pd.Series:
        return pd.Series(
            np.asarray(self.data.sum(axis=1)).ravel(), index=list(self.feature_ids)
        )

    # --- subsetting ---------------------------------------------------------------
    def select_samples(self, sample_ids: Sequence[str]) -> FeatureTable:
        """A table with only these samples, in this order."""
        pos = {s: i for i, s in enumerate(self.sample_ids)}
        missing = [s for s in sample_ids if s not in pos]
        if missing:
            raise KeyError(f"samples not in table: {', '.join(missing[:5])}")
        idx = [pos[s] for s in sample_ids]
        return FeatureTable(
            self.data[:, idx], self.feature_ids, tuple(sample_ids), self.feature_metadata
        )

    def select_features(self, feature_ids: Sequence[str]) -> FeatureTable:
        """A table with only these features, in this order."""
        pos = {f: i for i, f in enumerate(self.feature_ids)}
        idx = [pos[f] for f in feature_ids]
        meta = None if self.feature_metadata is None else self.feature_metadata.reindex(
            list(feature_ids)
        )
        return FeatureTable(self.data[idx, :], tuple(feature_ids), self.sample_ids, meta)

    def drop_empty_features(self) -> FeatureTable:
        keep = np.flatnonzero(np.asarray(self.data.sum(axis=1)).ravel() > 0)
        return self.select_features([self.feature_ids[i] for i in keep])
