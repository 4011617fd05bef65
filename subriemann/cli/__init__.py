"""The ``subriemann`` command.

The modules of this layer: :mod:`.main`.
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.cli import command
from subriemann.cli.command import *  # noqa: F403

__all__ = [*command.__all__]
