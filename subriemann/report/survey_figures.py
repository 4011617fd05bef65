"""The figures of the surveys (rank, orbit, integrability), drawn from a ``SurveyResult``.

Each survey's figure is built by :func:`survey_figure` (a matplotlib Figure, so
that its artists and labels can be checked) and saved by :func:`plot_survey`.
Every point is drawn with its own tolerance (the rank tolerance of its SVD, the
tolerance of its Frobenius test), and a verdict the test could not reach is
drawn as its own class, "inconclusive", never folded into another.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from subriemann.errors import InputError
from subriemann.report.canvas import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from subriemann.diagnostics.surveys import SurveyResult

__all__ = ["survey_figure", "plot_survey", "FROBENIUS_CLASSES", "ORBIT_MARKERS"]

#: The verdict classes of the integrability figure: (verdict, colour, marker).
FROBENIUS_CLASSES = (
    ("not involutive", "C3", "o"),
    ("involutive", "C2", "s"),
    ("inconclusive", "0.45", "D"),
)

#: The marker of each orbit outcome at the end of its curve.
ORBIT_MARKERS = {"completed": "o", "lost_rank": "X", "diverged": "^", "max_steps": "s"}


def plot_survey(result: SurveyResult, path: str | os.PathLike[str]) -> Path:
    """Draw the survey's figure (:func:`survey_figure`) and save it; returns the path.

    Parameters
    ----------
    result : SurveyResult
    path : path-like
        The image file; its suffix gives the format.

    Returns
    -------
    Path
    """
    return save_figure(survey_figure(result), path)


def survey_figure(result: SurveyResult) -> Figure:
    """The figure of a survey, with the theory's reference lines.

    Rank survey, three panels against K/QN: P[rank DDᵀ = QN] with 95 %
    intervals and Prop. 2.2's prediction (0 for K < QN since rank ≤ K,
    1 for K > QN); σ_min(D) per network with each network's own rank
    tolerance; and Bingham's S/dof as a description of the spread of the e_j
    (2.12) — not a test of Prop. 2.2, which does not assume uniform axes.
    Orbit survey: σ_min(D) along each orbit against s, coloured by K/QN
    (line style: depth), and σ_min/σ_max against s/s_ε (s_ε the stopping
    time (2.18)) with the survey's threshold, each orbit's end marked by its
    outcome.  Frobenius survey: relative defect per network against K/QN in
    three classes (involutive, not involutive, inconclusive), each with its
    own tolerance.

    Parameters
    ----------
    result : SurveyResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not result.ok_rows:
        raise InputError("the survey has no successful rows to plot")
    draw = {"rank": _rank_figure, "orbit": _orbit_figure, "frobenius": _frobenius_figure}
    if result.kind not in draw:
        raise InputError(f"no figure for a survey of kind {result.kind!r}")
    fig = draw[result.kind](result)
    for ax in fig.axes:
        _plain_log_ticks(ax)
    return fig


def _rank_figure(result):
    rows = result.ok_rows
    summary = result.summary()["architectures"]
    ratio = result.column("ratio")
    fig = new_figure(13.5, 4.2)
    ax_p, ax_s, ax_b = fig.subplots(1, 3)
    r_sum = np.array([e["ratio"] for e in summary])
    p = np.array([e["p_full_rank"] for e in summary])
    ci = np.array([e["p_full_rank_ci"] for e in summary])
    order = np.argsort(r_sum)
    ax_p.errorbar(
        r_sum[order],
        p[order],
        yerr=[p[order] - ci[order, 0], ci[order, 1] - p[order]],
        fmt="o-",
        capsize=3,
        label="measured (95 % CI)",
    )
    lo, hi = min(r_sum.min(), 0.9), max(r_sum.max(), 1.1)
    ax_p.step(
        [lo, 1.0, hi],
        [0.0, 1.0, 1.0],
        where="post",
        color="k",
        ls="--",
        lw=1.0,
        label="Prop. 2.2: 1 for K > QN",
    )
    ax_p.axvline(1.0, color="grey", lw=0.6, ls=":")
    ax_p.set_xscale("log")
    ax_p.set_ylim(-0.05, 1.05)
    ax_p.set_xlabel("K / QN")
    ax_p.set_ylabel(r"P[rank $DD^T$ = QN]")
    ax_p.set_title("Rank condition (2.1)")
    ax_p.legend(fontsize=8, loc="lower right")
    smin = result.column("sigma_min")
    tiny = np.finfo(float).tiny
    ax_s.scatter(
        ratio, np.maximum(smin, tiny), s=10, alpha=0.6, label=r"$\sigma_{min}$ per network"
    )
    tol = np.array([r.get("rank_tolerance", np.nan) for r in rows], dtype=float)
    if np.any(np.isfinite(tol)):
        ax_s.scatter(
            ratio,
            np.maximum(tol, tiny),
            marker="_",
            s=40,
            color="k",
            lw=1.0,
            label="its rank tolerance",
        )
    ax_s.plot(
        r_sum[order],
        [summary[i]["sigma_min_median"] for i in order],
        "C1-",
        lw=1.0,
        label="median",
    )
    ax_s.axvline(1.0, color="grey", lw=0.6, ls=":")
    ax_s.set_xscale("log")
    ax_s.set_yscale("log")
    ax_s.set_xlabel("K / QN")
    ax_s.set_ylabel(r"$\sigma_{min}(D)$, smallest of min(K, QN)")
    ax_s.set_title("Smallest singular value of D")
    # between the σ's (≥ 1e-6) and the tolerances (~1e-14): off the data
    ax_s.legend(fontsize=8, loc="center right")
    stat, dof = result.column("bingham_statistic"), result.column("bingham_dof")
    if np.any(np.isfinite(stat)):
        ax_b.scatter(ratio, stat / dof, s=10, alpha=0.6, label="networks")
        ax_b.axhline(1.0, color="k", ls="--", lw=1.0, label="uniform axes: E[S]/dof = 1")
        ax_b.set_yscale("log")
    ax_b.set_xscale("log")
    ax_b.set_xlabel("K / QN")
    ax_b.set_ylabel("Bingham S / dof")
    ax_b.set_title("Spread of the $e_j$ (2.12), descriptive only")
    ax_b.legend(fontsize=8, loc="upper left")
    return fig


def _orbit_figure(result):
    import matplotlib as mpl

    rows = result.ok_rows
    fig = new_figure(12.0, 4.6)
    ax_s, ax_r = fig.subplots(1, 2)
    ratios = np.array([r["ratio"] for r in rows], dtype=float)
    lo, hi = float(ratios.min()), float(ratios.max())
    norm = mpl.colors.LogNorm(vmin=lo, vmax=hi if hi > lo else lo * 1.01)
    cmap = mpl.colormaps["viridis"]
    styles = {}
    tiny = np.finfo(float).tiny
    threshold = result.config.get("orbit", {}).get("sigma_threshold")
    for r in rows:
        s = np.array(r["trace_s"], dtype=float)
        smin = np.array([np.nan if v is None else v for v in r["trace_sigma_min"]], dtype=float)
        smax = np.array([np.nan if v is None else v for v in r["trace_sigma_max"]], dtype=float)
        colour = cmap(norm(r["ratio"]))
        ls = styles.setdefault(r["depth"], ("-", "--", ":", "-.")[len(styles) % 4])
        s_stop = r["s_stop"] if r["s_stop"] else 1.0
        end = {"ls": "none", "marker": ORBIT_MARKERS[r["outcome"]], "mec": "k", "mew": 0.5}
        for ax, t, y in ((ax_s, s, smin), (ax_r, s / s_stop, smin / smax)):
            y = np.maximum(y, tiny)
            ax.plot(t, y, color=colour, ls=ls, lw=0.9, alpha=0.8)
            ax.plot(t[-1:], y[-1:], color=colour, ms=6, **end)
    if threshold is not None:
        ax_r.axhline(threshold, color="k", ls="--", lw=1.0)
    ax_s.set_yscale("log")
    # symlog: the orbits start at s = 0; nothing is negative
    ax_s.set_xscale("symlog", linthresh=1e-2)
    ax_s.set_xlim(left=0)
    ax_s.set_xlabel("flow time s")
    ax_s.set_ylabel(r"$\sigma_{min}(D[\theta(s)])$")
    ax_s.set_title("Rank condition (2.1) along adapted orbits")
    ax_r.set_yscale("log")
    ax_r.set_xscale("symlog", linthresh=1e-3)
    ax_r.set_xlim(left=0)
    ax_r.set_xlabel(r"s / $s_\varepsilon$ (stopping time (2.18))")
    ax_r.set_ylabel(r"$\sigma_{min} / \sigma_{max}$ of D")
    ax_r.set_title("Relative to the scale, with the outcome at the end")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=[ax_s, ax_r], label="K / QN")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="k", ls=ls, label=f"depth {d}") for d, ls in sorted(styles.items())
    ]
    handles += [
        Line2D([], [], ls="none", marker=m, color="w", mec="k", label=outcome.replace("_", " "))
        for outcome, m in ORBIT_MARKERS.items()
    ]
    if threshold is not None:
        handles.append(
            Line2D([], [], color="k", ls="--", label=f"threshold σ_min/σ_max = {threshold:g}")
        )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    return fig


def _frobenius_figure(result):
    from subriemann.diagnostics.survey_tasks import frobenius_verdict

    rows = result.ok_rows
    fig = new_figure(7.2, 4.6)
    ax = fig.subplots()
    ratio = result.column("ratio")
    rel = result.column("relative_defect")
    tol = result.column("tolerance")
    verdict = np.array(
        [frobenius_verdict(r.get("is_involutive"), r.get("conclusive")) for r in rows]
    )
    positive = np.concatenate([rel[rel > 0], tol[tol > 0]])
    floor = np.nanmin(positive) * 1e-2 if positive.size else 1e-300
    for name, colour, marker in FROBENIUS_CLASSES:
        sel = verdict == name
        if np.any(sel):
            ax.scatter(
                ratio[sel],
                np.where(rel[sel] > 0, rel[sel], floor),
                color=colour,
                marker=marker,
                s=16,
                label=name,
            )
    if np.any(np.isfinite(tol)):
        ax.scatter(
            ratio,
            np.where(tol > 0, tol, floor),
            marker="_",
            s=60,
            color="k",
            lw=1.0,
            label="each point's tolerance",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("K / QN")
    ax.set_ylabel("relative Frobenius defect of V")
    ax.set_title("Integrability of V = range $D^T$ (2.31) over random networks")
    fig.legend(loc="outside right upper", fontsize=8)
    return fig


def _plain_log_ticks(ax):
    """Label a log K/QN axis with plain numbers at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    if ax.get_xscale() == "log":
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
