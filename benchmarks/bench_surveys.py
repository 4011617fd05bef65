"""Survey throughput: networks per second, serial vs 2 local processes vs Dask (2 workers).

Baseline: the serial backend (``n_jobs=1``), measured in the same run.  Each
backend runs the same three surveys — a rank survey (Jacobian, SVD, structural
checks and Bingham's statistic per network), an orbit survey (one adapted orbit
integrated to C ≤ ε per network) and an integrability survey (Frobenius defect
of V per network) — must produce the same tables (checked with
``SurveyResult.matches``: equal up to BLAS round-off), and the script prints the
throughput ratios against serial.

What is timed: the survey call from start to return, after one warm-up task
in this process.  For processes this includes starting the pool (workers
forked from a forkserver that preloads the package, with one BLAS thread
each); for Dask it includes connecting a client, but not starting the
LocalCluster (a cluster is long-lived; its start-up time is printed).

Parallel backends pay off only when a task is long against the per-run cost
of starting the pool and shipping results: the rank survey (QN = 450, tens of
ms per network) shows it; the Frobenius survey (a few ms per network) shows
the overhead side.

The serial baseline uses this process's BLAS threads: on a busy machine a
multi-threaded BLAS can be many times slower than a single-threaded one, so
run once as is and once with ``OPENBLAS_NUM_THREADS=1`` to separate the
effect of parallel workers from that of BLAS threading.

Usage::

    python benchmarks/bench_surveys.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

from subriemann.diagnostics import surveys as sv


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller networks")
    args = parser.parse_args(argv)
    seeds = 6 if args.quick else 16
    # one SurveyOptions per survey; each backend run overrides only how it runs
    surveys = {
        "rank": (
            sv.run_rank_survey,
            sv.SurveyOptions(
                architectures=["3-64-64-3", "3-256-3"],
                n_samples=30 if args.quick else 150,
                seeds=seeds,
                base_seed=1,
            ),
        ),
        "orbit": (
            sv.run_orbit_survey,
            sv.SurveyOptions(
                architectures=["2-16-2", "2-6-6-2"],
                n_samples=10,
                seeds=seeds // 2 if args.quick else seeds,
                base_seed=1,
            ),
        ),
        "frobenius": (
            sv.run_frobenius_survey,
            sv.SurveyOptions(
                architectures=["3-16-3", "3-32-3"],
                n_samples=[5, 6 if args.quick else 8],
                seeds=seeds,
                base_seed=1,
            ),
        ),
    }
    for _, opts in surveys.values():
        sv.run_task(sv.make_tasks("rank", opts.architectures[:1], 1, 3)[0])  # warm-up

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"this process: OPENBLAS_NUM_THREADS={blas}, {os.cpu_count()} CPUs")
    results = {name: [] for name in surveys}
    baseline = {}
    for name, (run, opts) in surveys.items():
        serial, t = timed(lambda run=run, opts=opts: run(options=opts))
        baseline[name] = serial
        results[name].append(("serial (baseline)", t, True, len(serial.rows)))
        par, t = timed(lambda run=run, opts=opts: run(options=opts, n_jobs=2))
        results[name].append(("2 processes", t, par.matches(serial), len(par.rows)))
    try:
        from distributed import LocalCluster
    except ImportError:
        print("dask.distributed is not installed: skipping the Dask backend")
    else:
        import logging

        # the scheduler's and clients' INFO chatter would bury the table
        logging.getLogger("distributed").setLevel(logging.WARNING)
        t0 = time.perf_counter()
        with LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        ) as cluster:
            print(f"(LocalCluster start-up, not timed: {time.perf_counter() - t0:.2f} s)")
            for name, (run, opts) in surveys.items():
                dask_res, t = timed(lambda run=run, opts=opts: run(options=opts, scheduler=cluster))
                same = dask_res.matches(baseline[name])
                results[name].append(("Dask LocalCluster(2 workers)", t, same, len(dask_res.rows)))

    for name, rows in results.items():
        first = baseline[name].rows
        shapes = sorted({(r["layers"], r["K"], r["QN"]) for r in first})
        print(f"\n{name} survey: {len(first)} networks, (layers, K, QN) = {shapes}")
        print(
            f"{'backend':<30} {'time [s]':>9} {'networks/s':>11} {'ratio vs serial':>16} {'same table':>11}"
        )
        t_serial = rows[0][1]
        for backend, t, same, n in rows:
            print(
                f"{backend:<30} {t:>9.2f} {n / t:>11.1f} {t_serial / t:>16.2f} {'yes' if same else 'NO':>11}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
