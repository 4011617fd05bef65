"""The pullback bundle V = f*TN ⊂ TR^K with bundle metric h, and grad_h (§2.3).

For a smooth map f : R^K → R^{QN} with Jacobian D[θ] (QN×K, (1.17)) and an
output metric G (Euclidean by default), the fiber V_θ = range D[θ]ᵀ carries the
metric h(u, w) = (Du)ᵀG(Dw) (2.22).  Its gradient grad_h (2.30) is the
geometrically adapted direction of the overparametrized flow (2.4): horizontal
(∈ V), and pushed forward to the output layer it is exactly the G-gradient of
the cost, which is why the cost decays at the uniform rate (2.6).

Everything is computed from ONE Jacobian per point through
:meth:`PullbackBundle.at`, which caches D, the whitened D̃ = LᵀD (G = LLᵀ, see
:mod:`subriemann.geometry.metrics`) and its SVD (:class:`~subriemann.linalg.JacobianSVD`);
nothing forms DDᵀ or its inverse.  With rank loss (rank D < QN) the frame and the
gradient are the least-squares objects of (4.5)/(4.10), never NaN, and the rank
used is in ``at(θ).report`` / :meth:`PullbackBundle.rank_report`.

``PullbackBundle`` is a geomstats
:class:`~geomstats.geometry.fiber_bundle.FiberBundle` over the total space
``Euclidean(K)``, with projection f: vertical = ker D (the tangent spaces of the
fibers f⁻¹(x), (2.32)), horizontal = V.  It implements the O'Neill integrability
tensor that geomstats leaves abstract, from the Lie brackets of the frame.

Why one module of ~750 lines: its one concept is the bundle V with metric h.
:class:`BundleFiber` is V_θ at one point (frame, projector, grad_h from one SVD of D̃)
and :class:`PullbackBundle` is the same object over all θ (the geomstats FiberBundle,
whose every method delegates to the fiber at θ); apart they would be a class and
its only caller.

Example (overparametrized, K = 17 > QN = 3):

>>> import numpy as np, subriemann as sr
>>> data = sr.TrainingData.regression(np.random.default_rng(0).normal(size=(3, 2)), np.ones((3, 1)))
>>> f, cost = sr.NetworkMap(sr.MLP([2, 4, 1]), data), sr.L2Cost.from_data(data)
>>> theta = f.mlp.init(seed=0); grad_x = cost.grad(f(theta))
>>> grad_h = sr.PullbackBundle(f).grad(theta, f.vjp(theta, grad_x))  # (2.30)
>>> bool(np.allclose(f.jvp(theta, grad_h), grad_x))  # D·grad_h C = ∇ₓC, (1.28)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast, overload

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import isbox
from geomstats.geometry.fiber_bundle import FiberBundle

from subriemann.errors import InputError, ShapeError, check_array, check_vector
from subriemann.geometry.metrics import (
    EuclideanMetric,
    OutputMetricLike,
    batch_pair,
    check_map,
    over_batch,
    resolve_output_metric,
)
from subriemann.geometry.routes import choose_route, factorize
from subriemann.geometry.spaces import euclidean
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, pseudo_inverse, resolve_policy
from subriemann.maps.smooth import SmoothMap

if TYPE_CHECKING:  # hints only: these modules import this one, or are imported on use
    from subriemann.distributions.frame import Distribution
    from subriemann.geometry.bundle_curves import BundleCurve
    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.geometry.loops import BundleHolonomy
    from subriemann.geometry.matrix_free import KrylovFactorization
    from subriemann.subriemannian.metric import SubRiemannianMetric

__all__ = ["PullbackBundle", "BundleFiber"]

# Default absolute tolerance of is_vertical / is_horizontal, relative to the
# size of the vector: the residual of a projection computed from an SVD is a few
# ulps times cond(D), and 1e-8 leaves room for cond(D) up to ~1e7.
_DEFAULT_RTOL = 1e-8


def _columns(fn, vec, dim: int, name: str):
    """Apply a map written for (K,) or (K, m) column inputs to vec of shape (K,) or (n, K)."""
    vec = check_array(vec, name)
    if vec.ndim not in (1, 2) or vec.shape[-1] != dim:
        raise ShapeError(
            f"{name} must be a vector ({dim},) or a stack of vectors (n, {dim}), "
            f"got shape {vec.shape}"
        )
    return fn(vec) if vec.ndim == 1 else fn(vec.T).T


def _batched(value) -> bool:
    """Whether ``value`` looks like a batch [..., K] (ndim > 1); unreadable input counts as one,
    so that the batch route's checks report it."""
    try:
        return np.ndim(value) > 1
    except ValueError:  # ragged nesting
        return True


class BundleFiber:
    """V_θ at one point θ: D, D̃ = LᵀD and the SVD of D̃, computed once and shared.

    Obtain it with :meth:`PullbackBundle.at`.  Flows and reports should use one
    fiber per point, so frame, projector, gradient and rank report all come from
    a single Jacobian evaluation.

    Attributes
    ----------
    theta : ndarray, shape=[K]
    x : ndarray, shape=[QN] or None
        f(θ), evaluated only when the output metric depends on x.
    D : ndarray, shape=[QN, K]
        The Jacobian (1.17).
    D_whitened : ndarray, shape=[QN, K]
        D̃ = LᵀD (D itself for the Euclidean output metric).
    svd : JacobianSVD
        Truncated SVD of D̃; ``svd.rank`` is the rank used by every method.
    report : RankReport
        rank, σ_min, σ_max, tolerance of the rank decision on D̃.
    """

    def __init__(self, bundle: PullbackBundle, theta: npt.ArrayLike) -> None:
        self.bundle = bundle
        self.theta = np.array(check_vector(theta, bundle.dim, "theta"), dtype=np.float64)
        self.x, self.D, self.D_whitened = bundle.output_metric.whitened_jacobian(
            bundle.f, self.theta
        )
        self.svd = JacobianSVD(self.D_whitened, bundle.rank_policy)
        self.report = self.svd.report
        self._frame: np.ndarray | None = None
        self._derivatives: np.ndarray | None = None

    @property
    def rank(self) -> int:
        """rank D used here (numerical, by the bundle's rank policy)."""
        return self.report.rank

    @property
    def full_rank(self) -> bool:
        """rank D = QN, the rank condition (2.1)."""
        return self.report.full_row_rank

    def frame(self) -> np.ndarray:
        """Pen[D̃] = D̃⁺ (K×QN), an h-orthonormal frame of V_θ. Implements (1.23).

        Euclidean G: Pen[D] = Dᵀ(DDᵀ)⁻¹ with D·Pen = 1 (1.24).  General G:
        Pen[LᵀD] = Pen[D] L⁻ᵀ, so h(u_i, u_j) = (LᵀDu_i)·(LᵀDu_j) = δ_ij.  With
        rank loss the columns span V_θ but are not independent (QN > rank).
        """
        if self._frame is None:
            self._frame = self.svd.pseudo_inverse()
        return self._frame

    def projector(self) -> np.ndarray:
        """P = Pen[D]D (K×K), the orthoprojector onto V_θ = range Dᵀ. Implements (1.25)."""
        return self.svd.row_projector()

    def horizontal_projection(self, tangent_vec: npt.ArrayLike) -> np.ndarray:
        """P v: the component of v in V_θ. ``tangent_vec`` (K,) or (n, K)."""
        return _columns(self.svd.project_row, tangent_vec, self.bundle.dim, "tangent_vec")

    def vertical_projection(self, tangent_vec: npt.ArrayLike) -> np.ndarray:
        """(1 − P) v: the component of v in ker D (tangent to the fiber f⁻¹(x))."""
        return _columns(self.svd.project_kernel, tangent_vec, self.bundle.dim, "tangent_vec")

    def push_forward(self, tangent_vec: npt.ArrayLike) -> np.ndarray:
        """f_* v = D v, shape (QN,) or (n, QN)."""
        return _columns(lambda v: self.D @ v, tangent_vec, self.bundle.dim, "tangent_vec")

    def inner_product(
        self, tangent_vec_a: npt.ArrayLike, tangent_vec_b: npt.ArrayLike
    ) -> float | np.ndarray:
        """h(u, w) = (Du)ᵀG(Dw) = (D̃u)·(D̃w). Implements (2.22)/(2.25).

        Defined for any u, w ∈ R^K (it is the semi-definite form DᵀGD); it is
        the bundle metric on V_θ.
        """
        K = self.bundle.dim
        a = _columns(lambda v: self.D_whitened @ v, tangent_vec_a, K, "tangent_vec_a")
        b = _columns(lambda v: self.D_whitened @ v, tangent_vec_b, K, "tangent_vec_b")
        return np.sum(a * b, axis=-1)

    def grad(self, covector: npt.ArrayLike) -> np.ndarray:
        """grad_h F = Pen[D̃]Pen[D̃]ᵀ∇_θF = Ṽ Σ̃⁻² Ṽᵀ∇_θF. Implements (2.30).

        See :meth:`PullbackBundle.grad` for the derivation for a general G and
        the rank-loss case.  ``covector`` (K,) or (n, K).
        """
        return _columns(self.svd.normal_solve, covector, self.bundle.dim, "covector")

    def horizontal_lift(self, tangent_vec: npt.ArrayLike) -> np.ndarray:
        """The u ∈ V_θ with Du = w (least squares in the G-norm with rank loss).

        u = D̃⁺Lᵀw, which is Pen[D] w when rank D = QN.  ``tangent_vec`` (QN,).
        """
        w = check_vector(tangent_vec, self.bundle.f.dim_out, "tangent_vec")
        return self.svd.solve(self.bundle.output_metric.whiten_vector(w, self.x))

    def frame_derivatives(self) -> np.ndarray:
        """S[i, j] = ∇_{u_i}u_j = dPen[u_i]e_j (flat derivative), shape (QN, QN, K).

        The frame brackets are S[i, j] − S[j, i]; S sizes their round-off.
        Costs QN calls of ``f.jacobian_derivative``; cached on the fiber.

        S[i] = dPen[u_i]ᵀ is written in place, one frame field at a time, by
        :meth:`~subriemann.linalg.JacobianSVD.pseudo_inverse_derivative`: three
        (QN×QN)·(QN×K)-sized products per field with (DDᵀ)⁺ = UΣ⁻²Uᵀ and the
        projector factors computed once, no K×K matrix, and each dD[u_i] used
        while it is still in cache.
        """
        if self._derivatives is None:
            f, metric = self.bundle.f, self.bundle.output_metric
            frame_t = np.ascontiguousarray(self.frame().T)  # rows u_i
            n, K = frame_t.shape
            S = np.empty((n, self.D.shape[0], K))
            for i, u_i in enumerate(frame_t):
                dD = f.jacobian_derivative(self.theta, u_i)
                dx = None if metric.is_constant else self.D @ u_i
                dDw = metric.whiten_derivative(self.D, dD, self.x, dx)
                self.svd.pseudo_inverse_derivative(dDw, out=S[i].T)
            self._derivatives = S
        return self._derivatives

    def curvature_terms(
        self,
    ) -> tuple[np.ndarray, RankReport, Callable[[], Iterator[tuple[int, int, np.ndarray]]], int]:
        r"""Terms of the brackets of V (2.31) in the basis of right singular vectors: (r, r, K) in blocks.

        Returns ``(E, report, t, QN)`` for :class:`~subriemann.distributions.frame.Distribution`'s
        ``curvature_terms``: E = Ṽ (K×r) the right singular vectors of D̃ = LᵀD, an
        orthonormal basis of V_θ = range D̃ᵀ; ``report`` the rank decision on D̃; and
        t, a function returning the coordinate blocks (``f.hessian_vector_blocks``) of

            t[a, b] = dD̃[v_a]ᵀ w_b,   w_b = Ũ Σ̃⁻¹ e_b  (= (D̃D̃ᵀ)⁺ c_b, c_b = ŨΣ̃e_b),

        all r² of them from one pass over the network (constant G: dD̃ = LᵀdD, so
        t[a, b] = dD[v_a]ᵀ(L w_b)).

        **Why these are the terms.**  v_b = Pen c_b with c_b constant, so by
        tensoriality ∇_{v_a}v_b = dPen[v_a]c_b, and the Golub–Pereyra formula
        (:meth:`PullbackBundle.frame_brackets`; the rank-loss term vanishes on
        c_b ∈ range D̃) gives ∇_{v_a}v_b = −Pen d²f̃(v_a, v_b) + (1 − P) t[a, b]
        ≡ t[a, b] mod V.  So Ω_ab = (1 − P)(t[a, b] − t[b, a]), the first term
        cancelling by symmetry of d²f̃.  The sizes agree too:
        |Pen d²f̃(v_a, v_b)|² summed over (a, b) is Σ_abc (w_c·d²f̃(v_a, v_b))², and
        |P t[a, b]|² summed is Σ_abc (v_c·t[a, b])² = Σ_abc (w_b·d²f̃(v_a, v_c))², the
        same sum; hence |∇v|²_HS = |t|²_HS exactly and the scale of the test is
        unchanged.  Cost: N·r²·K multiply-adds for a network (no d/dt D formed)
        against the QN·r²·K of the frame-derivative route, and no (QN, QN, K) change
        of basis afterwards.
        """
        f, metric = self.bundle.f, self.bundle.output_metric
        if not metric.is_constant:
            raise InputError(
                "curvature_terms needs a constant output metric; for a metric field G(x) the "
                "frame's first Golub–Pereyra term does not cancel (use frame_brackets)"
            )
        E = self.svd.Vt.T
        W = self.svd.U / self.svd.s
        if not isinstance(metric, EuclideanMetric):
            W = metric.sqrt(self.x) @ W
        return E, self.report, lambda: f.hessian_vector_blocks(self.theta, E, W), self.D.shape[0]

    def frame_brackets(self) -> np.ndarray:
        """Lie brackets [u_i, u_j](θ) of the frame fields u_i = Pen[D̃]e_i, shape (QN, QN, K).

        See :meth:`PullbackBundle.frame_brackets` for the derivation.
        """
        S = self.frame_derivatives()
        return S - S.transpose(1, 0, 2)

    def integrability_tensor(
        self, tangent_vec_a: npt.ArrayLike, tangent_vec_b: npt.ArrayLike
    ) -> np.ndarray:
        """O'Neill's A_X E at θ; see :meth:`PullbackBundle.integrability_tensor`. Shape (K,)."""
        X = check_vector(tangent_vec_a, self.bundle.dim, "tangent_vec_a")
        E = check_vector(tangent_vec_b, self.bundle.dim, "tangent_vec_b")
        B = self.frame_brackets()
        a = self.D_whitened @ X  # hor X = Σ a_i u_i
        b = self.D_whitened @ E  # hor E = Σ b_j u_j
        vert_E = self.svd.project_kernel(E)
        hh = 0.5 * self.svd.project_kernel(np.einsum("i,j,ijk->k", a, b, B))
        # A_X V for vertical V is the horizontal vector fixed by skew-symmetry,
        # ĝ(A_X V, u_j) = −ĝ(V, A_X u_j), and ĝ(·, u_j) on V is the j-th frame
        # coordinate; A_X u_j is vertical so its ĝ-pairing with V is Euclidean.
        c = np.einsum("i,ijk,k->j", a, B, vert_E)
        hv = -0.5 * (self.frame() @ c)
        return hh + hv


class PullbackBundle(FiberBundle):
    """The pullback bundle V = f*TN with metric h, over any smooth map f (§2.3).

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN} (``NetworkMap``, ``AutodiffMap``, ``LinearMap``...).
    output_metric : OutputMetric, SPD array, callable or None
        The metric G of the output layer N = R^{QN}; None is Euclidean (the paper).
    rank_policy : RankPolicy, float or None
        Numerical rank of D̃ = LᵀD (default: numpy's ``matrix_rank`` rule).
    route : {"auto", "dense", "kernel", "matrix-free"}
        How :meth:`grad`, the projections and :meth:`rank_report` apply D⁺
        (:mod:`subriemann.geometry.kernel`): "dense" factors D (the only route for
        :meth:`frame`, :meth:`projector` and the brackets, which need matrices);
        "kernel" uses Θ = DDᵀ and jvp/vjp, no QN×K array; "matrix-free" Krylov
        solves.  "auto" decides by a memory/flop model (``route_choice.reason``).
    memory_budget : int, optional
        Bytes a route may use (default 2 GiB).

    Notes
    -----
    **Frames and solves.**  All quantities come from the SVD D̃ = Ũ Σ̃ Ṽᵀ:
    Pen[D̃] = Ṽ Σ̃⁻¹ Ũᵀ, P = Ṽ Ṽᵀ, grad_h = Ṽ Σ̃⁻² Ṽᵀ∇; errors grow like
    cond(D), whereas the literal (1.27) inverts DDᵀ (condition cond(D)²) and its
    push-forward residual grows like eps·cond(D)² (tests/test_ill_conditioning.py).

    **Rank loss.**  If rank D = r < QN, Pen[D̃] is the Moore–Penrose inverse,
    P the projector onto range Dᵀ, and grad_h C = D̃⁺L⁻¹∇ₓC; for Euclidean G this
    is D⁺∇ₓC = −θ' of the DAE (4.5)–(4.10), whose push-forward is 𝒫∇ₓC (4.7).
    ``rank_report(θ)`` says which r was used.

    **Invariance under θ = Aφ (A invertible).**  The reparametrized map f∘A has
    D_φ = D_θA and ∇_φ = Aᵀ∇_θ.  (i) The push-forward of grad_h is invariant:
    D_φ·grad_h^φ C = D_θ·grad_h^θ C = G⁻¹∇ₓC (full rank), so the output-layer
    velocity of the adapted flow does not depend on the parametrization.
    (ii) Its vertical part does: A·grad_h^φ − grad_h^θ ∈ ker D_θ is non-zero in
    general, because V = range Dᵀ and the minimum-norm choice Pen use the
    Euclidean structure of R^K; for orthogonal A, (DA)⁺ = AᵀD⁺ and grad_h
    transforms as a vector.  (iii) By contrast the Euclidean gradient's
    push-forward D_φ∇_φC = DAAᵀDᵀ∇ₓC ≠ DDᵀ∇ₓC changes with A.
    """

    def __init__(
        self,
        f: SmoothMap,
        output_metric: OutputMetricLike | None = None,
        rank_policy: RankPolicy | float | None = None,
        *,
        route: str = "auto",
        memory_budget: int | None = None,
    ) -> None:
        self.f = check_map(f)
        self.output_metric = resolve_output_metric(output_metric, f.dim_out)
        self.rank_policy = resolve_policy(rank_policy)
        # the route to D⁺ (issue 14): "auto" is decided by geometry.routes.choose_route's
        # memory/flop model; route_choice.reason says why
        self.memory_budget = memory_budget
        self.route_choice = choose_route(
            f,
            route,
            memory_budget=memory_budget,
            euclidean=isinstance(self.output_metric, EuclideanMetric),
            # factorization() passes G on: the kernel route factors Θ_G = LᵀΘL
            metric_aware=True,
        )
        self.route = self.route_choice.route
        super().__init__(total_space=euclidean(f.dim_in), aligner=None)

    @property
    def dim(self) -> int:
        """K, the dimension of the total space R^K."""
        return self.f.dim_in

    @property
    def fiber_dim(self) -> int:
        """QN, the fiber dimension of V (= rank of V where rank D = QN)."""
        return self.f.dim_out

    def at(self, theta: npt.ArrayLike) -> BundleFiber:
        """The fiber V_θ with D and its SVD computed once (see :class:`BundleFiber`).

        ``theta`` must be a plain array of shape (K,); for autograd tracing use
        :meth:`frame`, which has a traceable route.
        """
        if isbox(theta):
            raise InputError(
                "PullbackBundle.at caches numpy factors and cannot be traced by autograd; "
                "use PullbackBundle.frame(theta), whose derivative is implemented"
            )
        return BundleFiber(self, theta)

    def rank_report(self, theta: npt.ArrayLike) -> RankReport:
        """The rank decision on D̃ = LᵀD at θ: rank, σ_min, σ_max, tolerance, ...

        On the kernel route the σ's are √ of the eigenvalues of Θ = DDᵀ, resolved
        above √(QN·eps)·σ_max (stated in the report's ``policy``).
        """
        if self.route != "dense":
            return self.factorization(theta).report
        return self.at(theta).report

    def factorization(
        self, theta: npt.ArrayLike
    ) -> JacobianSVD | KernelFactorization | KrylovFactorization:
        """D[θ]'s factorization on this bundle's route: JacobianSVD of D̃ (dense),
        KernelFactorization (Θ = DDᵀ) or KrylovFactorization (jvp/vjp only).

        All have ``solve`` (Pen[D] = D⁺ (1.23)), ``normal_solve`` (grad_h (2.30)),
        ``project_row`` / ``project_kernel`` ((1.25) and 1 − P) and ``report``.
        """
        if self.route == "dense":
            return self.at(theta).svd
        return factorize(
            self.f,
            check_vector(theta, self.dim, "theta"),
            self.route,
            rank_policy=self.rank_policy,
            memory_budget=self.memory_budget,
            output_metric=self.output_metric,
        )

    # -- frame ----------------------------------------------------------------
    def frame(self, theta: npt.ArrayLike) -> np.ndarray:
        """Pen[D̃[θ]] = D̃⁺ (K×QN), an h-orthonormal frame of V_θ. Implements (1.23).

        Parameters
        ----------
        theta : array-like, shape=[..., K]
            May be an autograd box: the value is then the SVD pseudo-inverse and
            its derivative the closed Golub–Pereyra form
            (:func:`subriemann.linalg.pseudo_inverse`), which geomstats'
            Hamiltonian geodesics and Lie brackets differentiate.

        Returns
        -------
        frame : array-like, shape=[..., K, QN]
            Columns u_i = Pen[D̃]e_i (geomstats' frame convention [..., dim, dist_dim]).
        """
        if len(np.shape(theta)) > 1:
            return over_batch(self.frame, theta)
        if isbox(theta):
            _, _, Dw = self.output_metric.whitened_jacobian(self.f, theta)
            return pseudo_inverse(Dw, self.rank_policy)
        return self.at(theta).frame()

    def projector(self, theta: npt.ArrayLike) -> np.ndarray:
        """P = Pen[D]D (K×K), orthoprojector onto V_θ = range Dᵀ. Implements (1.25)."""
        return self.at(theta).projector()

    # -- FiberBundle interface (geomstats argument names and order) -------------
    def riemannian_submersion(self, point: npt.ArrayLike) -> np.ndarray:
        """The bundle projection f: θ ↦ x[θ] (1.6)–(1.8). ``point`` (K,) or (n, K)."""
        if np.ndim(point) == 1:
            return self.f(point)
        return np.stack([self.f(p) for p in np.asarray(point)])

    def tangent_riemannian_submersion(
        self, tangent_vec: npt.ArrayLike, base_point: npt.ArrayLike
    ) -> np.ndarray:
        """f_* v = D[θ]v, the push-forward to the output layer (1.28)."""
        return self.at(base_point).push_forward(tangent_vec)

    def vertical_projection(
        self, tangent_vec: npt.ArrayLike, base_point: npt.ArrayLike
    ) -> np.ndarray:
        """(1 − P)v, the component in ker D (vertical: along the fiber f⁻¹(x))."""
        if self.route != "dense":
            fac = self.factorization(base_point)
            return _columns(fac.project_kernel, tangent_vec, self.dim, "tangent_vec")
        return self.at(base_point).vertical_projection(tangent_vec)

    def horizontal_projection(
        self, tangent_vec: npt.ArrayLike, base_point: npt.ArrayLike
    ) -> np.ndarray:
        """P v, the component in V_θ = range Dᵀ (horizontal). Implements (1.25).

        On the kernel route P v = DᵀΘ⁺(Dv): one jvp, a refined solve, one vjp.
        """
        if self.route != "dense":
            fac = self.factorization(base_point)
            return _columns(fac.project_row, tangent_vec, self.dim, "tangent_vec")
        return self.at(base_point).horizontal_projection(tangent_vec)

    def is_vertical(
        self,
        tangent_vec: npt.ArrayLike,
        base_point: npt.ArrayLike,
        atol: float | np.ndarray | None = None,
    ) -> np.bool_ | np.ndarray:
        """|D v| ≤ atol (default 1e-8·|D|·|v|): v is tangent to the fiber."""
        fiber = self.at(base_point)
        v = check_array(tangent_vec, "tangent_vec")
        if atol is None:
            atol = _DEFAULT_RTOL * fiber.report.sigma_max * np.linalg.norm(v, axis=-1)
        return np.linalg.norm(fiber.push_forward(v), axis=-1) <= atol

    def is_horizontal(
        self,
        tangent_vec: npt.ArrayLike,
        base_point: npt.ArrayLike,
        atol: float | np.ndarray | None = None,
    ) -> np.bool_ | np.ndarray:
        """|(1 − P)v| ≤ atol (default 1e-8·|v|): v ∈ V_θ."""
        fiber = self.at(base_point)
        v = check_array(tangent_vec, "tangent_vec")
        if atol is None:
            atol = _DEFAULT_RTOL * np.linalg.norm(v, axis=-1)
        return np.linalg.norm(fiber.vertical_projection(v), axis=-1) <= atol

    # The two forms of horizontal_lift, told apart by a callable second argument.
    @overload
    def horizontal_lift(
        self,
        tangent_vec: npt.ArrayLike,
        base_point: Callable[[float], npt.ArrayLike],
        fiber_point: float,
        **options: Any,
    ) -> BundleCurve: ...

    @overload
    def horizontal_lift(
        self,
        tangent_vec: npt.ArrayLike,
        base_point: npt.ArrayLike | None = None,
        fiber_point: npt.ArrayLike | None = None,
    ) -> np.ndarray: ...

    def horizontal_lift(
        self,
        tangent_vec: npt.ArrayLike,
        base_point: Callable[[float], npt.ArrayLike] | npt.ArrayLike | None = None,
        fiber_point: npt.ArrayLike | None = None,
        **options: Any,
    ) -> np.ndarray | BundleCurve:
        """Horizontal lift: of a tangent vector (geomstats), or of a whole output curve.

        Two forms.  ``V.horizontal_lift(w, fiber_point=theta)`` (geomstats' pointwise
        lift): the u ∈ V_θ with Du = w, u = Pen[D]w.  ``V.horizontal_lift(theta0,
        x_curve, t_end, **options)``: the curve θ′ = Pen[D] x′(t) from θ0 with
        f(θ(t)) = x(t) (Implements (2.30) along a curve; see
        :func:`subriemann.geometry.lifts.horizontal_lift` for the options).

        Parameters
        ----------
        tangent_vec : array-like, shape=[QN], or theta0 of shape [K] with a callable second
            w ∈ T_xR^{QN}; or the start θ0 of the lifted curve.
        base_point : ignored, or callable
            Pointwise form: x = f(θ) alone does not determine θ (no section of f is
            available); pass ``fiber_point``.  Curve form: x_curve, t ↦ x(t).
        fiber_point : array-like, shape=[K], or float
            Pointwise form: θ in the fiber over x.  Curve form: t_end.
        """
        if callable(base_point):
            from subriemann.geometry.lifts import horizontal_lift

            # fiber_point is t_end here (a float by the overload; lifts checks it)
            t_end = cast(float, fiber_point)
            return horizontal_lift(self, tangent_vec, base_point, t_end, **options)
        if options:
            raise InputError(
                f"horizontal_lift(w, fiber_point=theta) takes no options, got {sorted(options)}; "
                "to lift an output curve call horizontal_lift(theta0, x_curve, t_end, ...)"
            )
        if fiber_point is None:
            raise InputError(
                "horizontal_lift needs fiber_point=theta: the lift depends on the point of "
                "the fiber f^-1(x), and f has no distinguished section"
            )
        return self.at(fiber_point).horizontal_lift(tangent_vec)

    def integrability_tensor(
        self, tangent_vec_a: npt.ArrayLike, tangent_vec_b: npt.ArrayLike, base_point: npt.ArrayLike
    ) -> np.ndarray:
        r"""O'Neill's integrability tensor A_X E of the submersion f. Shape (K,).

        For horizontal X, Y: A_X Y = ½ ver[X̃, Ỹ](θ), with X̃, Ỹ the horizontal
        lifts of the constant fields DX, DY of R^{QN} (basic fields).  In the
        frame, X̃ = Σ a_i u_i with a = D̃X constant, so
        [X̃, Ỹ] = Σ a_i b_j [u_i, u_j] and A_X Y = ½ Σ a_i b_j ver[u_i, u_j]
        (:meth:`frame_brackets`); A_X Y = −A_Y X.

        The total space is given the metric ĝ that is h on V, Euclidean on
        ker D, with V ⊥ ker D; then f : (R^K, ĝ) → (R^{QN}, G) is a Riemannian
        submersion where rank D = QN, and O'Neill's identities hold.  For a
        general X the tensor depends on hor X only, and for vertical E it is the
        horizontal vector with ĝ(A_X E, Z) = −ĝ(E, A_X Z) for horizontal Z:
        A_X E = −½ Σ_j c_j u_j, c_j = Σ_i a_i (ver E)·[u_i, u_j].
        A vanishes identically iff V is integrable (Frobenius (2.31)).

        Parameters
        ----------
        tangent_vec_a, tangent_vec_b : array-like, shape=[K]
            X and E at ``base_point``.
        base_point : array-like, shape=[K]
            θ.
        """
        return self.at(base_point).integrability_tensor(tangent_vec_a, tangent_vec_b)

    # -- metric and gradient ----------------------------------------------------
    def inner_product(
        self, tangent_vec_a: npt.ArrayLike, tangent_vec_b: npt.ArrayLike, base_point: npt.ArrayLike
    ) -> float | np.ndarray:
        """h(u, w) = (Du)ᵀG(Dw) (2.22). Vectors (K,) or (n, K); returns [...]."""
        return self.at(base_point).inner_product(tangent_vec_a, tangent_vec_b)

    def grad(self, theta: npt.ArrayLike, covector: npt.ArrayLike) -> np.ndarray:
        r"""grad_h F = Pen[D]G⁻¹Pen[D]ᵀ∇_θF, the h-gradient on V. Implements (2.30).

        Derivation for an output metric G = LLᵀ (the paper's (2.23)–(2.30) is the
        case L = 1).  grad_h F ∈ V_θ is defined by dF(V) = h(V, grad_h F) for all
        V ∈ V_θ (2.23).  With D̃ = LᵀD, h(V, W) = (D̃V)·(D̃W) and
        V_θ = range Dᵀ = range D̃ᵀ, so (2.27)–(2.29) hold verbatim with D̃:
        P∇F = P D̃ᵀD̃ grad_h F, hence Pen[D̃]ᵀ∇F = D̃ grad_h F and

            grad_h F = Pen[D̃] Pen[D̃]ᵀ ∇_θF.

        For rank D = QN, Pen[D̃] = DᵀL(LᵀDDᵀL)⁻¹ = Dᵀ(DDᵀ)⁻¹L⁻ᵀ = Pen[D]L⁻ᵀ, and
        L⁻ᵀL⁻¹ = G⁻¹ gives grad_h F = Pen[D] G⁻¹ Pen[D]ᵀ ∇_θF.  For F = C∘f,
        ∇_θ = Dᵀ∇ₓC (1.18) and D·Pen[D] = 1 (1.24), so

            D · grad_h C = G⁻¹ ∇ₓC,

        the G-gradient of C on the output layer (Euclidean G: (1.28)).

        Computed as Ṽ Σ̃⁻² Ṽᵀ∇ from the SVD of D̃ (no inverses).  With rank loss
        (rank D < QN) it is the least-squares solution of (4.5)–(4.10): for
        F = C∘f, grad_h C = D̃⁺L⁻¹∇ₓC and D·grad_h C = 𝒫∇ₓC for Euclidean G (4.7);
        the rank used is ``rank_report(theta).rank``.

        Parameters
        ----------
        theta : array-like, shape=[K] or [..., K]
        covector : array-like, shape=[K] or [..., K]
            ∇_θF, e.g. ``f.vjp(theta, cost.grad(f(theta)))``.

        Returns
        -------
        grad : ndarray, shape=[..., K]
            In V_θ (P grad = grad).
        """
        if isbox(theta) or isbox(covector):
            U = self.frame(theta)
            return anp.einsum("...ij,...kj,...k->...i", U, U, covector)
        if self.route != "dense" and not (_batched(theta) or _batched(covector)):
            # kernel / matrix-free: (DᵀD)⁺∇ = D⁺(Dᵀ)⁺∇ from Θ or Krylov solves, no QN×K array
            return self.factorization(theta).normal_solve(covector)
        if _batched(theta) or _batched(covector):
            theta, covector = batch_pair(theta, covector, self.dim, "theta", "covector")
            return over_batch(
                lambda tc: self.at(tc[: self.dim]).grad(tc[self.dim :]),
                np.concatenate([theta, covector], axis=-1),
                "(theta, covector)",
            )
        return self.at(theta).grad(covector)

    # -- brackets and the distribution -----------------------------------------
    def frame_brackets(self, theta: npt.ArrayLike) -> np.ndarray:
        r"""Lie brackets [u_i, u_j](θ) of the frame fields u_i = Pen[D̃]e_i, shape (QN, QN, K).

        ``out[i, j]`` is [u_i, u_j] = ∇_{u_i}u_j − ∇_{u_j}u_i; antisymmetric in (i, j).

        **Derivation (Euclidean G, rank D = QN).**  With u_j = Pen e_j,
        ∇_{u_i}u_j = dPen[u_i]e_j, where dPen[w] is the derivative of
        Pen = Dᵀ(DDᵀ)⁻¹ along w.  Differentiating D·Pen = 1 and P = Pen D:

            dPen[w] = −Pen dD[w] Pen + (1 − P) dD[w]ᵀ (DDᵀ)⁻¹,

        with dD[w] = ``f.jacobian_derivative(θ, w)``.  Hence
        [u_i, u_j] = −Pen(dD[u_i]u_j − dD[u_j]u_i)
                     + (1 − P)(dD[u_i]ᵀ(DDᵀ)⁻¹e_j − dD[u_j]ᵀ(DDᵀ)⁻¹e_i).
        The first term is −Pen(d²f(u_i, u_j) − d²f(u_j, u_i)) = 0 by symmetry of
        second derivatives (equivalently: u_i is f-related to the coordinate
        field ∂_i of R^{QN}, since D u_i = e_i, so D[u_i, u_j] = [∂_i, ∂_j] = 0).
        So the brackets are purely vertical:

            [u_i, u_j] = (1 − P)(dD[u_i]ᵀ(DDᵀ)⁻¹e_j − dD[u_j]ᵀ(DDᵀ)⁻¹e_i).

        **Implementation.**  dPen[u_i] is evaluated by the Golub–Pereyra formula
        (:meth:`subriemann.linalg.JacobianSVD.pseudo_inverse_derivative`) from
        the factors of one SVD ((DDᵀ)⁺ = UΣ⁻²Uᵀ and the projectors shared by all
        columns, three (QN×QN)·(QN×K)-sized products per column): QN calls of
        ``jacobian_derivative`` and no differentiation of a pseudo-inverse.  The
        general formula keeps the (vanishing) first term, so the computed
        D[u_i, u_j] ≈ 0 is a check, and it stays valid (i) with rank loss at
        locally constant rank (then Pen = D⁺, with an extra term
        D⁺D⁺ᵀdDᵀ(1 − DD⁺)), (ii) for a constant output metric (the frame of the
        map Lᵀf, dD̃ = LᵀdD), and (iii) for a metric field G(x), where
        dD̃[w] = dL[Dw]ᵀD + LᵀdD[w] and the first term no longer vanishes (the
        u_i are f-related to the non-constant fields L⁻ᵀe_i).

        Parameters
        ----------
        theta : array-like, shape=[K]

        Returns
        -------
        brackets : ndarray, shape=[QN, QN, K]
        """
        return self.at(theta).frame_brackets()

    def sub_riemannian_metric(self, **options: Any) -> SubRiemannianMetric:
        """geomstats ``SubRiemannianMetric`` on Euclidean(K) with the h-orthonormal frame (2.33).

        Its ``sr_sharp(theta, covector)`` = Σ_i ⟨covector, u_i⟩u_i = Pen Penᵀ covector
        equals :meth:`grad` (2.30), and its Hamiltonian (normal) geodesics
        (``geodesic``, ``symp_flow``) run on the sub-Riemannian manifold
        (R^K, V, h) of (2.33), differentiating the traceable :meth:`frame`.
        """
        from subriemann.subriemannian.metric import sub_riemannian_metric

        return sub_riemannian_metric(self.distribution(), **options)

    def distribution(self) -> Distribution:
        """V as a :class:`subriemann.distributions.frame.Distribution` of rank QN on R^K.

        Frame :meth:`frame`, brackets :meth:`frame_brackets` (closed form, with the
        derivatives ∇_{u_i}u_j of :meth:`BundleFiber.frame_derivatives` as
        round-off scale), rank policy of this bundle.  For a constant output
        metric the Frobenius test (2.31), the curvature and the growth vector's
        second step use :meth:`BundleFiber.curvature_terms` (the terms directly
        in an orthonormal basis, from ``f.hessian_vector_products``); for a
        metric field G(x) they use the frame brackets.
        """
        from subriemann.distributions.frame import Distribution

        # The Frobenius test asks for the frame and then the brackets at the same
        # point: keep the last fiber so D, its SVD and Pen are computed once.
        last: list[BundleFiber] = []

        def fiber(theta):
            if not (last and np.array_equal(last[0].theta, theta)):
                last[:] = [self.at(theta)]
            return last[0]

        def frame(theta):
            if isbox(theta) or np.ndim(theta) != 1:
                return self.frame(theta)  # traced or batched: the general route
            return fiber(theta).frame()

        def brackets_and_terms(theta):
            at = fiber(theta)
            return at.frame_brackets(), at.frame_derivatives()

        def curvature_terms(theta):
            return fiber(theta).curvature_terms()

        return Distribution(
            frame,
            self.dim,
            brackets=brackets_and_terms,
            rank_policy=self.rank_policy,
            curvature_terms=curvature_terms if self.output_metric.is_constant else None,
        )

    # -- curves: holonomy and fibres (subriemann.geometry.lifts) -----------------------
    def holonomy(
        self,
        theta0: npt.ArrayLike,
        loop: Callable[[float], npt.ArrayLike],
        t_end: float | None = None,
        **options: Any,
    ) -> BundleHolonomy:
        """θ(T) − θ(0) of the lift of a closed output loop; see :func:`subriemann.geometry.lifts.holonomy`."""
        from subriemann.geometry.lifts import holonomy

        return holonomy(self, theta0, loop, t_end, **options)

    def vertical_curve(
        self,
        theta0: npt.ArrayLike,
        w: Callable[[np.ndarray], npt.ArrayLike] | npt.ArrayLike,
        t_end: float,
        **options: Any,
    ) -> BundleCurve:
        """θ′ = (1 − P)w in the fibre f⁻¹(f(θ0)) (2.32); see :func:`subriemann.geometry.lifts.vertical_curve`."""
        from subriemann.geometry.lifts import vertical_curve

        return vertical_curve(self, theta0, w, t_end, **options)

    def __repr__(self) -> str:
        route = "" if self.route == "dense" else f", route={self.route!r}"
        return f"PullbackBundle({self.f!r}, output_metric={self.output_metric!r}{route})"
