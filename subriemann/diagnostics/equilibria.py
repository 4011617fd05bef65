"""Equilibria (Lemma 3.2, Thm 4.2): global minimizers, non-global equilibria, and neither.

A point with Dᵀ∇ₓC = 0 is a global minimizer (∇ₓC = 0) or a non-global
equilibrium, which needs rank D < QN and ∇ₓC ∈ ker Dᵀ (3.10).
:func:`classify_point` decides and checks (3.10); the three answers are the
constants :data:`GLOBAL_MINIMIZER`, :data:`NON_GLOBAL_EQUILIBRIUM` and
:data:`NOT_AN_EQUILIBRIUM` (the ``kind`` of an :class:`EquilibriumReport`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import check_real, check_vector
from subriemann.flows.cost import check_map_and_cost
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport

if TYPE_CHECKING:
    from subriemann.flows.cost import L2Cost
    from subriemann.maps.smooth import SmoothMap

__all__ = [
    "EquilibriumReport",
    "classify_point",
]

GLOBAL_MINIMIZER = "global minimizer"
NON_GLOBAL_EQUILIBRIUM = "non-global equilibrium"
NOT_AN_EQUILIBRIUM = "not an equilibrium"


@dataclass(frozen=True)
class EquilibriumReport:
    """What a point θ is for the flows (3.7)/(4.5), with the evidence.

    Attributes
    ----------
    kind : str
        ``"global minimizer"`` (∇ₓC ≈ 0), ``"non-global equilibrium"``
        (Dᵀ∇ₓC ≈ 0, ∇ₓC ≠ 0) or ``"not an equilibrium"``.
    cost : float
        C(x[θ]).
    residual : float
        |x[θ] − y_ω| / max(1, |y_ω|), the global-minimizer test quantity.
    stationarity : float
        |Dᵀ∇ₓC| / (σ_max(D) |∇ₓC|) ∈ [0, 1]: ε(θ) (3.4) in units of its
        largest possible value; 0 exactly at an equilibrium.
    rank : RankReport
        The rank decision on D[θ].
    QN : int
    rank_deficient : bool
        rank D < QN, the first condition of (3.10).
    kernel_residual : float
        |𝒫∇ₓC| / |∇ₓC|: 0 iff ∇ₓC ∈ ker Dᵀ = (range D)^⊥, the second
        condition of (3.10).
    in_kernel : bool
        kernel_residual ≤ tol · cond(D) (the precision ``tol`` on the
        stationarity allows, since |Dᵀw| ≥ σ_min_kept |𝒫w|).
    tol : float
    trapping_like : bool
        Stationary to ``tol`` although (3.10) fails: an approximate
        equilibrium of Prop. 3.1 type (a trapping region), not a true one.
    message : str
    """

    kind: str
    cost: float
    residual: float
    stationarity: float
    rank: RankReport
    QN: int
    rank_deficient: bool
    kernel_residual: float
    in_kernel: bool
    tol: float
    trapping_like: bool
    message: str

    @property
    def is_equilibrium(self) -> bool:
        return self.kind != NOT_AN_EQUILIBRIUM

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["rank"] = self.rank.as_dict()
        out["is_equilibrium"] = self.is_equilibrium
        return out


def classify_point(
    f: SmoothMap,
    cost: L2Cost,
    theta: npt.ArrayLike,
    tol: float = 1e-8,
    rank_policy: RankPolicy | float | None = None,
) -> EquilibriumReport:
    """Classify θ as global minimizer, non-global equilibrium or neither; check (3.10).

    Implements Lemma 3.2 and the first part of Thm 4.2: θ* is an equilibrium of
    the standard flow (3.7) (equivalently of the adapted flow (4.5)) iff
    Dᵀ∇ₓC = 0; it is a global minimizer iff ∇ₓC = 0 (3.8); otherwise
    rank D < QN and ∇ₓC ∈ ker Dᵀ (3.10) must hold, and are checked.

    Tolerances (all relative, so that they do not depend on the scale of the
    data or of the network):

    * global minimizer: |x − y_ω| ≤ tol · max(1, |y_ω|);
    * equilibrium: |Dᵀ∇ₓC| ≤ tol · σ_max(D) · |∇ₓC|;
    * ∇ₓC ∈ ker Dᵀ: |𝒫∇ₓC| ≤ tol · cond(D) · |∇ₓC| (what the previous
      test implies, as |Dᵀw| ≥ σ_min_kept |𝒫w|);
    * rank D: by ``rank_policy`` (default: numpy's matrix_rank rule).

    The default tol = 1e-8 is far above the round-off of a float64 product
    Dᵀw (~ K·eps ≈ 1e-13) and leaves room for equilibria located by an
    iterative method; pass a smaller one for constructed points.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta : array-like, shape=[K]
    tol : float in (0, 1)
    rank_policy : RankPolicy or float or None

    Returns
    -------
    EquilibriumReport
    """
    check_map_and_cost(f, cost)
    point = check_vector(theta, f.dim_in, "theta")
    tol = check_real(tol, "tol", positive=True, below=1)
    x, D = f.value_and_jacobian(point)
    svd = JacobianSVD(D, rank_policy)
    grad_x = cost.grad(x)
    gnorm = float(np.linalg.norm(grad_x))
    y_scale = max(1.0, float(np.linalg.norm(cost.target)))
    residual = gnorm * cost.N / y_scale
    C = float(cost(x))
    rep = svd.report
    QN = f.dim_out
    if residual <= tol:
        return EquilibriumReport(
            GLOBAL_MINIMIZER,
            C,
            residual,
            0.0,
            rep,
            QN,
            rep.rank < QN,
            0.0,
            True,
            tol,
            False,
            f"x[θ] = y_ω to {residual:.2e} (relative): a global minimizer of C (3.8)",
        )
    grad_theta = D.T @ grad_x
    stationarity = (
        float(np.linalg.norm(grad_theta)) / (rep.sigma_max * gnorm) if rep.sigma_max > 0 else 0.0
    )
    kernel_residual = float(np.linalg.norm(svd.project_range(grad_x))) / gnorm
    cond = rep.condition_number if rep.rank else 1.0
    in_kernel = kernel_residual <= tol * cond
    rank_deficient = rep.rank < QN
    stationary = stationarity <= tol
    if stationary and rank_deficient and in_kernel:
        kind, trapping_like = NON_GLOBAL_EQUILIBRIUM, False
        msg = (
            f"Dᵀ∇ₓC = 0 to {stationarity:.2e} while C = {C:.6g} > 0; as Lemma 3.2 requires, "
            f"rank D = {rep.rank} < QN = {QN} and |𝒫∇ₓC|/|∇ₓC| = {kernel_residual:.2e} (3.10)"
        )
    elif stationary:
        kind, trapping_like = NOT_AN_EQUILIBRIUM, True
        why = (
            f"rank D = {rep.rank} = QN" if not rank_deficient else "∇ₓC is not in ker Dᵀ"
        ) + f" (σ_min = {rep.sigma_min:.3g}, |𝒫∇ₓC|/|∇ₓC| = {kernel_residual:.2e})"
        msg = (
            f"|Dᵀ∇ₓC| is small ({stationarity:.2e} relative) but (3.10) fails: {why}; "
            "an approximate equilibrium, i.e. a trapping region of Prop. 3.1, not a true one"
        )
    else:
        kind, trapping_like = NOT_AN_EQUILIBRIUM, False
        msg = f"Dᵀ∇ₓC ≠ 0 ({stationarity:.2e} relative > tol = {tol:g}): the flows move"
    return EquilibriumReport(
        kind,
        C,
        residual,
        stationarity,
        rep,
        QN,
        rank_deficient,
        kernel_residual,
        in_kernel,
        tol,
        trapping_like,
        msg,
    )
