"""The closed forms of theory.py: (1.13)/(2.7), (1.14)/(2.6), (2.18), (3.6), and compare_with_law."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subriemann as sr
from subriemann.errors import InputError, ShapeError
from subriemann.integrate import Trajectory
from subriemann.theory import (
    compare_with_law,
    cost_law,
    residual_law,
    stopping_time,
    trapping_time_bound,
)

positive = st.floats(1e-12, 1e6, allow_nan=False, allow_infinity=False)
sample_counts = st.integers(1, 500)


@given(eps=positive, C0=positive, N=sample_counts)
def test_stopping_time_inverts_cost_law(eps, C0, N):
    """(2.18) is the first s with C0 e^{−2s/N} ≤ ε: C(s_ε) = ε if C0 > ε, else s_ε = 0."""
    s = stopping_time(eps, C0, N)
    assert s >= 0.0
    if C0 > eps:
        # a few ulps of log/exp each way
        assert cost_law(s, C0, N) == pytest.approx(eps, rel=1e-12)
        assert cost_law(0.999 * s, C0, N) > eps
    else:
        assert s == 0.0


@given(C0=positive, N=sample_counts, s=st.floats(0, 1e3))
def test_cost_law_is_quadratic_in_residual_law(C0, N, s):
    """C = |x − y|²/(2N) maps the residual law (2.7) onto the cost law (2.6)."""
    rng = np.random.default_rng(int(C0 * 1e3) % 2**32)
    r0 = rng.normal(size=6)
    r0 *= np.sqrt(2 * N * C0) / np.linalg.norm(r0)
    y = rng.normal(size=6)
    r = residual_law(s, y + r0, y, N)
    # forming x0 = y + r0 and subtracting y again costs eps·|y|/|r0| relative
    rel = 1e-12 + 8 * np.finfo(float).eps * np.linalg.norm(y) / np.linalg.norm(r0)
    assert r @ r / (2 * N) == pytest.approx(cost_law(s, C0, N), rel=rel, abs=1e-300)


def test_laws_vectorise_over_times():
    s = np.linspace(0.0, 5.0, 7)
    x0, y = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.5])
    r = residual_law(s, x0, y, 3)
    assert r.shape == (7, 3)
    np.testing.assert_allclose(r[3], np.exp(-s[3] / 3) * (x0 - y), rtol=1e-15)
    c = cost_law(s, 2.0, 3)
    assert c.shape == (7,)
    np.testing.assert_allclose(c, 2.0 * np.exp(-2 * s / 3), rtol=1e-15)
    assert isinstance(cost_law(1.0, 2.0, 3), float)


def test_output_flow_solution_is_residual_law():
    """OutputFlow.solution (1.13) = y + residual law, and solves x′ = −∇ₓC (1.11)."""
    from scipy.integrate import solve_ivp

    y = np.array([1.0, 0.0, -1.0, 2.0])
    cost = sr.L2Cost(y, 2)
    out = sr.OutputFlow(cost)
    x0 = np.array([0.3, 0.7, 0.1, -0.4])
    s = np.array([0.0, 0.5, 3.0])
    np.testing.assert_allclose(out.solution(x0, s), y + residual_law(s, x0, y, 2), rtol=1e-15)
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
    exact = compare_with_law(_law_trajectory())
    assert exact["law_residual"] < 1e-13
    assert exact["max_rel_cost_error"] < 1e-13
    assert exact["max_rel_residual_error"] < 1e-13
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
