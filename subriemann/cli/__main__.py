"""``python -m subriemann.cli``: the same as the ``subriemann`` console script."""

import sys

from subriemann.cli.command import main

sys.exit(main())
