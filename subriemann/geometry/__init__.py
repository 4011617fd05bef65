"""Geometry pulled back by a smooth map: spaces, output metrics and the pullback metric g (5.15), the pullback bundle V = f*TN with h and grad_h (2.22)–(2.30).

The modules of this layer: :mod:`.spaces`, :mod:`.metrics`, :mod:`.bundles`, :mod:`.lifts`
(horizontal lifts of output curves, holonomy, fibre curves) with :mod:`.bundle_curves`
(their runner and result), :mod:`.lift_steppers` (output-exact steppers),
:mod:`.fibre_correction` (the projection onto a fibre) and :mod:`.loops` (closed output
loops, the holonomy record), :mod:`.routes` (the routes to D⁺ and the model that
chooses one), :mod:`.kernel` and :mod:`.matrix_free` (D⁺ without forming D: the NTK
Θ = DDᵀ, Krylov solves), :mod:`.ntk_blocks` (Θ in blocks on workers).
"""

# Each module lists its public names once, in its __all__; the folder re-exports them.
from subriemann.geometry import (
    bundle_curves,
    bundles,
    fibre_correction,
    kernel,
    lift_steppers,
    lifts,
    loops,
    matrix_free,
    metrics,
    ntk_blocks,
    routes,
    spaces,
)
from subriemann.geometry.bundle_curves import *  # noqa: F403
from subriemann.geometry.bundles import *  # noqa: F403
from subriemann.geometry.fibre_correction import *  # noqa: F403
from subriemann.geometry.kernel import *  # noqa: F403
from subriemann.geometry.lift_steppers import *  # noqa: F403
from subriemann.geometry.lifts import *  # noqa: F403
from subriemann.geometry.loops import *  # noqa: F403
from subriemann.geometry.matrix_free import *  # noqa: F403
from subriemann.geometry.metrics import *  # noqa: F403
from subriemann.geometry.ntk_blocks import *  # noqa: F403
from subriemann.geometry.routes import *  # noqa: F403
from subriemann.geometry.spaces import *  # noqa: F403

__all__ = [
    *spaces.__all__,
    *metrics.__all__,
    *bundles.__all__,
    *fibre_correction.__all__,
    *lift_steppers.__all__,
    *bundle_curves.__all__,
    *loops.__all__,
    *lifts.__all__,
    *routes.__all__,
    *kernel.__all__,
    *ntk_blocks.__all__,
    *matrix_free.__all__,
]
