"""Lie brackets of vector fields on R^n and the routes to the brackets of a frame.

For vector fields X, Y on R^n, [X, Y](p) = DY(p)X(p) − DX(p)Y(p) (the
commutator of the derivations, SymPy's ``Commutator``).  :func:`lie_bracket`
computes it exactly with autograd (forward mode, with reverse-over-reverse as a
fallback for primitives without a forward rule such as ``solve``);
:func:`lie_bracket_fd` uses central differences and returns an error estimate
from two step sizes, for fields that autograd cannot trace.

For a frame F(p) = (X_1(p), ..., X_r(p)), one directional derivative of the whole
frame per column is enough: T[i, j] = DX_j(p)X_i(p) is column j of
d/dt F(p + tX_i), and [X_i, X_j] = T[i, j] − T[j, i].  A distribution gets these
brackets by one of three routes (:func:`resolve_bracket_route`): autograd,
central differences (with error estimates) or a callable supplied by the caller
(the pullback bundle's second derivatives, or SymPy's exact brackets).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TypeAlias, cast

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.differential_operators import make_jvp, make_jvp_reversemode
from autograd.tracer import getval, isbox

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_finite,
    check_real,
)

__all__ = [
    "lie_bracket",
    "lie_bracket_fd",
    "directional_derivative",
    "check_point",
    "bracket_terms",
    "resolve_bracket_route",
    "frame_bracket_data",
    "VectorField",
    "SuppliedBrackets",
]

#: A vector field (or frame field) q ↦ X(q) on R^n: called with float arrays and, on the
#: autograd routes, with autograd's traced values, which it must return traced.
VectorField: TypeAlias = Callable[[np.ndarray], npt.ArrayLike]
#: The ``brackets`` callable of a distribution: p ↦ [X_i, X_j](p) as an (r, r, dim) array,
#: or the pair (brackets, terms) of such arrays (:func:`frame_bracket_data`).
SuppliedBrackets: TypeAlias = Callable[
    [np.ndarray], npt.ArrayLike | tuple[npt.ArrayLike, npt.ArrayLike]
]

_EPS = float(np.finfo(np.float64).eps)


def directional_derivative(fn: VectorField, p: np.ndarray, v: npt.ArrayLike) -> np.ndarray:
    """d/dt fn(p + t v) at t = 0 by autograd: forward mode, else reverse-over-reverse.

    autograd has no forward rule for some primitives (``linalg.solve``...);
    the reverse-mode jvp trick covers them at about 1.5× the cost.  Traceable
    itself, so derivatives nest.
    """
    with warnings.catch_warnings():
        # a constant field is a legitimate vector field, not a tracing mistake
        warnings.filterwarnings("ignore", message="Output seems independent of input")
        try:
            return make_jvp(fn)(p)(v)[1]
        except NotImplementedError:
            return make_jvp_reversemode(fn)(p)(v)


def _evaluate_field(X, p, dim, name):
    value = X(p)
    if tuple(anp.shape(value)) != (dim,):
        raise ShapeError(
            f"vector field {name} returned shape {tuple(anp.shape(value))} at a point of R^{dim}; "
            f"expected ({dim},)"
        )
    return value


def check_point(p: npt.ArrayLike, name: str = "point p") -> np.ndarray:
    """A 1-D point, checked; an autograd-traced point passes through untouched (shape checked)."""
    if isbox(p):
        if len(anp.shape(p)) != 1:
            raise ShapeError(f"{name} must be 1-D, got shape {tuple(anp.shape(p))}")
        # the ArrayBox stands in for the array it traces (autograd has no type information)
        return cast(np.ndarray, p)
    return check_array(p, name, ndim=1)


def lie_bracket(
    X: VectorField,
    Y: VectorField,
    p: npt.ArrayLike,
) -> np.ndarray:
    """Lie bracket [X, Y](p) = DY(p)X(p) − DX(p)Y(p), exactly by automatic differentiation.

    Implements the bracket of the Frobenius condition (2.31).

    Parameters
    ----------
    X, Y : callable
        Vector fields q ↦ X(q), shape ``(dim,)``, written with ``autograd.numpy``.
    p : array-like, shape=[dim]
        Base point.

    Returns
    -------
    bracket : ndarray, shape=[dim]
        Traceable itself, so brackets nest: ``lie_bracket(X, lambda q:
        lie_bracket(X, Y, q), p)`` is [X, [X, Y]](p).

    Raises
    ------
    InputError
        If a field is not autograd-traceable (use :func:`lie_bracket_fd`).
    """
    p = check_point(p)
    dim = anp.shape(p)[0]
    Xp = _evaluate_field(X, p, dim, "X")
    Yp = _evaluate_field(Y, p, dim, "Y")
    try:
        out = directional_derivative(Y, p, Xp) - directional_derivative(X, p, Yp)
        # a field built with numpy.array([...]) around traced entries returns an
        # object array: autograd did not see through it
        if np.asarray(getval(out)).dtype.kind == "O":
            raise TypeError("a field returned an object array (numpy.array of traced values)")
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            f"could not differentiate the vector fields with autograd ({type(exc).__name__}: "
            f"{exc}); write them with autograd.numpy, or use lie_bracket_fd for fields that "
            "cannot be traced"
        ) from exc
    return check_finite(out, "[X, Y](p)")


def _default_step(p, v):
    """Step h with |h v|_∞ = eps^(1/3) max(1, |p|_∞): balances O(h²) truncation and eps/h round-off."""
    vmax = float(np.max(np.abs(v))) if np.size(v) else 0.0
    if vmax == 0.0:
        return 1.0
    return _EPS ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(p)))) / vmax


def _central_difference(fn, p, v, h=None):
    """(d/dt fn(p + t v), error estimate) by central differences at steps h and h/2.

    The value returned is the h/2 difference; with D(h) = D + a h² + O(h⁴),
    |D(h) − D(h/2)|/3 estimates its truncation error (Richardson), to which the
    round-off eps·|fn|/(h/2) is added.  Errors are componentwise, same shape as fn.
    """
    v = np.asarray(v, dtype=np.float64)
    if not np.any(v):
        zero = np.zeros_like(np.asarray(fn(p), dtype=np.float64))
        return zero, zero
    h = check_real(_default_step(p, v) if h is None else h, "step h", positive=True)
    vals = [np.asarray(fn(p + s * v), dtype=np.float64) for s in (h, -h, h / 2, -h / 2)]
    d_h = (vals[0] - vals[1]) / (2 * h)
    d_half = (vals[2] - vals[3]) / h
    size = np.max([np.max(np.abs(x)) for x in vals])
    err = np.abs(d_h - d_half) / 3.0 + _EPS * size / (h / 2)
    return d_half, err


def lie_bracket_fd(
    X: VectorField,
    Y: VectorField,
    p: npt.ArrayLike,
    h: float | None = None,
) -> tuple[np.ndarray, float]:
    """[X, Y](p) by central differences, with an error estimate, for fields autograd cannot trace.

    Implements the bracket of (2.31) numerically: DY(p)X(p) and DX(p)Y(p) are
    central differences along X(p) and Y(p) at steps h and h/2.

    Parameters
    ----------
    X, Y : callable
        Vector fields q ↦ shape ``(dim,)`` (any numpy code).
    p : array-like, shape=[dim]
    h : float, optional
        Step along each direction (the point moves by h·X(p)).  Default: the
        displacement is eps^(1/3)·max(1, |p|_∞) in the ∞-norm.

    Returns
    -------
    bracket : ndarray, shape=[dim]
        The h/2 central-difference value.
    error : float
        Estimated 2-norm error: Richardson estimate |D(h) − D(h/2)|/3 of the
        truncation error plus the round-off eps·|field|/h.
    """
    p = check_array(p, "point p", ndim=1)
    dim = p.shape[0]
    Xp = np.asarray(_evaluate_field(X, p, dim, "X"), dtype=np.float64)
    Yp = np.asarray(_evaluate_field(Y, p, dim, "Y"), dtype=np.float64)
    dY, eY = _central_difference(Y, p, Xp, h)
    dX, eX = _central_difference(X, p, Yp, h)
    bracket = dY - dX
    if not np.all(np.isfinite(bracket)):
        raise NumericalError("central differences of the vector fields produced NaN/inf at p")
    return bracket, float(np.linalg.norm(eY + eX))


def bracket_terms(
    X: VectorField,
    terms: Iterable[tuple[float, VectorField]],
) -> list[tuple[float, Callable[[np.ndarray], np.ndarray]]]:
    """Terms of [X, Y] for Y = Σ_l s_l y_l: Σ_l s_l (Dy_l·X − DX·y_l), each a traceable field.

    Keeping the terms separate (instead of one field for the bracket) lets the
    growth vector size the round-off of nested brackets.
    """
    out: list[tuple[float, Callable[[np.ndarray], np.ndarray]]] = []
    for s, y in terms:
        out.append((s, _derivative_along(y, X)))
        out.append((-s, _derivative_along(X, y)))
    return out


def _derivative_along(
    field: VectorField, direction: VectorField
) -> Callable[[np.ndarray], np.ndarray]:
    """The field q ↦ D field(q)·direction(q)."""
    return lambda q: directional_derivative(field, q, direction(q))


def resolve_bracket_route(
    brackets: str | SuppliedBrackets | None,
) -> tuple[str, SuppliedBrackets | None]:
    """The ``brackets`` argument of a distribution as ``(route, supplied)``.

    ``route`` is "autograd" (None or "autograd"), "central differences" ("fd" or
    "central differences") or "supplied" (a callable, returned as ``supplied``;
    None otherwise).  A distribution built by SymPy with exact brackets relabels
    its supplied route "symbolic".

    Raises
    ------
    InputError
        Anything else.
    """
    if brackets is None or brackets == "autograd":
        return "autograd", None
    if isinstance(brackets, str) and brackets in ("fd", "central differences"):
        return "central differences", None
    if callable(brackets):
        return "supplied", brackets
    raise InputError(
        f"brackets must be None, 'autograd', 'fd' or a callable p -> (r, r, dim) array, "
        f"got {brackets!r}"
    )


def frame_bracket_data(
    frame: VectorField,
    p: np.ndarray,
    F: np.ndarray,
    route: str,
    supplied: SuppliedBrackets | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Brackets of the frame columns at p by one route, with their terms and error estimates.

    Implements the brackets [X_i, X_j](p) of (2.31) for a frame.

    Parameters
    ----------
    frame : callable
        p ↦ F(p), shape ``(dim, r)`` (traceable by autograd on the "autograd" route).
    p : ndarray, shape=[dim]
    F : ndarray, shape=[dim, r]
        The frame at p.
    route : str
        From :func:`resolve_bracket_route` ("symbolic" counts as supplied).
    supplied : callable, optional
        The supplied ``brackets(p)``: an array (r, r, dim), or a pair
        ``(brackets, terms)`` of such arrays.

    Returns
    -------
    B : ndarray, shape=[r, r, dim]
        B[i, j] = [X_i, X_j](p).
    T : ndarray, shape=[r, r, dim], or None
        Terms T[i, j] = DX_j X_i with B = T − Tᵀ (None when a supplied callable gives none).
    E : ndarray, shape=[r, r, dim], or None
        Componentwise absolute error estimates of B (central differences only).
    """
    dim, r = F.shape
    if route == "autograd":
        try:
            dF = [directional_derivative(frame, p, F[:, i]) for i in range(r)]
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"autograd could not trace the frame ({type(exc).__name__}: {exc}); write it "
                "with autograd.numpy, pass brackets='fd' for central differences, or pass a "
                "brackets callable"
            ) from exc
        T = np.stack([np.asarray(getval(d), dtype=np.float64).T for d in dF])
        return T - T.transpose(1, 0, 2), T, None
    if route == "central differences":
        pairs = [_central_difference(frame, p, F[:, i]) for i in range(r)]
        T = np.stack([d.T for d, _ in pairs])
        E = np.stack([e.T for _, e in pairs])
        return T - T.transpose(1, 0, 2), T, E + E.transpose(1, 0, 2)
    if supplied is None:
        raise InputError(f"the bracket route {route!r} needs the supplied brackets(p) callable")
    out = supplied(p)
    terms = None
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ShapeError("brackets(p) must return an array or a pair (brackets, terms)")
        out, terms = out
    B = np.asarray(check_array(out, "brackets(p)", shape=(r, r, dim)))
    if terms is not None:
        terms = np.asarray(check_array(terms, "bracket terms", shape=(r, r, dim)))
    return B, terms, None
