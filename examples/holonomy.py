"""Holonomy you can measure: loops that close below but not above.

Run:  python examples/holonomy.py [OUT_DIR]     (default ./subriemann-out/)

1. Heisenberg (X = ∂x − y/2 ∂z, Y = ∂y + x/2 ∂z).  Drive the unit circle in the
   controls: the curve returns above its start, climbed by the enclosed area π.
   The commutator loop X, Y, −X, −Y of size ε misses by exactly ε²∂z = ε²[X, Y].
2. Martinet at x = 0: the bracket vanishes there and the gap is ε³/2 (order 3).
3. A tanh network f : R^7 → R^2.  Lift the square output loop of side ε: the
   outputs close to 1e-10 but θ moves by ≈ ε²[u₀, u₁], a *vertical* vector (along
   the fibre f⁻¹(x), (2.32)) — the pullback bundle V is not integrable (2.31).
   Lifting the output flow (1.13) reproduces the adapted flow (2.4).

Writes holonomy-circle.png and holonomy-gaps.png into OUT_DIR.  Takes a few seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import autograd.numpy as anp
import numpy as np

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.geometry import lifts, square_loop
from subriemann.geometry.bundles import PullbackBundle
from subriemann.report.curve_figures import plot_gap_law, plot_lifted_loop
from subriemann.subriemannian import curves, holonomy_test


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    H = catalog.heisenberg()
    circle = curves.horizontal_curve(
        H, [1.0, 0.0, 0.0], lambda t: np.array([-np.sin(t), np.cos(t)]), 2 * np.pi
    )
    print(f"Heisenberg: the lifted unit circle climbs by {circle.end[2]:.12f} (π = {np.pi:.12f})")
    rep = holonomy_test(H, [0.3, -1.0, 2.0])
    for e, g in zip(rep.eps, rep.gaps[0], strict=True):
        print(
            f"  commutator loop eps = {e:<6g} gap = {np.array2string(g, precision=3)}  gap/eps² = {g[2] / e**2:.12f}"
        )
    mart = holonomy_test(catalog.martinet(), [0.0, 0.5, 1.0])
    print(
        f"Martinet on x = 0: fitted order {mart.orders[0]:.3f} (expected 3); off it: "
        f"{holonomy_test(catalog.martinet(), [0.7, 0.5, 1.0]).orders[0]:.3f} (expected 2)"
    )

    rng = np.random.default_rng(1)
    net = sr.MLP([1, 2, 1])
    f = sr.NetworkMap(net, rng.normal(size=(2, 1)))
    V = PullbackBundle(f)
    theta = net.init(seed=1)
    B = V.frame_brackets(theta)[0, 1]
    print(f"network {net!r}, K = {net.K}, QN = 2: |[u0, u1]| = {np.linalg.norm(B):.4f}")
    for eps in (0.04, 0.02, 0.01):
        h = lifts.holonomy(V, theta, square_loop(f(theta), 0, 1, eps))
        rel = np.linalg.norm(h.displacement / eps**2 - B) / np.linalg.norm(B)
        print(
            f"  square loop eps = {eps:<5g} output closure {h.closure_error:.1e}, "
            f"|vertical| / eps² = {np.linalg.norm(h.vertical) / eps**2:.4f}, "
            f"relative distance to the bracket {rel:.4f}"
        )
    y, N = np.array([0.5, -0.3]), 2
    x0 = f(theta)
    lift = lifts.horizontal_lift(V, theta, lambda s: y + anp.exp(-s / N) * (x0 - y), 3.0)
    orbit = sr.integrate(
        sr.AdaptedFlow(f, sr.L2Cost(y, n_samples=N)),
        theta,
        3.0,
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
    )
    print(
        f"lift of (1.13) vs the adapted orbit (2.4) at s = 3: relative difference "
        f"{np.linalg.norm(lift.end - orbit.final_theta) / np.linalg.norm(orbit.final_theta):.1e}"
    )

    paths = [
        plot_lifted_loop(
            circle.points,
            out / "holonomy-circle.png",
            title="Heisenberg: lifted unit circle",
            climb=np.pi,
        ),
        plot_gap_law(
            rep.eps,
            np.linalg.norm(rep.gaps, axis=-1),
            out / "holonomy-gaps.png",
            labels=["Heisenberg [X, Y]"],
            orders=rep.orders,
            brackets=[1.0],
        ),
    ]
    print("figures: " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("subriemann-out"))
