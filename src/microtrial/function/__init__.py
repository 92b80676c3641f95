"""function stage."""

from __future__ import annotations

__all__: list[str] = []

# --- placement and hidden-state prediction (H13a) ---
from microtrial.function._hsp import METHODS as HSP_METHODS  # noqa: E402
from microtrial.function._hsp import nsti, predict_traits  # noqa: E402
from microtrial.function._place import (  # noqa: E402
    PlacementReference,
    PlacementResult,
    place_sequences,
)
from microtrial.function._reference import (  # noqa: E402
    PicrustReference,
    load_reference,
    read_trait_table,
)

__all__ += ["HSP_METHODS", "PicrustReference", "PlacementReference", "PlacementResult",
            "load_reference", "nsti", "place_sequences", "predict_traits", "read_trait_table"]
# --- end H13a ---

# --- metagenome, pathways, genus route, all-in-one (H13b) ---
from microtrial.function._genus import (  # noqa: E402
    PACKAGED_DESCRIPTIONS,
    PACKAGED_PATHWAY_MAP,
    PACKAGED_REGROUP_MAP,
    GenusPrediction,
    GenusTraitPrediction,
    check_genus_traits,
    load_genus_table,
    packaged_map_lines,
    predict_by_genus,
    predict_from_genus_traits,
    trait_kind,
)
from microtrial.function._metagenome import (  # noqa: E402
    MetagenomeResult,
    PredictionInputError,
    predict_metagenome,
)
from microtrial.function._minpath import minimal_pathways  # noqa: E402
from microtrial.function._pathway_stage import PathwayTables, pathway_tables  # noqa: E402
from microtrial.function._pathways import (  # noqa: E402
    PathwayMap,
    PathwayResult,
    add_descriptions,
    gap_fill,
    parse_descriptions,
    parse_pathway_map,
    parse_regroup_map,
    pathway_abundance,
    pathway_contributions,
    regroup,
)
from microtrial.function._run import (  # noqa: E402
    ROUTE_GENUS,
    ROUTE_GENUS_TRAITS,
    ROUTE_REFERENCE,
    FunctionResult,
    PathwaySpec,
    run_function,
)

__all__ += ["ROUTE_GENUS", "ROUTE_GENUS_TRAITS", "ROUTE_REFERENCE", "FunctionResult",
            "GenusPrediction", "GenusTraitPrediction", "check_genus_traits",
            "packaged_map_lines", "predict_from_genus_traits", "trait_kind",
            "PACKAGED_DESCRIPTIONS", "PACKAGED_PATHWAY_MAP", "PACKAGED_REGROUP_MAP",
            "MetagenomeResult", "PathwayMap", "PathwayResult", "PathwaySpec", "add_descriptions",
            "gap_fill", "load_genus_table", "minimal_pathways", "parse_descriptions",
            "parse_pathway_map", "parse_regroup_map", "pathway_abundance",
            "pathway_contributions", "pathway_tables", "PathwayTables", "predict_by_genus",
            "predict_metagenome", "regroup", "run_function", "PredictionInputError"]
# --- end H13b ---

# --- statistics of the predicted functions, jplace/Newick helpers (H16f) ---
from microtrial.function._jplace import jplace_text  # noqa: E402
from microtrial.function._metagenome import table_to_frame  # noqa: E402
from microtrial.function._phylo import read_newick  # noqa: E402
from microtrial.function._stats import (  # noqa: E402
    ASSOC_COLUMNS,
    DIFF_COLUMNS,
    STAT_METHODS,
    FunctionStats,
    analyse_functions,
)

__all__ += ["ASSOC_COLUMNS", "DIFF_COLUMNS", "STAT_METHODS", "FunctionStats", "analyse_functions",
            "jplace_text", "read_newick", "table_to_frame"]
# --- end H16f ---
