"""Jacobi fields along normal geodesics and conjugate times.

Varying the initial covector p0 ↦ p0 + s·δp0 varies the normal geodesic; the
derivative (δq, δp)(t) = ∂/∂s (q, p)(t) solves the *variational equation* of the
Hamiltonian system z′ = J∇H(z), z = (q, p), J = [[0, I], [−I, 0]]:

    δz′ = J ∇²H(z(t)) δz,     δz(0) = (0, δp0)

(Agrachev–Barilari–Boscain §8.6: Jacobi fields are the solutions of the
linearised Hamiltonian system); DX_H·δz is a central difference of the exact
Hamiltonian field (see :func:`variational_field` for its error and why).

Conjugate times.  t > 0 is conjugate to 0 along the geodesic of p0 iff the
differential of the exponential map, p ↦ q(t; p), is singular at p0
(ABB Def. 8.39).  Since q(t; s p0) = q(st; p0), the radial direction p0 is mapped
to t·q′(t) ≠ 0, so the degeneracy lies in the directions tangent to the level
set H = H(p0): with B a basis (dim × (dim − 1)) of {δp : ⟨q′(0), δp⟩ = 0} (the
tangent space of {H = const} at p0 in the fibre, since ∂H/∂p = q′(0)),

    det ∂q(t)/∂p0 = 0   ⟺   det [∂q(t)/∂p0 · B,  q′(t)] = 0.

The event function is that determinant divided by the product of its column
norms (Hadamard's ratio, in [−1, 1]: scale free and sign preserving), and the
conjugate times are its zeros, located by the core's event locator on the
variational solution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, NumericalError, check_real
from subriemann.integrate import Event, Solution, Status, solve

from .geodesics import check_start, geodesic_solver, hamiltonian_field

if TYPE_CHECKING:
    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = [
    "JacobiFields",
    "jacobi_fields",
    "conjugate_times",
    "first_conjugate_time",
    "level_set_directions",
]


def variational_field(
    dist: Distribution, m: int, *, derivative: str = "autograd"
) -> Callable[[float, np.ndarray], np.ndarray]:
    """Field of y = (q, p, δz (2·dim × m)) flattened: the geodesic and its Jacobi fields.

    The variation δz′ = DX_H(z)·δz is the central difference of the (exact)
    Hamiltonian field X_H along each column, with step h = eps^(1/3)·max(1, |z|)/|δz|:
    error O(h²) ≈ 1e-11 relative to the field's scale, a smooth (not noisy)
    perturbation of the variational equation.  Why not autograd: the Hessian of
    H by reverse-over-reverse costs ~12 Hamiltonian fields per evaluation (for
    Heisenberg), forward-over-reverse ~5 per column; the difference costs 2 per
    column, and Jacobi fields are needed to ~1e-10 (conjugate times, shooting).
    """
    n = dist.dim
    X_H = hamiltonian_field(dist, derivative=derivative)
    cube_root_eps = np.finfo(np.float64).eps ** (1 / 3)

    def field(t: float, y: np.ndarray) -> np.ndarray:
        z = y[: 2 * n]
        D = y[2 * n :].reshape(2 * n, m)
        dz = X_H(t, z)
        dD = np.empty_like(D)
        scale = max(1.0, float(np.max(np.abs(z))))
        for k in range(m):
            size = float(np.max(np.abs(D[:, k])))
            if size == 0.0:
                dD[:, k] = 0.0
                continue
            h = cube_root_eps * scale / size
            dD[:, k] = (X_H(t, z + h * D[:, k]) - X_H(t, z - h * D[:, k])) / (2 * h)
        return np.concatenate([dz, dD.ravel()])

    return field


def level_set_directions(dist: Distribution, q0: npt.ArrayLike, p0: npt.ArrayLike) -> np.ndarray:
    """Orthonormal basis B (dim × (dim − 1)) of {δp : ⟨q′(0), δp⟩ = 0}, q′(0) = F Fᵀp0.

    These are the tangent directions at p0 of the level set {H(q0, ·) = H(q0, p0)}.
    """
    F = np.asarray(dist.frame(q0))
    v = F @ (F.T @ p0)
    norm = np.linalg.norm(v)
    if norm == 0.0:
        raise InputError(
            "p0 annihilates the distribution at q0 (H(q0, p0) = 0): its normal geodesic is "
            "constant; expected a covector with F(q0)ᵀp0 ≠ 0"
        )
    # the last dim − 1 left singular vectors of v span its orthogonal complement
    U = np.linalg.svd((v / norm)[:, None], full_matrices=True)[0]
    return U[:, 1:]


@dataclass(kw_only=True)
class JacobiFields:
    """A normal geodesic with the Jacobi fields of the initial covector directions ``dp0``.

    Attributes
    ----------
    solution : Solution
        State (q, p, δq, δp), the variations flattened row-major (dim × m each).
    dim, m : int
        Dimension, number of directions.
    dp0 : ndarray, shape=[dim, m]
        Initial covector variations.
    conjugate : list of float
        Conjugate times located during the run (for ``conjugate_times``).
    """

    solution: Solution
    dim: int
    m: int
    dp0: np.ndarray
    conjugate: list[float]

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, m = self.dim, self.m
        return y[..., :n], y[..., n : 2 * n], y[..., 2 * n :].reshape(y.shape[:-1] + (2 * n, m))

    @property
    def t(self) -> np.ndarray:
        return self.solution.t

    @property
    def points(self) -> np.ndarray:
        """q at the accepted times, shape=[n_t, dim]."""
        return self.solution.y[:, : self.dim]

    def endpoint_jacobian(self, t: npt.ArrayLike | None = None) -> np.ndarray:
        """∂q(t)/∂p0 · dp0, shape=[dim, m] (at the end when t is None)."""
        y = self.solution.end if t is None else self.solution(t)
        return self._split(np.asarray(y))[2][..., : self.dim, :]

    def __call__(self, t: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dense (q, p, δq, δp) at t: shapes [dim], [dim], [dim, m], [dim, m]."""
        q, p, D = self._split(self.solution(t))
        return q, p, D[..., : self.dim, :], D[..., self.dim :, :]


def _conjugacy_event(dist: Distribution, n: int, m: int) -> Event:
    """g(t, y) = Hadamard ratio of [δq·B, q′(t)]: zero exactly at conjugate times."""

    def g(t: float, y: np.ndarray) -> float:
        q, p = y[:n], y[n : 2 * n]
        dq = y[2 * n :].reshape(2 * n, m)[:n]
        F = np.asarray(dist.frame(q))
        M = np.column_stack([dq, F @ (F.T @ p)])
        norms = np.prod(np.linalg.norm(M, axis=0))
        # at t = 0 the variations vanish: call it zero (no crossing is counted from there)
        return float(np.linalg.det(M) / norms) if norms > 0 else 0.0

    return Event(name="conjugate", fn=g, terminal=False, land_after=False, xtol=1e-13)


def jacobi_fields(
    dist: Distribution,
    q0: npt.ArrayLike,
    p0: npt.ArrayLike,
    t_end: float,
    dp0: npt.ArrayLike | None = None,
    *,
    rtol: float = 1e-11,
    atol: float | None = None,
    method: str = "dopri5",
    locate_conjugate: bool = False,
    max_steps: int = 100_000,
) -> JacobiFields:
    """Integrate the geodesic of (q0, p0) with its variational equation on [0, t_end].

    Implements the linearised Hamiltonian system δz′ = J∇²H δz of the normal
    extremals (Agrachev–Barilari–Boscain §8.6).

    Parameters
    ----------
    dist : Distribution
    q0, p0 : array-like, shape=[dim]
    t_end : float, > 0
    dp0 : array-like, shape=[dim, m], optional
        Initial covector variations (default the identity: δq(t) = ∂q(t)/∂p0).
    rtol, atol : float
        Tolerances of the core's adaptive stepper (on geodesic and variations).
    method : {"dopri5", "dop853"}
    locate_conjugate : bool
        Locate conjugate times (needs dp0 = None; the level-set basis is used).
    max_steps : int

    Returns
    -------
    JacobiFields
    """
    q0, p0 = check_start(dist, q0, p0)
    t_end = check_real(t_end, "t_end", "the end time", positive=True)
    n = dist.dim
    if locate_conjugate:
        dp0 = level_set_directions(dist, q0, p0)
    elif dp0 is None:
        dp0 = np.eye(n)
    dp0 = np.asarray(dp0, dtype=np.float64)
    if dp0.ndim != 2 or dp0.shape[0] != n:
        raise InputError(f"dp0 must have shape ({n}, m), got {dp0.shape}")
    m = dp0.shape[1]
    if method not in ("dopri5", "dop853"):
        raise InputError(
            f"Jacobi fields need an adaptive method 'dopri5' or 'dop853', got {method!r}"
        )
    atol = 1e-2 * rtol if atol is None else atol
    stepper, controller = geodesic_solver(method, rtol, atol, None, t_end)
    y0 = np.concatenate([q0, p0, np.zeros((n, m)).ravel(), dp0.ravel()])
    events = (_conjugacy_event(dist, n, m),) if locate_conjugate else ()
    sol = solve(
        variational_field(dist, m),
        0.0,
        y0,
        t_end,
        stepper=stepper,
        controller=controller,
        h0=min(t_end, 0.05) if method == "dopri5" else None,
        events=events,
        max_steps=max_steps,
    )
    if sol.status != Status.COMPLETED:
        raise NumericalError(
            f"the variational equation along the geodesic from q0 = {q0}, p0 = {p0} failed "
            f"({sol.status}): {sol.message}"
        )
    found = [float(t) for name, t, _ in sol.events if name == "conjugate"]
    return JacobiFields(solution=sol, dim=n, m=m, dp0=dp0, conjugate=found)


def conjugate_times(
    dist: Distribution,
    q0: npt.ArrayLike,
    p0: npt.ArrayLike,
    t_max: float,
    *,
    rtol: float = 1e-11,
    method: str = "dop853",
) -> np.ndarray:
    """Conjugate times in (0, t_max] of the normal geodesic from q0 with covector p0.

    The zeros of det [∂q(t)/∂p0 · B, q′(t)] (module docstring), located by the
    core's event locator on the variational solution; the located time is a root
    of the stepper's re-taken step to ~1e-13 in t, so its error is the
    integration's (≲ 10·rtol·t_max on the Heisenberg closed form).

    Parameters
    ----------
    dist : Distribution
    q0, p0 : array-like, shape=[dim]
        H(q0, p0) > 0.
    t_max : float, > 0
    rtol : float
    method : {"dopri5", "dop853"}

    Returns
    -------
    ndarray, shape=[k]
        Increasing conjugate times (empty if none up to t_max).
    """
    fields = jacobi_fields(dist, q0, p0, t_max, rtol=rtol, method=method, locate_conjugate=True)
    return np.array(fields.conjugate, dtype=np.float64)


class _ConjugateTimeOptions(TypedDict, total=False):
    """The keyword options of :func:`conjugate_times` that :func:`first_conjugate_time` passes on."""

    rtol: float
    method: str


def first_conjugate_time(
    dist: Distribution,
    q0: npt.ArrayLike,
    p0: npt.ArrayLike,
    t_max: float,
    **options: Unpack[_ConjugateTimeOptions],
) -> float:
    """The first conjugate time in (0, t_max], or ``inf`` if there is none up to t_max."""
    times = conjugate_times(dist, q0, p0, t_max, **options)
    return float(times[0]) if times.size else float("inf")
