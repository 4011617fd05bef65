"""Curves in parameter space with a known output, integrated on the ODE core: BundleCurve and its runner.

One concept: a curve θ(t) whose output f(θ(t)) = x(t) is known in advance — a
horizontal lift of an output curve (θ′ = Pen[D]x′, (2.30)) or a vertical curve in
one fibre (θ′ = (1 − P)w, (2.32)) — run by :func:`run_bundle_curve` on
:func:`subriemann.integrate.solve` with an output-exact stepper
(:mod:`subriemann.geometry.lift_steppers`), returned as a :class:`BundleCurve` with
the closure error at every accepted point.  :func:`concatenate` joins the runs of
the smooth pieces of a curve with corners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from subriemann.errors import InputError
from subriemann.geometry.lift_steppers import FibreCache, ProjectedStepper
from subriemann.integrate import (
    DormandPrince54,
    Event,
    PIController,
    Solution,
    SolutionCurve,
    Status,
    solve,
)
from subriemann.integrate.solution import Interpolant

if TYPE_CHECKING:  # hints only: bundles imports the lifts, which import this module
    from subriemann.geometry.bundles import PullbackBundle
    from subriemann.linalg import RankReport

__all__ = [
    "LIFT_SCHEMES",
    "check_scheme",
    "BundleField",
    "BundleCurve",
    "concatenate",
    "run_bundle_curve",
]

#: The output-exact schemes of the lifts and vertical curves (``scheme=``).
LIFT_SCHEMES = {
    "jacobian-reuse": "Dormand-Prince 5(4) whose stages solve with D by CG preconditioned with "
    "the SVD of the step's start, corrected onto the fibre: one Jacobian per step",
    "runge-kutta": "Dormand-Prince 5(4) with a Jacobian and an SVD per stage, corrected onto "
    "the fibre when it misses it: six Jacobians per step",
}


def check_scheme(scheme: str) -> str:
    """``scheme`` if it is one of :data:`LIFT_SCHEMES`, else an InputError listing them."""
    if not isinstance(scheme, str) or scheme not in LIFT_SCHEMES:
        raise InputError(
            f"unknown scheme {scheme!r}; expected one of {list(LIFT_SCHEMES)}: "
            + "; ".join(f"{k} = {v}" for k, v in LIFT_SCHEMES.items())
        )
    return scheme


def concatenate(solutions: Iterable[Solution]) -> Solution:
    """Join core runs that continue one another (each starts where the previous one ended).

    The shared endpoints are kept once; dense evaluation uses each run's own
    interpolants.  The status and message are the last run's (or the first
    failing one's); stats are summed.
    """
    runs = list(solutions)
    if not runs:
        raise InputError("concatenate needs at least one solution")
    ts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    segments: list[Interpolant] = []
    events: list[tuple[str, float, np.ndarray]] = []
    stats: dict[str, Any] = {}
    status, message = runs[-1].status, runs[-1].message
    for k, sol in enumerate(runs):
        start = 0 if k == 0 else 1
        ts.append(sol.t[start:])
        ys.append(sol.y[start:])
        segments.extend(sol.segments)
        events.extend(sol.events)
        for key, value in sol.stats.items():
            stats[key] = stats.get(key, 0) + value
        if sol.status not in (Status.COMPLETED,) and k < len(runs) - 1:
            status, message = sol.status, sol.message
            break
    return Solution(
        t=np.concatenate(ts),
        y=np.concatenate(ys),
        status=status,
        message=message,
        stats=stats,
        events=events,
        segments=segments,
    )


class BundleField(Protocol):
    """The ``field_fn`` of :func:`run_bundle_curve`: θ′ = F(t, θ) with its fibre cache and piece.

    ``fibres`` is the :class:`~subriemann.geometry.lift_steppers.FibreCache` F solves with
    (shared with the stepper and the rank event); ``span`` = (a, b) is the smooth piece being
    integrated, set by the runner before each piece (F may evaluate one-sided values there).
    """

    fibres: FibreCache
    span: tuple[float, float]

    def __call__(self, t: float, theta: np.ndarray, /) -> np.ndarray: ...


@dataclass(kw_only=True)
class BundleCurve(SolutionCurve):
    """A curve in parameter space with a known output: a horizontal lift or a vertical curve.

    The state of the run is θ itself, so :class:`~subriemann.integrate.SolutionCurve`'s
    ``t``, ``points`` (n, K), ``end``, ``status``, ``message``, ``stats``, ``len`` and
    dense ``curve(t)`` (the stepper's interpolants, moved by the corrections) are the curve's.

    Attributes
    ----------
    kind : str
        "horizontal lift" or "vertical curve".
    solution : Solution
        The core's run.
    closure : ndarray, shape=[n]
        |f(θ(t_k)) − x(t_k)| / max(|x(t_k)|, |x(0)|) at every accepted point.
    closure_rtol : float
        The promised bound on ``closure``.
    corrections : int
        Steps that needed a fibre correction.
    counts : dict
        Evaluations of the map during the run (``f.counts`` differences).
    velocity_route : str
        How x′ was obtained ("given", "autograd", "central differences"; "—" for vertical curves).
    rank_report : RankReport
        Rank decision on D at the last point.
    """

    kind: str
    closure: np.ndarray
    closure_rtol: float
    corrections: int
    counts: dict
    velocity_route: str
    rank_report: RankReport

    @property
    def max_closure(self) -> float:
        """max_k of :attr:`closure`: the output error of the whole curve."""
        return float(np.max(self.closure))

    @property
    def n_jacobian(self) -> int:
        return int(self.counts.get("jacobian", 0))

    def __repr__(self) -> str:
        return (
            f"BundleCurve({self.kind}, T={self.t[-1]:.6g}, points={len(self)}, "
            f"status={str(self.status)!r}, max closure {self.max_closure:.2e}, "
            f"jacobians={self.n_jacobian})"
        )


def run_bundle_curve(
    bundle: PullbackBundle,
    theta0: np.ndarray,
    field_fn: BundleField,
    target: Callable[[float], np.ndarray],
    t_spans: Sequence[tuple[float, float]],
    *,
    closure_rtol: float,
    rtol: float,
    atol: float,
    max_steps: int,
    kind: str,
    route: str,
    scheme: str = "jacobian-reuse",
) -> BundleCurve:
    """Integrate θ′ = field_fn(t, θ) on the ODE core piece by piece, kept on the fibres f⁻¹(target(t)).

    The runner of :func:`~subriemann.geometry.lifts.horizontal_lift` and
    :func:`~subriemann.geometry.lifts.vertical_curve`: one :func:`subriemann.integrate.solve`
    per smooth piece ``t_spans`` with the output-exact Dormand–Prince stepper
    (:class:`~subriemann.geometry.lift_steppers.ProjectedStepper`; ``scheme`` of
    :data:`LIFT_SCHEMES` is recorded, the cache ``field_fn.fibres`` implements it),
    rank loss of D as a terminal event, the closure |f(θ) − x|/max(|x|, |x(0)|)
    recorded at every accepted point.  ``field_fn.fibres`` is the shared
    :class:`~subriemann.geometry.lift_steppers.FibreCache`; ``field_fn.span`` is set to
    the current piece.
    """
    check_scheme(scheme)
    f = bundle.f
    counts0 = dict(f.counts)
    fibres = field_fn.fibres
    x0 = np.asarray(target(t_spans[0][0]), dtype=np.float64)
    size0 = float(np.linalg.norm(x0))

    def tol_of(x_t: np.ndarray) -> tuple[float, float]:
        scale = max(float(np.linalg.norm(x_t)), size0) or 1.0
        return closure_rtol * scale, scale

    QN = f.dim_out

    def rank_margin(_t: float, theta: np.ndarray) -> float:
        rep = fibres.at(theta).report
        return rep.sigma_min - rep.tolerance if rep.shape[0] == QN else -1.0

    event = Event(
        name="rank_loss", fn=rank_margin, direction=-1, status=Status.RANK_CONDITION_FAILED
    )
    start_report = fibres.at(theta0).report
    if start_report.rank < QN:
        raise InputError(
            f"theta0: rank D = {start_report.rank} < QN = {QN} (sigma_min = "
            f"{start_report.sigma_min:.3g}); a {kind} needs the rank condition (2.1) at the start"
        )
    closure = [float(np.linalg.norm(np.asarray(f(theta0)) - x0)) / tol_of(x0)[1]]
    runs: list[Solution] = []
    corrections, y = 0, np.array(theta0, dtype=np.float64)
    for a, b in t_spans:
        field_fn.span = (a, b)
        inner = DormandPrince54(rtol=rtol, atol=atol)
        controller = PIController(DormandPrince54.order)
        stepper = ProjectedStepper(inner, bundle, fibres, target, tol_of)

        def on_accept(
            t: float, theta: np.ndarray, _f: np.ndarray, stepper: ProjectedStepper = stepper
        ) -> None:
            last = stepper.last
            if last is not None and last[0] == t and np.array_equal(last[1], theta):
                closure.append(last[2])
            else:
                x_t = target(t)
                closure.append(float(np.linalg.norm(np.asarray(f(theta)) - x_t)) / tol_of(x_t)[1])
            return None

        sol = solve(
            field_fn,
            a,
            y,
            b,
            stepper=stepper,
            controller=controller,
            events=(event,),
            max_steps=max_steps,
            on_accept=on_accept,
        )
        corrections += stepper.corrections
        runs.append(sol)
        if sol.status != Status.COMPLETED:
            break
        y = sol.y[-1]
    sol = concatenate(runs)
    sol.stats["scheme"] = scheme
    sol.stats.update(fibres.stats)  # anchored stage solves, their products, fallbacks
    report = fibres.at(sol.end).report
    if sol.status == Status.RANK_CONDITION_FAILED:
        sol.message = (
            f"{kind} stopped: D lost rank at t = {sol.t[-1]:.9g} (rank {report.rank} < QN = {QN}, "
            f"sigma_min = {report.sigma_min:.3g} <= tolerance {report.tolerance:.3g})"
        )
    elif sol.status == Status.STEP_SIZE_COLLAPSED:
        sol.message += (
            f"; at the last point rank D = {report.rank}, sigma_min = {report.sigma_min:.3g}, "
            f"cond = {report.condition_number:.3g}: D is close to losing rank there"
        )
    counts = {k: v - counts0.get(k, 0) for k, v in f.counts.items()}
    return BundleCurve(
        kind=kind,
        solution=sol,
        closure=np.array(closure[: len(sol.t)]),
        closure_rtol=closure_rtol,
        corrections=corrections,
        counts=counts,
        velocity_route=route,
        rank_report=report,
    )
