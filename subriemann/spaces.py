"""Parameter space R^K and output space R^{QN} as geomstats Euclidean spaces."""

from __future__ import annotations

from geomstats.geometry.euclidean import Euclidean

from subriemann.maps import SmoothMap

__all__ = ["parameter_space", "output_space"]


def parameter_space(f: SmoothMap) -> Euclidean:
    """R^K, the domain of ``f`` (θ-space), with its Euclidean metric equipped."""
    return Euclidean(dim=f.dim_in)


def output_space(f: SmoothMap) -> Euclidean:
    """R^{QN}, the target of ``f`` (the output layer), with its Euclidean metric."""
    return Euclidean(dim=f.dim_out)
