"""The nilpotent approximation: privileged coordinates and the homogeneous frame.

Claims (Bellaïche 1996 §4–5; Jean 2014 ch. 2), each checked against an
independent reference:

* Heisenberg is its own nilpotent approximation at 0 (it is already homogeneous);
* the approximation at 0 has the growth vector the distribution has at p — the
  hand-known values (2, 3), (2, 2, 3), (2, 3, 4), (2, 3, 5), (1, 2);
* its fields are homogeneous of degree −1: X̂^k(δ_λ z) = λ^{w_k − 1} X̂^k(z);
* they generate a nilpotent Lie algebra: every bracket longer than the step vanishes;
* the coordinates are privileged: ord_p z_j = w_j, the nonholonomic derivatives
  X_I z_j(p) computed here directly with SymPy.
"""

import hypothesis.strategies as st
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from tolerances import routes_agree_tol

from subriemann import Distribution
from subriemann.distributions import catalog
from subriemann.distributions.nilpotent import nilpotent_approximation
from subriemann.errors import InputError

x, y, z, w, v = sp.symbols("x y z w v", real=True)
C3, C4, C5 = (x, y, z), (x, y, z, w), (x, y, z, w, v)

#: (name, fields, coordinates, point, growth vector at the point, weights) — by hand
CASES = [
    ("heisenberg", [[1, 0, -y / 2], [0, 1, x / 2]], C3, [0.4, -1.0, 2.0], (2, 3), (1, 1, 2)),
    ("martinet regular", [[1, 0, y**2 / 2], [0, 1, 0]], C3, [0.2, 0.5, 0.0], (2, 3), (1, 1, 2)),
    ("martinet singular", [[1, 0, y**2 / 2], [0, 1, 0]], C3, [0.2, 0.0, 1.0], (2, 2, 3), (1, 1, 3)),
    ("engel", [[1, 0, 0, 0], [0, 1, x, z]], C4, [0.1, 0.2, 0.3, 0.4], (2, 3, 4), (1, 1, 2, 3)),
    (
        "cartan",
        [[1, 0, 0, 0, 0], [0, 1, x, x**2 / 2, x * y]],
        C5,
        [0.5, 0.1, 0.0, 0.0, 0.0],
        (2, 3, 5),
        (1, 1, 2, 3, 3),
    ),
    ("grushin axis", [[1, 0], [0, x]], (x, y), [0.0, 0.1], (1, 2), (1, 2)),
]
IDS = [c[0] for c in CASES]
_cache = {}


def approximation(case, route):
    """The approximation of a case (computed once per route: SymPy is slow)."""
    key = (case[0], route)
    if key not in _cache:
        name, fields, coords, point, _, _ = case
        dist = Distribution.from_sympy(fields, coords, name=name)
        _cache[key] = (dist, nilpotent_approximation(dist, np.array(point), route=route))
    return _cache[key]


def test_heisenberg_at_zero_is_heisenberg():
    heis = Distribution.from_sympy([[1, 0, -y / 2], [0, 1, x / 2]], C3)
    hat = nilpotent_approximation(heis, np.zeros(3))
    z1, z2, z3 = sp.symbols("z1:4", real=True)
    assert hat.symbolic_frame == sp.Matrix([[1, 0], [0, 1], [-z2 / 2, z1 / 2]])
    assert hat.known["weights"] == (1, 1, 2)
    assert hat.known["privileged_coordinates"] == (x, y, z)
    # the numeric frame of the catalog (no SymPy) by nested autograd derivatives
    num = nilpotent_approximation(catalog.heisenberg(), np.zeros(3))
    assert num.known["route"] == "taylor"
    q = np.array([0.3, -1.2, 0.7])
    ref = catalog.heisenberg().frame(q)
    np.testing.assert_allclose(num.frame(q), ref, rtol=0, atol=routes_agree_tol(np.abs(ref).max()))


@pytest.mark.parametrize("route", ["exact", "taylor"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_growth_vector_and_weights_carry_over(case, route):
    _, hat = approximation(case, route)
    n = len(case[2])
    assert hat.known["growth_vector"] == case[4]
    assert hat.known["weights"] == case[5]
    assert hat.symbolic_growth_vector(point=[0] * n, max_step=len(case[4])) == case[4]
    assert hat.known["lower_order_residual"] <= routes_agree_tol(1.0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_approximation_is_nilpotent_of_the_same_step(case):
    _, hat = approximation(case, "exact")
    s = len(case[4])
    longer = [B for word, B in hat.symbolic_brackets(step=s + 1).items() if _length(word) == s + 1]
    assert longer and all(B.is_zero_matrix for B in longer)


def _length(word):
    return _length(word[0]) + _length(word[1]) if isinstance(word, tuple) else 1


@settings(max_examples=10)
@given(
    case=st.sampled_from(CASES),
    route=st.sampled_from(["exact", "taylor"]),
    seed=st.integers(0, 2**31 - 1),
    lam=st.floats(0.1, 3.0),
)
def test_fields_are_homogeneous_of_degree_minus_one(case, route, seed, lam):
    _, hat = approximation(case, route)
    weights = np.array(hat.known["weights"])
    zpt = np.random.default_rng(seed).standard_normal(len(weights))
    lhs = hat.frame(lam**weights * zpt)  # X̂(δ_λ z)
    rhs = (lam ** (weights - 1))[:, None] * hat.frame(zpt)  # λ^{w_k − 1} X̂^k(z)
    # a polynomial of a few terms evaluated two ways: the scale is the largest term
    scale = max(np.abs(lhs).max(), np.abs(rhs).max(), 1.0) * lam ** weights.max()
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=routes_agree_tol(scale, k=64.0))


def _nonholonomic_values(fields, coords, f, point, depth):
    """{|I|: [X_I f(p) for the words of length |I|]} for |I| ≤ depth, X_I f = X_{i1}(⋯X_{ik} f)."""
    at = dict(zip(coords, point, strict=True))
    out, current = {}, [f]
    for k in range(1, depth + 1):
        current = [
            sum(sp.sympify(c) * sp.diff(g, q) for c, q in zip(F, coords, strict=True))
            for F in fields
            for g in current
        ]
        out[k] = [sp.nsimplify(sp.simplify(g.subs(at))) for g in current]
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_privileged_coordinates_have_order_equal_to_weight(case):
    _, fields, coords, point, _, weights = case
    _, hat = approximation(case, "exact")
    p_exact = [sp.nsimplify(c, rational=True) for c in point]
    for zj, wj in zip(hat.known["privileged_coordinates"], weights, strict=True):
        assert zj.subs(dict(zip(coords, p_exact, strict=True))) == 0  # centred at p
        values = _nonholonomic_values(fields, coords, zj, p_exact, wj)
        for k in range(1, wj):
            assert all(val == 0 for val in values[k]), (zj, k)
        assert any(val != 0 for val in values[wj]), zj


def test_coordinate_map_inverts_the_privileged_coordinates():
    case = CASES[3]  # Engel: a correction of degree 2 in z_4
    _, hat = approximation(case, "exact")
    zs = sp.symbols("z1:5", real=True)
    back = dict(zip(case[2], hat.known["coordinate_map"], strict=True))
    for zj, s in zip(hat.known["privileged_coordinates"], zs, strict=True):
        assert sp.expand(zj.subs(back, simultaneous=True)) == s


def test_numeric_frame_of_the_catalog_martinet_at_its_singular_surface():
    """catalog.martinet(): X = ∂x, Y = ∂y + (x²/2)∂z; on x = 0 the growth is (2, 2, 3)."""
    hat = nilpotent_approximation(catalog.martinet(), np.array([0.0, 1.0, 2.0]))
    assert hat.known["route"] == "taylor" and hat.known["weights"] == (1, 1, 3)
    assert hat.growth_vector(np.zeros(3), max_step=3) == (2, 2, 3)


def test_bad_input():
    plane = Distribution.from_sympy([[1, 0, 0], [0, 1, 0]], C3)
    with pytest.raises(InputError, match="bracket generating"):
        nilpotent_approximation(plane, np.zeros(3))
    a = sp.Symbol("a")
    family = Distribution.from_sympy([[1, 0, a * y**2], [0, 1, 0]], C3, parameters=[a])
    with pytest.raises(InputError, match=r"free parameters \['a'\]"):
        nilpotent_approximation(family, np.zeros(3))
    hat = nilpotent_approximation(family.with_parameters(a=1), np.array([0.0, 1.0, 0.0]))
    assert hat.known["growth_vector"] == (2, 3)
    with pytest.raises(InputError, match="from_sympy"):
        nilpotent_approximation(catalog.heisenberg(), np.zeros(3), route="exact")
    with pytest.raises(InputError, match="route"):
        nilpotent_approximation(plane, np.zeros(3), route="series")
    opaque = Distribution(lambda p: np.array([[1.0, 0.0], [0.0, 1.0], [-float(p[1]), 0.0]]), 3)
    with pytest.raises(InputError, match="autograd-traceable"):
        nilpotent_approximation(opaque, np.zeros(3))
    with pytest.raises(InputError):
        nilpotent_approximation(plane, np.zeros(2))
