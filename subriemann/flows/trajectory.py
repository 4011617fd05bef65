"""The result of one orbit integration: :class:`Trajectory`, a recorded orbit s ↦ θ(s), and its rows.

One concept: what :func:`subriemann.flows.integrate` hands back.  Each accepted
point is an :class:`OrbitPoint` (s, θ, x = f(θ) (1.6), C (1.7), and the rank
decision on D[θ] with σ_min, σ_max); the trajectory stacks them into columns,
carries the run's :class:`~subriemann.integrate.Status` with its message, the
evaluation counts, and offers the checks of Theorem 2.1 on the record
(:meth:`Trajectory.law_residual`, the distance to the cost law (2.6)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError
from subriemann.integrate import Solution, Status

__all__ = ["Trajectory", "OrbitPoint", "STATUSES"]

#: the possible values of :attr:`Trajectory.status` (members of :class:`~subriemann.integrate.Status`)
STATUSES = tuple(s.value for s in Status if s is not Status.EVENT)


@dataclass(kw_only=True)
class OrbitPoint:
    """One recorded point of an orbit (rank −1 and NaN σ's: recorded without a Jacobian)."""

    s: float
    theta: np.ndarray
    x: np.ndarray
    cost: float
    rank: int = -1
    sigma_min: float = math.nan
    sigma_max: float = math.nan
    regime: str = ""


@dataclass(kw_only=True)
class Trajectory:
    """A recorded orbit s ↦ θ(s) with its image in the output layer.

    Attributes
    ----------
    s : ndarray, shape=[n]
        Flow times of the recorded points (s[0] = 0).
    theta : ndarray, shape=[n, K]
    x : ndarray, shape=[n, QN]
        Outputs x[θ(s)].
    cost : ndarray, shape=[n]
        C[x(s)] (1.7).
    rank, sigma_min, sigma_max : ndarray, shape=[n]
        Numerical rank and smallest and largest singular values of D[θ(s)]
        (−1 and NaN at points recorded without a Jacobian).
    regime : list of str
        The regime used at each point ("standard", or the adapted regime).
    method : str
    status : Status
        A ``str`` enum (one of :data:`STATUSES`); ``status.meaning`` says it in words.
    message : str
        Why, where and with which numbers the run ended.
    n_jacobian : int
        Jacobian evaluations during the run (from the map's ``counts``).
    n_evaluations : int
        Vector-field evaluations (for "output-exact": corrector evaluations).
    counts : dict
        All evaluation counts of the map during the run.
    N : int
    target : ndarray, shape=[QN]
        y_ω.
    eps : float or None
        Target cost of the run, if any.
    event_s : float or None
        The crossing time of C = ε (target_cost_reached only).
    stats : dict
        Step statistics (accepted, rejected, ...).
    warnings : list of str
        Conditioning warnings raised along the run (also issued as
        :class:`~subriemann.errors.ConditioningWarning`): σ_min(D)/σ_max(D) fell
        below √eps, where the adapted velocity (~1/σ_min) is resolved only to
        ~eps·σ_max/σ_min and the rank condition (2.1) holds only numerically.
    """

    s: np.ndarray
    theta: np.ndarray
    x: np.ndarray
    cost: np.ndarray
    rank: np.ndarray
    sigma_min: np.ndarray
    sigma_max: np.ndarray
    regime: list[str]
    method: str
    status: Status
    message: str
    n_jacobian: int
    n_evaluations: int
    N: int
    target: np.ndarray
    eps: float | None = None
    event_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    solution: Solution | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.s)

    def __call__(self, s: npt.ArrayLike) -> np.ndarray:
        """Dense θ(s) between recorded points (the stepper's interpolant; record=True runs)."""
        if self.solution is None or len(self.solution) != len(self):
            raise InputError(
                "dense evaluation needs the run's solution with every accepted point "
                "(integrate(..., record=True))"
            )
        return self.solution(s)

    def law_residual(self) -> float:
        """max_s |log C(s) − log C(0) + 2s/N|: 0 exactly on the law (2.6).

        ``inf`` if the cost reached exactly 0 (log undefined).
        """
        with np.errstate(divide="ignore"):
            logc = np.log(self.cost)
        if not np.all(np.isfinite(logc)):
            return float("inf")
        return float(np.max(np.abs(logc - logc[0] + 2.0 * (self.s - self.s[0]) / self.N)))

    @property
    def final_s(self) -> float:
        return float(self.s[-1])

    @property
    def final_theta(self) -> np.ndarray:
        return self.theta[-1]

    @property
    def final_x(self) -> np.ndarray:
        return self.x[-1]

    @property
    def final_cost(self) -> float:
        return float(self.cost[-1])

    @property
    def initial_cost(self) -> float:
        return float(self.cost[0])

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists and numbers; NaN σ_min become None)."""

        def clean(a):
            a = np.asarray(a, dtype=np.float64)
            return [None if not np.isfinite(v) else float(v) for v in a.ravel()]

        return {
            "method": self.method,
            "status": str(self.status),
            "message": self.message,
            "n_points": len(self),
            "n_jacobian": int(self.n_jacobian),
            "n_evaluations": int(self.n_evaluations),
            "N": int(self.N),
            "eps": self.eps,
            "event_s": self.event_s,
            "law_residual": _json_float(self.law_residual()),
            "s": clean(self.s),
            "cost": clean(self.cost),
            "rank": [int(r) for r in self.rank],
            "sigma_min": clean(self.sigma_min),
            "sigma_max": clean(self.sigma_max),
            "regime": list(self.regime),
            "theta": [clean(t) for t in self.theta],
            "x": [clean(v) for v in self.x],
            "target": clean(self.target),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "stats": {k: _json_float(v) for k, v in self.stats.items()},
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        return (
            f"Trajectory(method={self.method!r}, status={str(self.status)!r}, "
            f"points={len(self)}, s_final={self.final_s:.6g}, "
            f"cost {self.initial_cost:.3e} -> {self.final_cost:.3e}, n_jacobian={self.n_jacobian})"
        )


def _json_float(v):
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    return v
