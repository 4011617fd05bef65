"""Commutator-loop holonomy: the second numerical route to the Frobenius verdict (2.31).

One concept: follow X_i, X_j, −X_i, −X_j for a time ε each (horizontal curves of
:mod:`.curves`) and measure how far from q0 the loop ends,

    q(4ε) − q0 = ε²[X_i, X_j](q0) + O(ε³)

(the flows of X_i and X_j commute iff [X_i, X_j] = 0; the brackets' route is
:func:`~subriemann.distributions.lie_bracket`).  Where the bracket is transverse to
Δ the gap is of order 2 and Δ is not integrable; where Δ is involutive at q0 its
transverse part is of higher order (3 on Martinet's singular surface, where
[X, Y] = 0 but [X, [X, Y]] ≠ 0; ≥ 4 for an integrable Δ, whose loops stay on the leaf).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, NumericalError, check_int, check_real
from subriemann.integrate import Status
from subriemann.linalg import JacobianSVD
from subriemann.subriemannian.curves import check_point, frame_width, horizontal_curve

if TYPE_CHECKING:
    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = ["HolonomyReport", "loop_displacement", "holonomy_test", "fitted_order"]

_EPS = float(np.finfo(np.float64).eps)
#: default ε of :func:`holonomy_test`: halvings, so the fitted order is a clean log₂ ratio
DEFAULT_EPS = (0.2, 0.1, 0.05, 0.025)


def _check_pair(dist: Distribution, q0: np.ndarray, i: int, j: int) -> tuple[int, int]:
    r = frame_width(dist, q0)
    i = check_int(i, "i", "index of a frame column", minimum=0)
    j = check_int(j, "j", "index of a frame column", minimum=0)
    if i >= r or j >= r:
        raise InputError(
            f"frame indices i, j must be < r = {r} (the frame's columns), got {i}, {j}"
        )
    return i, j


def loop_displacement(
    dist: Distribution,
    q0: npt.ArrayLike,
    i: int,
    j: int,
    eps: float,
    *,
    rtol: float = 1e-12,
    atol: float = 1e-14,
    method: str = "dopri5",
) -> np.ndarray:
    """q(4ε) − q0 for the commutator loop e^{εX_i}, e^{εX_j}, e^{−εX_i}, e^{−εX_j} (in this order).

    Implements the holonomy form of the Frobenius condition (2.31): the gap is
    ε²[X_i, X_j](q0) + O(ε³), with [X, Y] = DY·X − DX·Y (the convention of
    :func:`~subriemann.distributions.lie_bracket`).  For a step-2 nilpotent
    frame (Heisenberg) the gap is exactly ε²[X_i, X_j].

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    i, j : int
        Frame columns.
    eps : float
        ε > 0, the time spent on each leg.
    rtol, atol : float
        Tolerances of the core (tighter than the curves' default: the gap is
        ε² small against |q0|).

    Returns
    -------
    gap : ndarray, shape=[dim]
    """
    q0 = check_point(dist, q0)
    i, j = _check_pair(dist, q0, i, j)
    eps = check_real(eps, "eps", "the time ε on each leg of the loop", positive=True)
    r = frame_width(dist, q0)
    legs = np.zeros((4, r))
    legs[0, i], legs[1, j], legs[2, i], legs[3, j] = 1.0, 1.0, -1.0, -1.0
    curve = horizontal_curve(dist, q0, legs, 4 * eps, rtol=rtol, atol=atol, method=method)
    if curve.status != Status.COMPLETED:
        raise NumericalError(
            f"the commutator loop ({i}, {j}) at eps = {eps:g} failed: {curve.message}"
        )
    return curve.end - q0


def fitted_order(eps: npt.ArrayLike, gaps: npt.ArrayLike, floor: float = 0.0) -> float:
    """Least-squares slope of log|gap| against log ε over the gaps above ``floor``.

    Returns ``inf`` when fewer than two gaps exceed the floor (a gap that is 0
    to round-off has no finite order).
    """
    eps = np.asarray(eps, dtype=np.float64)
    gaps = np.asarray(gaps, dtype=np.float64)
    keep = gaps > floor
    if np.count_nonzero(keep) < 2:
        return math.inf
    return float(np.polyfit(np.log(eps[keep]), np.log(gaps[keep]), 1)[0])


@dataclass(kw_only=True)
class HolonomyReport:
    """Loop displacements for all frame pairs at several ε: the holonomy route to Frobenius (2.31).

    Attributes
    ----------
    point : ndarray, shape=[dim]
    eps : ndarray, shape=[m]
        Decreasing ε.
    pairs : list of (i, j)
    gaps : ndarray, shape=[n_pairs, m, dim]
        q(4ε) − q0.
    transverse : ndarray, shape=[n_pairs, m]
        |Π^⊥ gap|: the part of the gap off Δ_{q0} (Euclidean complement).
    brackets : ndarray, shape=[n_pairs, dim]
        [X_i, X_j](q0) from ``dist.frame_brackets``.
    extrapolated : ndarray, shape=[n_pairs, dim]
        lim gap/ε² from the two smallest ε (linear in ε: gap/ε² = B + εC + O(ε²)).
    orders : ndarray, shape=[n_pairs]
        Fitted order of |Π^⊥ gap| in ε (2: bracket transverse; ≥ 3: Δ involutive
        at q0; inf: 0 to round-off).
    order_total : ndarray, shape=[n_pairs]
        Fitted order of |gap| itself.
    bracket_error : ndarray, shape=[n_pairs]
        |extrapolated − bracket| / max(|bracket|, floor).
    floor : float
        Round-off/tolerance floor of a gap (below it a gap counts as 0).
    """

    point: np.ndarray
    eps: np.ndarray
    pairs: list[tuple[int, int]]
    gaps: np.ndarray
    transverse: np.ndarray
    brackets: np.ndarray
    extrapolated: np.ndarray
    orders: np.ndarray
    order_total: np.ndarray
    bracket_error: np.ndarray
    floor: float

    @property
    def is_involutive(self) -> bool:
        """Every transverse gap is of order > 2.5 (or 0): Δ is involutive at the point."""
        return bool(np.all(self.orders > 2.5))

    def rows(self) -> list[dict]:
        """One row per (pair, ε): ε, |gap|, |gap|/ε², |Π^⊥gap|, and the pair's order and agreement."""
        out = []
        for p, (i, j) in enumerate(self.pairs):
            for k, e in enumerate(self.eps):
                g = float(np.linalg.norm(self.gaps[p, k]))
                out.append(
                    {
                        "pair": [i, j],
                        "eps": float(e),
                        "gap": g,
                        "gap_over_eps2": g / e**2,
                        "transverse": float(self.transverse[p, k]),
                        "order": float(self.orders[p]),
                        "bracket_norm": float(np.linalg.norm(self.brackets[p])),
                        "bracket_error": float(self.bracket_error[p]),
                    }
                )
        return out

    def as_dict(self) -> dict:
        return {
            "point": self.point.tolist(),
            "eps": self.eps.tolist(),
            "pairs": [list(p) for p in self.pairs],
            "gaps": self.gaps.tolist(),
            "transverse": self.transverse.tolist(),
            "brackets": self.brackets.tolist(),
            "extrapolated": self.extrapolated.tolist(),
            "orders": [float(o) for o in self.orders],
            "order_total": [float(o) for o in self.order_total],
            "bracket_error": [float(e) for e in self.bracket_error],
            "floor": self.floor,
            "is_involutive": self.is_involutive,
            "rows": self.rows(),
        }


def holonomy_test(
    dist: Distribution,
    q0: npt.ArrayLike,
    eps: npt.ArrayLike = DEFAULT_EPS,
    *,
    pairs: Iterable[Sequence[int]] | None = None,
    rtol: float = 1e-12,
    atol: float = 1e-14,
) -> HolonomyReport:
    """Commutator-loop displacements for every frame pair at several ε, fitted orders, brackets.

    Implements a second, independent numerical route to the Frobenius verdict
    (2.31): the transverse part of the gap is ε²Π^⊥[X_i, X_j](q0) + O(ε³), so
    its fitted order is 2 where a bracket leaves Δ and higher where Δ is
    involutive at q0.  The gaps are also compared with the frame's brackets:
    gap/ε² = [X_i, X_j](q0) + ε·C + O(ε²), extrapolated linearly from the two
    smallest ε.

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    eps : sequence of float
        At least two distinct ε > 0 (sorted decreasing in the report).
    pairs : sequence of (i, j), optional
        Default: all i < j.
    rtol, atol : float
        Tolerances of the loops.

    Returns
    -------
    HolonomyReport
    """
    q0 = check_point(dist, q0)
    try:
        eps_list = [float(e) for e in np.atleast_1d(np.asarray(eps, dtype=object))]
    except (TypeError, ValueError) as exc:
        raise InputError(f"eps must be a sequence of numbers > 0, got {eps!r}") from exc
    eps_arr = np.array(sorted({check_real(e, "eps", positive=True) for e in eps_list})[::-1])
    if eps_arr.size < 2:
        raise InputError(f"eps needs at least two distinct values > 0 to fit an order, got {eps!r}")
    r = frame_width(dist, q0)
    if pairs is None:
        pairs = [(i, j) for i in range(r) for j in range(i + 1, r)]
    checked = [_check_pair(dist, q0, i, j) for i, j in pairs]
    if not checked:
        raise InputError(f"the frame has r = {r} column(s): no pair (i, j) to loop around")
    F = np.asarray(dist.frame(q0), dtype=np.float64)
    span = JacobianSVD(F, dist.rank_policy)
    B_all = np.asarray(dist.frame_brackets(q0), dtype=np.float64)
    # a loop's endpoint carries the core's tolerance per leg, and |q| rounds at eps·|q|
    scale = max(1.0, float(np.max(np.abs(q0))))
    floor = 100.0 * (atol + rtol * scale) + 100.0 * _EPS * scale
    gaps = np.array(
        [
            [loop_displacement(dist, q0, i, j, e, rtol=rtol, atol=atol) for e in eps_arr]
            for i, j in checked
        ]
    )
    transverse = np.linalg.norm(
        gaps - span.project_range(gaps.reshape(-1, dist.dim).T).T.reshape(gaps.shape), axis=-1
    )
    brackets = np.array([B_all[i, j] for i, j in checked])
    e1, e2 = eps_arr[-1], eps_arr[-2]
    r1 = gaps[:, -1] / e1**2
    r2 = gaps[:, -2] / e2**2
    extrapolated = (e2 * r1 - e1 * r2) / (e2 - e1)
    bnorm = np.linalg.norm(brackets, axis=-1)
    bracket_error = np.linalg.norm(extrapolated - brackets, axis=-1) / np.maximum(
        bnorm, floor / e1**2
    )
    orders = np.array([fitted_order(eps_arr, t, floor) for t in transverse])
    order_total = np.array([fitted_order(eps_arr, np.linalg.norm(g, axis=-1), floor) for g in gaps])
    return HolonomyReport(
        point=q0,
        eps=eps_arr,
        pairs=checked,
        gaps=gaps,
        transverse=transverse,
        brackets=brackets,
        extrapolated=extrapolated,
        orders=orders,
        order_total=order_total,
        bracket_error=bracket_error,
        floor=floor,
    )
