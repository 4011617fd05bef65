"""The critical manifold (4.13)–(4.14): the equilibria near a non-global one, and its dimension.

With V_α = r columns of D that span range 𝒫 near θ*, the functions
g_α = (V_α, ∇ₓC) cut out the equilibria; the rank of their Jacobian at θ*
gives the dimension of 𝒫 ∩ g⁻¹(0), compared with K − r (Thm 4.2).

A fact used here and by the escape (:mod:`.escape`): when V_α is the column
j_α of D, then g_α = (∂_{j_α}x, ∇ₓC) = ∂C̃/∂θ_{j_α}, a component of the
parameter gradient (1.18); its gradient is the Hessian column ∇g_α = H e_{j_α}
with H = DᵀD/N + Σ_a (∇ₓC)_a ∇²x_a, which the closed-form second derivatives of
the map (``hessian_vector_products``) give exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from subriemann.diagnostics.equilibria import EquilibriumReport, classify_point
from subriemann.errors import InputError, check_int, check_real, check_vector
from subriemann.flows.cost import check_map_and_cost
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, resolve_policy
from subriemann.maps.smooth import SmoothMap

if TYPE_CHECKING:
    from subriemann.flows.cost import L2Cost

__all__ = [
    "hessian_vector_product",
    "CriticalFunctions",
    "g_functions",
    "CriticalManifoldReport",
    "critical_manifold_dimension",
]


def hessian_vector_product(
    f: SmoothMap, cost: L2Cost, theta: npt.ArrayLike, v: npt.ArrayLike
) -> np.ndarray:
    """H v for the Hessian H of C̃(θ) = C(x[θ]): one vector (K,) or the columns of a (K, n) array.

    H v = Dᵀ D v / N + (∂_v D)ᵀ ∇ₓC, with (∂_v D)ᵀ∇ₓC = H_{∇ₓC} v from the
    map's ``hessian_vector_products``: the Gauss–Newton part plus the curvature
    of the network weighted by the residual.  No Hessian is formed, and the
    columns of a (K, n) array share one second-derivative call.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta : array-like, shape=[K]
    v : array-like, shape=[K] or [K, n]

    Returns
    -------
    ndarray, shape=[K] or [K, n]
    """
    check_map_and_cost(f, cost)
    vectors = np.asarray(v, dtype=np.float64)
    x, D = f.value_and_jacobian(theta)
    V = vectors[:, None] if vectors.ndim == 1 else vectors
    HV = f.hessian_vector_products(theta, V, cost.grad(x)[:, None])[:, 0].T + D.T @ (D @ V) / cost.N
    return HV[:, 0] if vectors.ndim == 1 else HV


class CriticalFunctions(SmoothMap):
    """The functions g = (g_1, ..., g_r) : R^K → R^r of (4.13), as a smooth map.

    g_α[θ] = (V_α[θ], ∇ₓC[x[θ]]) with V_α[θ] = ∂x/∂θ_{j_α}[θ], the columns
    j_1 < ... < j_r of D fixed once at a reference point θ_ref (where they span
    range 𝒫, rank 𝒫 = r); by continuity they keep spanning range 𝒫 near θ_ref
    while the rank stays r.  Then g_α = ∂C̃/∂θ_{j_α} and the equilibria near
    θ_ref are M_crit = ∩_α g_α⁻¹(0) (4.14).

    Attributes
    ----------
    columns : ndarray of int, shape=[r]
        j_α, chosen by QR with column pivoting at θ_ref.
    r : int
    theta_ref : ndarray, shape=[K]
    rank_report : RankReport
        The rank decision on D[θ_ref].

    Notes
    -----
    ``jacobian`` is exact: row α is ∇g_α = (∂_{j_α}D)ᵀ∇ₓC + Dᵀ D e_{j_α}/N
    = H e_{j_α}, a column of the Hessian of C̃, all r of them from one call of
    ``f.hessian_vector_products`` (by symmetry of second derivatives,
    ∂_k V_α = ∂_{j_α}(∂_k x)).
    """

    def __init__(
        self,
        f: SmoothMap,
        cost: L2Cost,
        columns: npt.ArrayLike,
        theta_ref: npt.ArrayLike,
        rank_report: RankReport,
    ):
        check_map_and_cost(f, cost)
        self.f, self.cost = f, cost
        self.columns = np.asarray(columns, dtype=np.intp)
        self.theta_ref = np.array(theta_ref, dtype=np.float64)
        self.rank_report = rank_report
        if self.columns.size == 0:
            raise InputError("rank D = 0 at theta_ref: there are no functions g_α (4.13) to define")
        super().__init__(f.dim_in, int(self.columns.size))

    @property
    def r(self) -> int:
        return self.dim_out

    def _value(self, theta):
        grad_x = self.cost.grad(self.f(theta))
        return self.f.vjp(theta, grad_x)[self.columns]

    def _jacobian(self, theta):
        x, D = self.f.value_and_jacobian(theta)
        grad_x = self.cost.grad(x)
        # rows H e_{j_α}: the curvature parts (∂_{j_α}D)ᵀ∇ₓC of all α in one call
        E = np.zeros((self.dim_in, self.r))
        E[self.columns, np.arange(self.r)] = 1.0
        curvature = self.f.hessian_vector_products(theta, E, grad_x[:, None])[:, 0]
        return curvature + (D[:, self.columns].T @ D) / self.cost.N

    def __repr__(self) -> str:
        return f"CriticalFunctions(K={self.dim_in}, r={self.r}, columns={self.columns.tolist()})"


def g_functions(
    f: SmoothMap,
    cost: L2Cost,
    theta_ref: npt.ArrayLike,
    rank_policy: RankPolicy | float | None = None,
) -> CriticalFunctions:
    """The functions g_α of (4.13) near θ_ref, with V_α = r independent columns of D.

    Implements (4.13): g_α[θ] = (V_α[θ], 𝒫∇ₓC) = (V_α[θ], ∇ₓC), α = 1..r,
    r = rank D[θ_ref] = rank 𝒫, with V_α the columns of D picked by QR with
    column pivoting at θ_ref (the paper's "r-tuple of column vectors of D").

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_ref : array-like, shape=[K]
    rank_policy : RankPolicy or float or None
        Decides r.

    Returns
    -------
    CriticalFunctions
        A SmoothMap R^K → R^r: ``g(θ)`` (r,), ``g.jacobian(θ)`` (r, K).
    """
    check_map_and_cost(f, cost)
    theta = check_vector(theta_ref, f.dim_in, "theta_ref")
    svd = JacobianSVD(f.jacobian(theta), rank_policy)
    return CriticalFunctions(f, cost, svd.independent_columns(), theta, svd.report)


@dataclass(frozen=True)
class CriticalManifoldReport:
    """Dimension of the critical set (4.14) at θ*, measured and predicted.

    Attributes
    ----------
    K, QN, r : int
        r = rank D[θ*] = rank 𝒫.
    predicted_dimension : int
        K − r (Thm 4.2).
    dimension : int
        K − rank ∂g/∂θ at θ*: the dimension of ∩ g_α⁻¹(0) near θ* when θ*
        is a regular point of g (4.14).
    jacobian_rank : RankReport
        The rank decision on ∂g/∂θ (r × K).
    agrees : bool
        dimension == predicted_dimension.
    g_norm : float
        |g(θ*)| / (|∇ₓC| · max_α |V_α|): 0 on M_crit (θ* is an equilibrium).
    fiber_defect : float
        |∂g/∂θ (1 − P)|₂ / |∂g/∂θ|₂, with 1 − P the projector onto ker D.
    fiber_tangent : bool
        ker D ⊆ ker ∂g/∂θ (fiber_defect ≤ max(1e3·eps, 10·tol)): the fiber
        x⁻¹(x[θ*]) is tangent to M_crit, as it must be when the rank is
        locally constant (range D, hence the equilibrium condition, is then
        the same along the fiber).
    nearby_ranks : list of int
        rank D at ``n_probes`` random points at distance δ from θ*.
    rank_locally_constant : bool
        All nearby ranks equal r: the hypothesis of Thm 4.2 (rank 𝒫 = r on an
        open U ∋ θ*).  When False, M_crit is smaller than the level set
        (4.14): the other columns of D are not combinations of the V_α off θ*.
    equilibrium : EquilibriumReport
    """

    K: int
    QN: int
    r: int
    predicted_dimension: int
    dimension: int
    jacobian_rank: RankReport
    agrees: bool
    g_norm: float
    fiber_defect: float
    fiber_tangent: bool
    nearby_ranks: list[int] = field(default_factory=list)
    rank_locally_constant: bool = True
    equilibrium: EquilibriumReport | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["jacobian_rank"] = self.jacobian_rank.as_dict()
        out["equilibrium"] = None if self.equilibrium is None else self.equilibrium.as_dict()
        return out


def critical_manifold_dimension(
    f: SmoothMap,
    cost: L2Cost,
    theta_star: npt.ArrayLike,
    rank_policy: RankPolicy | float | None = None,
    jacobian_rank_policy: RankPolicy | float | None = None,
    n_probes: int = 4,
    probe_scale: float = 1e-4,
    seed: int | np.random.SeedSequence = 0,
    tol: float = 1e-8,
) -> CriticalManifoldReport:
    """K − rank ∂(g_1..g_r)/∂θ at θ*, against K − r of Thm 4.2. Implements (4.14).

    The equilibria near θ* are M_crit = ∩_α g_α⁻¹(0) (4.14); if θ* is a
    regular point of g = (g_1..g_r), M_crit is a submanifold of dimension
    K − rank ∂g/∂θ, which Thm 4.2 predicts to be K − r generically.  The report
    also probes the hypothesis of Thm 4.2, that rank 𝒫 = r on a neighbourhood
    of θ*, by the rank of D at a few random points at distance
    δ = probe_scale · max(1, |θ*|) (a rank jump there is far above round-off:
    its singular values are O(δ)).

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_star : array-like, shape=[K]
        Preferably an equilibrium (see ``report.equilibrium``).
    rank_policy : RankPolicy or float or None
        Decides r = rank D.
    jacobian_rank_policy : RankPolicy or float or None
        Decides rank ∂g/∂θ (default: the same rule as numpy's matrix_rank).
    n_probes : int
        Random points for the constant-rank check (0 disables it).
    probe_scale : float
        δ relative to max(1, |θ*|).
    seed : int or SeedSequence
        For the probe directions.
    tol : float
        Passed to :func:`classify_point`.

    Returns
    -------
    CriticalManifoldReport
    """
    check_map_and_cost(f, cost)
    theta = check_vector(theta_star, f.dim_in, "theta_star")
    n_probes = check_int(n_probes, "n_probes", minimum=0)
    probe_scale = check_real(probe_scale, "probe_scale", positive=True, below=1)
    eq = classify_point(f, cost, theta, tol=tol, rank_policy=rank_policy)
    g = g_functions(f, cost, theta, rank_policy)
    D = f.jacobian(theta)
    svd_D = JacobianSVD(D, rank_policy)
    Jg = g.jacobian(theta)
    svd_J = JacobianSVD(Jg, resolve_policy(jacobian_rank_policy))
    K, r = f.dim_in, g.r
    grad_x = cost.grad(f(theta))
    col_scale = float(np.max(np.linalg.norm(D[:, g.columns], axis=0)))
    denom = float(np.linalg.norm(grad_x)) * col_scale
    g_norm = float(np.linalg.norm(g(theta))) / denom if denom > 0 else 0.0
    # ker D ⊆ ker Jg: Jg (1 − P) = 0 up to the O(tol) error an approximate equilibrium leaves
    jnorm = svd_J.report.sigma_max
    fiber_defect = (
        float(np.linalg.norm(Jg @ svd_D.kernel_projector(), 2)) / jnorm if jnorm > 0 else 0.0
    )
    fiber_tangent = fiber_defect <= max(1e3 * np.finfo(float).eps, 10.0 * tol)
    rng = np.random.default_rng(seed)
    delta = probe_scale * max(1.0, float(np.linalg.norm(theta)))
    nearby = []
    for _ in range(n_probes):
        u = rng.normal(size=K)
        u *= delta / np.linalg.norm(u)
        nearby.append(JacobianSVD(f.jacobian(theta + u), rank_policy).rank)
    dim = K - svd_J.rank
    return CriticalManifoldReport(
        K=K,
        QN=f.dim_out,
        r=r,
        predicted_dimension=K - r,
        dimension=dim,
        jacobian_rank=svd_J.report,
        agrees=dim == K - r,
        g_norm=g_norm,
        fiber_defect=fiber_defect,
        fiber_tangent=fiber_tangent,
        nearby_ranks=nearby,
        rank_locally_constant=all(k == r for k in nearby),
        equilibrium=eq,
    )
