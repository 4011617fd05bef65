"""The ``subriemann`` command: ``demo``, ``train``, ``frobenius``, ``survey``, ``replot``.

Every command prints a short human-readable summary (or, with ``--json``, one
JSON record on stdout and nothing else), writes its record and figures into an
output folder, and exits with

* 0 — the run did what it was asked (target reached, verdict computed),
* 1 — the run failed: the rank condition broke down along the orbit, the
  target cost was not reached, values became non-finite, a survey task failed,
  a catalog verdict contradicts its documented answer,
* 2 — usage or configuration error; the message names the argument, or the
  config key and its line.

Progress bars go to stderr only when it is a terminal (``--quiet`` silences
them).  ``-v``/``--verbose`` shows the package's log (``logging.getLogger("subriemann")``:
route choices, regimes, rank loss) on stderr at INFO, ``-vv`` at DEBUG; without it
only warnings are shown.  The ``cli`` modules and :mod:`subriemann.report.progress`
are the only modules that write to the terminal.

This module holds the parser and the one error handler; each command lives in its
own module (:mod:`.demo`, :mod:`.train`, :mod:`.frobenius`, :mod:`.survey`,
:mod:`.replot`), the configuration schema in :mod:`.config`, the training runner in
:mod:`.runs` and what a command prints and writes in :mod:`.text`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

import subriemann as sr
from subriemann.cli import demo, frobenius, holonomy, replot, survey, train
from subriemann.cli.config import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    SCHEMA,
    Config,
    ConfigError,
    load_config,
)
from subriemann.cli.runs import FlowSpec, build_run, run_training
from subriemann.errors import InputError, SubriemannError, check_int

__all__ = [
    "main",
    "build_parser",
    "load_config",
    "Config",
    "SCHEMA",
    "build_run",
    "FlowSpec",
    "run_training",
    "ConfigError",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
]

#: The subcommands in the order ``subriemann --help`` lists them.
COMMANDS = (demo, train, frobenius, holonomy, survey, replot)


def _common(out_default: str | None = "subriemann-out") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--json", action="store_true", help="print one JSON record on stdout, nothing else"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=0,
        help="log the package's decisions on stderr (route, regime, rank loss): -v info, -vv debug",
    )
    p.add_argument(
        "--out",
        default=out_default,
        help="report folder (created if needed)"
        + (f"; default ./{out_default}/" if out_default else ""),
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """The ``subriemann`` argument parser (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="subriemann",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Geometrically adapted gradient descent (T. Chen) made executable: pullback\n"
            "bundles, adapted flows with an a-priori stopping time, Frobenius tests."
        ),
        epilog=(
            "Start with `subriemann demo`; `subriemann COMMAND --help` explains a command.\n"
            "Every command takes --json (one JSON record on stdout), --quiet, -v, --out DIR.\n\n"
            "Exit codes: 0 ok; 1 run failed (rank condition broke down, target not\n"
            "reached, non-finite values, failed survey task); 2 usage or config error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"subriemann {sr.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in COMMANDS:
        command.add_parser(sub, _common)
    return parser


@contextlib.contextmanager
def _logging_to_stderr(verbosity: int):
    """Show the ``subriemann`` logger on stderr for one command, at WARNING/INFO/DEBUG.

    The handler is added for the command and removed after it, so in-process
    callers (tests, notebooks calling ``main``) keep their own logging set-up.
    """
    logger = logging.getLogger("subriemann")
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(max(verbosity, 0), 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("subriemann: %(levelname)s: %(name)s: %(message)s"))
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``subriemann`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help/--version, 2 for usage errors
        return int(exc.code or 0)
    with _logging_to_stderr(getattr(args, "verbose", 0)):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; every package error becomes one line and an exit code."""
    try:
        # options shared by several commands, checked once before a command starts
        if getattr(args, "seed", None) is not None:
            check_int(args.seed, "--seed", "a seed", minimum=0)
        return args.func(args)
    except InputError as exc:
        # every usage or input error of the package (ConfigError included) lands here:
        # one line on stderr, exit 2, never a traceback
        message = " ".join(str(exc).split())
        print(f"subriemann {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except SubriemannError as exc:
        print(f"subriemann {args.command}: run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"subriemann {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `subriemann ... | head`: the reader left, not an error of the run
        sys.stdout = open(os.devnull, "w")  # silence the flush at exit
        return EXIT_OK
