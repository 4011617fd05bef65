"""Smooth maps f : R^K → R^n with derivatives: the protocol, autodiff and callable maps, the network map and its training data.

The modules of this layer: :mod:`.smooth`, :mod:`.data`, :mod:`.activations`,
:mod:`.architecture` (MLP), :mod:`.network` (NetworkMap), :mod:`.ntk` (its structured NTK),
:mod:`.callables` (maps from plain callables), :mod:`.jax_map` (JAX models, :func:`from_jax`),
:mod:`.torch_map` (PyTorch functions and modules, :func:`from_torch`).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.maps import (
    activations,
    architecture,
    callables,
    data,
    jax_map,
    network,
    ntk,
    smooth,
    torch_map,
)
from subriemann.maps.activations import *  # noqa: F403
from subriemann.maps.architecture import *  # noqa: F403
from subriemann.maps.callables import *  # noqa: F403
from subriemann.maps.data import *  # noqa: F403
from subriemann.maps.jax_map import *  # noqa: F403
from subriemann.maps.network import *  # noqa: F403
from subriemann.maps.ntk import *  # noqa: F403
from subriemann.maps.smooth import *  # noqa: F403
from subriemann.maps.torch_map import *  # noqa: F403

__all__ = [
    *smooth.__all__,
    *callables.__all__,
    *data.__all__,
    *activations.__all__,
    *architecture.__all__,
    *ntk.__all__,
    *network.__all__,
    *jax_map.__all__,
    *torch_map.__all__,
]
