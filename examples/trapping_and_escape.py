"""Trapping and escape: why standard gradient descent stalls, and what the adapted flow changes.

Two constructed cases, each a statement of the paper (§3–§4):

1. **Trapping (Prop. 3.1).**  A tanh network [1, 3, 1] on N = 3 points whose
   hidden units start saturated (pre-activations ~ 3.5): D[θ] is nearly rank
   deficient and the trapping ratio ε(θ) = |Dᵀ∇ₓC| / |∇ₓC| (3.4) is ~1e-3.
   The standard flow (3.7) crawls through this region for ~1900 time units
   (the bound (3.6) predicts at least ~370); the adapted flow (2.4) from the
   same start follows C(s) = C(0)e^{−2s/N} (2.6) and is at 1e-7 by s = 20.

2. **Equilibria and escape (Lemma 3.2, Thm 4.2, (4.15)–(4.17)).**  A linear
   bottleneck network [2, 1, 2] on N = 3 points (K = 7 > QN = 6) has rank
   D = 5 < QN everywhere it is regular.  Its critical points (Baldi–Hornik)
   are non-global equilibria satisfying (3.10); they lie on a critical
   manifold of dimension K − r = 2.  The one on the lower principal direction
   is a saddle: the perturbation (4.15) along a normal direction of negative
   curvature lowers C (4.17), and the flows then leave it for the constrained
   minimum.

Run::

    python examples/trapping_and_escape.py [--out DIR]

It prints what it measures; with ``--out`` it also writes figures.  Takes a
few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import subriemann as sr
from subriemann.diagnostics import landscape as ls

# -- the two constructed cases (subriemann.diagnostics.landscape builds them) ----------------------
# targets of the bottleneck: a fixed, well-conditioned linear map plus noise
BOTTLENECK_TEACHER = np.array([[2.0, 0.3], [-0.4, 1.0]])


def bottleneck_case(seed=0):
    """Linear [2, 1, 2] on N = 3 and its critical points [saddle, constrained minimum].

    The Baldi–Hornik critical points W = u uᵀA of
    :func:`subriemann.diagnostics.landscape.linear_bottleneck_case`, with targets from
    ``BOTTLENECK_TEACHER``.
    """
    _, f, cost, points = ls.linear_bottleneck_case(seed, teacher=BOTTLENECK_TEACHER)
    return f, cost, points


# -- the two studies -----------------------------------------------------------------
def trapping_study(threshold=1e-2):
    _, f, cost, theta0 = ls.trapping_case()
    standard = sr.integrate(sr.StandardFlow(f, cost), theta0, 2500.0, method="LSODA")
    adapted = sr.integrate(sr.AdaptedFlow(f, cost), theta0, 20.0)
    profiles = {
        "standard (3.7)": ls.trapping_profile(standard, f, cost),
        "adapted (2.4)": ls.trapping_profile(adapted, f, cost),
    }
    windows = {name: p.windows(threshold) for name, p in profiles.items()}
    return f, cost, profiles, windows, threshold


def escape_study():
    f, cost, (saddle, minimum) = bottleneck_case()
    C_min = float(cost(f(minimum)))
    reports = {
        "saddle": ls.classify_point(f, cost, saddle, tol=1e-10),
        "minimum": ls.classify_point(f, cost, minimum, tol=1e-10),
    }
    manifold = ls.critical_manifold_dimension(f, cost, saddle)
    esc = ls.escape_perturbation(f, cost, saddle)
    target = C_min + 1e-3 * (esc.cost_star - C_min)
    orbits = {
        name: sr.integrate(flow, esc.theta_prime, 1e3, "LSODA", eps=target)
        for name, flow in (
            ("standard (3.7)", sr.StandardFlow(f, cost)),
            ("adapted (4.5)", sr.AdaptedFlow(f, cost)),
        )
    }
    return f, cost, reports, manifold, esc, orbits, C_min


# -- figures ------------------------------------------------------------------------------
def plot_trapping(profiles, windows, threshold, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_c, ax_e = fig.subplots(1, 2)
    N = next(iter(profiles.values())).N
    for i, (name, p) in enumerate(profiles.items()):
        s = np.maximum(p.s, 1e-2)
        ax_c.loglog(s, p.cost, f"C{i}", marker=".", ms=3, label=name)
        ax_e.loglog(s, p.ratio, f"C{i}", marker=".", ms=3, label=f"ε(θ(s)), {name}")
        for w in windows[name]:
            ax_e.axvspan(max(w.s_start, 1e-2), w.s_end, color=f"C{i}", alpha=0.12)
    p0 = next(iter(profiles.values()))
    grid = np.geomspace(1e-2, 30, 100)
    ax_c.loglog(grid, p0.cost[0] * np.exp(-2 * grid / N), "k--", lw=1, label="C(0)e^{-2s/N} (2.6)")
    ax_c.set_ylim(1e-8, 1)
    ax_c.set_xlabel("flow time s")
    ax_c.set_ylabel("cost C(s)")
    ax_c.set_title("Same start: the standard flow is trapped")
    ax_c.legend(fontsize=8)
    ax_e.axhline(threshold, color="grey", ls=":", label=f"threshold {threshold:g}")
    longest = max(windows["standard (3.7)"], key=lambda w: w.duration)
    ax_e.annotate(
        f"window: |I| = {longest.duration:.0f}\n(3.6) bound: {longest.lower_bound:.0f}",
        (np.sqrt(max(longest.s_start, 1e-2) * longest.s_end), threshold),
        xytext=(0, -40),
        textcoords="offset points",
        ha="center",
        fontsize=8,
    )
    ax_e.set_xlabel("flow time s")
    ax_e.set_ylabel("ε(θ) = |Dᵀ∇ₓC| / |∇ₓC|  (3.4)")
    ax_e.set_title("Trapping ratio along the orbits (shaded: ε < threshold)")
    ax_e.legend(fontsize=8)
    fig.savefig(path, dpi=80)
    return path


def plot_escape(f, cost, esc, orbits, C_min, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_l, ax_o = fig.subplots(1, 2)
    g = ls.g_functions(f, cost, esc.theta_star)
    Jg = g.jacobian(esc.theta_star)
    t = np.linspace(-1.0, 1.0, 101) * 2 * abs(esc.kappa) * np.linalg.norm(esc.direction)
    for a in range(g.r):
        u = Jg[a] / np.linalg.norm(Jg[a])
        ax_l.plot(t, [cost(f(esc.theta_star + ti * u)) for ti in t], lw=0.8, color="grey")
    u = esc.direction / np.linalg.norm(esc.direction)
    ax_l.plot(t, [cost(f(esc.theta_star + ti * u)) for ti in t], "C3", lw=2, label=esc.method)
    ax_l.plot([], [], color="grey", lw=0.8, label="∇g_α, α = 1..r (4.16)")
    ax_l.axhline(esc.cost_star, color="k", ls="--", lw=1, label="C(θ*)")
    ax_l.set_xlabel("step length along the direction")
    ax_l.set_ylabel("C(θ* + t V/|V|)")
    ax_l.set_title("Normal directions at the saddle (4.15)")
    ax_l.legend(fontsize=8)
    for i, (name, traj) in enumerate(orbits.items()):
        ax_o.semilogx(np.maximum(traj.s, 1e-3), traj.cost, f"C{i}", marker=".", ms=3, label=name)
    ax_o.axhline(esc.cost_star, color="k", ls="--", lw=1, label="C(θ*), non-global equilibrium")
    ax_o.axhline(C_min, color="k", ls=":", lw=1, label="constrained minimum")
    ax_o.set_xlabel("flow time s (from θ′)")
    ax_o.set_ylabel("cost C(s)")
    ax_o.set_title("After the escape step the flows leave θ*")
    ax_o.legend(fontsize=8)
    fig.savefig(path, dpi=80)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the figures (PNG)")
    args = parser.parse_args(argv)

    f, cost, profiles, windows, threshold = trapping_study()
    print("1. Trapping (Prop. 3.1): tanh [1, 3, 1], saturated hidden units, N = 3")
    for name, p in profiles.items():
        i20 = np.searchsorted(p.s, 20.0)
        C20 = p.cost[min(i20, p.s.size - 1)]
        print(
            f"   {name:<15} C(0) = {p.cost[0]:.3g}, C(s≈20) = {C20:.3g}, "
            f"min ε = {p.ratio.min():.2e}, windows with ε < {threshold:g}: {len(windows[name])}"
        )
    for w in windows["standard (3.7)"]:
        print(
            f"   standard flow trapped on s ∈ [{w.s_start:.1f}, {w.s_end:.1f}]: |I| = {w.duration:.0f} "
            f"≥ (3.6) bound N·L_U/(|x(s0) − y|·ε) = {w.lower_bound:.0f}"
            + ("  (still trapped at the end)" if w.open_end else "")
        )

    f, cost, reports, manifold, esc, orbits, C_min = escape_study()
    print("\n2. Equilibria and escape: linear bottleneck [2, 1, 2], N = 3 (K = 7 > QN = 6)")
    for name, rep in reports.items():
        print(f"   {name:<8} {rep.kind}: {rep.message}")
    print(
        f"   critical manifold at the saddle: K − rank ∂g/∂θ = {manifold.dimension}, "
        f"K − r = {manifold.predicted_dimension} (4.14); rank locally constant: "
        f"{manifold.rank_locally_constant}"
    )
    print(
        f"   escape (4.15)-(4.17): {esc.message}; smallest normal curvature "
        f"{esc.normal_curvature:.3g}; the literal ∇g_α recipe (4.16) lowers C: "
        f"{esc.gradient_recipe_decreases}"
    )
    for name, traj in orbits.items():
        print(
            f"   {name:<15} from θ′: C = {traj.cost[-1]:.6g} at s = {traj.s[-1]:.1f} "
            f"({traj.status}); constrained minimum {C_min:.6g}"
        )

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        print(
            f"\nfigures: {plot_trapping(profiles, windows, threshold, args.out / 'trapping.png')}"
        )
        print(f"         {plot_escape(f, cost, esc, orbits, C_min, args.out / 'escape.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
