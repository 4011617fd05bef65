"""Closed forms of the paper: cost law, residual law, stopping time, trapping bound.

These are the a-priori predictions that the orbits of :mod:`subriemann.flows.fields`
are measured against.  In the output layer the adapted flow *is* the Euclidean
gradient flow (1.11), whose solution (1.13) is explicit; everything here
follows from it:

* residual law (1.13)/(2.7):  x(s) − y_ω = e^{−s/N} (x(0) − y_ω),
* cost law (1.14)/(2.6):      C(s) = e^{−2s/N} C(0),
* stopping time (2.18):       s_ε = (N/2) log(C(0)/ε),
* trapping bound (3.6):       |I| ≥ N L_U / (|x(s₀) − y_ω| ε)  for the standard flow.

With a constant SPD output metric G (h pulled back from G, (2.22)) the adapted
flow moves the output along x′ = −G⁻¹∇ₓC instead (see
:class:`~subriemann.flows.fields.AdaptedFlow`), and the three laws generalise to
:func:`output_metric_residual_law`, :func:`output_metric_cost_law` and
:func:`output_metric_stopping_time`; G = 1 gives back the ones above.

:func:`compare_with_law` measures how far a recorded
:class:`~subriemann.integrate.Trajectory` is from these predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, ShapeError, check_array, check_int, check_real

if TYPE_CHECKING:
    from subriemann.flows.trajectory import Trajectory
    from subriemann.geometry.metrics import OutputMetric

__all__ = [
    "cost_law",
    "residual_law",
    "stopping_time",
    "cost_floor",
    "trapping_time_bound",
    "compare_with_law",
    "output_metric_residual_law",
    "output_metric_cost_law",
    "output_metric_stopping_time",
]


def _times(s: npt.ArrayLike) -> np.ndarray:
    """Flow times as a float64 array (scalar stays 0-d); finite, any sign."""
    times = check_array(s, "s")
    if times.ndim > 1:
        raise ShapeError(
            f"s must be a scalar or a 1-D array of flow times, got shape {times.shape}"
        )
    return np.asarray(times, dtype=np.float64)


@overload
def cost_law(s: float, C0: float, N: int) -> float: ...
@overload
def cost_law(s: npt.ArrayLike, C0: float, N: int) -> float | np.ndarray: ...
def cost_law(s: npt.ArrayLike, C0: float, N: int) -> float | np.ndarray:
    """The cost along the adapted flow: C(s) = e^{−2s/N} C(0). Implements (1.14)/(2.6).

    Parameters
    ----------
    s : float or array-like, shape=[n]
        Flow times (any finite real; the theorem is stated for s ≥ 0).
    C0 : float
        C(0) ≥ 0, the cost at s = 0.
    N : int
        Number of training inputs.

    Returns
    -------
    float or ndarray, shape=[n]
        C(s), with the shape of ``s``.
    """
    C0 = check_real(C0, "C0", "the initial cost C(0)", nonnegative=True)
    N = check_int(N, "N", "the number of training inputs")
    out = C0 * np.exp(-2.0 * _times(s) / N)
    return float(out) if out.ndim == 0 else out


def residual_law(s: npt.ArrayLike, x0: npt.ArrayLike, y: npt.ArrayLike, N: int) -> np.ndarray:
    """The output residual along the adapted flow: x(s) − y_ω = e^{−s/N}(x(0) − y_ω). Implements (2.7).

    Parameters
    ----------
    s : float or array-like, shape=[n]
        Flow times.
    x0 : array-like, shape=[QN]
        Initial output x(0) = x[θ(0)].
    y : array-like, shape=[QN]
        Target y_ω.
    N : int
        Number of training inputs.

    Returns
    -------
    ndarray, shape=[QN] or [n, QN]
        The residual x(s) − y_ω (one row per time when ``s`` is an array).
    """
    start = check_array(x0, "x0", ndim=1)
    target = check_array(y, "y", shape=(start.shape[0],))
    N = check_int(N, "N", "the number of training inputs")
    decay = np.exp(-_times(s) / N)
    return np.multiply.outer(decay, np.asarray(start) - np.asarray(target))


def stopping_time(eps: float, C0: float, N: int) -> float:
    """The a-priori stopping time s_ε = (N/2) log(C(0)/ε). Implements (2.18).

    The earliest s ≥ 0 with C(s) ≤ ε on an orbit of the adapted flow along
    which the rank condition (2.1) holds; 0 when C(0) ≤ ε already.

    Parameters
    ----------
    eps : float
        Target cost ε > 0.
    C0 : float
        Initial cost C(0) > 0.  (C(0) = 0 means θ(0) already is a global
        minimizer: there is nothing to stop, and it is rejected as an input error.)
    N : int
        Number of training inputs.

    Raises
    ------
    InputError
        ε ≤ 0, C(0) ≤ 0, N < 1 or a non-finite value.
    """
    eps = check_real(eps, "eps", "the target cost epsilon of (2.17)", positive=True)
    C0 = check_real(
        C0, "C0", "the initial cost C(0); C(0) = 0 is already a global minimum", positive=True
    )
    N = check_int(N, "N", "the number of training inputs")
    return max(0.0, 0.5 * N * np.log(C0 / eps))


def cost_floor(target: npt.ArrayLike, N: int) -> float:
    """The smallest target cost ε that a float64 run can certify: eps·|y_ω|²/N.

    C = |x − y_ω|²/(2N) is computed from x = f(θ), whose rounding error is
    ~eps·|x| amplified by the forward evaluation and, in the corrector and
    the rank decision, by cond(D) — resolvable up to ~1/√eps under the rank
    policy of :mod:`subriemann.linalg`.  At C = eps·|y_ω|²/N the residual is
    |x − y_ω| = √(2·eps)·|y_ω|: only half of the digits of x distinguish it
    from y_ω, so below this floor "C ≤ ε" is decided by round-off, not by the
    flow.  :func:`~subriemann.integrate.integrate` refuses such an ε.  (A
    target y_ω = 0 gives floor 0: the outputs themselves then shrink with
    the residual and keep their relative accuracy.)

    Parameters
    ----------
    target : array-like, shape=[QN]
        y_ω (1.2).
    N : int
        Number of training inputs.

    Returns
    -------
    float
    """
    y = check_array(target, "target", ndim=1)
    N = check_int(N, "N", "the number of training inputs")
    return float(np.finfo(np.float64).eps * float(np.dot(y, y)) / N)


def trapping_time_bound(arc_length: float, residual_norm: float, ratio: float, N: int) -> float:
    """Lower bound on the time the standard flow spends in a trapping region. Implements (3.6).

    |I| ≥ N L_U / (|x[θ(s₀)] − y_ω| ε), for a region U where
    |Dᵀ∇ₓC| < ε |∇ₓC| (3.4) that the orbit of (3.7) crosses with arc length L_U.

    Parameters
    ----------
    arc_length : float
        L_U ≥ 0 (3.5), the arc length of the orbit inside U.
    residual_norm : float
        |x[θ(s₀)] − y_ω| > 0 at the entry time s₀.
    ratio : float
        ε > 0 of (3.4), the bound on |Dᵀ∇ₓC| / |∇ₓC| inside U.
    N : int
        Number of training inputs.
    """
    L = check_real(arc_length, "arc_length", "L_U of (3.5)", nonnegative=True)
    r = check_real(
        residual_norm, "residual_norm", "|x(s0) - y_omega| at the entry time", positive=True
    )
    e = check_real(ratio, "ratio", "epsilon of (3.4)", positive=True)
    return check_int(N, "N", "the number of training inputs") * L / (r * e)


def compare_with_law(traj: Trajectory) -> dict[str, float | None]:
    """How far a recorded orbit is from the predictions (2.6), (2.7) and (2.18).

    Parameters
    ----------
    traj : Trajectory
        From :func:`subriemann.integrate.integrate`; uses its ``s``, ``x``,
        ``cost``, ``target``, ``N``, ``eps`` and ``event_s``.

    Returns
    -------
    dict
        ``law_residual`` (max |log C(s) − log C(0) + 2s/N|),
        ``max_rel_cost_error`` (max |C(s)/(C(0)e^{−2s/N}) − 1|),
        ``max_rel_residual_error`` (max |x(s) − y − e^{−s/N}(x(0) − y)| / |e^{−s/N}(x(0) − y)|),
        ``predicted_stopping_time`` (2.18) and ``reached_stopping_time``
        (the recorded crossing of C = ε) with their ``stopping_time_rel_error``
        when the trajectory was run with a target cost ε (else ``None``).
    """
    s = np.asarray(traj.s, dtype=np.float64)
    if s.size == 0:
        raise InputError("the trajectory is empty; expected at least its initial point")
    ds = s - s[0]
    cost = np.asarray(traj.cost, dtype=np.float64)
    C0 = float(cost[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_cost = np.abs(cost / cost_law(ds, C0, traj.N) - 1.0) if C0 > 0 else np.zeros_like(cost)
    predicted = residual_law(ds, traj.x[0], traj.target, traj.N)
    actual = np.asarray(traj.x) - np.asarray(traj.target)
    scale = np.linalg.norm(predicted, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_res = np.where(
            scale > 0, np.linalg.norm(actual - predicted, axis=1) / np.where(scale > 0, scale, 1), 0
        )
    out: dict[str, float | None] = {
        "law_residual": float(traj.law_residual()),
        "max_rel_cost_error": float(np.max(rel_cost)),
        "max_rel_residual_error": float(np.max(rel_res)),
        "predicted_stopping_time": None,
        "reached_stopping_time": None,
        "stopping_time_rel_error": None,
    }
    if traj.eps is not None and C0 > 0:
        predicted_s = s[0] + stopping_time(traj.eps, C0, traj.N)
        out["predicted_stopping_time"] = float(predicted_s)
        if traj.event_s is not None:
            out["reached_stopping_time"] = float(traj.event_s)
            out["stopping_time_rel_error"] = (
                abs(traj.event_s - predicted_s) / predicted_s if predicted_s > 0 else 0.0
            )
    return out


# -- a constant output metric G ------------------------------------------------------------
def _output_metric_modes(x0, target, G, N):
    """(λ, Q, c, N): G = QΛQᵀ and the initial residual in G's eigenbasis, c = Qᵀ(x(0) − y_ω).

    Along x′ = −G⁻¹∇ₓC = −G⁻¹(x − y_ω)/N (1.20) the residual r = x − y_ω solves
    the linear system r′ = −G⁻¹r/N, which the eigenbasis of G decouples into
    c_i′ = −c_i/(Nλ_i).  G is checked (square of size QN, symmetric, positive
    definite) by :func:`subriemann.geometry.metrics.resolve_output_metric`.
    """
    from subriemann.geometry.metrics import resolve_output_metric

    x0 = check_array(x0, "x0", ndim=1)
    target = check_array(target, "target", shape=(x0.shape[0],))
    N = check_int(N, "N", "the number of training inputs")
    metric = resolve_output_metric(G, x0.shape[0])
    if not metric.is_constant:
        raise InputError(
            f"G must be a constant SPD matrix (or ConstantOutputMetric) for the closed-form laws, "
            f"got {metric!r}: along x' = -G(x)^-1 grad_x C with G depending on x the output "
            "orbit has no closed form; integrate AdaptedFlow(f, cost, output_metric=G) with an "
            "ODE method instead"
        )
    lam, Q = np.linalg.eigh(np.asarray(metric.matrix(x0), dtype=np.float64))
    return lam, Q, Q.T @ (np.asarray(x0) - np.asarray(target)), N


def _output_metric_evolution(s, x0, target, G, N):
    """(c(s), Q, N): the residual's coordinates c_i(s) = e^{−s/(Nλ_i)}c_i(0) in G's eigenbasis."""
    lam, Q, c, N = _output_metric_modes(x0, target, G, N)
    return np.exp(-np.multiply.outer(_times(s), 1.0 / lam) / N) * c, Q, N


def output_metric_residual_law(
    s: npt.ArrayLike,
    x0: npt.ArrayLike,
    target: npt.ArrayLike,
    G: npt.ArrayLike | OutputMetric | None,
    N: int,
) -> np.ndarray:
    """The output residual along x′ = −G⁻¹∇ₓC: x(s) − y_ω = exp(−sG⁻¹/N)(x(0) − y_ω).

    Generalises (1.13)/(2.7) to a constant SPD output metric G: it is the
    output orbit of :class:`~subriemann.flows.fields.AdaptedFlow` with
    ``output_metric=G`` wherever rank D = QN (2.1), since that flow's output
    velocity is −G⁻¹∇ₓC and ∇ₓC = (x − y_ω)/N (1.20).  Each eigendirection of G
    with eigenvalue λ decays at its own rate 1/(Nλ); G = 1 gives (2.7).
    Evaluated in the eigenbasis G = QΛQᵀ: exp(−sG⁻¹/N) = Q exp(−sΛ⁻¹/N) Qᵀ.

    Parameters
    ----------
    s, x0, target, N
        As ``s, x0, y, N`` of :func:`residual_law` (``target`` is y_ω).
    G : array-like, shape=[QN, QN], or ConstantOutputMetric
        Symmetric positive definite (None: the Euclidean G = 1).

    Returns
    -------
    ndarray, shape=[QN] or [n, QN]
        As :func:`residual_law`.

    Raises
    ------
    InputError
        G not symmetric positive definite or not constant, N < 1, non-finite values.
    ShapeError
        x0, target or G of the wrong shape.
    """
    modes, Q, N = _output_metric_evolution(s, x0, target, G, N)
    return modes @ Q.T


@overload
def output_metric_cost_law(
    s: float,
    x0: npt.ArrayLike,
    target: npt.ArrayLike,
    G: npt.ArrayLike | OutputMetric | None,
    N: int,
) -> float: ...
@overload
def output_metric_cost_law(
    s: npt.ArrayLike,
    x0: npt.ArrayLike,
    target: npt.ArrayLike,
    G: npt.ArrayLike | OutputMetric | None,
    N: int,
) -> float | np.ndarray: ...
def output_metric_cost_law(
    s: npt.ArrayLike,
    x0: npt.ArrayLike,
    target: npt.ArrayLike,
    G: npt.ArrayLike | OutputMetric | None,
    N: int,
) -> float | np.ndarray:
    """The cost along x′ = −G⁻¹∇ₓC: C(s) = |exp(−sG⁻¹/N)(x(0) − y_ω)|²/(2N).

    Generalises (1.14)/(2.6) to a constant SPD output metric G (the cost of
    :func:`output_metric_residual_law`).  In G's eigenbasis,
    C(s) = Σ_i c_i² e^{−2s/(Nλ_i)}/(2N) with c = Qᵀ(x(0) − y_ω): no longer one
    exponential, but squeezed between C(0)e^{−2s/(Nλ_min)} and
    C(0)e^{−2s/(Nλ_max)}.  G = 1 gives (2.6), C(s) = e^{−2s/N}C(0), which then
    depends on x(0) only through C(0).

    Parameters and errors are those of :func:`output_metric_residual_law`.

    Returns
    -------
    float or ndarray, shape=[n]
        C(s), with the shape of ``s``.
    """
    modes, _, N = _output_metric_evolution(s, x0, target, G, N)
    out = np.sum(modes**2, axis=-1) / (2.0 * N)
    return float(out) if out.ndim == 0 else out


def output_metric_stopping_time(
    eps: float,
    x0: npt.ArrayLike,
    target: npt.ArrayLike,
    G: npt.ArrayLike | OutputMetric | None,
    N: int,
) -> float:
    """The earliest s with C(s) ≤ ε along x′ = −G⁻¹∇ₓC, for a constant SPD G.

    Generalises (2.18) to a constant SPD output metric G: the a-priori stopping
    time of :class:`~subriemann.flows.fields.AdaptedFlow` with ``output_metric=G`` on an
    orbit where rank D = QN (2.1); 0 when C(0) ≤ ε already.  Unlike (2.18) it
    depends on x(0), not only on C(0).

    C(s) = Σ_i c_i² e^{−2s/(Nλ_i)}/(2N) (:func:`output_metric_cost_law`) lies
    between C(0)e^{−2s/(Nλ_min)} and C(0)e^{−2s/(Nλ_max)} (λ over the
    eigendirections the initial residual has a component in), so

        λ_min s_ε^{(2.18)} ≤ s_ε ≤ λ_max s_ε^{(2.18)},  s_ε^{(2.18)} = (N/2) log(C(0)/ε);

    log C(s) is a decreasing convex function of s (a log-sum-exp of affine
    functions), so the root in that bracket is unique; it is found by Brent's
    method on log C(s) − log ε, evaluated without underflow.  G = cI gives
    s_ε = c (N/2) log(C(0)/ε) exactly (the bracket is a point).

    Parameters
    ----------
    eps : float
        Target cost ε > 0.
    x0, target : array-like, shape=[QN]
        x(0) and y_ω; x(0) = y_ω (C(0) = 0, already a global minimizer) is
        rejected as in :func:`stopping_time`.
    G : array-like, shape=[QN, QN], or ConstantOutputMetric
        Symmetric positive definite (None: the Euclidean G = 1).
    N : int
        Number of training inputs.

    Returns
    -------
    float

    Raises
    ------
    InputError
        ε ≤ 0, x(0) = y_ω, G not SPD or not constant, N < 1, non-finite values.
    ShapeError
        x0, target or G of the wrong shape.
    """
    from scipy.optimize import brentq

    eps = check_real(eps, "eps", "the target cost epsilon of (2.17)", positive=True)
    lam, _, c, N = _output_metric_modes(x0, target, G, N)
    active = c != 0
    if not np.any(active):
        raise InputError(
            "x0 equals the target y_omega: C(0) = 0 is already a global minimum, there is "
            "nothing to stop"
        )
    lam, log_c2 = lam[active], 2.0 * np.log(np.abs(c[active]))

    def log_cost(s):
        # log Σ c_i² e^{−2s/(Nλ_i)} − log 2N, shifted by the largest term: no underflow
        terms = log_c2 - 2.0 * s / (N * lam)
        top = np.max(terms)
        return float(top + np.log(np.sum(np.exp(terms - top))) - np.log(2.0 * N))

    log_eps = float(np.log(eps))
    gap0 = log_cost(0.0) - log_eps
    if gap0 <= 0:
        return 0.0
    s_euclid = 0.5 * N * gap0  # (2.18)
    lo, hi = float(lam.min()) * s_euclid, float(lam.max()) * s_euclid
    if hi - lo <= 4 * np.finfo(np.float64).eps * hi or log_cost(hi) >= log_eps:
        return hi
    if log_cost(lo) <= log_eps:  # only by round-off: the bound is attained for G = cI
        return lo
    return float(
        brentq(
            lambda s: log_cost(s) - log_eps,
            lo,
            hi,
            xtol=1e-15 * hi,
            rtol=4 * np.finfo(np.float64).eps,
        )
    )
