"""The figure of a survey: the measured quantities against K/QN, with the theory's reference lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from subriemann.errors import InputError

__all__ = ["plot_survey"]


def plot_survey(result, path) -> Path:
    """Draw the survey's figure (PNG) with the theory reference lines; returns the path.

    Rank survey, three panels against K/QN: P[rank DDᵀ = QN] with 95 %
    intervals and Prop. 2.2's prediction (0 for K < QN since rank ≤ K,
    1 for K > QN under its hypothesis); σ_min(D) per network (log); and
    Bingham's S/dof (1 = expected under uniform axes, dashed: the 5 %
    critical value).  Frobenius survey: relative defect per network
    against K/QN with the involutivity tolerance.  Saved by
    :func:`subriemann.report.records.save_figure` (atomically, at the
    package's figure resolution).

    Parameters
    ----------
    result : SurveyResult
    path : path-like
        The image file; its suffix gives the format.

    Returns
    -------
    Path
    """
    from matplotlib.figure import Figure

    rows = result.ok_rows
    if not rows:
        raise InputError("the survey has no successful rows to plot")
    summary = result.summary()["architectures"]
    ratio = result.column("ratio")
    if result.kind == "rank":
        fig = Figure(figsize=(13.5, 3.8), layout="constrained")
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
        ax_p.set_ylabel("P[rank DDᵀ = QN]")
        ax_p.set_title("Rank condition (2.1)")
        ax_p.legend(fontsize=8)
        smin = result.column("sigma_min")
        tiny = np.finfo(float).tiny
        ax_s.scatter(ratio, np.maximum(smin, tiny), s=10, alpha=0.6, label="networks")
        ax_s.plot(
            r_sum[order],
            [summary[i]["sigma_min_median"] for i in order],
            "k-",
            lw=1.0,
            label="median",
        )
        ax_s.axvline(1.0, color="grey", lw=0.6, ls=":")
        ax_s.set_xscale("log")
        ax_s.set_yscale("log")
        ax_s.set_xlabel("K / QN")
        ax_s.set_ylabel("σ_min(D), smallest of min(K, QN)")
        ax_s.set_title("Smallest singular value of D")
        ax_s.legend(fontsize=8)
        stat, dof = result.column("bingham_statistic"), result.column("bingham_dof")
        if np.any(np.isfinite(stat)):
            from scipy.stats import chi2

            ax_b.scatter(ratio, stat / dof, s=10, alpha=0.6, label="networks")
            ax_b.axhline(1.0, color="k", ls="--", lw=1.0, label="uniform axes: E[S]/dof = 1")
            crit = np.nanmedian(chi2.ppf(0.95, dof) / dof)
            ax_b.axhline(crit, color="k", ls=":", lw=1.0, label="5 % critical value")
            ax_b.set_yscale("log")
        ax_b.set_xscale("log")
        ax_b.set_xlabel("K / QN")
        ax_b.set_ylabel("Bingham S / dof")
        ax_b.set_title("Spread of the e_j (2.12) on S^{QN−1}")
        ax_b.legend(fontsize=8)
    else:
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.subplots()
        rel = result.column("relative_defect")
        inv = np.array([bool(r.get("is_involutive")) for r in rows])
        floor = np.nanmin(rel[rel > 0]) * 1e-2 if np.any(rel > 0) else 1e-300
        shown = np.where(rel > 0, rel, floor)
        ax.scatter(ratio[~inv], shown[~inv], color="C3", s=14, label="not involutive")
        ax.scatter(ratio[inv], shown[inv], color="C2", s=14, label="involutive")
        tol = result.column("tolerance")
        if np.any(np.isfinite(tol)):
            ax.axhline(np.nanmedian(tol), color="k", ls="--", lw=1.0, label="tolerance of the test")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("K / QN")
        ax.set_ylabel("relative Frobenius defect of V")
        ax.set_title("Integrability of V = range Dᵀ (2.31) over random networks")
        ax.legend(fontsize=8)
    for ax in fig.axes:
        _plain_log_ticks(ax)
    from subriemann.report.records import save_figure

    return save_figure(fig, path)


def _plain_log_ticks(ax):
    """Label a log K/QN axis with plain numbers at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    if ax.get_xscale() == "log":
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
