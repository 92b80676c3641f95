"""The denoising options: one pydantic model for the command line and the study file.

Field names are the study file's keys (``reads:`` section); the command line's options are
the flags of :mod:`microtrial.options` (``trim_left_f`` is ``--trim-left-f``).  Validation
errors are :class:`~microtrial.errors.OptionError` named by the key (:func:`settings_error`).

``dada2_compatible`` selects R DADA2 1.26's behaviour: samples denoised independently
(``pool: none``), no merge-stage partner check (``reverse_partners: false``), no one-off
bimeras (``chimera_one_off: false``), no read floor (``min_reads: 1``), and the loess error
fit even for binned qualities (``error_model: loess`` unless set).  Setting one of those
keys to another value together with ``dada2_compatible`` is an error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from microtrial.names import CHIMERA_METHODS, ERROR_MODELS, POOL_METHODS

PoolMethod = Literal[POOL_METHODS]  # type: ignore[valid-type]
ChimeraMethod = Literal[CHIMERA_METHODS]  # type: ignore[valid-type]
ErrorModel = Literal[ERROR_MODELS]  # type: ignore[valid-type]
# what dada2_compatible sets, and R DADA2's value of each
DADA2_SETTINGS: dict[str, Any] = {"pool": "none", "reverse_partners": False,
                                  "chimera_one_off": False, "min_reads": 1}


class DenoiseSettings(BaseModel):
    """Options of ``microtrial denoise`` and of a study file's ``reads:`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trunc_len_f: int | None = Field(default=None, ge=0)
    trunc_len_r: int | None = Field(default=None, ge=0)
    trim_left_f: int = Field(default=0, ge=0)
    trim_left_r: int = Field(default=0, ge=0)
    max_len: int | None = Field(default=None, ge=1)
    max_ee: tuple[float, float] = (2.0, 2.0)
    trunc_q: int = Field(default=2, ge=0, le=41)
    min_len: int = Field(default=20, ge=0)
    max_n: int = Field(default=0, ge=0)
    rm_phix: bool = True
    primer_f: str | None = None
    primer_r: str | None = None
    discard_untrimmed: bool = True
    amplicon_length: int | None = Field(default=None, ge=1)
    n_reads_learn: int | None = Field(default=None, ge=1)
    error_model: ErrorModel = "auto"
    pool: PoolMethod = "pseudo"
    min_overlap: int = Field(default=12, ge=4)
    max_mismatch: int = Field(default=0, ge=0)
    reverse_partners: bool = True
    chimera_method: ChimeraMethod = "consensus"
    chimera_one_off: bool = True
    min_fold_parent_over_abundance: float | None = Field(default=None, ge=1.0)
    min_reads: int = Field(default=10, ge=1)
    dada2_compatible: bool = False

    @field_validator("max_ee", mode="before")
    @classmethod
    def _scalar_ee(cls, v: Any) -> Any:
        return (v, v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("max_ee")
    @classmethod
    def _positive_ee(cls, v: tuple[float, float]) -> tuple[float, float]:
        if any(not (x > 0) for x in v):
            raise ValueError("max_ee values must be > 0")
        return v

    @field_validator("primer_f", "primer_r", mode="before")
    @classmethod
    def _primer(cls, v: Any) -> Any:
        if isinstance(v, str):
            from microtrial.seqs import IUPAC

            v = v.strip().upper()
            if not v:
                return None
            bad = sorted({b for b in v if b not in IUPAC})
            if bad:
                raise ValueError(f"primer '{v}' has non-IUPAC characters: {''.join(bad)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DenoiseSettings:
        if self.primer_r is not None and self.primer_f is None:
            raise ValueError("primer_r is given without primer_f")
        if self.dada2_compatible:
            clash = [f"{k}: {getattr(self, k)!r}" for k, v in DADA2_SETTINGS.items()
                     if k in self.model_fields_set and getattr(self, k) != v]
            if clash:
                raise ValueError("dada2_compatible sets " + ", ".join(
                    f"{k}: {v!r}" for k, v in DADA2_SETTINGS.items()) + "; it cannot be combined "
                    "with " + ", ".join(clash))
        return self

    def effective(self) -> DenoiseSettings:
        """The settings with what ``dada2_compatible`` implies filled in."""
        if not self.dada2_compatible:
            return self
        extra = dict(DADA2_SETTINGS)
        if "error_model" not in self.model_fields_set:
            extra["error_model"] = "loess"
        return self.model_copy(update=extra)


def settings_error(exc: ValidationError) -> tuple[str | None, str]:
    """``(key, message)`` of the first problem of a failed validation: ``key`` is the
    study-file key (``reads.trim_left_f``; None when the problem is no one key's), and the
    other settings the message names are mentioned by key
    (:func:`microtrial.options.mention`), so that the command line reads flags and a study
    file's report reads keys."""
    import re

    from microtrial.options import in_study_file, mention

    err = exc.errors()[0]
    loc = [str(x) for x in err.get("loc", ()) if not isinstance(x, int)]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc and "input" in err and not isinstance(err["input"], dict):
        msg += f", got {err['input']!r}"
    fields = [f for f in DenoiseSettings.model_fields if in_study_file(f"reads.{f}")]
    words = re.compile(r"\b(" + "|".join(sorted(fields, key=len, reverse=True)) + r")\b")
    key = loc[0] if loc else msg.split(" ", 1)[0]
    text = words.sub(lambda m: mention(f"reads.{m.group(1)}"), msg)
    return (f"reads.{key}" if key in fields else None), text


def parse_settings(values: dict[str, Any]) -> DenoiseSettings:
    """Validate command-line values (``None`` = not given), raising a one-line
    :class:`~microtrial.errors.OptionError` named by the study-file key (``reads.<key>``;
    the command line shows the option's flag)."""
    from microtrial.errors import InputError, OptionError

    given = {k: v for k, v in values.items() if v is not None}
    try:
        return DenoiseSettings.model_validate(given)
    except ValidationError as exc:
        key, msg = settings_error(exc)
        if key is None:
            raise InputError("reads", msg) from None
        raise OptionError(key, msg) from None
