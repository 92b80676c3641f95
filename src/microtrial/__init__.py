"""microtrial: 16S rRNA amplicon analysis of clinical microbiome studies.

The top-level package imports nothing heavy; import the stage subpackages you need,
for example ``from microtrial.diversity import alpha_diversity``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
