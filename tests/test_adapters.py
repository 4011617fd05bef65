"""SmoothMap.from_callables: derivatives given or derived, named errors for missing ones.

Reference: the map f(θ) = (θ₀θ₁, sin θ₂, θ₀² + θ₂) written out with its closed-form
Jacobian and second derivatives by hand (not by the package).  Derived quantities are
sums of a few exact products: round-off at ``routes_agree_tol`` with cond = 1.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError


def value(t):
    return np.array([t[0] * t[1], np.sin(t[2]), t[0] ** 2 + t[2]])


def jacobian(t):
    return np.array([[t[1], t[0], 0.0], [0.0, 0.0, np.cos(t[2])], [2 * t[0], 0.0, 1.0]])


def hessians(t):
    """∇²f^a, shape (3, 3, 3), written out."""
    H = np.zeros((3, 3, 3))
    H[0, 0, 1] = H[0, 1, 0] = 1.0
    H[1, 2, 2] = -np.sin(t[2])
    H[2, 0, 0] = 2.0
    return H


def jacobian_derivative(t, v):
    return np.einsum("abk,k->ab", hessians(t), v)


points = st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(np.array)
GIVEN = {
    "jacobian": {"jacobian": jacobian},
    "jvp": {"jvp": lambda t, v: jacobian(t) @ v},
    "vjp": {"vjp": lambda t, w: w @ jacobian(t)},
}


@settings(max_examples=20, deadline=None)
@given(theta=points, which=st.sampled_from(sorted(GIVEN)))
def test_first_derivatives_from_any_one_of_jacobian_jvp_vjp(theta, which):
    f = sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3, **GIVEN[which])
    D = jacobian(theta)
    tol = routes_agree_tol(max(1.0, np.abs(D).max()), k=32.0)
    v, w = np.array([0.3, -1.0, 2.0]), np.array([1.0, 0.5, -0.25])
    np.testing.assert_allclose(f.jacobian(theta), D, rtol=0, atol=tol)
    np.testing.assert_allclose(f.jvp(theta, v), D @ v, rtol=0, atol=3 * tol)
    np.testing.assert_allclose(f.vjp(theta, w), w @ D, rtol=0, atol=3 * tol)


@settings(max_examples=20, deadline=None)
@given(theta=points)
def test_second_derivatives_from_jacobian_derivative_or_hessian_blocks(theta):
    def blocks(t, V, W, block_bytes):  # out[a, b] = Σ_i W[i, b] ∇²f^i V[:, a]
        return np.einsum("ib,ijk,ja->abk", W, hessians(t), V)

    by_jd = sr.SmoothMap.from_callables(
        value, dim_in=3, dim_out=3, jacobian=jacobian, jacobian_derivative=jacobian_derivative
    )
    by_blocks = sr.SmoothMap.from_callables(
        value, dim_in=3, dim_out=3, jacobian=jacobian, hessian_vector_blocks=blocks
    )
    v = np.array([0.5, 1.0, -1.5])
    V, W = np.eye(3)[:, :2], np.array([[1.0, 0.0], [2.0, 1.0], [0.0, -1.0]])
    tol = routes_agree_tol(4.0, k=32.0)
    for f in (by_jd, by_blocks):
        np.testing.assert_allclose(
            f.jacobian_derivative(theta, v), jacobian_derivative(theta, v), atol=tol
        )
        np.testing.assert_allclose(
            f.hessian_vector_products(theta, V, W), blocks(theta, V, W, 0), atol=tol
        )


def test_autograd_differentiates_through_a_callable_map():
    # geomstats' Christoffel symbols differentiate the metric DᵀD through D: reverse mode
    # of the Jacobian primitive, from jacobian_derivative.  Reference: the closed form.
    import autograd

    f = sr.SmoothMap.from_callables(
        value, dim_in=3, dim_out=3, jacobian=jacobian, jacobian_derivative=jacobian_derivative
    )
    theta = np.array([0.7, -0.4, 0.9])
    G = np.arange(9.0).reshape(3, 3)
    grad = autograd.grad(lambda t: np.sum(G * f.jacobian(t)))(theta)
    expected = np.einsum("ab,abk->k", G, hessians(theta))
    np.testing.assert_allclose(grad, expected, rtol=0, atol=routes_agree_tol(40.0, k=32.0))
    x = autograd.jacobian(lambda t: f(t))(theta)  # the value primitive: its vjp is D^T w
    np.testing.assert_allclose(x, jacobian(theta), rtol=0, atol=routes_agree_tol(2.0))


def test_a_missing_derivative_is_named_with_the_operation():
    f = sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3, jacobian=jacobian)
    theta = np.zeros(3)
    with pytest.raises(
        InputError,
        match=r"f.jacobian_derivative .* needs second derivatives.*pass jacobian_derivative= or hessian_vector_blocks=",
    ):
        f.jacobian_derivative(theta, np.ones(3))
    with pytest.raises(InputError, match="hessian_vector_products.*Frobenius"):
        f.hessian_vector_products(theta, np.eye(3), np.eye(3))
    only_value = sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3)
    with pytest.raises(
        InputError, match=r"f.jacobian .*needs the Jacobian.*pass jacobian=, jvp= or vjp="
    ):
        only_value.jacobian(theta)
    # the Frobenius test of its bundle says the same, not a raw numpy error
    with pytest.raises(InputError, match="second derivatives"):
        sr.PullbackBundle(f).distribution().frobenius_defect(np.array([0.5, 1.0, 0.2]))
    assert f.derivation()["jacobian_derivative"] == "missing"
    assert only_value.derivation()["jacobian"] == "missing"


def test_results_are_checked_for_precision_and_shape():
    f32 = sr.SmoothMap.from_callables(lambda t: t.astype(np.float32), dim_in=2, dim_out=2)
    with pytest.raises(InputError, match="float32 values; expected float64"):
        f32(np.ones(2))
    wrong = sr.SmoothMap.from_callables(lambda t: t[:1], dim_in=2, dim_out=2)
    with pytest.raises(InputError, match=r"returned shape \(1,\); expected \(2,\)"):
        wrong(np.ones(2))
    with pytest.raises(InputError, match="jvp must be callable"):
        sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3, jvp=3)


def test_matrix_free_only_with_both_products_given():
    both = sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3, **GIVEN["jvp"], **GIVEN["vjp"])
    one = sr.SmoothMap.from_callables(value, dim_in=3, dim_out=3, **GIVEN["jacobian"])
    assert both.has_matrix_free_products and not one.has_matrix_free_products
    theta = np.array([0.2, 0.3, 0.4])
    D = jacobian(theta)
    np.testing.assert_allclose(both.ntk(theta), D @ D.T, rtol=0, atol=routes_agree_tol(10.0))


def test_second_derivatives_of_the_value_by_autograd_and_third_ones_refused():
    import autograd

    f = sr.SmoothMap.from_callables(
        value, dim_in=3, dim_out=3, jacobian=jacobian, jacobian_derivative=jacobian_derivative
    )
    theta, w = np.array([0.7, -0.4, 0.9]), np.array([1.0, -2.0, 0.5])
    # ∇²(w·f) through the value primitive's rules, which go through the traced Jacobian
    H = autograd.hessian(lambda t: np.dot(w, f(t)))(theta)
    expected = np.einsum("a,abk->bk", w, hessians(theta))
    np.testing.assert_allclose(H, expected, rtol=0, atol=routes_agree_tol(8.0, k=32.0))
    with pytest.raises(InputError, match="derivatives of f of order three"):
        autograd.hessian(lambda t: np.sum(f.jacobian(t)))(theta)
