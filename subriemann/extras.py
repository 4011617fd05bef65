"""Optional dependencies: one way to import them and to say which pip extra provides them.

The package's core needs numpy, scipy, autograd and geomstats; SymPy (``symbolic``),
dask.distributed (``distributed``) and JAX (``jax``) are extras declared in
``pyproject.toml``.  A feature that needs one imports it through
:func:`import_optional`, so every "missing dependency" message names the module,
what it was needed for and the exact ``pip install`` line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from subriemann.errors import InputError

__all__ = ["MissingExtraError", "import_optional"]


class MissingExtraError(InputError, ImportError):
    """An optional dependency is not installed; the message names the pip extra.

    Both an :class:`ImportError` (what Python code expects from a missing module)
    and an :class:`~subriemann.errors.InputError` (so the CLI reports it as a
    usage problem, one line and exit 2, rather than a traceback).
    """


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """The module ``module`` (dotted name), or :class:`MissingExtraError` naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"sympy"`` or ``"distributed"``.
    extra : str
        The optional extra of ``pyproject.toml`` that installs it, e.g. ``"symbolic"``.
    purpose : str
        What needs it, completing "... is needed for <purpose>".

    Raises
    ------
    MissingExtraError
        The module cannot be imported; the message reads
        ``sympy is needed for symbolic distributions; install the optional extra:
        pip install "subriemann[symbolic]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is needed for {purpose}; install the optional extra: "
            f'pip install "subriemann[{extra}]"'
        ) from exc
