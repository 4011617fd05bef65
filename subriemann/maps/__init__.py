"""Smooth maps f : R^K → R^n with derivatives: the protocol, autodiff and callable maps, the network map and its training data.

The modules of this layer: :mod:`.smooth`, :mod:`.data`, :mod:`.network`.
"""

from subriemann.maps.data import (
    TrainingData,
)
from subriemann.maps.network import (
    ACTIVATIONS,
    MLP,
    NONSMOOTH_ACTIVATIONS,
    Activation,
    NetworkMap,
    get_activation,
    parse_architecture,
)
from subriemann.maps.smooth import (
    AutodiffMap,
    LinearMap,
    SmoothMap,
)

__all__ = [
    "SmoothMap",
    "AutodiffMap",
    "LinearMap",
    "TrainingData",
    "parse_architecture",
    "Activation",
    "ACTIVATIONS",
    "NONSMOOTH_ACTIVATIONS",
    "get_activation",
    "MLP",
    "NetworkMap",
]
