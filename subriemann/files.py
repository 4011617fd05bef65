"""Atomic writes and checked reads: the ground-floor file helpers of every layer.

Every file of the package is written through :func:`write_atomic` (a temporary
file in the same folder, then ``os.replace``): a write that fails half-way — a
full disk, a crash, an exception while drawing — leaves the previous file
intact.  :func:`read_text` reads a file a user named and says what is wrong
with it (missing, a folder, not UTF-8) in one line.

This module sits on the ground floor with :mod:`subriemann.errors`: the data
layer (:meth:`subriemann.maps.data.TrainingData.from_csv`) reads its files with
it, and :mod:`subriemann.report.files` re-exports it for the report and CLI
layers, so a file error reads the same whoever opened the file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from subriemann.errors import InputError

__all__ = ["write_atomic", "read_text"]


def write_atomic(
    path: str | os.PathLike[str], data: str | bytes | Callable[[BinaryIO], object]
) -> Path:
    """Write a whole file atomically: the previous file stays intact unless the write succeeds.

    The data go to a temporary file in the same folder (so that the final
    rename stays on one file system), are flushed to disk, and then replace
    ``path`` with ``os.replace``; if anything fails on the way the temporary
    file is removed and the error propagates.  Parent folders are created.

    Parameters
    ----------
    path : path-like
        The file to write.
    data : str, bytes or callable
        The content (``str`` is encoded as UTF-8), or ``write(fh)`` that writes
        it to a binary file object (e.g. ``lambda fh: fig.savefig(fh, format="png")``).

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a name of our own (not mkstemp): os.open's mode then honours the umask like a
    # normal write, instead of mkstemp's 0600
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else bytes(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read_text(
    path: str | os.PathLike[str], what: str, expected: str, error: type[InputError] = InputError
) -> str:
    """The text of a UTF-8 file a user named (newlines normalised as by ``open``).

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages (``"record file"``, ``"config file"``).
    expected : str
        What it should be (``"a JSON record file"``).
    error : subclass of InputError
        The exception raised.

    Raises
    ------
    InputError
        The file is missing, unreadable (e.g. a folder) or not UTF-8 text; the
        message names the file and, for bad bytes, their offset and line.
    """
    path = Path(path)
    name = f"{what} {str(path)!r}"
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{name} does not exist") from exc
    except IsADirectoryError as exc:
        raise error(f"{name} is a directory; expected {expected}") from exc
    except OSError as exc:
        raise error(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{name} is not UTF-8 text (byte {exc.start}, line {line}: {exc.reason}); "
            f"expected {expected} encoded as UTF-8"
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")
