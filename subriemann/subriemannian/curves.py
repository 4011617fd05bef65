"""Horizontal curves of a distribution: q′ = F(q)u(t) driven by a control, on the one ODE core.

A curve q : [0, T] → R^dim is *horizontal* for a distribution Δ with frame F(q)
(dim × r) when q′(t) = F(q(t)) u(t) for a control u : [0, T] → R^r.  Moving along
Δ is all a non-holonomic system (2.33) allows; whether it can nonetheless reach
points off the leaf through q0 is the Frobenius question (2.31), answered by the
endpoint map's differential (:mod:`.endpoint`) and by commutator-loop holonomy
(:mod:`.holonomy`), both built on the curves of this module.

Every integration runs on the package's one ODE core (:func:`subriemann.integrate.solve`):
Dormand–Prince 5(4) with the PI controller (``"dopri5"``, default) or scipy's DOP853
stepped by the core (``"dop853"``).  Piecewise-constant controls are integrated one
piece at a time (the field jumps at a switch; a step across a jump would lose the
method's order), and the pieces are joined into one :class:`~subriemann.integrate.Solution`.

The frame is *declared orthonormal*: the sub-Riemannian length of a horizontal
curve is ∫|u(t)| dt (the metric that makes the frame orthonormal, as for the
pullback bundle's h-orthonormal frame Pen[D], (2.22)–(2.30)).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_real,
)
from subriemann.geometry.bundle_curves import concatenate
from subriemann.integrate import (
    DormandPrince54,
    PIController,
    ScipyStepper,
    Solution,
    SolutionCurve,
    SolverControlled,
    Status,
    Stepper,
    solve,
)

if TYPE_CHECKING:
    # hints only: the distribution layer (below) calls into this one on use, and the
    # endpoint module builds on this one; no import cycle at run time
    from subriemann.distributions import Distribution
    from subriemann.linalg import RankPolicy
    from subriemann.subriemannian.endpoint import EndpointDifferential

__all__ = [
    "CURVE_METHODS",
    "HorizontalCurve",
    "horizontal_curve",
    "curve_solver",
    "check_point",
    "frame_width",
]

#: integration methods of the curves: name -> what it is
METHODS = {
    "dopri5": "Dormand–Prince 5(4), PI step control on the embedded error (default)",
    "dop853": "scipy's DOP853 (order 8) stepped by the package's core",
}
#: the ``method`` names this module accepts (``METHODS`` here, ``CURVE_METHODS`` in the package)
CURVE_METHODS = METHODS


def curve_solver(
    method: str, rtol: float, atol: float
) -> tuple[Stepper, PIController | SolverControlled]:
    """(stepper, controller) of the core for ``method`` (one of :data:`METHODS`)."""
    if method == "dopri5":
        return DormandPrince54(rtol=rtol, atol=atol), PIController(DormandPrince54.order)
    if method == "dop853":
        return ScipyStepper("DOP853", rtol=rtol, atol=atol), SolverControlled()
    raise InputError(f"unknown curve method {method!r}; expected one of {tuple(METHODS)}")


# -- controls ------------------------------------------------------------------------------


@dataclass(kw_only=True)
class _Piece:
    """One smooth piece of the control: u(t) for t in [start, stop]."""

    start: float
    stop: float
    control: Callable[[float], npt.ArrayLike]  # t -> (r,)


def _check_control_value(u: npt.ArrayLike, r: int, t: float) -> np.ndarray:
    u = check_array(u, f"controls({t:.6g})")
    if u.shape != (r,):
        raise ShapeError(
            f"controls({t:.6g}) returned shape {u.shape}; expected ({r},), one entry per frame "
            f"column"
        )
    return np.asarray(u, dtype=np.float64)


def _pieces(
    controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike,
    t_end: float,
    r: int,
    switch_times: npt.ArrayLike | None,
) -> list[_Piece]:
    """The control as smooth pieces: a callable (one piece) or an (m, r) array of constants."""
    if callable(controls):
        if switch_times is not None:
            raise InputError(
                "switch_times applies to piecewise-constant controls given as an (m, r) array, "
                "not to a callable control"
            )
        _check_control_value(controls(0.0), r, 0.0)
        return [_Piece(start=0.0, stop=t_end, control=controls)]
    values = check_array(controls, "controls")
    if values.ndim == 1 and values.shape == (r,):
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != r or values.shape[0] < 1:
        raise ShapeError(
            f"controls must be a callable t -> ({r},) or an (m, {r}) array of piecewise-constant "
            f"controls (one column per frame field), got shape {values.shape}"
        )
    m = values.shape[0]
    if switch_times is None:
        cuts = [t_end * k / m for k in range(1, m)]
    else:
        cuts = [float(c) for c in np.atleast_1d(check_array(switch_times, "switch_times"))]
        if len(cuts) != m - 1:
            raise ShapeError(
                f"switch_times must hold m - 1 = {m - 1} times for {m} control values, "
                f"got {len(cuts)}"
            )
        edges = [0.0, *cuts, t_end]
        if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
            raise InputError(
                f"switch_times must increase strictly inside (0, t_end = {t_end:g}), got {cuts}"
            )
    edges = [0.0, *cuts, t_end]
    return [
        _Piece(start=a, stop=b, control=_constant(u))
        for a, b, u in zip(edges[:-1], edges[1:], values, strict=True)
    ]


def _constant(u: npt.ArrayLike) -> Callable[[float], np.ndarray]:
    value = np.array(u, dtype=np.float64)
    return lambda _t: value


def _control_at(pieces: list[_Piece], t: float) -> np.ndarray:
    for piece in pieces:
        if t <= piece.stop:
            return np.asarray(piece.control(t), dtype=np.float64)
    return np.asarray(pieces[-1].control(t), dtype=np.float64)


# -- the curve -----------------------------------------------------------------------------


@dataclass(kw_only=True)
class HorizontalCurve(SolutionCurve):
    """A horizontal curve q′ = F(q)u(t) of a distribution: the core's solution with its geometry.

    Attributes
    ----------
    solution : Solution
        The core's run on the state (q, ℓ), ℓ the length so far; ``t``,
        ``status``, ``message``, ``stats``, ``points``, ``end`` (q(T), the endpoint
        map End(u)) and dense ``curve(t)`` come from it (:class:`~subriemann.integrate.SolutionCurve`).
    dist : Distribution
    q0 : ndarray, shape=[dim]
    rtol, atol : float
        Tolerances of the run.
    method : str
    """

    dist: Distribution
    q0: np.ndarray
    rtol: float
    atol: float
    method: str
    pieces: list[_Piece] = field(repr=False)

    @property
    def point_dim(self) -> int:
        """q is the first ``dim`` components of the state (q, ℓ)."""
        return self.dist.dim

    def control(self, t: float) -> np.ndarray:
        """The control u(t), shape (r,), of the piece that holds t (the last one at a switch)."""
        t = float(t)
        piece = next((p for p in reversed(self.pieces) if p.start <= t), self.pieces[0])
        return np.asarray(piece.control(t), dtype=np.float64)

    def length(self) -> float:
        """Sub-Riemannian length ∫₀ᵀ |u(t)| dt, for the metric that makes the frame orthonormal.

        Integrated with the curve (ℓ′ = |u|, same tolerances).  For a redundant
        frame (r > rank Δ) this is the length of the control, an upper bound of
        the sub-Riemannian length of the curve.
        """
        return float(self.solution.y[-1, self.dist.dim])

    def controls(self, t: float) -> np.ndarray:
        """u(t), shape=[r] (at a switching time, the value of the piece that ends there)."""
        return _control_at(self.pieces, check_real(t, "t"))

    def endpoint_differential(
        self, *, derivative: str = "autograd", rank_policy: RankPolicy | float | None = None
    ) -> EndpointDifferential:
        """d(End)/du along this curve; see :func:`~subriemann.subriemannian.endpoint.endpoint_differential`."""
        # imported here: the endpoint module builds on this one
        from subriemann.subriemannian.endpoint import endpoint_differential

        return endpoint_differential(self, derivative=derivative, rank_policy=rank_policy)

    def __repr__(self) -> str:
        return (
            f"HorizontalCurve(dim={self.dist.dim}, T={self.t[-1]:.6g}, points={len(self)}, "
            f"status={str(self.status)!r}, length={self.length():.6g})"
        )


def check_point(dist: Distribution, q0: npt.ArrayLike) -> np.ndarray:
    """q0 as a float point of R^dim for ``dist``; ShapeError naming the expected shape."""
    q0 = np.array(check_array(q0, "q0"), dtype=np.float64)
    if q0.shape != (dist.dim,):
        raise ShapeError(
            f"q0 must have shape ({dist.dim},), a point of R^{dist.dim}, got {q0.shape}"
        )
    return q0


def frame_width(dist: Distribution, q0: np.ndarray) -> int:
    """r, the number of frame fields (columns of F(q0)); InputError if F cannot be evaluated."""
    try:
        F = np.asarray(dist.frame(q0))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InputError(f"the frame cannot be evaluated at q0 = {q0.tolist()}: {exc}") from exc
    return F.shape[1]


def horizontal_curve(
    dist: Distribution,
    q0: npt.ArrayLike,
    controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike,
    t_end: float,
    *,
    switch_times: npt.ArrayLike | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "dopri5",
    max_steps: int = 100_000,
) -> HorizontalCurve:
    """The horizontal curve q′ = F(q)u(t), q(0) = q0, of a distribution, on [0, t_end].

    Implements motion along the non-holonomic constraint of (2.33): q′ ∈ Δ_q.

    Parameters
    ----------
    dist : Distribution
        Frame F(q), shape=[dim, r].
    q0 : array-like, shape=[dim]
    controls : callable or array-like
        ``controls(t)`` -> shape=[r]; or piecewise-constant controls, shape=[m, r]
        (a single (r,) row is one constant control), held on the m intervals cut
        by ``switch_times`` (default: m equal pieces of [0, t_end]).
    t_end : float
        T > 0.
    switch_times : array-like, shape=[m - 1], optional
        Increasing times inside (0, t_end) where piecewise-constant controls switch.
    rtol, atol : float
        Tolerances of the ODE core on (q, length).
    method : str
        "dopri5" (default) or "dop853" (see :data:`METHODS`).
    max_steps : int
        Cap on attempted steps per smooth piece.

    Returns
    -------
    HorizontalCurve
        ``.t``, ``.points`` (n, dim), ``.end``, ``curve(t)``, ``.length()``,
        ``.endpoint_differential()``; a failure (non-finite field, collapse)
        is in ``.status``/``.message`` with the part computed so far.

    Raises
    ------
    InputError
        t_end ≤ 0, controls of the wrong length or non-finite, bad tolerances
        or method.
    """
    q0 = check_point(dist, q0)
    t_end = check_real(t_end, "t_end", "the end time T of the curve", positive=True)
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_int(max_steps, "max_steps")
    r = frame_width(dist, q0)
    pieces = _pieces(controls, t_end, r, switch_times)
    dim = dist.dim

    runs: list[Solution] = []
    y = np.concatenate([q0, [0.0]])
    for piece in pieces:
        stepper, controller = curve_solver(method, rtol, atol)

        def field_fn(t, state, control=piece.control):
            u = _check_control_value(control(t), r, t)
            F = np.asarray(dist.frame(state[:dim]), dtype=np.float64)
            return np.concatenate([F @ u, [math.sqrt(float(u @ u))]])

        sol = solve(
            field_fn,
            piece.start,
            y,
            piece.stop,
            stepper=stepper,
            controller=controller,
            max_steps=max_steps,
        )
        runs.append(sol)
        if sol.status != Status.COMPLETED:
            break
        y = sol.y[-1]
    return HorizontalCurve(
        solution=concatenate(runs),
        dist=dist,
        q0=q0,
        rtol=rtol,
        atol=atol,
        method=method,
        pieces=pieces,
    )
