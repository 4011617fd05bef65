"""Is the pullback bundle V of a network integrable? §2.4 and Remark 5.4, numerically.

Claims tested:
* u_i = Pen[D]e_i is f-related to e_i, so every frame bracket is vertical
  (Π_V[u_i, u_j] = 0) and the curvature is the whole bracket;
* the closed-form brackets (``jacobian_derivative``), autograd through the
  pseudo-inverse and central differences agree;
* small smooth over-parametrized networks with QN ≥ 2 are not involutive, with
  a relative defect many orders of magnitude above the 1e-10 of integrable
  examples; QN = 1 is always integrable; a linear map's V is integrable;
* Remark 5.4: in the under-parametrized case the range of 𝒫 along the image is
  the tangent bundle of the image — the distribution x ↦ range D[θ(x)] of a
  local graph parametrization is involutive (central differences, with their
  error in the tolerance), while the same route on an over-parametrized V is not.
"""

from __future__ import annotations

import numpy as np
import problems
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import qr

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.distributions.frame import Distribution
from subriemann.geometry.bundles import PullbackBundle

#: the non-linear smooth activations (a linear network's V is integrable: tested apart)
SMOOTH = tuple(a for a in problems.SMOOTH if a != "identity")


#: small networks, fast enough for many hypothesis examples (ranges of problems.networks)
SMALL = dict(depth=(1, 2), width=(2, 5), input_dim=(1, 3), output_dim=(1, 3), samples=(1, 3))
#: QN = 1: one output (Q = 1) on one sample (N = 1), up to three hidden layers
ONE_OUTPUT = SMALL | {"depth": (1, 3), "width": (1, 5), "output_dim": (1, 1), "samples": (1, 1)}


def small_over(activations=("tanh",)):
    """(NetworkMap, θ) with K > QN ≥ 2 from the suite's one strategy, problems.networks."""
    over = problems.networks(**SMALL, activations=activations, regime="over", min_outputs=2)
    return over.map(lambda problem: (problem.f, problem.theta))


@given(case=small_over(activations=SMOOTH))
def test_frame_brackets_are_vertical_and_curvature_is_the_whole_bracket(case):
    """Π_V[u_i, u_j] = 0 (f-relatedness), hence |Ω|_HS = HS norm of the brackets."""
    f, theta = case
    dist = PullbackBundle(f).distribution()
    B = dist.frame_brackets(theta)
    E = dist.orthonormal_basis(theta).basis  # orthonormal basis of V = range Dᵀ
    horizontal = np.einsum("ka,ijk->ija", E, B)
    # the horizontal part cancels analytically; its round-off grows like cond(D)^2
    # (observed <= 4e-15 cond^2 |B| over 400 random networks; 1e-12 leaves 250x)
    kappa = dist.rank(theta).condition_number
    assert np.abs(horizontal).max() <= 1e-12 * kappa**2 * np.abs(B).max()
    # in the orthonormal basis, Ω_ab = Σ C_ia C_jb [u_i, u_j] with C = Pen⁺·E: u = E (EᵀU)
    U = np.asarray(dist.frame(theta))
    C = np.linalg.pinv(U) @ E
    B_orth = np.einsum("ia,jb,ijk->abk", C, C, B)
    iu = np.triu_indices(E.shape[1], 1)
    rep = dist.frobenius_defect(theta)
    # two different changes of basis: agreement to round-off amplified by cond(D)^2
    assert rep.curvature_norm == pytest.approx(np.linalg.norm(B_orth[iu]), rel=1e-12 * kappa**2)


@given(case=small_over(activations=SMOOTH))
def test_jacobian_derivative_route_matches_autograd_and_central_differences(case):
    f, theta = case
    bundle = PullbackBundle(f)
    closed = bundle.distribution()
    naive = Distribution(bundle.frame, f.dim_in)  # autograd through the pseudo-inverse
    fd = Distribution(bundle.frame, f.dim_in, brackets="fd")
    a, b = closed.frame_brackets(theta), naive.frame_brackets(theta)
    scale = max(np.abs(a).max(), 1e-300)
    cond = bundle.rank_report(theta).condition_number
    # both exact: differences are round-off, amplified by cond(D)^2 through Pen's derivative
    assert np.abs(a - b).max() <= 1e-13 * cond**2 * max(scale, 1.0)
    ra, rb, rc = (d.frobenius_defect(theta) for d in (closed, naive, fd))
    assert ra.curvature_norm == pytest.approx(rb.curvature_norm, rel=1e-12 * cond**2)
    assert ra.is_involutive == rb.is_involutive
    # central differences agree within their propagated error (10x: it is an estimate),
    # and reach the same verdict whenever their error allows a verdict at all
    assert abs(rc.curvature_norm - ra.curvature_norm) <= 10 * rc.bracket_error + 1e-12
    if rc.conclusive:
        assert rc.is_involutive == ra.is_involutive


@given(case=small_over(activations=("tanh",)))
def test_small_tanh_networks_with_qn_at_least_2_are_not_involutive(case):
    """§2.4: "to our knowledge, this is not generally the case" — here it never is.

    Random small tanh networks give a relative defect ≥ 1e-4 (observed ≥ 0.05
    over hundreds of draws), six orders above the ≤ 1e-10 of integrable ones.
    """
    f, theta = case
    rep = PullbackBundle(f).distribution().frobenius_defect(theta)
    assert rep.rank == f.dim_out
    assert rep.conclusive and rep.tolerance < 1e-3
    assert rep.relative_defect >= 1e-4
    assert not rep.is_involutive


@given(problem=problems.networks(**ONE_OUTPUT, activations=SMOOTH))
def test_qn_equal_1_is_always_integrable(problem):
    """QN = 1: V is spanned by one field, [u, u] = 0, so V is involutive (§2.4)."""
    rep = PullbackBundle(problem.f).distribution().frobenius_defect(problem.theta)
    assert rep.curvature_norm == 0.0 and rep.relative_defect == 0.0
    assert rep.is_involutive


@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 4), extra=st.integers(1, 4))
def test_linear_map_bundle_is_integrable(seed, m, extra):
    """V of θ ↦ Aθ is the constant range Aᵀ: brackets vanish identically."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, m + extra))
    dist = PullbackBundle(sr.LinearMap(A)).distribution()
    rep = dist.frobenius_defect(rng.normal(size=m + extra))
    assert rep.relative_defect <= 1e-10 and rep.is_involutive


def test_network_sample_verdict_and_catalog_entry():
    dist = catalog.from_spec("network:2,3,2:N=2:seed=1:act=tanh")
    assert dist.dim == 17 and dist.known["rank"] == 4 and not dist.known["involutive"]
    verdict = dist.sample_verdict(n_points=4, seed=0, scale=0.3)
    assert verdict.n_non_involutive == 4 and verdict.max_relative_defect > 1e-2
    assert verdict.all_conclusive
    one = catalog.network_bundle((2, 4, 1), n_samples=1, seed=3)
    assert one.known["involutive"] and one.is_involutive(one.base_point)


# ---------------------------------------------------------------------------
# Remark 5.4: the output side of the under-parametrized case is holonomic
# ---------------------------------------------------------------------------
def _image_graph_distribution(f, theta0):
    """x ↦ range D[θ(x)] on R^{QN}, θ(x) solving f_S(θ) = x_S (S: K well-conditioned rows).

    Locally the image M = f(R^K) is the graph of x_S ↦ x_{S^c}; the translates
    M + (0, c) foliate a neighbourhood, and the leaf through x has tangent space
    T_{π(x)}M = range D[θ(x)] — on M itself this is range 𝒫 = TM (Remark 5.4).
    θ(x) comes from Newton's method, which autograd cannot trace: central
    differences supply the brackets and their error enters the tolerance.
    """
    K = f.dim_in
    _, _, pivots = qr(f.jacobian(theta0).T, pivoting=True)
    S = np.sort(pivots[:K])
    sigma_S = np.linalg.svd(f.jacobian(theta0)[S], compute_uv=False)

    def theta_of(x):
        theta = theta0.copy()
        for _ in range(60):
            value, D = f.value_and_jacobian(theta)
            step = np.linalg.solve(D[S], value[S] - x[S])
            theta = theta - step
            if np.linalg.norm(step) <= 1e-15 * (1.0 + np.linalg.norm(theta)):
                break
        return theta

    dist = Distribution(lambda x: f.jacobian(theta_of(np.asarray(x))), f.dim_out, brackets="fd")
    return dist, sigma_S


@pytest.mark.parametrize("layers, N", [([1, 1, 1], 6), ([2, 1, 1], 7), ([1, 1, 2], 4)])
@given(seed=st.integers(0, 2**31 - 1))
def test_remark_5_4_underparametrized_image_is_holonomic(layers, N, seed):
    mlp = sr.MLP(layers, activation="tanh")
    rng = np.random.default_rng(seed)
    f = sr.NetworkMap(mlp, rng.normal(size=(N, layers[0])))
    theta0 = mlp.init(seed)
    K, QN = mlp.K, f.dim_out
    report = sr.JacobianSVD(f.jacobian(theta0)).report
    from hypothesis import assume

    assume(K < QN and report.full_column_rank and report.condition_number < 1e3)
    dist, sigma_S = _image_graph_distribution(f, theta0)
    assume(sigma_S[0] < 1e3 * sigma_S[-1])
    x0 = f(theta0)
    # on the image: Δ_x = range 𝒫 = T_x M
    E = dist.orthonormal_basis(x0).basis
    P_range = sr.JacobianSVD(f.jacobian(theta0)).range_projector()
    np.testing.assert_allclose(E @ E.T, P_range, atol=1e-10)
    # off the image too (the leaves are translates of M); a step of 0.01 σ_min(D_S)
    # keeps θ(x) within ~0.01 of θ0, where the graph parametrization is valid
    offset = rng.normal(size=QN)
    for x in (x0, x0 + 1e-2 * sigma_S[-1] * offset / np.linalg.norm(offset)):
        rep = dist.frobenius_defect(x)
        assert rep.bracket_route == "central differences"
        assert rep.rank == K
        assert rep.conclusive and rep.is_involutive, rep


def test_remark_5_4_contrast_overparametrized_v_fails_on_the_same_route():
    """The same central-difference route separates the two cases by many orders."""
    rng = np.random.default_rng(4)
    under = sr.NetworkMap(sr.MLP([1, 1, 1]), rng.normal(size=(6, 1)))
    theta_u = sr.MLP([1, 1, 1]).init(4)
    holonomic = _image_graph_distribution(under, theta_u)[0].frobenius_defect(under(theta_u))
    over = sr.NetworkMap(sr.MLP([2, 3, 2]), rng.normal(size=(2, 2)))
    bundle = PullbackBundle(over)
    theta_o = sr.MLP([2, 3, 2]).init(4)
    nonholonomic = Distribution(bundle.frame, over.dim_in, brackets="fd").frobenius_defect(theta_o)
    assert holonomic.is_involutive and not nonholonomic.is_involutive
    assert nonholonomic.relative_defect > 1e4 * max(holonomic.relative_defect, holonomic.tolerance)
