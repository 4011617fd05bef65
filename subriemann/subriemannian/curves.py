"""Horizontal curves of a distribution, their endpoint map, and commutator-loop holonomy.

A curve q : [0, T] → R^dim is *horizontal* for a distribution Δ with frame F(q)
(dim × r) when q′(t) = F(q(t)) u(t) for a control u : [0, T] → R^r.  Moving along
Δ is all a non-holonomic system (2.33) allows; whether it can nonetheless reach
points off the leaf through q0 is the Frobenius question (2.31).  Two numerical
routes answer it: the brackets of the frame (:func:`~subriemann.distributions.lie_bracket`)
and, here, *holonomy*: follow X_i, X_j, −X_i, −X_j for a time ε each and measure
how far from q0 the loop ends,

    q(4ε) − q0 = ε²[X_i, X_j](q0) + O(ε³)

(the flows of X_i and X_j commute iff [X_i, X_j] = 0).  Where the bracket is
transverse to Δ the gap is of order 2 and Δ is not integrable; where Δ is
involutive at q0 its transverse part is of higher order (3 on Martinet's singular
surface, where [X, Y] = 0 but [X, [X, Y]] ≠ 0; ≥ 4 for an integrable Δ, whose
loops stay on the leaf).

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
from dataclasses import dataclass, field

import autograd
import numpy as np

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_real,
)
from subriemann.geometry.lifts import concatenate
from subriemann.integrate import (
    DormandPrince54,
    PIController,
    ScipyStepper,
    Solution,
    SolverControlled,
    Status,
    solve,
)
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, numerical_rank

__all__ = [
    "CURVE_METHODS",
    "HorizontalCurve",
    "EndpointDifferential",
    "HolonomyReport",
    "horizontal_curve",
    "endpoint_differential",
    "loop_displacement",
    "holonomy_test",
    "curve_solver",
    "fitted_order",
]

#: integration methods of the curves: name -> what it is
METHODS = {
    "dopri5": "Dormand–Prince 5(4), PI step control on the embedded error (default)",
    "dop853": "scipy's DOP853 (order 8) stepped by the package's core",
}
#: the ``method`` names this module accepts (``METHODS`` here, ``CURVE_METHODS`` in the package)
CURVE_METHODS = METHODS

_EPS = float(np.finfo(np.float64).eps)
#: default ε of :func:`holonomy_test`: halvings, so the fitted order is a clean log₂ ratio
DEFAULT_EPS = (0.2, 0.1, 0.05, 0.025)


def curve_solver(method: str, rtol: float, atol: float):
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
    control: object  # callable t -> (r,)


def _check_control_value(u, r: int, t: float) -> np.ndarray:
    u = check_array(u, f"controls({t:.6g})")
    if u.shape != (r,):
        raise ShapeError(
            f"controls({t:.6g}) returned shape {u.shape}; expected ({r},), one entry per frame "
            f"column"
        )
    return np.asarray(u, dtype=np.float64)


def _pieces(controls, t_end: float, r: int, switch_times) -> list[_Piece]:
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


def _constant(u):
    value = np.array(u, dtype=np.float64)
    return lambda _t: value


def _control_at(pieces, t: float) -> np.ndarray:
    for piece in pieces:
        if t <= piece.stop:
            return np.asarray(piece.control(t), dtype=np.float64)
    return np.asarray(pieces[-1].control(t), dtype=np.float64)


# -- the curve -----------------------------------------------------------------------------


@dataclass(kw_only=True)
class HorizontalCurve:
    """A horizontal curve q′ = F(q)u(t) of a distribution: the core's solution with its geometry.

    Attributes
    ----------
    solution : Solution
        The core's run on the state (q, ℓ), ℓ the length so far; ``t``,
        ``status``, ``message``, ``stats`` are its.
    dist : Distribution
    q0 : ndarray, shape=[dim]
    rtol, atol : float
        Tolerances of the run.
    method : str
    """

    solution: Solution
    dist: object
    q0: np.ndarray
    rtol: float
    atol: float
    method: str
    pieces: list = field(repr=False)

    @property
    def t(self) -> np.ndarray:
        """Accepted times, shape=[n]."""
        return self.solution.t

    @property
    def points(self) -> np.ndarray:
        """q at the accepted times, shape=[n, dim]."""
        return self.solution.y[:, : self.dist.dim]

    @property
    def end(self) -> np.ndarray:
        """q(T), shape=[dim]: the endpoint map End(u)."""
        return self.points[-1]

    def control(self, t) -> np.ndarray:
        """The control u(t), shape (r,), of the piece that holds t (the last one at a switch)."""
        t = float(t)
        piece = next((p for p in reversed(self.pieces) if p.start <= t), self.pieces[0])
        return np.asarray(piece.control(t), dtype=np.float64)

    @property
    def status(self) -> Status:
        return self.solution.status

    @property
    def message(self) -> str:
        return self.solution.message

    @property
    def stats(self) -> dict:
        return self.solution.stats

    def __len__(self) -> int:
        return len(self.solution)

    def __call__(self, t):
        """Dense q(t), shape=[dim] or [len(t), dim] (the steppers' interpolants)."""
        return self.solution(t)[..., : self.dist.dim]

    def length(self) -> float:
        """Sub-Riemannian length ∫₀ᵀ |u(t)| dt, for the metric that makes the frame orthonormal.

        Integrated with the curve (ℓ′ = |u|, same tolerances).  For a redundant
        frame (r > rank Δ) this is the length of the control, an upper bound of
        the sub-Riemannian length of the curve.
        """
        return float(self.solution.y[-1, self.dist.dim])

    def controls(self, t) -> np.ndarray:
        """u(t), shape=[r] (at a switching time, the value of the piece that ends there)."""
        return _control_at(self.pieces, check_real(t, "t"))

    def endpoint_differential(self, *, derivative: str = "autograd", rank_policy=None):
        """d(End)/du along this curve; see :func:`endpoint_differential`."""
        return endpoint_differential(self, derivative=derivative, rank_policy=rank_policy)

    def __repr__(self) -> str:
        return (
            f"HorizontalCurve(dim={self.dist.dim}, T={self.t[-1]:.6g}, points={len(self)}, "
            f"status={str(self.status)!r}, length={self.length():.6g})"
        )


def _check_start(dist, q0):
    q0 = np.array(check_array(q0, "q0"), dtype=np.float64)
    if q0.shape != (dist.dim,):
        raise ShapeError(
            f"q0 must have shape ({dist.dim},), a point of R^{dist.dim}, got {q0.shape}"
        )
    return q0


def _n_fields(dist, q0) -> int:
    try:
        F = np.asarray(dist.frame(q0))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InputError(f"the frame cannot be evaluated at q0 = {q0.tolist()}: {exc}") from exc
    return F.shape[1]


def horizontal_curve(
    dist,
    q0,
    controls,
    t_end,
    *,
    switch_times=None,
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
    q0 = _check_start(dist, q0)
    t_end = check_real(t_end, "t_end", "the end time T of the curve", positive=True)
    rtol = check_real(rtol, "rtol", positive=True)
    atol = check_real(atol, "atol", positive=True)
    max_steps = check_int(max_steps, "max_steps")
    r = _n_fields(dist, q0)
    pieces = _pieces(controls, t_end, r, switch_times)
    dim = dist.dim

    runs = []
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


# -- the endpoint map ----------------------------------------------------------------------


@dataclass(kw_only=True)
class EndpointDifferential:
    """d(End)/du of a horizontal curve: the linear map δu ↦ δq(T), through its Gramian.

    Attributes
    ----------
    gramian : ndarray, shape=[dim, dim]
        W = ∫₀ᵀ Φ(T, s)F(q(s))F(q(s))ᵀΦ(T, s)ᵀ ds = L Lᵀ, L = d(End)/du : L² → R^dim.
    transition : ndarray, shape=[dim, dim]
        Φ(T, 0), the resolvent of the variational equation δq′ = A(t)δq.
    singular_values : ndarray, shape=[dim]
        Singular values of L, √eig(W), decreasing.
    report : RankReport
        The rank decision on them.
    """

    gramian: np.ndarray
    transition: np.ndarray
    singular_values: np.ndarray
    report: RankReport

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def sigma_min(self) -> float:
        """Smallest singular value of d(End)/du."""
        return float(self.singular_values[-1])

    @property
    def is_singular(self) -> bool:
        """rank < dim: the curve is singular (an abnormal-geodesic candidate)."""
        return self.report.rank < self.gramian.shape[0]

    def as_dict(self) -> dict:
        return {
            "rank": self.rank,
            "sigma_min": self.sigma_min,
            "singular_values": self.singular_values.tolist(),
            "is_singular": self.is_singular,
            "report": self.report.as_dict(),
        }


def _field_jacobian(dist, derivative: str):
    """(q, u) ↦ A = ∂_q(F(q)u), shape (dim, dim): autograd, or central differences."""
    if derivative == "autograd":

        def A(q, u):
            try:
                out = autograd.jacobian(lambda p: dist.frame(p) @ u)(q)
            except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:
                raise InputError(
                    f"autograd could not differentiate the frame ({type(exc).__name__}: {exc}); "
                    "write it with autograd.numpy or pass derivative='fd' (central differences)"
                ) from exc
            out = np.asarray(out, dtype=np.float64)
            if out.dtype.kind == "O":
                raise InputError(
                    "the frame returned an object array under autograd; pass derivative='fd'"
                )
            return out

        return A
    if derivative == "fd":

        def A(q, u):
            # central differences, step eps^(1/3)·max(1, |q|): truncation O(h²) ≈ round-off eps/h
            h = _EPS ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(q))))
            cols = []
            for k in range(q.shape[0]):
                e = np.zeros_like(q)
                e[k] = h
                plus = np.asarray(dist.frame(q + e)) @ u
                minus = np.asarray(dist.frame(q - e)) @ u
                cols.append((plus - minus) / (2 * h))
            return np.stack(cols, axis=1)

        return A
    raise InputError(f"derivative must be 'autograd' or 'fd', got {derivative!r}")


def endpoint_differential(curve: HorizontalCurve, *, derivative="autograd", rank_policy=None):
    """d(End)/du at the control of ``curve``, from the variational equation along it.

    With A(t) = ∂_q(F(q)u)(q(t), u(t)) the linearisation δq′ = A δq + F δu has
    δq(T) = ∫ Φ(T, s)F(q(s))δu(s) ds = L δu.  L is an operator on controls;
    its rank and singular values are those of the Gramian W = LLᵀ, which solves
    the Lyapunov equation

        W′ = A W + W Aᵀ + F Fᵀ,   W(0) = 0,

    integrated together with q and Φ (Φ′ = AΦ, Φ(0) = 1) by the same core and
    tolerances as the curve (not finite differences of End).  The curve is
    *singular* — an abnormal candidate — where rank L < dim: then a covector
    λ ≠ 0 annihilates Φ(T, s)F(q(s)) for all s.

    Parameters
    ----------
    curve : HorizontalCurve
    derivative : "autograd" or "fd"
        How ∂_q(F u) is computed: autograd through the frame (exact), or central
        differences (step eps^(1/3)·max(1, |q|), error ~1e-10 relative) for
        frames autograd cannot trace.
    rank_policy : RankPolicy, float or None
        Rank decision on the singular values of L.  Default rtol √(100·rtol of
        the curve): W is known to ~100·rtol relative, so σ(L)² below that cannot
        be told from 0.

    Returns
    -------
    EndpointDifferential
    """
    if not isinstance(curve, HorizontalCurve):
        raise InputError(f"curve must be a HorizontalCurve, got {type(curve).__name__}")
    dist, dim = curve.dist, curve.dist.dim
    A_of = _field_jacobian(dist, derivative)
    runs = []
    y = np.concatenate([curve.q0, np.eye(dim).ravel(), np.zeros(dim * dim)])
    t_stop = float(curve.t[-1])
    for piece in curve.pieces:
        if piece.start >= t_stop:
            break
        stepper, controller = curve_solver(curve.method, curve.rtol, curve.atol)

        def field_fn(t, state, control=piece.control):
            q = state[:dim]
            Phi = state[dim : dim + dim * dim].reshape(dim, dim)
            W = state[dim + dim * dim :].reshape(dim, dim)
            u = np.asarray(control(t), dtype=np.float64)
            F = np.asarray(dist.frame(q), dtype=np.float64)
            A = A_of(q, u)
            AW = A @ W
            return np.concatenate([F @ u, (A @ Phi).ravel(), (AW + AW.T + F @ F.T).ravel()])

        sol = solve(
            field_fn,
            piece.start,
            y,
            min(piece.stop, t_stop),
            stepper=stepper,
            controller=controller,
        )
        runs.append(sol)
        if sol.status != Status.COMPLETED:
            raise NumericalError(f"the variational equation failed: {sol.message}")
        y = sol.y[-1]
    Phi = y[dim : dim + dim * dim].reshape(dim, dim)
    W = y[dim + dim * dim :].reshape(dim, dim)
    W = 0.5 * (W + W.T)
    eig = np.clip(np.linalg.eigvalsh(W)[::-1], 0.0, None)
    sigma = np.sqrt(eig)
    if rank_policy is None:
        rank_policy = RankPolicy(rtol=math.sqrt(100.0 * curve.rtol))
    return EndpointDifferential(
        gramian=W,
        transition=Phi,
        singular_values=sigma,
        report=numerical_rank(sigma, (dim, dim), rank_policy),
    )


# -- commutator loops ----------------------------------------------------------------------


def _check_pair(dist, q0, i, j) -> tuple[int, int]:
    r = _n_fields(dist, q0)
    i = check_int(i, "i", "index of a frame column", minimum=0)
    j = check_int(j, "j", "index of a frame column", minimum=0)
    if i >= r or j >= r:
        raise InputError(
            f"frame indices i, j must be < r = {r} (the frame's columns), got {i}, {j}"
        )
    return i, j


def loop_displacement(
    dist, q0, i, j, eps, *, rtol: float = 1e-12, atol: float = 1e-14, method="dopri5"
):
    """q(4ε) − q0 for the commutator loop e^{εX_i}, e^{εX_j}, e^{−εX_i}, e^{−εX_j} (in this order).

    Implements the holonomy form of the Frobenius condition (2.31): the gap is
    ε²[X_i, X_j](q0) + O(ε³), with [X, Y] = DY·X − DX·Y (the convention of
    :func:`~subriemann.distributions.lie_bracket`).  For a step-2 nilpotent
    frame (Heisenberg) the gap is exactly ε²[X_i, X_j].

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    i, j : int
        Frame columns.
    eps : float
        ε > 0, the time spent on each leg.
    rtol, atol : float
        Tolerances of the core (tighter than the curves' default: the gap is
        ε² small against |q0|).

    Returns
    -------
    gap : ndarray, shape=[dim]
    """
    q0 = _check_start(dist, q0)
    i, j = _check_pair(dist, q0, i, j)
    eps = check_real(eps, "eps", "the time ε on each leg of the loop", positive=True)
    r = _n_fields(dist, q0)
    legs = np.zeros((4, r))
    legs[0, i], legs[1, j], legs[2, i], legs[3, j] = 1.0, 1.0, -1.0, -1.0
    curve = horizontal_curve(dist, q0, legs, 4 * eps, rtol=rtol, atol=atol, method=method)
    if curve.status != Status.COMPLETED:
        raise NumericalError(
            f"the commutator loop ({i}, {j}) at eps = {eps:g} failed: {curve.message}"
        )
    return curve.end - q0


def fitted_order(eps, gaps, floor: float = 0.0) -> float:
    """Least-squares slope of log|gap| against log ε over the gaps above ``floor``.

    Returns ``inf`` when fewer than two gaps exceed the floor (a gap that is 0
    to round-off has no finite order).
    """
    eps = np.asarray(eps, dtype=np.float64)
    gaps = np.asarray(gaps, dtype=np.float64)
    keep = gaps > floor
    if np.count_nonzero(keep) < 2:
        return math.inf
    return float(np.polyfit(np.log(eps[keep]), np.log(gaps[keep]), 1)[0])


@dataclass(kw_only=True)
class HolonomyReport:
    """Loop displacements for all frame pairs at several ε: the holonomy route to Frobenius (2.31).

    Attributes
    ----------
    point : ndarray, shape=[dim]
    eps : ndarray, shape=[m]
        Decreasing ε.
    pairs : list of (i, j)
    gaps : ndarray, shape=[n_pairs, m, dim]
        q(4ε) − q0.
    transverse : ndarray, shape=[n_pairs, m]
        |Π^⊥ gap|: the part of the gap off Δ_{q0} (Euclidean complement).
    brackets : ndarray, shape=[n_pairs, dim]
        [X_i, X_j](q0) from ``dist.frame_brackets``.
    extrapolated : ndarray, shape=[n_pairs, dim]
        lim gap/ε² from the two smallest ε (linear in ε: gap/ε² = B + εC + O(ε²)).
    orders : ndarray, shape=[n_pairs]
        Fitted order of |Π^⊥ gap| in ε (2: bracket transverse; ≥ 3: Δ involutive
        at q0; inf: 0 to round-off).
    order_total : ndarray, shape=[n_pairs]
        Fitted order of |gap| itself.
    bracket_error : ndarray, shape=[n_pairs]
        |extrapolated − bracket| / max(|bracket|, floor).
    floor : float
        Round-off/tolerance floor of a gap (below it a gap counts as 0).
    """

    point: np.ndarray
    eps: np.ndarray
    pairs: list
    gaps: np.ndarray
    transverse: np.ndarray
    brackets: np.ndarray
    extrapolated: np.ndarray
    orders: np.ndarray
    order_total: np.ndarray
    bracket_error: np.ndarray
    floor: float

    @property
    def is_involutive(self) -> bool:
        """Every transverse gap is of order > 2.5 (or 0): Δ is involutive at the point."""
        return bool(np.all(self.orders > 2.5))

    def rows(self) -> list[dict]:
        """One row per (pair, ε): ε, |gap|, |gap|/ε², |Π^⊥gap|, and the pair's order and agreement."""
        out = []
        for p, (i, j) in enumerate(self.pairs):
            for k, e in enumerate(self.eps):
                g = float(np.linalg.norm(self.gaps[p, k]))
                out.append(
                    {
                        "pair": [i, j],
                        "eps": float(e),
                        "gap": g,
                        "gap_over_eps2": g / e**2,
                        "transverse": float(self.transverse[p, k]),
                        "order": float(self.orders[p]),
                        "bracket_norm": float(np.linalg.norm(self.brackets[p])),
                        "bracket_error": float(self.bracket_error[p]),
                    }
                )
        return out

    def as_dict(self) -> dict:
        return {
            "point": self.point.tolist(),
            "eps": self.eps.tolist(),
            "pairs": [list(p) for p in self.pairs],
            "gaps": self.gaps.tolist(),
            "transverse": self.transverse.tolist(),
            "brackets": self.brackets.tolist(),
            "extrapolated": self.extrapolated.tolist(),
            "orders": [float(o) for o in self.orders],
            "order_total": [float(o) for o in self.order_total],
            "bracket_error": [float(e) for e in self.bracket_error],
            "floor": self.floor,
            "is_involutive": self.is_involutive,
            "rows": self.rows(),
        }


def holonomy_test(
    dist, q0, eps=DEFAULT_EPS, *, pairs=None, rtol: float = 1e-12, atol: float = 1e-14
) -> HolonomyReport:
    """Commutator-loop displacements for every frame pair at several ε, fitted orders, brackets.

    Implements a second, independent numerical route to the Frobenius verdict
    (2.31): the transverse part of the gap is ε²Π^⊥[X_i, X_j](q0) + O(ε³), so
    its fitted order is 2 where a bracket leaves Δ and higher where Δ is
    involutive at q0.  The gaps are also compared with the frame's brackets:
    gap/ε² = [X_i, X_j](q0) + ε·C + O(ε²), extrapolated linearly from the two
    smallest ε.

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    eps : sequence of float
        At least two distinct ε > 0 (sorted decreasing in the report).
    pairs : sequence of (i, j), optional
        Default: all i < j.
    rtol, atol : float
        Tolerances of the loops.

    Returns
    -------
    HolonomyReport
    """
    q0 = _check_start(dist, q0)
    try:
        eps_list = [float(e) for e in np.atleast_1d(np.asarray(eps, dtype=object))]
    except (TypeError, ValueError) as exc:
        raise InputError(f"eps must be a sequence of numbers > 0, got {eps!r}") from exc
    eps_arr = np.array(sorted({check_real(e, "eps", positive=True) for e in eps_list})[::-1])
    if eps_arr.size < 2:
        raise InputError(f"eps needs at least two distinct values > 0 to fit an order, got {eps!r}")
    r = _n_fields(dist, q0)
    if pairs is None:
        pairs = [(i, j) for i in range(r) for j in range(i + 1, r)]
    pairs = [_check_pair(dist, q0, i, j) for i, j in pairs]
    if not pairs:
        raise InputError(f"the frame has r = {r} column(s): no pair (i, j) to loop around")
    F = np.asarray(dist.frame(q0), dtype=np.float64)
    span = JacobianSVD(F, dist.rank_policy)
    B_all = np.asarray(dist.frame_brackets(q0), dtype=np.float64)
    # a loop's endpoint carries the core's tolerance per leg, and |q| rounds at eps·|q|
    scale = max(1.0, float(np.max(np.abs(q0))))
    floor = 100.0 * (atol + rtol * scale) + 100.0 * _EPS * scale
    gaps = np.array(
        [
            [loop_displacement(dist, q0, i, j, e, rtol=rtol, atol=atol) for e in eps_arr]
            for i, j in pairs
        ]
    )
    transverse = np.linalg.norm(
        gaps - span.project_range(gaps.reshape(-1, dist.dim).T).T.reshape(gaps.shape), axis=-1
    )
    brackets = np.array([B_all[i, j] for i, j in pairs])
    e1, e2 = eps_arr[-1], eps_arr[-2]
    r1 = gaps[:, -1] / e1**2
    r2 = gaps[:, -2] / e2**2
    extrapolated = (e2 * r1 - e1 * r2) / (e2 - e1)
    bnorm = np.linalg.norm(brackets, axis=-1)
    bracket_error = np.linalg.norm(extrapolated - brackets, axis=-1) / np.maximum(
        bnorm, floor / e1**2
    )
    orders = np.array([fitted_order(eps_arr, t, floor) for t in transverse])
    order_total = np.array([fitted_order(eps_arr, np.linalg.norm(g, axis=-1), floor) for g in gaps])
    return HolonomyReport(
        point=q0,
        eps=eps_arr,
        pairs=[tuple(p) for p in pairs],
        gaps=gaps,
        transverse=transverse,
        brackets=brackets,
        extrapolated=extrapolated,
        orders=orders,
        order_total=order_total,
        bracket_error=bracket_error,
        floor=floor,
    )
