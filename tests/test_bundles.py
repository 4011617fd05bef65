"""The pullback bundle V = f*TN of §2.3: frame, projector, h, grad_h, brackets, O'Neill.

Each test states an identity of the paper for random networks (hypothesis over
architectures, inputs and seeds) or for AutodiffMaps.  Tolerances: every object
is computed from a backward-stable SVD of D, so identities hold to
O(eps · cond(D)) relative to the sizes involved; we assert ``TOL_FACTOR · eps ·
cond`` with TOL_FACTOR = 1e4 covering the dimension-dependent constants
(K, QN ≤ 60 here), and skip points with cond(D) > 1e7 (there the bound is
1e-5, too loose to be a statement).
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from problems import networks
from tolerances import gram_inverse_tol, routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError, ShapeError
from subriemann.geometry.bundles import BundleFiber, PullbackBundle
from subriemann.geometry.metrics import ConstantOutputMetric, OutputMetricField, PullbackMetric

EPS = np.finfo(np.float64).eps
TOL_FACTOR = 1e4
ACTIVATIONS = ["tanh", "sin", "softplus", "silu"]


def tol(report, scale=1.0):
    return TOL_FACTOR * EPS * report.condition_number * scale


def over_networks(max_qn=8):
    """A random overparametrized network f: R^K -> R^{QN} (K >= 2 QN, QN <= max_qn), θ and rng."""
    return networks(
        depth=(1, 2),
        width=(2, 5),
        input_dim=(1, 3),
        output_dim=(1, 2),
        samples=(1, max_qn),
        activations=ACTIVATIONS,
        regime="over",
        min_ratio=2.0,
        max_outputs=max_qn,
        weight_scale=1.5,
        bias_scale=0.5,
    ).map(lambda p: (p.f, p.theta, p.rng))


def autodiff_map(rng, K, n):
    """A nonlinear AutodiffMap R^K -> R^n with a random, full-rank Jacobian."""
    A = rng.normal(size=(n, K))
    B = rng.normal(size=(n, K)) / np.sqrt(K)

    def fn(t):
        return anp.dot(A, anp.tanh(t)) + anp.sin(anp.dot(B, t)) ** 2

    return sr.AutodiffMap(fn, K, n)


@st.composite
def autodiff_cases(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 5))
    K = draw(st.integers(n + 1, 3 * n + 2))
    return autodiff_map(rng, K, n), rng.normal(size=K), rng


cases = st.one_of(over_networks(), autodiff_cases())


def full_rank_fiber(f, theta, **kw):
    fiber = PullbackBundle(f, **kw).at(theta)
    assume(fiber.full_rank and fiber.report.condition_number < 1e7)
    return fiber


# ---------------------------------------------------------------- projector, Pen
@given(cases)
def test_projector_is_orthogonal_projection(case):
    """P = P² = Pᵀ (1.25), and Pen·D = P."""
    f, theta, _ = case
    fiber = full_rank_fiber(f, theta)
    P = fiber.projector()
    t = tol(fiber.report)
    assert np.allclose(P, P @ P, atol=t)
    assert np.allclose(P, P.T, atol=t)
    assert np.allclose(fiber.frame() @ fiber.D, P, atol=t)
    assert np.isclose(np.trace(P), f.dim_out, atol=1e-8)  # rank P = QN


@given(cases)
def test_pen_is_right_inverse(case):
    """D·Pen[D] = 1 when rank D = QN (1.24)."""
    f, theta, _ = case
    fiber = full_rank_fiber(f, theta)
    assert np.allclose(fiber.D @ fiber.frame(), np.eye(f.dim_out), atol=tol(fiber.report))


@given(cases)
def test_frame_is_h_orthonormal(case):
    """h(u_i, u_j) = δ_ij for the frame columns u_i = Pen[D]e_i (2.22)."""
    f, theta, _ = case
    fiber = full_rank_fiber(f, theta)
    U = fiber.frame().T  # rows are the u_i
    H = np.array([[fiber.inner_product(a, b) for b in U] for a in U])
    assert np.allclose(H, np.eye(f.dim_out), atol=tol(fiber.report))
    # inner_product is (2.22) h(u, w) = (Du)·(Dw), checked against the product written out
    D = fiber.D
    assert np.allclose(H, (D @ U.T).T @ (D @ U.T), atol=tol(fiber.report))


# ---------------------------------------------------------------- grad_h
@given(cases)
def test_grad_h_is_horizontal_and_pushes_forward_to_euclidean_gradient(case):
    """grad_h C ∈ range P (Prop 2.4) and D·grad_h C = ∇ₓC (1.28), Theorem 2.1."""
    f, theta, rng = case
    fiber = full_rank_fiber(f, theta)
    cost = sr.L2Cost(rng.normal(size=f.dim_out), n_samples=1)
    grad_x = cost.grad(f(theta))
    g = PullbackBundle(f).grad(theta, f.vjp(theta, grad_x))
    scale = np.linalg.norm(grad_x)
    assert np.allclose(fiber.projector() @ g, g, atol=tol(fiber.report, np.linalg.norm(g)))
    # horizontal against an independent basis of range Dᵀ (numpy's QR of Dᵀ)
    basis = np.linalg.qr(fiber.D.T)[0]
    assert np.allclose(basis @ (basis.T @ g), g, atol=tol(fiber.report, np.linalg.norm(g)))
    assert np.allclose(fiber.D @ g, grad_x, atol=tol(fiber.report, scale))


@given(cases)
def test_grad_h_defining_property(case):
    """dF(V) = h(V, grad_h F) for every V ∈ V_θ (2.23), with the paper's formula (2.30)."""
    f, theta, rng = case
    fiber = full_rank_fiber(f, theta)
    covector = rng.normal(size=f.dim_in)  # any ∇_θF, not only Dᵀ∇ₓC
    g = fiber.grad(covector)
    V = fiber.frame() @ rng.normal(size=(f.dim_out, 3))  # three sections' values in V_θ
    D = f.jacobian(theta)
    for v in V.T:
        assert np.isclose(covector @ v, fiber.inner_product(v, g), atol=tol(fiber.report, 10.0))
        # h(V, grad_h F) = (DV)·(D grad_h F) (2.22), written out: independent of inner_product
        assert np.isclose(covector @ v, (D @ v) @ (D @ g), atol=tol(fiber.report, 10.0))
    # (2.30) with Pen = Dᵀ(DDᵀ)⁻¹ from numpy's pinv (its own SVD), not the package's frame
    Pen = np.linalg.pinv(D)
    assert np.allclose(g, Pen @ (Pen.T @ covector), atol=tol(fiber.report, np.linalg.norm(g)))


def test_grad_h_batch_convention():
    rng = np.random.default_rng(3)
    f = autodiff_map(rng, 7, 3)
    V = PullbackBundle(f)
    thetas, covs = rng.normal(size=(2, 4, 7))
    out = V.grad(thetas, covs)
    assert out.shape == (4, 7)
    for t, c, o in zip(thetas, covs, out, strict=True):
        # batch and single calls are two routes to Ṽ Σ̃⁻² Ṽᵀ∇ (a cond(D)² operator):
        # they may block the products differently, so gram_inverse_tol; a mixed-up
        # batch index would be an O(|o|) error
        assert np.linalg.norm(o - V.grad(t, c)) <= gram_inverse_tol(
            f.jacobian(t), np.linalg.norm(o)
        )
    assert V.frame(thetas.reshape(2, 2, 7)).shape == (2, 2, 7, 3)


def test_borderline_gradients_coincide():
    """K = QN: grad_h = grad_g = D⁻¹D⁻ᵀ∇ (6.1)–(6.3)."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        f = autodiff_map(rng, 5, 5)
        theta, cov = rng.normal(size=(2, 5))
        gh = PullbackBundle(f).grad(theta, cov)
        gg = PullbackMetric(f).grad(theta, cov)
        D = f.jacobian(theta)
        literal = np.linalg.solve(D, np.linalg.solve(D.T, cov))  # (6.2), D invertible
        cond = np.linalg.cond(D)
        scale = np.linalg.norm(literal)
        assert np.allclose(gh, gg, atol=TOL_FACTOR * EPS * cond**2 * scale)
        assert np.allclose(gh, literal, atol=TOL_FACTOR * EPS * cond**2 * scale)
        assert np.allclose(PullbackBundle(f).projector(theta), np.eye(5), atol=1e-10)


def test_borderline_network():
    """The same on a network with K = QN: MLP [1, 2, 1] has K = 7; take N = 7 inputs."""
    net = sr.MLP([1, 2, 1])
    rng = np.random.default_rng(0)
    f = sr.NetworkMap(net, np.linspace(-2, 2, 7)[:, None])
    theta = net.init(0, weight_scale=2.0, bias_scale=1.0)
    cov = rng.normal(size=7)
    fiber = PullbackBundle(f).at(theta)
    assert fiber.full_rank
    gh, gg = fiber.grad(cov), PullbackMetric(f).grad(theta, cov)
    assert np.allclose(gh, gg, atol=tol(fiber.report, fiber.report.condition_number * 10))


# ---------------------------------------------------------------- geomstats sub-Riemannian
@given(cases)
def test_sr_sharp_equals_grad_h(case):
    """geomstats SubRiemannianMetric(frame=Pen) has sr_sharp == grad_h."""
    f, theta, rng = case
    V = PullbackBundle(f)
    srm = V.sub_riemannian_metric()
    p = rng.normal(size=f.dim_in)
    g = V.grad(theta, p)
    assert np.allclose(srm.sr_sharp(theta, p), g, atol=1e-9 * (1 + np.linalg.norm(g)))
    # and it is Pen Penᵀp with numpy's pinv of D (2.30), not only the package's own grad_h
    Pen = np.linalg.pinv(f.jacobian(theta))
    assert np.allclose(
        srm.sr_sharp(theta, p), Pen @ (Pen.T @ p), atol=1e-9 * (1 + np.linalg.norm(g))
    )


def test_sub_riemannian_geodesic_runs_on_a_network():
    """geomstats' Hamiltonian (normal) geodesic on (R^K, V, h) for a tiny network.

    Along a normal geodesic the Hamiltonian ½|Penᵀp|² is conserved; symplectic
    Euler with 40 steps of a short geodesic conserves it to O(step).
    """
    net = sr.MLP([1, 3, 1])
    f = sr.NetworkMap(net, np.array([[-1.0], [0.5]]))
    V = PullbackBundle(f)
    srm = V.sub_riemannian_metric()
    theta = net.init(1)
    p0 = 0.1 * np.random.default_rng(1).normal(size=net.K)
    path = srm.geodesic(theta, p0, n_steps=40)(np.linspace(0.0, 1.0, 3))
    assert path.shape == (3, net.K)
    assert np.all(np.isfinite(path))
    assert np.allclose(path[0], theta)
    assert not np.allclose(path[-1], theta)
    # the geodesic's velocity is horizontal, so x moves; energy conservation
    flow = srm.symp_flow(srm.hamiltonian, end_time=1.0, n_steps=40)
    states = flow(np.stack([theta, p0]))
    H = [float(srm.hamiltonian(s)) for s in states]
    assert abs(H[-1] - H[0]) <= 0.05 * H[0]


# ---------------------------------------------------------------- general output metric
def spd(rng, n):
    M = rng.normal(size=(n, n))
    return M @ M.T + n * np.eye(n)


def metric_field(n):
    def G(x):
        return anp.eye(n) * (1.0 + anp.sum(x**2)) + 0.3 * anp.outer(anp.sin(x), anp.sin(x))

    return OutputMetricField(G, n)


@given(cases)
def test_non_euclidean_output_metric(case):
    """For G = LLᵀ: frame is h-orthonormal in G, D·grad_h C = G⁻¹∇ₓC, grad_h = Pen G⁻¹ Penᵀ∇."""
    f, theta, rng = case
    n = f.dim_out
    for metric in (ConstantOutputMetric(spd(rng, n)), metric_field(n)):
        fiber = full_rank_fiber(f, theta, output_metric=metric)
        G = metric.matrix(f(theta))
        U, D = fiber.frame(), fiber.D
        t = tol(fiber.report, np.linalg.cond(G))
        assert np.allclose(U.T @ D.T @ G @ D @ U, np.eye(n), atol=t)
        grad_x = rng.normal(size=n)
        g = fiber.grad(f.vjp(theta, grad_x))
        target = np.linalg.solve(G, grad_x)
        assert np.allclose(D @ g, target, atol=t * np.linalg.norm(target))
        Pen = PullbackBundle(f).at(theta).frame()  # Euclidean Pen[D]
        literal = Pen @ np.linalg.solve(G, Pen.T @ f.vjp(theta, grad_x))
        assert np.allclose(g, literal, atol=t * np.linalg.norm(literal))
        # V itself does not depend on G: same projector
        assert np.allclose(fiber.projector(), PullbackBundle(f).projector(theta), atol=t)


def test_output_metric_dimension_checked():
    f = autodiff_map(np.random.default_rng(0), 5, 3)
    with pytest.raises(ShapeError, match="R\\^4"):
        PullbackBundle(f, output_metric=np.eye(4))
    with pytest.raises(InputError, match="symmetric"):
        PullbackBundle(f, output_metric=np.triu(np.ones((3, 3))))


# ---------------------------------------------------------------- rank loss
def duplicated_inputs_case(seed):
    """Two identical inputs: rows of D repeat, rank D ≤ Q(N − 1) < QN."""
    rng = np.random.default_rng(seed)
    net = sr.MLP([2, 5, 2])
    X = rng.normal(size=(3, 2))
    X[2] = X[0]
    f = sr.NetworkMap(net, X)
    return f, net.init(seed), rng


@pytest.mark.parametrize("seed", range(4))
def test_rank_loss_is_least_squares_and_reported(seed):
    """rank D < QN: grad_h C = D⁺∇ₓC (4.5)–(4.10), finite; D·grad_h C = 𝒫∇ₓC (4.7)."""
    f, theta, rng = duplicated_inputs_case(seed)
    V = PullbackBundle(f)
    report = V.rank_report(theta)
    assert report.rank == 4 and not report.full_row_rank
    assert report.sigma_min <= report.tolerance < report.sigma_min_kept
    grad_x = rng.normal(size=f.dim_out)  # generic: not in range D
    g = V.grad(theta, f.vjp(theta, grad_x))
    assert np.all(np.isfinite(g))
    D = f.jacobian(theta)
    lstsq = np.linalg.lstsq(D, grad_x, rcond=None)[0]  # min-norm least squares
    assert np.allclose(g, lstsq, atol=1e-8 * np.linalg.norm(lstsq))
    calP = V.at(theta).svd.range_projector()
    assert np.allclose(D @ g, calP @ grad_x, atol=1e-9)
    assert not np.allclose(D @ g, grad_x, atol=1e-3)  # the constraint is real
    U = V.frame(theta)
    assert np.all(np.isfinite(U)) and np.linalg.matrix_rank(U) == 4
    assert np.all(np.isfinite(V.frame_brackets(theta)))


def test_rank_policy_override_changes_reported_rank():
    """A looser relative tolerance truncates small singular values, and says so."""
    rng = np.random.default_rng(0)
    s = np.array([1.0, 1e-3, 1e-9])
    A = (
        np.linalg.qr(rng.normal(size=(3, 3)))[0]
        @ np.diag(s)
        @ np.linalg.qr(rng.normal(size=(6, 6)))[0][:3]
    )
    f = sr.LinearMap(A)
    assert PullbackBundle(f).rank_report(np.zeros(6)).rank == 3
    loose = PullbackBundle(f, rank_policy=sr.RankPolicy(rtol=1e-6))
    report = loose.rank_report(np.zeros(6))
    assert report.rank == 2 and np.isclose(report.sigma_min_kept, 1e-3)


# ---------------------------------------------------------------- frame brackets
@given(over_networks(max_qn=4))
def test_frame_brackets_vertical_and_antisymmetric(case):
    """[u_i, u_j] = −[u_j, u_i] and D[u_i, u_j] = 0 (u_i f-related to ∂_i)."""
    f, theta, _ = case
    fiber = full_rank_fiber(f, theta)
    B = fiber.frame_brackets()
    n = f.dim_out
    assert B.shape == (n, n, f.dim_in)
    # exact by construction: B = S − Sᵀ and IEEE subtraction is antisymmetric, a ⊖ b = −(b ⊖ a)
    assert np.allclose(B, -B.transpose(1, 0, 2), atol=0.0)
    scale = np.abs(fiber.frame_derivatives()).max() * np.abs(fiber.D).max()
    assert np.abs(np.einsum("ak,ijk->ija", fiber.D, B)).max() <= tol(fiber.report, scale)


def autograd_brackets(V, theta):
    """Reference: differentiate the traceable frame with autograd (reverse mode)."""
    U = V.frame(theta)
    n = U.shape[1]
    J = [autograd.jacobian(lambda t, i=i: V.frame(t)[:, i])(theta) for i in range(n)]
    return np.array([[J[j] @ U[:, i] - J[i] @ U[:, j] for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", ["euclidean", "constant", "field"])
def test_frame_brackets_match_autograd(seed, kind):
    """Closed-form brackets (QN jacobian_derivative calls) = autograd through the frame."""
    rng = np.random.default_rng(seed)
    net = sr.MLP([2, 3, 2], activation=["tanh", "sin", "softplus"][seed])
    f = sr.NetworkMap(net, rng.normal(size=(2, 2)))
    theta = net.init(seed)
    metric = {"euclidean": None, "constant": spd(rng, 4), "field": metric_field(4)}[kind]
    V = PullbackBundle(f, output_metric=metric)
    f.counts.clear()
    B = V.frame_brackets(theta)
    assert f.counts["jacobian_derivative"] == f.dim_out
    assert f.counts["jacobian"] + f.counts["value"] <= 2  # one Jacobian (and value if G(x))
    ref = autograd_brackets(V, theta)
    assert np.allclose(B, ref, atol=1e-10 * (1 + np.abs(ref).max()))
    assert np.abs(B).max() > 1e-3  # non-integrable: the test compares non-trivial brackets
    D = f.jacobian(theta)
    DB = np.abs(np.einsum("ak,ijk->ija", D, B)).max()
    if kind == "field":
        assert DB > 1e-4  # u_i are f-related to the non-constant fields L⁻ᵀe_i
    else:
        assert DB < 1e-10


def test_frame_brackets_match_autograd_for_autodiff_map():
    rng = np.random.default_rng(7)
    f = autodiff_map(rng, 6, 3)
    theta = rng.normal(size=6)
    V = PullbackBundle(f)
    ref = autograd_brackets(V, theta)
    assert np.allclose(V.frame_brackets(theta), ref, atol=1e-10 * (1 + np.abs(ref).max()))


def test_linear_map_bundle_is_integrable():
    """f = A θ: V = range Aᵀ is constant, so every bracket vanishes."""
    A = np.random.default_rng(0).normal(size=(3, 7))
    V = PullbackBundle(sr.LinearMap(A))
    # exact by construction: LinearMap's dD ≡ 0 is a structural zero, and every
    # term of the bracket formula is a product with it
    assert np.abs(V.frame_brackets(np.ones(7))).max() == 0.0


def test_traceable_frame_forward_mode_matches_reverse():
    from autograd.differential_operators import make_jvp

    rng = np.random.default_rng(2)
    net = sr.MLP([2, 3, 1])
    f = sr.NetworkMap(net, rng.normal(size=(3, 2)))
    V = PullbackBundle(f)
    theta, v = net.init(2), rng.normal(size=net.K)
    fwd = make_jvp(V.frame)(theta)(v)[1]
    rev = np.einsum("ijk,k->ij", autograd.jacobian(V.frame)(theta), v)
    assert np.allclose(fwd, rev, atol=1e-12 * (1 + np.abs(rev).max()))
    h = 1e-6
    fd = (V.frame(theta + h * v) - V.frame(theta - h * v)) / (2 * h)
    assert np.allclose(fwd, fd, atol=1e-6 * (1 + np.abs(fwd).max()))


# ---------------------------------------------------------------- FiberBundle / O'Neill
@given(cases)
def test_fiber_bundle_projections(case):
    """vertical + horizontal = id, vertical ⊂ ker D, lift is a horizontal right inverse of D."""
    from geomstats.geometry.fiber_bundle import FiberBundle  # after subriemann chose the backend

    f, theta, rng = case
    V = PullbackBundle(f)
    assert isinstance(V, FiberBundle)
    fiber = full_rank_fiber(f, theta)
    v = rng.normal(size=(3, f.dim_in))
    ver, hor = V.vertical_projection(v, theta), V.horizontal_projection(v, theta)
    t = tol(fiber.report, np.abs(v).max())
    assert np.allclose(ver + hor, v, atol=t)
    assert np.allclose(V.tangent_riemannian_submersion(ver, theta), 0.0, atol=t * 10)
    # (2.32): the vertical part lies in ker D, checked with the Jacobian itself
    assert np.allclose(ver @ fiber.D.T, 0.0, atol=t * 10 * np.linalg.norm(fiber.D, 2))
    assert np.all(V.is_vertical(ver, theta)) and np.all(V.is_horizontal(hor, theta))
    assert not np.any(V.is_vertical(hor, theta)) and not np.any(V.is_horizontal(ver, theta))
    w = rng.normal(size=f.dim_out)
    lift = V.horizontal_lift(w, fiber_point=theta)
    assert np.allclose(f.jvp(theta, lift), w, atol=t * np.linalg.norm(lift))
    assert V.is_horizontal(lift, theta)
    assert np.allclose(V.riemannian_submersion(theta), f(theta))


def test_horizontal_lift_needs_fiber_point():
    V = PullbackBundle(sr.LinearMap(np.eye(2, 3)))
    with pytest.raises(InputError, match="fiber_point"):
        V.horizontal_lift(np.ones(2), base_point=np.ones(2))


def lifted_field(V, fixed_theta, X):
    """θ' ↦ Pen[D̃(θ')]·a with a = D̃(θ)X fixed: the basic horizontal extension of hor X."""
    a = V.at(fixed_theta).D_whitened @ X
    return lambda t: anp.dot(V.frame(t), a)


@pytest.mark.parametrize("seed", range(3))
def test_integrability_tensor_is_half_vertical_bracket(seed):
    """A_X Y = ½ ver[X̃, Ỹ] for horizontal X, Y (O'Neill), and A_X Y = −A_Y X."""
    rng = np.random.default_rng(seed)
    net = sr.MLP([2, 4, 1])
    f = sr.NetworkMap(net, rng.normal(size=(3, 2)))
    V = PullbackBundle(f)
    theta = net.init(seed)
    X, Y = V.horizontal_projection(rng.normal(size=(2, net.K)), theta)
    Xf, Yf = lifted_field(V, theta, X), lifted_field(V, theta, Y)
    bracket = autograd.jacobian(Yf)(theta) @ X - autograd.jacobian(Xf)(theta) @ Y
    expected = 0.5 * V.vertical_projection(bracket, theta)
    A_XY = V.integrability_tensor(X, Y, theta)
    assert np.allclose(A_XY, expected, atol=1e-10 * (1 + np.abs(expected).max()))
    assert np.linalg.norm(A_XY) > 1e-3
    # A_X Y = ½Σ a_i b_j ver[u_i, u_j] is a bilinear sum; swapping X, Y (or adding a
    # vertical Z, which D̃ maps to round-off) re-orders / perturbs its terms, so the
    # routes agree to k·eps·(size of the terms) with S = ½|D̃|²|X||Y||B| and
    # k = 16 (routes_agree_tol); a symmetric part or a dependence on ver X would
    # be O(|A_X Y|) ≥ 1e-3
    B, sD = V.at(theta).frame_brackets(), np.linalg.norm(V.at(theta).D_whitened, 2)
    Z = V.vertical_projection(rng.normal(size=net.K), theta)
    S = 0.5 * sD**2 * np.linalg.norm(X + Z) * np.linalg.norm(Y) * np.linalg.norm(B)
    assert np.allclose(A_XY, -V.integrability_tensor(Y, X, theta), rtol=0, atol=routes_agree_tol(S))
    assert V.is_vertical(A_XY, theta)
    # only the horizontal part of X matters
    A_XZ_Y = V.integrability_tensor(X + Z, Y, theta)
    assert np.allclose(A_XZ_Y, A_XY, rtol=0, atol=routes_agree_tol(S))


@pytest.mark.parametrize("seed", range(3))
def test_integrability_tensor_skew_symmetry(seed):
    """ĝ(A_X Y, E) = −ĝ(Y, A_X E) for X, Y horizontal, E vertical (ĝ = h on V ⊕ Euclid on ker D)."""
    rng = np.random.default_rng(seed)
    net = sr.MLP([1, 4, 2])
    f = sr.NetworkMap(net, rng.normal(size=(2, 1)))
    metric = spd(rng, 4) if seed == 2 else None
    V = PullbackBundle(f, output_metric=metric)
    theta = net.init(seed)
    fiber = V.at(theta)
    X, Y = V.horizontal_projection(rng.normal(size=(2, net.K)), theta)
    E = V.vertical_projection(rng.normal(size=net.K), theta)
    A_XY = V.integrability_tensor(X, Y, theta)  # vertical
    A_XE = V.integrability_tensor(X, E, theta)  # horizontal
    assert V.is_horizontal(A_XE, theta)
    lhs = A_XY @ E  # Euclidean on vertical vectors
    rhs = -fiber.inner_product(Y, A_XE)  # h on horizontal vectors
    assert abs(lhs) > 1e-4
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-12)


def test_integrable_bundle_has_zero_tensor():
    """QN = 1: V has rank one, is integrable (§2.4), and A ≡ 0."""
    net = sr.MLP([2, 3, 1])
    rng = np.random.default_rng(0)
    f = sr.NetworkMap(net, rng.normal(size=(1, 2)))
    V = PullbackBundle(f)
    theta = net.init(0)
    X, Y = rng.normal(size=(2, net.K))
    # exact by construction, not a round-off-sized claim: with QN = 1 the only bracket
    # is B[0, 0] = S[0, 0] ⊖ S[0, 0] = 0 exactly, and A is a sum of products with it
    # (a non-integrable V, QN ≥ 2, gives |A| ~ 0.1: see the test above)
    assert np.abs(V.integrability_tensor(X, Y, theta)).max() == 0.0


# ---------------------------------------------------------------- fiber object, distribution, errors
def test_fiber_shares_one_jacobian():
    rng = np.random.default_rng(0)
    net = sr.MLP([2, 4, 2])
    f = sr.NetworkMap(net, rng.normal(size=(3, 2)))
    fiber = PullbackBundle(f).at(net.init(0))
    assert isinstance(fiber, BundleFiber)
    f.counts.clear()
    fiber.frame(), fiber.projector(), fiber.grad(np.ones(net.K)), fiber.report
    fiber.vertical_projection(np.ones(net.K)), fiber.inner_product(np.ones(net.K), np.ones(net.K))
    assert sum(f.counts.values()) == 0


def test_distribution_uses_closed_form_brackets():
    from subriemann.distributions.frame import Distribution

    rng = np.random.default_rng(0)
    net = sr.MLP([2, 4, 2])
    f = sr.NetworkMap(net, rng.normal(size=(3, 2)))
    V = PullbackBundle(f)
    theta = net.init(0)
    dist = V.distribution()
    assert isinstance(dist, Distribution) and dist.bracket_route == "supplied"
    report = dist.frobenius_defect(theta)
    assert report.rank == 6 and not report.is_involutive
    # Ω in a Euclidean-orthonormal basis e_a = Σ_i u_i C_ia of V, C = ŨΣ (Pen = ṼΣ⁻¹Ũᵀ);
    # the brackets are vertical, so Ω_ab = Σ C_ia C_jb [u_i, u_j]
    fiber = V.at(theta)
    C = fiber.svd.U * fiber.svd.s
    omega = np.einsum("ia,jb,ijk->abk", C, C, fiber.frame_brackets())
    iu = np.triu_indices(6, 1)  # Ω is antisymmetric: the report counts pairs a < b once
    assert np.isclose(report.curvature_norm, np.linalg.norm(omega[iu]), rtol=1e-8)


def test_bad_inputs():
    with pytest.raises(InputError, match="SmoothMap"):
        PullbackBundle(lambda t: t)
    V = PullbackBundle(sr.LinearMap(np.eye(2, 3)))
    with pytest.raises(ShapeError, match="theta"):
        V.frame(np.ones(4))
    with pytest.raises(InputError, match="traced"):
        autograd.grad(lambda t: anp.sum(V.projector(t)))(np.ones(3))
    with pytest.raises(sr.NonFiniteError):
        V.grad(np.ones(3), np.array([1.0, np.nan, 0.0]))
    overflowing = sr.AutodiffMap(lambda t: anp.exp(1e3 * t[:2]), 3, 2)
    with pytest.raises(sr.NumericalError, match="NaN or inf"), np.errstate(all="ignore"):
        PullbackBundle(overflowing).at(np.ones(3))


# ------------------------------------------- the batched Golub–Pereyra route of the brackets
@given(over_networks(max_qn=6), st.sampled_from(["euclidean", "constant", "field"]))
def test_frame_derivatives_are_golub_pereyra_column_by_column(case, kind):
    """S[i, j] = ∇_{u_i}u_j = dPen[u_i]e_j, with dPen from the literal Golub–Pereyra formula.

    The fiber writes S[i] = dPen[u_i]ᵀ in place from the factors of D̃ (three products
    per field); the reference evaluates linalg.pseudo_inverse_derivative(D̃, D̃⁺, dD̃[u_i])
    (products with D̃ and D̃⁺) one column at a time.  The same formula associated
    differently: agreement to round-off.  Each Golub–Pereyra term is bounded by
    |dD̃|·|D̃⁺|², and D̃⁺ carries a relative error ~eps·cond(D̃), so the two associations
    differ by ≲ eps·cond·|dD̃|·|D̃⁺|² — which can exceed eps·cond·|S| when the terms cancel
    (S small against them).  Observed ≤ 140·eps·cond relative to that scale over 400 draws;
    the bound used is the module's 1e4·eps·cond.
    """
    from subriemann.linalg import pseudo_inverse_derivative

    f, theta, rng = case
    n = f.dim_out
    metric = {"euclidean": None, "constant": spd(rng, n), "field": metric_field(n)}[kind]
    fiber = full_rank_fiber(f, theta, output_metric=metric)
    S = fiber.frame_derivatives()
    assert S.shape == (n, n, f.dim_in) and S.flags.c_contiguous
    out_metric, Dw, U = fiber.bundle.output_metric, fiber.D_whitened, fiber.frame()
    for i in range(n):
        dD = f.jacobian_derivative(theta, U[:, i])
        dDw = out_metric.whiten_derivative(fiber.D, dD, fiber.x, fiber.D @ U[:, i])
        ref = pseudo_inverse_derivative(Dw, U, dDw).T  # rows j: dPen[u_i]e_j
        terms = np.linalg.norm(dDw, 2) * np.linalg.norm(U, 2) ** 2  # |dD̃|·|D̃⁺|²
        scale = max(np.abs(ref).max(), np.abs(S).max(), terms)
        assert np.abs(S[i] - ref).max() <= tol(fiber.report, scale)


def test_distribution_evaluates_one_jacobian_per_point_and_follows_the_point():
    """frame and brackets at θ share one fiber; moving to θ' recomputes everything."""
    rng = np.random.default_rng(3)
    net = sr.MLP([2, 5, 2])
    f = sr.NetworkMap(net, rng.normal(size=(3, 2)))
    V = PullbackBundle(f)
    dist = V.distribution()
    theta, theta2 = net.init(0), net.init(1)
    f.counts.clear()
    B = dist.frame_brackets(theta)
    assert f.counts["jacobian"] == 1 and f.counts["jacobian_derivative"] == f.dim_out
    np.testing.assert_array_equal(dist.frame(theta), V.frame(theta))
    B2 = dist.frame_brackets(theta2)  # a new point: new fiber, new brackets
    np.testing.assert_array_equal(B2, PullbackBundle(f).frame_brackets(theta2))
    np.testing.assert_array_equal(dist.frame(theta2), V.frame(theta2))
    assert np.abs(B2 - B).max() > 1e-3
    np.testing.assert_array_equal(dist.frame_brackets(theta.copy()), B)  # back at θ
    # traced frames still take the general route (geomstats' geodesics differentiate it)
    J = autograd.jacobian(lambda t: dist.frame(t)[:, 0])(theta)
    assert J.shape == (f.dim_in, f.dim_in)


def test_parameter_space_does_not_build_a_k_by_k_identity():
    """geomstats' Euclidean(K) stores eye(K) eagerly (2.6 GB at K = 18180); ours is lazy."""
    import tracemalloc

    from subriemann.geometry.spaces import CanonicalMetric, euclidean, parameter_space

    f = sr.LinearMap(np.ones((2, 30000)))
    theta, ones = np.zeros(f.dim_in), np.ones(f.dim_in)
    # numpy reports its buffers to tracemalloc: eye(K) would be a K²·8 B = 7.2 GB peak,
    # the bundle, the Frobenius test (D is 2×K) and an inner product need O(K)
    tracemalloc.start()
    try:
        bundle = PullbackBundle(f)
        bundle.distribution().frobenius_defect(theta)
        metric = parameter_space(f).metric
        assert metric.inner_product(ones, ones) == f.dim_in
        assert bundle.vertical_projection(ones, theta).shape == (f.dim_in,)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(metric, CanonicalMetric)
    assert peak < 8 * f.dim_in**2 / 100  # nothing above built the matrix (observed 2 MB)
    small = euclidean(3).metric
    np.testing.assert_array_equal(small.metric_matrix(), np.eye(3))  # still there on demand
