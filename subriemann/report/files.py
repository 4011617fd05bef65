"""Atomic writes and checked reads of the files a run produces or a user names.

The helpers live on the ground floor, in :mod:`subriemann.files`, so that the
lower layers (the data layer reads CSV files) use the same checked read
without importing this higher layer; the report layer keeps its names
:func:`write_atomic` and :func:`read_text` through this re-export.
"""

from __future__ import annotations

from subriemann.files import read_text, write_atomic

__all__ = ["write_atomic", "read_text"]
