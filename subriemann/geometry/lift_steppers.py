"""Steppers that keep a curve's output exact: the ODE core's steps followed by fibre corrections.

One concept: a step of θ′ = F(t, θ) along a curve whose output x(t) = f(θ(t)) is
known (a horizontal lift of an output curve, F = Pen[D]x′, or a vertical curve
with x constant, F = (1 − P)w), which ends on the fibre f⁻¹(x(t + h)) up to the
closure tolerance.  :class:`ProjectedStepper` wraps a core stepper (Dormand–Prince
5(4)) for the core's driver (:func:`subriemann.integrate.solve`): its proposal is
corrected onto the fibre when it misses it.

**Reusing one Jacobian per step** (``reuse=True``).  Every stage of the step needs
F at a new point θ_s, i.e. a minimum-norm solve D(θ_s)u = b.  Instead of a Jacobian
and an SVD per stage, :class:`FibreCache` solves it by conjugate gradients on
Θ_s z = b (Θ_s = D_sD_sᵀ applied as jvp(vjp(·)) at θ_s), u = D_sᵀz, preconditioned
by Θ_a⁺ from the SVD of D at the step's start θ_a (:func:`anchored_min_norm_solve`).
The result is exactly in range D_sᵀ (horizontal at θ_s, it is a vjp at θ_s), and
its error |u − D_s⁺b| is driven below 1e-3 of the step's rtol, so the stage
values — hence the Runge–Kutta step, its error estimate and its order — are those
of the step with exact Jacobians up to that; only the linear algebra is cheaper.  Since
θ_s − θ_a = O(h), the preconditioned operator is I + O(h) and CG converges in a few
iterations (two products each, a network's product costing ~1/Q N of a Jacobian).
The fibre correction reuses the same factorization as a chord
(:func:`~subriemann.geometry.fibre_correction.correct_onto_fibre` without refresh).
One Jacobian per accepted step remains — at the new point, shared with the rank
event — and none for rejected steps.  Where CG does not converge (a far stage, D
near rank loss) the stage takes its own Jacobian, as without reuse.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.geometry.fibre_correction import correct_onto_fibre
from subriemann.geometry.metrics import EuclideanMetric
from subriemann.integrate import Proposal, Stepper
from subriemann.integrate.steppers import VectorField

if TYPE_CHECKING:  # hints only: bundles imports the lifts, which import this module
    from subriemann.geometry.bundles import BundleFiber, PullbackBundle
    from subriemann.linalg import JacobianSVD
    from subriemann.maps.smooth import SmoothMap

__all__ = ["FibreCache", "ProjectedStepper", "anchored_min_norm_solve"]


def anchored_min_norm_solve(
    f: SmoothMap,
    theta: npt.ArrayLike,
    b: npt.ArrayLike,
    anchor: JacobianSVD,
    *,
    rtol: float,
    max_iterations: int = 12,
) -> tuple[np.ndarray, int, bool]:
    """u = D(θ)⁺b = D(θ)ᵀz with Θz = b by CG preconditioned with the anchor's Θ_a⁺. Implements (1.23).

    Preconditioned conjugate gradients (Hestenes–Stiefel; Saad, *Iterative Methods
    for Sparse Linear Systems*, Alg. 9.1) on the SPD system Θz = b, Θ = DDᵀ at θ
    applied as jvp(vjp(·)), preconditioner M⁻¹ = Θ_a⁺ = U_aΣ_a⁻²U_aᵀ from the SVD of
    D at a nearby point (``anchor.gram_solve``).  u = Dᵀz is accumulated from the
    vjps the products compute, so u ∈ range Dᵀ at θ whatever the iteration count:
    the stage velocity is exactly horizontal, only its size along V is iterated.

    **Stopping rule on u, not on Θ's residual.**  CG minimises the Θ-norm of the
    error of z, and |z − z*|_Θ = |Dᵀ(z − z*)| = |u − u*|: the error that matters.
    The step k changes u by |Δu_k| = |α_k q_k|, and for an iteration that contracts
    the error by ρ per step the remaining error is ≤ |Δu_k|·ρ/(1 − ρ); with ρ
    estimated by |Δu_k|/|Δu_{k−1}| (at most 0.9) the solve stops when that bound
    is ≤ ``rtol``·|u|.  (A residual test |b − Du| ≤ rtol|b| would ask for
    cond(D) times more than u needs.)  CG is abandoned when the preconditioned
    residual grows (the anchor is too far from θ) or after ``max_iterations``.

    Parameters
    ----------
    f : SmoothMap
    theta : ndarray, shape=[K]
    b : ndarray, shape=[QN]
    anchor : JacobianSVD
        Of D at the anchor point, full row rank.
    rtol : float
        Relative accuracy of u.
    max_iterations : int

    Returns
    -------
    (u, products, converged) : (ndarray shape=[K], int, bool)
    """
    u = np.zeros(f.dim_in)
    if not np.any(b):
        return u, 0, True
    r = np.array(b, dtype=np.float64)
    s = anchor.gram_solve(r)
    p, rs = s, float(r @ s)
    products, previous = 0, 0.0
    for _ in range(max_iterations):
        q = np.asarray(f.vjp(theta, p), dtype=np.float64)
        Ap = np.asarray(f.jvp(theta, q), dtype=np.float64)
        products += 2
        pAp = float(p @ Ap)
        if not pAp > 0.0:
            break
        alpha = rs / pAp
        u += alpha * q
        r -= alpha * Ap
        step = abs(alpha) * float(np.linalg.norm(q))
        rho = (
            min(0.9, step / previous) if previous > 0.0 else 0.9
        )  # the first step has no rate yet: 0.9, the cautious one
        if step * rho / (1.0 - rho) <= rtol * float(np.linalg.norm(u)):
            return u, products, True
        previous = step
        s = anchor.gram_solve(r)
        rs_new = float(r @ s)
        if not (math.isfinite(rs_new) and rs_new < 4.0 * rs):
            break  # no contraction: the anchor is too far from θ
        p, rs = s + (rs_new / rs) * p, rs_new
    return u, products, False


class FibreCache:
    """The last few fibres V_θ (D and its SVD), keyed by θ, and stage solves anchored at one of them.

    ``at(θ)`` returns ``bundle.at(θ)`` (one Jacobian) or the cached fibre of the same θ, so
    the field, the rank event and the next step's chord corrector share one Jacobian.
    ``min_norm_solve(θ, b)`` is D(θ)⁺b: from the cached fibre at θ if there is one, else,
    when an ``anchor`` point is set (``reuse``), by :func:`anchored_min_norm_solve`
    preconditioned with the anchor's SVD, else (or if that does not converge) from
    a new fibre at θ.  ``stats`` counts anchored solves, their products and fallbacks.

    Parameters
    ----------
    bundle : PullbackBundle
    size : int
        Fibres kept.
    reuse : bool
        Allow anchored solves (Euclidean output metric only: the SVD of a fibre is
        that of D̃ = LᵀD otherwise, and the stage solve would need L at θ_s).
    stage_rtol : float
        Relative accuracy of the velocity u from an anchored solve
        (:func:`anchored_min_norm_solve`); the lifts use 1e-3 of their rtol.
    """

    def __init__(
        self,
        bundle: PullbackBundle,
        size: int = 4,
        *,
        reuse: bool = False,
        stage_rtol: float = 1e-13,
    ):
        self.bundle, self.size = bundle, size
        self.store: dict[bytes, BundleFiber] = {}
        self.reuse = bool(reuse) and isinstance(bundle.output_metric, EuclideanMetric)
        self.stage_rtol = stage_rtol
        self.anchor: BundleFiber | None = None
        self.stats = {"anchored_solves": 0, "products": 0, "fallbacks": 0}

    def at(self, theta: npt.ArrayLike) -> BundleFiber:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        fib = self.store.get(key)
        if fib is None:
            fib = self.bundle.at(theta)
            if len(self.store) >= self.size:
                self.store.pop(next(iter(self.store)))
            self.store[key] = fib
        return fib

    def set_anchor(self, theta: npt.ArrayLike) -> None:
        """Anchor the stage solves of the next step at θ (its fibre: one Jacobian, cached)."""
        if self.reuse:
            self.anchor = self.at(theta)

    def min_norm_solve(self, theta: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
        """D(θ)⁺b, the minimum-norm solution of D(θ)u = b (horizontal at θ). Implements (1.23)."""
        key = np.asarray(theta, dtype=np.float64).tobytes()
        cached = self.store.get(key)
        if cached is not None or self.anchor is None or not self.anchor.full_rank:
            return (cached or self.at(theta)).horizontal_lift(b)
        u, products, converged = anchored_min_norm_solve(
            self.bundle.f,
            theta,
            np.asarray(b, dtype=np.float64),
            self.anchor.svd,
            rtol=self.stage_rtol,
        )
        self.stats["anchored_solves"] += 1
        self.stats["products"] += products
        if converged:
            return u
        self.stats["fallbacks"] += 1
        return self.at(theta).horizontal_lift(b)

    def vertical_projection(self, theta: npt.ArrayLike, w: npt.ArrayLike) -> np.ndarray:
        """(1 − P(θ))w = w − D⁺(Dw), the part of w tangent to the fibre (2.32)."""
        key = np.asarray(theta, dtype=np.float64).tobytes()
        cached = self.store.get(key)
        if cached is not None or self.anchor is None:
            return (cached or self.at(theta)).vertical_projection(w)
        return np.asarray(w) - self.min_norm_solve(theta, np.asarray(self.bundle.f.jvp(theta, w)))


class ProjectedStepper(Stepper):
    """A core stepper followed by a correction onto the fibre over the known output target(t).

    The inner proposal is kept when it already satisfies the closure tolerance;
    otherwise it is corrected (:func:`correct_onto_fibre`, chord steps with the
    Jacobian of the step's last stage, or of its start when the fibres reuse one
    Jacobian per step — module docstring), the slope recomputed at the corrected
    point, and the dense output moved by the correction linearly in the step
    (continuous, and the correction is within the local error).  With reuse the
    step's start is the anchor of the stage solves (``fibres.set_anchor``).
    """

    def __init__(
        self,
        inner: Stepper,
        bundle: PullbackBundle,
        fibres: FibreCache,
        target: Callable[[float], np.ndarray],
        tol_of: Callable[[np.ndarray], tuple[float, float]],
    ):
        self.inner, self.bundle, self.fibres = inner, bundle, fibres
        self.target, self.tol_of = target, tol_of
        self.order, self.adaptive = inner.order, inner.adaptive
        self.rtol, self.atol = inner.rtol, inner.atol
        # (t, θ, relative closure) of the last proposal
        self.last: tuple[float, np.ndarray, float] | None = None
        self.corrections = 0

    def step(
        self, field: VectorField, t: float, y: np.ndarray, f: np.ndarray, h: float
    ) -> Proposal:
        self.fibres.set_anchor(y)
        prop = self.inner.step(field, t, y, f, h)
        if prop.error is None or not math.isfinite(prop.error) or prop.error > 1.0:
            return prop  # rejected anyway: do not spend a correction on it
        t1 = prop.t
        x_t = self.target(t1)
        tol, scale = self.tol_of(x_t)
        x1 = np.asarray(self.bundle.f(prop.y), dtype=np.float64)
        norm = float(np.linalg.norm(x_t - x1))
        if norm <= tol:
            self.last = (t1, prop.y, norm / scale)
            return prop
        chord = self.fibres.anchor if self.fibres.anchor is not None else self.fibres.at(prop.y)
        fix = correct_onto_fibre(self.bundle, prop.y, x_t, tol, fiber=chord, x=x1)
        if not fix.converged:
            self.last = None
            return Proposal.rejected(t1, y, f, evaluations=prop.evaluations, reason=fix.reason)
        self.corrections += 1
        delta = fix.theta - prop.y
        f1 = field(t1, fix.theta)
        inner_dense = prop.dense

        def dense(s: float, t0: float = t, hh: float = t1 - t) -> np.ndarray:
            return inner_dense(s) + ((s - t0) / hh) * delta

        self.last = (t1, fix.theta, fix.residual / scale)
        return Proposal(
            t=t1,
            y=fix.theta,
            f=f1,
            error=prop.error,
            dense=dense,
            evaluations=prop.evaluations + 1,
            info={"correction": float(np.linalg.norm(delta))},
        )
