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

import adapter_checks as checks
import numpy as np
import pytest

import subriemann as sr
from subriemann.errors import InputError

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
    checks.derivatives_agree(*over)


def test_grad_h_and_the_adapted_flow_agree(over):
    checks.grad_h_and_adapted_flow_agree(*over)


def test_frobenius_test_and_brackets_agree(over):
    checks.frobenius_test_agrees(*over)


def test_holonomy_of_a_square_loop_agrees(over):
    checks.holonomy_agrees(*over)


def test_christoffels_and_exp_of_the_pullback_metric_agree(under):
    checks.pullback_metric_agrees(*under)


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
