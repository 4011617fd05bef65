"""One orbit of the orbit survey: the rank condition (2.1) along the adapted flow, not only at s = 0.

Theorem 2.1 gives C(s) = e^{−2s/N} C(0) (2.6) on an orbit of the adapted flow
(2.4) *along which* rank D[θ(s)] = QN holds; its bound on the velocity,
|θ′| ≤ |∇ₓC| / σ_min(D), needs inf_s σ_min(D[θ(s)]) > 0.  The rank survey
checks (2.1) at initialisation only.  Here the flow is integrated from a random
θ₀ to C ≤ ε (output-exact, :func:`subriemann.flows.integrate`) and recorded at
every accepted point: σ_min(D), σ_max(D), |θ| and C, with

* ``s_below_threshold``: the first s with σ_min/σ_max < ``sigma_threshold``
  (the rank condition "lost" at the survey's resolution; relative to σ_max so
  that it does not depend on the scale of the network's outputs);
* the **outcome**: ``"completed"`` (C ≤ ε reached, at the stopping time (2.18)),
  ``"lost_rank"`` (the integrator stopped because D lost rank numerically: the
  corrector could not follow the fibre, or the step collapsed), ``"diverged"``
  (|θ| grew by more than ``theta_growth``·|θ₀|, or overflowed, before C ≤ ε),
  ``"max_steps"`` (the cap on steps was reached first).

**Resolution.**  On the dense route σ_min is an SVD singular value (accurate to
~eps·σ_max); on the kernel route it comes from Θ = DDᵀ, which resolves
singular values only above ~√(QN·eps)·σ_max and reports smaller ones as 0
(:mod:`subriemann.geometry.kernel`).  ``sigma_threshold`` (default 1e-6) stays
above both floors.  The σ's are sampled at the accepted points; the step is
capped at s_ε/``n_points`` so that every orbit has at least that many.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import ConditioningWarning, InputError, check_int, check_real
from subriemann.linalg import RankPolicy

if TYPE_CHECKING:
    from subriemann.maps.smooth import SmoothMap

__all__ = ["OrbitSettings", "ORBIT_OUTCOMES", "ORBIT_ROUTES", "measure_orbit"]

#: The outcomes of an orbit, in the order the survey's table lists them.
ORBIT_OUTCOMES = ("completed", "lost_rank", "diverged", "max_steps")

#: The routes of :class:`~subriemann.flows.AdaptedFlow` an orbit can be integrated on.
ORBIT_ROUTES = ("auto", "dense", "kernel", "matrix-free")

# Integrator statuses (subriemann.integrate.Status values) and the outcome each one means.
_OUTCOME_OF_STATUS = {
    "target_cost_reached": "completed",
    "rank_condition_failed": "lost_rank",
    "step_size_collapsed": "lost_rank",
    "non_finite": "diverged",
    "max_steps": "max_steps",
}


@dataclass(frozen=True, kw_only=True)
class OrbitSettings:
    """What one orbit of the orbit survey integrates and records; built by keyword.

    Attributes
    ----------
    eps : float
        Target cost ε: the orbit runs to C ≤ ε (the stopping time (2.18)).
    sigma_threshold : float
        σ_min/σ_max below which the rank condition counts as lost
        (``s_below_threshold``); in (0, 1).
    theta_growth : float
        An orbit whose |θ| exceeds ``theta_growth``·|θ₀| before C ≤ ε diverged.
    max_steps : int
        Cap on attempted steps of the integrator.
    route : {"auto", "dense", "kernel", "matrix-free"}
        How D⁺ is applied (see :class:`~subriemann.flows.AdaptedFlow`); "auto"
        takes the kernel route where D would be large.
    n_points : int
        At least this many accepted points per completed orbit (step ≤ s_ε/n_points).
    trace_points : int
        At most this many points of each orbit are stored in its row (evenly
        spaced in the step index, plus the point of smallest σ_min/σ_max).
    """

    eps: float = 1e-8
    sigma_threshold: float = 1e-6
    theta_growth: float = 100.0
    max_steps: int = 2000
    route: str = "auto"
    n_points: int = 50
    trace_points: int = 100

    def __post_init__(self):
        check_real(self.eps, "eps", "the target cost", positive=True)
        check_real(self.sigma_threshold, "sigma_threshold", "a ratio in (0, 1)", positive=True)
        if not self.sigma_threshold < 1:
            raise InputError(f"sigma_threshold must be in (0, 1), got {self.sigma_threshold}")
        check_real(self.theta_growth, "theta_growth", "a factor > 1", positive=True)
        if not self.theta_growth > 1:
            raise InputError(f"theta_growth must be > 1, got {self.theta_growth}")
        check_int(self.max_steps, "max_steps")
        check_int(self.n_points, "n_points")
        check_int(self.trace_points, "trace_points", minimum=2)
        if self.route not in ORBIT_ROUTES:
            raise InputError(f"route must be one of {ORBIT_ROUTES}, got {self.route!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "eps": float(self.eps),
            "sigma_threshold": float(self.sigma_threshold),
            "theta_growth": float(self.theta_growth),
            "max_steps": int(self.max_steps),
            "route": self.route,
            "n_points": int(self.n_points),
            "trace_points": int(self.trace_points),
        }


def measure_orbit(
    f: SmoothMap,
    theta0: npt.ArrayLike,
    target: npt.ArrayLike,
    n_samples: int,
    settings: OrbitSettings,
    rank_policy: RankPolicy | float | None = None,
) -> dict[str, Any]:
    """Integrate the adapted flow (2.4) from θ₀ to C ≤ ε and measure the rank condition along it.

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN} with K ≥ QN (the over-parametrized regime of Theorem 2.1).
    theta0 : array-like, shape=[K]
    target : array-like, shape=[QN]
        y_ω (1.2) of the cost C[x] = |x − y_ω|²/(2N) (1.7).
    n_samples : int
        N.
    settings : OrbitSettings
    rank_policy : RankPolicy, float or None
        The flow's rank decision.

    Returns
    -------
    dict
        ``route``, ``status`` and ``message`` of the integrator, ``outcome``
        (one of :data:`ORBIT_OUTCOMES`), ``s_final``, ``s_stop`` (the stopping
        time (2.18)), ``cost_initial``/``cost_final``, ``n_points``,
        ``n_jacobian``; σ_min/σ_max of D at s = 0, their minimum ratio over the
        orbit (``ratio_min``) and where (``s_ratio_min``), ``sigma_min_min``,
        ``s_below_threshold`` (None if never), ``rank_held`` (σ_min/σ_max ≥
        threshold at every recorded point and the run not stopped by rank loss),
        ``theta_norm_initial``, ``theta_growth`` (max |θ(s)| / |θ₀|),
        ``conditioning_warning`` (the integrator recorded a warning that
        σ_min/σ_max < √eps; ``Trajectory.warnings``);
        and the traces ``trace_s``, ``trace_sigma_min``, ``trace_sigma_max``,
        ``trace_theta_norm``, ``trace_cost`` (lists, at most ``trace_points``).
    """
    from subriemann.flows import AdaptedFlow, L2Cost, integrate, stopping_time

    cost = L2Cost(np.asarray(target, dtype=np.float64), n_samples=n_samples)
    flow = AdaptedFlow(f, cost, regime="auto", route=settings.route, rank_policy=rank_policy)
    start = np.asarray(theta0, dtype=np.float64)
    C0 = float(cost(f(start)))
    s_stop = stopping_time(settings.eps, C0, n_samples) if C0 > settings.eps else 0.0
    with _quiet_conditioning():
        traj = integrate(
            flow,
            start,
            math.inf,
            eps=settings.eps,
            max_steps=settings.max_steps,
            max_step=s_stop / settings.n_points if s_stop > 0 else None,
        )
    ratio = traj.sigma_min / traj.sigma_max
    norms = np.linalg.norm(traj.theta, axis=1)
    growth = norms / norms[0] if norms[0] > 0 else np.full_like(norms, np.nan)
    below = np.flatnonzero(ratio < settings.sigma_threshold)
    outcome = _OUTCOME_OF_STATUS.get(str(traj.status), "max_steps")
    if outcome in ("max_steps", "lost_rank") and np.nanmax(growth) > settings.theta_growth:
        outcome = "diverged"
    finite = np.isfinite(ratio)
    i_min = int(np.nanargmin(ratio)) if np.any(finite) else 0
    return {
        "route": flow.route,
        "status": str(traj.status),
        "message": traj.message,
        "outcome": outcome,
        "s_final": traj.final_s,
        "s_stop": float(s_stop),
        "cost_initial": C0,
        "cost_final": traj.final_cost,
        "n_points": len(traj),
        "n_jacobian": traj.n_jacobian,
        "sigma_min_initial": float(traj.sigma_min[0]),
        "sigma_max_initial": float(traj.sigma_max[0]),
        "sigma_min_min": float(np.nanmin(traj.sigma_min)) if np.any(finite) else None,
        "ratio_min": float(ratio[i_min]) if np.any(finite) else None,
        "s_ratio_min": float(traj.s[i_min]),
        "s_below_threshold": float(traj.s[below[0]]) if below.size else None,
        "rank_held": bool(below.size == 0 and outcome != "lost_rank"),
        "theta_norm_initial": float(norms[0]),
        "theta_growth": float(np.nanmax(growth)),
        # from the Trajectory's own record: the same on every backend (warnings filters are
        # process-wide, so a thread of a Dask worker cannot rely on catching them)
        "conditioning_warning": bool(traj.warnings),
        **_traces(traj, norms, i_min, settings.trace_points),
    }


@contextlib.contextmanager
def _quiet_conditioning() -> Iterator[None]:
    """Silence the integrator's ConditioningWarning in the main thread (the row records it).

    Why only there: ``warnings.catch_warnings`` swaps process-wide state and is not
    thread-safe, and a Dask worker may run tasks in threads of one process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConditioningWarning)
        yield


def _traces(traj, norms, i_min, n_max) -> dict:
    """At most ``n_max`` points of the orbit: evenly spaced in the step index, with the first,
    the last and the point of smallest σ_min/σ_max (so that the dip is never sampled away)."""
    n = len(traj)
    keep = np.arange(n) if n <= n_max else np.linspace(0, n - 1, n_max - 1).round().astype(int)
    keep = np.unique(np.append(keep, i_min))

    def trace(values):
        return [float(v) for v in np.asarray(values, dtype=np.float64)[keep]]

    return {
        "trace_s": trace(traj.s),
        "trace_sigma_min": trace(traj.sigma_min),
        "trace_sigma_max": trace(traj.sigma_max),
        "trace_theta_norm": trace(norms),
        "trace_cost": trace(traj.cost),
    }
