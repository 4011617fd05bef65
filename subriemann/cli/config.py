"""The ``train`` configuration schema and the checks made before any computation starts.

:class:`Config` validates a TOML file against :data:`SCHEMA` (unknown keys get the
closest known name, every message names the key and its line); the memory model
refuses sizes that cannot fit and :func:`prepare_out` proves the report folder
writable, both before anything is allocated or computed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import subriemann as sr
from subriemann import report
from subriemann.errors import InputError

#: Exit codes of every command: ok, run failed, usage or configuration error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

__all__ = [
    "Config",
    "ConfigError",
    "SCHEMA",
    "ROUTE_NAMES",
    "SKLEARN_DATASETS",
    "load_config",
    "parse_bytes",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
]


class ConfigError(InputError):
    """A configuration file or command-line value is wrong; the message names the key and line."""


@dataclass(frozen=True)
class _Key:
    kind: str  # int, float, str, bool, ints, floats, matrix, s_end
    default: object = None
    required: bool = False
    choices: tuple | None = None
    minimum: float | None = None
    exclusive: bool = False  # the minimum itself is not allowed
    doc: str = ""


#: The routes to D⁺ of the adapted flow (subriemann.geometry.routes.ROUTES); "auto" picks.
ROUTE_NAMES = ("auto", "dense", "kernel", "matrix-free")
#: The scikit-learn data sets ``[data] kind = "sklearn"`` loads (TrainingData.from_sklearn).
SKLEARN_DATASETS = ("iris", "digits", "wine")
# Byte units of a memory budget: decimal (kB, MB, GB, TB: powers of 1000) and binary
# (KiB, MiB, GiB, TiB: powers of 1024), case-insensitive; "B" or no unit is bytes.
_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_bytes(value: int | str, name: str = "--memory-budget") -> int:
    """A memory budget in bytes from an integer or a string '2GB', '1.5 GiB', '512MiB', '4096'.

    Decimal units kB, MB, GB, TB are powers of 1000, binary units KiB, MiB, GiB,
    TiB powers of 1024 (IEC 80000-13); case-insensitive; the result is rounded
    down to whole bytes and must be ≥ 1.

    Raises
    ------
    ConfigError
        Not a positive number of bytes, or an unknown unit (the message names ``name``).
    """
    expected = (
        "expected a positive number of bytes, e.g. 2000000000, '2GB' or '512MiB' "
        f"(units {', '.join(u for u in _BYTE_UNITS if u)})"
    )
    if isinstance(value, bool):
        raise ConfigError(f"{name}: got {value!r}; {expected}")
    if isinstance(value, int):
        number, unit = float(value), ""
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", value)
        if m is None or m.group(2).lower() not in _BYTE_UNITS:
            raise ConfigError(f"{name}: got {value!r}; {expected}")
        number, unit = float(m.group(1)), m.group(2).lower()
    else:
        raise ConfigError(f"{name}: got {value!r} ({type(value).__name__}); {expected}")
    out = int(number * _BYTE_UNITS[unit])
    if not (math.isfinite(number) and out >= 1):
        raise ConfigError(f"{name}: got {value!r}; {expected}")
    return out


#: The schema of a ``train`` configuration; ``""`` holds the top-level keys.
SCHEMA: dict[str, dict[str, _Key]] = {
    "": {
        "seed": _Key("int", 0, minimum=0, doc="master seed of data and initialization"),
        "name": _Key("str", "train", doc="run name (the record is <out>/<name>.json)"),
    },
    "data": {
        "kind": _Key(
            "str",
            "blobs",
            choices=("blobs", "inline", "csv", "sklearn"),
            doc="clusters made in code, inline arrays, a CSV file or a scikit-learn data set",
        ),
        "n_samples": _Key("int", 6, minimum=1, doc="N"),
        "n_classes": _Key("int", 3, minimum=1, doc="number of classes = Q"),
        "input_dim": _Key("int", 2, minimum=1, doc="M"),
        "spread": _Key("float", 0.3, minimum=0.0, exclusive=True, doc="cluster radius"),
        "seed": _Key("int", None, minimum=0, doc="data seed (default: the master seed)"),
        "inputs": _Key("matrix", None, doc="inline inputs x_j, shape (N, M)"),
        "labels": _Key("ints", None, minimum=0, doc="inline labels ω(j), 0-based"),
        "class_outputs": _Key(
            "matrix", None, doc="inline y_ℓ, one row per class (default one-hot)"
        ),
        "path": _Key("str", None, doc="kind = 'csv': the file (relative to the config's folder)"),
        "label_column": _Key(
            "column", None, doc="kind = 'csv': the label column, by header name or 0-based index"
        ),
        "name": _Key("str", None, choices=SKLEARN_DATASETS, doc="kind = 'sklearn': the data set"),
    },
    "network": {
        "hidden": _Key("ints", required=True, minimum=1, doc="hidden widths M_1..M_L, e.g. [8]"),
        "activation": _Key(
            "str", "tanh", doc="smooth activation: tanh, sigmoid, softplus, sin, silu"
        ),
        "allow_nonsmooth": _Key(
            "bool", False, doc="accept ReLU-type activations (outside the theory)"
        ),
        "weight_scale": _Key("float", 1.0, minimum=0.0, exclusive=True),
        "bias_scale": _Key("float", 0.1, minimum=0.0),
        "init_seed": _Key(
            "int", None, minimum=0, doc="initialization seed (default: the master seed)"
        ),
    },
    "flow": {
        "kind": _Key(
            "str",
            required=True,
            choices=("adapted", "standard", "both"),
            doc='"adapted", "standard" or "both"',
        ),
        "regime": _Key("str", "auto", choices=("auto", "over", "under", "borderline", "rank-loss")),
        "rank_rtol": _Key(
            "float", None, minimum=0.0, exclusive=True, doc="relative rank tolerance"
        ),
        "route": _Key(
            "str",
            "auto",
            choices=ROUTE_NAMES,
            doc="how the adapted flow applies D^+ (auto picks by a memory/flop model)",
        ),
        "memory_budget": _Key(
            "bytes",
            None,
            doc="bytes the route may use: an integer or a string such as '2GB', '512MiB'",
        ),
    },
    "integrator": {
        "method": _Key("str", None, doc="default: output-exact (adapted), rk45 (standard)"),
        "standard_method": _Key("str", "rk45", doc="the standard flow's method when kind = 'both'"),
        "s_end": _Key("s_end", "stopping-time", doc="a number, or 'stopping-time' (2.18)"),
        "step": _Key("float", None, minimum=0.0, exclusive=True),
        "max_step": _Key("float", None, minimum=0.0, exclusive=True),
        "rtol": _Key("float", 1e-8, minimum=0.0, exclusive=True),
        "atol": _Key("float", 1e-10, minimum=0.0, exclusive=True),
        "max_steps": _Key("int", 20000, minimum=1),
    },
    "target": {
        "eps": _Key("float", 1e-8, minimum=0.0, exclusive=True, doc="target cost ε > 0"),
        "require": _Key("bool", True, doc="exit 1 when C(s_end) > ε (1 + 1 %)"),
    },
    "output_metric": {
        "kind": _Key(
            "str", "euclidean", choices=("euclidean", "class_weights", "diagonal", "matrix")
        ),
        "weights": _Key("floats", None, minimum=0.0, exclusive=True, doc="per class or per output"),
        "matrix": _Key("matrix", None, doc="an SPD (QN, QN) matrix"),
    },
    "output": {
        "dir": _Key("str", "subriemann-out", doc="report folder (--out overrides)"),
        "figures": _Key("bool", True),
    },
}
_REQUIRED_TABLES = ("network", "flow")
_TYPE_TEXT = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "ints": "a non-empty list of integers",
    "floats": "a non-empty list of numbers",
    "matrix": "a non-empty list of equal-length lists of numbers (one per row)",
    "s_end": "a positive number or the string 'stopping-time'",
    "column": "a column name (string) or a 0-based column index (integer >= 0)",
    "bytes": "a positive integer number of bytes or a string such as '2GB', '512MiB'",
}


def _locate(text: str, table: str, key: str | None = None) -> int | None:
    """1-based line of ``key`` in ``[table]`` (of the header if ``key`` is None)."""
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "").strip()
            if key is None and current == table:
                return number
            continue
        if (
            key is not None
            and current == table
            and re.match(rf'^\s*"?{re.escape(key)}"?\s*=', line)
        ):
            return number
    return None


class Config:
    """A validated ``train`` configuration with defaults filled in: ``cfg["network"]["hidden"]``.

    Parameters
    ----------
    raw : dict
        As read by ``tomllib``.
    text : str
        The file's text (to name lines in messages).
    path : str
        The file's name (for messages).

    Raises
    ------
    ConfigError
        Unknown table or key (with the closest known name), missing required
        key, wrong type, value out of range; the message names the key and line.
    """

    def __init__(self, raw: dict, text: str = "", path: str = "<config>"):
        self.text, self.path = text, path
        self.raw = raw
        self.values: dict[str, dict] = {}
        self._validate(raw)

    def __getitem__(self, table: str) -> dict:
        return self.values[table]

    def as_dict(self) -> dict:
        """Top-level keys and every table, defaults included (what the record stores)."""
        out = dict(self.values[""])
        out.update({t: dict(v) for t, v in self.values.items() if t})
        return out

    def error(self, table: str, key: str | None, message: str) -> ConfigError:
        """A :class:`ConfigError` naming ``table.key`` and its line."""
        name = f"{table}.{key}" if table and key else (key or f"[{table}]")
        line = _locate(self.text, table, key) if key else _locate(self.text, table)
        where = f" (line {line})" if line else ""
        return ConfigError(f"{self.path}: key '{name}'{where}: {message}")

    def _validate(self, raw: dict):
        tables = [t for t in SCHEMA if t]
        for name, value in raw.items():
            if isinstance(value, dict) and name not in tables:
                raise self._unknown("", name, tables, is_table=True)
            if not isinstance(value, dict) and name not in SCHEMA[""]:
                raise self._unknown("", name, list(SCHEMA[""]) + tables)
        for table in _REQUIRED_TABLES:
            if table not in raw:
                needed = ", ".join(f"{k} ({s.doc})" for k, s in SCHEMA[table].items() if s.required)
                raise ConfigError(
                    f"{self.path}: missing table [{table}] (required, with key(s) {needed})"
                )
        for table, keys in SCHEMA.items():
            given = (
                {k: v for k, v in raw.items() if not isinstance(v, dict)}
                if table == ""
                else raw.get(table, {})
            )
            out = {}
            for key, value in given.items():
                if key not in keys:
                    raise self._unknown(table, key, list(keys))
                out[key] = self._check(table, key, keys[key], value)
            for key, spec in keys.items():
                if key in out:
                    continue
                if spec.required:
                    line = _locate(self.text, table)
                    where = f" (table starts on line {line})" if line else ""
                    raise ConfigError(
                        f"{self.path}: key '{table}.{key}' is missing{where}: [{table}] needs "
                        f"{key} = {_TYPE_TEXT[spec.kind]}" + (f" ({spec.doc})" if spec.doc else "")
                    )
                out[key] = spec.default
            self.values[table] = out

    def _unknown(self, table, key, known, is_table=False):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of {sorted(known)}"
        line = _locate(self.text, key) if is_table else _locate(self.text, table, key)
        where = f" (line {line})" if line else ""
        what = "table" if is_table else "key"
        place = f" in [{table}]" if table else ""
        return ConfigError(f"{self.path}: unknown {what} '{key}'{place}{where}{hint}")

    def _check(self, table, key, spec: _Key, value):
        def bad(expected=None):
            return self.error(
                table,
                key,
                f"must be {expected or _TYPE_TEXT[spec.kind]}, got {value!r} ({type(value).__name__})",
            )

        def number(v):
            return isinstance(v, int | float) and not isinstance(v, bool)

        kind = spec.kind
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad()
        if kind == "float":
            if not number(value) or not math.isfinite(value):
                raise bad("a finite number")
            value = float(value)
        if kind == "str" and not isinstance(value, str):
            raise bad()
        if kind == "bool" and not isinstance(value, bool):
            raise bad()
        if kind in ("ints", "floats"):
            ok = int if kind == "ints" else (int, float)
            if (
                not isinstance(value, list)
                or not value
                or any(isinstance(v, bool) or not isinstance(v, ok) for v in value)
            ):
                raise bad()
            value = [float(v) for v in value] if kind == "floats" else value
        if kind == "matrix":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(r, list) and r for r in value)
                or any(not number(v) for r in value for v in r)
                or len({len(r) for r in value}) != 1
            ):
                raise bad()
            value = [[float(v) for v in r] for r in value]
        if kind == "column" and (
            isinstance(value, bool)
            or not isinstance(value, str | int)
            or (isinstance(value, int) and value < 0)
        ):
            raise bad()
        if kind == "bytes":
            try:
                return parse_bytes(value, "memory_budget")
            except ConfigError:
                raise bad() from None
        if kind == "s_end":
            if value == "stopping-time":
                return value
            if not number(value) or not (value > 0 and math.isfinite(value)):
                raise bad()
            return float(value)
        if spec.choices is not None and value not in spec.choices:
            close = difflib.get_close_matches(str(value), spec.choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(
                table, key, f"must be one of {list(spec.choices)}, got {value!r}{hint}"
            )
        if spec.minimum is not None:
            for v in value if isinstance(value, list) else [value]:
                if v < spec.minimum or (spec.exclusive and v == spec.minimum):
                    op = ">" if spec.exclusive else ">="
                    raise self.error(table, key, f"must be {op} {spec.minimum:g}, got {value!r}")
        return value


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a ``train`` configuration file (TOML, via ``tomllib``).

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error (with tomllib's line and column), or
        any schema violation (key and line named).
    """
    path = Path(path)
    text = report.read_text(path, "config file", "a TOML file", error=ConfigError)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return Config(raw, text, str(path))


# =============================================================================
# Checks made before any computation starts
# =============================================================================
def _memory_limit() -> int:
    """Bytes a run may plan to hold: half the physical memory (8 GiB if it is unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        total = 16 * 2**30
    return int(total) // 2


def _planned_bytes(N: int, M: int, Q: int, K: int, dense: bool = True) -> int:
    """The memory model of a run: the float64 arrays every command holds at once.

    Inputs N·M, targets N·Q, parameters K, the Jacobian D (QN·K, only when the
    run forms D: ``dense``) and the Gram matrix DDᵀ ((QN)²), 8 bytes each.  A
    lower bound (orbits, brackets and work arrays come on top), used to refuse
    sizes that cannot fit before anything is allocated.  The kernel and
    matrix-free routes never hold D (subriemann.geometry.routes.route_model).
    """
    QN = Q * N
    return 8 * (N * M + QN + K + (QN * K if dense else 0) + QN * QN)


def _memory_problem(N: int, M: int, Q: int, K: int, dense: bool = True) -> str | None:
    """Why (N, M, Q, K) cannot fit in memory, or None."""
    need, limit = _planned_bytes(N, M, Q, K, dense), _memory_limit()
    if need <= limit:
        return None
    terms = "N·M + QN + K + QN·K + (QN)²" if dense else "N·M + QN + K + (QN)², no D"
    return (
        f"N = {N} samples, M = {M}, Q = {Q}, K = {K} parameters need at least {need:,} bytes "
        f"({need / 1e9:.3g} GB: 8 bytes x ({terms})); expected at most "
        f"{limit:,} bytes ({limit / 1e9:.3g} GB, half the physical memory)"
    )


def check_network_memory(option: str, layers: Sequence[int], N: int) -> None:
    """Refuse a network on N inputs whose arrays cannot fit (``option`` names the culprit)."""
    problem = _memory_problem(N, layers[0], layers[-1], sr.MLP.count_parameters(layers))
    if problem:
        raise ConfigError(f"{option}: {problem}")


def check_config_memory(cfg: Config, N: int, M: int, Q: int, dense: bool = True) -> None:
    """Refuse a configuration whose arrays cannot fit, naming the key that makes them large.

    ``dense=False``: the run never forms D (kernel or matrix-free route, adapted flow only).
    """
    K = sr.MLP.count_parameters([M, *cfg["network"]["hidden"], Q])
    problem = _memory_problem(N, M, Q, K, dense)
    if problem:
        # one sample already too much: the network is the culprit, otherwise the data
        too_wide = _memory_problem(1, M, Q, K, dense) is not None
        table, key = ("network", "hidden") if too_wide else ("data", "n_samples")
        raise cfg.error(table, key, problem)


def prepare_out(value: str | os.PathLike[str], name: str = "--out") -> Path:
    """The report folder, created and proved writable before any computation starts.

    Writability is tested by creating (and removing) a file in it: permission
    bits say nothing for root, read-only mounts and full disks, a real write does.
    """
    path = Path(value)
    where = f"{name} {str(path)!r}"
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"{where} is an existing file; expected a directory (created if needed)"
            )
        for parent in path.parents:  # the nearest existing ancestor must be a folder
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError(
                        f"{where} lies below the file {str(parent)!r}; expected a directory path"
                    )
                break
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".subriemann-write-test-", dir=path)
    except OSError as exc:
        raise ConfigError(
            f"{where} is not writable ({exc.strerror or exc}); expected a directory where "
            "files can be created"
        ) from exc
    os.close(fd)
    os.unlink(probe)
    return path


def parse_layers(text: str) -> list[int]:
    """Layer sizes of ``--layers`` by the package's one parser, as a usage error."""
    from subriemann.maps import parse_architecture

    try:
        return parse_architecture(text)
    except InputError as exc:
        raise ConfigError(f"--layers: {exc}") from exc
