"""Distributions (frame fields) on R^n: brackets, Frobenius tests (2.31), growth vectors; the catalog of classic examples.

The modules of this layer: :mod:`.frame`, :mod:`.catalog`.
"""

from subriemann.distributions.catalog import (
    ENTRIES,
    contact_r5,
    engel,
    from_spec,
    get,
    heisenberg,
    level_set_foliation,
    linear_horizontal,
    martinet,
    names,
    network_bundle,
    rank_one,
)
from subriemann.distributions.frame import (
    Distribution,
    FrameSpan,
    FrobeniusReport,
    FrobeniusVerdict,
    lie_bracket,
    lie_bracket_fd,
)

__all__ = [
    "Distribution",
    "FrobeniusReport",
    "FrobeniusVerdict",
    "FrameSpan",
    "lie_bracket",
    "lie_bracket_fd",
    "heisenberg",
    "engel",
    "martinet",
    "contact_r5",
    "level_set_foliation",
    "rank_one",
    "linear_horizontal",
    "network_bundle",
    "ENTRIES",
    "names",
    "get",
    "from_spec",
]
