"""The parameter flows: the L² cost (1.7), standard and adapted vector fields (1.9), (2.4), (5.2), (6.2), (4.5), their closed forms and their integration into trajectories.

The modules of this layer: :mod:`.cost`, :mod:`.fields`, :mod:`.theory`, :mod:`.orbits`.
"""

from subriemann.flows.cost import (
    L2Cost,
)
from subriemann.flows.fields import (
    REGIMES,
    AdaptedFlow,
    FlowPoint,
    OutputFlow,
    ParameterFlow,
    StandardFlow,
    regime_for_rank,
)
from subriemann.flows.orbits import (
    METHODS,
    STATUSES,
    OrbitPoint,
    Trajectory,
    integrate,
    resolve_method,
)
from subriemann.flows.theory import (
    compare_with_law,
    cost_floor,
    cost_law,
    output_metric_cost_law,
    output_metric_residual_law,
    output_metric_stopping_time,
    residual_law,
    stopping_time,
    trapping_time_bound,
)

__all__ = [
    "L2Cost",
    "FlowPoint",
    "ParameterFlow",
    "StandardFlow",
    "AdaptedFlow",
    "OutputFlow",
    "REGIMES",
    "regime_for_rank",
    "cost_law",
    "residual_law",
    "stopping_time",
    "cost_floor",
    "trapping_time_bound",
    "compare_with_law",
    "output_metric_residual_law",
    "output_metric_cost_law",
    "output_metric_stopping_time",
    "Trajectory",
    "OrbitPoint",
    "integrate",
    "resolve_method",
    "METHODS",
    "STATUSES",
]
