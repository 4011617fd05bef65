"""Real network sizes: the kernel route (Θ = DDᵀ, no D) against the dense route (D and its SVD).

Sections, each run in a fresh child process so that its peak RSS is its own
(``ru_maxrss``; the package import alone is reported as ``import``):

1. **Θ**: the structured ``NetworkMap.ntk`` vs dense ``D @ D.T`` (Jacobian included)
   at widths 64, 256, 512 of (M, width, Q, N, L) = (8, w, 4, 100, 2); ratios and the
   relative difference; and ``jax.jit(vmap(jacrev))`` + JJᵀ on the same network when
   jax is importable (not a dependency; skipped with the reason otherwise), the
   structured Θ's time as a ratio against it.
2. **grad_h** (one adapted direction D⁺∇ₓC) kernel vs dense at (8, 512, 4, 400, 2),
   K = 269,316, QN = 1,600: time, peak RSS, push-forward residual; and the jax
   baseline — J by ``jax.jit(vmap(jacrev))``, the Cholesky min-norm solve
   u = Jᵀ(JJᵀ)⁻¹g (``jax.scipy.linalg.cho_factor``/``cho_solve``) — with the kernel
   and dense routes as ratios against it.  jax times exclude the one-off compilation
   (reported apart).
3. **the headline**: MLP [16, 1000, 1000, 10] on N = 200 (K = 1,028,010, QN = 2,000):
   one grad_h, then the over-parametrized adapted flow from a random start to
   C ≤ 1e-8 with output-exact on the kernel route: time, NTK/jvp/vjp counts,
   C(s) law residual, peak RSS, and the dense route's memory model (it cannot run).
4. **the one-D-given linear algebra**: ``JacobianSVD(D).solve`` vs Cholesky of DDᵀ
   (scipy ``cho_factor``) with one refinement step r = g − D(Dᵀz), on a given D.

Every section runs with the BLAS thread counts of ``--threads`` (default "1,2");
the headline runs once, with the largest.  ``--quick`` runs small sizes in < 1 min.
Times are indicative; nothing is asserted (benchmarks are not tests).

Usage: ``python benchmarks/bench_scale.py [--quick] [--threads 1,2] [--section theta,grad,headline,linalg]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SIZES = {
    "full": {
        "widths": (64, 256, 512),
        "theta_case": (8, None, 4, 100, 2),
        "grad_case": (8, 512, 4, 400, 2),
        "headline": ([16, 1000, 1000, 10], 200),
        "linalg": (1600, 40_000, 1e4),
    },
    "quick": {
        "widths": (32, 64, 128),
        "theta_case": (8, None, 4, 50, 2),
        "grad_case": (8, 128, 4, 100, 2),
        "headline": ([16, 100, 100, 10], 40),
        "linalg": (200, 5_000, 1e4),
    },
}


# -- child side ---------------------------------------------------------------------------


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _network(M, width, Q, N, L, seed=0):
    import numpy as np

    import subriemann as sr

    rng = np.random.default_rng(seed)
    data = sr.TrainingData.regression(rng.normal(size=(N, M)), rng.normal(size=(N, Q)))
    net = sr.MLP([M] + [width] * L + [Q], activation="tanh")
    return sr.NetworkMap(net, data), sr.L2Cost.from_data(data), net.init(seed)


def _jax_or_reason():
    """(jax, None), or (None, why it cannot be measured)."""
    try:
        import jax
    except ImportError as exc:
        return None, f"jax not importable ({exc}); install jax to measure this baseline"
    jax.config.update("jax_enable_x64", True)  # float64, like the package
    return jax, None


def _jax_jacobian(jax, f, theta):
    """J = D[θ] (QN, K) by ``jax.jit(vmap(jacrev(x_j(θ))))`` over the samples, sample-major.

    The network (1.3)–(1.4) is rewritten in jax.numpy from the package's layout
    (``MLP.offsets``/``shapes``: W_ℓ row-major, then b_ℓ); returns (J function, compile s).
    """
    import jax.numpy as jnp

    net = f.mlp
    layers = list(zip(net.offsets, net.shapes, strict=True))
    act = {"tanh": jnp.tanh}[net.activation.name]

    def x_j(th, inp):
        h = inp
        for k, ((a, m, e), shape) in enumerate(layers):
            h = th[a:m].reshape(shape) @ h + th[m:e]
            if k < len(layers) - 1:
                h = act(h)
        return h

    jac = jax.jit(jax.vmap(jax.jacrev(x_j), in_axes=(None, 0)))
    inputs = jnp.asarray(f.inputs)
    t0 = time.perf_counter()
    jac(jnp.asarray(theta), inputs).block_until_ready()
    compile_s = time.perf_counter() - t0

    def J(th):
        out = jac(jnp.asarray(th), inputs).block_until_ready()
        return out.reshape(f.dim_out, f.dim_in)

    return J, compile_s


def _best(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def child_theta(M, width, Q, N, L):
    import numpy as np

    f, _, theta = _network(M, width, Q, N, L)
    t_struct, T = _best(lambda: f.ntk(theta), 3)

    def dense():
        D = f.jacobian(theta)
        return D @ D.T

    t_dense, T_d = _best(dense, 2 if width < 512 else 1)
    out = {
        "K": f.dim_in,
        "QN": f.dim_out,
        "structured_s": t_struct,
        "dense_s": t_dense,
        "rel_diff": float(np.abs(T - T_d).max() / np.abs(T_d).max()),
    }
    jax, reason = _jax_or_reason()
    if jax is None:
        out["jax_s"], out["jax_reason"] = None, reason
        return out
    J, compile_s = _jax_jacobian(jax, f, theta)

    def with_jax():
        Jm = J(theta)
        return (Jm @ Jm.T).block_until_ready()

    t_jax, T_j = _best(with_jax, 2 if width < 512 else 1)
    out["jax_s"], out["jax_compile_s"] = t_jax, compile_s
    out["jax_rel_diff"] = float(np.abs(np.asarray(T_j) - T_d).max() / np.abs(T_d).max())
    return out


def child_grad(M, width, Q, N, L, route):
    import numpy as np

    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.linalg import JacobianSVD

    f, cost, theta = _network(M, width, Q, N, L)
    base = _rss_mib()
    g = cost.grad(f(theta))
    t0 = time.perf_counter()
    extra = {}
    if route == "dense":
        u = JacobianSVD(f.jacobian(theta)).solve(g)
    elif route == "kernel":
        u = KernelFactorization(f, theta).solve(g)
    else:  # the jax baseline: J by jit(vmap(jacrev)), then a Cholesky min-norm solve
        jax, reason = _jax_or_reason()
        if jax is None:
            return {"skipped": reason}
        import jax.numpy as jnp
        import jax.scipy.linalg as jsl

        J, extra["compile_s"] = _jax_jacobian(jax, f, theta)
        gj = jnp.asarray(g)

        @jax.jit
        def min_norm(Jm):
            c = jsl.cho_factor(
                Jm @ Jm.T
            )  # squares cond(J): no refinement, as a user would write it
            return Jm.T @ jsl.cho_solve(c, gj)

        min_norm(J(theta)).block_until_ready()  # compile outside the timing
        t0 = time.perf_counter()
        u = np.asarray(min_norm(J(theta)).block_until_ready())
    elapsed = time.perf_counter() - t0
    res = float(np.linalg.norm(f.jvp(theta, u) - g) / np.linalg.norm(g))
    return {
        "K": f.dim_in,
        "QN": f.dim_out,
        "s": elapsed,
        "rss_mib": _rss_mib(),
        "base_mib": base,
        "residual": res,
        **extra,
    }


def child_headline(sizes, N):
    import numpy as np

    import subriemann as sr
    from subriemann.geometry import KernelFactorization, choose_route, route_model

    rng = np.random.default_rng(0)
    data = sr.TrainingData.regression(
        rng.normal(size=(N, sizes[0])), rng.normal(size=(N, sizes[-1]))
    )
    net = sr.MLP(sizes, activation="tanh")
    f, cost = sr.NetworkMap(net, data), sr.L2Cost.from_data(data)
    theta = net.init(0)
    base = _rss_mib()
    t0 = time.perf_counter()
    g = cost.grad(f(theta))
    fac = KernelFactorization(f, theta)
    u = fac.solve(g)
    t_grad = time.perf_counter() - t0
    res = float(np.linalg.norm(f.jvp(theta, u) - g) / np.linalg.norm(g))
    auto = choose_route(f, "auto")
    flow = sr.AdaptedFlow(f, cost, regime="over", route="kernel")
    t0 = time.perf_counter()
    traj = sr.integrate(flow, theta, float("inf"), eps=1e-8, record=True)
    t_flow = time.perf_counter() - t0
    model = route_model(f)
    return {
        "K": f.dim_in,
        "QN": f.dim_out,
        "grad_s": t_grad,
        "grad_residual": res,
        "cond": fac.report.condition_number,
        "route": flow.route,
        "route_reason": f"auto would pick {auto.route!r}: {auto.reason}",
        "flow_s": t_flow,
        "status": str(traj.status),
        "C0": traj.initial_cost,
        "C_final": traj.final_cost,
        "s_final": traj.final_s,
        "law_residual": traj.law_residual(),
        "steps": traj.stats.get("accepted"),
        "rejected": traj.stats.get("rejected"),
        "counts": traj.counts,
        "rss_mib": _rss_mib(),
        "base_mib": base,
        "dense_bytes": model["dense_bytes"],
        "kernel_bytes": model["kernel_bytes"],
    }


def child_linalg(m, n, cond):
    import numpy as np
    import scipy.linalg

    from subriemann.linalg import JacobianSVD

    rng = np.random.default_rng(0)
    k = min(m, n)
    U = np.linalg.qr(rng.normal(size=(m, k)))[0]
    V = np.linalg.qr(rng.normal(size=(n, k)))[0]
    D = (U * np.logspace(0.0, -np.log10(cond), k)) @ V.T
    g = rng.normal(size=m)

    def svd_route():
        return JacobianSVD(D).solve(g)

    def cholesky_refined():
        # Θ = DDᵀ squares cond(D); one refinement step with the residual from D itself
        # (r = g − D Dᵀz) recovers the digits the Gram matrix lost
        c = scipy.linalg.cho_factor(D @ D.T, check_finite=False)
        z = scipy.linalg.cho_solve(c, g, check_finite=False)
        z += scipy.linalg.cho_solve(c, g - D @ (D.T @ z), check_finite=False)
        return D.T @ z

    def cholesky_refined_3():
        c = scipy.linalg.cho_factor(D @ D.T, check_finite=False)
        z = scipy.linalg.cho_solve(c, g, check_finite=False)
        for _ in range(3):
            z += scipy.linalg.cho_solve(c, g - D @ (D.T @ z), check_finite=False)
        return D.T @ z

    def cholesky_plain():
        c = scipy.linalg.cho_factor(D @ D.T, check_finite=False)
        return D.T @ scipy.linalg.cho_solve(c, g, check_finite=False)

    out = {"m": m, "n": n, "cond": cond}
    routes = (
        ("svd", svd_route),
        ("cholesky", cholesky_plain),
        ("cholesky+1", cholesky_refined),
        ("cholesky+3", cholesky_refined_3),
    )
    for name, fn in routes:
        t, u = _best(fn, 3)
        out[name] = {"s": t, "residual": float(np.linalg.norm(D @ u - g) / np.linalg.norm(g))}
    return out


CHILDREN = {
    "theta": child_theta,
    "grad": child_grad,
    "headline": child_headline,
    "linalg": child_linalg,
}


# -- parent side --------------------------------------------------------------------------


def run_child(name, args, threads):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--section", default="theta,grad,headline,linalg")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        name, args = ns.child
        print(json.dumps(CHILDREN[name](*json.loads(args))))
        return
    sizes = SIZES["quick" if ns.quick else "full"]
    threads = [int(t) for t in ns.threads.split(",")]
    sections = ns.section.split(",")
    print(f"bench_scale ({'quick' if ns.quick else 'full'}), BLAS threads {threads}")
    if "theta" in sections:
        print("\n[1] Theta = D D^T: structured NetworkMap.ntk vs dense D @ D.T (Jacobian included)")
        print(
            f"{'thr':>3} {'width':>6} {'K':>9} {'QN':>5} {'struct s':>9} {'dense s':>9} {'ratio':>7} {'rel diff':>9}"
        )
        jax_rows = []
        for t in threads:
            for w in sizes["widths"]:
                M, _, Q, N, L = sizes["theta_case"]
                r = run_child("theta", [M, w, Q, N, L], t)
                if "error" in r:
                    print(f"{t:>3} {w:>6} error: {r['error']}")
                    continue
                print(
                    f"{t:>3} {w:>6} {r['K']:>9,} {r['QN']:>5} {r['structured_s']:>9.4f} "
                    f"{r['dense_s']:>9.3f} {r['dense_s'] / r['structured_s']:>6.1f}x {r['rel_diff']:>9.2e}"
                )
                jax_rows.append((t, w, r))
        print("    against jax.jit(vmap(jacrev)) + J J^T on the same network (baseline = 1):")
        for t, w, r in jax_rows:
            if r.get("jax_s") is None:
                print(f"{t:>3} {w:>6} skipped: {r.get('jax_reason')}")
                continue
            print(
                f"{t:>3} {w:>6} jax {r['jax_s']:>8.4f} s (compile {r['jax_compile_s']:.2f} s): "
                f"structured {r['jax_s'] / r['structured_s']:.1f}x faster, dense "
                f"{r['jax_s'] / r['dense_s']:.2f}x; |Θ_jax − Θ|/|Θ| = {r['jax_rel_diff']:.1e}"
            )
    if "grad" in sections:
        print("\n[2] one grad_h = D^+ grad_x C: kernel route vs dense route (JacobianSVD of D)")
        print(
            f"{'thr':>3} {'route':>7} {'K':>9} {'QN':>5} {'time s':>8} {'peak RSS MiB':>13} {'residual':>9}"
        )
        for t in threads:
            rows = {}
            for route in ("dense", "kernel", "jax"):
                r = rows[route] = run_child("grad", [*sizes["grad_case"], route], t)
                if "error" in r:
                    print(f"{t:>3} {route:>7} error: {r['error']}")
                    continue
                if "skipped" in r:
                    print(f"{t:>3} {route:>7} skipped: {r['skipped']}")
                    continue
                print(
                    f"{t:>3} {route:>7} {r['K']:>9,} {r['QN']:>5} {r['s']:>8.2f} "
                    f"{r['rss_mib']:>13.0f} {r['residual']:>9.2e}   (import {r['base_mib']:.0f} MiB)"
                )
            j = rows["jax"]
            if "s" in j:
                ratios = ", ".join(
                    f"{name} {j['s'] / rows[name]['s']:.2f}x"
                    for name in ("dense", "kernel")
                    if "s" in rows[name]
                )
                print(
                    f"    against the jax baseline (jit(vmap(jacrev)) + Cholesky, compile "
                    f"{j['compile_s']:.1f} s not timed; = 1): {ratios} as fast; peak RSS "
                    + ", ".join(
                        f"{name} {rows[name]['rss_mib'] / j['rss_mib']:.2f}x"
                        for name in ("dense", "kernel")
                        if "rss_mib" in rows[name]
                    )
                )
            if all("s" in rows[name] for name in ("dense", "kernel")):
                d, k = rows["dense"], rows["kernel"]
                print(
                    f"    kernel: {d['s'] / k['s']:.1f}x faster, "
                    f"{(k['rss_mib'] - k['base_mib']) / max(d['rss_mib'] - d['base_mib'], 1e-9):.3f} of "
                    f"the memory above import ({k['rss_mib'] / d['rss_mib']:.3f} of peak RSS)"
                )
    if "headline" in sections:
        arch, N = sizes["headline"]
        print(f"\n[3] headline: MLP {arch} on N = {N}, adapted flow to C <= 1e-8, output-exact")
        r = run_child("headline", [arch, N], max(threads))
        if "error" in r:
            print(f"    error: {r['error']}")
        else:
            gib = 1024**3
            print(f"    K = {r['K']:,}, QN = {r['QN']:,}, BLAS threads {max(threads)}")
            verdict = "cannot run in 2 GB" if r["dense_bytes"] > 2 * gib else "fits in 2 GB"
            print(
                f"    dense route model 16*QN*K = {r['dense_bytes'] / gib:.2f} GiB (D alone "
                f"{r['dense_bytes'] / 2 / gib:.2f} GiB): {verdict}; kernel model "
                f"{r['kernel_bytes'] / gib:.2f} GiB"
            )
            print(f"    route: {r['route']} ({r['route_reason']})")
            print(
                f"    one grad_h: {r['grad_s']:.2f} s, push-forward residual {r['grad_residual']:.2e}, "
                f"cond(D) = {r['cond']:.3g}"
            )
            print(
                f"    flow: {r['status']} in {r['flow_s']:.1f} s, C {r['C0']:.3g} -> {r['C_final']:.3g} "
                f"at s = {r['s_final']:.1f}; steps {r['steps']} (+{r['rejected']} rejected); "
                f"law residual max|log C(s) - log C(0) + 2s/N| = {r['law_residual']:.2e}"
            )
            print(f"    evaluations: {r['counts']}")
            print(
                f"    peak RSS {r['rss_mib']:.0f} MiB (import {r['base_mib']:.0f} MiB); wall {r['wall_s']:.1f} s"
            )
    if "linalg" in sections:
        m, n, cond = sizes["linalg"]
        print(
            f"\n[4] one D given ({m} x {n}, cond {cond:.0e}): JacobianSVD vs Cholesky of D D^T (+1 refinement)"
        )
        for t in threads:
            r = run_child("linalg", [m, n, cond], t)
            if "error" in r:
                print(f"{t:>3} error: {r['error']}")
                continue
            base = r["svd"]["s"]
            for name in ("svd", "cholesky", "cholesky+1", "cholesky+3"):
                print(
                    f"{t:>3} {name:>11} {r[name]['s']:>8.3f} s  {base / r[name]['s']:>5.2f}x  "
                    f"residual {r[name]['residual']:.2e}"
                )


if __name__ == "__main__":
    main()
