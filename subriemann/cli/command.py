"""The ``subriemann`` command: ``demo``, ``train``, ``frobenius``, ``survey``, ``replot``.

Every command prints a short human-readable summary (or, with ``--json``, one
JSON record on stdout and nothing else), writes its record and figures into an
output folder, and exits with

* 0 — the run did what it was asked (target reached, verdict computed),
* 1 — the run failed: the rank condition broke down along the orbit, the
  target cost was not reached, values became non-finite, a survey task failed,
  a catalog verdict contradicts its documented answer,
* 2 — usage or configuration error; the message names the argument, or the
  config key and its line.

Progress bars go to stderr only when it is a terminal (``--quiet`` silences
them).  This module and :mod:`subriemann.report.records` are the only modules that
write to the terminal.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import subriemann as sr
from subriemann.errors import InputError, SubriemannError, check_int
from subriemann.flows.fields import regime_for_rank
from subriemann.report import records as report

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Relative slack on ε for "target reached": Theorem 2.3 is checked to 1 %.
TARGET_RTOL = 0.01

__all__ = [
    "main",
    "build_parser",
    "load_config",
    "Config",
    "SCHEMA",
    "build_run",
    "FlowSpec",
    "run_training",
    "ConfigError",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
]


class ConfigError(InputError):
    """A configuration file or command-line value is wrong; the message names the key and line."""


# =============================================================================
# Configuration files (TOML)
# =============================================================================
@dataclass(frozen=True)
class _Key:
    kind: str  # int, float, str, bool, ints, floats, matrix, s_end
    default: object = None
    required: bool = False
    choices: tuple | None = None
    minimum: float | None = None
    exclusive: bool = False  # the minimum itself is not allowed
    doc: str = ""


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
            choices=("blobs", "inline"),
            doc="clusters made in code or inline arrays",
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


def load_config(path) -> Config:
    """Read and validate a ``train`` configuration file (TOML, via ``tomllib``).

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error (with tomllib's line and column), or
        any schema violation (key and line named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is a directory; expected a TOML file"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        # TOML is UTF-8 by definition (tomllib reads str); say where the bad byte is
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}, line {line}: {exc.reason}); "
            "expected a TOML file encoded as UTF-8"
        ) from exc
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


def _planned_bytes(N: int, M: int, Q: int, K: int) -> int:
    """The memory model of a run: the float64 arrays every command holds at once.

    Inputs N·M, targets N·Q, parameters K, the Jacobian D (QN·K) and the Gram
    matrix DDᵀ ((QN)²), 8 bytes each.  A lower bound (orbits, brackets and
    work arrays come on top), used to refuse sizes that cannot fit before
    anything is allocated.
    """
    QN = Q * N
    return 8 * (N * M + QN + K + QN * K + QN * QN)


def _memory_problem(N: int, M: int, Q: int, K: int) -> str | None:
    """Why (N, M, Q, K) cannot fit in memory, or None."""
    need, limit = _planned_bytes(N, M, Q, K), _memory_limit()
    if need <= limit:
        return None
    return (
        f"N = {N} samples, M = {M}, Q = {Q}, K = {K} parameters need at least {need:,} bytes "
        f"({need / 1e9:.3g} GB: 8 bytes x (N·M + QN + K + QN·K + (QN)²)); expected at most "
        f"{limit:,} bytes ({limit / 1e9:.3g} GB, half the physical memory)"
    )


def _check_network_memory(option: str, layers, N: int) -> None:
    """Refuse a network on N inputs whose arrays cannot fit (``option`` names the culprit)."""
    problem = _memory_problem(N, layers[0], layers[-1], sr.MLP.count_parameters(layers))
    if problem:
        raise ConfigError(f"{option}: {problem}")


def _prepare_out(value, name: str = "--out") -> Path:
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


# =============================================================================
# Building a run from a configuration
# =============================================================================
def _build_data(cfg: Config) -> sr.TrainingData:
    d = cfg["data"]
    if d["kind"] == "blobs":
        stray = [k for k in ("inputs", "labels", "class_outputs") if d[k] is not None]
        if stray:
            raise cfg.error("data", stray[0], "is only read with kind = 'inline'")
        seed = cfg[""]["seed"] if d["seed"] is None else d["seed"]
        return sr.TrainingData.blobs(
            d["n_samples"], d["n_classes"], d["input_dim"], d["spread"], seed
        )
    for key in ("inputs", "labels"):
        if d[key] is None:
            raise cfg.error("data", key, "is required with kind = 'inline'")
    inputs, labels = np.array(d["inputs"]), np.array(d["labels"])
    if labels.shape[0] != inputs.shape[0]:
        raise cfg.error(
            "data", "labels", f"has {labels.shape[0]} entries but inputs has {inputs.shape[0]} rows"
        )
    n_classes = int(labels.max()) + 1
    outputs = np.eye(n_classes) if d["class_outputs"] is None else np.array(d["class_outputs"])
    try:
        return sr.TrainingData(inputs, labels, outputs)
    except InputError as exc:
        raise cfg.error("data", "labels" if "label" in str(exc) else "inputs", str(exc)) from exc


def _build_output_metric(cfg: Config, data: sr.TrainingData):
    """None (Euclidean) or a :class:`~subriemann.geometry.metrics.ConstantOutputMetric` from [output_metric]."""
    from subriemann.geometry.metrics import ConstantOutputMetric

    m = cfg["output_metric"]
    QN = data.Q * data.N
    if m["kind"] == "euclidean":
        return None
    try:
        if m["kind"] == "class_weights":
            if m["weights"] is None or len(m["weights"]) != data.n_classes:
                raise cfg.error(
                    "output_metric",
                    "weights",
                    f"needs one positive weight per class ({data.n_classes})",
                )
            return ConstantOutputMetric.from_class_weights(data, m["weights"])
        if m["kind"] == "diagonal":
            w = m["weights"]
            if w is None or len(w) not in (data.Q, QN):
                raise cfg.error(
                    "output_metric",
                    "weights",
                    f"needs Q = {data.Q} weights (one per output component) or QN = {QN} (one per output entry)",
                )
            w = np.tile(w, data.N) if len(w) == data.Q else np.asarray(w)
            return ConstantOutputMetric(np.diag(w))
        if m["matrix"] is None:
            raise cfg.error(
                "output_metric",
                "matrix",
                f"is required with kind = 'matrix' (an SPD {QN}x{QN} matrix)",
            )
        return ConstantOutputMetric(np.array(m["matrix"]))
    except ConfigError:
        raise
    except InputError as exc:
        key = "matrix" if m["kind"] == "matrix" else "weights"
        raise cfg.error("output_metric", key, str(exc)) from exc


@dataclass
class FlowSpec:
    """One flow to integrate: its label, the flow object, the method and the options."""

    label: str
    flow: object
    method: str
    primary: bool = True


def _resolve_method(cfg: Config, key: str, value: str) -> str:
    """The integrator name by :func:`subriemann.flows.orbits.resolve_method`, as a config error."""
    from subriemann.flows.orbits import METHODS, resolve_method

    try:
        return resolve_method(value)
    except InputError:
        known = sorted({m.lower() for m in METHODS} | {"rk45"})
        close = difflib.get_close_matches(value.lower(), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise cfg.error(
            "integrator", key, f"unknown method {value!r}{hint}; expected one of {list(METHODS)}"
        ) from None


def _check_config_memory(cfg: Config, N: int, M: int, Q: int) -> None:
    """Refuse a configuration whose arrays cannot fit, naming the key that makes them large."""
    K = sr.MLP.count_parameters([M, *cfg["network"]["hidden"], Q])
    problem = _memory_problem(N, M, Q, K)
    if problem:
        # one sample already too much: the network is the culprit, otherwise the data
        too_wide = _memory_problem(1, M, Q, K) is not None
        table, key = ("network", "hidden") if too_wide else ("data", "n_samples")
        raise cfg.error(table, key, problem)


def build_run(cfg: Config):
    """Data, network map, cost, θ₀, output metric and the flows of a configuration.

    Returns
    -------
    dict
        ``data, mlp, f, cost, theta0, output_metric, flows`` (list of FlowSpec).
    """
    net, d = cfg["network"], cfg["data"]
    blobs = d["kind"] == "blobs"
    if blobs:  # sizes known before any array is made
        _check_config_memory(cfg, d["n_samples"], d["input_dim"], d["n_classes"])
    data = _build_data(cfg)
    if not blobs:  # inline arrays are already in memory; the network may not fit
        _check_config_memory(cfg, data.N, data.M, data.Q)
    try:
        mlp = sr.MLP(
            [data.M, *net["hidden"], data.Q],
            activation=net["activation"],
            allow_nonsmooth=net["allow_nonsmooth"],
        )
    except sr.ActivationError as exc:
        raise cfg.error("network", "activation", str(exc)) from exc
    seed = cfg[""]["seed"] if net["init_seed"] is None else net["init_seed"]
    theta0 = mlp.init(seed, weight_scale=net["weight_scale"], bias_scale=net["bias_scale"])
    f = sr.NetworkMap(mlp, data.inputs)
    cost = sr.L2Cost.from_data(data)
    G = _build_output_metric(cfg, data)
    fl, integ = cfg["flow"], cfg["integrator"]
    policy = fl["rank_rtol"]
    flows = []
    if fl["kind"] in ("adapted", "both"):
        method = _resolve_method(
            cfg, "method", integ["method"] or ("output-exact" if G is None else "rk45")
        )
        if G is not None and method == "output-exact":
            raise cfg.error(
                "integrator",
                "method",
                "'output-exact' follows the Euclidean output law (2.7); with a non-Euclidean "
                "output metric use an ODE method such as 'rk45'",
            )
        try:
            flow = sr.AdaptedFlow(f, cost, regime=fl["regime"], rank_policy=policy, output_metric=G)
        except SubriemannError as exc:
            raise cfg.error("flow", "regime", str(exc)) from exc
        flows.append(FlowSpec("adapted", flow, method))
    if fl["kind"] in ("standard", "both"):
        key = "method" if fl["kind"] == "standard" else "standard_method"
        value = integ["method"] if fl["kind"] == "standard" else integ["standard_method"]
        method = _resolve_method(cfg, key, value or "rk45")
        if method == "output-exact":
            raise cfg.error(
                "integrator",
                key,
                "'output-exact' integrates the adapted flow only (it follows the output law "
                "(2.7)); use 'rk45', 'rk4', 'euler' or another scipy method for the standard flow",
            )
        flows.append(
            FlowSpec(
                "standard",
                sr.StandardFlow(f, cost, rank_policy=policy),
                method,
                fl["kind"] == "standard",
            )
        )
    return {
        "data": data,
        "mlp": mlp,
        "f": f,
        "cost": cost,
        "theta0": theta0,
        "output_metric": G,
        "flows": flows,
    }


# =============================================================================
# Running flows and summarising them
# =============================================================================
def _orbit_summary(traj, f, cost, eps, quiet: bool, label: str) -> dict:
    """Orbit arrays (s, C, rank, σ_min, σ_max, ε(θ)) and the scalars of the table."""
    from subriemann.diagnostics.landscape import trapping_profile

    with report.progress_bar(f"{label}: trapping ratio", quiet) as bar:
        try:
            ratio = trapping_profile(traj, f, cost, progress=bar).ratio
        except InputError:  # an orbit that hits x = y_ω exactly: ε(θ) undefined there
            ratio = None
    sigma_max = traj.sigma_max  # recorded with σ_min: no Jacobian is recomputed here
    final = float(traj.cost[-1])
    return {
        "method": traj.method,
        "status": traj.status,
        "message": traj.message,
        "final_s": float(traj.s[-1]),
        "reached_cost": final,
        "reached_over_eps": final / eps,
        "target_reached": bool(final <= eps * (1.0 + TARGET_RTOL)),
        "law_residual": traj.law_residual(),
        "n_jacobian": int(traj.n_jacobian),
        "n_points": len(traj),
        "regimes": sorted(set(traj.regime)),
        "min_rank": int(np.min(traj.rank)),
        "min_sigma_min": float(np.nanmin(traj.sigma_min)),
        "orbit": {
            "s": traj.s,
            "cost": traj.cost,
            "rank": traj.rank,
            "sigma_min": traj.sigma_min,
            "sigma_max": sigma_max,
            "trapping_ratio": ratio,
        },
    }


def run_training(
    f,
    cost,
    theta0,
    flows,
    eps,
    s_end="stopping-time",
    *,
    options=None,
    output_metric=None,
    quiet=True,
) -> dict:
    """Integrate each flow from the same θ₀ to the predicted stopping time and summarise.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta0 : ndarray, shape=[K]
    flows : list of FlowSpec
    eps : float
        Target cost ε; the default end time is s_ε = (N/2) log(C(0)/ε) (2.18)
        (for a constant output metric G, the time where the G-law reaches ε,
        :func:`subriemann.flows.theory.output_metric_stopping_time`).
    s_end : float or "stopping-time"
    options : dict, optional
        Keyword arguments for :func:`subriemann.integrate.integrate`
        (``step``, ``max_step``, ``rtol``, ``atol``, ``max_steps``).
    output_metric : ConstantOutputMetric, optional
    quiet : bool
        No progress bars.

    Returns
    -------
    dict
        ``K, QN, N, regime, rank, sigma_min, sigma_max, C0, eps, stopping_time,
        s_end, flows`` (label → summary with the orbit arrays), ``theta0``.
    """
    from subriemann.flows.theory import (
        compare_with_law,
        output_metric_cost_law,
        output_metric_stopping_time,
        stopping_time,
    )
    from subriemann.integrate import integrate

    x0, D0 = f.value_and_jacobian(theta0)
    rep = sr.JacobianSVD(D0).report
    C0 = float(cost(x0))
    G = None if output_metric is None else output_metric.matrix()
    if G is None:
        s_eps = stopping_time(eps, C0, cost.N)
    else:
        s_eps = output_metric_stopping_time(eps, x0, cost.target, G, cost.N)
    end = s_eps if s_end == "stopping-time" else float(s_end)
    if not end > 0:
        raise InputError(f"C(0) = {C0:.3g} is already <= eps = {eps:.3g}; nothing to integrate")
    results = {
        "K": f.dim_in,
        "QN": f.dim_out,
        "N": cost.N,
        "regime": regime_for_rank(rep.rank, f.dim_in, f.dim_out),
        "rank": rep.rank,
        "sigma_min": rep.sigma_min,
        "sigma_max": rep.sigma_max,
        "C0": C0,
        "eps": eps,
        "stopping_time": s_eps,
        "stopping_time_law": "(2.18)" if G is None else "output metric G",
        "s_end": end,
        "flows": {},
        "theta0": theta0,
    }
    for spec in flows:
        with report.progress_bar(f"{spec.label} flow ({spec.method})", quiet) as bar:
            traj = integrate(
                spec.flow, theta0, end, method=spec.method, progress=bar, **(options or {})
            )
        summary = _orbit_summary(traj, f, cost, eps, quiet, spec.label)
        summary["primary"] = spec.primary
        if spec.label == "adapted" and G is None:
            law = compare_with_law(traj)
            summary["max_rel_cost_error"] = law["max_rel_cost_error"]
            summary["max_rel_residual_error"] = law["max_rel_residual_error"]
        if G is not None:
            predicted = output_metric_cost_law(traj.s, x0, cost.target, G, cost.N)
            summary["metric_law_rel_error"] = float(np.max(np.abs(traj.cost / predicted - 1.0)))
            summary["orbit"]["metric_law_cost"] = predicted
        results["flows"][spec.label] = summary
    return results


def _frobenius_at(f, theta) -> dict:
    """The Frobenius test (2.31) of V = range Dᵀ at θ (closed-form brackets)."""
    rep = sr.PullbackBundle(f).distribution().frobenius_defect(theta)
    return {
        "relative_defect": rep.relative_defect,
        "curvature_norm": rep.curvature_norm,
        "tolerance": rep.tolerance,
        "is_involutive": rep.is_involutive,
        "conclusive": rep.conclusive,
        "rank": rep.rank,
    }


def _run_failure(results: dict, require_target: bool) -> str | None:
    """Why the primary flow's run failed (exit 1), or None."""
    for label, fl in results["flows"].items():
        if not fl.get("primary"):
            continue
        if fl["status"] not in ("completed", "target_cost_reached"):
            return f"the {label} flow stopped early ({fl['status']}): {fl['message']}"
        if require_target and not fl["target_reached"]:
            return (
                f"the {label} flow did not reach the target: C(s_end) = {fl['reached_cost']:.4g} > "
                f"eps = {results['eps']:.3g} (+{100 * TARGET_RTOL:g}%)"
            )
    return None


# =============================================================================
# Presentation
# =============================================================================
def _fmt(v, spec=".4g"):
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec) if isinstance(v, float) else str(v)


def _training_text(title: str, results: dict, frob: dict | None, paths, failure) -> str:
    r = results
    K, QN = r["K"], r["QN"]
    cmp = ">" if K > QN else "<" if K < QN else "="
    if r["rank"] == QN:
        rank_note = "  (= QN: the rank condition (2.1) holds)"
    elif r["rank"] == K:
        rank_note = "  (= K: f is an immersion, (5.1) holds)"
    else:
        rank_note = "  (rank loss: the DAE (4.5) applies)"
    adapted = "adapted" in r["flows"]
    if r["stopping_time_law"] == "(2.18)":
        law = "  = (N/2) log(C(0)/ε), (2.18)"
        if not adapted:
            law += " — of the adapted flow; the standard flow has none"
        elif r["regime"] not in ("over", "borderline"):
            law += " — a prediction only when rank D = QN"
    else:
        law = "  (where the output-metric law reaches ε)"
    head = [
        ("regime", f"{r['regime']}  (K = {K} {cmp} QN = {QN})"),
        ("rank D[θ0]", f"{r['rank']}{rank_note}"),
        ("σ_min(D[θ0])", _fmt(r["sigma_min"])),
        ("C(0)", _fmt(r["C0"])),
        ("ε", _fmt(r["eps"], "g")),
        ("stopping time", f"s_ε = {_fmt(r['stopping_time'], '.6g')}{law}"),
    ]
    lines = [title, "", report.format_table(head), ""]
    rows = []
    for label, fl in r["flows"].items():
        rows.append(
            (
                label,
                fl["method"],
                f"{fl['final_s']:.4g}",
                f"{fl['reached_cost']:.4e}",
                f"{fl['reached_over_eps']:.4g}",
                f"{fl['law_residual']:.2e}" if math.isfinite(fl["law_residual"]) else "inf",
                fl["n_jacobian"],
                f"{fl['min_sigma_min']:.3g}",
                fl["status"],
            )
        )
    lines.append(
        report.format_table(
            rows,
            header=(
                "flow",
                "method",
                "s",
                "C(s)",
                "C(s)/ε",
                "law residual",
                "Jacobians",
                "min σ_min",
                "status",
            ),
        )
    )
    lines.append("law residual = max_s |log C(s) − log C(0) + 2s/N|: 0 on the law (2.6)")
    for label, fl in r["flows"].items():
        if "metric_law_rel_error" in fl:
            lines.append(
                f"{label}: max |C(s)/C_G(s) − 1| = {fl['metric_law_rel_error']:.2e} against the "
                "output-metric law C_G(s) = |exp(−sG⁻¹/N)(x(0) − y_ω)|²/(2N)"
            )
    if frob is not None:
        verdict = (
            "involutive (integrable at this point)"
            if frob["is_involutive"]
            else "NOT involutive: V is non-holonomic, (R^K, V, h) is sub-Riemannian (2.33)"
        )
        lines += [
            "",
            f"Frobenius test of V = range Dᵀ at θ0 (2.31): {verdict}",
            f"  relative defect {frob['relative_defect']:.3e}, tolerance {frob['tolerance']:.2e}, "
            f"|Ω|_HS = {frob['curvature_norm']:.3e}",
        ]
    if paths:
        lines += ["", "report: " + ", ".join(str(p) for p in paths)]
    if failure:
        lines += ["", f"FAILED: {failure}"]
    return "\n".join(lines)


def _write_outputs(record: dict, outdir: Path, name: str, figures: bool) -> list[Path]:
    paths = [report.write_json(outdir / f"{name}.json", record)]
    if figures:
        paths += report.figures_from_record(record, outdir)
    return paths


def _emit(args, record: dict, text: str) -> None:
    if args.json:
        print(json.dumps(report.to_jsonable(record), allow_nan=False))
    else:
        print(text)


# =============================================================================
# Commands
# =============================================================================
def cmd_demo(args) -> int:
    """Adapted vs standard flow on a small over-parametrized tanh network (the main job)."""
    if not args.eps > 0:
        raise ConfigError(f"--eps must be > 0 (the target cost ε), got {args.eps!r}")
    outdir = _prepare_out(args.out)
    data = sr.TrainingData.blobs(n_samples=6, n_classes=3, input_dim=2, spread=0.3, seed=args.seed)
    mlp = sr.MLP([data.M, 8, data.Q], activation="tanh")
    f = sr.NetworkMap(mlp, data.inputs)
    cost = sr.L2Cost.from_data(data)
    theta0 = mlp.init(args.seed)
    flows = [
        FlowSpec("adapted", sr.AdaptedFlow(f, cost), "output-exact"),
        FlowSpec("standard", sr.StandardFlow(f, cost), "rk45", primary=False),
    ]
    # the standard flow is stiff (σ_max²/σ_min² ~ 1e5): cap its work, it is the comparison
    results = run_training(
        f, cost, theta0, flows, args.eps, options={"max_steps": args.max_steps}, quiet=args.quiet
    )
    results["frobenius"] = _frobenius_at(f, theta0)
    config = {
        "command": "demo",
        "data": {"kind": "blobs", "n_samples": 6, "n_classes": 3, "input_dim": 2, "spread": 0.3},
        "network": {"layers": mlp.layer_sizes, "activation": "tanh"},
        "flows": {"adapted": "output-exact", "standard": "rk45"},
        "eps": args.eps,
        "max_steps": args.max_steps,
    }
    results["problem"] = {
        "layers": mlp.layer_sizes,
        "activation": "tanh",
        "N": data.N,
        "Q": data.Q,
        "M": data.M,
    }
    record = report.make_record("demo", config, args.seed, results)
    failure = _run_failure(results, require_target=True)
    record["failure"] = failure
    paths = _write_outputs(record, outdir, "demo", figures=True)
    title = (
        f"subriemann demo: {mlp!r} on {data.N} samples in {data.n_classes} classes, "
        f"adapted vs standard flow from the same θ0 (seed {args.seed})"
    )
    _emit(args, record, _training_text(title, results, results["frobenius"], paths, failure))
    return EXIT_FAILED if failure else EXIT_OK


def cmd_train(args) -> int:
    """Train the network of a TOML configuration with the configured flow(s)."""
    cfg = load_config(args.config)
    if args.out is not None:
        outdir = _prepare_out(args.out)
    else:
        outdir = _prepare_out(cfg["output"]["dir"], f"{cfg.path}: key 'output.dir'")
    run = build_run(cfg)
    integ = cfg["integrator"]
    options = {
        k: integ[k]
        for k in ("step", "max_step", "rtol", "atol", "max_steps")
        if integ[k] is not None
    }
    eps = cfg["target"]["eps"]
    try:
        results = run_training(
            run["f"],
            run["cost"],
            run["theta0"],
            run["flows"],
            eps,
            integ["s_end"],
            options=options,
            output_metric=run["output_metric"],
            quiet=args.quiet,
        )
    except InputError as exc:
        raise ConfigError(f"{cfg.path}: {exc}") from exc
    mlp, data = run["mlp"], run["data"]
    results["problem"] = {
        "layers": mlp.layer_sizes,
        "activation": mlp.activation.name,
        "N": data.N,
        "Q": data.Q,
        "M": data.M,
    }
    if args.frobenius:
        results["frobenius"] = _frobenius_at(run["f"], run["theta0"])
    record = report.make_record(
        "train", cfg.as_dict(), cfg[""]["seed"], results, config_file=str(args.config)
    )
    failure = _run_failure(results, require_target=cfg["target"]["require"])
    record["failure"] = failure
    paths = _write_outputs(record, outdir, cfg[""]["name"], cfg["output"]["figures"])
    title = f"subriemann train {args.config}: {mlp!r} on {data!r}"
    _emit(args, record, _training_text(title, results, results.get("frobenius"), paths, failure))
    return EXIT_FAILED if failure else EXIT_OK


def _parse_layers(text: str) -> list[int]:
    from subriemann.diagnostics.surveys import parse_architecture

    try:
        return parse_architecture(text)
    except InputError as exc:
        raise ConfigError(f"--layers: {exc}") from exc


def _parse_point(text: str, dim: int) -> np.ndarray:
    try:
        point = np.array([float(v) for v in text.split(",")])
    except ValueError as exc:
        raise ConfigError(f"--at: expected {dim} comma-separated numbers, got {text!r}") from exc
    if point.shape != (dim,) or not np.all(np.isfinite(point)):
        raise ConfigError(
            f"--at: expected {dim} finite comma-separated coordinates (a point of R^{dim}), "
            f"got {text!r}"
        )
    return point


def cmd_frobenius(args) -> int:
    """Frobenius test (2.31) of a catalog distribution or of a network's V at sampled points."""
    from subriemann.distributions import catalog

    if (args.catalog is None) == (args.layers is None):
        raise ConfigError(
            "give exactly one of --catalog NAME (one of "
            f"{', '.join(catalog.names())}) or --layers M,...,Q (a network spec)"
        )
    if args.points < 1:
        raise ConfigError(f"--points must be >= 1, got {args.points}")
    if args.catalog is None:
        layers = _parse_layers(args.layers)
        if args.samples < 1:
            raise ConfigError(f"--samples must be >= 1, got {args.samples}")
        _check_network_memory("--layers/--samples", layers, args.samples)
    outdir = _prepare_out(args.out)
    if args.catalog is not None:
        try:
            dist = catalog.get(args.catalog)
        except InputError as exc:
            raise ConfigError(f"--catalog: {exc}") from exc
        name = dist.name or args.catalog
        config = {"command": "frobenius", "catalog": args.catalog}
        max_step = args.max_step or dist.dim
    else:
        try:
            dist = catalog.network_bundle(
                layers, n_samples=args.samples, activation=args.activation, seed=args.seed
            )
        except InputError as exc:
            raise ConfigError(f"--layers/--activation: {exc}") from exc
        name = dist.name
        config = {
            "command": "frobenius",
            "layers": layers,
            "samples": args.samples,
            "activation": args.activation,
        }
        max_step = args.max_step or 2
    if args.at is not None:
        # one chosen point, e.g. Martinet's singular surface x = 0: the verdict and the
        # growth vector are pointwise, so the generic documented answers do not apply
        pts = np.array([_parse_point(args.at, dist.dim)])
        config.update(at=pts[0].tolist(), max_step=max_step)
    else:
        config.update(points=args.points, scale=args.scale, max_step=max_step)
        pts = dist.sample_points(args.points, seed=args.seed, scale=args.scale)
    with report.progress_bar("Frobenius test", args.quiet, total=len(pts)) as bar:
        verdict = dist.sample_verdict(pts, tolerance=args.tolerance, progress=bar)
    reports = verdict.reports
    growth = dist.growth_vector(pts[0], max_step=max_step)
    n_fail, involutive = verdict.n_non_involutive, verdict.is_involutive
    known = {
        k: v
        for k, v in getattr(dist, "known", {}).items()
        if k in ("involutive", "growth_vector", "bracket_generating")
    }
    mismatch = []
    # documented answers are checked for catalog entries at sampled (generic) points; a
    # network's "known" verdict is the generic expectation, which a particular network may
    # legitimately miss, and a chosen point (--at) may be a singular one
    generic = args.catalog is not None and args.at is None
    if generic and "involutive" in known and known["involutive"] != involutive:
        mismatch.append(f"involutive: documented {known['involutive']}, computed {involutive}")
    if generic and "growth_vector" in known and tuple(known["growth_vector"]) != tuple(growth):
        mismatch.append(
            f"growth vector: documented {tuple(known['growth_vector'])}, computed {growth}"
        )
    results = {
        "name": name,
        "dim": dist.dim,
        "rank": reports[0].rank,
        "tolerance": max(r.tolerance for r in reports),
        "is_involutive": involutive,
        "n_points": len(reports),
        "n_non_involutive": n_fail,
        "max_relative_defect": max(r.relative_defect for r in reports),
        "growth_vector": list(growth),
        "bracket_generating": growth[-1] == dist.dim,
        "known": known,
        "mismatch": mismatch,
        "points": [
            {
                "label": str(i),
                "relative_defect": r.relative_defect,
                "curvature_norm": r.curvature_norm,
                "tolerance": r.tolerance,
                "is_involutive": r.is_involutive,
                "conclusive": r.conclusive,
            }
            for i, r in enumerate(reports)
        ],
    }
    record = report.make_record("frobenius", config, args.seed, results)
    paths = _write_outputs(record, outdir, "frobenius", figures=True)
    verdict = (
        "involutive at the chosen point"
        if involutive and args.at is not None
        else "involutive at every sampled point (consistent with integrable)"
        if involutive
        else f"NOT involutive at {n_fail}/{len(reports)} points: not integrable (Frobenius (2.31) fails)"
    )
    lines = [
        f"subriemann frobenius: {name} (rank {results['rank']} in R^{dist.dim}, {len(reports)} points)",
        f"verdict: {verdict}",
        f"max relative defect {results['max_relative_defect']:.3e} (tolerance {results['tolerance']:.2e})",
        f"growth vector at {'the chosen' if args.at is not None else 'the first'} point: "
        f"{tuple(growth)}" + ("  (bracket generating)" if results["bracket_generating"] else ""),
    ]
    if known:
        where = " (at generic points)" if args.at is not None else ""
        lines.append(f"documented{where}: " + ", ".join(f"{k} = {v}" for k, v in known.items()))
    if mismatch:
        lines.append("MISMATCH with the documented answer: " + "; ".join(mismatch))
    lines.append("report: " + ", ".join(str(p) for p in paths))
    _emit(args, record, "\n".join(lines))
    return EXIT_FAILED if mismatch else EXIT_OK


def cmd_survey(args) -> int:
    """Rank or integrability survey over random networks (CSV, JSON, figure)."""
    from subriemann.diagnostics import surveys

    if (args.layers is None) == (args.ratios is None):
        raise ConfigError("give exactly one of --layers SPEC [SPEC ...] or --ratios R,R,...")
    ratios = None
    if args.ratios is not None:
        try:
            ratios = [float(r) for r in args.ratios.split(",") if r.strip()]
        except ValueError as exc:
            raise ConfigError(
                f"--ratios must be numbers separated by commas, got {args.ratios!r}"
            ) from exc
        if not ratios or any(not r > 0 for r in ratios):
            raise ConfigError(f"--ratios must be positive numbers, got {args.ratios!r}")
    archs = None if args.layers is None else [_parse_layers(s) for s in args.layers]
    for name in ("seeds", "samples", "jobs"):
        if getattr(args, name) < 1 and not (name == "jobs" and args.jobs == -1):
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    for layers in archs or []:
        _check_network_memory("--layers/--samples", layers, args.samples)
    outdir = _prepare_out(args.out)
    stem = outdir / f"survey-{args.kind}"
    run = surveys.run_rank_survey if args.kind == "rank" else surveys.run_frobenius_survey
    kwargs = {
        "architectures": archs,
        "ratios": ratios,
        "seeds": args.seeds,
        "n_samples": args.samples,
        "base_seed": args.seed,
        "activation": args.activation,
        "weight_scale": args.weight_scale,
        "n_jobs": args.jobs,
        "scheduler": args.scheduler,
        "out": stem.with_suffix(".jsonl"),
    }
    if ratios is not None:
        kwargs.update(input_dim=args.input_dim, output_dim=args.output_dim, depth=args.depth)
    with report.progress_bar(f"{args.kind} survey", args.quiet) as bar:
        try:
            result = run(progress=bar, **kwargs)
        except InputError as exc:
            raise ConfigError(str(exc)) from exc
    for warning in result.warnings:  # e.g. a torn last line of the survey file, skipped
        print(f"subriemann survey: warning: {warning}", file=sys.stderr)
    paths = [result.to_csv(stem.with_suffix(".csv")), result.to_json(stem.with_suffix(".json"))]
    if result.ok_rows:
        paths.append(result.plot(stem.with_suffix(".png")))
    summary = result.summary()
    record = report.read_json(stem.with_suffix(".json"))
    # per architecture: what identifies it, then the survey's own statistics
    if args.kind == "rank":
        stat_header = ("P[rank=QN]", "median σ_min", "median cond")

        def stats(e):
            return (
                f"{e['p_full_rank']:.2f}",
                f"{e['sigma_min_median']:.3g}",
                f"{e['condition_median']:.3g}",
            )
    else:
        stat_header = ("involutive", "median defect", "max defect")

        def stats(e):
            return (
                f"{e['involutive_fraction']:.2f}",
                _fmt(e["relative_defect_median"], ".3g"),
                _fmt(e["relative_defect_max"], ".3g"),
            )

    header = ("layers", "N", "K", "QN", "K/QN", "n", *stat_header)
    rows = [
        (_arch(e["layers"]), e["N"], e["K"], e["QN"], f"{e['ratio']:.3g}", e["n"], *stats(e))
        for e in summary["architectures"]
    ]
    text = "\n".join(
        [
            f"subriemann survey {args.kind}: {summary['n_tasks']} networks, {summary['n_errors']} failed",
            "",
            report.format_table(rows, header=header),
            "",
            "report: " + ", ".join(str(p) for p in paths),
        ]
    )
    _emit(args, record, text)
    return EXIT_FAILED if summary["n_errors"] else EXIT_OK


def _arch(layers) -> str:
    return layers if isinstance(layers, str) else "-".join(map(str, layers))


def cmd_replot(args) -> int:
    """Redraw the figures of a stored record (demo, train or frobenius JSON)."""
    outdir = _prepare_out(args.out)
    record = report.read_json(args.record)
    try:
        paths = report.figures_from_record(record, outdir)
    except InputError as exc:  # name the file: the message names the field
        raise InputError(f"record file {args.record!r}: {exc}") from exc
    if args.json:
        print(json.dumps({"figures": [str(p) for p in paths]}))
    else:
        print("figures: " + ", ".join(str(p) for p in paths))
    return EXIT_OK


# =============================================================================
# Parser and entry point
# =============================================================================
def _common(out_default: str | None = "subriemann-out") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--json", action="store_true", help="print one JSON record on stdout, nothing else"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.add_argument(
        "--out",
        default=out_default,
        help="report folder (created if needed)"
        + (f"; default ./{out_default}/" if out_default else ""),
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """The ``subriemann`` argument parser (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="subriemann",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Geometrically adapted gradient descent (T. Chen) made executable: pullback\n"
            "bundles, adapted flows with an a-priori stopping time, Frobenius tests."
        ),
        epilog=(
            "Start with `subriemann demo`; `subriemann COMMAND --help` explains a command.\n"
            "Every command takes --json (one JSON record on stdout), --quiet, --out DIR.\n\n"
            "Exit codes: 0 ok; 1 run failed (rank condition broke down, target not\n"
            "reached, non-finite values, failed survey task); 2 usage or config error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"subriemann {sr.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        parents=[_common()],
        help="adapted vs standard flow on a small tanh network: table, JSON and figures",
        description="Train a small over-parametrized tanh network on a 3-class set made in code with "
        "the adapted flow (output-exact) and the standard flow (RK45) from the same start; "
        "print the table and the Frobenius verdict for V, write JSON and PNG figures.",
    )
    demo.add_argument("--eps", type=float, default=1e-8, help="target cost ε (default 1e-8)")
    demo.add_argument("--seed", type=int, default=0, help="seed of data and initialization")
    demo.add_argument(
        "--max-steps", type=int, default=20000, help="cap on the standard flow's steps"
    )
    demo.set_defaults(func=cmd_demo)

    train = sub.add_parser(
        "train",
        parents=[_common(None)],
        help="train from a TOML config (network, data, flow, integrator, ε, output metric)",
        description="Run the flow(s) of a TOML configuration; see examples/configs/ and docs/cli.md.",
    )
    train.add_argument("config", help="configuration file (TOML)")
    train.add_argument(
        "--frobenius", action="store_true", help="also test V for involutivity at θ0"
    )
    train.set_defaults(func=cmd_train)

    frob = sub.add_parser(
        "frobenius",
        parents=[_common()],
        help="Frobenius test (2.31) of a catalog distribution or a network's pullback bundle V",
        description="Test involutivity at sampled points and compute the growth vector.",
    )
    frob.add_argument(
        "--catalog", help="catalog entry: heisenberg, engel, martinet, contact_r5, ..."
    )
    frob.add_argument("--layers", help="network spec M,...,Q, e.g. 2,8,3")
    frob.add_argument("--samples", type=int, default=4, help="N training inputs of the network")
    frob.add_argument("--activation", default="tanh")
    frob.add_argument("--seed", type=int, default=0)
    frob.add_argument("--points", type=int, default=5, help="number of sampled points")
    frob.add_argument(
        "--at",
        default=None,
        metavar="X1,...,Xn",
        help="test at this one point instead of sampled ones (e.g. --at 0,1,2 on Martinet's "
        "singular surface)",
    )
    frob.add_argument("--scale", type=float, default=1.0, help="spread of the sampled points")
    frob.add_argument(
        "--tolerance", type=float, default=None, help="override the verdict's tolerance"
    )
    frob.add_argument(
        "--max-step",
        type=int,
        default=None,
        help="growth vector steps (default dim; 2 for networks)",
    )
    frob.set_defaults(func=cmd_frobenius)

    survey = sub.add_parser(
        "survey",
        parents=[_common()],
        help="rank or integrability survey over random networks (CSV, JSON, figure)",
        description="Survey many random networks: 'rank' (Prop. 2.2: P[rank DDᵀ = QN] vs K/QN, σ_min, "
        "spread of the e_j) or 'frobenius' (the Frobenius defect of V). Resumes from <out>/survey-KIND.jsonl.",
    )
    survey.add_argument("kind", choices=("rank", "frobenius"))
    survey.add_argument("--layers", nargs="+", help="architectures, e.g. 2-4-2 2-16-2")
    survey.add_argument("--ratios", help="target K/QN values, e.g. 0.5,1,2,4")
    survey.add_argument("--seeds", type=int, default=10, help="networks per architecture")
    survey.add_argument("--samples", type=int, default=4, help="N training inputs")
    survey.add_argument("--input-dim", type=int, default=2)
    survey.add_argument("--output-dim", type=int, default=2)
    survey.add_argument("--depth", type=int, default=1)
    survey.add_argument("--activation", default="tanh")
    survey.add_argument("--weight-scale", type=float, default=1.0)
    survey.add_argument("--seed", type=int, default=0, help="base seed")
    survey.add_argument("--jobs", type=int, default=1, help="local processes (-1: all CPUs)")
    survey.add_argument(
        "--scheduler", default=None, help="Dask scheduler address (extra 'distributed')"
    )
    survey.set_defaults(func=cmd_survey)

    replot = sub.add_parser(
        "replot",
        parents=[_common()],
        help="redraw the figures of a stored JSON record",
    )
    replot.add_argument("record", help="a demo/train/frobenius JSON record")
    replot.set_defaults(func=cmd_replot)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``subriemann`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help/--version, 2 for usage errors
        return int(exc.code or 0)
    try:
        # options shared by several commands, checked once before a command starts
        if getattr(args, "seed", None) is not None:
            check_int(args.seed, "--seed", "a seed", minimum=0)
        return args.func(args)
    except InputError as exc:
        # every usage or input error of the package (ConfigError included) lands here:
        # one line on stderr, exit 2, never a traceback
        message = " ".join(str(exc).split())
        print(f"subriemann {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except SubriemannError as exc:
        print(f"subriemann {args.command}: run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"subriemann {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `subriemann ... | head`: the reader left, not an error of the run
        sys.stdout = open(os.devnull, "w")  # silence the flush at exit
        return EXIT_OK
