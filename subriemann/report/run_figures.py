"""The figures of a training or Frobenius run, and their regeneration from a stored record.

Each figure has two entry points: ``*_figure(...)`` draws it and returns the
:class:`matplotlib.figure.Figure` (for tests and notebooks), ``plot_*(..., path)``
draws it and saves a PNG through :func:`~subriemann.report.canvas.save_figure`.

A figure draws only the theory that applies to the run it shows:

* the Euclidean cost law (2.6) C(s) = e^{−2s/N}C(0) and the stopping time (2.18)
  for the adapted flow where rank D = QN (Theorem 2.1);
* the output-metric law C_G(s) = |exp(−sG⁻¹/N)(x(0) − y_ω)|²/(2N) and its
  stopping time for the adapted flow with a constant output metric G
  (:func:`~subriemann.flows.theory.output_metric_cost_law`);
* the limit (5.7), (N/2)|P^⊥∇ₓC|², for the under-parametrized flow (5.2): the
  cost there tends to a generically positive value, not to 0 (Remark 5.2);
* no law for the standard flow (1.9): nothing predicts its cost a priori.

The time axis is cropped to the run (:data:`S_MARGIN`), legends sit outside
the axes (never on the data), labels are matplotlib mathtext, and discrete
data (the growth vector) are drawn at the integers only.
:func:`record_figures` redraws the figures of a stored record (``subriemann
replot``), checking every field before the first figure is drawn.

Why one module (over 600 lines): the figures and the record reader share one
decision, which law applies to which flow (:data:`LAWS`, ``_law_of``); split
apart, the reader would have to restate what each figure draws.  The reader
(``_field`` … :func:`figures_from_record`, ~240 lines) can move to a module of
its own once :mod:`subriemann.report` re-exports it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError
from subriemann.report.canvas import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Curves",
    "S_MARGIN",
    "LAWS",
    "cost_law_figure",
    "plot_cost_law",
    "sigma_min_figure",
    "plot_sigma_min",
    "trapping_figure",
    "plot_trapping",
    "frobenius_figure",
    "plot_frobenius",
    "growth_vector_figure",
    "plot_growth_vector",
    "record_figures",
    "figures_from_record",
]

#: Curves of a figure: label -> (s, values), arrays of equal length per label (values the
#: cost, σ_min(D), σ_max(D) or the trapping ratio, by figure).
Curves = Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]]

#: The time axis spans the run's flow times plus this fraction of their range on each side.
S_MARGIN = 0.02

#: The laws :func:`cost_law_figure` can draw for a flow (``None``: no law, the standard flow).
LAWS = ("euclidean", "output-metric", "limit")

_EUCLIDEAN_LABEL = r"law (2.6): $C(0)\,e^{-2s/N}$"
_LAW_LABELS = {
    "output-metric": r"G-law, {flow}: $|e^{-sG^{-1}/N}(x(0) - y_\omega)|^2/(2N)$",
    "limit": r"(5.7) along the {flow} orbit: $\frac{N}{2}|P^\perp \nabla_x C|^2$",
}
_DEVIATION_LABELS = {
    "euclidean": "{flow} vs law (2.6)",
    "output-metric": "{flow} vs its G-law",
    "limit": "{flow} vs (5.7): 0 at a critical point",
}


def _figure(nrows: int = 1, height: float = 4.0, width: float = 8.6, **kw):
    """A :func:`new_figure` of ``nrows`` panels (room on the right for the legends)."""
    fig = new_figure(width, height * nrows)
    return fig, fig.subplots(nrows, 1, **kw)


def _positive(values):
    """Values for a log axis: non-positive and non-finite entries are masked (not clipped)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def _legend_outside(ax: Axes) -> None:
    """The legend to the right of the axes: it can never cover a data point."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _crop_to_run(ax: Axes, times) -> tuple[float, float]:
    """x-limits: the flow times of the run, widened by :data:`S_MARGIN` of their range."""
    finite = [t[np.isfinite(t)] for t in (np.asarray(a, float) for a in times)]
    finite = [t for t in finite if t.size]
    lo = min((float(t.min()) for t in finite), default=0.0)
    hi = max((float(t.max()) for t in finite), default=1.0)
    pad = S_MARGIN * (hi - lo) if hi > lo else 0.5
    ax.set_xlim(lo - pad, hi + pad)
    return lo, hi


def _note(ax: Axes, label: str) -> None:
    """A legend entry without a mark: a value that lies outside the cropped axes."""
    ax.plot([], [], ls="none", label=label)


def _flow_laws(curves: Curves, predictions: Mapping, laws: Mapping | None) -> dict:
    """The law of each flow: ``laws`` as given; by default none for ``standard``, else as predicted."""
    if laws is None:
        return {
            name: None
            if name == "standard"
            else "output-metric"
            if name in predictions
            else "euclidean"
            for name in curves
        }
    out = {}
    for name in curves:
        law = laws.get(name)
        if law is not None and law not in LAWS:
            raise InputError(f"law of flow {name!r} must be one of {LAWS} or None, got {law!r}")
        if law in ("output-metric", "limit") and name not in predictions:
            raise InputError(
                f"flow {name!r} has law {law!r} but no prediction curve; pass "
                f"predictions={{{name!r}: (s, cost)}}"
            )
        out[name] = law
    return out


def cost_law_figure(
    curves: Curves,
    C0: float,
    N: int,
    eps: float | None = None,
    s_stop: float | None = None,
    predictions: Mapping | None = None,
    *,
    laws: Mapping | None = None,
    stop_label: str = "stopping time (2.18)",
) -> Figure:
    """log C(s) of each flow against the law that applies to it; lower panel: relative deviation.

    Per flow, ``laws[label]`` names the prediction drawn next to its cost:
    ``"euclidean"`` the law (1.14)/(2.6) C(0)e^{−2s/N} (the adapted flow where
    rank D = QN, Theorem 2.1); ``"output-metric"`` the G-law of a constant output
    metric (``predictions[label]``, from
    :func:`~subriemann.flows.theory.output_metric_cost_law`); ``"limit"`` the
    value (5.7), (N/2)|P^⊥∇ₓC|², along the orbit of the under-parametrized
    flow (5.2) (``predictions[label]``), which the cost meets at a critical
    point; ``None`` no law (the standard flow (1.9)).  The lower panel, drawn
    when some flow has a law, shows |C/prediction − 1| for those flows.

    The time axis is the run's (:data:`S_MARGIN`): a stopping time (2.18) or a
    target ε outside the drawn range is named in the legend, not drawn.

    Parameters
    ----------
    curves : mapping label -> (s, cost)
        Arrays of equal length per flow.
    C0 : float
        C(0), common to the flows with the law (2.6) (same start).
    N : int
        Number of training inputs.
    eps : float, optional
        Target cost ε (a horizontal line).
    s_stop : float, optional
        The predicted stopping time (a vertical line), e.g. (2.18)
        s_ε = (N/2) log(C(0)/ε).
    predictions : mapping label -> (s, cost), optional
        The prediction curves of the flows whose law is ``"output-metric"`` or
        ``"limit"``, drawn in the colour of the flow.
    laws : mapping label -> str or None, optional
        One of :data:`LAWS` or ``None`` per flow.  Default: ``None`` for the
        flow labelled ``"standard"``, ``"output-metric"`` for the flows in
        ``predictions``, ``"euclidean"`` for the others.  Pass it whenever a
        flow is not the adapted over-parametrized one (an under-parametrized
        run does not follow (2.6)).
    stop_label : str
        What ``s_stop`` is, for the legend.

    Raises
    ------
    InputError
        An unknown law, or a law without its prediction curve.
    """
    predictions = dict(predictions or {})
    flow_laws = _flow_laws(curves, predictions, laws)
    with_law = [name for name, law in flow_laws.items() if law is not None]
    fig, axes = _figure(2 if with_law else 1, height=3.0, sharex=True)
    ax, ax_dev = (axes[0], axes[1]) if with_law else (axes, None)
    lo, hi = _crop_to_run(ax, [s for s, _ in curves.values()])
    euclidean_end = None
    shown = []
    for i, (label, (s, cost)) in enumerate(curves.items()):
        s, cost = np.asarray(s, float), np.asarray(cost, float)
        color, law = f"C{i}", flow_laws[label]
        name = f"{label} flow" + ("" if law else " (no a-priori law)")
        ax.semilogy(
            s, _positive(cost), color=color, marker="o", ms=3, lw=2.0, alpha=0.75, label=name
        )
        shown.append(cost)
        if law is None or ax_dev is None:  # ax_dev is None only when no flow has a law
            continue
        if law == "euclidean":
            reference = C0 * np.exp(-2.0 * s / N)
            euclidean_end = max(euclidean_end or lo, float(np.nanmax(s)))
        else:
            ps, reference = (np.asarray(a, float) for a in predictions[label])
            # the G-law in black on top: an orbit that follows it would hide a line of its colour
            ls, line_color = (":", "k") if law == "output-metric" else ("-.", color)
            ax.semilogy(
                ps,
                _positive(reference),
                color=line_color,
                ls=ls,
                zorder=5,
                lw=1.5,
                label=_LAW_LABELS[law].replace("{flow}", label),
            )
            shown.append(reference)
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.abs(cost / reference - 1.0)
        ax_dev.semilogy(
            s,
            _positive(deviation),
            color=color,
            marker="o",
            ms=3,
            lw=1.0,
            label=_DEVIATION_LABELS[law].replace("{flow}", label),
        )
    if euclidean_end is not None:
        grid = np.linspace(lo, euclidean_end, 200)
        law_cost = C0 * np.exp(-2.0 * grid / N)
        ax.semilogy(grid, law_cost, "k--", lw=1.0, zorder=5, label=_EUCLIDEAN_LABEL)
        shown.append(law_cost)
    data = np.concatenate([_positive(c) for c in shown]) if shown else np.array([np.nan])
    floor = np.nanmin(data) if np.any(np.isfinite(data)) else None
    if eps is not None:
        if floor is None or eps >= floor / 10.0:
            ax.axhline(eps, color="grey", lw=0.8, ls=":", label=f"target ε = {eps:g}")
        else:  # a line decades below the data would squash them into the top of the panel
            _note(ax, f"target ε = {eps:g} (below the drawn range: not reached)")
    if s_stop is not None:
        stop = f"{stop_label}: " + r"$s_\varepsilon$" + f" = {s_stop:.4g}"
        if s_stop <= hi + S_MARGIN * (hi - lo):
            for a in filter(None, (ax, ax_dev)):
                a.axvline(s_stop, color="grey", lw=0.8, ls="-.", label=stop if a is ax else None)
        else:
            _note(ax, stop + " (after the run's end)")
    ax.set_ylabel("cost C(s)  (log scale)")
    drawn = sorted({law for law in flow_laws.values() if law}, key=LAWS.index)
    names = {"euclidean": "law (2.6)", "output-metric": "G-law", "limit": "limit (5.7)"}
    against = " vs " + ", ".join(names[law] for law in drawn) if drawn else ""
    ax.set_title(f"Cost along the orbits{against}, N = {N}")
    _legend_outside(ax)
    bottom = ax
    if ax_dev is not None:
        ax_dev.set_ylabel("|C / prediction − 1|")
        _legend_outside(ax_dev)
        bottom = ax_dev
    bottom.set_xlabel("flow time s")
    return fig


def plot_cost_law(
    curves: Curves,
    C0: float,
    N: int,
    path: str | os.PathLike,
    *args: Any,
    **kwargs: Any,
) -> Path:
    """Draw :func:`cost_law_figure` ((2.6), the G-law or (5.7) per flow) and save it to ``path``.

    ``args``/``kwargs`` are those of :func:`cost_law_figure` after ``N``
    (``eps, s_stop, predictions``, keyword-only ``laws, stop_label``).
    """
    return save_figure(cost_law_figure(curves, C0, N, *args, **kwargs), path)


def _semilogy_series(ax: Axes, series, name: str) -> None:
    """One log-scale line per (label, s, values, style), coloured by the flow's index."""
    for i, label, s, values, style in series:
        ax.semilogy(
            np.asarray(s, float),
            _positive(values),
            color=f"C{i}",
            label=f"{name}, {label}",
            **style,
        )


def sigma_min_figure(curves: Curves, sigma_max: Mapping | None = None) -> Figure:
    """σ_min(D[θ(s)]) along each orbit: the rank condition (2.1) holds while it stays > 0.

    Parameters
    ----------
    curves : mapping label -> (s, sigma_min)
    sigma_max : mapping label -> (s, sigma_max), optional
        Drawn dashed, to show the condition number's spread.
    """
    fig, ax = _figure()
    for i, (label, (s, smin)) in enumerate(curves.items()):
        _semilogy_series(ax, [(i, label, s, smin, {"marker": ".", "ms": 3})], r"$\sigma_{\min}(D)$")
        if sigma_max and label in sigma_max:
            s_max, smax = sigma_max[label]
            _semilogy_series(
                ax, [(i, label, s_max, smax, {"ls": "--", "lw": 0.8})], r"$\sigma_{\max}(D)$"
            )
    _crop_to_run(ax, [s for s, _ in curves.values()])
    ax.set_xlabel("flow time s")
    ax.set_ylabel(r"singular value of $D[\theta(s)]$")
    ax.set_title(r"Rank condition (2.1) along the orbits: $\sigma_{\min}(D) > 0$")
    _legend_outside(ax)
    return fig


def plot_sigma_min(
    curves: Curves, path: str | os.PathLike, sigma_max: Mapping | None = None
) -> Path:
    """Draw :func:`sigma_min_figure` (the rank condition (2.1)) and save it to ``path``."""
    return save_figure(sigma_min_figure(curves, sigma_max), path)


_RATIO = r"$|D^T\nabla_x C| \,/\, |\nabla_x C|$"
_HATCHES = ("//", "\\\\", "||", "--", "xx", "..")


def trapping_figure(
    curves: Curves, bounds: Mapping | None = None, threshold: float | None = None
) -> Figure:
    """The trapping ratio |Dᵀ∇ₓC| / |∇ₓC| of (3.4) along each orbit, with its singular-value bounds.

    The standard flow (3.7) moves θ at speed |Dᵀ∇ₓC|; where this ratio is
    below a small ε on a region, Prop. 3.1 bounds the time spent there from
    below (3.6), while the adapted flow's output velocity is −∇ₓC whatever the
    ratio is.  When rank D = QN, σ_min(D) ≤ ratio ≤ σ_max(D) (|Dᵀv| ≥ σ_QN|v|);
    otherwise only the upper bound σ_max(D) holds.  Each flow's band has its own
    colour and hatch, and its edges are drawn as lines.

    Parameters
    ----------
    curves : mapping label -> (s, ratio)
    bounds : mapping label -> (s, lower, upper), optional
        ``lower`` = σ_min(D) where rank D = QN, NaN (or ``None`` for the whole
        orbit) where the lower bound does not hold; ``upper`` = σ_max(D).
    threshold : float, optional
        The ε of (3.4) (a horizontal line).
    """
    fig, ax = _figure()
    for i, (label, (s, ratio)) in enumerate(curves.items()):
        color = f"C{i}"
        ax.semilogy(
            np.asarray(s, float),
            _positive(ratio),
            color=color,
            marker=".",
            ms=3,
            lw=1.5,
            zorder=4,
            label=f"{label} flow",
        )
        if not bounds or label not in bounds:
            continue
        sb, lower, upper = bounds[label]
        sb, upper = np.asarray(sb, float), _positive(upper)
        lower = np.full_like(sb, np.nan) if lower is None else _positive(lower)
        ax.semilogy(
            sb, upper, color=color, ls="--", lw=0.9, label=rf"$\sigma_{{\max}}(D)$, {label}"
        )
        if np.any(np.isfinite(lower)):
            ax.semilogy(
                sb,
                lower,
                color=color,
                ls=":",
                lw=0.9,
                label=rf"$\sigma_{{\min}}(D)$ (rank $D$ = QN), {label}",
            )
            ax.fill_between(
                sb,
                lower,
                upper,
                where=np.isfinite(lower),
                facecolor="none",
                edgecolor=color,
                hatch=_HATCHES[i % len(_HATCHES)],
                lw=0.0,
                alpha=0.5,
                label=f"bounds of the ratio, {label}",
            )
    if threshold is not None:
        ax.axhline(threshold, color="k", lw=0.8, ls="-.", label=f"ε of (3.4) = {threshold:g}")
    _crop_to_run(ax, [s for s, _ in curves.values()])
    ax.set_xlabel("flow time s")
    ax.set_ylabel("trapping ratio " + _RATIO)
    ax.set_title("Trapping ratio (3.4) along the orbits")
    _legend_outside(ax)
    return fig


def plot_trapping(
    curves: Curves,
    path: str | os.PathLike,
    bounds: Mapping | None = None,
    threshold: float | None = None,
) -> Path:
    """Draw :func:`trapping_figure` (the ratio of (3.4)) and save it to ``path``."""
    return save_figure(trapping_figure(curves, bounds, threshold), path)


def frobenius_figure(
    relative_defects: npt.ArrayLike,
    tolerance: float,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Relative Frobenius defect at sample points against the involutivity tolerance.

    A distribution is involutive (2.31) where the defect is below the tolerance;
    points above it are evidence of non-integrability (a sub-Riemannian
    structure (2.33)).  The points are discrete: markers at the integers.

    Parameters
    ----------
    relative_defects : array-like, shape=[n_points]
    tolerance : float
        The tolerance of the verdict (horizontal line).
    labels : sequence of str, optional
        One per point (e.g. seeds).
    title : str, optional
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
    ax.set_ylim(floor, max(1.0, float(np.max(shown, initial=floor)) * 10))
    ax.set_xlim(-0.5, values.size - 0.5)
    ax.set_xticks(x, labels if labels is not None else [str(i) for i in x], fontsize=8)
    ax.set_xlabel("sample point")
    ax.set_ylabel(r"relative Frobenius defect $|\Omega_p|$ / scale")
    ax.set_title(title or "Frobenius test (2.31): defect per point")
    _legend_outside(ax)
    return fig


def plot_frobenius(
    relative_defects: npt.ArrayLike,
    path: str | os.PathLike,
    tolerance: float,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Draw :func:`frobenius_figure` (the test (2.31) per point) and save it to ``path``."""
    return save_figure(frobenius_figure(relative_defects, tolerance, labels, title), path)


def growth_vector_figure(growth: Iterable[int], dim: int, title: str | None = None) -> Figure:
    """Growth vector (dim Δ¹, dim Δ², ...) of the Lie flag against the ambient dimension.

    The Lie flag is Δ¹ = Δ, Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] (see
    :mod:`subriemann.distributions.growth`; not the derived flag, whose next
    term is Δ + [Δ, Δ] of the previous one).  Reaching ``dim`` means the
    distribution is bracket generating (Chow–Rashevskii).  k is an integer:
    the values are drawn as stems at k = 1, 2, ..., nothing in between.
    """
    growth = [int(g) for g in growth]
    fig, ax = _figure()
    steps = np.arange(1, len(growth) + 1)
    ax.vlines(steps, 0, growth, color="C0", lw=2.0)
    ax.plot(steps, growth, "o", color="C0", ls="none", label=r"$\dim\,\Delta^k_p$")
    ax.axhline(dim, color="k", ls="--", lw=1.0, label=f"ambient dimension {dim}")
    ax.set_xticks(steps)
    ax.set_xlim(0.5, len(growth) + 0.5)
    ax.set_ylim(0, dim + 1)
    ax.set_yticks(np.arange(0, dim + 2, max(1, (dim + 1) // 8)))  # dimensions: integers
    ax.set_xlabel("bracket length k (Lie flag step)")
    ax.set_ylabel(r"$\dim\,\Delta^k$,  $\Delta^k = \Delta^{k-1} + [\Delta, \Delta^{k-1}]$")
    ax.set_title(title or f"Growth vector {tuple(growth)}")
    _legend_outside(ax)
    return fig


def plot_growth_vector(
    growth: Iterable[int], dim: int, path: str | os.PathLike, title: str | None = None
) -> Path:
    """Draw :func:`growth_vector_figure` (the Lie flag's growth) and save it to ``path``."""
    return save_figure(growth_vector_figure(growth, dim, title), path)


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
    """The orbit arrays and the regimes of each flow of a ``demo``/``train`` record, checked."""
    flows = _field(results, "flows", "results", Mapping, "an object with one entry per flow")
    if not flows:
        raise InputError("record field 'results.flows' is empty; there is no orbit to draw")
    orbits = {}
    for name, flow in flows.items():
        where = f"results.flows.{name}"
        orbit = _field(flow, "orbit", where, Mapping, "an object of orbit arrays")
        regimes = _field(flow, "regimes", where, list, "a list of regime names", optional=True)
        where += ".orbit"
        s = _curve(orbit, "s", where)
        n = len(s)
        orbits[name] = {
            "s": s,
            "cost": _curve(orbit, "cost", where, n),
            "sigma_min": _curve(orbit, "sigma_min", where, n),
            "regimes": regimes,
            **{
                k: _curve(orbit, k, where, n, optional=True)
                for k in ("rank", "sigma_max", "trapping_ratio", "metric_law_cost")
            },
        }
    return orbits


def _limit_along_orbit(s, cost, N):
    """(N/2)|P^⊥∇ₓC|² along an orbit of (5.2), from its cost: C + (N/2) dC/ds.

    C = (N/2)|∇ₓC|² for the L² cost (1.7), split by the projector P (5.4) into
    (N/2)(|P∇ₓC|² + |P^⊥∇ₓC|²), and (5.12) gives dC/ds = −|P∇ₓC|²; so
    (N/2)|P^⊥∇ₓC|² = C + (N/2) dC/ds, the value (5.7) that the cost takes at a
    critical point.  dC/ds by second-order differences on the recorded
    (non-uniform) times; NaN where fewer than three distinct times exist.
    """
    s, cost = np.asarray(s, float), np.asarray(cost, float)
    keep = np.concatenate([[True], np.diff(s) > 0])  # repeated times (events) carry no slope
    out = np.full_like(cost, np.nan)
    if np.count_nonzero(keep) >= 3:
        slope = np.gradient(cost[keep], s[keep], edge_order=2)
        out[keep] = cost[keep] + 0.5 * N * slope
    return out


def _law_of(name: str, orbit: Mapping, regime) -> str | None:
    """The law that applies to a recorded flow (see :func:`cost_law_figure`)."""
    if name == "standard":  # the standard flow (1.9): no a-priori law
        return None
    if orbit["metric_law_cost"] is not None:
        return "output-metric"
    regimes = set(orbit["regimes"] or ([regime] if isinstance(regime, str) else []))
    if regimes <= {"over", "borderline"}:  # rank D = QN along the orbit: Theorem 2.1
        return "euclidean"
    if regimes == {"under"}:
        return "limit"
    return None  # a rank loss (4.5) on the way: no closed-form law


def _run_figures(results) -> dict:
    """The cost, σ_min and trapping figures of a ``demo``/``train`` record's results."""
    number = (int, float)
    orbits = _orbit_arrays(results)
    C0 = _field(results, "C0", "results", number, "a number C(0)")
    N = _field(results, "N", "results", int, "the number of samples N")
    eps = _field(results, "eps", "results", number, "a number", optional=True)
    s_stop = _field(results, "stopping_time", "results", number, "a number", optional=True)
    QN = _field(results, "QN", "results", int, "the output dimension QN", optional=True)
    regime = results.get("regime")
    laws = {name: _law_of(name, o, regime) for name, o in orbits.items()}
    predictions = {}
    for name, o in orbits.items():
        if laws[name] == "output-metric":
            predictions[name] = (o["s"], o["metric_law_cost"])
        elif laws[name] == "limit":
            predictions[name] = (o["s"], _limit_along_orbit(o["s"], o["cost"], N))
    # the stored stopping time is that of the Euclidean law (2.18) or of the G-law
    if "output-metric" in laws.values():
        stop_label = "stopping time of the G-law"
    elif "euclidean" in laws.values() and results.get("stopping_time_law", "(2.18)") == "(2.18)":
        stop_label = "stopping time (2.18)"
    else:
        s_stop, stop_label = None, ""
    figures = {
        "cost_law.png": cost_law_figure(
            {name: (o["s"], o["cost"]) for name, o in orbits.items()},
            C0=C0,
            N=N,
            eps=eps,
            s_stop=s_stop,
            predictions=predictions,
            laws=laws,
            stop_label=stop_label,
        ),
        "sigma_min.png": sigma_min_figure(
            {name: (o["s"], o["sigma_min"]) for name, o in orbits.items()},
            sigma_max={
                n: (o["s"], o["sigma_max"]) for n, o in orbits.items() if o["sigma_max"] is not None
            },
        ),
    }
    trapping = {n: o for n, o in orbits.items() if o["trapping_ratio"] is not None}
    if trapping:
        bounds = {}
        for n, o in trapping.items():
            if o["sigma_max"] is None:
                continue
            # σ_min(D) bounds the ratio from below only where rank D = QN
            full = (
                np.ones(len(o["s"]), bool) if QN is None or o["rank"] is None else o["rank"] == QN
            )
            bounds[n] = (o["s"], np.where(full, o["sigma_min"], np.nan), o["sigma_max"])
        figures["trapping.png"] = trapping_figure(
            {n: (o["s"], o["trapping_ratio"]) for n, o in trapping.items()}, bounds=bounds
        )
    return figures


def _frobenius_figures(results) -> dict:
    """The defect-per-point and growth-vector figures of a ``frobenius`` record's results."""
    number = (int, float)
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
    if growth:
        dim = _field(results, "dim", "results", int, "the ambient dimension (an integer)")
        if any(isinstance(g, bool) or not isinstance(g, int) for g in growth):
            raise InputError(
                f"record field 'results.growth_vector' must be a list of integers, got {_short(growth)}"
            )
    figures = {}
    if points:
        figures["frobenius.png"] = frobenius_figure(
            defects,
            tolerance,
            labels=[str(p.get("label", i)) for i, p in enumerate(points)],
            title=f"Frobenius test of {title_name}",
        )
    if growth:
        figures["growth_vector.png"] = growth_vector_figure(
            growth, dim, title=f"Growth vector of {title_name}"
        )
    return figures


def record_figures(record: Mapping) -> dict[str, Figure]:
    """The figures of a run record (as written by the CLI), by file name, not yet saved.

    ``demo``/``train`` records hold, per flow, the arrays ``s, cost, sigma_min``
    and optionally ``rank, sigma_max, trapping_ratio, metric_law_cost``;
    ``frobenius`` records hold the defects per point and, for catalog entries,
    the growth vector.  The law drawn for each flow is the one that applies to
    it (see :func:`cost_law_figure`): none for the flow labelled ``standard``,
    the G-law where the record has ``metric_law_cost``, (2.6) where the flow's
    ``regimes`` are over/borderline, (5.7) where they are under.

    Raises
    ------
    InputError
        The record is not of this form: an unknown ``kind``, a missing or
        mistyped field, arrays of unequal lengths, nothing to draw.  The
        message names the field (e.g. ``results.flows.adapted.orbit.s``).
        Every field is checked before the first figure is drawn.
    """
    if not isinstance(record, Mapping):
        raise InputError(f"a record must be a JSON object, got {_short(record)}")
    kind = record.get("kind")
    if kind not in ("demo", "train", "frobenius"):
        raise InputError(
            f"cannot draw figures for a record of kind {kind!r}; expected 'demo', 'train' or "
            "'frobenius' (survey figures are drawn from the survey's CSV by SurveyResult.plot)"
        )
    results = _field(record, "results", "", Mapping, "an object of results")
    if kind in ("demo", "train"):
        return _run_figures(results)
    return _frobenius_figures(results)


def figures_from_record(record: Mapping, outdir: str | os.PathLike) -> list[Path]:
    """Redraw the figures of a run record (:func:`record_figures`) into ``outdir``; their paths.

    Raises
    ------
    InputError
        As :func:`record_figures`; nothing is written then.
    """
    outdir = Path(outdir)
    return [save_figure(fig, outdir / name) for name, fig in record_figures(record).items()]
