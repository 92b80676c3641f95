"""function stage."""

from __future__ import annotations

__all__: list[str] = []

# --- placement and hidden-state prediction (H13a) ---
from microtrial.function._hsp import METHODS as HSP_METHODS  # noqa: E402
from microtrial.function._hsp import nsti, predict_traits  # noqa: E402
from microtrial.function._reference import (  # noqa: E402
    PicrustReference,
    load_reference,
    read_trait_table,
)

__all__ += ["HSP_METHODS", "PicrustReference", "load_reference", "nsti", "predict_traits",
            "read_trait_table"]
# --- end H13a ---
