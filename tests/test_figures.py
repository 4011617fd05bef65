"""Figures tell the truth at a glance: checked from the Figure objects, not from pixels.

For an adapted over-parametrized run, an output-metric run, a standard-flow run
and an under-parametrized run (the example configs, run in-process), the cost
figure draws the law that applies (Theorem 2.1's (2.6), the G-law, the limit
(5.7), or none), its time axis is the run's, no legend covers a data point, and
no label shows unrendered TeX.  The growth-vector figure is drawn at the
integers only and names the Lie flag.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.mathtext import MathTextParser
from tolerances import finite_difference_slope_tol, ode_global_error

import subriemann as sr
import subriemann.cli as cli
from subriemann import report
from subriemann.report.run_figures import S_MARGIN

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
RUNS = ("adapted_over", "output_metric", "standard_flow", "under_parametrized")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """One ``subriemann train CONFIG`` record per example config (in-process)."""
    out = {}
    for name in RUNS:
        folder = tmp_path_factory.mktemp(name)
        code = cli.main(["train", str(CONFIGS / f"{name}.toml"), "--out", str(folder), "--quiet"])
        assert code in (0, 1), name  # exit 1: a required target not met is still a record
        out[name] = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    return out


def _labels(ax):
    """The legend labels of the lines (matplotlib names unlabelled artists '_child<n>')."""
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def _has(ax, text):
    return any(text in label for label in _labels(ax))


def _vertical_lines(ax):
    """x of the axvlines: Line2D whose two x values coincide, spanning the axes in y."""
    out = []
    for line in ax.get_lines():
        xs = np.asarray(line.get_xdata(), float)
        if xs.size == 2 and xs[0] == xs[1] and line.get_transform() is not ax.transData:
            out.append(float(xs[0]))
    return out


def _run_span(record):
    s = np.concatenate([np.asarray(f["orbit"]["s"], float) for f in record["flows"].values()])
    return float(s.min()), float(s.max())


def _check_cropped(ax, record):
    """x-limits inside the run's flow times widened by S_MARGIN of their range (and no less)."""
    lo, hi = _run_span(record)
    pad = S_MARGIN * (hi - lo)
    left, right = ax.get_xlim()
    assert lo - pad - 1e-9 * hi <= left <= lo and hi <= right <= hi + pad + 1e-9 * hi


def _text_strings(fig):
    """Every piece of text a reader sees: titles, axis labels, tick labels, legend entries."""
    texts = []
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


_PARSER = MathTextParser("path")


def _unrendered_tex(text):
    """Why ``text`` would show raw TeX (None if it renders): markup outside $...$, bad math."""
    parts = re.split(r"(?<!\\)\$", text)
    if len(parts) % 2 == 0:
        return "an unpaired $"
    for i, part in enumerate(parts):
        if i % 2 == 0 and re.search(r"[\\^_{}]", part):
            return f"TeX markup outside math mode: {part!r}"
        if i % 2 == 1:
            try:
                _PARSER.parse(f"${part}$")
            except ValueError as exc:
                return f"mathtext cannot parse ${part}$: {exc}"
    return None


def _check_text(fig):
    bad = {t: why for t in _text_strings(fig) if (why := _unrendered_tex(t))}
    assert not bad, bad


def _check_legends_off_the_data(fig):
    """No legend box contains a drawn data point (lines and filled bands, in display space)."""
    fig.draw_without_rendering()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        points = [ax.transData.transform(np.column_stack(line.get_data())) for line in ax.lines]
        points += [
            c.get_transform().transform(p.vertices) for c in ax.collections for p in c.get_paths()
        ]
        for xy in points:
            xy = xy[np.all(np.isfinite(xy), axis=1)]
            inside = (
                (xy[:, 0] >= box.x0)
                & (xy[:, 0] <= box.x1)
                & (xy[:, 1] >= box.y0)
                & (xy[:, 1] <= box.y1)
            )
            assert not np.any(inside), f"the legend of {ax.get_title()!r} covers data"
        assert not box.overlaps(ax.get_window_extent())


def _check_reader_facing(fig, results=None):
    """Every axis cropped to the run (given its results), no legend on the data, no raw TeX."""
    for ax in fig.axes if results is not None else ():
        _check_cropped(ax, results)
    _check_legends_off_the_data(fig)
    _check_text(fig)


def _cost_figure(record):
    return report.record_figures(record)["cost_law.png"]


def _run_cost_figure(records, name, *absent):
    """(results, figure) of one run's cost figure, after checking no label names ``absent``."""
    r = records[name]["results"]
    fig = _cost_figure(records[name])
    for text in absent:
        assert not any(_has(ax, text) for ax in fig.axes), text
    return r, fig


def test_adapted_run_draws_law_2_6_and_its_stopping_time(records):
    r, fig = _run_cost_figure(records, "adapted_over", "G-law", "(5.7)")
    ax, ax_dev = fig.axes
    law = [line for line in ax.get_lines() if "law (2.6)" in line.get_label()]
    assert len(law) == 1
    xs, ys = (np.asarray(a, float) for a in law[0].get_data())
    np.testing.assert_allclose(ys, r["C0"] * np.exp(-2.0 * xs / r["N"]), rtol=1e-12)
    assert xs.max() <= _run_span(r)[1]  # the law line stops with the run
    # (2.18) by hand: s_ε = (N/2) log(C(0)/ε); the run ends there (s_end = "stopping-time")
    s_eps = 0.5 * r["N"] * np.log(r["C0"] / r["eps"])
    assert _vertical_lines(ax) == [pytest.approx(s_eps, rel=1e-12)]
    assert _has(ax, "stopping time (2.18)")
    assert _labels(ax_dev) == ["adapted vs law (2.6)"]
    _check_reader_facing(fig, r)


def test_output_metric_run_draws_the_g_law_not_2_6(records):
    r, fig = _run_cost_figure(records, "output_metric", "(2.6)", "(2.18)", "(5.7)")
    ax, ax_dev = fig.axes
    g_law = [line for line in ax.get_lines() if line.get_label().startswith("G-law")]
    assert len(g_law) == 1
    np.testing.assert_array_equal(
        g_law[0].get_ydata(), np.asarray(r["flows"]["adapted"]["orbit"]["metric_law_cost"])
    )
    # the stored stopping time is the G-law's, drawn as such, at the run's end
    assert _has(ax, "stopping time of the G-law")
    assert _vertical_lines(ax) == [pytest.approx(r["stopping_time"])]
    assert _labels(ax_dev) == ["adapted vs its G-law"]
    _check_reader_facing(fig, r)


def test_output_metric_table_does_not_report_2_6_as_a_failure(records):
    from subriemann.cli.text import training_text

    r = records["output_metric"]["results"]
    text = training_text("t", r, None, [], None)
    row = next(line for line in text.splitlines() if line.startswith("adapted "))
    assert "n/a" in row and f"{r['flows']['adapted']['law_residual']:.2e}" not in row


def test_standard_flow_run_draws_no_law(records):
    absent = ("(2.6)", "(2.18)", "G-law", "(5.7)", "stopping time")
    r, fig = _run_cost_figure(records, "standard_flow", *absent)
    assert len(fig.axes) == 1  # no deviation panel: there is no prediction to deviate from
    (ax,) = fig.axes
    assert _vertical_lines(ax) == []  # (2.18) is the adapted flow's stopping time, not this one's
    assert _has(ax, "no a-priori law")
    _check_reader_facing(fig, r)


def test_under_parametrized_run_draws_the_limit_5_7_cropped_to_the_run(records):
    r, fig = _run_cost_figure(records, "under_parametrized", "(2.6)", "(2.18)", "G-law")
    ax, ax_dev = fig.axes
    assert _vertical_lines(ax) == []
    limit = [line for line in ax.get_lines() if line.get_label().startswith("(5.7)")]
    assert len(limit) == 1
    assert ax.get_xlim()[1] < 1.1 * r["s_end"]  # not the (2.18) time 179 of a 60 s run
    # the unreached target ε = 1e-8 does not stretch the cost axis below the data
    cost = np.asarray(r["flows"]["adapted"]["orbit"]["cost"])
    assert ax.get_ylim()[0] > 1e-3 * np.min(cost[cost > 0])
    assert _has(ax, "not reached")
    _check_reader_facing(fig, r)


def test_limit_5_7_drawn_from_the_cost_matches_the_projection_of_the_gradient():
    """C + (N/2) dC/ds (5.12) equals (N/2)|P^⊥∇ₓC|² computed with D (an independent route)."""
    # the problem of examples/configs/under_parametrized.toml: rank D = K = 15 < QN = 60 on the way
    data = sr.TrainingData.blobs(n_samples=20, n_classes=3, input_dim=2, spread=0.6, seed=0)
    f = sr.NetworkMap(sr.MLP([2, 2, 3]), data.inputs)
    cost = sr.L2Cost.from_data(data)
    rtol, atol, s_end = 1e-10, 1e-12, 30.0
    flow = sr.AdaptedFlow(f, cost, regime="under")
    traj = sr.integrate(flow, f.mlp.init(seed=0), s_end, method="rk45", rtol=rtol, atol=atol)
    assert traj.status == "completed"
    s, C = np.asarray(traj.s), np.asarray(traj.cost)
    exact = []
    for theta in traj.theta:
        D, g = f.jacobian(theta), cost.grad(f(theta))
        Pg = D @ np.linalg.lstsq(D, g, rcond=None)[0]  # P = D(DᵀD)⁻¹Dᵀ (5.4), no inverse
        exact.append(0.5 * data.N * float(np.sum((g - Pg) ** 2)))
    record = {
        "kind": "train",
        "results": {
            "C0": float(C[0]),
            "N": data.N,
            "regime": "under",
            "flows": {
                "adapted": {
                    "regimes": ["under"],
                    "orbit": {"s": list(s), "cost": list(C), "sigma_min": list(traj.sigma_min)},
                }
            },
        },
    }
    ax = _cost_figure(record).axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("(5.7)")]
    drawn = np.asarray(line.get_ydata(), float)
    cost_error = ode_global_error(rtol, atol, scale=float(C[0]), horizon=s_end / data.N)
    tol = finite_difference_slope_tol(s, C, data.N, value_error=cost_error)
    inner = slice(1, -1)  # the one-sided end formulas have their own (larger) error
    assert np.all(np.abs(drawn - exact)[inner] <= tol[inner])
    assert np.all(tol[inner] < 0.01 * np.asarray(exact)[inner])  # sharp enough to mean it


def test_trapping_figure_names_the_ratio_and_keeps_the_bands_apart(records, tmp_path):
    from matplotlib.collections import PolyCollection

    s = np.linspace(0, 1, 5)
    fig = report.trapping_figure(
        {"adapted": (s, np.full(5, 2.0)), "standard": (s, np.full(5, 0.5))},
        bounds={
            "adapted": (s, np.full(5, 0.1), np.full(5, 3.0)),
            "standard": (s, np.full(5, 0.05), np.full(5, 2.5)),
        },
        threshold=0.2,
    )
    (ax,) = fig.axes
    assert "trapping ratio" in ax.get_ylabel() and "(3.4)" in ax.get_title()
    assert not any(label.startswith("ε(θ)") for label in _labels(ax))  # the ratio is not ε
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 and len({b.get_hatch() for b in bands}) == 2
    assert len({tuple(b.get_edgecolor()[0]) for b in bands}) == 2
    assert all(b.get_label().startswith("bounds of the ratio") for b in bands)
    _check_reader_facing(fig)
    # from a record: under-parametrized, rank D = K < QN, so σ_min(D) bounds nothing
    fig = report.record_figures(records["under_parametrized"])["trapping.png"]
    (ax,) = fig.axes
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert not _has(ax, r"\sigma_{\min}") and _has(ax, r"\sigma_{\max}")
    _check_cropped(ax, records["under_parametrized"]["results"])


def test_growth_vector_is_drawn_at_integers_and_names_the_lie_flag():
    fig = report.growth_vector_figure((2, 3, 5, 6), 6)
    (ax,) = fig.axes
    ticks = ax.get_xticks()
    np.testing.assert_array_equal(ticks, np.round(ticks))
    assert set(ticks) == {1, 2, 3, 4}
    yticks = ax.get_yticks()
    np.testing.assert_array_equal(yticks, np.round(yticks))  # dimensions are integers too
    # no line joins k to k + 1: markers only, stems straight up at each k
    for line in ax.get_lines():
        if line.get_label().startswith("$\\dim"):
            assert line.get_linestyle() in ("None", "none", "")
            np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    for segment in ax.collections[0].get_segments():
        assert segment[0, 0] == segment[1, 0] and float(segment[0, 0]).is_integer()
    assert r"\Delta^k = \Delta^{k-1} + [\Delta, \Delta^{k-1}]" in ax.get_ylabel()
    assert "derived" not in ax.get_ylabel()
    _check_reader_facing(fig)


def test_every_run_figure_renders_its_text_and_keeps_legends_off_the_data(records):
    for name, record in records.items():
        for file, fig in report.record_figures(record).items():
            assert file.endswith(".png"), name
            _check_reader_facing(fig, record["results"])
    fig = report.frobenius_figure([0.3, 1e-16, 0.0], tolerance=1e-10)
    _check_reader_facing(fig)


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("dim Δ^k", True),
        (r"$\sigma_{\min}$ of D", False),
        ("σ_min(D)", True),
        (r"$\Delta$", False),
        (r"$\notacommand$", True),
        ("cost $C(s", True),
    ],
)
def test_the_tex_check_catches_raw_markup(text, bad):
    assert (_unrendered_tex(text) is not None) == bad
