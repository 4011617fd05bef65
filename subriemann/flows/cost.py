"""The L² cost of the output layer, (1.7), and its Euclidean gradient (1.20)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import getval

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_result,
    check_vector,
)
from subriemann.maps.smooth import check_map

if TYPE_CHECKING:
    from subriemann.maps.data import TrainingData

__all__ = ["L2Cost", "check_map_and_cost"]


class L2Cost:
    """C[x] = |x − y_ω|² / (2N) on R^{QN}. Implements (1.7).

    Parameters
    ----------
    target : array-like, shape=[QN]
        y_ω stacked sample-major (``TrainingData.target``).
    n_samples : int
        N, the number of training inputs (the 1/(2N) normalisation).
    """

    def __init__(self, target: npt.ArrayLike, n_samples: int):
        if np.ndim(target) == 2:  # (N, Q) targets: say how to stack them
            raise ShapeError(
                f"target must be 1-D, the targets stacked sample-major (QN,), got shape "
                f"{np.shape(target)}: pass target.reshape(-1)"
            )
        target = check_array(target, "target", ndim=1)
        n_samples = check_int(n_samples, "n_samples", "the number of samples N")
        if target.shape[0] == 0 or target.shape[0] % n_samples:
            raise InputError(
                f"target has length {target.shape[0]}, which is not Q*N for N = {n_samples}; "
                "expected y_ω stacked sample-major with Q >= 1 entries per sample"
            )
        self.target = np.array(target, dtype=np.float64)
        self.N = int(n_samples)
        self.dim = self.target.shape[0]

    @classmethod
    def from_data(cls, data: TrainingData) -> L2Cost:
        """The cost of a :class:`~subriemann.maps.data.TrainingData`."""
        return cls(data.target, data.N)

    def residual(self, x: npt.ArrayLike) -> np.ndarray:
        """x − y_ω, shape ``(QN,)``."""
        x = check_vector(x, self.dim, "x")
        return self._finite(x - self.target, x, "the residual x - y_ω")

    def __call__(self, x: npt.ArrayLike) -> float:
        """C[x], a float. Implements (1.7).

        Raises
        ------
        NumericalError
            C[x] overflows (|x − y_ω|² beyond float64, e.g. x ~ 1e200); inf is
            never returned.
        """
        x = check_vector(x, self.dim, "x")
        r = self._finite(x - self.target, x, "the residual x - y_ω")
        return self._finite(anp.dot(r, r) / (2.0 * self.N), x, "the cost C[x] = |x - y_ω|²/(2N)")

    def grad(self, x: npt.ArrayLike) -> np.ndarray:
        """∇ₓC = (x − y_ω)/N, shape ``(QN,)``. Implements (1.20)/(3.8)."""
        return self.residual(x) / self.N

    def _finite(self, value, x, what):
        """``value`` if finite, else NumericalError naming x and its largest entry."""
        try:
            return check_result(value, what)
        except NumericalError as exc:
            size = np.abs(np.asarray(getval(x)))
            j = int(np.argmax(size))
            raise NumericalError(
                f"{exc}: the input x overflowed it, its largest entry |x[{j}]| = {size[j]:.3g} "
                f"(target y_ω[{j}] = {self.target[j]:.3g}); expected outputs whose squares fit "
                "in float64 (check the scale of theta and of the map's inputs)"
            ) from None

    def __repr__(self) -> str:
        return f"L2Cost(QN={self.dim}, N={self.N})"


def check_map_and_cost(f: object, cost: object) -> None:
    """Refuse a pair (f, cost) that does not describe one cost C̃(θ) = C(x[θ]) (1.7), (1.18).

    The one check for everything that takes a map and the cost of its training data
    (the flows, the landscape diagnostics).

    Raises
    ------
    InputError
        ``f`` is not a SmoothMap or ``cost`` not an L2Cost.
    ShapeError
        The cost lives on another R^QN than f's outputs.
    """
    f = check_map(f)
    if not isinstance(cost, L2Cost):
        raise InputError(f"cost must be an L2Cost, got {type(cost).__name__}")
    if cost.dim != f.dim_out:
        raise ShapeError(
            f"the cost lives on R^{cost.dim} but f maps to R^{f.dim_out}; expected the cost of "
            "the same training data as the map (its target y_omega of length QN)"
        )
