"""Escape (4.15)–(4.17): a perturbation normal to the critical manifold that lowers the cost.

θ′ = θ* + κ V with V a normal vector of M_crit (∇g_α of
:mod:`.critical_manifold`, or the combination of them of most negative cost
curvature) and the sign of κ chosen so that C decreases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from subriemann.diagnostics.critical_manifold import g_functions, hessian_vector_product
from subriemann.errors import InputError, NumericalError, check_int, check_real, check_vector
from subriemann.flows.cost import check_map_and_cost
from subriemann.linalg import JacobianSVD, RankPolicy

if TYPE_CHECKING:
    from subriemann.flows.cost import L2Cost
    from subriemann.maps.smooth import SmoothMap

__all__ = [
    "EscapeReport",
    "escape_perturbation",
]


@dataclass(frozen=True)
class EscapeReport:
    """The perturbed start θ′ = θ* + κV (4.15) and whether it lowers the cost (4.17).

    Attributes
    ----------
    theta_star, theta_prime : ndarray, shape=[K]
    direction : ndarray, shape=[K]
        V: ∇g_α (4.16) or the unit normal vector of most negative curvature.
    method : str
        ``"gradient g_alpha"`` ((4.16) literally) or ``"normal curvature"``.
    alpha : int or None
        The α of (4.16) used (index into ``columns``), None for the curvature direction.
    kappa : float
        Signed κ of (4.15).
    cost_star, cost_prime : float
        C at θ* and at θ′; (4.17) asks cost_prime < cost_star.
    decreased : bool
    gradient_recipe_decreases : bool
        Whether some ∇g_α (4.16), with either sign of κ, lowered the cost.
    normal_curvature : float or None
        Smallest eigenvalue of the Hessian of C̃ on the normal space of M_crit
        (span of the ∇g_α); < 0 means θ* is a saddle across M_crit.
    columns : ndarray of int
        The j_α of the V_α.
    candidates : list of dict
        Every (method, α, κ, cost) tried.
    message : str
    """

    theta_star: np.ndarray
    theta_prime: np.ndarray
    direction: np.ndarray
    method: str
    alpha: int | None
    kappa: float
    cost_star: float
    cost_prime: float
    decreased: bool
    gradient_recipe_decreases: bool
    normal_curvature: float | None
    columns: np.ndarray
    candidates: list[dict[str, Any]]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def escape_perturbation(
    f: SmoothMap,
    cost: L2Cost,
    theta_star: npt.ArrayLike,
    alpha: int | np.integer | None = None,
    kappa: float | None = None,
    method: str = "auto",
    rank_policy: RankPolicy | float | None = None,
    max_step: float | None = None,
    n_steps: int = 12,
) -> EscapeReport:
    """θ′ = θ* + κ V with V normal to M_crit and sign κ so that C decreases. Implements (4.15)–(4.17).

    The normal bundle of M_crit is spanned by the ∇g_α (4.13).  Two choices of V:

    * ``"gradient"`` — V = ∇g_α (4.16), as the paper suggests, for the given
      ``alpha`` or the best of all α.  Since ∇g_α = H e_{j_α} (see
      :mod:`.critical_manifold`), C(θ* + κ∇g_α) − C(θ*) = κ²/2 · e_{j_α}ᵀH³e_{j_α} + O(κ³): this
      lowers C only if the Hessian's negative curvature shows in that column,
      which often fails at saddles (e.g. the saddles of linear networks).
    * ``"curvature"`` — V = the unit vector of the normal space (a combination
      of the ∇g_α, still a section as in (4.15)) along which the Hessian of C̃ is
      most negative: C decreases like λ_min κ²/2 whenever θ* is a saddle
      across M_crit (λ_min < 0).
    * ``"auto"`` — the gradient recipe if some α lowers C, else the curvature one.

    For each direction both signs of κ are tried (4.17); with ``kappa=None``
    also the step lengths |κV| = max_step · 2^{-k}, k < n_steps, keeping the
    lowest cost.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_star : array-like, shape=[K]
        A (non-global) equilibrium, e.g. where a flow stalled.
    alpha : int, optional
        Index of g_α (0-based, into ``columns``) for the gradient recipe.
    kappa : float, optional
        |κ|: for "gradient", θ′ = θ* ± |κ|∇g_α exactly as (4.15)–(4.16);
        for "curvature", the step length (V is a unit vector).
    method : {"auto", "gradient", "curvature"}
    rank_policy : RankPolicy or float or None
        Decides r = rank D[θ*].
    max_step : float, optional
        Largest step length |θ′ − θ*| tried when kappa is None; default
        0.1 · max(1, |θ*|), a local move.
    n_steps : int
        Number of step lengths tried when kappa is None.

    Returns
    -------
    EscapeReport
        With ``decreased=False`` (and the best candidate) when no choice lowers
        C: θ* is then a local minimum across M_crit to second order.
    """
    check_map_and_cost(f, cost)
    star = check_vector(theta_star, f.dim_in, "theta_star")
    if method not in ("auto", "gradient", "curvature"):
        raise InputError(f"method must be 'auto', 'gradient' or 'curvature', got {method!r}")
    kappa = check_real(kappa, "kappa", "its sign is chosen", positive=True, allow_none=True)
    n_steps = check_int(n_steps, "n_steps")
    star = np.array(star, dtype=np.float64)
    g = g_functions(f, cost, star, rank_policy)
    if alpha is not None and not (isinstance(alpha, int | np.integer) and 0 <= alpha < g.r):
        raise InputError(f"alpha must be an integer in [0, r) = [0, {g.r}), got {alpha!r}")
    Jg = g.jacobian(star)
    C_star = float(cost(f(star)))
    if max_step is None:
        max_step = 0.1 * max(1.0, float(np.linalg.norm(star)))
    steps = max_step * 0.5 ** np.arange(n_steps)

    def cost_at(theta):
        value = float(cost(f(theta)))
        if not np.isfinite(value):
            raise NumericalError(
                f"the cost is not finite at a perturbed point (|θ| = {np.linalg.norm(theta):.3g})"
            )
        return value

    candidates = []

    def try_direction(label, a, V, unit_kappa):
        norm = float(np.linalg.norm(V))
        if norm == 0.0:
            return
        if kappa is None:
            magnitudes = steps / norm  # step lengths |κV| = max_step·2^{-k}
        elif unit_kappa:
            magnitudes = [kappa]  # (4.15)-(4.16) literally: θ* ± κ∇g_α
        else:
            magnitudes = [kappa / norm]  # κ is the step length along V/|V|
        for mag in magnitudes:
            for sign in (1.0, -1.0):
                k = sign * float(mag)
                candidates.append(
                    {
                        "method": label,
                        "alpha": a,
                        "kappa": k,
                        "cost": cost_at(star + k * V),
                        "V": V,
                    }
                )

    if method in ("auto", "gradient"):
        alphas = range(g.r) if alpha is None else [int(alpha)]
        for a in alphas:
            try_direction("gradient g_alpha", a, Jg[a], True)
    grad_cands = [c for c in candidates if c["method"] == "gradient g_alpha"]
    gradient_ok = any(c["cost"] < C_star for c in grad_cands)

    # The normal space of M_crit is the row space of ∂g/∂θ; the Hessian of C̃ restricted
    # to it (r Hessian-vector products) says whether θ* is a saddle across M_crit.
    normal_curvature = None
    basis = JacobianSVD(Jg).Vt.T  # (K, rank ∂g/∂θ), orthonormal
    if basis.shape[1]:
        HB = hessian_vector_product(f, cost, star, basis)
        lam, vecs = np.linalg.eigh(0.5 * (basis.T @ HB + HB.T @ basis))
        normal_curvature = float(lam[0])
        if method == "curvature" or (method == "auto" and not gradient_ok):
            try_direction("normal curvature", None, basis @ vecs[:, 0], False)

    if not candidates:
        raise NumericalError(
            "no escape direction: every ∇g_α and the normal space of M_crit vanish at θ*"
        )
    best = min(candidates, key=lambda c: c["cost"])
    decreased = best["cost"] < C_star
    if decreased:
        msg = (
            f"C decreases from {C_star:.6g} to {best['cost']:.6g} along "
            f"{best['method']} (κ = {best['kappa']:.3g}); (4.17) holds"
        )
    else:
        curvature = "n/a" if normal_curvature is None else f"{normal_curvature:.3g}"
        msg = (
            f"no tried κ lowers C = {C_star:.6g} (best {best['cost']:.6g}); smallest normal "
            f"curvature {curvature}: θ* looks like a local minimum across M_crit"
        )
    return EscapeReport(
        theta_star=star,
        theta_prime=star + best["kappa"] * best["V"],
        direction=best["V"],
        method=best["method"],
        alpha=best["alpha"],
        kappa=best["kappa"],
        cost_star=C_star,
        cost_prime=best["cost"],
        decreased=bool(decreased),
        gradient_recipe_decreases=bool(gradient_ok),
        normal_curvature=normal_curvature,
        columns=g.columns,
        candidates=[{k: v for k, v in c.items() if k != "V"} for c in candidates],
        message=msg,
    )
