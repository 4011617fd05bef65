"""Benchmark: the Frobenius test (2.31) of a network's pullback bundle V, routes compared.

Every route computes the same report at θ — the curvature Ω of V = range Dᵀ in an
orthonormal basis, its Hilbert–Schmidt norm, the scale-free relative defect and the
verdict (``Distribution.frobenius_defect``) — and differs only in how it gets the
derivatives of the frame u_i = Pen[D]e_i:

* ``package``: ``PullbackBundle(f).distribution().frobenius_defect(θ)``.  The bracket
  terms t[a, b] = dD[v_a]ᵀw_b in the basis of right singular vectors come from the
  network's closed-form second derivatives (``NetworkMap.hessian_vector_blocks``),
  streamed in coordinate blocks and reduced on the fly (``BundleFiber.curvature_terms``).
* ``frame brackets``: the same Distribution without ``curvature_terms``: QN calls of
  ``f.jacobian_derivative`` and the Golub–Pereyra derivative of Pen give the brackets
  [u_i, u_j] (``BundleFiber.frame_brackets``), then the generic change to an
  orthonormal basis.  Shown for reference (the previous package route).
* ``naive`` (**baseline**, issue 5's "autograd through the pseudo-inverse"): the frame
  θ ↦ ``autograd.numpy.linalg.pinv(D(θ))`` (D from the traceable closed-form Jacobian)
  given to the generic ``Distribution``.  autograd has no forward-mode rule for ``pinv``,
  so each frame column costs a reverse-mode jvp (a vjp of a vjp), and ``pinv``'s vjp
  forms K×K projectors.  At the large size it is timed on a few columns and
  extrapolated (marked *): frame + per-column derivatives × QN + the same curvature
  evaluation, timed on the package's brackets.
* ``literal D^T(DD^T)^-1``: the frame written as ``Dᵀ solve(DDᵀ, 1)`` with
  ``autograd.numpy`` — the pseudo-inverse as a careful user would write it — in the
  generic ``Distribution`` (reverse-mode jvp per column; ``solve`` has no jvp either).
* ``hand-written jvps``: the strongest autograd variant — the literal frame, one reverse
  trace at θ shared by all columns, one reverse pass per column, then the same curvature
  evaluation (brackets handed to ``Distribution``).
* ``full jac.``: ``autograd.jacobian`` of the literal frame (K·QN reverse passes);
  timed on a few entries and extrapolated.
* ``central differences``: ``Distribution(frame, K, brackets="fd")`` on the package's
  frame (two frame evaluations per column, error estimate in the tolerance).

Accuracy: each route's curvature norm against the literal route's (exact autograd,
independent code), and the frame-bracket route's brackets against the hand-written
jvps' brackets; central differences against the same references.

Times are the best of R repeats (3; 1 with --quick) after one warm-up, routes run
round-robin so that load from other processes hits all of them alike; every repeat
builds a fresh ``Distribution``.  BLAS runs single-threaded unless
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` is set.  Only ratios within one run
compare; nothing is asserted.

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
from autograd import make_vjp  # noqa: E402
from autograd.differential_operators import make_jvp_reversemode  # noqa: E402

import subriemann as sr  # noqa: E402
from subriemann.distributions.frame import Distribution  # noqa: E402
from subriemann.geometry.bundles import PullbackBundle  # noqa: E402

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


def pinv_frame(f):
    """Pen[D] as autograd's pseudo-inverse of the traced Jacobian (the naive route)."""
    return lambda theta: anp.linalg.pinv(f._jacobian(theta))


def literal_frame(f):
    """Pen[D] = Dᵀ(DDᵀ)⁻¹ written literally with autograd.numpy (a linear solve, no inverse)."""

    def frame(theta):
        D = f._jacobian(theta)
        return anp.dot(
            anp.transpose(D), anp.linalg.solve(anp.dot(D, anp.transpose(D)), np.eye(D.shape[0]))
        )

    return frame


def column_derivatives(frame, theta, U, columns, one_trace):
    """dU[u_i] (K×QN) for i in ``columns`` by autograd's reverse-mode jvp (vjp of a vjp)."""
    if one_trace:
        jvp = make_jvp_reversemode(frame)(theta)
        return {i: np.asarray(jvp(U[:, i])) for i in columns}
    return {i: np.asarray(make_jvp_reversemode(frame)(theta)(U[:, i])) for i in columns}


def brackets_and_terms(dU, QN, K):
    """Terms T[i, j] = dU[u_i] e_j and brackets T − Tᵀ from all QN column derivatives."""
    T = np.stack([dU[i].T for i in range(QN)])
    return T - T.transpose(1, 0, 2), T


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
    """Best-of-``repeats`` time and last output of every route, timed round-robin after a warm-up."""
    for fn in routes.values():
        fn()
    best, out = dict.fromkeys(routes, np.inf), {}
    for _ in range(repeats):
        for name, fn in routes.items():
            start = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, out


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# (key, label) in the order printed
ROUTES = [
    ("package", "package (2nd derivatives)"),
    ("frame", "frame brackets (jac.deriv.)"),
    ("naive", "naive: autograd pinv"),
    ("literal", "literal D^T(DD^T)^-1"),
    ("hand", "hand-written jvps"),
    ("full", "full jac."),
    ("fd", "central differences"),
]


def run_case(name, sizes, N, repeats, quick):
    f, theta = problem(sizes, N)
    K, QN = f.dim_in, f.dim_out
    bundle = PullbackBundle(f)
    U = np.asarray(bundle.frame(theta))
    literal = literal_frame(f)
    packaged = bundle.distribution()

    def frame_route():
        d = bundle.distribution()
        return Distribution(d._frame, K, brackets=d._brackets, rank_policy=d.rank_policy)

    t, out = best_times(
        {
            "package": lambda: bundle.distribution().frobenius_defect(theta),
            "frame": lambda: frame_route().frobenius_defect(theta),
            "literal": lambda: Distribution(literal, K).frobenius_defect(theta),
        },
        repeats,
    )
    # the generic curvature evaluation on given brackets (what every autograd route ends with)
    B, T = packaged._brackets(theta)
    _, t_curvature = timed(
        lambda: Distribution(packaged._frame, K, brackets=lambda p: (B, T)).frobenius_defect(theta)
    )
    marks = dict.fromkeys(t, "")

    # hand-written jvps: all columns unless --quick on the large case
    columns = range(QN if not (quick and name == "large") else 4)
    dU, t_hand = timed(lambda: column_derivatives(literal, theta, U, columns, one_trace=True))
    t["hand"] = t_hand * QN / len(columns) + t_curvature
    marks["hand"] = "*" if len(columns) < QN else ""

    # naive: autograd's pinv; a few columns at the large size (each forms K×K projectors)
    naive = pinv_frame(f)
    n_naive = QN if name == "small" else (1 if quick else 2)
    _, t_frame = timed(lambda: naive(theta))
    dU_naive, t_cols = timed(
        lambda: column_derivatives(naive, theta, U, range(n_naive), one_trace=False)
    )
    if n_naive == QN:
        out["naive"], t["naive"] = timed(lambda: Distribution(naive, K).frobenius_defect(theta))
    else:
        t["naive"] = t_frame + t_cols * QN / n_naive + t_curvature
        marks["naive"] = "*"

    t["full"] = full_jacobian_time(literal, theta, 4 if quick else 16)
    marks["full"] = "*"
    out["fd"], t["fd"] = timed(
        lambda: Distribution(bundle.frame, K, brackets="fd").frobenius_defect(theta)
    )

    # accuracy: curvature norms against the literal route; brackets against the hand-written jvps
    ref = out["literal"].curvature_norm
    err = {
        key: abs(out[key].curvature_norm - ref) / ref
        for key in ("package", "frame", "naive", "fd")
        if key in out
    }
    cols = list(columns)
    block = np.ix_(cols, cols)
    B_ref = np.zeros((QN, QN, K))
    for i in cols:
        for j in cols:
            B_ref[i, j] = dU[i][:, j] - dU[j][:, i]
    B_fd = Distribution(bundle.frame, K, brackets="fd").frame_brackets(theta)
    scale = np.abs(B_ref[block]).max()
    bracket_err = {
        "frame": float(np.abs(B[block] - B_ref[block]).max() / scale),
        "fd": float(np.abs(B_fd[block] - B_ref[block]).max() / scale),
    }
    if n_naive >= 2:
        nb = range(n_naive)
        naive_B = np.array([[dU_naive[i][:, j] - dU_naive[j][:, i] for j in nb] for i in nb])
        bracket_err["naive"] = float(
            np.abs(naive_B - B_ref[np.ix_(nb, nb)]).max() / np.abs(B_ref[np.ix_(nb, nb)]).max()
        )
    report = out["package"]
    return {
        "name": name,
        "K": K,
        "QN": QN,
        "cond": bundle.rank_report(theta).condition_number,
        "t": t,
        "marks": marks,
        "err": err,
        "bracket_err": bracket_err,
        "defect": report.relative_defect,
        "tolerance": report.tolerance,
        "verdict": "involutive" if report.is_involutive else "NOT involutive",
        "verdicts_agree": len({out[k].is_involutive for k in out}) == 1,
    }


def print_tables(results, repeats):
    threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "unset"))
    print("Frobenius test (2.31) of V = range D^T for tanh networks: the full report, by route")
    print(
        "baseline: naive = autograd through the pseudo-inverse (anp.linalg.pinv of the traced D) "
        "in the generic Distribution"
    )
    print(f"best of {repeats} repeat(s), round-robin; OPENBLAS_NUM_THREADS={threads}\n")
    head = (
        f"{'case':<6} {'QN':>3} {'K':>5} | {'route':<28} {'time [s]':>10} "
        f"{'/ package':>10} {'naive /':>8} | {'err |Omega|':>11} {'err brackets':>12}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        t, base = r["t"], r["t"]["package"]
        for key, label in ROUTES:
            if key == "literal":
                err = "(reference)"
            else:
                err = f"{r['err'][key]:.2e}" if key in r["err"] else "-"
            if key == "hand":
                berr = "(reference)"
            else:
                berr = f"{r['bracket_err'][key]:.2e}" if key in r["bracket_err"] else "-"
            print(
                f"{r['name']:<6} {r['QN']:>3} {r['K']:>5} | {label:<28} {t[key]:>9.4f}"
                f"{r['marks'].get(key, '') or ' '} {t[key] / base:>9.1f}x "
                f"{t['naive'] / t[key]:>7.1f}x | {err:>11} {berr:>12}"
            )
        print(
            f"{r['name']:<6} {r['QN']:>3} {r['K']:>5} | rel. defect {r['defect']:.3e} (tolerance "
            f"{r['tolerance']:.1e}): {r['verdict']}; cond D = {r['cond']:.2g}; verdicts of all "
            f"routes agree: {r['verdicts_agree']}"
        )
    print(
        "\n* extrapolated: naive and hand-written jvps from the first frame columns (+ the "
        "curvature step, timed), full jac. from a few reverse passes.\n"
        "err |Omega|: |curvature norm - literal route's| / literal route's.  err brackets: "
        "max |[u_i,u_j] - hand-written jvps'| / max |hand-written jvps'|."
    )
    large = results[-1]
    t, err = large["t"], large["err"]
    print(
        f"\nlarge case: the package's Frobenius report takes {t['package']:.4f} s (goal <= 10 s); "
        f"it is {t['naive'] / t['package']:.0f}x faster than the naive route (goal >= 20x), "
        f"{t['literal'] / t['package']:.1f}x than the literal D^T(DD^T)^-1 route, "
        f"{t['hand'] / t['package']:.1f}x than hand-written jvps, "
        f"{t['frame'] / t['package']:.1f}x than the frame-bracket route; "
        f"central differences' error is {err['fd'] / max(err['package'], 1e-16):.1e}x its "
        f"(curvature norm; floored at 1e-16) and "
        f"{large['bracket_err']['fd'] / max(large['bracket_err']['frame'], 1e-16):.1e}x the "
        "frame-bracket route's (brackets) (goal >= 1000x)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, fewer autograd columns")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    results = [run_case(name, sizes, N, repeats, args.quick) for name, (sizes, N) in CASES.items()]
    print_tables(results, repeats)


if __name__ == "__main__":
    main()
