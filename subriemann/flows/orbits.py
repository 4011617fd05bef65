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
``"output-exact"``
    For the adapted flow in the over-parametrized / borderline regime with the
    Euclidean output metric only: the output follows the law (2.7) exactly and
    θ is corrected onto the fibre over it at every step
    (:mod:`subriemann.flows.output_exact`, where the method is defined and justified).

The result is a :class:`~subriemann.flows.trajectory.Trajectory`; the points are
recorded, and the rank condition (2.1) watched along the orbit, by
:mod:`subriemann.flows.recording`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from subriemann.errors import (
    InputError,
    NumericalError,
    RankConditionError,
    check_int,
    check_real,
    check_vector,
)
from subriemann.flows.fields import AdaptedFlow, FlowPoint, ParameterFlow
from subriemann.flows.output_exact import integrate_output_exact, output_exact_settings
from subriemann.flows.recording import (
    EVALUATION_FAILURES,
    OrbitRecorder,
    OrbitRun,
    rank_failure_point,
)
from subriemann.flows.theory import cost_floor
from subriemann.flows.trajectory import Trajectory
from subriemann.integrate import (
    RK4,
    ArmijoHalving,
    ConstantStep,
    DormandPrince54,
    Euler,
    Event,
    PIController,
    ScipyStepper,
    SolverControlled,
    Status,
    Stepper,
    StepSizeController,
    solve,
)
from subriemann.linalg import RankPolicy, resolve_policy

__all__ = ["integrate", "resolve_method", "METHODS"]

_SCIPY = {name.lower(): name for name in ScipyStepper.NAMES}
_OWN = ("output-exact", "euler", "rk4", "monotone", "dopri5")
#: every accepted ``method`` name (scipy names are also accepted in any case)
METHODS = (*_OWN, "scipy", *_SCIPY.values())


def resolve_method(method: str) -> str:
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


def integrate(
    flow: ParameterFlow,
    theta0: npt.ArrayLike,
    s_end: float,
    method: str = "output-exact",
    *,
    step: float | None = None,
    max_step: float | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    eps: float | None = None,
    max_steps: int = 100_000,
    rank_policy: RankPolicy | float | None = None,
    record: bool = True,
    progress: Callable[[float, float], object] | None = None,
    options: Mapping[str, Any] | None = None,
    route: str | None = None,
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
        settings = output_exact_settings(flow, options)
    elif method in ("euler", "rk4", "monotone", "dopri5"):
        if options:
            raise InputError(f"method {method!r} takes no options, got {sorted(options)}")
        if step is None and method != "dopri5":
            if not math.isfinite(s_end):
                raise InputError(f"method {method!r} needs a step when s_end is infinite")
            step = s_end / 1000.0

    run = OrbitRun(
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
        recorder=OrbitRecorder(policy, (flow.QN, flow.K), record),
        progress=progress,
        counts_before=dict(flow.f.counts),
    )
    recorder, finish = run.recorder, run.finish
    try:
        start = flow.evaluate(theta0, geometry=True)
    except RankConditionError as exc:
        recorder.add(recorder.point(0.0, rank_failure_point(flow, theta0)), final=True)
        return finish(Status.RANK_CONDITION_FAILED, f"at s = 0: {exc}")
    except EVALUATION_FAILURES as exc:
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
        return integrate_output_exact(run, start)
    return _ode(run, start)


def _ode(run: OrbitRun, start: FlowPoint) -> Trajectory:
    """Every ODE method: the core's driver with the method's stepper and controller."""
    flow, method, s_end, step, max_step = run.flow, run.method, run.s_end, run.step, run.max_step
    rtol, atol, eps, recorder, progress = run.rtol, run.atol, run.eps, run.recorder, run.progress
    options, finish, max_steps = run.options, run.finish, run.max_steps
    n_evaluations = [0]
    stepper: Stepper
    controller: StepSizeController

    def field(_s: float, theta: np.ndarray) -> np.ndarray:
        n_evaluations[0] += 1
        return flow(theta)

    if method in ("euler", "rk4", "monotone"):
        # integrate() gave the fixed-step methods a step (default s_end / 1000)
        fixed = cast(float, step)
    if method in ("euler", "rk4"):
        stepper, controller = (Euler() if method == "euler" else RK4()), ConstantStep(fixed)
    elif method == "monotone":
        stepper = Euler()
        controller = ArmijoHalving(
            fixed,
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

    events: tuple[Event, ...] = ()
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
        except (RankConditionError, *EVALUATION_FAILURES):
            rep = rank_failure_point(flow, theta).report
        return Status.RANK_CONDITION_FAILED, (
            f"{where}: the adapted vector field is singular there, D is losing rank "
            f"(last accepted point: rank {rep.rank}, sigma_min = {rep.sigma_min:.3g}, "
            f"cond = {rep.condition_number:.3g})"
        )
    return Status.STEP_SIZE_COLLAPSED, (
        f"{where}: the vector field blows up or is not smooth there (a kink of a "
        "non-smooth activation?)"
    )
