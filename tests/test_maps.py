"""The SmoothMap surface: AutodiffMap, LinearMap and the derived defaults of the base class.

The geometry only ever talks to a SmoothMap, so its five operations must be
the derivatives they claim to be: D (1.17), D v, Dᵀ w and d/dt D[θ + tv],
checked against finite differences, exact closed forms and each other.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subriemann as sr
from subriemann.errors import InputError, NonFiniteError, ShapeError, SubriemannError


def max_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


class RandomSmoothMap:
    """f(θ) = tanh(Aθ + b) + ½(Cθ)² + sin(Eθ): nonlinear in every direction, autograd-traceable."""

    def __init__(self, dim_in, dim_out, seed):
        rng = np.random.default_rng(seed)
        self.A, self.C, self.E = (
            rng.normal(size=(dim_out, dim_in)) / np.sqrt(dim_in) for _ in "ACE"
        )
        self.b = rng.normal(size=dim_out)

    def __call__(self, theta):
        return (
            anp.tanh(anp.dot(self.A, theta) + self.b)
            + 0.5 * anp.dot(self.C, theta) ** 2
            + anp.sin(anp.dot(self.E, theta))
        )


class QuadraticMap(sr.SmoothMap):
    """f^a(θ) = ½ Σ T_abc θ_b θ_c with T symmetric in (b, c): D = Tθ, d/dt D[θ+tv] = Tv exactly.

    Implements only ``_value`` and ``_jacobian``, so ``jvp``, ``vjp`` and
    ``jacobian_derivative`` are the base class's derived defaults.
    """

    def __init__(self, T):
        super().__init__(T.shape[1], T.shape[0])
        self.T = T

    def _value(self, theta):
        return 0.5 * anp.einsum("abc,b,c->a", self.T, theta, theta)

    def _jacobian(self, theta):
        return anp.einsum("abc,c->ab", self.T, theta)


@st.composite
def autodiff_maps(draw):
    dim_in, dim_out = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    f = sr.AutodiffMap(RandomSmoothMap(dim_in, dim_out, seed), dim_in, dim_out)
    theta, u, v = (rng.normal(size=dim_in) for _ in range(3))
    return f, theta, u, v, rng.normal(size=dim_out)


@st.composite
def quadratic_maps(draw):
    dim_in, dim_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    T = rng.normal(size=(dim_out, dim_in, dim_in))
    T = T + T.transpose(0, 2, 1)
    return (
        QuadraticMap(T),
        rng.normal(size=dim_in),
        rng.normal(size=dim_in),
        rng.normal(size=dim_out),
    )


# Central differences with h = eps^(1/3): truncation (h²/6)|f'''| and rounding
# eps|f|/h are both ~4e-11 times O(1)–O(10) derivatives of these maps, so 1e-7
# is a safe bound that a wrong entry (an O(1) error) cannot meet.
H = np.finfo(float).eps ** (1 / 3)
FD_TOL = 1e-7


def central_difference(fn, theta, direction):
    return (fn(theta + H * direction) - fn(theta - H * direction)) / (2 * H)


# -- AutodiffMap -----------------------------------------------------------------


@given(autodiff_maps())
def test_autodiff_jacobian_matches_central_finite_differences(case):
    f, theta, *_ = case
    D = f.jacobian(theta)
    assert D.shape == (f.dim_out, f.dim_in)
    for k in range(f.dim_in):
        column = central_difference(f, theta, np.eye(f.dim_in)[k])
        assert max_err(D[:, k], column) <= FD_TOL * max(1.0, np.max(np.abs(column)))


@given(autodiff_maps())
def test_autodiff_jvp_is_D_v_and_vjp_is_Dt_w(case):
    f, theta, _, v, w = case
    D = f.jacobian(theta)
    # exact derivatives in different summation orders: a few ulps of Σ|terms|
    assert max_err(f.jvp(theta, v), D @ v) <= 1e-13 * max(1.0, np.max(np.abs(D) @ np.abs(v)))
    assert max_err(f.vjp(theta, w), w @ D) <= 1e-13 * max(1.0, np.max(np.abs(w) @ np.abs(D)))


@given(autodiff_maps())
def test_autodiff_jacobian_derivative_matches_finite_differences_of_D(case):
    f, theta, _, v, _ = case
    dD = f.jacobian_derivative(theta, v)
    fd = central_difference(f.jacobian, theta, v)
    assert dD.shape == (f.dim_out, f.dim_in)
    assert max_err(dD, fd) <= FD_TOL * max(1.0, np.max(np.abs(fd)))


@given(autodiff_maps())
def test_autodiff_jacobian_derivative_is_symmetric(case):
    # Σ_b (d/dt D[θ+tv])_ab u_b = d²f^a(v, u) = Σ_b (d/dt D[θ+tu])_ab v_b
    f, theta, u, v, _ = case
    dDv, dDu = f.jacobian_derivative(theta, v), f.jacobian_derivative(theta, u)
    terms = max(np.max(np.abs(dDv) @ np.abs(u)), np.max(np.abs(dDu) @ np.abs(v)), 1.0)
    assert max_err(dDv @ u, dDu @ v) <= 1e-13 * terms


def test_autodiff_docstring_example_has_its_exact_derivatives():
    # f(θ) = (θ0 θ1, sin θ2): D and d/dt D[θ+tv] by hand
    f = sr.AutodiffMap(lambda t: anp.array([t[0] * t[1], anp.sin(t[2])]), 3, 2)
    theta, v = np.array([1.0, 2.0, 0.3]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(f(theta), [2.0, np.sin(0.3)], rtol=1e-15)
    np.testing.assert_allclose(
        f.jacobian(theta), [[2.0, 1.0, 0.0], [0.0, 0.0, np.cos(0.3)]], rtol=1e-15
    )
    np.testing.assert_allclose(
        f.jacobian_derivative(theta, v),
        [[v[1], v[0], 0.0], [0.0, 0.0, -np.sin(0.3) * v[2]]],
        rtol=1e-15,
    )


# -- the base class's derived defaults -------------------------------------------


@given(quadratic_maps())
def test_default_derivatives_of_a_quadratic_map_are_exact(case):
    f, theta, v, w = case
    D = np.einsum("abc,c->ab", f.T, theta)
    scale = max(1.0, np.max(np.abs(f.T)) * np.sum(np.abs(theta) + np.abs(v)) ** 2)
    tol = 1e-13 * scale  # a handful of roundings on sums of |T||θ||v| terms
    assert max_err(f.jacobian(theta), D) <= tol
    assert max_err(f.jvp(theta, v), D @ v) <= tol
    assert max_err(f.vjp(theta, w), w @ D) <= tol * max(1.0, np.sum(np.abs(w)))
    assert max_err(f.jacobian_derivative(theta, v), np.einsum("abc,c->ab", f.T, v)) <= tol


def test_base_class_requires_value_and_jacobian():
    f = sr.SmoothMap(2, 3)
    with pytest.raises(NotImplementedError):
        f(np.zeros(2))
    with pytest.raises(NotImplementedError):
        f.jacobian(np.zeros(2))


# -- LinearMap ---------------------------------------------------------------------


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_linear_map_has_constant_jacobian_A_and_no_curvature(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    f = sr.LinearMap(A)
    theta, v, w = rng.normal(size=n), rng.normal(size=n), rng.normal(size=m)
    assert (f.dim_in, f.dim_out) == (n, m)
    np.testing.assert_array_equal(f(theta), A @ theta)
    np.testing.assert_array_equal(f.jacobian(theta), A)
    np.testing.assert_array_equal(f.jvp(theta, v), A @ v)
    np.testing.assert_array_equal(f.vjp(theta, w), w @ A)
    np.testing.assert_array_equal(f.jacobian_derivative(theta, v), np.zeros((m, n)))


def test_linear_map_keeps_its_own_copy_of_A():
    A = np.eye(2)
    f = sr.LinearMap(A)
    A[0, 0] = 5.0
    np.testing.assert_array_equal(f.jacobian(np.zeros(2)), np.eye(2))


# -- counts ------------------------------------------------------------------------


def test_counts_increment_once_per_public_call():
    f = sr.AutodiffMap(RandomSmoothMap(3, 2, 0), 3, 2)
    theta, v, w = np.ones(3), np.ones(3), np.ones(2)
    assert sum(f.counts.values()) == 0
    f(theta)
    f(theta)
    f.jacobian(theta)
    f.jvp(theta, v)
    f.vjp(theta, w)
    f.jacobian_derivative(theta, v)
    f.value_and_jacobian(theta)
    assert f.counts == {
        "value": 3,
        "jacobian": 2,
        "jvp": 1,
        "vjp": 1,
        "jacobian_derivative": 1,
    }


def test_rejected_calls_are_not_counted():
    f = sr.LinearMap(np.eye(2))
    with pytest.raises(ShapeError):
        f.jacobian(np.zeros(3))
    assert f.counts["jacobian"] == 0


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(0, 2), (2, 0), (-1, 2), (2.0, 2), (True, 2), ("2", 2)])
def test_bad_dimensions_are_refused(dims):
    with pytest.raises(InputError, match="positive integer"):
        sr.SmoothMap(*dims)


def test_autodiff_map_needs_a_callable():
    with pytest.raises(InputError, match="callable"):
        sr.AutodiffMap(np.ones(3), 3, 3)


def test_autodiff_map_checks_the_shape_fn_returns():
    f = sr.AutodiffMap(lambda t: anp.concatenate([t, t]), 2, 3)
    with pytest.raises(InputError, match=r"fn returned shape \(4,\); expected \(3,\)"):
        f(np.zeros(2))


@pytest.mark.parametrize("method", ["__call__", "jacobian", "value_and_jacobian"])
@pytest.mark.parametrize(
    "theta, error, message",
    [
        (np.zeros(4), ShapeError, r"theta must have shape \(3,\), got \(4,\)"),
        (np.zeros((3, 1)), ShapeError, r"theta must have shape \(3,\)"),
        (np.array([0.0, np.nan, 0.0]), NonFiniteError, "theta contains 1 non-finite"),
        (np.array([np.inf, 0.0, -np.inf]), NonFiniteError, "theta contains 2 non-finite"),
        (np.array(["a", "b", "c"]), InputError, "theta must hold real numbers"),
    ],
)
def test_bad_theta_is_refused(method, theta, error, message):
    f = sr.AutodiffMap(RandomSmoothMap(3, 2, 0), 3, 2)
    with pytest.raises(error, match=message) as info:
        getattr(f, method)(theta)
    assert isinstance(info.value, SubriemannError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f: f.jvp(np.zeros(3), np.zeros(2)), r"tangent vector v must have shape \(3,\)"),
        (lambda f: f.vjp(np.zeros(3), np.zeros(3)), r"covector w must have shape \(2,\)"),
        (lambda f: f.jacobian_derivative(np.zeros(3), np.zeros(4)), r"direction v must have"),
        (lambda f: f.jvp(np.zeros(3), np.array([0, 0, np.nan])), "tangent vector v contains"),
        (lambda f: f.vjp(np.zeros(3), np.array([np.inf, 0])), "covector w contains"),
    ],
)
def test_bad_tangent_or_covector_is_refused(call, message):
    f = sr.AutodiffMap(RandomSmoothMap(3, 2, 0), 3, 2)
    with pytest.raises(InputError, match=message):
        call(f)


@pytest.mark.parametrize(
    "A, error, message",
    [
        (np.ones(3), ShapeError, "A must be 2-D"),
        (np.array([[1.0, np.nan]]), NonFiniteError, "A contains 1 non-finite"),
        (np.ones((0, 2)), InputError, "dim_out must be a positive integer"),
    ],
)
def test_bad_linear_map_is_refused(A, error, message):
    with pytest.raises(error, match=message):
        sr.LinearMap(A)


# -- issue #11 item 4: overflow of the map is reported, and pack/unpack check their input --


def test_network_overflow_raises_numerical_error_not_inf():
    net = sr.MLP([2, 4, 2])
    f = sr.NetworkMap(net, np.arange(6.0).reshape(3, 2))
    theta = np.full(net.K, 1e308)
    with np.errstate(all="ignore"):
        with pytest.raises(sr.NumericalError, match=r"^f\(theta\) contains NaN or inf"):
            f(theta)
        with pytest.raises(sr.NumericalError, match=r"pull-back D\[theta\]\^T w contains NaN"):
            f.vjp(theta, np.ones(6))


def test_network_jacobian_overflow_is_caught_from_its_factors():
    # inputs of 1e300 make the W_1-block B ⊗ a overflow: the factor bound sees it
    net = sr.MLP([2, 3, 1], activation="identity")
    f = sr.NetworkMap(net, np.full((2, 2), 1e300))
    theta = np.full(net.K, 1e10)
    with (
        np.errstate(all="ignore"),
        pytest.raises(sr.NumericalError, match=r"the Jacobian D\[theta\] contains NaN or inf"),
    ):
        f.jacobian(theta)


def test_autodiff_map_overflow_raises_numerical_error():
    f = sr.AutodiffMap(lambda t: anp.exp(t), 2, 2)
    with np.errstate(all="ignore"), pytest.raises(sr.NumericalError, match="f\\(theta\\)"):
        f(np.full(2, 1e3))


def test_pack_and_unpack_round_trip_and_accept_lists():
    net = sr.MLP([2, 3, 1])
    theta = net.init(1)
    params = net.unpack(theta)
    as_lists = [(W.tolist(), b.tolist()) for W, b in params]
    np.testing.assert_array_equal(net.pack(as_lists), theta)
    np.testing.assert_array_equal(net.unpack(theta.tolist())[0][0], params[0][0])
