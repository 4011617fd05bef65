"""The projection onto a fibre f⁻¹(x) along V: minimum-norm Gauss–Newton with chord steps (2.32).

One concept: moving a point θ onto the fibre over a known output x by corrections
δ = D⁺(x − f(θ)), each the minimum-norm solution of Dδ = r (1.23) and therefore
horizontal (in V = range Dᵀ).  The output-exact lifts and vertical curves
(:mod:`subriemann.geometry.lifts`) apply it after every step of the ODE core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.errors import NumericalError

if TYPE_CHECKING:  # hints only: bundles imports the lifts, which import this module
    from subriemann.geometry.bundles import BundleFiber, PullbackBundle

__all__ = ["FibreCorrection", "correct_onto_fibre"]


@dataclass(kw_only=True)
class FibreCorrection:
    """Outcome of :func:`correct_onto_fibre`.

    Attributes
    ----------
    theta : ndarray, shape=[K]
    x : ndarray, shape=[QN]
        f(θ).
    residual : float
        |x_target − f(θ)|.
    iterations : int
        Evaluations of f.
    jacobians : int
        Fresh Jacobians taken (chord steps reuse the one given).
    converged : bool
    reason : str
    """

    theta: np.ndarray
    x: np.ndarray
    residual: float
    iterations: int
    jacobians: int
    converged: bool
    reason: str = ""


def correct_onto_fibre(
    bundle: PullbackBundle,
    theta: npt.ArrayLike,
    x_target: npt.ArrayLike,
    tol: float,
    *,
    fiber: BundleFiber | None = None,
    x: npt.ArrayLike | None = None,
    max_iterations: int = 20,
    refresh: bool = True,
) -> FibreCorrection:
    """Minimum-norm Gauss–Newton onto the fibre f⁻¹(x_target): θ ← θ + D⁺(x_target − f(θ)).

    Implements the projection onto a fibre of (2.32) along V = range Dᵀ: every
    correction D⁺r is the minimum-norm solution of D δ = r (1.23), hence
    horizontal.  The corrections start as chord steps with the Jacobian of
    ``fiber`` (one evaluation of f each, no Jacobian); when one contracts the
    residual by less than 4× the Jacobian is refreshed at the iterate (full
    Gauss–Newton, quadratic near the fibre), unless ``refresh`` is False (pure
    chord: the caller's factorization only, linear convergence at the rate
    ~|θ − θ_fiber|·|d²f|/σ_min).  A residual that grows after the first iterate
    means the iteration left the basin: it stops, not converged.

    Parameters
    ----------
    bundle : PullbackBundle
    theta : array-like, shape=[K]
    x_target : array-like, shape=[QN]
    tol : float
        Stop when |x_target − f(θ)| ≤ tol.
    fiber : BundleFiber, optional
        ``bundle.at(theta)`` if already computed (else it is).
    x : array-like, shape=[QN], optional
        f(θ) if already known.
    max_iterations : int
    refresh : bool
        Take fresh Jacobians when a chord step contracts by less than 4×.

    Returns
    -------
    FibreCorrection
    """
    f = bundle.f
    point = np.array(theta, dtype=np.float64)
    x_target = np.asarray(x_target, dtype=np.float64)
    jacobians = 0
    if fiber is None:
        fiber, jacobians = bundle.at(point), 1
    xc = np.asarray(f(point) if x is None else x, dtype=np.float64)
    residual = x_target - xc
    norm = float(np.linalg.norm(residual))
    previous, chord = norm, True
    for k in range(1, max_iterations + 1):
        if norm <= tol:
            return FibreCorrection(
                theta=point,
                x=xc,
                residual=norm,
                iterations=k - 1,
                jacobians=jacobians,
                converged=True,
            )
        point = point + fiber.horizontal_lift(residual)
        xc = np.asarray(f(point), dtype=np.float64)
        if not np.all(np.isfinite(xc)):
            raise NumericalError("f(theta) is not finite during the fibre correction")
        residual = x_target - xc
        norm = float(np.linalg.norm(residual))
        ratio = norm / previous if previous > 0 else 0.0
        if ratio >= (4.0 if k == 1 else 1.0):
            return FibreCorrection(
                theta=point,
                x=xc,
                residual=norm,
                iterations=k,
                jacobians=jacobians,
                converged=False,
                reason=f"the corrector stalled (|f - x| = {norm:.3g})",
            )
        if chord and refresh and ratio > 0.25:
            chord = False
        if not chord and norm > tol:
            fiber, jacobians = bundle.at(point), jacobians + 1
        previous = norm
    converged = norm <= tol
    return FibreCorrection(
        theta=point,
        x=xc,
        residual=norm,
        iterations=max_iterations,
        jacobians=jacobians,
        converged=converged,
        reason="" if converged else f"no convergence in {max_iterations} iterations",
    )
