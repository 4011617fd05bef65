"""Sub-Riemannian spheres and wavefronts from the exponential map.

The wavefront of radius ρ at q0 is {exp_{q0}(ρ·p) : H(q0, p) = ½}: the end
points at time ρ of the unit-speed normal geodesics.  The sphere S(q0, ρ) is
the part reached by geodesics that still minimise at time ρ; a normal geodesic
stops minimising at its cut time, which is at most its first conjugate time
(Agrachev–Barilari–Boscain Thm 8.72).  :func:`sphere` therefore follows each
geodesic up to min(ρ, cut time) when a cut time is known (a callable, e.g.
2π/|p_z| for Heisenberg, ABB §13.1), or up to its first conjugate time
(``stop="conjugate"``, computed from the variational equation), or to ρ
(``stop=None``: the wavefront).

Unit covectors.  With an orthonormal basis N of the annihilator of Δ_{q0} and
the minimum-norm lift P of the unit controls (Fᵀ P a = a), every covector with
H = ½ is p = P a + N c, a ∈ S^{r−1}, c ∈ R^{dim−rank}.  For a rank-2 frame in
R³ (the plot helper) a = (cos θ, sin θ) and c is the single "vertical" value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, check_array, check_int, check_real

from .geodesics import check_start, normal_geodesic
from .jacobi import first_conjugate_time

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    # the distribution layer (below) calls into this one on use; hints only, no cycle
    from subriemann.distributions import Distribution

__all__ = ["Sphere", "unit_covectors", "sphere", "plot_sphere"]


def unit_covectors(
    dist: Distribution, q0: npt.ArrayLike, angles: npt.ArrayLike, vertical: npt.ArrayLike
) -> np.ndarray:
    """Covectors p = P a(θ) + N c with H(q0, p) = ½, for a rank-2 frame; shape [len(angles)·len(vertical), dim].

    Parameters
    ----------
    dist : Distribution
        Frame of rank 2 at q0.
    q0 : array-like, shape=[dim]
    angles : array-like, shape=[k]
        θ of the unit control a = (cos θ, sin θ) in the frame's orthonormal basis.
    vertical : array-like, shape=[m] or [m, dim − 2]
        Annihilator coordinates c.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    F = np.asarray(dist.frame(q0))
    U, s, _ = np.linalg.svd(F, full_matrices=True)
    rank = int(np.sum(s > s[0] * 1e-12 * max(F.shape)))
    if rank != 2:
        raise InputError(f"unit_covectors needs a rank-2 distribution at q0, got rank {rank}")
    # Fᵀ = V Σ Uᵀ: p = U₂ Σ₂⁻¹ b gives Fᵀp = V₂ b, a unit control when |b| = 1;
    # the columns of U beyond the rank annihilate Δ_{q0}
    N = U[:, 2:]
    angles = np.asarray(angles, dtype=np.float64)
    c = np.asarray(vertical, dtype=np.float64).reshape(len(np.atleast_1d(vertical)), -1)
    if c.shape[1] != N.shape[1]:
        raise InputError(f"vertical must have {N.shape[1]} coordinate(s) per covector")
    out: list[np.ndarray] = []
    for theta in angles:
        horizontal = U[:, :2] @ (np.array([np.cos(theta), np.sin(theta)]) / s[:2])
        out.extend(horizontal + N @ ci for ci in c)
    return np.array(out)


@dataclass(kw_only=True)
class Sphere:
    """End points of unit-speed normal geodesics at min(radius, stop time).

    Attributes
    ----------
    points : ndarray, shape=[k, dim]
    covectors : ndarray, shape=[k, dim]
        Initial covectors (H = ½).
    times : ndarray, shape=[k]
        The time each geodesic was followed to (radius, or its cut/conjugate time).
    radius : float
    truncated : ndarray of bool, shape=[k]
        The geodesic stopped before ``radius`` (so its end lies inside the ball).
    """

    points: np.ndarray
    covectors: np.ndarray
    times: np.ndarray
    radius: float
    truncated: np.ndarray


def sphere(
    dist: Distribution,
    q0: npt.ArrayLike,
    radius: float,
    n_covectors: int | None = None,
    *,
    covectors: npt.ArrayLike | None = None,
    stop: Literal["conjugate"] | Callable[[np.ndarray], float] | None = None,
    rtol: float = 1e-10,
) -> Sphere:
    """Points exp(t·p), t = min(radius, stop time), for unit covectors p at q0.

    Parameters
    ----------
    dist : Distribution
    q0 : array-like, shape=[dim]
    radius : float, > 0
    n_covectors : int, optional
        Number of unit covectors (rank-2 frames: angles θ equally spaced ×
        vertical values spread like tan over (−π/2, π/2)·(2π/radius)); ignored
        when ``covectors`` is given.
    covectors : array-like, shape=[k, dim], optional
        Your own covectors; they are rescaled to H = ½.
    stop : None, "conjugate" or callable
        None: the wavefront (every geodesic to ``radius``).  "conjugate": stop at
        the first conjugate time (an upper bound of the cut time).  A callable
        ``stop(p) -> float``: a known cut time.
    rtol : float

    Returns
    -------
    Sphere
    """
    q0 = np.array(check_array(q0, "q0", shape=(dist.dim,)))
    radius = check_real(radius, "radius", "the sphere's radius", positive=True)
    if covectors is None:
        n = check_int(n_covectors, "n_covectors", "the number of covectors")
        n_angles = max(1, int(round(np.sqrt(n))))
        n_vertical = max(1, n // n_angles)
        angles = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
        vertical = np.tan(np.linspace(-1.4, 1.4, n_vertical)) * (2 * np.pi / radius)
        covectors = unit_covectors(dist, q0, angles, vertical)
    covectors = np.array(check_array(covectors, "covectors"))
    if covectors.ndim != 2 or covectors.shape[1] != dist.dim:
        raise InputError(f"covectors must have shape (k, {dist.dim}), got {covectors.shape}")
    points: list[np.ndarray] = []
    times: list[float] = []
    unit: list[np.ndarray] = []
    F = np.asarray(dist.frame(q0))
    for p in covectors:
        q0, p = check_start(dist, q0, p, "q0", "covector")
        speed = float(np.linalg.norm(F.T @ p))
        if speed == 0:
            raise InputError("a covector annihilates the distribution at q0 (H = 0)")
        p = p / speed
        t = radius
        if stop == "conjugate":
            t = min(radius, first_conjugate_time(dist, q0, p, radius))
        elif callable(stop):
            t = min(radius, float(stop(p)))
        elif stop is not None:
            raise InputError(f"stop must be None, 'conjugate' or a callable, got {stop!r}")
        points.append(normal_geodesic(dist, q0, p, t, rtol=rtol, method="dop853").end)
        times.append(t)
        unit.append(p)
    followed = np.array(times)
    return Sphere(
        points=np.array(points),
        covectors=np.array(unit),
        times=followed,
        radius=radius,
        truncated=followed < radius,
    )


def plot_sphere(
    dist: Distribution,
    q0: npt.ArrayLike | None = None,
    radius: float = 1.0,
    *,
    n_fan: int = 12,
    n_section: int = 81,
    stop: Literal["conjugate"] | Callable[[np.ndarray], float] | None = None,
    rtol: float = 1e-9,
) -> Figure:
    """A figure: a fan of unit-speed geodesics in 3-D and the sphere's section in the (x, z) plane.

    For a rank-2 distribution in R³.  Left: geodesics of the covectors θ = 0..2π
    (``n_fan`` of them, two vertical values) up to ``radius``.  Right: the
    profile (±|Δ(x, y)|, Δz) of the end points of the covectors θ = 0, vertical
    value swept: the sphere (each geodesic stopped at ``stop``, as in
    :func:`sphere`) solid, the wavefront (all followed to ``radius``) dashed.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if dist.dim != 3:
        raise InputError(f"plot_sphere draws 3-dimensional distributions, got dim = {dist.dim}")
    q0 = np.zeros(3) if q0 is None else np.asarray(q0, dtype=np.float64)
    fig = plt.figure(figsize=(10, 4.5))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ts = np.linspace(0.0, radius, 60)
    angles = np.linspace(0, 2 * np.pi, n_fan, endpoint=False)
    for c in (2 * np.pi / radius * 0.6, -2 * np.pi / radius * 0.6):
        for p in unit_covectors(dist, q0, angles, [c]):
            geo = normal_geodesic(dist, q0, p, radius, rtol=rtol, method="dop853")
            q = geo(ts)
            ax.plot(q[:, 0], q[:, 1], q[:, 2], lw=0.8, color="C0" if c > 0 else "C1")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.set_title(f"normal geodesics, length {radius:g}")
    ax2 = fig.add_subplot(1, 2, 2)
    vertical = np.tan(np.linspace(-1.45, 1.45, n_section)) * (2 * np.pi / radius)
    sec = sphere(
        dist, q0, radius, covectors=unit_covectors(dist, q0, [0.0], vertical), stop=stop, rtol=rtol
    )
    wave = sphere(dist, q0, radius, covectors=sec.covectors, stop=None, rtol=rtol)

    # the profile (±|Δ(x, y)|, Δz): for a rotation-invariant structure (Heisenberg) the
    # sphere is the surface of revolution of this curve
    def profile(points):
        d = points - q0
        return np.hypot(d[:, 0], d[:, 1]), d[:, 2]

    for sign in (1.0, -1.0):
        rho, z = profile(wave.points)
        ax2.plot(sign * rho, z, "--", color="0.6", lw=1, label="wavefront" if sign > 0 else None)
        # a geodesic stopped before the radius ends inside the ball: not on the sphere
        rho, z = profile(sec.points[~sec.truncated])
        ax2.plot(sign * rho, z, "-", color="C3", lw=1.5, label="sphere" if sign > 0 else None)
    ax2.set_xlabel("±|(x, y) − (x0, y0)|")
    ax2.set_ylabel("z − z0")
    ax2.set_title(f"sphere of radius {radius:g}: profile of the covectors θ = 0")
    ax2.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig
