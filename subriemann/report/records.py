"""Records (JSON/CSV), figures and a progress bar: the package's only output layer besides the CLI.

Everything a run produces goes through here, in a form that lets any figure be
regenerated later without re-running the run:

* :func:`make_record` wraps results with the package version, the library
  versions, the configuration and the seed; :func:`write_json` /
  :func:`read_json` store it (numpy arrays become lists, non-finite floats
  become ``null``).
* Every file is written through :func:`write_atomic` (a temporary file in the
  same folder, then ``os.replace``): a write that fails half-way — a full disk,
  a crash, an exception while drawing — leaves the previous file intact.
* The figure functions take plain arrays (as stored in a record), draw the
  paper's theory lines next to the measured curves, label every axis and save
  a PNG. :func:`figures_from_record` redraws the figures of a stored record.
* :class:`ProgressBar` is a dependency-free progress indicator for stderr that
  stays silent when stderr is not a terminal and appears only for work that
  lasts longer than a second.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas, never through ``pyplot``: no screen, no global figure state, safe in
worker processes and under test.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from subriemann.errors import InputError

__all__ = [
    "ProgressBar",
    "progress_bar",
    "provenance",
    "make_record",
    "to_jsonable",
    "write_atomic",
    "read_text",
    "new_figure",
    "save_figure",
    "write_json",
    "read_json",
    "write_csv",
    "format_table",
    "format_value",
    "plot_cost_law",
    "plot_sigma_min",
    "plot_trapping",
    "plot_frobenius",
    "plot_growth_vector",
    "figures_from_record",
    "RECORD_SCHEMA",
]

#: Version of the record layout written by :func:`make_record`.
RECORD_SCHEMA = 1


# -- progress -----------------------------------------------------------------
class ProgressBar:
    """A one-line progress bar on a terminal stream, usable as a ``progress(done, total)`` callback.

    Parameters
    ----------
    label : str
        Text in front of the bar.
    total : float, optional
        Amount of work; may also be given with each update (the callback
        convention of :func:`subriemann.integrate.integrate` and of the surveys).
    stream : file-like, optional
        Where to draw; default ``sys.stderr``.
    enabled : bool, optional
        Force the bar on or off.  Default: on only when ``stream`` is a TTY, so
        logs and pipes never receive carriage returns.
    delay : float
        Seconds of work before the bar first appears: short tasks stay silent.
    min_interval : float
        Minimum seconds between redraws.

    Examples
    --------
    >>> with ProgressBar("survey", enabled=False) as bar:
    ...     for i in range(10):
    ...         bar(i + 1, 10)
    """

    def __init__(
        self,
        label: str = "",
        total: float | None = None,
        stream=None,
        enabled: bool | None = None,
        delay: float = 1.0,
        min_interval: float = 0.1,
        width: int = 28,
    ):
        self.label = label
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.delay = float(delay)
        self.min_interval = float(min_interval)
        self.width = int(width)
        self.done = 0.0
        self._start = time.monotonic()
        self._last_draw = -math.inf
        self._drawn = False
        self._closed = False

    def __call__(self, done, total=None) -> None:
        """Record progress ``done`` out of ``total`` (the callback convention)."""
        self.update(done, total)

    def update(self, done, total=None) -> None:
        if total is not None:
            self.total = float(total)
        self.done = float(done)
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if now - self._start < self.delay and not (finished and self._drawn):
            return
        if now - self._last_draw < self.min_interval and not finished:
            return
        self._last_draw = now
        self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The bar as a string (without carriage return), e.g. ``label [####....]  40% 2.0s``."""
        elapsed = (time.monotonic() if now is None else now) - self._start
        if self.total and self.total > 0:
            frac = min(max(self.done / self.total, 0.0), 1.0)
            fill = int(round(frac * self.width))
            bar = "#" * fill + "." * (self.width - fill)
            eta = elapsed * (1.0 - frac) / frac if frac > 0 else math.inf
            eta_text = f" eta {eta:.0f}s" if math.isfinite(eta) and frac < 1.0 else ""
            count = (
                f" {int(self.done)}/{int(self.total)}"
                if float(self.total).is_integer() and float(self.done).is_integer()
                else ""
            )
            return f"{self.label} [{bar}] {100 * frac:3.0f}%{count} {elapsed:.1f}s{eta_text}"
        return f"{self.label} {self.done:g} {elapsed:.1f}s"

    def _draw(self, now: float) -> None:
        text = self.render(now)
        self.stream.write("\r" + text.ljust(getattr(self, "_last_len", 0)))
        self._last_len = len(text)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Finish the line (only if something was drawn)."""
        if self._closed:
            return
        if self.enabled and self._drawn:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(label: str, quiet: bool = False, stream=None, **kwargs) -> ProgressBar:
    """A :class:`ProgressBar` on stderr, switched off by ``quiet`` (the CLI's ``--quiet``)."""
    return ProgressBar(label, stream=stream, enabled=False if quiet else None, **kwargs)


# -- records ------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def provenance() -> dict:
    """Versions and platform of the current run (for a record's ``environment`` field)."""
    from subriemann import __version__

    return {
        "subriemann": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{name: _version(name) for name in ("numpy", "scipy", "autograd", "geomstats")},
        "matplotlib": _version("matplotlib"),
    }


def make_record(kind: str, config: Mapping, seed, results: Mapping, **extra) -> dict:
    """A self-describing run record: what was run (config, seed), with what, and what came out.

    Parameters
    ----------
    kind : str
        The run's kind (``"demo"``, ``"train"``, ``"frobenius"``, ``"survey"``);
        :func:`figures_from_record` dispatches on it.
    config : mapping
        Everything needed to re-run: architecture, data, flow, integrator, ε...
    seed : int or None
    results : mapping
        Scalars and arrays (numpy arrays are fine).

    Returns
    -------
    dict
        ``{"schema", "kind", "subriemann_version", "created", "environment",
        "config", "seed", "results", **extra}``, already JSON-safe.
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
    return to_jsonable(record)


def to_jsonable(obj):
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


def write_atomic(path, data) -> Path:
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


def write_json(path, record) -> Path:
    """Write ``record`` (made JSON-safe) to ``path`` atomically, creating parent folders.

    Returns the path.  A failed write leaves the previous file as it was (see
    :func:`write_atomic`).
    """
    text = json.dumps(to_jsonable(record), indent=2, allow_nan=False)
    return write_atomic(path, text + "\n")


def _json_type(value) -> str:
    names = {type(None): "null", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), {list: "array", str: "string"}.get(type(value), "value"))


def read_text(path, what: str, expected: str, error: type[InputError] = InputError) -> str:
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


def read_json(path) -> dict:
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


def write_csv(path, rows, header: Sequence[str] | None = None, comments: Mapping | None = None):
    """Write rows to CSV: a list of dicts, or a dict of equal-length columns.

    ``comments`` (e.g. version, config, seed) go first as ``# key: value``
    lines, so the table carries its own provenance.
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
    for key, value in (comments or {}).items():
        fh.write(f"# {key}: {json.dumps(to_jsonable(value))}\n")
    writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _csv_cell(r.get(k)) for k in header})
    return write_atomic(path, fh.getvalue())


def _csv_cell(value):
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps(value)
    return value


def format_table(rows: Sequence[tuple], header: Sequence[str] | None = None) -> str:
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


def format_value(value, spec: str = ".4g") -> str:
    """One value as text for a table: ``-`` for None, yes/no for booleans, floats by ``spec``."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return format(float(value), spec)
    return str(value)


# -- figures ------------------------------------------------------------------
def new_figure(width: float = 6.4, height: float = 4.0):
    """A matplotlib ``Figure`` with constrained layout, made without ``pyplot``.

    Every figure of the package starts here and is written by :func:`save_figure`:
    no screen, no global figure state, safe in worker processes and under test.
    Sizes in inches.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _figure(nrows: int = 1, ncols: int = 1, height: float = 4.0, **kw):
    """A :func:`new_figure` of 6.4-inch wide panels and its axes (``Figure.subplots``)."""
    fig = new_figure(6.4 * ncols, height * nrows)
    return fig, fig.subplots(nrows, ncols, **kw)


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically (:func:`write_atomic`); the format is the suffix's."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi))


def _positive(values):
    """Values for a log axis: non-positive and non-finite entries are masked (not clipped)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def plot_cost_law(
    curves: Mapping, C0: float, N: int, path, eps=None, s_stop=None, predictions=None
) -> Path:
    """log C(s) of each flow against the law C(0)e^{−2s/N}; lower panel: relative deviation.

    Draws the measured orbits against (1.14)/(2.6) and marks the a-priori
    stopping time (2.18).

    Parameters
    ----------
    curves : mapping label -> (s, cost)
        Arrays of equal length per flow.
    C0 : float
        C(0), common to all flows (same start).
    N : int
        Number of training inputs.
    path : path-like
        PNG to write.
    eps : float, optional
        Target cost ε (drawn as a horizontal line).
    s_stop : float, optional
        Predicted stopping time s_ε = (N/2) log(C0/ε) (vertical line).
    predictions : mapping label -> (s, cost), optional
        Other theory curves (e.g. the output-metric law), drawn dotted in the
        colour of the flow with the same label; the deviation panel then
        measures each flow against its own prediction.
    """
    predictions = dict(predictions or {})
    fig, (ax, ax_dev) = _figure(2, 1, height=3.0, sharex=True)
    s_max = max((float(np.nanmax(np.asarray(s, float))) for s, _ in curves.values()), default=1.0)
    if s_stop is not None:
        s_max = max(s_max, float(s_stop))
    grid = np.linspace(0.0, s_max, 200)
    for i, (label, (s, cost)) in enumerate(curves.items()):
        s, cost = np.asarray(s, float), np.asarray(cost, float)
        color = f"C{i}"
        ax.semilogy(
            s,
            _positive(cost),
            color=color,
            marker="o",
            ms=3,
            lw=2.0,
            alpha=0.75,
            label=f"{label} flow",
        )
        if label in predictions:
            ps, pc = (np.asarray(a, float) for a in predictions[label])
            ax.semilogy(
                ps, _positive(pc), color=color, ls=":", lw=1.5, label=f"prediction for {label}"
            )
            reference = pc
            dev_label = f"{label} vs its prediction"
        else:
            reference = C0 * np.exp(-2.0 * s / N)
            dev_label = f"{label} vs law (2.6)"
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.abs(cost / reference - 1.0)
        ax_dev.semilogy(
            s, _positive(deviation), color=color, marker="o", ms=3, lw=1.0, label=dev_label
        )
    ax.semilogy(
        grid,
        C0 * np.exp(-2.0 * grid / N),
        "k--",
        lw=1.0,
        zorder=5,
        label=r"law (2.6): $C(0)\,e^{-2s/N}$",
    )
    if eps is not None:
        ax.axhline(eps, color="grey", lw=0.8, ls=":", label=f"ε = {eps:g}")
    if s_stop is not None:
        for a in (ax, ax_dev):
            a.axvline(s_stop, color="grey", lw=0.8, ls="-.")
        ax.annotate(
            "stopping time (2.18)\n" + rf"$s_\varepsilon$ = {s_stop:.4g}",
            (s_stop, C0),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8,
        )
    ax.set_ylabel("cost C(s)  (log scale)")
    ax.set_title(f"Cost along the orbits vs the law (2.6), N = {N}")
    ax.legend(fontsize=8, loc="lower left")
    ax_dev.set_xlabel("flow time s")
    ax_dev.set_ylabel("relative deviation |C / prediction − 1|")
    ax_dev.legend(fontsize=8, loc="best")
    return save_figure(fig, path)


def plot_sigma_min(curves: Mapping, path, sigma_max: Mapping | None = None) -> Path:
    """σ_min(D[θ(s)]) along each orbit: the rank condition (2.1) holds while it stays > 0.

    Parameters
    ----------
    curves : mapping label -> (s, sigma_min)
    path : path-like
    sigma_max : mapping label -> (s, sigma_max), optional
        Drawn dashed, to show the condition number's spread.
    """
    fig, ax = _figure()
    for i, (label, (s, smin)) in enumerate(curves.items()):
        lines = [("σ_min", s, smin, {"marker": ".", "ms": 3})]
        if sigma_max and label in sigma_max:
            lines.append(("σ_max", *sigma_max[label], {"ls": "--", "lw": 0.8}))
        for name, s_line, values, style in lines:
            ax.semilogy(
                np.asarray(s_line, float),
                _positive(values),
                color=f"C{i}",
                label=f"{name}(D), {label}",
                **style,
            )
    ax.set_xlabel("flow time s")
    ax.set_ylabel("singular value of D[θ(s)]")
    ax.set_title("Rank condition (2.1) along the orbits: σ_min(D) > 0")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_trapping(curves: Mapping, path, bounds: Mapping | None = None, threshold=None) -> Path:
    """Trapping ratio ε(θ) = |Dᵀ∇ₓC| / |∇ₓC| (3.4) along each orbit.

    When rank D = QN, σ_min(D) ≤ ε(θ) ≤ σ_max(D); those bounds (from the
    singular values along the same orbit) are the theory lines.  Where ε(θ) is
    small the standard flow crawls (Prop. 3.1), while the adapted flow's
    output velocity is −∇ₓC whatever ε(θ) is.

    Parameters
    ----------
    curves : mapping label -> (s, ratio)
    path : path-like
    bounds : mapping label -> (s, sigma_min, sigma_max), optional
    threshold : float, optional
        A trapping threshold (horizontal line).
    """
    fig, ax = _figure()
    for i, (label, (s, ratio)) in enumerate(curves.items()):
        color = f"C{i}"
        s = np.asarray(s, float)
        ax.semilogy(s, _positive(ratio), color=color, marker=".", ms=3, label=f"ε(θ), {label}")
        if bounds and label in bounds:
            sb, lo, hi = (np.asarray(a, float) for a in bounds[label])
            ax.fill_between(
                sb,
                _positive(lo),
                _positive(hi),
                color=color,
                alpha=0.12,
                label=f"[σ_min, σ_max] of D, {label}",
            )
    if threshold is not None:
        ax.axhline(threshold, color="grey", lw=0.8, ls=":", label=f"threshold {threshold:g}")
    ax.set_xlabel("flow time s")
    ax.set_ylabel("ε(θ) = |Dᵀ∇ₓC| / |∇ₓC|")
    ax.set_title("Trapping ratio (3.4) along the orbits")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_frobenius(relative_defects, path, tolerance: float, labels=None, title=None) -> Path:
    """Relative Frobenius defect at sample points against the involutivity tolerance.

    A distribution is involutive (2.31) where the defect is below the tolerance;
    points above it are evidence of non-integrability (a sub-Riemannian
    structure (2.33)).

    Parameters
    ----------
    relative_defects : array-like, shape=[n_points]
    path : path-like
    tolerance : float
        The tolerance of the verdict (horizontal line).
    labels : sequence of str, optional
        One per point (e.g. seeds).
    """
    values = np.asarray(relative_defects, float)
    fig, ax = _figure()
    x = np.arange(values.size)
    # exact zeros (constant frames) cannot sit on a log axis: draw them at the floor
    floor = max(float(tolerance), 1e-300) * 1e-3
    shown = np.where(values > floor, values, floor)
    failing = values > tolerance
    ax.vlines(x, floor, shown, color="lightgrey", lw=1.0)
    ax.scatter(x[failing], shown[failing], color="C3", zorder=3, label="not involutive at p")
    ax.scatter(x[~failing], shown[~failing], color="C2", zorder=3, label="involutive at p")
    ax.axhline(tolerance, color="k", ls="--", lw=1.0, label=f"tolerance {tolerance:.2g}")
    ax.set_yscale("log")
    ax.set_ylim(floor, max(1.0, float(np.max(shown)) * 10))
    ax.set_xticks(x, labels if labels is not None else [str(i) for i in x], fontsize=8)
    ax.set_xlabel("sample point")
    ax.set_ylabel("relative Frobenius defect |Ω_p| / scale")
    ax.set_title(title or "Frobenius test (2.31): defect per point")
    ax.legend(fontsize=8, loc="center right")
    return save_figure(fig, path)


def plot_growth_vector(growth, dim: int, path, title=None) -> Path:
    """Growth vector (dim Δ, dim Δ², ...) of a distribution against the ambient dimension.

    Reaching ``dim`` means the distribution is bracket generating (Chow–Rashevskii).
    """
    growth = [int(g) for g in growth]
    fig, ax = _figure()
    steps = np.arange(1, len(growth) + 1)
    ax.step(steps, growth, where="mid", marker="o", label="dim Δ^k")
    ax.axhline(dim, color="k", ls="--", lw=1.0, label=f"ambient dimension {dim}")
    ax.set_xticks(steps)
    ax.set_ylim(0, dim + 1)
    ax.set_xlabel("bracket step k")
    ax.set_ylabel("dim Δ^k (rank of the k-th derived distribution)")
    ax.set_title(title or f"Growth vector {tuple(growth)}")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(container, key, where, kinds, expected, optional=False):
    """``container[key]`` of one of ``kinds``; a missing or wrong field names its path."""
    name = f"{where}.{key}" if where else key
    value = container.get(key) if isinstance(container, Mapping) else None
    if value is None:
        if optional:
            return None
        raise InputError(f"record field '{name}' is missing; expected {expected}")
    # JSON true/false are Python bools, which are also ints: never a size or a value here
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InputError(f"record field '{name}' must be {expected}, got {_short(value)}")
    return value


def _curve(container, key, where, length=None, optional=False):
    """A stored array: a flat list of numbers (``null`` for NaN), as float64."""
    expected = "a flat list of numbers (null for NaN)"
    values = _field(container, key, where, list, expected, optional)
    if values is None:
        return None
    if any(
        v is not None and (isinstance(v, bool) or not isinstance(v, int | float)) for v in values
    ):
        raise InputError(f"record field '{where}.{key}' must be {expected}, got {_short(values)}")
    if length is not None and len(values) != length:
        raise InputError(
            f"record field '{where}.{key}' has {len(values)} values; expected {length}, "
            f"one per entry of '{where}.s'"
        )
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _orbit_arrays(results) -> dict:
    """The orbit arrays of each flow of a ``demo``/``train`` record, checked."""
    flows = _field(results, "flows", "results", Mapping, "an object with one entry per flow")
    if not flows:
        raise InputError("record field 'results.flows' is empty; there is no orbit to draw")
    orbits = {}
    for name, flow in flows.items():
        where = f"results.flows.{name}"
        orbit = _field(flow, "orbit", where, Mapping, "an object of orbit arrays")
        where += ".orbit"
        s = _curve(orbit, "s", where)
        n = len(s)
        orbits[name] = {
            "s": s,
            "cost": _curve(orbit, "cost", where, n),
            "sigma_min": _curve(orbit, "sigma_min", where, n),
            **{
                k: _curve(orbit, k, where, n, optional=True)
                for k in ("sigma_max", "trapping_ratio", "metric_law_cost")
            },
        }
    return orbits


def figures_from_record(record: Mapping, outdir) -> list[Path]:
    """Redraw the figures of a run record (as written by the CLI) into ``outdir``.

    ``demo``/``train`` records hold, per flow, the arrays ``s, cost, sigma_min,
    sigma_max, trapping_ratio``; ``frobenius`` records hold the defects per
    point and, for catalog entries, the growth vector.

    Raises
    ------
    InputError
        The record is not of this form: an unknown ``kind``, a missing or
        mistyped field, arrays of unequal lengths, nothing to draw.  The
        message names the field (e.g. ``results.flows.adapted.orbit.s``).
        Every field is checked before the first figure is written.
    """
    if not isinstance(record, Mapping):
        raise InputError(f"a record must be a JSON object, got {_short(record)}")
    outdir = Path(outdir)
    kind = record.get("kind")
    if kind not in ("demo", "train", "frobenius"):
        raise InputError(
            f"cannot draw figures for a record of kind {kind!r}; expected 'demo', 'train' or "
            "'frobenius' (survey figures are drawn from the survey's CSV by SurveyResult.plot)"
        )
    results = _field(record, "results", "", Mapping, "an object of results")
    paths: list[Path] = []
    number = (int, float)
    if kind in ("demo", "train"):
        orbits = _orbit_arrays(results)
        C0 = _field(results, "C0", "results", number, "a number C(0)")
        N = _field(results, "N", "results", int, "the number of samples N")
        eps = _field(results, "eps", "results", number, "a number", optional=True)
        s_stop = _field(results, "stopping_time", "results", number, "a number", optional=True)
        paths.append(
            plot_cost_law(
                {name: (o["s"], o["cost"]) for name, o in orbits.items()},
                C0=C0,
                N=N,
                path=outdir / "cost_law.png",
                eps=eps,
                s_stop=s_stop,
                predictions={
                    name: (o["s"], o["metric_law_cost"])
                    for name, o in orbits.items()
                    if o["metric_law_cost"] is not None
                },
            )
        )
        paths.append(
            plot_sigma_min(
                {name: (o["s"], o["sigma_min"]) for name, o in orbits.items()},
                outdir / "sigma_min.png",
                sigma_max={
                    name: (o["s"], o["sigma_max"])
                    for name, o in orbits.items()
                    if o["sigma_max"] is not None
                },
            )
        )
        trapping = {
            n: (o["s"], o["trapping_ratio"])
            for n, o in orbits.items()
            if o["trapping_ratio"] is not None
        }
        if trapping:
            paths.append(
                plot_trapping(
                    trapping,
                    outdir / "trapping.png",
                    bounds={
                        n: (o["s"], o["sigma_min"], o["sigma_max"])
                        for n, o in orbits.items()
                        if o["sigma_max"] is not None and n in trapping
                    },
                )
            )
        return paths
    # frobenius: defects per point and/or the growth vector
    points = _field(results, "points", "results", list, "a list of points", optional=True) or []
    growth = _field(results, "growth_vector", "results", list, "a list of integers", optional=True)
    if not points and not growth:
        raise InputError(
            "record fields 'results.points' and 'results.growth_vector' are both missing or "
            "empty; there is nothing to draw"
        )
    title_name = results.get("name", "the distribution")
    if points:
        tolerance = _field(results, "tolerance", "results", number, "a number")
        defects = []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping):
                raise InputError(
                    f"record field 'results.points[{i}]' must be an object, got {_short(p)}"
                )
            value = _field(p, "relative_defect", f"results.points[{i}]", number, "a number", True)
            defects.append(np.nan if value is None else float(value))
        paths_args = {
            "tolerance": tolerance,
            "labels": [str(p.get("label", i)) for i, p in enumerate(points)],
            "title": f"Frobenius test of {title_name}",
        }
    if growth:
        dim = _field(results, "dim", "results", int, "the ambient dimension (an integer)")
        if any(isinstance(g, bool) or not isinstance(g, int) for g in growth):
            raise InputError(
                f"record field 'results.growth_vector' must be a list of integers, got {_short(growth)}"
            )
    if points:
        paths.append(plot_frobenius(defects, outdir / "frobenius.png", **paths_args))
    if growth:
        paths.append(
            plot_growth_vector(
                growth, dim, outdir / "growth_vector.png", title=f"Growth vector of {title_name}"
            )
        )
    return paths
