"""PyTorch models as smooth maps: :func:`from_torch` wraps f : R^K → R^n written with ``torch``.

A function of θ, or an ``nn.Module`` evaluated on the N training inputs — the paper's map
θ ↦ x = (x_1, ..., x_N) ∈ R^{QN} (§1) with θ ∈ R^K the module's parameters flattened in
``named_parameters()`` order (:func:`module_parameters` gives θ0).  Every derivative the
geometry asks for comes from ``torch.func``: D by ``jacfwd`` (K ≤ n) or ``jacrev``
(K > n), push-forwards by ``jvp``, pull-backs by ``vjp``, d/dt D[θ + tv] by the jvp of
the Jacobian (forward over forward/reverse), and the Hessian–vector products H_w v by
jvp-of-vjp, vectorised by ``vmap``.  They are handed to
:meth:`~subriemann.maps.smooth.SmoothMap.from_callables`, so a user's own torch model gets
grad_h, the flows, the Frobenius test, brackets, holonomy and the pullback metric's
``christoffels``/``exp``, with the numbers of the package's autograd network up to
round-off (tests/test_torch_map.py).

**float64.**  torch computes in float32 by default, far above the round-off the rank
decisions and the Frobenius test are calibrated for.  Every call therefore runs with
``torch.get_default_dtype()`` set to float64 (restored afterwards, so the rest of the
user's program is unaffected), θ and the inputs are float64 tensors, and a module's
float32 parameters are replaced by θ's float64 values (``torch.func.functional_call``;
the module itself is not modified, its buffers are copied).  A model that computes with
float32/float16 values anywhere (an explicit ``.float()``, even if cast back — every torch
call of one evaluation is watched by a ``TorchFunctionMode``) is refused with an
:class:`~subriemann.errors.InputError`, as is a model whose value is not a deterministic
function of θ (dropout in training mode) or that writes to its buffers (batch
normalisation in training mode): call ``module.eval()``.  torch is imported only when :func:`from_torch` is called
(the ``torch`` extra), so the package works without it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, ShapeError, check_int, check_vector
from subriemann.extras import import_optional
from subriemann.maps.callables import CallableMap, adapter_dimension
from subriemann.maps.smooth import SmoothMap

__all__ = ["from_torch", "module_parameters"]

logger = logging.getLogger(__name__)


def _torch() -> Any:
    return import_optional("torch", extra="torch", purpose="sr.maps.from_torch (PyTorch models)")


@contextlib.contextmanager
def _float64(torch: Any) -> Iterator[None]:
    """torch's default dtype float64 for the duration of one call: constants a model creates
    inside ``forward`` (``torch.tensor(0.5)``, ``torch.zeros(...)``) are float64 too."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def module_parameters(module: Any) -> np.ndarray:
    """θ of an ``nn.Module``: its parameters flattened in ``named_parameters()`` order, float64.

    The layout :func:`from_torch` uses for a module, so ``module_parameters(model)`` is the
    point θ0 at which the model currently is.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    tensors = [p.detach().reshape(-1).to(torch.float64) for p in module.parameters()]
    if not tensors:
        raise InputError(f"{type(module).__name__} has no parameters: there is no θ to vary")
    return torch.cat(tensors).cpu().numpy().copy()


def _module_function(
    torch: Any, module: Any, inputs: npt.ArrayLike
) -> tuple[Callable, int, dict[str, Any]]:
    """θ ↦ module(X).reshape(-1) by ``functional_call`` with θ split into the named parameters.

    The outputs are stacked sample by sample, x = (x_1, ..., x_N) with x_j = module(X_j) ∈ R^Q
    consecutive, the ordering of the package's NetworkMap.  Also returns the buffers the
    calls use: copies of the module's (floating ones in float64, integer ones — indices,
    counters — as they are), so that evaluating the map never writes to the module.
    """
    X = np.asarray(inputs)
    if X.dtype.kind not in "fiu" or X.ndim < 1:
        raise InputError(
            f"inputs must be a real array of training inputs (N, ...), got dtype {X.dtype} "
            f"and shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise InputError("inputs contain NaN or inf; expected finite training inputs")
    names_shapes = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    sizes = [int(np.prod(shape)) for _, shape in names_shapes]
    buffers = {
        name: b.detach().clone().to(torch.float64) if b.is_floating_point() else b.detach().clone()
        for name, b in module.named_buffers()
    }
    X_t = torch.as_tensor(X, dtype=torch.float64)
    bounds = np.cumsum([0, *sizes])

    def fn(theta: Any) -> Any:
        params = {
            name: theta[int(bounds[i]) : int(bounds[i + 1])].reshape(shape)
            for i, (name, shape) in enumerate(names_shapes)
        }
        out = torch.func.functional_call(module, (params, buffers), (X_t,))
        if not isinstance(out, torch.Tensor):
            raise InputError(
                f"the module returns a {type(out).__name__}; expected one tensor of outputs "
                "(N, Q), e.g. forward returning only the prediction"
            )
        return out.reshape(-1)

    return fn, int(bounds[-1]), buffers


def from_torch(
    fn: Callable | Any,
    *,
    inputs: npt.ArrayLike | None = None,
    input_dim: int | None = None,
    example_point: npt.ArrayLike | None = None,
    name: str | None = None,
) -> CallableMap:
    """Wrap a torch function f : R^K → R^n, or a module on its training inputs, as a :class:`SmoothMap`.

    Parameters
    ----------
    fn : callable or torch.nn.Module
        ``fn(theta)`` with ``theta`` a float64 tensor of shape ``(K,)`` returning shape
        ``(n,)``; or a module, evaluated as θ ↦ ``module(inputs).reshape(-1)`` with θ its
        parameters (:func:`module_parameters`), the network map x(θ) ∈ R^{QN} of §1.
        θ holds *all* parameters, frozen ones (``requires_grad=False``) included: the
        geometry is that of the whole parameter space.
    inputs : array-like, shape=[N, ...], optional
        The training inputs; required for (and only for) a module.
    input_dim : int, optional
        K for a function; give it or ``example_point``.  For a module K is its number of
        parameters.
    example_point : array-like, shape=[K], optional
        A point θ of the domain; for a function, K is its length.  The map is evaluated
        there once, twice, to check the output shape, the float64 dtype and determinism.
    name : str, optional
        For messages and ``repr``; default the function's or module's name.

    Returns
    -------
    CallableMap
        With value, jacobian, jvp, vjp, jacobian_derivative, hessian_vector_blocks and
        jacobian_vjp from ``torch.func`` (float64: see the module notes).

    Raises
    ------
    MissingExtraError
        torch is not installed (``pip install "subriemann[torch]"``).
    InputError
        ``fn`` not callable; a module without ``inputs`` or a function with them; K missing
        or inconsistent; the output not one float64 vector; float32/float16 values anywhere
        in an evaluation; the value not deterministic, or the evaluation writing to buffers.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))  # doctest: +SKIP
    >>> f = from_torch(model, inputs=np.ones((2, 2)))  # doctest: +SKIP
    >>> theta0 = module_parameters(model)  # doctest: +SKIP
    >>> sr.PullbackBundle(f).grad(theta0, f.vjp(theta0, np.ones(2)))  # grad_h (2.30)  # doctest: +SKIP
    """
    torch = _torch()
    is_module = isinstance(fn, torch.nn.Module)
    if not callable(fn):
        raise InputError(
            f"fn must be callable (a torch function of theta or an nn.Module), got "
            f"{type(fn).__name__}"
        )
    if name is None:
        name = type(fn).__name__ if is_module else str(getattr(fn, "__name__", "torch function"))
    if is_module:
        if inputs is None:
            raise InputError(
                f"{name}: a torch.nn.Module needs its training inputs: from_torch(module, inputs=X)"
            )
        function, K, buffers = _module_function(torch, fn, inputs)
        if input_dim is not None and check_int(input_dim, "input_dim") != K:
            raise InputError(f"input_dim = {input_dim} but {name} has {K} parameters")
        theta0 = (
            module_parameters(fn)
            if example_point is None
            else check_vector(example_point, K, "example_point")
        )
    else:
        if inputs is not None:
            raise InputError(
                f"{name}: inputs= is for an nn.Module; a function of theta closes over its data"
            )
        function = fn
        K, point = adapter_dimension(input_dim, example_point, "from_torch")
        theta0 = np.zeros(K) if point is None else point

    if is_module:
        before = {key: b.clone() for key, b in buffers.items()}
    n = _check_output(torch, function, theta0, name)
    if is_module and any(not torch.equal(b, before[key]) for key, b in buffers.items()):
        raise InputError(
            f"{name}: evaluating the module changes its buffers (batch normalisation in "
            "training mode updates its running statistics), so it is not a map of theta "
            "alone and torch.func cannot differentiate it: call module.eval()"
        )
    func = torch.func

    def jac_fn(t: Any) -> Any:
        # forward mode costs K jvps, reverse mode n vjps: take the fewer
        return (func.jacfwd if K <= n else func.jacrev)(function)(t)

    def jvp_fn(t: Any, v: Any) -> Any:
        return func.jvp(function, (t,), (v,))[1]

    def vjp_fn(t: Any, w: Any) -> Any:
        return func.vjp(function, t)[1](w)[0]

    def jacobian_derivative_fn(t: Any, v: Any) -> Any:
        return func.jvp(jac_fn, (t,), (v,))[1]

    def hvp(t: Any, v: Any, w: Any) -> Any:  # H_w v = d/dt [Dᵀ(θ + t v) w]: forward over reverse
        return func.jvp(lambda s: vjp_fn(s, w), (t,), (v,))[1]

    def hessian_products_fn(t: Any, V: Any, W: Any) -> Any:  # out[a, b] = H_{W[:, b]} V[:, a]
        over_w = func.vmap(hvp, in_dims=(None, None, 1))
        return func.vmap(over_w, in_dims=(None, 1, None))(t, V, W)

    def jacobian_vjp_fn(t: Any, G: Any) -> Any:
        return func.vjp(jac_fn, t)[1](G)[0]

    def in_float64(g: Callable) -> Callable[..., np.ndarray]:
        def call(*args: npt.ArrayLike) -> np.ndarray:
            with _float64(torch):
                out = g(*(torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in args))
                # a numpy array is what the geometry uses; copy: torch may reuse the buffer
                return out.detach().cpu().numpy().copy()

        return call

    hessian_products = in_float64(hessian_products_fn)
    logger.debug(
        "from_torch(%s): K = %d, n = %d, Jacobian by %s, float64 default dtype per call",
        name,
        K,
        n,
        "jacfwd" if K <= n else "jacrev",
    )
    return SmoothMap.from_callables(
        in_float64(function),
        dim_in=K,
        dim_out=n,
        jacobian=in_float64(jac_fn),
        jvp=in_float64(jvp_fn),
        vjp=in_float64(vjp_fn),
        jacobian_derivative=in_float64(jacobian_derivative_fn),
        hessian_vector_blocks=lambda t, V, W, block_bytes: hessian_products(t, V, W),
        jacobian_vjp=in_float64(jacobian_vjp_fn),
        name=name,
    )


def _check_output(torch: Any, function: Callable, theta0: np.ndarray, name: str) -> int:
    """n, after evaluating the model twice at θ0: a float64 vector, finite, deterministic."""
    low: set[str] = set()

    class LowPrecision(torch.overrides.TorchFunctionMode):
        """Records the floating dtypes below float64 among the results of every torch call."""

        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            for value in out if isinstance(out, tuple | list) else (out,):
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    if value.dtype != torch.float64:
                        low.add(str(value.dtype).removeprefix("torch."))
            return out

    with _float64(torch), torch.no_grad():
        t = torch.as_tensor(theta0, dtype=torch.float64)
        try:
            with LowPrecision():
                first = function(t)
            second = function(t)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from exc
        except Exception as exc:  # the user's model failed: say where it came from
            raise InputError(
                f"{name}: evaluating the model at a float64 theta of shape {tuple(t.shape)} "
                f"failed: {exc}"
            ) from exc
    if not isinstance(first, torch.Tensor) or first.ndim != 1 or first.shape[0] < 1:
        shape = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        raise ShapeError(
            f"{name}: the model returns {shape}; expected a tensor vector (n,), e.g. the "
            "network outputs stacked with .reshape(-1)"
        )
    if first.dtype != torch.float64 or low:
        found = ", ".join(sorted(low | {str(first.dtype).removeprefix("torch.")} - {"float64"}))
        raise InputError(
            f"{name}: the model computes with {found} values; expected float64 throughout "
            "(remove casts such as .float() or .to(torch.float32))"
        )
    if not torch.equal(first, second):
        raise InputError(
            f"{name}: two evaluations at the same theta differ: the map must be a function of "
            "theta (dropout or batch statistics in training mode? call module.eval())"
        )
    if not bool(torch.isfinite(first).all()):
        raise InputError(f"{name}: the model's value at theta is not finite (NaN or inf)")
    return int(first.shape[0])
