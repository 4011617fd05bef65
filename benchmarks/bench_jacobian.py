"""Closed-form network Jacobian D[θ] (1.17) against autograd, and against the memory floor.

Baselines measured in the same run:

* ``autograd.jacobian`` of the same value function θ ↦ x[θ] (one reverse pass
  per output row, QN of them);
* the memory floor: allocating and writing a QN×K float64 array
  (``np.empty`` + ``fill``), the least any method that returns D can cost.

A second table times ``jacobian_derivative`` (d/dt D[θ + tv], which the Lie
brackets need) against autograd's forward-over-reverse, ``make_jvp`` of
``autograd.jacobian``.  Timings are best-of-k with ``time.perf_counter``;
nothing is asserted.  ``rel.err`` is max|closed − autograd| / max|autograd|.

The closed form writes its outer-product blocks with the compiled kernel
``subriemann._kernels`` when it is built, else with numpy; the backend that ran
is printed.  ``--pure-numpy`` (or SUBRIEMANN_PURE_NUMPY=1) times the numpy one.

Usage::

    python benchmarks/bench_jacobian.py [--quick] [--pure-numpy]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import autograd
import numpy as np
from autograd.differential_operators import make_jvp

import subriemann as sr
from subriemann.maps import network

# (M, width, Q, N, L): input dimension, hidden width, output dimension, samples, hidden layers
SIZES = [(2, 16, 2, 8, 1), (4, 64, 3, 32, 2), (8, 128, 4, 128, 2)]
# autograd's forward-over-reverse costs QN traced reverse passes: 20–90 s for
# the largest size on a shared 2-core machine, so it is timed once there, and
# skipped with --quick
HUGE = 10**6  # QN·K entries


def best_time(fn, repeats: int, warm_up: bool = True) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn()``, in seconds."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def memory_floor(shape):
    arr = np.empty(shape)
    arr.fill(1.0)
    return arr


def build(M, width, Q, N, L, seed=0):
    rng = np.random.default_rng(seed)
    net = sr.MLP([M] + [width] * L + [Q], activation="tanh")
    f = sr.NetworkMap(net, rng.normal(size=(N, M)))
    return f, net.init(seed=seed), rng.normal(size=net.K)


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def jacobian_row(size, fast, slow):
    f, theta, _ = build(*size)
    jac_autograd = autograd.jacobian(f._value)
    t_closed = best_time(lambda: f.jacobian(theta), fast)
    ref, t_auto = timed(lambda: jac_autograd(theta))
    if slow > 1:
        t_auto = min(t_auto, best_time(lambda: jac_autograd(theta), slow - 1, False))
    t_floor = best_time(lambda: memory_floor((f.dim_out, f.dim_in)), fast)
    err = relative_error(f.jacobian(theta), ref)
    return (
        f"{str(size):<20}{f.dim_in:>7}{f.dim_out:>6}{1e3 * t_closed:>10.3f}{1e3 * t_auto:>11.3f}"
        f"{1e3 * t_floor:>9.3f}{t_auto / t_closed:>10.1f}x{t_closed / t_floor:>13.2f}x{err:>10.1e}"
    )


def derivative_row(size, fast, slow, quick):
    f, theta, v = build(*size)
    t_closed = best_time(lambda: f.jacobian_derivative(theta, v), fast)
    t_floor = best_time(lambda: memory_floor((f.dim_out, f.dim_in)), fast)
    head = f"{str(size):<20}{1e3 * t_closed:>10.3f}"
    huge = f.dim_out * f.dim_in > HUGE
    if huge and quick:
        return f"{head}{'skipped':>11}{1e3 * t_floor:>9.3f}{'':>11}{t_closed / t_floor:>13.2f}x"
    fwd_over_rev = make_jvp(autograd.jacobian(f._value))
    ref, t_auto = timed(lambda: fwd_over_rev(theta)(v)[1])
    if not huge and slow > 1:
        t_auto = min(t_auto, best_time(lambda: fwd_over_rev(theta)(v), slow - 1, False))
    err = relative_error(f.jacobian_derivative(theta, v), ref)
    return (
        f"{head}{1e3 * t_auto:>11.3f}{1e3 * t_floor:>9.3f}"
        f"{t_auto / t_closed:>10.1f}x{t_closed / t_floor:>13.2f}x{err:>10.1e}"
    )


def backend() -> str:
    """Which code writes the Jacobian's blocks, and why."""
    if network.ASSEMBLY == "c":
        return "c (compiled kernel subriemann._kernels)"
    if importlib.util.find_spec("subriemann._kernels") is None:
        return "numpy (subriemann._kernels is not built: no C compiler at install?)"
    return "numpy (fallback forced by --pure-numpy or SUBRIEMANN_PURE_NUMPY)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument(
        "--pure-numpy",
        action="store_true",
        help="assemble with the numpy fallback even when the C kernel is built",
    )
    args = parser.parse_args(argv)
    fast, slow = (3, 1) if args.quick else (30, 3)
    if args.pure_numpy:
        network.ASSEMBLY = "numpy"
    print(f"assembly backend: {backend()}")
    print()

    print("Jacobian D[θ] (QN×K): NetworkMap.jacobian vs autograd.jacobian vs memory floor")
    print(f"times in ms, best of {fast} (closed form, floor) / {slow} (autograd)")
    print("floor = np.empty((QN, K)) + fill(1.0)")
    header = (
        f"{'(M,width,Q,N,L)':<20}{'K':>7}{'QN':>6}{'closed':>10}{'autograd':>11}"
        f"{'floor':>9}{'ag/closed':>11}{'closed/floor':>14}{'rel.err':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        print(jacobian_row(size, fast, slow))

    print()
    print("d/dt D[θ+tv]: NetworkMap.jacobian_derivative vs autograd forward-over-reverse")
    header = (
        f"{'(M,width,Q,N,L)':<20}{'closed':>10}{'autograd':>11}{'floor':>9}"
        f"{'ag/closed':>11}{'closed/floor':>14}{'rel.err':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        print(derivative_row(size, fast, slow, args.quick))
    print()
    print("goals (Jacobian): autograd/closed >= 10x on the two larger sizes, closed/floor <= 3x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
