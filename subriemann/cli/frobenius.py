"""``subriemann frobenius``: the Frobenius test (2.31) and the Lie flag of a distribution.

The distribution is a catalog entry (``--catalog``), a network's pullback bundle V
(``--layers``) or a user's fields file (``--fields FILE.toml``, see
:mod:`subriemann.cli.fields`).  The growth vector is reported with whether it is
determined: a flag truncated at ``--max-step`` is "undetermined at step k", never
"not bracket generating" (:class:`~subriemann.distributions.growth.GrowthVector`).
For networks the default ``--max-step`` is adaptive
(:func:`~subriemann.distributions.growth.adaptive_max_step`): the largest number of
steps ≤ dim whose nested-bracket cost stays within 4096 term evaluations
(5 steps for QN = 2 fields, about 3 s for a 10-parameter network; 2 steps for
QN ≥ 12), paid only if the flag needs them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

import subriemann as sr
from subriemann import report
from subriemann.cli.config import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigError,
    check_network_memory,
    parse_layers,
    prepare_out,
)
from subriemann.cli.text import emit, write_outputs
from subriemann.distributions.growth import adaptive_max_step
from subriemann.errors import InputError

if TYPE_CHECKING:
    from subriemann.distributions.frobenius import FrobeniusReport
    from subriemann.distributions.growth import GrowthVector
    from subriemann.maps.smooth import SmoothMap

__all__: list[str] = []

#: What a record keeps of a :class:`~subriemann.distributions.frame.FrobeniusReport`.
FROBENIUS_FIELDS = ("relative_defect", "curvature_norm", "tolerance", "is_involutive", "conclusive")


def frobenius_fields(rep: FrobeniusReport, extra: Sequence[str] = ()) -> dict[str, Any]:
    """The fields :data:`FROBENIUS_FIELDS` (and ``extra``) of a Frobenius report, for a record."""
    return {name: getattr(rep, name) for name in (*FROBENIUS_FIELDS, *extra)}


def frobenius_at(f: SmoothMap, theta: npt.ArrayLike) -> dict[str, Any]:
    """The Frobenius test (2.31) of V = range Dᵀ at θ (closed-form brackets)."""
    rep = sr.PullbackBundle(f).distribution().frobenius_defect(theta)
    return frobenius_fields(rep, extra=("rank",))


def _parse_point(text: str, dim: int) -> np.ndarray:
    try:
        point = np.array([float(v) for v in text.split(",")])
    except ValueError as exc:
        raise ConfigError(f"--at: expected {dim} comma-separated numbers, got {text!r}") from exc
    if point.shape != (dim,) or not np.all(np.isfinite(point)):
        raise ConfigError(
            f"--at: expected {dim} finite comma-separated coordinates (a point of R^{dim}), "
            f"got {text!r}"
        )
    return point


def growth_status(growth: GrowthVector, flag: str = "--max-step") -> str:
    """What a :class:`~subriemann.distributions.growth.GrowthVector` says, in words.

    "bracket generating (step k)", "not bracket generating (the flag stabilised at
    rank n < dim)" or "undetermined at step k: ...; pass --max-step N (N > k) to go
    further" — a truncated flag is never reported as not bracket generating.
    """
    if growth.bracket_generating:
        return f"bracket generating (step {len(growth)})"
    if growth.determined:
        return f"not bracket generating (the flag stabilised at rank {growth[-1]} < {growth.dim})"
    return (
        f"undetermined at step {growth.steps}: the flag was {growth.reason} with rank "
        f"{growth[-1]} < {growth.dim}; pass {flag} N (N > {growth.steps}) to go further"
    )


def _load_fields(path):
    """The distribution of a fields file (:func:`subriemann.cli.fields.load_fields`), imported on use."""
    from subriemann.cli.fields import load_fields

    return load_fields(path)


def cmd_frobenius(args: argparse.Namespace) -> int:
    """Frobenius test (2.31) and growth vector of a catalog entry, a network's V or a fields file."""
    from subriemann.distributions import catalog

    sources = [args.catalog, args.layers, args.fields]
    if sum(s is not None for s in sources) != 1:
        raise ConfigError(
            "give exactly one of --catalog NAME (one of "
            f"{', '.join(catalog.names())}), --layers M,...,Q (a network spec) or "
            "--fields FILE.toml (your own vector fields)"
        )
    if args.points < 1:
        raise ConfigError(f"--points must be >= 1, got {args.points}")
    if args.max_step is not None and args.max_step < 1:
        raise ConfigError(f"--max-step must be >= 1, got {args.max_step}")
    if args.layers is not None:
        layers = parse_layers(args.layers)
        if args.samples < 1:
            raise ConfigError(f"--samples must be >= 1, got {args.samples}")
        check_network_memory("--layers/--samples", layers, args.samples)
    outdir = prepare_out(args.out)
    if args.catalog is not None:
        try:
            dist = catalog.get(args.catalog)
        except InputError as exc:
            raise ConfigError(f"--catalog: {exc}") from exc
        name = dist.name or args.catalog
        config = {"command": "frobenius", "catalog": args.catalog}
        max_step = args.max_step or dist.dim
    elif args.fields is not None:
        dist = _load_fields(args.fields)
        name = dist.name or str(args.fields)
        config = {"command": "frobenius", "fields": str(args.fields)}
        max_step = args.max_step or dist.dim
    else:
        try:
            dist = catalog.network_bundle(
                layers, n_samples=args.samples, activation=args.activation, seed=args.seed
            )
        except InputError as exc:
            raise ConfigError(f"--layers/--activation: {exc}") from exc
        name = dist.name
        config = {
            "command": "frobenius",
            "layers": layers,
            "samples": args.samples,
            "activation": args.activation,
        }
        # adaptive: as many steps as the cost budget allows for QN fields (module docstring)
        max_step = args.max_step or adaptive_max_step(
            int(np.shape(dist.frame(dist.base_point))[1]), dist.dim
        )
    if args.at is not None:
        # one chosen point, e.g. Martinet's singular surface x = 0: the verdict and the
        # growth vector are pointwise, so the generic documented answers do not apply
        pts = np.array([_parse_point(args.at, dist.dim)])
        config.update(at=pts[0].tolist(), max_step=max_step)
    else:
        config.update(points=args.points, scale=args.scale, max_step=max_step)
        pts = dist.sample_points(args.points, seed=args.seed, scale=args.scale)
    with report.progress_bar("Frobenius test", args.quiet, total=len(pts)) as bar:
        verdict = dist.sample_verdict(pts, tolerance=args.tolerance, progress=bar)
    reports = verdict.reports
    growth = dist.growth_vector(pts[0], max_step=max_step)
    status = growth_status(growth)
    n_fail, involutive = verdict.n_non_involutive, verdict.is_involutive
    known = {
        k: v
        for k, v in getattr(dist, "known", {}).items()
        if k in ("involutive", "growth_vector", "bracket_generating")
    }
    mismatch = []
    # documented answers are checked for catalog entries at sampled (generic) points; a
    # network's "known" verdict is the generic expectation, which a particular network may
    # legitimately miss, and a chosen point (--at) may be a singular one
    generic = args.catalog is not None and args.at is None
    if generic and "involutive" in known and known["involutive"] != involutive:
        mismatch.append(f"involutive: documented {known['involutive']}, computed {involutive}")
    # a truncated flag is not a computed answer: it cannot contradict the documented one
    if (
        generic
        and growth.determined
        and "growth_vector" in known
        and tuple(known["growth_vector"]) != tuple(growth)
    ):
        mismatch.append(
            f"growth vector: documented {tuple(known['growth_vector'])}, computed {growth}"
        )
    results = {
        "name": name,
        "dim": dist.dim,
        "rank": reports[0].rank,
        "tolerance": max(r.tolerance for r in reports),
        "is_involutive": involutive,
        "n_points": len(reports),
        "n_non_involutive": n_fail,
        "max_relative_defect": max(r.relative_defect for r in reports),
        "growth_vector": list(growth),
        # true / false when the flag is determined, null ("undetermined") when truncated
        "bracket_generating": growth.bracket_generating,
        "growth_determined": growth.determined,
        "growth_reason": growth.reason,
        "growth_status": status,
        "max_step": max_step,
        "known": known,
        "mismatch": mismatch,
        "points": [
            {
                "label": str(i),
                **frobenius_fields(r),
            }
            for i, r in enumerate(reports)
        ],
    }
    record = report.make_record("frobenius", config, args.seed, results)
    paths = write_outputs(record, outdir, "frobenius", figures=True)
    summary = (
        "involutive at the chosen point"
        if involutive and args.at is not None
        else "involutive at every sampled point (consistent with integrable)"
        if involutive
        else f"NOT involutive at {n_fail}/{len(reports)} points: not integrable (Frobenius (2.31) fails)"
    )
    lines = [
        f"subriemann frobenius: {name} (rank {results['rank']} in R^{dist.dim}, {len(reports)} points)",
        f"verdict: {summary}",
        f"max relative defect {results['max_relative_defect']:.3e} (tolerance {results['tolerance']:.2e})",
        f"growth vector at {'the chosen' if args.at is not None else 'the first'} point: "
        f"{tuple(growth)}: {status}",
    ]
    if known:
        where = " (at generic points)" if args.at is not None else ""
        lines.append(f"documented{where}: " + ", ".join(f"{k} = {v}" for k, v in known.items()))
    if mismatch:
        lines.append("MISMATCH with the documented answer: " + "; ".join(mismatch))
    lines.append("report: " + ", ".join(str(p) for p in paths))
    emit(args, record, "\n".join(lines))
    return EXIT_FAILED if mismatch else EXIT_OK


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add the ``frobenius`` subcommand; ``common(out_default)`` makes the shared options."""
    frob = subparsers.add_parser(
        "frobenius",
        parents=[common()],
        help="Frobenius test (2.31) of a catalog distribution or a network's pullback bundle V",
        description="Test involutivity at sampled points and compute the growth vector.",
    )
    frob.add_argument(
        "--catalog", help="catalog entry: heisenberg, engel, martinet, contact_r5, ..."
    )
    frob.add_argument("--layers", help="network spec M,...,Q, e.g. 2,8,3")
    frob.add_argument(
        "--fields",
        default=None,
        metavar="FILE.toml",
        help="your own distribution: a TOML file of SymPy vector fields (see docs/cli.md)",
    )
    frob.add_argument("--samples", type=int, default=4, help="N training inputs of the network")
    frob.add_argument("--activation", default="tanh")
    frob.add_argument("--seed", type=int, default=0)
    frob.add_argument("--points", type=int, default=5, help="number of sampled points")
    frob.add_argument(
        "--at",
        default=None,
        metavar="X1,...,Xn",
        help="test at this one point instead of sampled ones (e.g. --at 0,1,2 on Martinet's "
        "singular surface)",
    )
    frob.add_argument("--scale", type=float, default=1.0, help="spread of the sampled points")
    frob.add_argument(
        "--tolerance", type=float, default=None, help="override the verdict's tolerance"
    )
    frob.add_argument(
        "--max-step",
        type=int,
        default=None,
        help="largest step of the Lie flag (default dim; for networks adaptive, the most steps "
        "within a cost budget, e.g. 5 for QN = 2); a flag cut here is reported undetermined",
    )
    frob.set_defaults(func=cmd_frobenius)
