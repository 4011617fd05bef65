"""The sub-Riemannian metric of a distribution as a geomstats ``SubRiemannianMetric``.

:class:`SubRiemannianMetric` subclasses geomstats' class of the same name (frame
declared orthonormal, (2.33) for a pullback bundle) and replaces its fixed-step
symplectic Euler integration (first order: 1.4 % error at 1600 steps on the
Heisenberg closed form) by the package's normal geodesics
(:func:`~subriemann.subriemannian.geodesics.normal_geodesic`, tolerance-controlled,
through the ODE core).  geomstats' own route stays reachable: pass ``n_steps`` to
``exp``, ``geodesic`` or ``symp_flow``.

It adds the inverse problem:

* ``log(point, base_point)``: a covector p with exp_{base}(p) = point, found by
  *shooting* — Levenberg–Marquardt on r(p) = q(1; p) − point, the Jacobian
  ∂q(1)/∂p from the variational equation (:mod:`.jacobi`) and Broyden updates
  between its evaluations, from several starting covectors.  Converged means
  |r| ≤ ``tol``·max(1, |point − base_point|) with r evaluated on an accurate
  geodesic; otherwise :class:`~subriemann.errors.NumericalError` is raised
  with the best residual reached — never an unconverged answer.
* ``dist(point_a, point_b)``: the length √(2H(p)) of the shortest converged
  shooting solution.  *Minimality is not certified*: shooting finds normal
  geodesics that join the points, not all of them, and it never sees abnormal
  minimisers.  :func:`distance` returns the full report: each solution's
  length and whether the geodesic has a conjugate time inside (0, 1) (then it
  is not even locally minimising, ABB Thm 8.72, and is discarded).

Why one module of ~700 lines: its one concept is the sub-Riemannian metric's
exponential and its inverse.  ``log`` and ``distance`` are the shooting inverse of
``exp``, and :class:`SubRiemannianMetric` is geomstats' face of the same three
functions (most of its lines adapt geomstats' batch and signature conventions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
from autograd import grad
from geomstats.geometry.sub_riemannian_metric import (
    SubRiemannianMetric as GeomstatsSubRiemannianMetric,
)

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    SubriemannError,
    check_array,
    check_int,
    check_real,
    with_context,
)
from subriemann.geometry.metrics import batch_pair, over_batch
from subriemann.geometry.spaces import euclidean
from subriemann.integrate import solve

from .geodesics import geodesic_solver, hamiltonian, normal_geodesic
from .jacobi import conjugate_times, jacobi_fields

if TYPE_CHECKING:
    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = [
    "SubRiemannianMetric",
    "sub_riemannian_metric",
    "exp",
    "log",
    "distance",
    "ShootingResult",
    "DistanceResult",
]


def _flat_pair(
    dist: Distribution,
    base_point: npt.ArrayLike,
    cotangent_vec: npt.ArrayLike,
    name_point: str,
    name_vector: str,
) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    base_point, cotangent_vec = batch_pair(
        base_point, cotangent_vec, dist.dim, name_point, name_vector
    )
    shape = base_point.shape[:-1]
    return shape, base_point.reshape(-1, dist.dim), cotangent_vec.reshape(-1, dist.dim)


def _at_index(shape: tuple[int, ...], i: int, name: str) -> str:
    if not shape:
        return ""
    return f"at batch index {tuple(int(j) for j in np.unravel_index(i, shape))} of {name}"


def exp(
    dist: Distribution,
    cotangent_vec: npt.ArrayLike,
    base_point: npt.ArrayLike,
    *,
    t: float = 1.0,
    rtol: float = 1e-12,
    method: str = "dop853",
) -> np.ndarray:
    """exp_{base_point}(t·p): the normal geodesic of (base_point, p) at time t; [..., dim].

    Parameters
    ----------
    dist : Distribution
    cotangent_vec, base_point : array-like, shape=[..., dim]
        Broadcast together.
    t : float
        Time (> 0); exp(t·p) = q(t; p) since H is quadratic in p.
    rtol : float
    method : str
        See :data:`~subriemann.subriemannian.geodesics.METHODS`.

    Returns
    -------
    ndarray, shape=[..., dim]
    """
    shape, qs, ps = _flat_pair(dist, base_point, cotangent_vec, "base_point", "cotangent_vec")
    out = np.empty_like(qs)
    for i, (q, p) in enumerate(zip(qs, ps, strict=True)):
        try:
            out[i] = normal_geodesic(dist, q, p, t, rtol=rtol, method=method).end
        except SubriemannError as exc:
            where = _at_index(shape, i, "cotangent_vec")
            if not where:
                raise
            raise with_context(exc, where) from exc
    return out.reshape(*shape, dist.dim)


@dataclass(kw_only=True)
class ShootingResult:
    """One shooting run from one starting covector.

    Attributes
    ----------
    covector : ndarray, shape=[dim]
        The last (best) covector.
    residual : float
        |q(1; covector) − point| on an accurate geodesic.
    converged : bool
        residual ≤ tolerance.
    tolerance : float
    iterations : int
    length : float
        √(2H(base_point, covector)), the geodesic's length on [0, 1].
    """

    covector: np.ndarray
    residual: float
    converged: bool
    tolerance: float
    iterations: int
    length: float


def _default_starts(
    dist: Distribution, base_point: np.ndarray, point: np.ndarray, n_starts: int, seed: int | None
) -> list[np.ndarray]:
    """Starting covectors: the least-squares guess F Fᵀp = Δq, then random ones at three scales.

    The first is the covector of the straight line when Δq is horizontal; the
    random ones reach the vertical directions (in Heisenberg, the end point
    (0, 0, z) needs p_z = 2πk, whatever |z|).
    """
    F = np.asarray(dist.frame(base_point))
    delta = point - base_point
    guess = np.linalg.lstsq(F @ F.T, delta, rcond=None)[0]
    rng = np.random.default_rng(seed)
    scales = (1.0, 3.0, 10.0)
    starts = [guess] if np.linalg.norm(F.T @ guess) > 0 else []
    while len(starts) < n_starts:
        starts.append(guess + scales[len(starts) % 3] * rng.standard_normal(dist.dim))
    return starts


def _shoot_one(
    dist: Distribution,
    base_point: np.ndarray,
    point: np.ndarray,
    p: np.ndarray,
    *,
    tol: float,
    rtol: float,
    max_iterations: int,
    method: str,
) -> ShootingResult:
    """Levenberg–Marquardt with Broyden updates on r(p) = q(1; p) − point, from one start."""

    scale = max(1.0, float(np.linalg.norm(point)))

    def residual(cov: np.ndarray, size: float) -> np.ndarray:
        # far from the solution a cheap geodesic steers as well as an exact one: the
        # tolerance follows the residual (1 % of it) down to rtol
        tol_now = min(1e-6, max(rtol, 1e-2 * size / scale))
        geo = normal_geodesic(dist, base_point, cov, 1.0, rtol=tol_now, method=method)
        return geo.end - point

    def jacobian(cov: np.ndarray) -> np.ndarray:
        # a cheap tolerance: the Jacobian only steers, the residual decides
        return jacobi_fields(
            dist, base_point, cov, 1.0, rtol=1e-7, method=method
        ).endpoint_jacobian()

    r = residual(p, np.inf)
    J = jacobian(p)
    mu = 1e-3 * max(1.0, float(np.max(np.sum(J * J, axis=0))))
    n = dist.dim
    stale = 0
    history = [float(np.linalg.norm(r))]
    it = 0
    while it < max_iterations:
        it += 1
        size = float(np.linalg.norm(r))
        if size <= tol:
            # confirm on an accurate geodesic (the iterate's own may have been cheaper)
            r = residual(p, 0.0)
            if float(np.linalg.norm(r)) <= tol:
                break
        if len(history) > 6 and history[-1] > 0.5 * history[-7]:
            break  # stalled: no halving of the residual in 6 accepted steps
        A = np.vstack([J, np.sqrt(mu) * np.eye(n)])
        delta = np.linalg.lstsq(A, np.concatenate([-r, np.zeros(n)]), rcond=None)[0]
        try:
            r_new = residual(p + delta, size)
        except NumericalError:
            r_new = None
        if r_new is not None and np.linalg.norm(r_new) < size:
            # Broyden's rank-one update keeps J consistent with the step just taken
            J = J + np.outer(r_new - r - J @ delta, delta) / float(delta @ delta)
            p, r = p + delta, r_new
            history.append(float(np.linalg.norm(r)))
            mu = max(mu / 3.0, 1e-12)
            stale = 0
        else:
            mu *= 4.0
            stale += 1
            if stale == 2:
                J = jacobian(p)
            elif stale > 8:
                break
    res = float(np.linalg.norm(r))
    return ShootingResult(
        covector=p,
        residual=res,
        converged=res <= tol,
        tolerance=tol,
        iterations=it,
        length=float(np.sqrt(2.0 * hamiltonian(dist, base_point, p))),
    )


def _shoot(
    dist: Distribution,
    point: npt.ArrayLike,
    base_point: npt.ArrayLike,
    starts: npt.ArrayLike | None,
    n_starts: int,
    seed: int | None,
    tol: float,
    rtol: float,
    max_iterations: int,
    method: str,
) -> tuple[np.ndarray, np.ndarray, list[ShootingResult], list[ShootingResult]]:
    """Shooting from every start: (base_point, point, all results, converged ones by length)."""
    base_point = np.array(check_array(base_point, "base_point", shape=(dist.dim,)))
    point = np.array(check_array(point, "point", shape=(dist.dim,)))
    tol = check_real(tol, "tol", "the shooting tolerance", positive=True)
    n_starts = check_int(n_starts, "n_starts", "the number of shooting starts")
    max_iterations = check_int(max_iterations, "max_iterations")
    tol_abs = tol * max(1.0, float(np.linalg.norm(point - base_point)))
    if starts is None:
        starts = _default_starts(dist, base_point, point, n_starts, seed)
    else:
        starts = np.array(check_array(starts, "starts"))
        if starts.ndim != 2 or starts.shape[1] != dist.dim:
            raise ShapeError(f"starts must have shape (k, {dist.dim}), got {starts.shape}")
    results = []
    for p in starts:
        try:
            results.append(
                _shoot_one(
                    dist,
                    base_point,
                    point,
                    np.array(p, dtype=np.float64),
                    tol=tol_abs,
                    rtol=rtol,
                    max_iterations=max_iterations,
                    method=method,
                )
            )
        except NumericalError:
            continue  # a start whose geodesic blows up is no solution; the others decide
    good = sorted((r for r in results if r.converged), key=lambda r: r.length)
    return base_point, point, results, good


def _no_solution(
    results: list[ShootingResult], base_point: np.ndarray, point: np.ndarray
) -> NumericalError:
    where = f"shooting from base_point {base_point} to point {point} did not converge"
    if not results:
        return NumericalError(f"{where}: the geodesic of every start failed")
    best = min(r.residual for r in results)
    return NumericalError(
        f"{where} from any of {len(results)} start(s): best residual |exp(p) − point| = "
        f"{best:.3g} (tolerance {results[0].tolerance:.3g}); try more starts (n_starts), "
        "your own starts, or more max_iterations"
    )


def log(
    dist: Distribution,
    point: npt.ArrayLike,
    base_point: npt.ArrayLike,
    *,
    starts: npt.ArrayLike | None = None,
    n_starts: int = 6,
    seed: int | None = 0,
    tol: float = 1e-10,
    rtol: float = 1e-11,
    max_iterations: int = 40,
    method: str = "dop853",
) -> np.ndarray:
    """A covector p at base_point with exp(p) = point: the shortest converged shooting solution.

    Parameters
    ----------
    dist : Distribution
    point, base_point : array-like, shape=[dim]
    starts : array-like, shape=[k, dim], optional
        Starting covectors (default: least squares plus random, see ``n_starts``).
    n_starts, seed : int
    tol : float
        Converged when |exp(p) − point| ≤ tol·max(1, |point − base_point|).
    rtol : float
        Geodesic tolerance of the residual evaluations.
    max_iterations : int
        Levenberg–Marquardt trials per start.
    method : str

    Returns
    -------
    ndarray, shape=[dim]

    Raises
    ------
    NumericalError
        No start converged; the message gives the best residual.
    """
    base_point, point, results, good = _shoot(
        dist, point, base_point, starts, n_starts, seed, tol, rtol, max_iterations, method
    )
    if not good:
        raise _no_solution(results, base_point, point)
    return good[0].covector  # the shortest (sorted is stable: the first of equals)


@dataclass(kw_only=True)
class DistanceResult:
    """The sub-Riemannian distance as found by shooting, with what is and is not certified.

    Attributes
    ----------
    value : float
        Length of the shortest kept normal geodesic.
    covector : ndarray, shape=[dim]
        Its initial covector.
    solutions : list of ShootingResult
        Every converged shooting solution.
    locally_minimising : bool
        The kept geodesic has no conjugate time in (0, 1) (checked by the
        variational equation), a necessary condition of minimality.
    certified : bool
        Always False: global minimality is not certified (shooting may miss the
        minimiser, and abnormal minimisers are not searched).
    note : str
    """

    value: float
    covector: np.ndarray
    solutions: list[ShootingResult] = field(default_factory=list)
    locally_minimising: bool = True
    certified: bool = False
    note: str = ""


def distance(
    dist: Distribution,
    point_a: npt.ArrayLike,
    point_b: npt.ArrayLike,
    *,
    starts: npt.ArrayLike | None = None,
    n_starts: int = 6,
    seed: int | None = 0,
    tol: float = 1e-10,
    rtol: float = 1e-11,
    max_iterations: int = 40,
    method: str = "dop853",
    check_conjugate: bool = True,
) -> DistanceResult:
    """d(point_a, point_b) via the shortest normal geodesic found by shooting from point_a.

    The converged solutions are sorted by length; with ``check_conjugate`` the
    first one without a conjugate time in (0, 1 − 1e-6) is kept (a geodesic past
    its first conjugate time is not length minimising, ABB Thm 8.72; ending
    *at* it is allowed: Heisenberg's vertical points are reached there).

    Returns
    -------
    DistanceResult

    Raises
    ------
    NumericalError
        No start converged (the best residual is in the message).
    """
    base_point, point, results, good = _shoot(
        dist, point_b, point_a, starts, n_starts, seed, tol, rtol, max_iterations, method
    )
    if np.array_equal(base_point, point):
        return DistanceResult(
            value=0.0, covector=np.zeros(dist.dim), certified=True, note="the points coincide"
        )
    if not good:
        raise _no_solution(results, base_point, point)
    kept, local = good[0], True
    if check_conjugate:
        for r in good:
            times = conjugate_times(dist, base_point, r.covector, 1.0, method=method)
            if not np.any(times < 1.0 - 1e-6):
                kept, local = r, True
                break
        else:
            local = False
    return DistanceResult(
        value=kept.length,
        covector=kept.covector,
        solutions=good,
        locally_minimising=local,
        certified=False,
        note=(
            f"shortest of {len(good)} converged normal geodesic(s) from {len(results)} start(s); "
            "global minimality is not certified (other normal or abnormal geodesics may be "
            "shorter)"
        ),
    )


class _ShootingOptions(TypedDict, total=False):
    """The keyword options of :func:`log`, passed on by :meth:`SubRiemannianMetric.log`."""

    starts: npt.ArrayLike | None
    n_starts: int
    seed: int | None
    tol: float
    rtol: float
    max_iterations: int
    method: str


class _DistanceOptions(_ShootingOptions, total=False):
    """The keyword options of :func:`distance`: the shooting's and the conjugate-time check."""

    check_conjugate: bool


class _MetricOptions(TypedDict, total=False):
    """The keyword options of :class:`SubRiemannianMetric` (``sub_riemannian_metric(dist, ...)``)."""

    rtol: float
    method: str


class SubRiemannianMetric(GeomstatsSubRiemannianMetric):
    """geomstats ``SubRiemannianMetric`` of a Distribution with accurate normal geodesics.

    The frame of ``dist`` is declared orthonormal (implements (2.33) for
    ``PullbackBundle.distribution()``); H(q, p) = ½ Σᵢ ⟨p, Xᵢ(q)⟩².  Every
    method honours geomstats' batch convention [..., dim].

    Parameters
    ----------
    dist : Distribution
    rtol : float
        Tolerance of the normal geodesics (default 1e-12: ~1e-13 error on the
        Heisenberg closed form at t = 1).
    method : str
        Geodesic stepper (:data:`~subriemann.subriemannian.geodesics.METHODS`).
    """

    def __init__(self, dist: Distribution, *, rtol: float = 1e-12, method: str = "dop853") -> None:
        self.distribution = dist
        self.rtol = check_real(rtol, "rtol", "the geodesic tolerance", positive=True)
        self.method = method

        def frame(p):
            # geomstats evaluates frames on batches [..., dim]: one point at a time,
            # so a failure names its batch index
            return dist.frame(p) if np.ndim(p) == 1 else over_batch(dist.frame, p, "point")

        super().__init__(euclidean(dist.dim), frame=frame)

    # -- normal geodesics -----------------------------------------------------------
    def exp(
        self,
        cotangent_vec: npt.ArrayLike,
        base_point: npt.ArrayLike,
        n_steps: int | None = None,
        *,
        rtol: float | None = None,
    ) -> np.ndarray:
        """exp_{base_point}(cotangent_vec), shape=[..., dim].

        Parameters
        ----------
        cotangent_vec, base_point : array-like, shape=[..., dim]
        n_steps : int, optional
            Given: geomstats' fixed-step symplectic Euler route (first order).
        rtol : float, optional
            Tolerance of the accurate route (default the metric's).
        """
        if n_steps is not None:
            base_point, cotangent_vec = batch_pair(
                base_point, cotangent_vec, self.distribution.dim, "base_point", "cotangent_vec"
            )
            n_steps = check_int(n_steps, "n_steps", "the number of symplectic Euler steps")
            out = super().exp(cotangent_vec, base_point, n_steps=n_steps)
            if not np.all(np.isfinite(out)):
                raise NumericalError(
                    f"geomstats' symplectic Euler exp blew up (NaN/inf) with n_steps = {n_steps}"
                )
            return out
        return exp(
            self.distribution,
            cotangent_vec,
            base_point,
            rtol=self.rtol if rtol is None else rtol,
            method=self.method,
        )

    def geodesic(
        self,
        initial_point: npt.ArrayLike,
        initial_cotangent_vec: npt.ArrayLike,
        n_steps: int | None = None,
        *,
        rtol: float | None = None,
    ) -> Callable[[npt.ArrayLike], np.ndarray]:
        """t ↦ normal geodesic of (initial_point, initial_cotangent_vec) at times t.

        Returns a callable ``path(t)``: t a scalar or array [n_t] (any sign:
        q(−t; p) = q(t; −p) since H is even in p) gives shape [n_t, dim] for one
        initial condition, [batch, n_t, dim] for a batch (geomstats' layout).
        One integration per initial condition and direction of time; the points
        come from the core's dense output.
        """
        if n_steps is not None:
            return super().geodesic(initial_point, initial_cotangent_vec, n_steps=n_steps)
        dim = self.distribution.dim
        q, p = batch_pair(
            initial_point, initial_cotangent_vec, dim, "initial_point", "initial_cotangent_vec"
        )
        single = q.ndim == 1
        qs, ps = q.reshape(-1, dim), p.reshape(-1, dim)
        tol = self.rtol if rtol is None else rtol

        def path(t: npt.ArrayLike) -> np.ndarray:
            ts = np.atleast_1d(np.asarray(check_array(t, "t"), dtype=np.float64))
            if ts.ndim != 1:
                raise ShapeError(f"t must be a scalar or 1-D array of times, got shape {ts.shape}")
            out = np.empty((len(qs), len(ts), dim))
            for i, (q0, p0) in enumerate(zip(qs, ps, strict=True)):
                out[i][ts == 0] = q0
                for sign in (1.0, -1.0):
                    mask = sign * ts > 0
                    if np.any(mask):
                        span = float(np.max(sign * ts[mask]))
                        geo = normal_geodesic(
                            self.distribution, q0, sign * p0, span, rtol=tol, method=self.method
                        )
                        out[i][mask] = geo(sign * ts[mask])
            return out[0] if single else out.reshape(*q.shape[:-1], len(ts), dim)

        return path

    def symp_flow(
        self,
        hamiltonian: Callable[[np.ndarray], float | np.ndarray],
        end_time: float = 1.0,
        n_steps: int | None = None,
        *,
        rtol: float | None = None,
        n_points: int = 21,
    ) -> Callable[[npt.ArrayLike], np.ndarray]:
        """The Hamiltonian flow of ``hamiltonian`` from a state [2, ..., dim].

        Accurate by default: the states at ``n_points`` equally spaced times of
        [0, end_time] (shape [n_points, 2, ..., dim], geomstats' layout), from
        the normal geodesic when ``hamiltonian`` is this metric's, else from the
        core applied to the symplectic gradient of the given Hamiltonian
        (autograd).  ``n_steps`` given: geomstats' symplectic Euler with that
        many steps (shape [n_steps + 1, 2, ..., dim]).
        """
        if n_steps is not None:
            return super().symp_flow(hamiltonian, end_time=end_time, n_steps=n_steps)
        end_time = check_real(end_time, "end_time", "the end time of the flow", positive=True)
        n_points = check_int(n_points, "n_points", minimum=2)
        times = np.linspace(0.0, end_time, n_points)
        tol = self.rtol if rtol is None else rtol
        dim = self.distribution.dim
        own = getattr(hamiltonian, "__self__", None) is self

        def flow(state: npt.ArrayLike) -> np.ndarray:
            state = np.asarray(check_array(state, "state"))
            if state.ndim < 2 or state.shape[0] != 2 or state.shape[-1] != dim:
                raise ShapeError(f"state must have shape [2, ..., {dim}], got {state.shape}")
            batch = state.shape[1:-1]
            qs, ps = state[0].reshape(-1, dim), state[1].reshape(-1, dim)
            out = np.empty((n_points, 2, len(qs), dim))
            for i, (q0, p0) in enumerate(zip(qs, ps, strict=True)):
                if own:
                    geo = normal_geodesic(
                        self.distribution, q0, p0, end_time, rtol=tol, method=self.method
                    )
                    q, p = geo.state(times)
                else:
                    q, p = _general_flow(hamiltonian, q0, p0, times, tol, self.method)
                out[:, 0, i], out[:, 1, i] = q, p
            return out.reshape(n_points, 2, *batch, dim)

        return flow

    # -- the inverse problem -----------------------------------------------------------
    def log(
        self, point: npt.ArrayLike, base_point: npt.ArrayLike, **options: Unpack[_ShootingOptions]
    ) -> np.ndarray:
        """A covector at base_point whose geodesic reaches point at t = 1; [..., dim].

        See :func:`log` (shooting; NumericalError with the residual if it fails).
        """
        dim = self.distribution.dim
        base_point, point = batch_pair(base_point, point, dim, "base_point", "point")
        shape = point.shape[:-1]
        flat_b, flat_p = base_point.reshape(-1, dim), point.reshape(-1, dim)
        out = np.empty_like(flat_p)
        options.setdefault("rtol", max(self.rtol, 1e-11))
        options.setdefault("method", self.method)
        for i in range(len(flat_p)):
            try:
                out[i] = log(self.distribution, flat_p[i], flat_b[i], **options)
            except SubriemannError as exc:
                where = _at_index(shape, i, "point")
                if not where:
                    raise
                raise with_context(exc, where) from exc
        return out.reshape(*shape, dim)

    def dist(
        self, point_a: npt.ArrayLike, point_b: npt.ArrayLike, **options: Unpack[_DistanceOptions]
    ) -> np.ndarray | float:
        """Sub-Riemannian distance, shape=[...] (minimality not certified: see :func:`distance`)."""
        dim = self.distribution.dim
        point_a, point_b = batch_pair(point_a, point_b, dim, "point_a", "point_b")
        shape = point_a.shape[:-1]
        flat_a, flat_b = point_a.reshape(-1, dim), point_b.reshape(-1, dim)
        options.setdefault("rtol", max(self.rtol, 1e-11))
        options.setdefault("method", self.method)
        out = np.empty(len(flat_a))
        for i in range(len(flat_a)):
            try:
                out[i] = distance(self.distribution, flat_a[i], flat_b[i], **options).value
            except SubriemannError as exc:
                where = _at_index(shape, i, "point_b")
                if not where:
                    raise
                raise with_context(exc, where) from exc
        return out.reshape(shape) if shape else float(out[0])

    def distance(
        self, point_a: npt.ArrayLike, point_b: npt.ArrayLike, **options: Unpack[_DistanceOptions]
    ) -> DistanceResult:
        """The full :class:`DistanceResult` of one pair of points (shape [dim] each)."""
        options.setdefault("rtol", max(self.rtol, 1e-11))
        options.setdefault("method", self.method)
        return distance(self.distribution, point_a, point_b, **options)


def _general_flow(
    hamiltonian: Callable[[np.ndarray], float | np.ndarray],
    q0: np.ndarray,
    p0: np.ndarray,
    times: np.ndarray,
    rtol: float,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow of z′ = J∇H(z) for a user Hamiltonian H(state [2, dim]) through the core."""
    n = len(q0)
    dH = grad(lambda y: hamiltonian(y.reshape(2, n)))

    def field(t, y):
        g = dH(y)
        return np.concatenate([g[n:], -g[:n]])

    stepper, controller = geodesic_solver(method, rtol, 1e-2 * rtol, None, float(times[-1]))
    sol = solve(
        field,
        0.0,
        np.concatenate([q0, p0]),
        float(times[-1]),
        stepper=stepper,
        controller=controller,
    )
    if sol.status != "completed":
        raise NumericalError(f"the Hamiltonian flow failed ({sol.status}): {sol.message}")
    y = sol(times)
    return y[:, :n], y[:, n:]


def sub_riemannian_metric(
    dist: Distribution, **options: Unpack[_MetricOptions]
) -> SubRiemannianMetric:
    """``SubRiemannianMetric(dist, **options)``: the delegate of ``Distribution.sub_riemannian_metric``."""
    if not hasattr(dist, "frame") or not hasattr(dist, "dim"):
        raise InputError(f"expected a Distribution (with .frame and .dim), got {type(dist)!r}")
    return SubRiemannianMetric(dist, **options)
