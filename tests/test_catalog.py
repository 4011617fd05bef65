"""The catalog's documented answers, checked numerically at random points.

Each entry's ``known`` dict states its growth vector and whether it is
involutive; these tests hold the numerics (autograd brackets, rank policy,
Frobenius tolerance) to those classical answers, including the Martinet
singular surface where the pointwise flag stalls and grows again.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from subriemann.distributions import catalog
from subriemann.distributions.frame import Distribution
from subriemann.errors import InputError

seeds = st.integers(0, 2**32 - 1)


def _point(seed, dim, scale=2.0):
    return scale * np.random.default_rng(seed).standard_normal(dim)


@pytest.mark.parametrize("name", catalog.names())
@given(seed=seeds)
def test_growth_vector_and_verdict_match_known(name, seed):
    dist = catalog.get(name)
    known = dist.known
    p = _point(seed, dist.dim)
    if name == "martinet":
        p[0] = p[0] if abs(p[0]) > 1e-3 else 1.0  # off the singular surface
    assert dist.dim == known["dim"]
    assert dist.rank(p).rank == known["rank"]
    assert dist.growth_vector(p) == known["growth_vector"]
    assert dist.is_involutive(p) == known["involutive"]
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


@given(y=st.floats(-3, 3), z=st.floats(-3, 3))
def test_martinet_singular_surface(y, z):
    """On x = 0: [X, Y] = 0, so Δ is involutive *at* p and the growth is (2, 2, 3)."""
    dist = catalog.martinet()
    p = np.array([0.0, y, z])
    assert dist.growth_vector(p) == dist.known["growth_vector_singular"] == (2, 2, 3)
    assert dist.is_involutive(p)  # pointwise Frobenius holds on the surface
    assert dist.derived_distribution(p).report.rank == 2  # not bracket-generating at step 2
    assert dist.growth_vector(p, max_step=2) == (2,)
    assert not dist.is_bracket_generating(p, max_step=2)
    assert dist.is_bracket_generating(p)  # ...but at step 3 it is
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
        assert catalog.ENTRIES[name].__doc__


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
