"""Integrating the flows: fixed-step, scipy, and output-exact stepping, into a Trajectory.

``integrate(flow, theta0, s_end, method=...)`` runs a
:class:`~subriemann.flows.StandardFlow` or :class:`~subriemann.flows.AdaptedFlow`
and records the orbit in a :class:`Trajectory` (s, θ, x, C, rank and σ_min of
D, Jacobian count, a status saying why it stopped).

Methods
-------
``"euler"``, ``"rk4"``
    Fixed step ``step`` (default ``s_end / 1000``).  Rank is checked at the
    grid points only: where the adapted velocity blows up near an isolated
    singular point (|θ′| ~ 1/σ_min), a fixed step can jump across the region
    the rank policy flags and detect the loss late; use an adaptive method
    (or ``"output-exact"``) when the orbit may approach rank loss.
``"monotone"``
    Explicit Euler with step halving until the cost decreases sufficiently
    (Armijo): an energy-diminishing scheme in the sense of Hairer–Lubich [12],
    for the standard flow (and any descent flow); ``step`` is the first step.
``"rk45"``, ``"scipy"`` (= RK45), ``"RK23"``, ``"DOP853"``, ``"Radau"``, ``"BDF"``, ``"LSODA"``
    scipy's adaptive solvers (``scipy.integrate.solve_ivp``'s classes, driven
    step by step here so that a failure keeps the orbit computed so far);
    ``rtol``/``atol`` are passed through, ``step`` is the first step.
``"output-exact"``
    For the adapted flow in the over-parametrized / borderline regime with the
    Euclidean output metric only (with ``output_metric=G`` the output follows
    x′ = −G⁻¹∇ₓC, not (2.7): use an ODE method).
    Theorem 2.1 says the output of the orbit is *known*: x(s) = y_ω +
    e^{−s/N}(x(0) − y_ω) (2.7).  Each step takes this as the target,
    x_t = x(s + h), predicts θ + D⁺(x_t − x) and corrects onto the fiber
    f⁻¹(x_t) by minimum-norm Gauss–Newton steps θ ← θ + D⁺(x_t − f(θ)) until
    |f(θ) − x_t| ≤ atol + rtol·|x_t − y_ω|.  Corrections first reuse the D⁺
    of the step's start (chord steps: one evaluation of f each) and switch to
    fresh Jacobians when that contracts too slowly.  The step grows after easy
    steps and is shrunk and retried when the corrector does not contract.
    A tight rtol (1e-10) reproduces the law to that accuracy with a few dozen
    Jacobians; a loose one (0.1) makes it a fast trainer whose every recorded
    point still has its output within 10% of the law.  The rank condition
    (2.1) is checked at the accepted points; a rank drop strictly between
    two steps, after which the fibers are regular again, is not seen (bound
    the step with ``max_step`` to resolve the orbit more finely).

    Why this is a faithful integrator of (2.4): along the flow x′ = −∇ₓC exactly
    (2.5), and x_t − x = −N(1 − e^{−h/N})∇ₓC, so the predictor is
    θ + N(1 − e^{−h/N})·(−D⁺∇ₓC), an Euler step of (2.4) in the time
    reparametrised by the exact output law; minimum-norm corrections lie in
    range Dᵀ = V (the horizontal space), as the flow's velocity does.  The
    output is exact up to the corrector tolerance at every step, so the
    law residual does not grow with the number of steps, and with a target
    cost ε the last step lands exactly on the stopping time (2.18).
    The target is anchored at x(0) (not at the previous step's output) for the
    same reason: each step's tolerance error is independent, not accumulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.integrate
from scipy.optimize import brentq

from subriemann.errors import (
    InputError,
    NonFiniteError,
    NumericalError,
    RankConditionError,
    check_int,
    check_real,
    check_vector,
)
from subriemann.flows import AdaptedFlow, FlowPoint, ParameterFlow
from subriemann.linalg import JacobianSVD, numerical_rank, resolve_policy

__all__ = ["Trajectory", "integrate", "METHODS", "STATUSES"]

_SCIPY = {name.lower(): name for name in ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")}
_ALIASES = {"scipy": "RK45"}
#: every accepted ``method`` name (scipy names are also accepted in any case)
METHODS = ("output-exact", "euler", "rk4", "monotone", "scipy", *_SCIPY.values())
#: the possible values of :attr:`Trajectory.status`
STATUSES = ("completed", "target_cost_reached", "rank_condition_failed", "non_finite", "max_steps")

# Numerical failures of a flow evaluation: they end an orbit with status
# "non_finite" instead of propagating (check_* raise NonFiniteError on NaN/inf).
_NON_FINITE = (NumericalError, NonFiniteError, FloatingPointError, OverflowError)


@dataclass
class Trajectory:
    """A recorded orbit s ↦ θ(s) with its image in the output layer.

    Attributes
    ----------
    s : ndarray, shape=[n]
        Flow times of the recorded points (s[0] = 0).
    theta : ndarray, shape=[n, K]
    x : ndarray, shape=[n, QN]
        Outputs x[θ(s)].
    cost : ndarray, shape=[n]
        C[x(s)] (1.7).
    rank, sigma_min, sigma_max : ndarray, shape=[n]
        Numerical rank and smallest and largest singular values of D[θ(s)]
        (−1 and NaN at points recorded without a Jacobian).
    regime : list of str
        The regime used at each point ("standard", or the adapted regime).
    method, status, message : str
        ``status`` is one of :data:`STATUSES`; ``message`` explains it.
    n_jacobian : int
        Jacobian evaluations during the run (from the map's ``counts``).
    n_evaluations : int
        Vector-field evaluations (for "output-exact": corrector evaluations).
    counts : dict
        All evaluation counts of the map during the run.
    N : int
    target : ndarray, shape=[QN]
        y_ω.
    eps : float or None
        Target cost of the run, if any.
    event_s : float or None
        The recorded crossing time of C = ε (target_cost_reached only).
    stats : dict
        Step statistics (accepted, rejected, ...).
    """

    s: np.ndarray
    theta: np.ndarray
    x: np.ndarray
    cost: np.ndarray
    rank: np.ndarray
    sigma_min: np.ndarray
    regime: list
    method: str
    status: str
    message: str
    n_jacobian: int
    n_evaluations: int
    N: int
    target: np.ndarray
    eps: float | None = None
    event_s: float | None = None
    counts: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    sigma_max: np.ndarray | None = None

    def __post_init__(self):
        if self.sigma_max is None:
            self.sigma_max = np.full(len(self.s), np.nan)

    def __len__(self) -> int:
        return len(self.s)

    def law_residual(self) -> float:
        """max_s |log C(s) − log C(0) + 2s/N|: 0 exactly on the law (2.6).

        ``inf`` if the cost reached exactly 0 (log undefined).
        """
        with np.errstate(divide="ignore"):
            logc = np.log(self.cost)
        if not np.all(np.isfinite(logc)):
            return float("inf")
        return float(np.max(np.abs(logc - logc[0] + 2.0 * (self.s - self.s[0]) / self.N)))

    @property
    def final_s(self) -> float:
        return float(self.s[-1])

    @property
    def final_theta(self) -> np.ndarray:
        return self.theta[-1]

    @property
    def final_x(self) -> np.ndarray:
        return self.x[-1]

    @property
    def final_cost(self) -> float:
        return float(self.cost[-1])

    @property
    def initial_cost(self) -> float:
        return float(self.cost[0])

    def as_dict(self) -> dict:
        """Plain JSON-serialisable dict (lists and numbers; NaN σ_min become None)."""

        def clean(a):
            a = np.asarray(a, dtype=np.float64)
            return [None if not np.isfinite(v) else float(v) for v in a.ravel()]

        return {
            "method": self.method,
            "status": self.status,
            "message": self.message,
            "n_points": len(self),
            "n_jacobian": int(self.n_jacobian),
            "n_evaluations": int(self.n_evaluations),
            "N": int(self.N),
            "eps": self.eps,
            "event_s": self.event_s,
            "law_residual": _json_float(self.law_residual()),
            "s": clean(self.s),
            "cost": clean(self.cost),
            "rank": [int(r) for r in self.rank],
            "sigma_min": clean(self.sigma_min),
            "sigma_max": clean(self.sigma_max),
            "regime": list(self.regime),
            "theta": [clean(t) for t in self.theta],
            "x": [clean(v) for v in self.x],
            "target": clean(self.target),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "stats": {k: _json_float(v) for k, v in self.stats.items()},
        }

    def __repr__(self) -> str:
        return (
            f"Trajectory(method={self.method!r}, status={self.status!r}, points={len(self)}, "
            f"s_final={self.final_s:.6g}, cost {self.initial_cost:.3e} -> {self.final_cost:.3e}, "
            f"n_jacobian={self.n_jacobian})"
        )


def _json_float(v):
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    return v


class _Recorder:
    """Collects orbit points; the rank recorded is decided under the integration's policy."""

    def __init__(self, policy, record: bool):
        self.policy = policy
        self.record = record
        self.rows: list = []
        self.pending = None

    def _row(self, s, theta, x, cost, report, singular_values, regime, shape):
        if singular_values is not None:
            report = numerical_rank(singular_values, shape, self.policy)
        rank = report.rank if report is not None else -1
        smin = report.sigma_min if report is not None else np.nan
        smax = report.sigma_max if report is not None else np.nan
        return (float(s), np.array(theta), np.array(x), float(cost), rank, smin, regime, smax)

    def add(self, s, theta, x, cost, report, singular_values, regime, shape, final=False):
        row = self._row(s, theta, x, cost, report, singular_values, regime, shape)
        if self.record or not self.rows or final:
            self.rows.append(row)
            self.pending = None
        else:
            self.pending = row  # without recording keep only the latest point

    def add_point(self, s, point: FlowPoint, shape, final=False):
        self.add(
            s,
            point.theta,
            point.x,
            point.cost,
            point.report,
            point.singular_values,
            point.regime,
            shape,
            final,
        )

    def finish(self):
        if self.pending is not None:
            self.rows.append(self.pending)
            self.pending = None
        cols = list(zip(*self.rows, strict=True))
        return {
            "s": np.array(cols[0]),
            "theta": np.array(cols[1]),
            "x": np.array(cols[2]),
            "cost": np.array(cols[3]),
            "rank": np.array(cols[4], dtype=np.int64),
            "sigma_min": np.array(cols[5], dtype=np.float64),
            "regime": list(cols[6]),
            "sigma_max": np.array(cols[7], dtype=np.float64),
        }


def _resolve_method(method) -> str:
    if not isinstance(method, str):
        raise InputError(f"method must be a string, one of {METHODS}, got {method!r}")
    key = method.lower()
    if key in ("output-exact", "euler", "rk4", "monotone"):
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    if key in _SCIPY:
        return _SCIPY[key]
    raise InputError(
        f"unknown method {method!r}; expected one of {list(METHODS)} "
        "(scipy names are case-insensitive; 'rk45' and 'scipy' mean RK45)"
    )


def _bare_point(flow: ParameterFlow, theta):
    """x, cost and D's rank at θ without the flow's regime check (for failure reports)."""
    x, D = flow.f.value_and_jacobian(theta)
    svd = JacobianSVD(D, flow.rank_policy)
    return FlowPoint(
        np.array(theta),
        np.asarray(x, dtype=np.float64),
        float(flow.cost(x)),
        np.zeros_like(theta),
        None,
        svd.report,
        "rank-failure",
        svd.singular_values,
        svd,
    )


def integrate(
    flow,
    theta0,
    s_end,
    method: str = "output-exact",
    *,
    step=None,
    max_step=None,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    eps=None,
    max_steps: int = 100_000,
    rank_policy=None,
    record: bool = True,
    progress=None,
    options=None,
) -> Trajectory:
    """Integrate a parameter-space flow from θ(0) = θ₀ to s = s_end (or to C ≤ ε).

    Parameters
    ----------
    flow : StandardFlow or AdaptedFlow
    theta0 : array-like, shape=[K]
    s_end : float
        Final flow time (> 0; ``inf`` allowed with ``eps``, then the run ends at
        the target cost).
    method : str
        See the module docstring: "output-exact" (default), "euler", "rk4",
        "rk45"/"scipy", or a scipy solver name.
    step : float, optional
        Fixed step (euler, rk4; default ``s_end/1000``) or first step (scipy,
        output-exact; default N for output-exact).
    max_step : float, optional
        Largest step of the adaptive methods.
    rtol, atol : float
        scipy: passed through (on θ).  output-exact: corrector tolerance on the
        output, |f(θ) − x_t| ≤ atol + rtol·|x_t − y_ω|.
    eps : float, optional
        Target cost: stop at the first s with C ≤ ε and record that time in
        ``event_s`` (crossing located by root finding on log C; output-exact
        lands exactly on the stopping time (2.18)).
    max_steps : int
        Cap on steps (attempted steps for output-exact).
    rank_policy : RankPolicy, float or None
        Rank decision for the recorded rank and for the rank condition (2.1)
        of output-exact; default: the flow's policy.
    record : bool
        True: keep every accepted step.  False: keep only the first and last points
        (and skip the Jacobian the standard flow would need per recorded point).
    progress : callable, optional
        ``progress(s_current, s_end)`` after every accepted step (for
        output-exact with ``eps`` the second argument is the stopping time
        (2.18) when that comes first, so it is finite even for s_end = inf).
    options : dict, optional
        scipy methods: extra keyword arguments of the solver class.
        output-exact: ``max_corrector`` (default 20), ``grow`` (2.0), ``shrink`` (0.25).

    Returns
    -------
    Trajectory
        ``status`` says why the run stopped: "completed" (reached s_end),
        "target_cost_reached", "rank_condition_failed" (a forced regime's rank
        condition failed, or the output-exact corrector could not follow the
        fiber because D lost rank numerically), "non_finite" (overflow or
        NaN along the orbit), "max_steps".

    Raises
    ------
    InputError
        Bad arguments, or "output-exact" for a flow it does not apply to.
    NumericalError
        The flow cannot be evaluated at θ₀ itself.
    """
    if not isinstance(flow, ParameterFlow):
        raise InputError(
            f"flow must be a StandardFlow or AdaptedFlow, got {type(flow).__name__}"
            + (
                "; an OutputFlow has the closed-form solution OutputFlow.solution(x0, s) (1.13)"
                if type(flow).__name__ == "OutputFlow"
                else ""
            )
        )
    method = _resolve_method(method)
    theta0 = np.array(check_vector(theta0, flow.K, "theta0"), dtype=np.float64)
    eps = check_real(eps, "eps", "the target cost", positive=True, allow_none=True)
    s_end = check_real(s_end, "s_end", positive=True, allow_inf=eps is not None)
    step = check_real(step, "step", positive=True, allow_none=True)
    max_step = check_real(max_step, "max_step", positive=True, allow_inf=True, allow_none=True)
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_int(max_steps, "max_steps")
    if progress is not None and not callable(progress):
        raise InputError(f"progress must be callable as progress(s, s_end), got {progress!r}")
    options = dict(options or {})
    policy = resolve_policy(rank_policy) if rank_policy is not None else flow.rank_policy

    if method == "output-exact":
        settings = _output_exact_settings(flow, options)
    elif method in ("euler", "rk4", "monotone"):
        if options:
            raise InputError(f"method {method!r} takes no options, got {sorted(options)}")
        if step is None:
            if not math.isfinite(s_end):
                raise InputError(f"method {method!r} needs a step when s_end is infinite")
            step = s_end / 1000.0

    counts_before = dict(flow.f.counts)
    run = _Run(flow, theta0, s_end, method, policy, record, progress, eps, max_steps)
    try:
        start = flow.evaluate(theta0, geometry=True)
    except RankConditionError as exc:
        run.recorder.add_point(0.0, _bare_point(flow, theta0), (flow.QN, flow.K), final=True)
        run.stop("rank_condition_failed", f"at s = 0: {exc}")
        return run.result(counts_before)
    except _NON_FINITE as exc:
        raise NumericalError(f"the flow cannot be evaluated at theta0: {exc}") from exc
    run.recorder.add_point(0.0, start, (flow.QN, flow.K))

    if eps is not None and start.cost <= eps:
        run.event_s = 0.0
        run.stop("target_cost_reached", f"C(0) = {start.cost:.6g} <= eps = {eps:.6g} already")
    elif method == "output-exact":
        _output_exact(run, start, step, max_step, rtol, atol, settings)
    elif method in ("euler", "rk4"):
        _fixed_step(run, start, step)
    elif method == "monotone":
        _monotone(run, start, step, max_step)
    else:
        _scipy(run, start, step, max_step, rtol, atol, options)
    return run.result(counts_before)


class _Run:
    """Shared state of one integration: recorder, status, counters."""

    def __init__(self, flow, theta0, s_end, method, policy, record, progress, eps, max_steps):
        self.flow = flow
        self.shape = (flow.QN, flow.K)
        self.s_end = s_end
        self.method = method
        self.recorder = _Recorder(policy, record)
        self.progress = progress
        self.eps = eps
        self.max_steps = max_steps
        self.status = None
        self.message = ""
        self.event_s = None
        self.n_evaluations = 0
        self.stats: dict = {"accepted": 0, "rejected": 0}

    def stop(self, status, message):
        self.status, self.message = status, message

    def rhs(self, theta):
        self.n_evaluations += 1
        return self.flow(theta)

    def report(self, s, s_target):
        if self.progress is not None:
            self.progress(float(s), float(s_target))

    def result(self, counts_before) -> Trajectory:
        data = self.recorder.finish()
        counts = {
            k: int(v - counts_before.get(k, 0))
            for k, v in self.flow.f.counts.items()
            if v - counts_before.get(k, 0)
        }
        if self.status is None:
            self.status, self.message = "completed", f"reached s_end = {self.s_end:.6g}"
        return Trajectory(
            **data,
            method=self.method,
            status=self.status,
            message=self.message,
            n_jacobian=counts.get("jacobian", 0),
            n_evaluations=self.n_evaluations,
            N=self.flow.N,
            target=np.array(self.flow.cost.target),
            eps=self.eps,
            event_s=self.event_s,
            counts=counts,
            stats=self.stats,
        )


def _failure_status(exc) -> tuple[str, str]:
    if isinstance(exc, RankConditionError):
        return "rank_condition_failed", str(exc)
    return "non_finite", f"non-finite values along the orbit: {exc}"


# -- fixed step ----------------------------------------------------------------


def _fixed_step(run: _Run, start: FlowPoint, h: float):
    flow = run.flow
    rk4 = run.method == "rk4"

    def advance(theta, v0, dt):
        if not rk4:
            return theta + dt * v0
        k2 = run.rhs(theta + 0.5 * dt * v0)
        k3 = run.rhs(theta + 0.5 * dt * k2)
        k4 = run.rhs(theta + dt * k3)
        return theta + dt / 6.0 * (v0 + 2.0 * k2 + 2.0 * k3 + k4)

    point, s, n = start, 0.0, 0
    run.n_evaluations += 1
    while s < run.s_end:
        if n >= run.max_steps:
            run.stop("max_steps", f"max_steps = {run.max_steps} reached at s = {s:.6g}")
            break
        # s from the step count, so that s_end is hit without drift
        s_next = min(run.s_end, (n + 1) * h)
        dt = s_next - s
        try:
            theta_new = advance(point.theta, point.velocity, dt)
            new = flow.evaluate(theta_new, geometry=run.recorder.record)
            run.n_evaluations += 1
        except (RankConditionError, *_NON_FINITE) as exc:
            run.stop(*_failure_status(exc))
            break
        n += 1
        if run.eps is not None and new.cost <= run.eps:
            try:
                t_hit, new = _land_fixed(run, point, dt, new, advance)
            except (RankConditionError, *_NON_FINITE) as exc:
                run.stop(*_failure_status(exc))
                break
            s_hit = s + t_hit
            run.event_s = s_hit
            run.recorder.add_point(s_hit, _with_geometry(flow, new), run.shape, final=True)
            run.stop("target_cost_reached", f"C = {new.cost:.6g} <= eps at s = {s_hit:.6g}")
            break
        run.recorder.add_point(s_next, new, run.shape)
        run.stats["accepted"] += 1
        point, s = new, s_next
        run.report(s, run.s_end)
    _finish_geometry(run)


def _land_fixed(run, point, dt, new, advance):
    """Re-take the last fixed step with a shorter length so that C lands on ε.

    Regula falsi (Illinois variant) on log C(t) − log ε, t ∈ [0, dt]: the law
    (2.6) makes log C nearly linear in t, so two or three secant steps suffice.
    """
    le = math.log(run.eps)
    a, fa = 0.0, math.log(point.cost) - le
    b, fb = dt, math.log(new.cost) - le if new.cost > 0 else -np.inf
    best = (b, new)
    side = 0
    for _ in range(12):
        if not math.isfinite(fb):
            t = 0.5 * (a + b)
        else:
            t = b - fb * (b - a) / (fb - fa)
        cand = run.flow.evaluate(advance(point.theta, point.velocity, t), geometry=False)
        run.n_evaluations += 1
        fc = math.log(cand.cost) - le if cand.cost > 0 else -np.inf
        if fc <= 0:
            best = (t, cand)
        if abs(fc) <= 1e-6:
            return t, cand
        if fc > 0:
            a, fa = t, fc
            if side == 1:
                fb *= 0.5
            side = 1
        else:
            b, fb = t, fc
            if side == -1:
                fa *= 0.5
            side = -1
    return best


def _with_geometry(flow, point):
    return point if point.report is not None else flow.evaluate(point.theta, geometry=True)


def _finish_geometry(run: _Run):
    """Make sure the last recorded point carries D's rank (one Jacobian at most)."""
    rec = run.recorder
    last = rec.pending if rec.pending is not None else rec.rows[-1]
    if last[4] >= 0:
        return
    try:
        p = _with_geometry(run.flow, run.flow.evaluate(last[1], geometry=False))
    except (RankConditionError, *_NON_FINITE):
        return
    row = rec._row(last[0], p.theta, p.x, p.cost, p.report, p.singular_values, p.regime, run.shape)
    if rec.pending is not None:
        rec.pending = row
    else:
        rec.rows[-1] = row


# -- monotone (energy-diminishing) Euler ---------------------------------------------


def _monotone(run: _Run, start: FlowPoint, h: float, max_step):
    """Explicit Euler with a sufficient-decrease test: C decreases at every step.

    A step θ + hθ′ is accepted only if C(θ + hθ′) ≤ C(θ) + ½h·dC/ds, where
    dC/ds = ∇ₓC·ẋ ≤ 0 is the exact decay rate of the flow at θ (−|∇_θC|² for
    the standard flow (1.10), −|𝒫∇ₓC|² for the adapted one (5.12)); otherwise
    h is halved and the step retried, and after an accepted step h grows by
    3/2 (up to ``max_step``).  This is the discrete counterpart of (1.10) that
    Hairer–Lubich [12] ask of a gradient-system integrator: the cost never
    increases, whatever the initial step, and with bounded h it is a
    first-order integrator of the flow.
    """
    flow = run.flow
    h_max = max_step if max_step is not None else math.inf
    point, s, n = start, 0.0, 0
    run.n_evaluations += 1
    while s < run.s_end:
        if n >= run.max_steps:
            run.stop("max_steps", f"max_steps = {run.max_steps} attempted steps at s = {s:.6g}")
            break
        n += 1
        dt = min(h, h_max, run.s_end - s)
        try:
            if point.output_velocity is None:  # standard flow without geometry
                slope = -float(point.velocity @ point.velocity)
            else:
                slope = float(flow.cost.grad(point.x) @ point.output_velocity)
            new = flow.evaluate(point.theta + dt * point.velocity, geometry=run.recorder.record)
            run.n_evaluations += 1
        except (RankConditionError, *_NON_FINITE):
            new = None  # an overflowing trial step is a rejected step, not the end
        # Round-off slack: x = f(θ) carries an error ~eps·|x|, so C = |x − y|²/(2N)
        # is only known to ~eps·|x|·(|x − y| + eps·|x|)/N; near a minimum (slope
        # → 0) a step may "increase" C by that much alone.
        ex = 4 * np.finfo(np.float64).eps * float(np.linalg.norm(point.x))
        slack = ex * (math.sqrt(2 * flow.N * point.cost) + ex) / flow.N
        if new is None or new.cost > point.cost + 0.5 * dt * slope + slack:
            run.stats["rejected"] += 1
            h = 0.5 * dt
            if h < 1e-14 * max(1.0, s):
                run.stop(
                    "non_finite",
                    f"at s = {s:.6g} no step length gives a sufficient decrease of C "
                    "(the field is not a descent direction numerically)",
                )
                break
            continue
        landing = s + dt >= run.s_end
        s = run.s_end if landing else s + dt
        run.stats["accepted"] += 1
        if run.eps is not None and new.cost <= run.eps:
            # the cost is monotone: the crossing lies in this step; take log C
            # as linear in s there (exactly so on the law (2.6))
            frac = math.log(point.cost / run.eps) / math.log(point.cost / new.cost)
            run.event_s = s - dt + frac * dt
            run.recorder.add_point(s, _with_geometry(flow, new), run.shape, final=True)
            run.stop(
                "target_cost_reached",
                f"C = {new.cost:.6g} <= eps, crossed at s = {run.event_s:.6g}",
            )
            break
        run.recorder.add_point(s, new, run.shape, final=landing)
        run.report(s, run.s_end)
        point, h = new, 1.5 * dt
    _finish_geometry(run)


# -- scipy -----------------------------------------------------------------------


def _scipy(run: _Run, start: FlowPoint, step, max_step, rtol, atol, options):
    flow = run.flow
    solver_cls = getattr(scipy.integrate, run.method)
    kwargs = {"rtol": rtol, "atol": atol, **options}
    if step is not None:
        kwargs.setdefault("first_step", step)
    if max_step is not None:
        kwargs.setdefault("max_step", max_step)

    def fun(_s, theta):
        return run.rhs(theta)

    try:
        solver = solver_cls(fun, 0.0, start.theta, run.s_end, **kwargs)
    except (RankConditionError, *_NON_FINITE) as exc:
        run.stop(*_failure_status(exc))
        return
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid options for scipy's {run.method}: {exc}") from exc
    run.stats.pop("rejected")  # scipy's solvers do not expose their rejected steps
    previous = start
    while solver.status == "running":
        if run.stats["accepted"] >= run.max_steps:
            run.stop("max_steps", f"max_steps = {run.max_steps} reached at s = {solver.t:.6g}")
            break
        try:
            message = solver.step()
            if solver.status == "failed":
                _solver_failed(run, solver, previous, message)
                break
            new = flow.evaluate(solver.y, geometry=run.recorder.record)
        except (RankConditionError, *_NON_FINITE) as exc:
            run.stop(*_failure_status(exc))
            break
        if run.eps is not None and new.cost <= run.eps:
            try:
                s_hit, new = _land_dense(run, solver, previous)
            except (RankConditionError, *_NON_FINITE) as exc:
                run.stop(*_failure_status(exc))
                break
            run.event_s = s_hit
            run.recorder.add_point(s_hit, _with_geometry(flow, new), run.shape, final=True)
            run.stop("target_cost_reached", f"C = {new.cost:.6g} <= eps at s = {s_hit:.6g}")
            break
        run.recorder.add_point(solver.t, new, run.shape)
        run.stats["accepted"] += 1
        previous = new
        run.report(solver.t, run.s_end)
    _finish_geometry(run)


def _solver_failed(run, solver, previous, message):
    """scipy's step size collapsed: the field is singular near the last accepted point.

    The adapted field −D⁺∇ₓC is smooth wherever D keeps its rank, so a collapse
    means σ_min(D) → 0 (rank loss, (2.1)/(5.1) fail); the standard field
    −Dᵀ∇ₓC is smooth everywhere, so for it the collapse means blow-up.
    """
    where = f"scipy {run.method} stopped at s = {solver.t:.6g} ({message})"
    if isinstance(run.flow, AdaptedFlow):
        try:
            rep = _with_geometry(run.flow, previous).report
        except (RankConditionError, *_NON_FINITE):
            rep = _bare_point(run.flow, previous.theta).report
        run.stop(
            "rank_condition_failed",
            f"{where}: the adapted vector field is singular there, D is losing rank "
            f"(last accepted point: rank {rep.rank}, sigma_min = {rep.sigma_min:.3g}, "
            f"cond = {rep.condition_number:.3g})",
        )
    else:
        run.stop("non_finite", f"{where}: the vector field blows up")


def _land_dense(run, solver, previous):
    """Locate C(s) = ε inside the last step on the solver's dense output (brentq on log C)."""
    dense = solver.dense_output()
    le = math.log(run.eps)
    f, cost = run.flow.f, run.flow.cost

    def g(s):
        c = float(cost(f(dense(s))))
        return (math.log(c) if c > 0 else -745.0) - le

    t0, t1 = solver.t_old, solver.t
    s_hit = brentq(g, t0, t1, xtol=1e-14 * max(1.0, abs(t1)), rtol=4 * np.finfo(float).eps)
    point = run.flow.evaluate(dense(s_hit), geometry=True)
    run.n_evaluations += 1
    return float(s_hit), point


# -- output-exact ------------------------------------------------------------------


def _output_exact_settings(flow, options) -> tuple[int, float, float]:
    """Check that output-exact applies to ``flow``; return (max_corrector, grow, shrink)."""
    K, QN = flow.K, flow.QN
    if not isinstance(flow, AdaptedFlow) or flow.regime not in ("auto", "over", "borderline"):
        what = type(flow).__name__ + (
            f"(regime={flow.regime!r})" if isinstance(flow, AdaptedFlow) else ""
        )
        raise InputError(
            f"method 'output-exact' integrates the adapted flow (2.4) in the over-parametrized or "
            f"borderline regime (its output solves (2.5) exactly); got {what}. Use 'rk45', 'rk4' "
            "or another ODE method for this flow"
        )
    if flow.output_metric is not None:
        raise InputError(
            f"method 'output-exact' follows the Euclidean output law (2.7); this AdaptedFlow has "
            f"the output metric {flow.output_metric!r}, whose output velocity is "
            "-G^-1 grad_x C, so its orbit is not on that law. Use an ODE method such as 'rk45' "
            "or 'DOP853' (for constant G, subriemann.theory.output_metric_cost_law gives the "
            "cost to compare with)"
        )
    if K < QN:
        raise InputError(
            f"method 'output-exact' needs K >= QN (over-parametrized, Theorem 2.1); here K = {K} "
            f"< QN = {QN}: the under-parametrized flow (5.2) only follows the constrained law "
            "(5.3). Use 'rk45' or another ODE method"
        )
    unknown = set(options) - {"max_corrector", "grow", "shrink"}
    if unknown:
        raise InputError(
            f"unknown output-exact options {sorted(unknown)}; expected max_corrector, grow, shrink"
        )
    max_corrector = int(options.get("max_corrector", 20))
    grow = float(options.get("grow", 2.0))
    shrink = float(options.get("shrink", 0.25))
    if max_corrector < 3 or grow < 1 or not 0 < shrink < 1:
        raise InputError("output-exact options need max_corrector >= 3, grow >= 1, 0 < shrink < 1")
    return max_corrector, grow, shrink


def _output_exact(run: _Run, start: FlowPoint, step, max_step, rtol, atol, settings):
    flow = run.flow
    K, QN, N = flow.K, flow.QN, flow.N
    max_corrector, grow, shrink = settings
    policy = run.recorder.policy
    regime = "borderline" if K == QN else "over"
    y = flow.cost.target
    r0 = start.x - y
    C0 = start.cost
    svd = start.svd if policy == flow.rank_policy else JacobianSVD(start.svd.D, policy)
    if svd.rank < QN:
        run.stop(
            "rank_condition_failed",
            f"at s = 0: rank D = {svd.rank} < QN = {QN}, the rank condition (2.1) fails "
            f"(sigma_min = {svd.report.sigma_min:.3g}); output-exact needs (2.1)",
        )
        return
    s_stop = math.inf
    if run.eps is not None:
        from subriemann.theory import stopping_time

        s_stop = stopping_time(run.eps, C0, N)
    s_final = min(run.s_end, s_stop)
    h = step if step is not None else float(N)
    h_max = max_step if max_step is not None else math.inf
    h_min = 1e-12 * max(1.0, N)
    theta, x, s = start.theta, start.x, 0.0
    attempts, iterations, last_failure = 0, 0, None
    while s < s_final:
        if attempts >= run.max_steps:
            run.stop("max_steps", f"max_steps = {run.max_steps} attempted steps at s = {s:.6g}")
            break
        attempts += 1
        h_try = min(h, h_max, s_final - s)
        landing = s + h_try >= s_final * (1 - 1e-15)
        s_try = s_final if landing else s + h_try
        x_t = y + math.exp(-s_try / N) * r0
        tol = atol + rtol * math.sqrt(2.0 * N * C0) * math.exp(-s_try / N)
        outcome = _correct(flow, policy, theta, x, svd, x_t, tol, max_corrector)
        iterations += outcome[-2]
        if outcome[0] is None:
            run.stats["rejected"] += 1
            last_failure = outcome[1]
            h = h_try * shrink
            if h < h_min:
                _corrector_gave_up(run, s, svd, last_failure)
                break
            continue
        theta, x, svd, n_it, refreshes = outcome
        s = s_try
        run.stats["accepted"] += 1
        run.recorder.add(
            s,
            theta,
            x,
            float(flow.cost(x)),
            svd.report,
            svd.singular_values,
            regime if svd.rank == QN else "rank-loss",
            run.shape,
            final=landing,
        )
        run.report(s, s_final)
        if svd.rank < QN:
            run.stop(
                "rank_condition_failed",
                f"at s = {s:.6g}: rank D = {svd.rank} < QN = {QN}, the rank condition (2.1) "
                f"fails along the orbit (sigma_min = {svd.report.sigma_min:.3g})",
            )
            break
        # The predictor error is O(h²): a step that needed no fresh Jacobian
        # (predictor or chord steps only) can grow by grow², one that needed
        # Newton steps less, and one near the iteration cap shrinks.
        if n_it >= max_corrector - 2 or refreshes >= 3:
            h = h_try * 0.7
        else:
            h = h_try * grow ** (2.0, 1.0, 0.5)[refreshes]
    run.n_evaluations = iterations
    run.stats["corrector_evaluations"] = iterations
    if run.status is None and run.eps is not None and s >= s_stop:
        run.event_s = float(s)
        run.stop(
            "target_cost_reached",
            f"landed on the stopping time s = (N/2) log(C0/eps) = {s:.6g} (2.18)",
        )


def _correct(flow, policy, theta, x, svd, x_t, tol, max_corrector):
    """Predictor θ + D⁺(x_t − x), then minimum-norm Gauss–Newton onto f⁻¹(x_t).

    The corrections start as chord steps: D⁺ of the step's start point is
    reused, so an iteration costs one evaluation of f, not a Jacobian and an
    SVD.  When a chord step contracts the residual by less than 4× the
    Jacobian is refreshed at the current iterate (full Gauss–Newton, quadratic
    near the fiber).  An accepted point always gets its own Jacobian and SVD:
    the next predictor and the rank check (2.1) need them.

    Returns (θ, x, svd, evaluations of f, Jacobian refreshes) on success and
    (None, reason, evaluations, refreshes) when the corrector does not contract.
    """
    theta_c = theta + svd.solve(x_t - x)
    previous = float(np.linalg.norm(x_t - x))
    chord, refreshes, k = True, 0, 0
    try:
        for k in range(1, max_corrector + 1):
            xc = np.asarray(flow.f(theta_c), dtype=np.float64)
            if not np.all(np.isfinite(xc)):
                raise NumericalError("the output x[theta] is not finite")
            residual = x_t - xc
            norm = float(np.linalg.norm(residual))
            if norm <= tol:
                svd_c = JacobianSVD(flow.f.jacobian(theta_c), policy)
                return theta_c, xc, svd_c, k, refreshes
            # The predictor may overshoot on long steps (first iterate worse
            # than the start, then fast convergence), so only later iterates
            # must contract; a ratio above 1/2 means the iteration left the
            # basin (a chord step that did not contract hands over to Newton).
            ratio = norm / previous
            if ratio >= (4.0 if k == 1 else 0.5) and not (chord and k > 1):
                return None, f"corrector stalled (|f - x_t| = {norm:.3g})", k, refreshes
            chord = chord and ratio <= 0.25
            if not chord:
                svd = JacobianSVD(flow.f.jacobian(theta_c), policy)
                refreshes += 1
            previous = norm
            theta_c = theta_c + svd.solve(residual)
    except _NON_FINITE as exc:
        return None, exc, k, refreshes
    return None, f"no convergence in {max_corrector} iterations", max_corrector, refreshes


def _corrector_gave_up(run, s, svd, failure):
    if isinstance(failure, Exception):
        run.stop("non_finite", f"at s = {s:.6g}: {failure} (at every step size tried)")
        return
    report = svd.report
    run.stop(
        "rank_condition_failed",
        f"at s = {s:.6g} the corrector could not follow the fiber even with the smallest "
        f"step ({failure}); D is numerically rank deficient there: rank {report.rank}, "
        f"sigma_min = {report.sigma_min:.3g}, cond = {report.condition_number:.3g}, "
        "so the rank condition (2.1) fails in practice",
    )
