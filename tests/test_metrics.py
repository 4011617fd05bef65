"""Output metrics, the pullback metric g = DᵀGD (5.15) with grad_g (5.17), and (DDᵀ)⁻¹ (1.22).

Tolerances: g and its solves come from a backward-stable SVD of D̃ = LᵀD, so the
identities hold to O(eps · cond(D)) relative to the sizes involved (a solve
against g would give cond(D)²); we assert ``1e4 · eps · cond`` (dimension
constants, K, QN ≤ 40) and skip points with cond(D) > 1e6.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads
from hypothesis import assume, given
from hypothesis import strategies as st
from problems import network_problem, networks
from tolerances import routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError, RankConditionError, ShapeError
from subriemann.geometry.metrics import (
    ConstantOutputMetric,
    EuclideanMetric,
    OutputMetricField,
    PullbackMetric,
    induced_output_metric,
    standard_output_velocity,
)

EPS = np.finfo(np.float64).eps


def tol(report, scale=1.0):
    return 1e4 * EPS * report.condition_number * scale


# a random underparametrized network (K < QN: one hidden layer of width 1–3), θ and rng
under_networks = networks(
    depth=(1, 1),
    width=(1, 3),
    input_dim=(1, 2),
    output_dim=(1, 2),
    samples=(1, 6),
    activations=("tanh", "sin", "softplus"),
    regime="under",
    input_scale=1.5,
    weight_scale=2.0,
    bias_scale=1.0,
).map(lambda p: (p.f, p.theta, p.rng))


@st.composite
def under_autodiff(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    K = draw(st.integers(1, 5))
    n = draw(st.integers(K + 1, 2 * K + 3))
    A, B = rng.normal(size=(2, n, K))

    def fn(t):
        return anp.dot(A, anp.tanh(t)) + 0.3 * anp.cos(anp.dot(B, t))

    return sr.AutodiffMap(fn, K, n), rng.normal(size=K), rng


under_cases = st.one_of(under_networks, under_autodiff())


def immersion(f, theta, **kw):
    g = PullbackMetric(f, **kw)
    report = g.rank_report(theta)
    assume(report.full_column_rank and report.condition_number < 1e6)
    return g, report


# ---------------------------------------------------------------- output metrics
def test_constant_metric_validation_and_factor():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    G = M @ M.T + np.eye(4)
    metric = ConstantOutputMetric(G)
    L = metric.sqrt()
    assert np.allclose(L @ L.T, G) and np.allclose(L, np.tril(L))
    with pytest.raises(InputError, match="not symmetric"):
        ConstantOutputMetric(G + np.triu(np.ones((4, 4)), 1))
    with pytest.raises(InputError, match="not positive definite.*-1"):
        ConstantOutputMetric(np.diag([1.0, 2.0, -1.0, 3.0]))
    with pytest.raises(ShapeError, match="square"):
        ConstantOutputMetric(np.ones((2, 3)))
    with pytest.raises(sr.NonFiniteError):
        ConstantOutputMetric(np.diag([1.0, np.inf]))


def test_class_weight_metric_is_sample_major():
    data = sr.TrainingData(np.zeros((3, 1)), [1, 0, 1], np.eye(2))
    metric = ConstantOutputMetric.from_class_weights(data, [2.0, 5.0])
    assert np.allclose(np.diag(metric.matrix()), [5, 5, 2, 2, 5, 5])
    assert np.count_nonzero(metric.matrix() - np.diag(np.diag(metric.matrix()))) == 0
    with pytest.raises(InputError, match="positive"):
        ConstantOutputMetric.from_class_weights(data, [1.0, 0.0])
    with pytest.raises(ShapeError):
        ConstantOutputMetric.from_class_weights(data, [1.0, 2.0, 3.0])


def test_metric_field_checks_every_evaluation():
    field = OutputMetricField(lambda x: anp.diag(1.0 - x), 2)
    assert np.allclose(field.sqrt(np.zeros(2)), np.eye(2))
    with pytest.raises(InputError, match="positive definite"):
        field.sqrt(np.array([0.0, 2.0]))
    with pytest.raises(ShapeError, match="returned shape"):
        OutputMetricField(lambda x: anp.eye(3), 2).sqrt(np.zeros(2))
    with pytest.raises(ShapeError, match="R\\^3"):
        PullbackMetric(sr.LinearMap(np.eye(2, 1)), output_metric=np.eye(3))


def test_cholesky_primitive_derivatives():
    """dL from G = LLᵀ: forward (L Φ(L⁻¹dG L⁻ᵀ)) and reverse modes agree with finite differences.

    Through the public route to the Cholesky primitive, ``OutputMetricField.sqrt`` of
    a traced G(x): with G(x) = G0 + Σ_i x_i S_i for random symmetric S_i, check_grads'
    random direction dx is a generic symmetric dG.
    """
    rng = np.random.default_rng(1)
    M = rng.normal(size=(4, 4))
    G0 = M @ M.T + 4 * np.eye(4)
    S = rng.normal(size=(4, 4, 4))
    S = 0.5 * (S + S.transpose(0, 2, 1))
    chol = OutputMetricField(lambda x: G0 + anp.tensordot(x, S, axes=1), 4)
    check_grads(chol.sqrt, modes=["fwd", "rev"], order=1)(0.1 * rng.normal(size=4))
    x, dx = rng.normal(size=(2, 3))
    field = OutputMetricField(lambda x: anp.eye(3) + anp.outer(x, x), 3)
    h = 1e-6
    fd = (field.sqrt(x + h * dx) - field.sqrt(x - h * dx)) / (2 * h)
    assert np.allclose(field.sqrt_derivative(x, dx), fd, atol=1e-7)


# ---------------------------------------------------------------- PullbackMetric
def test_is_a_geomstats_metric_on_parameter_space():
    from geomstats.geometry.euclidean import Euclidean  # after subriemann chose the backend
    from geomstats.geometry.riemannian_metric import RiemannianMetric

    f = sr.LinearMap(np.random.default_rng(0).normal(size=(5, 3)))
    g = PullbackMetric(f)
    assert isinstance(g, RiemannianMetric)
    # ``metric.space.metric is metric`` is PullbackMetric's documented contract
    assert g.space.dim == 3 and g.space.metric is g
    space = Euclidean(3, equip=False)
    on_space = PullbackMetric(f, space=space)
    assert space.metric is on_space and on_space.space is space
    with pytest.raises(InputError, match="Euclidean\\(3\\)"):
        PullbackMetric(f, space=Euclidean(4))


@given(under_cases)
def test_metric_matrix_is_pullback(case):
    """g = DᵀGD (5.15); geomstats' inner_product/norm agree with (Du)ᵀG(Dw)."""
    f, theta, rng = case
    D = f.jacobian(theta)
    for G in (None, np.diag(rng.uniform(0.5, 2.0, f.dim_out))):
        g = PullbackMetric(f, output_metric=G)
        Gm = np.eye(f.dim_out) if G is None else G
        mat = g.metric_matrix(theta)
        assert np.allclose(mat, D.T @ Gm @ D, atol=1e-12 * np.abs(D).max() ** 2 * 2)
        u, w = rng.normal(size=(2, f.dim_in))
        expected = (D @ u) @ Gm @ (D @ w)
        scale = np.linalg.norm(D @ u) * np.linalg.norm(D @ w) * 2
        assert np.isclose(g.inner_product(u, w, theta), expected, atol=1e-12 * scale)
        base = super(PullbackMetric, g).inner_product(u, w, theta)  # geomstats' generic route
        assert np.isclose(base, expected, atol=1e-12 * scale)
        assert np.isclose(g.norm(u, theta) ** 2, (D @ u) @ Gm @ (D @ u), rtol=1e-10)


def test_metric_matrix_batch_convention():
    rng = np.random.default_rng(0)
    f = sr.LinearMap(rng.normal(size=(5, 3)))
    g = PullbackMetric(f)
    thetas = rng.normal(size=(2, 4, 3))
    assert g.metric_matrix(thetas).shape == (2, 4, 3, 3)
    assert g.cometric_matrix(thetas).shape == (2, 4, 3, 3)
    u = rng.normal(size=(4, 3))
    assert g.inner_product(u, u, thetas[0]).shape == (4,)
    assert g.grad(thetas, rng.normal(size=(2, 4, 3))).shape == (2, 4, 3)


@given(under_cases)
def test_grad_g_solves_metric_equation(case):
    """g·grad_g = ∇ (5.16)–(5.17), and D·grad_g C = 𝒫∇ₓC (5.3)–(5.4)."""
    f, theta, rng = case
    g, report = immersion(f, theta)
    cov = rng.normal(size=f.dim_in)
    gr = g.grad(theta, cov)
    # the residual g·grad − ∇ of even the exactly rounded solution is ~eps·σ_max²·|grad|
    # = eps·cond²·|∇|: this identity is checked at cond², the push-forward below at cond
    residual_scale = report.condition_number * np.linalg.norm(cov)
    D = f.jacobian(theta)
    assert np.allclose(g.metric_matrix(theta) @ gr, cov, atol=tol(report, residual_scale))
    assert np.allclose((D.T @ D) @ gr, cov, atol=tol(report, residual_scale))  # g = DᵀD (5.15)
    grad_x = rng.normal(size=f.dim_out)
    Qd = np.linalg.qr(D)[0]  # D has full column rank here (an immersion): range D = range Qd
    calP = Qd @ Qd.T
    push = D @ g.grad(theta, f.vjp(theta, grad_x))
    assert np.allclose(push, calP @ grad_x, atol=tol(report, np.linalg.norm(grad_x)))
    assert np.allclose(
        g.cometric_matrix(theta) @ g.metric_matrix(theta),
        np.eye(f.dim_in),
        atol=tol(report, report.condition_number),
    )


@given(under_cases)
def test_grad_g_with_output_metric(case):
    """For G: g = DᵀGD and g·grad_g = ∇ still; D·grad_g C is the G-orthogonal projection of G⁻¹∇ₓC."""
    f, theta, rng = case
    Gd = rng.uniform(0.5, 2.0, f.dim_out)
    g, report = immersion(f, theta, output_metric=np.diag(Gd))
    grad_x = rng.normal(size=f.dim_out)
    D = f.jacobian(theta)
    v = D @ g.grad(theta, D.T @ grad_x)
    # Dv is the G-orthogonal projection of G⁻¹∇ₓC onto range D: Dᵀ G (v − G⁻¹∇ₓC) = 0
    residual = D.T @ (Gd * v - grad_x)
    assert np.allclose(
        residual, 0.0, atol=tol(report, np.abs(D).max() * np.linalg.norm(grad_x) * 4)
    )


def test_christoffels_match_closed_form():
    """Γ^k_ij = (g⁻¹ Dᵀ ∂²f/∂θ_i∂θ_j)_k for g = DᵀD: geomstats differentiates our metric_matrix."""
    rng = np.random.default_rng(0)
    net = sr.MLP([2, 2, 1])
    f = sr.NetworkMap(net, rng.normal(size=(12, 2)))
    theta = net.init(0, weight_scale=2.0, bias_scale=1.0)
    g = PullbackMetric(f)
    report = g.rank_report(theta)
    assert report.full_column_rank
    gamma = g.christoffels(theta)
    D = f.jacobian(theta)
    hess = np.stack([f.jacobian_derivative(theta, e) for e in np.eye(net.K)], axis=1)  # (QN, K, K)
    ref = np.einsum("kl,al,aij->kij", g.cometric_matrix(theta), D, hess)
    assert np.allclose(gamma, ref, atol=1e4 * EPS * report.condition_number**2 * np.abs(ref).max())
    # geomstats' geodesic solver runs on top of it: exp_θ(v) = θ + v − ½Γ(v, v) + O(|v|³);
    # with |v| = 1e-5 and |Γ| ~ 1e3 the quadratic term is ~1e-7, the cubic ~1e-9 and
    # the Euler error of 100 steps ~1e-9, so 20 % of the quadratic term is a real check
    v = 1e-5 * rng.normal(size=net.K)
    quad = -0.5 * np.einsum("kij,i,j->k", ref, v, v)
    end = g.exp(v, theta)
    assert end.shape == (net.K,)
    assert np.linalg.norm(end - (theta + v + quad)) <= 0.2 * np.linalg.norm(quad)


def test_rank_deficient_map_raises_pointing_to_bundle():
    """rank D < K: g is degenerate (not an immersion, (5.1)); the error says what to use."""
    net = sr.MLP([2, 4, 2])
    f = sr.NetworkMap(net, np.random.default_rng(0).normal(size=(3, 2)))  # K = 22 > QN = 6
    g = PullbackMetric(f)
    theta = net.init(0)
    assert g.rank_report(theta).rank == 6
    with pytest.raises(RankConditionError, match="PullbackBundle") as info:
        g.grad(theta, np.ones(net.K))
    assert "rank D = 6" in str(info.value) and "K = 22" in str(info.value)
    with pytest.raises(RankConditionError):
        g.cometric_matrix(theta)
    assert np.all(np.isfinite(g.metric_matrix(theta)))  # g itself is well defined (semi-definite)


# ---------------------------------------------------------------- standard flow's output metric
@pytest.mark.parametrize("seed", range(4))
def test_standard_output_velocity(seed):
    """x' = −DDᵀ∇ₓC (1.22) is the push-forward of −∇_θC and the gradient for (DDᵀ)⁻¹."""
    f, cost, theta = network_problem(seed, [2, 5, 2] if seed % 2 else [2, 2, 2], 3)
    v = standard_output_velocity(f, cost, theta)
    x, D = f.value_and_jacobian(theta)
    # two routes to −DDᵀ∇ₓC (the package's vs the explicit product with numpy's D): each a
    # product of ≤ max(QN, K)-term sums, so they agree to k·eps·|D|²|∇ₓC| with
    # k = 4·max(QN, K) (routes_agree_tol)
    tol = routes_agree_tol(
        np.linalg.norm(D, 2) ** 2 * np.linalg.norm(cost.grad(x)), k=4 * max(D.shape)
    )
    assert np.linalg.norm(v + D @ (D.T @ cost.grad(x))) <= tol  # (1.22) written out
    svd = sr.JacobianSVD(D)
    Ginv = induced_output_metric(f, theta)
    # 𝒫 from numpy's SVD of D (independent of the package's rank decisions)
    U = np.linalg.svd(D)[0]
    r = np.linalg.matrix_rank(D)
    calP = U[:, :r] @ U[:, :r].T
    # G_ind · x' = −𝒫∇ₓC: x' is the G_ind-gradient (on range 𝒫 when D has rank loss)
    assert np.allclose(Ginv @ v, -calP @ cost.grad(x), atol=1e-8)
    if svd.report.full_row_rank:
        assert np.allclose(
            Ginv @ (D @ D.T), np.eye(6), atol=1e4 * EPS * svd.report.condition_number**2
        )


def test_euclidean_metric_is_identity():
    m = EuclideanMetric()
    D = np.arange(6.0).reshape(2, 3)
    assert m.whiten(D, None) is D
    assert np.allclose(m.matrix(np.zeros(4)), np.eye(4))
