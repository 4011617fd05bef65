"""Events: where a scalar function g(t, y) crosses zero along a solution.

One locator for every use — a target cost C = ε, a closed loop, a conjugate time, a
user's condition: the driver checks the sign of g at each accepted point and, on a
crossing, finds the root of g(t, y_dense(t)) on the step's dense output by Brent's
method (``scipy.optimize.brentq``) to ``xtol`` in t.

Accuracy: the located time is a root of g along the interpolant to ``xtol``; the
interpolant's own error (O(h⁴) for the Hermite one of the package's steppers,
the solver's for scipy's) moves it by at most that error / |dg/dt|.  A terminal
event then *lands*: the driver re-takes the step to the located time with the
stepper itself (so the last point has the stepper's accuracy, not the
interpolant's), and, when ``land_after`` is set, moves right by multiples of
``xtol`` until g is strictly past zero — so that, for C = ε, "C ≤ ε" holds at the
last point and not only up to round-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .solution import Interpolant, Status

__all__ = ["Event", "crossed", "locate"]


@dataclass(kw_only=True)
class Event:
    """A zero of g(t, y) to detect.

    Attributes
    ----------
    name : str
    fn : callable
        g(t, y) -> float.
    direction : int
        −1: only falling crossings (g from > 0 to ≤ 0); +1 rising; 0 both.
    terminal : bool
        Stop the run at the crossing.
    land_after : bool
        A terminal event ends on the far side of zero (g ≤ 0 after a falling
        crossing, ≥ 0 after a rising one), never a hair before it.
    xtol : float
        Absolute tolerance of the located time, relative to max(1, |t|).
    status : Status
        The run's status when this terminal event fires.
    """

    name: str
    fn: Callable[[float, np.ndarray], float]
    direction: int = 0
    terminal: bool = True
    land_after: bool = True
    xtol: float = 1e-14
    status: Status = Status.EVENT


def crossed(event: Event, g0: float, g1: float) -> bool:
    """Did g cross zero between two accepted points, in the event's direction?"""
    if event.direction <= 0 and g0 > 0 >= g1:
        return True
    return event.direction >= 0 and g0 < 0 <= g1


def locate(event: Event, dense: Interpolant, t0: float, t1: float, g0: float, g1: float) -> float:
    """The crossing time in [t0, t1] of g(t, dense(t)), to ``xtol``·max(1, |t1|)."""
    if g1 == 0.0:
        return t1
    xtol = event.xtol * max(1.0, abs(t1))
    return float(
        brentq(lambda t: event.fn(t, dense(t)), t0, t1, xtol=xtol, rtol=4 * np.finfo(float).eps)
    )


def past(event: Event, g: float, falling: bool) -> bool:
    """Is g on the far side of zero for a crossing that was falling (or rising)?"""
    return g <= 0 if falling else g >= 0
