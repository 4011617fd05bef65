"""Benchmark: is each piece of caching machinery worth keeping?  (Issue #12: keep only at ≥ 15 %.)

(a) The scratch pool (``subriemann.scratch``) on the Frobenius test of a network's V at
    (QN, K) = (32, 4996) (bench_brackets' case), baseline = the same test with the pool
    disabled (every borrow gets a fresh workspace, so every call pays first-touch faults).
(b) The flows' 8-entry point cache (``ParameterFlow``) on RK45 of the adapted flow of a
    [4, 64, 64, 4] network on N = 16 (K = 4740, QN = 64) to C = 1e-8, baseline = the same
    run with the cache disabled (recording an accepted point re-evaluates D and its SVD).

Run:  python benchmarks/bench_machinery.py [--quick]
Ratios are within one run; wall times vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np

import subriemann as sr
from subriemann import scratch as _scratch
from subriemann.flows.fields import ParameterFlow


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@contextmanager
def no_scratch_pool():
    saved = _scratch.borrow

    @contextmanager
    def fresh():
        yield _scratch.Workspace()

    _scratch.borrow = fresh
    try:
        yield
    finally:
        _scratch.borrow = saved


@contextmanager
def no_point_cache():
    saved = ParameterFlow._store
    ParameterFlow._store = lambda self, theta, **values: None
    try:
        yield
    finally:
        ParameterFlow._store = saved


def frobenius_case():
    rng = np.random.default_rng(0)
    net = sr.MLP([4, 64, 64, 4], activation="tanh")
    f = sr.NetworkMap(net, rng.normal(size=(8, 4)))
    dist = sr.PullbackBundle(f).distribution()
    theta = net.init(0)
    return f, lambda: dist.frobenius_defect(theta)


def flow_case():
    rng = np.random.default_rng(5)
    data = sr.TrainingData.regression(rng.normal(size=(16, 4)), rng.normal(size=(16, 4)))
    net = sr.MLP([4, 64, 64, 4], activation="tanh")
    f = sr.NetworkMap(net, data.inputs)
    flow = sr.AdaptedFlow(f, sr.L2Cost.from_data(data))
    theta = net.init(5)
    return f, lambda: sr.integrate(
        flow, theta, np.inf, method="RK45", eps=1e-8, rtol=1e-8, atol=1e-10
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    f, frob = frobenius_case()
    print(f"(a) Frobenius test of V at (QN, K) = ({f.dim_out}, {f.dim_in}), best of {repeat}")
    frob()
    with_pool = best_of(frob, repeat)
    with no_scratch_pool():
        without = best_of(frob, repeat)
    print(
        f"    scratch pool {with_pool * 1e3:8.2f} ms   fresh workspaces {without * 1e3:8.2f} ms"
        f"   pool saves {100 * (1 - with_pool / without):5.1f} %"
    )
    f, run = flow_case()
    print(f"(b) RK45 on the adapted flow, K = {f.dim_in}, QN = {f.dim_out}, to C = 1e-8")
    before = dict(f.counts)
    with_cache = best_of(run, max(1, repeat // 3))
    jac_cached = (f.counts["jacobian"] - before.get("jacobian", 0)) / max(1, repeat // 3)
    with no_point_cache():
        before = dict(f.counts)
        without = best_of(run, max(1, repeat // 3))
        jac_plain = (f.counts["jacobian"] - before.get("jacobian", 0)) / max(1, repeat // 3)
    print(
        f"    point cache {with_cache:8.3f} s ({jac_cached:.0f} Jacobians)   no cache "
        f"{without:8.3f} s ({jac_plain:.0f} Jacobians)   cache saves "
        f"{100 * (1 - with_cache / without):5.1f} %"
    )


if __name__ == "__main__":
    main()
