"""Records (JSON, CSV), figures and progress for runs of the package.

The modules of this layer: :mod:`.records`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.report import records
from subriemann.report.records import *  # noqa: F403

__all__ = [*records.__all__]
