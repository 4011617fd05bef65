"""The L² cost of the output layer, (1.7), and its Euclidean gradient (1.20)."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np

from subriemann.errors import InputError, check_array, check_int, check_vector

__all__ = ["L2Cost"]


class L2Cost:
    """C[x] = |x − y_ω|² / (2N) on R^{QN}. Implements (1.7).

    Parameters
    ----------
    target : array-like, shape=[QN]
        y_ω stacked sample-major (``TrainingData.target``).
    n_samples : int
        N, the number of training inputs (the 1/(2N) normalisation).
    """

    def __init__(self, target, n_samples: int):
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
    def from_data(cls, data) -> L2Cost:
        """The cost of a :class:`~subriemann.data.TrainingData`."""
        return cls(data.target, data.N)

    def residual(self, x):
        """x − y_ω, shape ``(QN,)``."""
        return check_vector(x, self.dim, "x") - self.target

    def __call__(self, x):
        """C[x], a float. Implements (1.7)."""
        r = self.residual(x)
        return anp.dot(r, r) / (2.0 * self.N)

    def grad(self, x):
        """∇ₓC = (x − y_ω)/N, shape ``(QN,)``. Implements (1.20)/(3.8)."""
        return self.residual(x) / self.N

    def __repr__(self) -> str:
        return f"L2Cost(QN={self.dim}, N={self.N})"
