"""subriemann: the geometry of T. Chen's geometrically adapted gradient descent, executable.

Importing the package selects geomstats' autograd backend (the closed-form
network Jacobian is written with autograd.numpy so geomstats can differentiate
through it).  The backend must be chosen before geomstats is first imported.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

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

from subriemann.errors import (  # noqa: E402
    ActivationError,
    InputError,
    NonFiniteError,
    NumericalError,
    RankConditionError,
    ShapeError,
    SubriemannError,
    UndeterminedGrowth,
)
from subriemann.flows.cost import L2Cost  # noqa: E402

# `subriemann.integrate` is both a subpackage (the ODE core) and the function
# `sr.integrate` (the flows' integrator, in subriemann.flows.orbits).  Importing orbits
# imports the core first, which binds the package attribute to it (once, at its
# first import); this statement then rebinds it to the function.
from subriemann.flows.orbits import integrate  # noqa: E402
from subriemann.flows.trajectory import Trajectory  # noqa: E402
from subriemann.linalg import DEFAULT_RANK_POLICY, JacobianSVD, RankPolicy, RankReport  # noqa: E402
from subriemann.maps.activations import Activation  # noqa: E402
from subriemann.maps.architecture import MLP  # noqa: E402
from subriemann.maps.data import TrainingData  # noqa: E402
from subriemann.maps.network import NetworkMap  # noqa: E402
from subriemann.maps.smooth import AutodiffMap, LinearMap, SmoothMap  # noqa: E402

if TYPE_CHECKING:  # the lazy names' types, for type checkers (never run: the layers load on use)
    from subriemann.distributions.brackets import lie_bracket as lie_bracket
    from subriemann.distributions.brackets import lie_bracket_fd as lie_bracket_fd
    from subriemann.distributions.frame import Distribution as Distribution
    from subriemann.distributions.frobenius import FrobeniusReport as FrobeniusReport
    from subriemann.distributions.frobenius import FrobeniusVerdict as FrobeniusVerdict
    from subriemann.flows.fields import AdaptedFlow as AdaptedFlow
    from subriemann.flows.fields import OutputFlow as OutputFlow
    from subriemann.flows.fields import StandardFlow as StandardFlow
    from subriemann.flows.theory import compare_with_law as compare_with_law
    from subriemann.flows.theory import cost_law as cost_law
    from subriemann.flows.theory import output_metric_cost_law as output_metric_cost_law
    from subriemann.flows.theory import output_metric_residual_law as output_metric_residual_law
    from subriemann.flows.theory import output_metric_stopping_time as output_metric_stopping_time
    from subriemann.flows.theory import residual_law as residual_law
    from subriemann.flows.theory import stopping_time as stopping_time
    from subriemann.flows.theory import trapping_time_bound as trapping_time_bound
    from subriemann.geometry.bundles import BundleFiber as BundleFiber
    from subriemann.geometry.bundles import PullbackBundle as PullbackBundle
    from subriemann.geometry.metrics import ConstantOutputMetric as ConstantOutputMetric
    from subriemann.geometry.metrics import EuclideanMetric as EuclideanMetric
    from subriemann.geometry.metrics import OutputMetric as OutputMetric
    from subriemann.geometry.metrics import OutputMetricField as OutputMetricField
    from subriemann.geometry.metrics import PullbackMetric as PullbackMetric
    from subriemann.geometry.metrics import induced_output_metric as induced_output_metric
    from subriemann.geometry.metrics import standard_output_velocity as standard_output_velocity

__version__ = "0.1.0"

# Names from the higher layers are imported on first use: `import subriemann`
# stays fast (no matplotlib, no SymPy) and the layers load only when needed.
_LAZY = {
    "PullbackMetric": "subriemann.geometry.metrics",
    "EuclideanMetric": "subriemann.geometry.metrics",
    "ConstantOutputMetric": "subriemann.geometry.metrics",
    "OutputMetricField": "subriemann.geometry.metrics",
    "standard_output_velocity": "subriemann.geometry.metrics",
    "induced_output_metric": "subriemann.geometry.metrics",
    "OutputMetric": "subriemann.geometry.metrics",
    "BundleFiber": "subriemann.geometry.bundles",
    "PullbackBundle": "subriemann.geometry.bundles",
    "StandardFlow": "subriemann.flows.fields",
    "AdaptedFlow": "subriemann.flows.fields",
    "OutputFlow": "subriemann.flows.fields",
    "cost_law": "subriemann.flows.theory",
    "residual_law": "subriemann.flows.theory",
    "stopping_time": "subriemann.flows.theory",
    "compare_with_law": "subriemann.flows.theory",
    "output_metric_cost_law": "subriemann.flows.theory",
    "output_metric_residual_law": "subriemann.flows.theory",
    "output_metric_stopping_time": "subriemann.flows.theory",
    "trapping_time_bound": "subriemann.flows.theory",
    "Distribution": "subriemann.distributions.frame",
    "lie_bracket": "subriemann.distributions.brackets",
    "FrobeniusReport": "subriemann.distributions.frobenius",
    "FrobeniusVerdict": "subriemann.distributions.frobenius",
    "lie_bracket_fd": "subriemann.distributions.brackets",
}
# `sr.<name>` for the package's modules, including their names before the layers became
# folders (sr.theory, sr.bundles, ... are kept working as aliases).
_SUBMODULES = {
    "maps": "subriemann.maps",
    "geometry": "subriemann.geometry",
    "distributions": "subriemann.distributions",
    "flows": "subriemann.flows",
    "diagnostics": "subriemann.diagnostics",
    "report": "subriemann.report",
    "cli": "subriemann.cli",
    "errors": "subriemann.errors",
    "linalg": "subriemann.linalg",
    "catalog": "subriemann.distributions.catalog",
    "landscape": "subriemann.diagnostics.landscape",
    "surveys": "subriemann.diagnostics.surveys",
    "theory": "subriemann.flows.theory",
    "metrics": "subriemann.geometry.metrics",
    "bundles": "subriemann.geometry.bundles",
    "spaces": "subriemann.geometry.spaces",
    "network": "subriemann.maps.network",
    "data": "subriemann.maps.data",
    "cost": "subriemann.flows.cost",
    "orbits": "subriemann.flows.orbits",
    "trajectory": "subriemann.flows.trajectory",
    "architecture": "subriemann.maps.architecture",
}

if TYPE_CHECKING:  # sr.<module> as the module itself for type checkers (loaded on use)
    from subriemann import cli as cli
    from subriemann import diagnostics as diagnostics
    from subriemann import distributions as distributions
    from subriemann import errors as errors
    from subriemann import flows as flows
    from subriemann import geometry as geometry
    from subriemann import linalg as linalg
    from subriemann import maps as maps
    from subriemann import report as report
    from subriemann.diagnostics import landscape as landscape
    from subriemann.diagnostics import surveys as surveys
    from subriemann.distributions import catalog as catalog
    from subriemann.flows import cost as cost
    from subriemann.flows import orbits as orbits
    from subriemann.flows import theory as theory
    from subriemann.flows import trajectory as trajectory
    from subriemann.geometry import bundles as bundles
    from subriemann.geometry import metrics as metrics
    from subriemann.geometry import spaces as spaces
    from subriemann.maps import architecture as architecture
    from subriemann.maps import data as data
    from subriemann.maps import network as network


def __getattr__(name: str) -> Any:  # a lazy name or submodule: its type is per name
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'subriemann' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


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
    "UndeterminedGrowth",
    "integrate",
    "Trajectory",
    *_LAZY,
]
