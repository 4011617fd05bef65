"""``subriemann survey rank|frobenius``: surveys over random networks (CSV, JSON, figure)."""

from __future__ import annotations

import sys

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
from subriemann.report import records as report

__all__: list[str] = []


def cmd_survey(args) -> int:
    """Rank or integrability survey over random networks (CSV, JSON, figure)."""
    from subriemann.diagnostics import surveys

    if (args.layers is None) == (args.ratios is None):
        raise ConfigError("give exactly one of --layers SPEC [SPEC ...] or --ratios R,R,...")
    ratios = None
    if args.ratios is not None:
        try:
            ratios = [float(r) for r in args.ratios.split(",") if r.strip()]
        except ValueError as exc:
            raise ConfigError(
                f"--ratios must be numbers separated by commas, got {args.ratios!r}"
            ) from exc
        if not ratios or any(not r > 0 for r in ratios):
            raise ConfigError(f"--ratios must be positive numbers, got {args.ratios!r}")
    archs = None if args.layers is None else [parse_layers(s) for s in args.layers]
    for name in ("seeds", "samples", "jobs"):
        if getattr(args, name) < 1 and not (name == "jobs" and args.jobs == -1):
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    for layers in archs or []:
        check_network_memory("--layers/--samples", layers, args.samples)
    outdir = prepare_out(args.out)
    stem = outdir / f"survey-{args.kind}"
    run = surveys.run_rank_survey if args.kind == "rank" else surveys.run_frobenius_survey
    kwargs = {
        "architectures": archs,
        "ratios": ratios,
        "seeds": args.seeds,
        "n_samples": args.samples,
        "base_seed": args.seed,
        "activation": args.activation,
        "weight_scale": args.weight_scale,
        "n_jobs": args.jobs,
        "scheduler": args.scheduler,
        "out": stem.with_suffix(".jsonl"),
    }
    if ratios is not None:
        kwargs.update(input_dim=args.input_dim, output_dim=args.output_dim, depth=args.depth)
    with report.progress_bar(f"{args.kind} survey", args.quiet) as bar:
        try:
            result = run(progress=bar, **kwargs)
        except InputError as exc:
            raise ConfigError(str(exc)) from exc
    for warning in result.warnings:  # e.g. a torn last line of the survey file, skipped
        print(f"subriemann survey: warning: {warning}", file=sys.stderr)
    paths = [result.to_csv(stem.with_suffix(".csv")), result.to_json(stem.with_suffix(".json"))]
    if result.ok_rows:
        paths.append(result.plot(stem.with_suffix(".png")))
    summary = result.summary()
    record = report.read_json(stem.with_suffix(".json"))
    # per architecture: what identifies it, then the survey's own statistics
    if args.kind == "rank":
        stat_header = ("P[rank=QN]", "median σ_min", "median cond")

        def stats(e):
            return (
                f"{e['p_full_rank']:.2f}",
                f"{e['sigma_min_median']:.3g}",
                f"{e['condition_median']:.3g}",
            )
    else:
        stat_header = ("involutive", "median defect", "max defect")

        def stats(e):
            return (
                f"{e['involutive_fraction']:.2f}",
                report.format_value(e["relative_defect_median"], ".3g"),
                report.format_value(e["relative_defect_max"], ".3g"),
            )

    header = ("layers", "N", "K", "QN", "K/QN", "n", *stat_header)
    rows = [
        (_arch(e["layers"]), e["N"], e["K"], e["QN"], f"{e['ratio']:.3g}", e["n"], *stats(e))
        for e in summary["architectures"]
    ]
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


def _arch(layers) -> str:
    return layers if isinstance(layers, str) else "-".join(map(str, layers))


def add_parser(subparsers, common) -> None:
    """Add the ``survey`` subcommand; ``common(out_default)`` makes the shared options."""
    survey = subparsers.add_parser(
        "survey",
        parents=[common()],
        help="rank or integrability survey over random networks (CSV, JSON, figure)",
        description="Survey many random networks: 'rank' (Prop. 2.2: P[rank DDᵀ = QN] vs K/QN, σ_min, "
        "spread of the e_j) or 'frobenius' (the Frobenius defect of V). Resumes from <out>/survey-KIND.jsonl.",
    )
    survey.add_argument("kind", choices=("rank", "frobenius"))
    survey.add_argument("--layers", nargs="+", help="architectures, e.g. 2-4-2 2-16-2")
    survey.add_argument("--ratios", help="target K/QN values, e.g. 0.5,1,2,4")
    survey.add_argument("--seeds", type=int, default=10, help="networks per architecture")
    survey.add_argument("--samples", type=int, default=4, help="N training inputs")
    survey.add_argument("--input-dim", type=int, default=2)
    survey.add_argument("--output-dim", type=int, default=2)
    survey.add_argument("--depth", type=int, default=1)
    survey.add_argument("--activation", default="tanh")
    survey.add_argument("--weight-scale", type=float, default=1.0)
    survey.add_argument("--seed", type=int, default=0, help="base seed")
    survey.add_argument("--jobs", type=int, default=1, help="local processes (-1: all CPUs)")
    survey.add_argument(
        "--scheduler", default=None, help="Dask scheduler address (extra 'distributed')"
    )
    survey.set_defaults(func=cmd_survey)
