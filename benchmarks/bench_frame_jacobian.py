"""Benchmark: normal geodesics, Jacobi fields and log/dist with the closed-form frame Jacobian.

∂H/∂q_k = Σ_{i,j} u_i p_j ∂F_ji/∂q_k of H(q, p) = ½|F(q)ᵀp|² either contracts the
distribution's closed-form frame Jacobian (``Distribution.frame_jacobian``, route
"closed form": every catalog entry) or traces the frame with autograd (one
vector–Jacobian product per evaluation).  The baseline is the *same* frame built
without ``frame_jacobian`` — ``Distribution(dist.frame, dist.dim)``, route
"autograd" — measured in the same run; the table prints its time over the
closed-form route's (the speed-up).

Problems: Heisenberg (R³) and Cartan's (2, 3, 5) flat model (R⁵).  Operations: one
Hamiltonian field evaluation; ``normal_geodesic`` (DOP853, rtol 1e-12, t = 1);
``jacobi_fields`` (dim variations, rtol 1e-11, t = 1); ``conjugate_times``;
``SubRiemannianMetric.log`` and ``.dist`` (shooting: Levenberg–Marquardt with
Jacobi-field Jacobians).  The two routes' end points are printed too (they agree
to the integrator's error).

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_frame_jacobian.py [--quick]
Wall times vary with the machine and its load; only ratios in one run compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.subriemannian.geodesics import hamiltonian_field, normal_geodesic
from subriemann.subriemannian.jacobi import conjugate_times, jacobi_fields
from subriemann.subriemannian.metric import SubRiemannianMetric


def timed(fn, repeat):
    """(best wall time of ``repeat`` calls, the last result)."""
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def operations(dist, p0, target, quick):
    """name -> callable(distribution) returning an array to compare between the routes."""
    q0 = np.zeros(dist.dim)
    y = np.concatenate([q0 + 0.1, p0])
    ops = {
        "field evaluation (×100)": lambda d: [hamiltonian_field(d)(0.0, y) for _ in range(100)][-1],
        "normal_geodesic": lambda d: normal_geodesic(d, q0, p0, 1.0, rtol=1e-12).end,
        "jacobi_fields": lambda d: jacobi_fields(d, q0, p0, 1.0).endpoint_jacobian(),
    }
    if dist.name == "heisenberg":
        ops["conjugate_times"] = lambda d: conjugate_times(d, q0, p0, 1.5 * 2 * np.pi / abs(p0[2]))
        ops["dist (n_starts=2)"] = lambda d: np.atleast_1d(
            SubRiemannianMetric(d).dist(q0, target, n_starts=2)
        )
    if not quick or dist.name == "heisenberg":
        # one start 1% off the covector that reached the target (Cartan's shooting stalls at a
        # residual ~1e-8 from 5% off, on both routes alike)
        ops["log (one start)"] = lambda d: SubRiemannianMetric(d).log(
            target, q0, starts=[1.01 * p0]
        )
    return ops


def run(dist, p0, quick, repeat):
    target = normal_geodesic(dist, np.zeros(dist.dim), p0, 1.0, rtol=1e-13).end
    if dist.name == "heisenberg":
        target = np.array([0.3, -0.4, 0.0])  # the docs' example: d = 0.5, the straight line
    baseline = sr.Distribution(dist.frame, dist.dim)  # same frame, route "autograd"
    rows = []
    for name, op in operations(dist, p0, target, quick).items():
        t_closed, closed = timed(lambda op=op: op(dist), repeat)
        t_traced, traced = timed(lambda op=op: op(baseline), repeat)
        gap = float(np.max(np.abs(np.asarray(closed) - np.asarray(traced))))
        rows.append((name, t_closed, t_traced, gap))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    problems = [
        (catalog.heisenberg(), np.array([0.6, -0.8, -3.0])),
        (catalog.cartan_235(), np.array([0.8, -0.3, 1.0, 0.2, 0.1])),
    ]
    print(f"{'problem':<12}{'operation':<26}{'closed [ms]':>12}{'autograd [ms]':>15}"
          f"{'speed-up':>10}{'|Δ| routes':>12}")  # fmt: skip
    for dist, p0 in problems:
        for name, t_closed, t_traced, gap in run(dist, p0, args.quick, repeat):
            print(
                f"{dist.name:<12}{name:<26}{1e3 * t_closed:>12.1f}{1e3 * t_traced:>15.1f}"
                f"{t_traced / t_closed:>9.1f}×{gap:>12.1e}"
            )
    print("speed-up = autograd route's time / closed-form route's (baseline: the same frame "
          "without frame_jacobian, this run)")  # fmt: skip


if __name__ == "__main__":
    main()
