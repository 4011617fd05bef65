"""Benchmark: the Frobenius test (2.31) of a network's pullback bundle V, three bracket routes.

Routes for the QN×QN frame brackets [u_i, u_j] of u_i = Pen[D]e_i:

* ``jacobian_derivative`` (the package's route, ``PullbackBundle.distribution()``):
  QN calls of the closed-form second derivative ``f.jacobian_derivative`` and
  the Golub–Pereyra derivative of Pen from one SVD.
* ``naive`` (baseline): autograd through the pseudo-inverse as a user would
  write it, Pen = Dᵀ solve(DDᵀ, 1) on the traced Jacobian; autograd has no
  forward rule for ``solve``, so each column is a reverse-over-reverse jvp.
* ``autograd+GP``: autograd forward mode through the traced Jacobian and the
  package's ``pseudo_inverse`` primitive (its jvp is the Golub–Pereyra formula),
  i.e. ``Distribution(bundle.frame, K)``; shown for reference.
* ``full jac.``: the textbook naive route, ``autograd.jacobian`` of the literal
  frame (one reverse pass per entry of the K×QN frame, then contraction with
  the frame); timed on a few entries and extrapolated.

Accuracy: each route's brackets against the naive (exact, independent) route,
and central differences (``brackets="fd"``) against the same reference.  When a
naive or autograd route would take too long, it runs on a few frame columns and
the time is extrapolated linearly in the number of columns (marked "extrap.").

Run:  python benchmarks/bench_brackets.py [--quick]
Wall times vary with the machine and its load; only ratios in one run compare.
Times are the best of 3 repeats (1 with --quick).  On a shared machine,
multi-threaded BLAS thrashes; OMP_NUM_THREADS=1 gives stabler figures.
"""

from __future__ import annotations

import argparse
import os
import time

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp

import subriemann as sr
from subriemann.bundles import PullbackBundle
from subriemann.distributions import Distribution, _directional_derivative

CASES = {
    # (layer sizes, N): QN = Q*N, K from the layer sizes
    "small": ([4, 32, 4], 2),  # QN = 8, K = 292
    "large": ([8, 64, 64, 4], 8),  # QN = 32, K = 4996
}


def problem(sizes, N, seed=0):
    rng = np.random.default_rng(seed)
    mlp = sr.MLP(sizes, activation="tanh")
    f = sr.NetworkMap(mlp, rng.normal(size=(N, sizes[0])))
    return f, mlp.init(seed)


def naive_frame(f):
    """Pen[D] = Dᵀ(DDᵀ)⁻¹ written literally with autograd.numpy (what the package avoids)."""

    def frame(theta):
        D = f._jacobian(theta)
        return anp.dot(
            anp.transpose(D), anp.linalg.solve(anp.dot(D, anp.transpose(D)), np.eye(D.shape[0]))
        )

    return frame


def brackets_by_columns(frame, theta, U, columns):
    """T[i] = d frame[u_i] for i in columns; brackets need all i, so return the T rows."""
    return {i: np.asarray(_directional_derivative(frame, theta, U[:, i])).T for i in columns}


def full_jacobian_time(frame, theta, n_entries):
    """Time of autograd.jacobian(frame): one forward trace + K·QN backward passes (extrapolated)."""
    t0 = time.perf_counter()
    vjp, value = make_vjp(frame)(theta)
    t_forward = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    flat = rng.choice(value.size, size=n_entries, replace=False)
    t0 = time.perf_counter()
    for k in flat:
        g = np.zeros(value.shape)
        g.flat[k] = 1.0
        vjp(g)
    per_entry = (time.perf_counter() - t0) / n_entries
    return t_forward + per_entry * value.size


def timed(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_case(name, sizes, N, repeats, column_budget):
    f, theta = problem(sizes, N)
    K, QN = f.dim_in, f.dim_out
    bundle = PullbackBundle(f)
    U = np.asarray(bundle.frame(theta))
    closed = bundle.distribution()

    t_closed, B_closed = timed(lambda: closed.frame_brackets(theta), repeats)
    t_report, report = timed(lambda: closed.frobenius_defect(theta), repeats)

    fd = Distribution(bundle.frame, K, brackets="fd")
    t_fd, B_fd = timed(lambda: fd.frame_brackets(theta), 1)

    rows = {}
    for label, frame in (("naive", naive_frame(f)), ("autograd+GP", bundle.frame)):
        cols = list(range(QN)) if column_budget is None else list(range(min(QN, column_budget)))
        t_cols, T = timed(
            lambda frame=frame, cols=cols: brackets_by_columns(frame, theta, U, cols), 1
        )
        rows[label] = (t_cols * QN / len(cols), len(cols) < QN, T, cols)

    t_full = full_jacobian_time(naive_frame(f), theta, 4 if column_budget else 16)

    # reference: the naive route's T rows; brackets need T[i, j] and T[j, i], so compare
    # on the column block the naive route computed
    T_ref, cols = rows["naive"][2], rows["naive"][3]
    Tm = np.stack([T_ref[i] for i in cols])  # (c, QN, K): T[i, j] = du_j[u_i]
    B_ref = Tm[:, cols, :] - Tm[:, cols, :].transpose(1, 0, 2)
    block = np.ix_(cols, cols)
    scale = np.abs(B_ref).max()

    def err(B):
        return float(np.abs(B[block] - B_ref).max() / scale)

    T_ag = rows["autograd+GP"][2]
    cols_ag = [c for c in cols if c in T_ag]
    Tg = np.stack([T_ag[i] for i in cols_ag])
    B_ag = np.zeros((QN, QN, K))
    B_ag[np.ix_(cols_ag, cols_ag)] = Tg[:, cols_ag, :] - Tg[:, cols_ag, :].transpose(1, 0, 2)

    cond = bundle.rank_report(theta).condition_number
    return {
        "name": name,
        "K": K,
        "QN": QN,
        "cond": cond,
        "t_closed": t_closed,
        "t_report": t_report,
        "t_fd": t_fd,
        "t_naive": rows["naive"][0],
        "naive_extrap": rows["naive"][1],
        "naive_cols": len(cols),
        "t_ag": rows["autograd+GP"][0],
        "t_full": t_full,
        "ag_extrap": rows["autograd+GP"][1],
        "err_closed": err(B_closed),
        "err_ag": err(B_ag),
        "err_fd": err(B_fd),
        "defect": report.relative_defect,
        "tolerance": report.tolerance,
        "verdict": "involutive" if report.is_involutive else "NOT involutive",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, fewer naive columns")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    results = []
    for name, (sizes, N) in CASES.items():
        budget = None if name == "small" else (2 if args.quick else 4)
        results.append(run_case(name, sizes, N, repeats, budget))

    print("Frobenius test of V = range D^T for tanh networks; brackets of the frame Pen[D]e_i")
    print("baseline: naive = autograd through D^T solve(D D^T, 1) (reverse-over-reverse jvp)")
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"best of {repeats} repeat(s); OMP_NUM_THREADS={threads}\n")
    head = (
        f"{'case':<6} {'QN':>3} {'K':>5} {'cond D':>8} | {'jac.deriv. [s]':>14} {'naive [s]':>15} "
        f"{'speed-up':>9} | {'autograd+GP [s]':>17} {'speed-up':>9} | {'full jac. [s]':>14} "
        f"{'speed-up':>9} | {'full report [s]':>15}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        naive = f"{r['t_naive']:.3f}" + ("*" if r["naive_extrap"] else " ")
        ag = f"{r['t_ag']:.3f}" + ("*" if r["ag_extrap"] else " ")
        print(
            f"{r['name']:<6} {r['QN']:>3} {r['K']:>5} {r['cond']:>8.2g} | {r['t_closed']:>14.3f} "
            f"{naive:>15} {r['t_naive'] / r['t_closed']:>8.1f}x | {ag:>17} "
            f"{r['t_ag'] / r['t_closed']:>8.1f}x | {r['t_full']:>13.1f}* "
            f"{r['t_full'] / r['t_closed']:>8.0f}x | {r['t_report']:>15.3f}"
        )
    print(
        "* extrapolated: naive and autograd+GP linearly from the first frame columns; full jac. from a few reverse passes\n"
    )
    head = (
        f"{'case':<6} | {'err jac.deriv.':>14} {'err autograd+GP':>15} {'err central diff.':>17} "
        f"{'fd/jac.deriv.':>13} | {'fd time [s]':>11} | {'rel. defect':>11} {'tolerance':>9}  verdict"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        ratio = r["err_fd"] / max(r["err_closed"], 1e-300)
        print(
            f"{r['name']:<6} | {r['err_closed']:>14.2e} {r['err_ag']:>15.2e} {r['err_fd']:>17.2e} "
            f"{ratio:>12.1e}x | {r['t_fd']:>11.3f} | {r['defect']:>11.3e} {r['tolerance']:>9.1e}  "
            f"{r['verdict']}"
        )
    print(
        "errors: max |B - B_naive| / max |B_naive| on the naive route's column block "
        f"({results[-1]['naive_cols']} columns at the large size)"
    )


if __name__ == "__main__":
    main()
