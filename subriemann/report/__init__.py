"""Records (JSON, CSV), figures and progress for runs of the package.

The modules of this layer: :mod:`.files` (atomic writes, checked reads),
:mod:`.records` (provenance, the JSON record and its schema, CSV tables),
:mod:`.tables` (plain-text tables), :mod:`.progress` (tqdm progress bars),
:mod:`.canvas` (the figure canvas), :mod:`.run_figures` (the figures of a run),
:mod:`.curve_figures` (horizontal curves and holonomy),
:mod:`.survey_figures` (the figures of the surveys).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.report import (
    canvas,
    curve_figures,
    files,
    progress,
    records,
    run_figures,
    survey_figures,
    tables,
)
from subriemann.report.canvas import *  # noqa: F403
from subriemann.report.curve_figures import *  # noqa: F403
from subriemann.report.files import *  # noqa: F403
from subriemann.report.progress import *  # noqa: F403
from subriemann.report.records import *  # noqa: F403
from subriemann.report.run_figures import *  # noqa: F403
from subriemann.report.survey_figures import *  # noqa: F403
from subriemann.report.tables import *  # noqa: F403

__all__ = [
    *files.__all__,
    *records.__all__,
    *tables.__all__,
    *progress.__all__,
    *canvas.__all__,
    *run_figures.__all__,
    *curve_figures.__all__,
    *survey_figures.__all__,
]
