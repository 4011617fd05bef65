"""The symbolic side: parameters, iterated brackets, the exact Lie flag, LaTeX, fields files.

References are independent of the package: brackets by hand or as commutators of
derivations A(B f) − B(A f), ranks and determinants by hand, LaTeX pieces by
``sympy.latex`` on the expected expressions.
"""

import json
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from test_cli import call

from subriemann import Distribution
from subriemann.cli.config import ConfigError
from subriemann.cli.fields import load_fields
from subriemann.distributions.growth import GrowthVector
from subriemann.distributions.symbolic import latex_report, word_label
from subriemann.errors import InputError
from subriemann.extras import MissingExtraError, import_optional

x, y, z, w = sp.symbols("x y z w", real=True)
a = sp.Symbol("a", real=True)
CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def martinet_family():
    """X = ∂x + a y² ∂z, Y = ∂y: [X, Y] = −2ay ∂z, [Y, [X, Y]] = −2a ∂z (by hand)."""
    return Distribution.from_sympy(
        [[1, 0, a * y**2], [0, 1, 0]], (x, y, z), parameters=[a], names=["X", "Y"]
    )


# -- optional dependencies -------------------------------------------------------------
def test_import_optional_names_the_extra():
    assert import_optional("sympy", extra="symbolic", purpose="tests") is sp
    with pytest.raises(MissingExtraError, match=r'pip install "subriemann\[symbolic\]"') as info:
        import_optional("no_such_module_xyz", extra="symbolic", purpose="tests")
    assert isinstance(info.value, ImportError) and isinstance(info.value, InputError)


# -- parameters -----------------------------------------------------------------------
def test_parameters_generic_flag_and_rank_drop_values():
    dist = martinet_family()
    generic = dist.symbolic_growth_vector()
    assert isinstance(generic, GrowthVector)
    assert generic == (2, 3) and generic.determined and generic.reason == "reached dim"
    loci = {locus.step: locus for locus in dist.symbolic_singular_set()}
    # det[X, Y, [X, Y]] = −2ay: step 2 drops on y = 0 and for a = 0; [Y, [X, Y]] = −2a ∂z
    assert loci[1].solutions == []
    assert sorted(map(str, loci[2].solutions)) == sorted(["{a: 0}", "{y: 0}"])
    assert loci[3].solutions == [{a: 0}]
    assert loci[2].generic_rank == loci[3].generic_rank == 3
    # on the family member a = 0 the flag stops at Δ (integrable); on y = 0 it is (2, 2, 3)
    flat = dist.symbolic_growth_vector(point={"a": 0})
    assert flat == (2,) and flat.reason == "stabilised"
    assert dist.symbolic_growth_vector(point={"y": 0}) == (2, 2, 3)


def test_free_parameters_refuse_numerics_and_with_parameters_substitutes():
    dist = martinet_family()
    p = np.array([0.3, -0.7, 1.1])
    with pytest.raises(InputError, match=r"free parameters \['a'\].*with_parameters\(a=\.\.\.\)"):
        dist.frame(p)
    numeric = dist.with_parameters(a=2)
    np.testing.assert_array_equal(numeric.frame(p), [[1, 0], [0, 1], [2 * 0.7**2, 0]])
    assert numeric.growth_vector(p) == (2, 3)
    # the symbolic side keeps a as a symbol: results for generic a
    assert numeric.symbolic_brackets()[(0, 1)] == sp.Matrix([0, 0, -2 * a * y])
    with pytest.raises(InputError, match="unknown parameter 'b'"):
        dist.with_parameters(b=1)
    with pytest.raises(InputError, match="not coordinates"):
        Distribution.from_sympy([[1, 0, a * x]], (x, y, z), parameters=["c"])
    with pytest.raises(InputError, match="finite real"):
        Distribution.from_sympy([[1, 0, a * x]], (x, y, z), parameters={a: float("nan")})
    with pytest.raises(InputError, match="is a coordinate"):
        Distribution.from_sympy([[1, 0, x]], (x, y, z), parameters=["x"])


# -- iterated brackets ----------------------------------------------------------------
def test_iterated_brackets_of_engel_by_hand():
    """X1 = ∂x, X2 = ∂y + x∂z + z∂w: [X1, X2] = ∂z, [X1, [X1, X2]] = 0, [X2, [X1, X2]] = −∂w."""
    engel = Distribution.from_sympy([[1, 0, 0, 0], [0, 1, x, z]], (x, y, z, w))
    brs = engel.symbolic_brackets(step=3)
    assert set(brs) == {(0, 1), (0, (0, 1)), (1, (0, 1))}
    assert brs[(0, 1)] == sp.Matrix([0, 0, 1, 0])
    assert brs[(0, (0, 1))] == sp.zeros(4, 1)
    assert brs[(1, (0, 1))] == sp.Matrix([0, 0, 0, -1])
    assert word_label((1, (0, 1)), ["X1", "X2"]) == "[X2, [X1, X2]]"
    assert engel.symbolic_brackets() == {(0, 1): sp.Matrix([0, 0, 1, 0])}  # step 2 as before


def _commutator(A, B, coords):
    """[A, B] as the commutator of derivations, [A, B]x_k = A(B x_k) − B(A x_k) (an independent route)."""

    def act(F, g):
        return sum((sp.sympify(c) * sp.diff(g, q) for c, q in zip(F, coords, strict=True)), 0)

    return sp.Matrix([sp.expand(act(A, act(B, q)) - act(B, act(A, q))) for q in coords])


monomial = st.tuples(
    st.integers(-2, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 1)
).map(lambda t: t[0] * x ** t[1] * y ** t[2] * z ** t[3])


@settings(max_examples=6)
@given(st.lists(monomial, min_size=6, max_size=6))
def test_step3_brackets_agree_with_commutator_of_derivations(entries):
    X = [1, 0, entries[0] + entries[1]]
    Y = [0, 1, entries[2] + entries[3] * entries[4]]
    dist = Distribution.from_sympy([X, Y], (x, y, z))
    brs = dist.symbolic_brackets(step=3)
    XY = _commutator(X, Y, (x, y, z))
    assert sp.simplify(brs[(0, 1)] - XY) == sp.zeros(3, 1)
    for i, F in enumerate((X, Y)):
        ref = _commutator(F, list(XY), (x, y, z))
        assert sp.simplify(brs[(i, (0, 1))] - ref) == sp.zeros(3, 1)


# -- the growth-vector convention -----------------------------------------------------
def test_growth_vector_has_no_padding_and_says_why_it_stops():
    plane = Distribution.from_sympy([[1, 0, 0], [0, 1, 0]], (x, y, z))
    g = plane.symbolic_growth_vector()
    assert tuple(g) == (2,) and g.reason == "stabilised" and g.determined
    assert g.bracket_generating is False
    assert plane.growth_vector(np.array([0.1, 0.2, 0.3])) == g  # the numeric side agrees
    engel = Distribution.from_sympy([[1, 0, 0, 0], [0, 1, x, z]], (x, y, z, w))
    cut = engel.symbolic_growth_vector(max_step=2)
    assert cut == (2, 3) and not cut.determined and cut.reason == "truncated at max_step=2"
    assert cut.bracket_generating is None
    assert engel.symbolic_growth_vector() == (2, 3, 4)


def test_pointwise_flag_where_the_frame_rank_drops():
    grushin = Distribution.from_sympy([[1, 0], [0, x]], (x, y))
    assert grushin.symbolic_growth_vector() == (2,)  # generic: the frame spans the plane
    at_axis = grushin.symbolic_growth_vector(point=[0, 0.1])
    assert at_axis == (1, 2) and at_axis.reason == "reached dim"
    # X = ∂x, Y = x²∂y at x = 0: [X, Y] = 2x∂y vanishes, [X, [X, Y]] = 2∂y does not
    cusp = Distribution.from_sympy([[1, 0], [0, x**2]], (x, y))
    assert cusp.symbolic_growth_vector(point=[0, 0], max_step=3) == (1, 1, 2)
    short = cusp.symbolic_growth_vector(point=[0, 0])  # default max_step = dim = 2
    assert short == (1,) and short.reason == "truncated at max_step=2" and not short.determined
    # in R³ the same fields never reach z: at x = 0 the flag stops at the generic rank 2
    flat = Distribution.from_sympy([[1, 0, 0], [0, x, 0]], (x, y, z))
    stop = flat.symbolic_growth_vector(point=[0, 0, 0])
    assert stop == (1, 2) and stop.reason == "stabilised" and stop.determined
    loci = grushin.symbolic_singular_set()
    assert loci[0].equations == (x,) and loci[0].solutions == [{x: 0}]


def test_pole_of_the_fields_is_an_input_error():
    dist = Distribution.from_sympy([[1, 0, 0], [0, 1, 1 / x]], (x, y, z))
    with pytest.raises(InputError, match="pole"):
        dist.symbolic_growth_vector(point=[0, 0, 0])


# -- LaTeX ------------------------------------------------------------------------------
def test_latex_report_has_fields_brackets_flag_and_rank_drop():
    tex = latex_report(martinet_family())
    dz = r"\frac{\partial}{\partial z}"
    assert tex["fields"]["X"] == rf"X = \frac{{\partial}}{{\partial x}} + {sp.latex(a * y**2)} {dz}"
    assert tex["fields"]["Y"] == r"Y = \frac{\partial}{\partial y}"
    assert tex["brackets"]["[X, Y]"] == f"[X, Y] = - {sp.latex(2 * a * y)} {dz}"
    assert tex["growth_vector"] == "(2, 3)"
    assert r"\Delta^{1}" in tex["flag"] and r"\Delta^{2}" in tex["flag"]
    assert any(f"{sp.latex(a * y)} = 0" in s for s in tex["singular"])
    three = latex_report(martinet_family(), step=3)
    assert three["brackets"]["[Y, [X, Y]]"] == f"[Y, [X, Y]] = - {sp.latex(2 * a)} {dz}"
    heis = Distribution.from_sympy([[1, 0, -y / 2], [0, 1, x / 2]], (x, y, z))
    assert r"- \frac{y}{2}" in latex_report(heis)["fields"]["X1"]
    with pytest.raises(InputError, match="from_sympy"):
        latex_report(Distribution(lambda p: np.eye(3)[:, :2], 3))


# -- fields files ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, point, frame",
    [
        ("heisenberg", [0.5, -1.0, 2.0], [[1, 0], [0, 1], [0.5, 0.25]]),
        ("martinet", [0.5, -1.0, 2.0], [[1, 0], [0, 1], [0.5, 0]]),
        ("grushin", [0.5, -1.0], [[1, 0], [0, 0.5]]),
    ],
)
def test_example_fields_files_load(name, point, frame):
    dist = load_fields(CONFIGS / f"{name}_fields.toml")
    assert dist.name == name and dist.bracket_route == "symbolic"
    np.testing.assert_array_equal(dist.frame(np.array(point)), frame)


def test_martinet_file_declares_its_parameter():
    dist = load_fields(CONFIGS / "martinet_fields.toml")
    assert [str(s) for s in dist.sympy_frame.parameters] == ["a"]
    assert dist.sympy_frame.names == ("X", "Y")
    np.testing.assert_array_equal(dist.base_point, [0.0, 0.5, 0.0])
    assert dist.with_parameters(a=0).symbolic_growth_vector(point={"a": 0}) == (2,)


GOOD = 'coordinates = ["x", "y", "z"]\n[fields]\nX = ["1", "0", "-y/2"]\nY = ["0", "1", "x/2"]\n'


@pytest.mark.parametrize(
    "text, key, expected",
    [
        (b"\xff\xfe\x00", None, "UTF-8"),
        ("coordinates = [", None, "not valid TOML"),
        ('[fields]\nX = ["1"]\n', None, "missing key 'coordinates'"),
        ('coordinates = ["x"]\n', None, "missing key 'fields'"),
        ('colour = "red"\n' + GOOD, None, "unknown key"),
        ('coordinates = "x y"\n[fields]\nX = ["1"]\n', None, "non-empty list of names"),
        ('coordinates = ["x", "x"]\n[fields]\nX = ["1", "0"]\n', None, "repeated"),
        ('coordinates = ["x", "y"]\n[fields]\nX = ["1"]\n', "fields.X", "list of 2 expressions"),
        ('coordinates = ["x", "y"]\n[fields]\nX = ["1", "1 +"]\n', "fields.X[1]", "cannot parse"),
        ('coordinates = ["x", "y"]\n[fields]\nX = ["1", "b*y"]\n', "fields.X[1]", "'b'"),
        (
            'coordinates = ["x", "y"]\n[fields]\nX = ["__import__(\'os\')", "0"]\n',
            "fields.X[0]",
            "unknown function",
        ),
        ('coordinates = ["x", "y"]\n[fields]\nX = ["x.real", "0"]\n', "fields.X[0]", "not allowed"),
        ('coordinates = ["x", "y"]\n[fields]\nX = ["foo(x)", "0"]\n', "fields.X[0]", "'foo'"),
        (
            'coordinates = ["x", "y"]\n[parameters]\na = "one"\n[fields]\nX = ["a", "0"]\n',
            "parameters.a",
            "finite number",
        ),
        (
            'coordinates = ["x", "y"]\n[parameters]\nx = 1\n[fields]\nX = ["x", "0"]\n',
            None,
            "also coordinates",
        ),
        ("base_point = [0, 0]\n" + GOOD, "base_point", "list of 3 numbers"),
        ('coordinates = ["x"]\n[fields]\n', None, "non-empty table"),
    ],
)
def test_bad_fields_files_name_file_and_key(tmp_path, text, key, expected):
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as info:
        load_fields(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    if key is not None:
        assert key in message


def test_missing_fields_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_fields(tmp_path / "nope.toml")


def test_expressions_with_functions_and_caret(tmp_path):
    text = (CONFIGS / "heisenberg_fields.toml").read_text()
    path = tmp_path / "f.toml"
    path.write_text(text.replace('"-y/2"', '"sin(x)*y^2 + exp(pi)"'))
    ref = sp.sin(x) * y**2 + sp.exp(sp.pi)
    assert sp.simplify(load_fields(path).symbolic_frame[2, 0] - ref) == 0


# -- the holonomy command with --fields ----------------------------------------------
def test_holonomy_cli_with_fields_file(capsys, tmp_path):
    code, out, err = call(
        capsys, "holonomy", "--fields", CONFIGS / "martinet_fields.toml", "--out", tmp_path
    )
    assert code == 0, err
    assert r"\frac{a y^{2}}{2}" in out and "[X, Y] = - a y" in out
    code, out, err = call(
        capsys,
        "holonomy",
        "--fields",
        CONFIGS / "heisenberg_fields.toml",
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    record = json.loads(out)
    assert (
        record["results"]["latex"]["brackets"]["[X, Y]"] == r"[X, Y] = \frac{\partial}{\partial z}"
    )


def test_holonomy_cli_bad_fields_file_exits_2_with_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('coordinates = ["x", "y"]\n[fields]\nX = ["1", "q"]\n')
    code, out, err = call(capsys, "holonomy", "--fields", bad, "--out", tmp_path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(bad) in err and "fields.X[1]" in err
    code, _, err = call(
        capsys, "holonomy", "--fields", bad, "--catalog", "heisenberg", "--out", tmp_path
    )
    assert code == 2 and "exactly one of" in err
