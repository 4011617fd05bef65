"""Closed output loops and the holonomy record of their lifts: SquareLoop, BundleHolonomy (§2.4).

One concept: the data of a holonomy measurement.  :func:`square_loop` is the
square x0 → x0 + εe_a → + εe_b → − εe_a → − εe_b whose horizontal lift is the
commutator loop of the frame fields u_a, u_b = Pen[D]e_a, e_b, so its holonomy is
ε²[u_a, u_b](θ0) + O(ε³); :class:`BundleHolonomy` is what
:func:`subriemann.geometry.lifts.holonomy` returns (the displacement split along V
and ker D at θ0, the output closure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, check_array, check_int, check_real
from subriemann.geometry.bundle_curves import BundleCurve

__all__ = ["SquareLoop", "square_loop", "BundleHolonomy"]


@dataclass(kw_only=True)
class SquareLoop:
    """The square output loop x0 → x0 + εe_a → + εe_b → − εe_a → − εe_b, at unit speed.

    Callable (t ↦ x(t), shape=[QN]); ``derivative(t)`` the velocity; ``t_end`` = 4ε;
    ``breakpoints`` its corners.  Its lift is the commutator loop of u_a, u_b = Pen[D]e_a, e_b.
    """

    x0: np.ndarray
    a: int
    b: int
    eps: float

    @property
    def t_end(self) -> float:
        return 4 * self.eps

    @property
    def breakpoints(self) -> tuple[float, float, float]:
        return (self.eps, 2 * self.eps, 3 * self.eps)

    def _legs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        e_a = np.zeros_like(self.x0)
        e_b = np.zeros_like(self.x0)
        e_a[self.a], e_b[self.b] = 1.0, 1.0
        return (e_a, e_b, -e_a, -e_b)

    def __call__(self, t: float) -> np.ndarray:
        x, left = np.array(self.x0), float(t)
        for leg in self._legs():
            step = min(max(left, 0.0), self.eps)
            x = x + step * leg
            left -= self.eps
        return x

    def derivative(self, t: float) -> np.ndarray:
        k = min(int(float(t) // self.eps), 3) if t < self.t_end else 3
        return self._legs()[k]


def square_loop(x0: npt.ArrayLike, a: int, b: int, eps: float) -> SquareLoop:
    """The square loop of side ε in the output directions e_a, e_b, starting at x0."""
    x0 = np.array(check_array(x0, "x0", ndim=1), dtype=np.float64)
    a = check_int(a, "a", "an output direction", minimum=0)
    b = check_int(b, "b", "an output direction", minimum=0)
    if a >= x0.shape[0] or b >= x0.shape[0] or a == b:
        raise InputError(
            f"a, b must be two different output indices < QN = {x0.shape[0]}, got {a}, {b}"
        )
    eps = check_real(eps, "eps", "the side ε of the loop", positive=True)
    return SquareLoop(x0=x0, a=a, b=b, eps=eps)


@dataclass(kw_only=True)
class BundleHolonomy:
    """θ(T) − θ(0) along the lift of a closed output loop, split along V and ker D at θ0.

    Attributes
    ----------
    displacement : ndarray, shape=[K]
    vertical : ndarray, shape=[K]
        (1 − P(θ0)) displacement, in ker D (along the fibre (2.32)).
    horizontal : ndarray, shape=[K]
        P(θ0) displacement (second order smaller for small loops).
    closure_error : float
        |f(θ(T)) − x(0)| / max(|x(0)|, 1): the output closes.
    loop_gap : float
        |x(T) − x(0)| of the given loop (≤ the closure tolerance).
    lift : BundleCurve
    """

    displacement: np.ndarray
    vertical: np.ndarray
    horizontal: np.ndarray
    closure_error: float
    loop_gap: float
    lift: BundleCurve

    def as_dict(self) -> dict:
        return {
            "displacement": self.displacement.tolist(),
            "vertical_norm": float(np.linalg.norm(self.vertical)),
            "horizontal_norm": float(np.linalg.norm(self.horizontal)),
            "closure_error": self.closure_error,
            "loop_gap": self.loop_gap,
            "max_closure": self.lift.max_closure,
            "status": str(self.lift.status),
        }
