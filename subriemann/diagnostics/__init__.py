"""Diagnostics of the landscape and surveys over random networks.

The modules of this layer: :mod:`.landscape`, :mod:`.surveys`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.diagnostics import landscape, surveys
from subriemann.diagnostics.landscape import *  # noqa: F403
from subriemann.diagnostics.surveys import *  # noqa: F403

__all__ = [*landscape.__all__, *surveys.__all__]
