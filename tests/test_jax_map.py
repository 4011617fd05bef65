"""sr.maps.from_jax: a JAX model gets every operation of the package, equal to the autograd network.

The reference is the same MLP built by ``sr.NetworkMap`` (closed-form and autograd
derivatives): the two compute the same exact quantities by different programs, so
they may differ by round-off only — ``routes_agree_tol`` with the condition number
of the linear algebra applied to D (1 for f and its derivatives, cond(D) for the
pseudo-inverse, cond(D)² for Gram inverses and the pullback metric), and never by
more than 1e-10 relative (asserted on the tolerance itself).
"""

import subprocess
import sys

import numpy as np
import pytest
from tolerances import assert_routes_agree as agree

import subriemann as sr
from subriemann.errors import InputError
from subriemann.geometry import SquareLoop

jax = pytest.importorskip("jax", reason="the JAX adapter needs the optional 'jax' extra")
jnp = jax.numpy


def jax_mlp(mlp, inputs):
    """The network x(θ) of ``mlp`` on ``inputs`` written in jax.numpy, θ in the package's layout."""
    X = np.asarray(inputs)  # numpy: float64 when traced (a jnp constant made now would be float32)
    layers = list(zip(mlp.offsets, mlp.shapes, strict=True))

    def net(theta):
        a = X
        for i, ((s, m, e), shape) in enumerate(layers):
            z = a @ theta[s:m].reshape(shape).T + theta[m:e]
            a = jnp.tanh(z) if i < len(layers) - 1 else z
        return a.reshape(-1)

    return net


def pair(layers, n_samples, seed):
    mlp = sr.MLP(layers)
    inputs = np.random.default_rng(seed).normal(size=(n_samples, mlp.M))
    f = sr.NetworkMap(mlp, inputs)
    theta = mlp.init(seed)
    return f, sr.maps.from_jax(jax_mlp(mlp, inputs), example_point=theta), theta


@pytest.fixture(scope="module")
def over():
    """Over-parametrized: K = 17 > QN = 4 (grad_h, flows, Frobenius, holonomy)."""
    return pair([2, 3, 2], 2, seed=0)


@pytest.fixture(scope="module")
def under():
    """Under-parametrized: K = 5 ≤ QN = 8, an immersion (the pullback metric g, christoffels, exp).

    cond(D) ≈ 66 at this seed, so the cond(D)² of g⁻¹ keeps the round-off model below 1e-10.
    """
    return pair([2, 1, 1], 8, seed=1)


def test_value_and_first_and_second_derivatives_agree(over):
    f, g, theta = over
    rng = np.random.default_rng(2)
    v, w = rng.normal(size=f.dim_in), rng.normal(size=f.dim_out)
    V, W = rng.normal(size=(f.dim_in, 3)), rng.normal(size=(f.dim_out, 2))
    # sums over a layer's fan-in (≤ K terms): k covers K roundings per route
    k = 4.0 * f.dim_in
    agree(g(theta), f(theta), k=k)
    agree(g.jacobian(theta), f.jacobian(theta), k=k)
    agree(g.jvp(theta, v), f.jvp(theta, v), k=k)
    agree(g.vjp(theta, w), f.vjp(theta, w), k=k)
    agree(g.jacobian_derivative(theta, v), f.jacobian_derivative(theta, v), k=k)
    agree(g.hessian_vector_products(theta, V, W), f.hessian_vector_products(theta, V, W), k=k)
    assert g.has_matrix_free_products


def test_grad_h_and_the_adapted_flow_agree(over):
    f, g, theta = over
    cond = float(np.linalg.cond(f.jacobian(theta)))
    covector = np.random.default_rng(3).normal(size=f.dim_in)
    agree(
        sr.PullbackBundle(g).grad(theta, covector), sr.PullbackBundle(f).grad(theta, covector), cond
    )
    cost = sr.L2Cost(np.zeros(f.dim_out), 2)
    orbit_g = sr.integrate(sr.AdaptedFlow(g, cost), theta, 0.5)
    orbit_f = sr.integrate(sr.AdaptedFlow(f, cost), theta, 0.5)
    np.testing.assert_array_equal(orbit_g.s, orbit_f.s)
    agree(orbit_g.theta, orbit_f.theta, cond, k=64.0 * len(orbit_f.s))
    agree(orbit_g.cost, orbit_f.cost, cond, k=64.0 * len(orbit_f.s))


def test_frobenius_test_and_brackets_agree(over):
    f, g, theta = over
    cond2 = float(np.linalg.cond(f.jacobian(theta))) ** 2  # (DDᵀ)⁻¹ in the brackets
    dg, df = sr.PullbackBundle(g).distribution(), sr.PullbackBundle(f).distribution()
    agree(dg.frame_brackets(theta), df.frame_brackets(theta), cond2, k=4.0 * f.dim_in)
    rg, rf = dg.frobenius_defect(theta), df.frobenius_defect(theta)
    agree(rg.relative_defect, rf.relative_defect, cond2, k=4.0 * f.dim_in)
    assert rg.is_involutive == rf.is_involutive is False  # QN = 4 ≥ 2: generically not involutive


def test_holonomy_of_a_square_loop_agrees(over):
    f, g, theta = over
    cond = float(np.linalg.cond(f.jacobian(theta)))
    loop = SquareLoop(x0=f(theta), a=0, b=1, eps=0.05)
    hg, hf = sr.PullbackBundle(g).holonomy(theta, loop), sr.PullbackBundle(f).holonomy(theta, loop)
    # the end points θ(T) = θ0 + displacement carry the round-off of |θ| (the displacement is
    # a difference of O(|θ|) numbers).  Both runs take the same adaptive steps (their error
    # estimates agree to round-off); independent per-step roundings (~8 each) accumulate like
    # a random walk, ~8·√steps (Higham, Accuracy and Stability, §2.8), with a factor 8 margin
    steps = len(hf.lift.solution.t)
    agree(theta + hg.displacement, theta + hf.displacement, cond, k=64.0 * np.sqrt(steps))
    assert np.linalg.norm(hf.displacement) > 1e-4  # a non-trivial holonomy, ~ε²|[u_0, u_1]|


def test_christoffels_and_exp_of_the_pullback_metric_agree(under):
    f, g, theta = under
    cond2 = float(np.linalg.cond(f.jacobian(theta))) ** 2  # g⁻¹ = (DᵀD)⁻¹
    mg, mf = sr.PullbackMetric(g), sr.PullbackMetric(f)
    agree(mg.christoffels(theta), mf.christoffels(theta), cond2, k=4.0 * f.dim_out)
    v = 0.3 * np.ones(f.dim_in)
    # 100 Euler steps θ += dt·(−Γ(v, v)) over t ∈ [0, 1]: the per-step differences δΓ·|v|²
    # add up to about one (Σ dt = 1), and |Γ||v|² ≈ 3.6 is of the size of |exp_θ(v)| ≈ 3:
    # the Christoffel model relative to the end point, times a geodesic sensitivity of order 1
    agree(mg.exp(v, theta), mf.exp(v, theta), cond2, k=4.0 * f.dim_out)


def test_float32_models_are_refused_and_the_global_x64_flag_is_left_alone():
    before = bool(jax.config.jax_enable_x64)
    with pytest.raises(InputError, match="float32 values.*expected float64"):
        sr.maps.from_jax(lambda t: jnp.sin(t).astype(jnp.float32), input_dim=3)
    if not before:  # a jnp constant made while x64 is off is float32: found by tracing
        c = jnp.ones(3)
        with pytest.raises(InputError, match="float32 values"):
            sr.maps.from_jax(lambda t: c * t, input_dim=3)
    g = sr.maps.from_jax(lambda t: jnp.sin(t[:2]) * t[2], input_dim=3)
    assert g(np.ones(3)).dtype == np.float64
    assert bool(jax.config.jax_enable_x64) == before


def test_bad_arguments_name_what_was_expected():
    with pytest.raises(InputError, match="input_dim=K or example_point"):
        sr.maps.from_jax(jnp.sin)
    with pytest.raises(InputError, match="expected a vector"):
        sr.maps.from_jax(lambda t: jnp.sum(t), input_dim=2)
    with pytest.raises(InputError, match="must be callable"):
        sr.maps.from_jax(3, input_dim=2)


def test_the_package_imports_without_jax():
    code = "import sys, subriemann as sr; sr.maps.from_jax; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
