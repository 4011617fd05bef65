"""Distributions (frame fields) on R^n: brackets, Frobenius tests (2.31), growth vectors; the catalog of classic examples.

The modules of this layer: :mod:`.frame`, :mod:`.catalog`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.distributions import catalog, frame
from subriemann.distributions.catalog import *  # noqa: F403
from subriemann.distributions.frame import *  # noqa: F403

__all__ = [*frame.__all__, *catalog.__all__]
