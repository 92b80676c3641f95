"""Which command-line flag sets which option: one registry, study-file key -> CLI flag.

Stages name a bad option by its study-file key (``options.permutations``,
``reads.min_overlap``, ``taxonomy.confidence``) through
:class:`microtrial.errors.OptionError`; nothing below the CLI knows the flags. This module
is the one place that does: a user who ran a command with flags reads ``--permutations:
must be >= 0``, a user who ran ``microtrial run study.yaml`` reads ``study.yaml: line 12:
options.permutations: must be >= 0`` (the CLI attaches the study file to the error).

Options that the study file has no key for (``--rarefaction-iterations``, ``--max-species``,
the ``function`` sub-commands' inputs, ``run --force``) are named by the option's name in
its stage, prefixed by the stage (``diversity.rarefaction_iterations``); they are listed in
:data:`STAGE_OPTIONS` and never rendered as study-file keys.

A message may mention another option by key (:func:`mention`, ``{reads.min_overlap}``);
:func:`render` writes it as that option's flag or key, whichever the error itself uses.

Pure data and a few look-ups: it imports nothing from microtrial.
"""

from __future__ import annotations

import re

_READS_KEYS = (
    "trunc_len_f", "trunc_len_r", "trim_left_f", "trim_left_r", "max_len", "max_ee", "trunc_q",
    "min_len", "max_n", "primer_f", "primer_r", "amplicon_length", "n_reads_learn",
    "error_model", "pool", "min_overlap", "max_mismatch", "chimera_method",
    "min_fold_parent_over_abundance", "min_reads", "dada2_compatible",
)

STUDY_OPTIONS: dict[str, str] = {
    # reads: (microtrial denoise): the key with dashes, except where the flag is a switch
    **{f"reads.{k}": "--" + k.replace("_", "-") for k in _READS_KEYS},
    "reads.dir": "READS_DIR",
    "reads.rm_phix": "--phix-removal/--no-phix-removal",
    "reads.discard_untrimmed": "--keep-untrimmed",
    "reads.reverse_partners": "--reverse-partners/--no-reverse-partners",
    "reads.chimera_one_off": "--chimera-one-off/--no-chimera-one-off",
    # taxonomy: (microtrial classify)
    "taxonomy.reference": "--reference",
    "taxonomy.ref_seqs": "--ref-seqs",
    "taxonomy.ref_taxonomy": "--ref-taxonomy",
    "taxonomy.confidence": "--confidence",
    # tree: (microtrial tree)
    "tree": "--method",
    # clinical: (microtrial clinical)
    "clinical.table": "--clinical",
    "clinical.baseline": "--baseline",
    "clinical.followup": "--followup",
    "clinical.mmt_scale": "--mmt-scale",
    "clinical.population": "--population",
    "clinical.uln": "--uln",
    # function: (microtrial function ...)
    "function.reference": "--reference",
    "function.max_nsti": "--max-nsti",
    "function.hsp_method": "--hsp-method",
    "function.genus_traits": "--genus-traits",
    "function.pathway_maps": "--pathway-maps",
    # options: (shared by the stages)
    "options.seed": "--seed",
    "options.threads": "--threads",
    "options.rarefy": "--rarefy",
    "options.permutations": "--permutations",
    "options.beta_metrics": "--metrics",
    "options.differential_methods": "--method",
    "options.ranks": "--rank",
    "options.min_prevalence": "--min-prevalence",
    "options.covariates": "--covariates",
    "options.association_ranks": "--rank",
}
"""Study-file key (docs/study-file.md, dotted) -> the flag of the command that sets it."""

STAGE_OPTIONS: dict[str, str] = {
    "classify.max_species": "--max-species",
    "diversity.rarefaction_iterations": "--rarefaction-iterations",
    "differential.min_abundance": "--min-abundance",
    "simulate.seed": "--seed",
    "run.force": "--force",
    "run.dask_scheduler": "--dask-scheduler",
    "report.truth": "--truth",
    "report.group": "--group",
    "report.time": "--time",
    "report.subject": "--subject",
    "report.reference": "--reference",
    "primers.primer": "--primer-f/--primer-r",
    "tree.ref_seqs": "--ref-seqs/--ref-tree",
    "qza.type": "--type",
    # microtrial function (all steps) and its sub-commands place, hsp, metagenome, pathways
    "function.table": "--table",
    "function.sequences": "--sequences",
    "function.taxonomy": "--taxonomy",
    "place.min_align": "--min-align",
    "hsp.method": "--method",
    "hsp.ci": "--ci",
    "metagenome.table": "--table",
    "metagenome.marker": "--marker",
    "metagenome.skip_norm": "--skip-norm",
    "pathways.input": "--input",
    "pathways.map": "--map",
    "pathways.description": "--description",
}
"""Options without a study-file key: ``<stage>.<option>`` -> flag."""


def flag_for(key: str) -> str:
    """The command-line flag of an option key (the key itself when none is known)."""
    return STUDY_OPTIONS.get(key) or STAGE_OPTIONS.get(key) or key


def in_study_file(key: str) -> bool:
    """Whether ``key`` is a key of the study file (else an option of a command only)."""
    return key in STUDY_OPTIONS


_MENTION = re.compile(r"\{([a-z0-9_]+(?:\.[a-z0-9_]+)*)\}")


def mention(key: str) -> str:
    """A placeholder naming the option ``key`` inside a message (``{reads.min_overlap}``).

    :class:`microtrial.errors.OptionError` renders it as the option's flag on the command
    line (``--min-overlap``) and as its key when the error is reported against a study file
    (``reads.min_overlap``), by :func:`render`.

    Raises
    ------
    KeyError
        ``key`` is in neither registry (a programming error, caught by the tests).
    """
    if key not in STUDY_OPTIONS and key not in STAGE_OPTIONS:
        raise KeyError(f"no option '{key}' in microtrial.options")
    return "{" + key + "}"


def render(message: str, *, study: bool = False) -> str:
    """``message`` with each :func:`mention` placeholder replaced: by the flag, or with
    ``study`` by the study-file key (options the study file has no key for keep their flag).
    Braces around anything that is not a registered key are left as they are."""

    def name(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in STUDY_OPTIONS and key not in STAGE_OPTIONS:
            return m.group(0)
        return key if study and in_study_file(key) else flag_for(key)

    return _MENTION.sub(name, message)


__all__ = ["STAGE_OPTIONS", "STUDY_OPTIONS", "flag_for", "in_study_file", "mention", "render"]
