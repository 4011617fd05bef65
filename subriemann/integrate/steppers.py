"""One step of an ODE y′ = F(t, y): explicit Runge–Kutta, Gauss–Legendre, and scipy's solvers.

After diffrax's ``_solver/base.py``: a stepper proposes; it does not decide.  ``step``
returns a :class:`Proposal` (the new state, its slope, an error estimate normalised
so that ≤ 1 means "within rtol/atol", and a dense interpolant over the step); the
step-size controller accepts or rejects it.  Steppers know only vector fields on
R^n.

Orders (measured in ``tests/test_integrate_core.py`` on y′ = λy and on the
harmonic oscillator): Euler 1, RK4 4, Dormand–Prince 5 (embedded 4), Gauss–Legendre
(2 stages) 4, symplectic, conserving quadratic invariants exactly up to its
fixed-point tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.integrate

from subriemann.errors import InputError, SubriemannError

from .solution import Interpolant, hermite

__all__ = [
    "Proposal",
    "Stepper",
    "Euler",
    "RK4",
    "DormandPrince54",
    "GaussLegendre4",
    "ScipyStepper",
    "error_norm",
]

#: A vector field F(t, y) on R^n, y and the value of shape [dim].
VectorField = Callable[[float, np.ndarray], np.ndarray]


@dataclass(kw_only=True)
class Proposal:
    """A step's result, before the controller has accepted it.

    Attributes
    ----------
    t : float
        The end time t + h.
    y, f : ndarray, shape=[dim]
        The proposed state and the field there (reused by the next step: FSAL).
    error : float or None
        Error estimate in the controller's norm (≤ 1: within tolerance); ``None``
        for steppers without an embedded estimate.
    dense : callable
        t ↦ y(t) over the step.
    evaluations : int
        Field evaluations spent.
    failure : str or None
        Set when the stepper itself gave up (scipy's step size fell below the
        spacing of floats); the driver ends the run there.
    info : dict
        Stepper-specific facts for its controller (e.g. corrector iterations).
    """

    t: float
    y: np.ndarray
    f: np.ndarray | None
    error: float | None
    dense: Interpolant
    evaluations: int
    failure: str | None = None
    info: dict = field(default_factory=dict)

    @classmethod
    def rejected(
        cls,
        t: float,
        y: np.ndarray,
        f: np.ndarray | None,
        *,
        evaluations: int = 0,
        reason: str | BaseException,
    ) -> Proposal:
        """A step that must be retried smaller: the state stays y, error ∞, ``info["failure"]``.

        For steppers whose own sub-problem failed (a corrector that did not converge):
        the controller rejects an infinite error and shrinks h, as for a too-large
        error estimate; ``failure`` (which ends the run) stays unset.
        """
        return cls(
            t=t,
            y=y,
            f=f,
            error=math.inf,
            dense=lambda _t: y,
            evaluations=evaluations,
            info={"failure": reason},
        )


def error_norm(
    err: npt.ArrayLike, y0: npt.ArrayLike, y1: npt.ArrayLike, rtol: float, atol: float
) -> float:
    """RMS of err / (atol + rtol·max(|y0|, |y1|)) (Hairer–Nørsett–Wanner II.4)."""
    scale = atol + rtol * np.maximum(np.abs(y0), np.abs(y1))
    return float(np.sqrt(np.mean((np.asarray(err) / scale) ** 2)))


class Stepper:
    """Base of the steppers: ``step(field, t, y, f, h) -> Proposal``.

    ``field(t, y)`` is the vector field; ``f`` is its value at (t, y), known from
    the previous step.  ``adaptive`` says whether ``error`` is estimated;
    ``controls_itself`` that the stepper chooses h on its own (scipy's solvers).
    """

    order: int = 1
    adaptive: bool = False
    controls_itself: bool = False
    rtol: float = 1e-8
    atol: float = 1e-10

    def step(
        self, field: VectorField, t: float, y: np.ndarray, f: np.ndarray, h: float
    ) -> Proposal:
        raise NotImplementedError


class _ExplicitRK(Stepper):
    """Explicit Runge–Kutta from a Butcher tableau (a, b, c), optionally embedded (b_err)."""

    a: tuple = ()
    b: tuple = ()
    c: tuple = ()
    b_err: tuple | None = None

    def step(
        self, field: VectorField, t: float, y: np.ndarray, f: np.ndarray, h: float
    ) -> Proposal:
        k = [f]
        for i in range(1, len(self.c)):
            yi = y + h * sum(aij * kj for aij, kj in zip(self.a[i], k, strict=False) if aij)
            k.append(field(t + self.c[i] * h, yi))
        y1 = y + h * sum(bi * ki for bi, ki in zip(self.b, k, strict=True) if bi)
        fsal = self.c[-1] == 1.0 and tuple(self.a[-1]) == tuple(self.b[: len(self.a[-1])])
        f1 = k[-1] if fsal else field(t + h, y1)
        error = None
        if self.b_err is not None:
            err = h * sum(e * ki for e, ki in zip(self.b_err, k, strict=True) if e)
            error = error_norm(err, y, y1, self.rtol, self.atol)
        n = len(self.c) - 1 + (0 if fsal else 1)
        return Proposal(
            t=t + h, y=y1, f=f1, error=error, dense=hermite(t, y, f, t + h, y1, f1), evaluations=n
        )


class Euler(_ExplicitRK):
    """Explicit Euler, order 1."""

    order = 1
    a = ((),)
    b = (1.0,)
    c = (0.0,)


class RK4(_ExplicitRK):
    """The classical fourth-order Runge–Kutta method."""

    order = 4
    a = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
    b = (1 / 6, 1 / 3, 1 / 3, 1 / 6)
    c = (0.0, 0.5, 0.5, 1.0)


class DormandPrince54(_ExplicitRK):
    """Dormand–Prince 5(4) (Hairer–Nørsett–Wanner I, Table 5.2): order 5, FSAL, 6 evaluations a step.

    The embedded fourth-order solution gives the error estimate for the
    step-size controller (local extrapolation: the fifth-order result is kept).
    """

    order = 5
    adaptive = True
    c = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
    a = (
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    )
    b = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
    # b − b̂ (fifth minus fourth order weights)
    b_err = (
        71 / 57600,
        0.0,
        -71 / 16695,
        71 / 1920,
        -17253 / 339200,
        22 / 525,
        -1 / 40,
    )

    def __init__(self, rtol: float = 1e-8, atol: float = 1e-10):
        self.rtol, self.atol = rtol, atol


class GaussLegendre4(Stepper):
    """Two-stage Gauss–Legendre collocation: order 4, A-stable, symplectic.

    For Hamiltonian systems over long times: it preserves every quadratic first
    integral exactly and the Hamiltonian without drift (Hairer–Lubich–Wanner,
    *Geometric Numerical Integration*, IV.2 and VI.4).  The implicit stage
    equations are solved by fixed-point iteration to ``tol`` (relative to the
    stages); the step fails (``error = inf``) when that does not converge, which
    makes the controller shrink it.
    """

    order = 4
    _s3 = math.sqrt(3.0)
    c = (0.5 - _s3 / 6, 0.5 + _s3 / 6)
    a = ((0.25, 0.25 - _s3 / 6), (0.25 + _s3 / 6, 0.25))

    def __init__(self, tol: float = 1e-14, max_iterations: int = 50):
        self.tol, self.max_iterations = tol, max_iterations

    def step(
        self, field: VectorField, t: float, y: np.ndarray, f: np.ndarray, h: float
    ) -> Proposal:
        (a11, a12), (a21, a22) = self.a
        k1 = k2 = f
        n, converged = 0, False
        while n < self.max_iterations:
            n += 1
            k1_new = field(t + self.c[0] * h, y + h * (a11 * k1 + a12 * k2))
            k2_new = field(t + self.c[1] * h, y + h * (a21 * k1_new + a22 * k2))
            change = max(np.max(np.abs(k1_new - k1)), np.max(np.abs(k2_new - k2)))
            scale = max(np.max(np.abs(k1_new)), np.max(np.abs(k2_new)), 1e-300)
            k1, k2 = k1_new, k2_new
            if change <= self.tol * scale:
                converged = True
                break
        y1 = y + 0.5 * h * (k1 + k2)
        f1 = field(t + h, y1)
        return Proposal(
            t=t + h,
            y=y1,
            f=f1,
            error=None if converged else math.inf,
            dense=hermite(t, y, f, t + h, y1, f1),
            evaluations=2 * n + 1,
        )


class ScipyStepper(Stepper):
    """One accepted step of a scipy solver (RK45, RK23, DOP853, Radau, BDF, LSODA).

    scipy's solvers choose their own steps (``controls_itself``) and reject
    internally; each call returns the next *accepted* step with the solver's
    dense output.
    """

    adaptive = True
    controls_itself = True
    NAMES = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")

    def __init__(self, name: str, rtol: float = 1e-8, atol: float = 1e-10, **options: Any):
        if name not in self.NAMES:
            raise InputError(f"unknown scipy solver {name!r}; expected one of {self.NAMES}")
        self.name, self.rtol, self.atol, self.options = name, rtol, atol, options
        self.solver: scipy.integrate.OdeSolver | None = None  # set by start()
        self.order = {"RK23": 3, "RK45": 5, "DOP853": 8}.get(name, 5)

    def start(
        self,
        field: VectorField,
        t0: float,
        y0: npt.ArrayLike,
        t_end: float,
        first_step: float | None = None,
        max_step: float | None = None,
    ) -> None:
        """Create the scipy solver (its constructor evaluates the field at t0)."""
        kwargs = {"rtol": self.rtol, "atol": self.atol, **self.options}
        if first_step is not None:
            kwargs.setdefault("first_step", first_step)
        if max_step is not None and math.isfinite(max_step):
            kwargs.setdefault("max_step", max_step)
        try:
            self.solver = getattr(scipy.integrate, self.name)(field, t0, y0, t_end, **kwargs)
        except SubriemannError:
            raise  # the field's own failure at t0 (e.g. rank loss), not a bad option
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid options for scipy's {self.name}: {exc}") from exc

    def step(
        self, field: VectorField, t: float, y: np.ndarray, f: np.ndarray, h: float
    ) -> Proposal:
        solver = self.solver
        if solver is None:
            raise InputError(
                f"ScipyStepper({self.name!r}).step needs start(field, t0, y0, t_end) first"
            )
        message = solver.step()
        if solver.status == "failed":
            return Proposal(
                t=t, y=y, f=f, error=math.inf, dense=lambda _t: y, evaluations=0, failure=message
            )
        return Proposal(
            t=float(solver.t),
            y=np.array(solver.y),
            f=None,
            error=0.0,
            dense=solver.dense_output(),
            evaluations=0,
        )
