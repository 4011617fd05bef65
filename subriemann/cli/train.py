"""``subriemann train CONFIG``: the flow(s) of a TOML configuration."""

from __future__ import annotations

from subriemann.cli.config import EXIT_FAILED, EXIT_OK, ConfigError, load_config, prepare_out
from subriemann.cli.frobenius import frobenius_at
from subriemann.cli.runs import build_run, problem_fields, run_failure, run_training
from subriemann.cli.text import emit, training_text, write_outputs
from subriemann.errors import InputError
from subriemann.report import records as report

__all__: list[str] = []


def cmd_train(args) -> int:
    """Train the network of a TOML configuration with the configured flow(s)."""
    cfg = load_config(args.config)
    if args.out is not None:
        outdir = prepare_out(args.out)
    else:
        outdir = prepare_out(cfg["output"]["dir"], f"{cfg.path}: key 'output.dir'")
    run = build_run(cfg)
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
    record = report.make_record(
        "train", cfg.as_dict(), cfg[""]["seed"], results, config_file=str(args.config)
    )
    failure = run_failure(results, require_target=cfg["target"]["require"])
    record["failure"] = failure
    paths = write_outputs(record, outdir, cfg[""]["name"], cfg["output"]["figures"])
    title = f"subriemann train {args.config}: {mlp!r} on {data!r}"
    emit(args, record, training_text(title, results, results.get("frobenius"), paths, failure))
    return EXIT_FAILED if failure else EXIT_OK


def add_parser(subparsers, common) -> None:
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
    train.set_defaults(func=cmd_train)
