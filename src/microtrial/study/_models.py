"""The study file's schema as frozen pydantic v2 models (docs/study-file.md).

Every model forbids unknown keys, so a typo (``primer-f`` for ``primer_f``) is an error
rather than a silently ignored setting. Paths are resolved relative to the study file's
folder through the validation context (``{"base": folder}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from microtrial.denoise._options import DenoiseSettings
from microtrial.design import Comparison
from microtrial.names import BETA_METRICS as ALL_BETA_METRICS
from microtrial.names import DEFAULT_BETA_METRICS as BETA_METRICS
from microtrial.names import DIFFERENTIAL_METHODS, RANKS, TREE_METHODS

TAXONOMY_REFERENCES = ("greengenes",)
ULN_ENZYMES = ("ck", "aldolase", "ldh", "alt", "ast")
DEFAULT_ULN = {"ck": 200.0, "aldolase": 7.6, "ldh": 250.0, "alt": 40.0, "ast": 40.0}


def _resolve(value: Any, info: ValidationInfo) -> Any:
    """Resolve a relative path against the study file's folder (``context["base"]``)."""
    if value is None:
        return None
    if not isinstance(value, str | Path):
        return value  # let pydantic report the type error
    if isinstance(value, str) and not value.strip():
        raise ValueError("empty path")
    p = Path(value).expanduser()
    base = (info.context or {}).get("base")
    if base is not None and not p.is_absolute():
        p = Path(base) / p
    return p


def _as_str(value: Any) -> Any:
    """YAML turns ``12`` or ``yes`` into numbers/booleans; levels are compared as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


StudyPath = Annotated[Path, BeforeValidator(_resolve)]
Level = Annotated[str, BeforeValidator(_as_str), Field(min_length=1)]
ColumnName = Annotated[str, Field(min_length=1)]

BetaMetric = Literal[ALL_BETA_METRICS]  # type: ignore[valid-type]
DifferentialMethod = Literal[DIFFERENTIAL_METHODS]  # type: ignore[valid-type]
Rank = Literal[RANKS]  # type: ignore[valid-type]
TreeMethod = Literal[(*TREE_METHODS, "none")]  # type: ignore[valid-type]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Factor(_Frozen):
    """A design column and its reference level (e.g. ``group``/``control``)."""

    column: ColumnName
    reference: Level


class Design(_Frozen):
    """Which metadata columns hold the subject, the group and (optionally) the time point."""

    subject: ColumnName
    group: Factor
    time: Factor | None = None


class Reads(DenoiseSettings):
    """Paired FASTQ reads and the denoising options (``microtrial denoise``): every key of
    :class:`microtrial.denoise.DenoiseSettings` (the command line's options, with
    underscores), plus the reads folder ``dir``."""

    dir: StudyPath

    @model_validator(mode="after")
    def _both_primers(self) -> Reads:
        if (self.primer_f is None) != (self.primer_r is None):
            raise ValueError("give both primer_f and primer_r, or neither")
        return self


class TaxonomySettings(_Frozen):
    """The classifier's reference and confidence."""

    reference: Literal["greengenes"] | None = "greengenes"
    ref_seqs: StudyPath | None = None
    ref_taxonomy: StudyPath | None = None
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    extract_region: bool = True

    @model_validator(mode="after")
    def _custom_reference(self) -> TaxonomySettings:
        if (self.ref_seqs is None) != (self.ref_taxonomy is None):
            raise ValueError("give both ref_seqs and ref_taxonomy, or neither")
        if self.ref_seqs is not None and self.reference is not None:
            object.__setattr__(self, "reference", None)  # the custom reference wins
        return self


class ClinicalSettings(_Frozen):
    """The clinical table and how response is scored."""

    table: StudyPath
    baseline: Level = "baseline"
    followup: Level = "week12"
    mmt_scale: Literal[80, 150] = 80
    population: Literal["adult", "juvenile"] = "adult"
    uln: dict[Literal["ck", "aldolase", "ldh", "alt", "ast"], Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_ULN)  # type: ignore[arg-type]
    )

    @field_validator("uln", mode="after")
    @classmethod
    def _fill_uln(cls, v: dict[str, float]) -> dict[str, float]:
        return {**DEFAULT_ULN, **v}

    @model_validator(mode="after")
    def _distinct_visits(self) -> ClinicalSettings:
        if self.baseline == self.followup:
            raise ValueError("baseline and followup must differ")
        return self


class ByFactor(_Frozen):
    """The between-subject factor of an interaction: its column and (test, reference) arms."""

    column: ColumnName
    levels: tuple[Level, Level]

    @model_validator(mode="after")
    def _distinct(self) -> ByFactor:
        if self.levels[0] == self.levels[1]:
            raise ValueError("the two arms must differ")
        return self


class ComparisonSpec(_Frozen):
    """One comparison as written in the study file (kinds: docs/study-file.md)."""

    name: Annotated[str, Field(min_length=1)]
    kind: Literal["between", "paired", "longitudinal", "interaction"]
    column: ColumnName
    levels: tuple[Level, ...]
    where: dict[ColumnName, Level] = Field(default_factory=dict)
    by: ByFactor | None = None
    random: tuple[ColumnName, ...] = ()
    covariates: tuple[ColumnName, ...] = ()

    @field_validator("levels", mode="before")
    @classmethod
    def _two_or_more(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, list | tuple) and len(v) < 2:
            kind = info.data.get("kind")
            what = "time points" if kind == "longitudinal" else "levels"
            raise ValueError(f"a {kind or ''} comparison needs two or more {what}; got "
                             f"{len(v)}".replace("a  ", "a "))
        return v

    @model_validator(mode="after")
    def _distinct_levels(self) -> ComparisonSpec:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("the levels must differ")
        if self.column in self.where:
            raise ValueError(f"'where' must not filter on the compared column '{self.column}'")
        if self.kind in ("paired", "interaction") and len(self.levels) != 2:
            raise ValueError(f"a {self.kind} comparison has exactly two levels of "
                             f"'{self.column}' (test, reference); got {len(self.levels)}")
        if self.kind == "interaction":
            if self.by is None:
                raise ValueError("an interaction needs 'by: {column: <between-subject column>, "
                                 "levels: [test, reference]}'")
            if self.by.column == self.column:
                raise ValueError("'by' must name another column than 'column'")
            if self.by.column in self.where:
                raise ValueError(f"'where' must not filter on the 'by' column '{self.by.column}'")
        elif self.by is not None:
            raise ValueError(f"'by' goes with kind 'interaction' only (this one is {self.kind})")
        return self


class FunctionSettings(_Frozen):
    """Predicted functions (``function:``): a PICRUSt2 reference folder, or none for the
    embedded genus table; the pathways the report shows first."""

    reference: StudyPath | None = None
    pathways_of_interest: tuple[Annotated[str, Field(min_length=1)], ...] = (
        "ASPASN-PWY", "ASPARAGINESYN-PWY", "LEUSYN-PWY", "BRANCHED-CHAIN-AA-SYN-PWY",
        "CENTFERM-PWY", "PWY-5676", "P162-PWY")
    max_nsti: float = Field(default=2.0, gt=0)
    hsp_method: Literal["mp", "emp_prob", "pic", "scp", "subtree_average"] = "mp"
    minpath: bool = True
    gap_fill: bool = True
    # a genus-level trait table (genus route; e.g. EC per genus) and optional map folder
    genus_traits: StudyPath | None = None
    pathway_maps: StudyPath | None = None


class Options(_Frozen):
    """Analysis options shared by the stages."""

    seed: int = Field(default=42, ge=0, lt=2**32)
    threads: int = Field(default=2, ge=1, le=512)
    rarefy: Literal["auto", "none"] | Annotated[int, Field(ge=1)] = "auto"
    permutations: int = Field(default=999, ge=0, le=1_000_000)
    beta_metrics: tuple[BetaMetric, ...] = BETA_METRICS  # type: ignore[assignment]
    differential_methods: tuple[DifferentialMethod, ...] = DIFFERENTIAL_METHODS  # type: ignore[assignment]
    ranks: tuple[Rank, ...] = ("asv", "genus", "family")
    min_prevalence: float = Field(default=0.1, ge=0.0, le=1.0)
    covariates: tuple[ColumnName, ...] = ()
    association_ranks: tuple[Rank, ...] = ("genus",)

    @field_validator("rarefy", mode="before")
    @classmethod
    def _rarefy_none(cls, v: Any) -> Any:
        return "none" if v is None or v is False else v


class StudySpec(_Frozen):
    """The study file exactly as written (after path resolution)."""

    name: str = "microtrial study"
    metadata: StudyPath
    design: Design
    reads: Reads | None = None
    table: StudyPath | None = None
    sequences: StudyPath | None = None
    taxonomy_file: StudyPath | None = None
    tree_file: StudyPath | None = None
    taxonomy: TaxonomySettings | None = Field(default_factory=TaxonomySettings)
    tree: TreeMethod = "insertion"
    comparisons: tuple[ComparisonSpec, ...] | None = None
    clinical: ClinicalSettings | None = None
    immune: StudyPath | None = None
    metabolites: StudyPath | None = None
    function: FunctionSettings | None = Field(default_factory=FunctionSettings)
    options: Options = Field(default_factory=Options)

    @field_validator("tree", mode="before")
    @classmethod
    def _tree_none(cls, v: Any) -> Any:
        return "none" if v is None or v is False else v


class Study(_Frozen):
    """A loaded study: the file's settings, paths resolved, comparisons ready for stages.

    Attributes mirror the study file (docs/study-file.md); ``comparisons`` is a tuple of
    :class:`microtrial.design.Comparison` (paired comparisons carry ``design.subject``);
    ``path`` is the study file itself. When ``taxonomy_file`` is given ``taxonomy`` is
    None (nothing to classify); when ``tree_file`` is given ``tree`` is ``"none"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    path: Path
    name: str
    metadata: Path
    design: Design
    reads: Reads | None
    table: Path | None
    sequences: Path | None
    taxonomy_file: Path | None
    tree_file: Path | None
    taxonomy: TaxonomySettings | None
    tree: TreeMethod
    comparisons: tuple[Comparison, ...]
    clinical: ClinicalSettings | None
    immune: Path | None
    metabolites: Path | None
    options: Options
    function: FunctionSettings | None = None
