"""Bad input raises the package's own error, a ValueError/TypeError, naming problem and expectation.

One case per row: the call, the error class, and a fragment of the message
that names what was wrong (and, where there is one, what was expected).
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subriemann as sr
from subriemann.errors import (
    ActivationError,
    InputError,
    NonFiniteError,
    ShapeError,
    SubriemannError,
    check_int,
    check_real,
)
from subriemann.linalg import RankPolicy, resolve_policy

X = np.arange(6.0).reshape(3, 2)  # N = 3 inputs in R^2
NET = sr.MLP([2, 4, 2])  # M = 2, Q = 2, K = 22
F = sr.NetworkMap(NET, X)
THETA = NET.init(0)
COST = sr.L2Cost(np.zeros(6), n_samples=3)


def with_nan(a, index=0, value=np.nan):
    a = np.array(a, dtype=float)
    a.flat[index] = value
    return a


CASES = {
    # -- shapes ------------------------------------------------------------------
    "inputs not 2-D": (
        lambda: sr.TrainingData(np.zeros(3), [0, 0, 0], np.eye(2)),
        ShapeError,
        r"inputs must be 2-D, got shape \(3,\)",
    ),
    "class_outputs not 2-D": (
        lambda: sr.TrainingData(X, [0, 1, 0], np.zeros(2)),
        ShapeError,
        "class_outputs must be 2-D",
    ),
    "labels of wrong length": (
        lambda: sr.TrainingData(X, [0, 1], np.eye(2)),
        ShapeError,
        r"labels must have shape \(N,\) = \(3,\), got \(2,\)",
    ),
    "regression targets with other N": (
        lambda: sr.TrainingData.regression(X, np.zeros((2, 1))),
        ShapeError,
        "targets has 2 rows but inputs has 3; expected one target per input",
    ),
    "cost target not 1-D": (
        lambda: sr.L2Cost(np.zeros((3, 2)), n_samples=3),
        ShapeError,
        "target must be 1-D",
    ),
    "cost evaluated at x of wrong length": (
        lambda: COST(np.zeros(5)),
        ShapeError,
        r"x must have shape \(6,\), got \(5,\)",
    ),
    "cost gradient at x of wrong length": (
        lambda: COST.grad(np.zeros(7)),
        ShapeError,
        r"x must have shape \(6,\)",
    ),
    "inputs with wrong M for the MLP": (
        lambda: sr.NetworkMap(NET, np.zeros((3, 5))),
        ShapeError,
        r"inputs have dimension 5 but the network's input layer has M = 2; expected inputs of shape \(N, 2\)",
    ),
    "network inputs not 2-D": (
        lambda: sr.NetworkMap(NET, np.zeros(2)),
        ShapeError,
        "inputs must be 2-D",
    ),
    # -- θ of the wrong length -----------------------------------------------------
    "theta too short for f": (
        lambda: F(THETA[:-1]),
        ShapeError,
        r"theta must have shape \(22,\), got \(21,\)",
    ),
    "theta too long for the Jacobian": (
        lambda: F.jacobian(np.append(THETA, 0.0)),
        ShapeError,
        r"theta must have shape \(22,\), got \(23,\)",
    ),
    "theta of wrong length for unpack": (
        lambda: NET.unpack(np.zeros(5)),
        ShapeError,
        r"theta must have shape \(K,\) = \(22,\), got \(5,\)",
    ),
    "pack with a missing layer": (
        lambda: NET.pack(NET.unpack(THETA)[:1]),
        ShapeError,
        r"expected 2 \(W, b\) pairs, got 1",
    ),
    "pack with a transposed weight": (
        lambda: NET.pack([(np.zeros((2, 4)), np.zeros(4)), (np.zeros((2, 4)), np.zeros(2))]),
        ShapeError,
        r"layer 1: expected W of shape \(4, 2\) and b of shape \(4,\), got \(2, 4\)",
    ),
    # -- NaN / inf -----------------------------------------------------------------
    "NaN in inputs": (
        lambda: sr.TrainingData(with_nan(X), [0, 1, 0], np.eye(2)),
        NonFiniteError,
        r"inputs contains 1 non-finite value\(s\) \(NaN or inf\); expected finite",
    ),
    "inf in class outputs": (
        lambda: sr.TrainingData(X, [0, 1, 0], with_nan(np.eye(2), 3, np.inf)),
        NonFiniteError,
        "class_outputs contains 1 non-finite",
    ),
    "NaN in regression targets": (
        lambda: sr.TrainingData.regression(X, with_nan(np.zeros((3, 1)), 2)),
        NonFiniteError,
        "targets contains 1 non-finite",
    ),
    "inf in the cost target": (
        lambda: sr.L2Cost(with_nan(np.zeros(6), 4, -np.inf), n_samples=3),
        NonFiniteError,
        "target contains 1 non-finite",
    ),
    "NaN in the output x": (
        lambda: COST(with_nan(np.zeros(6), 1)),
        NonFiniteError,
        "x contains 1 non-finite",
    ),
    "NaN in theta": (
        lambda: F(with_nan(THETA, 5)),
        NonFiniteError,
        "theta contains 1 non-finite",
    ),
    "inf in theta for the Jacobian derivative": (
        lambda: F.jacobian_derivative(with_nan(THETA, 0, np.inf), np.zeros(22)),
        NonFiniteError,
        "theta contains 1 non-finite",
    ),
    "NaN in the network inputs": (
        lambda: sr.NetworkMap(NET, with_nan(X, 3)),
        NonFiniteError,
        "inputs contains 1 non-finite",
    ),
    # -- labels ----------------------------------------------------------------------
    "label above the number of classes": (
        lambda: sr.TrainingData(X, [0, 2, 1], np.eye(2)),
        InputError,
        r"label 2 of sample 1 is out of range; expected ω\(j\) in \[0, 2\)",
    ),
    "negative label": (
        lambda: sr.TrainingData(X, [-1, 0, 1], np.eye(2)),
        InputError,
        "label -1 of sample 0 is out of range",
    ),
    "non-integer label": (
        lambda: sr.TrainingData(X, [0, 0.5, 1], np.eye(2)),
        InputError,
        "labels must be integers",
    ),
    "NaN label": (
        lambda: sr.TrainingData(X, [0, np.nan, 1], np.eye(2)),
        InputError,
        "labels must be integers",
    ),
    "string labels": (
        lambda: sr.TrainingData(X, ["a", "b", "a"], np.eye(2)),
        InputError,
        "labels must be integers .* got dtype",
    ),
    "string labels for one-hot data": (
        lambda: sr.TrainingData.one_hot(X, ["a", "b", "a"]),
        InputError,
        "labels must be integers",
    ),
    "one-hot with Q = 0": (
        lambda: sr.TrainingData.one_hot(X, [0, 0, 0], 0),
        InputError,
        "Q must be a positive integer",
    ),
    # -- empty data ------------------------------------------------------------------
    "no samples": (
        lambda: sr.TrainingData(np.zeros((0, 2)), [], np.eye(2)),
        ShapeError,
        r"inputs is empty \(shape \(0, 2\)\); expected at least one sample",
    ),
    "inputs of dimension 0": (
        lambda: sr.TrainingData(np.zeros((3, 0)), [0, 0, 0], np.eye(2)),
        ShapeError,
        "inputs is empty",
    ),
    "no classes": (
        lambda: sr.TrainingData(X, [0, 0, 0], np.zeros((0, 2))),
        ShapeError,
        r"class_outputs is empty .*expected shape \(n_classes, Q\)",
    ),
    "regression without samples": (
        lambda: sr.TrainingData.regression(np.zeros((0, 2)), np.zeros((0, 1))),
        ShapeError,
        "inputs is empty",
    ),
    "one-hot without samples": (
        lambda: sr.TrainingData.one_hot(np.zeros((0, 2)), [], 2),
        ShapeError,
        "inputs is empty",
    ),
    "network on no inputs": (
        lambda: sr.NetworkMap(NET, np.zeros((0, 2))),
        ShapeError,
        r"inputs is empty; expected at least one training input \(N >= 1\)",
    ),
    "empty cost target": (
        lambda: sr.L2Cost(np.zeros(0), n_samples=1),
        InputError,
        "target has length 0",
    ),
    # -- activations -----------------------------------------------------------------
    "unknown activation": (
        lambda: sr.MLP([2, 3, 1], activation="swishy"),
        ActivationError,
        r"unknown activation 'swishy'; expected one of \[",
    ),
    "activation of the wrong type": (
        lambda: sr.MLP([2, 3, 1], activation=None),
        ActivationError,
        "activation must be a name or an Activation, got NoneType",
    ),
    "relu without opting in": (
        lambda: sr.MLP([2, 3, 1], activation="relu"),
        ActivationError,
        "not Lipschitz.*allow_nonsmooth=True",
    ),
    # -- layer sizes -----------------------------------------------------------------
    "only one layer size": (
        lambda: sr.MLP([3]),
        InputError,
        r"layer_sizes must list at least \[M, Q\]",
    ),
    "no layer sizes": (
        lambda: sr.MLP([]),
        InputError,
        r"layer_sizes must list at least \[M, Q\]",
    ),
    "layer sizes as a string": (
        lambda: sr.MLP("234"),
        InputError,
        "layer_sizes must list",
    ),
    "zero width": (
        lambda: sr.MLP([3, 0, 1]),
        InputError,
        r"layer_sizes\[1\] must be a positive integer, got 0",
    ),
    "negative output dimension": (
        lambda: sr.MLP([3, 2, -1]),
        InputError,
        r"layer_sizes\[2\] must be a positive integer, got -1",
    ),
    "fractional width": (
        lambda: sr.MLP([3, 2.5, 1]),
        InputError,
        r"layer_sizes\[1\] must be a positive integer, got 2.5",
    ),
    "boolean width": (
        lambda: sr.MLP([3, True, 1]),
        InputError,
        r"layer_sizes\[1\] must be a positive integer, got True",
    ),
    "negative weight scale": (
        lambda: NET.init(0, weight_scale=-1.0),
        InputError,
        "weight_scale must be a finite number >= 0, got -1.0",
    ),
    "NaN bias scale": (
        lambda: NET.init(0, bias_scale=float("nan")),
        InputError,
        "bias_scale must be a finite number >= 0",
    ),
    "network from something that is not an MLP": (
        lambda: sr.NetworkMap([2, 3, 1], X),
        InputError,
        "mlp must be an MLP, got list",
    ),
    # -- n_samples -------------------------------------------------------------------
    "zero samples": (
        lambda: sr.L2Cost(np.zeros(6), n_samples=0),
        InputError,
        r"n_samples must be a positive integer \(the number of samples N\), got 0",
    ),
    "negative samples": (
        lambda: sr.L2Cost(np.zeros(6), n_samples=-3),
        InputError,
        r"n_samples must be a positive integer \(the number of samples N\), got -3",
    ),
    "fractional samples": (
        lambda: sr.L2Cost(np.zeros(6), n_samples=1.5),
        InputError,
        r"n_samples must be a positive integer \(the number of samples N\), got 1.5",
    ),
    "boolean samples": (
        lambda: sr.L2Cost(np.zeros(6), n_samples=True),
        InputError,
        r"n_samples must be a positive integer \(the number of samples N\), got True",
    ),
    "target length not a multiple of N": (
        lambda: sr.L2Cost(np.zeros(7), n_samples=3),
        InputError,
        r"target has length 7, which is not Q\*N for N = 3",
    ),
    # -- non-numeric arrays and rank policies ------------------------------------------
    "complex inputs": (
        lambda: sr.TrainingData(X + 1j, [0, 1, 0], np.eye(2)),
        InputError,
        "inputs must hold real numbers, got dtype complex128",
    ),
    "inputs that are not numbers": (
        lambda: sr.TrainingData([["a", "b"]], [0], np.eye(2)),
        InputError,
        "inputs must be a numeric array",
    ),
    "negative rank tolerance": (
        lambda: RankPolicy(rtol=-1e-3),
        InputError,
        r"RankPolicy.rtol must be a finite number >= 0 or None, got -0.001",
    ),
    "NaN absolute rank tolerance": (
        lambda: RankPolicy(atol=float("nan")),
        InputError,
        "RankPolicy.atol must be a finite number >= 0",
    ),
    "rank policy of the wrong kind": (
        lambda: resolve_policy("strict"),
        InputError,
        "rank_policy must be a RankPolicy, a float rtol or None, got 'strict'",
    ),
    # -- issue #11 item 4: complex, string, boolean and object data everywhere ----------
    "theta as a list of numeric strings": (
        lambda: F(["1"] * 22),
        InputError,
        "theta must be a numeric array of real numbers, got a list of dtype <U1",
    ),
    "theta as a list of booleans": (
        lambda: F([True] * 22),
        InputError,
        "theta must be a numeric array of real numbers, got a list of dtype bool",
    ),
    "complex theta for unpack": (
        lambda: NET.unpack(THETA + 1j),
        InputError,
        "theta must hold real numbers, got dtype complex128",
    ),
    "string theta for unpack": (
        lambda: NET.unpack(np.array(["a"] * 22)),
        InputError,
        "theta must hold real numbers",
    ),
    "NaN theta for unpack": (
        lambda: NET.unpack(with_nan(THETA)),
        NonFiniteError,
        "theta contains 1",
    ),
    "complex weights for pack": (
        lambda: NET.pack([(np.zeros((4, 2)) + 1j, np.zeros(4)), (np.zeros((2, 4)), np.zeros(2))]),
        InputError,
        "W_1 must hold real numbers, got dtype complex128",
    ),
    "string biases for pack": (
        lambda: NET.pack([(np.zeros((4, 2)), ["a"] * 4), (np.zeros((2, 4)), np.zeros(2))]),
        InputError,
        "b_1 must be a numeric array of real numbers",
    ),
    "NaN weights for pack": (
        lambda: NET.pack([(np.zeros((4, 2)), np.zeros(4)), (with_nan(np.zeros((2, 4))), [0, 0])]),
        NonFiniteError,
        "W_2 contains 1 non-finite",
    ),
    "pack with something that is not a pair": (
        lambda: NET.pack([np.zeros(3), (np.zeros((2, 4)), np.zeros(2))]),
        InputError,
        r"layer 1: expected a pair \(W, b\)",
    ),
    "seed that numpy cannot use": (
        lambda: NET.init("a"),
        InputError,
        "seed must be a non-negative",
    ),
    "negative seed": (lambda: NET.init(-1), InputError, "seed must be a non-negative integer"),
    "scales so large that theta overflows": (
        lambda: NET.init(0, weight_scale=np.finfo(float).max),
        InputError,
        "theta overflows float64",
    ),
    "complex D for the SVD": (
        lambda: sr.JacobianSVD(np.eye(3) + 1j),
        InputError,
        "D must hold real numbers, got dtype complex128",
    ),
    "string D for the SVD": (
        lambda: sr.JacobianSVD(np.array([["a", "b"]])),
        InputError,
        "D must hold real numbers",
    ),
    "object D for the SVD": (
        lambda: sr.JacobianSVD(np.array([[None, 1.0]])),
        InputError,
        "D must hold real numbers, got dtype object",
    ),
    "solve with rhs of the wrong length": (
        lambda: sr.JacobianSVD(np.eye(3)).solve(np.ones(4)),
        ShapeError,
        r"rhs must have shape \(3,\) or \(3, k\) for D of shape \(3, 3\), got \(4,\)",
    ),
    "solve with complex rhs": (
        lambda: sr.JacobianSVD(np.eye(3)).solve(np.ones(3) + 1j),
        InputError,
        "rhs must hold real numbers",
    ),
    "solve with NaN rhs": (
        lambda: sr.JacobianSVD(np.eye(3)).normal_solve(with_nan(np.ones(3))),
        NonFiniteError,
        "rhs contains 1 non-finite",
    ),
    "projection of a string vector": (
        lambda: sr.JacobianSVD(np.eye(2, 5)).project_row(np.array(list("abcde"))),
        InputError,
        "v must hold real numbers",
    ),
    "bundle gradient with a complex covector": (
        lambda: sr.PullbackBundle(F).grad(THETA, THETA + 1j),
        InputError,
        "covector must hold real numbers, got dtype complex128",
    ),
    "bundle gradient at a string theta": (
        lambda: sr.PullbackBundle(F).grad(np.array(["a"] * 22), THETA),
        InputError,
        "theta must hold real numbers",
    ),
    "bundle gradient on a batch of the wrong length": (
        lambda: sr.PullbackBundle(F).grad(np.ones((2, 3)), np.ones((2, 3))),
        ShapeError,
        r"theta must have shape \[..., 22\], got \(2, 3\)",
    ),
    "bundle frame on an empty batch": (
        lambda: sr.PullbackBundle(F).frame(np.zeros((0, 22))),
        ShapeError,
        r"base_point is an empty batch \(shape \(0, 22\)\)",
    ),
    "pullback metric gradient at a string theta": (
        lambda: sr.PullbackMetric(F).grad(np.array(["a"] * 22), THETA),
        InputError,
        "theta must hold real numbers",
    ),
    "pullback metric gradient on a batch of the wrong length": (
        lambda: sr.PullbackMetric(F).grad(np.ones((2, 3)), np.ones((2, 3))),
        ShapeError,
        r"theta must have shape \[..., 22\]",
    ),
    "pullback metric on an empty batch": (
        lambda: sr.PullbackMetric(F).metric_matrix(np.zeros((0, 22))),
        ShapeError,
        "base_point is an empty batch",
    ),
    "output metric field returning complex values": (
        lambda: sr.PullbackBundle(F, output_metric=lambda x: np.eye(6) + 0j).at(THETA),
        InputError,
        r"the output metric OutputMetricField\(<lambda>, dim=6\) evaluated at x = .* must hold "
        "real numbers, got dtype complex128",
    ),
    "output metric field returning NaN": (
        lambda: sr.PullbackBundle(F, output_metric=lambda x: np.full((6, 6), np.nan)).grad(
            THETA, THETA
        ),
        NonFiniteError,
        r"the output metric OutputMetricField\(<lambda>, dim=6\) evaluated at x = \[.*\] "
        "contains 36 non-finite",
    ),
    "autodiff map returning complex values": (
        lambda: sr.AutodiffMap(lambda t: t * 1j, 2, 2)(np.ones(2)),
        InputError,
        r"the value fn\(theta\) must hold real numbers",
    ),
    "ragged labels": (
        lambda: sr.TrainingData(X, [0, [1], 1], np.eye(2)),
        InputError,
        "labels must be a 1-D sequence of integers",
    ),
    "label too large for an integer": (
        lambda: sr.TrainingData(X, [0, 1, 1e300], np.eye(2)),
        InputError,
        r"label 1e\+300 of sample 2 is out of range",
    ),
    "one-hot labels implying a huge Q": (
        lambda: sr.TrainingData.one_hot(X, [0, 1, 10**12]),
        InputError,
        r"the labels imply Q = max\(labels\) \+ 1 = 1000000000001 classes",
    ),
    "linear catalog entry from an empty matrix": (
        lambda: sr.catalog.linear_horizontal(np.zeros((0, 3))),
        InputError,
        r"A must be a non-empty \(m, n\) matrix, got shape \(0, 3\)",
    ),
    "network catalog entry with a string N": (
        lambda: sr.catalog.network_bundle(n_samples="a"),
        InputError,
        "n_samples must be a positive integer",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_raises_the_package_error_naming_the_problem(case):
    call, error, message = CASES[case]
    with pytest.raises(error, match=message) as info:
        call()
    assert isinstance(info.value, SubriemannError)
    assert isinstance(info.value, ValueError | TypeError)


def test_error_hierarchy():
    # callers may catch the package's error or the builtin one
    for cls in (InputError, ShapeError, NonFiniteError, ActivationError, sr.RankConditionError):
        assert issubclass(cls, SubriemannError) and issubclass(cls, ValueError)
    # numerical trouble from finite inputs is not a bad argument
    assert issubclass(sr.NumericalError, SubriemannError)
    assert issubclass(sr.NumericalError, ArithmeticError)
    assert not issubclass(sr.NumericalError, ValueError)


# -- the shared scalar checks (check_int, check_real) --------------------------------


@given(value=st.integers(-(2**70), 2**70), minimum=st.integers(-5, 5))
def test_check_int_accepts_exactly_the_integers_at_or_above_the_minimum(value, minimum):
    for given_as in (value, np.int64(value)) if abs(value) < 2**62 else (value,):
        if value >= minimum:
            out = check_int(given_as, "k", minimum=minimum)
            assert out == value and type(out) is int  # a plain int, whatever came in
        else:
            with pytest.raises(InputError, match=f"k must be .*, got {value}$"):
                check_int(given_as, "k", minimum=minimum)


@pytest.mark.parametrize(
    "value", [True, False, np.bool_(True), 2.0, np.float64(3.0), "3", np.array(3), [3], None]
)
def test_check_int_refuses_what_is_not_an_integer(value):
    # 2.0 and True compare equal to integers, but a count must be given as one
    with pytest.raises(InputError, match="n must be a positive integer, got"):
        check_int(value, "n")


def test_check_int_message_names_the_value_its_meaning_and_the_range():
    with pytest.raises(InputError) as info:
        check_int(np.int64(0), "n_samples", "the number of samples N")
    assert (
        str(info.value) == "n_samples must be a positive integer (the number of samples N), got 0"
    )
    with pytest.raises(InputError, match=r"^base_seed must be an integer >= 0, got -1$"):
        check_int(-1, "base_seed", minimum=0)
    with pytest.raises(InputError, match=r"^dim must be a positive integer or None, got 0$"):
        check_int(0, "dim", allow_none=True)
    assert check_int(None, "dim", allow_none=True) is None


@given(
    value=st.floats(allow_nan=True, allow_infinity=True),
    positive=st.booleans(),
    nonnegative=st.booleans(),
    below=st.none() | st.floats(-10, 10),
    allow_inf=st.booleans(),
)
def test_check_real_accepts_exactly_the_numbers_in_the_stated_range(
    value, positive, nonnegative, below, allow_inf
):
    expected_ok = (
        not np.isnan(value)
        and value != -np.inf
        and (allow_inf or value != np.inf)
        and (not positive or value > 0)
        and (not nonnegative or value >= 0)
        and (below is None or value < below)
    )
    kw = dict(positive=positive, nonnegative=nonnegative, below=below, allow_inf=allow_inf)
    for given_as in (value, np.float64(value), np.array(value)):
        if expected_ok:
            out = check_real(given_as, "x", **kw)
            assert out == value and type(out) is float
        else:
            with pytest.raises(InputError, match=r"^x must be .*number.*, got "):
                check_real(given_as, "x", **kw)


@pytest.mark.parametrize(
    "value", [True, np.bool_(False), "0.5", None, [0.5], np.ones(2), 1 + 0j, np.array("1"), 10**400]
)
def test_check_real_refuses_what_is_not_a_real_number(value):
    with pytest.raises(InputError, match="x must be a finite number, got"):
        check_real(value, "x")


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (
            0.0,
            {"what": "the target cost epsilon of (2.17)", "positive": True},
            "eps must be a finite number > 0 (the target cost epsilon of (2.17)), got 0.0",
        ),
        # a NumPy scalar is shown as the number it holds, not as np.float64(...)
        (np.float64(-1.0), {"nonnegative": True}, "eps must be a finite number >= 0, got -1.0"),
        (np.nan, {"positive": True, "allow_inf": True}, "eps must be a number > 0 or inf, got nan"),
        (
            2.0,
            {"positive": True, "below": 1, "allow_none": True},
            "eps must be a finite number in (0, 1) or None, got 2.0",
        ),
        (1.0, {"nonnegative": True, "below": 1}, "eps must be a finite number in [0, 1), got 1.0"),
        (-np.inf, {"allow_inf": True}, "eps must be a number or inf, got -inf"),
    ],
)
def test_check_real_message_says_what_was_expected_and_what_came(value, kwargs, message):
    with pytest.raises(InputError) as info:
        check_real(value, "eps", **kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_package_entry_points_share_the_scalar_checks():
    # one wording across modules: the same kind of bad number, the same message shape
    cases = [
        (lambda: sr.stopping_time(0.0, 1.0, 2), "eps must be a finite number > 0 (the target"),
        (lambda: sr.stopping_time(1e-3, 1.0, 2.0), "N must be a positive integer (the number of"),
        (lambda: sr.SmoothMap(2, np.int8(0)), "dim_out must be a positive integer, got 0"),
        (lambda: NET.init(0, weight_scale=True), "weight_scale must be a finite number >= 0"),
        (lambda: sr.TrainingData.blobs(spread=-1), "spread must be a finite number >= 0 (the"),
        (lambda: sr.integrate(sr.StandardFlow(F, COST), THETA, 1.0, max_steps=0), "max_steps must"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=re.escape(message)):
            call()
    # NumPy numbers pass where Python numbers do
    assert sr.RankPolicy(rtol=np.float32(0.5)).rtol == 0.5


# -- issue #11 item 4: traced values, overflow, and which point of a batch failed -------


def test_a_traced_complex_theta_is_refused_like_a_plain_one():
    # autograd boxes were passed through unchecked: a complex θ reached the network
    import autograd
    import autograd.numpy as anp

    with pytest.raises(InputError, match="theta must hold real numbers, got dtype complex128"):
        autograd.grad(lambda t: anp.real(anp.sum(F(t * (1 + 1j)))))(THETA)


def test_overflowing_solve_raises_numerical_error_naming_rhs():
    svd = sr.JacobianSVD(1e-200 * np.eye(3))
    with pytest.raises(sr.NumericalError, match=r"\|rhs\|_max = 1e\+200 is too large"):
        svd.solve(np.full(3, 1e200))


def test_batched_metric_evaluation_names_the_batch_index():
    points = np.tile(THETA, (2, 2, 1))
    points[1, 0, 3] = np.nan
    with pytest.raises(NonFiniteError, match=r"at batch index \(1, 0\) of base_point: base_point"):
        sr.PullbackMetric(F).metric_matrix(points)


def underparametrized_map():
    t = np.linspace(-2, 2, 10)[:, None]
    f = sr.NetworkMap(sr.MLP([1, 2, 1]), t)  # K = 7 < QN = 10
    return f, f.mlp.init(seed=0, weight_scale=2.0)


def test_batched_exp_names_the_batch_index_and_the_time_of_a_rank_loss():
    f, theta = underparametrized_map()
    points = np.stack([theta, theta + 0.1, np.zeros(7)])  # rank D = 1 at θ = 0
    with pytest.raises(
        sr.RankConditionError,
        match=r"^geodesic integration at time t = 0: at batch index \(2,\) of base_point: the "
        "pullback metric",
    ):
        sr.PullbackMetric(f).exp(0.1 * np.ones((3, 7)), points)


def test_batched_exp_names_the_time_at_which_it_fails_along_the_way():
    f, theta = underparametrized_map()
    with pytest.raises(sr.RankConditionError, match=r"time t = 0\.0[1-9].*batch index \(0,\)"):
        sr.PullbackMetric(f).exp(1e3 * np.ones((2, 7)), np.stack([theta, theta]))


def test_exp_arguments_are_checked():
    f, theta = underparametrized_map()
    with pytest.raises(InputError, match="tangent_vec must hold real numbers"):
        sr.PullbackMetric(f).exp(np.ones(7) + 1j, theta)
    with pytest.raises(ShapeError, match=r"tangent_vec must have shape \[..., 7\]"):
        sr.PullbackMetric(f).exp(np.ones(6), theta)


def test_sub_riemannian_exp_batches_and_names_the_index_and_time_of_a_blow_up():
    metric = sr.catalog.heisenberg().sub_riemannian_metric()
    one = metric.exp(np.ones(3), np.zeros(3))
    both = metric.exp(np.ones((2, 3)), np.zeros((2, 3)))  # batches [..., dim] now work
    np.testing.assert_allclose(both, [one, one])
    covectors = np.array([[1.0, 1.0, 1.0], [1e200, 1e200, 1.0]])
    with (
        np.errstate(all="ignore"),
        pytest.raises(
            sr.NumericalError,
            match=r"at batch index \(1,\) of cotangent_vec: the normal geodesic .* failed .* t = 0",
        ),
    ):
        metric.exp(covectors, np.zeros((2, 3)))
    with pytest.raises(InputError, match="cotangent_vec must hold real numbers"):
        metric.exp(np.ones(3) + 1j, np.zeros(3))
