"""The parameter flows: the L² cost (1.7), standard and adapted vector fields (1.9), (2.4), (5.2), (6.2), (4.5), their closed forms and their integration into trajectories.

The modules of this layer: :mod:`.cost`, :mod:`.fields`, :mod:`.theory`, :mod:`.trajectory`
(the result), :mod:`.recording` (the run's record), :mod:`.output_exact` (the output-exact
method) and :mod:`.orbits` (``integrate``, the entry point).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.flows import cost, fields, orbits, output_exact, recording, theory, trajectory
from subriemann.flows.cost import *  # noqa: F403
from subriemann.flows.fields import *  # noqa: F403
from subriemann.flows.orbits import *  # noqa: F403
from subriemann.flows.output_exact import *  # noqa: F403
from subriemann.flows.recording import *  # noqa: F403
from subriemann.flows.theory import *  # noqa: F403
from subriemann.flows.trajectory import *  # noqa: F403

__all__ = [
    *cost.__all__,
    *fields.__all__,
    *theory.__all__,
    *trajectory.__all__,
    *recording.__all__,
    *output_exact.__all__,
    *orbits.__all__,
]
