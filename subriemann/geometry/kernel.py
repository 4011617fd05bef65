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

Also here: the choice between the routes (:func:`choose_route`, a stated
memory/flop model) and :func:`distributed_ntk`, Θ in blocks on worker processes
or a Dask cluster, bitwise equal to the serial ``NetworkMap.ntk``.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_result,
    check_vector,
)
from subriemann.linalg import (
    JacobianSVD,
    RankPolicy,
    numerical_rank,
    one_blas_thread_environment,
    resolve_policy,
)
from subriemann.maps.network import MLP, NetworkMap, get_activation
from subriemann.maps.smooth import check_map

__all__ = [
    "ROUTES",
    "DEFAULT_MEMORY_BUDGET",
    "RouteChoice",
    "route_model",
    "choose_route",
    "factorize",
    "KernelFactorization",
    "distributed_ntk",
    "distributed_block_samples",
]

#: The routes to D⁺ and what each needs.
ROUTES = {
    "auto": "chosen by the memory/flop model of choose_route",
    "dense": "D (QN x K) and its SVD (subriemann.linalg.JacobianSVD): ~16*QN*K bytes",
    "kernel": "Theta = D D^T (QN x QN) with refinement by jvp/vjp: O(QN^2 + QN*sum M_l + K) bytes",
    "matrix-free": "Krylov solves with jvp(vjp(.)) or LSMR on D: O(K + QN) bytes",
}
#: Memory the routes may use unless told otherwise (bytes): 2 GiB.
DEFAULT_MEMORY_BUDGET = 2 * 1024**3
# D up to this size is always factored densely by "auto": below it every route is fast
# and only the dense route gives the frame and projector matrices directly.
_SMALL_DENSE_BYTES = 64 * 1024**2
# "auto" takes the kernel route when its flop model is this many times cheaper.
_KERNEL_FLOP_ADVANTAGE = 10.0
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, kw_only=True)
class RouteChoice:
    """Which route a bundle or flow uses, and the model behind the choice.

    Attributes
    ----------
    route : str
        "dense", "kernel" or "matrix-free".
    requested : str
        What the caller asked for ("auto" or a route).
    reason : str
        The model's argument in words.
    dense_bytes, kernel_bytes, matrix_free_bytes : int
        Memory models (bytes) of one factorization on each route.
    dense_flops, kernel_flops : float
        Flop models of one factorization (Jacobian + QR + SVD; Θ + eigh + refinement).
    memory_budget : int
    """

    route: str
    requested: str
    reason: str
    dense_bytes: int
    kernel_bytes: int
    matrix_free_bytes: int
    dense_flops: float
    kernel_flops: float
    memory_budget: int

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def route_model(f) -> dict:
    """Memory (bytes) and flop models of one factorization of D[θ] on each route.

    * dense: D and the copy its QR overwrites, 16·QN·K bytes; flops QN·K (writing D)
      + 2·K·QN² (Householder QR of Dᵀ) + 22·QN³ (SVD of the triangle).
    * kernel: Θ and its eigenvectors, 16·QN² bytes, plus Θ's working set
      (``NetworkMap.ntk_bytes``: the factors, QN·Σ M_ℓ) and a dozen K-vectors, 96·K (θ,
      iterates, velocities, a vjp's per-layer gradients and their packed copy, the
      flow's point cache); flops:
      structured Θ 2(QN)²Σ_{ℓ≤L}M_ℓ + 2N²Σ M_{ℓ−1} + 2QN·Σ M_ℓM_{ℓ−1} (back-propagating
      the factors) + 10·QN³ (eigh) + 4 refinement steps of one vjp and one jvp
      (~6NK each).  A map without the structure: 2·QN products of ~2·QN·K each
      (modelled as dense products, an upper bound).
    * matrix-free: ~12 vectors of length K and QN (a Krylov solver's state).
    """
    check_map(f)
    QN, K = f.dim_out, f.dim_in
    dense_bytes = 16 * QN * K
    dense_flops = QN * K + 2.0 * K * QN**2 + 22.0 * QN**3
    if getattr(f, "has_structured_ntk", False) and isinstance(f, NetworkMap):
        sizes, N = f.mlp.layer_sizes, f.N
        b = f.ntk_partition()[0][1]
        kernel_bytes = f.ntk_bytes(b) + 8 * QN**2 + 96 * K
        theta_flops = (
            2.0 * QN**2 * sum(sizes[1:-1])
            + 2.0 * N**2 * sum(sizes[:-1])
            + 2.0 * QN * sum(a * c for a, c in zip(sizes[1:-1], sizes[:-2], strict=True))
        )
        kernel_flops = theta_flops + 10.0 * QN**3 + 4 * 12.0 * N * K
    else:
        kernel_bytes = 16 * QN**2 + 8 * K * max(1, min(QN, (1 << 25) // (8 * K))) + 96 * K
        kernel_flops = 4.0 * QN**2 * K + 10.0 * QN**3
    return {
        "dense_bytes": int(dense_bytes),
        "kernel_bytes": int(kernel_bytes),
        "matrix_free_bytes": int(8 * 12 * (K + QN)),
        "dense_flops": float(dense_flops),
        "kernel_flops": float(kernel_flops),
    }


def _kernel_capable(f) -> bool:
    return bool(getattr(f, "has_structured_ntk", False) or f.has_matrix_free_products)


def choose_route(f, route="auto", *, memory_budget=None, euclidean=True) -> RouteChoice:
    """Resolve ``route`` for the map f under a memory budget; "auto" by the model of :func:`route_model`.

    "auto" picks, in order: "dense" when the output metric is not Euclidean or
    K < QN (the other routes implement the Euclidean over-parametrized objects);
    "dense" when D is small (≤ 64 MiB) or fits the budget and the kernel flop
    model is not ≥ 10× cheaper; else "kernel" when f has a structured NTK or
    matrix-free jvp/vjp and Θ's working set fits the budget; else "matrix-free"
    when f has matrix-free products; else "dense" (nothing else applies).

    Raises
    ------
    InputError
        An unknown route name; "kernel" or "matrix-free" on a map without a
        structured NTK or matrix-free jvp/vjp (a generic Gram method), or with a
        non-Euclidean output metric; a non-positive budget.
    """
    check_map(f)
    if not isinstance(route, str) or route not in ROUTES:
        raise InputError(
            f"unknown route {route!r}; expected one of {list(ROUTES)}: "
            + "; ".join(f"{k} = {v}" for k, v in ROUTES.items())
        )
    budget = (
        DEFAULT_MEMORY_BUDGET
        if memory_budget is None
        else check_int(memory_budget, "memory_budget")
    )
    model = route_model(f)
    choice = dict(model, requested=route, memory_budget=budget)
    name = type(f).__name__
    if route in ("kernel", "matrix-free"):
        if not euclidean:
            raise InputError(
                f"route {route!r} implements the Euclidean output metric only; with an output "
                "metric G use route='dense'"
            )
        if route == "kernel" and not _kernel_capable(f):
            raise InputError(
                f"route 'kernel' needs a map with a structured NTK (NetworkMap) or matrix-free "
                f"jvp/vjp (a generic Gram method); {name} has neither: its products multiply by "
                "the whole Jacobian. Use route='dense', or give the map _jvp and _vjp"
            )
        if route == "matrix-free" and not f.has_matrix_free_products:
            raise InputError(
                f"route 'matrix-free' needs matrix-free jvp/vjp; {name}'s products multiply by "
                "the whole Jacobian. Use route='dense', or give the map _jvp and _vjp"
            )
        return RouteChoice(route=route, reason=f"requested {route!r}", **choice)
    if route == "dense":
        return RouteChoice(route="dense", reason="requested 'dense'", **choice)
    mib = 1024**2
    dense_b, kernel_b = model["dense_bytes"], model["kernel_bytes"]
    ratio = model["dense_flops"] / model["kernel_flops"]
    summary = (
        f"dense needs ~{dense_b / mib:.0f} MiB (16*QN*K), kernel ~{kernel_b / mib:.0f} MiB, "
        f"budget {budget / mib:.0f} MiB; dense/kernel flops = {ratio:.3g}"
    )
    if not euclidean or f.dim_in < f.dim_out:
        why = "non-Euclidean output metric" if not euclidean else "K < QN (under-parametrized)"
        return RouteChoice(route="dense", reason=f"auto: {why}; {summary}", **choice)
    kernel_ok = _kernel_capable(f) and kernel_b <= budget
    if dense_b <= _SMALL_DENSE_BYTES or (
        dense_b <= budget and not (kernel_ok and ratio >= _KERNEL_FLOP_ADVANTAGE)
    ):
        return RouteChoice(route="dense", reason=f"auto: D fits; {summary}", **choice)
    if kernel_ok:
        return RouteChoice(
            route="kernel", reason=f"auto: kernel is cheaper or D does not fit; {summary}", **choice
        )
    if f.has_matrix_free_products:
        return RouteChoice(
            route="matrix-free", reason=f"auto: neither D nor Theta fits; {summary}", **choice
        )
    return RouteChoice(route="dense", reason=f"auto: no other route applies; {summary}", **choice)


def factorize(f, theta, route: str, *, rank_policy=None, memory_budget=None):
    """The factorization of D[θ] on a resolved route: JacobianSVD, KernelFactorization or KrylovFactorization.

    All three have ``solve`` (D⁺ rhs), ``project_range``, ``project_row``,
    ``project_kernel``, ``normal_solve``, ``rank``, ``report`` and ``singular_values``.
    """
    if route == "dense":
        return JacobianSVD(f.jacobian(theta), rank_policy)
    if route == "kernel":
        return KernelFactorization(f, theta, rank_policy=rank_policy, memory_budget=memory_budget)
    if route == "matrix-free":
        from subriemann.geometry.matrix_free import KrylovFactorization

        return KrylovFactorization(f, theta, rank_policy=rank_policy)
    raise InputError(
        f"route must be resolved to one of 'dense', 'kernel', 'matrix-free', got {route!r}"
    )


@contextmanager
def _one_blas_thread():
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
        f,
        theta,
        *,
        rank_policy=None,
        gram=None,
        memory_budget=None,
        rtol: float = 1e-14,
        max_refinements: int = 8,
    ):
        self.f = check_map(f)
        if not _kernel_capable(f):
            choose_route(f, "kernel")  # raises the route's InputError
        self.theta = np.array(check_vector(theta, f.dim_in, "theta"), dtype=np.float64)
        QN, K = f.dim_out, f.dim_in
        if gram is None:
            if isinstance(f, NetworkMap):
                gram = f.ntk(self.theta, memory_budget=memory_budget)
            else:
                gram = f.ntk(self.theta)
        gram = check_array(gram, "gram", finite=False)
        if gram.shape != (QN, QN):
            raise ShapeError(f"gram must have shape ({QN}, {QN}) = (QN, QN), got {gram.shape}")
        check_result(gram, "the NTK Theta = D D^T", "the map overflowed at this point")
        self.rtol, self.max_refinements = (
            float(rtol),
            check_int(max_refinements, "max_refinements", minimum=0),
        )
        # Θ squares cond(D): its eigenvalues are accurate to ~eps·λ_max only, which is why
        # the solves below are refined with residuals computed by D itself.
        with _one_blas_thread():
            lam, U = scipy.linalg.eigh(gram, driver="evd", check_finite=False)
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
        self.stats = {"solves": 0, "refinements": 0, "products": 0, "last_residual": math.nan}

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def full_rank(self) -> bool:
        return self.report.full_row_rank

    # -- building blocks ----------------------------------------------------------
    def _jvp(self, v):
        self.stats["products"] += 1
        return np.asarray(self.f.jvp(self.theta, v), dtype=np.float64)

    def _vjp(self, w):
        self.stats["products"] += 1
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
    def solve(self, rhs):
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

    def gram_solve(self, rhs):
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

    def solve_transpose(self, rhs):
        """w = (Dᵀ)⁺ rhs = Θ⁺D rhs, the minimum-norm least squares of Dᵀw = rhs (the step (2.29)).

        ``rhs`` (K,) or (K, k).  Computed as Θ⁺(D rhs) with :meth:`gram_solve`'s refinement.
        """
        return self._columns(self._solve_transpose, rhs, self.f.dim_in, "rhs")

    def _solve_transpose(self, c):
        # the normal equations Θw = Dc of min |Dᵀw − c|, solved with refinement
        return self._gram_solve(self._jvp(c))

    def normal_solve(self, rhs):
        """(DᵀD)⁺ rhs = D⁺(Dᵀ)⁺ rhs: grad_h of the covector rhs. Implements (2.30).

        Forming D·rhs first (as the dense route forms its covector) costs one more
        factor of cond(D) than :meth:`solve` on ∇ₓC; flows use ``solve``.
        """
        return self._columns(
            lambda c: self._solve(self._solve_transpose(c)), rhs, self.f.dim_in, "rhs"
        )

    # -- projectors ----------------------------------------------------------------
    def project_range(self, w):
        """𝒫 w = UUᵀw, the orthoprojector onto range D ((4.2)); w itself at full rank (𝒫 = 1)."""
        w = check_vector(w, self.f.dim_out, "w")
        return np.array(self._range(w), dtype=np.float64)

    def project_row(self, v):
        """P v = D⁺D v, the component of v in V_θ = range Dᵀ ((1.25)); one jvp and a solve."""
        return self._columns(lambda c: self._solve(self._jvp(c)), v, self.f.dim_in, "v")

    def project_kernel(self, v):
        """(1 − P) v, the vertical part of v (tangent to the fiber f⁻¹(x))."""
        v = check_array(v, "v")
        return v - self.project_row(v)

    def __repr__(self) -> str:
        return (
            f"KernelFactorization(QN={self.f.dim_out}, K={self.f.dim_in}, rank={self.rank}, "
            f"sigma_max={self.report.sigma_max:.3g}, sigma_min_kept={self.report.sigma_min_kept:.3g})"
        )


# -- the distributed kernel --------------------------------------------------------------------


def distributed_block_samples(f, memory_budget) -> int:
    """Samples per block such that one worker's block (``NetworkMap.ntk_block_bytes``) fits the budget.

    Raises
    ------
    InputError
        The budget cannot hold one block of one sample.
    """
    budget = check_int(memory_budget, "memory_budget")
    if f.ntk_block_bytes(1) > budget:
        raise InputError(
            f"memory_budget = {budget} bytes cannot hold one block of the NTK: a block of one "
            f"sample against another needs {f.ntk_block_bytes(1)} bytes "
            "(model NetworkMap.ntk_block_bytes)"
        )
    b = 1
    while b < f.N and f.ntk_block_bytes(min(f.N, 2 * b)) <= budget:
        b = min(f.N, 2 * b)
    return b


def _ntk_task(task):
    """One block of Θ on a worker, from the architecture, θ and the two blocks' inputs alone."""
    sizes, activation, theta, inputs_r, inputs_c, key = task
    act = get_activation(activation, allow_nonsmooth=True)
    mlp = MLP(sizes, activation=act, allow_nonsmooth=not act.smooth)
    same = inputs_c is None
    inputs = inputs_r if same else np.concatenate([inputs_r, inputs_c])
    n_r = inputs_r.shape[0]
    cols = (0, n_r) if same else (n_r, inputs.shape[0])
    return key, NetworkMap(mlp, inputs).ntk_block(theta, (0, n_r), cols)


def distributed_ntk(
    f,
    theta,
    *,
    backend: str = "processes",
    n_jobs: int = 2,
    scheduler=None,
    block_samples=None,
    memory_budget=None,
):
    """Θ = D Dᵀ of a NetworkMap with its blocks computed in parallel; bitwise equal to the serial one.

    The samples are cut into blocks of b (``block_samples``, or the largest b
    whose block fits ``memory_budget`` per worker, :func:`distributed_block_samples`);
    each task computes Θ[I, J] (I ≤ J) from θ, the architecture and the inputs
    of I and J alone, with the code of ``NetworkMap.ntk_block``, and this process
    assembles Θ (and its mirror blocks).  ``f.ntk(theta, block_samples=b)`` runs
    the same code on the same inputs, so the results agree bit for bit when the
    BLAS runs with the same number of threads (workers use one).

    Parameters
    ----------
    f : NetworkMap
    theta : array-like, shape=[K]
    backend : {"serial", "processes", "dask"}
    n_jobs : int
        Worker processes of the "processes" backend.
    scheduler : str, distributed.Client or LocalCluster
        The Dask cluster of the "dask" backend.
    block_samples, memory_budget : int, optional

    Returns
    -------
    Theta : ndarray, shape=[QN, QN]

    Raises
    ------
    InputError
        Not a NetworkMap, an unknown backend, a budget that cannot hold one block,
        an activation that is not in the registry (workers rebuild it by name),
        or a missing Dask scheduler.
    """
    if not isinstance(f, NetworkMap):
        raise InputError(
            f"distributed_ntk computes the structured NTK of a NetworkMap, got {type(f).__name__}"
        )
    theta = np.array(check_vector(theta, f.dim_in, "theta"), dtype=np.float64)
    if backend not in ("serial", "processes", "dask"):
        raise InputError(f"unknown backend {backend!r}; expected 'serial', 'processes' or 'dask'")
    if block_samples is None:
        b = f.N if memory_budget is None else distributed_block_samples(f, memory_budget)
    else:
        b = check_int(block_samples, "block_samples")
    if backend == "serial":
        return f.ntk(theta, block_samples=b)
    act = f.mlp.activation
    try:
        registered = get_activation(act.name, allow_nonsmooth=True) is act
    except InputError:
        registered = False
    if not registered:
        raise InputError(
            f"activation {act.name!r} is not in the registry (ACTIVATIONS); workers rebuild the "
            "network by name, so use a registered activation or backend='serial'"
        )
    blocks = f.ntk_partition(block_samples=b)
    sizes = list(f.mlp.layer_sizes)
    tasks = [
        (
            sizes,
            act.name,
            theta,
            f.inputs[blocks[i][0] : blocks[i][1]],
            None if i == j else f.inputs[blocks[j][0] : blocks[j][1]],
            (i, j),
        )
        for i in range(len(blocks))
        for j in range(i, len(blocks))
    ]
    if backend == "processes":
        import multiprocessing

        n_jobs = check_int(n_jobs, "n_jobs")
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with (
            one_blas_thread_environment(),
            ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool,
        ):
            results = list(pool.map(_ntk_task, tasks))
    else:
        results = _on_dask(tasks, scheduler)
    Q = f.Q
    out = np.empty((f.dim_out, f.dim_out))
    for (i, j), block in results:
        (s_i, e_i), (s_j, e_j) = blocks[i], blocks[j]
        out[s_i * Q : e_i * Q, s_j * Q : e_j * Q] = block
        if i != j:
            out[s_j * Q : e_j * Q, s_i * Q : e_i * Q] = block.T
    f.counts["ntk"] += 1
    return out


def _on_dask(tasks, scheduler):
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "backend='dask' needs dask.distributed: pip install 'subriemann[distributed]'"
        ) from exc
    if scheduler is None:
        raise InputError(
            "backend='dask' needs scheduler=: an address 'tcp://host:8786', a distributed.Client "
            "or a LocalCluster"
        )
    if isinstance(scheduler, Client):
        client, owned = scheduler, False
    else:
        address = getattr(scheduler, "scheduler_address", scheduler)
        if not isinstance(address, str):
            raise InputError(
                f"scheduler must be an address, a Client or a LocalCluster, got {type(scheduler).__name__}"
            )
        client, owned = Client(address, set_as_default=False), True
    try:
        futures = client.map(_ntk_task, tasks, pure=False)
        return client.gather(futures)
    except OSError as exc:  # pragma: no cover - a cluster that went away
        raise NumericalError(f"the Dask cluster failed: {exc}") from exc
    finally:
        if owned:
            client.close()
