"""Smooth maps f : R^K -> R^n, the only thing the geometry ever talks to.

A :class:`SmoothMap` needs two things from a subclass: its value ``_value`` and
its Jacobian ``_jacobian``; :meth:`SmoothMap.from_callables` (a
:class:`~subriemann.maps.callables.CallableMap`) builds one from plain functions
of any library.  Everything else (``jvp``, ``vjp``,
``jacobian_derivative``) has a default derived from those two, which a subclass
overrides when it knows a cheaper closed form (the network does).  This is the
pymanopt pattern: few required methods, the rest derived.

Public methods validate their arguments (shape, finiteness) and count
evaluations (``counts``), so integrators can report how many Jacobians an orbit
cost without wrapping the map.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.differential_operators import make_jvp

from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_result,
    check_vector,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from subriemann.maps.callables import CallableMap

__all__ = ["SmoothMap", "AutodiffMap", "LinearMap", "check_map"]

logger = logging.getLogger(__name__)

_OVERFLOW_HINT = "check the scale of theta, of the direction and of the map's inputs"


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
        self.counts: Counter[str] = Counter()

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

    def _hessian_vector_blocks(self, theta, V, W, block_bytes):
        if V.shape[1] == 0:
            yield 0, self.dim_in, np.zeros((0, W.shape[1], self.dim_in))
            return
        # one second-derivative matrix per direction, contracted with all covectors
        out = anp.stack(
            [
                anp.dot(anp.transpose(W), self._jacobian_derivative(theta, v))
                for v in anp.transpose(V)
            ]
        )
        yield 0, self.dim_in, out

    # -- results ----------------------------------------------------------------
    # Arguments are checked finite on the way in, so a NaN/inf on the way out is
    # overflow of the map (huge theta or inputs): NumericalError, never a NaN.
    def _result(self, out, what: str):
        return check_result(out, what, _OVERFLOW_HINT)

    def _matrix_result(self, out, what: str):
        """Check a (dim_out, dim_in) result; a map that bounds its matrices as it builds them overrides this."""
        return check_result(out, what, _OVERFLOW_HINT)

    # -- public surface -------------------------------------------------------
    def __call__(self, theta: ArrayLike) -> np.ndarray:
        """Value f(θ), shape ``(dim_out,)``."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["value"] += 1
        return self._result(self._value(theta), "f(theta)")

    def jacobian(self, theta: ArrayLike) -> np.ndarray:
        """Jacobian D[θ] = ∂f/∂θ, shape ``(dim_out, dim_in)``. Implements (1.17)."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["jacobian"] += 1
        return self._matrix_result(self._jacobian(theta), "the Jacobian D[theta]")

    def jvp(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Push-forward D[θ] v, shape ``(dim_out,)``."""
        theta = check_vector(theta, self.dim_in, "theta")
        v = check_vector(v, self.dim_in, "tangent vector v")
        self.counts["jvp"] += 1
        return self._result(self._jvp(theta, v), "the push-forward D[theta] v")

    def vjp(self, theta: ArrayLike, w: ArrayLike) -> np.ndarray:
        """Pull-back Dᵀ[θ] w, shape ``(dim_in,)``. With w = ∇ₓC this is (1.18)."""
        theta = check_vector(theta, self.dim_in, "theta")
        w = check_vector(w, self.dim_out, "covector w")
        self.counts["vjp"] += 1
        return self._result(self._vjp(theta, w), "the pull-back D[theta]^T w")

    def jacobian_derivative(self, theta: ArrayLike, v: ArrayLike) -> np.ndarray:
        """Directional derivative d/dt D[θ + t v] at t = 0, shape ``(dim_out, dim_in)``.

        Its entries are Σ_k ∂²f^a/∂θ_b∂θ_k v_k, so ``jacobian_derivative(θ, v) @ w``
        is symmetric in (v, w): the second derivative d²f(v, w).
        """
        theta = check_vector(theta, self.dim_in, "theta")
        v = check_vector(v, self.dim_in, "direction v")
        self.counts["jacobian_derivative"] += 1
        return self._matrix_result(
            self._jacobian_derivative(theta, v), "the Jacobian derivative d/dt D[theta + t v]"
        )

    def hessian_vector_products(self, theta: ArrayLike, V: ArrayLike, W: ArrayLike) -> np.ndarray:
        """All products H_w v of the Hessians H_w = ∇²(w·f) with directions, shape ``(n_v, n_w, dim_in)``.

        ``out[a, b] = H_{w_b} v_a = (d/dt D[θ + t v_a])ᵀ w_b = Σ_i (w_b)_i ∇²f^i(θ) v_a``,
        the second derivative d²f(v_a, ·) read against the covector w_b.  Implements
        the bracket terms of the Frobenius condition (2.31) for V = f*TN: they are
        the terms of the Lie brackets of the pullback bundle's frame (the
        (1 − P) dD[u]ᵀ(DDᵀ)⁻¹e_j term of the bracket formula in
        :mod:`subriemann.distributions.frame`).  The default costs one
        ``jacobian_derivative`` per direction; the network computes them from its
        backward factors without forming any d/dt D.  See
        :meth:`hessian_vector_blocks` for the same in coordinate blocks.

        Parameters
        ----------
        theta : array-like, shape=[dim_in]
        V : array-like, shape=[dim_in, n_v]
            Directions v_a as columns.
        W : array-like, shape=[dim_out, n_w]
            Covectors w_b as columns.

        Returns
        -------
        products : ndarray, shape=[n_v, n_w, dim_in]
        """
        blocks = self.hessian_vector_blocks(theta, V, W)
        start, stop, first = next(blocks)
        if (start, stop) == (0, self.dim_in):
            return first
        out = np.empty(first.shape[:2] + (self.dim_in,))
        out[:, :, start:stop] = first
        for start, stop, block in blocks:
            out[:, :, start:stop] = block
        return out

    def hessian_vector_blocks(
        self, theta: ArrayLike, V: ArrayLike, W: ArrayLike, block_bytes: int = 1 << 22
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """:meth:`hessian_vector_products` in coordinate blocks: yields ``(start, stop, block)``.

        ``block`` (n_v, n_w, stop − start) holds coordinates start..stop−1 of
        every H_{w_b} v_a; the blocks cover 0..dim_in in order.  A map that can
        (the network) keeps each block near ``block_bytes``, so a consumer that
        reduces block by block (the Frobenius test) needs O(n_v·n_w·block) memory
        instead of O(n_v·n_w·dim_in) and reads each block while it is in cache.
        The default yields one block.  Arguments are validated before the first
        block is produced.  A yielded array may be reused by the next step of
        the iteration: reduce (or copy) each block before asking for the next.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        V = check_array(V, "directions V", ndim=2)
        W = check_array(W, "covectors W", ndim=2)
        if V.shape[0] != self.dim_in or W.shape[0] != self.dim_out:
            raise ShapeError(
                f"V must have shape ({self.dim_in}, n_v) and W shape ({self.dim_out}, n_w) "
                f"(columns are directions and covectors), got {tuple(V.shape)} and {tuple(W.shape)}"
            )
        block_bytes = check_int(block_bytes, "block_bytes")
        self.counts["hessian_vector_products"] += 1
        return self._hessian_vector_blocks(theta, V, W, block_bytes)

    def value_and_jacobian(self, theta: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(f(θ), D[θ]) in one call; subclasses share work between the two."""
        theta = check_vector(theta, self.dim_in, "theta")
        self.counts["value"] += 1
        self.counts["jacobian"] += 1
        x, D = self._value_and_jacobian(theta)
        return self._result(x, "f(theta)"), self._matrix_result(D, "the Jacobian D[theta]")

    def _value_and_jacobian(self, theta):
        return self._value(theta), self._jacobian(theta)

    # -- the Gram matrix Θ = D Dᵀ without all of D (issue 14) -------------------------------
    #: Whether :meth:`ntk` has a closed form cheaper than products with D (the network's
    #: structured Θ overrides this); the generic :meth:`ntk` is jvp(vjp(·)).
    has_structured_ntk = False

    @property
    def has_matrix_free_products(self) -> bool:
        """Whether jvp and vjp avoid forming D: the subclass has its own ``_jvp`` and ``_vjp``.

        The defaults of this class multiply by ``_jacobian``, i.e. form all of D;
        the kernel and matrix-free routes (:mod:`subriemann.geometry.kernel`) need
        products that do not.  A map built from callables overrides this property.
        """
        cls = type(self)
        return cls._jvp is not SmoothMap._jvp and cls._vjp is not SmoothMap._vjp

    def ntk(self, theta: ArrayLike, *, block: int | None = None) -> np.ndarray:
        """Θ = D Dᵀ (dim_out × dim_out), the Gram matrix of D's rows, never holding all of D.

        Generic route: for a block I of ``block`` output indices the rows D_I
        (block × dim_in) are ``block`` vector–Jacobian products Dᵀe_i, and the
        columns Θ[:, I] = D D_Iᵀ are ``block`` Jacobian–vector products; peak memory
        8·(block·dim_in + dim_out²) bytes.  Cost: dim_out vjps and dim_out jvps.
        The network overrides this with its structured form (``NetworkMap.ntk``).

        Parameters
        ----------
        theta : array-like, shape=[dim_in]
        block : int, optional
            Rows of D held at a time; default the most that fit 32 MiB.

        Returns
        -------
        Theta : ndarray, shape=[dim_out, dim_out]
            Symmetric (exactly: the two triangles are averaged).

        Raises
        ------
        InputError
            The map has no matrix-free jvp/vjp (its products would form D), or a bad block.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        if not self.has_matrix_free_products:
            raise InputError(
                f"{type(self).__name__} has no matrix-free jvp/vjp (its products multiply by "
                "the whole Jacobian), so its Gram matrix D D^T cannot be formed without D; "
                "implement _jvp and _vjp, or use f.jacobian(theta) and D @ D.T"
            )
        n, K = self.dim_out, self.dim_in
        block = max(1, min(n, (1 << 25) // (8 * K))) if block is None else check_int(block, "block")
        self.counts["ntk"] += 1
        out = np.empty((n, n))
        eye = np.eye(n)
        for start in range(0, n, block):
            stop = min(start + block, n)
            rows = [
                np.asarray(self._vjp(theta, eye[i]), dtype=np.float64) for i in range(start, stop)
            ]
            for i, row in zip(range(start, stop), rows, strict=True):
                out[:, i] = np.asarray(self._jvp(theta, row), dtype=np.float64)
        out = 0.5 * (out + out.T)
        return check_result(out, "the Gram matrix D D^T", _OVERFLOW_HINT)

    @classmethod
    def from_callables(
        cls,
        value: Callable,
        *,
        dim_in: int,
        dim_out: int,
        jacobian: Callable | None = None,
        jvp: Callable | None = None,
        vjp: Callable | None = None,
        jacobian_derivative: Callable | None = None,
        hessian_vector_blocks: Callable | None = None,
        jacobian_vjp: Callable | None = None,
        name: str | None = None,
    ) -> CallableMap:
        """A :class:`SmoothMap` from plain functions (numpy, JAX, torch...): see :class:`~subriemann.maps.callables.CallableMap`.

        ``value(theta)`` is required; each derivative is optional and, where
        possible, derived from the others (costs in :class:`CallableMap`).  An
        operation that needs a derivative that was neither given nor derivable
        raises :class:`~subriemann.errors.InputError` naming it.

        Examples
        --------
        >>> A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
        >>> f = SmoothMap.from_callables(lambda t: A @ t, dim_in=3, dim_out=2,
        ...                              jacobian=lambda t: A)
        >>> f.vjp(np.zeros(3), np.array([1.0, 0.0]))  # derived: w @ jacobian
        array([1., 2., 0.])
        """
        from subriemann.maps.callables import CallableMap  # the subclass lives in its own module

        return CallableMap(
            value,
            dim_in=dim_in,
            dim_out=dim_out,
            jacobian=jacobian,
            jvp=jvp,
            vjp=vjp,
            jacobian_derivative=jacobian_derivative,
            hessian_vector_blocks=hessian_vector_blocks,
            jacobian_vjp=jacobian_vjp,
            name=name,
        )

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

    def __init__(self, fn: Callable, dim_in: int, dim_out: int):
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
        # real values only; NaN/inf from a finite theta is overflow, checked on the result
        return check_array(out, "the value fn(theta)", finite=False)

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

    def __init__(self, A: ArrayLike):
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

    def _hessian_vector_blocks(self, theta, V, W, block_bytes):
        yield 0, self.dim_in, np.zeros((V.shape[1], W.shape[1], self.dim_in))


def check_map(f: object, name: str = "f") -> SmoothMap:
    """Return ``f`` if it is a :class:`SmoothMap`, else raise :class:`InputError` (the one check).

    Every layer that takes a map (metrics, bundles, flows, diagnostics) calls this, so the
    message is the same everywhere.
    """
    if not isinstance(f, SmoothMap):
        raise InputError(
            f"{name} must be a SmoothMap (NetworkMap, AutodiffMap, LinearMap, "
            f"SmoothMap.from_callables...), got {type(f).__name__}"
        )
    return f
