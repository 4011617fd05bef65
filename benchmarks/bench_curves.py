"""Benchmark: horizontal curves and lifts on the package's ODE core against scipy's solve_ivp.

(a) Heisenberg, the lift of the unit circle from (1, 0, 0) at rtol 1e-10
    (atol 1e-12): the core's Dormand–Prince 5(4) (``horizontal_curve``) against
    ``scipy.integrate.solve_ivp(method="DOP853")`` on the same field q′ = F(q)u(t).
    Field evaluations, wall time, error of z(2π) − π; ratios in one run.
(b) A tanh network with (QN, K) = (32, 5251): the lift of the output curve
    x(t) = x0 + sin(t)·v (|v| = 0.1·|x0|), t ∈ [0, 1].  Output-exact lifts
    (``horizontal_lift``: Dormand–Prince 5(4) on θ′ = Pen x′, fibre correction to
    closure 1e-10 on every step) in both schemes — "jacobian-reuse" (one Jacobian
    per step, the stages solve by CG preconditioned with the step start's SVD) and
    "runge-kutta" (a Jacobian and an SVD per stage) — against ``solve_ivp(DOP853)``
    on θ′ = Pen[D]x′ at decreasing rtol.  Reported: Jacobians, jvp+vjp products,
    time, closure error |f(θ(1)) − x(1)|/|x(1)| and θ's distance to a reference
    (DOP853 at rtol 1e-13).  The goal is ≥ 5× fewer Jacobians at equal closure
    error; the ratio at equal θ error is printed too.

Run:  python benchmarks/bench_curves.py [--quick]
Wall times vary with the machine and its load; only ratios in one run compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.integrate import solve_ivp

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.geometry import lifts
from subriemann.geometry.bundles import PullbackBundle
from subriemann.linalg import JacobianSVD
from subriemann.subriemannian import curves


def heisenberg():
    H = catalog.heisenberg()
    q0 = np.array([1.0, 0.0, 0.0])

    def u(t):
        return np.array([-np.sin(t), np.cos(t)])

    t0 = time.perf_counter()
    c = curves.horizontal_curve(H, q0, u, 2 * np.pi, rtol=1e-10, atol=1e-12)
    t_core = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = solve_ivp(
        lambda t, q: np.asarray(H.frame(q)) @ u(t),
        (0, 2 * np.pi),
        q0,
        method="DOP853",
        rtol=1e-10,
        atol=1e-12,
    )
    t_ivp = time.perf_counter() - t0
    print("(a) Heisenberg unit circle, rtol 1e-10: z(2π) − π")
    print(f"{'route':<26}{'evaluations':>12}{'time [ms]':>11}{'error':>11}")
    print(
        f"{'core DP5(4)':<26}{c.stats['evaluations']:>12}{1e3 * t_core:>11.1f}{abs(c.end[2] - np.pi):>11.1e}"
    )
    print(
        f"{'solve_ivp DOP853':<26}{ref.nfev:>12}{1e3 * t_ivp:>11.1f}{abs(ref.y[2, -1] - np.pi):>11.1e}"
    )
    print(
        f"ratio core/solve_ivp: evaluations {c.stats['evaluations'] / ref.nfev:.2f}, time {t_core / t_ivp:.2f}\n"
    )


def network(quick: bool):
    rng = np.random.default_rng(0)
    N, M = 32, 2
    net = sr.MLP([M, 70, 70, 1])
    f = sr.NetworkMap(net, rng.normal(size=(N, M)))
    theta = net.init(seed=0)
    V = PullbackBundle(f)
    x0 = f(theta)
    v = rng.normal(size=N)
    v *= 0.1 * np.linalg.norm(x0) / np.linalg.norm(v)
    T = 1.0

    def x_curve(t):
        return x0 + np.sin(t) * v

    def x_dot(t):
        return np.cos(t) * v

    def pen_field(t, th):
        return JacobianSVD(f.jacobian(th)).solve(x_dot(t))

    def ivp(rtol):
        c0 = f.counts["jacobian"]
        t0 = time.perf_counter()
        sol = solve_ivp(pen_field, (0, T), theta, method="DOP853", rtol=rtol, atol=rtol * 1e-2)
        return sol.y[:, -1], f.counts["jacobian"] - c0, time.perf_counter() - t0

    ref, _, _ = ivp(1e-13)

    def closure(th):
        return np.linalg.norm(f(th) - x_curve(T)) / np.linalg.norm(x_curve(T))

    print(f"(b) network lift, (QN, K) = ({N}, {net.K}), x(t) = x0 + sin(t)·v on [0, {T:g}]")
    print(
        f"{'route':<40}{'jacobians':>10}{'products':>9}{'time [s]':>9}{'closure':>9}"
        f"{'|θ − ref|/|θ|':>15}"
    )
    rows = []
    lift_rtols = (1e-5, 1e-8) if quick else (1e-5, 1e-6, 1e-7, 1e-8, 1e-10)
    for scheme in ("jacobian-reuse", "runge-kutta"):
        for rtol in lift_rtols:
            c0 = dict(f.counts)
            t0 = time.perf_counter()
            lift = lifts.horizontal_lift(
                V, theta, x_curve, T, velocity=x_dot, rtol=rtol, atol=rtol * 1e-2, scheme=scheme
            )
            dt = time.perf_counter() - t0
            products = sum(f.counts[k] - c0.get(k, 0) for k in ("jvp", "vjp"))
            err = np.linalg.norm(lift.end - ref) / np.linalg.norm(ref)
            rows.append((scheme, lift.n_jacobian, lift.max_closure, err, dt))
            label = f"lift {scheme}, rtol {rtol:g}"
            print(
                f"{label:<40}{lift.n_jacobian:>10}{products:>9}{dt:>9.2f}"
                f"{lift.max_closure:>9.1e}{err:>15.1e}"
            )
    for rtol in (1e-8, 1e-10) if quick else (1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
        th, nj, dt = ivp(rtol)
        err = np.linalg.norm(th - ref) / np.linalg.norm(ref)
        rows.append(("ivp", nj, closure(th), err, dt))
        label = f"solve_ivp DOP853, rtol {rtol:g}"
        print(f"{label:<40}{nj:>10}{0:>9}{dt:>9.2f}{closure(th):>9.1e}{err:>15.1e}")

    def cheapest(kind, ok):
        runs = [r for r in rows if r[0] == kind and ok(r)]
        return min(runs, key=lambda r: r[1]) if runs else None

    ivp_closed = cheapest("ivp", lambda r: r[2] <= 1e-10)
    for scheme in ("jacobian-reuse", "runge-kutta"):
        best = cheapest(scheme, lambda r: r[2] <= 1e-10)
        if ivp_closed is None:
            print(
                f"{scheme}: Jacobians at closure <= 1e-10: {best[1]}; no solve_ivp run reached it"
            )
            continue
        print(
            f"{scheme}: Jacobians at closure <= 1e-10: lift {best[1]}, solve_ivp {ivp_closed[1]}: "
            f"{ivp_closed[1] / best[1]:.1f}x fewer; time ratio solve_ivp/lift "
            f"{ivp_closed[4] / best[4]:.2f}"
        )
        # at equal accuracy of θ: the cheapest solve_ivp run at least as accurate as the lift
        for _, nj, _, err, dt in sorted((r for r in rows if r[0] == scheme), key=lambda r: r[3]):
            match = cheapest("ivp", lambda r, e=err: r[3] <= e)
            if match is not None:
                print(
                    f"{scheme}: at |θ − ref|/|θ| <= {err:.1e}: lift {nj}, solve_ivp {match[1]} "
                    f"Jacobians: {match[1] / nj:.1f}x fewer; time ratio {match[4] / dt:.2f}"
                )
                break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    heisenberg()
    network(args.quick)


if __name__ == "__main__":
    main()
