"""Sub-Riemannian geometry of a distribution: moving along it.

Horizontal curves and their endpoint map, loop displacements and holonomy, normal
geodesics (exp, log, distance), Jacobi fields and conjugate times, spheres, abnormal
curves and the growth invariants at a point.  Everything here takes a
:class:`~subriemann.distributions.Distribution` (any frame field) and integrates with
the one ODE core, :mod:`subriemann.integrate`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.subriemannian import curves
from subriemann.subriemannian.curves import *  # noqa: F403

__all__ = [*curves.__all__]
