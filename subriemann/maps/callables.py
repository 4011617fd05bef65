"""Smooth maps given by plain callables: the value and whichever derivatives are at hand.

:class:`CallableMap` (built by :meth:`~subriemann.maps.smooth.SmoothMap.from_callables`)
derives what it can from what it is given, says what it cannot derive by name, and
registers its value and Jacobian as autograd primitives so the autograd-based parts of
the package differentiate through it.  :func:`subriemann.maps.jax_map.from_jax` is its
JAX front end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import isbox

from subriemann.errors import InputError, ShapeError, check_array, check_int, check_vector
from subriemann.maps.smooth import SmoothMap

__all__ = ["CallableMap", "adapter_dimension"]

logger = logging.getLogger(__name__)


class CallableMap(SmoothMap):
    r"""A smooth map given by plain callables: value, and whichever derivatives are at hand.

    Built by :meth:`SmoothMap.from_callables`.  The callables take and return
    arrays of any library that ``numpy.asarray`` reads (numpy, JAX, torch on
    CPU); results must be float64 — a float32 result is refused, since the
    rank decisions and the Frobenius tolerance are set for float64 round-off.

    Parameters
    ----------
    value : callable
        θ ↦ f(θ), shape ``(dim_out,)``.
    dim_in, dim_out : int
        K and n.
    jacobian : callable, optional
        θ ↦ D[θ], shape ``(dim_out, dim_in)``.
    jvp, vjp : callable, optional
        (θ, v) ↦ D[θ]v, shape ``(dim_out,)``; (θ, w) ↦ D[θ]ᵀw, shape ``(dim_in,)``.
    jacobian_derivative : callable, optional
        (θ, v) ↦ d/dt D[θ + tv] at t = 0, shape ``(dim_out, dim_in)``.
    hessian_vector_blocks : callable, optional
        (θ, V, W, block_bytes) ↦ the products ``out[a, b] = Σ_i W[i, b] ∇²f^i(θ) V[:, a]``
        of :meth:`SmoothMap.hessian_vector_products`: either one array of shape
        ``(n_v, n_w, dim_in)`` or an iterator of ``(start, stop, block)`` as
        :meth:`SmoothMap.hessian_vector_blocks` yields.
    jacobian_vjp : callable, optional
        (θ, Ḡ) ↦ ∇_θ⟨Ḡ, D[θ]⟩ = Σ_{a,b} Ḡ_ab ∇_θ D_ab, shape ``(dim_in,)``: the
        reverse-mode derivative of the Jacobian, used when autograd differentiates
        through D (the Christoffel symbols behind ``PullbackMetric.exp``).
    name : str, optional
        Shown in ``repr`` and in messages.

    Notes
    -----
    The derivatives are keywords (:attr:`DERIVATIVES`); :meth:`SmoothMap.from_callables`
    lists them in its signature.

    **What is derived from what, and its cost** (n = dim_out, K = dim_in):

    * D: ``jacobian``; else K ``jvp`` columns D e_k or n ``vjp`` rows Dᵀe_i,
      whichever are fewer.
    * D v: ``jvp``; else ``jacobian(θ) @ v`` (one D; from ``vjp`` alone, n calls).
    * Dᵀw: ``vjp``; else ``w @ jacobian(θ)`` (one D; from ``jvp`` alone, K calls).
    * dD[v]: ``jacobian_derivative``; else row i is H_{e_i} v, one call of
      ``hessian_vector_blocks`` with W = 1 (n covectors).
    * H_w v: ``hessian_vector_blocks``; else one ``jacobian_derivative`` per direction.
    * ∇_θ⟨Ḡ, D⟩: ``jacobian_vjp``; else Σ_a (dD[Ḡ_a])_a (n second derivatives)
      or (⟨Ḡ, dD[e_k]⟩)_k (K of them), whichever are fewer.

    Only ``jvp`` and ``vjp`` given as callables count as matrix-free products
    (:attr:`has_matrix_free_products`, the kernel and matrix-free routes of
    :class:`~subriemann.geometry.bundles.PullbackBundle`).

    **Differentiating through the map.**  ``_value`` and ``_jacobian`` are
    autograd primitives whose derivatives are the callables above, so the
    autograd-based parts of the package (traced frames, geomstats' Christoffel
    symbols and geodesics) work on any callable map to first order in D, i.e.
    with second derivatives of f.  Third derivatives of f (the growth vector
    beyond step 2 through traced frames) are not available: they raise
    :class:`~subriemann.errors.InputError`.
    """

    #: The derivatives a CallableMap may be given (the keywords of :meth:`SmoothMap.from_callables`).
    DERIVATIVES = (
        "jacobian",
        "jvp",
        "vjp",
        "jacobian_derivative",
        "hessian_vector_blocks",
        "jacobian_vjp",
    )

    def __init__(
        self,
        value: Callable,
        *,
        dim_in: int,
        dim_out: int,
        name: str | None = None,
        **derivatives: Callable | None,
    ):
        super().__init__(dim_in, dim_out)
        unknown = sorted(set(derivatives) - set(self.DERIVATIVES))
        if unknown:
            raise InputError(
                f"from_callables: unknown derivative(s) {unknown}; expected some of "
                f"{list(self.DERIVATIVES)}"
            )
        given = {"value": value, **derivatives}
        for key, fn in given.items():
            if fn is not None and not callable(fn):
                raise InputError(
                    f"from_callables: {key} must be callable or None, got {type(fn).__name__}"
                )
        if value is None:
            raise InputError("from_callables: value is required (theta -> f(theta))")
        self.name = name or getattr(value, "__name__", "callable")
        self.given = {key: fn for key, fn in given.items() if fn is not None}
        # autograd sees the value and the Jacobian as primitives with the given derivatives
        self._value_primitive = primitive(self._plain_value)
        # the value's rules go through the traced Jacobian when differentiated again
        defvjp(self._value_primitive, lambda ans, theta: lambda w: self._vjp(theta, w))
        defjvp(self._value_primitive, lambda v, ans, theta: self._jvp(theta, v))
        self._jacobian_primitive = primitive(self._plain_jacobian)
        reverse_rule = self._second_order(
            self._plain_jacobian_vjp, "differentiating the reverse derivative of D"
        )
        forward_rule = self._second_order(
            self._plain_jacobian_derivative, "differentiating d/dt D[theta + t v]"
        )
        defvjp(self._jacobian_primitive, lambda ans, theta: lambda G: reverse_rule(theta, G))
        defjvp(self._jacobian_primitive, lambda v, ans, theta: forward_rule(theta, v))
        logger.debug("%r: %s", self, self.derivation())

    # -- what is given and what is derived ---------------------------------------------
    def derivation(self) -> dict[str, str]:
        """How each derivative is obtained: ``"given"``, the route it is derived by, or ``"missing"``."""
        K, n, g = self.dim_in, self.dim_out, self.given
        rows = "jvp" in g and (K <= n or "vjp" not in g)
        out = {
            "jacobian": "given"
            if "jacobian" in g
            else f"{K} jvp columns"
            if rows
            else f"{n} vjp rows"
            if "vjp" in g
            else "missing",
            "jvp": "given" if "jvp" in g else "jacobian(theta) @ v",
            "vjp": "given" if "vjp" in g else "w @ jacobian(theta)",
            "jacobian_derivative": "given"
            if "jacobian_derivative" in g
            else f"hessian_vector_blocks with {n} covectors"
            if "hessian_vector_blocks" in g
            else "missing",
            "hessian_vector_blocks": "given"
            if "hessian_vector_blocks" in g
            else "one jacobian_derivative per direction",
        }
        if out["jacobian"] == "missing":
            out["jvp"] = out["vjp"] = "given" if "jvp" in g or "vjp" in g else "missing"
        if out["jacobian_derivative"] == "missing":
            out["hessian_vector_blocks"] = "missing"
        out["jacobian_vjp"] = (
            "given"
            if "jacobian_vjp" in g
            else "missing"
            if out["jacobian_derivative"] == "missing"
            else f"{min(n, K)} jacobian_derivative calls"
        )
        return out

    def _missing(self, what: str, operation: str, how: str) -> InputError:
        return InputError(
            f"{self.name}: {operation} needs {what}, which SmoothMap.from_callables was not "
            f"given and cannot derive from {sorted(self.given)}; pass {how}"
        )

    def _result_array(self, out, what: str, shape: tuple) -> np.ndarray:
        """A callable's result as a float64 numpy array of ``shape`` (float32 is refused)."""
        arr = np.asarray(out)
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
            raise InputError(
                f"{self.name}: {what} returned {arr.dtype} values; expected float64 (the rank "
                "decisions and tolerances assume float64 round-off); compute in float64 "
                "(for JAX: sr.maps.from_jax does this)"
            )
        if arr.shape != shape:
            raise ShapeError(f"{self.name}: {what} returned shape {arr.shape}; expected {shape}")
        return check_array(arr, what, finite=False)

    # -- plain (untraced) evaluations ------------------------------------------------------
    def _plain_value(self, theta):
        return self._result_array(self.given["value"](theta), "value", (self.dim_out,))

    def _plain_jacobian(self, theta):
        g, K, n = self.given, self.dim_in, self.dim_out
        if "jacobian" in g:
            return self._result_array(g["jacobian"](theta), "jacobian", (n, K))
        if "jvp" in g and (K <= n or "vjp" not in g):
            eye = np.eye(K)
            return np.stack([self._plain_jvp(theta, eye[k]) for k in range(K)], axis=1)
        if "vjp" in g:
            eye = np.eye(n)
            return np.stack([self._plain_vjp(theta, eye[i]) for i in range(n)], axis=0)
        raise self._missing(
            "the Jacobian D[theta]",
            "f.jacobian (grad_h, the flows, rank checks)",
            "jacobian=, jvp= or vjp=",
        )

    def _plain_jvp(self, theta, v):
        if "jvp" in self.given:
            return self._result_array(self.given["jvp"](theta, v), "jvp", (self.dim_out,))
        return self._plain_jacobian(theta) @ v

    def _plain_vjp(self, theta, w):
        if "vjp" in self.given:
            return self._result_array(self.given["vjp"](theta, w), "vjp", (self.dim_in,))
        return w @ self._plain_jacobian(theta)

    def _plain_jacobian_derivative(self, theta, v):
        g, K, n = self.given, self.dim_in, self.dim_out
        if "jacobian_derivative" in g:
            out = g["jacobian_derivative"](theta, v)
            return self._result_array(out, "jacobian_derivative", (n, K))
        if "hessian_vector_blocks" in g:
            # row i of dD[v] is H_{e_i} v: one direction, the n unit covectors
            return self._plain_hessian_products(theta, v[:, None], np.eye(n))[0]
        raise self._missing(
            "second derivatives of f (d/dt D[theta + t v])",
            "f.jacobian_derivative (Lie brackets, the Frobenius test (2.31), christoffels and "
            "exp, holonomy)",
            "jacobian_derivative= or hessian_vector_blocks=",
        )

    def _plain_hessian_products(self, theta, V, W):
        out = np.empty((V.shape[1], W.shape[1], self.dim_in))
        for start, stop, block in self._hessian_vector_blocks(theta, V, W, 1 << 22):
            out[:, :, start:stop] = block
        return out

    def _plain_jacobian_vjp(self, theta, G):
        """∇_θ⟨Ḡ, D[θ]⟩ = Σ_a H_a Ḡ_a (H_a = ∇²f^a symmetric), from the cheaper of two sums."""
        g, K, n = self.given, self.dim_in, self.dim_out
        if "jacobian_vjp" in g:
            return self._result_array(g["jacobian_vjp"](theta, G), "jacobian_vjp", (K,))
        if "jacobian_derivative" not in g and "hessian_vector_blocks" not in g:
            raise self._missing(
                "second derivatives of f",
                "reverse-mode differentiation through D[theta] (christoffels and exp of "
                "PullbackMetric, traced frames)",
                "jacobian_derivative=, hessian_vector_blocks= or jacobian_vjp=",
            )
        if n <= K:  # (dD[Ḡ_a])_{a,:} = (H_a Ḡ_a)ᵀ
            return sum(self._plain_jacobian_derivative(theta, G[a])[a] for a in range(n))
        eye = np.eye(K)  # component k: ⟨Ḡ, ∂D/∂θ_k⟩
        return np.array(
            [np.sum(G * self._plain_jacobian_derivative(theta, eye[k])) for k in range(K)]
        )

    # -- the Jacobian's derivative rules (a box in them means a third derivative of f) ------
    def _untraced(self, *args, operation: str):
        if any(isbox(a) for a in args):
            raise InputError(
                f"{self.name}: {operation} of a map built from callables would need derivatives "
                "of f of order three, which from_callables cannot provide; use an autograd map "
                "(AutodiffMap, NetworkMap) for this computation"
            )

    def _second_order(self, plain: Callable, operation: str) -> Callable:
        """``plain(theta, arg)`` as a derivative rule of the Jacobian, refusing traced arguments.

        The Jacobian's rules are second derivatives of f given as plain callables;
        autograd differentiating them again would need third derivatives.
        """

        def rule(theta, arg):
            self._untraced(theta, arg, operation=operation)
            return plain(theta, arg)

        return rule

    # -- the SmoothMap protocol ------------------------------------------------------------
    def _value(self, theta):
        return self._value_primitive(theta)

    def _jacobian(self, theta):
        return self._jacobian_primitive(theta)

    def _jvp(self, theta, v):
        if isbox(theta) or isbox(v):
            return anp.dot(self._jacobian(theta), v)
        return self._plain_jvp(theta, v)

    def _vjp(self, theta, w):
        if isbox(theta) or isbox(w):
            return anp.dot(w, self._jacobian(theta))
        return self._plain_vjp(theta, w)

    def _jacobian_derivative(self, theta, v):
        self._untraced(theta, v, operation="d/dt D[theta + t v] at a traced point")
        return self._plain_jacobian_derivative(theta, v)

    def _hessian_vector_blocks(self, theta, V, W, block_bytes) -> Iterator:
        g = self.given
        if "hessian_vector_blocks" in g:
            out = g["hessian_vector_blocks"](theta, V, W, block_bytes)
            if isinstance(out, Iterator):
                yield from out
                return
            shape = (V.shape[1], W.shape[1], self.dim_in)
            yield 0, self.dim_in, self._result_array(out, "hessian_vector_blocks", shape)
            return
        if "jacobian_derivative" not in g:
            raise self._missing(
                "second derivatives of f (Hessian-vector products)",
                "f.hessian_vector_products (the Frobenius test (2.31), the curvature terms)",
                "hessian_vector_blocks= or jacobian_derivative=",
            )
        yield from super()._hessian_vector_blocks(theta, V, W, block_bytes)

    @property
    def has_matrix_free_products(self) -> bool:
        """True when both ``jvp`` and ``vjp`` were given (products that never form D)."""
        return "jvp" in self.given and "vjp" in self.given

    def __repr__(self) -> str:
        return f"CallableMap({self.name!r}, dim_in={self.dim_in}, dim_out={self.dim_out})"


def adapter_dimension(
    input_dim: int | None, example_point: npt.ArrayLike | None, adapter: str
) -> tuple[int, np.ndarray | None]:
    """K of a model wrapped by an adapter (``from_jax``, ``from_torch``), and its checked θ0.

    From ``example_point`` (a finite real vector θ0: K is its length) or ``input_dim``;
    both may be given if they agree.  Returns ``(K, θ0 as a float array or None)``.

    Raises
    ------
    InputError
        Neither given, or the two disagree; ``example_point`` not a finite real vector
        (a :class:`~subriemann.errors.ShapeError` for a wrong shape).
    """
    if example_point is None:
        if input_dim is None:
            raise InputError(
                f"{adapter} needs the input dimension K: pass input_dim=K or example_point=theta0"
            )
        return check_int(input_dim, "input_dim", "the input dimension K"), None
    K = int(np.shape(example_point)[0]) if np.ndim(example_point) == 1 else -1
    if K < 1:
        raise ShapeError(
            f"example_point must be a vector theta of shape (K,), got shape "
            f"{np.shape(example_point)}"
        )
    point = check_vector(example_point, K, "example_point")
    if input_dim is not None and check_int(input_dim, "input_dim") != K:
        raise InputError(f"input_dim = {input_dim} but example_point has length {K}")
    return K, point
