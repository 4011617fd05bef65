"""Make the figures of docs/sub-riemannian.md with the package (run from the repository root).

    python docs/make_sr_figures.py

Writes docs/figures/heisenberg-sphere.png (geodesic fan and the unit sphere's
section, Heisenberg, cut time 2π/|p_z|) and docs/figures/heisenberg-conjugate.png
(the conjugacy determinant along one geodesic, with its zeros).  Figures are drawn on the
package's canvas (:func:`subriemann.report.canvas.new_figure`, no pyplot state) and saved
atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import subriemann as sr
from subriemann.report.canvas import new_figure, save_figure
from subriemann.subriemannian.jacobi import conjugate_times, jacobi_fields
from subriemann.subriemannian.spheres import plot_sphere

OUT = Path(__file__).parent / "figures"


def heisenberg_cut_time(p):
    """Cut time = first conjugate time of the unit-speed Heisenberg geodesic: 2π/|p_z|."""
    return 2 * np.pi / abs(p[2]) if p[2] else np.inf


def conjugate_figure(dist):
    p0 = np.array([0.6, -0.8, -3.0])
    t_max = 1.6 * 2 * np.pi / 3
    fields = jacobi_fields(dist, np.zeros(3), p0, t_max, method="dop853", locate_conjugate=True)
    ts = np.linspace(1e-3, t_max, 400)
    ratio = []
    for t in ts:
        q, p, dq, _ = fields(t)
        F = np.asarray(dist.frame(q))
        M = np.column_stack([dq, F @ (F.T @ p)])
        ratio.append(np.linalg.det(M) / np.prod(np.linalg.norm(M, axis=0)))
    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    ax.plot(ts, ratio, color="C0")
    ax.axhline(0.0, color="0.5", lw=0.8)
    for t in conjugate_times(dist, np.zeros(3), p0, t_max):
        ax.axvline(t, color="C3", ls="--", lw=1)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\det[\partial q/\partial p_0 \cdot B,\ q']$ / Π|cols|")
    # |p_z| = 3: the conjugate times are 2π/|p_z| and 2τ₁/|p_z|, τ₁ ≈ 4.4934 the first
    # positive root of tan τ = τ (the zeros of the conjugacy determinant below)
    ax.set_title(
        r"Heisenberg, $p_0 = (0.6, -0.8, -3)$" + "\n"
        r"conjugate times $2\pi/3$ and $2\tau_1/3$ ($\tan\tau_1 = \tau_1$)",
        fontsize=10,
    )
    return fig


def main():
    heis = sr.catalog.heisenberg()
    save_figure(
        plot_sphere(heis, radius=1.0, stop=heisenberg_cut_time), OUT / "heisenberg-sphere.png"
    )
    save_figure(conjugate_figure(heis), OUT / "heisenberg-conjugate.png")


if __name__ == "__main__":
    main()
