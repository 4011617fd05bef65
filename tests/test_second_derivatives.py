"""Streamed second derivatives and the fast Frobenius route built on them (issue #5).

Claims tested:
* ``NetworkMap.hessian_vector_products`` (closed form, batched over directions,
  streamed in coordinate blocks) equals the default ``SmoothMap`` route (one
  ``jacobian_derivative`` per direction), autograd's H_w v, and is symmetric:
  v_c·H_w v_a = v_a·H_w v_c;
* the blocks of ``hessian_vector_blocks`` tile 0..K in order, have the documented
  shapes for every ``block_bytes``, and (copied) concatenate to the products;
  arguments are validated before the first block; a traced θ takes the generic
  route, whose derivative agrees with central differences;
* the Frobenius test of ``PullbackBundle(f).distribution()`` (bracket terms in an
  orthonormal basis, ``curvature_terms``) agrees with the older frame-bracket
  route (Golub–Pereyra brackets of Pen[D]), Euclidean, with a constant output
  metric and with rank loss;
* the cancellation rule of ``frobenius.curvature_from_terms``: both branches
  (|Ω|² = |d|² − |Eᵀd|², and Ω formed explicitly) against a construction with a
  known curvature, blocks against one array, and the errors it raises;
* ``subriemann.scratch``: the workspace pool lends distinct workspaces, reuses
  returned ones and drops oversized ones.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import make_jvp
from hypothesis import assume, given
from hypothesis import strategies as st
from problems import networks

import subriemann as sr
from subriemann import scratch
from subriemann.distributions import frobenius
from subriemann.distributions.frame import Distribution
from subriemann.errors import InputError, NonFiniteError, NumericalError, ShapeError
from subriemann.geometry.bundles import PullbackBundle
from subriemann.linalg import numerical_rank
from subriemann.maps import ACTIVATIONS
from subriemann.maps.smooth import AutodiffMap, LinearMap

# autograd warns when a derivative is identically zero (identity activation: σ″ = 0)
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

_EPS = float(np.finfo(np.float64).eps)
# Closed form vs another exact route (autograd, or the same second derivatives
# contracted in a different order): both are exact derivatives rounded along
# different O(K)-long sequences, so they agree to a few ulps of the largest
# entry.  Observed ≤ 1.3e-15 over 600 random networks; 1e-12 leaves ~1000×.
EXACT_RTOL = 1e-12
# every smooth activation ("swish" is an alias of "silu")
ALL_ACTIVATIONS = tuple(sorted(ACTIVATIONS))


def _rel_max(got, ref):
    """max|got − ref| / max|ref|, or 0 when both are identically zero."""
    scale = np.abs(ref).max(initial=0.0)
    if scale == 0.0:
        assert np.abs(got).max(initial=0.0) == 0.0
        return 0.0
    return float(np.abs(got - ref).max() / scale)


def small_networks(**kw):
    """Problems with depth 0–3 hidden layers of width 1–6, M 1–4, N 1–4, Q 1–3, every σ."""
    ranges = dict(depth=(0, 3), width=(1, 6), input_dim=(1, 4), output_dim=(1, 3), samples=(1, 4))
    return networks(**{**ranges, "activations": ALL_ACTIVATIONS, "bias_scale": 0.5, **kw})


@st.composite
def products_problems(draw, activations=ALL_ACTIVATIONS):
    """A network, θ, directions V (K×n_v) and covectors W (QN×n_w), n_v, n_w in 1–4."""
    p = draw(small_networks(activations=activations))
    n_v, n_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    V = p.rng.normal(size=(p.f.dim_in, n_v))
    W = p.rng.normal(size=(p.f.dim_out, n_w))
    return p.f, p.theta, V, W


def _default_route(f, theta, V, W):
    """The generic SmoothMap route: one jacobian_derivative per direction, contracted with W."""
    return np.stack([W.T @ f.jacobian_derivative(theta, v) for v in V.T])


# --------------------------------------------------------------------------
# 1–3. The closed form against independent routes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
@given(data=st.data())
def test_network_products_match_the_default_route(activation, data):
    """Closed form == Σ_i w_b,i ∇²f^i v_a from per-direction jacobian_derivative (every σ)."""
    f, theta, V, W = data.draw(products_problems(activations=(activation,)))
    out = f.hessian_vector_products(theta, V, W)
    ref = _default_route(f, theta, V, W)
    assert out.shape == ref.shape == (V.shape[1], W.shape[1], f.dim_in)
    if f.mlp.L == 0:
        # depth 0: f is affine in θ, both routes give exact zeros (not round-off)
        assert not np.any(out) and not np.any(ref)
    assert _rel_max(out, ref) <= EXACT_RTOL


@given(case=products_problems())
def test_network_products_match_autograd(case):
    """out[a, b] = ∇_θ (w_b · D[θ] v_a), by reverse-mode autograd through the jvp."""
    f, theta, V, W = case
    out = f.hessian_vector_products(theta, V, W)
    a, b = V.shape[1] - 1, W.shape[1] - 1  # one (v, w) pair per example, the last
    ref = autograd.grad(lambda t: anp.dot(W[:, b], f.jvp(t, V[:, a])))(theta)
    assert _rel_max(out[a, b], ref) <= EXACT_RTOL


@given(case=products_problems())
def test_network_hessians_are_symmetric(case):
    """v_c · (H_{w_b} v_a) = v_a · (H_{w_b} v_c) for all a, b, c."""
    f, theta, V, W = case
    out = f.hessian_vector_products(theta, V, W)
    S = np.einsum("abk,kc->abc", out, V)  # S[a, b, c] = out[a, b]·v_c
    # each entry is a K-term dot product: its round-off is ≲ K·eps·|out||v|, bounded
    # here by max|out| · max_c Σ_k |V_kc| (observed ratio ≤ 1.2e-16)
    scale = np.abs(out).max() * np.abs(V).sum(axis=0).max()
    assert np.abs(S - S.transpose(2, 1, 0)).max() <= EXACT_RTOL * scale


# --------------------------------------------------------------------------
# 4. Blocks
# --------------------------------------------------------------------------
def _collect(blocks, n_v, n_w):
    """Check the tiling of a block iterator; return (concatenation of copies, boundaries)."""
    pieces, bounds, covered = [], [], 0
    for start, stop, block in blocks:
        assert start == covered and stop > start
        assert block.shape == (n_v, n_w, stop - start)
        pieces.append(np.array(block))  # copy: the map may reuse the array next step
        bounds.append((start, stop))
        covered = stop
    return np.concatenate(pieces, axis=2), bounds


@pytest.mark.parametrize("block_bytes", [1, 500, 10**4, 10**9])
@given(case=products_problems(activations=("tanh", "softplus")))
def test_blocks_tile_the_coordinates_and_concatenate_to_the_products(block_bytes, case):
    f, theta, V, W = case
    n_v, n_w = V.shape[1], W.shape[1]
    whole, bounds = _collect(f.hessian_vector_blocks(theta, V, W, block_bytes), n_v, n_w)
    assert bounds[0][0] == 0 and bounds[-1][1] == f.dim_in
    ref = f.hessian_vector_products(theta, V, W)
    _, ref_bounds = _collect(f.hessian_vector_blocks(theta, V, W), n_v, n_w)
    if bounds == ref_bounds:
        # the same blocks are the same arithmetic: bitwise equal
        np.testing.assert_array_equal(whole, ref)
    else:
        # Different row blocks of W_ℓ go through matrix products of different
        # shapes, and OpenBLAS/numpy matmul is not bitwise invariant under row
        # slicing (199 of 200 random small products differ in the last bit), so
        # not bitwise; observed ≤ 2e-16·max|ref|.  A reused (uncopied) or
        # misplaced block would be off by O(1).
        assert _rel_max(whole, ref) <= 1e-14
    if block_bytes == 1 and f.mlp.L > 0:
        # the smallest blocks: each row of every W_ℓ on its own (a depth-0
        # network is linear in θ and yields one zero block per layer)
        assert len(bounds) >= sum(f.mlp.layer_sizes[1:])


@given(case=products_problems(activations=("tanh",)))
def test_interleaved_block_iterators_do_not_share_scratch(case):
    """Two live iterators (two thetas) each borrow their own workspace."""
    f, theta, V, W = case
    other = theta + 0.25
    it1 = f.hessian_vector_blocks(theta, V, W, 1)
    it2 = f.hessian_vector_blocks(other, V, W, 1)
    got1, got2 = [], []
    for (s1, e1, b1), (s2, e2, b2) in zip(it1, it2, strict=True):
        assert (s1, e1) == (s2, e2)
        got1.append(np.array(b1))
        got2.append(np.array(b2))
    # the same blocks computed one iterator at a time: bitwise equal
    n_v, n_w = V.shape[1], W.shape[1]
    alone1, _ = _collect(f.hessian_vector_blocks(theta, V, W, 1), n_v, n_w)
    alone2, _ = _collect(f.hessian_vector_blocks(other, V, W, 1), n_v, n_w)
    np.testing.assert_array_equal(np.concatenate(got1, axis=2), alone1)
    np.testing.assert_array_equal(np.concatenate(got2, axis=2), alone2)


def test_autodiff_and_linear_maps_yield_one_block():
    rng = np.random.default_rng(3)
    fa = AutodiffMap(lambda t: anp.array([t[0] * t[1] * t[2], anp.sin(t[1]) + t[2] ** 2]), 3, 2)
    theta, V, W = rng.normal(size=3), rng.normal(size=(3, 2)), rng.normal(size=(2, 3))
    blocks = list(fa.hessian_vector_blocks(theta, V, W, 1))
    assert len(blocks) == 1 and blocks[0][:2] == (0, 3) and blocks[0][2].shape == (2, 3, 3)
    # the analytic Hessians of f¹ = t0 t1 t2 and f² = sin t1 + t2²
    t0, t1, t2 = theta
    H1 = np.array([[0, t2, t1], [t2, 0, t0], [t1, t0, 0]])
    H2 = np.diag([0.0, -np.sin(t1), 2.0])
    ref = np.einsum("b,ij,ja->abi", W[0], H1, V) + np.einsum("b,ij,ja->abi", W[1], H2, V)
    assert _rel_max(blocks[0][2], ref) <= EXACT_RTOL

    fl = LinearMap(rng.normal(size=(4, 5)))
    blocks = list(fl.hessian_vector_blocks(rng.normal(size=5), np.ones((5, 2)), np.ones((4, 3)), 1))
    assert len(blocks) == 1 and blocks[0][:2] == (0, 5)
    assert blocks[0][2].shape == (2, 3, 5) and not np.any(blocks[0][2])


# --------------------------------------------------------------------------
# 5. Validation
# --------------------------------------------------------------------------
def _small_network(activation="tanh", sizes=(2, 3, 2), N=3, seed=0):
    rng = np.random.default_rng(seed)
    net = sr.MLP(list(sizes), activation=activation)
    f = sr.NetworkMap(net, rng.normal(size=(N, sizes[0])))
    return f, net.init(seed=seed, bias_scale=0.5), rng


def test_validation_errors_name_the_argument():
    f, theta, rng = _small_network()
    K, n = f.dim_in, f.dim_out
    V, W = rng.normal(size=(K, 2)), rng.normal(size=(n, 3))
    for bad_V in (np.ones((K + 1, 2)), np.ones((2, K))):
        with pytest.raises(ShapeError, match=r"V must have shape") as info:
            f.hessian_vector_products(theta, bad_V, W)
        assert str(tuple(bad_V.shape)) in str(info.value)
    with pytest.raises(ShapeError, match=r"directions V must be 2-D"):
        f.hessian_vector_products(theta, np.ones(K), W)
    with pytest.raises(ShapeError, match=r"W shape") as info:
        f.hessian_vector_products(theta, V, np.ones((n + 1, 3)))
    assert str((n + 1, 3)) in str(info.value)
    with pytest.raises(ShapeError, match=r"covectors W must be 2-D"):
        f.hessian_vector_products(theta, V, np.ones(n))
    with pytest.raises(ShapeError, match=r"theta"):
        f.hessian_vector_products(np.ones(K - 1), V, W)
    bad = V.copy()
    bad[0, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"directions V"):
        f.hessian_vector_products(theta, bad, W)
    bad = W.copy()
    bad[1, 0] = np.inf
    with pytest.raises(NonFiniteError, match=r"covectors W"):
        f.hessian_vector_products(theta, V, bad)
    with pytest.raises(InputError, match=r"block_bytes"):
        f.hessian_vector_blocks(theta, V, W, 0)
    # validation is eager: the error comes from the call, before any next()
    with pytest.raises(ShapeError):
        f.hessian_vector_blocks(theta, np.ones((K + 1, 2)), W)
    with pytest.raises(NonFiniteError):
        LinearMap(np.ones((2, 3))).hessian_vector_blocks(np.ones(3), np.full((3, 1), np.nan), W[:2])


def _maps_for_empty_batches():
    f, theta, _ = _small_network()
    f0, theta0, _ = _small_network(sizes=(2, 2), N=2)  # depth 0
    fa = AutodiffMap(lambda t: anp.tanh(t[:2] * t[1:3]), 4, 2)
    fl = LinearMap(np.ones((2, 4)))
    return {
        "network": (f, theta),
        "network depth 0": (f0, theta0),
        "autodiff": (fa, np.full(4, 0.3)),
        "linear": (fl, np.full(4, 0.3)),
    }


@pytest.mark.parametrize(
    "kind, n_v, n_w",
    [
        (kind, n_v, n_w)
        for kind in ("network", "network depth 0", "autodiff", "linear")
        for n_v, n_w in ((0, 2), (2, 0), (0, 0))
    ],
)
def test_empty_direction_or_covector_batches_give_empty_products(kind, n_v, n_w):
    f, theta = _maps_for_empty_batches()[kind]
    V, W = np.ones((f.dim_in, n_v)), np.ones((f.dim_out, n_w))
    out = f.hessian_vector_products(theta, V, W)
    assert out.shape == (n_v, n_w, f.dim_in)
    assert [(start, stop) for start, stop, _ in f.hessian_vector_blocks(theta, V, W)] == [
        (0, f.dim_in)
    ]


# --------------------------------------------------------------------------
# 6. Traced arguments: the generic (differentiable) route
# --------------------------------------------------------------------------
def test_traced_theta_takes_the_generic_route_and_is_differentiable():
    f, theta, rng = _small_network(sizes=(2, 3, 2), N=2, seed=1)
    V, W, u = (
        rng.normal(size=(f.dim_in, 2)),
        rng.normal(size=(f.dim_out, 3)),
        rng.normal(size=f.dim_in),
    )

    def total(t):
        return anp.sum(f.hessian_vector_products(t, V, W))

    value, derivative = make_jvp(total)(theta)(u)
    # the traced forward value is the same second derivative by another route
    assert value == pytest.approx(float(np.sum(f.hessian_vector_products(theta, V, W))), rel=1e-12)
    # Central difference with h = 1e-4: truncation h²|g'''|/6 ~ 1e-8·|g'''|, round-off
    # eps·|g|/h ~ 2e-12·|g|; observed relative error 2e-8 at h = 1e-4 (h² scaling
    # checked down to h = 1e-5).  1e-6 relative leaves 50× for other draws while
    # still catching any wrong third derivative (an O(1) error).
    h = 1e-4
    fd = (total(theta + h * u) - total(theta - h * u)) / (2 * h)
    assert derivative == pytest.approx(fd, rel=1e-6)
    # reverse mode through the same route agrees with forward mode to round-off
    assert float(autograd.grad(total)(theta) @ u) == pytest.approx(derivative, rel=1e-12)


def test_traced_directions_are_linear():
    """With V traced the route is generic too; the products are linear in V (exactly)."""
    f, theta, rng = _small_network(activation="sigmoid", sizes=(2, 4, 3, 2), N=2, seed=2)
    V, W, dV = (
        rng.normal(size=(f.dim_in, 2)),
        rng.normal(size=(f.dim_out, 3)),
        rng.normal(size=(f.dim_in, 2)),
    )
    _, derivative = make_jvp(lambda X: anp.sum(f.hessian_vector_products(theta, X, W)))(V)(dV)
    expected = float(np.sum(f.hessian_vector_products(theta, dV, W)))
    assert derivative == pytest.approx(expected, rel=EXACT_RTOL)


# --------------------------------------------------------------------------
# 7–8. Fast Frobenius route vs the frame-bracket route
# --------------------------------------------------------------------------
def _bracket_route(bundle):
    """``bundle.distribution()`` without curvature_terms: frame + Golub–Pereyra brackets."""

    def brackets_and_terms(theta):
        fiber = bundle.at(theta)
        return fiber.frame_brackets(), fiber.frame_derivatives()

    return Distribution(
        bundle.frame, bundle.dim, brackets=brackets_and_terms, rank_policy=bundle.rank_policy
    )


def _pair_singular_values(dist, theta):
    Omega = dist.curvature(theta)
    iu = np.triu_indices(Omega.shape[0], 1)
    return np.linalg.svd(Omega[iu], compute_uv=False)


def over_networks(duplicate=False):
    """Small tanh/sigmoid networks, 1–2 hidden layers of width 2–5, with K > QN ≥ 2.

    ``duplicate``: two equal inputs, so two equal rows of D per output, rank D ≤ Q(N − 1) < QN.
    """
    return networks(
        depth=(1, 2),
        width=(2, 5),
        input_dim=(1, 3),
        output_dim=(1, 3),
        samples=(1, 3),
        activations=("tanh", "sigmoid"),
        regime="over",
        min_outputs=2,
        duplicate=duplicate,
    )


# The frame-bracket route changes basis with C = VΣ⁻¹ on both indices of
# terms that carry (DDᵀ)⁻¹: its round-off grows like eps·κ², the fast route's
# like eps·κ (κ = cond D̃).  Observed |difference| ≤ 20·eps·κ² over 1500 random
# networks (κ up to 1e6); the flat 1e-10 of the brief fails from κ ≈ 1000
# (e.g. 1.1e-9 at κ = 1250).  Draws are limited to κ ≤ 1e4 so that the
# tolerance stays far below the O(1e-2..1) defects of these networks.
_KAPPA_MAX = 1e4


def _route_rtol(base, kappa):
    return base + 100.0 * _EPS * kappa**2


@pytest.mark.parametrize("kind", ["euclidean", "constant metric", "rank loss"])
@given(data=st.data())
def test_fast_frobenius_route_matches_the_frame_bracket_route(kind, data):
    p = data.draw(over_networks(duplicate=kind == "rank loss"))
    f, theta = p.f, p.theta
    metric = None
    if kind == "constant metric":
        A = p.rng.normal(size=(f.dim_out, f.dim_out))
        metric = sr.ConstantOutputMetric(A @ A.T + f.dim_out * np.eye(f.dim_out))
    bundle = PullbackBundle(f, output_metric=metric)
    fast, slow = bundle.distribution(), _bracket_route(bundle)
    # the two routes really differ: the fast one streams f's second derivatives
    # (one hessian_vector_products call), the slow one differentiates the frame
    f.counts.clear()
    r_fast = fast.frobenius_defect(theta)
    assert f.counts["hessian_vector_products"] == 1
    f.counts.clear()
    r_slow = slow.frobenius_defect(theta)
    assert f.counts["hessian_vector_products"] == 0 and f.counts["jacobian_derivative"] > 0
    kappa = r_fast.rank_report.condition_number
    assume(kappa <= _KAPPA_MAX)
    if kind == "rank loss":  # the draw really exercises the rank-deficient case
        assert r_fast.rank < f.dim_out
    assert r_fast.rank == r_slow.rank
    rtol = _route_rtol(1e-10, kappa)
    assert r_fast.curvature_norm == pytest.approx(r_slow.curvature_norm, rel=rtol, abs=0)
    assert r_fast.scale == pytest.approx(r_slow.scale, rel=rtol, abs=0)
    assert r_fast.relative_defect == pytest.approx(r_slow.relative_defect, rel=rtol, abs=0)
    assert r_fast.tolerance == pytest.approx(r_slow.tolerance, rel=1e-12)
    assert r_fast.is_involutive == r_slow.is_involutive
    # Ω in two orthonormal bases of V: the pair matrix changes by the orthogonal Λ²R
    s_fast, s_slow = _pair_singular_values(fast, theta), _pair_singular_values(slow, theta)
    if s_fast.size:
        assert np.abs(s_fast - s_slow).max() <= _route_rtol(1e-9, kappa) * s_fast.max()
    assert fast.growth_vector(theta, max_step=2) == slow.growth_vector(theta, max_step=2)
    if metric is not None:
        # V = range Dᵀ does not depend on G, nor does Ω (Euclidean on R^K): the
        # curvature norm equals the Euclidean bundle's (the scale does not)
        plain = PullbackBundle(f).distribution().frobenius_defect(theta)
        kappa2 = max(kappa, plain.rank_report.condition_number)
        assert r_fast.curvature_norm == pytest.approx(
            plain.curvature_norm, rel=_route_rtol(1e-10, kappa2), abs=0
        )


@given(data=st.data())
def test_single_output_is_rank_one_and_involutive(data):
    """QN = 1: V has rank 1 and a rank-one distribution is always integrable."""
    p = data.draw(small_networks(depth=(1, 2), output_dim=(1, 1), samples=(1, 1), input_dim=(1, 3)))
    f, theta, net = p.f, p.theta, p.net
    d = PullbackBundle(f).distribution()
    rep = d.frobenius_defect(theta)
    assert rep.rank == 1 and rep.is_involutive
    assert rep.curvature_norm == 0.0 and rep.relative_defect == 0.0
    assert d.curvature(theta).shape == (1, 1, net.K) and not np.any(d.curvature(theta))
    assert d.growth_vector(theta, max_step=2) == (1,)


@given(data=st.data())
def test_depth_zero_network_has_exactly_zero_defect(data):
    """An affine network is linear in θ: D is constant, every bracket term is exactly 0."""
    p = data.draw(small_networks(depth=(0, 0), min_outputs=2))
    rep = PullbackBundle(p.f).distribution().frobenius_defect(p.theta)
    assert rep.curvature_norm == 0.0 and rep.scale == 0.0 and rep.relative_defect == 0.0
    assert rep.is_involutive


# --------------------------------------------------------------------------
# 9. The cancellation rule of frobenius.curvature_from_terms
# --------------------------------------------------------------------------
_DIM, _K = 12, 4
_EPSILONS = [1.0, 1e-3, 1e-6, 1e-9, 0.0]


def _terms_with_known_curvature(eps, seed=0):
    """(E, t, exact Ω pairs): t_ab − t_ba = E c_ab + eps n_ab with n_ab ⟂ E (a < b).

    t also has a random symmetric part (it cancels in the differences but sets
    |t|) and a random diagonal.  The exact curvature pairs are eps·n_ab.
    """
    rng = np.random.default_rng(seed)
    E = np.linalg.qr(rng.normal(size=(_DIM, _K)))[0]
    iu = np.triu_indices(_K, 1)
    n_pairs = len(iu[0])
    c = rng.normal(size=(n_pairs, _K))
    g = rng.normal(size=(n_pairs, _DIM))
    n = g - (g @ E) @ E.T
    n -= (n @ E) @ E.T  # reorthogonalised: n ⟂ E to working precision
    S = rng.normal(size=(_K, _K, _DIM))
    t = S + S.transpose(1, 0, 2)
    t[iu] += c @ E.T + eps * n  # t[a, b] = s_ab + E c_ab + eps n_ab, t[b, a] = s_ab
    return E, t, eps * n


def _terms_distribution(E, terms):
    report = numerical_rank(np.ones(E.shape[1]), E.shape)
    return Distribution(
        lambda p: E, E.shape[0], curvature_terms=lambda p: (E, report, terms, E.shape[1])
    )


def _independent_norm(E, t):
    """|Π^⊥(t_ab − t_ba)| for a < b with Π^⊥ from a complete QR of E (not the basis itself)."""
    Q = np.linalg.qr(E, mode="complete")[0]
    perp = Q[:, E.shape[1] :]
    iu = np.triu_indices(E.shape[1], 1)
    d = t[iu] - t[iu[1], iu[0]]
    return float(np.linalg.norm(d @ perp)), float(np.linalg.norm(d))


def _branch(E, t, p):
    """'downdate' when |Ω| came from |d|² − |z|² (Ω then formed lazily), else 'explicit'.

    Seen through the public ``curvature_terms`` callback: the Frobenius test streams
    the term blocks once for the sums |t|², |d|², Eᵀd, and forms Ω — a second pass
    over the blocks — only in the explicit branch.
    """
    passes = []

    def blocks():
        passes.append(None)
        return iter([(0, E.shape[0], t)])

    _terms_distribution(E, blocks).frobenius_defect(p)
    assert len(passes) in (1, 2)
    return "downdate" if len(passes) == 1 else "explicit"


@pytest.mark.parametrize("eps", _EPSILONS)
def test_cancellation_rule_gets_small_curvatures_right(eps, monkeypatch):
    E, t, pairs = _terms_with_known_curvature(eps)
    p = np.zeros(_DIM)
    exact = float(np.linalg.norm(pairs))
    independent, d_norm = _independent_norm(E, t)
    t_norm = float(np.linalg.norm(t))
    # Forming Ω = d − E(Eᵀd) (or Π^⊥d) has an absolute error ~ eps·|d| whatever |Ω|;
    # 1e-14·|d| bounds it with ~30× room (k·dim = 48 roundings of size eps).
    # On top, 1e-9 relative (the brief's bound).  For eps ≥ 1e-6 the absolute
    # part is ≤ 1e-8·|Ω|; at eps = 1e-9 it dominates: no float64 method can do
    # better than eps·|d| there, and the downdating formula is off by ~√eps·|d|.
    slack = 1e-14 * d_norm
    assert independent == pytest.approx(exact, rel=1e-9, abs=slack)

    reports = {}
    for name, threshold in (("default", None), ("explicit", 1.0), ("downdate", 0.0)):
        if threshold is not None:
            monkeypatch.setattr(frobenius, "CANCELLATION_THRESHOLD", threshold)
        dist = _terms_distribution(E, t)
        reports[name] = dist.frobenius_defect(p)
        if name == "explicit":
            assert _branch(E, t, p) == "explicit"
        if name == "default":
            # eps = 1: Ω keeps ~half of d, the cheap formula; eps ≤ 1e-3: cancellation
            assert _branch(E, t, p) == ("downdate" if eps == 1.0 else "explicit")
            # the curvature itself is the constructed one
            Omega = dist.curvature(p)
            iu = np.triu_indices(_K, 1)
            assert np.abs(Omega[iu] - pairs).max() <= 1e-9 * np.abs(pairs).max() + slack
            np.testing.assert_array_equal(Omega, -Omega.transpose(1, 0, 2))
    for name in ("default", "explicit"):
        assert reports[name].curvature_norm == pytest.approx(exact, rel=1e-9, abs=slack)
        assert reports[name].scale == pytest.approx(np.sqrt(2.0) * t_norm, rel=1e-14)
    if eps == 0.0:
        assert reports["default"].curvature_norm <= 1e-14 * t_norm
    downdated = reports["downdate"].curvature_norm
    if eps == 1.0:
        # no cancellation: both branches agree to the relative error of the sums
        assert downdated == pytest.approx(reports["explicit"].curvature_norm, rel=1e-12)
    else:
        # |√(|d|² − |z|²) − |Ω|| ≤ √(|(|d|² − |z|²) − |Ω|²|) ≲ √(k·dim·eps)·|d|: the
        # accuracy the explicit branch exists to beat
        assert abs(downdated - exact) <= np.sqrt(_K * _DIM * _EPS) * d_norm


def test_terms_as_blocks_give_the_same_report_as_an_array():
    E, t, _ = _terms_with_known_curvature(1e-3, seed=1)
    p = np.zeros(_DIM)

    def three_blocks():
        return iter([(0, 3, t[:, :, :3]), (3, 8, t[:, :, 3:8]), (8, _DIM, t[:, :, 8:])])

    whole = _terms_distribution(E, t).frobenius_defect(p)
    split = _terms_distribution(E, three_blocks).frobenius_defect(p)
    # the block sums |t|², |d|² and Eᵀd are accumulated in a different order:
    # equal to a few ulps, not bitwise
    for field in ("curvature_norm", "scale", "relative_defect"):
        assert getattr(split, field) == pytest.approx(getattr(whole, field), rel=1e-13)
    assert (split.rank, split.is_involutive, split.tolerance) == (
        whole.rank,
        whole.is_involutive,
        whole.tolerance,
    )
    np.testing.assert_allclose(
        _terms_distribution(E, three_blocks).curvature(p),
        _terms_distribution(E, t).curvature(p),
        rtol=0,
        atol=1e-14 * np.abs(t).max(),
    )


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param(lambda t: [(0, 5, t[:, :, :4]), (5, 12, t[:, :, 5:])], id="wrong shape"),
        pytest.param(lambda t: [(0, 4, t[:, :, :4]), (5, 12, t[:, :, 5:])], id="gap"),
        pytest.param(lambda t: [(0, 6, t[:, :, :6]), (4, 12, t[:, :, 4:])], id="overlap"),
        pytest.param(lambda t: [(0, 6, t[:, :, :6])], id="short"),
        pytest.param(lambda t: [(0, 12, t[:3, :3])], id="wrong k"),
    ],
)
def test_malformed_term_blocks_raise_shape_error(blocks):
    E, t, _ = _terms_with_known_curvature(1.0)
    dist = _terms_distribution(E, lambda: iter(blocks(t)))
    with pytest.raises(ShapeError, match=r"bracket terms"):
        dist.frobenius_defect(np.zeros(_DIM))


def test_wrong_basis_shape_raises_shape_error():
    E, t, _ = _terms_with_known_curvature(1.0)
    report = numerical_rank(np.ones(_K), (_DIM, _K))
    dist = Distribution(
        lambda p: E, _DIM, curvature_terms=lambda p: (E[:-1], report, t[:, :, :-1], _K)
    )
    with pytest.raises(ShapeError, match=r"basis"):
        dist.frobenius_defect(np.zeros(_DIM))


@pytest.mark.parametrize("eps", [1.0, 1e-6])
def test_cancellation_keyword_is_the_public_threshold(eps):
    """curvature_from_terms(cancellation=c) is the rule of CANCELLATION_THRESHOLD = c."""
    E, t, pairs = _terms_with_known_curvature(eps)
    p = np.zeros(_DIM)
    report = numerical_rank(np.ones(E.shape[1]), E.shape)

    def terms(_p):
        return E, report, t, E.shape[1]

    exact = float(np.linalg.norm(pairs))
    _, d_norm = _independent_norm(E, t)
    for c in (0.0, frobenius.CANCELLATION_THRESHOLD, 1.0):
        norm = frobenius.curvature_from_terms(p, terms, cancellation=c).curvature_norm
        if c > 0 or eps == 1.0:  # the explicit branch, or no cancellation to lose digits to
            # the same error model as test_cancellation_rule_gets_small_curvatures_right
            assert norm == pytest.approx(exact, rel=1e-9, abs=1e-14 * d_norm)
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(InputError, match="cancellation"):
            frobenius.curvature_from_terms(p, terms, cancellation=bad)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("as_blocks", [False, True])
def test_non_finite_terms_raise_numerical_error(bad, as_blocks):
    E, t, _ = _terms_with_known_curvature(1.0)
    t = t.copy()
    t[1, 2, 7] = bad
    terms = (lambda: iter([(0, 6, t[:, :, :6]), (6, _DIM, t[:, :, 6:])])) if as_blocks else t
    with pytest.raises(NumericalError, match=r"not finite"):
        _terms_distribution(E, terms).frobenius_defect(np.zeros(_DIM))


# --------------------------------------------------------------------------
# 10. The scratch pool
# --------------------------------------------------------------------------
@pytest.fixture
def fresh_pool():
    # the pool is process state: start empty, and leave it empty for the next test
    scratch.clear_pool()
    yield
    scratch.clear_pool()


def test_nested_borrowers_get_distinct_workspaces(fresh_pool):
    with scratch.borrow() as outer, scratch.borrow() as inner:
        assert outer is not inner
        a, b = outer.get("x", (3, 4)), inner.get("x", (3, 4))
        assert not np.shares_memory(a, b)
    assert scratch.pool_stats()["kept"] == 2
    assert {id(w) for w in scratch.pooled()} == {id(outer), id(inner)}


def test_a_returned_workspace_is_reused(fresh_pool):
    with scratch.borrow() as first:
        kept = first.get("x", (10,))
    with scratch.borrow() as second:
        assert second is first
        again = second.get("x", (2, 3))  # smaller: a view of the same memory
        assert again.shape == (2, 3) and again.flags.c_contiguous
        assert np.shares_memory(again, kept)
        bigger = second.get("x", (20,))  # larger: grows, a new array
        assert bigger.shape == (20,) and not np.shares_memory(bigger, kept)
        assert second.nbytes == 20 * 8


def test_oversized_workspaces_and_surplus_are_not_kept(fresh_pool, monkeypatch):
    monkeypatch.setattr(scratch, "POOL_MAX_BYTES", 800)
    with scratch.borrow() as big:
        big.get("x", (101,))  # 808 bytes > cap
    assert scratch.pooled() == ()
    with scratch.borrow() as again:
        assert again is not big
        again.get("x", (100,))  # exactly the cap: kept
    assert scratch.pooled() == (again,)
    assert scratch.pool_stats() == {
        "kept": 1,
        "capacity": scratch.POOL_SIZE,
        "max_bytes": 800,
        "bytes": 800,
    }
    # at most POOL_SIZE workspaces are kept
    scratch.clear_pool()
    lent = []
    with scratch.borrow() as w0, scratch.borrow() as w1, scratch.borrow() as w2:
        with scratch.borrow() as w3, scratch.borrow() as w4, scratch.borrow() as w5:
            lent = [w0, w1, w2, w3, w4, w5]
    assert len({id(w) for w in lent}) == 6
    assert scratch.pool_stats()["kept"] == scratch.POOL_SIZE
    assert {id(w) for w in scratch.pooled()} <= {id(w) for w in lent}
