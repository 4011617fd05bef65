"""``subriemann train CONFIG``: the flow(s) of a TOML configuration."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from subriemann import report
from subriemann.cli.config import (
    EXIT_FAILED,
    EXIT_OK,
    ROUTE_NAMES,
    ConfigError,
    load_config,
    parse_bytes,
    prepare_out,
)
from subriemann.cli.frobenius import frobenius_at
from subriemann.cli.runs import build_run, problem_fields, route_line, run_failure, run_training
from subriemann.cli.text import emit, training_text, write_outputs
from subriemann.errors import InputError

__all__ = ["add_route_options"]


def cmd_train(args: argparse.Namespace) -> int:
    """Train the network of a TOML configuration with the configured flow(s)."""
    cfg = load_config(args.config)
    if args.out is not None:
        outdir = prepare_out(args.out)
    else:
        outdir = prepare_out(cfg["output"]["dir"], f"{cfg.path}: key 'output.dir'")
    budget = None if args.memory_budget is None else parse_bytes(args.memory_budget)
    run = build_run(cfg, route=args.route, memory_budget=budget)
    integ = cfg["integrator"]
    options = {
        k: integ[k]
        for k in ("step", "max_step", "rtol", "atol", "max_steps")
        if integ[k] is not None
    }
    eps = cfg["target"]["eps"]
    try:
        results = run_training(
            run["f"],
            run["cost"],
            run["theta0"],
            run["flows"],
            eps,
            integ["s_end"],
            options=options,
            output_metric=run["output_metric"],
            quiet=args.quiet,
        )
    except InputError as exc:
        raise ConfigError(f"{cfg.path}: {exc}") from exc
    mlp, data = run["mlp"], run["data"]
    results["problem"] = problem_fields(mlp, data)
    if args.frobenius:
        results["frobenius"] = frobenius_at(run["f"], run["theta0"])
    config = cfg.as_dict()
    # the record's configuration is what ran: command-line overrides replace the file's values
    config["flow"] = dict(config["flow"], route=args.route or config["flow"]["route"])
    if budget is not None:
        config["flow"]["memory_budget"] = budget
    record = report.make_record(
        "train", config, cfg[""]["seed"], results, config_file=str(args.config)
    )
    failure = run_failure(results, require_target=cfg["target"]["require"])
    record["failure"] = failure
    paths = write_outputs(record, outdir, cfg[""]["name"], cfg["output"]["figures"])
    title = f"subriemann train {args.config}: {mlp!r} on {data!r}"
    if route_line(results):
        title += "\n" + route_line(results)
    emit(args, record, training_text(title, results, results.get("frobenius"), paths, failure))
    return EXIT_FAILED if failure else EXIT_OK


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add the ``train`` subcommand; ``common(out_default)`` makes the shared options."""
    train = subparsers.add_parser(
        "train",
        parents=[common(None)],
        help="train from a TOML config (network, data, flow, integrator, ε, output metric)",
        description="Run the flow(s) of a TOML configuration; see examples/configs/ and docs/cli.md.",
    )
    train.add_argument("config", help="configuration file (TOML)")
    train.add_argument(
        "--frobenius", action="store_true", help="also test V for involutivity at θ0"
    )
    add_route_options(train, "flow.route")
    train.set_defaults(func=cmd_train)


def add_route_options(parser: argparse.ArgumentParser, config_key: str | None = None) -> None:
    """``--route`` and ``--memory-budget`` (validated by the command, one-line errors)."""
    also = f"; overrides the config key {config_key}" if config_key else ""
    parser.add_argument(
        "--route",
        default=None,
        metavar="|".join(ROUTE_NAMES),
        help="how the adapted flow applies D^+: dense (D and its SVD), kernel (Theta = D D^T, "
        "no QN x K array), matrix-free (Krylov with jvp/vjp), auto (a memory/flop model "
        f"picks, default){also}",
    )
    parser.add_argument(
        "--memory-budget",
        default=None,
        metavar="BYTES",
        help="bytes the route may use (auto's memory model, the NTK's block size): an integer "
        "or e.g. 2GB, 512MiB (kB/MB/GB powers of 1000, KiB/MiB/GiB of 1024); default 2 GiB"
        + (f"; overrides {config_key.replace('route', 'memory_budget')}" if config_key else ""),
    )
