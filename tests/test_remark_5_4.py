"""Remark 5.4 in the output space: 𝒫 onto range D ⊂ R^{QN} under rank loss.

Remark 5.4 says that with rank loss in the over-parametrized case "the projector 𝒫
is not in general affiliated with a foliation of R^{QN}, and therefore (4.7) has
the structure of a dynamical system with non-holonomic constraints".  The object
is 𝒫[θ] = DD⁺ (4.2), the orthoprojector onto range D[θ] in the *output* space —
not the bundle V = range Dᵀ ⊂ TR^K of §2.4, whose non-integrability the package
measures elsewhere (tests/test_network_frobenius.py).

What is true (and tested here):

* **Constant rank ⇒ holonomic.**  If rank D = r on an open U ⊂ R^K, the
  constant-rank theorem makes f(U) locally an r-dimensional embedded submanifold
  of R^{QN} with T_{f(θ)} f(U) = range D[θ]; so 𝒫[θ] depends on θ only through
  x = f(θ), it is the tangent projector of that manifold, and x′ ∈ range 𝒫 is the
  holonomic constraint "x stays on f(U)".  Tested on the linear bottleneck
  x_j = W₂(W₁x_j + b₁) + b₂ (constant rank K − 2 = M + 2Q − 1: the image is
  {WX + b1ᵀ : rank W ≤ 1} in closed form), at its saddles, along the symmetry
  fibre (aW₁, ab₁ + c, W₂/a, b₂ − W₂c/a) and at random points: 𝒫 equals the
  closed-form tangent projector, is constant along the fibre, and the Lie
  bracket of any two tangent fields of the closed-form image lies in range 𝒫
  (Frobenius, to an error-model tolerance, while the brackets themselves are
  O(1)).  And on duplicated inputs (x₀ = x₁; rank Q(N − 1) at every generic θ)
  𝒫 is the constant projector onto the subspace {x₀ = x₁}: the leaves are affine.
* **Non-constant rank: no distribution on R^{QN} at all.**  Where the rank
  jumps, 𝒫 is not a function of x: on the zero network (all weights 0, output
  bias ȳ) the same output x* is f(θ*) with rank D = Q and f(θ′) (hidden weights
  random, output weights 0) with rank D = QN, so range 𝒫 at x* is 2- or
  10-dimensional depending on the parameter.  Frobenius' condition is not even
  posed.  Since every output curve of (4.7) is x(s) = f(θ(s)), it lies in the
  image f(R^K) whatever the rank does; for these analytic networks the maximal
  rank is attained on an open dense set, on which the first point applies.
  Hence no network gives a *non-holonomic* 𝒫 in the Frobenius sense: on each
  open set of constant rank the constraint is holonomic, and at rank jumps
  x ↦ 𝒫 is undefined (a singular, parameter-dependent constraint).  The
  non-holonomic geometry of the paper lives upstairs, in V ⊂ TR^K (§2.4).

References are independent of the package: the closed-form image of the linear
bottleneck (its tangent fields written out and differentiated by autograd), the
coordinate subspace of duplicated inputs, and the closed-form rank of D at zero
output weights.  The package supplies only the object under test, 𝒫 = DD⁺ from
``JacobianSVD(f.jacobian(θ)).range_projector()``.
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import orthonormality_tol, routes_agree_tol, solve_residual_tol, svd_zero_tol

import subriemann as sr
from subriemann.diagnostics import cases
from subriemann.linalg import JacobianSVD


def output_projector(f, theta):
    """𝒫[θ] = DD⁺ (4.2) and rank D, from the package (the object under test)."""
    svd = JacobianSVD(f.jacobian(theta))
    return svd.range_projector(), svd.rank


def subspace_projector(B, rank):
    """Orthoprojector onto the span of the columns of B (numpy SVD, the reference route)."""
    U = np.linalg.svd(B, full_matrices=False)[0][:, :rank]
    return U @ U.T


# -- the linear bottleneck: the image {WX + b1ᵀ : rank W ≤ 1} in closed form ---------------
class BottleneckImage:
    """Tangent fields of M = {x = (X̃Zᵀ) : Z = [W, b], rank W ≤ 1} near a point of rank W = 1.

    x ↦ Z is the left inverse of the injective linear map Z ↦ X̃Zᵀ (X̃ = [X, 1], of
    full column rank M + 1 ≤ N); W = u σ vᵀ on M, and u(x) = W w₀/|W w₀|,
    v(x) = Wᵀu/|Wᵀu| extend the singular vectors smoothly off M.  The fields

        A_q(x) = L(e_q vᵀ, 0),   C_m(x) = L(u e_mᵀ, 0),   B_q = L(0, e_q)

    span T_xM = L({a vᵀ + u cᵀ} ⊕ R^Q) at every x ∈ M (dimension M + 2Q − 1)
    and are defined and smooth on a neighbourhood of M.
    """

    def __init__(self, X, Q, w0):
        self.N, self.M = X.shape
        self.Q = Q
        self.Xt = np.hstack([X, np.ones((self.N, 1))])
        self.left_inverse = np.linalg.pinv(self.Xt)  # a constant linear map: exact derivative
        self.w0 = np.asarray(w0, float)

    def embed(self, W, b):
        """x = L(W, b), sample-major."""
        return anp.ravel(anp.dot(self.Xt, anp.concatenate([W, b[:, None]], axis=1).T))

    def singular_vectors(self, x):
        Zt = anp.dot(self.left_inverse, anp.reshape(x, (self.N, self.Q)))  # (M + 1, Q)
        W = Zt[: self.M].T
        u = anp.dot(W, self.w0)
        u = u / anp.sqrt(anp.sum(u**2))
        v = anp.dot(W.T, u)
        return u, v / anp.sqrt(anp.sum(v**2))

    def fields(self):
        """The spanning fields A_q, C_m, B_q as functions R^{QN} → R^{QN}."""
        Q, M = self.Q, self.M
        eye_q, eye_m = np.eye(Q), np.eye(M)

        def A(q):
            return lambda x: self.embed(
                anp.outer(eye_q[q], self.singular_vectors(x)[1]), np.zeros(Q)
            )

        def C(m):
            return lambda x: self.embed(
                anp.outer(self.singular_vectors(x)[0], eye_m[m]), np.zeros(Q)
            )

        def B(q):
            return lambda x: self.embed(np.zeros((Q, M)), eye_q[q]) + 0.0 * x

        return [A(q) for q in range(Q)] + [C(m) for m in range(M)] + [B(q) for q in range(Q)]


def lie_bracket_with_scale(X, Y, x):
    """[X, Y](x) = J_Y X − J_X Y (autograd Jacobians) and the scale |J_Y||X| + |J_X||Y|."""
    JX, JY = autograd.jacobian(X)(x), autograd.jacobian(Y)(x)
    Xx, Yx = X(x), Y(x)
    scale = np.linalg.norm(JY, 2) * np.linalg.norm(Xx) + np.linalg.norm(JX, 2) * np.linalg.norm(Yx)
    return JY @ Xx - JX @ Yx, scale


def bottleneck_points(seed):
    """The case's saddles and minimum, points on their symmetry fibres, and random points."""
    net, f, cost, points = cases.linear_bottleneck_case(seed=seed)
    rng = np.random.default_rng(seed)
    fibre = []
    for theta in points:
        (W1, b1), (W2, b2) = net.unpack(theta)
        for a, c in ((-2.0, 0.7), (0.3, -1.1)):  # (aW₁, ab₁ + c, W₂/a, b₂ − W₂c/a)
            shift = np.array([c])
            fibre.append(
                (theta, net.pack([(a * W1, a * b1 + shift), (W2 / a, b2 - W2 @ shift / a)]))
            )
    random = [net.init(seed=int(s)) for s in rng.integers(0, 2**31, size=3)]
    return net, f, list(points), fibre, random


def bottleneck_image(net, f, theta):
    """The closed-form image near f(θ), with w₀ the top right singular vector of W there."""
    (W1, _), (W2, _) = net.unpack(theta)
    w0 = np.linalg.svd(W2 @ W1)[2][0]
    return BottleneckImage(f.inputs, net.layer_sizes[-1], w0)


def tangent_basis(image, x):
    return np.column_stack([F(x) for F in image.fields()])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_P_is_the_tangent_projector_of_the_closed_form_image(seed):
    """𝒫[θ] = orthoprojector onto T_{f(θ)}M, M = {WX + b1ᵀ : rank W ≤ 1}; rank D = M + 2Q − 1."""
    net, f, points, _, random = bottleneck_points(seed)
    M, Q = net.layer_sizes[0], net.layer_sizes[-1]
    r = M + 2 * Q - 1
    for theta in points + random:
        P, rank = output_projector(f, theta)
        assert rank == r == net.K - 2
        image = bottleneck_image(net, f, theta)
        B = tangent_basis(image, f(theta))
        assert np.linalg.matrix_rank(B) == r
        D = f.jacobian(theta)
        np.testing.assert_allclose(
            P, subspace_projector(B, r), rtol=0, atol=solve_residual_tol(D, 1.0)
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_P_is_constant_along_the_symmetry_fibre(seed):
    """On the fibre orbit θ ↦ (aW₁, ab₁ + c, W₂/a, b₂ − W₂c/a): same x, same 𝒫 — 𝒫 is a function of x."""
    net, f, _, fibre, _ = bottleneck_points(seed)
    for theta, moved in fibre:
        x = f(theta)
        np.testing.assert_allclose(
            f(moved), x, rtol=0, atol=routes_agree_tol(np.linalg.norm(x), k=64)
        )
        P0, r0 = output_projector(f, theta)
        P1, r1 = output_projector(f, moved)
        assert r0 == r1 == net.K - 2
        tol = solve_residual_tol(f.jacobian(theta), 1.0) + solve_residual_tol(
            f.jacobian(moved), 1.0
        )
        np.testing.assert_allclose(P1, P0, rtol=0, atol=tol)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_range_P_is_involutive_on_the_image(seed):
    """Frobenius on the image: for tangent fields X, Y of M, [X, Y](f(θ)) ∈ range 𝒫[θ].

    The brackets are O(1) (the image is curved), so the check is not vacuous; the
    normal component (1 − 𝒫)[X, Y] is round-off: the package's 𝒫 (subspace error
    ~ EPS·cond D) plus the autograd Jacobians (~ EPS·cond X̃ · scale).
    """
    net, f, points, fibre, random = bottleneck_points(seed)
    largest = 0.0
    for theta in points + [moved for _, moved in fibre] + random:
        P, _ = output_projector(f, theta)
        x = f(theta)
        image = bottleneck_image(net, f, theta)
        fields = image.fields()
        D = f.jacobian(theta)
        cond_xt = np.linalg.cond(image.Xt)
        for i in range(len(fields)):
            for k in range(i + 1, len(fields)):
                bracket, scale = lie_bracket_with_scale(fields[i], fields[k], x)
                normal = bracket - P @ bracket
                tol = solve_residual_tol(D, scale) + routes_agree_tol(
                    scale, cond=cond_xt, k=16.0 * x.size
                )
                assert np.linalg.norm(normal) <= tol, (i, k, np.linalg.norm(normal), tol)
                largest = max(largest, np.linalg.norm(bracket) / max(scale, 1e-300))
    assert largest > 1e-2  # brackets of order the fields' variation: a real check


def test_the_bracket_check_detects_a_non_involutive_distribution():
    """Control: the same bracket route flags Heisenberg's [X, Y] = ∂_z ∉ span{X, Y}."""

    def X(p):
        return anp.array([1.0, 0.0, -0.5 * p[1]])

    def Y(p):
        return anp.array([0.0, 1.0, 0.5 * p[0]])

    p = np.array([0.3, -0.2, 0.1])
    bracket, scale = lie_bracket_with_scale(X, Y, p)
    P = subspace_projector(np.column_stack([X(p), Y(p)]), 2)
    assert np.linalg.norm(bracket - P @ bracket) > 0.5


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), Q=st.integers(1, 2))
def test_duplicated_inputs_P_is_the_constant_projector_onto_x0_equals_x1(seed, Q):
    """x₀ = x₁ ⇒ range D ⊂ {x₀ = x₁}; rank Q(N − 1) at generic θ, so 𝒫 = that constant projector.

    A constant distribution: its leaves are the affine planes x₀ − x₁ = const, the
    holonomic constraint of (4.7) here (the orbits keep x₀ = x₁).
    """
    rng = np.random.default_rng(seed)
    N, M = 4, 2
    X = rng.normal(size=(N, M))
    X[1] = X[0]
    net = sr.MLP([M, 5, Q])
    f = sr.NetworkMap(net, X)
    theta = net.init(seed=seed % 1000)
    P, rank = output_projector(f, theta)
    assert rank == Q * (N - 1)
    # {x₀ = x₁} is the kernel of x ↦ x₀ − x₁: spanned by (e_{0q} − e_{1q})/√2, q < Q
    normal = np.zeros((Q * N, Q))
    normal[np.arange(Q), np.arange(Q)] = 1.0 / np.sqrt(2.0)
    normal[Q + np.arange(Q), np.arange(Q)] = -1.0 / np.sqrt(2.0)
    reference = np.eye(Q * N) - normal @ normal.T
    np.testing.assert_allclose(
        P, reference, rtol=0, atol=solve_residual_tol(f.jacobian(theta), 1.0)
    )


def test_zero_network_P_is_not_a_function_of_x_where_the_rank_jumps():
    """Non-constant rank: one output x*, two parameters, range 𝒫 of dimension Q and QN.

    θ*: all weights 0, output bias ȳ (zero_network_case); θ′: the same output bias,
    output weights 0, hidden weights random.  Both give x_j = ȳ for every j.  At zero
    output weights D has the columns ∂x/∂W_{L+1} = hidden features, ∂x/∂b_{L+1} = 1 and
    zero (W₁, b₁) columns, so rank D = Q·rank [tanh(XW₁ᵀ + b₁), 1] (closed form): Q at θ*
    (features constant over the samples), Q·min(N, M₁ + 1) = QN at θ′.  And the rank is
    QN arbitrarily close to θ* too: the rank is not locally constant there.
    """
    net, f, cost, theta_star = cases.zero_network_case(seed=0)
    (W1, b1), (W2, b2) = net.unpack(theta_star)
    X = f.inputs
    N, Q = X.shape[0], net.layer_sizes[-1]
    rng = np.random.default_rng(3)
    theta_prime = net.pack([(rng.normal(size=W1.shape), rng.normal(size=b1.shape)), (W2, b2)])
    x_star = f(theta_star)
    np.testing.assert_array_equal(f(theta_prime), x_star)
    np.testing.assert_allclose(
        x_star, np.tile(b2, N), rtol=0, atol=routes_agree_tol(np.linalg.norm(b2))
    )

    def closed_form_rank(W1, b1):
        features = np.hstack([np.tanh(X @ W1.T + b1), np.ones((N, 1))])
        return Q * np.linalg.matrix_rank(features)

    P_star, r_star = output_projector(f, theta_star)
    P_prime, r_prime = output_projector(f, theta_prime)
    assert r_star == closed_form_rank(W1, b1) == Q
    assert r_prime == closed_form_rank(*net.unpack(theta_prime)[0]) == Q * N
    # 𝒫 differs at the same x by a projector of rank QN − Q: x ↦ 𝒫 is not defined
    # (a difference of nested orthoprojectors is one: norm 1 up to their orthonormality error)
    assert np.linalg.norm(P_prime - P_star, 2) == pytest.approx(1.0, abs=orthonormality_tol(Q * N))
    assert np.trace(P_prime - P_star) == pytest.approx(Q * N - Q, abs=orthonormality_tol(Q * N))
    sigma_max = np.linalg.svd(f.jacobian(theta_star), compute_uv=False)[0]
    assert np.linalg.svd(f.jacobian(theta_star), compute_uv=False)[Q] <= svd_zero_tol(
        (Q * N, net.K), sigma_max
    )
    for size in (1e-2, 1e-4):
        nearby = theta_star + size * rng.normal(size=net.K)
        assert output_projector(f, nearby)[1] == Q * N
