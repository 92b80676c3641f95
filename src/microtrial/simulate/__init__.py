"""simulate stage: a realistic small trial over real 16S genes, with its ground truth.

:func:`simulate_trial` draws communities over Greengenes 13_8 amplicons, PCR chimeras,
paired MiSeq-like reads with primers, and subject measures (IMACS core set, immune
subsets, metabolites) whose designed effects are recorded as truth. :func:`simulate_animal`
draws the NOD mouse experiment (IL-2 vs control, before and after, cages, an age drift),
whose truth separates treatment-by-time interaction features from time-only ones.
"""

from __future__ import annotations

from microtrial.simulate._animal import (
    AnimalDesign,
    SimulatedAnimal,
    animal_study_dict,
    simulate_animal,
)
from microtrial.simulate._community import BASELINE, CONTROL, FOLLOWUP, PATIENT
from microtrial.simulate._design import (
    DEFAULT_POOL,
    GUILD_BUTYRATE,
    GUILD_NONE,
    GUILD_PREVOTELLACEAE,
    SimulationDesign,
    TaxonTarget,
)
from microtrial.simulate._functions import NOTE as FUNCTION_NOTE
from microtrial.simulate._functions import SimulatedFunctions, simulate_functions
from microtrial.simulate._reads import Chimera, PairedReads, SampleSources
from microtrial.simulate._reference import reference_pool
from microtrial.simulate._subjects import imacs_doi_check
from microtrial.simulate._trial import COMPARISONS, SimulatedTrial, simulate_trial

__all__ = [
    "FUNCTION_NOTE",
    "SimulatedFunctions",
    "simulate_functions",
    "AnimalDesign",
    "SimulatedAnimal",
    "animal_study_dict",
    "simulate_animal",
    "BASELINE",
    "COMPARISONS",
    "CONTROL",
    "DEFAULT_POOL",
    "FOLLOWUP",
    "GUILD_BUTYRATE",
    "GUILD_NONE",
    "GUILD_PREVOTELLACEAE",
    "PATIENT",
    "Chimera",
    "PairedReads",
    "SampleSources",
    "SimulatedTrial",
    "SimulationDesign",
    "TaxonTarget",
    "imacs_doi_check",
    "reference_pool",
    "simulate_trial",
]
