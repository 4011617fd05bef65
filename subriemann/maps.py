"""Smooth maps f : R^K -> R^n, the only thing the geometry ever talks to.

A :class:`SmoothMap` needs two things from a subclass: its value ``_value`` and
its Jacobian ``_jacobian``.  Everything else (``jvp``, ``vjp``,
``jacobian_derivative``) has a default derived from those two, which a subclass
overrides when it knows a cheaper closed form (the network does).  This is the
pymanopt pattern: few required methods, the rest derived.

Public methods validate their arguments (shape, finiteness) and count
evaluations (``counts``), so integrators can report how many Jacobians an orbit
cost without wrapping the map.
"""

from __future__ import annotations

from collections import Counter

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.differential_operators import make_jvp

from subriemann.errors import InputError, check_array, check_int, check_vector

__all__ = ["SmoothMap", "AutodiffMap", "LinearMap"]


class SmoothMap:
    """A smooth map f : R^dim_in -> R^dim_out with first and second derivatives.

    Parameters
    ----------
    dim_in, dim_out : int
        Dimensions K of the domain and n (= QN for a network) of the target.

    Notes
    -----
    Subclasses implement ``_value(theta)`` -> shape ``(dim_out,)`` and
    ``_jacobian(theta)`` -> shape ``(dim_out, dim_in)``, written with
    ``autograd.numpy`` when they should stay differentiable.  The default
    ``_jacobian_derivative`` differentiates ``_jacobian`` in forward mode with
    autograd, so it requires that ``_jacobian`` be autograd-traceable.
    """

    def __init__(self, dim_in: int, dim_out: int):
        self.dim_in = check_int(dim_in, "dim_in")
        self.dim_out = check_int(dim_out, "dim_out")
        self.counts: Counter = Counter()

    # -- required -------------------------------------------------------------
    def _value(self, theta):
        raise NotImplementedError

    def _jacobian(self, theta):
        raise NotImplementedError

    # -- derived defaults -----------------------------------------------------
    def _jvp(self, theta, v):
        return anp.dot(self._jacobian(theta), v)

    def _vjp(self, theta, w):
        return anp.dot(w, self._jacobian(theta))

    def _jacobian_derivative(self, theta, v):
        return make_jvp(self._jacobian)(theta)(v)[1]

    # -- public surface -------------------------------------------------------
    def __call__(self, theta):
        """Value f(θ), shape ``(dim_out,)``."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["value"] += 1
        return self._value(theta)

    def jacobian(self, theta):
        """Jacobian D[θ] = ∂f/∂θ, shape ``(dim_out, dim_in)``. Implements (1.17)."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["jacobian"] += 1
        return self._jacobian(theta)

    def jvp(self, theta, v):
        """Push-forward D[θ] v, shape ``(dim_out,)``."""
        theta = check_vector(theta, self.dim_in, "theta")
        v = check_vector(v, self.dim_in, "tangent vector v")
        self.counts["jvp"] += 1
        return self._jvp(theta, v)

    def vjp(self, theta, w):
        """Pull-back Dᵀ[θ] w, shape ``(dim_in,)``. With w = ∇ₓC this is (1.18)."""
        theta = check_vector(theta, self.dim_in, "theta")
        w = check_vector(w, self.dim_out, "covector w")
        self.counts["vjp"] += 1
        return self._vjp(theta, w)

    def jacobian_derivative(self, theta, v):
        """Directional derivative d/dt D[θ + t v] at t = 0, shape ``(dim_out, dim_in)``.

        Its entries are Σ_k ∂²f^a/∂θ_b∂θ_k v_k, so ``jacobian_derivative(θ, v) @ w``
        is symmetric in (v, w): the second derivative d²f(v, w).
        """
        theta = check_vector(theta, self.dim_in, "theta")
        v = check_vector(v, self.dim_in, "direction v")
        self.counts["jacobian_derivative"] += 1
        return self._jacobian_derivative(theta, v)

    def value_and_jacobian(self, theta):
        """(f(θ), D[θ]) in one call; subclasses share work between the two."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["value"] += 1
        self.counts["jacobian"] += 1
        return self._value_and_jacobian(theta)

    def _value_and_jacobian(self, theta):
        return self._value(theta), self._jacobian(theta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim_in={self.dim_in}, dim_out={self.dim_out})"


class AutodiffMap(SmoothMap):
    """A smooth map from any autograd-traceable function, derivatives by autograd.

    Parameters
    ----------
    fn : callable
        ``fn(theta)`` with ``theta`` of shape ``(dim_in,)`` returning shape
        ``(dim_out,)``, written with ``autograd.numpy``.
    dim_in, dim_out : int

    Examples
    --------
    >>> import autograd.numpy as anp
    >>> f = AutodiffMap(lambda t: anp.array([t[0] * t[1], anp.sin(t[2])]), 3, 2)
    >>> f.jacobian(np.array([1.0, 2.0, 0.0])).shape
    (2, 3)
    """

    def __init__(self, fn, dim_in: int, dim_out: int):
        super().__init__(dim_in, dim_out)
        if not callable(fn):
            raise InputError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._jac = autograd.jacobian(self._value)

    def _value(self, theta):
        out = self.fn(theta)
        if tuple(anp.shape(out)) != (self.dim_out,):
            raise InputError(
                f"fn returned shape {tuple(anp.shape(out))}; expected ({self.dim_out},) = (dim_out,)"
            )
        return out

    def _jacobian(self, theta):
        return self._jac(theta)

    def _jvp(self, theta, v):
        return make_jvp(self._value)(theta)(v)[1]

    def _vjp(self, theta, w):
        return autograd.make_vjp(self._value)(theta)[0](w)


class LinearMap(SmoothMap):
    """The linear map θ ↦ Aθ: constant Jacobian A, zero second derivative.

    The simplest smooth map; its pullback bundle V = range Aᵀ is a constant,
    hence integrable, distribution.
    """

    def __init__(self, A):
        A = check_array(A, "A", ndim=2)
        super().__init__(A.shape[1], A.shape[0])
        self.A = np.array(A, dtype=np.float64)

    def _value(self, theta):
        return anp.dot(self.A, theta)

    def _jacobian(self, theta):
        return self.A

    def _jvp(self, theta, v):
        return anp.dot(self.A, v)

    def _vjp(self, theta, w):
        return anp.dot(w, self.A)

    def _jacobian_derivative(self, theta, v):
        return np.zeros_like(self.A)
