"""The package's own exceptions and the input checks every module shares.

Every bad input raises a subclass of :class:`SubriemannError` that is also a
``ValueError`` or ``TypeError``, so callers may catch either the package's error
or the builtin one.  Messages say what was wrong *and* what was expected.

The array checks here accept autograd ``ArrayBox`` values: the network value
and its closed-form Jacobian are differentiated through later (Lie brackets,
geomstats' geodesics), so validation must never break tracing.  The scalar
checks :func:`check_int` and :func:`check_real` are for counts, sizes,
tolerances and scales, and return plain Python numbers.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, TypeVar, cast, overload

import numpy as np
import numpy.typing as npt
from autograd.tracer import getval, isbox

__all__ = [
    "SubriemannError",
    "InputError",
    "ShapeError",
    "NonFiniteError",
    "ActivationError",
    "RankConditionError",
    "NumericalError",
    "ConditioningWarning",
    "check_array",
    "check_vector",
    "check_finite",
    "check_result",
    "with_context",
    "check_int",
    "check_real",
]


class SubriemannError(Exception):
    """Base class of every error raised by subriemann."""


class InputError(SubriemannError, ValueError):
    """An argument has a wrong value (range, sign, option name...)."""


class ShapeError(InputError):
    """An array argument has the wrong shape or length."""


class NonFiniteError(InputError):
    """An array contains NaN or inf where finite values are required."""


class ActivationError(InputError):
    """An activation is unknown, or violates the paper's smoothness assumption."""


class RankConditionError(SubriemannError, ValueError):
    """A construction needs a rank condition (e.g. rank D = K, (5.1)) that fails."""


class NumericalError(SubriemannError, ArithmeticError):
    """A computation produced non-finite values from finite inputs (overflow, blow-up)."""


class ConditioningWarning(UserWarning):
    """A computation went on, but near the limit of what float64 resolves (e.g. σ_min(D) → 0)."""


# what check_finite/check_result hand back: the very object they were given
_Checked = TypeVar("_Checked")


def _count_nonfinite(raw: np.ndarray) -> int:
    """Number of NaN/inf entries of a real array, 0 in one allocation-free pass when all are finite.

    A sum is finite only if every term is (NaN and ±inf propagate; inf − inf is
    NaN), so one reduction settles the common case without the boolean
    temporary of ``isfinite``; only a non-finite sum (a NaN/inf entry, or finite
    entries whose sum overflows) pays for the elementwise count.
    """
    if raw.dtype.kind in "iub":  # integers and booleans are always finite
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(raw)):
            return 0
    return int(raw.size - np.count_nonzero(np.isfinite(raw)))


def check_finite(array: _Checked, name: str) -> _Checked:
    """Raise :class:`NonFiniteError` if ``array`` has NaN/inf; return it unchanged."""
    bad = _count_nonfinite(np.asarray(getval(array)))
    if bad:
        raise NonFiniteError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf); expected finite float64 values"
        )
    return array


def check_result(array: _Checked, what: str, hint: str = "") -> _Checked:
    """Raise :class:`NumericalError` if a computed ``array`` has NaN/inf; return it unchanged.

    For results computed from inputs already checked to be finite: non-finite
    values there are overflow (or a blow-up), not a bad argument.  ``what``
    names the result (e.g. ``"f(theta)"``), ``hint`` says which input to look
    at.  Accepts autograd boxes (the value is checked, the box returned).
    """
    bad = _count_nonfinite(np.asarray(getval(array)))
    if bad:
        hint = f"; {hint}" if hint else ""
        raise NumericalError(
            f"{what} contains NaN or inf ({bad} value(s)) although its inputs are finite: "
            f"the computation overflowed{hint}"
        )
    return array


def with_context(exc: SubriemannError, context: str) -> SubriemannError:
    """A copy of the package error ``exc`` (same class) whose message starts with ``context``.

    Used where one call evaluates many points (a batch, the steps of an ODE),
    so the error says *which* point failed; raise it ``from exc``.
    """
    return type(exc)(f"{context}: {exc}")


# dtype kinds accepted as real numbers: signed/unsigned integers and floats.
# Booleans, complex, strings, bytes, objects, dates are refused: casting them
# to float64 would silently drop an imaginary part or invent numbers.
_REAL_KINDS = "iuf"


def check_array(
    array: npt.ArrayLike,
    name: str,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    *,
    finite: bool = True,
) -> np.ndarray:
    """Return ``array`` as float64 (traced values pass through) after dtype/shape/finite checks.

    Real integer and float arrays (and nested sequences of them) are accepted;
    complex, boolean, string and object data raise :class:`InputError`, for
    plain arrays, lists and autograd boxes alike.  ``shape`` may contain
    ``None`` for a free axis.  ``finite=False`` skips the NaN/inf check, for
    values whose non-finiteness is numerical trouble (checked by the caller
    with :func:`check_result`) rather than a bad argument.  The return type says
    ``np.ndarray``: an autograd box (untyped, so ``Any`` to a type checker)
    comes back as itself and stands in for one.
    """
    given = type(array).__name__
    an_array = isbox(array) or isinstance(array, np.ndarray | np.generic)
    values: np.ndarray
    if isbox(array):
        # the traced value is checked; the box itself must pass through untouched (it is
        # duck-typed as an array: shape, arithmetic, indexing)
        dtype = np.asarray(getval(array)).dtype
        values = cast(np.ndarray, array)
    else:
        if isinstance(array, np.ndarray):
            values = array
        else:
            try:
                values = np.asarray(array)
            except (TypeError, ValueError) as exc:  # ragged nesting, unconvertible objects
                raise InputError(
                    f"{name} must be a numeric array, got a {given} that numpy cannot read as "
                    f"one ({exc})"
                ) from exc
        dtype = values.dtype
    if dtype.kind not in _REAL_KINDS:
        if an_array:
            raise InputError(f"{name} must hold real numbers, got dtype {dtype}")
        raise InputError(
            f"{name} must be a numeric array of real numbers, got a {given} of dtype {dtype}"
        )
    if not isbox(values):
        values = values.astype(np.float64, copy=False)
    if ndim is not None and len(values.shape) != ndim:
        raise ShapeError(f"{name} must be {ndim}-D, got shape {tuple(values.shape)}")
    if shape is not None:
        if len(values.shape) != len(shape) or any(
            s is not None and a != s for a, s in zip(values.shape, shape, strict=True)
        ):
            want = tuple("any" if s is None else s for s in shape)
            raise ShapeError(f"{name} must have shape {want}, got {tuple(values.shape)}")
    return check_finite(values, name) if finite else values


def check_vector(vector: npt.ArrayLike, dim: int, name: str) -> np.ndarray:
    """Check a single point or tangent vector of length ``dim`` (shape ``(dim,)``)."""
    return check_array(vector, name, shape=(dim,))


def _scalar_error(
    value: object, name: str, expected: str, what: str | None, allow_none: bool
) -> InputError:
    """The message of :func:`check_int`/:func:`check_real`: what was expected, what came."""
    if isinstance(value, np.generic):  # show np.float64(0.5) as 0.5
        value = value.item()
    none = " or None" if allow_none else ""
    about = f" ({what})" if what else ""
    return InputError(f"{name} must be {expected}{none}{about}, got {value!r}")


@overload
def check_int(
    value: object,
    name: str,
    what: str | None = None,
    *,
    minimum: int = 1,
    allow_none: Literal[False] = False,
) -> int: ...
@overload
def check_int(
    value: object, name: str, what: str | None = None, *, minimum: int = 1, allow_none: bool
) -> int | None: ...
def check_int(
    value: object, name: str, what: str | None = None, *, minimum: int = 1, allow_none: bool = False
) -> int | None:
    """Return ``value`` as an ``int`` after checking that it is an integer ≥ ``minimum``.

    Python and NumPy integers pass; ``bool``, floats (even ``2.0``), strings and
    arrays raise :class:`InputError`, e.g. ``"n_samples must be a positive
    integer (the number of samples N), got 0"``.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        Its name in the message.
    what : str, optional
        What it stands for, shown in parentheses in the message.
    minimum : int
        Smallest accepted value (default 1: a positive integer).
    allow_none : bool
        Accept ``None`` (returned as is).

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        Not an integer, or below ``minimum``.
    """
    if value is None and allow_none:
        return None
    if (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and int(value) >= minimum
    ):
        return int(value)
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise _scalar_error(value, name, expected, what, allow_none)


@overload
def check_real(
    value: object,
    name: str,
    what: str | None = None,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    below: float | None = None,
    allow_inf: bool = False,
    allow_none: Literal[False] = False,
) -> float: ...
@overload
def check_real(
    value: object,
    name: str,
    what: str | None = None,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    below: float | None = None,
    allow_inf: bool = False,
    allow_none: bool,
) -> float | None: ...
def check_real(
    value: object,
    name: str,
    what: str | None = None,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    below: float | None = None,
    allow_inf: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as a ``float`` after checking that it is a real number in range.

    Python and NumPy reals (and 0-d real arrays) pass; ``bool``, NaN, strings
    and other objects raise :class:`InputError`, e.g. ``"eps must be a finite
    number > 0 (the target cost epsilon of (2.17)), got 0.0"``.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        Its name in the message.
    what : str, optional
        What it stands for, shown in parentheses in the message.
    positive, nonnegative : bool
        Require ``value > 0`` or ``value >= 0``.
    below : float, optional
        Require ``value < below`` (with ``positive``: the open interval (0, below)).
    allow_inf : bool
        Accept +inf (e.g. an unbounded time); -inf and NaN are always refused.
    allow_none : bool
        Accept ``None`` (returned as is).

    Returns
    -------
    float or None

    Raises
    ------
    InputError
        Not a real number, NaN, infinite (unless allowed) or out of range.
    """
    if value is None and allow_none:
        return None
    real = (isinstance(value, numbers.Real) and not isinstance(value, bool)) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
    )
    if real:
        try:
            v = float(cast(numbers.Real | np.ndarray, value))  # checked to be real just above
        except OverflowError:  # an int beyond float64
            v = math.nan
        if (
            not math.isnan(v)
            and v != -math.inf
            and (allow_inf or v != math.inf)
            and (not positive or v > 0)
            and (not nonnegative or v >= 0)
            and (below is None or v < below)
        ):
            return v
    if positive:
        bound = " > 0" if below is None else f" in (0, {below:g})"
    elif nonnegative:
        bound = " >= 0" if below is None else f" in [0, {below:g})"
    else:
        bound = "" if below is None else f" < {below:g}"
    if allow_inf and below is None:
        expected = f"a number{bound} or inf"
    else:
        expected = f"a finite number{bound}"
    raise _scalar_error(value, name, expected, what, allow_none)


class UndeterminedGrowth(SubriemannError, ValueError):
    """The Lie flag was truncated at ``max_step`` before it was determined (reached dim or stabilised).

    A sibling of :class:`InputError`, not a subclass: the arguments were valid, and a
    larger ``max_step`` may settle the question or may not (at a singular point the
    pointwise ranks can stall for arbitrarily many steps).  A ``ValueError`` because the
    value asked for (a verdict, a Hausdorff dimension) is not determined by the steps
    computed.  ``step`` is the last step computed, ``ranks`` the ranks so far, ``dim`` the
    ambient dimension.
    """

    def __init__(
        self,
        message: str,
        *,
        step: int | None = None,
        ranks: tuple[int, ...] | None = None,
        dim: int | None = None,
    ):
        super().__init__(message)
        self.step, self.ranks, self.dim = step, ranks, dim


__all__.append("UndeterminedGrowth")  # appended with the class (this file grows at its end)
