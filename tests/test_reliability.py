"""Issue #11, integration side: an orbit's status tells the truth.

* "target_cost_reached" is claimed only where C ≤ ε really holds, for every method;
* an ε below the cost's round-off floor eps·|y_ω|²/N is refused before any work;
* a non-smooth activation stalling at a kink stops after a bounded number of
  steps with status "step_size_collapsed" at the point where it happened.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import network_problem, over_problems

import subriemann as sr
from subriemann.errors import InputError


@settings(max_examples=6)
@given(
    over_problems(min_excess=4, min_inverse_condition=1e-3),
    st.sampled_from([1e-3, 1e-7, 1e-10]),
    st.sampled_from(["output-exact", "DOP853", "rk45", "rk4", "euler", "monotone"]),
)
def test_target_cost_reached_means_cost_at_most_eps(problem, eps, method):
    """C(s_final) ≤ ε whenever the status says the target was reached (no round-off excess)."""
    f, cost, theta = problem
    flow = sr.AdaptedFlow(f, cost)
    kw = {"step": 0.25} if method in ("rk4", "euler", "monotone") else {}
    traj = sr.integrate(
        flow,
        theta,
        np.inf if method != "euler" else 1e4,
        method=method,
        eps=eps,
        max_steps=20_000,
        **kw,
    )
    if cost(f(theta)) > eps:
        assert traj.status == "target_cost_reached", traj.message
    assert traj.final_cost <= eps
    # the recorded final cost is the cost of the recorded final parameters
    assert cost(f(traj.final_theta)) <= eps


def test_output_exact_lands_just_after_the_stopping_time():
    """The landing time is (2.18) plus the corrector's margin, never before it.

    At s_ε the residual is r_ε = √(2Nε); the corrector leaves |f(θ) − x_t| ≤ tol =
    atol + rtol·r_ε, so landing N·log(r_ε/(r_ε − tol)) ≈ N·tol/r_ε later certifies C ≤ ε.
    """
    f, cost, theta = network_problem(3, (2, 6, 1), 3)
    C0, eps, rtol = cost(f(theta)), 1e-9, 1e-8
    traj = sr.integrate(sr.AdaptedFlow(f, cost), theta, np.inf, eps=eps, rtol=rtol)
    s_eps = sr.stopping_time(eps, C0, cost.N)
    assert traj.status == "target_cost_reached" and traj.final_cost <= eps
    r_eps = np.sqrt(2 * cost.N * eps)
    margin = cost.N * (1e-10 + rtol * r_eps) / r_eps  # integrate's default atol = 1e-10
    assert s_eps < traj.event_s <= s_eps + 1.01 * margin


def test_eps_below_the_round_off_floor_is_refused():
    """ε < eps_machine·|y_ω|²/N: refused up front, the message gives the floor."""
    f, cost, theta = network_problem(0, (2, 6, 1), 3)
    floor = sr.theory.cost_floor(cost.target, cost.N)
    assert floor == pytest.approx(np.finfo(float).eps * cost.target @ cost.target / cost.N)
    with pytest.raises(InputError, match=rf"round-off floor.*{floor:.3g}"):
        sr.integrate(sr.AdaptedFlow(f, cost), theta, np.inf, eps=floor / 10)
    # at the floor itself the run is allowed (and cannot claim what it does not reach)
    traj = sr.integrate(sr.AdaptedFlow(f, cost), theta, 10.0, eps=floor * 1.01)
    assert traj.status in ("completed", "target_cost_reached")


def relu_problem():
    """A [1, 3, 1] ReLU network on 6 points whose orbits run into a kink near s ≈ 0.55 / 1.81."""
    rng = np.random.default_rng(0)
    net = sr.MLP([1, 3, 1], activation="relu", allow_nonsmooth=True)
    f = sr.NetworkMap(net, rng.normal(size=(6, 1)))
    return f, sr.L2Cost(rng.normal(size=6), 6), net.init(0)


@pytest.mark.parametrize("flow_cls", [sr.StandardFlow, sr.AdaptedFlow])
@pytest.mark.parametrize("method", ["rk45", "DOP853", "monotone"])
def test_relu_kink_stops_with_step_size_collapsed(flow_cls, method):
    """Today's main burns all 100 000 steps at the kink; now a few hundred at most.

    The solver's step shrinks to ~1e-9 at the ReLU switching surface (the field
    jumps there, so no order of accuracy survives); the run must say so and end
    where it happened: the last recorded point is the stalled one.
    """
    f, cost, theta = relu_problem()
    traj = sr.integrate(flow_cls(f, cost), theta, 200.0, method=method, rtol=1e-10, atol=1e-12)
    assert traj.status == "step_size_collapsed", traj.message
    assert len(traj) < 500 and traj.stats["accepted"] < 500
    assert f"{traj.final_s:.6g}"[:5] in traj.message
    assert np.all(np.isfinite(traj.final_theta))


def test_sigma_min_collapse_along_an_orbit_is_warned_once():
    """σ_min(D)/σ_max(D) < √eps along an orbit: a ConditioningWarning and traj.warnings.

    f(θ) = (θ₁, θ₁ + θ₂³) on R³ (K = 3 > QN = 2, N = 1) with target y = (1, 1): the adapted
    flow moves x − y by e^{−s} (2.7), so θ₂³ = x₂ − x₁ decays like e^{−s} and
    σ_min(D) ≈ 3θ₂²/√2 like e^{−2s/3}; from θ₂ = 1 the ratio crosses √eps ≈ 1.5e-8 near
    s = (3/2)·log(3/(√2·1.5e-8)) ≈ 28.7.  Theorem 2.1 still holds there (rank D = 2), so
    the run goes on: the warning says that (2.1) is only numerically true.  (The
    crossing time is read from the warning, so the bracket [26, 31] tests the rate.)
    """
    import autograd.numpy as anp

    f = sr.AutodiffMap(lambda th: anp.array([th[0], th[0] + th[1] ** 3]), 3, 2)
    cost = sr.L2Cost(np.array([1.0, 1.0]), 1)
    with pytest.warns(sr.errors.ConditioningWarning, match="sqrt\\(eps\\)") as record:
        # atol ≈ 0: the corrector follows the law (2.7) down to the tiny residuals of s ≈ 30
        traj = sr.integrate(
            sr.AdaptedFlow(f, cost), np.array([0.0, 1.0, 0.0]), 40.0, rtol=1e-10, atol=1e-300
        )
    # one √eps warning; the orbit's σ_min also falls below SIGMA_COLLAPSE_FRACTION of its
    # start (the infimum over the orbit is not bounded away from 0), a second, separate warning
    sqrt_eps = [w for w in record if "sqrt(eps)" in str(w.message)]
    assert traj.status == "completed" and len(sqrt_eps) == 1
    (message,) = [w for w in traj.warnings if "sqrt(eps)" in w]
    assert any("collapse" in w or "fell" in w for w in traj.warnings if w != message)
    s_warn = float(message.split("s = ")[1].split(":")[0])
    assert 26.0 < s_warn < 31.0
    ratio = traj.sigma_min / traj.sigma_max
    first = np.argmax(ratio < np.sqrt(np.finfo(float).eps))  # the first recorded point below
    assert ratio[first] < np.sqrt(np.finfo(float).eps) <= ratio[:first].min()
    assert traj.s[first] == pytest.approx(s_warn, rel=1e-5)  # the message prints 6 digits
    assert traj.as_dict()["warnings"] == traj.warnings
