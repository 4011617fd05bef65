"""``subriemann demo``: adapted vs standard flow on a small over-parametrized tanh network."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import subriemann as sr
from subriemann import report
from subriemann.cli.config import EXIT_FAILED, EXIT_OK, ConfigError, parse_bytes, prepare_out
from subriemann.cli.frobenius import frobenius_at
from subriemann.cli.runs import (
    FlowSpec,
    problem_fields,
    resolve_route,
    route_line,
    run_failure,
    run_training,
)
from subriemann.cli.text import emit, training_text, write_outputs
from subriemann.cli.train import add_route_options

__all__: list[str] = []


def cmd_demo(args: argparse.Namespace) -> int:
    """Adapted vs standard flow on a small over-parametrized tanh network (the main job)."""
    if not args.eps > 0:
        raise ConfigError(f"--eps must be > 0 (the target cost ε), got {args.eps!r}")
    outdir = prepare_out(args.out)
    data = sr.TrainingData.blobs(n_samples=6, n_classes=3, input_dim=2, spread=0.3, seed=args.seed)
    mlp = sr.MLP([data.M, 8, data.Q], activation="tanh")
    f = sr.NetworkMap(mlp, data.inputs)
    cost = sr.L2Cost.from_data(data)
    theta0 = mlp.init(args.seed)
    route = "auto" if args.route is None else args.route
    budget = None if args.memory_budget is None else parse_bytes(args.memory_budget)
    resolve_route(f, route, budget)  # a route that cannot run here: one line, exit 2
    adapted = sr.AdaptedFlow(f, cost, route=route, memory_budget=budget)
    flows = [
        FlowSpec(label="adapted", flow=adapted, method="output-exact"),
        FlowSpec(label="standard", flow=sr.StandardFlow(f, cost), method="rk45", primary=False),
    ]
    # the standard flow is stiff (σ_max²/σ_min² ~ 1e5): cap its work, it is the comparison
    results = run_training(
        f, cost, theta0, flows, args.eps, options={"max_steps": args.max_steps}, quiet=args.quiet
    )
    results["frobenius"] = frobenius_at(f, theta0)
    config = {
        "command": "demo",
        "data": {"kind": "blobs", "n_samples": 6, "n_classes": 3, "input_dim": 2, "spread": 0.3},
        "network": {"layers": mlp.layer_sizes, "activation": "tanh"},
        "flows": {"adapted": "output-exact", "standard": "rk45"},
        "eps": args.eps,
        "max_steps": args.max_steps,
        "route": route,
        "memory_budget": budget,
    }
    results["problem"] = problem_fields(mlp, data)
    record = report.make_record("demo", config, args.seed, results)
    failure = run_failure(results, require_target=True)
    record["failure"] = failure
    paths = write_outputs(record, outdir, "demo", figures=True)
    title = (
        f"subriemann demo: {mlp!r} on {data.N} samples in {data.n_classes} classes, "
        f"adapted vs standard flow from the same θ0 (seed {args.seed})\n{route_line(results)}"
    )
    emit(args, record, training_text(title, results, results["frobenius"], paths, failure))
    return EXIT_FAILED if failure else EXIT_OK


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add the ``demo`` subcommand; ``common(out_default)`` makes the shared options."""
    demo = subparsers.add_parser(
        "demo",
        parents=[common()],
        help="adapted vs standard flow on a small tanh network: table, JSON and figures",
        description="Train a small over-parametrized tanh network on a 3-class set made in code with "
        "the adapted flow (output-exact) and the standard flow (RK45) from the same start; "
        "print the table and the Frobenius verdict for V, write JSON and PNG figures.",
    )
    demo.add_argument("--eps", type=float, default=1e-8, help="target cost ε (default 1e-8)")
    demo.add_argument("--seed", type=int, default=0, help="seed of data and initialization")
    demo.add_argument(
        "--max-steps", type=int, default=20000, help="cap on the standard flow's steps"
    )
    add_route_options(demo)
    demo.set_defaults(func=cmd_demo)
