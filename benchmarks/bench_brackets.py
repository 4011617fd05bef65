"""Benchmark: the Frobenius test (2.31) of a network's pullback bundle V, bracket routes compared.

Routes for the QN×QN frame brackets [u_i, u_j] = dU[u_i]e_j − dU[u_j]e_i of the
frame U = Pen[D] (columns u_i = Pen[D]e_i):

* ``jacobian_derivative`` (the package's route, ``PullbackBundle.distribution()``):
  QN calls of the closed-form second derivative ``f.jacobian_derivative`` and the
  Golub–Pereyra derivative of Pen from the factors of one SVD
  (``JacobianSVD.pseudo_inverse_derivative``), timed through the public
  ``Distribution.frame_brackets`` (frame, brackets, terms and their checks).
* ``naive`` (**baseline**, issue 5's "autograd through the pseudo-inverse"): the
  literal frame θ ↦ D(θ)ᵀ(D(θ)D(θ)ᵀ)⁻¹ written with ``autograd.numpy``
  (``anp.linalg.solve``; D from the traceable closed-form Jacobian ``f._jacobian``)
  and one autograd directional derivative dU[u_i] per frame column.  autograd
  has no forward-mode rule for ``solve`` (nor ``inv``): ``make_jvp`` raises
  NotImplementedError, so each column is autograd's reverse-mode jvp
  (``make_jvp_reversemode``, a vjp of a vjp), traced afresh per column.
* ``naive, one trace``: the same, but one reverse trace at θ shared by all
  columns (each column then costs one reverse pass) — what a careful user
  would write; shown for reference.
* ``Distribution(literal frame)``: the package's generic autograd route,
  ``Distribution(literal_frame, K).frame_brackets``, which tries forward mode
  first and falls back to reverse mode per column (this was the baseline of
  earlier versions of this benchmark).
* ``autograd+GP``: autograd forward mode through the traced Jacobian and the
  package's ``pseudo_inverse`` primitive (whose jvp is the Golub–Pereyra
  formula), i.e. ``Distribution(bundle.frame, K)``; shown for reference.
* ``full jac.``: ``autograd.jacobian`` of the literal frame (one reverse pass
  per entry of the K×QN frame); timed on a few entries and extrapolated.

Accuracy: every route's brackets against the naive route (exact, independent),
and central differences (``brackets="fd"``) against the same reference.

Times are the best of R repeats (3; 1 with --quick) after one warm-up round, the
routes run round-robin so that load from other processes hits all of them alike.  Each
repeat of the package's route uses a fresh ``Distribution`` (it caches the last
point's factors).  With --quick the autograd routes run on a few frame columns
and their time is extrapolated linearly in the number of columns (marked *).
BLAS runs single-threaded unless ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` is
set: on a shared 2-core machine multi-threaded BLAS thrashes.  Only ratios
within one run compare; nothing is asserted.

Run:  python benchmarks/bench_brackets.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads BLAS

import autograd.numpy as anp  # noqa: E402
import numpy as np  # noqa: E402
from autograd import make_jvp, make_vjp  # noqa: E402
from autograd.differential_operators import make_jvp_reversemode  # noqa: E402

import subriemann as sr  # noqa: E402
from subriemann.bundles import PullbackBundle  # noqa: E402
from subriemann.distributions import Distribution  # noqa: E402

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


def naive_derivatives(frame, theta, U, columns):
    """dU[u_i] (K×QN) for i in ``columns``: one reverse-mode jvp per column, traced afresh."""
    return {i: make_jvp_reversemode(frame)(theta)(U[:, i]) for i in columns}


def naive_derivatives_one_trace(frame, theta, U, columns):
    """The same with one reverse trace at θ shared by the columns."""
    jvp = make_jvp_reversemode(frame)(theta)
    return {i: jvp(U[:, i]) for i in columns}


def forward_derivatives(frame, theta, U, columns):
    """dU[u_i] by autograd forward mode (needs jvp rules: the package's primitive has them)."""
    return {i: make_jvp(frame)(theta)(U[:, i])[1] for i in columns}


def brackets_from(dU, QN, K):
    """[u_i, u_j] = dU[u_i]e_j − dU[u_j]e_i on the columns computed (zeros elsewhere)."""
    cols = sorted(dU)
    T = np.zeros((QN, QN, K))  # T[i, j] = dU[u_i] e_j = ∇_{u_i}u_j
    for i in cols:
        T[i] = np.asarray(dU[i]).T
    B = np.zeros((QN, QN, K))
    block = np.ix_(cols, cols)
    B[block] = T[block] - T.transpose(1, 0, 2)[block]
    return B


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


def best_times(routes, repeats):
    """Best-of-``repeats`` time and last output of every route, timed round-robin.

    One untimed warm-up round first: the first call of a route pays one-off costs
    (first touch of its large arrays, allocator growth) that are not the route's.
    """
    for fn in routes.values():
        fn()
    best, out = dict.fromkeys(routes, np.inf), {}
    for _ in range(repeats):
        for name, fn in routes.items():
            start = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, out


# (key, label, extrapolated per column) in the order printed
ROUTES = [
    ("closed", "jac.deriv. (package)", False),
    ("naive", "naive (baseline)", True),
    ("naive1", "naive, one trace", True),
    ("generic", "Distribution(literal frame)", False),
    ("ag", "autograd+GP", True),
    ("full", "full jac.", None),
    ("fd", "central differences", False),
]


def run_case(name, sizes, N, repeats, column_budget):
    f, theta = problem(sizes, N)
    K, QN = f.dim_in, f.dim_out
    bundle = PullbackBundle(f)
    U = np.asarray(bundle.frame(theta))
    cols = list(range(QN if column_budget is None else min(QN, column_budget)))
    naive = naive_frame(f)

    routes = {
        "closed": lambda: bundle.distribution().frame_brackets(theta),
        "report": lambda: bundle.distribution().frobenius_defect(theta),
        "naive": lambda: naive_derivatives(naive, theta, U, cols),
        "naive1": lambda: naive_derivatives_one_trace(naive, theta, U, cols),
        "ag": lambda: forward_derivatives(bundle.frame, theta, U, cols),
        # the package's generic autograd route on the literal frame: tries forward
        # mode, falls back to reverse mode per column (all columns, always)
        "generic": lambda: Distribution(naive, K).frame_brackets(theta),
    }
    t, out = best_times(routes, repeats)
    scale_cols = QN / len(cols)  # linear extrapolation of the per-column routes
    for key in ("naive", "naive1", "ag"):
        t[key] *= scale_cols
    t0 = time.perf_counter()
    out["fd"] = Distribution(bundle.frame, K, brackets="fd").frame_brackets(theta)
    t["fd"] = time.perf_counter() - t0
    t["full"] = full_jacobian_time(naive, theta, 4 if column_budget else 16)

    B_ref = brackets_from(out["naive"], QN, K)
    block = np.ix_(cols, cols)
    scale = np.abs(B_ref[block]).max()
    err = {}
    for key in ("closed", "naive1", "ag", "generic", "fd"):
        B = out[key] if key in ("closed", "generic", "fd") else brackets_from(out[key], QN, K)
        err[key] = float(np.abs(B[block] - B_ref[block]).max() / scale)

    report = out["report"]
    return {
        "name": name,
        "K": K,
        "QN": QN,
        "cond": bundle.rank_report(theta).condition_number,
        "t": t,
        "err": err,
        "extrap": len(cols) < QN,
        "cols": len(cols),
        "defect": report.relative_defect,
        "tolerance": report.tolerance,
        "verdict": "involutive" if report.is_involutive else "NOT involutive",
    }


def print_tables(results, repeats):
    threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "unset"))
    print("Frobenius test of V = range D^T for tanh networks; brackets of the frame Pen[D]e_i")
    print(
        "baseline: naive = autograd through the literal D^T (D D^T)^-1 (anp.linalg.solve), "
        "one reverse-mode jvp per frame column"
    )
    print(f"best of {repeats} repeat(s), round-robin; OPENBLAS_NUM_THREADS={threads}\n")
    head = (
        f"{'case':<6} {'QN':>3} {'K':>5} | {'route':<28} {'time [s]':>10} "
        f"{'/ jac.deriv.':>12} {'/ naive':>8} | {'err vs naive':>12}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        t, base, naive = r["t"], r["t"]["closed"], r["t"]["naive"]
        for key, label, per_column in ROUTES:
            mark = "*" if per_column is None or (per_column and r["extrap"]) else " "
            if key in r["err"]:
                error = f"{r['err'][key]:12.2e}"
            else:
                error = f"{'(reference)' if key == 'naive' else '-':>12}"
            print(
                f"{r['name']:<6} {r['QN']:>3} {r['K']:>5} | {label:<28} {t[key]:>9.4f}{mark} "
                f"{t[key] / base:>11.1f}x {t[key] / naive:>7.2f}x | {error}"
            )
        print(
            f"{r['name']:<6} {r['QN']:>3} {r['K']:>5} | {'full Frobenius report':<28} "
            f"{t['report']:>9.4f}  {'':>12} {'':>8} | rel. defect {r['defect']:.3e} "
            f"(tolerance {r['tolerance']:.1e}): {r['verdict']}, cond D = {r['cond']:.2g}"
        )
    print(
        "\n* extrapolated: per-column routes linearly from the first frame columns (--quick), "
        "full jac. from a few reverse passes.\nerrors: max |B - B_naive| / max |B_naive| over "
        f"the naive route's columns ({results[-1]['cols']} at the large size)."
    )
    large = results[-1]
    t = large["t"]
    print(
        f"\nlarge case: the package's route is {t['naive'] / t['closed']:.1f}x faster than the "
        f"naive route (goal >= 20x), {t['naive1'] / t['closed']:.1f}x than the one-trace variant, "
        f"{t['full'] / t['closed']:.0f}x than the full Jacobian; its error is "
        f"{large['err']['fd'] / max(large['err']['closed'], 1e-300):.1e}x smaller than central "
        f"differences' (goal >= 1000x); full report {t['report']:.3f} s (goal <= 10 s)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, few autograd columns")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    results = []
    for name, (sizes, N) in CASES.items():
        budget = 4 if (args.quick and name == "large") else None
        results.append(run_case(name, sizes, N, repeats, budget))
    print_tables(results, repeats)


if __name__ == "__main__":
    main()
