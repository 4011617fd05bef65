"""grad_h under ill-conditioning: stable SVD route vs the literal (1.27) vs numpy lstsq.

For D = U diag(s) Vᵀ (QN×K, s log-spaced so that cond(D) is exact) and a random
∇ₓC, three ways to get the adapted direction grad_h C = Pen[D]Pen[D]ᵀ∇_θC
(2.30), ∇_θC = Dᵀ∇ₓC (1.18):

* ``lstsq``   (baseline): ``numpy.linalg.lstsq(D, ∇ₓC)``, the minimum-norm
  solution D⁺∇ₓC, which equals grad_h C (full row rank);
* ``stable``  : ``JacobianSVD(D).normal_solve(∇_θC)`` = V Σ⁻² Vᵀ∇_θC, the route of
  ``PullbackBundle.grad`` (also timed through the public API as ``bundle``,
  which adds input checks and the rank report).  For these wide D (K = 4–5 QN)
  JacobianSVD factors Dᵀ = QR (Householder, Q kept as reflectors), then takes
  the SVD of the QN×QN triangle R, and applies V = Q U_R to vectors without
  forming it — backward stable like a direct SVD, and no DDᵀ;
* ``literal`` : (1.27) as printed, Dᵀ (DDᵀ)⁻¹ (DDᵀ)⁻¹ D ∇_θC with an explicit inverse.

Printed: the push-forward residual |D·g − ∇ₓC|/|∇ₓC| (Theorem 2.1 says 0) and
the best-of-R wall time, with ratios to ``lstsq`` measured in the same run.  The
routes are timed round-robin (each repeat runs every route once) so that load
from other processes hits all of them alike, and BLAS runs single-threaded
unless ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` is set: on a shared
2-core machine multi-threaded timings of LAPACK vary by factors of 5.
Times are indicative only; nothing is asserted.

Usage: ``python benchmarks/bench_gradients.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads BLAS

import numpy as np  # noqa: E402

import subriemann as sr  # noqa: E402
from subriemann.linalg import JacobianSVD  # noqa: E402


def conditioned_matrix(rng, m, n, cond):
    k = min(m, n)
    U = np.linalg.qr(rng.normal(size=(m, k)))[0]
    V = np.linalg.qr(rng.normal(size=(n, k)))[0]
    return (U * np.logspace(0.0, -np.log10(cond), k)) @ V.T


def best_times(routes, repeats):
    """Best-of-``repeats`` time of every route, timed round-robin."""
    best = dict.fromkeys(routes, np.inf)
    for _ in range(repeats):
        for name, fn in routes.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def run(sizes, conds, repeats, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for m, n in sizes:
        for cond in conds:
            D = conditioned_matrix(rng, m, n, cond)
            grad_x = rng.normal(size=m)
            grad_theta = D.T @ grad_x
            bundle = sr.PullbackBundle(sr.LinearMap(D))
            theta = np.zeros(n)
            routes = {
                "lstsq": lambda D=D, gx=grad_x: np.linalg.lstsq(D, gx, rcond=None)[0],
                "stable": lambda D=D, gt=grad_theta: JacobianSVD(D).normal_solve(gt),
                "bundle": lambda b=bundle, t=theta, gt=grad_theta: b.grad(t, gt),
                "literal": lambda D=D, gt=grad_theta: _literal(D, gt),
            }
            row = {"QN": m, "K": n, "cond": cond}
            for name, fn in routes.items():
                g = fn()  # also the warm-up
                row[f"res_{name}"] = np.linalg.norm(D @ g - grad_x) / np.linalg.norm(grad_x)
            for name, t in best_times(routes, repeats).items():
                row[f"t_{name}"] = t
            rows.append(row)
    return rows


def _literal(D, grad_theta):
    gram_inv = np.linalg.inv(D @ D.T)
    return D.T @ (gram_inv @ (gram_inv @ (D @ grad_theta)))


def print_table(rows):
    threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS"))
    print("push-forward residual |D g - grad_x C| / |grad_x C|  and best time (ratio to lstsq)")
    print(f"OPENBLAS_NUM_THREADS={threads}")
    header = (
        f"{'QN':>5} {'K':>6} {'cond':>7} | {'lstsq':>9} {'stable':>9} {'literal':>9} |"
        f" {'lstsq ms':>9} {'stable':>14} {'bundle':>14} {'literal':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        base = r["t_lstsq"]

        def t(name, base=base, r=r):
            return f"{1e3 * r[f't_{name}']:7.2f} ({r[f't_{name}'] / base:4.2f}x)"

        print(
            f"{r['QN']:>5} {r['K']:>6} {r['cond']:>7.0e} |"
            f" {r['res_lstsq']:9.1e} {r['res_stable']:9.1e} {r['res_literal']:9.1e} |"
            f" {1e3 * base:9.2f} {t('stable'):>14} {t('bundle'):>14} {t('literal'):>14}"
        )
    stable = [r["t_stable"] / r["t_lstsq"] for r in rows]
    big = [r["t_stable"] / r["t_lstsq"] for r in rows if r["QN"] * r["K"] >= 20_000]
    print(
        f"\nstable / lstsq time: median {np.median(stable):.2f}x over all rows"
        + (f", {np.median(big):.2f}x on QN*K >= 2e4 (goal <= 1.5x)" if big else "")
    )
    worst = max((r for r in rows if r["cond"] <= 1e6), key=lambda r: r["res_stable"])
    print(
        f"worst stable residual up to cond 1e6: {worst['res_stable']:.1e} (goal <= 1e-8); "
        f"literal at cond 1e6: {max(r['res_literal'] for r in rows if r['cond'] == 1e6):.1e}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args(argv)
    conds = [1e2, 1e4, 1e6, 1e8]
    if args.quick:
        sizes, repeats = [(20, 80), (100, 400)], 5
    else:
        sizes, repeats = [(20, 80), (100, 400), (200, 1000), (400, 2000)], 9
    print_table(run(sizes, conds, repeats))


if __name__ == "__main__":
    main()
