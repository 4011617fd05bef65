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
ODE core (Dormand–Prince 5(4) on θ′ = Pen[D]x′ with the PI controller) is
therefore followed, when |f(θ) − x(t)| exceeds the closure tolerance, by
minimum-norm Gauss–Newton corrections θ ← θ + D⁺(x(t) − f(θ)) onto the fibre
f⁻¹(x(t)) (:func:`correct_onto_fibre`), so

    |f(θ(t_k)) − x(t_k)| ≤ closure_rtol · max(|x(t_k)|, |x(0)|)

holds at every accepted step, and is reported.  The corrections are minimum-norm,
hence in range Dᵀ (horizontal), of the size of the step's local error; they fix
the output without moving θ along the fibre, so the vertical part — the holonomy —
keeps the ODE's accuracy.  The same device keeps the output fixed along a
*vertical curve* θ′ = (1 − P)w(θ) (2.32), which moves inside one fibre.

Rank loss of D along a curve is a terminal event of the core (σ_min(D) crossing
the bundle's rank tolerance), located on the steps and reported with where it
happened; the lift stops there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import autograd
import numpy as np

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_vector,
)
from subriemann.integrate import (
    DormandPrince54,
    Event,
    PIController,
    Proposal,
    Solution,
    Status,
    Stepper,
    solve,
)

__all__ = [
    "BundleCurve",
    "concatenate",
    "BundleHolonomy",
    "FibreCorrection",
    "SquareLoop",
    "correct_onto_fibre",
    "horizontal_lift",
    "holonomy",
    "vertical_curve",
    "square_loop",
]

_EPS = float(np.finfo(np.float64).eps)


def concatenate(solutions) -> Solution:
    """Join core runs that continue one another (each starts where the previous one ended).

    The shared endpoints are kept once; dense evaluation uses each run's own
    interpolants.  The status and message are the last run's (or the first
    failing one's); stats are summed.
    """
    solutions = list(solutions)
    if not solutions:
        raise InputError("concatenate needs at least one solution")
    ts, ys, segments, events, stats = [], [], [], [], {}
    status, message = solutions[-1].status, solutions[-1].message
    for k, sol in enumerate(solutions):
        start = 0 if k == 0 else 1
        ts.append(sol.t[start:])
        ys.append(sol.y[start:])
        segments.extend(sol.segments)
        events.extend(sol.events)
        for key, value in sol.stats.items():
            stats[key] = stats.get(key, 0) + value
        if sol.status not in (Status.COMPLETED,) and k < len(solutions) - 1:
            status, message = sol.status, sol.message
            break
    return Solution(
        t=np.concatenate(ts),
        y=np.concatenate(ys),
        status=status,
        message=message,
        stats=stats,
        events=events,
        segments=segments,
    )


# -- the corrector -------------------------------------------------------------------------


@dataclass(kw_only=True)
class FibreCorrection:
    """Outcome of :func:`correct_onto_fibre`.

    Attributes
    ----------
    theta : ndarray, shape=[K]
    x : ndarray, shape=[QN]
        f(θ).
    residual : float
        |x_target − f(θ)|.
    iterations : int
        Evaluations of f.
    jacobians : int
        Fresh Jacobians taken (chord steps reuse the one given).
    converged : bool
    reason : str
    """

    theta: np.ndarray
    x: np.ndarray
    residual: float
    iterations: int
    jacobians: int
    converged: bool
    reason: str = ""


def correct_onto_fibre(
    bundle, theta, x_target, tol, *, fiber=None, x=None, max_iterations: int = 20
) -> FibreCorrection:
    """Minimum-norm Gauss–Newton onto the fibre f⁻¹(x_target): θ ← θ + D⁺(x_target − f(θ)).

    Implements the projection onto a fibre of (2.32) along V = range Dᵀ: every
    correction D⁺r is the minimum-norm solution of D δ = r (1.23), hence
    horizontal.  The corrections start as chord steps with the Jacobian of
    ``fiber`` (one evaluation of f each, no Jacobian); when one contracts the
    residual by less than 4× the Jacobian is refreshed at the iterate (full
    Gauss–Newton, quadratic near the fibre).  A residual that grows after the
    first iterate means the iteration left the basin: it stops, not converged.

    Parameters
    ----------
    bundle : PullbackBundle
    theta : array-like, shape=[K]
    x_target : array-like, shape=[QN]
    tol : float
        Stop when |x_target − f(θ)| ≤ tol.
    fiber : BundleFiber, optional
        ``bundle.at(theta)`` if already computed (else it is).
    x : array-like, shape=[QN], optional
        f(θ) if already known.
    max_iterations : int

    Returns
    -------
    FibreCorrection
    """
    f = bundle.f
    theta = np.array(theta, dtype=np.float64)
    x_target = np.asarray(x_target, dtype=np.float64)
    jacobians = 0
    if fiber is None:
        fiber, jacobians = bundle.at(theta), 1
    xc = np.asarray(f(theta) if x is None else x, dtype=np.float64)
    residual = x_target - xc
    norm = float(np.linalg.norm(residual))
    previous, chord = norm, True
    for k in range(1, max_iterations + 1):
        if norm <= tol:
            return FibreCorrection(
                theta=theta,
                x=xc,
                residual=norm,
                iterations=k - 1,
                jacobians=jacobians,
                converged=True,
            )
        theta = theta + fiber.horizontal_lift(residual)
        xc = np.asarray(f(theta), dtype=np.float64)
        if not np.all(np.isfinite(xc)):
            raise NumericalError("f(theta) is not finite during the fibre correction")
        residual = x_target - xc
        norm = float(np.linalg.norm(residual))
        ratio = norm / previous if previous > 0 else 0.0
        if ratio >= (4.0 if k == 1 else 1.0):
            return FibreCorrection(
                theta=theta,
                x=xc,
                residual=norm,
                iterations=k,
                jacobians=jacobians,
                converged=False,
                reason=f"the corrector stalled (|f - x| = {norm:.3g})",
            )
        if chord and ratio > 0.25:
            chord = False
        if not chord and norm > tol:
            fiber, jacobians = bundle.at(theta), jacobians + 1
        previous = norm
    converged = norm <= tol
    return FibreCorrection(
        theta=theta,
        x=xc,
        residual=norm,
        iterations=max_iterations,
        jacobians=jacobians,
        converged=converged,
        reason="" if converged else f"no convergence in {max_iterations} iterations",
    )


# -- fields with a fibre cache -------------------------------------------------------------


class _Fibres:
    """The last few fibres V_θ (D and its SVD), keyed by θ: a step's last stage is the next point."""

    def __init__(self, bundle, size: int = 4):
        self.bundle, self.size, self.store = bundle, size, {}

    def at(self, theta):
        key = np.asarray(theta, dtype=np.float64).tobytes()
        fib = self.store.get(key)
        if fib is None:
            fib = self.bundle.at(theta)
            if len(self.store) >= self.size:
                self.store.pop(next(iter(self.store)))
            self.store[key] = fib
        return fib


class _ProjectedStepper(Stepper):
    """A core stepper followed by a correction onto the fibre over the known output target(t).

    The inner proposal is kept when it already satisfies the closure tolerance;
    otherwise it is corrected (:func:`correct_onto_fibre`, chord steps with the
    Jacobian of the step's last stage), the slope recomputed at the corrected
    point, and the dense output moved by the correction linearly in the step
    (continuous, and the correction is within the local error).
    """

    def __init__(self, inner, bundle, fibres, target, tol_of):
        self.inner, self.bundle, self.fibres = inner, bundle, fibres
        self.target, self.tol_of = target, tol_of
        self.order, self.adaptive = inner.order, inner.adaptive
        self.rtol, self.atol = inner.rtol, inner.atol
        self.last = None  # (t, θ, relative closure) of the last proposal
        self.corrections = 0

    def step(self, field, t, y, f, h) -> Proposal:
        prop = self.inner.step(field, t, y, f, h)
        if prop.error is None or not math.isfinite(prop.error) or prop.error > 1.0:
            return prop  # rejected anyway: do not spend a correction on it
        t1 = prop.t
        x_t = self.target(t1)
        tol, scale = self.tol_of(x_t)
        x1 = np.asarray(self.bundle.f(prop.y), dtype=np.float64)
        norm = float(np.linalg.norm(x_t - x1))
        if norm <= tol:
            self.last = (t1, prop.y, norm / scale)
            return prop
        fix = correct_onto_fibre(self.bundle, prop.y, x_t, tol, fiber=self.fibres.at(prop.y), x=x1)
        if not fix.converged:
            self.last = None
            return Proposal(
                t=t1,
                y=y,
                f=f,
                error=math.inf,
                dense=lambda _t: y,
                evaluations=prop.evaluations,
                info={"failure": fix.reason},
            )
        self.corrections += 1
        delta = fix.theta - prop.y
        f1 = field(t1, fix.theta)
        inner_dense = prop.dense

        def dense(s, t0=t, hh=t1 - t):
            return inner_dense(s) + ((s - t0) / hh) * delta

        self.last = (t1, fix.theta, fix.residual / scale)
        return Proposal(
            t=t1,
            y=fix.theta,
            f=f1,
            error=prop.error,
            dense=dense,
            evaluations=prop.evaluations + 1,
            info={"correction": float(np.linalg.norm(delta))},
        )


# -- results -------------------------------------------------------------------------------


@dataclass(kw_only=True)
class BundleCurve:
    """A curve in parameter space with a known output: a horizontal lift or a vertical curve.

    Attributes
    ----------
    kind : str
        "horizontal lift" or "vertical curve".
    solution : Solution
        The core's run; ``t``, ``points`` (n, K), ``end``, ``curve(t)`` are its.
    closure : ndarray, shape=[n]
        |f(θ(t_k)) − x(t_k)| / max(|x(t_k)|, |x(0)|) at every accepted point.
    closure_rtol : float
        The promised bound on ``closure``.
    corrections : int
        Steps that needed a fibre correction.
    counts : dict
        Evaluations of the map during the run (``f.counts`` differences).
    velocity_route : str
        How x′ was obtained ("given", "autograd", "central differences"; "—" for vertical curves).
    rank_report : RankReport
        Rank decision on D at the last point.
    """

    kind: str
    solution: Solution
    closure: np.ndarray
    closure_rtol: float
    corrections: int
    counts: dict
    velocity_route: str
    rank_report: object

    @property
    def t(self) -> np.ndarray:
        return self.solution.t

    @property
    def points(self) -> np.ndarray:
        """θ at the accepted times, shape=[n, K]."""
        return self.solution.y

    @property
    def end(self) -> np.ndarray:
        return self.solution.end

    @property
    def status(self) -> Status:
        return self.solution.status

    @property
    def message(self) -> str:
        return self.solution.message

    @property
    def max_closure(self) -> float:
        """max_k of :attr:`closure`: the output error of the whole curve."""
        return float(np.max(self.closure))

    @property
    def n_jacobian(self) -> int:
        return int(self.counts.get("jacobian", 0))

    def __len__(self) -> int:
        return len(self.solution)

    def __call__(self, t):
        """Dense θ(t) (the stepper's interpolants, moved by the corrections)."""
        return self.solution(t)

    def __repr__(self) -> str:
        return (
            f"BundleCurve({self.kind}, T={self.t[-1]:.6g}, points={len(self)}, "
            f"status={str(self.status)!r}, max closure {self.max_closure:.2e}, "
            f"jacobians={self.n_jacobian})"
        )


def _run(
    bundle, theta0, field_fn, target, t_spans, closure_rtol, rtol, atol, max_steps, kind, route
):
    """Integrate θ′ = field_fn(t, θ) on the core piece by piece, projected onto f⁻¹(target(t))."""
    f = bundle.f
    counts0 = dict(f.counts)
    fibres = field_fn.fibres
    x0 = np.asarray(target(t_spans[0][0]), dtype=np.float64)
    size0 = float(np.linalg.norm(x0))

    def tol_of(x_t):
        scale = max(float(np.linalg.norm(x_t)), size0) or 1.0
        return closure_rtol * scale, scale

    QN = f.dim_out

    def rank_margin(_t, theta):
        rep = fibres.at(theta).report
        return rep.sigma_min - rep.tolerance if rep.shape[0] == QN else -1.0

    event = Event(
        name="rank_loss", fn=rank_margin, direction=-1, status=Status.RANK_CONDITION_FAILED
    )
    start_report = fibres.at(theta0).report
    if start_report.rank < QN:
        raise InputError(
            f"theta0: rank D = {start_report.rank} < QN = {QN} (sigma_min = "
            f"{start_report.sigma_min:.3g}); a {kind} needs the rank condition (2.1) at the start"
        )
    closure = [float(np.linalg.norm(np.asarray(f(theta0)) - x0)) / tol_of(x0)[1]]
    runs, corrections, y = [], 0, np.array(theta0, dtype=np.float64)
    for a, b in t_spans:
        field_fn.span = (a, b)
        inner, controller = (
            DormandPrince54(rtol=rtol, atol=atol),
            PIController(DormandPrince54.order),
        )
        stepper = _ProjectedStepper(inner, bundle, fibres, target, tol_of)

        def on_accept(t, theta, _f, stepper=stepper):
            last = stepper.last
            if last is not None and last[0] == t and np.array_equal(last[1], theta):
                closure.append(last[2])
            else:
                x_t = target(t)
                closure.append(float(np.linalg.norm(np.asarray(f(theta)) - x_t)) / tol_of(x_t)[1])
            return None

        sol = solve(
            field_fn,
            a,
            y,
            b,
            stepper=stepper,
            controller=controller,
            events=(event,),
            max_steps=max_steps,
            on_accept=on_accept,
        )
        corrections += stepper.corrections
        runs.append(sol)
        if sol.status != Status.COMPLETED:
            break
        y = sol.y[-1]
    sol = concatenate(runs)
    report = fibres.at(sol.end).report
    if sol.status == Status.RANK_CONDITION_FAILED:
        sol.message = (
            f"{kind} stopped: D lost rank at t = {sol.t[-1]:.9g} (rank {report.rank} < QN = {QN}, "
            f"sigma_min = {report.sigma_min:.3g} <= tolerance {report.tolerance:.3g})"
        )
    elif sol.status == Status.STEP_SIZE_COLLAPSED:
        sol.message += (
            f"; at the last point rank D = {report.rank}, sigma_min = {report.sigma_min:.3g}, "
            f"cond = {report.condition_number:.3g}: D is close to losing rank there"
        )
    counts = {k: v - counts0.get(k, 0) for k, v in f.counts.items()}
    return BundleCurve(
        kind=kind,
        solution=sol,
        closure=np.array(closure[: len(sol.t)]),
        closure_rtol=closure_rtol,
        corrections=corrections,
        counts=counts,
        velocity_route=route,
        rank_report=report,
    )


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


def _common_checks(bundle, theta0, t_end, closure_rtol, rtol, atol, max_steps):
    theta0 = np.array(check_vector(theta0, bundle.dim, "theta0"), dtype=np.float64)
    t_end = check_real(t_end, "t_end", "the end time T of the curve", positive=True)
    closure_rtol = check_real(closure_rtol, "closure_rtol", positive=True)
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_int(max_steps, "max_steps")
    return theta0, t_end, closure_rtol, rtol, atol, max_steps


def horizontal_lift(
    bundle,
    theta0,
    x_curve,
    t_end,
    *,
    velocity=None,
    breakpoints=None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    closure_rtol: float = 1e-10,
    max_steps: int = 100_000,
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
        bundle, theta0, t_end, closure_rtol, rtol, atol, max_steps
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
    fibres = _Fibres(bundle)

    def field_fn(t, theta):
        # x′ may jump at a breakpoint: at the ends of a piece it is taken one ulp inside
        # (the piece's own one-sided value), which changes a smooth x′ by O(ulp)
        a, b = field_fn.span
        inside = math.nextafter(b, a) if t >= b else math.nextafter(a, b) if t <= a else t
        return fibres.at(theta).horizontal_lift(vel(inside))

    field_fn.fibres, field_fn.span = fibres, (0.0, t_end)

    def target(t):
        return _output_value(x_curve, t, QN, "x_curve")

    return _run(
        bundle,
        theta0,
        field_fn,
        target,
        _spans(t_end, breakpoints),
        closure_rtol,
        rtol,
        atol,
        max_steps,
        "horizontal lift",
        route,
    )


@dataclass(kw_only=True)
class SquareLoop:
    """The square output loop x0 → x0 + εe_a → + εe_b → − εe_a → − εe_b, at unit speed.

    Callable (t ↦ x(t), shape=[QN]); ``derivative(t)`` the velocity; ``t_end`` = 4ε;
    ``breakpoints`` its corners.  Its lift is the commutator loop of u_a, u_b = Pen[D]e_a, e_b.
    """

    x0: np.ndarray
    a: int
    b: int
    eps: float

    @property
    def t_end(self) -> float:
        return 4 * self.eps

    @property
    def breakpoints(self) -> tuple:
        return (self.eps, 2 * self.eps, 3 * self.eps)

    def _legs(self):
        e_a = np.zeros_like(self.x0)
        e_b = np.zeros_like(self.x0)
        e_a[self.a], e_b[self.b] = 1.0, 1.0
        return (e_a, e_b, -e_a, -e_b)

    def __call__(self, t):
        t = float(t)
        x, left = np.array(self.x0), t
        for leg in self._legs():
            step = min(max(left, 0.0), self.eps)
            x = x + step * leg
            left -= self.eps
        return x

    def derivative(self, t):
        k = min(int(float(t) // self.eps), 3) if t < self.t_end else 3
        return self._legs()[k]


def square_loop(x0, a, b, eps) -> SquareLoop:
    """The square loop of side ε in the output directions e_a, e_b, starting at x0."""
    x0 = np.array(check_array(x0, "x0", ndim=1), dtype=np.float64)
    a = check_int(a, "a", "an output direction", minimum=0)
    b = check_int(b, "b", "an output direction", minimum=0)
    if a >= x0.shape[0] or b >= x0.shape[0] or a == b:
        raise InputError(
            f"a, b must be two different output indices < QN = {x0.shape[0]}, got {a}, {b}"
        )
    eps = check_real(eps, "eps", "the side ε of the loop", positive=True)
    return SquareLoop(x0=x0, a=a, b=b, eps=eps)


@dataclass(kw_only=True)
class BundleHolonomy:
    """θ(T) − θ(0) along the lift of a closed output loop, split along V and ker D at θ0.

    Attributes
    ----------
    displacement : ndarray, shape=[K]
    vertical : ndarray, shape=[K]
        (1 − P(θ0)) displacement, in ker D (along the fibre (2.32)).
    horizontal : ndarray, shape=[K]
        P(θ0) displacement (second order smaller for small loops).
    closure_error : float
        |f(θ(T)) − x(0)| / max(|x(0)|, 1): the output closes.
    loop_gap : float
        |x(T) − x(0)| of the given loop (≤ the closure tolerance).
    lift : BundleCurve
    """

    displacement: np.ndarray
    vertical: np.ndarray
    horizontal: np.ndarray
    closure_error: float
    loop_gap: float
    lift: BundleCurve

    def as_dict(self) -> dict:
        return {
            "displacement": self.displacement.tolist(),
            "vertical_norm": float(np.linalg.norm(self.vertical)),
            "horizontal_norm": float(np.linalg.norm(self.horizontal)),
            "closure_error": self.closure_error,
            "loop_gap": self.loop_gap,
            "max_closure": self.lift.max_closure,
            "status": str(self.lift.status),
        }


def holonomy(bundle, theta0, loop, t_end=None, *, velocity=None, breakpoints=None, **options):
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
    bundle,
    theta0,
    w,
    t_end,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    closure_rtol: float = 1e-10,
    max_steps: int = 100_000,
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
    rtol, atol, closure_rtol, max_steps
        As for :func:`horizontal_lift`.

    Returns
    -------
    BundleCurve
    """
    theta0, t_end, closure_rtol, rtol, atol, max_steps = _common_checks(
        bundle, theta0, t_end, closure_rtol, rtol, atol, max_steps
    )
    K = bundle.dim
    if callable(w):
        w_of = w
    else:
        w_const = np.array(check_vector(w, K, "w"), dtype=np.float64)

        def w_of(_theta):
            return w_const

    x0 = np.asarray(bundle.f(theta0), dtype=np.float64)
    fibres = _Fibres(bundle)

    def field_fn(t, theta):
        wv = check_array(w_of(theta), f"w(theta) at t = {t:.6g}")
        if wv.shape != (K,):
            raise ShapeError(f"w(theta) has shape {wv.shape}; expected ({K},), a vector of R^{K}")
        return fibres.at(theta).vertical_projection(wv)

    field_fn.fibres, field_fn.span = fibres, (0.0, t_end)
    return _run(
        bundle,
        theta0,
        field_fn,
        lambda _t: x0,
        [(0.0, t_end)],
        closure_rtol,
        rtol,
        atol,
        max_steps,
        "vertical curve",
        "—",
    )
