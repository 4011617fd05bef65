"""What an integration returns: a :class:`Status` that carries its message, and a :class:`Solution`.

After diffrax's ``_solution.py``: the result of a run is an enum whose members say
in words why the run ended; the solution keeps the accepted points and a dense
interpolant between them, so ``sol(t)`` evaluates anywhere in the integrated range.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError

__all__ = ["Status", "Solution", "SolutionCurve"]


class Status(enum.StrEnum):
    """Why a run ended.  A ``str``: ``sol.status == "completed"`` holds for :attr:`COMPLETED`."""

    meaning: str  # the member's reason in words (set in __new__; not a member itself)

    # meaning has a default only for the type checker: Status("completed") is the by-value
    # lookup (EnumMeta.__call__), one argument, which mypy checks against this signature
    def __new__(cls, value: str, meaning: str = "") -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    COMPLETED = "completed", "reached the end time"
    TARGET_COST_REACHED = "target_cost_reached", "C ≤ ε holds at the last point (a terminal event)"
    EVENT = "event", "a terminal event fired; the last point is where it happened"
    RANK_CONDITION_FAILED = (
        "rank_condition_failed",
        "D lost rank: the rank condition (2.1)/(5.1) failed at the last point",
    )
    NON_FINITE = "non_finite", "the vector field overflowed or became NaN along the orbit"
    STEP_SIZE_COLLAPSED = (
        "step_size_collapsed",
        "the step size collapsed (a kink of a non-smooth field, or a blow-up)",
    )
    MAX_STEPS = "max_steps", "the cap on steps was reached before the end time"


@dataclass(kw_only=True)
class Solution:
    """Accepted points t ↦ y(t) of one run, with dense evaluation ``sol(t)``.

    Attributes
    ----------
    t : ndarray, shape=[n]
        Accepted times, increasing; t[0] is the start.
    y : ndarray, shape=[n, dim]
        The state at those times.
    status : Status
    message : str
        ``status`` in words, with the time and details of where it happened.
    stats : dict
        Counts: accepted and rejected steps, field evaluations, event iterations.
    events : list of (name, t, y)
        Events located during the run (terminal or not), in order.
    """

    t: np.ndarray
    y: np.ndarray
    status: Status
    message: str
    stats: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    segments: list = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def end(self) -> np.ndarray:
        """y at the last accepted time, shape=[dim]."""
        return self.y[-1]

    def __call__(self, t: npt.ArrayLike) -> np.ndarray:
        """Dense evaluation y(t) for t in [t[0], t[-1]]; shape=[dim] or [len(t), dim].

        Inside each accepted step the stepper's interpolant is used (cubic Hermite
        from the end values and slopes, or the solver's own dense output), so the
        error is that interpolant's, O(h⁴) for the Hermite one.
        """
        ts = np.asarray(t, dtype=np.float64)
        if ts.dtype.kind not in "fi" or not np.all(np.isfinite(ts)):
            raise InputError(f"t must be finite real times, got {t!r}")
        lo, hi = float(self.t[0]), float(self.t[-1])
        span = 4 * np.finfo(float).eps * max(1.0, abs(lo), abs(hi))
        if np.any(ts < lo - span) or np.any(ts > hi + span):
            raise InputError(f"t must lie in the solved range [{lo:.6g}, {hi:.6g}], got {t!r}")
        flat = np.clip(ts.ravel(), lo, hi)
        out = np.empty((flat.size, self.y.shape[1]))
        idx = np.clip(np.searchsorted(self.t, flat, side="right") - 1, 0, len(self.segments) - 1)
        for k, (i, tk) in enumerate(zip(idx, flat, strict=True)):
            out[k] = self.segments[i](tk) if self.segments else self.y[0]
        return out[0] if ts.ndim == 0 else out.reshape((*ts.shape, self.y.shape[1]))


@dataclass(kw_only=True)
class SolutionCurve:
    """Base of the curves that are one run of the core: t ↦ the point part of ``solution.y``.

    A horizontal curve (state (q, ℓ)), a normal geodesic (state (q, p)) and a
    bundle curve (state θ) each wrap a :class:`Solution`; this base gives them
    the same view of it.  The first :attr:`point_dim` components of the state
    are the curve's point (all of them when it is ``None``, the default);
    subclasses that carry more in the state override :attr:`point_dim`.

    Attributes
    ----------
    solution : Solution
        The core's run; ``t``, ``status``, ``message``, ``stats`` and ``len`` are its.
    """

    solution: Solution

    @property
    def point_dim(self) -> int | None:
        """How many leading state components are the curve's point (``None``: the whole state)."""
        return None

    @property
    def t(self) -> np.ndarray:
        """Accepted times, shape=[n]."""
        return self.solution.t

    @property
    def points(self) -> np.ndarray:
        """The curve's point at the accepted times, shape=[n, point_dim]."""
        return self.solution.y[:, : self.point_dim]

    @property
    def end(self) -> np.ndarray:
        """The point at the last accepted time, shape=[point_dim]."""
        return self.points[-1]

    @property
    def status(self) -> Status:
        return self.solution.status

    @property
    def message(self) -> str:
        return self.solution.message

    @property
    def stats(self) -> dict:
        return self.solution.stats

    def __len__(self) -> int:
        return len(self.solution)

    def __call__(self, t: npt.ArrayLike) -> np.ndarray:
        """Dense point at t, shape=[point_dim] or [len(t), point_dim] (the steppers' interpolants)."""
        return self.solution(t)[..., : self.point_dim]


Interpolant = Callable[[float], np.ndarray]


def hermite(
    t0: float, y0: np.ndarray, f0: np.ndarray, t1: float, y1: np.ndarray, f1: np.ndarray
) -> Interpolant:
    """Cubic Hermite interpolant of one step from end values and slopes (error O(h⁴))."""
    h = t1 - t0
    dy = y1 - y0

    def dense(t: float) -> np.ndarray:
        if h == 0:
            return np.array(y1)
        u = (t - t0) / h
        # the cubic Hermite basis regrouped around the chord y0 + u·Δ: the bracket
        # is the slopes' deviation from the chord (h00 = 1 − h01 folds y1 into Δ)
        return y0 + u * dy + u * (1 - u) * ((1 - u) * (h * f0 - dy) - u * (h * f1 - dy))

    return dense
