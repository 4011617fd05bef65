"""Step-size controllers: accept or reject a proposal, and choose the next step.

After diffrax's ``_step_size_controller/base.py``: a controller sees the stepper's
:class:`~.steppers.Proposal` and returns a :class:`Decision`.  Four of them:

* :class:`ConstantStep` — a fixed grid (t from the step count, so t_end is hit
  without drift);
* :class:`PIController` — error-based, proportional–integral (Gustafsson; the
  form of Hairer–Wanner II, IV.2, with exponents 0.7/k, 0.4/k for a method of
  order k − 1 in the estimate);
* :class:`ArmijoHalving` — monotone descent: accept only a sufficient decrease
  of an objective (Armijo), halve otherwise, grow by 3/2 after success;
* :class:`SolverControlled` — for steppers that choose their own steps (scipy).

Each also says when the step has *collapsed* (h below ``h_min(t)``), the
sign of a kink or a singularity; the driver stops the run there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .steppers import Proposal

__all__ = [
    "Decision",
    "StepSizeController",
    "RetryingController",
    "ConstantStep",
    "PIController",
    "ArmijoHalving",
    "SolverControlled",
]


@dataclass(kw_only=True)
class Decision:
    """accept: keep the proposal; h_next: the next step to try; collapsed: give up."""

    accept: bool
    h_next: float
    collapsed: bool = False


class StepSizeController(Protocol):
    """What the driver asks of a controller: a first step, and a decision on each proposal.

    ``decide`` gets the step's start state as ``y`` and its slope as ``f`` (keywords).
    A controller may also have ``grid_time(t0, n)`` (the driver then lands on that grid).
    """

    def first_step(self, h0: float) -> float: ...

    def decide(
        self, proposal: Proposal, t: float, h: float, *, y: np.ndarray, f: np.ndarray
    ) -> Decision: ...


class RetryingController(StepSizeController, Protocol):
    """A controller with ``reject_on_failure``: a trial step whose field evaluation failed
    comes to ``decide`` as ``proposal=None`` (a rejection), instead of ending the run."""

    reject_on_failure: bool

    def decide(
        self, proposal: Proposal | None, t: float, h: float, *, y: np.ndarray, f: np.ndarray
    ) -> Decision: ...


def collapse_floor(t: float, relative: float) -> float:
    """Smallest step that still resolves t: ``relative``·max(1, |t|)."""
    return relative * max(1.0, abs(t))


class ConstantStep:
    """Fixed step h: t_n = t0 + n·h (the last step shortened to land on t_end)."""

    def __init__(self, h: float):
        self.h = h

    def first_step(self, h0: float) -> float:
        return self.h

    def decide(self, proposal: Proposal, t: float, h: float, **_: object) -> Decision:
        if proposal.error is not None and not math.isfinite(proposal.error):
            return Decision(accept=False, h_next=0.5 * h, collapsed=True)
        return Decision(accept=True, h_next=self.h)

    def grid_time(self, t0: float, n: int) -> float:
        return t0 + n * self.h


class PIController:
    """Error-based step control with a proportional–integral rule.

    h_next = h · safety · err^(−α) · err_prev^(β), α = 0.7/k, β = 0.4/k, with k the
    order of the embedded estimate plus one; factors clipped to [0.2, 5]; a
    step with err > 1 is rejected and retried at the proposed shorter h.
    A step is *collapsed* when it would fall below ``h_min_relative``·max(1, |t|).
    """

    def __init__(self, order: int, *, h_max: float = math.inf, h_min_relative: float = 1e-13):
        k = order  # the embedded estimate is of order `order − 1`: its error ~ h^order
        self.alpha, self.beta = 0.7 / k, 0.4 / k
        self.h_max, self.h_min_relative = h_max, h_min_relative
        self.err_prev = 1e-4

    def first_step(self, h0: float) -> float:
        return min(h0, self.h_max)

    def decide(self, proposal: Proposal, t: float, h: float, **_: object) -> Decision:
        err = proposal.error
        if err is None or not math.isfinite(err):
            h_next = 0.2 * h
            return Decision(
                accept=False,
                h_next=h_next,
                collapsed=h_next < collapse_floor(t, self.h_min_relative),
            )
        if err <= 1.0:
            factor = 0.9 * max(err, 1e-10) ** (-self.alpha) * self.err_prev**self.beta
            self.err_prev = max(err, 1e-4)
            return Decision(accept=True, h_next=min(self.h_max, h * min(5.0, max(0.2, factor))))
        h_next = h * max(0.2, 0.9 * err ** (-self.alpha))
        return Decision(
            accept=False, h_next=h_next, collapsed=h_next < collapse_floor(t, self.h_min_relative)
        )


class ArmijoHalving:
    """Accept a step only if the objective decreases sufficiently (Armijo).

    With slope σ = dC/dt ≤ 0 at the step's start, the test is
    C(y₁) ≤ C(y₀) + ½·h·σ + slack(y₀), where ``slack`` is the round-off floor of
    the objective (a change below it cannot be decided).  Rejection halves h
    (a trial step whose evaluation fails is a rejection too); acceptance grows
    it by 3/2 up to ``h_max``.  This makes explicit Euler energy-diminishing
    (Hairer–Lubich): the objective never increases, whatever the first step.

    Parameters
    ----------
    objective : callable
        C(y) -> float.
    slope : callable
        σ(y, f) -> float, dC/dt at y along f.
    slack : callable
        slack(y) -> float ≥ 0.
    """

    reject_on_failure = True

    def __init__(
        self,
        h0: float,
        *,
        objective: Callable[[np.ndarray], float],
        slope: Callable[[np.ndarray, np.ndarray], float],
        slack: Callable[[np.ndarray], float],
        h_max: float = math.inf,
        h_min_relative: float = 1e-14,
    ):
        self.h0, self.h_max, self.h_min_relative = h0, h_max, h_min_relative
        self.objective, self.slope, self.slack = objective, slope, slack

    def first_step(self, h0: float) -> float:
        return min(self.h0, self.h_max)

    def decide(
        self, proposal: Proposal | None, t: float, h: float, *, y: np.ndarray, f: np.ndarray
    ) -> Decision:
        if proposal is not None:
            c0 = self.objective(y)
            bound = c0 + 0.5 * h * self.slope(y, f) + self.slack(y)
            if self.objective(proposal.y) <= bound:
                return Decision(accept=True, h_next=min(self.h_max, 1.5 * h))
        h_next = 0.5 * h
        return Decision(
            accept=False, h_next=h_next, collapsed=h_next < collapse_floor(t, self.h_min_relative)
        )


class SolverControlled:
    """For steppers with their own control: every returned step is accepted.

    The collapse test is on the *accepted* steps: ``patience`` consecutive steps
    each shorter than ``h_min_relative``·max(1, |t|).  A smooth field at
    rtol ≥ 1e-13 never needs that; a kink of a non-smooth activation (a ReLU
    switching surface, a sliding mode) does — 20 000 RK45 steps advanced a
    ReLU orbit by 2e-5 before this test existed.
    """

    def __init__(self, *, h_min_relative: float = 1e-8, patience: int = 50):
        self.h_min_relative, self.patience = h_min_relative, patience
        self.short = 0

    def first_step(self, h0: float) -> float:
        return h0

    def decide(self, proposal: Proposal, t: float, h: float, **_: object) -> Decision:
        taken = proposal.t - t
        self.short = (
            self.short + 1 if taken < collapse_floor(proposal.t, self.h_min_relative) else 0
        )
        return Decision(accept=True, h_next=h, collapsed=self.short >= self.patience)
