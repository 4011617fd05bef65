"""JAX models as smooth maps: :func:`from_jax` wraps f : R^K → R^n written with ``jax.numpy``.

Every derivative the geometry asks for is computed by JAX's own transforms and
handed to :meth:`~subriemann.maps.smooth.SmoothMap.from_callables`: D by
``jax.jacfwd`` (K ≤ n) or ``jax.jacrev`` (K > n), push-forwards by ``jax.jvp``,
pull-backs by ``jax.vjp``, d/dt D[θ + tv] by the jvp of the Jacobian (forward
over forward/reverse) and the Hessian–vector products H_w v by jvp-of-vjp.  So
a user's own JAX model gets grad_h and the flows (first derivatives), the
Frobenius test, brackets, holonomy, and ``PullbackMetric.christoffels``/``exp``
(second derivatives), with the same numbers as the package's autograd
network up to round-off.

**float64.**  JAX computes in float32 unless ``jax_enable_x64`` is set, and
float32 round-off (~1e-7) is far above the tolerances of the rank decisions
and of the Frobenius test.  The wrapped functions therefore run inside JAX's
*scoped* ``enable_x64`` context: the map is float64 whatever the user's global
setting, and that setting is left as it was (no surprise for the rest of the
user's program).  A model that computes with float32 anywhere — a cast, or a
``jnp`` constant created while x64 was off, which stays float32 — is found by
tracing it once and refused with an :class:`~subriemann.errors.InputError`;
constants made with numpy become float64 when traced.  JAX is imported only when
:func:`from_jax` is called, so the package works without it (the ``jax`` extra).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, ShapeError
from subriemann.extras import import_optional
from subriemann.maps.callables import CallableMap, adapter_dimension
from subriemann.maps.smooth import SmoothMap

__all__ = ["from_jax"]

logger = logging.getLogger(__name__)


def _x64(jax):
    """JAX's scoped float64 switch (``jax.enable_x64`` or, before JAX 0.5, the experimental one)."""
    scoped = getattr(jax, "enable_x64", None)
    if scoped is not None:
        return scoped(True)
    from jax.experimental import enable_x64

    return enable_x64()


def _low_precision(jaxpr) -> str | None:
    """The first float dtype below float64 among the values of a jaxpr (and its sub-jaxprs), or None."""
    values = [*jaxpr.constvars, *jaxpr.invars, *jaxpr.outvars]
    for eqn in jaxpr.eqns:
        values += [*eqn.invars, *eqn.outvars]
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr holds its Jaxpr
                if hasattr(inner, "eqns"):
                    found = _low_precision(inner)
                    if found:
                        return found
    for var in values:
        dtype = getattr(getattr(var, "aval", None), "dtype", None)
        if dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8:
            return str(np.dtype(dtype))
    return None


def from_jax(
    fn: Callable,
    *,
    input_dim: int | None = None,
    example_point: npt.ArrayLike | None = None,
    jit: bool = True,
    name: str | None = None,
) -> CallableMap:
    """Wrap a JAX function f : R^K → R^n (``jax.numpy``) as a :class:`SmoothMap` with all derivatives.

    Parameters
    ----------
    fn : callable
        ``fn(theta)`` with ``theta`` of shape ``(K,)`` returning shape ``(n,)``
        (for a network: the stacked outputs x = (x_1, ..., x_N) ∈ R^{QN}).
    input_dim : int, optional
        K.  Give it or ``example_point``.
    example_point : array-like, shape=[K], optional
        A point of the domain (e.g. the initial parameters θ0); K is its length.
    jit : bool
        Compile each derivative with ``jax.jit`` (default).
    name : str, optional
        For messages and ``repr``; default ``fn.__name__``.

    Returns
    -------
    CallableMap
        With value, jacobian, jvp, vjp, jacobian_derivative,
        hessian_vector_blocks and jacobian_vjp from JAX (see the module notes
        for float64).  n is read from ``jax.eval_shape`` (no evaluation).

    Raises
    ------
    MissingExtraError
        JAX is not installed (``pip install "subriemann[jax]"``).
    InputError
        Neither or both of ``input_dim``/``example_point`` given inconsistently,
        ``fn`` not callable, its output not a vector, or ``fn`` computing with
        float32/float16 values anywhere (found by tracing it once, ``jax.make_jaxpr``).

    Examples
    --------
    >>> import jax.numpy as jnp  # doctest: +SKIP
    >>> f = from_jax(lambda t: jnp.tanh(t[:2] * t[2:]), input_dim=4)  # doctest: +SKIP
    >>> sr.PullbackBundle(f).distribution().is_involutive(np.ones(4))  # doctest: +SKIP
    """
    jax = import_optional("jax", extra="jax", purpose="sr.maps.from_jax (JAX models)")
    if not callable(fn):
        raise InputError(f"fn must be callable (a JAX function of theta), got {type(fn).__name__}")
    K, _ = adapter_dimension(input_dim, example_point, "from_jax")
    name = name or getattr(fn, "__name__", "jax function")
    jnp = jax.numpy

    with _x64(jax):
        try:
            closed = jax.make_jaxpr(fn)(jax.ShapeDtypeStruct((K,), jnp.float64))
        except Exception as exc:  # a tracing error of the user's function: say where it came from
            raise InputError(
                f"{name}: JAX could not trace fn on a float64 vector of shape ({K},): {exc}"
            ) from exc
    low = _low_precision(closed.jaxpr)
    if low:
        raise InputError(
            f"{name}: fn computes with {low} values (a constant made by jnp while "
            "jax_enable_x64 was off, or a cast); expected float64 throughout: build its "
            "constants as numpy arrays or inside fn, and do not cast to lower precision"
        )
    shape: tuple[int, ...] = closed.out_avals[0].shape if len(closed.out_avals) == 1 else ()
    if len(shape) != 1 or shape[0] < 1:
        raise ShapeError(
            f"{name}: fn returns shape {tuple(shape)}; expected a vector (n,), e.g. "
            "the network outputs stacked with .reshape(-1)"
        )
    n = int(shape[0])

    def jac_fn(t):
        # forward mode costs K jvps, reverse mode n vjps: take the fewer
        return (jax.jacfwd if K <= n else jax.jacrev)(fn)(t)

    def jvp_fn(t, v):
        return jax.jvp(fn, (t,), (v,))[1]

    def vjp_fn(t, w):
        return jax.vjp(fn, t)[1](w)[0]

    def jacobian_derivative_fn(t, v):
        return jax.jvp(jac_fn, (t,), (v,))[1]

    def hvp(t, v, w):  # H_w v = d/dt [Dᵀ(θ + t v) w]: forward over reverse
        return jax.jvp(lambda s: vjp_fn(s, w), (t,), (v,))[1]

    def hessian_products_fn(t, V, W):  # out[a, b] = H_{W[:, b]} V[:, a]
        over_w = jax.vmap(hvp, in_axes=(None, None, 1))
        return jax.vmap(over_w, in_axes=(None, 1, None))(t, V, W)

    def jacobian_vjp_fn(t, G):
        return jax.vjp(jac_fn, t)[1](G)[0]

    compile_ = jax.jit if jit else (lambda g: g)
    compiled = {
        "value": compile_(fn),
        "jacobian": compile_(jac_fn),
        "jvp": compile_(jvp_fn),
        "vjp": compile_(vjp_fn),
        "jacobian_derivative": compile_(jacobian_derivative_fn),
        "hessian_vector_blocks": compile_(hessian_products_fn),
        "jacobian_vjp": compile_(jacobian_vjp_fn),
    }

    def in_float64(g):
        def call(*args):
            with _x64(jax):
                out = g(*(jnp.asarray(np.asarray(a, dtype=np.float64)) for a in args))
                # leave JAX inside the context; a numpy array is what the geometry uses
                return np.asarray(out)

        return call

    wrapped = {key: in_float64(g) for key, g in compiled.items()}
    hessian_products = wrapped.pop("hessian_vector_blocks")
    logger.debug(
        "from_jax(%s): K = %d, n = %d, Jacobian by %s, float64 by the scoped enable_x64",
        name,
        K,
        n,
        "jacfwd" if K <= n else "jacrev",
    )
    return SmoothMap.from_callables(
        wrapped.pop("value"),
        dim_in=K,
        dim_out=n,
        hessian_vector_blocks=lambda t, V, W, block_bytes: hessian_products(t, V, W),
        name=name,
        **wrapped,
    )
