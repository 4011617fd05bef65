"""The ODE core :mod:`subriemann.integrate`: steppers, controllers, events, solution, driver.

Every claim is checked against an independent reference — a closed-form solution
(y = e^{λt}, the harmonic oscillator's rotation, y = exp(sin t), the forced linear
decay), the closed-form amplification factor of a Runge–Kutta method on y' = λy, or
scipy's own ``solve_ivp`` for the scipy steppers.  Each tolerance is derived from
an error model stated in the test's docstring, in units of EPS = np.finfo(float).eps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from subriemann.errors import InputError, NumericalError, RankConditionError
from subriemann.integrate import (
    RK4,
    ArmijoHalving,
    ConstantStep,
    DormandPrince54,
    Euler,
    Event,
    GaussLegendre4,
    PIController,
    Proposal,
    ScipyStepper,
    Solution,
    SolverControlled,
    Status,
    error_norm,
    solve,
)

EPS = float(np.finfo(float).eps)
LN2 = math.log(2.0)


# -- problems with closed forms ---------------------------------------------------------


def decay(t, y):
    """y' = −y; y(t) = y0·e^{−t}."""
    return -y


def oscillator(t, y):
    """y1' = y2, y2' = −y1; from (0, 1): y = (sin t, cos t); y1² + y2² is invariant."""
    return np.array([y[1], -y[0]])


def nonautonomous(t, y):
    """y' = cos(t)·y; from y(0) = 1: y = exp(sin t)."""
    return math.cos(t) * y


PROBLEMS = {
    "decay": (decay, np.array([1.0]), lambda t: np.array([math.exp(-t)])),
    "oscillator": (
        oscillator,
        np.array([0.0, 1.0]),
        lambda t: np.array([math.sin(t), math.cos(t)]),
    ),
    "nonautonomous": (nonautonomous, np.array([1.0]), lambda t: np.array([math.exp(math.sin(t))])),
}


def _proposal(error, t=1.0, y=(0.0,)):
    """A synthetic proposal carrying only what the controllers read."""
    return Proposal(
        t=t, y=np.asarray(y, dtype=float), f=None, error=error, dense=None, evaluations=0
    )


def _global_error(stepper, problem, h, T=1.0):
    field, y0, exact = PROBLEMS[problem]
    sol = solve(field, 0.0, y0, T, stepper=stepper, controller=ConstantStep(h))
    assert sol.status == Status.COMPLETED and sol.t[-1] == T
    return float(np.max(np.abs(sol.end - exact(T))))


# -- 1. order of convergence ------------------------------------------------------------

# (stepper factory, nominal order, step sizes halved twice).  The coarsest h is in the
# asymptotic range (the next term of the error expansion, O(h^{p+1}), changes the
# ratio by a factor 1 + O(h), well inside 2^{±0.3}; DP54 at h = 1/2 is not: ratio 2^5.55);
# the finest keeps the global error ≥ 1e3 × the round-off of its n = 1/h steps (≤ 4·EPS each).
ORDERS = [
    ("Euler", Euler, 1, (1 / 64, 1 / 128, 1 / 256)),
    ("RK4", RK4, 4, (1 / 8, 1 / 16, 1 / 32)),
    ("DormandPrince54", lambda: DormandPrince54(), 5, (1 / 4, 1 / 8, 1 / 16)),
    ("GaussLegendre4", GaussLegendre4, 4, (1 / 4, 1 / 8, 1 / 16)),
]


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize(("name", "make", "order", "hs"), ORDERS, ids=[o[0] for o in ORDERS])
def test_order_of_convergence(name, make, order, hs, problem):
    """Global error at T = 1 ~ C·h^p: log2(e(h)/e(h/2)) = p ± 0.3 for each halving.

    Error model: e(h) = C·h^p·(1 + O(h)) + O(n·EPS); the h's are chosen so that the
    O(h) correction moves the ratio by < 2^0.3 and the round-off term is < 1e-3·e(h).
    ConstantStep is used with every stepper (DormandPrince54's embedded estimate is
    ignored), so the measured order is the method's, not the controller's.
    """
    errors = [_global_error(make(), problem, h) for h in hs]
    assert min(errors) > 1e3 * 4 * EPS / hs[-1], errors  # far above round-off
    fitted = [math.log2(e0 / e1) for e0, e1 in zip(errors, errors[1:], strict=False)]
    for p in fitted:
        assert abs(p - order) <= 0.3, (name, problem, errors, fitted)


@settings(max_examples=8)
@given(lam=st.floats(min_value=-3.0, max_value=-0.25))
def test_rk4_is_its_stability_polynomial(lam):
    """On y' = λy, n RK4 steps give exactly R(λh)^n, R(z) = 1 + z + z²/2 + z³/6 + z⁴/24.

    An independent closed form of the method itself (not of the ODE); the order is
    then read off R(z) − e^z = z⁵/120 + O(z⁶).  Error model: each step multiplies by R
    with ≤ 4·EPS relative round-off (stages and weights), so n = 20 steps agree with
    R^n to 20·8·EPS relative.
    """
    h, n = 0.05, 20
    sol = solve(lambda t, y: lam * y, 0.0, [1.0], n * h, stepper=RK4(), controller=ConstantStep(h))
    z = lam * h
    R = 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24
    assert len(sol.t) == n + 1
    assert abs(sol.end[0] - R**n) <= n * 8 * EPS * abs(R**n)
    # the local error constant 1/120: the global error is ≈ n·|z|⁵/120·e^{λT}
    exact = math.exp(lam * n * h)
    assert abs(sol.end[0] - exact) <= 1.5 * n * abs(z) ** 5 / 120 * max(1.0, abs(R) ** n)


# -- 2. Gauss–Legendre conserves quadratic invariants; RK4 does not ---------------------


def test_gauss_legendre_conserves_energy_rk4_drifts():
    """Harmonic oscillator, h = 0.1 to t = 100 (1000 steps): energy E = y1² + y2².

    GL4 preserves every quadratic invariant exactly; what remains is round-off and
    the fixed-point residual (tol = 1e-14 on the stages, contracted by h·|a| ≈ 0.05
    per iteration).  Model: per step a few ulps of E (|y| = 1), so
    |E_n − 1| ≤ 1e3·EPS·n would already be generous; we assert the tighter
    16·EPS·n (observed: 0.016·EPS·n).
    RK4 multiplies E by |R(ih)|² = 1 − h⁶/72 + O(h⁸) each step: its drift is the closed
    form 1 − |R(ih)|^{2n} ≈ 1.4e-5, matched to 1e-9 relative, i.e. > 1e5× GL4's bound.
    """
    h, T = 0.1, 100.0
    n = 1000
    gl = solve(oscillator, 0.0, [0.0, 1.0], T, stepper=GaussLegendre4(), controller=ConstantStep(h))
    rk = solve(oscillator, 0.0, [0.0, 1.0], T, stepper=RK4(), controller=ConstantStep(h))
    assert len(gl.t) == len(rk.t) == n + 1
    drift_gl = np.max(np.abs(np.sum(gl.y**2, axis=1) - 1.0))
    drift_rk = abs(np.sum(rk.end**2) - 1.0)
    z = 1j * h
    R = 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24
    expected_rk = 1.0 - abs(R) ** (2 * n)
    assert drift_gl <= 16 * EPS * n
    assert drift_gl <= 1e3 * EPS * n  # the brief's fixed-point level
    assert abs(drift_rk - expected_rk) <= 1e-9 * expected_rk + 64 * EPS * n
    assert drift_rk > 1e5 * 16 * EPS * n  # RK4's drift is far above GL4's bound
    # GL4 is still a 4th-order method: the phase error ~ T·h⁴/... stays small
    assert np.max(np.abs(gl.end - [math.sin(T), math.cos(T)])) < 1e-3


# -- 3. DormandPrince54 + PIController -------------------------------------------------


def test_dp54_tolerance_proportionality():
    """y' = −y on [0, 1], atol = 1e-3·rtol: the global error ≤ C·rtol with C = 0.05.

    Model: the controller keeps each step's *embedded* (4th-order) estimate at ≈ rtol
    (its equilibrium ≈ 0.17·rtol), while the kept 5th-order solution is more accurate
    (local extrapolation), so the global error is a small multiple of rtol below it:
    observed err/rtol from 5e-4 (rtol = 1e-4) to 1.8e-2 (rtol = 1e-10).  The error must
    fall monotonically with rtol, at a rate log(err)/log(rtol) in [0.6, 1.3] (≈ 0.75
    on [0, 1]: the cautious start of the PI controller weighs more at loose rtol).
    """
    rtols = [10.0**-k for k in range(4, 11)]
    errors = []
    for rtol in rtols:
        sol = solve(
            decay,
            0.0,
            [1.0],
            1.0,
            stepper=DormandPrince54(rtol, 1e-3 * rtol),
            controller=PIController(5),
        )
        assert sol.status == Status.COMPLETED and sol.t[-1] == 1.0
        errors.append(abs(sol.end[0] - math.exp(-1.0)))
    for rtol, err in zip(rtols, errors, strict=True):
        assert err <= 0.05 * rtol, (rtol, err)
    assert all(e1 < e0 for e0, e1 in zip(errors, errors[1:], strict=False))
    slope = np.polyfit(np.log(rtols), np.log(errors), 1)[0]
    assert 0.6 <= slope <= 1.3, slope


def test_dp54_rejects_on_a_sharp_transient():
    """y' = −50(y − cos t), y(0) = 0: y = (2500 cos t + 50 sin t)/2501 − (2500/2501)e^{−50t}.

    The e^{−50t} transient and then the stability limit of DP54 (|hλ| ≲ 3.3) force the
    controller to reject steps; the solution still meets the closed form to
    C·rtol with C = 1e2 (the mildly stiff decay multiplies local errors by at most
    the number of steps ~ 1e2 before they are damped).
    """
    rtol = 1e-6

    def exact(t):
        return (2500 * np.cos(t) + 50 * np.sin(t)) / 2501 - 2500 / 2501 * np.exp(-50 * t)

    sol = solve(
        lambda t, y: -50.0 * (y - math.cos(t)),
        0.0,
        [0.0],
        2.0,
        stepper=DormandPrince54(rtol, 1e-3 * rtol),
        controller=PIController(5),
        h0=0.5,
    )
    assert sol.status == Status.COMPLETED and sol.t[-1] == 2.0
    assert sol.stats["rejected"] > 0
    assert np.all(np.diff(sol.t) > 0)
    assert np.max(np.abs(sol.y[:, 0] - exact(sol.t))) <= 1e2 * rtol


def test_pi_controller_decisions():
    """PIController(5) on synthetic errors: α = 0.7/5, β = 0.4/5, safety 0.9, factors in [0.2, 5].

    The closed form h_next = h·clip(0.9·err^{−α}·err_prev^{β}, 0.2, 5) is checked to a
    few ulps (model: 3 pow/mul, ≤ 8·EPS relative).  err_prev starts at 1e-4 (as in
    Hairer's DOPRI5), which damps the first growth: an accepted err = 0.5 first
    *shrinks* h (factor 0.47); after an accepted err = 0.5, an err = 0.01 grows it.
    """
    alpha, beta = 0.7 / 5, 0.4 / 5
    pc = PIController(5)
    h = 1.0
    d = pc.decide(_proposal(0.5), 0.0, h)
    assert d.accept and not d.collapsed
    assert d.h_next == pytest.approx(0.9 * 0.5**-alpha * 1e-4**beta, rel=8 * EPS)
    assert 0.2 * h <= d.h_next <= 5.0 * h
    d = pc.decide(_proposal(0.01), 0.0, h)  # err_prev is now 0.5
    assert d.accept and d.h_next == pytest.approx(0.9 * 0.01**-alpha * 0.5**beta, rel=8 * EPS)
    assert d.h_next > h
    # growth is bounded by 5, whatever the error
    assert PIController(5).decide(_proposal(1e-300), 0.0, h).h_next == 5.0 * h
    assert PIController(5).decide(_proposal(0.0), 0.0, h).h_next == 5.0 * h
    # ... and by h_max
    assert PIController(5, h_max=2.0).decide(_proposal(1e-12), 0.0, h).h_next == 2.0
    # err = 4: reject, shrink by 0.9·4^{−α} (≥ 0.2)
    d = PIController(5).decide(_proposal(4.0), 0.0, h)
    assert not d.accept and not d.collapsed
    assert d.h_next == pytest.approx(0.9 * 4.0**-alpha, rel=8 * EPS)
    assert 0.2 * h <= d.h_next < h
    # a huge error is clipped at the 0.2 floor of the factor
    assert PIController(5).decide(_proposal(1e30), 0.0, h).h_next == 0.2 * h
    # non-finite or missing estimate: reject, h/5
    for err in (math.inf, math.nan, None):
        d = PIController(5).decide(_proposal(err), 0.0, h)
        assert not d.accept and d.h_next == 0.2 * h and not d.collapsed
    # collapse: the next step falls below h_min_relative·max(1, |t|)
    pc = PIController(5, h_min_relative=1e-6)
    assert pc.decide(_proposal(4.0), 10.0, 1.2e-5).collapsed  # 0.74·1.2e-5 < 1e-6·10
    assert not pc.decide(_proposal(4.0), 10.0, 2e-5).collapsed  # 0.74·2e-5 > 1e-5
    assert pc.decide(_proposal(math.inf), 0.0, 4e-6).collapsed  # 8e-7 < 1e-6


@settings(max_examples=20)
@given(err=st.floats(min_value=0.0, max_value=1e6), h=st.floats(min_value=1e-6, max_value=10.0))
def test_pi_controller_factor_bounds(err, h):
    """For any error: accept iff err ≤ 1; h_next/h ∈ [0.2, 5] (to one rounding) and < 1 on reject."""
    d = PIController(5).decide(_proposal(err), 0.0, h)
    assert d.accept == (err <= 1.0)
    ratio = d.h_next / h
    assert 0.2 * (1 - 2 * EPS) <= ratio <= 5.0 * (1 + 2 * EPS)
    if not d.accept:
        assert ratio < 1.0


def test_error_norm_closed_form():
    """error_norm = RMS of err/(atol + rtol·max(|y0|, |y1|)) (exact for these dyadic values)."""
    err = np.array([1.0, -2.0])
    y0, y1 = np.array([1.0, -4.0]), np.array([3.0, 2.0])
    # scales: 1 + 1·3 = 4 and 1 + 1·4 = 5 → RMS of (0.25, −0.4)
    assert error_norm(err, y0, y1, 1.0, 1.0) == pytest.approx(
        math.sqrt((0.25**2 + 0.4**2) / 2), rel=4 * EPS
    )


# -- 4. ConstantStep lands on t_end -----------------------------------------------------


@settings(max_examples=25)
@given(
    T=st.floats(min_value=0.05, max_value=20.0),
    h=st.floats(min_value=0.01, max_value=1.0),
    t0=st.sampled_from([0.0, 1.0, -0.7, 3.25]),
)
def test_constant_step_lands_exactly(T, h, t0):
    """t_k = fl(t0 + k·h) (from the step count, no accumulated drift) and t[-1] == t_end bitwise.

    The number of steps is the least n with fl(t0 + n·h) ≥ t_end; that equals
    ceil(T/h) whenever T/h is not within 1e-9 of an integer (where the float
    rounding of t0 + n·h may decide either way).
    """
    t_end = t0 + T
    sol = solve(decay, t0, [1.0], t_end, stepper=Euler(), controller=ConstantStep(h))
    assert sol.status == Status.COMPLETED
    assert sol.t[-1] == t_end
    n = len(sol.t) - 1
    grid = np.array([t0 + k * h for k in range(n)])
    assert np.array_equal(sol.t[:-1], grid)
    assert t0 + (n - 1) * h < t_end <= t0 + n * h
    q = (t_end - t0) / h
    if abs(q - round(q)) > 1e-9:
        assert n == math.ceil(q)
    assert np.all(np.diff(sol.t) > 0)


def test_constant_step_counts():
    """Exact step counts on representable grids: T = 1, h = 2^-k → n = 2^k; T = 1, h = 0.3 → 4."""
    for k in range(1, 8):
        sol = solve(decay, 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(2.0**-k))
        assert len(sol.t) - 1 == 2**k and sol.t[-1] == 1.0
        assert np.array_equal(sol.t, np.arange(2**k + 1) * 2.0**-k)
    sol = solve(decay, 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.3))
    assert len(sol.t) - 1 == 4 and sol.t[-1] == 1.0
    assert sol.stats["accepted"] == 4 and sol.stats["rejected"] == 0


def test_constant_step_gives_up_on_a_failed_implicit_step():
    """A non-convergent Gauss–Legendre step (error = inf) cannot be retried at a fixed h: collapse."""
    sol = solve(
        lambda t, y: -100.0 * y,
        0.0,
        [1.0],
        1.0,
        stepper=GaussLegendre4(max_iterations=3),
        controller=ConstantStep(0.5),
    )
    assert sol.status == Status.STEP_SIZE_COLLAPSED
    assert len(sol.t) == 1


# -- 5. ArmijoHalving -------------------------------------------------------------------

A = np.diag([1.0, 100.0])


def quad(y):
    """F(y) = ½ yᵀAy, A = diag(1, 100); ∇F = Ay; the gradient flow y' = −Ay."""
    return 0.5 * float(y @ A @ y)


def quad_slope(y, f):
    return float((A @ y) @ f)


def quad_slack(y):
    """Round-off of F at y: ½ Σ a_i y_i² is a sum of 2 non-negative products, ≤ 4·EPS·F."""
    return 4 * EPS * quad(y)


def _armijo(h0=1.0, **kw):
    return ArmijoHalving(h0, objective=quad, slope=quad_slope, slack=quad_slack, **kw)


def test_armijo_decisions():
    """Sufficient decrease C(y1) ≤ C(y0) + ½hσ + slack: accept and grow ×1.5; else reject, halve.

    At y = (1, 0), f = −Ay = (−1, 0), σ = −1, C = ½: the bound for h = 0.5 is
    ½ − ¼ = ¼ (+ 2·EPS).  A proposal with C = 0.2 passes, C = 0.3 fails.
    """
    y, f = np.array([1.0, 0.0]), np.array([-1.0, 0.0])
    ctl = _armijo(h_max=0.6)
    ok = _proposal(None, y=[math.sqrt(0.4), 0.0])  # C = 0.2
    bad = _proposal(None, y=[math.sqrt(0.6), 0.0])  # C = 0.3
    d = ctl.decide(ok, 0.0, 0.2, y=y, f=f)
    assert d.accept and d.h_next == pytest.approx(0.3, rel=2 * EPS) and not d.collapsed
    d = ctl.decide(ok, 0.0, 0.5, y=y, f=f)
    assert d.accept and d.h_next == 0.6  # 1.5·0.5 = 0.75 capped at h_max
    d = ctl.decide(bad, 0.0, 0.5, y=y, f=f)
    assert not d.accept and d.h_next == 0.25 and not d.collapsed
    # a failed trial evaluation (proposal None) is a rejection
    assert ArmijoHalving.reject_on_failure
    d = ctl.decide(None, 0.0, 0.5, y=y, f=f)
    assert not d.accept and d.h_next == 0.25
    # collapse: 0.5·h below h_min_relative·max(1, |t|)
    ctl = _armijo(h_min_relative=1e-6)
    bad = _proposal(None, y=[2.0, 0.0])  # C = 2 > C(y): rejected at every h
    assert ctl.decide(bad, 3.0, 5e-6, y=y, f=f).collapsed  # 2.5e-6 < 3e-6
    assert not ctl.decide(bad, 3.0, 1e-5, y=y, f=f).collapsed
    assert ctl.first_step(123.0) == 1.0  # its own h0, not the driver's


def test_armijo_euler_gradient_flow_is_monotone():
    """Euler on y' = −∇F, F = ½yᵀAy with A = diag(1, 100), from a first step h0 = 1.

    h0 = 1 is 50× the stability limit 2/100 of explicit Euler, so bare Euler would
    blow up (|1 − 100h| = 99 per step); with ArmijoHalving steps are rejected until
    the decrease is sufficient, and F along sol.y never increases by more than the
    stated slack 4·EPS·F.  The flow still converges: F(5) ≤ F(0)·e^{−5} (the slow mode
    alone decays like e^{−2t} in F).
    """
    y0 = np.array([1.0, 1.0])
    sol = solve(lambda t, y: -(A @ y), 0.0, y0, 5.0, stepper=Euler(), controller=_armijo(h0=1.0))
    assert sol.status == Status.COMPLETED and sol.t[-1] == 5.0
    assert sol.stats["rejected"] > 0
    F = np.array([quad(y) for y in sol.y])
    slack = np.array([quad_slack(y) for y in sol.y])
    assert np.all(F[1:] <= F[:-1] + slack[:-1])
    assert F[-1] <= F[0] * math.exp(-5.0)


def test_armijo_rejects_a_failing_trial_step():
    """A trial step whose evaluation raises NumericalError is a rejection, not the run's end.

    Gradient flow of F = ½y² (y' = −y), the field raising for |y| > 1.5, RK4 from y = 1
    with h0 = 8: the first stage y + (h/2)·f = −3 raises; ArmijoHalving halves h until
    the stages stay in the domain and the run completes, near e^{−2} (RK4's error at
    the accepted h ≤ 1 is < 1e-2).
    """

    def field(t, y):
        if abs(y[0]) > 1.5:
            raise NumericalError("out of the domain")
        return -y

    ctl = ArmijoHalving(
        8.0,
        objective=lambda y: 0.5 * float(y @ y),
        slope=lambda y, f: float(y @ f),
        slack=lambda y: 4 * EPS * 0.5 * float(y @ y),
    )
    sol = solve(field, 0.0, [1.0], 2.0, stepper=RK4(), controller=ctl)
    assert sol.status == Status.COMPLETED and sol.t[-1] == 2.0
    assert sol.stats["rejected"] > 0
    assert abs(sol.end[0] - math.exp(-2.0)) < 1e-2


# -- 6. SolverControlled + ScipyStepper -------------------------------------------------


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_scipy_stepper_reproduces_solve_ivp(method):
    """The same scipy solver with the same rtol/atol: identical accepted times and states (bitwise).

    The driver calls ``solver.step()`` exactly as solve_ivp does; its extra field
    evaluations (for events and f at accepted points) do not touch the solver's state.
    """
    rtol, atol = 1e-7, 1e-10
    ref = scipy.integrate.solve_ivp(
        oscillator, (0.0, 10.0), [0.0, 1.0], method=method, rtol=rtol, atol=atol
    )
    sol = solve(
        oscillator,
        0.0,
        [0.0, 1.0],
        10.0,
        stepper=ScipyStepper(method, rtol=rtol, atol=atol),
        controller=SolverControlled(),
    )
    assert sol.status == Status.COMPLETED
    assert np.array_equal(sol.t, ref.t)
    assert np.array_equal(sol.y, ref.y.T)
    assert sol.stats["rejected"] == 0 and sol.stats["accepted"] == len(ref.t) - 1


def test_scipy_stepper_rejects_unknown_solver():
    with pytest.raises(InputError):
        ScipyStepper("Euler")


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_solver_controlled_detects_collapse_at_a_kink(method):
    """y' = −sign(y) from y = 1: y = 1 − t reaches the sliding surface y = 0 at t = 1.

    There the field flips at every step and scipy's steps shrink without bound; after
    ``patience`` = 50 consecutive steps shorter than 1e-8·max(1, t) the run stops with
    STEP_SIZE_COLLAPSED, near t = 1 (within 1e-5: the steps before the kink are
    accurate, y is linear, so the only delay is the ≤ 50 collapsed steps and the
    step that first overshot).
    """
    sol = solve(
        lambda t, y: -np.sign(y),
        0.0,
        [1.0],
        3.0,
        stepper=ScipyStepper(method),
        controller=SolverControlled(),
    )
    assert sol.status == Status.STEP_SIZE_COLLAPSED
    assert abs(sol.t[-1] - 1.0) < 1e-5
    taken = np.diff(sol.t)[-50:]
    assert np.all(taken < 1e-8 * np.maximum(1.0, sol.t[-50:]))


def test_solver_controlled_patience_on_synthetic_steps():
    """``patience`` consecutive short steps collapse; one long step resets the count."""
    ctl = SolverControlled(h_min_relative=1e-8, patience=3)
    t = 2.0
    short = _proposal(0.0, t=t + 1e-9)  # 1e-9 < 1e-8·2
    long = _proposal(0.0, t=t + 1e-3)
    assert ctl.first_step(0.1) == 0.1
    assert [ctl.decide(short, t, 0.1).collapsed for _ in range(2)] == [False, False]
    d = ctl.decide(long, t, 0.1)
    assert d.accept and not d.collapsed
    flags = [ctl.decide(short, t, 0.1) for _ in range(3)]
    assert all(d.accept for d in flags)
    assert [d.collapsed for d in flags] == [False, False, True]


# -- 7. events --------------------------------------------------------------------------


def half_falling(t, y):
    return y[0] - 0.5


def _half_event(**kw):
    return Event(name="half", fn=half_falling, direction=-1, **kw)


@pytest.mark.parametrize("rtol", [1e-4, 1e-6, 1e-8, 1e-10])
def test_event_dp54(rtol):
    """y' = −y, y(0) = 1, event y = 0.5 falling: t* = ln 2.

    Model: the located time is the root of the re-stepped DP54 solution, whose
    global error is ≤ 0.05·rtol (test_dp54_tolerance_proportionality) in y; with
    |dg/dt| = |y'| = 0.5 at t*, the time error is ≤ 0.1·rtol, plus xtol = 1e-14.
    We assert |t − ln 2| ≤ rtol.  land_after: g ≤ 0 at the last point.
    """
    sol = solve(
        decay,
        0.0,
        [1.0],
        5.0,
        stepper=DormandPrince54(rtol, 1e-2 * rtol),
        controller=PIController(5),
        events=(_half_event(),),
    )
    assert sol.status == Status.EVENT
    assert abs(sol.t[-1] - LN2) <= rtol
    assert half_falling(sol.t[-1], sol.end) <= 0.0
    assert sol.events[0][0] == "half" and sol.events[0][1] == sol.t[-1]
    assert np.array_equal(sol.events[0][2], sol.end)


def test_event_rk4_has_the_step_error():
    """RK4 with h = 0.1: the event time is the root of R(−h)^6·R(−τ) = ½ (τ = t − 0.6).

    The reference is the closed form of RK4's own solution, found by brentq on the
    polynomial (independent of the driver); the located time agrees with it to
    xtol + round-off (64·EPS: R^6 from 6 products, and brentq's rtol 4·EPS), and
    differs from ln 2 by RK4's global error t·h⁴/120 / |y'|·|y| = 0.69·1e-4/120 ≈
    5.8e-7 (asserted within a factor 1.2).
    """
    h = 0.1
    sol = solve(
        decay, 0.0, [1.0], 5.0, stepper=RK4(), controller=ConstantStep(h), events=(_half_event(),)
    )
    assert sol.status == Status.EVENT

    def R(z):
        return 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24

    y6 = R(-h) ** 6
    tau = brentq(lambda s: y6 * R(-s) - 0.5, 0.0, h, xtol=1e-16, rtol=4 * EPS)
    t_ref = 6 * h + tau
    assert abs(sol.t[-1] - t_ref) <= 1e-14 + 64 * EPS
    assert abs(sol.t[-1] - LN2) <= 1.2 * LN2 * h**4 / 120
    assert abs(sol.t[-1] - LN2) >= 0.8 * LN2 * h**4 / 120  # it is the step's error, not better
    assert half_falling(sol.t[-1], sol.end) <= 0.0
    assert np.array_equal(sol.t[:-1], np.arange(7) * h)


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_event_scipy(method):
    """Scipy steppers locate on the solver's dense output: |t − ln 2| ≤ rtol (error model as DP54)."""
    rtol = 1e-8
    sol = solve(
        decay,
        0.0,
        [1.0],
        5.0,
        stepper=ScipyStepper(method, rtol=rtol, atol=1e-2 * rtol),
        controller=SolverControlled(),
        events=(_half_event(),),
    )
    assert sol.status == Status.EVENT
    assert abs(sol.t[-1] - LN2) <= rtol
    assert half_falling(sol.t[-1], sol.end) <= 0.0


STEEP = 1e10


@pytest.mark.parametrize(
    "make",
    [
        lambda rtol: (DormandPrince54(rtol, 1e-2 * rtol), PIController(5)),
        lambda rtol: (RK4(), ConstantStep(10 * rtol**0.25)),
        lambda rtol: (ScipyStepper("DOP853", rtol=rtol, atol=1e-2 * rtol), SolverControlled()),
        lambda rtol: (ScipyStepper("RK45", rtol=rtol, atol=1e-2 * rtol), SolverControlled()),
    ],
    ids=["DP54", "RK4", "DOP853", "RK45"],
)
@pytest.mark.parametrize("rtol", [1e-5, 1e-8, 1e-11])
@pytest.mark.parametrize("scale", [1.0, STEEP])
def test_land_after_guarantees_the_far_side(make, rtol, scale):
    """land_after=True: g ≤ 0 at the last point after a falling crossing, g ≥ 0 after a rising one.

    A steep g (×1e10) makes the round-off of g near the root ~1e10·EPS·|y|, larger
    than its change over xtol; the guarantee must hold exactly regardless (no slack).
    Problems: y' = −y crossing y = 0.5 (falling), y' = +y crossing y = 2 (rising).
    """
    stepper, ctl = make(rtol)
    fall = Event(name="f", fn=lambda t, y: scale * (y[0] - 0.5), direction=-1)
    sol = solve(decay, 0.0, [1.0], 5.0, stepper=stepper, controller=ctl, events=(fall,))
    assert sol.status == Status.EVENT
    assert fall.fn(sol.t[-1], sol.end) <= 0.0
    assert abs(sol.t[-1] - LN2) <= 1e-3

    stepper, ctl = make(rtol)
    rise = Event(name="r", fn=lambda t, y: scale * (y[0] - 2.0), direction=+1)
    sol = solve(lambda t, y: y, 0.0, [1.0], 5.0, stepper=stepper, controller=ctl, events=(rise,))
    assert sol.status == Status.EVENT
    assert rise.fn(sol.t[-1], sol.end) >= 0.0
    assert abs(sol.t[-1] - LN2) <= 1e-3


def test_event_direction_filtering():
    """A rising event is not triggered by a falling crossing (and vice versa); direction 0 sees both."""
    rising = Event(name="up", fn=half_falling, direction=+1)
    sol = solve(
        decay, 0.0, [1.0], 2.0, stepper=RK4(), controller=ConstantStep(0.1), events=(rising,)
    )
    assert sol.status == Status.COMPLETED and sol.t[-1] == 2.0 and sol.events == []

    # the oscillator's y1 = sin t: rises through 0 at 2π, falls at π
    up = Event(name="up", fn=lambda t, y: y[0], direction=+1)
    down = Event(name="down", fn=lambda t, y: y[0], direction=-1)
    both = Event(name="both", fn=lambda t, y: y[0] - 0.5, direction=0)
    for ev, t_ref in ((up, 2 * math.pi), (down, math.pi), (both, math.pi / 6)):
        sol = solve(
            oscillator,
            0.0,
            [0.0, 1.0],
            10.0,
            stepper=DormandPrince54(1e-10, 1e-12),
            controller=PIController(5),
            events=(ev,),
        )
        assert sol.status == Status.EVENT
        assert abs(sol.t[-1] - t_ref) <= 1e-8, ev.name


def test_non_terminal_events_are_recorded():
    """Non-terminal sin t = 0.5 crossings (both directions) on [0, 10]: π/6 + 2kπ and 5π/6 + 2kπ.

    The run continues to t_end (COMPLETED); each recorded time within 1e-8 of the
    closed form (DP54 at rtol 1e-10: error model as in test_event_dp54, over t ≤ 10),
    and the recorded state satisfies y1 = 0.5 to the same accuracy.
    """
    ev = Event(name="half", fn=lambda t, y: y[0] - 0.5, terminal=False)
    sol = solve(
        oscillator,
        0.0,
        [0.0, 1.0],
        10.0,
        stepper=DormandPrince54(1e-10, 1e-12),
        controller=PIController(5),
        events=(ev,),
    )
    assert sol.status == Status.COMPLETED and sol.t[-1] == 10.0
    refs = sorted(
        t
        for k in range(2)
        for t in (math.pi / 6 + 2 * k * math.pi, 5 * math.pi / 6 + 2 * k * math.pi)
        if t < 10.0
    )
    assert [name for name, _, _ in sol.events] == ["half"] * len(refs)
    for (_, t, y), t_ref in zip(sol.events, refs, strict=True):
        assert abs(t - t_ref) <= 1e-8
        assert abs(y[0] - 0.5) <= 1e-8


def test_event_own_status_is_the_runs_status():
    """A terminal event with status TARGET_COST_REACHED ends the run with that status."""
    ev = _half_event(status=Status.TARGET_COST_REACHED)
    sol = solve(decay, 0.0, [1.0], 5.0, stepper=RK4(), controller=ConstantStep(0.1), events=(ev,))
    assert sol.status == Status.TARGET_COST_REACHED
    assert "half" in sol.message


def _two_events(terminal_late):
    """y' = −y with one RK4 step of h = 2 (y: 1 → R(−2) = 1/3): y = 0.6 and y = 0.4 both cross in it."""
    late = Event(name="late", fn=lambda t, y: y[0] - 0.4, direction=-1, terminal=terminal_late)
    early = Event(name="early", fn=lambda t, y: y[0] - 0.6, direction=-1)
    return solve(
        decay, 0.0, [1.0], 5.0, stepper=RK4(), controller=ConstantStep(2.0), events=(late, early)
    )


def test_two_terminal_events_in_one_step_earliest_wins():
    """Two terminal events crossing in the same step: the run must end at the earlier crossing.

    RK4's step [0, 2] crosses y = 0.6 (t ≈ 0.51) and y = 0.4 (t ≈ 0.93); "late" is first
    in the tuple.  Expected: status EVENT at t ≈ 0.51 with the event "early".
    """
    sol = _two_events(terminal_late=True)
    assert sol.events[-1][0] == "early"
    assert sol.t[-1] < 0.6


def test_non_terminal_event_after_the_terminal_one_is_not_recorded():
    """Every recorded event must lie in the solved range [t[0], t[-1]]."""
    sol = _two_events(terminal_late=False)
    assert sol.status == Status.EVENT and sol.t[-1] < 0.6
    assert all(t <= sol.t[-1] for _, t, _ in sol.events)


# -- 8. the Solution ---------------------------------------------------------------------


def test_dense_output_is_hermite_order_4():
    """Midpoint error of sol(t) ~ h⁴: log2 of the ratio when halving h is 4 ± 0.3.

    DP54 with ConstantStep: its node error is O(h⁵), so at step midpoints the error is
    the cubic Hermite interpolant's, |y''''|·h⁴/384 (y = e^{−t}: ≤ h⁴/384), asserted
    within a factor 1.5 at the coarsest h = 1/4.  At the nodes sol(t_k) = y_k to 2·EPS.
    """
    errs = []
    for h in (1 / 4, 1 / 8, 1 / 16):
        sol = solve(decay, 0.0, [1.0], 1.0, stepper=DormandPrince54(), controller=ConstantStep(h))
        mids = 0.5 * (sol.t[:-1] + sol.t[1:])
        dense = sol(mids)
        assert dense.shape == (len(mids), 1)
        errs.append(float(np.max(np.abs(dense[:, 0] - np.exp(-mids)))))
        assert np.max(np.abs(sol(sol.t) - sol.y)) <= 2 * EPS
    assert errs[0] <= 1.5 * (1 / 4) ** 4 / 384
    for e0, e1 in zip(errs, errs[1:], strict=False):
        assert abs(math.log2(e0 / e1) - 4.0) <= 0.3, errs


def test_solution_evaluation_shapes_and_range():
    """Scalar t → shape [dim]; array t of shape [m] → [m, dim]; out-of-range or non-finite t → InputError."""
    sol = solve(oscillator, 0.0, [0.0, 1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.1))
    assert isinstance(sol, Solution)
    assert sol(0.5).shape == (2,)
    assert sol(np.linspace(0, 1, 7)).shape == (7, 2)
    assert sol([0.25]).shape == (1, 2)
    assert sol(np.zeros((2, 3))).shape == (2, 3, 2)
    assert np.array_equal(sol(0.0), [0.0, 1.0])
    assert np.allclose(sol(1.0), sol.end, rtol=0, atol=2 * EPS)
    assert np.array_equal(sol.end, sol.y[-1]) and len(sol) == len(sol.t) == 11
    for bad in (-0.01, 1.01, [0.5, 2.0], math.nan, math.inf):
        with pytest.raises(InputError):
            sol(bad)


def test_status_members_are_strings_with_meaning():
    assert Status.COMPLETED == "completed"
    assert isinstance(Status.NON_FINITE, str)
    for member in Status:
        assert isinstance(member.meaning, str) and member.meaning
        assert Status(member.value) is member
    sol = solve(decay, 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.5))
    assert sol.status == "completed" and sol.status is Status.COMPLETED


# -- 9. failures ------------------------------------------------------------------------


def _failing(exc_type, t_fail=0.52):
    def field(t, y):
        if t > t_fail:
            raise exc_type(f"failed at t = {t}")
        return -y

    return field


@pytest.mark.parametrize(
    ("exc_type", "status"),
    [(NumericalError, Status.NON_FINITE), (RankConditionError, Status.RANK_CONDITION_FAILED)],
)
def test_field_failure_ends_the_run_and_keeps_the_points(exc_type, status):
    """The field raises once t > 0.52: RK4 with h = 0.1 fails in the step from 0.5 (stage at 0.55).

    The run ends with the matching status, keeping t = 0, 0.1, …, 0.5 and their states
    (= R(−0.1)^k, the closed form of RK4, to k·8·EPS).
    """
    sol = solve(_failing(exc_type), 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.1))
    assert sol.status == status
    assert np.array_equal(sol.t, np.arange(6) * 0.1)
    z = -0.1
    R = 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24
    k = np.arange(6)
    assert np.all(np.abs(sol.y[:, 0] - R**k) <= k * 8 * EPS)
    # and at the very start: one point
    sol = solve(
        _failing(exc_type, -1.0), 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.1)
    )
    assert sol.status == status and len(sol.t) == 1


def test_max_steps():
    """max_steps caps attempted steps: 5 steps of h = 0.1 → MAX_STEPS with 6 points."""
    sol = solve(decay, 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.1), max_steps=5)
    assert sol.status == Status.MAX_STEPS
    assert len(sol.t) == 6 and sol.t[-1] == 0.5


def test_on_accept_can_stop_the_run():
    """on_accept returning (Status, message) ends the run at that accepted point."""

    def stop(t, y, f):
        return (Status.RANK_CONDITION_FAILED, "stop") if t >= 0.3 else None

    sol = solve(decay, 0.0, [1.0], 1.0, stepper=RK4(), controller=ConstantStep(0.1), on_accept=stop)
    assert sol.status == Status.RANK_CONDITION_FAILED and sol.message == "stop"
    assert len(sol.t) == 4


def test_field_returning_nan_is_non_finite():
    sol = solve(
        lambda t, y: np.full_like(y, np.nan) if t > 0.5 else -y,
        0.0,
        [1.0],
        1.0,
        stepper=RK4(),
        controller=ConstantStep(0.1),
    )
    assert sol.status == Status.NON_FINITE
