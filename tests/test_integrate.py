"""Integrators: orders, scipy pass-through, output-exact stepping, events, Trajectory."""

import json

import autograd.numpy as anp
import numpy as np
import pytest
from problems import network_problem
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from tolerances import EPS, cost_change_slack, routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError, NumericalError, ShapeError
from subriemann.flows.fields import AdaptedFlow, OutputFlow, StandardFlow
from subriemann.flows.theory import stopping_time
from subriemann.integrate import METHODS, STATUSES, Trajectory, integrate


def linear_problem():
    """θ′ = −Aᵀ(Aθ − y)/N: a linear ODE with solution θ* + e^{−sM}(θ0 − θ*), M = AᵀA/N."""
    rng = np.random.default_rng(7)
    A = rng.normal(size=(4, 3))
    y = rng.normal(size=4)
    flow = StandardFlow(sr.LinearMap(A), sr.L2Cost(y, 2))
    M, b = A.T @ A / 2, A.T @ y / 2
    star = np.linalg.solve(M, b)
    theta0 = rng.normal(size=3)

    def exact(s):
        return star + expm(-s * M) @ (theta0 - star)

    return flow, theta0, exact


def sphere_problem(rank_policy=None):
    """f(θ) = |θ|², target −1: the output law drives x through 0 at s* = N log 2, where D = 2θᵀ = 0."""
    f = sr.AutodiffMap(lambda t: anp.array([t[0] ** 2 + t[1] ** 2]), 2, 1)
    flow = AdaptedFlow(f, sr.L2Cost(np.array([-1.0]), 1), regime="over", rank_policy=rank_policy)
    return flow, np.array([0.6, 0.8]), np.log(2.0)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk4", 4)])
def test_fixed_step_order_on_linear_ode(method, order):
    """Halving the step divides the global error by 2^order (asymptotic range, h ≤ 0.1)."""
    flow, theta0, exact = linear_problem()
    errors = []
    for h in (0.1, 0.05, 0.025):
        traj = integrate(flow, theta0, 1.0, method=method, step=h)
        assert traj.status == "completed" and traj.final_s == 1.0
        errors.append(np.linalg.norm(traj.final_theta - exact(1.0)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    # within 25% of 2^order (higher-order terms are not yet negligible at h = 0.1)
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.25)
    assert len(traj) == 41


def test_scipy_methods_pass_through():
    """Same solver class and tolerances as solve_ivp: same accepted steps, same answer."""
    flow, theta0, exact = linear_problem()
    for method in ("DOP853", "RK45", "RK23"):
        traj = integrate(flow, theta0, 2.0, method=method, rtol=1e-9, atol=1e-12)
        ref = solve_ivp(
            lambda _s, t: flow(t), (0, 2.0), theta0, method=method, rtol=1e-9, atol=1e-12
        )
        # exact by construction: the same solver class steps the same field with the
        # same tolerances, so every accepted step is the same float computation
        np.testing.assert_array_equal(traj.s, ref.t)
        np.testing.assert_array_equal(traj.theta, ref.y.T)
        assert traj.method == method
    for method in ("Radau", "BDF", "LSODA", "rk45", "scipy", "dop853"):
        traj = integrate(flow, theta0, 2.0, method=method, rtol=1e-10, atol=1e-12)
        assert traj.status == "completed"
        np.testing.assert_allclose(traj.final_theta, exact(2.0), atol=1e-7)
    assert integrate(flow, theta0, 1.0, method="scipy").method == "RK45"
    # solver options and the first step are passed through too
    short = integrate(flow, theta0, 1.0, method="RK45", max_step=0.01)
    # scipy's steps are ≤ max_step; the recorded s_{k+1} − s_k = fl(s_k + h) − s_k can
    # exceed h by the rounding of s_{k+1}, ≤ eps·|s| (s ≤ 1 here)
    assert np.max(np.diff(short.s)) <= 0.01 + 2 * EPS * max(1.0, short.s.max())
    first = integrate(flow, theta0, 1.0, method="RK45", options={"first_step": 1e-3})
    assert first.s[1] == 1e-3  # exact: s_1 = 0 + first_step, no rounding


def test_unknown_method_and_bad_arguments():
    flow, theta0, _ = linear_problem()
    with pytest.raises(InputError, match="unknown method"):
        integrate(flow, theta0, 1.0, method="leapfrog")
    bad = [
        ({"s_end": 0.0}, "s_end"),
        ({"s_end": -1.0}, "s_end"),
        ({"s_end": float("nan")}, "s_end"),
        ({"s_end": np.inf}, "s_end"),  # infinite only with a target cost
        ({"eps": 0.0}, "eps"),
        ({"step": -0.1}, "step"),
        ({"max_steps": 0}, "max_steps"),
        ({"rtol": -1.0}, "rtol"),
        ({"progress": 3}, "progress"),
        ({"method": "rk4", "options": {"x": 1}}, "options"),
    ]
    for kwargs, match in bad:
        kw = {"s_end": 1.0, "method": "euler", **kwargs}
        with pytest.raises(InputError, match=match):
            integrate(flow, theta0, **kw)
    with pytest.raises(ShapeError):
        integrate(flow, theta0[:2], 1.0)
    with pytest.raises(InputError, match="solution"):
        integrate(OutputFlow(flow.cost), theta0, 1.0)


def test_output_exact_applies_to_the_adapted_over_flow_only():
    f, cost, theta = network_problem(0)
    with pytest.raises(InputError, match="output-exact"):
        integrate(StandardFlow(f, cost), theta, 1.0, method="output-exact")
    with pytest.raises(InputError, match="rank-loss"):
        integrate(AdaptedFlow(f, cost, regime="rank-loss"), theta, 1.0)
    fu, cu, tu = network_problem(0, (1, 2, 1), 10)
    with pytest.raises(InputError, match="K >= QN"):
        integrate(AdaptedFlow(fu, cu), tu, 1.0)
    with pytest.raises(InputError, match="options"):
        integrate(AdaptedFlow(f, cost), theta, 1.0, options={"order": 2})


@pytest.mark.parametrize("method", ["euler", "rk4", "RK45", "output-exact"])
def test_target_cost_event(method):
    """Stop at C ≤ ε: the crossing is located (not just the first step past it)."""
    f, cost, theta = network_problem(1)
    flow = AdaptedFlow(f, cost)
    eps = 1e-6
    step = 0.02 * cost.N if method in ("euler", "rk4") else None
    traj = integrate(
        flow, theta, np.inf if step is None else 100.0, method=method, eps=eps, step=step
    )
    assert traj.status == "target_cost_reached"
    assert traj.event_s == traj.final_s
    # the landing root-finds log C − log ε to 1e-6 (fixed step) or to the corrector's tolerance
    assert traj.final_cost == pytest.approx(eps, rel=1e-5)
    assert traj.final_cost <= eps
    # and the crossing time is the a-priori stopping time (2.18), to the scheme's accuracy;
    # output-exact lands a margin N·tol/√(2Nε) after it (tol = atol + rtol·√(2Nε), the
    # corrector's), so that C ≤ ε is certain: with the defaults atol = 1e-10, rtol = 1e-8
    s_eps = 0.5 * cost.N * np.log(traj.initial_cost / eps)  # (2.18), written out
    # the same few-operation formula two ways: routes_agree_tol (k = 16 roundings, cond 1)
    assert abs(s_eps - stopping_time(eps, traj.initial_cost, cost.N)) <= routes_agree_tol(s_eps)
    r_eps = np.sqrt(2 * cost.N * eps)
    margin = cost.N * (1e-10 / r_eps + 1e-8) / s_eps
    tol = {"euler": 2e-2, "rk4": 1e-6, "RK45": 1e-5, "output-exact": 1.01 * margin}[method]
    assert traj.event_s == pytest.approx(s_eps, rel=tol)
    assert np.all(traj.cost[:-1] > eps)


def test_target_already_reached():
    f, cost, theta = network_problem(1)
    traj = integrate(AdaptedFlow(f, cost), theta, 1.0, eps=10.0)
    # event_s == 0.0 exactly: the event is decided at θ(0) itself, s = 0 (no step taken)
    assert traj.status == "target_cost_reached" and len(traj) == 1 and traj.event_s == 0.0


@pytest.mark.parametrize("method", ["euler", "rk4", "RK45", "output-exact"])
def test_rank_failure_along_the_orbit_with_a_rank_policy(method):
    """D = 2θᵀ loses rank as |θ| → 0 at s* = log 2: with σ ≤ 1e-3 counted as zero, every scheme stops there."""
    flow, theta0, s_star = sphere_problem(sr.RankPolicy(atol=1e-3))
    step = 1e-3 if method in ("euler", "rk4") else None
    traj = integrate(flow, theta0, 3.0, method=method, step=step)
    assert traj.status == "rank_condition_failed"
    assert "(2.1)" in traj.message
    # |θ|² = x(s) = −1 + 2e^{−s}: σ = 2|θ| = 1e-3 at s = s* − O(1e-7).
    if method == "euler":
        # Explicit Euler's step length h|θ′| ~ h/|θ| grows without bound near the
        # singular point, so it can jump across the ball |θ| < 5e-4 where the
        # policy sees the rank drop and only land in it later (where exactly
        # depends on round-off).  What is guaranteed: it never stops early.
        assert traj.final_s >= s_star - 1e-3
    else:
        assert traj.final_s == pytest.approx(s_star, abs=1e-3)
    # the recorded orbit is the part where (2.1) held (output-exact also keeps
    # the converged point at which it found the rank lost)
    assert np.all(traj.rank[:-1] == 1)


@pytest.mark.parametrize("method", ["RK45", "output-exact"])
def test_rank_failure_detected_with_default_policy(method):
    """Without a tolerance the adaptive schemes still stop at s*, where the field becomes singular."""
    flow, theta0, s_star = sphere_problem()
    traj = integrate(flow, theta0, 3.0, method=method)
    assert traj.status == "rank_condition_failed"
    assert "sigma_min" in traj.message
    assert traj.final_s == pytest.approx(s_star, abs=1e-4)
    assert traj.sigma_min[-1] < 1e-2 * traj.sigma_min[0]


def test_non_finite_values_stop_the_orbit():
    """Explicit Euler on a stiff standard flow overflows: status non_finite, the orbit so far kept."""
    f = sr.AutodiffMap(lambda t: anp.array([t[0] ** 3 + t[1]]), 2, 1)
    flow = StandardFlow(f, sr.L2Cost(np.array([0.0]), 1))
    with np.errstate(over="ignore", invalid="ignore"):
        traj = integrate(flow, np.array([10.0, 0.0]), 100.0, method="euler", step=1.0)
    assert traj.status == "non_finite"
    assert "non-finite" in traj.message
    assert np.all(np.isfinite(traj.theta)) and np.all(np.isfinite(traj.cost))
    assert traj.final_s < 100.0
    g = sr.AutodiffMap(lambda t: anp.exp(1000.0 * t), 1, 1)
    with np.errstate(over="ignore"), pytest.raises(NumericalError, match="theta0"):
        integrate(
            StandardFlow(g, sr.L2Cost(np.array([0.0]), 1)), np.array([1.0]), 1.0, method="rk4"
        )


def test_max_steps_and_record_and_progress():
    f, cost, theta = network_problem(2)
    flow = StandardFlow(f, cost)
    traj = integrate(flow, theta, 10.0, method="rk4", step=0.1, max_steps=5)
    assert traj.status == "max_steps" and len(traj) == 6
    assert traj.final_s == pytest.approx(0.5)
    # record=False keeps the first and last points, both with D's rank, and needs
    # no Jacobian per step for the standard flow
    before = f.counts["jacobian"]
    lean = integrate(flow, theta, 10.0, method="rk4", step=0.1, record=False)
    assert len(lean) == 2 and np.all(lean.rank == 3) and np.all(np.isfinite(lean.sigma_min))
    assert f.counts["jacobian"] - before == lean.n_jacobian == 2
    full = integrate(flow, theta, 10.0, method="rk4", step=0.1)
    np.testing.assert_array_equal(full.final_theta, lean.final_theta)
    assert full.n_jacobian == len(full) == 101
    seen = []
    integrate(AdaptedFlow(f, cost), theta, 10.0, progress=lambda s, end: seen.append((s, end)))
    assert seen and all(end == 10.0 for _, end in seen)
    assert np.all(np.diff([s for s, _ in seen]) > 0) and seen[-1][0] == 10.0


def test_trajectory_fields_and_serialisation():
    f, cost, theta = network_problem(3, (2, 4, 2), 2)
    flow = AdaptedFlow(f, cost)
    before = dict(f.counts)
    traj = integrate(flow, theta, 4.0, method="RK45", rtol=1e-9, atol=1e-12)
    n, K, QN = len(traj), f.dim_in, f.dim_out
    # s[0] = 0 and final_s = s_end exactly: the start is recorded as given and the
    # solver clips its last step to s_end
    assert traj.s.shape == (n,) and traj.s[0] == 0.0 and traj.final_s == 4.0
    assert traj.theta.shape == (n, K) and traj.x.shape == (n, QN)
    assert traj.cost.shape == traj.rank.shape == traj.sigma_min.shape == (n,)
    assert traj.rank.dtype.kind == "i" and np.all(traj.rank == QN)
    assert len(traj.regime) == n and traj.status in STATUSES
    # exact by construction: recorded x and C are f and cost at the recorded θ, the
    # same calls (FSAL reuses the field evaluation, it does not recompute differently)
    np.testing.assert_array_equal(traj.x, [f(t) for t in traj.theta])
    np.testing.assert_array_equal(traj.cost, [cost(x) for x in traj.x])
    assert traj.n_jacobian == f.counts["jacobian"] - before.get("jacobian", 0)
    # recording reuses the field evaluations (one Jacobian each, FSAL point cached)
    assert traj.n_jacobian <= traj.n_evaluations + 1
    terms = np.abs(np.log(traj.cost)) + abs(np.log(traj.cost[0])) + 2 * traj.s / cost.N
    law = np.max(np.abs(np.log(traj.cost) - np.log(traj.cost[0]) + 2 * traj.s / cost.N))
    # two routes to the same three-term sums: they agree to a few eps of the terms'
    # size (routes_agree_tol), not of the (cancelled, ~1e-9) result
    assert abs(traj.law_residual() - law) <= routes_agree_tol(terms.max())
    assert traj.law_residual() < 1e-7
    d = json.loads(json.dumps(traj.as_dict()))
    assert d["status"] == "completed" and len(d["s"]) == n and len(d["theta"][0]) == K
    assert d["n_jacobian"] == traj.n_jacobian and d["N"] == cost.N
    assert "output-exact" in METHODS and "completed" in repr(traj)
    assert isinstance(traj, Trajectory) and traj.final_cost == traj.cost[-1]


@pytest.mark.parametrize("seed", [0, 1])
def test_output_exact_theta_orbit_converges_to_the_flow(seed):
    """Output-exact is an integrator of (2.4), not just a path through the fibers.

    Its output is exact; in θ the predictor's vertical drift is O(h²) per step,
    so θ(s_end) converges to the DOP853 orbit at first order: halving the
    step halves the error.
    """
    f, cost, theta = network_problem(seed)
    flow = AdaptedFlow(f, cost)
    N = cost.N
    ref = integrate(flow, theta, 2.0 * N, method="DOP853", rtol=1e-12, atol=1e-14)
    errors = []
    for h in (N / 8, N / 16, N / 32):
        traj = integrate(flow, theta, 2.0 * N, step=h, max_step=h, rtol=1e-12, atol=1e-14)
        errors.append(np.linalg.norm(traj.final_theta - ref.final_theta))
        np.testing.assert_allclose(traj.final_x, ref.final_x, rtol=1e-8)
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 1.7) & (ratios < 2.6))


def test_output_exact_is_cheap_and_faithful():
    """The point of output-exact: ≥10× fewer Jacobians than RK45 at a smaller law residual (to C = 1e-10)."""
    for seed in range(3):
        f, cost, theta = network_problem(seed, (2, 6, 1), 4)
        flow = AdaptedFlow(f, cost)
        exact = integrate(flow, theta, np.inf, eps=1e-10, rtol=1e-10, atol=1e-13)
        rk = integrate(flow, theta, np.inf, method="RK45", eps=1e-10, rtol=1e-10, atol=1e-12)
        assert exact.status == rk.status == "target_cost_reached"
        assert 10 * exact.n_jacobian <= rk.n_jacobian
        assert exact.law_residual() <= rk.law_residual()
        # one Jacobian at θ(0), then at most one per corrector evaluation (chord
        # corrections need only f)
        assert exact.n_jacobian - 1 <= exact.stats["corrector_evaluations"] == exact.n_evaluations


def test_auto_flow_records_regimes_and_rank_loss_orbit_continues():
    """ "auto" under constant rank loss runs the DAE (4.5) with an ODE method and labels the points."""
    f, cost, theta = network_problem(4, (2, 5, 1), 4, duplicate=True)
    flow = AdaptedFlow(f, cost)
    traj = integrate(flow, theta, 8.0, method="rk4", step=0.1)
    assert traj.status == "completed" and set(traj.regime) == {"rank-loss"}
    assert np.all(np.diff(traj.cost) < 0)


def test_monotone_scheme_never_increases_the_cost():
    """ "monotone": Euler with sufficient decrease, where plain Euler with the same step blows up."""
    f = sr.AutodiffMap(lambda t: anp.array([t[0] ** 3 + t[1], t[1] - t[0]]), 2, 2)
    flow = StandardFlow(f, sr.L2Cost(np.array([1.0, 0.0]), 1))
    theta0 = np.array([3.0, 0.0])
    with np.errstate(over="ignore", invalid="ignore"):
        assert integrate(flow, theta0, 50.0, method="euler", step=1.0).status == "non_finite"
    traj = integrate(flow, theta0, 50.0, method="monotone", step=1.0)
    assert traj.status == "completed" and traj.final_s == 50.0
    # monotone up to the round-off slack of C (≈ k·eps·|x|·|x − y|/N, cost_change_slack;
    # it shrinks with C, so the blow-up of plain Euler, ΔC ~ C, could not hide in it)
    slack = cost_change_slack(traj.x, traj.target, traj.N)
    assert np.all(np.diff(traj.cost) <= slack) and traj.stats["rejected"] > 0
    assert traj.final_cost < 1e-20 * traj.initial_cost


def test_monotone_scheme_is_consistent():
    """With a bounded step it is explicit Euler: first-order convergence to the exact orbit."""
    flow, theta0, exact = linear_problem()
    errors = []
    for h in (0.02, 0.01):
        traj = integrate(flow, theta0, 1.0, method="monotone", step=h, max_step=h)
        assert np.all(np.diff(traj.cost) <= 0)
        errors.append(np.linalg.norm(traj.final_theta - exact(1.0)))
    assert errors[0] / errors[1] == pytest.approx(2.0, rel=0.1)
    f, cost, theta = network_problem(5)
    traj = integrate(
        AdaptedFlow(f, cost), theta, 100.0, method="monotone", step=0.05, max_step=0.05, eps=1e-4
    )
    assert traj.status == "target_cost_reached" and traj.final_cost <= 1e-4
    s_eps = stopping_time(1e-4, traj.initial_cost, cost.N)
    assert traj.event_s == pytest.approx(s_eps, rel=0.05)


@pytest.mark.parametrize("method", ["output-exact", "RK45", "rk4"])
def test_recorded_singular_values_are_those_of_D(method):
    """σ_min and σ_max along the orbit are the extreme singular values of D[θ(s)]."""
    data = sr.TrainingData.blobs(n_samples=4, n_classes=2, input_dim=2, seed=2)
    f = sr.NetworkMap(sr.MLP([2, 6, 2]), data.inputs)
    flow = AdaptedFlow(f, sr.L2Cost.from_data(data))
    step = 0.5 if method == "rk4" else None
    traj = integrate(flow, f.mlp.init(seed=2), 5.0, method=method, step=step)
    assert traj.status == "completed"
    for theta, smin, smax in zip(traj.theta, traj.sigma_min, traj.sigma_max, strict=True):
        s = np.linalg.svd(f.jacobian(theta), compute_uv=False)
        assert smin == pytest.approx(s[-1], rel=1e-10) and smax == pytest.approx(s[0], rel=1e-10)
    assert traj.as_dict()["sigma_max"] == pytest.approx(list(traj.sigma_max))
