"""The cost landscape seen by the flows: trapping (§3.1), equilibria (§3.2, §4.1), escape (§4.2).

Four diagnostics, each a measurement of a statement of the paper, each in its
own module (all names are importable from here too):

* **Trapping** (Prop. 3.1), :mod:`.trapping`.  The standard flow (3.7) moves θ
  at speed |Dᵀ∇ₓC| = ε(θ)|∇ₓC|, with the *trapping ratio*
  ε(θ) = |Dᵀ∇ₓC| / |∇ₓC| (3.4).  Where ε is small the orbit crawls: (3.6)
  bounds from below the time it spends in such a region by its arc length
  there.  The adapted flow's output velocity is −∇ₓC whatever ε is (1.11), so
  the same region does not hold it.  :func:`trapping_ratio`,
  :func:`trapping_profile`, :func:`trapping_windows`.
* **Equilibria** (Lemma 3.2, Thm 4.2), :mod:`.equilibria`.  A point with
  Dᵀ∇ₓC = 0 is a global minimizer (∇ₓC = 0) or a non-global equilibrium, which
  needs rank D < QN and ∇ₓC ∈ ker Dᵀ (3.10).  :func:`classify_point` decides
  and checks (3.10).
* **Critical manifold** (4.13)–(4.14), :mod:`.critical_manifold`.  With
  V_α = r columns of D that span range 𝒫 near θ*, the functions
  g_α = (V_α, ∇ₓC) cut out the equilibria; the rank of their Jacobian at θ*
  gives the dimension of 𝒫 ∩ g⁻¹(0), compared with K − r.
  :func:`g_functions`, :func:`critical_manifold_dimension`.
* **Escape** (4.15)–(4.17), :mod:`.escape`.  θ′ = θ* + κ V with V a normal
  vector of M_crit (∇g_α, or the combination of them of most negative cost
  curvature) and the sign of κ chosen so that C decreases.
  :func:`escape_perturbation`.

All four take a map θ ↦ x[θ] and the cost of the same data
(:func:`~subriemann.flows.cost.check_map_and_cost`).  The constructed
cases with known answers on which they are tested and shown are in
:mod:`.cases`.

Nothing here prints; long loops take an optional ``progress(done, total)``.
"""

from __future__ import annotations

# Every name of the landscape modules, importable from here as before they were split;
# each is listed in the __all__ of the module that defines it.
from subriemann.diagnostics.cases import (  # noqa: F401
    ConstructedCase,
    dead_units_case,
    duplicated_inputs_case,
    linear_bottleneck_case,
    trapping_case,
    zero_network_case,
)
from subriemann.diagnostics.critical_manifold import (  # noqa: F401
    CriticalFunctions,
    CriticalManifoldReport,
    critical_manifold_dimension,
    g_functions,
    hessian_vector_product,
)
from subriemann.diagnostics.equilibria import (  # noqa: F401
    GLOBAL_MINIMIZER,
    NON_GLOBAL_EQUILIBRIUM,
    NOT_AN_EQUILIBRIUM,
    EquilibriumReport,
    classify_point,
)
from subriemann.diagnostics.escape import EscapeReport, escape_perturbation  # noqa: F401
from subriemann.diagnostics.trapping import (  # noqa: F401
    TrappingProfile,
    TrappingWindow,
    trapping_profile,
    trapping_ratio,
    trapping_windows,
)
from subriemann.flows.cost import check_map_and_cost  # noqa: F401

__all__: list[str] = []
