"""Orbits of the parameter flows: ``integrate(flow, θ₀, s_end, method=...)`` into a Trajectory.

This is the flows' use of the ODE core (:mod:`subriemann.integrate`): it picks a
stepper and a controller for the method, turns "C ≤ ε" into a terminal event,
checks the rank condition at accepted points and records each accepted point as
an :class:`OrbitPoint` (s, θ, x, C, rank, σ_min, σ_max, regime).  The one
method the core does not provide, output-exact, is defined here, as a stepper
and a controller of its own, because it uses the output law of the flow.

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
``"dopri5"``
    The package's Dormand–Prince 5(4) with a PI step-size controller.
``"rk45"``, ``"scipy"`` (= RK45), ``"RK23"``, ``"DOP853"``, ``"Radau"``, ``"BDF"``, ``"LSODA"``
    scipy's adaptive solvers, one accepted step at a time (so that a failure
    keeps the orbit computed so far); ``rtol``/``atol`` are passed through,
    ``step`` is the first step.
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
    The rank condition (2.1) is checked at the accepted points.

    Why this is a faithful integrator of (2.4): along the flow x′ = −∇ₓC exactly
    (2.5), and x_t − x = −N(1 − e^{−h/N})∇ₓC, so the predictor is
    θ + N(1 − e^{−h/N})·(−D⁺∇ₓC), an Euler step of (2.4) in the time
    reparametrised by the exact output law; minimum-norm corrections lie in
    range Dᵀ = V (the horizontal space), as the flow's velocity does.  The
    output is exact up to the corrector tolerance at every step, so the law
    residual does not grow with the number of steps.  The target is anchored
    at x(0), so each step's tolerance error is independent, not accumulated.
    With a target cost ε the crossing is known in closed form (2.18): the run
    ends there plus the corrector's margin (so that C ≤ ε holds), not by the
    event locator the other methods use.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from subriemann.errors import (
    ConditioningWarning,
    InputError,
    NonFiniteError,
    NumericalError,
    RankConditionError,
    check_int,
    check_real,
    check_vector,
)
from subriemann.flows.fields import AdaptedFlow, FlowPoint, ParameterFlow
from subriemann.flows.theory import cost_floor, stopping_time
from subriemann.integrate import (
    RK4,
    ArmijoHalving,
    ConstantStep,
    Decision,
    DormandPrince54,
    Euler,
    Event,
    PIController,
    Proposal,
    ScipyStepper,
    SolverControlled,
    Status,
    Stepper,
    solve,
)
from subriemann.linalg import JacobianSVD, numerical_rank, resolve_policy

__all__ = ["Trajectory", "OrbitPoint", "integrate", "resolve_method", "METHODS", "STATUSES"]

_SCIPY = {name.lower(): name for name in ScipyStepper.NAMES}
_OWN = ("output-exact", "euler", "rk4", "monotone", "dopri5")
#: every accepted ``method`` name (scipy names are also accepted in any case)
METHODS = (*_OWN, "scipy", *_SCIPY.values())
#: the possible values of :attr:`Trajectory.status` (members of :class:`~subriemann.integrate.Status`)
STATUSES = tuple(s.value for s in Status if s is not Status.EVENT)

# Numerical failures of a flow evaluation: they end an orbit with status
# "non_finite" instead of propagating (check_* raise NonFiniteError on NaN/inf).
_NON_FINITE = (NumericalError, NonFiniteError, FloatingPointError, OverflowError)


@dataclass(kw_only=True)
class OrbitPoint:
    """One recorded point of an orbit (rank −1 and NaN σ's: recorded without a Jacobian)."""

    s: float
    theta: np.ndarray
    x: np.ndarray
    cost: float
    rank: int = -1
    sigma_min: float = math.nan
    sigma_max: float = math.nan
    regime: str = ""


@dataclass(kw_only=True)
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
    method : str
    status : Status
        A ``str`` enum (one of :data:`STATUSES`); ``status.meaning`` says it in words.
    message : str
        Why, where and with which numbers the run ended.
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
        The crossing time of C = ε (target_cost_reached only).
    stats : dict
        Step statistics (accepted, rejected, ...).
    warnings : list of str
        Conditioning warnings raised along the run (also issued as
        :class:`~subriemann.errors.ConditioningWarning`): σ_min(D)/σ_max(D) fell
        below √eps, where the adapted velocity (~1/σ_min) is resolved only to
        ~eps·σ_max/σ_min and the rank condition (2.1) holds only numerically.
    """

    s: np.ndarray
    theta: np.ndarray
    x: np.ndarray
    cost: np.ndarray
    rank: np.ndarray
    sigma_min: np.ndarray
    sigma_max: np.ndarray
    regime: list
    method: str
    status: Status
    message: str
    n_jacobian: int
    n_evaluations: int
    N: int
    target: np.ndarray
    eps: float | None = None
    event_s: float | None = None
    counts: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    solution: object = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.s)

    def __call__(self, s):
        """Dense θ(s) between recorded points (the stepper's interpolant; record=True runs)."""
        if self.solution is None or len(self.solution) != len(self):
            raise InputError(
                "dense evaluation needs the run's solution with every accepted point "
                "(integrate(..., record=True))"
            )
        return self.solution(s)

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
            "status": str(self.status),
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
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        return (
            f"Trajectory(method={self.method!r}, status={str(self.status)!r}, "
            f"points={len(self)}, s_final={self.final_s:.6g}, "
            f"cost {self.initial_cost:.3e} -> {self.final_cost:.3e}, n_jacobian={self.n_jacobian})"
        )


def _json_float(v):
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    return v


def resolve_method(method) -> str:
    """The canonical name of an integration method (the one home of method names)."""
    if not isinstance(method, str):
        raise InputError(f"method must be a string, one of {METHODS}, got {method!r}")
    key = method.lower()
    if key in _OWN:
        return key
    if key == "scipy":
        return "RK45"
    if key in _SCIPY:
        return _SCIPY[key]
    raise InputError(
        f"unknown method {method!r}; expected one of {list(METHODS)} "
        "(scipy names are case-insensitive; 'rk45' and 'scipy' mean RK45)"
    )


class _Recorder:
    """Collects orbit points; the rank recorded is decided under the integration's policy."""

    def __init__(self, policy, shape, record: bool):
        self.policy, self.shape, self.record = policy, shape, record
        self.rows: list[OrbitPoint] = []
        self.pending: OrbitPoint | None = None
        self.warnings: list[str] = []

    def point(self, s, p: FlowPoint) -> OrbitPoint:
        report = p.report
        if p.singular_values is not None:
            report = numerical_rank(p.singular_values, self.shape, self.policy)
        row = OrbitPoint(s=float(s), theta=np.array(p.theta), x=np.array(p.x), cost=float(p.cost))
        if report is not None:
            row.rank, row.sigma_min, row.sigma_max = report.rank, report.sigma_min, report.sigma_max
        row.regime = p.regime
        return row

    def add(self, row: OrbitPoint, final=False):
        self.watch(row)
        if self.record or not self.rows or final:
            self.rows.append(row)
            self.pending = None
        else:
            self.pending = row  # without recording keep only the latest point

    def watch(self, row: OrbitPoint):
        """Warn once when σ_min/σ_max of D falls below √eps along the orbit (issue: §2.1's
        rank condition must hold along the *whole* orbit; its infimum need not be attained)."""
        if self.warnings or not row.sigma_max > 0:
            return
        ratio = row.sigma_min / row.sigma_max
        if ratio < math.sqrt(np.finfo(np.float64).eps):
            message = (
                f"at s = {row.s:.6g}: sigma_min/sigma_max of D = {ratio:.3g} < sqrt(eps): the "
                "rank condition (2.1) holds only numerically there; the velocity (~1/sigma_min) "
                "is resolved to ~eps/ratio relative"
            )
            self.warnings.append(message)
            warnings.warn(message, ConditioningWarning, stacklevel=4)

    @property
    def last(self) -> OrbitPoint:
        return self.pending if self.pending is not None else self.rows[-1]

    def replace_last(self, row: OrbitPoint):
        if self.pending is not None:
            self.pending = row
        else:
            self.rows[-1] = row

    def columns(self) -> dict:
        if self.pending is not None:
            self.rows.append(self.pending)
            self.pending = None
        rows = self.rows
        return {
            "s": np.array([r.s for r in rows]),
            "theta": np.array([r.theta for r in rows]),
            "x": np.array([r.x for r in rows]),
            "cost": np.array([r.cost for r in rows]),
            "rank": np.array([r.rank for r in rows], dtype=np.int64),
            "sigma_min": np.array([r.sigma_min for r in rows], dtype=np.float64),
            "sigma_max": np.array([r.sigma_max for r in rows], dtype=np.float64),
            "regime": [r.regime for r in rows],
        }


def _bare_point(flow: ParameterFlow, theta) -> FlowPoint:
    """x, cost and D's rank at θ without the flow's regime check (for failure reports)."""
    if getattr(flow, "route", "dense") != "dense":  # kernel / matrix-free: never form D
        x, svd = np.asarray(flow.f(theta), dtype=np.float64), flow.factorization(theta)
    else:
        x, D = flow.f.value_and_jacobian(theta)
        svd = JacobianSVD(D, flow.rank_policy)
        x = np.asarray(x, dtype=np.float64)
    return FlowPoint(
        np.array(theta),
        x,
        float(flow.cost(x)),
        np.zeros_like(theta),
        None,
        svd.report,
        "rank-failure",
        svd.singular_values,
        svd,
    )


@dataclass(kw_only=True)
class _Run:
    """One call of :func:`integrate`: its checked settings, the recorder, and how it ends."""

    flow: ParameterFlow
    method: str
    s_end: float
    step: float | None
    max_step: float | None
    rtol: float
    atol: float
    eps: float | None
    max_steps: int
    options: dict
    settings: tuple | None
    recorder: _Recorder
    progress: object
    counts_before: dict

    def finish(
        self, status, message, *, event_s=None, n_evaluations=0, stats=None, solution=None
    ) -> Trajectory:
        """The Trajectory of the run; never claims C ≤ ε where it does not hold."""
        flow, eps = self.flow, self.eps
        _finish_geometry(flow, self.recorder)
        data = self.recorder.columns()
        if status == Status.TARGET_COST_REACHED and data["cost"][-1] > eps:
            # every landing aims at C ≤ ε; never claim it when it does not hold
            status, event_s = Status.COMPLETED, None
            message = (
                f"stopped at s = {data['s'][-1]:.6g} with C = {data['cost'][-1]:.6g} > eps = "
                f"{eps:.6g} (the crossing could not be resolved below round-off)"
            )
        counts = {
            k: int(v - self.counts_before.get(k, 0))
            for k, v in flow.f.counts.items()
            if v - self.counts_before.get(k, 0)
        }
        return Trajectory(
            **data,
            method=self.method,
            status=Status(status),
            message=message,
            n_jacobian=counts.get("jacobian", 0),
            n_evaluations=n_evaluations,
            N=flow.N,
            target=np.array(flow.cost.target),
            eps=eps,
            event_s=event_s,
            counts=counts,
            stats=stats or {"accepted": 0, "rejected": 0},
            warnings=list(self.recorder.warnings),
            solution=solution,
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
    route=None,
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
        "monotone", "dopri5", "rk45"/"scipy", or a scipy solver name.
    step : float, optional
        Fixed step (euler, rk4; default ``s_end/1000``) or first step (the
        adaptive methods; default N for output-exact).
    max_step : float, optional
        Largest step of the adaptive methods.
    rtol, atol : float
        ODE methods: tolerances on θ.  output-exact: corrector tolerance on the
        output, |f(θ) − x_t| ≤ atol + rtol·|x_t − y_ω|.
    eps : float, optional
        Target cost: stop at the first s with C ≤ ε (a terminal event of the
        core, located on the stepper's own steps; output-exact lands on (2.18)
        plus its margin); ``event_s`` is that time and C ≤ ε holds there.
        Refused below the cost's round-off floor
        :func:`~subriemann.flows.theory.cost_floor`.
    max_steps : int
        Cap on attempted steps.
    rank_policy : RankPolicy, float or None
        Rank decision for the recorded rank and for the rank condition (2.1)
        of output-exact; default: the flow's policy.
    record : bool
        True: keep every accepted step.  False: keep only the first and last points
        (and skip the Jacobian the standard flow would need per recorded point).
    progress : callable, optional
        ``progress(s_current, s_end)`` after every accepted step (for
        output-exact with ``eps`` the second argument is the landing time,
        finite even for s_end = inf).
    options : dict, optional
        scipy methods: extra keyword arguments of the solver class.
        output-exact: ``max_corrector`` (default 20), ``grow`` (2.0), ``shrink`` (0.25).
    route : {"auto", "dense", "kernel", "matrix-free"}, optional
        For an AdaptedFlow: integrate the same flow on this route (an AdaptedFlow
        with the same settings and ``route=``; see :class:`AdaptedFlow`); None keeps
        the flow's own.  Output-exact's predictor and corrector use the route's
        factorization (``flow.factorization``), so on "kernel" no QN×K array is formed.

    Returns
    -------
    Trajectory
        ``status`` says why the run stopped (:class:`~subriemann.integrate.Status`):
        "completed", "target_cost_reached", "rank_condition_failed" (a forced
        regime's rank condition failed, or the output-exact corrector could not
        follow the fiber because D lost rank numerically), "non_finite"
        (overflow or NaN along the orbit), "step_size_collapsed" (the adaptive
        step shrank to ~1e-8·max(1, s) for 50 steps, or Armijo halving found no
        decrease: a kink of a non-smooth activation or a blow-up; the orbit
        ends at that point), "max_steps".

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
    method = resolve_method(method)
    if route is not None:
        if not isinstance(flow, AdaptedFlow):
            raise InputError(
                f"route= applies to an AdaptedFlow (how D^+ is applied); got {type(flow).__name__}"
            )
        if route != flow.route_choice.requested:
            flow = AdaptedFlow(
                flow.f,
                flow.cost,
                regime=flow.regime,
                rank_policy=flow.rank_policy,
                output_metric=flow.output_metric,
                route=route,
                memory_budget=flow.memory_budget,
            )
    theta0 = np.array(check_vector(theta0, flow.K, "theta0"), dtype=np.float64)
    eps = check_real(eps, "eps", "the target cost", positive=True, allow_none=True)
    if eps is not None:
        floor = cost_floor(flow.cost.target, flow.N)
        if eps < floor:
            raise InputError(
                f"eps = {eps:.3g} is below the round-off floor of the cost, "
                f"eps_machine*|y|^2/N = {floor:.3g}: C <= eps could not be told from "
                f"rounding there; choose eps >= {floor:.3g}"
            )
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
    settings = None
    if method == "output-exact":
        settings = _output_exact_settings(flow, options)
    elif method in ("euler", "rk4", "monotone", "dopri5"):
        if options:
            raise InputError(f"method {method!r} takes no options, got {sorted(options)}")
        if step is None and method != "dopri5":
            if not math.isfinite(s_end):
                raise InputError(f"method {method!r} needs a step when s_end is infinite")
            step = s_end / 1000.0

    run = _Run(
        flow=flow,
        method=method,
        s_end=s_end,
        step=step,
        max_step=max_step,
        rtol=rtol,
        atol=atol,
        eps=eps,
        max_steps=max_steps,
        options=options,
        settings=settings,
        recorder=_Recorder(policy, (flow.QN, flow.K), record),
        progress=progress,
        counts_before=dict(flow.f.counts),
    )
    recorder, finish = run.recorder, run.finish
    try:
        start = flow.evaluate(theta0, geometry=True)
    except RankConditionError as exc:
        recorder.add(recorder.point(0.0, _bare_point(flow, theta0)), final=True)
        return finish(Status.RANK_CONDITION_FAILED, f"at s = 0: {exc}")
    except _NON_FINITE as exc:
        raise NumericalError(f"the flow cannot be evaluated at theta0: {exc}") from exc
    recorder.add(recorder.point(0.0, start))
    if eps is not None and start.cost <= eps:
        return finish(
            Status.TARGET_COST_REACHED,
            f"C(0) = {start.cost:.6g} <= eps = {eps:.6g} already",
            event_s=0.0,
            n_evaluations=0,
        )
    if method == "output-exact":
        return _output_exact(run, start)
    return _ode(run, start)


def _ode(run: _Run, start: FlowPoint) -> Trajectory:
    """Every ODE method: the core's driver with the method's stepper and controller."""
    flow, method, s_end, step, max_step = run.flow, run.method, run.s_end, run.step, run.max_step
    rtol, atol, eps, recorder, progress = run.rtol, run.atol, run.eps, run.recorder, run.progress
    options, finish, max_steps = run.options, run.finish, run.max_steps
    n_evaluations = [0]

    def field(_s, theta):
        n_evaluations[0] += 1
        return flow(theta)

    if method in ("euler", "rk4"):
        stepper, controller = (Euler() if method == "euler" else RK4()), ConstantStep(step)
    elif method == "monotone":
        stepper = Euler()
        controller = ArmijoHalving(
            step,
            h_max=max_step if max_step is not None else math.inf,
            objective=lambda th: flow.evaluate(th, geometry=False).cost,
            slope=lambda th, v: _decay_rate(flow, th, v),
            slack=lambda th: _cost_round_off(flow, *_x_and_cost(flow, th)),
        )
    elif method == "dopri5":
        stepper = DormandPrince54(rtol=rtol, atol=atol)
        controller = PIController(stepper.order, h_max=max_step or math.inf)
    else:
        stepper, controller = ScipyStepper(method, rtol, atol, **options), SolverControlled()

    events = ()
    if eps is not None:
        log_eps = math.log(eps)

        def excess(_s, theta):
            # C plus its round-off slack: the event fires where C ≤ ε − slack, so that
            # C ≤ ε also holds for the recorded point even if its x came by another
            # evaluation route (value_and_jacobian) and differs from f(θ) in the last bits
            x = flow.output_at(theta)
            c = float(flow.cost(x))
            c += _cost_round_off(flow, x, c)
            return (math.log(c) if c > 0 else -745.0) - log_eps

        events = (
            Event(name="C = eps", fn=excess, direction=-1, status=Status.TARGET_COST_REACHED),
        )

    def on_accept(s, theta, _v):
        point = flow.evaluate(theta, geometry=recorder.record)
        recorder.add(recorder.point(s, point))
        if progress is not None:
            progress(float(s), float(s_end))

    h0 = step
    sol = solve(
        field,
        0.0,
        start.theta,
        s_end,
        stepper=stepper,
        controller=controller,
        h0=h0,
        f0=start.velocity,
        events=events,
        max_steps=max_steps,
        on_accept=on_accept,
        max_step=max_step,
    )
    status, message = sol.status, sol.message
    if status == Status.STEP_SIZE_COLLAPSED and sol.stats.get("solver_failed"):
        status, message = _solver_failed(flow, method, recorder, message)
    elif status in (Status.NON_FINITE,) and not message.startswith("non-finite"):
        message = f"non-finite values along the orbit: {message}"
    stats = {k: sol.stats[k] for k in ("accepted", "rejected")}
    if isinstance(stepper, ScipyStepper):
        stats.pop("rejected")  # scipy's solvers do not expose their rejected steps
    event_s = sol.t[-1] if status == Status.TARGET_COST_REACHED else None
    return finish(
        status,
        message,
        event_s=None if event_s is None else float(event_s),
        n_evaluations=n_evaluations[0],
        stats=stats,
        solution=sol,
    )


def _decay_rate(flow, theta, velocity) -> float:
    """dC/ds at θ along the flow: ∇ₓC·ẋ (−|∇_θC|² for the standard flow (1.10))."""
    point = flow.evaluate(theta, geometry=False)
    if point.output_velocity is None:  # standard flow without geometry
        return -float(velocity @ velocity)
    return float(flow.cost.grad(point.x) @ point.output_velocity)


def _cost_round_off(flow, x, cost) -> float:
    """Round-off slack of C: x = f(θ) carries ~eps·|x|, so C = |x − y|²/(2N) is known to
    ~k·eps·|x|·(|x − y| + eps·|x|)/N (k = 4); near a minimum a step may "increase" C by
    that much alone, and two routes to x may give costs that differ by as much."""
    ex = 4 * np.finfo(np.float64).eps * float(np.linalg.norm(x))
    return ex * (math.sqrt(2 * flow.N * cost) + ex) / flow.N


def _x_and_cost(flow, theta):
    point = flow.evaluate(theta, geometry=False)
    return point.x, point.cost


def _solver_failed(flow, method, recorder, message):
    """scipy's step size collapsed: the field is singular near the last accepted point.

    The adapted field −D⁺∇ₓC is smooth wherever D keeps its rank, so a collapse
    means σ_min(D) → 0 (rank loss, (2.1)/(5.1) fail); the standard field
    −Dᵀ∇ₓC is smooth for smooth activations, so there it means blow-up or a kink.
    """
    where = f"scipy {method} {message}"
    if isinstance(flow, AdaptedFlow):
        theta = recorder.last.theta
        try:
            rep = flow.evaluate(theta, geometry=True).report
        except (RankConditionError, *_NON_FINITE):
            rep = _bare_point(flow, theta).report
        return Status.RANK_CONDITION_FAILED, (
            f"{where}: the adapted vector field is singular there, D is losing rank "
            f"(last accepted point: rank {rep.rank}, sigma_min = {rep.sigma_min:.3g}, "
            f"cond = {rep.condition_number:.3g})"
        )
    return Status.STEP_SIZE_COLLAPSED, (
        f"{where}: the vector field blows up or is not smooth there (a kink of a "
        "non-smooth activation?)"
    )


def _finish_geometry(flow, recorder: _Recorder):
    """Make sure the last recorded point carries D's rank (one Jacobian at most)."""
    last = recorder.last
    if last.rank >= 0:
        return
    try:
        point = flow.evaluate(last.theta, geometry=True)
    except (RankConditionError, *_NON_FINITE):
        return
    recorder.replace_last(recorder.point(last.s, point))


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
            "or 'DOP853' (for constant G, subriemann.flows.theory.output_metric_cost_law gives the "
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


class _OutputExactStep(Stepper):
    """Predictor–corrector onto the fiber over the law's output x(s + h) (module docstring).

    ``error`` is 0 for a converged corrector and inf when it does not contract;
    ``info`` carries the iterations and Jacobian refreshes for the controller.
    The proposal's slope is the flow's velocity −D⁺∇ₓC from the new point's
    SVD (no further Jacobian).
    """

    def __init__(self, *, flow, policy, start, rtol, atol, max_corrector, s_land, tol_land):
        self.flow, self.policy, self.max_corrector = flow, policy, max_corrector
        self.rtol, self.atol, self.s_land, self.tol_land = rtol, atol, s_land, tol_land
        self.y, self.r0 = flow.cost.target, start.x - flow.cost.target
        self.r0_norm = float(np.linalg.norm(self.r0))
        # the factorization comes from the flow's route (dense SVD, kernel Θ or Krylov)
        self.svd = (
            start.svd if policy == flow.rank_policy else flow.factorization(start.theta, policy)
        )
        self.x = start.x
        self.pending = None
        self.iterations = 0

    def step(self, field, t, theta, f, h) -> Proposal:
        N = self.flow.N
        s_try = t + h
        x_t = self.y + math.exp(-s_try / N) * self.r0
        tol = self.atol + self.rtol * self.r0_norm * math.exp(-s_try / N)
        if s_try >= self.s_land * (1 - 1e-15):
            tol = min(tol, self.tol_land)
        outcome = _correct(
            self.flow, self.policy, theta, self.x, self.svd, x_t, tol, self.max_corrector
        )
        self.iterations += outcome[-2]
        if outcome[0] is None:
            return Proposal(
                t=s_try,
                y=theta,
                f=f,
                error=math.inf,
                dense=lambda _s: theta,
                evaluations=outcome[-2],
                info={"failure": outcome[1]},
            )
        theta1, x1, svd1, n_it, refreshes = outcome
        self.pending = (x1, svd1)
        velocity = -svd1.solve(self.flow.cost.grad(x1))

        def dense(s, t0=t, th0=theta):
            u = (s - t0) / h
            return (1 - u) * th0 + u * theta1

        return Proposal(
            t=s_try,
            y=theta1,
            f=velocity,
            error=0.0,
            dense=dense,
            evaluations=n_it,
            info={"iterations": n_it, "refreshes": refreshes},
        )

    def accept(self):
        self.x, self.svd = self.pending


class _CorrectorContraction:
    """Step control of output-exact by how hard the corrector had to work.

    The predictor error is O(h²): a step that needed no fresh Jacobian
    (predictor or chord steps only) grows by grow², one that needed Newton steps
    less, and one near the iteration cap shrinks; a failed corrector shrinks the
    step by ``shrink`` and retries, down to 1e-12·max(1, N).
    """

    def __init__(self, *, h0, grow, shrink, max_corrector, h_max, h_min):
        self.h0, self.grow, self.shrink, self.max_corrector = h0, grow, shrink, max_corrector
        self.h_max, self.h_min = h_max, h_min
        self.last_failure = None

    def first_step(self, _h0):
        return self.h0

    def decide(self, proposal: Proposal, t: float, h: float, **_) -> Decision:
        if not math.isfinite(proposal.error):
            self.last_failure = proposal.info["failure"]
            h_next = h * self.shrink
            return Decision(accept=False, h_next=h_next, collapsed=h_next < self.h_min)
        n_it, refreshes = proposal.info["iterations"], proposal.info["refreshes"]
        if n_it >= self.max_corrector - 2 or refreshes >= 3:
            return Decision(accept=True, h_next=min(self.h_max, h * 0.7))
        return Decision(
            accept=True, h_next=min(self.h_max, h * self.grow ** (2.0, 1.0, 0.5)[refreshes])
        )


def _output_exact(run: _Run, start: FlowPoint) -> Trajectory:
    """Output-exact stepping (module docstring) on the core's driver."""
    flow, s_end, step, max_step, eps = run.flow, run.s_end, run.step, run.max_step, run.eps
    rtol, atol, recorder, progress = run.rtol, run.atol, run.recorder, run.progress
    max_steps, settings, finish = run.max_steps, run.settings, run.finish
    K, QN, N = flow.K, flow.QN, flow.N
    max_corrector, grow, shrink = settings
    regime = "borderline" if K == QN else "over"
    C0 = start.cost
    s_land, tol_land = math.inf, math.inf
    if eps is not None:
        # Land where C ≤ ε is certain, not only on (2.18): at s_ε the target
        # residual is |r_ε| = √(2Nε) and the corrector leaves an error up to tol,
        # so C could exceed ε by ~2·tol/|r_ε|.  Aiming N·log(|r_ε|/(|r_ε| − tol))
        # later (≈ N·tol/|r_ε|) makes |f(θ) − y| ≤ |r_ε| − tol + tol = |r_ε|.
        r_eps = math.sqrt(2.0 * N * eps)
        tol_land = min(atol + rtol * r_eps, 0.5 * r_eps)
        s_land = stopping_time(eps, C0, N) + N * math.log(r_eps / (r_eps - tol_land))
    s_final = min(s_end, s_land)
    stepper = _OutputExactStep(
        flow=flow,
        policy=recorder.policy,
        start=start,
        rtol=rtol,
        atol=atol,
        max_corrector=max_corrector,
        s_land=s_land,
        tol_land=tol_land,
    )
    if stepper.svd.rank < QN:
        return finish(
            Status.RANK_CONDITION_FAILED,
            f"at s = 0: rank D = {stepper.svd.rank} < QN = {QN}, the rank condition (2.1) fails "
            f"(sigma_min = {stepper.svd.report.sigma_min:.3g}); output-exact needs (2.1)",
        )
    controller = _CorrectorContraction(
        h0=step if step is not None else float(N),
        grow=grow,
        shrink=shrink,
        max_corrector=max_corrector,
        h_max=max_step if max_step is not None else math.inf,
        h_min=1e-12 * max(1.0, N),
    )

    def on_accept(s, theta, _v):
        stepper.accept()
        x, svd = stepper.x, stepper.svd
        row = OrbitPoint(
            s=float(s),
            theta=np.array(theta),
            x=np.array(x),
            cost=float(flow.cost(x)),
            rank=svd.report.rank,
            sigma_min=svd.report.sigma_min,
            sigma_max=svd.report.sigma_max,
            regime=regime if svd.rank == QN else "rank-loss",
        )
        recorder.add(row, final=s >= s_final)
        if progress is not None:
            progress(float(s), float(s_final))
        if svd.rank < QN:
            return Status.RANK_CONDITION_FAILED, (
                f"at s = {s:.6g}: rank D = {svd.rank} < QN = {QN}, the rank condition (2.1) "
                f"fails along the orbit (sigma_min = {svd.report.sigma_min:.3g})"
            )
        return None

    sol = solve(
        lambda _s, _th: None,
        0.0,
        start.theta,
        s_final,
        stepper=stepper,
        controller=controller,
        f0=start.velocity,
        max_steps=max_steps,
        on_accept=on_accept,
    )
    status, message = sol.status, sol.message
    stats = {
        "accepted": sol.stats["accepted"],
        "rejected": sol.stats["rejected"],
        "corrector_evaluations": stepper.iterations,
    }
    if status == Status.STEP_SIZE_COLLAPSED:
        status, message = _corrector_gave_up(sol.t[-1], stepper.svd, controller.last_failure)
    event_s = None
    if status == Status.COMPLETED and eps is not None and s_final == s_land:
        status, event_s = Status.TARGET_COST_REACHED, float(sol.t[-1])
        message = (
            f"landed at s = {event_s:.6g}, the stopping time (N/2) log(C0/eps) = "
            f"{stopping_time(eps, C0, N):.6g} (2.18) plus the corrector's margin"
        )
    elif status == Status.MAX_STEPS:
        message = f"max_steps = {max_steps} attempted steps at s = {sol.t[-1]:.6g}"
    return finish(
        status,
        message,
        event_s=event_s,
        n_evaluations=stepper.iterations,
        stats=stats,
        solution=sol,
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
                svd_c = flow.factorization(theta_c, policy)
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
                svd = flow.factorization(theta_c, policy)
                refreshes += 1
            previous = norm
            theta_c = theta_c + svd.solve(residual)
    except _NON_FINITE as exc:
        return None, exc, k, refreshes
    return None, f"no convergence in {max_corrector} iterations", max_corrector, refreshes


def _corrector_gave_up(s, svd, failure):
    if isinstance(failure, Exception):
        return Status.NON_FINITE, f"at s = {s:.6g}: {failure} (at every step size tried)"
    report = svd.report
    return Status.RANK_CONDITION_FAILED, (
        f"at s = {s:.6g} the corrector could not follow the fiber even with the smallest "
        f"step ({failure}); D is numerically rank deficient there: rank {report.rank}, "
        f"sigma_min = {report.sigma_min:.3g}, cond = {report.condition_number:.3g}, "
        "so the rank condition (2.1) fails in practice"
    )
