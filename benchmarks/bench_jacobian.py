"""Closed-form network Jacobian D[θ] (1.17) against autograd, and against the memory floor.

Baselines measured in the same run:

* ``autograd.jacobian`` of the same value function θ ↦ x[θ] (one reverse pass
  per output row, QN of them);
* the memory floor: allocating and writing a QN×K float64 array
  (``np.empty`` + ``fill``), the least any method that returns D can cost.

An extra table times ``jacobian_derivative`` (d/dt D[θ + tv], needed by the
Lie brackets) against autograd's forward-over-reverse, ``make_jvp`` of
``autograd.jacobian``.  Timings are best-of-k with ``time.perf_counter``;
nothing is asserted.

Usage::

    python benchmarks/bench_jacobian.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import autograd
import numpy as np
from autograd.differential_operators import make_jvp

import subriemann as sr

# (M, width, Q, N, L): input dimension, hidden width, output dimension, samples, hidden layers
SIZES = [(2, 16, 2, 8, 1), (4, 64, 3, 32, 2), (8, 128, 4, 128, 2)]


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def memory_floor(shape):
    arr = np.empty(shape)
    arr.fill(1.0)
    return arr


def build(M, width, Q, N, L, seed=0):
    rng = np.random.default_rng(seed)
    net = sr.MLP([M] + [width] * L + [Q], activation="tanh")
    f = sr.NetworkMap(net, rng.normal(size=(N, M)))
    theta = net.init(seed=seed)
    v = rng.normal(size=net.K)
    return net, f, theta, v


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args(argv)
    fast_repeats, slow_repeats = (3, 1) if args.quick else (30, 3)

    print("Jacobian D[θ] (QN×K): NetworkMap.jacobian vs autograd.jacobian vs memory floor")
    print("times in ms, best of k; floor = np.empty((QN, K)) + fill(1.0)")
    header = (
        f"{'(M,width,Q,N,L)':<20}{'K':>7}{'QN':>6}{'closed':>10}{'autograd':>11}"
        f"{'floor':>9}{'ag/closed':>11}{'closed/floor':>14}{'rel.err':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        net, f, theta, _ = build(*size)
        jac_autograd = autograd.jacobian(f._value)
        t_closed = best_time(lambda f=f, theta=theta: f.jacobian(theta), fast_repeats)
        t_auto = best_time(lambda j=jac_autograd, theta=theta: j(theta), slow_repeats)
        t_floor = best_time(lambda s=(f.dim_out, f.dim_in): memory_floor(s), fast_repeats)
        err = relative_error(f.jacobian(theta), jac_autograd(theta))
        print(
            f"{str(size):<20}{net.K:>7}{f.dim_out:>6}{1e3 * t_closed:>10.3f}{1e3 * t_auto:>11.3f}"
            f"{1e3 * t_floor:>9.3f}{t_auto / t_closed:>10.1f}x{t_closed / t_floor:>13.2f}x"
            f"{err:>10.1e}"
        )

    print()
    print("d/dt D[θ+tv]: NetworkMap.jacobian_derivative vs autograd forward-over-reverse")
    header = (
        f"{'(M,width,Q,N,L)':<20}{'closed':>10}{'autograd':>11}{'floor':>9}"
        f"{'ag/closed':>11}{'closed/floor':>14}{'rel.err':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        net, f, theta, v = build(*size)
        fwd_over_rev = make_jvp(autograd.jacobian(f._value))
        t_closed = best_time(
            lambda f=f, theta=theta, v=v: f.jacobian_derivative(theta, v), fast_repeats
        )
        t_auto = best_time(lambda g=fwd_over_rev, theta=theta, v=v: g(theta)(v), slow_repeats)
        t_floor = best_time(lambda s=(f.dim_out, f.dim_in): memory_floor(s), fast_repeats)
        err = relative_error(f.jacobian_derivative(theta, v), fwd_over_rev(theta)(v)[1])
        print(
            f"{str(size):<20}{1e3 * t_closed:>10.3f}{1e3 * t_auto:>11.3f}{1e3 * t_floor:>9.3f}"
            f"{t_auto / t_closed:>10.1f}x{t_closed / t_floor:>13.2f}x{err:>10.1e}"
        )
    print()
    print("goals: autograd/closed >= 10x on the two larger sizes; closed/floor <= 3x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
