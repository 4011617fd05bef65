"""Make the figures of docs/sub-riemannian.md with the package (run from the repository root).

    python docs/make_sr_figures.py

Writes docs/figures/heisenberg-sphere.png (geodesic fan and the unit sphere's
section, Heisenberg, cut time 2π/|p_z|) and docs/figures/heisenberg-conjugate.png
(the conjugacy determinant along one geodesic, with its zeros) and
docs/figures/growth-vectors.png (the Lie flags of catalog distributions at regular and
singular points, computed by ``Distribution.growth_vector``).  Figures are drawn on the
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
    determinant = []
    for t in ts:
        q, p, dq, _ = fields(t)
        F = np.asarray(dist.frame(q))
        # the determinant itself, not normalised by its columns' lengths: at 2π/|p_z| the
        # columns ∂q/∂p0·B vanish and a normalised determinant jumps there, while the
        # determinant is smooth and touches 0 (p0 has unit horizontal part: |q'| = 1)
        determinant.append(np.linalg.det(np.column_stack([dq, F @ (F.T @ p)])))
    fig = new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    ax.plot(ts, determinant, color="C0")
    ax.set_xlim(0.0, t_max)
    ax.axhline(0.0, color="0.5", lw=0.8)
    for t in conjugate_times(dist, np.zeros(3), p0, t_max):
        ax.axvline(t, color="C3", ls="--", lw=1)
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\det[\partial q/\partial p_0 \cdot B,\ q']$")
    # |p_z| = 3: the conjugate times are 2π/|p_z| and 2τ₁/|p_z|, τ₁ ≈ 4.4934 the first
    # positive root of tan τ = τ (the zeros of the conjugacy determinant below)
    ax.set_title(
        r"Heisenberg, $p_0 = (0.6, -0.8, -3)$" + "\n"
        r"conjugate times $2\pi/3$ and $2\tau_1/3$ ($\tan\tau_1 = \tau_1$)",
        fontsize=10,
    )
    return fig


def growth_figure():
    """(n_1, n_2, ...) of the Lie flag at regular and singular points, by dist.growth_vector."""
    cases = [
        ("Heisenberg", sr.catalog.heisenberg(), (0.3, -0.2, 0.1)),
        ("Martinet, regular", sr.catalog.martinet(), (0.7, 1.0, 2.0)),
        ("Martinet, x = 0", sr.catalog.martinet(), (0.0, 1.0, 2.0)),
        ("Grushin, x = 0", sr.catalog.grushin(), (0.0, 0.1)),
        ("Engel", sr.catalog.engel(), (0.1, 0.2, 0.3, 0.4)),
        ("Cartan (2, 3, 5)", sr.catalog.cartan_235(), (0.1, -0.2, 0.3, 0.1, 0.2)),
    ]
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.12
    for i, (label, dist, point) in enumerate(cases):
        growth = dist.growth_vector(point)
        Q = dist.hausdorff_dimension(point)
        k = np.arange(1, len(growth) + 1) + (i - (len(cases) - 1) / 2) * width
        # discrete data: markers at the integer steps (offset per case), a thin guide between
        ax.plot(
            k,
            growth,
            "o",
            ls=":",
            lw=0.8,
            color=f"C{i}",
            label=f"{label}: {tuple(growth)}, Q = {Q}",
        )
    ax.set_xticks([1, 2, 3, 4])
    ax.set_yticks(range(1, 6))
    ax.set_xlabel(r"step $k$ of the Lie flag $\Delta^k = \Delta^{k-1} + [\Delta, \Delta^{k-1}]$")
    ax.set_ylabel(r"$n_k = \dim \Delta^k_p$")
    ax.set_title("Growth vectors at a point (Q: Hausdorff dimension, Mitchell)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return fig


def main():
    heis = sr.catalog.heisenberg()
    save_figure(
        plot_sphere(heis, radius=1.0, stop=heisenberg_cut_time), OUT / "heisenberg-sphere.png"
    )
    save_figure(conjugate_figure(heis), OUT / "heisenberg-conjugate.png")
    save_figure(growth_figure(), OUT / "growth-vectors.png")


if __name__ == "__main__":
    main()
