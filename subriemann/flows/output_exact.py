"""The output-exact integrator of the adapted flow: a predictor–corrector on the fibres of f over the law (2.7).

One concept: the method ``"output-exact"`` of :func:`subriemann.flows.integrate`
(a stepper and a step-size controller for the core, :mod:`subriemann.integrate`,
and the run that uses them).

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
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np

from subriemann.errors import InputError, NumericalError
from subriemann.flows.fields import AdaptedFlow, FlowPoint, ParameterFlow
from subriemann.flows.recording import EVALUATION_FAILURES, OrbitRun
from subriemann.flows.theory import stopping_time
from subriemann.flows.trajectory import OrbitPoint, Trajectory
from subriemann.integrate import Decision, Proposal, Status, Stepper, solve
from subriemann.linalg import JacobianSVD, RankPolicy

if TYPE_CHECKING:
    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.geometry.matrix_free import KrylovFactorization

    # the factorization of D on the flow's route (AdaptedFlow.factorization)
    _Factorization: TypeAlias = JacobianSVD | KernelFactorization | KrylovFactorization

__all__ = [
    "OutputExactStepper",
    "CorrectorContraction",
    "output_exact_settings",
    "integrate_output_exact",
]


def output_exact_settings(
    flow: ParameterFlow, options: Mapping[str, Any]
) -> tuple[int, float, float]:
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


class OutputExactStepper(Stepper):
    """Predictor–corrector onto the fiber over the law's output x(s + h) (module docstring).

    ``error`` is 0 for a converged corrector and inf when it does not contract;
    ``info`` carries the iterations and Jacobian refreshes for the controller.
    The proposal's slope is the flow's velocity −D⁺∇ₓC from the new point's
    SVD (no further Jacobian).
    """

    def __init__(
        self,
        *,
        flow: AdaptedFlow,
        policy: RankPolicy,
        start: FlowPoint,
        rtol: float,
        atol: float,
        max_corrector: int,
        s_land: float,
        tol_land: float,
    ):
        self.flow, self.policy, self.max_corrector = flow, policy, max_corrector
        self.rtol, self.atol, self.s_land, self.tol_land = rtol, atol, s_land, tol_land
        self.y, self.r0 = flow.cost.target, start.x - flow.cost.target
        self.r0_norm = float(np.linalg.norm(self.r0))
        # the factorization comes from the flow's route (dense SVD, kernel Θ or Krylov)
        # (an adapted flow's point always carries the factorization it was computed from)
        self.svd: _Factorization = (
            cast("_Factorization", start.svd)
            if policy == flow.rank_policy
            else flow.factorization(start.theta, policy)
        )
        self.x = start.x
        self.pending: tuple[np.ndarray, _Factorization] | None = None
        self.iterations = 0

    def step(
        self,
        field: Callable[[float, np.ndarray], np.ndarray],
        t: float,
        theta: np.ndarray,
        f: np.ndarray,
        h: float,
    ) -> Proposal:
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
            return Proposal.rejected(s_try, theta, f, evaluations=outcome[-2], reason=outcome[1])
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

    def accept(self) -> None:
        # the driver accepts only the proposal just made, so step() has set pending
        self.x, self.svd = cast("tuple[np.ndarray, _Factorization]", self.pending)


class CorrectorContraction:
    """Step control of output-exact by how hard the corrector had to work.

    The predictor error is O(h²): a step that needed no fresh Jacobian
    (predictor or chord steps only) grows by grow², one that needed Newton steps
    less, and one near the iteration cap shrinks; a failed corrector shrinks the
    step by ``shrink`` and retries, down to 1e-12·max(1, N).
    """

    def __init__(
        self,
        *,
        h0: float,
        grow: float,
        shrink: float,
        max_corrector: int,
        h_max: float,
        h_min: float,
    ):
        self.h0, self.grow, self.shrink, self.max_corrector = h0, grow, shrink, max_corrector
        self.h_max, self.h_min = h_max, h_min
        # why the corrector last failed: a message, or the evaluation error it met
        self.last_failure: str | BaseException | None = None

    def first_step(self, _h0: float) -> float:
        return self.h0

    def decide(self, proposal: Proposal, t: float, h: float, **_: object) -> Decision:
        # OutputExactStepper always estimates: error 0 (converged) or inf (no contraction)
        if not math.isfinite(cast(float, proposal.error)):
            self.last_failure = proposal.info["failure"]
            h_next = h * self.shrink
            return Decision(accept=False, h_next=h_next, collapsed=h_next < self.h_min)
        n_it, refreshes = proposal.info["iterations"], proposal.info["refreshes"]
        if n_it >= self.max_corrector - 2 or refreshes >= 3:
            return Decision(accept=True, h_next=min(self.h_max, h * 0.7))
        return Decision(
            accept=True, h_next=min(self.h_max, h * self.grow ** (2.0, 1.0, 0.5)[refreshes])
        )


def integrate_output_exact(run: OrbitRun, start: FlowPoint) -> Trajectory:
    """Output-exact stepping (module docstring) on the core's driver."""
    flow, s_end, step, max_step, eps = run.flow, run.s_end, run.step, run.max_step, run.eps
    rtol, atol, recorder, progress = run.rtol, run.atol, run.recorder, run.progress
    max_steps, settings, finish = run.max_steps, run.settings, run.finish
    K, QN, N = flow.K, flow.QN, flow.N
    # integrate() checked the settings of output-exact (output_exact_settings)
    max_corrector, grow, shrink = cast("tuple[int, float, float]", settings)
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
    stepper = OutputExactStepper(
        flow=cast(AdaptedFlow, flow),  # output_exact_settings admits only an AdaptedFlow
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
    controller = CorrectorContraction(
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
        # the field output-exact integrates; its stepper never evaluates it (the steps come
        # from the output law (2.7) and the corrector)
        lambda _s, theta: flow(theta),
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
    except EVALUATION_FAILURES as exc:
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
