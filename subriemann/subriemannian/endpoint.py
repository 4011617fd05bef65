"""The endpoint map End : u ↦ q(T) of horizontal curves, through its differential's Gramian.

One concept: d(End)/du along a :class:`~subriemann.subriemannian.curves.HorizontalCurve`,
from the variational equation δq′ = A(t)δq + F δu integrated with the curve, and the
Gramian W = LLᵀ that solves the Lyapunov equation W′ = AW + WAᵀ + FFᵀ, W(0) = 0.  A
curve is *singular* (an abnormal candidate) where rank L < dim.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import autograd
import numpy as np

from subriemann.errors import InputError, NumericalError
from subriemann.integrate import Solution, Status, solve
from subriemann.linalg import RankPolicy, RankReport, numerical_rank
from subriemann.subriemannian.curves import HorizontalCurve, curve_solver

if TYPE_CHECKING:
    from subriemann.distributions import Distribution

__all__ = ["EndpointDifferential", "endpoint_differential", "control_field_jacobian"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(kw_only=True)
class EndpointDifferential:
    """d(End)/du of a horizontal curve: the linear map δu ↦ δq(T), through its Gramian.

    Attributes
    ----------
    gramian : ndarray, shape=[dim, dim]
        W = ∫₀ᵀ Φ(T, s)F(q(s))F(q(s))ᵀΦ(T, s)ᵀ ds = L Lᵀ, L = d(End)/du : L² → R^dim.
    transition : ndarray, shape=[dim, dim]
        Φ(T, 0), the resolvent of the variational equation δq′ = A(t)δq.
    singular_values : ndarray, shape=[dim]
        Singular values of L, √eig(W), decreasing.
    report : RankReport
        The rank decision on them.
    """

    gramian: np.ndarray
    transition: np.ndarray
    singular_values: np.ndarray
    report: RankReport

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def sigma_min(self) -> float:
        """Smallest singular value of d(End)/du."""
        return float(self.singular_values[-1])

    @property
    def is_singular(self) -> bool:
        """rank < dim: the curve is singular (an abnormal-geodesic candidate)."""
        return self.report.rank < self.gramian.shape[0]

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "sigma_min": self.sigma_min,
            "singular_values": self.singular_values.tolist(),
            "is_singular": self.is_singular,
            "report": self.report.as_dict(),
        }


def control_field_jacobian(
    dist: Distribution, derivative: str = "autograd"
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(q, u) ↦ A = ∂_q(F(q)u) = Σᵢ uᵢ ∂Xᵢ/∂q, shape (dim, dim): the linearisation of q′ = F(q)u.

    A is the matrix of the variational equation δq′ = A δq + F δu of the endpoint
    map and of the Gramian's Lyapunov equation (Agrachev–Barilari–Boscain §3.3),
    and pᵀA = ∂H/∂q for H = ½|Fᵀp|² at u = Fᵀp (ABB Thm 4.20).

    Parameters
    ----------
    dist : Distribution
    derivative : "autograd" or "fd"
        "autograd" (exact): A_jk = Σᵢ J[j, i, k] uᵢ from the distribution's frame
        Jacobian J when it has a closed form or a symbolic one
        (:attr:`~subriemann.distributions.frame.Distribution.frame_jacobian_route`),
        else autograd's Jacobian of q ↦ F(q)u; "fd": central differences (step
        eps^(1/3)·max(1, |q|)) for frames autograd cannot trace.

    Returns
    -------
    A : callable
        A(q, u) -> ndarray, shape=[dim, dim].
    """
    if derivative == "autograd" and dist.frame_jacobian_route != "autograd":

        def A(q, u):
            # u @ J contracts u with J's middle axis (stacked matmul): A[j, k] = Σᵢ uᵢ J[j, i, k]
            return u @ dist.frame_jacobian(q)

        return A
    if derivative == "autograd":

        def A(q, u):
            try:
                out = autograd.jacobian(lambda p: dist.frame(p) @ u)(q)
            except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:
                raise InputError(
                    f"autograd could not differentiate the frame ({type(exc).__name__}: {exc}); "
                    "write it with autograd.numpy or pass derivative='fd' (central differences)"
                ) from exc
            out = np.asarray(out, dtype=np.float64)
            if out.dtype.kind == "O":
                raise InputError(
                    "the frame returned an object array under autograd; pass derivative='fd'"
                )
            return out

        return A
    if derivative == "fd":

        def A(q, u):
            # central differences, step eps^(1/3)·max(1, |q|): truncation O(h²) ≈ round-off eps/h
            h = _EPS ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(q))))
            cols = []
            for k in range(q.shape[0]):
                e = np.zeros_like(q)
                e[k] = h
                plus = np.asarray(dist.frame(q + e)) @ u
                minus = np.asarray(dist.frame(q - e)) @ u
                cols.append((plus - minus) / (2 * h))
            return np.stack(cols, axis=1)

        return A
    raise InputError(f"derivative must be 'autograd' or 'fd', got {derivative!r}")


def endpoint_differential(
    curve: HorizontalCurve,
    *,
    derivative: str = "autograd",
    rank_policy: RankPolicy | float | None = None,
) -> EndpointDifferential:
    """d(End)/du at the control of ``curve``, from the variational equation along it.

    With A(t) = ∂_q(F(q)u)(q(t), u(t)) the linearisation δq′ = A δq + F δu has
    δq(T) = ∫ Φ(T, s)F(q(s))δu(s) ds = L δu.  L is an operator on controls;
    its rank and singular values are those of the Gramian W = LLᵀ, which solves
    the Lyapunov equation

        W′ = A W + W Aᵀ + F Fᵀ,   W(0) = 0,

    integrated together with q and Φ (Φ′ = AΦ, Φ(0) = 1) by the same core and
    tolerances as the curve (not finite differences of End).  The curve is
    *singular* — an abnormal candidate — where rank L < dim: then a covector
    λ ≠ 0 annihilates Φ(T, s)F(q(s)) for all s.

    Parameters
    ----------
    curve : HorizontalCurve
    derivative : "autograd" or "fd"
        How ∂_q(F u) is computed (:func:`control_field_jacobian`): exactly — the
        frame's closed-form or symbolic Jacobian where the distribution has one,
        else autograd through the frame — or by central differences (step
        eps^(1/3)·max(1, |q|), error ~1e-10 relative) for frames autograd cannot trace.
    rank_policy : RankPolicy, float or None
        Rank decision on the singular values of L.  Default rtol √(100·rtol of
        the curve): W is known to ~100·rtol relative, so σ(L)² below that cannot
        be told from 0.

    Returns
    -------
    EndpointDifferential
    """
    if not isinstance(curve, HorizontalCurve):
        raise InputError(f"curve must be a HorizontalCurve, got {type(curve).__name__}")
    dist, dim = curve.dist, curve.dist.dim
    A_of = control_field_jacobian(dist, derivative)
    runs: list[Solution] = []
    y = np.concatenate([curve.q0, np.eye(dim).ravel(), np.zeros(dim * dim)])
    t_stop = float(curve.t[-1])
    for piece in curve.pieces:
        if piece.start >= t_stop:
            break
        stepper, controller = curve_solver(curve.method, curve.rtol, curve.atol)

        def field_fn(t, state, control=piece.control):
            q = state[:dim]
            Phi = state[dim : dim + dim * dim].reshape(dim, dim)
            W = state[dim + dim * dim :].reshape(dim, dim)
            u = np.asarray(control(t), dtype=np.float64)
            F = np.asarray(dist.frame(q), dtype=np.float64)
            A = A_of(q, u)
            AW = A @ W
            return np.concatenate([F @ u, (A @ Phi).ravel(), (AW + AW.T + F @ F.T).ravel()])

        sol = solve(
            field_fn,
            piece.start,
            y,
            min(piece.stop, t_stop),
            stepper=stepper,
            controller=controller,
        )
        runs.append(sol)
        if sol.status != Status.COMPLETED:
            raise NumericalError(f"the variational equation failed: {sol.message}")
        y = sol.y[-1]
    Phi = y[dim : dim + dim * dim].reshape(dim, dim)
    W = y[dim + dim * dim :].reshape(dim, dim)
    W = 0.5 * (W + W.T)
    eig = np.clip(np.linalg.eigvalsh(W)[::-1], 0.0, None)
    sigma = np.sqrt(eig)
    if rank_policy is None:
        rank_policy = RankPolicy(rtol=math.sqrt(100.0 * curve.rtol))
    return EndpointDifferential(
        gramian=W,
        transition=Phi,
        singular_values=sigma,
        report=numerical_rank(sigma, (dim, dim), rank_policy),
    )
