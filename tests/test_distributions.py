"""Distributions, Lie brackets and the Frobenius test (2.31), as executable statements.

Claims tested:
* the autograd bracket is DY·X − DX·Y, equal to SymPy's ``Commutator``;
  central differences agree within their own error estimate;
* the curvature Ω_p is tensorial: its norm (and its Gram matrix) does not
  change under a smooth change of frame X ↦ X·A(p); the relative defect is
  invariant under constant rescaling/mixing of the frame and scaling of the
  coordinates; a metric G = LLᵀ acts as the change of coordinates y = Lᵀx;
* integrable distributions (graphs, level sets, line fields, constant ones)
  give relative defect ≤ 1e-10 and the verdict "involutive";
* Δ² = Δ + [Δ, Δ] has the rank of Δ exactly when Δ is involutive.
"""

from __future__ import annotations

import json

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.diffgeom import Commutator, CoordSystem, Manifold, Patch
from tolerances import orthonormality_tol, routes_agree_tol

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.distributions.frame import (
    Distribution,
    FrobeniusReport,
    FrobeniusVerdict,
    lie_bracket,
    lie_bracket_fd,
)
from subriemann.errors import InputError, NumericalError, ShapeError

# SymPy-heavy property tests run fewer examples (each builds and differentiates
# expressions symbolically, ~0.3 s); the "thorough" profile scales them up too.
SYMPY_EXAMPLES = max(6, settings.default.max_examples // 4)

# Exact (autograd) brackets agree with exact references to round-off: the
# values are O(1)-O(10) sums of a few dozen products, so 1e-12 relative leaves
# a factor ~50 above float64 eps times the number of operations.
EXACT_RTOL = 1e-12

# ---------------------------------------------------------------------------
# random polynomial / trigonometric vector fields on R^3, in SymPy
# ---------------------------------------------------------------------------
X3 = sp.symbols("x y z", real=True)
# terms as functions of the coordinates, so the same field can be written in plain
# symbols (for lambdify) and in sympy.diffgeom base scalars (for Commutator)
LIBRARY = [
    lambda x, y, z: sp.Integer(1),
    lambda x, y, z: x,
    lambda x, y, z: y,
    lambda x, y, z: z,
    lambda x, y, z: x * y,
    lambda x, y, z: y * z,
    lambda x, y, z: x**2,
    lambda x, y, z: z**3 / 3,
    lambda x, y, z: sp.sin(x),
    lambda x, y, z: sp.cos(y),
    lambda x, y, z: sp.exp(z / 2),
    lambda x, y, z: sp.sin(x * y),
]


def _components(rows, coords):
    return [sum((c * t(*coords) for c, t in zip(row, LIBRARY, strict=True)), 0) for row in rows]


coefficients = st.lists(st.integers(-2, 2), min_size=len(LIBRARY), max_size=len(LIBRARY))
field_rows = st.lists(coefficients, min_size=3, max_size=3).filter(
    lambda rows: any(any(r) for r in rows)
)
sym_field = field_rows.map(lambda rows: _components(rows, X3))
points3 = st.lists(
    st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False), min_size=3, max_size=3
).map(np.array)

_COORDS = CoordSystem("cartesian", Patch("P", Manifold("M", 3)), list(X3))


def _commutator_reference(rows_x, rows_y, p):
    """[X, Y](p) by sympy.diffgeom's Commutator (components applied to the coordinate functions)."""
    scalars = _COORDS.base_scalars()
    vectors = _COORDS.base_vectors()
    X = sum((c * e for c, e in zip(_components(rows_x, scalars), vectors, strict=True)), 0)
    Y = sum((c * e for c, e in zip(_components(rows_y, scalars), vectors, strict=True)), 0)
    comm = Commutator(X, Y)
    if isinstance(comm, Commutator):
        # unevaluated: Commutator.__call__ applies v1(v2(f)) with v1, v2 possibly Mul
        # objects, which SymPy 1.14 cannot call; apply its definition through rcall
        values = [X.rcall(Y.rcall(s)) - Y.rcall(X.rcall(s)) for s in scalars]
    else:
        values = [comm.rcall(s) for s in scalars]
    at_p = dict(zip(scalars, (sp.Float(v, 30) for v in p), strict=True))
    return np.array([float(sp.sympify(v).subs(at_p)) for v in values])


def _field(exprs):
    fn = sp.lambdify(X3, list(exprs), modules=anp)
    return lambda p: anp.array(fn(p[0], p[1], p[2])) * 1.0


@settings(max_examples=SYMPY_EXAMPLES)
@given(rx=field_rows, ry=field_rows, p=points3)
def test_lie_bracket_equals_sympy_commutator(rx, ry, p):
    """lie_bracket(X, Y, p) = DY·X − DX·Y = Commutator(X, Y) (components), exactly."""
    expected = _commutator_reference(rx, ry, p)
    got = lie_bracket(_field(_components(rx, X3)), _field(_components(ry, X3)), p)
    scale = 1.0 + np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=0, atol=EXACT_RTOL * scale * 10)


@settings(max_examples=SYMPY_EXAMPLES)
@given(fx=sym_field, fy=sym_field, p=points3)
def test_lie_bracket_antisymmetric_and_nests(fx, fy, p):
    X, Y = _field(fx), _field(fy)
    np.testing.assert_allclose(lie_bracket(X, Y, p), -lie_bracket(Y, X, p), atol=1e-12)
    # Jacobi identity with Z = X + Y·sin: brackets of brackets by nesting
    Z = lambda q: X(q) * anp.sin(q[0]) + Y(q)  # noqa: E731

    def br(A, B):
        return lambda q: lie_bracket(A, B, q)

    jacobi = br(X, br(Y, Z))(p) + br(Y, br(Z, X))(p) + br(Z, br(X, Y))(p)
    size = max(np.abs(br(X, br(Y, Z))(p)).max(), 1.0)
    assert np.abs(jacobi).max() <= 1e-11 * size


@given(fx=sym_field, fy=sym_field, p=points3)
def test_lie_bracket_fd_within_its_error_estimate(fx, fy, p):
    """Central differences: the true error is below the estimate (up to 10x, it is an
    estimate), and the estimate reflects the O(h^2) truncation (< 1e-5 here)."""
    X, Y = _field(fx), _field(fy)
    exact = lie_bracket(X, Y, p)
    approx, err = lie_bracket_fd(X, Y, p)
    assert err < 1e-5
    assert np.linalg.norm(approx - exact) <= 10 * err + 1e-13


def test_lie_bracket_fd_step_and_errors():
    X = lambda q: np.array([1.0, 0.0, -q[1] / 2])  # noqa: E731
    Y = lambda q: np.array([0.0, 1.0, q[0] / 2])  # noqa: E731
    b, err = lie_bracket_fd(X, Y, np.zeros(3), h=1e-3)
    np.testing.assert_allclose(b, [0, 0, 1], atol=1e-10)  # linear fields: exact up to round-off
    assert err < 1e-10
    with pytest.raises(InputError):
        lie_bracket_fd(X, Y, np.zeros(3), h=-1.0)
    with pytest.raises(ShapeError):
        lie_bracket_fd(X, lambda q: np.zeros(2), np.zeros(3))


def test_lie_bracket_rejects_untraceable_fields():
    def X(q):
        return np.array([float(q[0]), 0.0, 0.0])  # float() breaks tracing

    Y = lambda q: anp.array([0.0, 1.0, q[0]])  # noqa: E731
    with pytest.raises(InputError, match="lie_bracket_fd"):
        lie_bracket(X, Y, np.ones(3))


def test_lie_bracket_uses_reverse_mode_when_forward_mode_is_missing():
    """autograd has no forward rule for ``solve``: the reverse-over-reverse fallback applies."""
    A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.5]])

    def X(q):
        return anp.linalg.solve(A + anp.diag(q * q), q)

    Y = lambda q: anp.array([q[1], -q[0], 1.0])  # noqa: E731
    p = np.array([0.3, -0.2, 0.5])
    got = lie_bracket(X, Y, p)
    ref, err = lie_bracket_fd(X, Y, p)
    assert np.linalg.norm(got - ref) <= 10 * err + 1e-13


# ---------------------------------------------------------------------------
# frames, ranks and brackets of frames
# ---------------------------------------------------------------------------
def _random_polynomial_frame(rng, dim, r):
    """A generic (non-integrable) polynomial/trigonometric frame of r columns on R^dim."""
    A0 = rng.normal(size=(dim, r))
    A1 = 0.5 * rng.normal(size=(dim, r, dim))
    A2 = 0.3 * rng.normal(size=(dim, r, dim))

    def frame(p):
        return A0 + anp.einsum("irk,k->ir", A1, p) + anp.einsum("irk,k->ir", A2, anp.sin(p) * p)

    return frame


@given(seed=st.integers(0, 10_000), dim=st.integers(3, 6), r=st.integers(2, 3))
def test_frame_brackets_are_pairwise_lie_brackets(seed, dim, r):
    rng = np.random.default_rng(seed)
    frame = _random_polynomial_frame(rng, dim, r)
    dist = Distribution(frame, dim)
    p = rng.normal(size=dim)
    B = dist.frame_brackets(p)
    assert B.shape == (r, r, dim)
    for i in range(r):
        for j in range(r):
            ref = lie_bracket(lambda q, i=i: frame(q)[:, i], lambda q, j=j: frame(q)[:, j], p)
            np.testing.assert_allclose(B[i, j], ref, rtol=0, atol=1e-12 * (1 + np.abs(ref).max()))
    # central differences agree within their propagated error
    fd = Distribution(frame, dim, brackets="fd")
    assert np.abs(fd.frame_brackets(p) - B).max() < 1e-6 * (1 + np.abs(B).max())


def test_rank_goes_through_the_rank_policy():
    dist = catalog.level_set_foliation(dim=4)  # 4 columns spanning a 3-plane
    p = np.array([0.1, 0.2, -0.3, 0.4])
    rep = dist.rank(p)
    assert rep.rank == 3 and rep.shape == (4, 4)
    assert rep.sigma_min < rep.tolerance < rep.sigma_min_kept
    # singular values 3 and 1e-9: kept by the default policy, dropped by rtol = 1e-6
    A = np.array([[3.0, 0.0, 0.0], [0.0, 1e-9, 0.0]])
    assert catalog.linear_horizontal(A).rank(np.zeros(3)).rank == 2
    loose = Distribution(lambda q: A.T, 3, rank_policy=sr.RankPolicy(rtol=1e-6))
    assert loose.rank(np.zeros(3)).rank == 1
    assert Distribution(lambda q: A.T, 3, rank_policy=1e-6).rank(np.zeros(3)).rank == 1


# ---------------------------------------------------------------------------
# curvature: tensoriality and invariance
# ---------------------------------------------------------------------------
def _smooth_change_of_frame(rng, dim, r):
    """A(p) = Q·diag(s) + (0.2/r)·sin(Wp + b), invertible (perturbation < σ_min = 1)."""
    Q, _ = np.linalg.qr(rng.normal(size=(r, r)))
    A0 = Q * rng.uniform(1.0, 2.0, size=r)
    W = rng.normal(size=(r * r, dim))
    b = rng.normal(size=r * r)
    return lambda p: A0 + (0.2 / r) * anp.reshape(anp.sin(anp.dot(W, p) + b), (r, r))


def _gram(Omega):
    """Σ_ab Ω_ab Ω_abᵀ, invariant under an orthogonal change of the basis of Δ_p."""
    return np.einsum("abi,abj->ij", Omega, Omega)


NON_INTEGRABLE = {
    "heisenberg": catalog.heisenberg,
    "engel": catalog.engel,
    "contact_r5": catalog.contact_r5,
    "martinet": catalog.martinet,
}


@pytest.mark.parametrize("name", sorted(NON_INTEGRABLE))
@given(seed=st.integers(0, 10_000))
def test_curvature_is_independent_of_smooth_change_of_frame(name, seed):
    """Tensoriality: Ω(Xa, Xb) = aᵀΩb, so X ↦ X·A(p) leaves |Ω|_HS and Σ Ω Ωᵀ unchanged."""
    rng = np.random.default_rng(seed)
    dist = NON_INTEGRABLE[name]()
    r = np.asarray(dist.frame(np.zeros(dist.dim))).shape[1]
    A = _smooth_change_of_frame(rng, dist.dim, r)
    mixed = Distribution(lambda q: anp.dot(dist.frame(q), A(q)), dist.dim)
    p = rng.normal(size=dist.dim)
    a, b = dist.frobenius_defect(p), mixed.frobenius_defect(p)
    # cond(A) <= 2.4, so the round-off bound 100 eps dim kappa^2 stays < 1e-11
    assert abs(a.curvature_norm - b.curvature_norm) <= 1e-11 * max(a.curvature_norm, 1.0)
    np.testing.assert_allclose(
        _gram(mixed.curvature(p)), _gram(dist.curvature(p)), rtol=0, atol=1e-11
    )


@given(seed=st.integers(0, 10_000), dim=st.integers(3, 6), data=st.data())
def test_relative_defect_invariant_under_constant_frame_and_coordinate_scaling(seed, dim, data):
    r = data.draw(st.integers(2, min(3, dim - 1)))  # r < dim, else Ω = 0
    rng = np.random.default_rng(seed)
    frame = _random_polynomial_frame(rng, dim, r)
    p = rng.normal(size=dim)
    base = Distribution(frame, dim).frobenius_defect(p)
    c = 10.0 ** rng.uniform(-3, 3)
    M = rng.normal(size=(r, r)) + 3 * np.eye(r)  # constant mixing
    mixed = Distribution(lambda q: c * anp.dot(frame(q), M), dim).frobenius_defect(p)
    lam = 10.0 ** rng.uniform(-2, 2)
    # coordinates y = λx: the frame's components scale by λ, brackets and Ω by 1/λ
    scaled = Distribution(lambda y: lam * frame(y / lam), dim).frobenius_defect(lam * p)
    np.testing.assert_allclose(mixed.relative_defect, base.relative_defect, rtol=1e-9)
    np.testing.assert_allclose(scaled.relative_defect, base.relative_defect, rtol=1e-9)
    np.testing.assert_allclose(scaled.curvature_norm, base.curvature_norm / lam, rtol=1e-9)
    np.testing.assert_allclose(mixed.curvature_norm, base.curvature_norm, rtol=1e-9)


@given(seed=st.integers(0, 10_000), dim=st.integers(3, 5))
def test_metric_is_a_linear_change_of_coordinates(seed, dim):
    """With G = LLᵀ, the curvature of Δ for G equals that of Lᵀ·Δ (y = Lᵀx) for the Euclidean metric."""
    rng = np.random.default_rng(seed)
    frame = _random_polynomial_frame(rng, dim, 2)
    L = np.tril(rng.normal(size=(dim, dim)), -1) + np.diag(rng.uniform(0.5, 2.0, dim))
    G = L @ L.T
    p = rng.normal(size=dim)
    with_metric = Distribution(frame, dim, metric=G)
    Lt_inv = np.linalg.inv(L.T)
    in_y = Distribution(lambda y: anp.dot(L.T, frame(anp.dot(Lt_inv, y))), dim)
    a, b = with_metric.frobenius_defect(p), in_y.frobenius_defect(L.T @ p)
    np.testing.assert_allclose(a.curvature_norm, b.curvature_norm, rtol=1e-9)
    np.testing.assert_allclose(a.relative_defect, b.relative_defect, rtol=1e-9)
    # Ω vectors are G-orthogonal to Δ_p, antisymmetric, and the basis is G-orthonormal
    E = with_metric.orthonormal_basis(p).basis
    np.testing.assert_allclose(E.T @ G @ E, np.eye(E.shape[1]), atol=1e-12)
    Omega = with_metric.curvature(p)
    assert np.abs(np.einsum("ia,ij,bcj->abc", E, G, Omega)).max() < 1e-12 * (
        1 + np.abs(Omega).max()
    )
    # antisymmetric up to round-off relative to the size of Ω's entries
    np.testing.assert_allclose(
        Omega, -Omega.transpose(1, 0, 2), atol=routes_agree_tol(1 + np.abs(Omega).max())
    )
    # a metric callable p -> G gives the same result as the constant matrix
    c = Distribution(frame, dim, metric=lambda q: G).frobenius_defect(p)
    # same arithmetic on the same G, reached through a callable: routes_agree_tol
    assert c.curvature_norm == pytest.approx(a.curvature_norm, rel=routes_agree_tol(1.0))


def test_curvature_of_heisenberg_at_origin():
    """At 0, Δ = span(∂x, ∂y) and [X, Y] = ∂z ⊥ Δ: Ω_12 = ∂z, |Ω| = 1, defect = 1."""
    dist = catalog.heisenberg()
    Omega = dist.curvature(np.zeros(3))
    assert Omega.shape == (2, 2, 3)
    # at 0 the frame is (∂x, ∂y) exactly and [X, Y] = ∂z: only orthonormalisation
    # rounding (orthonormality_tol) can enter
    np.testing.assert_allclose(np.abs(Omega[0, 1]), [0, 0, 1], atol=orthonormality_tol(3))
    rep = dist.frobenius_defect(np.zeros(3))
    assert rep.curvature_norm == pytest.approx(1.0)
    assert rep.relative_defect == pytest.approx(1.0)  # T_12 = ∂z/2 = -T_21: scale √2·|T| = 1
    assert not rep.is_involutive and rep.conclusive


# ---------------------------------------------------------------------------
# integrable examples: relative defect <= 1e-10
# ---------------------------------------------------------------------------
def _graph_distribution(rng, n, k):
    """X_i = ∂_i + Σ_j ∂_i g_j(u) ∂_{k+j}: coordinate fields of u ↦ (u, g(u) + c), integrable.

    Its brackets are differences of mixed partials of g, zero only up to round-off.
    """
    W = rng.normal(size=(n - k, k))
    V = rng.normal(size=(n - k, k, k))

    def g(u):
        return anp.sin(anp.dot(W, u)) + anp.einsum("jab,a,b->j", V, u, u) / 3

    import autograd

    Dg = autograd.jacobian(g)

    def frame(p):
        return anp.concatenate([anp.eye(k), Dg(p[:k])], axis=0)

    return Distribution(frame, n)


def _random_level_function(rng, n):
    c = rng.normal(size=n - 1)
    d = rng.normal(size=(n - 1, n - 1))

    def phi(x):
        head = x[: n - 1]
        return x[n - 1] + anp.sum(c * anp.sin(head)) + anp.dot(head, anp.dot(d, head)) / 2

    return phi


@given(seed=st.integers(0, 10_000), n=st.integers(3, 6), data=st.data())
def test_integrable_examples_have_relative_defect_below_1e_10(seed, n, data):
    rng = np.random.default_rng(seed)
    k = data.draw(st.integers(2, n - 1))
    A = rng.normal(size=(k, n))
    field = lambda p: anp.concatenate([anp.ones(1), anp.sin(p[1:]) + p[:-1] ** 2])  # noqa: E731
    examples = {
        "graph": _graph_distribution(rng, n, k),
        "level sets": catalog.level_set_foliation(_random_level_function(rng, n), dim=n),
        "line field": catalog.rank_one(field, dim=n),
        "linear": catalog.linear_horizontal(A),
    }
    # an integrable distribution stays integrable under a smooth change of frame
    graph = examples["graph"]
    Amix = _smooth_change_of_frame(rng, n, k)
    examples["graph, mixed frame"] = Distribution(lambda q: anp.dot(graph.frame(q), Amix(q)), n)
    p = rng.normal(size=n)
    for name, dist in examples.items():
        rep = dist.frobenius_defect(p)
        assert rep.relative_defect <= 1e-10, (name, rep)
        assert rep.is_involutive, (name, rep)
        assert rep.conclusive, (name, rep)
    # the flag of an integrable distribution never grows, also at nested steps >= 3
    assert examples["graph"].growth_vector(p) == (k,)
    assert examples["graph"].growth_vector(p, max_step=3) == (k,)


def test_integrable_vs_non_integrable_are_many_orders_apart():
    """The defect separates the classes: ≥ 1e-2 for contact structures, ≤ 1e-10 for foliations."""
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 3))
    heis = catalog.heisenberg().sample_verdict(pts)
    leaves = catalog.level_set_foliation().sample_verdict(pts)
    assert min(r.relative_defect for r in heis.reports) > 1e-2
    assert leaves.max_relative_defect < 1e-10
    assert not heis.is_involutive and heis.fraction_non_involutive == 1.0
    assert leaves.is_involutive and leaves.n_non_involutive == 0


# ---------------------------------------------------------------------------
# derived distribution, growth, reports
# ---------------------------------------------------------------------------
@given(seed=st.integers(0, 10_000))
def test_derived_distribution_grows_iff_not_involutive(seed):
    rng = np.random.default_rng(seed)
    p3 = rng.normal(size=3)
    for dist in (catalog.heisenberg(), catalog.level_set_foliation(), catalog.rank_one()):
        span = dist.derived_distribution(p3)
        E = span.basis
        np.testing.assert_allclose(E.T @ E, np.eye(E.shape[1]), atol=1e-12)
        grows = span.report.rank > dist.rank(p3).rank
        assert grows == (not dist.is_involutive(p3))
        # Δ ⊂ Δ²: the frame lies in the span of the derived basis
        F = np.asarray(dist.frame(p3))
        assert np.abs(F - E @ (E.T @ F)).max() < 1e-12 * (1 + np.abs(F).max())


def test_growth_vector_is_metric_independent():
    G = np.diag([1.0, 4.0, 0.25, 9.0])
    dist = catalog.engel()
    with_metric = Distribution(dist._frame, 4, metric=G)
    p = np.array([0.3, -1.0, 0.7, 2.0])
    assert with_metric.growth_vector(p) == dist.growth_vector(p) == (2, 3, 4)
    assert with_metric.is_bracket_generating(p)


def test_report_fields_and_serialisation():
    rep = catalog.heisenberg().frobenius_defect(np.array([1.0, 2.0, 3.0]))
    assert isinstance(rep, FrobeniusReport)
    d = rep.as_dict()
    json.dumps(d)
    assert d["rank"] == 2 and d["bracket_route"] == "autograd"
    assert "kappa" in rep.tolerance_reason
    assert 0.0 <= rep.relative_defect <= 1.0 + 1e-12
    override = catalog.heisenberg().frobenius_defect(np.zeros(3), tolerance=2.0)
    assert override.is_involutive and override.tolerance_reason == "given by the caller"
    with pytest.raises(InputError):
        catalog.heisenberg().frobenius_defect(np.zeros(3), tolerance=-1.0)


def test_sample_verdict_defaults_and_serialisation():
    verdict = catalog.martinet().sample_verdict(n_points=6, seed=3)
    assert isinstance(verdict, FrobeniusVerdict)
    assert verdict.n_points == 6 and not verdict.is_involutive
    json.dumps(verdict.as_dict())
    assert "NOT involutive" in verdict.summary()
    with pytest.raises(ShapeError):
        catalog.martinet().sample_verdict(np.zeros((2, 4)))
    with pytest.raises(InputError):
        catalog.martinet().sample_points(0)


def test_rank_one_and_full_rank_are_trivially_involutive():
    line = catalog.rank_one(dim=4).frobenius_defect(np.ones(4))
    assert line.is_involutive and line.curvature_norm == 0.0 and "rank-one" in line.tolerance_reason
    whole = Distribution(lambda p: anp.eye(3) * (1 + p[0] ** 2), 3).frobenius_defect(np.ones(3))
    assert whole.is_involutive and whole.curvature_norm == 0.0


# ---------------------------------------------------------------------------
# SymPy front end
# ---------------------------------------------------------------------------
def test_from_sympy_matches_catalog_and_exact_brackets():
    x, y, z = X3
    fields = [[1, 0, -y / 2], [0, 1, x / 2]]
    numeric = Distribution.from_sympy(fields, X3)
    exact = Distribution.from_sympy(fields, X3, exact=True)
    assert exact.bracket_route == "symbolic" and numeric.bracket_route == "autograd"
    p = np.array([0.4, -1.2, 2.0])
    for d in (numeric, exact):
        np.testing.assert_allclose(d.frame_brackets(p), catalog.heisenberg().frame_brackets(p))
        assert d.growth_vector(p) == (2, 3)
    assert exact.symbolic_brackets()[(0, 1)] == sp.Matrix([0, 0, 1])
    assert exact.symbolic_growth_vector() == (2, 3)


@settings(max_examples=SYMPY_EXAMPLES)
@given(fx=sym_field, fy=sym_field, p=points3)
def test_from_sympy_exact_and_autograd_routes_agree(fx, fy, p):
    numeric = Distribution.from_sympy([fx, fy], X3)
    exact = Distribution.from_sympy([fx, fy], X3, exact=True)
    a, b = numeric.frame_brackets(p), exact.frame_brackets(p)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * (1 + np.abs(b).max()))


def test_from_sympy_symbolic_growth_of_martinet_and_engel():
    x, y, z = X3
    martinet = Distribution.from_sympy([[1, 0, 0], [0, 1, x**2 / 2]], X3)
    assert martinet.symbolic_growth_vector() == (2, 3)  # generic point
    assert martinet.symbolic_growth_vector(point=[0, 1, 2]) == (2, 2, 3)
    assert martinet.growth_vector(np.array([0.0, 1.0, 2.0])) == (2, 2, 3)
    w = sp.symbols("w", real=True)
    c4 = (x, y, z, w)
    engel = Distribution.from_sympy(sp.Matrix([[1, 0], [0, 1], [0, x], [0, z]]), c4)
    assert engel.symbolic_growth_vector() == (2, 3, 4)
    assert engel.symbolic_frame.shape == (4, 2)


def test_from_sympy_lambdify_is_traceable_for_elementary_functions():
    x, y, z = X3
    fields = [
        [sp.sin(x) * sp.exp(y), sp.cos(z) + x**3, sp.atan(y) + sp.sqrt(1 + x**2)],
        [sp.tanh(z), sp.log(2 + sp.cos(x)), sp.pi * y + sp.asinh(z)],
    ]
    exact = Distribution.from_sympy(fields, X3, exact=True)
    numeric = Distribution.from_sympy(fields, X3)
    p = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(numeric.frame_brackets(p), exact.frame_brackets(p), atol=1e-12)


def test_from_sympy_input_errors():
    x, y, z = X3
    a = sp.Symbol("a")
    with pytest.raises(InputError, match="not coordinates"):
        Distribution.from_sympy([[1, 0, a * x]], X3)
    with pytest.raises(ShapeError):
        Distribution.from_sympy([[1, 0]], X3)
    with pytest.raises(InputError):
        Distribution.from_sympy([], X3)
    with pytest.raises(InputError):
        Distribution.from_sympy([[1, 0, 0]], ["x", "y", "z"])
    with pytest.raises(InputError, match="from_sympy"):
        catalog.heisenberg().symbolic_brackets()


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------
def test_bad_inputs_raise_package_errors():
    with pytest.raises(InputError):
        Distribution("not callable", 3)
    with pytest.raises(InputError):
        Distribution(lambda p: anp.eye(3), 0)
    with pytest.raises(InputError):
        Distribution(lambda p: anp.eye(3), 3, brackets="magic")
    with pytest.raises(InputError, match="positive definite"):
        Distribution(lambda p: anp.eye(3), 3, metric=-np.eye(3))
    with pytest.raises(ShapeError):
        Distribution(lambda p: anp.eye(3), 3, metric=np.eye(2))
    bad_shape = Distribution(lambda p: anp.ones((2, 2)), 3)
    with pytest.raises(ShapeError, match="expected"):
        bad_shape.frame(np.zeros(3))
    with pytest.raises(ShapeError):
        catalog.heisenberg().frame(np.zeros(4))
    nan_frame = Distribution(lambda p: anp.eye(3)[:, :2] * anp.log(p[0]), 3)
    with pytest.raises(NumericalError):
        with np.errstate(all="ignore"):
            nan_frame.frobenius_defect(np.array([-1.0, 0.0, 0.0]))
    untraceable = Distribution(lambda p: np.array([[1.0, 0.0], [0.0, 1.0], [float(p[0]), 0.0]]), 3)
    with pytest.raises(InputError, match="brackets='fd'"):
        untraceable.frobenius_defect(np.ones(3))
    # ...and the central-difference route handles it, with its error in the tolerance
    fd = Distribution(untraceable._frame, 3, brackets="fd").frobenius_defect(np.ones(3))
    assert fd.bracket_route == "central differences" and fd.is_involutive
    wrong_brackets = Distribution(lambda p: anp.eye(3)[:, :2], 3, brackets=lambda p: np.zeros(3))
    with pytest.raises(ShapeError):
        wrong_brackets.frobenius_defect(np.zeros(3))
    with pytest.raises(InputError):
        catalog.heisenberg().growth_vector(np.zeros(3), max_step=0)


def test_lie_bracket_names_a_field_built_with_plain_numpy():
    """numpy.array around traced entries gives an object array: say how to fix it."""
    X = lambda q: np.array([1.0, 0.0, -q[1] / 2])  # noqa: E731  (not traceable)
    Y = lambda q: np.array([0.0, 1.0, q[0] / 2])  # noqa: E731
    with pytest.raises(sr.InputError, match="autograd.numpy"):
        lie_bracket(X, Y, np.zeros(3))


def test_each_public_name_has_one_home_and_the_old_paths_still_work():
    """One concept per module: no name in two modules' __all__; frame keeps its old names."""
    import collections

    import subriemann.distributions as layer
    from subriemann.distributions import frame

    counts = collections.Counter(layer.__all__)
    assert [name for name, n in counts.items() if n > 1] == []
    for name in layer.__all__:
        assert getattr(layer, name) is not None
    for name in (
        "Distribution",
        "FrobeniusReport",
        "FrobeniusVerdict",
        "FrameSpan",
        "lie_bracket",
        "lie_bracket_fd",
    ):
        assert getattr(frame, name) is getattr(layer, name)
