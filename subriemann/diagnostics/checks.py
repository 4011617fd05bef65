"""The input every landscape diagnostic takes: a smooth map and the L² cost of the same data.

The trapping ratio, the equilibrium test, the functions g_α and the escape all
measure the cost over parameter space, C̃(θ) = C(x[θ]) (1.18): they need the
map θ ↦ x[θ] and the cost (1.7) of the training data it was built on.
"""

from __future__ import annotations

from subriemann.errors import InputError, ShapeError
from subriemann.maps.smooth import SmoothMap

__all__ = ["check_map_and_cost"]


def check_map_and_cost(f, cost) -> None:
    """Refuse a pair (f, cost) that does not describe one cost C̃(θ) = C(x[θ]).

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN}.
    cost : L2Cost
        Anything with ``grad``, ``N`` and ``target`` of shape (QN,).

    Raises
    ------
    InputError
        f is not a SmoothMap or cost has no ``grad``, ``N`` or ``target``.
    ShapeError
        cost has a different number of outputs than f.
    """
    if not isinstance(f, SmoothMap):
        raise InputError(f"f must be a SmoothMap (e.g. a NetworkMap), got {type(f).__name__}")
    for attr in ("grad", "N", "target"):
        if not hasattr(cost, attr):
            raise InputError(
                f"cost must be an L2Cost (with grad, N, target), got {type(cost).__name__}"
            )
    if cost.target.shape[0] != f.dim_out:
        raise ShapeError(
            f"cost has QN = {cost.target.shape[0]} outputs but f maps to R^{f.dim_out}; "
            "expected the cost of the same training data as the map"
        )
