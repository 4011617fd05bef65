"""The JSON-lines file of a survey: a header line, then one row per finished task.

A survey with ``out=`` appends each finished task as one JSON line (after a
header line with the configuration); a rerun with the same file skips the
tasks already there, so an interrupted survey loses nothing and resumes where
it stopped.  Appends are whole lines, fsync'ed one by one
(:class:`SurveyWriter`); a last line torn by a crash is skipped with a warning
and its task run again (:func:`read_survey_file`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subriemann.errors import InputError

if TYPE_CHECKING:
    from subriemann.diagnostics.survey_tasks import SurveyTask

__all__ = [
    "stored_form",
    "read_survey_file",
    "open_survey_file",
    "SurveyWriter",
]

#: Layout version of the JSON-lines survey file.
SURVEY_SCHEMA = 1


def stored_form(obj: Any) -> Any:
    """``obj`` as the survey file stores it: a JSON round trip (inf/NaN → None).

    Rows and configurations go through it, so that a fresh table and one read
    back from a survey file are identical.
    """
    from subriemann import report

    return json.loads(json.dumps(report.to_jsonable(obj), allow_nan=False))


def read_survey_file(
    path: str | os.PathLike[str], repair: bool = False
) -> tuple[Any, dict[int, dict[str, Any]], list[str]]:
    """(header, rows by task id, warnings) of a survey file.

    An unterminated last line is a write cut by a crash: if it still parses as a
    complete row, the row is kept (no finished task is ever lost); otherwise it
    is skipped with a warning.  With ``repair`` the file is made line-aligned
    again (the newline added, or the torn tail cut), so that appended rows start
    on a line of their own.  The header is the JSON value of the first line's
    ``"header"`` (the ``{"schema", "config"}`` object a survey writes), None when
    the file has no header line (an empty file).
    """
    path = Path(path)
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    complete, tail = raw[:end], raw[end:]
    warnings: list[str] = []
    tail_obj = None
    if tail.strip():
        try:
            tail_obj = json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            tail_obj = None
        if not isinstance(tail_obj, dict) or ("task_id" not in tail_obj and end > 0):
            tail_obj = None
            warnings.append(
                f"survey file {str(path)!r}: skipped a torn last line ({len(tail)} bytes, a write "
                "cut by a crash); its task is run again"
            )
    if repair and tail:
        # the last write was interrupted: make the file line-aligned again for the appends
        with path.open("r+b") as fh:
            if tail_obj is None:
                fh.truncate(len(complete))
            else:
                fh.seek(len(raw))
                fh.write(b"\n")
    lines = complete.split(b"\n") + ([tail] if tail_obj is not None else [])
    header: Any = None
    rows: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"survey file {str(path)!r}, line {number}, is not valid JSON; "
                "expected one JSON object per line as written by a survey"
            ) from exc
        if number == 1:
            if not isinstance(obj, dict) or "header" not in obj:
                raise InputError(
                    f"survey file {str(path)!r} has no header line; it was not written by a survey"
                )
            header = obj["header"]
        elif not isinstance(obj, dict) or not isinstance(obj.get("task_id"), int):
            raise InputError(
                f"survey file {str(path)!r}, line {number}, is not a survey row (no task_id)"
            )
        else:
            rows[obj["task_id"]] = obj
    return header, rows, warnings


def _write_header(path: Path, header: dict[str, Any]) -> None:
    from subriemann import report

    report.write_atomic(path, json.dumps({"header": header}) + "\n")


def open_survey_file(
    path: str | os.PathLike[str], config: dict[str, Any], tasks: Iterable[SurveyTask]
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    """(rows already done in ``path``, warnings), checked against ``tasks``; creates the file.

    A new or empty file gets the header line ``{"header": {"schema", "config"}}``.
    An existing file must carry the same ``config`` and only rows of ``tasks``
    (matching their ``spec()``); its torn last line, if any, is repaired
    (see :func:`read_survey_file`), so that appended rows start on a line of
    their own.

    Parameters
    ----------
    path : path-like
    config : dict
        The survey's configuration (JSON-safe, e.g. from ``survey_config``).
    tasks : iterable of SurveyTask

    Returns
    -------
    rows : dict
        Rows already in the file, by task id.
    warnings : list of str

    Raises
    ------
    InputError
        The file was written by another survey, or is not a survey file.
    """
    path = Path(path)
    header = {"schema": SURVEY_SCHEMA, "config": config}
    if not path.exists() or path.stat().st_size == 0:
        _write_header(path, header)
        return {}, []
    old_header, rows, warnings = read_survey_file(path, repair=True)
    if old_header is None:
        _write_header(path, header)
        return {}, warnings
    if old_header.get("config") != config:
        raise InputError(
            f"survey file {str(path)!r} was written by a different survey (config "
            f"{old_header.get('config')}); expected {config}. Use another output file or delete it"
        )
    by_id = {t.task_id: t for t in tasks}
    for tid, row in rows.items():
        task = by_id.get(tid)
        if task is None or any(row.get(k) != v for k, v in task.spec().items()):
            raise InputError(
                f"survey file {str(path)!r} has a row for task {tid} that does not match this "
                "survey's task list; use another output file or delete it"
            )
    return rows, warnings


class SurveyWriter:
    """Append finished rows to the survey file: one whole JSON line each, flushed to disk.

    A row is written with one call and fsync'ed, so a crash loses at most the
    row being written; if the write itself fails (e.g. a full disk), the file is
    cut back to its last complete line before the error propagates, so later
    appends and a resume never meet a torn line.

    Parameters
    ----------
    path : path-like or None
        The survey file (opened for appending); None writes nothing.
    """

    def __init__(self, path: str | os.PathLike[str] | None):
        # unbuffered: what write() reports written is in the file, so a cut is exact
        self.fh = None if path is None else Path(path).open("ab", buffering=0)

    def write(self, row: Mapping[str, Any]) -> None:
        if self.fh is None:
            return
        line = memoryview((json.dumps(row, allow_nan=False) + "\n").encode("utf-8"))
        start = self.fh.tell()
        try:
            while line:
                line = line[self.fh.write(line) :]
            os.fsync(self.fh.fileno())
        except BaseException:
            with suppress(OSError):
                self.fh.truncate(start)
            raise

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
