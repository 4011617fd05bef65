"""Plain-text tables of the command-line summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["format_table", "format_value"]


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """Align rows of cells into a plain-text table (floats in ``%.4g``)."""
    cells = [[format_value(c) for c in row] for row in rows]
    if header is not None:
        cells.insert(0, [str(h) for h in header])
    ncol = max(len(r) for r in cells)
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(ncol)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    if header is not None:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_value(value: object, spec: str = ".4g") -> str:
    """One value as text for a table: ``-`` for None, yes/no for booleans, floats by ``spec``."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return format(float(value), spec)
    return str(value)
