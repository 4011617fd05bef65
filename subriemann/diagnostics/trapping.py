"""Trapping (Prop. 3.1): where the standard flow crawls and the adapted flow does not.

The standard flow (3.7) moves θ at speed |Dᵀ∇ₓC| = ε(θ)|∇ₓC|, with the
*trapping ratio* ε(θ) = |Dᵀ∇ₓC| / |∇ₓC| (3.4).  Where ε is small the orbit
crawls: (3.6) bounds from below the time it spends in such a region by its arc
length there.  The adapted flow's output velocity is −∇ₓC whatever ε is
(1.11), so the same region does not hold it.

Nothing here prints; long loops take an optional ``progress(done, total)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, ShapeError, check_real, check_vector
from subriemann.flows.cost import check_map_and_cost

if TYPE_CHECKING:
    from subriemann.flows.cost import L2Cost
    from subriemann.maps.smooth import SmoothMap

__all__ = [
    "trapping_ratio",
    "TrappingProfile",
    "trapping_profile",
    "TrappingWindow",
    "trapping_windows",
]


def trapping_ratio(f: SmoothMap, cost: L2Cost, theta: npt.ArrayLike) -> float:
    """ε(θ) = |Dᵀ[θ]∇ₓC| / |∇ₓC|, the trapping ratio. Implements (3.4).

    The standard flow (3.7) moves θ at speed ε(θ)|∇ₓC|; when rank D = QN,
    σ_min(D) ≤ ε(θ) ≤ σ_max(D).  Uses one vector-Jacobian product (no Jacobian).

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN}.
    cost : L2Cost
    theta : array-like, shape=[K]

    Returns
    -------
    float
        ε(θ) ≥ 0; it is 0 exactly at an equilibrium of (3.7), Dᵀ∇ₓC = 0.

    Raises
    ------
    InputError
        At a global minimizer (∇ₓC = 0), where ε is 0/0 and undefined.
    """
    check_map_and_cost(f, cost)
    point = check_vector(theta, f.dim_in, "theta")
    grad_x = cost.grad(f(point))
    norm = float(np.linalg.norm(grad_x))
    if norm == 0.0:
        raise InputError(
            "the trapping ratio (3.4) is undefined at a global minimizer (∇ₓC = 0, x = y_ω); "
            "expected a point with x[θ] ≠ y_ω"
        )
    return float(np.linalg.norm(f.vjp(point, grad_x))) / norm


@dataclass(frozen=True)
class TrappingWindow:
    """A stretch of an orbit where ε(θ(s)) < threshold, with the bound (3.6).

    Attributes
    ----------
    start, stop : int
        First and last sample index inside the window (inclusive).
    s_start, s_end : float
        s₀ = inf I and the last sample time inside the window.
    duration : float
        Observed |I| = s_end − s_start (to sample resolution).
    eps_max : float
        Largest ε(θ) sampled in the window.
    threshold : float
        The ε of (3.4) defining the region U = {ε(θ) < threshold}.
    arc_length : float or None
        L_U (3.5): length of the polygon through the recorded θ(s) in the
        window (a lower bound of the true arc length, so the bound stays valid).
    residual_norm : float or None
        |x[θ(s₀)] − y_ω|.
    lower_bound : float or None
        N L_U / (|x(s₀) − y_ω| · threshold): (3.6) for the region U.
    sharp_lower_bound : float or None
        The same with ε = eps_max, the smallest ε the samples support.
    open_end : bool
        The orbit was still in the window when the record ended: the true
        trapping time is longer than ``duration``.
    """

    start: int
    stop: int
    s_start: float
    s_end: float
    duration: float
    eps_max: float
    threshold: float
    arc_length: float | None = None
    residual_norm: float | None = None
    lower_bound: float | None = None
    sharp_lower_bound: float | None = None
    open_end: bool = False

    @property
    def bound_holds(self) -> bool | None:
        """Whether the observed time respects (3.6) (None without θ, residual and N)."""
        if self.lower_bound is None:
            return None
        return self.duration >= self.lower_bound

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["bound_holds"] = self.bound_holds
        return out


def trapping_windows(
    s: npt.ArrayLike,
    ratio: npt.ArrayLike,
    threshold: float,
    theta: npt.ArrayLike | None = None,
    residual_norm: npt.ArrayLike | None = None,
    n_samples: int | None = None,
) -> list[TrappingWindow]:
    """Maximal runs of consecutive samples with ε(θ(s)) < threshold, and (3.6) for each.

    Implements the detection of the regions U of Prop. 3.1 along a sampled
    orbit and the lower bound (3.6) |I| ≥ N L_U / (|x(s₀) − y_ω| ε) on the time
    spent in each.  The bound is proved for the standard flow (3.7), whose
    speed is ε(θ)|∇ₓC|; on other orbits it is only a comparison.

    Parameters
    ----------
    s : array-like, shape=[n]
        Increasing sample times.
    ratio : array-like, shape=[n]
        ε(θ(s_i)) (3.4).
    threshold : float
        ε of (3.4): the region is U = {θ : ε(θ) < threshold}.
    theta : array-like, shape=[n, K], optional
        Recorded θ(s_i), for the arc length L_U (3.5).
    residual_norm : array-like, shape=[n], optional
        |x(s_i) − y_ω|, for the entry value in (3.6).
    n_samples : int, optional
        N, the number of training inputs.

    Returns
    -------
    list of TrappingWindow
        In order of time; bounds are ``None`` unless ``theta``,
        ``residual_norm`` and ``n_samples`` are all given.
    """
    from subriemann.flows.theory import trapping_time_bound

    times = np.asarray(s, dtype=np.float64)
    eps = np.asarray(ratio, dtype=np.float64)
    if times.ndim != 1 or eps.shape != times.shape:
        raise ShapeError(
            f"s and ratio must be 1-D of equal length, got shapes {times.shape} and {eps.shape}"
        )
    if not (np.all(np.isfinite(times)) and np.all(np.isfinite(eps))):
        raise InputError("s and ratio must be finite")
    if np.any(np.diff(times) < 0):
        raise InputError("s must be non-decreasing (sample times of one orbit)")
    threshold = check_real(threshold, "threshold", positive=True)
    # what the bound (3.6) needs: θ(s_i), |x(s_i) − y_ω| and N
    bound: tuple[np.ndarray, np.ndarray, int] | None = None
    if theta is not None and residual_norm is not None and n_samples is not None:
        points = np.asarray(theta, dtype=np.float64)
        residuals = np.asarray(residual_norm, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] != times.size or residuals.shape != times.shape:
            raise ShapeError(
                f"theta must have shape (n, K) and residual_norm (n,) with n = {times.size}, "
                f"got {points.shape} and {residuals.shape}"
            )
        bound = (points, residuals, n_samples)
    inside = eps < threshold
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    windows = []
    for a, b in zip(starts, stops, strict=True):
        a, b = int(a), int(b)
        fields: dict[str, Any] = dict(
            start=a,
            stop=b,
            s_start=float(times[a]),
            s_end=float(times[b]),
            duration=float(times[b] - times[a]),
            eps_max=float(eps[a : b + 1].max()),
            threshold=float(threshold),
            open_end=b == times.size - 1,
        )
        if bound is not None and bound[1][a] > 0:
            points, residuals, N = bound
            L = float(np.sum(np.linalg.norm(np.diff(points[a : b + 1], axis=0), axis=1)))
            fields.update(
                arc_length=L,
                residual_norm=float(residuals[a]),
                lower_bound=trapping_time_bound(L, residuals[a], threshold, N),
                sharp_lower_bound=(
                    trapping_time_bound(L, residuals[a], fields["eps_max"], N)
                    if fields["eps_max"] > 0
                    else float("inf")
                ),
            )
        windows.append(TrappingWindow(**fields))
    return windows


@dataclass(frozen=True)
class TrappingProfile:
    """ε(θ(s)) (3.4) along a recorded orbit, with what (3.6) needs.

    Attributes
    ----------
    s : ndarray, shape=[n]
    ratio : ndarray, shape=[n]
        ε(θ(s_i)).
    residual_norm : ndarray, shape=[n]
        |x(s_i) − y_ω| (= N |∇ₓC|).
    cost : ndarray, shape=[n]
    theta : ndarray, shape=[n, K]
    N : int
    """

    s: np.ndarray
    ratio: np.ndarray
    residual_norm: np.ndarray
    cost: np.ndarray
    theta: np.ndarray
    N: int

    def windows(self, threshold: float) -> list[TrappingWindow]:
        """Trapping windows ε < threshold with the bound (3.6); see :func:`trapping_windows`."""
        return trapping_windows(
            self.s, self.ratio, threshold, self.theta, self.residual_norm, self.N
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "s": self.s,
            "ratio": self.ratio,
            "residual_norm": self.residual_norm,
            "cost": self.cost,
            "N": self.N,
        }


class _RecordedOrbit(Protocol):
    """What :func:`trapping_profile` reads of an orbit (a Trajectory has it): s (n,), θ (n, K)."""

    @property
    def s(self) -> npt.ArrayLike: ...

    @property
    def theta(self) -> npt.ArrayLike: ...


def trapping_profile(
    traj: _RecordedOrbit,
    f: SmoothMap,
    cost: L2Cost,
    progress: Callable[[int, int], object] | None = None,
) -> TrappingProfile:
    """The trapping ratio ε(θ(s)) (3.4) at every recorded point of an orbit.

    Parameters
    ----------
    traj : Trajectory or any object with arrays ``s`` (n,) and ``theta`` (n, K)
        E.g. the result of :func:`subriemann.integrate.integrate`.  A recorded
        ``x`` (n, QN) is reused; otherwise x[θ(s_i)] is recomputed.
    f : SmoothMap
    cost : L2Cost
    progress : callable, optional
        ``progress(done, total)`` after each point.

    Returns
    -------
    TrappingProfile
    """
    check_map_and_cost(f, cost)
    try:
        s = np.asarray(traj.s, dtype=np.float64)
        theta = np.asarray(traj.theta, dtype=np.float64)
    except AttributeError as exc:
        raise InputError(
            f"traj must have arrays s and theta (a Trajectory), got {type(traj).__name__}"
        ) from exc
    if theta.ndim != 2 or theta.shape != (s.size, f.dim_in):
        raise ShapeError(
            f"traj.theta must have shape (n, K) = ({s.size}, {f.dim_in}), got {theta.shape}"
        )
    xs = getattr(traj, "x", None)
    xs = None if xs is None else np.asarray(xs, dtype=np.float64)
    if xs is not None and xs.shape != (s.size, f.dim_out):
        xs = None
    n = s.size
    ratio, res, costs = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        x = f(theta[i]) if xs is None else xs[i]
        grad_x = cost.grad(x)
        gnorm = float(np.linalg.norm(grad_x))
        if gnorm == 0.0:
            raise InputError(
                f"the orbit reaches a global minimizer (x = y_ω) at s = {s[i]:g}, where the "
                "trapping ratio (3.4) is undefined; truncate the trajectory before that point"
            )
        ratio[i] = float(np.linalg.norm(f.vjp(theta[i], grad_x))) / gnorm
        res[i] = gnorm * cost.N
        costs[i] = float(cost(x))
        if progress is not None:
            progress(i + 1, n)
    return TrappingProfile(s, ratio, res, costs, theta, cost.N)
