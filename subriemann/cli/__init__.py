"""The ``subriemann`` command.

The modules of this layer: :mod:`.main`.
"""

from subriemann.cli.command import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    SCHEMA,
    Config,
    ConfigError,
    FlowSpec,
    build_parser,
    build_run,
    load_config,
    main,
    run_training,
)

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
