"""Geometry pulled back by a smooth map: spaces, output metrics and the pullback metric g (5.15), the pullback bundle V = f*TN with h and grad_h (2.22)–(2.30).

The modules of this layer: :mod:`.spaces`, :mod:`.metrics`, :mod:`.bundles`, :mod:`.lifts`
(horizontal lifts of output curves, holonomy, fibre curves), :mod:`.kernel` and
:mod:`.matrix_free` (D⁺ without forming D: the NTK Θ = DDᵀ, Krylov solves).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.geometry import bundles, kernel, lifts, matrix_free, metrics, spaces
from subriemann.geometry.bundles import *  # noqa: F403
from subriemann.geometry.kernel import *  # noqa: F403
from subriemann.geometry.lifts import *  # noqa: F403
from subriemann.geometry.matrix_free import *  # noqa: F403
from subriemann.geometry.metrics import *  # noqa: F403
from subriemann.geometry.spaces import *  # noqa: F403

__all__ = [
    *spaces.__all__,
    *metrics.__all__,
    *bundles.__all__,
    *lifts.__all__,
    *kernel.__all__,
    *matrix_free.__all__,
]
