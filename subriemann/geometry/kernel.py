"""The kernel route: grad_h and the projectors from Θ = D Dᵀ (QN×QN) and one vjp, never D.

The adapted direction is the minimum-norm solution of D u = g, u = D⁺g = DᵀΘ⁺g
((2.30), (1.23); with rank loss the least-squares solution of (4.5)–(4.10)).  Only
the QN×QN Gram matrix Θ = D Dᵀ — the empirical neural tangent kernel — and
products with D and Dᵀ are needed: for the network Θ has a structured form that
costs a factor of the layer width less than forming D (``NetworkMap.ntk``), and
memory is O(QN² + QN·Σ M_ℓ + K) instead of the ~16·QN·K bytes of the dense route.

**Honesty about the Gram matrix** (as lineax says of the normal equations):
solving with Θ squares the condition number, cond(Θ) = cond(D)², so a plain
Cholesky or eigh solve of Θ z = g gives D·Dᵀz − g with error ~eps·cond(D)²
(1e-4 at cond(D) = 1e6).  :class:`KernelFactorization` recovers the accuracy of
the dense route by **iterative refinement** whose residual is computed with D
itself: r = g − D(Dᵀz) costs one vjp and one jvp and is accurate to
~eps·|D|·|Dᵀz|, and the correction Θ⁺r contracts the error by ~eps·cond(D)² per
step (< 1 up to cond(D) ≈ 1e7).  So after a few steps |D u − g|/|g| is at the
level eps·cond(D) of the backward-stable SVD route (tests: ≤ 1e-10 at cond 1e6).

**What Θ can resolve.**  The eigenvalues of the computed Θ carry an absolute
error ~eps·λ_max = eps·σ_max², so a singular value of D is resolved from Θ only
above ~√eps·σ_max (1.5e-8·σ_max).  The rank decision therefore uses the
tolerance max(the rank policy's, √(QN·eps)·σ_max), the factor √QN covering the
accumulated rounding of the QN-dimensional eigenproblem, and the report says so;
singular values below it are reported as 0 (they are not distinguishable from 0).

The choice between the routes is :mod:`subriemann.geometry.routes`; Θ in blocks on
worker processes or a Dask cluster is :mod:`subriemann.geometry.ntk_blocks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import numpy.typing as npt
import scipy.linalg

from subriemann.errors import (
    ShapeError,
    check_array,
    check_int,
    check_result,
    check_vector,
)
from subriemann.geometry.routes import choose_route, kernel_capable, non_euclidean_metric
from subriemann.linalg import (
    RankPolicy,
    numerical_rank,
    resolve_policy,
)
from subriemann.maps import NetworkMap
from subriemann.maps.smooth import SmoothMap, check_map

if TYPE_CHECKING:  # metrics imports geomstats: loaded on use (routes.non_euclidean_metric)
    from subriemann.geometry.metrics import OutputMetricLike

__all__ = ["KernelFactorization", "KernelStats"]

_EPS = float(np.finfo(np.float64).eps)


class KernelStats(TypedDict):
    """KernelFactorization.stats: counts over all solves and the last solve's residual."""

    solves: int
    refinements: int
    products: int
    last_residual: float


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread for the eigendecomposition of Θ (threadpoolctl, when installed).

    Why: LAPACK's symmetric eigensolvers reduce to tridiagonal form with BLAS-2
    panels, which OpenBLAS runs 9× slower on two threads than on one (measured
    QN = 2000, dsyevd: 22.9 s on 2 threads, 2.6 s on 1).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


class KernelFactorization:
    """D⁺ and the projectors of D[θ] from Θ = D Dᵀ = U Λ Uᵀ and products with D. Implements (2.30), (1.23).

    The same interface as :class:`~subriemann.linalg.JacobianSVD` where the flows
    and the bundle use it, with no QN×K array: ``solve(rhs)`` = D⁺rhs = DᵀΘ⁺rhs
    (one vjp, refined), ``solve_transpose``, ``normal_solve`` (grad_h of a
    covector), ``gram_solve`` (Θ⁺), ``project_row``/``project_kernel`` (P v and
    (1 − P)v, (1.25)), ``project_range`` (𝒫 = UUᵀ, (4.2)), ``rank``, ``report``,
    ``singular_values``.

    Parameters
    ----------
    f : SmoothMap
        With a structured ``ntk`` (NetworkMap) or matrix-free jvp/vjp.
    theta : array-like, shape=[K]
    rank_policy : RankPolicy, float or None
        The dense route's rule; the tolerance used is max(its tolerance,
        √(QN·eps)·σ_max), the resolution of σ from the eigenvalues of Θ (module docstring).
    gram : ndarray, shape=[QN, QN], optional
        Θ if already computed (else ``f.ntk(theta)``).
    memory_budget : int, optional
        Passed to the network's ``ntk`` (block size).
    rtol : float
        Refinement stops when the residual (projected on range D) is below rtol·|rhs|,
        or when a step no longer halves it.
    max_refinements : int
    output_metric : OutputMetric, SPD array, callable or None
        The output metric G = LLᵀ of h (2.22)/(2.25); None is Euclidean.  With G
        every solve, projector and σ is that of the whitened Jacobian D̃ = LᵀD
        (L = G's Cholesky factor at x = f(θ)): Θ_G = D̃D̃ᵀ = LᵀΘL is formed from Θ
        (QN×QN, never D), and the refinement residuals use D̃v = Lᵀ(Dv) and
        D̃ᵀw = Dᵀ(Lw).  :meth:`metric_gradient` is then grad_h C of (2.30) for G.

    Notes
    -----
    **The kernel route with an output metric G** (the G-version of (2.30)).  By
    (2.22)/(2.25)–(2.26), h(V, W) = (DV)ᵀG(DW) = (D̃V)·(D̃W) and V_θ = range Dᵀ =
    range D̃ᵀ (L invertible), so (2.27)–(2.30) hold verbatim for D̃:
    grad_h F = Pen[D̃]Pen[D̃]ᵀ∇_θF.  For F = C∘f, ∇_θF = Dᵀ∇ₓC = D̃ᵀL⁻¹∇ₓC, and
    Pen[D̃]ᵀD̃ᵀ = (D̃D̃⁺)ᵀ = 𝒫̃ (the projector onto range D̃) with Pen[D̃] 𝒫̃ = Pen[D̃], so

        grad_h C = D̃⁺ L⁻¹∇ₓC = DᵀL (LᵀΘL)⁺ L⁻¹∇ₓC,

    using D̃⁺ = D̃ᵀ(D̃D̃ᵀ)⁺ (1.23).  At rank D = QN, (LᵀΘL)⁻¹ = L⁻¹Θ⁻¹L⁻ᵀ and
    L⁻ᵀL⁻¹ = G⁻¹ give grad_h C = Dᵀ Θ⁻¹ G⁻¹ ∇ₓC, whose push-forward is
    D grad_h C = G⁻¹∇ₓC (the G-gradient, as on the dense route).  Θ_G squares
    cond(D̃) ≤ cond(L)·cond(D) like Θ; the refinement (module docstring) recovers
    eps·cond(D̃) because its residuals are computed with D̃ products, not with Θ_G.
    L⁻¹ is applied by a triangular solve, no inverse of G is formed.

    Attributes
    ----------
    theta : ndarray, shape=[K]
    eigenvalues : ndarray, shape=[QN]
        Eigenvalues of the computed Θ, decreasing (may be slightly negative).
    singular_values : ndarray, shape=[min(QN, K)]
        √λ, with the unresolved ones (at or below the tolerance) reported as 0.
    s : ndarray, shape=[rank]
        The retained singular values.
    report : RankReport
    stats : dict
        ``solves``, ``refinements`` (steps over all solves), ``products`` (jvp + vjp),
        ``last_residual`` (relative, of the last solve).
    """

    def __init__(
        self,
        f: SmoothMap,
        theta: npt.ArrayLike,
        *,
        rank_policy: RankPolicy | float | None = None,
        gram: npt.ArrayLike | None = None,
        memory_budget: int | None = None,
        rtol: float = 1e-14,
        max_refinements: int = 8,
        output_metric: OutputMetricLike | None = None,
    ) -> None:
        self.f = check_map(f)
        if not kernel_capable(f):
            choose_route(f, "kernel")  # raises the route's InputError
        self.theta = np.array(check_vector(theta, f.dim_in, "theta"), dtype=np.float64)
        QN, K = f.dim_out, f.dim_in
        self.output_metric = non_euclidean_metric(output_metric, QN)
        self._L: np.ndarray | None = None  # Cholesky factor of G at x = f(θ); None: Euclidean
        if self.output_metric is not None:
            metric = self.output_metric
            x = None if metric.is_constant else np.asarray(f(self.theta), dtype=np.float64)
            self._L = np.array(metric.sqrt(x), dtype=np.float64)
        if gram is None:
            if isinstance(f, NetworkMap):
                gram = f.ntk(self.theta, memory_budget=memory_budget)
            else:
                gram = f.ntk(self.theta)
        theta_gram = check_array(gram, "gram", finite=False)
        if theta_gram.shape != (QN, QN):
            raise ShapeError(
                f"gram must have shape ({QN}, {QN}) = (QN, QN), got {theta_gram.shape}"
            )
        check_result(theta_gram, "the NTK Theta = D D^T", "the map overflowed at this point")
        if self._L is not None:
            # Θ_G = D̃D̃ᵀ = LᵀΘL, the Gram matrix of the whitened Jacobian (class notes);
            # symmetrised so that eigh sees the exactly symmetric matrix it assumes
            theta_gram = self._L.T @ theta_gram @ self._L
            theta_gram = 0.5 * (theta_gram + theta_gram.T)
        self.rtol, self.max_refinements = (
            float(rtol),
            check_int(max_refinements, "max_refinements", minimum=0),
        )
        # Θ squares cond(D): its eigenvalues are accurate to ~eps·λ_max only, which is why
        # the solves below are refined with residuals computed by D itself.
        with _one_blas_thread():
            lam, U = scipy.linalg.eigh(theta_gram, driver="evd", check_finite=False)
        lam, U = lam[::-1], U[:, ::-1]
        self.eigenvalues = lam
        sigma = np.sqrt(np.clip(lam, 0.0, None))[: min(QN, K)]
        policy = resolve_policy(rank_policy)
        s_max = float(sigma[0]) if sigma.size else 0.0
        resolution = math.sqrt(QN * _EPS) * s_max
        base = policy.tolerance(sigma, (QN, K))
        effective = RankPolicy(rtol=0.0, atol=max(base, resolution))
        report = numerical_rank(sigma, (QN, K), effective)
        self.resolution = resolution
        self.report = replace(
            report,
            policy=(
                f"{policy.describe()}; kernel route: sigma from the eigenvalues of Theta = D D^T, "
                f"resolved only above sqrt(QN*eps)*sigma_max = {resolution:.3g} "
                "(sigma at or below the tolerance reported as 0)"
            ),
        )
        r = self.report.rank
        self.singular_values = np.where(sigma > self.report.tolerance, sigma, 0.0)
        self.s = sigma[:r]
        self._U, self._lam = np.ascontiguousarray(U[:, :r]), lam[:r]
        self.stats: KernelStats = {
            "solves": 0,
            "refinements": 0,
            "products": 0,
            "last_residual": math.nan,
        }

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def full_rank(self) -> bool:
        return self.report.full_row_rank

    # -- building blocks ----------------------------------------------------------
    def _jvp(self, v):
        """D̃v = Lᵀ(Dv) (Dv for the Euclidean metric): one jvp."""
        self.stats["products"] += 1
        out = np.asarray(self.f.jvp(self.theta, v), dtype=np.float64)
        return out if self._L is None else self._L.T @ out

    def _vjp(self, w):
        """D̃ᵀw = Dᵀ(Lw) (Dᵀw for the Euclidean metric): one vjp."""
        self.stats["products"] += 1
        w = w if self._L is None else self._L @ w
        return np.asarray(self.f.vjp(self.theta, w), dtype=np.float64)

    def _gram_pinv(self, r):
        """Θ⁺r = U_r Λ_r⁻¹ U_rᵀ r on the numerical rank (an eigh solve: cond(D)² accuracy)."""
        return self._U @ ((self._U.T @ r) / self._lam)

    def _range(self, w):
        return w if self.full_rank else self._U @ (self._U.T @ w)

    def _columns(self, fn, rhs, rows: int, name: str):
        rhs = check_array(rhs, name)
        if rhs.ndim not in (1, 2) or rhs.shape[0] != rows:
            raise ShapeError(f"{name} must have shape ({rows},) or ({rows}, k), got {rhs.shape}")
        if rhs.ndim == 2:
            return np.stack([fn(c) for c in rhs.T], axis=1) if rhs.shape[1] else np.zeros((0, 0))
        return fn(rhs)

    def _refined(self, b, first, correct, residual, measure):
        """Iterative refinement: x ← x + correct(r) while measure(r) falls (module docstring)."""
        nb = float(np.linalg.norm(b))
        x = first
        r = residual(x)
        best = measure(r)
        steps = 0
        while steps < self.max_refinements and best > self.rtol * nb and self.rank:
            x_new = x + correct(r)
            r_new = residual(x_new)
            m = measure(r_new)
            steps += 1
            if not m < best:
                break
            x, r, done = x_new, r_new, m > 0.5 * best
            best = m
            if done:
                break
        self.stats["solves"] += 1
        self.stats["refinements"] += steps
        self.stats["last_residual"] = best / nb if nb else 0.0
        return check_result(x, "a kernel-route solve", "Theta is too ill-conditioned at this point")

    # -- solves ------------------------------------------------------------------
    def solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """u = D⁺ rhs = DᵀΘ⁺rhs, the minimum-norm least-squares solution of D u = rhs. Implements (1.23).

        With rank D = QN this is Pen[D] rhs; with rank loss the least-squares
        solution of (4.5)–(4.6).  Refined: r = rhs − D u (one jvp), u ← u + DᵀΘ⁺r
        (one vjp) while |𝒫r| decreases.  ``rhs`` (QN,) or (QN, k); result (K,) or (K, k).
        """
        return self._columns(self._solve, rhs, self.f.dim_out, "rhs")

    def _solve(self, b):
        return self._refined(
            b,
            self._vjp(self._gram_pinv(b)),
            lambda r: self._vjp(self._gram_pinv(r)),
            lambda u: b - self._jvp(u),
            lambda r: float(np.linalg.norm(self._range(r))),
        )

    def gram_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """Θ⁺ rhs = (DDᵀ)⁺rhs, the Ψ of (4.10) (up to sign), refined with Θ-products jvp(vjp(·))."""
        return self._columns(self._gram_solve, rhs, self.f.dim_out, "rhs")

    def _gram_solve(self, b):
        return self._refined(
            b,
            self._gram_pinv(b),
            self._gram_pinv,
            lambda z: b - self._jvp(self._vjp(z)),
            lambda r: float(np.linalg.norm(self._range(r))),
        )

    def solve_transpose(self, rhs: npt.ArrayLike) -> np.ndarray:
        """w = (Dᵀ)⁺ rhs = Θ⁺D rhs, the minimum-norm least squares of Dᵀw = rhs (the step (2.29)).

        ``rhs`` (K,) or (K, k).  Computed as Θ⁺(D rhs) with :meth:`gram_solve`'s refinement.
        """
        return self._columns(self._solve_transpose, rhs, self.f.dim_in, "rhs")

    def _solve_transpose(self, c):
        # the normal equations Θw = Dc of min |Dᵀw − c|, solved with refinement
        return self._gram_solve(self._jvp(c))

    def normal_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """(DᵀD)⁺ rhs = D⁺(Dᵀ)⁺ rhs: grad_h of the covector rhs. Implements (2.30).

        Forming D·rhs first (as the dense route forms its covector) costs one more
        factor of cond(D) than :meth:`solve` on ∇ₓC; flows use ``solve``.
        """
        return self._columns(
            lambda c: self._solve(self._solve_transpose(c)), rhs, self.f.dim_in, "rhs"
        )

    # -- the adapted direction with an output metric ------------------------------------
    def _unwhiten(self, g, trans: bool):
        """L⁻¹g (trans False) or L⁻ᵀg (trans True) by a triangular solve; g itself without G."""
        if self._L is None:
            return np.asarray(g, dtype=np.float64)
        return scipy.linalg.solve_triangular(
            self._L, g, lower=True, trans="T" if trans else "N", check_finite=False
        )

    def metric_gradient(self, grad_x: npt.ArrayLike) -> np.ndarray:
        """grad_h C = D̃⁺L⁻¹∇ₓC = DᵀL(LᵀΘL)⁺L⁻¹∇ₓC; Dᵀ Θ⁻¹ G⁻¹ ∇ₓC at rank QN. Implements (2.30) for G.

        The G-version of (2.30) derived in the class notes; the adapted velocity of
        (2.4) with an output metric is its negative.  Euclidean G: :meth:`solve` of ∇ₓC.
        No QN×K array: one triangular solve, the refined Θ_G solve and vjps.

        Parameters
        ----------
        grad_x : array-like, shape=[QN]
            ∇ₓC at x = f(θ).

        Returns
        -------
        grad : ndarray, shape=[K]
            In V_θ; its push-forward is :meth:`metric_output_velocity` of ∇ₓC.
        """
        g = check_vector(grad_x, self.f.dim_out, "grad_x")
        return self.solve(self._unwhiten(g, trans=False))

    def metric_output_velocity(self, grad_x: npt.ArrayLike) -> np.ndarray:
        """D grad_h C = L⁻ᵀ𝒫̃L⁻¹∇ₓC = 𝒫_G G⁻¹∇ₓC, G⁻¹∇ₓC at rank QN (the G-gradient of C).

        𝒫̃ is the projector onto range D̃ (:meth:`project_range`); computed from it
        rather than by a jvp of :meth:`metric_gradient`, as the dense route does, so
        the output velocity carries no cond(D) amplification.
        """
        g = check_vector(grad_x, self.f.dim_out, "grad_x")
        return self._unwhiten(self.project_range(self._unwhiten(g, trans=False)), trans=True)

    # -- projectors ----------------------------------------------------------------
    def project_range(self, w: npt.ArrayLike) -> np.ndarray:
        """𝒫 w = UUᵀw, the orthoprojector onto range D ((4.2)); w itself at full rank (𝒫 = 1).

        With an output metric: the projector onto range D̃ = range LᵀD.
        """
        w = check_vector(w, self.f.dim_out, "w")
        return np.array(self._range(w), dtype=np.float64)

    def project_row(self, v: npt.ArrayLike) -> np.ndarray:
        """P v = D⁺D v, the component of v in V_θ = range Dᵀ ((1.25)); one jvp and a solve."""
        return self._columns(lambda c: self._solve(self._jvp(c)), v, self.f.dim_in, "v")

    def project_kernel(self, v: npt.ArrayLike) -> np.ndarray:
        """(1 − P) v, the vertical part of v (tangent to the fiber f⁻¹(x))."""
        v = check_array(v, "v")
        return v - self.project_row(v)

    def __repr__(self) -> str:
        return (
            f"KernelFactorization(QN={self.f.dim_out}, K={self.f.dim_in}, rank={self.rank}, "
            f"sigma_max={self.report.sigma_max:.3g}, sigma_min_kept={self.report.sigma_min_kept:.3g})"
        )


# -- the distributed kernel --------------------------------------------------------------------
