"""subriemann: the geometry of T. Chen's geometrically adapted gradient descent, executable.

Importing the package selects geomstats' autograd backend (the closed-form
network Jacobian is written with autograd.numpy so geomstats can differentiate
through it).  The backend must be chosen before geomstats is first imported.
"""

from __future__ import annotations

import os
import sys

_BACKEND = "autograd"


def _select_geomstats_backend() -> None:
    chosen = os.environ.get("GEOMSTATS_BACKEND")
    if "geomstats" in sys.modules:
        import geomstats.backend as gs

        active = getattr(gs, "__name__", "").rsplit(".", 1)[-1]
        if active != _BACKEND:
            raise ImportError(
                f"geomstats was already imported with the {active!r} backend, but subriemann "
                f"needs the {_BACKEND!r} backend. Import subriemann before geomstats, or set "
                f"GEOMSTATS_BACKEND={_BACKEND} in the environment before starting Python."
            )
        return
    if chosen not in (None, "", _BACKEND):
        raise ImportError(
            f"GEOMSTATS_BACKEND={chosen!r} is set, but subriemann needs the {_BACKEND!r} backend; "
            f"unset it or set GEOMSTATS_BACKEND={_BACKEND}."
        )
    os.environ["GEOMSTATS_BACKEND"] = _BACKEND


_select_geomstats_backend()

from subriemann.cost import L2Cost  # noqa: E402
from subriemann.data import TrainingData  # noqa: E402
from subriemann.errors import (  # noqa: E402
    ActivationError,
    InputError,
    NonFiniteError,
    NumericalError,
    RankConditionError,
    ShapeError,
    SubriemannError,
)
from subriemann.linalg import DEFAULT_RANK_POLICY, JacobianSVD, RankPolicy, RankReport  # noqa: E402
from subriemann.maps import AutodiffMap, LinearMap, SmoothMap  # noqa: E402
from subriemann.network import MLP, Activation, NetworkMap  # noqa: E402

# `subriemann.integrate` is both a subpackage (the ODE core) and the function
# `sr.integrate` (the flows' integrator, in subriemann.orbits).  Importing orbits
# imports the core first, which binds the package attribute to it (once, at its
# first import); this statement then rebinds it to the function.
from subriemann.orbits import Trajectory, integrate  # noqa: E402

__version__ = "0.1.0"

# Names from the higher layers are imported on first use: `import subriemann`
# stays fast (no matplotlib, no SymPy) and the layers load only when needed.
_LAZY = {
    "PullbackMetric": "subriemann.metrics",
    "EuclideanMetric": "subriemann.metrics",
    "ConstantOutputMetric": "subriemann.metrics",
    "OutputMetricField": "subriemann.metrics",
    "standard_output_velocity": "subriemann.metrics",
    "induced_output_metric": "subriemann.metrics",
    "OutputMetric": "subriemann.metrics",
    "BundleFiber": "subriemann.bundles",
    "PullbackBundle": "subriemann.bundles",
    "StandardFlow": "subriemann.flows",
    "AdaptedFlow": "subriemann.flows",
    "OutputFlow": "subriemann.flows",
    "cost_law": "subriemann.theory",
    "residual_law": "subriemann.theory",
    "stopping_time": "subriemann.theory",
    "compare_with_law": "subriemann.theory",
    "output_metric_cost_law": "subriemann.theory",
    "output_metric_residual_law": "subriemann.theory",
    "output_metric_stopping_time": "subriemann.theory",
    "trapping_time_bound": "subriemann.theory",
    "Distribution": "subriemann.distributions",
    "lie_bracket": "subriemann.distributions",
    "FrobeniusReport": "subriemann.distributions",
    "FrobeniusVerdict": "subriemann.distributions",
    "lie_bracket_fd": "subriemann.distributions",
}
_SUBMODULES = {
    "catalog",
    "landscape",
    "surveys",
    "report",
    "theory",
    "linalg",
    "metrics",
    "bundles",
    "flows",
    "distributions",
    "cli",
    "spaces",
    "maps",
    "network",
    "data",
    "cost",
    "errors",
}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"subriemann.{name}")
    raise AttributeError(f"module 'subriemann' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = [
    "__version__",
    "SmoothMap",
    "AutodiffMap",
    "LinearMap",
    "TrainingData",
    "MLP",
    "Activation",
    "NetworkMap",
    "L2Cost",
    "RankPolicy",
    "RankReport",
    "JacobianSVD",
    "DEFAULT_RANK_POLICY",
    "SubriemannError",
    "InputError",
    "ShapeError",
    "NonFiniteError",
    "ActivationError",
    "RankConditionError",
    "NumericalError",
    "integrate",
    "Trajectory",
    *_LAZY,
]
