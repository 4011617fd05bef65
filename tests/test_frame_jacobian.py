"""The frame Jacobian J[j, i, k] = ∂F_ji/∂q_k: closed forms, the symbolic route, and their use.

Claims and their independent references:

* every catalog entry's hand-written J equals autograd's Jacobian of its frame
  (a second route to the same exact value: ``routes_agree_tol``);
* a ``from_sympy`` distribution's J equals SymPy's derivatives evaluated by
  substitution (not through lambdify), and autograd's Jacobian of its frame;
* normal geodesics, conjugate times, log/dist and endpoint Gramians on the
  closed-form route match the Heisenberg closed forms (circles: x + iy =
  h0(e^{iωt} − 1)/(iω), z = |h0|²(ωt − sin ωt)/(2ω²); first conjugate time
  2π/|ω|, the second 2τ/|ω| with tan τ = τ; d(0, (0.3, −0.4, 0)) = 0.5) and the
  autograd route (the same distribution built without ``frame_jacobian``) to the
  integrator's error model (``ode_global_error``);
* a bad ``frame_jacobian`` raises InputError naming it.
"""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
import sympy as sp
from autograd import jacobian
from hypothesis import given, settings
from test_geodesics import heisenberg_closed_form
from tolerances import ode_global_error, routes_agree_tol

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.errors import InputError, NonFiniteError, ShapeError
from subriemann.subriemannian.abnormal import endpoint_gramian
from subriemann.subriemannian.endpoint import control_field_jacobian
from subriemann.subriemannian.geodesics import hamiltonian_field, normal_geodesic
from subriemann.subriemannian.jacobi import conjugate_times
from subriemann.subriemannian.metric import SubRiemannianMetric

TAU = 4.493409457909064  # first positive root of tan τ = τ


def traced(dist: sr.Distribution) -> sr.Distribution:
    """The same frame without ``frame_jacobian``: the autograd route, the baseline."""
    return sr.Distribution(dist.frame, dist.dim)


@st.composite
def catalog_entries(draw):
    """A catalog entry with drawn parameters (dims, the matrix A) and a point in [−3, 3]^dim."""
    name = draw(st.sampled_from(catalog.names()))
    options = {}
    if name in ("level_set_foliation", "rank_one"):
        options["dim"] = draw(st.integers(2, 6))
    if name == "linear_horizontal":
        m, n = draw(st.integers(1, 3)), draw(st.integers(2, 5))
        options["A"] = np.array(draw(st.lists(st.floats(-2, 2), min_size=m * n, max_size=m * n)))
        options["A"] = options["A"].reshape(m, n)
    dist = catalog.get(name, **options)
    point = draw(st.lists(st.floats(-3, 3), min_size=dist.dim, max_size=dist.dim))
    return dist, np.array(point)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@settings(max_examples=60)
@given(entry=catalog_entries())
def test_catalog_closed_form_jacobian_equals_autograd(entry):
    """J (closed form) = autograd's Jacobian of the frame, for every entry, point and parameter.

    Error model (``routes_agree_tol``): each entry of J is a sum of at most dim
    products of coordinates (|q| ≤ 3), sines/cosines and constants ≤ 2 — for the
    level-set projector, of terms ∂n_j n_i with |∂n| ≤ 2|∇²φ|/|∇φ| ≤ 4 (|∇φ| ≥ 1,
    ∂_nφ = 1) — so the terms are ≤ scale = 9 and k = 16·dim roundings cover the
    longer sums.  A wrong derivative is an O(1) error.
    """
    dist, q = entry
    assert dist.frame_jacobian_route == "closed form"
    J = dist.frame_jacobian(q)
    reference = np.asarray(jacobian(dist.frame)(q), dtype=np.float64)
    assert J.shape == reference.shape == (dist.dim, np.shape(dist.frame(q))[1], dist.dim)
    tol = routes_agree_tol(9.0, k=16.0 * dist.dim)
    np.testing.assert_allclose(J, reference, rtol=0, atol=tol)


def test_user_callables_of_the_catalog_take_the_autograd_route():
    """A user's φ or field is opaque: autograd differentiates the frame (and agrees with itself)."""
    dist = catalog.level_set_foliation(lambda x: x[0] ** 2 + x[1] + x[2] ** 3, dim=3)
    assert dist.frame_jacobian_route == "autograd"
    q = np.array([0.3, -0.2, 0.5])
    np.testing.assert_array_equal(dist.frame_jacobian(q), jacobian(dist.frame)(q))
    assert catalog.rank_one(lambda p: p * 0 + 1.0).frame_jacobian_route == "autograd"


# -- the symbolic route ---------------------------------------------------------------------
x, y, z = sp.symbols("x y z", real=True)
a, b = sp.symbols("a b", real=True)
FIELDS = [[1, 0, a * y**2 + sp.sin(x) * z], [0, sp.cos(b * x), x * y]]


@settings(max_examples=15)
@given(
    point=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    values=st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
)
def test_symbolic_jacobian_equals_sympy_and_autograd(point, values):
    """from_sympy's J = SymPy's ∂F_ji/∂q_k evaluated by substitution = autograd's Jacobian.

    Error model (``routes_agree_tol``, scale 9: products of |q| ≤ 2, |a|, |b| ≤ 2 and
    sin/cos): two evaluations of the same short expressions differ by round-off.
    """
    dist = sr.Distribution.from_sympy(FIELDS, (x, y, z), parameters=[a, b])
    dist = dist.with_parameters(a=values[0], b=values[1])
    assert dist.frame_jacobian_route == "symbolic"
    q = np.array(point)
    J = dist.frame_jacobian(q)
    M = sp.Matrix(FIELDS).T.subs({a: values[0], b: values[1]})
    at = {x: point[0], y: point[1], z: point[2]}
    by_hand = np.array(
        [
            [[float(sp.diff(M[j, i], c).subs(at)) for c in (x, y, z)] for i in range(2)]
            for j in range(3)
        ]
    )
    tol = routes_agree_tol(9.0)
    np.testing.assert_allclose(J, by_hand, rtol=0, atol=tol)
    np.testing.assert_allclose(J, jacobian(dist.frame)(q), rtol=0, atol=tol)


def test_symbolic_jacobian_needs_the_parameter_values():
    dist = sr.Distribution.from_sympy(FIELDS, (x, y, z), parameters=[a, b])
    assert dist.frame_jacobian_route == "symbolic"
    with pytest.raises(InputError, match=r"free parameters \['a', 'b'\]"):
        dist.frame_jacobian(np.zeros(3))


# -- normal geodesics, conjugate times, log/dist and Gramians on the closed-form route --------
COVECTORS = [(1.0, 0.0, 2 * np.pi), (0.3, -0.8, -3.0), (0.6, 0.8, 1e-3)]


@pytest.mark.parametrize("p0", COVECTORS)
def test_heisenberg_geodesic_closed_form_route(p0):
    """Closed-form route = the circles' closed form, and = the autograd route, to the ODE error model.

    Both routes integrate fields equal to round-off (``routes_agree_tol``), so DOP853
    takes (nearly) the same steps: each is within ``ode_global_error`` of the exact
    curve, hence within twice that of each other.
    """
    heis = catalog.heisenberg()
    assert heis.frame_jacobian_route == "closed form"
    rtol, atol = 1e-12, 1e-14
    geo = normal_geodesic(heis, np.zeros(3), p0, 1.0, rtol=rtol)
    base = normal_geodesic(traced(heis), np.zeros(3), p0, 1.0, rtol=rtol)
    scale = float(np.max(np.abs(geo.points)))
    model = ode_global_error(rtol, atol, scale)
    exact = heisenberg_closed_form(np.array(p0), 1.0)
    np.testing.assert_allclose(geo.end, exact, rtol=0, atol=model)
    np.testing.assert_allclose(geo.end, base.end, rtol=0, atol=2 * model)
    for t in (0.25, 0.6):
        np.testing.assert_allclose(geo(t), heisenberg_closed_form(np.array(p0), t), atol=model)


@pytest.mark.parametrize("name", ["heisenberg", "cartan_235", "car_trailer", "martinet"])
def test_hamiltonian_fields_of_the_routes_agree(name):
    """(F u, −∂H/∂q) on the closed-form route = the autograd vjp route at random states.

    Error model (``routes_agree_tol``): ∂H/∂q_k = Σ u_i p_j ∂F_ji/∂q_k sums r·dim
    products of size ≤ |p|²·max|J|·max|F|; k = 16·r·dim for those sums.
    """
    dist = catalog.get(name)
    closed, autograd_route = hamiltonian_field(dist), hamiltonian_field(traced(dist))
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.uniform(-2, 2, size=2 * dist.dim)
        q = y[: dist.dim]
        r = np.shape(dist.frame(q))[1]
        scale = float(np.sum(y[dist.dim :] ** 2)) * 4.0 * max(1.0, float(np.max(np.abs(q)))) ** 2
        np.testing.assert_allclose(
            closed(0.0, y),
            autograd_route(0.0, y),
            rtol=0,
            atol=routes_agree_tol(scale, k=16.0 * r * dist.dim),
        )
        u = rng.normal(size=r)
        np.testing.assert_allclose(
            control_field_jacobian(dist)(q, u),
            control_field_jacobian(traced(dist))(q, u),
            rtol=0,
            atol=routes_agree_tol(scale, k=16.0 * r),
        )


def test_conjugate_times_closed_form_route():
    """2π/|ω| and 2τ/|ω|, to the ODE error model of the Jacobi fields at conjugate_times' rtol.

    A conjugate time is a simple root of the conjugacy determinant, located on the dense
    output: its error is that of the integrated fields over the horizon t_max (≈ 3, unit
    speed), ``ode_global_error(rtol, 1e-2·rtol, t_max, t_max)``, over a slope of order 1.
    """
    heis = catalog.heisenberg()
    omega, t_max, rtol = -3.0, 1.5 * 2 * np.pi / 3, 1e-11  # rtol: conjugate_times' default
    times = conjugate_times(heis, np.zeros(3), (0.6, -0.8, omega), t_max)
    model = ode_global_error(rtol, 1e-2 * rtol, t_max, t_max)
    np.testing.assert_allclose(times, [2 * np.pi / 3, 2 * TAU / 3], rtol=0, atol=model)


def test_log_and_dist_closed_form_route():
    """d(0, (0.3, −0.4, 0)) = 0.5 (the straight line) and exp(log) = the point.

    Error model: the shooting stops at |exp(p) − point| ≤ tol (log's default 1e-10) and exp
    integrates again with rtol 1e-11 (``ode_global_error`` at unit scale and time); the length
    of the straight line moves by at most that much (d is 1-Lipschitz in horizontal
    directions).  For the point (0, 0, z) on the cut locus d = √(4π z) moves by
    |∂d/∂z| = √(π/z) ≈ 3.2 per unit z: a factor 4 on the same error.
    """
    tol, rtol = 1e-10, 1e-11  # SubRiemannianMetric.log/dist defaults
    shooting = tol + ode_global_error(rtol, 1e-2 * rtol, 1.0)
    metric = SubRiemannianMetric(catalog.heisenberg())
    point = np.array([0.3, -0.4, 0.0])
    assert metric.dist(np.zeros(3), point, n_starts=2) == pytest.approx(0.5, abs=shooting)
    p = metric.log(point, np.zeros(3), n_starts=2)
    np.testing.assert_allclose(metric.exp(p, np.zeros(3)), point, atol=shooting)
    # d(0, (0, 0, z)) = √(4π|z|): the closed circle (ω = 2π), from a start near its covector
    z = 0.3
    d = metric.dist(np.zeros(3), np.array([0.0, 0.0, z]), starts=[[1.5, 1.0, 6.0]])
    assert d == pytest.approx(math.sqrt(4 * np.pi * z), abs=4 * shooting)


def test_endpoint_gramian_routes_agree():
    """W(T) of a Martinet curve: closed-form route = autograd route to the ODE error model.

    Both integrate the Lyapunov equation with fields equal to round-off; each is
    within ``ode_global_error(rtol, 1e-2·rtol, |W|)`` of the exact W, so twice that apart.
    """
    dist = catalog.martinet()
    controls = np.array([[1.0, 0.5], [-0.3, 1.0]])
    q0 = np.array([0.2, -0.1, 0.3])
    end, W = endpoint_gramian(dist, q0, controls, 1.0)
    end_b, W_b = endpoint_gramian(traced(dist), q0, controls, 1.0)
    rtol = 1e-11
    model = ode_global_error(rtol, 1e-2 * rtol, float(np.max(np.abs(W))))
    np.testing.assert_allclose(W, W_b, rtol=0, atol=2 * model)
    np.testing.assert_allclose(
        end, end_b, rtol=0, atol=2 * ode_global_error(rtol, 1e-2 * rtol, 1.0)
    )


# -- bad frame_jacobian -----------------------------------------------------------------------
def heisenberg_frame(p):
    return catalog.heisenberg().frame(p)


def test_non_callable_frame_jacobian():
    with pytest.raises(InputError, match="frame_jacobian must be callable"):
        sr.Distribution(heisenberg_frame, 3, frame_jacobian=np.zeros((3, 2, 3)))


@pytest.mark.parametrize("shape", [(3, 2), (3, 3, 3), (2, 2, 3)])
def test_wrong_shape_frame_jacobian(shape):
    dist = sr.Distribution(heisenberg_frame, 3, frame_jacobian=lambda p: np.zeros(shape))
    with pytest.raises(ShapeError, match=r"frame_jacobian\(p\) returned shape"):
        dist.frame_jacobian(np.zeros(3))
    # through the ODE core too (whose scipy stepper re-labels errors of its first evaluation)
    with pytest.raises(InputError, match="frame_jacobian"):
        normal_geodesic(dist, np.zeros(3), (1.0, 0.0, 1.0))


def test_non_finite_and_non_numeric_frame_jacobian():
    nan = sr.Distribution(heisenberg_frame, 3, frame_jacobian=lambda p: np.full((3, 2, 3), np.nan))
    with pytest.raises(NonFiniteError, match=r"frame_jacobian\(p\) returned NaN/inf"):
        nan.frame_jacobian(np.zeros(3))
    text = sr.Distribution(heisenberg_frame, 3, frame_jacobian=lambda p: "J")
    with pytest.raises(InputError, match=r"frame_jacobian\(p\) did not return a float array"):
        text.frame_jacobian(np.zeros(3))
