"""Normal sub-Riemannian geodesics: Hamilton's equations of H(q, p) = ½ Σᵢ ⟨p, Xᵢ(q)⟩².

The frame X_1, ..., X_r of a :class:`~subriemann.distributions.Distribution` is
*declared* orthonormal; this is the sub-Riemannian structure of (2.33) for the
pullback bundle (R^K, V, h), and of every catalog entry.  Its normal extremals
are the projections to M of the integral curves of the Hamiltonian vector field
of

    H(q, p) = ½ Σᵢ ⟨p, Xᵢ(q)⟩² = ½ |F(q)ᵀp|²,

    q′ = ∂H/∂p = F(q) u,         u = F(q)ᵀp  (the controls, |u|² = 2H),
    p′ = −∂H/∂q = −Σᵢ uᵢ (∂Xᵢ/∂q)ᵀ p

(Agrachev–Barilari–Boscain, *A Comprehensive Introduction to Sub-Riemannian
Geometry*, Thm 4.20 and §4.7).  H is constant along them, the curve is
horizontal with speed √(2H), so a geodesic of length ℓ on [0, 1] starts from a
covector with H = ℓ²/2.

Integration goes through the package's one ODE core, :func:`subriemann.integrate.solve`:
``"dop853"`` (scipy's DOP853 run by the core, the default: fewest evaluations
at every tolerance in ``benchmarks/bench_geodesics.py``), ``"dopri5"``
(the core's Dormand–Prince 5(4) with the PI controller) and ``"gauss-legendre"``
(two-stage Gauss–Legendre at a constant step: symplectic, no drift of H over long
times).  ∂H/∂q_k = Σ_{i,j} u_i p_j ∂F_ji/∂q_k is the frame's Jacobian
(:meth:`~subriemann.distributions.frame.Distribution.frame_jacobian`) contracted with
p and u when the distribution has it in closed form (every catalog entry) or
symbolically (``from_sympy``) — no autograd trace, 7–13× cheaper per field evaluation for
the catalog's small frames (``benchmarks/bench_frame_jacobian.py``); otherwise one
reverse-mode pass of autograd through ``dist.frame`` (a vector–Jacobian product with
the covector ⊗ controls), or central differences when the frame cannot be traced
(``derivative="fd"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from autograd import make_vjp

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_real,
)
from subriemann.integrate import (
    ConstantStep,
    DormandPrince54,
    Event,
    GaussLegendre4,
    PIController,
    ScipyStepper,
    SolutionCurve,
    SolverControlled,
    Status,
    Stepper,
    solve,
)
from subriemann.subriemannian.endpoint import control_field_jacobian

if TYPE_CHECKING:
    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = [
    "GEODESIC_METHODS",
    "NormalGeodesic",
    "hamiltonian",
    "hamiltonian_field",
    "normal_geodesic",
    "check_start",
    "geodesic_solver",
]

#: the geodesic steppers: name -> what it is
METHODS = {
    "dop853": "scipy's DOP853 (order 8) stepped by the package's core (default)",
    "dopri5": "Dormand–Prince 5(4), PI step control on the embedded error",
    "gauss-legendre": "Gauss–Legendre order 4 at a constant step: symplectic, for long times",
}
#: the ``method`` names this module accepts (``METHODS`` here, ``GEODESIC_METHODS`` in the package)
GEODESIC_METHODS = METHODS

_EPS = float(np.finfo(np.float64).eps)


def hamiltonian(dist: Distribution, q: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """H(q, p) = ½ |F(q)ᵀp|² (Agrachev–Barilari–Boscain (4.29)); the frame is orthonormal.

    Parameters
    ----------
    dist : Distribution
    q, p : array-like, shape=[dim]
        Point and covector.

    Returns
    -------
    float
    """
    u = np.asarray(dist.frame(np.asarray(q, dtype=np.float64))).T @ np.asarray(p, dtype=float)
    return 0.5 * float(u @ u)


def _fd_covector_derivative(
    dist: Distribution, q: np.ndarray, p: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Σᵢ uᵢ (∂Xᵢ/∂q)ᵀ p by central differences of q ↦ pᵀF(q)u (error O(h²) + eps/h)."""
    n = q.shape[0]
    out = np.empty(n)
    h = _EPS ** (1 / 3) * max(1.0, float(np.max(np.abs(q))))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        plus = p @ np.asarray(dist.frame(q + e)) @ u
        minus = p @ np.asarray(dist.frame(q - e)) @ u
        out[k] = (plus - minus) / (2 * h)
    return out


def hamiltonian_field(
    dist: Distribution, *, derivative: str = "autograd"
) -> Callable[[float, np.ndarray], np.ndarray]:
    """The Hamiltonian vector field y = (q, p) ↦ (F u, −Σᵢ uᵢ (∂Xᵢ/∂q)ᵀp), u = Fᵀp.

    Parameters
    ----------
    dist : Distribution
    derivative : {"autograd", "fd"}
        "autograd" (exact): ∂H/∂q = pᵀA, A = Σᵢ uᵢ ∂Xᵢ/∂q from the frame's
        closed-form or symbolic Jacobian when the distribution has one
        (``dist.frame_jacobian_route``, :func:`~subriemann.subriemannian.endpoint.control_field_jacobian`),
        else one reverse-mode pass of autograd through ``dist.frame``; "fd":
        central differences (2·dim frame evaluations, error ~eps^(2/3)).

    Returns
    -------
    field : callable
        field(t, y) -> ndarray, shape=[2·dim]; y = concatenate(q, p).
    """
    n = dist.dim
    if derivative not in ("autograd", "fd"):
        raise InputError(f"derivative must be 'autograd' or 'fd', got {derivative!r}")
    closed_form = derivative == "autograd" and dist.frame_jacobian_route != "autograd"
    A_of = control_field_jacobian(dist) if closed_form else None

    def field(t: float, y: np.ndarray) -> np.ndarray:
        q, p = y[:n], y[n:]
        if A_of is not None:
            # ∂H/∂q_k = Σ_{i,j} u_i p_j ∂F_ji/∂q_k = (pᵀA)_k: no trace of the frame
            F = np.asarray(dist.frame(q))
            u = F.T @ p
            dH_dq = p @ A_of(q, u)
        elif derivative == "autograd":
            # one traced frame evaluation gives F(q) and the vjp that turns the
            # cotangent p ⊗ u of F into Σᵢ uᵢ (∂Xᵢ/∂q)ᵀp = ∂H/∂q
            vjp, F = make_vjp(dist.frame)(q)
            F = np.asarray(F)
            u = F.T @ p
            dH_dq = vjp(np.outer(p, u))
        else:
            F = np.asarray(dist.frame(q))
            u = F.T @ p
            dH_dq = _fd_covector_derivative(dist, q, p, u)
        return np.concatenate([F @ u, -np.asarray(dH_dq, dtype=np.float64)])

    return field


def geodesic_solver(
    method: str, rtol: float, atol: float, step: float | None, t_end: float
) -> tuple[Stepper, PIController | SolverControlled | ConstantStep]:
    """(stepper, controller) of the core for ``method`` (see :data:`METHODS`)."""
    if method == "dopri5":
        return DormandPrince54(rtol=rtol, atol=atol), PIController(5)
    if method == "dop853":
        return ScipyStepper("DOP853", rtol=rtol, atol=atol), SolverControlled()
    if method == "gauss-legendre":
        if step is None:
            # GL4's global error is ~C h⁴ t: h = rtol^(1/4) aims at rtol for unit C·t
            step = min(t_end, rtol**0.25)
        h = check_real(step, "step", "the constant Gauss–Legendre step", positive=True)
        n_steps = max(1, math.ceil(t_end / h - 1e-9))
        return GaussLegendre4(), ConstantStep(t_end / n_steps)
    raise InputError(f"unknown geodesic method {method!r}; expected one of {tuple(METHODS)}")


def check_start(
    dist: Distribution,
    q0: npt.ArrayLike,
    p0: npt.ArrayLike,
    name_point: str = "q0",
    name_covector: str = "p0",
) -> tuple[np.ndarray, np.ndarray]:
    """Check a start (q0, p0) of shape (dim,) each; q0 must be where the frame is defined.

    Raises
    ------
    ShapeError, NonFiniteError
        Wrong shape, or NaN/inf entries.
    InputError
        The frame cannot be evaluated at q0 (outside its domain).
    """
    q0 = np.array(check_array(q0, name_point), dtype=np.float64)
    p0 = np.array(check_array(p0, name_covector), dtype=np.float64)
    for arr, name in ((q0, name_point), (p0, name_covector)):
        if arr.shape != (dist.dim,):
            raise ShapeError(f"{name} must have shape ({dist.dim},), got {arr.shape}")
    try:
        dist.frame(q0)
    except NumericalError as exc:
        raise InputError(
            f"{name_point} = {q0} lies outside where the frame is defined ({exc})"
        ) from exc
    return q0, p0


@dataclass(kw_only=True)
class NormalGeodesic(SolutionCurve):
    """A normal geodesic t ↦ (q(t), p(t)) on [0, t_end], wrapping the core's :class:`Solution`.

    Attributes
    ----------
    solution : Solution
        The core's result; state y = (q, p), shape=[n, 2·dim].
    dim : int
    method : str
    hamiltonian : ndarray, shape=[n]
        H(q, p) at the accepted points.  Exactly constant for the true flow, so
        ``hamiltonian_drift`` = max |H − H(0)| is a reported accuracy figure.
    """

    dim: int
    method: str
    hamiltonian: np.ndarray

    @property
    def point_dim(self) -> int:
        """q is the first ``dim`` components of the state (q, p)."""
        return self.dim

    @property
    def covectors(self) -> np.ndarray:
        """p at the accepted times, shape=[n, dim]."""
        return self.solution.y[:, self.dim :]

    @property
    def hamiltonian_drift(self) -> float:
        """max_t |H(t) − H(0)|: the integration's conservation error."""
        return float(np.max(np.abs(self.hamiltonian - self.hamiltonian[0])))

    def length(self) -> float:
        """Sub-Riemannian length ∫|u| dt = √(2H(0))·t_end (unit frame: |q′|_h = |u|)."""
        return math.sqrt(2.0 * float(self.hamiltonian[0])) * float(self.t[-1] - self.t[0])

    def state(self, t: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Dense (q(t), p(t)), each shape=[..., dim] for t of shape [...]."""
        y = self.solution(t)
        return y[..., : self.dim], y[..., self.dim :]


def normal_geodesic(
    dist: Distribution,
    q0: npt.ArrayLike,
    p0: npt.ArrayLike,
    t_end: float = 1.0,
    *,
    rtol: float = 1e-12,
    atol: float | None = None,
    method: str = "dop853",
    step: float | None = None,
    derivative: str = "autograd",
    events: tuple[Event, ...] = (),
    max_steps: int = 100_000,
) -> NormalGeodesic:
    """The normal geodesic from q0 with initial covector p0, on [0, t_end].

    Implements the normal geodesics of the sub-Riemannian manifold (2.33).  Integrates Hamilton's equations of H(q, p) = ½ Σᵢ ⟨p, Xᵢ(q)⟩² (the normal
    extremals of Agrachev–Barilari–Boscain Thm 4.20) for the sub-Riemannian
    structure with the frame declared orthonormal — (2.33) for a pullback bundle.

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
        Start point (where the frame is defined).
    p0 : array-like, shape=[dim]
        Initial covector; speed |q′| in the metric is √(2H(q0, p0)).
    t_end : float
        End time, > 0.
    rtol, atol : float
        Tolerances of the adaptive methods (atol default rtol·1e-2).  The global
        error observed on the Heisenberg closed form is ~10·rtol per unit time.
    method : {"dop853", "dopri5", "gauss-legendre"}
        See :data:`METHODS`.
    step : float, optional
        The constant step of ``"gauss-legendre"`` (default rtol^(1/4)).
    derivative : {"autograd", "fd"}
        How ∂X/∂q is computed (:func:`hamiltonian_field`).
    events : tuple of Event
        Passed to the core (g(t, y) with y = (q, p)).
    max_steps : int

    Returns
    -------
    NormalGeodesic

    Raises
    ------
    ShapeError, NonFiniteError, InputError
        Bad q0/p0 shape, NaN/inf, q0 outside the frame's domain, t_end ≤ 0.
    NumericalError
        The integration failed (the frame became undefined or non-finite along
        the way, the step size collapsed, or max_steps was reached); the message
        says where.
    """
    q0, p0 = check_start(dist, q0, p0)
    t_end = check_real(t_end, "t_end", "the end time of the geodesic", positive=True)
    rtol = check_real(rtol, "rtol", "relative tolerance", positive=True)
    atol = 1e-2 * rtol if atol is None else check_real(atol, "atol", positive=True)
    stepper, controller = geodesic_solver(method, rtol, atol, step, t_end)
    field = hamiltonian_field(dist, derivative=derivative)
    sol = solve(
        field,
        0.0,
        np.concatenate([q0, p0]),
        t_end,
        stepper=stepper,
        controller=controller,
        h0=min(t_end, 0.1) if method != "dop853" else None,
        events=tuple(events),
        max_steps=max_steps,
    )
    if sol.status not in (Status.COMPLETED, Status.EVENT):
        raise NumericalError(
            f"the normal geodesic from q0 = {q0} with p0 = {p0} failed ({sol.status}): "
            f"{sol.message}; reached t = {sol.t[-1]:.6g} of {t_end:.6g}"
        )
    H = np.array([hamiltonian(dist, y[: dist.dim], y[dist.dim :]) for y in sol.y])
    return NormalGeodesic(solution=sol, dim=dist.dim, method=method, hamiltonian=H)
