"""Geometry pulled back by a smooth map: spaces, output metrics and the pullback metric g (5.15), the pullback bundle V = f*TN with h and grad_h (2.22)–(2.30).

The modules of this layer: :mod:`.spaces`, :mod:`.metrics`, :mod:`.bundles`.
"""

from subriemann.geometry.bundles import (
    BundleFiber,
    PullbackBundle,
)
from subriemann.geometry.metrics import (
    ConstantOutputMetric,
    EuclideanMetric,
    OutputMetric,
    OutputMetricField,
    PullbackMetric,
    batch_pair,
    check_map,
    induced_output_metric,
    over_batch,
    resolve_output_metric,
    standard_output_velocity,
)
from subriemann.geometry.spaces import (
    CanonicalMetric,
    euclidean,
    output_space,
    parameter_space,
)

__all__ = [
    "CanonicalMetric",
    "euclidean",
    "parameter_space",
    "output_space",
    "OutputMetric",
    "EuclideanMetric",
    "ConstantOutputMetric",
    "OutputMetricField",
    "resolve_output_metric",
    "PullbackMetric",
    "standard_output_velocity",
    "induced_output_metric",
    "over_batch",
    "check_map",
    "batch_pair",
    "PullbackBundle",
    "BundleFiber",
]
