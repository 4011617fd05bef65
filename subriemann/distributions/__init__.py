"""Distributions (frame fields) on R^n: brackets, Frobenius tests (2.31), growth vectors; the catalog of classic examples.

The modules of this layer, one concept each: :mod:`.frame` (the Distribution and its
frame checks), :mod:`.metric` (the ambient metric, its Cholesky factor, orthonormal
spans), :mod:`.brackets` (Lie brackets and the bracket routes of a frame),
:mod:`.frobenius` (the curvature 2-form and the Frobenius test), :mod:`.growth` (the
Lie flag and growth vector), :mod:`.symbolic` (SymPy), :mod:`.nilpotent` (privileged coordinates and the
nilpotent approximation), :mod:`.catalog`.  The geomstats
sub-Riemannian metric of a distribution is :mod:`subriemann.subriemannian.metric`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.distributions import (
    brackets,
    catalog,
    frame,
    frobenius,
    growth,
    metric,
    nilpotent,
    symbolic,
)
from subriemann.distributions.brackets import *  # noqa: F403
from subriemann.distributions.catalog import *  # noqa: F403
from subriemann.distributions.frame import *  # noqa: F403
from subriemann.distributions.frobenius import *  # noqa: F403
from subriemann.distributions.growth import *  # noqa: F403
from subriemann.distributions.metric import *  # noqa: F403
from subriemann.distributions.nilpotent import *  # noqa: F403
from subriemann.distributions.symbolic import *  # noqa: F403

__all__ = [
    *frame.__all__,
    *metric.__all__,
    *brackets.__all__,
    *frobenius.__all__,
    *growth.__all__,
    *symbolic.__all__,
    *nilpotent.__all__,
    *catalog.__all__,
]
