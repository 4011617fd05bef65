"""Invariance under a linear change of parameters θ = Aφ, the geometric point of the paper.

With f^φ = f∘A: D_φ = D_θA, ∇_φ = Aᵀ∇_θ.  Statements (issue 3, item 4):

* grad_g transforms as a vector: A·grad_g^φ = grad_g^θ (g is a tensor, (5.15)).
* grad_h: the push-forward is invariant, D_φ·grad_h^φ = D_θ·grad_h^θ = ∇ₓC — the
  output-layer velocity of the adapted flow does not depend on the
  parametrization — while the vertical part of A·grad_h^φ − grad_h^θ does not
  vanish, because V = range Dᵀ is defined with the Euclidean structure of R^K;
  for orthogonal A, grad_h transforms as a vector.
* The Euclidean gradient's push-forward changes: D_φ∇_φC = DAAᵀDᵀ∇ₓC ≠ DDᵀ∇ₓC.

Tolerances are ``1e4 · eps · cond(D_φ) · cond(A)`` times the sizes involved
(the solve is backward stable; A enters through D_φ and one product).  The
"changes" statements assert a relative difference above 1e-3: for a generic A
(random, cond(A) in [2, 50]) it is O(1); below 1e-3 it would be a coincidence.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from problems import networks

import subriemann as sr
from subriemann.geometry.bundles import PullbackBundle
from subriemann.geometry.metrics import PullbackMetric
from subriemann.maps.smooth import SmoothMap

EPS = np.finfo(np.float64).eps


class Reparametrized(SmoothMap):
    """f∘A: φ ↦ f(Aφ), with exact chain-rule derivatives."""

    def __init__(self, f, A):
        super().__init__(A.shape[1], f.dim_out)
        self.f, self.A = f, A

    def _value(self, phi):
        return self.f(self.A @ phi)

    def _jacobian(self, phi):
        return self.f.jacobian(self.A @ phi) @ self.A

    def _jacobian_derivative(self, phi, v):
        return self.f.jacobian_derivative(self.A @ phi, self.A @ v) @ self.A


def random_change(rng, K, orthogonal=False):
    Q1 = np.linalg.qr(rng.normal(size=(K, K)))[0]
    if orthogonal:
        return Q1
    Q2 = np.linalg.qr(rng.normal(size=(K, K)))[0]
    s = np.exp(rng.uniform(-1.0, 1.0, K))
    s[0], s[-1] = np.e, 1 / np.e  # cond(A) = e² ≈ 7.4: generic, well conditioned
    return Q1 @ np.diag(s) @ Q2


def one_layer_networks(regime):
    """One hidden tanh layer: width 3–5 with K ≥ 3QN ("over"), width 1–2 with QN > K ("under")."""
    return networks(
        depth=(1, 1),
        width=(3, 5) if regime == "over" else (1, 2),
        input_dim=(1, 2),
        output_dim=(1, 2),
        samples=(1, 10**6) if regime == "over" else (1, 5),
        regime=regime,
        min_ratio=3.0,
        input_scale=1.5,
        weight_scale=2.0,
        bias_scale=1.0,
    ).map(lambda p: (p.f, p.theta, p.rng))


def setup(f, theta, rng, orthogonal=False):
    A = random_change(rng, f.dim_in, orthogonal)
    phi = np.linalg.solve(A, theta)  # θ = Aφ
    cost = sr.L2Cost(rng.normal(size=f.dim_out), n_samples=1)
    return A, phi, Reparametrized(f, A), cost


@given(one_layer_networks("under"))
def test_grad_g_transforms_as_a_vector(case):
    """A·grad_g^φ C = grad_g^θ C: the pullback-metric flow (5.18) is parametrization-free."""
    f, theta, rng = case
    A, phi, f_phi, cost = setup(f, theta, rng)
    report = PullbackMetric(f).rank_report(theta)
    assume(report.full_column_rank and report.condition_number < 1e5)
    grad_x = cost.grad(f(theta))
    g_theta = PullbackMetric(f).grad(theta, f.vjp(theta, grad_x))
    g_phi = PullbackMetric(f_phi).grad(phi, f_phi.vjp(phi, grad_x))
    t = 1e4 * EPS * report.condition_number * np.linalg.cond(A) ** 2
    assert np.allclose(A @ g_phi, g_theta, atol=t * np.linalg.norm(g_theta))


@given(one_layer_networks("over"))
def test_grad_h_push_forward_is_invariant_but_vertical_part_is_not(case):
    """D_φ·grad_h^φ = D_θ·grad_h^θ = ∇ₓC, while A·grad_h^φ − grad_h^θ ∈ ker D is non-zero."""
    f, theta, rng = case
    A, phi, f_phi, cost = setup(f, theta, rng)
    fiber = PullbackBundle(f).at(theta)
    assume(fiber.full_rank and fiber.report.condition_number < 1e5)
    grad_x = cost.grad(f(theta))
    g_theta = PullbackBundle(f).grad(theta, f.vjp(theta, grad_x))
    g_phi = PullbackBundle(f_phi).grad(phi, f_phi.vjp(phi, grad_x))
    t = 1e4 * EPS * fiber.report.condition_number * np.linalg.cond(A) ** 2
    scale = np.linalg.norm(grad_x)
    assert np.allclose(f_phi.jvp(phi, g_phi), grad_x, atol=t * scale)
    assert np.allclose(f.jvp(theta, g_theta), grad_x, atol=t * scale)
    difference = A @ g_phi - g_theta  # both solve D θ' = ∇ₓC, so the difference is vertical
    assert np.allclose(f.jvp(theta, difference), 0.0, atol=t * scale)
    assume(f.dim_in > f.dim_out)  # a non-trivial vertical space
    assert np.linalg.norm(difference) > 1e-3 * np.linalg.norm(g_theta)
    # grad_h^θ is the minimum-norm solution: the mapped A·grad_h^φ is strictly longer
    assert np.linalg.norm(A @ g_phi) > np.linalg.norm(g_theta)


@given(one_layer_networks("over"))
def test_grad_h_transforms_as_a_vector_for_orthogonal_changes(case):
    """A orthogonal: (DA)⁺ = AᵀD⁺, so A·grad_h^φ = grad_h^θ exactly."""
    f, theta, rng = case
    A, phi, f_phi, cost = setup(f, theta, rng, orthogonal=True)
    fiber = PullbackBundle(f).at(theta)
    assume(fiber.full_rank and fiber.report.condition_number < 1e5)
    grad_x = cost.grad(f(theta))
    g_theta = fiber.grad(f.vjp(theta, grad_x))
    g_phi = PullbackBundle(f_phi).grad(phi, f_phi.vjp(phi, grad_x))
    t = 1e4 * EPS * fiber.report.condition_number
    assert np.allclose(A @ g_phi, g_theta, atol=t * np.linalg.norm(g_theta))
    # and the bundle itself is carried along: V^φ = Aᵀ V^θ
    P_phi = PullbackBundle(f_phi).projector(phi)
    assert np.allclose(A @ P_phi @ A.T, fiber.projector(), atol=t)


@given(one_layer_networks("over"))
def test_euclidean_gradient_push_forward_depends_on_parametrization(case):
    """D_φ∇_φC = D A Aᵀ Dᵀ∇ₓC ≠ D Dᵀ∇ₓC = D_θ∇_θC (generic A); equal for orthogonal A."""
    f, theta, rng = case
    A, phi, f_phi, cost = setup(f, theta, rng)
    grad_x = cost.grad(f(theta))
    push_theta = f.jvp(theta, f.vjp(theta, grad_x))  # (1.22) in θ
    push_phi = f_phi.jvp(phi, f_phi.vjp(phi, grad_x))  # (1.22) in φ
    assume(np.linalg.norm(push_theta) > 1e-8 * np.linalg.norm(grad_x))
    assert np.linalg.norm(push_phi - push_theta) > 1e-3 * np.linalg.norm(push_theta)
    O = random_change(rng, f.dim_in, orthogonal=True)
    f_O = Reparametrized(f, O)
    phi_O = O.T @ theta
    push_O = f_O.jvp(phi_O, f_O.vjp(phi_O, grad_x))
    assert np.allclose(push_O, push_theta, atol=1e-12 * np.linalg.norm(push_theta) * f.dim_in)
