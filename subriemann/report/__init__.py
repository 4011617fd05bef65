"""Records (JSON, CSV), figures and progress for runs of the package.

The modules of this layer: :mod:`.records`.
"""

from subriemann.report.records import (
    RECORD_SCHEMA,
    ProgressBar,
    figures_from_record,
    format_table,
    make_record,
    plot_cost_law,
    plot_frobenius,
    plot_growth_vector,
    plot_sigma_min,
    plot_trapping,
    progress_bar,
    provenance,
    read_json,
    save_figure,
    to_jsonable,
    write_atomic,
    write_csv,
    write_json,
)

__all__ = [
    "ProgressBar",
    "progress_bar",
    "provenance",
    "make_record",
    "to_jsonable",
    "write_atomic",
    "save_figure",
    "write_json",
    "read_json",
    "write_csv",
    "format_table",
    "plot_cost_law",
    "plot_sigma_min",
    "plot_trapping",
    "plot_frobenius",
    "plot_growth_vector",
    "figures_from_record",
    "RECORD_SCHEMA",
]
