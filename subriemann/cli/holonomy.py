"""``subriemann holonomy``: commutator-loop gaps of a catalog distribution or a network's V.

``subriemann holonomy --catalog heisenberg``, ``--layers 1,2,1 --samples 2`` or
``--fields FILE.toml`` (a user's SymPy fields, :mod:`subriemann.cli.fields`) prints the loop-displacement table (ε, |gap|, gap/ε², fitted order, agreement with
the frame's bracket) — the holonomy route to the Frobenius verdict (2.31) — and
draws (a) the lifted unit circle in 3-D for 3-dimensional entries (Heisenberg: it
climbs by the enclosed area π), (b) log–log |gap| against ε with the fitted slopes.
``--json`` prints one JSON record; figures and the record go to ``--out``.  For a
fields file the report adds the fields, their brackets and the Lie flag in LaTeX
(:func:`subriemann.distributions.symbolic.latex_report`), for teaching.

Exit codes follow the ``subriemann`` command: 0 done, 1 a loop or curve failed
numerically, 2 a usage error (``InputError``, one line on stderr).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from subriemann import report
from subriemann.cli.config import EXIT_FAILED, EXIT_OK, prepare_out
from subriemann.cli.text import emit
from subriemann.errors import InputError

__all__ = ["add_parser", "cmd_holonomy"]


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``holonomy`` subcommand; ``common(out_default)`` makes the shared options."""
    p = subparsers.add_parser(
        "holonomy",
        parents=[common()],
        help="commutator-loop gaps (holonomy) of a catalog distribution or a network's V",
        description="Follow X_i, X_j, -X_i, -X_j for a time eps each and measure the gap: "
        "eps^2 [X_i, X_j] + O(eps^3). Table of gaps, fitted orders and agreement with the "
        "brackets; figures of the lifted circle (3-D entries) and of the eps-law.",
    )
    p.add_argument("--catalog", help="catalog entry: heisenberg, martinet, engel, ...")
    p.add_argument("--layers", help="network spec M,...,Q, e.g. 1,2,1")
    p.add_argument(
        "--fields",
        metavar="FILE.toml",
        help="your own distribution: a TOML file of SymPy vector fields "
        "(see examples/configs/*_fields.toml)",
    )
    p.add_argument("--samples", type=int, default=2, help="N training inputs of the network")
    p.add_argument("--activation", default="tanh")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--at", default=None, metavar="X1,...,Xn", help="base point (default: the entry's)"
    )
    p.add_argument(
        "--eps",
        default="0.2,0.1,0.05,0.025",
        help="comma-separated loop sizes eps > 0 (default 0.2,0.1,0.05,0.025)",
    )
    p.set_defaults(func=cmd_holonomy)
    return p


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError as exc:
        raise InputError(f"{option}: expected comma-separated numbers, got {text!r}") from exc
    if not values or not all(np.isfinite(values)):
        raise InputError(f"{option}: expected finite comma-separated numbers, got {text!r}")
    return values


def _distribution(args):
    from subriemann.distributions import catalog
    from subriemann.maps import parse_architecture

    given = [args.catalog, args.layers, getattr(args, "fields", None)]
    if sum(g is not None for g in given) != 1:
        raise InputError(
            f"give exactly one of --catalog NAME (one of {', '.join(catalog.names())}), "
            "--layers M,...,Q (a network spec) or --fields FILE.toml (SymPy vector fields)"
        )
    if args.fields is not None:
        from subriemann.cli.fields import load_fields

        return load_fields(args.fields), {"fields": str(args.fields)}
    if args.catalog is not None:
        try:
            return catalog.get(args.catalog), {"catalog": args.catalog}
        except InputError as exc:
            raise InputError(f"--catalog: {exc}") from exc
    if args.samples < 1:
        raise InputError(f"--samples must be >= 1, got {args.samples}")
    try:
        layers = parse_architecture(args.layers)
        dist = catalog.network_bundle(
            layers, n_samples=args.samples, activation=args.activation, seed=args.seed
        )
    except InputError as exc:
        raise InputError(f"--layers/--samples/--activation: {exc}") from exc
    config = {"layers": layers, "samples": args.samples, "activation": args.activation}
    return dist, config


def cmd_holonomy(args: argparse.Namespace) -> int:
    """Run the holonomy test and print/write the table, the record and the figures."""
    from subriemann.report.curve_figures import plot_gap_law, plot_lifted_loop
    from subriemann.subriemannian.curves import horizontal_curve
    from subriemann.subriemannian.holonomy import holonomy_test

    dist, config = _distribution(args)
    eps = _floats(args.eps, "--eps")
    if any(e <= 0 for e in eps) or len(set(eps)) < 2:
        raise InputError(f"--eps: need at least two distinct values > 0, got {args.eps!r}")
    if args.at is not None:
        q0 = np.array(_floats(args.at, "--at"))
        if q0.shape != (dist.dim,):
            raise InputError(f"--at: expected {dist.dim} coordinates (a point of R^{dist.dim})")
    else:
        q0 = np.asarray(dist.base_point, dtype=float)
    outdir = prepare_out(args.out)
    name = dist.name or "distribution"
    config.update(command="holonomy", eps=eps, at=q0.tolist())

    rep = holonomy_test(dist, q0, eps=eps)
    results = {"name": name, "dim": dist.dim, **rep.as_dict()}
    if "fields" in config:
        from subriemann.distributions.symbolic import latex_report

        results["latex"] = latex_report(dist)
    failure = None
    paths = []
    labels = [f"[X{i}, X{j}]" for i, j in rep.pairs]
    gap_norms = np.linalg.norm(rep.gaps, axis=-1)
    paths.append(
        plot_gap_law(
            rep.eps,
            gap_norms,
            outdir / "holonomy-gaps.png",
            labels=labels,
            orders=rep.order_total,
            brackets=np.linalg.norm(rep.brackets, axis=-1),
            title=f"{name}: commutator-loop gaps",
        )
    )
    if dist.dim == 3:
        # u = (−sin t, cos t) for 2π from q0 + e₁: for Heisenberg the unit circle around q0,
        # whose lift climbs by the enclosed area π
        start = q0 + np.array([1.0, 0.0, 0.0])
        curve = horizontal_curve(
            dist, start, lambda t: np.array([-np.sin(t), np.cos(t)]), 2 * np.pi
        )
        results["circle"] = {
            "start": start.tolist(),
            "end": curve.end.tolist(),
            "climb": float(curve.end[2] - start[2]),
            "length": curve.length(),
            "status": str(curve.status),
        }
        if curve.status != "completed":
            failure = f"the lifted circle failed: {curve.message}"
        else:
            paths.append(
                plot_lifted_loop(
                    curve.points,
                    outdir / "holonomy-circle.png",
                    title=f"{name}: lift of the unit circle (climb {results['circle']['climb']:.6g})",
                )
            )
    record = report.make_record("holonomy", config, args.seed, results)
    record["failure"] = failure
    paths.insert(0, report.write_json(outdir / "holonomy.json", record))

    rows = [
        (
            f"({r['pair'][0]},{r['pair'][1]})",
            f"{r['eps']:.4g}",
            f"{r['gap']:.3e}",
            f"{r['gap_over_eps2']:.6g}",
            f"{r['transverse']:.3e}",
            f"{r['order']:.3f}",
            f"{r['bracket_norm']:.6g}",
            f"{r['bracket_error']:.2e}",
        )
        for r in rep.rows()
    ]
    header = (
        "pair",
        "eps",
        "|gap|",
        "|gap|/eps^2",
        "|transverse|",
        "order",
        "|bracket|",
        "agreement",
    )
    verdict = (
        "involutive at the point (transverse gaps of order > 2)"
        if rep.is_involutive
        else "NOT involutive: a bracket leaves the distribution (order-2 transverse gap)"
    )
    lines = [
        f"subriemann holonomy: {name} (R^{dist.dim}) at {np.array2string(q0, precision=4)}",
        report.format_table(rows, header),
        f"verdict: {verdict}",
    ]
    if "circle" in results:
        c = results["circle"]
        lines.append(f"lifted unit circle: climb {c['climb']:.10g}, length {c['length']:.10g}")
    if "latex" in results:
        tex = results["latex"]
        lines.append("LaTeX (fields, brackets, Lie flag):")
        lines += [f"  {t}" for t in (*tex["fields"].values(), *tex["brackets"].values())]
        lines.append(f"  {tex['flag']}")
        lines += [f"  {t}" for t in tex["singular"]]
    if failure:
        lines.append(f"FAILED: {failure}")
    lines.append("report: " + ", ".join(str(p) for p in paths))
    emit(args, record, "\n".join(lines))
    return EXIT_FAILED if failure else EXIT_OK
