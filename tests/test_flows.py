"""The flows as vector fields: each regime against the paper's literal formula, and the API.

Literal formulas are evaluated here with plain numpy (explicit Gram matrices,
inverses), independently of the SVD route of flows.py; tolerances are the
round-off those literal formulas themselves incur (a Gram matrix squares
cond(D), its square inverse in (1.27) raises it to the fourth power).
"""

import autograd
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import subriemann as sr
from subriemann.errors import InputError, NonFiniteError, RankConditionError, ShapeError
from subriemann.flows import REGIMES, AdaptedFlow, FlowPoint, OutputFlow, StandardFlow

EPS = np.finfo(np.float64).eps


def network_problem(seed, sizes, N, duplicate=False):
    """Random regression data (N samples) and a tanh network; optionally input N−1 = input 0."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(N, sizes[0]))
    if duplicate:
        inputs[-1] = inputs[0]
    data = sr.TrainingData.regression(inputs, rng.normal(size=(N, sizes[-1])))
    net = sr.MLP(list(sizes), activation="tanh")
    f = sr.NetworkMap(net, data.inputs)
    return f, sr.L2Cost.from_data(data), net.init(seed)


@st.composite
def over_problems(draw):
    """Over-parametrized tanh networks (K > QN) with 1–2 hidden layers."""
    M, Q = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    hidden = draw(st.lists(st.integers(3, 6), min_size=1, max_size=2))
    N = draw(st.integers(2, 4))
    sizes = [M, *hidden, Q]
    assume(sr.MLP.count_parameters(sizes) > Q * N)
    return network_problem(draw(st.integers(0, 10_000)), sizes, N)


def cond(D):
    s = np.linalg.svd(D, compute_uv=False)
    return s[0] / s[-1]


def rel_err(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@given(over_problems())
def test_over_regime_is_literal_1_27(problem):
    """(1.27): θ′ = −Dᵀ(DDᵀ)⁻²D∇_θC, and (2.4)/(2.9): D θ′ = −∇ₓC (1.28)."""
    f, cost, theta = problem
    x, D = f(theta), f.jacobian(theta)
    c = cond(D)
    assume(c < 1e3)
    grad_theta = D.T @ cost.grad(x)
    G = D @ D.T
    literal = -D.T @ np.linalg.inv(G) @ np.linalg.inv(G) @ D @ grad_theta
    flow = AdaptedFlow(f, cost, regime="over")
    v = flow(theta)
    # the literal formula inverts DDᵀ twice: round-off ~ eps·cond(D)⁴
    assert rel_err(v, literal) <= 100 * EPS * c**4
    # pushed forward it is the Euclidean output gradient flow, up to eps·cond(D)
    assert rel_err(D @ v, -cost.grad(x)) <= 100 * EPS * c
    assert flow.last_regime == "over"


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), N=st.integers(8, 12))
def test_under_regime_is_literal_1_30(seed, N):
    """(1.30)/(5.2): θ′ = −(DᵀD)⁻¹∇_θC for K < QN, and D θ′ = −𝒫∇ₓC (1.31)."""
    f, cost, theta = network_problem(seed, [1, 2, 1], N)  # K = 7 < QN = N
    x, D = f(theta), f.jacobian(theta)
    c = cond(D)
    assume(c < 1e4)
    grad_theta = D.T @ cost.grad(x)
    literal = -np.linalg.solve(D.T @ D, grad_theta)
    flow = AdaptedFlow(f, cost, regime="under")
    v = flow(theta)
    assert rel_err(v, literal) <= 100 * EPS * c**2  # DᵀD squares cond(D)
    Q_, _ = np.linalg.qr(D)  # an orthonormal basis of range D, independent of the SVD
    proj = Q_ @ (Q_.T @ cost.grad(x))
    assert rel_err(flow.output_velocity(theta), -proj) <= 100 * EPS * c
    assert flow.last_regime == "under"


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000))
def test_rank_loss_regime_is_literal_dae(seed):
    """(4.5)–(4.6): θ′ = −DᵀΨ with Ψ the least-squares solution of DDᵀΨ = ∇ₓC.

    Duplicated training inputs make two rows of D equal, so rank D = QN − 1.
    (Sign: the descent reading of (4.5), see AdaptedFlow's notes.)
    """
    f, cost, theta = network_problem(seed, [2, 5, 1], 4, duplicate=True)
    x, D = f(theta), f.jacobian(theta)
    s = np.linalg.svd(D, compute_uv=False)
    assert s[-1] <= 1e-14 * s[0] and s[-2] > 1e-6 * s[0]
    gx = cost.grad(x)
    psi = np.linalg.lstsq(D @ D.T, gx, rcond=1e-12)[0]
    literal = -D.T @ psi
    flow = AdaptedFlow(f, cost, regime="rank-loss")
    v = flow(theta)
    c = s[0] / s[-2]
    assert np.all(np.isfinite(v))
    assert rel_err(v, literal) <= 1e3 * EPS * c**2
    # (4.7): the output moves along −𝒫∇ₓC; for duplicated inputs 𝒫 averages their residuals
    P_gx = gx.copy()
    P_gx[[0, -1]] = gx[[0, -1]].mean()
    assert rel_err(D @ v, -P_gx) <= 1e3 * EPS * c
    assert AdaptedFlow(f, cost).evaluate(theta).regime == "rank-loss"


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000))
def test_borderline_regime_is_literal_6_2(seed):
    """(6.2): θ′ = −D⁻¹D⁻ᵀ∇_θC when K = QN (MLP([1,1,1]): K = 4 = QN with N = 4)."""
    f, cost, theta = network_problem(seed, [1, 1, 1], 4)
    x, D = f(theta), f.jacobian(theta)
    c = cond(D)
    assume(c < 1e4)
    grad_theta = D.T @ cost.grad(x)
    literal = -np.linalg.solve(D, np.linalg.solve(D.T, grad_theta))
    flow = AdaptedFlow(f, cost)
    assert rel_err(flow(theta), literal) <= 100 * EPS * c**2
    assert flow.last_regime == "borderline"


@settings(max_examples=10)
@given(over_problems())
def test_standard_flow_is_euclidean_gradient(problem):
    """(1.9): θ′ = −∇_θ(C∘f) (autograd, independent of the vjp); (1.22): x′ = −DDᵀ∇ₓC."""
    f, cost, theta = problem
    flow = StandardFlow(f, cost)
    before = f.counts["jacobian"]
    v = flow(theta)
    assert f.counts["jacobian"] == before  # one vjp, no Jacobian
    grad = autograd.grad(lambda t: cost(f._value(t)))(theta)
    np.testing.assert_allclose(v, -grad, rtol=1e-12, atol=1e-14)
    D, gx = f.jacobian(theta), cost.grad(f(theta))
    expected = -D @ (D.T @ gx)
    np.testing.assert_allclose(flow.output_velocity(theta), expected, rtol=1e-12, atol=1e-14)
    point = flow.evaluate(theta)
    np.testing.assert_allclose(point.output_velocity, expected, rtol=1e-12, atol=1e-14)
    assert point.regime == "standard" and point.report.rank == min(D.shape)


def test_auto_regime_choice_and_reporting():
    over = network_problem(0, [2, 5, 1], 3)
    under = network_problem(0, [1, 2, 1], 10)
    border = network_problem(0, [1, 1, 1], 4)
    dup = network_problem(0, [2, 5, 1], 4, duplicate=True)
    for (f, cost, theta), expected in [
        (over, "over"),
        (under, "under"),
        (border, "borderline"),
        (dup, "rank-loss"),
    ]:
        flow = AdaptedFlow(f, cost)
        assert flow.regime == "auto" and flow.last_regime is None
        point = flow.evaluate(theta)
        assert point.regime == flow.last_regime == expected
    f, cost, theta = dup
    forced = AdaptedFlow(f, cost, regime="rank-loss")
    forced.evaluate(network_problem(0, [2, 5, 1], 4)[2])
    assert forced.last_regime == "rank-loss"
    assert set(REGIMES) == {"auto", "over", "under", "borderline", "rank-loss"}


def test_forced_regime_raises_on_rank_failure():
    """A forced "over" never silently returns garbage when rank D < QN: it raises."""
    f, cost, theta = network_problem(1, [2, 5, 1], 4, duplicate=True)
    flow = AdaptedFlow(f, cost, regime="over")
    with pytest.raises(RankConditionError, match=r"rank D = 3.*rank-loss"):
        flow(theta)
    # under-parametrized network with a dead output layer: D has rank < K
    f, cost, _ = network_problem(1, [1, 2, 1], 10)
    theta = f.mlp.pack([(np.ones((2, 1)), np.zeros(2)), (np.zeros((1, 2)), np.zeros(1))])
    with pytest.raises(RankConditionError, match=r"\(5\.1\)"):
        AdaptedFlow(f, cost, regime="under")(theta)
    assert np.all(np.isfinite(AdaptedFlow(f, cost)(theta)))


@pytest.mark.parametrize(
    ("sizes", "N", "regime"),
    [([1, 2, 1], 10, "over"), ([2, 5, 1], 3, "under"), ([2, 5, 1], 3, "borderline")],
)
def test_impossible_regime_is_rejected_at_construction(sizes, N, regime):
    f, cost, _ = network_problem(0, sizes, N)
    with pytest.raises(RankConditionError, match="impossible"):
        AdaptedFlow(f, cost, regime=regime)


def test_flow_input_validation():
    f, cost, theta = network_problem(0, [2, 5, 1], 3)
    with pytest.raises(InputError, match="unknown regime"):
        AdaptedFlow(f, cost, regime="sideways")
    with pytest.raises(InputError, match="SmoothMap"):
        StandardFlow(lambda t: t, cost)
    with pytest.raises(InputError, match="L2Cost"):
        AdaptedFlow(f, lambda x: x @ x)
    with pytest.raises(InputError, match="QN"):
        AdaptedFlow(f, sr.L2Cost(np.zeros(4), 2))
    flow = AdaptedFlow(f, cost)
    with pytest.raises(ShapeError):
        flow(theta[:-1])
    bad = theta.copy()
    bad[0] = np.nan
    with pytest.raises(NonFiniteError):
        flow(bad)
    with pytest.raises(InputError, match="L2Cost"):
        OutputFlow("cost")


def test_evaluate_is_one_jacobian_and_consistent():
    f, cost, theta = network_problem(2, [2, 6, 2], 3)
    flow = AdaptedFlow(f, cost)
    before = f.counts["jacobian"]
    point = flow.evaluate(theta)
    assert isinstance(point, FlowPoint)
    again = flow.evaluate(theta.copy())
    v = flow(theta)
    assert f.counts["jacobian"] == before + 1
    assert again is point
    np.testing.assert_array_equal(v, point.velocity)
    np.testing.assert_allclose(point.x, f(theta), rtol=1e-15)
    assert point.cost == pytest.approx(cost(f(theta)), rel=1e-15)
    assert point.rank == point.report.rank == 6 and point.sigma_min > 0
    assert point.singular_values.shape == (6,)
    D = f.jacobian(theta)
    np.testing.assert_allclose(point.output_velocity, D @ point.velocity, atol=1e-12)
    # mutating the caller's array does not corrupt the cached point
    theta_mut = theta.copy()
    p2 = flow.evaluate(theta_mut)
    theta_mut[:] = 0.0
    np.testing.assert_array_equal(p2.theta, theta)


def test_adapted_flow_matches_bundle_and_metric_gradients():
    """AdaptedFlow = −grad_h C (2.30) = −PullbackBundle.grad, and = −grad_g C (5.17) when K < QN."""
    from subriemann.bundles import PullbackBundle
    from subriemann.metrics import PullbackMetric

    for f, cost, theta in (
        network_problem(3, [2, 5, 1], 3),
        network_problem(4, [2, 4, 2], 3),
        network_problem(5, [2, 5, 1], 4, duplicate=True),
    ):
        grad_theta = f.vjp(theta, cost.grad(f(theta)))
        expected = -PullbackBundle(f).grad(theta, grad_theta)
        np.testing.assert_allclose(AdaptedFlow(f, cost)(theta), expected, rtol=1e-9, atol=1e-12)
    f, cost, theta = network_problem(6, [1, 2, 1], 10)
    grad_theta = f.vjp(theta, cost.grad(f(theta)))
    expected = -PullbackMetric(f).grad(theta, grad_theta)
    np.testing.assert_allclose(
        AdaptedFlow(f, cost, regime="under")(theta), expected, rtol=1e-9, atol=1e-12
    )


def test_output_flow():
    """(1.11)/(1.12): x′ = −(x − y)/N; (1.13) solution starts at x0 and tends to y (1.15)."""
    y = np.array([1.0, -1.0, 0.0, 2.0, 0.5, 0.5])
    out = OutputFlow(sr.L2Cost(y, 3))
    x0 = np.arange(6.0)
    np.testing.assert_allclose(out(x0), -(x0 - y) / 3, rtol=1e-15)
    np.testing.assert_allclose(out.solution(x0, 0.0), x0, rtol=1e-15)
    assert out.solution(x0, [0.0, 1.0, 2.0]).shape == (3, 6)
    np.testing.assert_allclose(out.solution(x0, 300.0), y, atol=1e-30 + 1e-40)
    with pytest.raises(ShapeError):
        out.solution(x0[:-1], 1.0)
