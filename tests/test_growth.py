"""The Lie flag at every point, honestly: rank drops, singular points, truncation, Q, weights.

Claims (references in each test):

- The flag Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] is spanned by the iterated brackets of
  the frame *fields*, which exist where a field vanishes at p: Grushin
  (X = ∂x, Y = x∂y) at x = 0 has [X, Y] = ∂y, growth (1, 2).
- A stall does not end the flag: Martinet X = ∂x + (y²/2)∂z, Y = ∂y on y = 0 has
  [X, Y] = −y∂z = 0 but [Y, [X, Y]] = −∂z, growth (2, 2, 3).
- A flag cut at max_step is undetermined (never "not bracket generating").
- Q = Σ k(n_k − n_{k−1}) (Mitchell) and the weights, from the closed-form flags.
- A second route: SymPy's iterated brackets of the catalog's fields, evaluated at
  the point, ranked by SVD, give the same ranks step by step.
"""

from __future__ import annotations

import functools
import json
import pickle

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import svd_zero_tol

from subriemann import cli
from subriemann.distributions import catalog
from subriemann.distributions.frame import Distribution
from subriemann.distributions.growth import (
    GrowthVector,
    adaptive_max_step,
    flag_cost,
    hausdorff_dimension,
    privileged_weights,
)
from subriemann.errors import InputError, RankConditionError, UndeterminedGrowth


def _columns(x, *columns):
    one = anp.ones_like(x)
    return anp.stack(
        [anp.stack([c * one if isinstance(c, int | float) else c for c in col]) for col in columns],
        axis=1,
    )


def _grushin_power(m, dim=2):
    """X = ∂x, Y = x^m ∂y (in R², or R² × R for dim = 3)."""
    pad = [0] * (dim - 2)
    return Distribution(lambda p: _columns(p[0], [1, 0, *pad], [0, p[0] ** m, *pad]), dim)


def _martinet_y():
    """Martinet in the form X = ∂x + (y²/2)∂z, Y = ∂y (singular surface y = 0)."""
    return Distribution(lambda p: _columns(p[1], [1, 0, p[1] ** 2 / 2], [0, 1, 0]), 3)


finite = st.floats(-3, 3, allow_nan=False)
away = st.floats(0.1, 3.0).flatmap(lambda a: st.sampled_from([a, -a]))


# -- rank drops and singular points ---------------------------------------------------------
@given(y=finite)
def test_grushin_rank_drop_is_bracket_generating(y):
    """X = ∂x, Y = x∂y at x = 0: Y(p) = 0 but [X, Y] = ∂y (closed form): (1, 2), Q = 3."""
    dist = _grushin_power(1)
    p = np.array([0.0, y])
    growth = dist.growth_vector(p)
    assert growth == (1, 2) and growth.determined and growth.reason == "reached dim"
    assert dist.is_bracket_generating(p)
    assert dist.hausdorff_dimension(p) == 3  # 1·1 + 2·(2 − 1)
    assert dist.weights(p) == (1, 2)
    assert dist.derived_distribution(p).report.rank == 2  # Δ + [Δ, Δ] = T_pR²
    assert not dist.is_regular(p)  # nearby x ≠ 0: growth (2,)


@given(x=away, y=finite)
def test_grushin_regular_points_are_riemannian(x, y):
    dist = _grushin_power(1)
    p = np.array([x, y])
    assert dist.growth_vector(p) == (2,) and dist.hausdorff_dimension(p) == 2
    assert dist.weights(p) == (1, 1) and dist.is_regular(p)


@given(x=finite, z=finite)
def test_martinet_singular_surface_y_form(x, z):
    """On y = 0: [X, Y] = −y∂z = 0, [Y, [X, Y]] = −∂z: (2, 2, 3), Q = 2 + 0 + 3 = 5."""
    dist = _martinet_y()
    p = np.array([x, 0.0, z])
    growth = dist.growth_vector(p)
    assert growth == (2, 2, 3) and growth.reason == "reached dim"
    assert dist.hausdorff_dimension(p) == 5 and dist.weights(p) == (1, 1, 3)
    assert dist.is_involutive(p)  # pointwise Frobenius holds on the surface...
    assert dist.is_bracket_generating(p)  # ...yet a longer bracket generates
    assert not dist.is_regular(p)


@given(x=finite, y=away, z=finite)
def test_martinet_regular_points_y_form(x, y, z):
    """Off y = 0: [X, Y] = −y∂z ≠ 0, contact: (2, 3), Q = 4, weights (1, 1, 2)."""
    dist = _martinet_y()
    p = np.array([x, y, z])
    assert dist.growth_vector(p) == (2, 3)
    assert dist.hausdorff_dimension(p) == 4 and dist.weights(p) == (1, 1, 2)
    assert dist.is_regular(p)


def test_long_stall_needs_a_larger_max_step():
    """X = ∂x, Y = x³∂y at x = 0: ad_X^k Y = 3!/(3−k)! x^{3−k}∂y first ≠ 0 at k = 3: (1, 1, 1, 2)."""
    dist = _grushin_power(3)
    p = np.array([0.0, 0.4])
    short = dist.growth_vector(p)  # default max_step = dim = 2
    assert short == (1,) and not short.determined and short.reason == "truncated at max_step=2"
    with pytest.raises(UndeterminedGrowth, match=r"step 2.*larger max_step") as info:
        dist.is_bracket_generating(p)
    assert info.value.step == 2 and info.value.dim == 2
    with pytest.raises(UndeterminedGrowth):
        dist.is_regular(p)  # nothing to compare while the flag at p is undetermined
    full = dist.growth_vector(p, max_step=4)
    assert full == (1, 1, 1, 2) and full.determined
    assert dist.hausdorff_dimension(p, max_step=4) == 1 + 4  # weights (1, 4)
    assert dist.weights(p, max_step=4) == (1, 4)


def test_truncation_is_reported_never_a_false_verdict():
    dist = _martinet_y()
    p = np.array([0.3, 0.0, -1.0])
    growth = dist.growth_vector(p, max_step=2)
    assert growth == (2,) and growth.determined is False
    assert growth.reason == "truncated at max_step=2" and growth.bracket_generating is None
    for method in (dist.is_bracket_generating, dist.hausdorff_dimension, dist.weights):
        with pytest.raises(UndeterminedGrowth, match="undetermined at step 2"):
            method(p, max_step=2)
    # not an InputError: the arguments were valid (errors.py)
    assert not issubclass(UndeterminedGrowth, InputError)
    assert issubclass(UndeterminedGrowth, ValueError)


@given(y=finite, z=finite)
def test_stabilised_below_dim_is_not_bracket_generating(y, z):
    """X = ∂x, Y = x∂y in R³: every bracket lies in span(∂x, ∂y); at x = 0 the flag is
    (1, 2) and stops there (the Lie algebra generated is span(∂x, x∂y, ∂y))."""
    dist = _grushin_power(1, dim=3)
    p = np.array([0.0, y, z])
    growth = dist.growth_vector(p)
    assert growth == (1, 2) and growth.determined and growth.reason == "stabilised"
    assert growth.bracket_generating is False and not dist.is_bracket_generating(p)
    with pytest.raises(RankConditionError, match="not bracket-generating"):
        dist.hausdorff_dimension(p)
    with pytest.raises(RankConditionError):
        dist.weights(p)


def test_integrable_and_one_field_flags_stabilise():
    """Frobenius: a foliation's flag is Δ itself; one field: [X, X] = 0."""
    leaves = catalog.level_set_foliation()
    growth = leaves.growth_vector(np.array([0.2, -0.4, 1.1]))
    assert growth == (2,) and growth.reason == "stabilised" and growth.determined
    line = catalog.rank_one().growth_vector(np.ones(3))
    assert line == (1,) and line.reason == "stabilised" and "one frame field" in line.evidence


def test_a_common_zero_of_all_fields_stays_a_zero():
    """X = x∂x, Y = x∂y at x = 0: [X, Y](p) = DY·X(p) − DX·Y(p) = 0, and so for every
    bracket (each term holds a field's value at p): growth (0,), stabilised."""
    dist = Distribution(lambda p: _columns(p[0], [p[0], 0], [0, p[0]]), 2)
    growth = dist.growth_vector(np.array([0.0, 0.5]))
    assert growth == (0,) and growth.reason == "stabilised" and not growth.bracket_generating
    assert dist.growth_vector(np.array([0.5, 0.5])) == (2,)


# -- the result type ------------------------------------------------------------------------
def test_growth_vector_is_a_tuple_that_says_whether_it_is_determined():
    g = GrowthVector([2, 3, 3, 3], dim=3, determined=True, reason="reached dim")
    assert g == (2, 3) and isinstance(g, tuple) and g.steps == 4 and g.dim == 3
    assert str(g) == "(2, 3)" and "reached dim" in repr(g)
    assert pickle.loads(pickle.dumps(g)).reason == "reached dim"
    assert GrowthVector([2, 2, 2], dim=3, determined=True, reason="stabilised") == (2,)
    t = GrowthVector([2, 3], dim=5, determined=False, reason="truncated at max_step=2")
    assert t.bracket_generating is None
    with pytest.raises(InputError, match="reason"):
        GrowthVector([2], dim=3, determined=True, reason="gave up")
    with pytest.raises(InputError):
        GrowthVector([], dim=3, determined=True, reason="reached dim")
    # Q and the weights from the definition, on a vector given by hand (Engel: 2·1 + 1·2 + 1·3)
    engel = GrowthVector([2, 3, 4], dim=4, determined=True, reason="reached dim")
    assert hausdorff_dimension(engel) == 7 and privileged_weights(engel) == (1, 1, 2, 3)


def test_flag_cost_and_adaptive_max_step():
    """Σ_{j=3..k} r^{j−2}·r(r−1)/2·4^{j−1}: r = 2 → 32, 288, 2336 for k = 3, 4, 5."""
    assert [flag_cost(2, k) for k in (2, 3, 4, 5)] == [0, 32, 288, 2336]
    assert adaptive_max_step(2, 10) == 5 and adaptive_max_step(12, 51) == 2
    assert adaptive_max_step(2, 3) == 3  # never beyond dim


# -- a second route: SymPy's brackets at the point ------------------------------------------
def _sympy_fields(name):
    """The catalog's frames written again in SymPy (from the docstrings, not the code)."""
    x = sp.symbols("x0:5")
    c, s = sp.cos, sp.sin
    fields = {
        "heisenberg": ([1, 0, -x[1] / 2], [0, 1, x[0] / 2]),
        "engel": ([1, 0, 0, 0], [0, 1, x[0], x[2]]),
        "martinet": ([1, 0, 0], [0, 1, x[0] ** 2 / 2]),
        "contact_r5": (
            [1, 0, 0, 0, -x[1] / 2],
            [0, 1, 0, 0, x[0] / 2],
            [0, 0, 1, 0, -x[3] / 2],
            [0, 0, 0, 1, x[2] / 2],
        ),
        "grushin": ([1, 0], [0, x[0]]),
        "cartan_235": ([1, 0, 0, 0, 0], [0, 1, x[0], x[0] ** 2 / 2, x[0] * x[1]]),
        "unicycle": ([c(x[2]), s(x[2]), 0], [0, 0, 1]),
        "car": ([c(x[3]) * c(x[2]), c(x[3]) * s(x[2]), s(x[3]), 0], [0, 0, 0, 1]),
        "car_trailer": (
            [c(x[3]) * c(x[2]), c(x[3]) * s(x[2]), s(x[3]), 0, c(x[3]) * s(x[2] - x[4])],
            [0, 0, 0, 1, 0],
        ),
    }[name]
    dim = len(fields[0])
    return [sp.Matrix(f) for f in fields], sp.Matrix(x[:dim])


@functools.cache
def _sympy_flag(name, steps):
    """Lambdified right-normed brackets of length 1..steps: [[fields], [[X_i, X_j]], ...]."""
    fields, coords = _sympy_fields(name)
    levels = [fields]
    for _ in range(2, steps + 1):
        levels.append(
            [V.jacobian(coords) * X - X.jacobian(coords) * V for X in fields for V in levels[-1]]
        )
    return [sp.lambdify([coords], sp.Matrix.hstack(*level), "numpy") for level in levels]


def _sympy_ranks(name, p, steps):
    """rank span{brackets of length ≤ k at p}, k = 1..steps, with its singular-value gap."""
    blocks = [np.atleast_2d(np.asarray(f(p), dtype=float)) for f in _sympy_flag(name, steps)]
    ranks, gaps = [], []
    for k in range(1, steps + 1):
        M = np.hstack(blocks[:k])
        sv = np.linalg.svd(M, compute_uv=False)
        tol = svd_zero_tol(M.shape, sv[0])
        ranks.append(int(np.sum(sv > tol)))
        gaps.append(min((v for v in sv if v > tol), default=np.inf) / tol)
    return ranks, min(gaps)


SYMPY_ENTRIES = [
    "heisenberg",
    "engel",
    "martinet",
    "contact_r5",
    "grushin",
    "cartan_235",
    "unicycle",
    "car",
]


def _check_against_sympy(name, p):
    """The numeric flag's ranks at every step equal SymPy's; returns the growth vector."""
    flag = catalog.get(name).lie_flag(p)
    numeric = [span.report.rank for span in flag.spans]
    reference, gap = _sympy_ranks(name, p, len(numeric))
    # the reference's rank decisions are clear: kept singular values far above round-off
    assert gap > 1e3, (name, p, gap)
    assert numeric == reference, (name, p)
    assert flag.growth_vector.determined
    return flag.growth_vector


@pytest.mark.parametrize("name", SYMPY_ENTRIES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_catalog_flags_agree_with_sympy_brackets(name, data):
    dim = catalog.get(name).dim
    p = np.array(data.draw(st.lists(finite, min_size=dim, max_size=dim)))
    if name in ("grushin", "martinet"):
        p[0] = data.draw(away)  # a regular point; the singular set is tested below
    _check_against_sympy(name, p)


@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_car_trailer_flag_agrees_with_sympy(data):
    p = np.array(data.draw(st.lists(finite, min_size=5, max_size=5)))
    p[3] = data.draw(st.floats(-1.2, 1.2))  # cos φ ≥ 0.36: off the singular set
    _check_against_sympy("car_trailer", p)


@settings(max_examples=5, deadline=None)
@given(a=finite, b=finite)
def test_singular_sets_agree_with_sympy(a, b):
    for name, p in (("grushin", [0.0, a]), ("martinet", [0.0, a, b])):
        _check_against_sympy(name, np.array(p))


def test_car_trailer_singular_configuration_against_sympy():
    """cos φ = 0: the drive only turns the car; SymPy's flag is (2, 3, 4, 4, 5), Q = 12."""
    dist = catalog.car_trailer()
    p = np.array(dist.known["singular_point"])
    growth = _check_against_sympy("car_trailer", p)
    assert growth == (2, 3, 4, 4, 5) == dist.known["growth_vector_singular"]
    assert hausdorff_dimension(growth) == 12 == dist.known["hausdorff_dimension_singular"]


# -- the command line -----------------------------------------------------------------------
def _call(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_network_default_settles_a_small_network(capsys, tmp_path):
    """1,3,1 with N = 2: K = 10, QN = 2; the flag needs 5 steps: (2, 3, 5, 8, 10)."""
    args = ("frobenius", "--layers", "1,3,1", "--samples", "2", "--points", "1")
    code, out, err = _call(capsys, *args, "--json", "--quiet", "--out", tmp_path)
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["bracket_generating"] is not False
    assert "not bracket generating" not in out
    assert r["growth_vector"] == [2, 3, 5, 8, 10] and r["bracket_generating"] is True
    assert r["growth_determined"] is True and r["growth_reason"] == "reached dim"


def test_cli_truncated_flag_prints_undetermined(capsys, tmp_path):
    args = ("frobenius", "--layers", "1,3,1", "--samples", "2", "--points", "1")
    code, out, err = _call(capsys, *args, "--max-step", "2", "--quiet", "--out", tmp_path)
    assert code == 0, err
    assert "undetermined at step 2" in out and "--max-step N" in out
    assert "not bracket generating" not in out
    code, out, err = _call(capsys, *args, "--max-step", "2", "--json", "--quiet", "--out", tmp_path)
    r = json.loads(out)["results"]
    assert r["bracket_generating"] is None and r["growth_determined"] is False
    assert r["growth_status"].startswith("undetermined at step 2")


def test_cli_martinet_singular_point_with_small_max_step(capsys, tmp_path):
    common = ("frobenius", "--catalog", "martinet", "--at", "0,1,2", "--quiet", "--out", tmp_path)
    code, out, err = _call(capsys, *common, "--max-step", "2", "--json")
    r = json.loads(out)["results"]
    assert code == 0 and r["bracket_generating"] is None and r["mismatch"] == []
    code, out, err = _call(capsys, *common)
    assert code == 0 and "(2, 2, 3): bracket generating (step 3)" in out


def test_cli_rejects_two_sources_and_bad_max_step(capsys, tmp_path):
    code, _, err = _call(
        capsys, "frobenius", "--catalog", "heisenberg", "--layers", "1,3,1", "--out", tmp_path
    )
    assert code == 2 and "exactly one of" in err
    code, _, err = _call(
        capsys, "frobenius", "--catalog", "heisenberg", "--max-step", "0", "--out", tmp_path
    )
    assert code == 2 and "--max-step" in err


def test_cli_fields_file_sees_the_grushin_rank_drop(capsys, tmp_path):
    """A user's SymPy fields (--fields): Grushin at x = 0 is (1, 2) as in closed form."""
    fields = tmp_path / "grushin.toml"
    fields.write_text('coordinates = ["x", "y"]\n[fields]\nX = ["1", "0"]\nY = ["0", "x"]\n')
    common = ("frobenius", "--fields", fields, "--quiet", "--out", tmp_path)
    code, out, err = _call(capsys, *common, "--at", "0,0.1", "--json")
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["growth_vector"] == [1, 2] and r["bracket_generating"] is True and r["rank"] == 1
    code, _, err = _call(capsys, *common, "--catalog", "grushin")
    assert code == 2 and "exactly one of" in err


@pytest.mark.parametrize(
    ("name", "p", "expected"),
    [("heisenberg", [0.3, -0.2, 1.0], (2, 3)), ("grushin", [0.0, 0.1], (1, 2))],
)
def test_nilpotent_approximation_keeps_the_growth_vector(name, p, expected):
    """The delegating method returns a Distribution whose growth at 0 is the original's at p
    (Bellaïche 1996, §5): (2, 3) for Heisenberg, (1, 2) for Grushin on its singular line."""
    dist = catalog.get(name)
    approx = dist.nilpotent_approximation(np.array(p))
    assert isinstance(approx, Distribution)
    growth = approx.growth_vector(np.zeros(dist.dim))
    assert growth == dist.growth_vector(np.array(p)) == expected
