"""The one list of each kind of name a user can choose: every layer asks here.

The study file's models, the CLI's choices, the stages' checks and the report all take
their lists from this module, so a metric or method added to a stage is known everywhere
at once, and an unknown name gets the same message (listing the valid ones) from every
layer. Pure data and one checker: it imports nothing from microtrial.
"""

from __future__ import annotations

from collections.abc import Iterable

BETA_METRICS: tuple[str, ...] = (
    "braycurtis", "jaccard", "unweighted_unifrac", "weighted_unifrac", "aitchison",
    "robust_aitchison",
)
"""Beta diversity metrics the diversity stage computes."""

DEFAULT_BETA_METRICS: tuple[str, ...] = BETA_METRICS[:5]
"""Metrics computed when none are named (robust Aitchison on request only)."""

PHYLOGENETIC_METRICS = frozenset({"unweighted_unifrac", "weighted_unifrac"})
"""Metrics that need a tree."""

DIFFERENTIAL_METHODS: tuple[str, ...] = ("lefse", "ancombc", "aldex", "lmm", "paired-wilcoxon")
"""Differential abundance methods (``differential-<method>.tsv``)."""

DEFAULT_DIFFERENTIAL_METHODS: tuple[str, ...] = DIFFERENTIAL_METHODS
"""Methods run when none are named: all of them."""

TAXON_RANKS: tuple[str, ...] = ("domain", "phylum", "class", "order", "family", "genus", "species")
"""Taxonomic ranks, top down (``d__``, ``p__``, ... in ``taxonomy.tsv``)."""

RANKS: tuple[str, ...] = ("asv", *TAXON_RANKS)
"""Levels a table can be summarised at: single ASVs, or a taxonomic rank."""

POOL_METHODS: tuple[str, ...] = ("none", "pseudo", "all")
"""Sample pooling of denoising (DADA2's ``pool=``)."""

TREE_METHODS: tuple[str, ...] = ("insertion", "de-novo")
"""Ways to build the ASV tree."""

CHIMERA_METHODS: tuple[str, ...] = ("consensus", "pooled", "none")
"""Bimera removal (R's ``removeBimeraDenovo`` methods, or none)."""

ERROR_MODELS: tuple[str, ...] = ("auto", "loess", "monotone")
"""Error-rate fits of denoising (auto: monotone when a run has at most 4 quality values)."""

REGISTRIES: dict[str, tuple[str, ...]] = {
    "beta metric": BETA_METRICS,
    "differential method": DIFFERENTIAL_METHODS,
    "rank": RANKS,
    "pool method": POOL_METHODS,
    "tree method": TREE_METHODS,
    "chimera method": CHIMERA_METHODS,
    "error model": ERROR_MODELS,
}


def check_name(kind: str, name: str, *, choices: Iterable[str] | None = None) -> str:
    """``name`` normalised (lower case, ``_``/``-`` as the registry spells it) if it is a
    known ``kind`` (a key of :data:`REGISTRIES`), else ``ValueError`` listing the choices.

    Callers turn the ``ValueError`` into an ``InputError`` naming the option (its study-file
    key, e.g. ``options.beta_metrics``).
    """
    valid = tuple(choices) if choices is not None else REGISTRIES[kind]
    text = str(name).strip().lower()
    for candidate in (text, text.replace("-", "_"), text.replace("_", "-")):
        if candidate in valid:
            return candidate
    raise ValueError(f"unknown {kind} '{name}'; choose from {', '.join(valid)}")


__all__ = [
    "BETA_METRICS", "DEFAULT_BETA_METRICS", "DEFAULT_DIFFERENTIAL_METHODS", "DIFFERENTIAL_METHODS", "PHYLOGENETIC_METRICS",
    "POOL_METHODS", "RANKS", "REGISTRIES", "TAXON_RANKS", "TREE_METHODS", "check_name",
]
