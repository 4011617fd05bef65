"""Diagnostics of the landscape and surveys over random networks.

The landscape (:mod:`.landscape` gathers them): :mod:`.trapping`,
:mod:`.equilibria`, :mod:`.critical_manifold`, :mod:`.escape`, on the
constructed cases of :mod:`.cases`.
The surveys (:mod:`.surveys` runs them): :mod:`.survey_tasks`,
:mod:`.statistics`, :mod:`.orbit_survey`, :mod:`.backends`, :mod:`.survey_store`,
:mod:`.survey_summaries`;
their figures are drawn by the report layer (:mod:`subriemann.report.survey_figures`).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.diagnostics import (
    backends,
    cases,
    critical_manifold,
    equilibria,
    escape,
    landscape,
    orbit_survey,
    statistics,
    survey_store,
    survey_summaries,
    survey_tasks,
    surveys,
    trapping,
)
from subriemann.diagnostics.backends import *  # noqa: F403
from subriemann.diagnostics.cases import *  # noqa: F403
from subriemann.diagnostics.critical_manifold import *  # noqa: F403
from subriemann.diagnostics.equilibria import *  # noqa: F403
from subriemann.diagnostics.escape import *  # noqa: F403
from subriemann.diagnostics.landscape import *  # noqa: F403
from subriemann.diagnostics.orbit_survey import *  # noqa: F403
from subriemann.diagnostics.statistics import *  # noqa: F403
from subriemann.diagnostics.survey_store import *  # noqa: F403
from subriemann.diagnostics.survey_summaries import *  # noqa: F403
from subriemann.diagnostics.survey_tasks import *  # noqa: F403
from subriemann.diagnostics.surveys import *  # noqa: F403
from subriemann.diagnostics.trapping import *  # noqa: F403

__all__ = [
    *backends.__all__,
    *cases.__all__,
    *critical_manifold.__all__,
    *equilibria.__all__,
    *escape.__all__,
    *landscape.__all__,
    *orbit_survey.__all__,
    *statistics.__all__,
    *survey_store.__all__,
    *survey_summaries.__all__,
    *survey_tasks.__all__,
    *surveys.__all__,
    *trapping.__all__,
]
