"""Sub-Riemannian geometry of a distribution: moving along it.

Horizontal curves and their endpoint map, loop displacements and holonomy, normal
geodesics (exp, log, distance), Jacobi fields and conjugate times, spheres, abnormal
curves and the growth invariants at a point.  Everything here takes a
:class:`~subriemann.distributions.Distribution` (any frame field) and integrates with
the one ODE core, :mod:`subriemann.integrate`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.subriemannian import (
    abnormal,
    curves,
    endpoint,
    geodesics,
    holonomy,
    jacobi,
    metric,
    spheres,
)
from subriemann.subriemannian.abnormal import *  # noqa: F403
from subriemann.subriemannian.curves import *  # noqa: F403
from subriemann.subriemannian.endpoint import *  # noqa: F403
from subriemann.subriemannian.geodesics import *  # noqa: F403
from subriemann.subriemannian.holonomy import *  # noqa: F403
from subriemann.subriemannian.jacobi import *  # noqa: F403
from subriemann.subriemannian.metric import *  # noqa: F403
from subriemann.subriemannian.spheres import *  # noqa: F403

__all__ = [
    *curves.__all__,
    *endpoint.__all__,
    *holonomy.__all__,
    *abnormal.__all__,
    *geodesics.__all__,
    *jacobi.__all__,
    *metric.__all__,
    *spheres.__all__,
]
