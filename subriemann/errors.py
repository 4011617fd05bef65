"""The package's own exceptions and the input checks every module shares.

Every bad input raises a subclass of :class:`SubriemannError` that is also a
``ValueError`` or ``TypeError``, so callers may catch either the package's error
or the builtin one.  Messages say what was wrong *and* what was expected.

The checks here accept autograd ``ArrayBox`` values: the network value and its
closed-form Jacobian are differentiated through later (Lie brackets, geomstats'
geodesics), so validation must never break tracing.
"""

from __future__ import annotations

import numpy as np
from autograd.tracer import getval

__all__ = [
    "SubriemannError",
    "InputError",
    "ShapeError",
    "NonFiniteError",
    "ActivationError",
    "RankConditionError",
    "NumericalError",
    "check_array",
    "check_vector",
    "check_finite",
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


def check_finite(array, name: str):
    """Raise :class:`NonFiniteError` if ``array`` has NaN/inf; return it unchanged."""
    raw = np.asarray(getval(array))
    if not np.all(np.isfinite(raw)):
        bad = int(np.size(raw) - np.count_nonzero(np.isfinite(raw)))
        raise NonFiniteError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf); expected finite float64 values"
        )
    return array


def check_array(array, name: str, ndim: int | None = None, shape: tuple | None = None):
    """Return ``array`` as float64 (traced values pass through) after shape/finite checks.

    ``shape`` may contain ``None`` for a free axis.
    """
    if not hasattr(array, "shape"):
        try:
            array = np.asarray(array, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must be a numeric array, got {type(array).__name__}") from exc
    elif isinstance(array, np.ndarray):
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
        array = array.astype(np.float64, copy=False)
    if ndim is not None and len(array.shape) != ndim:
        raise ShapeError(f"{name} must be {ndim}-D, got shape {tuple(array.shape)}")
    if shape is not None:
        if len(array.shape) != len(shape) or any(
            s is not None and a != s for a, s in zip(array.shape, shape, strict=True)
        ):
            want = tuple("any" if s is None else s for s in shape)
            raise ShapeError(f"{name} must have shape {want}, got {tuple(array.shape)}")
    return check_finite(array, name)


def check_vector(vector, dim: int, name: str):
    """Check a single point or tangent vector of length ``dim`` (shape ``(dim,)``)."""
    return check_array(vector, name, shape=(dim,))
