"""Training data of §1.1 and the L² cost (1.7) with its gradients (1.18), (1.20)."""

import re

import autograd
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import WIDE, networks

import subriemann as sr
from subriemann.errors import InputError


@st.composite
def labelled_data(draw):
    """Inputs (N, M), a label map ω into n_classes classes, class outputs (n_classes, Q)."""
    N, M, Q = draw(st.integers(1, 8)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n_classes = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = rng.integers(0, n_classes, size=N)
    return rng.normal(size=(N, M)), labels, rng.normal(size=(n_classes, Q))


# -- TrainingData ------------------------------------------------------------------


@given(labelled_data())
def test_target_is_y_omega_stacked_sample_major(case):
    # (1.2): y_ω = (y_ω(1)ᵀ, ..., y_ω(N)ᵀ)ᵀ ∈ R^{QN}
    inputs, labels, class_outputs = case
    data = sr.TrainingData(inputs, labels, class_outputs)
    N, Q = inputs.shape[0], class_outputs.shape[1]
    assert (data.N, data.M, data.Q, data.n_classes) == (N, inputs.shape[1], Q, len(class_outputs))
    assert data.target.shape == (Q * N,)
    for j in range(N):
        np.testing.assert_array_equal(data.target[j * Q : (j + 1) * Q], class_outputs[labels[j]])


@given(labelled_data())
def test_class_counts_are_N_i(case):
    # N_i = #{j : ω(j) = i}, one count per class, empty classes included
    inputs, labels, class_outputs = case
    data = sr.TrainingData(inputs, labels, class_outputs)
    counts = [sum(1 for label in labels if label == i) for i in range(len(class_outputs))]
    np.testing.assert_array_equal(data.class_counts, counts)
    assert data.class_counts.sum() == data.N


@given(labelled_data())
def test_data_keeps_its_own_float64_copies(case):
    inputs, labels, class_outputs = case
    data = sr.TrainingData(inputs, labels, class_outputs)
    saved_inputs, saved_target = inputs.copy(), data.target
    inputs[...] = 0.0
    class_outputs[...] = 0.0
    data.target[...] = 7.0  # target hands out a copy
    np.testing.assert_array_equal(data.inputs, saved_inputs)
    np.testing.assert_array_equal(data.target, saved_target)
    assert data.inputs.dtype == data.class_outputs.dtype == data.target.dtype == np.float64


def test_integer_valued_float_labels_are_accepted():
    data = sr.TrainingData(np.zeros((3, 1)), np.array([2.0, 0.0, 1.0]), np.eye(3))
    assert data.labels.dtype.kind == "i"
    np.testing.assert_array_equal(data.labels, [2, 0, 1])


@given(st.integers(1, 8), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_regression_gives_each_sample_its_own_target(N, M, Q, seed):
    rng = np.random.default_rng(seed)
    inputs, targets = rng.normal(size=(N, M)), rng.normal(size=(N, Q))
    data = sr.TrainingData.regression(inputs, targets)
    np.testing.assert_array_equal(data.target, targets.reshape(-1))
    assert (data.N, data.M, data.Q) == (N, M, Q)
    np.testing.assert_array_equal(data.class_counts, np.ones(N))


@given(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_one_hot_class_outputs_are_unit_vectors(N, Q, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, Q, size=N)
    data = sr.TrainingData.one_hot(rng.normal(size=(N, 2)), labels, Q)
    np.testing.assert_array_equal(data.class_outputs, np.eye(Q))
    for j in range(N):
        expected = np.zeros(Q)
        expected[labels[j]] = 1.0
        np.testing.assert_array_equal(data.target[j * Q : (j + 1) * Q], expected)
    # without Q, the number of classes is the largest label + 1
    assert sr.TrainingData.one_hot(np.zeros((N, 1)), labels).Q == labels.max() + 1


@given(
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 4),
    st.floats(0.0, 2.0),
    st.integers(0, 2**32 - 1),
)
def test_blobs_are_the_labelled_data_of_section_1_1(N, n_classes, M, spread, seed):
    """ω(j) = j mod n_classes (1.1), one-hot y_ℓ stacked sample-major (1.2), clusters on the circle."""
    data = sr.TrainingData.blobs(N, n_classes, M, spread, seed)
    assert (data.N, data.M, data.Q, data.n_classes) == (N, M, n_classes, n_classes)
    labels = np.arange(N) % n_classes
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.target.reshape(N, n_classes), np.eye(n_classes)[labels])
    # with spread 0 every input is its class centre: the ℓ-th of n_classes points evenly
    # spaced on the unit circle of the first two coordinates (on [−1, 1] when M = 1)
    centres = sr.TrainingData.blobs(N, n_classes, M, 0.0, seed).inputs
    if M == 1:
        line = np.linspace(-1.0, 1.0, n_classes) if n_classes > 1 else np.zeros(1)
        np.testing.assert_allclose(centres[:, 0], line[labels], rtol=0, atol=1e-15)
    else:
        angle = 2 * np.pi * labels / n_classes
        np.testing.assert_allclose(centres[:, :2], np.c_[np.cos(angle), np.sin(angle)], atol=1e-15)
        np.testing.assert_array_equal(centres[:, 2:], 0.0)
    # input = centre + spread·ξ with ξ fixed by the seed: offsets scale linearly with spread
    double = sr.TrainingData.blobs(N, n_classes, M, 2 * spread, seed).inputs
    np.testing.assert_allclose(double - centres, 2 * (data.inputs - centres), atol=1e-12)
    again = sr.TrainingData.blobs(N, n_classes, M, spread, seed)
    np.testing.assert_array_equal(again.inputs, data.inputs)


def test_blobs_reject_bad_arguments():
    for kwargs, match in (
        ({"n_samples": 0}, "n_samples"),
        ({"n_classes": 2.0}, "n_classes"),
        ({"input_dim": True}, "input_dim"),
        ({"spread": -0.1}, "spread"),
        ({"spread": float("nan")}, "spread"),
    ):
        with pytest.raises(InputError, match=match):
            sr.TrainingData.blobs(**kwargs)


# -- L2Cost (1.7), (1.20) ----------------------------------------------------------


@st.composite
def costs(draw):
    N, Q = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return sr.L2Cost(rng.normal(size=Q * N), n_samples=N), rng.normal(size=Q * N), Q


@given(costs())
def test_cost_is_the_per_sample_sum_of_1_7(case):
    cost, x, Q = case
    per_sample = sum(
        np.sum((x[j * Q : (j + 1) * Q] - cost.target[j * Q : (j + 1) * Q]) ** 2)
        for j in range(cost.N)
    ) / (2 * cost.N)
    assert abs(cost(x) - per_sample) <= 1e-14 * max(1.0, per_sample)
    assert cost(cost.target) == 0.0


@given(costs())
def test_cost_gradient_is_1_20_and_autograds(case):
    cost, x, _ = case
    g = cost.grad(x)
    np.testing.assert_allclose(g, (x - cost.target) / cost.N, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g, autograd.grad(cost)(x), rtol=1e-13, atol=1e-15)


@given(costs())
def test_cost_is_N_over_2_times_squared_gradient(case):
    # C[x] = (N/2)|∇ₓC|², used for (2.8): ∇ₓC = 0 exactly at the global minimum
    cost, x, _ = case
    assert abs(cost(x) - cost.N / 2 * np.sum(cost.grad(x) ** 2)) <= 1e-13 * max(1.0, cost(x))


@given(labelled_data())
def test_cost_from_data_uses_y_omega_and_N(case):
    data = sr.TrainingData(*case)
    cost = sr.L2Cost.from_data(data)
    np.testing.assert_array_equal(cost.target, data.target)
    assert cost.N == data.N and cost.dim == data.Q * data.N


# -- (1.18): ∇_θ C[x[θ]] = Dᵀ ∇ₓC ---------------------------------------------------


# regression data and a network on it (problems.WIDE: 1–3 hidden layers, every smooth σ)
networks_on_data = networks(**WIDE).map(lambda p: p.astuple())


@given(networks_on_data)
def test_parameter_gradient_is_Dt_times_output_gradient_1_18(case):
    f, cost, theta = case
    grad_theta = autograd.grad(lambda t: cost(f(t)))(theta)  # ∇_θ C[x[θ]], generic
    grad_x = cost.grad(f(theta))  # (1.20)
    D = f.jacobian(theta)
    # the same K sums of QN terms in two orders: a few ulps of Σ|D||∇ₓC|
    tol = 1e-12 * max(np.max(np.abs(grad_x) @ np.abs(D)), 1e-300)
    assert np.max(np.abs(grad_theta - D.T @ grad_x)) <= tol
    assert np.max(np.abs(grad_theta - f.vjp(theta, grad_x))) <= tol


# -- issue #11 item 4: overflow is reported, never returned as inf ----------------------


@pytest.mark.parametrize("scale", [1e200, 1e300])
def test_cost_overflow_raises_numerical_error_naming_the_input(scale):
    cost = sr.L2Cost(np.zeros(6), n_samples=3)
    x = np.zeros(6)
    x[4] = scale
    with (
        np.errstate(all="ignore"),
        pytest.raises(
            sr.NumericalError,
            match=re.escape(f"the input x overflowed it, its largest entry |x[4]| = {scale:.3g}"),
        ),
    ):
        cost(x)


def test_cost_gradient_overflow_raises_numerical_error():
    cost = sr.L2Cost(np.full(2, -1e308), n_samples=1)
    with np.errstate(all="ignore"), pytest.raises(sr.NumericalError, match=r"residual x - y_ω"):
        cost.grad(np.full(2, 1e308))
    # large but representable values are fine
    assert np.isfinite(sr.L2Cost(np.zeros(2), n_samples=1)(np.full(2, 1e150)))


# -- real data: CSV files and scikit-learn's sets ---------------------------------------------
def _write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_from_csv_reads_string_labels_in_sorted_class_order(tmp_path):
    path = _write(tmp_path, "x,y,label\n1,2,cat\n3,4,dog\n\n5,6,cat\n")
    data = sr.TrainingData.from_csv(path, label_column="label", standardize=False)
    assert data.classes == ("cat", "dog") and data.feature_names == ("x", "y")
    np.testing.assert_array_equal(data.inputs, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(data.labels, [0, 1, 0])
    # one-hot in the class order: y_ω(j) = e_ω(j), stacked sample-major (1.2)
    np.testing.assert_array_equal(data.target, [1, 0, 0, 1, 1, 0])


def test_from_csv_integer_labels_sort_numerically_and_columns_by_index(tmp_path):
    path = _write(tmp_path, "a,b,c\n10,0.5,1\n9,1.5,2\n10,2.5,3\n")
    data = sr.TrainingData.from_csv(
        path, label_column=0, feature_columns=["c", 1], standardize=False
    )
    assert data.classes == (9, 10)
    np.testing.assert_array_equal(data.inputs, [[1, 0.5], [2, 1.5], [3, 2.5]])
    np.testing.assert_array_equal(data.labels, [1, 0, 1])


def test_from_csv_standardizes_each_feature_to_mean_0_and_deviation_1(tmp_path):
    path = _write(tmp_path, "x,k,label\n1,7,a\n2,7,b\n4,7,a\n")
    data = sr.TrainingData.from_csv(path, label_column="label")
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(data.inputs[:, 0], (x - x.mean()) / x.std(), rtol=0, atol=4e-16 * 3)
    np.testing.assert_array_equal(data.inputs[:, 1], 0.0)  # a constant column is only centred
    np.testing.assert_array_equal(data.feature_scale, [x.std(), 1.0])


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("", {}, "is empty"),
        ("x,label\n", {}, "header but no rows"),
        ("x,label\n1,a\n", {"label_column": "y"}, "no column 'y'"),
        ("x,label\n1,a\n2\n", {}, "line 3 has 1 cells; expected 2"),
        ("x,label\n1,a\nhello,b\n", {}, "line 3, column 'x': 'hello' is not a number"),
        ("x,label\n1,a\nnan,b\n", {}, "line 3, column 'x': 'nan' is not finite"),
        ("x,label\n1,a\ninf,b\n", {}, "'inf' is not finite"),
        ("x,label\n1,a\n", {"label_column": 5}, "label_column index 5 is out of range"),
        ("x,label\n1,a\n", {"classes": ["b"]}, "label 'a' of sample 0 is not one of"),
    ],
)
def test_from_csv_errors_name_the_file_line_and_column(tmp_path, text, kwargs, expected):
    path = _write(tmp_path, text)
    kwargs = {"label_column": "label", **kwargs}
    with pytest.raises(InputError, match=re.escape(expected)) as info:
        sr.TrainingData.from_csv(path, **kwargs)
    assert str(path) in str(info.value)


def test_from_csv_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        sr.TrainingData.from_csv(tmp_path / "none.csv", label_column="y")


def test_classification_accepts_any_hashable_labels():
    data = sr.TrainingData.classification(np.eye(3), [(1, "a"), (0, "b"), (1, "a")])
    assert data.classes == ((0, "b"), (1, "a"))
    np.testing.assert_array_equal(data.labels, [1, 0, 1])
    with pytest.raises(InputError, match="hashable"):
        sr.TrainingData.classification(np.eye(2), [[1], [2]])


@pytest.mark.parametrize(
    ("name", "N", "M", "Q"), [("iris", 150, 4, 3), ("wine", 178, 13, 3), ("digits", 1797, 64, 10)]
)
def test_from_sklearn_loads_the_bundled_sets_with_their_class_names(name, N, M, Q):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    data = sr.TrainingData.from_sklearn(name)
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    assert (data.N, data.M, data.Q) == (N, M, Q)
    assert data.classes == tuple(str(c) for c in bunch.target_names)
    np.testing.assert_array_equal(data.labels, bunch.target)
    np.testing.assert_allclose(
        data.inputs * data.feature_scale + data.feature_mean,
        bunch.data,
        rtol=1e-13,
        atol=1e-13 * np.abs(bunch.data).max(),
    )
    small = sr.TrainingData.from_sklearn(name, n_samples=12, standardize=False, seed=3)
    assert small.N == 12 and small.feature_mean is None
    assert all(any(np.array_equal(row, x) for x in bunch.data) for row in small.inputs)


def test_from_sklearn_refuses_unknown_sets():
    with pytest.raises(InputError, match="expected one of"):
        sr.TrainingData.from_sklearn("mnist")


def test_an_n_by_q_target_is_refused_with_the_reshape_that_stacks_it():
    with pytest.raises(InputError, match=r"got shape \(5, 2\): pass target.reshape\(-1\)"):
        sr.L2Cost(np.zeros((5, 2)), 5)
