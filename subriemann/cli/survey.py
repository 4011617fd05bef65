"""``subriemann survey rank|orbit|frobenius``: surveys over random networks (CSV, JSON, figure)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from subriemann.cli.config import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigError,
    check_network_memory,
    parse_layers,
    prepare_out,
)
from subriemann.cli.text import emit
from subriemann.errors import InputError

__all__: list[str] = []

#: ``subriemann survey orbit`` without --layers/--ratios: K/QN from ~1 to 100 at depths 1
#: and 2 (M = Q = 2, N = 4), a minute on two cores.
ORBIT_DEFAULT_RATIOS = "1.2,4,100"
ORBIT_DEFAULT_DEPTHS = "1,2"


def _numbers(text, option, kind, what):
    """A comma-separated list of ``kind`` (int or float) numbers, or a usage error naming ``option``."""
    try:
        values = [kind(v) for v in str(text).split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"{option} must be {what} separated by commas, got {text!r}") from exc
    if not values:
        raise ConfigError(f"{option} must be {what} separated by commas, got {text!r}")
    return values


def _survey_arguments(args) -> dict:
    """The runner's keyword arguments from the command line; usage errors as ConfigError."""
    if args.kind == "orbit" and args.layers is None and args.ratios is None:
        args.ratios = ORBIT_DEFAULT_RATIOS
        args.depth = args.depth or ORBIT_DEFAULT_DEPTHS
    if (args.layers is None) == (args.ratios is None):
        raise ConfigError("give exactly one of --layers SPEC [SPEC ...] or --ratios R,R,...")
    ratios = None
    if args.ratios is not None:
        ratios = _numbers(args.ratios, "--ratios", float, "numbers")
        if any(not r > 0 for r in ratios):
            raise ConfigError(f"--ratios must be positive numbers, got {args.ratios!r}")
    archs = None if args.layers is None else [parse_layers(s) for s in args.layers]
    samples = _numbers(args.samples, "--samples", int, "integers (N, or one N per architecture)")
    depths = _numbers(args.depth or "1", "--depth", int, "integers (hidden layers)")
    for name, values in (("samples", samples), ("depth", depths)):
        if any(v < 1 for v in values):
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs < 1 and args.jobs != -1:
        raise ConfigError(f"--jobs must be >= 1 or -1, got {args.jobs}")
    if archs is not None and len(samples) not in (1, len(archs)):
        raise ConfigError(
            f"--samples takes one N or one per architecture ({len(archs)} given by --layers), "
            f"got {len(samples)} values: {args.samples}"
        )
    if ratios is not None and len(samples) != 1:
        raise ConfigError(f"with --ratios, --samples must be one N, got {args.samples}")
    for i, layers in enumerate(archs or []):
        check_network_memory("--layers/--samples", layers, samples[i if len(samples) > 1 else 0])
    kwargs = {
        "architectures": archs,
        "ratios": ratios,
        "seeds": args.seeds,
        "n_samples": samples if len(samples) > 1 else samples[0],
        "base_seed": args.seed,
        "activation": args.activation,
        "weight_scale": args.weight_scale,
        "n_jobs": args.jobs,
        "scheduler": args.scheduler,
    }
    if ratios is not None:
        kwargs.update(
            input_dim=args.input_dim,
            output_dim=args.output_dim,
            depth=depths if len(depths) > 1 else depths[0],
        )
    elif args.depth is not None:
        raise ConfigError("--depth applies to --ratios (with --layers the depth is in the spec)")
    orbit = {
        "eps": args.eps,
        "sigma_threshold": args.sigma_threshold,
        "theta_growth": args.theta_growth,
        "max_steps": args.max_steps,
        "route": args.route,
    }
    given = {k: v for k, v in orbit.items() if v is not None}
    if args.kind != "orbit" and given:
        names = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{names} apply to 'survey orbit' only")
    kwargs.update(given)
    return kwargs


def cmd_survey(args: argparse.Namespace) -> int:
    """Rank, orbit or integrability survey over random networks (CSV, JSON, figure)."""
    from subriemann import report
    from subriemann.diagnostics import surveys

    kwargs = _survey_arguments(args)
    outdir = prepare_out(args.out)
    stem = outdir / f"survey-{args.kind}"
    run = {
        "rank": surveys.run_rank_survey,
        "orbit": surveys.run_orbit_survey,
        "frobenius": surveys.run_frobenius_survey,
    }[args.kind]
    with report.progress_bar(f"{args.kind} survey", args.quiet) as bar:
        try:
            result = run(progress=bar, out=stem.with_suffix(".jsonl"), **kwargs)
        except InputError as exc:
            raise ConfigError(str(exc)) from exc
    for warning in result.warnings:  # e.g. a torn last line of the survey file, skipped
        print(f"subriemann survey: warning: {warning}", file=sys.stderr)
    paths = [result.to_csv(stem.with_suffix(".csv")), result.to_json(stem.with_suffix(".json"))]
    if result.ok_rows:
        paths.append(result.plot(stem.with_suffix(".png")))
    summary = result.summary()
    record = report.read_json(stem.with_suffix(".json"))
    header, rows = result.table()
    text = "\n".join(
        [
            f"subriemann survey {args.kind}: {summary['n_tasks']} networks, {summary['n_errors']} failed",
            "",
            report.format_table(rows, header=header),
            "",
            "report: " + ", ".join(str(p) for p in paths),
        ]
    )
    emit(args, record, text)
    return EXIT_FAILED if summary["n_errors"] else EXIT_OK


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add the ``survey`` subcommand; ``common(out_default)`` makes the shared options."""
    survey = subparsers.add_parser(
        "survey",
        parents=[common()],
        help="rank, orbit or integrability survey over random networks (CSV, JSON, figure)",
        description="Survey many random networks: 'rank' (Prop. 2.2: P[rank DDᵀ = QN] vs K/QN, "
        "σ_min, structural checks of the columns' law), 'orbit' (the rank condition along adapted "
        "orbits integrated to C <= eps; default: --ratios "
        f"{ORBIT_DEFAULT_RATIOS} --depth {ORBIT_DEFAULT_DEPTHS}) or 'frobenius' (the Frobenius "
        "defect of V). Resumes from <out>/survey-KIND.jsonl.",
    )
    survey.add_argument("kind", choices=("rank", "orbit", "frobenius"))
    survey.add_argument("--layers", nargs="+", help="architectures, e.g. 2-4-2 2-16-2")
    survey.add_argument("--ratios", help="target K/QN values, e.g. 0.5,1,2,4")
    survey.add_argument(
        "--seeds", type=int, default=None, help="networks per architecture (default: the survey's)"
    )
    survey.add_argument(
        "--samples", default="4", help="N training inputs, or one N per architecture: 1,4,3"
    )
    survey.add_argument("--input-dim", type=int, default=2)
    survey.add_argument("--output-dim", type=int, default=2)
    survey.add_argument("--depth", default=None, help="hidden layers with --ratios, e.g. 1 or 1,2")
    survey.add_argument("--activation", default="tanh")
    survey.add_argument("--weight-scale", type=float, default=1.0)
    survey.add_argument("--seed", type=int, default=0, help="base seed")
    survey.add_argument("--jobs", type=int, default=1, help="local processes (-1: all CPUs)")
    survey.add_argument(
        "--scheduler", default=None, help="Dask scheduler address (extra 'distributed')"
    )
    orbit = survey.add_argument_group("orbit survey")
    orbit.add_argument("--eps", type=float, default=None, help="target cost (default 1e-8)")
    orbit.add_argument(
        "--sigma-threshold",
        type=float,
        default=None,
        help="σ_min/σ_max below which the rank condition counts as lost (default 1e-6)",
    )
    orbit.add_argument(
        "--theta-growth",
        type=float,
        default=None,
        help="|θ| growth factor that counts as divergence (default 100)",
    )
    orbit.add_argument("--max-steps", type=int, default=None, help="steps per orbit (default 2000)")
    orbit.add_argument(
        "--route",
        choices=("auto", "dense", "kernel", "matrix-free"),
        default=None,
        help="how D⁺ is applied (default auto: the kernel route where D is large)",
    )
    survey.set_defaults(func=cmd_survey)
