"""Smooth maps f : R^K → R^n with derivatives: the protocol, autodiff and callable maps, the network map and its training data.

The modules of this layer: :mod:`.smooth`, :mod:`.data`, :mod:`.network`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.maps import data, network, smooth
from subriemann.maps.data import *  # noqa: F403
from subriemann.maps.network import *  # noqa: F403
from subriemann.maps.smooth import *  # noqa: F403

__all__ = [*smooth.__all__, *data.__all__, *network.__all__]
