"""The ``subriemann`` command.

The modules of this layer: :mod:`.command` (the parser, ``main`` and its one error
handler), :mod:`.config` (the ``train`` configuration schema and the checks made
before any computation), :mod:`.runs` (the training runner), :mod:`.text` (what a
command prints and writes) and one module per command: :mod:`.demo`, :mod:`.train`,
:mod:`.frobenius`, :mod:`.survey`, :mod:`.replot`.
"""

# The public names are listed once, in command.__all__ (the parser and ``main`` with the
# names of config and runs it re-exports); the folder re-exports them.
from subriemann.cli import command
from subriemann.cli.command import *  # noqa: F403

__all__ = [*command.__all__]
