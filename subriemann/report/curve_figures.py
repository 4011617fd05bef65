"""Figures of horizontal curves and holonomy: a lifted loop in 3-D, and the ε-law of loop gaps.

* :func:`plot_lifted_loop` — a horizontal curve in R³ with its shadow in the
  (x, y) plane: for Heisenberg the lift of a circle climbs by the enclosed area.
* :func:`plot_gap_law` — log–log |gap| against ε for each frame pair, with the
  fitted slope (2 where the bracket is transverse, 3 on Martinet's surface) and
  the reference line ε²|[X_i, X_j]|.

Both save through :func:`subriemann.report.canvas.save_figure`; legends sit outside the
axes (never on the data) and labels are matplotlib mathtext.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError
from subriemann.report.canvas import new_figure, save_figure

__all__ = ["plot_lifted_loop", "plot_gap_law"]


def plot_lifted_loop(
    points: npt.ArrayLike,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    climb: float | None = None,
) -> Path:
    """Draw a horizontal curve q(t) in R³ and its projection to the first two coordinates.

    Parameters
    ----------
    points : array-like, shape=[n, 3]
    path : path-like
        Figure file (format from the suffix).
    title : str, optional
    climb : float, optional
        The predicted climb q₃(T) − q₃(0) (e.g. the enclosed area), drawn as a marker.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 2:
        raise InputError(f"points must have shape (n >= 2, 3), got {pts.shape}")
    fig = new_figure(8.0, 4.8)
    ax = fig.add_subplot(projection="3d")
    ax.plot(pts[:, 0], pts[:, 1], pts[:, 2], color="C0", label=r"horizontal lift $q(t)$")
    floor = float(np.min(pts[:, 2]))
    ax.plot(
        pts[:, 0],
        pts[:, 1],
        np.full(len(pts), floor),
        color="0.6",
        ls="--",
        label=r"projection to $(q_1, q_2)$",
    )
    ax.scatter(*pts[0], color="C2", label="start")
    ax.scatter(*pts[-1], color="C3", label="end")
    if climb is not None:
        ax.scatter(
            pts[0, 0], pts[0, 1], pts[0, 2] + climb, marker="x", color="k", label="predicted end"
        )
    ax.set_xlabel(r"$q_1$")
    ax.set_ylabel(r"$q_2$")
    ax.set_zlabel(r"$q_3$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize="small")
    ax.set_title(title or "lifted loop")
    return save_figure(fig, path)


def plot_gap_law(
    eps: npt.ArrayLike,
    gaps: npt.ArrayLike,
    path: str | os.PathLike[str],
    *,
    labels: Sequence[str] | None = None,
    orders: Sequence[float] | np.ndarray | None = None,
    brackets: Sequence[float] | np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """log–log |gap| of commutator loops against ε, one line per frame pair, with fitted slopes.

    Parameters
    ----------
    eps : array-like, shape=[m]
    gaps : array-like, shape=[n_pairs, m]
        |q(4ε) − q0|.
    path : path-like
    labels : sequence of str, optional
    orders : sequence or ndarray, shape=[n_pairs], optional
        Fitted slopes (shown in the legend).
    brackets : sequence or ndarray, shape=[n_pairs], optional
        |[X_i, X_j](q0)|: the reference ε²|bracket| is drawn dotted.
    title : str, optional
    """
    e = np.asarray(eps, dtype=float)
    g = np.atleast_2d(np.asarray(gaps, dtype=float))
    if g.shape[1] != e.shape[0]:
        raise InputError(f"gaps must have shape (n_pairs, {e.shape[0]}), got {g.shape}")
    fig = new_figure(8.6, 4.8)
    ax = fig.add_subplot()
    for p, row in enumerate(g):
        pair = labels[p] if labels is not None else f"pair {p}"
        label = pair
        if orders is not None and np.isfinite(orders[p]):
            label += f" (slope {orders[p]:.2f})"
        positive = np.where(row > 0, row, np.nan)
        ax.loglog(e, positive, "o-", color=f"C{p % 10}", label=label)
        if brackets is not None and brackets[p] > 0:
            ax.loglog(
                e,
                brackets[p] * e**2,
                ":",
                color=f"C{p % 10}",
                label=r"$\varepsilon^2|[X_i, X_j](q_0)|$" + f" for {pair}",
            )
    ax.set_xlabel(r"$\varepsilon$ (time on each leg)")
    ax.set_ylabel(r"$|\mathrm{gap}| = |q(4\varepsilon) - q_0|$")
    ax.set_title(title or r"commutator-loop gaps (dotted: $\varepsilon^2|[X_i, X_j]|$)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return save_figure(fig, path)
