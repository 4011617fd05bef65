"""``subriemann replot RECORD``: redraw the figures of a stored record."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from subriemann import report
from subriemann.cli.config import EXIT_OK, prepare_out
from subriemann.errors import InputError

__all__: list[str] = []


def cmd_replot(args: argparse.Namespace) -> int:
    """Redraw the figures of a stored record (demo, train or frobenius JSON)."""
    outdir = prepare_out(args.out)
    record = report.read_json(args.record)
    try:
        paths = report.figures_from_record(record, outdir)
    except InputError as exc:  # name the file: the message names the field
        raise InputError(f"record file {args.record!r}: {exc}") from exc
    if args.json:
        print(json.dumps({"figures": [str(p) for p in paths]}))
    else:
        print("figures: " + ", ".join(str(p) for p in paths))
    return EXIT_OK


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[..., argparse.ArgumentParser],
) -> None:
    """Add the ``replot`` subcommand; ``common(out_default)`` makes the shared options."""
    replot = subparsers.add_parser(
        "replot",
        parents=[common()],
        help="redraw the figures of a stored JSON record",
    )
    replot.add_argument("record", help="a demo/train/frobenius JSON record")
    replot.set_defaults(func=cmd_replot)
