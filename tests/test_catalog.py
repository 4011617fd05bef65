"""The catalog's documented answers, checked numerically at random points.

Each entry's ``known`` dict states its growth vector, Hausdorff dimension and
whether it is involutive; these tests hold the numerics (autograd brackets, rank
policy, Frobenius tolerance) to those classical answers — the brackets in closed
form, written out below — including the singular sets where the pointwise flag
drops (Grushin), stalls and grows again (Martinet, the car with a trailer).  The
step-by-step agreement with SymPy's brackets is in tests/test_growth.py.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import routes_agree_tol

from subriemann.distributions import catalog
from subriemann.distributions.frame import Distribution
from subriemann.errors import InputError, UndeterminedGrowth

seeds = st.integers(0, 2**32 - 1)


def _point(seed, dim, scale=2.0):
    return scale * np.random.default_rng(seed).standard_normal(dim)


def _off_singular_set(name, p):
    """Move a random point off the entry's singular set (x = 0; cos φ = 0 for the trailer)."""
    if name in ("martinet", "grushin"):
        p[0] = p[0] if abs(p[0]) > 1e-3 else 1.0
    if name == "car_trailer":
        p[3] = np.clip(p[3], -1.2, 1.2)  # cos φ ≥ 0.36
    return p


FAST = [name for name in catalog.names() if name != "car_trailer"]


def _check_known(name, p):
    dist = catalog.get(name)
    known = dist.known
    assert dist.dim == known["dim"]
    assert dist.rank(p).rank == known["rank"]
    growth = dist.growth_vector(p)
    assert growth == known["growth_vector"] and growth.determined
    assert dist.is_involutive(p) == known["involutive"]
    assert (growth[-1] == dist.dim) == known["bracket_generating"]
    if known["bracket_generating"]:
        assert dist.hausdorff_dimension(p) == known["hausdorff_dimension"]
    return dist


@pytest.mark.parametrize("name", FAST)
@given(seed=seeds)
def test_growth_vector_and_verdict_match_known(name, seed):
    p = _off_singular_set(name, _point(seed, catalog.get(name).dim))
    dist = _check_known(name, p)
    known = dist.known
    assert dist.is_bracket_generating(p) == known["bracket_generating"]
    rep = dist.frobenius_defect(p)
    assert rep.conclusive
    if known["involutive"]:
        assert rep.relative_defect <= 1e-10
    else:
        # contact-type structures: the bracket leaves Δ by an O(1) fraction of its size
        assert rep.relative_defect >= 1e-3


def test_heisenberg_bracket_is_d_dz_everywhere():
    dist = catalog.heisenberg()
    for seed in range(5):
        p = _point(seed, 3)
        B = dist.frame_brackets(p)
        # exact by construction: linear frames with dyadic coefficients (±1/2, 1) have
        # constant Jacobians, so each bracket entry is a sum of exact products (or
        # products with exact zeros); any non-zero error is a wrong formula, not rounding
        np.testing.assert_array_equal(B[0, 1], [0.0, 0.0, 1.0])
        np.testing.assert_array_equal(B[1, 0], [0.0, 0.0, -1.0])
        np.testing.assert_array_equal(B[0, 0], 0.0)


def test_engel_brackets():
    dist = catalog.engel()
    p = np.array([0.3, -1.2, 0.8, 2.0])
    # exact by construction: [X1, X2] = ∂3 has constant coefficients here, each
    # entry a product of an exact frame value with an exact Jacobian entry or zero
    np.testing.assert_array_equal(dist.frame_brackets(p)[0, 1], [0, 0, 1, 0])
    spans = dist.growth_spans(p)
    assert [s.report.rank for s in spans] == [2, 3, 4]
    # Δ² ∋ ∂3 = [X1, X2] but not ∂4, which enters at step 3 ([X2, [X1, X2]] = -∂4)
    E2 = spans[1].basis
    d3, d4 = np.eye(4)[2], np.eye(4)[3]
    assert np.linalg.norm(d3 - E2 @ (E2.T @ d3)) < 1e-12
    assert np.linalg.norm(d4 - E2 @ (E2.T @ d4)) > 0.1


@settings(max_examples=4)
@given(seed=seeds)
def test_car_trailer_matches_known(seed):
    # slower (nested brackets of length 4 of trigonometric fields): fewer examples
    _check_known("car_trailer", _off_singular_set("car_trailer", _point(seed, 5)))


@given(y=st.floats(-3, 3), z=st.floats(-3, 3))
def test_martinet_singular_surface(y, z):
    """On x = 0: [X, Y] = 0, so Δ is involutive *at* p and the growth is (2, 2, 3)."""
    dist = catalog.martinet()
    p = np.array([0.0, y, z])
    assert dist.growth_vector(p) == dist.known["growth_vector_singular"] == (2, 2, 3)
    assert dist.is_involutive(p)  # pointwise Frobenius holds on the surface
    assert dist.derived_distribution(p).report.rank == 2  # Δ + [Δ, Δ] = Δ here
    # cut at step 2 the flag is undetermined, not "not bracket-generating"
    short = dist.growth_vector(p, max_step=2)
    assert short == (2,) and not short.determined
    with pytest.raises(UndeterminedGrowth, match="max_step"):
        dist.is_bracket_generating(p, max_step=2)
    assert dist.is_bracket_generating(p)  # ...and at step 3 it is
    assert dist.hausdorff_dimension(p) == dist.known["hausdorff_dimension_singular"] == 5
    # just off the surface it is contact again
    assert dist.growth_vector(p + np.array([1e-4, 0.0, 0.0])) == (2, 3)


def test_contact_r5_brackets():
    dist = catalog.contact_r5()
    B = dist.frame_brackets(_point(1, 5))
    expected = np.zeros((4, 4, 5))
    expected[0, 1, 4] = expected[2, 3, 4] = 1.0
    expected[1, 0, 4] = expected[3, 2, 4] = -1.0
    # exact by construction: linear frames with dyadic coefficients (±1/2, 1) have
    # constant Jacobians, so each bracket entry is a sum of exact products (or
    # products with exact zeros); any non-zero error is a wrong formula, not rounding
    np.testing.assert_array_equal(B, expected)


def test_level_sets_with_custom_function():
    def phi(x):  # spheres: level sets |x|^2 = c, away from 0
        return anp.sum(x * x)

    dist = catalog.level_set_foliation(phi, dim=4)
    p = np.array([1.0, -0.5, 0.3, 2.0])
    rep = dist.frobenius_defect(p)
    assert rep.rank == 3 and rep.is_involutive and rep.relative_defect <= 1e-10
    # Δ_p is the tangent space of the sphere: orthogonal to p
    E = dist.orthonormal_basis(p).basis
    assert np.abs(E.T @ p).max() < 1e-12


def test_rank_one_custom_field_and_linear_horizontal_default():
    line = catalog.rank_one(lambda p: anp.array([anp.cos(p[1]), anp.sin(p[1]), 1.0]), dim=3)
    assert line.growth_vector(np.ones(3)) == (1,) and line.is_involutive(np.ones(3))
    lin = catalog.linear_horizontal()
    assert lin.dim == 4 and lin.known["rank"] == 2
    assert np.all(lin.frame_brackets(np.ones(4)) == 0.0)  # exact: constant frames, dX ≡ 0


def test_known_dicts_document_the_answers():
    for name in catalog.names():
        dist = catalog.get(name)
        assert dist.name == name
        for key in ("dim", "rank", "growth_vector", "step", "involutive", "bracket_generating"):
            assert key in dist.known, (name, key)
        assert dist.known["step"] == len(dist.known["growth_vector"])
        assert ("hausdorff_dimension" in dist.known) == dist.known["bracket_generating"], name
        singular = {"singular_set", "singular_point", "growth_vector_singular"}
        assert len(singular & set(dist.known)) in (0, 3), name
        assert catalog.ENTRIES[name].__doc__


# Hausdorff dimensions Q = Σ k (n_k − n_{k−1}) worked out by hand from the literature's
# growth vectors (Mitchell's theorem), generic and on the singular sets.
HAUSDORFF = {
    "heisenberg": 4,  # (2, 3): 2 + 2
    "engel": 7,  # (2, 3, 4): 2 + 2 + 3
    "martinet": 4,  # (2, 3) off x = 0
    "contact_r5": 6,  # (4, 5): 4 + 2
    "grushin": 2,  # (2,) off x = 0: Riemannian
    "cartan_235": 10,  # (2, 3, 5): 2 + 2 + 6
    "unicycle": 4,  # (2, 3)
    "car": 7,  # (2, 3, 4)
    "car_trailer": 11,  # (2, 3, 4, 5): 2 + 2 + 3 + 4
}
SINGULAR = {
    "grushin": ((1, 2), 3),  # 1 + 2
    "martinet": ((2, 2, 3), 5),  # 2 + 0 + 3
    "car_trailer": ((2, 3, 4, 4, 5), 12),  # 2 + 2 + 3 + 0 + 5
}


def test_known_hausdorff_dimensions_are_the_literature_values():
    for name, q in HAUSDORFF.items():
        assert catalog.get(name).known["hausdorff_dimension"] == q, name
    for name, (growth, q) in SINGULAR.items():
        known = catalog.get(name).known
        assert known["growth_vector_singular"] == growth, name
        assert known["hausdorff_dimension_singular"] == q, name


@pytest.mark.parametrize("name", ["grushin", "martinet"])
def test_singular_points_match_known(name):
    dist = catalog.get(name)
    p = np.array(dist.known["singular_point"])
    growth, q = SINGULAR[name]
    assert dist.growth_vector(p) == growth and dist.hausdorff_dimension(p) == q
    assert not dist.is_regular(p)
    assert dist.is_regular(_off_singular_set(name, _point(3, dist.dim)))


def test_grushin_bracket_is_d_dy_where_the_frame_drops_rank():
    dist = catalog.grushin()
    p = np.array([0.0, 0.7])
    assert dist.rank(p).rank == 1  # Y(p) = x∂y = 0
    # [X, Y] = D(x∂y)·∂x = ∂y, exact: one product of exact ones
    np.testing.assert_array_equal(dist.frame_brackets(p)[0, 1], [0.0, 1.0])


def test_cartan_235_brackets():
    """[X1, X2] = ∂3 + x1∂4 + x2∂5 (closed form), nested: [X1, [X1, X2]] = ∂4, [X2, [X1, X2]] = ∂5."""
    dist = catalog.cartan_235()
    x1, x2 = 0.5, -1.25  # dyadic: every product below is exact
    p = np.array([x1, x2, 0.3, -0.7, 2.0])
    np.testing.assert_array_equal(dist.frame_brackets(p)[0, 1], [0, 0, 1, x1, x2])
    spans = dist.growth_spans(p)
    assert [s.report.rank for s in spans] == [2, 3, 5]
    E2 = spans[1].basis
    d4, d5 = np.eye(5)[3], np.eye(5)[4]
    # ∂4, ∂5 are not in Δ² (they enter at step 3): their distance to Δ² is O(1)
    assert min(np.linalg.norm(v - E2 @ (E2.T @ v)) for v in (d4, d5)) > 0.1


@given(th=st.floats(-6, 6), ph=st.floats(-6, 6))
def test_unicycle_and_car_brackets(th, ph):
    """[Y, X] = −sin θ ∂x + cos θ ∂y (unicycle); for the car [X2, X1] = ∂φX1 and
    [X1, [X2, X1]] = sin θ ∂x − cos θ ∂y (closed forms, module docstrings)."""
    uni = catalog.unicycle()
    B = uni.frame_brackets(np.array([0.1, 0.2, th]))
    c, s = np.cos(th), np.sin(th)
    # one derivative of cos/sin times an exact 1: the bracket is a computed cos/sin value,
    # identical to numpy's (the same libm call)
    np.testing.assert_array_equal(B[1, 0], [-s, c, 0.0])
    car = catalog.car()
    B = car.frame_brackets(np.array([0.1, 0.2, th, ph]))
    cp, sp_ = np.cos(ph), np.sin(ph)
    # autograd's forward derivative vs the closed form: two routes to the same products
    tol = routes_agree_tol(scale=1.0)
    np.testing.assert_allclose(B[1, 0], [-sp_ * c, -sp_ * s, cp, 0.0], rtol=0, atol=tol)


def test_get_and_from_spec_errors():
    assert catalog.get("Heisenberg").name == "heisenberg"
    assert catalog.from_spec("contact-r5").name == "contact_r5"
    with pytest.raises(InputError, match="expected one of"):
        catalog.get("sphere")
    for bad in ("network", "network:2,x,2", "network:2,3,2:foo=1", "network:2,3,2:N=two"):
        with pytest.raises(InputError):
            catalog.from_spec(bad)
    with pytest.raises(InputError):
        catalog.level_set_foliation(dim=1)
    with pytest.raises(InputError):
        catalog.rank_one(field="x")
    with pytest.raises(InputError):
        catalog.linear_horizontal(np.ones(3))


def test_catalog_entries_are_distributions_with_sampling():
    dist = catalog.heisenberg()
    assert isinstance(dist, Distribution)
    verdict = dist.sample_verdict(n_points=5, seed=2)
    assert verdict.n_non_involutive == 5
