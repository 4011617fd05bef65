"""Run records: provenance, the JSON record and its schema, CSV tables with a metadata sidecar.

Everything a run produces is stored in a form that lets any figure be
regenerated later without re-running the run:

* :func:`make_record` wraps results with the package version and the
  environment (:func:`provenance`: library versions, git commit, which code
  assembled the network Jacobians, the BLAS library and its threads), the
  configuration and the seed; :func:`write_json` / :func:`read_json` store it
  (numpy arrays become lists, non-finite floats become ``null``).  The layout
  is documented as a JSON Schema, ``record.schema.json`` next to this module
  (:func:`record_schema`).
* :func:`write_csv` writes a plain table that ``pandas.read_csv(path)`` and
  the ``csv`` module load as they are: the metadata (configuration, version)
  go to a sidecar ``<name>.json`` (e.g. ``rank.csv.json``), never into ``#``
  comment lines.
* Every file is written through :func:`~subriemann.report.files.write_atomic`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import json
import logging
import math
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from subriemann.errors import InputError
from subriemann.report.files import read_text, write_atomic

__all__ = [
    "provenance",
    "make_record",
    "to_jsonable",
    "write_json",
    "read_json",
    "write_csv",
    "csv_metadata_path",
    "record_schema",
    "RECORD_SCHEMA",
]

logger = logging.getLogger(__name__)

#: Version of the record layout written by :func:`make_record` (the ``schema`` field).
#: 2: ``environment`` carries ``git_commit``, ``jacobian_assembly`` and ``blas``.
RECORD_SCHEMA = 2


# -- provenance ----------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def _git_commit() -> str | None:
    """The commit of the source tree the package runs from, or None (no git, not a checkout).

    Only a checkout whose top level holds this very package counts: a package
    installed into site-packages inside some other repository (a venv in a
    project folder) must not report that project's commit.  Never raises.
    """
    package_dir = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],
            cwd=package_dir,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 2 or Path(out[0]).resolve() != package_dir.parent:
        return None
    return out[1]


def _blas() -> dict:
    """BLAS library, version and threads: threadpoolctl if installed, else numpy's build config.

    threadpoolctl (an optional dependency) reads the *loaded* library and its
    current thread count; numpy's build configuration only names the library it
    was built against, so the threads then come from the environment variables
    that BLAS libraries read at start-up (None if none is set).
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return {
                    "library": info.get("internal_api"),
                    "version": info.get("version"),
                    "threads": info.get("num_threads"),
                    "source": "threadpoolctl",
                }
    try:
        # read as plain JSON-like data: an unusual build may lack the keys numpy's stubs promise
        config: Mapping[str, Any] = np.show_config(mode="dicts") or {}
        blas = config.get("Build Dependencies", {}).get("blas", {})
    except Exception:  # an unusual numpy build: the record must still be written
        blas = {}
    threads = None
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip().isdigit():
            threads = int(os.environ[var])
            break
    return {
        "library": blas.get("name"),
        "version": blas.get("version"),
        "threads": threads,
        "source": "numpy.show_config",
    }


def provenance() -> dict[str, Any]:
    """Versions, platform and numerical back ends of the current run (a record's ``environment``).

    Returns
    -------
    dict
        ``subriemann``, ``python``, ``platform``, the versions of numpy, scipy,
        autograd, geomstats and matplotlib; ``git_commit`` (None outside a git
        checkout of the package); ``jacobian_assembly``: ``"c"`` when the
        compiled kernel ``subriemann._kernels`` writes the network Jacobians,
        ``"numpy"`` for the pure-numpy fallback (not built, or
        ``SUBRIEMANN_PURE_NUMPY=1``); ``blas``: library, version, threads and
        where they were read from.
    """
    from subriemann import __version__
    from subriemann.maps import network

    return {
        "subriemann": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{
            name: _version(name)
            for name in ("numpy", "scipy", "autograd", "geomstats", "matplotlib")
        },
        "git_commit": _git_commit(),
        "jacobian_assembly": network.ASSEMBLY,
        "blas": _blas(),
        "cpu_count": os.cpu_count(),
    }


def make_record(
    kind: str, config: Mapping, seed: int | None, results: Mapping, **extra: Any
) -> dict[str, Any]:
    """A self-describing run record: what was run (config, seed), with what, and what came out.

    Parameters
    ----------
    kind : str
        The run's kind (``"demo"``, ``"train"``, ``"frobenius"``, ``"holonomy"``,
        ``"survey"``); :func:`~subriemann.report.run_figures.figures_from_record`
        dispatches on it.
    config : mapping
        Everything needed to re-run: architecture, data, flow, integrator, ε...
    seed : int or None
    results : mapping
        Scalars and arrays (numpy arrays are fine).

    Returns
    -------
    dict
        ``{"schema", "kind", "subriemann_version", "created", "environment",
        "config", "seed", "results", **extra}``, already JSON-safe; valid
        against :func:`record_schema`.
    """
    from subriemann import __version__

    record = {
        "schema": RECORD_SCHEMA,
        "kind": str(kind),
        "subriemann_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "environment": provenance(),
        "config": dict(config),
        "seed": seed,
        "results": dict(results),
        **extra,
    }
    env = record["environment"]
    logger.debug(
        "record %r: Jacobians assembled by %s, BLAS %s with %s thread(s), commit %s",
        kind,
        env["jacobian_assembly"],
        env["blas"]["library"],
        env["blas"]["threads"],
        env["git_commit"],
    )
    return to_jsonable(record)


def record_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the records of :func:`make_record`, as a dict.

    Stored as ``subriemann/report/record.schema.json``; the tests validate the
    records of every CLI command against it.
    """
    text = resources.files("subriemann.report").joinpath("record.schema.json").read_text("utf-8")
    return json.loads(text)


# -- JSON ----------------------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """Convert numpy values, tuples and paths for JSON; NaN and ±inf become ``None``.

    JSON has no NaN/inf; ``None`` (``null``) reads back as NaN through
    ``np.asarray(values, dtype=float)``, so arrays survive a round trip.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str | int):
        return obj
    if hasattr(obj, "as_dict"):
        return to_jsonable(obj.as_dict())
    raise InputError(f"cannot store a {type(obj).__name__} in a JSON record: {obj!r}")


def write_json(path: str | os.PathLike, record: Mapping) -> Path:
    """Write ``record`` (made JSON-safe) to ``path`` atomically, creating parent folders.

    Returns the path.  A failed write leaves the previous file as it was (see
    :func:`~subriemann.report.files.write_atomic`).
    """
    text = json.dumps(to_jsonable(record), indent=2, allow_nan=False)
    return write_atomic(path, text + "\n")


def _json_type(value: object) -> str:
    names: dict[type, str] = {
        type(None): "null",
        bool: "boolean",
        int: "number",
        float: "number",
        list: "array",
        str: "string",
    }
    return names.get(type(value), "value")


def read_json(path: str | os.PathLike) -> dict:
    """Read a record written by :func:`write_json`.

    Raises
    ------
    InputError
        The file is missing, unreadable (e.g. a folder), not UTF-8 text, not
        valid JSON, or not a JSON object (a record is always one).
    """
    path = Path(path)
    name = repr(str(path))
    text = read_text(path, "record file", "a JSON record file")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"record file {name} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from exc
    if not isinstance(record, dict):
        raise InputError(
            f"record file {name} holds a JSON {_json_type(record)}; expected a record "
            "(a JSON object with 'kind' and 'results')"
        )
    return record


# -- CSV -----------------------------------------------------------------------------------
def csv_metadata_path(path: str | os.PathLike) -> Path:
    """The sidecar of a CSV table: ``rank.csv`` → ``rank.csv.json`` (never clashes with ``rank.json``)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_csv(
    path: str | os.PathLike,
    rows: Sequence[Mapping] | Mapping[str, Sequence],
    header: Sequence[str] | None = None,
    metadata: Mapping | None = None,
) -> Path:
    """Write rows to a plain CSV table: a list of dicts, or a dict of equal-length columns.

    The file is a header line and one line per row, nothing else, so
    ``pandas.read_csv(path)`` and ``csv.DictReader`` load it as it is.  Empty
    cells are missing values (None/NaN/inf), lists are JSON text.  ``metadata``
    (e.g. version, config, seed) goes to the sidecar :func:`csv_metadata_path`
    as ``{"csv": <file name>, "columns": [...], "environment": provenance(),
    **metadata}``, written after the table.

    Parameters
    ----------
    path : path-like
    rows : list of mappings, or mapping of columns
    header : sequence of str, optional
        Column order (default: keys in order of first appearance).
    metadata : mapping, optional
        What the table's reader needs to know; no sidecar without it.

    Returns
    -------
    Path
        The CSV file.
    """
    path = Path(path)
    if isinstance(rows, Mapping):
        columns = {k: np.asarray(v).ravel() for k, v in rows.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise InputError(f"CSV columns must have equal lengths, got {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        rows = [{k: v[i] for k, v in columns.items()} for i in range(n)]
    rows = [dict(r) for r in rows]
    if header is None:
        header = list(dict.fromkeys(k for r in rows for k in r))
    fh = io.StringIO(newline="")
    writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_cell(r.get(k)) for k in header})
    write_atomic(path, fh.getvalue())
    if metadata is not None:
        sidecar = {
            "csv": path.name,
            "columns": list(header),
            "environment": provenance(),
            **dict(metadata),
        }
        write_json(csv_metadata_path(path), sidecar)
    return path


def _csv_cell(value):
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps(value)
    return value
