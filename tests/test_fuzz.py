"""Fuzzing the public API with bad inputs (issue #11, item 5).

Every example feeds a public entry point something wrong — a wrong shape (wrong
length, 0-d, 2-d, empty), a wrong dtype (complex, object, str, bool; int is
fine), NaN/inf, huge values (1e300), mismatched sizes, labels out of range or
not integers — and :func:`call_and_classify` decides the outcome.  Exactly two
outcomes are acceptable:

* a package error (:class:`~subriemann.errors.SubriemannError`, also a
  ValueError/TypeError, or ArithmeticError for NumericalError) whose message
  names the argument (or, for numerical trouble, the quantity and its input);
* a finite result of the expected shape.

A foreign exception (numpy's ValueError/TypeError/IndexError/LinAlgError...)
or a NaN/inf result fails the example.  The profile of ``tests/conftest.py``
is derandomized, so failures reproduce; ``max_examples`` is kept small so the
suite runs in seconds.
"""

import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.errors import NumericalError, SubriemannError

FEW = settings(max_examples=30)
FEWER = settings(max_examples=15)


# -- the one classifier ----------------------------------------------------------------


def _all_finite(value) -> bool:
    if isinstance(value, tuple | list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, np.ndarray | np.generic | float | int):
        return bool(np.all(np.isfinite(value)))
    return True  # an object: the caller extracts the arrays it wants checked


def call_and_classify(call, names, shape=None):
    """Run ``call()``: a package error naming one of ``names``, or a finite result of ``shape``.

    Returns the result, or ``None`` when the call raised an acceptable package
    error.  Anything else fails the example with what went wrong.
    """
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call()
    except SubriemannError as exc:
        kinds = (ArithmeticError,) if isinstance(exc, NumericalError) else (ValueError, TypeError)
        assert isinstance(exc, kinds), f"{type(exc).__name__} is not a builtin error subclass"
        message = str(exc)
        assert any(name in message for name in names), (
            f"{type(exc).__name__} message names none of {names}: {message!r}"
        )
        return None
    except Exception as exc:  # noqa: BLE001 - a foreign exception is exactly the failure
        raise AssertionError(f"foreign exception {type(exc).__name__}: {exc}") from exc
    assert _all_finite(out), f"non-finite result {out!r}"
    if shape is not None:
        assert np.shape(out) == shape, f"result of shape {np.shape(out)}, expected {shape}"
    return out


# -- strategies for bad inputs --------------------------------------------------------

SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1e-300, 0.0, 1.0]
ELEMENTS = st.one_of(st.floats(-3, 3), st.sampled_from(SPECIAL))


def wrong_shapes(shape):
    """Shapes near ``shape`` that are wrong: other lengths, 0-d, one axis more or less, empty."""
    n = shape[-1]
    out = [(), (n + 1,), (max(n - 1, 0),), (0,), (2, *shape), shape[:-1] + (n + 2,)]
    if len(shape) == 2:
        out += [(shape[0],), (0, n), (shape[0] + 1, n)]
    return [s for s in out if s != shape]


@st.composite
def arrays_like(draw, shape):
    """An array meant to have ``shape``: often right, often not; any dtype, specials included."""
    shp = draw(st.one_of(st.just(shape), st.sampled_from(wrong_shapes(shape))))
    values = draw(hnp.arrays(np.float64, shp, elements=ELEMENTS))
    kind = draw(
        st.sampled_from(["float", "float", "int", "complex", "bool", "str", "object", "list"])
    )
    if kind == "int":
        return np.clip(np.nan_to_num(values, posinf=7, neginf=-7), -9, 9).astype(np.int64)
    if kind == "complex":
        return values + 1j
    if kind == "bool":
        return values > 0
    if kind == "str":
        return values.astype(str)
    if kind == "object":
        return values.astype(object)
    if kind == "list":
        return draw(st.sampled_from([values.tolist(), values.astype(str).tolist()]))
    return values


LABELS = st.one_of(
    st.lists(st.integers(-2, 4), min_size=0, max_size=4),
    st.lists(st.sampled_from([0, 1, 0.5, np.nan, 1e300, 10**20, True, "a", None]), max_size=4),
    st.sampled_from([1, "abc", [[0, 1, 0]], [0, [1], 1], np.array([0, 1, 0]) + 0j]),
)

X = np.arange(6.0).reshape(3, 2)
NET = sr.MLP([2, 4, 2])  # K = 22
F = sr.NetworkMap(NET, X)  # QN = 6
THETA = NET.init(0)
AUTO = sr.AutodiffMap(lambda t: anp.tanh(t[:2] * t[1:]), 3, 2)
UNDER = sr.NetworkMap(sr.MLP([1, 2, 1]), np.linspace(-2, 2, 10)[:, None])  # K = 7 < QN = 10
BUNDLE = sr.PullbackBundle(F)
METRIC = sr.PullbackMetric(UNDER)
THETA_NAMES = ("theta", "base_point")


# -- data and cost ----------------------------------------------------------------------


@FEW
@given(arrays_like((3, 2)), LABELS, arrays_like((2, 2)))
def test_training_data(inputs, labels, class_outputs):
    call_and_classify(
        lambda: sr.TrainingData(inputs, labels, class_outputs).target,
        ("inputs", "labels", "label ", "class_outputs"),
    )


@FEW
@given(arrays_like((3, 2)), arrays_like((3, 1)))
def test_regression_data(inputs, targets):
    call_and_classify(
        lambda: sr.TrainingData.regression(inputs, targets).target, ("inputs", "targets")
    )


@FEW
@given(LABELS, st.sampled_from([None, 0, 2, 3, True, 2.5, "2", 10**9]))
def test_one_hot_data(labels, Q):
    call_and_classify(
        lambda: sr.TrainingData.one_hot(X, labels, Q).target, ("labels", "label ", "Q", "class")
    )


@FEW
@given(arrays_like((6,)), st.sampled_from([3, 0, -1, 2.0, True, "3", 4]), arrays_like((6,)))
def test_l2_cost(target, n_samples, x):
    cost = call_and_classify(lambda: sr.L2Cost(target, n_samples), ("target", "n_samples"))
    if cost is not None:
        call_and_classify(lambda: cost(x), ("x",), shape=())
        call_and_classify(lambda: cost.grad(x), ("x",), shape=(6,))


# -- the network and maps ---------------------------------------------------------------


@FEW
@given(
    st.lists(st.sampled_from([1, 2, 3, 0, -1, 2.5, True, "2", None]), max_size=4)
    | st.sampled_from(["23", 3, None]),
    st.sampled_from(["tanh", "relu", "nope", None, 3]),
)
def test_mlp(layer_sizes, activation):
    call_and_classify(lambda: sr.MLP(layer_sizes, activation).K, ("layer_sizes", "activation"))


@FEW
@given(
    st.sampled_from([0, 1, -1, "a", 2.5, None, [1, 2]]),
    st.sampled_from([1.0, 0.0, -1.0, np.nan, np.inf, 1e300, np.finfo(float).max, "1"]),
    st.sampled_from([0.1, -0.1, np.nan, 1e308]),
)
def test_mlp_init(seed, weight_scale, bias_scale):
    call_and_classify(
        lambda: NET.init(seed, weight_scale, bias_scale),
        ("seed", "weight_scale", "bias_scale", "theta"),
        shape=(NET.K,),
    )


@FEW
@given(arrays_like((NET.K,)), arrays_like((4, 2)), arrays_like((2,)))
def test_mlp_unpack_and_pack(theta, W1, b2):
    call_and_classify(lambda: NET.unpack(theta)[0][0], ("theta",), shape=(4, 2))
    params = [(W1, np.zeros(4)), (np.zeros((2, 4)), b2)]
    call_and_classify(lambda: NET.pack(params), ("W_1", "b_2", "layer"), shape=(NET.K,))


@FEW
@given(arrays_like((3, 2)))
def test_network_map_construction(inputs):
    call_and_classify(lambda: sr.NetworkMap(NET, inputs).dim_out, ("inputs",))


@FEW
@given(arrays_like((NET.K,)), arrays_like((NET.K,)), arrays_like((6,)))
def test_network_map_derivatives(theta, v, w):
    K, QN = NET.K, 6
    call_and_classify(lambda: F(theta), ("theta",), shape=(QN,))
    call_and_classify(lambda: F.jacobian(theta), ("theta",), shape=(QN, K))
    call_and_classify(lambda: F.jvp(theta, v), ("theta", "tangent vector v"), shape=(QN,))
    call_and_classify(lambda: F.vjp(theta, w), ("theta", "covector w"), shape=(K,))
    call_and_classify(
        lambda: F.jacobian_derivative(theta, v), ("theta", "direction v"), shape=(QN, K)
    )


@FEW
@given(arrays_like((3,)), arrays_like((2,)))
def test_autodiff_map(theta, w):
    call_and_classify(lambda: AUTO(theta), ("theta",), shape=(2,))
    call_and_classify(lambda: AUTO.jacobian(theta), ("theta",), shape=(2, 3))
    call_and_classify(lambda: AUTO.vjp(theta, w), ("theta", "covector w"), shape=(3,))


# -- linear algebra, bundle and metric ------------------------------------------------------


@FEW
@given(arrays_like((3, 5)), arrays_like((3,)), arrays_like((5,)))
def test_jacobian_svd(D, rhs, v):
    svd = call_and_classify(lambda: sr.JacobianSVD(D), ("D",))
    if svd is not None:
        call_and_classify(lambda: svd.solve(rhs), ("rhs",), shape=(5,))
        call_and_classify(lambda: svd.normal_solve(v), ("rhs",), shape=(5,))
        call_and_classify(lambda: svd.project_row(v), ("v",), shape=(5,))


@FEWER
@given(arrays_like((NET.K,)), arrays_like((NET.K,)))
def test_pullback_bundle(theta, covector):
    K = NET.K
    call_and_classify(lambda: BUNDLE.frame(theta), THETA_NAMES)
    call_and_classify(lambda: BUNDLE.projector(theta), THETA_NAMES, shape=(K, K))
    call_and_classify(lambda: BUNDLE.grad(theta, covector), (*THETA_NAMES, "covector"))
    call_and_classify(
        lambda: BUNDLE.inner_product(covector, THETA, theta),
        (*THETA_NAMES, "tangent_vec_a"),
    )


@FEWER
@given(arrays_like((7,)), arrays_like((7,)))
def test_pullback_metric(theta, covector):
    names = (*THETA_NAMES, "covector", "rank D = K")
    call_and_classify(lambda: METRIC.metric_matrix(theta), names)
    call_and_classify(lambda: METRIC.grad(theta, covector), names)


# -- distributions and the catalog ----------------------------------------------------------


@FEW
@given(arrays_like((3,)), st.sampled_from(["heisenberg", "engel", "martinet", "rank_one", "nope"]))
def test_distributions_and_brackets(p, name):
    dist = call_and_classify(lambda: catalog.get(name), ("catalog entry",))
    if dist is not None and dist.dim == 3:
        call_and_classify(lambda: dist.frobenius_defect(p).relative_defect, ("point p",))
        call_and_classify(lambda: dist.frame(p), ("point p",))
    call_and_classify(
        lambda: sr.lie_bracket(lambda q: q * q, lambda q: anp.sin(q), p),
        ("point p", "[X, Y](p)"),
    )


@FEW
@given(st.sampled_from([3, 0, -1, 2.5, True, "3", None]))
def test_distribution_construction(dim):
    call_and_classify(lambda: sr.Distribution(lambda p: p, dim).dim, ("dim",))
    call_and_classify(lambda: catalog.rank_one(dim=dim).dim, ("dim",))
    call_and_classify(lambda: catalog.level_set_foliation(dim=dim).dim, ("dim",))


@FEW
@given(arrays_like((2, 4)))
def test_linear_catalog_entry(A):
    call_and_classify(lambda: catalog.linear_horizontal(A).dim, ("A",))


@FEWER
@given(
    st.sampled_from([(2, 3, 2), (2, 0, 1), (2,), "23"]),
    st.sampled_from([2, 0, "a", 1.5]),
    st.sampled_from([1.0, 0.0, np.nan, -1.0]),
)
def test_network_catalog_entry(layer_sizes, n_samples, input_scale):
    call_and_classify(
        lambda: catalog.network_bundle(layer_sizes, n_samples, input_scale=input_scale).dim,
        ("layer_sizes", "n_samples", "input_scale"),
    )


def test_the_classifier_refuses_foreign_errors_and_non_finite_results():
    with pytest.raises(AssertionError, match="foreign exception ValueError"):
        call_and_classify(lambda: np.zeros(2) @ np.zeros(3), ("x",))
    with pytest.raises(AssertionError, match="non-finite result"):
        call_and_classify(lambda: np.array([np.nan]), ("x",))
    with pytest.raises(AssertionError, match="names none of"):
        call_and_classify(lambda: sr.L2Cost(np.zeros(2), n_samples=0), ("target",))
