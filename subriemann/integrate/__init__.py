"""One ODE core for the whole package: steppers, step-size controllers, events, solution.

The layers (after diffrax): a *stepper* proposes a step with an error estimate and a
dense interpolant (:mod:`.steppers`); a *controller* accepts or rejects it and picks
the next step (:mod:`.controllers`); *events* locate zeros of g(t, y) on the dense
output (:mod:`.events`); the *driver* is the one loop (:mod:`.driver`) and returns a
:class:`~.solution.Solution` with a :class:`~.solution.Status`.  This package knows
only vector fields on R^n; the flows' ``integrate`` (:mod:`subriemann.flows.orbits`) and
the curves and geodesics are built on it.
"""

# Each module lists its public names once, in its __all__; the package re-exports them.
from typing import Any

from . import controllers, driver, events, solution, steppers
from .controllers import *  # noqa: F403
from .driver import *  # noqa: F403
from .events import *  # noqa: F403
from .solution import *  # noqa: F403
from .steppers import *  # noqa: F403

__all__ = [
    *solution.__all__,
    *steppers.__all__,
    *controllers.__all__,
    *events.__all__,
    *driver.__all__,
]

# Deprecated aliases: before the core existed, ``subriemann.integrate`` was the module of
# the flows' integrator.  Those names now live one layer up, in :mod:`subriemann.flows`
# (the core must not import the flows), and are resolved here lazily on first access.
_MOVED = {
    "integrate": "subriemann.flows.orbits",
    "METHODS": "subriemann.flows.orbits",
    "Trajectory": "subriemann.flows.trajectory",
    "STATUSES": "subriemann.flows.trajectory",
    "OrbitPoint": "subriemann.flows.trajectory",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
