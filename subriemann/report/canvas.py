"""The figure canvas every plot of the package draws on, and its atomic save.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas, never through ``pyplot``: no screen, no global figure state, safe in
worker processes and under test.  :func:`save_figure` writes through
:func:`~subriemann.report.files.write_atomic`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from subriemann.report.files import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["new_figure", "save_figure"]


def new_figure(width: float = 6.4, height: float = 4.0) -> Figure:
    """A matplotlib ``Figure`` with constrained layout, made without ``pyplot``.

    Every figure of the package starts here and is written by :func:`save_figure`:
    no screen, no global figure state, safe in worker processes and under test.
    Sizes in inches.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (:func:`write_atomic`); the format is the suffix's."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi))
