"""The closed forms of theory.py: (1.13)/(2.7), (1.14)/(2.6), (2.18), (3.6), and compare_with_law."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tolerances import orthonormality_tol, routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError, ShapeError
from subriemann.flows.theory import (
    compare_with_law,
    cost_law,
    output_metric_cost_law,
    output_metric_residual_law,
    output_metric_stopping_time,
    residual_law,
    stopping_time,
    trapping_time_bound,
)
from subriemann.integrate import Trajectory

positive = st.floats(1e-12, 1e6, allow_nan=False, allow_infinity=False)
sample_counts = st.integers(1, 500)


@given(eps=positive, C0=positive, N=sample_counts)
def test_stopping_time_inverts_cost_law(eps, C0, N):
    """(2.18) is the first s with C0 e^{−2s/N} ≤ ε: C(s_ε) = ε if C0 > ε, else s_ε = 0."""
    s = stopping_time(eps, C0, N)
    assert s >= 0.0
    if C0 > eps:
        # a few ulps of log/exp each way; the law written out, not the package's cost_law
        assert C0 * np.exp(-2.0 * s / N) == pytest.approx(eps, rel=1e-12)
        assert C0 * np.exp(-2.0 * 0.999 * s / N) > eps
        assert cost_law(s, C0, N) == pytest.approx(eps, rel=1e-12)
    else:
        # (2.17): s = 0 is already in the set; (2.18) as printed would be negative
        assert s == 0.0


@given(C0=positive, N=sample_counts, s=st.floats(0, 1e3))
def test_cost_law_is_quadratic_in_residual_law(C0, N, s):
    """C = |x − y|²/(2N) maps the residual law (2.7) onto the cost law (2.6)."""
    rng = np.random.default_rng(int(C0 * 1e3) % 2**32)
    r0 = rng.normal(size=6)
    r0 *= np.sqrt(2 * N * C0) / np.linalg.norm(r0)
    y = rng.normal(size=6)
    r = residual_law(s, y + r0, y, N)
    # both laws against their closed forms (1.13), (1.14) written out, then against each other
    x0 = y + r0
    np.testing.assert_allclose(r, np.exp(-s / N) * (x0 - y), rtol=1e-12, atol=0)
    assert cost_law(s, C0, N) == pytest.approx(C0 * np.exp(-2.0 * s / N), rel=1e-12, abs=1e-300)
    # forming x0 = y + r0 and subtracting y again costs eps·|y|/|r0| relative
    rel = 1e-12 + 8 * np.finfo(float).eps * np.linalg.norm(y) / np.linalg.norm(r0)
    assert r @ r / (2 * N) == pytest.approx(cost_law(s, C0, N), rel=rel, abs=1e-300)


def test_laws_vectorise_over_times():
    s = np.linspace(0.0, 5.0, 7)
    x0, y = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.5])
    r = residual_law(s, x0, y, 3)
    assert r.shape == (7, 3)
    # one exp (≤ 1 ulp, plus its argument's rounding amplified by |s/N|) and a
    # product or two: k = 4 roundings of relative size (1 + 2·s/N) (routes_agree_tol)
    rtol = routes_agree_tol(1.0 + 2 * s.max() / 3, k=4)
    np.testing.assert_allclose(r[3], np.exp(-s[3] / 3) * (x0 - y), rtol=rtol)
    c = cost_law(s, 2.0, 3)
    assert c.shape == (7,)
    np.testing.assert_allclose(c, 2.0 * np.exp(-2 * s / 3), rtol=rtol)
    assert isinstance(cost_law(1.0, 2.0, 3), float)


def test_output_flow_solution_is_residual_law():
    """OutputFlow.solution (1.13) = y + residual law, and solves x′ = −∇ₓC (1.11)."""
    from scipy.integrate import solve_ivp

    y = np.array([1.0, 0.0, -1.0, 2.0])
    cost = sr.L2Cost(y, 2)
    out = sr.OutputFlow(cost)
    x0 = np.array([0.3, 0.7, 0.1, -0.4])
    s = np.array([0.0, 0.5, 3.0])
    # same formula, same model as above (a sum y + r adds one rounding of |x|)
    rtol = routes_agree_tol(1.0 + 2 * s.max() / 2, k=4)
    np.testing.assert_allclose(out.solution(x0, s), y + residual_law(s, x0, y, 2), rtol=rtol)
    num = solve_ivp(lambda _t, x: out(x), (0, 3.0), x0, rtol=1e-12, atol=1e-14, t_eval=s)
    np.testing.assert_allclose(num.y.T, out.solution(x0, s), atol=1e-10)


@pytest.mark.parametrize(
    ("eps", "C0", "N", "match"),
    [
        (0.0, 1.0, 2, "eps"),
        (-1e-3, 1.0, 2, "eps"),
        (float("nan"), 1.0, 2, "eps"),
        (1e-3, 0.0, 2, "C0"),
        (1e-3, -1.0, 2, "C0"),
        (1e-3, float("inf"), 2, "C0"),
        (1e-3, 1.0, 0, "N"),
        (1e-3, 1.0, 2.5, "N"),
        (1e-3, 1.0, True, "N"),
        ("small", 1.0, 2, "eps"),
    ],
)
def test_stopping_time_rejects_bad_input(eps, C0, N, match):
    with pytest.raises(InputError, match=match):
        stopping_time(eps, C0, N)


def test_law_errors():
    with pytest.raises(InputError, match="C0"):
        cost_law(1.0, -1.0, 2)
    with pytest.raises(InputError, match="non-finite"):
        cost_law([0.0, np.nan], 1.0, 2)
    with pytest.raises(ShapeError):
        residual_law(1.0, np.ones(3), np.ones(4), 2)
    with pytest.raises(ShapeError):
        cost_law(np.ones((2, 2)), 1.0, 2)
    with pytest.raises(InputError, match="N"):
        residual_law(1.0, np.ones(3), np.ones(3), 0)


def test_trapping_time_bound():
    """(3.6): |I| ≥ N L_U / (|x(s0) − y| ε)."""
    assert trapping_time_bound(2.0, 0.5, 0.01, 4) == pytest.approx(4 * 2.0 / (0.5 * 0.01))
    assert trapping_time_bound(0.0, 0.5, 0.01, 4) == 0.0
    with pytest.raises(InputError, match="ratio"):
        trapping_time_bound(1.0, 0.5, 0.0, 4)
    with pytest.raises(InputError, match="residual_norm"):
        trapping_time_bound(1.0, 0.0, 0.1, 4)
    with pytest.raises(InputError, match="arc_length"):
        trapping_time_bound(-1.0, 0.5, 0.1, 4)


def _law_trajectory(noise=0.0, eps=None, event_s=None):
    """A Trajectory lying on the law (2.7) up to a relative perturbation ``noise``."""
    rng = np.random.default_rng(3)
    N, y = 3, rng.normal(size=6)
    x0 = y + rng.normal(size=6)
    s = np.linspace(0.0, 10.0, 11)
    x = y + residual_law(s, x0, y, N)
    x[5] += noise * (x[5] - y)
    cost = np.sum((x - y) ** 2, axis=1) / (2 * N)
    n = len(s)
    return Trajectory(
        s=s,
        theta=np.zeros((n, 2)),
        x=x,
        cost=cost,
        rank=np.full(n, 6),
        sigma_min=np.ones(n),
        sigma_max=np.ones(n),
        regime=["over"] * n,
        method="test",
        status="completed",
        message="",
        n_jacobian=0,
        n_evaluations=0,
        N=N,
        target=y,
        eps=eps,
        event_s=event_s,
    )


def test_compare_with_law_measures_deviation():
    traj = _law_trajectory()
    exact = compare_with_law(traj)
    # x = y + r(s) is rounded by ~eps·|x|, i.e. relatively by eps·|x|/|x − y| in the
    # residual (2× in C), and log C, 2s/N are rounded by eps of their size; k = 16
    # (routes_agree_tol).  The perturbed trajectories below are off by ≥ 1e-6.
    r_min = np.linalg.norm(traj.x - traj.target, axis=1).min()
    rel = routes_agree_tol(np.abs(traj.x).max() / r_min)
    log_scale = np.abs(np.log(traj.cost)).max() + 2 * traj.s.max() / traj.N
    assert exact["law_residual"] <= routes_agree_tol(log_scale) + 2 * rel
    assert exact["max_rel_cost_error"] <= 2 * rel
    assert exact["max_rel_residual_error"] <= rel
    assert exact["predicted_stopping_time"] is None
    bumped = compare_with_law(_law_trajectory(noise=1e-3))
    # a relative bump δ of the residual changes the cost by (1+δ)² − 1 ≈ 2δ
    assert bumped["max_rel_residual_error"] == pytest.approx(1e-3, rel=1e-6)
    assert bumped["max_rel_cost_error"] == pytest.approx(2e-3 + 1e-6, rel=1e-6)
    assert bumped["law_residual"] == pytest.approx(np.log1p(2e-3 + 1e-6), rel=1e-6)
    json.dumps(bumped)


def test_compare_with_law_stopping_time():
    traj = _law_trajectory()
    eps = traj.cost[0] * np.exp(-2 * 7.5 / traj.N)
    out = compare_with_law(_law_trajectory(eps=eps, event_s=7.5 * (1 + 1e-9)))
    assert out["predicted_stopping_time"] == pytest.approx(7.5, rel=1e-12)
    assert out["reached_stopping_time"] == pytest.approx(7.5, rel=1e-8)
    assert out["stopping_time_rel_error"] == pytest.approx(1e-9, rel=1e-3)


# -- a constant output metric G ---------------------------------------------------------------


def _residual_and_metric(seed, n, N, C0):
    """x(0), y_ω with C(0) = |x(0) − y_ω|²/(2N) = C0, and a random SPD G (cond ~ 2–20)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    r0 = rng.normal(size=n)
    r0 *= np.sqrt(2 * N * C0) / np.linalg.norm(r0)
    A = rng.normal(size=(n, n))
    return y + r0, y, A @ A.T / n + 0.5 * np.eye(n)


@given(C0=positive, N=sample_counts, seed=st.integers(0, 2**32 - 1), c=st.floats(0.01, 100))
def test_output_metric_laws_reduce_to_the_euclidean_ones_for_G_identity(C0, N, seed, c):
    """G = 1 gives (2.7), (2.6), (2.18); G = cI is the Euclidean flow in the time s/c."""
    x0, y, _ = _residual_and_metric(seed, 5, N, C0)
    C0 = float((x0 - y) @ (x0 - y) / (2 * N))  # the C(0) of the rounded x0
    s = np.array([0.0, 0.3 * N, 2.0 * N, 7.0 * N])
    for G in (np.eye(5), None):
        np.testing.assert_allclose(
            output_metric_residual_law(s, x0, y, G, N), residual_law(s, x0, y, N), rtol=1e-13
        )
        # C from the residual's coordinates in G's eigenbasis: a few ulps off C0 e^{−2s/N}
        np.testing.assert_allclose(
            output_metric_cost_law(s, x0, y, G, N), cost_law(s, C0, N), rtol=1e-12
        )
    eps = 1e-3 * C0
    assert output_metric_stopping_time(eps, x0, y, np.eye(5), N) == pytest.approx(
        stopping_time(eps, C0, N), rel=1e-12
    )
    assert output_metric_stopping_time(eps, x0, y, c * np.eye(5), N) == pytest.approx(
        c * stopping_time(eps, C0, N), rel=1e-12
    )
    assert output_metric_stopping_time(2 * C0, x0, y, c * np.eye(5), N) == 0.0


@given(seed=st.integers(0, 2**32 - 1), N=st.integers(1, 20))
def test_output_metric_residual_law_solves_the_G_gradient_flow(seed, N):
    """x(s) − y_ω = exp(−sG⁻¹/N)(x(0) − y_ω) solves x′ = −G⁻¹∇ₓC = −G⁻¹(x − y_ω)/N (1.20)."""
    from scipy.integrate import solve_ivp

    x0, y, G = _residual_and_metric(seed, 4, N, 1.0)
    s = np.linspace(0.0, 3.0 * N, 5)
    law = output_metric_residual_law(s, x0, y, G, N)
    num = solve_ivp(
        lambda _t, x: -np.linalg.solve(G, x - y) / N,
        (0, s[-1]),
        x0,
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
        t_eval=s,
    )
    # DOP853 at rtol 1e-12 over a few time constants: global error well below 1e-9
    np.testing.assert_allclose(y + law, num.y.T, atol=1e-9)
    # s = 0: Q·Qᵀ(x0 − y) with G = QΛQᵀ, exact up to a few ulps of |x0 − y|
    np.testing.assert_allclose(
        law[0], x0 - y, rtol=0, atol=orthonormality_tol(4) * np.linalg.norm(x0 - y)
    )
    np.testing.assert_allclose(
        output_metric_cost_law(s, x0, y, G, N), np.sum(law**2, axis=1) / (2 * N), rtol=1e-12
    )
    assert isinstance(output_metric_cost_law(1.0, x0, y, G, N), float)
    assert output_metric_residual_law(1.0, x0, y, G, N).shape == (4,)


@given(seed=st.integers(0, 2**32 - 1), N=st.integers(1, 50), log_ratio=st.floats(0.01, 690.0))
def test_output_metric_stopping_time_is_the_first_crossing(seed, N, log_ratio):
    """C(s_ε) = ε, C > ε before, and λ_min ≤ s_ε / s_ε^{(2.18)} ≤ λ_max (no underflow for tiny ε)."""
    x0, y, G = _residual_and_metric(seed, 6, N, 1.0)
    C0 = float((x0 - y) @ (x0 - y) / (2 * N))
    eps = C0 * np.exp(-log_ratio)
    s_eps = output_metric_stopping_time(eps, x0, y, G, N)
    lam = np.linalg.eigvalsh(G)
    s_euclid = stopping_time(eps, C0, N)
    assert lam[0] * s_euclid * (1 - 1e-12) <= s_eps <= lam[-1] * s_euclid * (1 + 1e-12)
    # down to ε ~ 1e-300 C(0): the root is found on log C, which never underflows
    assert output_metric_cost_law(s_eps, x0, y, G, N) == pytest.approx(eps, rel=1e-9)
    assert output_metric_cost_law(0.999 * s_eps, x0, y, G, N) > eps
    # a ConstantOutputMetric is accepted as well as its matrix
    from subriemann.geometry.metrics import ConstantOutputMetric

    assert output_metric_stopping_time(eps, x0, y, ConstantOutputMetric(G), N) == s_eps


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda x, y, G: output_metric_cost_law(1.0, x, y, G + np.triu(G, 1), 2),
            InputError,
            "symm",
        ),
        (lambda x, y, G: output_metric_cost_law(1.0, x, y, -G, 2), InputError, "positive definite"),
        (lambda x, y, G: output_metric_cost_law(1.0, x, y, G[:3, :3], 2), ShapeError, "R\\^4"),
        (lambda x, y, G: output_metric_cost_law(1.0, x, y[:3], G, 2), ShapeError, "target"),
        (
            lambda x, y, G: output_metric_cost_law(np.ones((2, 2)), x, y, G, 2),
            ShapeError,
            "flow times",
        ),
        (lambda x, y, G: output_metric_cost_law(1.0, x, y, G, 0), InputError, "N"),
        (
            lambda x, y, G: output_metric_residual_law(1.0, x, y, "G", 2),
            InputError,
            "output_metric",
        ),
        (
            lambda x, y, G: output_metric_cost_law(1.0, x, y, lambda z: G, 2),
            InputError,
            "constant",
        ),
        (lambda x, y, G: output_metric_stopping_time(0.0, x, y, G, 2), InputError, "eps"),
        (lambda x, y, G: output_metric_stopping_time(1e-3, y, y, G, 2), InputError, "C\\(0\\) = 0"),
        (
            lambda x, y, G: output_metric_stopping_time(1e-3, x + np.nan, y, G, 2),
            InputError,
            "non-finite",
        ),
    ],
)
def test_output_metric_laws_reject_bad_input(call, error, match):
    x0, y, G = _residual_and_metric(0, 4, 2, 1.0)
    with pytest.raises(error, match=match):
        call(x0, y, G)
