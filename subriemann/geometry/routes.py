"""The routes to D⁺ — dense SVD, kernel (Θ = DDᵀ), matrix-free Krylov — and the model that chooses one.

Every geometric object that applies Pen[D] = D⁺ ((1.23), (2.30)) can do it three
ways: form D and its SVD (:class:`~subriemann.linalg.JacobianSVD`), use only the
QN×QN Gram matrix Θ = DDᵀ and products with D
(:class:`~subriemann.geometry.kernel.KernelFactorization`), or solve with jvp/vjp
alone (:class:`~subriemann.geometry.matrix_free.KrylovFactorization`).  This module
states what each costs (:func:`route_model`: bytes and flops of one factorization),
chooses one under a memory budget (:func:`choose_route`, whose
:class:`RouteChoice` says why) and builds the factorization on a resolved route
(:func:`factorize`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, check_int
from subriemann.linalg import JacobianSVD, RankPolicy
from subriemann.maps import NetworkMap
from subriemann.maps.smooth import SmoothMap, check_map

if TYPE_CHECKING:  # kernel.py and matrix_free.py import this module
    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.geometry.matrix_free import KrylovFactorization
    from subriemann.geometry.metrics import OutputMetric, OutputMetricLike

__all__ = [
    "ROUTES",
    "DEFAULT_MEMORY_BUDGET",
    "RouteChoice",
    "RouteModel",
    "route_model",
    "kernel_capable",
    "choose_route",
    "factorize",
    "non_euclidean_metric",
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


class RouteModel(TypedDict):
    """The memory and flop models of :func:`route_model` (the model fields of RouteChoice)."""

    dense_bytes: int
    kernel_bytes: int
    matrix_free_bytes: int
    dense_flops: float
    kernel_flops: float


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

    def as_dict(self) -> dict[str, str | int | float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def route_model(f: SmoothMap) -> RouteModel:
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


def kernel_capable(f: SmoothMap) -> bool:
    return bool(getattr(f, "has_structured_ntk", False) or f.has_matrix_free_products)


def choose_route(
    f: SmoothMap,
    route: str = "auto",
    *,
    memory_budget: int | None = None,
    euclidean: bool = True,
    metric_aware: bool = False,
) -> RouteChoice:
    """Resolve ``route`` for the map f under a memory budget; "auto" by the model of :func:`route_model`.

    "auto" picks, in order: "dense" when the output metric is not Euclidean or
    K < QN (the other routes implement the Euclidean over-parametrized objects);
    "dense" when D is small (≤ 64 MiB) or fits the budget and the kernel flop
    model is not ≥ 10× cheaper; else "kernel" when f has a structured NTK or
    matrix-free jvp/vjp and Θ's working set fits the budget; else "matrix-free"
    when f has matrix-free products; else "dense" (nothing else applies).

    ``metric_aware=True`` says the caller passes its output metric G to
    :func:`factorize` (so the kernel route solves with Θ_G = LᵀΘL,
    :class:`KernelFactorization`): then "kernel" is allowed with a non-Euclidean G.
    Callers that would apply the Euclidean Θ⁺ to a G-problem must leave it False.

    Raises
    ------
    InputError
        An unknown route name; "kernel" or "matrix-free" on a map without a
        structured NTK or matrix-free jvp/vjp (a generic Gram method), or with a
        non-Euclidean output metric (unless ``metric_aware`` for "kernel"); a
        non-positive budget.
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

    def chosen(resolved: str, reason: str) -> RouteChoice:
        return RouteChoice(
            route=resolved, reason=reason, requested=route, memory_budget=budget, **model
        )

    name = type(f).__name__
    if route in ("kernel", "matrix-free"):
        if not euclidean and not (route == "kernel" and metric_aware):
            raise InputError(
                f"route {route!r} here implements the Euclidean output metric only; with an "
                "output metric G use route='dense' (the kernel route with G is "
                "KernelFactorization(f, theta, output_metric=G))"
            )
        if route == "kernel" and not kernel_capable(f):
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
        return chosen(route, f"requested {route!r}")
    if route == "dense":
        return chosen("dense", "requested 'dense'")
    mib = 1024**2
    dense_b, kernel_b = model["dense_bytes"], model["kernel_bytes"]
    ratio = model["dense_flops"] / model["kernel_flops"]
    summary = (
        f"dense needs ~{dense_b / mib:.0f} MiB (16*QN*K), kernel ~{kernel_b / mib:.0f} MiB, "
        f"budget {budget / mib:.0f} MiB; dense/kernel flops = {ratio:.3g}"
    )
    if not euclidean or f.dim_in < f.dim_out:
        why = "non-Euclidean output metric" if not euclidean else "K < QN (under-parametrized)"
        return chosen("dense", f"auto: {why}; {summary}")
    kernel_ok = kernel_capable(f) and kernel_b <= budget
    if dense_b <= _SMALL_DENSE_BYTES or (
        dense_b <= budget and not (kernel_ok and ratio >= _KERNEL_FLOP_ADVANTAGE)
    ):
        return chosen("dense", f"auto: D fits; {summary}")
    if kernel_ok:
        return chosen("kernel", f"auto: kernel is cheaper or D does not fit; {summary}")
    if f.has_matrix_free_products:
        return chosen("matrix-free", f"auto: neither D nor Theta fits; {summary}")
    return chosen("dense", f"auto: no other route applies; {summary}")


def factorize(
    f: SmoothMap,
    theta: npt.ArrayLike,
    route: str,
    *,
    rank_policy: RankPolicy | float | None = None,
    memory_budget: int | None = None,
    output_metric: OutputMetricLike | None = None,
) -> JacobianSVD | KernelFactorization | KrylovFactorization:
    """The factorization of D[θ] on a resolved route: JacobianSVD, KernelFactorization or KrylovFactorization.

    All three have ``solve`` (D⁺ rhs), ``project_range``, ``project_row``,
    ``project_kernel``, ``normal_solve``, ``rank``, ``report`` and ``singular_values``.
    With a non-Euclidean ``output_metric`` G = LLᵀ they factor the whitened D̃ = LᵀD
    (dense: the SVD of D̃; kernel: Θ_G = LᵀΘL, no QN×K array); the matrix-free route
    is Euclidean only.
    """
    metric = non_euclidean_metric(output_metric, f.dim_out)
    if route == "dense":
        if metric is None:
            return JacobianSVD(f.jacobian(theta), rank_policy)
        x = None if metric.is_constant else np.asarray(f(theta), dtype=np.float64)
        return JacobianSVD(metric.whiten(f.jacobian(theta), x), rank_policy)
    if route == "kernel":
        # kernel.py builds on this module's checks (choose_route, kernel_capable): import on use
        from subriemann.geometry.kernel import KernelFactorization

        return KernelFactorization(
            f, theta, rank_policy=rank_policy, memory_budget=memory_budget, output_metric=metric
        )
    if metric is not None:
        raise InputError(
            f"route {route!r} implements the Euclidean output metric only; with an output metric "
            "G use route='kernel' or route='dense'"
        )
    if route == "matrix-free":
        from subriemann.geometry.matrix_free import KrylovFactorization

        return KrylovFactorization(f, theta, rank_policy=rank_policy)
    raise InputError(
        f"route must be resolved to one of 'dense', 'kernel', 'matrix-free', got {route!r}"
    )


def non_euclidean_metric(
    output_metric: OutputMetricLike | None, dim_out: int
) -> OutputMetric | None:
    """The resolved output metric G, or None for None / the Euclidean metric.

    geometry.metrics pulls in geomstats: imported only when a metric is given.
    """
    if output_metric is None:
        return None
    from subriemann.geometry.metrics import EuclideanMetric, resolve_output_metric

    metric = resolve_output_metric(output_metric, dim_out)
    return None if isinstance(metric, EuclideanMetric) else metric
