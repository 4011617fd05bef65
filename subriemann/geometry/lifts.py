"""Horizontal lifts of output curves, their holonomy, and vertical curves in a fibre (§2.3–2.4).

For a smooth map f : R^K → R^{QN} with Jacobian D (QN × K) of rank QN, an output
curve x(t) with x(0) = f(θ0) has exactly one *horizontal lift* θ(t): the curve with
f(θ(t)) = x(t) and θ′ ∈ V = range Dᵀ, namely

    θ′ = Pen[D[θ]] x′(t)                                          (min-norm, (2.30))

(D θ′ = x′ and the minimum-norm solution lies in range Dᵀ).  The geometrically
adapted flow (2.4) is the lift of the output-layer flow (1.13): along it
x′ = −∇ₓC, and Pen[D]x′ = −Pen Penᵀ∇_θC.  A closed output loop lifts to an open
curve in general; the gap θ(T) − θ(0) is *vertical* (tangent to the fibre
f⁻¹(x(0)), (2.32)) and, for the square loop of side ε along e_a, e_b, equals
ε²[u_a, u_b](θ0) + O(ε³), u = Pen[D]e the frame of V: the holonomy of V, which
vanishes iff V is integrable near θ0 (2.31).

Output-exact lifts.  The output along a lift is *known*, x(t).  Each step of the
ODE core is therefore followed by minimum-norm corrections θ ← θ + D⁺(x(t) − f(θ))
onto the fibre f⁻¹(x(t)) (:func:`~subriemann.geometry.fibre_correction.correct_onto_fibre`),
so

    |f(θ(t_k)) − x(t_k)| ≤ closure_rtol · max(|x(t_k)|, |x(0)|)

holds at every accepted step, and is reported.  The corrections are minimum-norm,
hence in range Dᵀ (horizontal), of the size of the step's local error; they fix
the output without moving θ along the fibre, so the vertical part — the holonomy —
keeps the ODE's accuracy.  The same device keeps the output fixed along a
*vertical curve* θ′ = (1 − P)w(θ) (2.32), which moves inside one fibre.

Two schemes (``scheme=``, :data:`~subriemann.geometry.bundle_curves.LIFT_SCHEMES`;
the steppers are in :mod:`subriemann.geometry.lift_steppers`), both Dormand–Prince
5(4) with the same steps and accuracy: "jacobian-reuse" (default) — the stages solve
D(θ_s)u = x′ by conjugate gradients preconditioned with the SVD of the step's start
and the chord correction reuses it, one Jacobian per accepted step; "runge-kutta" —
a Jacobian and an SVD per stage, six per step.

This module holds the three curves a user asks for — :func:`horizontal_lift`,
:func:`holonomy` of a closed loop, :func:`vertical_curve` — and how x′ is obtained;
the runner and the result are in :mod:`subriemann.geometry.bundle_curves`, the
loop and holonomy records in :mod:`subriemann.geometry.loops`.

Rank loss of D along a curve is a terminal event of the core (σ_min(D) crossing
the bundle's rank tolerance), located on the steps and reported with where it
happened; the lift stops there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import autograd
import numpy as np
import numpy.typing as npt

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_vector,
)
from subriemann.geometry.bundle_curves import (
    BundleCurve,
    check_scheme,
    run_bundle_curve,
)
from subriemann.geometry.lift_steppers import FibreCache
from subriemann.geometry.loops import BundleHolonomy
from subriemann.integrate import Status

if TYPE_CHECKING:  # hints only: bundles imports this module on use
    from subriemann.geometry.bundles import PullbackBundle

__all__ = ["horizontal_lift", "holonomy", "vertical_curve"]

_EPS = float(np.finfo(np.float64).eps)


def _velocity(x_curve, velocity, QN, t_end):
    """x′(t): given, autograd through x_curve, or central differences (stated in the result)."""
    if velocity is not None:
        if not callable(velocity):
            raise InputError(f"velocity must be a callable t -> ({QN},), got {velocity!r}")
        return lambda t: _output_value(velocity, t, QN, "velocity"), "given"
    try:
        d = autograd.jacobian(x_curve)
        probe = np.asarray(d(0.0), dtype=np.float64)
        if probe.shape != (QN,) or not np.all(np.isfinite(probe)):
            raise TypeError(f"derivative of shape {probe.shape}")
        return lambda t: np.asarray(d(float(t)), dtype=np.float64), "autograd"
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        pass

    # Not traceable: central differences of step h = eps^(1/3)·max(1, |t|), truncation
    # O(h²|x‴|) ≈ 1e-11 relative; one-sided second-order formulas within h of the ends,
    # so x is never evaluated outside [0, t_end].  The output stays exact (the
    # corrector pins f(θ) to x); only θ's vertical part carries this error.
    def fd(t):
        h = _EPS ** (1.0 / 3.0) * max(1.0, abs(t))
        if t - h < 0:
            return (-3 * x_curve(t) + 4 * x_curve(t + h) - x_curve(t + 2 * h)) / (2 * h)
        if t + h > t_end:
            return (3 * x_curve(t) - 4 * x_curve(t - h) + x_curve(t - 2 * h)) / (2 * h)
        return (np.asarray(x_curve(t + h)) - np.asarray(x_curve(t - h))) / (2 * h)

    return lambda t: np.asarray(fd(float(t)), dtype=np.float64), "central differences"


def _output_value(fn, t, QN, name):
    value = check_array(fn(t), f"{name}({t:.6g})")
    if value.shape != (QN,):
        raise ShapeError(
            f"{name}({t:.6g}) has shape {value.shape}; expected ({QN},), a point of R^{QN}"
        )
    return np.asarray(value, dtype=np.float64)


def _spans(t_end, breakpoints):
    if breakpoints is None or len(breakpoints) == 0:
        return [(0.0, t_end)]
    cuts = [float(c) for c in np.atleast_1d(check_array(breakpoints, "breakpoints"))]
    edges = [0.0, *cuts, t_end]
    if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise InputError(
            f"breakpoints must increase strictly inside (0, t_end = {t_end:g}), got {cuts}"
        )
    return list(zip(edges[:-1], edges[1:], strict=True))


def _common_checks(
    bundle: PullbackBundle,
    theta0: npt.ArrayLike,
    t_end: float,
    closure_rtol: float,
    rtol: float,
    atol: float,
    max_steps: int,
    scheme: str,
) -> tuple[np.ndarray, float, float, float, float, int]:
    check_scheme(scheme)
    theta0 = np.array(check_vector(theta0, bundle.dim, "theta0"), dtype=np.float64)
    t_end = check_real(t_end, "t_end", "the end time T of the curve", positive=True)
    closure_rtol = check_real(closure_rtol, "closure_rtol", positive=True)
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_int(max_steps, "max_steps")
    return theta0, t_end, closure_rtol, rtol, atol, max_steps


class _LiftField:
    """θ′ = Pen[D(θ)]x′(t) on the piece ``span`` (a BundleField of run_bundle_curve)."""

    def __init__(
        self, fibres: FibreCache, velocity: Callable[[float], np.ndarray], t_end: float
    ) -> None:
        self.fibres, self.velocity, self.span = fibres, velocity, (0.0, t_end)

    def __call__(self, t: float, theta: np.ndarray, /) -> np.ndarray:
        # x′ may jump at a breakpoint: at the ends of a piece it is taken one ulp inside
        # (the piece's own one-sided value), which changes a smooth x′ by O(ulp)
        a, b = self.span
        inside = math.nextafter(b, a) if t >= b else math.nextafter(a, b) if t <= a else t
        return self.fibres.min_norm_solve(theta, self.velocity(inside))


class _FibreField:
    """θ′ = (1 − P(θ))w(θ), tangent to the fibre (a BundleField of run_bundle_curve)."""

    def __init__(
        self, fibres: FibreCache, w_of: Callable[[np.ndarray], npt.ArrayLike], t_end: float
    ) -> None:
        self.fibres, self.w_of, self.span = fibres, w_of, (0.0, t_end)

    def __call__(self, t: float, theta: np.ndarray, /) -> np.ndarray:
        wv = check_array(self.w_of(theta), f"w(theta) at t = {t:.6g}")
        K = self.fibres.bundle.dim
        if wv.shape != (K,):
            raise ShapeError(f"w(theta) has shape {wv.shape}; expected ({K},), a vector of R^{K}")
        return self.fibres.vertical_projection(theta, wv)


def horizontal_lift(
    bundle: PullbackBundle,
    theta0: npt.ArrayLike,
    x_curve: Callable[[float], npt.ArrayLike],
    t_end: float,
    *,
    velocity: Callable[[float], npt.ArrayLike] | None = None,
    breakpoints: Sequence[float] | np.ndarray | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    closure_rtol: float = 1e-10,
    max_steps: int = 100_000,
    scheme: str = "jacobian-reuse",
) -> BundleCurve:
    """The horizontal lift θ(t) of an output curve x(t): θ′ = Pen[D[θ]]x′(t), θ(0) = θ0.

    Implements (2.30) as a lift: Pen[D]x′ is the minimum-norm solution of
    Dθ′ = x′, so f(θ(t)) = x(t) and θ′ ∈ V = range Dᵀ; for x′ = −∇ₓC this is
    the adapted flow (2.4)/(1.28).  Output-exact: see the module docstring.

    Parameters
    ----------
    bundle : PullbackBundle
    theta0 : array-like, shape=[K]
    x_curve : callable
        t ↦ x(t), shape=[QN], with x(0) = f(θ0).
    t_end : float
        T > 0.
    velocity : callable, optional
        t ↦ x′(t).  Default: autograd through ``x_curve`` (write it with
        ``autograd.numpy``), else central differences (``velocity_route`` says which).
    breakpoints : sequence of float, optional
        Times in (0, T) where x′ jumps (corners of a loop): each smooth piece is
        integrated on its own.
    rtol, atol : float
        Tolerances of the ODE core on θ.
    closure_rtol : float
        |f(θ(t_k)) − x(t_k)| ≤ closure_rtol·max(|x(t_k)|, |x(0)|) at every accepted step.
    max_steps : int
    scheme : {"jacobian-reuse", "runge-kutta"}
        How the stages of the output-exact Dormand–Prince 5(4) steps solve with D
        (module docstring): one Jacobian per step and preconditioned CG at the
        stages, or a Jacobian and an SVD per stage (six per step).

    Returns
    -------
    BundleCurve

    Raises
    ------
    InputError
        x(0) ≠ f(θ0) (the gap is in the message), t_end ≤ 0, bad shapes, rank
        D < QN at θ0.
    """
    theta0, t_end, closure_rtol, rtol, atol, max_steps = _common_checks(
        bundle, theta0, t_end, closure_rtol, rtol, atol, max_steps, scheme
    )
    if not callable(x_curve):
        raise InputError(f"x_curve must be a callable t -> x(t) of shape ({bundle.fiber_dim},)")
    QN = bundle.fiber_dim
    x0 = _output_value(x_curve, 0.0, QN, "x_curve")
    fx0 = np.asarray(bundle.f(theta0), dtype=np.float64)
    gap = float(np.linalg.norm(x0 - fx0))
    allowed = closure_rtol * max(float(np.linalg.norm(x0)), 1.0)
    if gap > allowed:
        raise InputError(
            f"x_curve must start at f(theta0): |x(0) - f(theta0)| = {gap:.3g} > {allowed:.3g} "
            "(closure_rtol times max(|x(0)|, 1)); a lift starts in the fibre over x(0)"
        )
    vel, route = _velocity(x_curve, velocity, QN, t_end)
    fibres = FibreCache(
        bundle, reuse=scheme == "jacobian-reuse", stage_rtol=max(1e-3 * rtol, 1e-15)
    )
    field_fn = _LiftField(fibres, vel, t_end)

    def target(t: float) -> np.ndarray:
        return _output_value(x_curve, t, QN, "x_curve")

    return run_bundle_curve(
        bundle,
        theta0,
        field_fn,
        target,
        _spans(t_end, breakpoints),
        closure_rtol=closure_rtol,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        kind="horizontal lift",
        route=route,
        scheme=scheme,
    )


def holonomy(
    bundle: PullbackBundle,
    theta0: npt.ArrayLike,
    loop: Callable[[float], npt.ArrayLike],
    t_end: float | None = None,
    *,
    velocity: Callable[[float], npt.ArrayLike] | None = None,
    breakpoints: Sequence[float] | np.ndarray | None = None,
    **options: Any,
) -> BundleHolonomy:
    """Holonomy of V along a closed output loop: θ(T) − θ(0) of its horizontal lift.

    Implements the holonomy of the pullback bundle V (2.31)–(2.33): for the
    square loop of side ε along e_a, e_b the displacement is ε²[u_a, u_b](θ0) +
    O(ε³) (u = Pen[D]e, compare ``bundle.frame_brackets``), vertical since the
    u_a are f-related to the coordinate fields of R^{QN}.

    Parameters
    ----------
    bundle : PullbackBundle
    theta0 : array-like, shape=[K]
    loop : callable
        t ↦ x(t) with x(T) = x(0) = f(θ0).  A :class:`SquareLoop` brings its own
        ``t_end``, ``derivative`` and ``breakpoints``.
    t_end : float, optional
        T (default ``loop.t_end``).
    velocity, breakpoints, **options
        As for :func:`horizontal_lift` (defaults from ``loop.derivative`` and
        ``loop.breakpoints`` when present).

    Returns
    -------
    BundleHolonomy

    Raises
    ------
    InputError
        The loop does not close (|x(T) − x(0)| beyond the closure tolerance;
        the gap is in the message), or any error of :func:`horizontal_lift`.
    """
    if t_end is None:
        t_end = getattr(loop, "t_end", None)
        if t_end is None:
            raise InputError("t_end is required unless the loop has a t_end attribute")
    t_end = check_real(t_end, "t_end", "the period T of the loop", positive=True)
    if velocity is None:
        velocity = getattr(loop, "derivative", None)
    if breakpoints is None:
        breakpoints = getattr(loop, "breakpoints", None)
    if not callable(loop):
        raise InputError(f"loop must be a callable t -> x(t), got {type(loop).__name__}")
    QN = bundle.fiber_dim
    xa = _output_value(loop, 0.0, QN, "loop")
    xb = _output_value(loop, t_end, QN, "loop")
    loop_gap = float(np.linalg.norm(xb - xa))
    closure_rtol = options.get("closure_rtol", 1e-10)
    allowed = closure_rtol * max(float(np.linalg.norm(xa)), 1.0)
    if loop_gap > allowed:
        raise InputError(
            f"loop does not close: |x(T) - x(0)| = {loop_gap:.3g} > {allowed:.3g} at T = {t_end:g}; "
            "holonomy is defined for closed output loops (use horizontal_lift for open curves)"
        )
    lift = horizontal_lift(
        bundle, theta0, loop, t_end, velocity=velocity, breakpoints=breakpoints, **options
    )
    if lift.status != Status.COMPLETED:
        raise NumericalError(f"the lift of the loop did not complete: {lift.message}")
    theta0 = np.asarray(theta0, dtype=np.float64)
    d = lift.end - theta0
    fib = bundle.at(theta0)
    vertical = fib.vertical_projection(d)
    closure = float(np.linalg.norm(np.asarray(bundle.f(lift.end)) - xa)) / max(
        float(np.linalg.norm(xa)), 1.0
    )
    return BundleHolonomy(
        displacement=d,
        vertical=vertical,
        horizontal=d - vertical,
        closure_error=closure,
        loop_gap=loop_gap,
        lift=lift,
    )


def vertical_curve(
    bundle: PullbackBundle,
    theta0: npt.ArrayLike,
    w: Callable[[np.ndarray], npt.ArrayLike] | npt.ArrayLike,
    t_end: float,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    closure_rtol: float = 1e-10,
    max_steps: int = 100_000,
    scheme: str = "jacobian-reuse",
) -> BundleCurve:
    """θ′ = (1 − P[θ])w(θ): a curve inside the fibre f⁻¹(f(θ0)). Implements (2.32).

    (1 − P) is the projector onto ker D, the tangent space of the fibre, so
    f(θ(t)) = f(θ0) for all t; the output is kept fixed to ``closure_rtol``
    relative by the same fibre correction as the lifts.  On the fibre over
    y_ω (a global minimiser θ0, C = 0) the curve walks the set of global
    minimisers of the cost.

    Parameters
    ----------
    bundle : PullbackBundle
    theta0 : array-like, shape=[K]
    w : callable or array-like
        θ ↦ w(θ), shape=[K], or a constant vector of shape [K].
    t_end : float
    rtol, atol, closure_rtol, max_steps, scheme
        As for :func:`horizontal_lift`.

    Returns
    -------
    BundleCurve
    """
    theta0, t_end, closure_rtol, rtol, atol, max_steps = _common_checks(
        bundle, theta0, t_end, closure_rtol, rtol, atol, max_steps, scheme
    )
    w_of: Callable[[np.ndarray], npt.ArrayLike]
    if callable(w):
        w_of = w
    else:
        w_const = np.array(check_vector(w, bundle.dim, "w"), dtype=np.float64)

        def w_constant(_theta: np.ndarray) -> np.ndarray:
            return w_const

        w_of = w_constant

    x0 = np.asarray(bundle.f(theta0), dtype=np.float64)
    fibres = FibreCache(
        bundle, reuse=scheme == "jacobian-reuse", stage_rtol=max(1e-3 * rtol, 1e-15)
    )
    field_fn = _FibreField(fibres, w_of, t_end)
    return run_bundle_curve(
        bundle,
        theta0,
        field_fn,
        lambda _t: x0,
        [(0.0, t_end)],
        closure_rtol=closure_rtol,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        kind="vertical curve",
        route="—",
        scheme=scheme,
    )
