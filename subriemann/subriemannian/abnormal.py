"""Singular (abnormal) horizontal curves: where the endpoint map is not a submersion.

A horizontal curve q′ = F(q) u(t), q(0) = q0, on [0, T] is *singular* when the
differential of the endpoint map u ↦ q(T) is not onto (Agrachev–Barilari–Boscain
§3.3, §4.3): then some covector λ(T) ≠ 0 annihilates every variation of the end
point, and λ(t) = λ(T)Φ(T, t) is an abnormal extremal (λ(t) ⊥ Δ_{q(t)} for all t).

The image of that differential is the range of the controllability Gramian

    W(T) = ∫₀ᵀ Φ(T, s) F(q(s)) F(q(s))ᵀ Φ(T, s)ᵀ ds,

Φ the fundamental matrix of the linearisation δq′ = A(t) δq, A = ∂(F(q)u(t))/∂q.
W solves the Lyapunov differential equation

    W′ = A W + W Aᵀ + F Fᵀ,    W(0) = 0,

integrated here together with the curve by the package's ODE core (the
variational equation along the control; A from the frame's closed-form or symbolic
Jacobian where the distribution has one, else by autograd through ``dist.frame``:
:func:`~subriemann.subriemannian.endpoint.control_field_jacobian`).
The curve is singular iff rank W(T) < dim; the decision compares the smallest
eigenvalue of W(T) with ``tolerance``·(largest) and reports both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, NumericalError, ShapeError, check_array, check_real
from subriemann.integrate import DormandPrince54, PIController, Status, solve
from subriemann.subriemannian.endpoint import control_field_jacobian

if TYPE_CHECKING:
    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = ["SingularityReport", "is_singular_curve", "endpoint_gramian"]


def _control_function(
    controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike, t_end: float, r: int
) -> tuple[Callable[[float], npt.ArrayLike], tuple[float, ...]]:
    """A callable t ↦ u(t) (r,) from a callable, a constant (r,) or a uniform piecewise (m, r)."""
    if callable(controls):
        return controls, ()
    u = np.array(check_array(controls, "controls"))
    if u.ndim == 1:
        if u.shape != (r,):
            raise ShapeError(f"constant controls must have shape ({r},), got {u.shape}")
        return (lambda t: u), ()
    if u.ndim != 2 or u.shape[1] != r:
        raise ShapeError(
            f"controls must be a callable t -> ({r},), a constant ({r},) or pieces (m, {r}); "
            f"got shape {u.shape}"
        )
    m = u.shape[0]

    def piecewise(t):
        return u[min(m - 1, max(0, int(t / t_end * m)))]

    # the field jumps at the piece boundaries: the core is restarted there
    return piecewise, tuple(t_end * k / m for k in range(1, m))


@dataclass(kw_only=True)
class SingularityReport:
    """Whether a horizontal curve is singular, with the evidence.

    Attributes
    ----------
    is_singular : bool
        rank W(T) < dim, decided as ``eigenvalues[0] ≤ tolerance · eigenvalues[-1]``.
    eigenvalues : ndarray, shape=[dim]
        Eigenvalues of the Gramian W(T), increasing.
    tolerance : float
    covector : ndarray, shape=[dim]
        Unit eigenvector of the smallest eigenvalue: the abnormal covector λ(T)
        when the curve is singular.
    end : ndarray, shape=[dim]
        q(T).
    """

    is_singular: bool
    eigenvalues: np.ndarray
    tolerance: float
    covector: np.ndarray
    end: np.ndarray

    def __bool__(self) -> bool:
        return self.is_singular


def endpoint_gramian(
    dist: Distribution,
    q0: npt.ArrayLike,
    controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike,
    t_end: float,
    *,
    rtol: float = 1e-11,
) -> tuple[np.ndarray, np.ndarray]:
    """(q(T), W(T)) for q′ = F(q)u(t): the curve's end and its controllability Gramian.

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    controls : callable, array (r,) or array (m, r)
        u(t); a constant; or m pieces constant on a uniform grid of [0, t_end].
    t_end : float, > 0
    rtol : float

    Returns
    -------
    end : ndarray, shape=[dim]
    W : ndarray, shape=[dim, dim]
    """
    n = dist.dim
    q0 = np.array(check_array(q0, "q0", shape=(n,)))
    t_end = check_real(t_end, "t_end", "the end time of the curve", positive=True)
    try:
        r = np.asarray(dist.frame(q0)).shape[1]
    except NumericalError as exc:
        raise InputError(f"q0 = {q0} lies outside where the frame is defined ({exc})") from exc
    u_of, breaks = _control_function(controls, t_end, r)
    A_of = control_field_jacobian(dist)

    def field(t: float, y: np.ndarray) -> np.ndarray:
        q, W = y[:n], y[n:].reshape(n, n)
        u = np.asarray(u_of(t), dtype=np.float64)
        F = np.asarray(dist.frame(q))
        A = A_of(q, u)
        dW = A @ W + W @ A.T + F @ F.T
        return np.concatenate([F @ u, dW.ravel()])

    y = np.concatenate([q0, np.zeros(n * n)])
    edges = (0.0, *breaks, t_end)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        # shift time so that each piece starts at 0 for the core, and back for u(t)
        def shifted(t: float, z: np.ndarray, a: float = a) -> np.ndarray:
            return field(t + a, z)

        sol = solve(
            shifted,
            0.0,
            y,
            b - a,
            stepper=DormandPrince54(rtol=rtol, atol=1e-2 * rtol),
            controller=PIController(5),
            h0=min(b - a, 0.05),
        )
        if sol.status != Status.COMPLETED:
            raise NumericalError(
                f"the horizontal curve's Gramian failed ({sol.status}): {sol.message}"
            )
        y = sol.end
    return y[:n], y[n:].reshape(n, n)


def is_singular_curve(
    dist: Distribution,
    q0: npt.ArrayLike,
    controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike,
    t_end: float,
    *,
    rtol: float = 1e-11,
    tolerance: float | None = None,
) -> SingularityReport:
    """Is the horizontal curve q′ = F(q)u(t), q(0) = q0, t ∈ [0, t_end] singular (abnormal)?

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    controls : callable, array (r,) or array (m, r)
        See :func:`endpoint_gramian`.
    t_end : float, > 0
    rtol : float
        Integration tolerance.
    tolerance : float, optional
        Relative eigenvalue threshold (default 1e3·rtol).  Error model: the
        integration perturbs W by ≲ 10·rtol·|W| over unit time (the adaptive
        pair's global error), so an exactly singular W shows λ_min ≲ 10·rtol·λ_max;
        1e3·rtol leaves 100× room.  A regular curve has λ_min/λ_max of order
        (length scale)^(2(k−1)) for a step-k direction — 1/12 for the unit
        Heisenberg line — so a curve shorter than ~rtol^(1/4) needs a smaller
        tolerance (or rtol).

    Returns
    -------
    SingularityReport
    """
    rtol = check_real(rtol, "rtol", positive=True)
    tolerance = (
        1e3 * rtol if tolerance is None else check_real(tolerance, "tolerance", positive=True)
    )
    end, W = endpoint_gramian(dist, q0, controls, t_end, rtol=rtol)
    W = 0.5 * (W + W.T)
    values, vectors = np.linalg.eigh(W)
    return SingularityReport(
        is_singular=bool(values[0] <= tolerance * values[-1]),
        eigenvalues=values,
        tolerance=tolerance,
        covector=vectors[:, 0],
        end=end,
    )
