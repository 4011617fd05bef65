"""The one integration loop: stepper proposes, controller decides, events stop.

``solve(field, t0, y0, t_end, stepper=..., controller=...)`` integrates y′ = F(t, y)
on R^n.  Everything the package integrates — the flows of :mod:`subriemann.flows.fields`,
horizontal curves, Hamiltonian systems — runs through this loop; what differs is
the stepper, the controller, the events and the ``on_accept`` hook.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeGuard

import numpy as np
import numpy.typing as npt

from subriemann.errors import NonFiniteError, NumericalError, RankConditionError

from .controllers import Decision, RetryingController, StepSizeController
from .events import Event, crossed, locate, past
from .solution import Interpolant, Solution, Status
from .steppers import Proposal, Stepper, VectorField

__all__ = ["solve", "FAILURES"]

#: exceptions of a field evaluation that end a run (instead of propagating), and the status
FAILURES = {
    RankConditionError: Status.RANK_CONDITION_FAILED,
    NumericalError: Status.NON_FINITE,
    NonFiniteError: Status.NON_FINITE,
    FloatingPointError: Status.NON_FINITE,
    OverflowError: Status.NON_FINITE,
}


#: on_accept(t, y, f) after an accepted step: None to go on, (Status, message) to end the run
AcceptHook = Callable[[float, np.ndarray, np.ndarray], tuple[Status, str] | None]


def _retries_failed_steps(controller: StepSizeController) -> TypeGuard[RetryingController]:
    # the contract of RetryingController: reject_on_failure set means decide takes None
    return bool(getattr(controller, "reject_on_failure", False))


def _failure(exc: BaseException) -> tuple[Status, str]:
    for kind, status in FAILURES.items():
        if isinstance(exc, kind):
            return status, str(exc)
    raise exc


def solve(
    field: VectorField,
    t0: float,
    y0: npt.ArrayLike,
    t_end: float,
    *,
    stepper: Stepper,
    controller: StepSizeController,
    h0: float | None = None,
    f0: np.ndarray | None = None,
    events: tuple[Event, ...] = (),
    max_steps: int = 100_000,
    on_accept: AcceptHook | None = None,
    max_step: float | None = None,
) -> Solution:
    """Integrate y′ = field(t, y) from (t0, y0) to t_end (or a terminal event).

    Parameters
    ----------
    field : callable
        field(t, y) -> ndarray, shape=[dim].
    t0, t_end : float
        Start and end (t_end > t0; ``inf`` with a terminal event).
    y0 : array-like, shape=[dim]
    stepper : Stepper
    controller : StepSizeController
        ConstantStep, PIController, ArmijoHalving, SolverControlled or one's own.
    h0 : float, optional
        First step (default (t_end − t0)/100, or 1 for an infinite end).
    f0 : ndarray, optional
        field(t0, y0) if already known.
    events : tuple of Event
    max_steps : int
        Cap on attempted steps.
    on_accept : callable, optional
        on_accept(t, y, f) after every accepted step; returning (Status, message)
        ends the run there (e.g. a rank check at accepted points).
    max_step : float, optional
        Largest step (also passed to self-controlled steppers).

    Returns
    -------
    Solution
        Field-evaluation failures (RankConditionError, non-finite values) end the
        run with the matching :class:`Status` and keep what was computed.
    """
    y = np.array(y0, dtype=np.float64)
    t = float(t0)
    stats = {"accepted": 0, "rejected": 0, "evaluations": 0, "event_evaluations": 0}
    ts: list[float] = [t]
    ys: list[np.ndarray] = [y]
    segments: list[Interpolant] = []
    found: list[tuple[str, float, np.ndarray]] = []
    h_max = math.inf if max_step is None else max_step
    first = h0 if h0 is not None else ((t_end - t0) / 100 if math.isfinite(t_end) else 1.0)
    h = controller.first_step(min(first, h_max))

    def done(status: Status, message: str) -> Solution:
        return Solution(
            t=np.array(ts),
            y=np.array(ys),
            status=status,
            message=message,
            stats=stats,
            events=found,
            segments=segments,
        )

    try:
        if hasattr(stepper, "start"):
            # a self-controlled solver picks its own first step unless one was given
            stepper.start(field, t, y, t_end, first_step=h0, max_step=max_step)
        f = field(t, y) if f0 is None else f0
        stats["evaluations"] += 1
        g = [ev.fn(t, y) for ev in events]
    except tuple(FAILURES) as exc:
        return done(*_failure(exc))
    grid_time = getattr(controller, "grid_time", None)
    attempts = 0
    while t < t_end:
        if attempts >= max_steps:
            return done(Status.MAX_STEPS, f"max_steps = {max_steps} reached at t = {t:.6g}")
        attempts += 1
        t_next = (
            grid_time(t0, stats["accepted"] + 1) if grid_time is not None else t + min(h, h_max)
        )
        h_try = min(t_next, t_end) - t
        prop: Proposal | None
        decision: Decision
        try:
            prop = stepper.step(field, t, y, f, h_try)
        except tuple(FAILURES) as exc:
            if not _retries_failed_steps(controller):
                return done(*_failure(exc))
            prop = None
            decision = controller.decide(None, t, h_try, y=y, f=f)
        else:
            stats["evaluations"] += prop.evaluations
            if prop.failure is not None:
                stats["solver_failed"] = True
                return done(
                    Status.STEP_SIZE_COLLAPSED,
                    f"the solver stopped at t = {t:.9g}: {prop.failure}",
                )
            decision = controller.decide(prop, t, h_try, y=y, f=f)
        # a failed trial step (prop None) is a rejection whatever the controller says
        if prop is None or not decision.accept:
            stats["rejected"] += 1
            if decision.collapsed:
                return done(
                    Status.STEP_SIZE_COLLAPSED,
                    f"the step size collapsed at t = {t:.9g} (next step {decision.h_next:.3g} "
                    f"after {stats['rejected']} rejections)",
                )
            h = decision.h_next
            continue
        # own steppers land on t_end exactly; a self-controlled one says where it got to
        t_new = t_end if not stepper.controls_itself and t + h_try >= t_end else prop.t
        f_new = prop.f
        try:
            # a field that returns NaN/inf instead of raising ends the run the same way
            if not np.all(np.isfinite(prop.y)):
                raise NonFiniteError(f"the state is not finite after the step to t = {t_new:.9g}")
            g_new = [ev.fn(t_new, prop.y) for ev in events]
            if f_new is None:
                f_new = field(t_new, prop.y)
                stats["evaluations"] += 1
            hits = _crossings(events, field, stepper, prop, t, y, f, t_new, g, g_new, stats)
        except tuple(FAILURES) as exc:
            return done(*_failure(exc))
        # every crossing in the step, in time order, up to the first terminal one
        for ev, t_ev, y_ev, f_ev in hits:
            found.append((ev.name, t_ev, y_ev))
            if ev.terminal:
                ts.append(t_ev)
                ys.append(y_ev)
                segments.append(prop.dense)
                stats["accepted"] += 1
                stop = on_accept(t_ev, y_ev, f_ev) if on_accept is not None else None
                return done(*(stop or (ev.status, f"event {ev.name!r} at t = {t_ev:.9g}")))
        stats["accepted"] += 1
        ts.append(t_new)
        ys.append(prop.y)
        segments.append(prop.dense)
        t, y, f, g = t_new, prop.y, f_new, g_new
        if decision.collapsed:
            return done(
                Status.STEP_SIZE_COLLAPSED,
                f"the step size collapsed at t = {t:.9g} (the last step {prop.t - ts[-2]:.3g})",
            )
        if on_accept is not None:
            stop = on_accept(t, y, f)
            if stop is not None:
                return done(*stop)
        h = decision.h_next
    return done(Status.COMPLETED, f"reached t_end = {t_end:.6g}")


def _crossings(events, field, stepper, prop, t, y, f, t1, g0, g1, stats):
    """The events crossed in [t, t1], located and sorted by time, cut after the first terminal.

    All crossings are first placed on the dense output (cheap); only those up to the
    earliest terminal one are then landed with the stepper's accuracy.
    """
    crossing = [k for k, ev in enumerate(events) if crossed(ev, g0[k], g1[k])]
    if not crossing:
        return []
    rough = sorted((locate(events[k], prop.dense, t, t1, g0[k], g1[k]), k) for k in crossing)
    hits = []
    for _, k in rough:
        ev = events[k]
        hits.append((ev, *_land(ev, field, stepper, prop, t, y, f, t1, g0[k], g1[k], stats)))
        if ev.terminal:
            break
    hits.sort(key=lambda hit: hit[1])
    cut = next((i for i, hit in enumerate(hits) if hit[0].terminal), len(hits) - 1)
    return hits[: cut + 1]


def _land(ev: Event, field, stepper, prop, t, y, f, t1, g0, g1, stats):
    """Locate the crossing in [t, t1] and return (t*, y*, f*) on its far side.

    Self-controlled (scipy) steppers cannot re-step: the crossing is the root on
    their dense output.  The package's steppers can: the root on the Hermite
    interpolant (error O(h⁴)) only narrows the bracket, and the root is then
    found on τ ↦ g(τ, step(t → τ)) — the event sees the stepper's accuracy.
    """
    falling = g0 > 0
    xtol = ev.xtol * max(1.0, abs(t1))
    if stepper.controls_itself:
        state = prop.dense
    else:
        t_start = t

        def state(tau):
            stats["event_evaluations"] += 1
            return stepper.step(field, t_start, y, f, tau - t_start).y

        guess = locate(ev, prop.dense, t, t1, g0, g1)
        g_guess = ev.fn(guess, state(guess))
        if g_guess == 0 or (g_guess > 0) == falling:
            t, g0 = guess, g_guess  # the root lies in [guess, t1]
        else:
            t1, g1 = guess, g_guess
    t_hit = locate(ev, state, t, t1, g0, g1) if t < t1 else t1
    for t_try in (t_hit, t_hit + 2 * xtol, t_hit + 8 * xtol):
        if t_try >= t1:
            break
        y_try = state(t_try)
        if not ev.land_after or past(ev, ev.fn(t_try, y_try), falling):
            return t_try, y_try, field(t_try, y_try)
    # the end of the bracket is past the crossing (that is how it was detected)
    y1 = state(t1) if t1 < prop.t else prop.y
    return t1, y1, field(t1, y1)
