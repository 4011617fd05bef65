"""An output metric that needs the point x says so when it is given None.

``x=None`` stands for "no point" in the output-metric interface
(:class:`subriemann.geometry.metrics.OutputMetric`) and is accepted by constant metrics
only. The Euclidean metric reads QN off x, and a field evaluates G(x): both raise the
package's InputError naming the missing point, not an IndexError from ``np.shape(None)``.
"""

import numpy as np
import pytest

from subriemann.errors import InputError
from subriemann.geometry.metrics import (
    ConstantOutputMetric,
    EuclideanMetric,
    OutputMetricField,
)


@pytest.mark.parametrize("method", ["matrix", "sqrt"])
def test_euclidean_metric_without_a_point_raises_input_error(method):
    with pytest.raises(InputError, match="needs the output point x"):
        getattr(EuclideanMetric(), method)(None)


@pytest.mark.parametrize("method", ["matrix", "sqrt"])
def test_metric_field_without_a_point_raises_input_error(method):
    field = OutputMetricField(lambda x: np.diag(1.0 + x**2))
    with pytest.raises(InputError, match="needs the output point x"):
        getattr(field, method)(None)


def test_a_point_gives_the_closed_forms_and_a_constant_metric_needs_none():
    # closed forms: G = 1 for the Euclidean metric, G(x) = diag(1 + x²) for the field
    x = np.array([0.5, -2.0, 1.0])
    np.testing.assert_array_equal(EuclideanMetric().matrix(x), np.eye(3))
    field = OutputMetricField(lambda x: np.diag(1.0 + x**2))
    np.testing.assert_array_equal(field.matrix(x), np.diag([1.25, 5.0, 2.0]))
    # L = diag(√(1 + x²)), exactly: Cholesky of a diagonal matrix takes correctly rounded
    # square roots of the diagonal and every other term it forms is zero
    np.testing.assert_array_equal(field.sqrt(x), np.diag(np.sqrt([1.25, 5.0, 2.0])))
    G = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_array_equal(ConstantOutputMetric(G).matrix(None), G)
