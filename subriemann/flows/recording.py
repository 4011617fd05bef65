"""Recording an orbit: the run's settings, its accepted points and its conditioning warnings.

One concept: the record kept while :func:`subriemann.flows.integrate` runs.  An
:class:`OrbitRecorder` turns each accepted :class:`~subriemann.flows.fields.FlowPoint`
into an :class:`~subriemann.flows.trajectory.OrbitPoint` with the rank of D[θ]
decided under the run's policy, and watches the rank condition (2.1) along the
whole orbit (Theorem 2.1 needs it there, not only at s = 0):

- σ_min(D)/σ_max(D) < √eps at an accepted point: the adapted velocity −D⁺∇ₓC
  (|θ′| ~ 1/σ_min) is resolved only to ~eps·σ_max/σ_min relative;
- σ_min(D)(s) < :data:`SIGMA_COLLAPSE_FRACTION`·σ_min(D)(0) while the run goes
  on: inf_s σ_min(D[θ(s)]) is not bounded away from 0, as the hypothesis of
  Theorem 2.1 (rank D = QN with σ_min ≥ c > 0 along the orbit) needs.

Both only use the singular values the run computes anyway (no extra Jacobian or
SVD).  An :class:`OrbitRun` holds one call's checked settings and builds the
:class:`~subriemann.flows.trajectory.Trajectory` when it ends.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from subriemann.errors import (
    ConditioningWarning,
    NonFiniteError,
    NumericalError,
    RankConditionError,
)
from subriemann.flows.fields import AdaptedFlow, FlowPoint, ParameterFlow
from subriemann.flows.trajectory import OrbitPoint, Trajectory
from subriemann.integrate import Solution, Status
from subriemann.linalg import JacobianSVD, RankPolicy, numerical_rank

if TYPE_CHECKING:
    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.geometry.matrix_free import KrylovFactorization

__all__ = [
    "OrbitRecorder",
    "OrbitRun",
    "EVALUATION_FAILURES",
    "SIGMA_COLLAPSE_FRACTION",
    "rank_failure_point",
]

#: Numerical failures of a flow evaluation: they end an orbit with status "non_finite"
#: instead of propagating (the check_* functions raise NonFiniteError on NaN/inf).
EVALUATION_FAILURES = (NumericalError, NonFiniteError, FloatingPointError, OverflowError)

#: σ_min(D) along an accepted run below this fraction of σ_min(D) at s = 0 is reported
#: (one entry of ``Trajectory.warnings`` and one ConditioningWarning).  Theorem 2.1 needs
#: σ_min(D[θ(s)]) ≥ c > 0 along the whole orbit; a fall by 10³ while C still decays
#: (the [2, 4, 2], N = 10 orbits of issue 15 fall from ~2e-4 to ~1e-8) is evidence that
#: the infimum is not bounded away from 0.  The number is a reporting threshold, not an
#: accuracy bound: the velocity's relative error grows like eps·σ_max/σ_min either way.
SIGMA_COLLAPSE_FRACTION = 1e-3


class OrbitRecorder:
    """Collects orbit points; the rank recorded is decided under the integration's policy."""

    def __init__(self, policy: RankPolicy, shape: tuple[int, int], record: bool):
        self.policy, self.shape, self.record = policy, shape, record
        self.rows: list[OrbitPoint] = []
        self.pending: OrbitPoint | None = None
        self.warnings: list[str] = []
        # σ_min at s = 0, the lowest σ_min seen since and where, the first s below the fraction
        self.sigma_start: float | None = None
        self.sigma_low, self.s_low = math.inf, math.nan
        self.s_collapse: float | None = None

    def point(self, s: float, p: FlowPoint) -> OrbitPoint:
        report = p.report
        if p.singular_values is not None:
            report = numerical_rank(p.singular_values, self.shape, self.policy)
        row = OrbitPoint(s=float(s), theta=np.array(p.theta), x=np.array(p.x), cost=float(p.cost))
        if report is not None:
            row.rank, row.sigma_min, row.sigma_max = report.rank, report.sigma_min, report.sigma_max
        row.regime = p.regime
        return row

    def add(self, row: OrbitPoint, final: bool = False) -> None:
        self.watch(row)
        if self.record or not self.rows or final:
            self.rows.append(row)
            self.pending = None
        else:
            self.pending = row  # without recording keep only the latest point

    def watch(self, row: OrbitPoint) -> None:
        """Track σ_min along the orbit and warn once when σ_min/σ_max of D falls below √eps
        (§2.1's rank condition must hold along the *whole* orbit; its infimum need not be
        attained)."""
        self.track_sigma_min(row)
        if self.warnings or not row.sigma_max > 0:
            return
        ratio = row.sigma_min / row.sigma_max
        if ratio < math.sqrt(np.finfo(np.float64).eps):
            message = (
                f"at s = {row.s:.6g}: sigma_min/sigma_max of D = {ratio:.3g} < sqrt(eps): the "
                "rank condition (2.1) holds only numerically there; the velocity (~1/sigma_min) "
                "is resolved to ~eps/ratio relative"
            )
            self.warnings.append(message)
            warnings.warn(message, ConditioningWarning, stacklevel=4)

    def track_sigma_min(self, row: OrbitPoint) -> None:
        """σ_min(0) (the first point), the lowest σ_min since and the first s below the fraction."""
        if not math.isfinite(row.sigma_min):
            return  # recorded without a Jacobian
        if self.sigma_start is None:
            self.sigma_start = row.sigma_min
            return
        if row.sigma_min < self.sigma_low:
            self.sigma_low, self.s_low = row.sigma_min, row.s
        if self.s_collapse is None and row.sigma_min < SIGMA_COLLAPSE_FRACTION * self.sigma_start:
            self.s_collapse = row.s

    def report_collapse(self, status: Status | str) -> None:
        """One warning if σ_min fell below :data:`SIGMA_COLLAPSE_FRACTION`·σ_min(0) along an
        accepted run that did not stop for rank loss (then the status already says it)."""
        if self.s_collapse is None or status == Status.RANK_CONDITION_FAILED:
            return
        message = (
            f"sigma_min(D) collapsed along the orbit while the run continued: from "
            f"{self.sigma_start:.3g} at s = 0 to a minimum of {self.sigma_low:.3g} at s = "
            f"{self.s_low:.6g} (below {SIGMA_COLLAPSE_FRACTION:g}*sigma_min(0) first at s = "
            f"{self.s_collapse:.6g}): inf sigma_min over the orbit is not bounded away from 0, "
            "as the rank hypothesis of Theorem 2.1 needs"
        )
        self.warnings.append(message)
        # report_collapse <- OrbitRun.finish <- the method's run <- integrate <- the caller
        warnings.warn(message, ConditioningWarning, stacklevel=5)

    @property
    def last(self) -> OrbitPoint:
        return self.pending if self.pending is not None else self.rows[-1]

    def replace_last(self, row: OrbitPoint) -> None:
        if self.pending is not None:
            self.pending = row
        else:
            self.rows[-1] = row

    def columns(self) -> dict[str, Any]:
        if self.pending is not None:
            self.rows.append(self.pending)
            self.pending = None
        rows = self.rows
        return {
            "s": np.array([r.s for r in rows]),
            "theta": np.array([r.theta for r in rows]),
            "x": np.array([r.x for r in rows]),
            "cost": np.array([r.cost for r in rows]),
            "rank": np.array([r.rank for r in rows], dtype=np.int64),
            "sigma_min": np.array([r.sigma_min for r in rows], dtype=np.float64),
            "sigma_max": np.array([r.sigma_max for r in rows], dtype=np.float64),
            "regime": [r.regime for r in rows],
        }


def rank_failure_point(flow: ParameterFlow, theta: npt.ArrayLike) -> FlowPoint:
    """x, cost and D's rank at θ without the flow's regime check (for failure reports)."""
    svd: JacobianSVD | KernelFactorization | KrylovFactorization
    if getattr(flow, "route", "dense") != "dense":  # kernel / matrix-free: never form D
        # only an AdaptedFlow has a route (and factorization) other than dense
        adapted = cast(AdaptedFlow, flow)
        x, svd = np.asarray(flow.f(theta), dtype=np.float64), adapted.factorization(theta)
    else:
        x, D = flow.f.value_and_jacobian(theta)
        svd = JacobianSVD(D, flow.rank_policy)
        x = np.asarray(x, dtype=np.float64)
    return FlowPoint(
        np.array(theta),
        x,
        float(flow.cost(x)),
        np.zeros_like(theta),
        None,
        svd.report,
        "rank-failure",
        svd.singular_values,
        svd,
    )


def _finish_geometry(flow, recorder: OrbitRecorder):
    """Make sure the last recorded point carries D's rank (one Jacobian at most)."""
    last = recorder.last
    if last.rank >= 0:
        return
    try:
        point = flow.evaluate(last.theta, geometry=True)
    except (RankConditionError, *EVALUATION_FAILURES):
        return
    recorder.replace_last(recorder.point(last.s, point))


@dataclass(kw_only=True)
class OrbitRun:
    """One call of :func:`~subriemann.flows.integrate`: its checked settings, the recorder, and how it ends."""

    flow: ParameterFlow
    method: str
    s_end: float
    step: float | None
    max_step: float | None
    rtol: float
    atol: float
    eps: float | None
    max_steps: int
    options: dict[str, Any]
    settings: tuple[int, float, float] | None
    recorder: OrbitRecorder
    progress: Callable[[float, float], object] | None
    counts_before: dict[str, int]

    def finish(
        self,
        status: Status | str,
        message: str,
        *,
        event_s: float | None = None,
        n_evaluations: int = 0,
        stats: dict[str, float] | None = None,
        solution: Solution | None = None,
    ) -> Trajectory:
        """The Trajectory of the run; never claims C ≤ ε where it does not hold."""
        flow, eps = self.flow, self.eps
        _finish_geometry(flow, self.recorder)
        data = self.recorder.columns()
        if status == Status.TARGET_COST_REACHED and data["cost"][-1] > eps:
            # every landing aims at C ≤ ε; never claim it when it does not hold
            status, event_s = Status.COMPLETED, None
            message = (
                f"stopped at s = {data['s'][-1]:.6g} with C = {data['cost'][-1]:.6g} > eps = "
                f"{eps:.6g} (the crossing could not be resolved below round-off)"
            )
        self.recorder.report_collapse(status)
        counts = {
            k: int(v - self.counts_before.get(k, 0))
            for k, v in flow.f.counts.items()
            if v - self.counts_before.get(k, 0)
        }
        return Trajectory(
            **data,
            method=self.method,
            status=Status(status),
            message=message,
            n_jacobian=counts.get("jacobian", 0),
            n_evaluations=n_evaluations,
            N=flow.N,
            target=np.array(flow.cost.target),
            eps=eps,
            event_s=event_s,
            counts=counts,
            stats=stats or {"accepted": 0, "rejected": 0},
            warnings=list(self.recorder.warnings),
            solution=solution,
        )
