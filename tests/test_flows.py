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
from problems import network_problem, over_problems
from tolerances import gram_inverse_tol, routes_agree_tol, solve_residual_tol, svd_zero_tol

import subriemann as sr
from subriemann.errors import InputError, NonFiniteError, RankConditionError, ShapeError
from subriemann.flows.fields import REGIMES, AdaptedFlow, FlowPoint, OutputFlow, StandardFlow

EPS = np.finfo(np.float64).eps


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
    # two equal rows: D is exactly singular, so its computed σ_min is at most the
    # SVD's backward error (svd_zero_tol); equal inputs that did not give equal
    # rows would leave σ_min ≫ that, like the others (> 1e-6·σ_max)
    assert s[-1] <= svd_zero_tol(D.shape, s[0]) and s[-2] > 1e-6 * s[0]
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
    grad = autograd.grad(lambda t: cost(f(t)))(theta)
    D, gx = f.jacobian(theta), cost.grad(f(theta))
    # routes to Dᵀ∇ₓC (vjp vs autograd) and to −DDᵀ∇ₓC (one product each side):
    # sums of ≤ max(QN, K) products, so they agree to ~k·eps·|D||∇ₓC| and
    # ~k·eps·|D|²|∇ₓC| with k = 4·max(QN, K) (routes_agree_tol); a missing or
    # doubled factor D would be an O(1) relative error
    s_max, g_norm, k = np.linalg.norm(D, 2), np.linalg.norm(gx), 4 * max(D.shape)
    assert np.linalg.norm(v + grad) <= routes_agree_tol(s_max * g_norm, k=k)
    expected = -D @ (D.T @ gx)
    tol = routes_agree_tol(s_max**2 * g_norm, k=k)
    assert np.linalg.norm(flow.output_velocity(theta) - expected) <= tol
    point = flow.evaluate(theta)
    assert np.linalg.norm(point.output_velocity - expected) <= tol
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
    # exact by construction: evaluate() computes x and C by the same f and cost calls
    np.testing.assert_array_equal(point.x, f(theta))
    assert point.cost == cost(f(theta))
    assert point.rank == point.report.rank == 6 and point.sigma_min > 0
    assert point.singular_values.shape == (6,)
    D = f.jacobian(theta)
    # x′ = −∇ₓC and D·θ′ differ by the SVD solve's residual (solve_residual_tol)
    residual = np.linalg.norm(point.output_velocity - D @ point.velocity)
    assert residual <= solve_residual_tol(D, np.linalg.norm(point.output_velocity))
    # mutating the caller's array does not corrupt the cached point
    theta_mut = theta.copy()
    p2 = flow.evaluate(theta_mut)
    theta_mut[:] = 0.0
    np.testing.assert_array_equal(p2.theta, theta)


def test_adapted_flow_matches_bundle_and_metric_gradients():
    """AdaptedFlow = −grad_h C (2.30) = −PullbackBundle.grad, and = −grad_g C (5.17) when K < QN."""
    from subriemann.geometry.bundles import PullbackBundle
    from subriemann.geometry.metrics import PullbackMetric

    for f, cost, theta in (
        network_problem(3, [2, 5, 1], 3),
        network_problem(4, [2, 4, 2], 3),
        network_problem(5, [2, 5, 1], 4, duplicate=True),
    ):
        grad_theta = f.vjp(theta, cost.grad(f(theta)))
        expected = -PullbackBundle(f).grad(theta, grad_theta)
        np.testing.assert_allclose(AdaptedFlow(f, cost)(theta), expected, rtol=1e-9, atol=1e-12)
        # the independent reference: (2.30) literally, Pen = numpy's pinv of D (its own SVD;
        # at rank loss the same rank cut as the package's, D being exactly singular there)
        D = f.jacobian(theta)
        pen = np.linalg.pinv(D, rcond=1e-10)
        literal = -pen @ (pen.T @ grad_theta)
        # Pen Penᵀ applied to Dᵀ∇ₓC: the covector route costs eps·cond(D)² (gram_inverse_tol)
        tol = gram_inverse_tol(D, np.linalg.norm(literal))
        assert np.linalg.norm(AdaptedFlow(f, cost)(theta) - literal) <= tol
    f, cost, theta = network_problem(6, [1, 2, 1], 10)
    grad_theta = f.vjp(theta, cost.grad(f(theta)))
    expected = -PullbackMetric(f).grad(theta, grad_theta)
    np.testing.assert_allclose(
        AdaptedFlow(f, cost, regime="under")(theta), expected, rtol=1e-9, atol=1e-12
    )
    # (5.17) literally: g = DᵀD solved by LU (independent of the package's SVD route)
    D = f.jacobian(theta)
    literal = -np.linalg.solve(D.T @ D, grad_theta)
    tol = gram_inverse_tol(D, np.linalg.norm(literal))
    assert np.linalg.norm(AdaptedFlow(f, cost, regime="under")(theta) - literal) <= tol


def test_output_flow():
    """(1.11)/(1.12): x′ = −(x − y)/N; (1.13) solution starts at x0 and tends to y (1.15)."""
    y = np.array([1.0, -1.0, 0.0, 2.0, 0.5, 0.5])
    out = OutputFlow(sr.L2Cost(y, 3))
    x0 = np.arange(6.0)
    # exact: x0, y are small dyadic rationals, so x0 − y, (x0 − y)/3 (one rounding,
    # the same in both) and y + e⁰(x0 − y) = x0 are computed without or with identical rounding
    np.testing.assert_array_equal(out(x0), -(x0 - y) / 3)
    np.testing.assert_array_equal(out.solution(x0, 0.0), x0)
    assert out.solution(x0, [0.0, 1.0, 2.0]).shape == (3, 6)
    np.testing.assert_allclose(out.solution(x0, 300.0), y, atol=1e-30 + 1e-40)
    with pytest.raises(ShapeError):
        out.solution(x0[:-1], 1.0)


# -- a non-Euclidean output metric G ---------------------------------------------------------


def random_spd(seed, n):
    """A random SPD matrix G = AAᵀ/n + I/2: eigenvalues in [1/2, ~5], cond(G) ~ 2–20."""
    A = np.random.default_rng(seed).normal(size=(n, n))
    return A @ A.T / n + 0.5 * np.eye(n)


@given(over_problems(), st.integers(0, 10_000))
def test_output_metric_flow_pushes_forward_to_minus_G_inverse_grad(problem, seed):
    """h pulled back from G (2.22), θ′ = −grad_h C (2.30): D θ′ = −G⁻¹∇ₓC when rank D = QN."""
    from subriemann.geometry.bundles import PullbackBundle
    from subriemann.geometry.metrics import ConstantOutputMetric

    f, cost, theta = problem
    x, D = f(theta), f.jacobian(theta)
    c = cond(D)
    assume(c < 1e3)
    G = random_spd(seed, f.dim_out)
    cG = np.linalg.cond(G)
    flow = AdaptedFlow(f, cost, output_metric=ConstantOutputMetric(G))
    point = flow.evaluate(theta)
    assert point.regime == flow.last_regime == "over" and point.rank == f.dim_out
    gx = cost.grad(x)
    expected = -np.linalg.solve(G, gx)  # −G⁻¹∇ₓC, by LU on G: independent of the flow's route
    # θ′ = −D̃⁺L⁻¹∇ₓC errs by ~eps·cond(D̃)·cond(L) ≤ eps·cond(D)·cond(G) along the small
    # singular directions, which D shrinks again: D θ′ is accurate to ~eps·cond(D)·cond(G)
    # (measured ≤ 4 eps·cond(D)·cond(G) on 200 random cases)
    assert rel_err(D @ point.velocity, expected) <= 100 * EPS * c * cG
    # the recorded output velocity −L⁻ᵀŨŨᵀL⁻¹∇ₓC involves only triangular solves with L
    assert rel_err(point.output_velocity, expected) <= 100 * EPS * cG
    # the literal Pen[D] G⁻¹ Pen[D]ᵀ∇_θC = Dᵀ(DDᵀ)⁻¹G⁻¹∇ₓC (Pen[D]ᵀDᵀ = 1 at full rank), with
    # the Gram matrix DDᵀ (cond(D)²)
    literal = -D.T @ np.linalg.solve(D @ D.T, np.linalg.solve(G, gx))
    assert rel_err(point.velocity, literal) <= 100 * EPS * c**2 * cG
    # it is −grad_h C of the bundle with metric G (whose route squares cond(D̃)), and horizontal
    bundle = PullbackBundle(f, G)
    grad_h = bundle.grad(theta, D.T @ gx)
    assert rel_err(point.velocity, -grad_h) <= 100 * EPS * c**2 * cG
    assert bundle.is_horizontal(point.velocity, theta)


@settings(max_examples=6)
@given(over_problems(), st.integers(0, 10_000))
def test_output_metric_orbit_cost_follows_output_metric_cost_law(problem, seed):
    """Along the G-flow C(s) = |exp(−sG⁻¹/N)(x(0) − y_ω)|²/(2N), and C = ε at the G stopping time.

    DOP853 at rtol 1e-12 knows only the vector field (as for the Euclidean law in
    test_theorems.py); its global error keeps the relative law errors below ~1e-10
    down to C = 1e-6 C(0), so 1e-6 has margin.
    """
    from subriemann.flows.theory import output_metric_cost_law, output_metric_stopping_time

    f, cost, theta = problem
    G = random_spd(seed, f.dim_out)
    x0 = f(theta)
    eps = 1e-6 * cost(x0)
    flow = AdaptedFlow(f, cost, output_metric=G)
    traj = sr.integrate(flow, theta, np.inf, method="DOP853", eps=eps, rtol=1e-12, atol=1e-14)
    assert traj.status == "target_cost_reached"
    assert set(traj.regime) == {"over"} and np.all(traj.rank == f.dim_out)
    predicted = output_metric_cost_law(traj.s, x0, cost.target, G, cost.N)
    assert np.max(np.abs(traj.cost / predicted - 1.0)) <= 1e-6
    s_eps = output_metric_stopping_time(eps, x0, cost.target, G, cost.N)
    assert traj.event_s == pytest.approx(s_eps, rel=1e-6)
    # the metric changes the rates: this orbit is not on the Euclidean law (2.6)
    assert traj.law_residual() > 1e-3


def test_output_metric_under_rank_loss_is_the_G_projection():
    """Rank loss with G: x′ = −𝒫_G G⁻¹∇ₓC, the G-orthogonal projection onto range D (cf. (4.7)).

    Duplicated inputs make rows 0 and N−1 of D equal (rank D = QN − 1), so range D is
    {x_0 = x_{N−1}}.  The residual x′ + G⁻¹∇ₓC is G-orthogonal to range D,
    Dᵀ(Gx′ + ∇ₓC) = 0, and the cost decreases at ∂ₛC = ∇ₓC·x′ = −|x′|²_G.
    """
    f, cost, theta = network_problem(7, [2, 5, 1], 4, duplicate=True)
    G = random_spd(7, f.dim_out)
    point = AdaptedFlow(f, cost, output_metric=G).evaluate(theta)
    assert point.regime == "rank-loss" and point.rank == f.dim_out - 1
    x, D = f(theta), f.jacobian(theta)
    gx, xdot = cost.grad(x), point.output_velocity
    scale = np.linalg.norm(gx) * np.linalg.cond(G)
    # x′ ∈ range D; D·θ′ = x′ (the projector route vs the product: eps·|D||θ′|)
    assert abs(xdot[0] - xdot[-1]) <= 1e-12 * scale
    np.testing.assert_allclose(D @ point.velocity, xdot, atol=1e-10 * scale)
    np.testing.assert_allclose(D.T @ (G @ xdot + gx), 0.0, atol=1e-10 * scale)
    assert gx @ xdot == pytest.approx(-(xdot @ G @ xdot), rel=1e-10)
    assert gx @ xdot < 0
    # a forced "over" does not silently continue
    with pytest.raises(RankConditionError, match="rank-loss"):
        AdaptedFlow(f, cost, regime="over", output_metric=G)(theta)


def test_output_metric_under_and_borderline_regimes():
    """With G the under flow is −grad_g C for g = DᵀGD (5.15), and at K = QN θ′ = −D⁻¹G⁻¹∇ₓC."""
    from subriemann.geometry.metrics import PullbackMetric

    f, cost, theta = network_problem(6, [1, 2, 1], 10)  # K = 7 < QN = 10
    G = random_spd(6, f.dim_out)
    grad_theta = f.vjp(theta, cost.grad(f(theta)))
    expected = -PullbackMetric(f, G).grad(theta, grad_theta)
    flow = AdaptedFlow(f, cost, regime="under", output_metric=G)
    np.testing.assert_allclose(flow(theta), expected, rtol=1e-9, atol=1e-12)
    # independent of PullbackMetric: (5.17) with g = DᵀGD (5.15) solved by LU; g has
    # condition ≤ cond(D)²·cond(G) (gram_inverse_tol with the extra factor cond(G))
    D = f.jacobian(theta)
    literal = -np.linalg.solve(D.T @ G @ D, grad_theta)
    tol = gram_inverse_tol(D, np.linalg.norm(literal)) * np.linalg.cond(G)
    assert np.linalg.norm(flow(theta) - literal) <= tol
    f, cost, theta = network_problem(3, [1, 1, 1], 4)  # K = QN = 4
    G = random_spd(3, 4)
    D = f.jacobian(theta)
    assert cond(D) < 1e4  # D invertible and well conditioned at this seed: rtol 1e-9 has room
    expected = -np.linalg.solve(D, np.linalg.solve(G, cost.grad(f(theta))))
    point = AdaptedFlow(f, cost, output_metric=G).evaluate(theta)
    assert point.regime == "borderline"
    np.testing.assert_allclose(point.velocity, expected, rtol=1e-9)


def test_euclidean_output_metric_is_the_euclidean_flow():
    """None and EuclideanMetric run the paper's code path; G = 1 as a matrix gives the same field."""
    from subriemann.geometry.metrics import ConstantOutputMetric, EuclideanMetric, OutputMetricField

    f, cost, theta = network_problem(2, [2, 6, 2], 3)
    plain = AdaptedFlow(f, cost)
    assert plain.output_metric is None
    assert AdaptedFlow(f, cost, output_metric=EuclideanMetric()).output_metric is None
    v = plain(theta)
    np.testing.assert_array_equal(AdaptedFlow(f, cost, output_metric=EuclideanMetric())(theta), v)
    identity = AdaptedFlow(f, cost, output_metric=ConstantOutputMetric(np.eye(6)))
    assert "output_metric" in repr(identity)
    # L = 1 exactly (Cholesky of the identity): whitening and the triangular solves
    # multiply by 1 and add 0, so LᵀD = D bitwise and the same SVD route follows
    np.testing.assert_array_equal(identity(theta), v)
    # a metric field x ↦ G(x): x′ = −G(x)⁻¹∇ₓC at every point
    field = OutputMetricField(lambda x: np.diag(1.0 + x**2), dim=6)
    x = f(theta)
    np.testing.assert_allclose(
        AdaptedFlow(f, cost, output_metric=field).output_velocity(theta),
        -cost.grad(x) / (1.0 + x**2),
        rtol=1e-12,
    )


def test_output_metric_input_validation():
    f, cost, theta = network_problem(0, [2, 5, 1], 3)
    with pytest.raises(ShapeError, match="R\\^4"):
        AdaptedFlow(f, cost, output_metric=np.eye(4))
    with pytest.raises(InputError, match="positive definite"):
        AdaptedFlow(f, cost, output_metric=-np.eye(3))
    with pytest.raises(InputError, match="output_metric"):
        AdaptedFlow(f, cost, output_metric="weights")
    # output-exact follows the Euclidean law (2.7) only: a clear error naming the ODE methods
    flow = AdaptedFlow(f, cost, output_metric=np.diag([1.0, 2.0, 3.0]))
    with pytest.raises(InputError, match="output-exact.*'rk45'"):
        sr.integrate(flow, theta, 1.0, method="output-exact")
