"""Lie brackets you can see: the Heisenberg distribution and the pullback bundle of a tiny network.

Run:  python examples/heisenberg_and_network_bracket.py [--out DIR]

1. Heisenberg (R³, X = ∂x − y/2 ∂z, Y = ∂y + x/2 ∂z): [X, Y] = ∂z.  Follow X,
   Y, −X, −Y for a time ε each: you come back in x, y but z moves by ε², the
   area of the square — the bracket is the motion you get "for free" from
   wiggling inside Δ.  Δ is not integrable (Frobenius (2.31) fails) and its
   growth vector is (2, 3): every point is reachable (Chow–Rashevskii).
2. A tanh network f : R^K → R^{QN} (§2.3–2.4).  The frame u_i = Pen[D]e_i of
   V = range Dᵀ is f-related to the coordinate fields of the output space, so
   the same loop closes *exactly in the output layer* while θ drifts by
   ε²[u_1, u_2], a vertical vector (along the fibre f⁻¹(x), (2.32)).  That
   drift is the non-integrability of V; (R^K, V, h) is sub-Riemannian (2.33).
   With QN = 1 there is only one field and V is integrable.

``--out DIR`` also saves a figure (loop drift against ε, and a normal
geodesic of Heisenberg through geomstats).  Takes a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.distributions.frame import lie_bracket
from subriemann.geometry.bundles import PullbackBundle


def flow(field, q, t, n_steps=20):
    """Integrate q' = field(q) for time t with classical RK4 (fields here are smooth)."""
    h = t / n_steps
    for _ in range(n_steps):
        k1 = field(q)
        k2 = field(q + h / 2 * k1)
        k3 = field(q + h / 2 * k2)
        k4 = field(q + h * k3)
        q = q + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return q


def commutator_loop(X, Y, q, eps):
    """Follow X, Y, −X, −Y for time ε each; the end point is q + ε²[X, Y](q) + O(ε³)."""
    for field, sign in ((X, 1), (Y, 1), (X, -1), (Y, -1)):
        q = flow(lambda p, field=field, sign=sign: sign * field(p), q, eps)
    return q


def heisenberg_part():
    print("=" * 78)
    print("1. Heisenberg distribution on R^3: X = d/dx - y/2 d/dz, Y = d/dy + x/2 d/dz")
    print("=" * 78)
    dist = catalog.heisenberg()
    X = lambda q: dist.frame(q)[:, 0]  # noqa: E731
    Y = lambda q: dist.frame(q)[:, 1]  # noqa: E731
    q0 = np.array([0.3, -0.5, 1.0])
    print(f"[X, Y](q0) by autograd          = {lie_bracket(X, Y, q0)}   (exactly d/dz)")
    print("commutator loop X, Y, -X, -Y of duration eps each, from q0:")
    print(f"  {'eps':>8} {'|dx,dy|':>10} {'dz':>12} {'dz / eps^2':>11}")
    rows = []
    for eps in (0.4, 0.2, 0.1, 0.05):
        d = commutator_loop(X, Y, q0, eps) - q0
        rows.append((eps, np.linalg.norm(d)))
        print(f"  {eps:>8.3f} {np.linalg.norm(d[:2]):>10.2e} {d[2]:>12.6f} {d[2] / eps**2:>11.6f}")
    print("  -> back in (x, y), but z moved by eps^2: the bracket d/dz is reachable.")
    rep = dist.frobenius_defect(q0)
    print(
        f"Frobenius (2.31) at q0: |Omega|_HS = {rep.curvature_norm:.4f}, relative defect "
        f"{rep.relative_defect:.4f} (tolerance {rep.tolerance:.1e}) -> "
        f"{'involutive' if rep.is_involutive else 'NOT involutive'}"
    )
    print(f"growth vector {dist.growth_vector(q0)}: bracket-generating of step 2")
    leaves = catalog.level_set_foliation()
    rl = leaves.frobenius_defect(q0)
    print(
        f"compare: tangent planes of level sets (a foliation): relative defect "
        f"{rl.relative_defect:.1e} -> {'involutive' if rl.is_involutive else 'NOT involutive'}"
    )
    m = catalog.martinet()
    print(
        f"Martinet X = d/dx, Y = d/dy + x^2/2 d/dz: growth {m.growth_vector(q0)} at q0, "
        f"{m.growth_vector(np.array([0.0, 0.2, 0.0]))} on its singular surface x = 0"
    )
    return rows


def network_part(qn_one=False):
    layers, N = ([1, 2, 1], 1) if qn_one else ([1, 2, 1], 2)
    mlp = sr.MLP(layers, activation="tanh")
    f = sr.NetworkMap(mlp, np.array([[-1.0], [0.8]])[:N])
    bundle = PullbackBundle(f)
    dist = bundle.distribution()
    theta0 = mlp.init(seed=3)
    K, QN = mlp.K, f.dim_out
    print()
    print("=" * 78)
    print(
        f"{3 if qn_one else 2}. Pullback bundle V = range D^T of MLP({layers}, tanh) on N = {N}: "
        f"K = {K}, QN = {QN}"
    )
    print("=" * 78)
    rep = dist.frobenius_defect(theta0)
    print(
        f"Frobenius (2.31) at theta0: |Omega|_HS = {rep.curvature_norm:.4e}, relative defect "
        f"{rep.relative_defect:.4f} (tolerance {rep.tolerance:.1e}) -> "
        f"{'involutive' if rep.is_involutive else 'NOT involutive'}"
    )
    if QN == 1:
        print("QN = 1: a single frame field, [u, u] = 0 -> V is always integrable (Section 2.4).")
        return []
    B = dist.frame_brackets(theta0)[0, 1]
    D = f.jacobian(theta0)
    print(
        f"[u1, u2] (from jacobian_derivative): |[u1,u2]| = {np.linalg.norm(B):.4e}, "
        f"|D [u1,u2]| = {np.linalg.norm(D @ B):.1e}  -> vertical (tangent to the fibre)"
    )

    def u(i):
        return lambda th: np.asarray(bundle.frame(th))[:, i]

    print("commutator loop u1, u2, -u1, -u2 of duration eps each, from theta0:")
    print(f"  {'eps':>8} {'|x(end) - x0|':>14} {'|theta(end) - theta0|':>22} {'/eps^2':>9}")
    rows = []
    x0 = f(theta0)
    for eps in (0.4, 0.2, 0.1, 0.05):
        th = commutator_loop(u(0), u(1), theta0, eps)
        drift = np.linalg.norm(th - theta0)
        rows.append((eps, drift))
        print(
            f"  {eps:>8.3f} {np.linalg.norm(f(th) - x0):>14.2e} {drift:>22.4e} "
            f"{drift / eps**2:>9.4f}"
        )
    print(
        "  -> the output loop closes (u_i is f-related to e_i), the parameters do not:\n"
        f"     theta drifts by eps^2 |[u1, u2]| = eps^2 * {np.linalg.norm(B):.4f} along f^-1(x0)."
    )
    verdict = dist.sample_verdict(n_points=8, seed=0, scale=0.5)
    print(f"8 random points around theta0: {verdict.summary()}")
    return rows


def save_figure(out, heis_rows, net_rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dist = catalog.heisenberg()
    metric = dist.sub_riemannian_metric()
    p0 = np.array([1.0, 0.0, 2 * np.pi])  # one full turn of the projected circle at t = 1
    states = np.asarray(
        metric.symp_flow(metric.hamiltonian, end_time=1.0, n_steps=400)(np.stack([np.zeros(3), p0]))
    )
    q = states[:, 0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    for rows, label in ((heis_rows, "Heisenberg, |q(end) - q0|"), (net_rows, "tanh network V")):
        eps, drift = np.array(rows).T
        ax.loglog(eps, drift, "o-", label=label)
    eps = np.array([0.05, 0.4])
    ax.loglog(eps, eps**2, "k--", label="eps^2")
    ax.set_xlabel("loop duration eps")
    ax.set_ylabel("end-point drift of the loop X, Y, -X, -Y")
    ax.set_title("brackets = drift of commutator loops")
    ax.legend()
    ax = axes[1]
    sc = ax.scatter(q[:, 0], q[:, 1], c=q[:, 2], s=4, cmap="viridis")
    fig.colorbar(sc, ax=ax, label="z = swept area")
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Heisenberg normal geodesic (geomstats)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "heisenberg_and_network_bracket.png"
    fig.savefig(path, dpi=120)
    print(f"\nfigure saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="directory for the figure")
    args = parser.parse_args(argv)
    heis_rows = heisenberg_part()
    net_rows = network_part()
    network_part(qn_one=True)
    if args.out is not None:
        save_figure(args.out, heis_rows, net_rows)


if __name__ == "__main__":
    main()
