"""The network of §1.1 as a smooth map θ ↦ x[θ] ∈ R^{QN}: value, closed-form derivatives, layout.

Every closed form in ``NetworkMap`` is checked against an independent route:
autograd on the value function (the same θ ↦ x[θ], differentiated generically),
central finite differences, and a plain-numpy forward pass written here from
(1.3)–(1.4).  Architectures are drawn by hypothesis: 1–3 hidden layers of
width 1–8, N = 1–6 inputs, Q = 1–3 outputs, every smooth activation.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.differential_operators import make_jvp
from hypothesis import given
from hypothesis import strategies as st
from problems import SMOOTH, WIDE, networks
from tolerances import routes_agree_tol

import subriemann as sr
from subriemann.errors import ActivationError, SubriemannError
from subriemann.maps import network

# autograd warns when a derivative is identically zero (identity activation: σ″ = 0)
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

NONSMOOTH = ["relu", "leaky_relu", "abs", "hardtanh"]

# σ written in plain numpy, independently of subriemann's autograd versions
NUMPY_SIGMA = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "sin": np.sin,
    "silu": lambda z: z / (1.0 + np.exp(-z)),
    "identity": lambda z: z,
}

# Closed form vs autograd: both are exact derivatives evaluated in float64 by
# different sequences of O(K) roundings, so they agree to a few ulps of the
# largest entry; 1e-12 relative leaves three orders of magnitude of room.
EXACT_RTOL = 1e-12


# problems.WIDE: 1–3 hidden layers of width 1–8, M = 1–4, Q = 1–3, N = 1–6, every smooth σ
problems = networks(**WIDE, bias_scale=0.5)


def tangents(problem):
    """Random u, v ∈ R^K and w ∈ R^{QN} from the problem's generator."""
    rng, f = problem.rng, problem.f
    return rng.normal(size=f.dim_in), rng.normal(size=f.dim_in), rng.normal(size=f.dim_out)


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def scale(a):
    """Largest entry in absolute value, floored so an all-zero reference compares absolutely."""
    return max(float(np.max(np.abs(a))), 1e-300)


def reference_forward(net, theta, inputs):
    """x[θ] from (1.3)–(1.4) sample by sample in plain numpy, stacked sample-major (1.8)."""
    sigma = NUMPY_SIGMA[net.activation.name]
    sizes, k, params = net.layer_sizes, 0, []
    for m_in, m_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = np.asarray(theta[k : k + m_out * m_in]).reshape(m_out, m_in)
        k += m_out * m_in
        params.append((W, np.asarray(theta[k : k + m_out])))
        k += m_out
    outputs = []
    for x in inputs:
        for W, b in params[:-1]:
            x = sigma(W @ x + b)
        W, b = params[-1]
        outputs.append(W @ x + b)
    return np.concatenate(outputs)


# -- value -------------------------------------------------------------------


@given(problems)
def test_value_is_the_forward_pass_of_1_3_and_1_4(problem):
    net, f, theta = problem.net, problem.f, problem.theta
    x = f(theta)
    ref = reference_forward(net, theta, f.inputs)
    assert x.shape == (net.Q * f.N,)
    # a handful of roundings per layer on O(1) activations
    assert max_err(x, ref) <= 1e-13 * max(1.0, scale(ref))
    np.testing.assert_array_equal(net.forward(theta, f.inputs).reshape(-1), x)


# -- Jacobian (1.17) ---------------------------------------------------------


@given(problems)
def test_jacobian_equals_autograd_jacobian_of_the_same_function(problem):
    f, theta = problem.f, problem.theta
    D = f.jacobian(theta)
    # autograd itself (reverse mode through the forward pass), not the package's AutodiffMap;
    # the forward pass it differentiates is checked against reference_forward above
    ref = autograd.jacobian(lambda t: f(t))(theta)
    assert D.shape == (f.dim_out, f.dim_in)
    assert max_err(D, ref) <= EXACT_RTOL * scale(ref)


@given(problems)
def test_jacobian_matches_central_finite_differences(problem):
    f, theta = problem.f, problem.theta
    D = f.jacobian(theta)
    # h = eps^(1/3) balances truncation (h²/6)|f'''| against rounding eps|f|/h:
    # both are ~4e-11 times |f'''| or |f|, which are O(1)–O(10) for these
    # initialisations, so 1e-7 relative is a safe bound that a wrong column
    # (an O(1) error) cannot meet.
    h = np.finfo(float).eps ** (1 / 3)
    fd = np.empty_like(D)
    for k in range(f.dim_in):
        e = np.zeros(f.dim_in)
        e[k] = h
        fd[:, k] = (f(theta + e) - f(theta - e)) / (2 * h)
    assert max_err(D, fd) <= 1e-7 * max(1.0, scale(fd))


@given(problems)
def test_value_and_jacobian_is_one_pass_of_both(problem):
    f, theta = problem.f, problem.theta
    x, D = f.value_and_jacobian(theta)
    np.testing.assert_array_equal(x, f(theta))
    np.testing.assert_array_equal(D, f.jacobian(theta))


# -- jvp, vjp ----------------------------------------------------------------


@given(problems)
def test_jvp_is_D_v_and_autograds_forward_mode(problem):
    f, theta = problem.f, problem.theta
    _, v, _ = tangents(problem)
    jv = f.jvp(theta, v)
    ref = make_jvp(f)(theta)(v)[1]
    assert max_err(jv, ref) <= EXACT_RTOL * scale(np.abs(f.jacobian(theta)) @ np.abs(v))
    assert max_err(jv, f.jacobian(theta) @ v) <= EXACT_RTOL * scale(
        np.abs(f.jacobian(theta)) @ np.abs(v)
    )


@given(problems)
def test_vjp_is_Dt_w_and_autograds_reverse_mode(problem):
    f, theta = problem.f, problem.theta
    *_, w = tangents(problem)
    D = f.jacobian(theta)
    wD = f.vjp(theta, w)
    bound = EXACT_RTOL * scale(np.abs(w) @ np.abs(D))  # scale of the sum Σ_a w_a D_ab
    assert max_err(wD, autograd.make_vjp(f)(theta)[0](w)) <= bound
    assert max_err(wD, w @ D) <= bound


# -- d/dt D[θ + t v] ---------------------------------------------------------


@given(problems)
def test_jacobian_derivative_equals_autograd_forward_over_reverse(problem):
    f, theta = problem.f, problem.theta
    _, v, _ = tangents(problem)
    dD = f.jacobian_derivative(theta, v)
    ref = make_jvp(autograd.jacobian(f))(theta)(v)[1]
    assert dD.shape == (f.dim_out, f.dim_in)
    assert max_err(dD, ref) <= EXACT_RTOL * max(scale(ref), scale(f.jacobian(theta)))


@given(problems)
def test_jacobian_derivative_matches_finite_differences_of_the_jacobian(problem):
    f, theta = problem.f, problem.theta
    _, v, _ = tangents(problem)
    # same step and error budget as the Jacobian check, one derivative higher
    h = np.finfo(float).eps ** (1 / 3)
    fd = (f.jacobian(theta + h * v) - f.jacobian(theta - h * v)) / (2 * h)
    assert max_err(f.jacobian_derivative(theta, v), fd) <= 1e-7 * max(1.0, scale(fd))


@given(problems)
def test_jacobian_derivative_is_symmetric_second_derivative(problem):
    # Σ_b (d/dt D[θ+tv])_ab w_b = d²x^a(v, w) = Σ_b (d/dt D[θ+tw])_ab v_b
    f, theta = problem.f, problem.theta
    u, v, _ = tangents(problem)
    dDv, dDu = f.jacobian_derivative(theta, v), f.jacobian_derivative(theta, u)
    # each side is a K-term sum: rounding ≤ K eps Σ|terms| (+ the entries' own error)
    terms = max(scale(np.abs(dDv) @ np.abs(u)), scale(np.abs(dDu) @ np.abs(v)))
    assert max_err(dDv @ u, dDu @ v) <= EXACT_RTOL * terms


@given(problems)
def test_closed_form_jacobian_stays_differentiable(problem):
    # Lie brackets and geomstats differentiate through f.jacobian: autograd's
    # derivative of the closed form must be the closed-form derivative.
    f, theta = problem.f, problem.theta
    _, v, _ = tangents(problem)
    dD = f.jacobian_derivative(theta, v)
    bound = EXACT_RTOL * max(scale(dD), scale(f.jacobian(theta)))
    assert max_err(make_jvp(f.jacobian)(theta)(v)[1], dD) <= bound
    # reverse mode: ∇_θ Σ_ab U_ab D_ab[θ] paired with v is Σ_ab U_ab (dD)_ab
    U = np.random.default_rng(f.dim_in).normal(size=dD.shape)
    grad = autograd.grad(lambda t: anp.sum(U * f.jacobian(t)))(theta)
    assert abs(grad @ v - np.sum(U * dD)) <= 1e-11 * max(1.0, np.sum(np.abs(U * dD)))


@given(problems)
def test_closed_form_jacobian_derivative_is_differentiable_too(problem):
    # second-order brackets differentiate d/dt D[θ+tv] once more in θ, along u
    f, theta = problem.f, problem.theta
    u, v, _ = tangents(problem)
    ddD = make_jvp(lambda t: f.jacobian_derivative(t, v))(theta)(u)[1]
    fwd_over_rev = make_jvp(autograd.jacobian(f))
    ref = make_jvp(lambda t: fwd_over_rev(t)(v)[1])(theta)(u)[1]
    bound = EXACT_RTOL * max(scale(ref), scale(f.jacobian(theta)))
    assert max_err(ddD, ref) <= bound


@pytest.mark.parametrize("min_rows, chunk_bytes", [(1, 1), (10**6, 1 << 20), (1, 1 << 20)])
def test_both_block_writers_and_every_chunking_give_the_same_matrices(min_rows, chunk_bytes):
    # The in-place numpy assembly (the fallback of the compiled kernel, forced
    # here) has a broadcast path (few rows) and a chunked repeat/tile path
    # (hidden layers); force each, with one-sample chunks too.
    rng = np.random.default_rng(7)
    net = sr.MLP([3, 9, 8, 2], activation="tanh")
    f = sr.NetworkMap(net, rng.normal(size=(5, 3)))
    theta, v = net.init(seed=3, bias_scale=0.5), rng.normal(size=net.K)
    ref_D = autograd.jacobian(f)(theta)
    ref_dD = make_jvp(autograd.jacobian(f))(theta)(v)[1]
    with network.assembly("numpy", min_rows=min_rows, chunk_bytes=chunk_bytes):
        assert max_err(f.jacobian(theta), ref_D) <= EXACT_RTOL * scale(ref_D)
        assert max_err(f.jacobian_derivative(theta, v), ref_dD) <= EXACT_RTOL * scale(ref_D)


def test_network_without_hidden_layers_is_affine_in_theta():
    # L = 0: x = W_1 x^(0) + b_1 is linear in θ, so D is constant and dD = 0
    rng = np.random.default_rng(1)
    net = sr.MLP([3, 2])
    f = sr.NetworkMap(net, rng.normal(size=(4, 3)))
    t1, t2, v = rng.normal(size=net.K), rng.normal(size=net.K), rng.normal(size=net.K)
    np.testing.assert_array_equal(f.jacobian(t1), f.jacobian(t2))
    np.testing.assert_array_equal(f.jacobian_derivative(t1, v), 0.0)
    # f(θ) = Dθ for a linear network (b_1 is the coefficient of the constant input 1):
    # two orders of the same K-term sums, agreeing to ~K·eps·Σ|D_ij θ_j| (γ_K, k = 4K)
    terms = np.abs(f.jacobian(t1)) @ np.abs(t1)
    assert max_err(f(t1), f.jacobian(t1) @ t1) <= routes_agree_tol(terms.max(), k=4 * net.K)


# -- activations ---------------------------------------------------------------


@pytest.mark.parametrize("name", SMOOTH)
def test_activation_derivatives_are_those_of_sigma(name):
    act = sr.maps.get_activation(name)
    z = np.linspace(-30.0, 30.0, 601)
    d1 = autograd.elementwise_grad(act.fn)
    d2 = autograd.elementwise_grad(d1)
    # the sigmoid is computed as (tanh(z/2) + 1)/2 (no overflow, traceable in
    # both modes): accurate to ~eps absolutely, not relatively, in its far-left
    # tail, which is all that sums like D = B ⊗ a need; hence the atol
    np.testing.assert_allclose(act(z), NUMPY_SIGMA[name](z), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(act.d1(z), d1(z), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.d2(z), d2(z), rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(act(np.array([-800.0, 800.0]))))  # no overflow to inf/NaN


@pytest.mark.parametrize("name", NONSMOOTH)
def test_nonsmooth_activations_are_refused_unless_opted_in(name):
    with pytest.raises(ActivationError, match="Lipschitz") as info:
        sr.MLP([2, 3, 1], activation=name)
    assert "allow_nonsmooth=True" in str(info.value)
    assert isinstance(info.value, SubriemannError) and isinstance(info.value, ValueError)
    net = sr.MLP([2, 3, 1], activation=name, allow_nonsmooth=True)
    assert not net.activation.smooth
    x = sr.NetworkMap(net, np.ones((2, 2)))(net.init(0))
    assert x.shape == (2,) and np.all(np.isfinite(x))


@pytest.mark.parametrize("name", ["gelu", "", "tanhh", "ReLU6"])
def test_unknown_activation_names_are_refused(name):
    with pytest.raises(ActivationError, match="unknown activation") as info:
        sr.MLP([2, 3, 1], activation=name)
    assert "tanh" in str(info.value)  # the message lists what is available


def test_activation_names_are_case_insensitive_and_objects_pass_through():
    assert sr.MLP([1, 1], activation="TanH").activation.name == "tanh"
    assert sr.MLP([1, 1], activation="swish").activation.name == "silu"
    act = sr.maps.get_activation("sin")
    assert sr.MLP([1, 1], activation=act).activation is act
    with pytest.raises(ActivationError, match="name or an Activation"):
        sr.MLP([1, 1], activation=3)


# -- parameters: K (1.5), layout, pack/unpack ----------------------------------


@given(st.lists(st.integers(1, 12), min_size=2, max_size=6))
def test_K_is_formula_1_5(sizes):
    hand = 0
    for ell in range(1, len(sizes)):  # K = Σ_{ℓ=1}^{L+1} (M_ℓ M_{ℓ-1} + M_ℓ)
        hand += sizes[ell] * sizes[ell - 1] + sizes[ell]
    net = sr.MLP(sizes)
    assert net.K == hand == sr.MLP.count_parameters(sizes)
    assert net.L == len(sizes) - 2 and net.M == sizes[0] and net.Q == sizes[-1]
    assert net.init(seed=0).shape == (hand,)


def test_K_by_hand_for_a_small_network():
    # [2, 3, 1]: W1 is 3×2 (6), b1 (3), W2 is 1×3 (3), b2 (1): 13 parameters
    assert sr.MLP([2, 3, 1]).K == 13


@given(problems)
def test_unpack_follows_the_documented_layout(problem):
    # θ = (W1 row-major, b1, W2, b2, ..., W_{L+1}, b_{L+1})
    net, theta = problem.net, problem.theta
    k = 0
    for (W, b), m_in, m_out in zip(
        net.unpack(theta), net.layer_sizes[:-1], net.layer_sizes[1:], strict=True
    ):
        assert W.shape == (m_out, m_in) and b.shape == (m_out,)
        for o in range(m_out):
            np.testing.assert_array_equal(W[o], theta[k + o * m_in : k + (o + 1) * m_in])
        k += m_out * m_in
        np.testing.assert_array_equal(b, theta[k : k + m_out])
        k += m_out
    assert k == net.K


@given(problems)
def test_pack_and_unpack_are_inverse(problem):
    net, theta = problem.net, problem.theta
    np.testing.assert_array_equal(net.pack(net.unpack(theta)), theta)
    rng = np.random.default_rng(net.K)
    params = [
        (rng.normal(size=(m_out, m_in)), rng.normal(size=m_out))
        for m_in, m_out in zip(net.layer_sizes[:-1], net.layer_sizes[1:], strict=True)
    ]
    packed = net.pack(params)
    assert packed.shape == (net.K,) and packed.dtype == np.float64
    for (W, b), (W2, b2) in zip(params, net.unpack(packed), strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_init_is_reproducible_and_seed_dependent():
    net = sr.MLP([3, 5, 2])
    np.testing.assert_array_equal(net.init(seed=4), net.init(seed=4))
    assert not np.array_equal(net.init(seed=4), net.init(seed=5))


def test_network_map_accepts_training_data_and_has_dims_K_to_QN():
    data = sr.TrainingData.one_hot(np.arange(8.0).reshape(4, 2), [0, 1, 2, 1])
    net = sr.MLP([2, 4, data.Q])
    f = sr.NetworkMap(net, data)
    np.testing.assert_array_equal(f.inputs, data.inputs)
    assert (f.dim_in, f.dim_out, f.N, f.Q) == (net.K, data.Q * data.N, data.N, data.Q)
