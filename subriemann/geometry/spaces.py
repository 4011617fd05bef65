"""Parameter space R^K and output space R^{QN} as geomstats Euclidean spaces.

geomstats 2.8's ``Euclidean(dim)`` equips the space with a metric that stores
the dim×dim identity as its metric matrix, built eagerly: 2.6 GB and 4.6 s for
a network with K = 18180 parameters, although the canonical inner product never
reads it.  :func:`euclidean` equips the same space with :class:`CanonicalMetric`,
which builds that matrix only if ``metric_matrix()`` is called.
"""

from __future__ import annotations

import numpy as np
from geomstats.geometry.euclidean import CanonicalEuclideanMetric, Euclidean
from geomstats.geometry.riemannian_metric import RiemannianMetric

from subriemann.maps.smooth import SmoothMap

__all__ = ["CanonicalMetric", "euclidean", "parameter_space", "output_space"]


class CanonicalMetric(CanonicalEuclideanMetric):
    """geomstats' canonical Euclidean metric, with the identity metric matrix built on demand."""

    def __init__(self, space: Euclidean) -> None:
        # skip EuclideanMetric.__init__, which builds gs.eye(dim) at once
        RiemannianMetric.__init__(self, space)
        self._identity: np.ndarray | None = None

    @property
    def metric_matrix_(self) -> np.ndarray:
        if self._identity is None:
            import geomstats.backend as gs

            self._identity = gs.eye(self._space.dim)
        return self._identity


def euclidean(dim: int) -> Euclidean:
    """R^dim as a geomstats ``Euclidean`` equipped with :class:`CanonicalMetric`."""
    space = Euclidean(dim=dim, equip=False)
    space.equip_with_metric(CanonicalMetric)
    return space


def parameter_space(f: SmoothMap) -> Euclidean:
    """R^K, the domain of ``f`` (θ-space), with its Euclidean metric equipped."""
    return euclidean(f.dim_in)


def output_space(f: SmoothMap) -> Euclidean:
    """R^{QN}, the target of ``f`` (the output layer), with its Euclidean metric."""
    return euclidean(f.dim_out)
