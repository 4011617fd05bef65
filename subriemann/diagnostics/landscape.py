"""The cost landscape seen by the flows: trapping (§3.1), equilibria (§3.2, §4.1), escape (§4.2).

Four diagnostics, each a measurement of a statement of the paper:

* **Trapping** (Prop. 3.1).  The standard flow (3.7) moves θ at speed
  |Dᵀ∇ₓC| = ε(θ)|∇ₓC|, with the *trapping ratio* ε(θ) = |Dᵀ∇ₓC| / |∇ₓC| (3.4).
  Where ε is small the orbit crawls: (3.6) bounds from below the time it
  spends in such a region by its arc length there.  The adapted flow's output
  velocity is −∇ₓC whatever ε is (1.11), so the same region does not hold it.
  :func:`trapping_ratio`, :func:`trapping_profile`, :func:`trapping_windows`.
* **Equilibria** (Lemma 3.2, Thm 4.2).  A point with Dᵀ∇ₓC = 0 is a global
  minimizer (∇ₓC = 0) or a non-global equilibrium, which needs rank D < QN and
  ∇ₓC ∈ ker Dᵀ (3.10).  :func:`classify_point` decides and checks (3.10).
* **Critical manifold** (4.13)–(4.14).  With V_α = r columns of D that span
  range 𝒫 near θ*, the functions g_α = (V_α, ∇ₓC) cut out the equilibria; the
  rank of their Jacobian at θ* gives the dimension of 𝒫 ∩ g⁻¹(0), compared
  with K − r.  :func:`g_functions`, :func:`critical_manifold_dimension`.
* **Escape** (4.15)–(4.17).  θ′ = θ* + κ V with V a normal vector of M_crit
  (∇g_α, or the combination of them of most negative cost curvature) and the
  sign of κ chosen so that C decreases.  :func:`escape_perturbation`.

Constructed cases with known answers, on which these are tested and shown:
:func:`trapping_case` (saturated tanh units, Prop. 3.1),
:func:`linear_bottleneck_case` (Baldi–Hornik critical points: equilibria,
saddles and escape), :func:`duplicated_inputs_case` (rank loss everywhere),
:func:`zero_network_case` and :func:`dead_units_case` (equilibria where the
rank is not locally constant).

A fact used throughout: when V_α is the column j_α of D, then
g_α = (∂_{j_α}x, ∇ₓC) = ∂C̃/∂θ_{j_α}, a component of the parameter gradient
(1.18); its gradient is the Hessian column ∇g_α = H e_{j_α} with
H = DᵀD/N + Σ_a (∇ₓC)_a ∇²x_a, which the closed-form second derivatives of
the map (``hessian_vector_products``) give exactly.

Nothing here prints; long loops take an optional ``progress(done, total)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_vector,
)
from subriemann.flows.cost import L2Cost
from subriemann.linalg import JacobianSVD, RankReport, resolve_policy
from subriemann.maps.network import MLP, NetworkMap
from subriemann.maps.smooth import SmoothMap

__all__ = [
    "trapping_ratio",
    "TrappingProfile",
    "trapping_profile",
    "TrappingWindow",
    "trapping_windows",
    "EquilibriumReport",
    "classify_point",
    "CriticalFunctions",
    "g_functions",
    "CriticalManifoldReport",
    "critical_manifold_dimension",
    "EscapeReport",
    "escape_perturbation",
    "hessian_vector_product",
    "trapping_case",
    "linear_bottleneck_case",
    "duplicated_inputs_case",
    "zero_network_case",
    "dead_units_case",
]

GLOBAL_MINIMIZER = "global minimizer"
NON_GLOBAL_EQUILIBRIUM = "non-global equilibrium"
NOT_AN_EQUILIBRIUM = "not an equilibrium"


def _check_pair(f, cost):
    if not isinstance(f, SmoothMap):
        raise InputError(f"f must be a SmoothMap (e.g. a NetworkMap), got {type(f).__name__}")
    for attr in ("grad", "N", "target"):
        if not hasattr(cost, attr):
            raise InputError(
                f"cost must be an L2Cost (with grad, N, target), got {type(cost).__name__}"
            )
    if cost.target.shape[0] != f.dim_out:
        raise ShapeError(
            f"cost has QN = {cost.target.shape[0]} outputs but f maps to R^{f.dim_out}; "
            "expected the cost of the same training data as the map"
        )


# -- trapping (Prop. 3.1) -------------------------------------------------------------
def trapping_ratio(f, cost, theta) -> float:
    """ε(θ) = |Dᵀ[θ]∇ₓC| / |∇ₓC|, the trapping ratio. Implements (3.4).

    The standard flow (3.7) moves θ at speed ε(θ)|∇ₓC|; when rank D = QN,
    σ_min(D) ≤ ε(θ) ≤ σ_max(D).  Uses one vector-Jacobian product (no Jacobian).

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN}.
    cost : L2Cost
    theta : array-like, shape=[K]

    Returns
    -------
    float

    Raises
    ------
    InputError
        At a global minimizer (∇ₓC = 0), where ε is 0/0 and undefined.
    """
    _check_pair(f, cost)
    theta = check_vector(theta, f.dim_in, "theta")
    grad_x = cost.grad(f(theta))
    norm = float(np.linalg.norm(grad_x))
    if norm == 0.0:
        raise InputError(
            "the trapping ratio (3.4) is undefined at a global minimizer (∇ₓC = 0, x = y_ω); "
            "expected a point with x[θ] ≠ y_ω"
        )
    return float(np.linalg.norm(f.vjp(theta, grad_x))) / norm


@dataclass(frozen=True)
class TrappingWindow:
    """A stretch of an orbit where ε(θ(s)) < threshold, with the bound (3.6).

    Attributes
    ----------
    start, stop : int
        First and last sample index inside the window (inclusive).
    s_start, s_end : float
        s₀ = inf I and the last sample time inside the window.
    duration : float
        Observed |I| = s_end − s_start (to sample resolution).
    eps_max : float
        Largest ε(θ) sampled in the window.
    threshold : float
        The ε of (3.4) defining the region U = {ε(θ) < threshold}.
    arc_length : float or None
        L_U (3.5): length of the polygon through the recorded θ(s) in the
        window (a lower bound of the true arc length, so the bound stays valid).
    residual_norm : float or None
        |x[θ(s₀)] − y_ω|.
    lower_bound : float or None
        N L_U / (|x(s₀) − y_ω| · threshold): (3.6) for the region U.
    sharp_lower_bound : float or None
        The same with ε = eps_max, the smallest ε the samples support.
    open_end : bool
        The orbit was still in the window when the record ended: the true
        trapping time is longer than ``duration``.
    """

    start: int
    stop: int
    s_start: float
    s_end: float
    duration: float
    eps_max: float
    threshold: float
    arc_length: float | None = None
    residual_norm: float | None = None
    lower_bound: float | None = None
    sharp_lower_bound: float | None = None
    open_end: bool = False

    @property
    def bound_holds(self) -> bool | None:
        """Whether the observed time respects (3.6) (None without θ, residual and N)."""
        if self.lower_bound is None:
            return None
        return self.duration >= self.lower_bound

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["bound_holds"] = self.bound_holds
        return out


def trapping_windows(
    s, ratio, threshold, theta=None, residual_norm=None, n_samples=None
) -> list[TrappingWindow]:
    """Maximal runs of consecutive samples with ε(θ(s)) < threshold, and (3.6) for each.

    Implements the detection of the regions U of Prop. 3.1 along a sampled
    orbit and the lower bound (3.6) |I| ≥ N L_U / (|x(s₀) − y_ω| ε) on the time
    spent in each.  The bound is proved for the standard flow (3.7), whose
    speed is ε(θ)|∇ₓC|; on other orbits it is only a comparison.

    Parameters
    ----------
    s : array-like, shape=[n]
        Increasing sample times.
    ratio : array-like, shape=[n]
        ε(θ(s_i)) (3.4).
    threshold : float
        ε of (3.4): the region is U = {θ : ε(θ) < threshold}.
    theta : array-like, shape=[n, K], optional
        Recorded θ(s_i), for the arc length L_U (3.5).
    residual_norm : array-like, shape=[n], optional
        |x(s_i) − y_ω|, for the entry value in (3.6).
    n_samples : int, optional
        N, the number of training inputs.

    Returns
    -------
    list of TrappingWindow
        In order of time; bounds are ``None`` unless ``theta``,
        ``residual_norm`` and ``n_samples`` are all given.
    """
    from subriemann.flows.theory import trapping_time_bound

    s = np.asarray(s, dtype=np.float64)
    ratio = np.asarray(ratio, dtype=np.float64)
    if s.ndim != 1 or ratio.shape != s.shape:
        raise ShapeError(
            f"s and ratio must be 1-D of equal length, got shapes {s.shape} and {ratio.shape}"
        )
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(ratio))):
        raise InputError("s and ratio must be finite")
    if np.any(np.diff(s) < 0):
        raise InputError("s must be non-decreasing (sample times of one orbit)")
    threshold = check_real(threshold, "threshold", positive=True)
    with_bound = theta is not None and residual_norm is not None and n_samples is not None
    if with_bound:
        theta = np.asarray(theta, dtype=np.float64)
        residual_norm = np.asarray(residual_norm, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[0] != s.size or residual_norm.shape != s.shape:
            raise ShapeError(
                f"theta must have shape (n, K) and residual_norm (n,) with n = {s.size}, "
                f"got {theta.shape} and {residual_norm.shape}"
            )
    inside = ratio < threshold
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    windows = []
    for a, b in zip(starts, stops, strict=True):
        a, b = int(a), int(b)
        fields = dict(
            start=a,
            stop=b,
            s_start=float(s[a]),
            s_end=float(s[b]),
            duration=float(s[b] - s[a]),
            eps_max=float(ratio[a : b + 1].max()),
            threshold=float(threshold),
            open_end=b == s.size - 1,
        )
        if with_bound and residual_norm[a] > 0:
            L = float(np.sum(np.linalg.norm(np.diff(theta[a : b + 1], axis=0), axis=1)))
            fields.update(
                arc_length=L,
                residual_norm=float(residual_norm[a]),
                lower_bound=trapping_time_bound(L, residual_norm[a], threshold, n_samples),
                sharp_lower_bound=(
                    trapping_time_bound(L, residual_norm[a], fields["eps_max"], n_samples)
                    if fields["eps_max"] > 0
                    else float("inf")
                ),
            )
        windows.append(TrappingWindow(**fields))
    return windows


@dataclass(frozen=True)
class TrappingProfile:
    """ε(θ(s)) (3.4) along a recorded orbit, with what (3.6) needs.

    Attributes
    ----------
    s : ndarray, shape=[n]
    ratio : ndarray, shape=[n]
        ε(θ(s_i)).
    residual_norm : ndarray, shape=[n]
        |x(s_i) − y_ω| (= N |∇ₓC|).
    cost : ndarray, shape=[n]
    theta : ndarray, shape=[n, K]
    N : int
    """

    s: np.ndarray
    ratio: np.ndarray
    residual_norm: np.ndarray
    cost: np.ndarray
    theta: np.ndarray
    N: int

    def windows(self, threshold) -> list[TrappingWindow]:
        """Trapping windows ε < threshold with the bound (3.6); see :func:`trapping_windows`."""
        return trapping_windows(
            self.s, self.ratio, threshold, self.theta, self.residual_norm, self.N
        )

    def as_dict(self) -> dict:
        return {
            "s": self.s,
            "ratio": self.ratio,
            "residual_norm": self.residual_norm,
            "cost": self.cost,
            "N": self.N,
        }


def trapping_profile(traj, f, cost, progress=None) -> TrappingProfile:
    """The trapping ratio ε(θ(s)) (3.4) at every recorded point of an orbit.

    Parameters
    ----------
    traj : Trajectory or any object with arrays ``s`` (n,) and ``theta`` (n, K)
        E.g. the result of :func:`subriemann.integrate.integrate`.  A recorded
        ``x`` (n, QN) is reused; otherwise x[θ(s_i)] is recomputed.
    f : SmoothMap
    cost : L2Cost
    progress : callable, optional
        ``progress(done, total)`` after each point.

    Returns
    -------
    TrappingProfile
    """
    _check_pair(f, cost)
    try:
        s = np.asarray(traj.s, dtype=np.float64)
        theta = np.asarray(traj.theta, dtype=np.float64)
    except AttributeError as exc:
        raise InputError(
            f"traj must have arrays s and theta (a Trajectory), got {type(traj).__name__}"
        ) from exc
    if theta.ndim != 2 or theta.shape != (s.size, f.dim_in):
        raise ShapeError(
            f"traj.theta must have shape (n, K) = ({s.size}, {f.dim_in}), got {theta.shape}"
        )
    xs = getattr(traj, "x", None)
    xs = None if xs is None else np.asarray(xs, dtype=np.float64)
    if xs is not None and xs.shape != (s.size, f.dim_out):
        xs = None
    n = s.size
    ratio, res, costs = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        x = f(theta[i]) if xs is None else xs[i]
        grad_x = cost.grad(x)
        gnorm = float(np.linalg.norm(grad_x))
        if gnorm == 0.0:
            raise InputError(
                f"the orbit reaches a global minimizer (x = y_ω) at s = {s[i]:g}, where the "
                "trapping ratio (3.4) is undefined; truncate the trajectory before that point"
            )
        ratio[i] = float(np.linalg.norm(f.vjp(theta[i], grad_x))) / gnorm
        res[i] = gnorm * cost.N
        costs[i] = float(cost(x))
        if progress is not None:
            progress(i + 1, n)
    return TrappingProfile(s, ratio, res, costs, theta, cost.N)


# -- equilibria (Lemma 3.2, Thm 4.2) -------------------------------------------------
@dataclass(frozen=True)
class EquilibriumReport:
    """What a point θ is for the flows (3.7)/(4.5), with the evidence.

    Attributes
    ----------
    kind : str
        ``"global minimizer"`` (∇ₓC ≈ 0), ``"non-global equilibrium"``
        (Dᵀ∇ₓC ≈ 0, ∇ₓC ≠ 0) or ``"not an equilibrium"``.
    cost : float
        C(x[θ]).
    residual : float
        |x[θ] − y_ω| / max(1, |y_ω|), the global-minimizer test quantity.
    stationarity : float
        |Dᵀ∇ₓC| / (σ_max(D) |∇ₓC|) ∈ [0, 1]: ε(θ) (3.4) in units of its
        largest possible value; 0 exactly at an equilibrium.
    rank : RankReport
        The rank decision on D[θ].
    QN : int
    rank_deficient : bool
        rank D < QN, the first condition of (3.10).
    kernel_residual : float
        |𝒫∇ₓC| / |∇ₓC|: 0 iff ∇ₓC ∈ ker Dᵀ = (range D)^⊥, the second
        condition of (3.10).
    in_kernel : bool
        kernel_residual ≤ tol · cond(D) (the precision ``tol`` on the
        stationarity allows, since |Dᵀw| ≥ σ_min_kept |𝒫w|).
    tol : float
    trapping_like : bool
        Stationary to ``tol`` although (3.10) fails: an approximate
        equilibrium of Prop. 3.1 type (a trapping region), not a true one.
    message : str
    """

    kind: str
    cost: float
    residual: float
    stationarity: float
    rank: RankReport
    QN: int
    rank_deficient: bool
    kernel_residual: float
    in_kernel: bool
    tol: float
    trapping_like: bool
    message: str

    @property
    def is_equilibrium(self) -> bool:
        return self.kind != NOT_AN_EQUILIBRIUM

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["rank"] = self.rank.as_dict()
        out["is_equilibrium"] = self.is_equilibrium
        return out


def classify_point(f, cost, theta, tol=1e-8, rank_policy=None) -> EquilibriumReport:
    """Classify θ as global minimizer, non-global equilibrium or neither; check (3.10).

    Implements Lemma 3.2 and the first part of Thm 4.2: θ* is an equilibrium of
    the standard flow (3.7) (equivalently of the adapted flow (4.5)) iff
    Dᵀ∇ₓC = 0; it is a global minimizer iff ∇ₓC = 0 (3.8); otherwise
    rank D < QN and ∇ₓC ∈ ker Dᵀ (3.10) must hold, and are checked.

    Tolerances (all relative, so that they do not depend on the scale of the
    data or of the network):

    * global minimizer: |x − y_ω| ≤ tol · max(1, |y_ω|);
    * equilibrium: |Dᵀ∇ₓC| ≤ tol · σ_max(D) · |∇ₓC|;
    * ∇ₓC ∈ ker Dᵀ: |𝒫∇ₓC| ≤ tol · cond(D) · |∇ₓC| (what the previous
      test implies, as |Dᵀw| ≥ σ_min_kept |𝒫w|);
    * rank D: by ``rank_policy`` (default: numpy's matrix_rank rule).

    The default tol = 1e-8 is far above the round-off of a float64 product
    Dᵀw (~ K·eps ≈ 1e-13) and leaves room for equilibria located by an
    iterative method; pass a smaller one for constructed points.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta : array-like, shape=[K]
    tol : float in (0, 1)
    rank_policy : RankPolicy or float or None

    Returns
    -------
    EquilibriumReport
    """
    _check_pair(f, cost)
    theta = check_vector(theta, f.dim_in, "theta")
    tol = check_real(tol, "tol", positive=True, below=1)
    x, D = f.value_and_jacobian(theta)
    svd = JacobianSVD(D, rank_policy)
    grad_x = cost.grad(x)
    gnorm = float(np.linalg.norm(grad_x))
    y_scale = max(1.0, float(np.linalg.norm(cost.target)))
    residual = gnorm * cost.N / y_scale
    C = float(cost(x))
    rep = svd.report
    QN = f.dim_out
    if residual <= tol:
        return EquilibriumReport(
            GLOBAL_MINIMIZER,
            C,
            residual,
            0.0,
            rep,
            QN,
            rep.rank < QN,
            0.0,
            True,
            tol,
            False,
            f"x[θ] = y_ω to {residual:.2e} (relative): a global minimizer of C (3.8)",
        )
    grad_theta = D.T @ grad_x
    stationarity = (
        float(np.linalg.norm(grad_theta)) / (rep.sigma_max * gnorm) if rep.sigma_max > 0 else 0.0
    )
    kernel_residual = float(np.linalg.norm(svd.project_range(grad_x))) / gnorm
    cond = rep.condition_number if rep.rank else 1.0
    in_kernel = kernel_residual <= tol * cond
    rank_deficient = rep.rank < QN
    stationary = stationarity <= tol
    if stationary and rank_deficient and in_kernel:
        kind, trapping_like = NON_GLOBAL_EQUILIBRIUM, False
        msg = (
            f"Dᵀ∇ₓC = 0 to {stationarity:.2e} while C = {C:.6g} > 0; as Lemma 3.2 requires, "
            f"rank D = {rep.rank} < QN = {QN} and |𝒫∇ₓC|/|∇ₓC| = {kernel_residual:.2e} (3.10)"
        )
    elif stationary:
        kind, trapping_like = NOT_AN_EQUILIBRIUM, True
        why = (
            f"rank D = {rep.rank} = QN" if not rank_deficient else "∇ₓC is not in ker Dᵀ"
        ) + f" (σ_min = {rep.sigma_min:.3g}, |𝒫∇ₓC|/|∇ₓC| = {kernel_residual:.2e})"
        msg = (
            f"|Dᵀ∇ₓC| is small ({stationarity:.2e} relative) but (3.10) fails: {why}; "
            "an approximate equilibrium, i.e. a trapping region of Prop. 3.1, not a true one"
        )
    else:
        kind, trapping_like = NOT_AN_EQUILIBRIUM, False
        msg = f"Dᵀ∇ₓC ≠ 0 ({stationarity:.2e} relative > tol = {tol:g}): the flows move"
    return EquilibriumReport(
        kind,
        C,
        residual,
        stationarity,
        rep,
        QN,
        rank_deficient,
        kernel_residual,
        in_kernel,
        tol,
        trapping_like,
        msg,
    )


# -- critical manifold (4.13)-(4.14) ---------------------------------------------------
def hessian_vector_product(f, cost, theta, v):
    """H v for the Hessian H of C̃(θ) = C(x[θ]), shape (K,).

    H v = Dᵀ D v / N + (∂_v D)ᵀ ∇ₓC, with (∂_v D)ᵀ∇ₓC = H_{∇ₓC} v from the
    map's ``hessian_vector_products``: the Gauss–Newton part plus the curvature
    of the network weighted by the residual.  No Hessian is formed.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta, v : array-like, shape=[K]
    """
    _check_pair(f, cost)
    x, D = f.value_and_jacobian(theta)
    return _hvp(f, D, cost.grad(x), cost.N, theta, v)


def _hvp(f, D, grad_x, N, theta, v):
    """H v for one v (K,) or the columns of v (K, n), one second-derivative call in all."""
    V = v[:, None] if v.ndim == 1 else v
    HV = f.hessian_vector_products(theta, V, grad_x[:, None])[:, 0].T + D.T @ (D @ V) / N
    return HV[:, 0] if v.ndim == 1 else HV


class CriticalFunctions(SmoothMap):
    """The functions g = (g_1, ..., g_r) : R^K → R^r of (4.13), as a smooth map.

    g_α[θ] = (V_α[θ], ∇ₓC[x[θ]]) with V_α[θ] = ∂x/∂θ_{j_α}[θ], the columns
    j_1 < ... < j_r of D fixed once at a reference point θ_ref (where they span
    range 𝒫, rank 𝒫 = r); by continuity they keep spanning range 𝒫 near θ_ref
    while the rank stays r.  Then g_α = ∂C̃/∂θ_{j_α} and the equilibria near
    θ_ref are M_crit = ∩_α g_α⁻¹(0) (4.14).

    Attributes
    ----------
    columns : ndarray of int, shape=[r]
        j_α, chosen by QR with column pivoting at θ_ref.
    r : int
    theta_ref : ndarray, shape=[K]
    rank_report : RankReport
        The rank decision on D[θ_ref].

    Notes
    -----
    ``jacobian`` is exact: row α is ∇g_α = (∂_{j_α}D)ᵀ∇ₓC + Dᵀ D e_{j_α}/N
    = H e_{j_α}, a column of the Hessian of C̃, all r of them from one call of
    ``f.hessian_vector_products`` (by symmetry of second derivatives,
    ∂_k V_α = ∂_{j_α}(∂_k x)).
    """

    def __init__(self, f, cost, columns, theta_ref, rank_report):
        _check_pair(f, cost)
        self.f, self.cost = f, cost
        self.columns = np.asarray(columns, dtype=np.intp)
        self.theta_ref = np.array(theta_ref, dtype=np.float64)
        self.rank_report = rank_report
        if self.columns.size == 0:
            raise InputError("rank D = 0 at theta_ref: there are no functions g_α (4.13) to define")
        super().__init__(f.dim_in, int(self.columns.size))

    @property
    def r(self) -> int:
        return self.dim_out

    def _value(self, theta):
        grad_x = self.cost.grad(self.f(theta))
        return self.f.vjp(theta, grad_x)[self.columns]

    def _jacobian(self, theta):
        x, D = self.f.value_and_jacobian(theta)
        grad_x = self.cost.grad(x)
        # rows H e_{j_α}: the curvature parts (∂_{j_α}D)ᵀ∇ₓC of all α in one call
        E = np.zeros((self.dim_in, self.r))
        E[self.columns, np.arange(self.r)] = 1.0
        curvature = self.f.hessian_vector_products(theta, E, grad_x[:, None])[:, 0]
        return curvature + (D[:, self.columns].T @ D) / self.cost.N

    def __repr__(self) -> str:
        return f"CriticalFunctions(K={self.dim_in}, r={self.r}, columns={self.columns.tolist()})"


def g_functions(f, cost, theta_ref, rank_policy=None) -> CriticalFunctions:
    """The functions g_α of (4.13) near θ_ref, with V_α = r independent columns of D.

    Implements (4.13): g_α[θ] = (V_α[θ], 𝒫∇ₓC) = (V_α[θ], ∇ₓC), α = 1..r,
    r = rank D[θ_ref] = rank 𝒫, with V_α the columns of D picked by QR with
    column pivoting at θ_ref (the paper's "r-tuple of column vectors of D").

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_ref : array-like, shape=[K]
    rank_policy : RankPolicy or float or None
        Decides r.

    Returns
    -------
    CriticalFunctions
        A SmoothMap R^K → R^r: ``g(θ)`` (r,), ``g.jacobian(θ)`` (r, K).
    """
    _check_pair(f, cost)
    theta_ref = check_vector(theta_ref, f.dim_in, "theta_ref")
    svd = JacobianSVD(f.jacobian(theta_ref), rank_policy)
    return CriticalFunctions(f, cost, svd.independent_columns(), theta_ref, svd.report)


@dataclass(frozen=True)
class CriticalManifoldReport:
    """Dimension of the critical set (4.14) at θ*, measured and predicted.

    Attributes
    ----------
    K, QN, r : int
        r = rank D[θ*] = rank 𝒫.
    predicted_dimension : int
        K − r (Thm 4.2).
    dimension : int
        K − rank ∂g/∂θ at θ*: the dimension of ∩ g_α⁻¹(0) near θ* when θ*
        is a regular point of g (4.14).
    jacobian_rank : RankReport
        The rank decision on ∂g/∂θ (r × K).
    agrees : bool
        dimension == predicted_dimension.
    g_norm : float
        |g(θ*)| / (|∇ₓC| · max_α |V_α|): 0 on M_crit (θ* is an equilibrium).
    fiber_defect : float
        |∂g/∂θ (1 − P)|₂ / |∂g/∂θ|₂, with 1 − P the projector onto ker D.
    fiber_tangent : bool
        ker D ⊆ ker ∂g/∂θ (fiber_defect ≤ max(1e3·eps, 10·tol)): the fiber
        x⁻¹(x[θ*]) is tangent to M_crit, as it must be when the rank is
        locally constant (range D, hence the equilibrium condition, is then
        the same along the fiber).
    nearby_ranks : list of int
        rank D at ``n_probes`` random points at distance δ from θ*.
    rank_locally_constant : bool
        All nearby ranks equal r: the hypothesis of Thm 4.2 (rank 𝒫 = r on an
        open U ∋ θ*).  When False, M_crit is smaller than the level set
        (4.14): the other columns of D are not combinations of the V_α off θ*.
    equilibrium : EquilibriumReport
    """

    K: int
    QN: int
    r: int
    predicted_dimension: int
    dimension: int
    jacobian_rank: RankReport
    agrees: bool
    g_norm: float
    fiber_defect: float
    fiber_tangent: bool
    nearby_ranks: list = field(default_factory=list)
    rank_locally_constant: bool = True
    equilibrium: EquilibriumReport | None = None

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["jacobian_rank"] = self.jacobian_rank.as_dict()
        out["equilibrium"] = None if self.equilibrium is None else self.equilibrium.as_dict()
        return out


def critical_manifold_dimension(
    f,
    cost,
    theta_star,
    rank_policy=None,
    jacobian_rank_policy=None,
    n_probes: int = 4,
    probe_scale: float = 1e-4,
    seed=0,
    tol: float = 1e-8,
) -> CriticalManifoldReport:
    """K − rank ∂(g_1..g_r)/∂θ at θ*, against K − r of Thm 4.2. Implements (4.14).

    The equilibria near θ* are M_crit = ∩_α g_α⁻¹(0) (4.14); if θ* is a
    regular point of g = (g_1..g_r), M_crit is a submanifold of dimension
    K − rank ∂g/∂θ, which Thm 4.2 predicts to be K − r generically.  The report
    also probes the hypothesis of Thm 4.2, that rank 𝒫 = r on a neighbourhood
    of θ*, by the rank of D at a few random points at distance
    δ = probe_scale · max(1, |θ*|) (a rank jump there is far above round-off:
    its singular values are O(δ)).

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_star : array-like, shape=[K]
        Preferably an equilibrium (see ``report.equilibrium``).
    rank_policy : RankPolicy or float or None
        Decides r = rank D.
    jacobian_rank_policy : RankPolicy or float or None
        Decides rank ∂g/∂θ (default: the same rule as numpy's matrix_rank).
    n_probes : int
        Random points for the constant-rank check (0 disables it).
    probe_scale : float
        δ relative to max(1, |θ*|).
    seed : int or SeedSequence
        For the probe directions.
    tol : float
        Passed to :func:`classify_point`.

    Returns
    -------
    CriticalManifoldReport
    """
    _check_pair(f, cost)
    theta_star = check_vector(theta_star, f.dim_in, "theta_star")
    n_probes = check_int(n_probes, "n_probes", minimum=0)
    probe_scale = check_real(probe_scale, "probe_scale", positive=True, below=1)
    eq = classify_point(f, cost, theta_star, tol=tol, rank_policy=rank_policy)
    g = g_functions(f, cost, theta_star, rank_policy)
    D = f.jacobian(theta_star)
    svd_D = JacobianSVD(D, rank_policy)
    Jg = g.jacobian(theta_star)
    svd_J = JacobianSVD(Jg, resolve_policy(jacobian_rank_policy))
    K, r = f.dim_in, g.r
    grad_x = cost.grad(f(theta_star))
    col_scale = float(np.max(np.linalg.norm(D[:, g.columns], axis=0)))
    denom = float(np.linalg.norm(grad_x)) * col_scale
    g_norm = float(np.linalg.norm(g(theta_star))) / denom if denom > 0 else 0.0
    # ker D ⊆ ker Jg: Jg (1 − P) = 0 up to the O(tol) error an approximate equilibrium leaves
    jnorm = svd_J.report.sigma_max
    fiber_defect = (
        float(np.linalg.norm(Jg @ svd_D.kernel_projector(), 2)) / jnorm if jnorm > 0 else 0.0
    )
    fiber_tangent = fiber_defect <= max(1e3 * np.finfo(float).eps, 10.0 * tol)
    rng = np.random.default_rng(seed)
    delta = probe_scale * max(1.0, float(np.linalg.norm(theta_star)))
    nearby = []
    for _ in range(n_probes):
        u = rng.normal(size=K)
        u *= delta / np.linalg.norm(u)
        nearby.append(JacobianSVD(f.jacobian(theta_star + u), rank_policy).rank)
    dim = K - svd_J.rank
    return CriticalManifoldReport(
        K=K,
        QN=f.dim_out,
        r=r,
        predicted_dimension=K - r,
        dimension=dim,
        jacobian_rank=svd_J.report,
        agrees=dim == K - r,
        g_norm=g_norm,
        fiber_defect=fiber_defect,
        fiber_tangent=fiber_tangent,
        nearby_ranks=nearby,
        rank_locally_constant=all(k == r for k in nearby),
        equilibrium=eq,
    )


# -- escape (4.15)-(4.17) --------------------------------------------------------------
@dataclass(frozen=True)
class EscapeReport:
    """The perturbed start θ′ = θ* + κV (4.15) and whether it lowers the cost (4.17).

    Attributes
    ----------
    theta_star, theta_prime : ndarray, shape=[K]
    direction : ndarray, shape=[K]
        V: ∇g_α (4.16) or the unit normal vector of most negative curvature.
    method : str
        ``"gradient g_alpha"`` ((4.16) literally) or ``"normal curvature"``.
    alpha : int or None
        The α of (4.16) used (index into ``columns``), None for the curvature direction.
    kappa : float
        Signed κ of (4.15).
    cost_star, cost_prime : float
        C at θ* and at θ′; (4.17) asks cost_prime < cost_star.
    decreased : bool
    gradient_recipe_decreases : bool
        Whether some ∇g_α (4.16), with either sign of κ, lowered the cost.
    normal_curvature : float or None
        Smallest eigenvalue of the Hessian of C̃ on the normal space of M_crit
        (span of the ∇g_α); < 0 means θ* is a saddle across M_crit.
    columns : ndarray of int
        The j_α of the V_α.
    candidates : list of dict
        Every (method, α, κ, cost) tried.
    message : str
    """

    theta_star: np.ndarray
    theta_prime: np.ndarray
    direction: np.ndarray
    method: str
    alpha: int | None
    kappa: float
    cost_star: float
    cost_prime: float
    decreased: bool
    gradient_recipe_decreases: bool
    normal_curvature: float | None
    columns: np.ndarray
    candidates: list
    message: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def escape_perturbation(
    f,
    cost,
    theta_star,
    alpha=None,
    kappa=None,
    method: str = "auto",
    rank_policy=None,
    max_step: float | None = None,
    n_steps: int = 12,
) -> EscapeReport:
    """θ′ = θ* + κ V with V normal to M_crit and sign κ so that C decreases. Implements (4.15)–(4.17).

    The normal bundle of M_crit is spanned by the ∇g_α (4.13).  Two choices of V:

    * ``"gradient"`` — V = ∇g_α (4.16), as the paper suggests, for the given
      ``alpha`` or the best of all α.  Since ∇g_α = H e_{j_α} (see the module
      docstring), C(θ* + κ∇g_α) − C(θ*) = κ²/2 · e_{j_α}ᵀH³e_{j_α} + O(κ³): this
      lowers C only if the Hessian's negative curvature shows in that column,
      which often fails at saddles (e.g. the saddles of linear networks).
    * ``"curvature"`` — V = the unit vector of the normal space (a combination
      of the ∇g_α, still a section as in (4.15)) along which the Hessian of C̃ is
      most negative: C decreases like λ_min κ²/2 whenever θ* is a saddle
      across M_crit (λ_min < 0).
    * ``"auto"`` — the gradient recipe if some α lowers C, else the curvature one.

    For each direction both signs of κ are tried (4.17); with ``kappa=None``
    also the step lengths |κV| = max_step · 2^{-k}, k < n_steps, keeping the
    lowest cost.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta_star : array-like, shape=[K]
        A (non-global) equilibrium, e.g. where a flow stalled.
    alpha : int, optional
        Index of g_α (0-based, into ``columns``) for the gradient recipe.
    kappa : float, optional
        |κ|: for "gradient", θ′ = θ* ± |κ|∇g_α exactly as (4.15)–(4.16);
        for "curvature", the step length (V is a unit vector).
    method : {"auto", "gradient", "curvature"}
    rank_policy : RankPolicy or float or None
        Decides r = rank D[θ*].
    max_step : float, optional
        Largest step length |θ′ − θ*| tried when kappa is None; default
        0.1 · max(1, |θ*|), a local move.
    n_steps : int
        Number of step lengths tried when kappa is None.

    Returns
    -------
    EscapeReport
        With ``decreased=False`` (and the best candidate) when no choice lowers
        C: θ* is then a local minimum across M_crit to second order.
    """
    _check_pair(f, cost)
    theta_star = check_vector(theta_star, f.dim_in, "theta_star")
    if method not in ("auto", "gradient", "curvature"):
        raise InputError(f"method must be 'auto', 'gradient' or 'curvature', got {method!r}")
    kappa = check_real(kappa, "kappa", "its sign is chosen", positive=True, allow_none=True)
    n_steps = check_int(n_steps, "n_steps")
    theta_star = np.array(theta_star, dtype=np.float64)
    g = g_functions(f, cost, theta_star, rank_policy)
    if alpha is not None and not (isinstance(alpha, int | np.integer) and 0 <= alpha < g.r):
        raise InputError(f"alpha must be an integer in [0, r) = [0, {g.r}), got {alpha!r}")
    Jg = g.jacobian(theta_star)
    x, D = f.value_and_jacobian(theta_star)
    grad_x = cost.grad(x)
    C_star = float(cost(x))
    if max_step is None:
        max_step = 0.1 * max(1.0, float(np.linalg.norm(theta_star)))
    steps = max_step * 0.5 ** np.arange(n_steps)

    def cost_at(theta):
        value = float(cost(f(theta)))
        if not np.isfinite(value):
            raise NumericalError(
                f"the cost is not finite at a perturbed point (|θ| = {np.linalg.norm(theta):.3g})"
            )
        return value

    candidates = []

    def try_direction(label, a, V, unit_kappa):
        norm = float(np.linalg.norm(V))
        if norm == 0.0:
            return
        if kappa is None:
            magnitudes = steps / norm  # step lengths |κV| = max_step·2^{-k}
        elif unit_kappa:
            magnitudes = [kappa]  # (4.15)-(4.16) literally: θ* ± κ∇g_α
        else:
            magnitudes = [kappa / norm]  # κ is the step length along V/|V|
        for mag in magnitudes:
            for sign in (1.0, -1.0):
                k = sign * float(mag)
                candidates.append(
                    {
                        "method": label,
                        "alpha": a,
                        "kappa": k,
                        "cost": cost_at(theta_star + k * V),
                        "V": V,
                    }
                )

    if method in ("auto", "gradient"):
        alphas = range(g.r) if alpha is None else [int(alpha)]
        for a in alphas:
            try_direction("gradient g_alpha", a, Jg[a], True)
    grad_cands = [c for c in candidates if c["method"] == "gradient g_alpha"]
    gradient_ok = any(c["cost"] < C_star for c in grad_cands)

    # The normal space of M_crit is the row space of ∂g/∂θ; the Hessian of C̃ restricted
    # to it (r Hessian-vector products) says whether θ* is a saddle across M_crit.
    normal_curvature = None
    basis = JacobianSVD(Jg).Vt.T  # (K, rank ∂g/∂θ), orthonormal
    if basis.shape[1]:
        HB = _hvp(f, D, grad_x, cost.N, theta_star, basis)
        lam, vecs = np.linalg.eigh(0.5 * (basis.T @ HB + HB.T @ basis))
        normal_curvature = float(lam[0])
        if method == "curvature" or (method == "auto" and not gradient_ok):
            try_direction("normal curvature", None, basis @ vecs[:, 0], False)

    if not candidates:
        raise NumericalError(
            "no escape direction: every ∇g_α and the normal space of M_crit vanish at θ*"
        )
    best = min(candidates, key=lambda c: c["cost"])
    decreased = best["cost"] < C_star
    if decreased:
        msg = (
            f"C decreases from {C_star:.6g} to {best['cost']:.6g} along "
            f"{best['method']} (κ = {best['kappa']:.3g}); (4.17) holds"
        )
    else:
        curvature = "n/a" if normal_curvature is None else f"{normal_curvature:.3g}"
        msg = (
            f"no tried κ lowers C = {C_star:.6g} (best {best['cost']:.6g}); smallest normal "
            f"curvature {curvature}: θ* looks like a local minimum across M_crit"
        )
    return EscapeReport(
        theta_star=theta_star,
        theta_prime=theta_star + best["kappa"] * best["V"],
        direction=best["V"],
        method=best["method"],
        alpha=best["alpha"],
        kappa=best["kappa"],
        cost_star=C_star,
        cost_prime=best["cost"],
        decreased=bool(decreased),
        gradient_recipe_decreases=bool(gradient_ok),
        normal_curvature=normal_curvature,
        columns=g.columns,
        candidates=[{k: v for k, v in c.items() if k != "V"} for c in candidates],
        message=msg,
    )


# -- constructed cases with known answers -----------------------------------------------
# Small networks whose landscape is known in closed form or by construction: the
# diagnostics above are tested, illustrated and taught on them.  Each returns the
# network, the map θ ↦ x[θ], the cost and the point(s) of interest.


def trapping_case():
    """A trapping region of Prop. 3.1: a tanh network with saturated hidden units.

    tanh [1, 3, 1] on the N = 3 inputs x ∈ {−1, 0, 1} with targets
    (0.5, −0.5, 0.5); at θ₀ the hidden biases are 3.5 and the weights are drawn
    from ``default_rng(0)``, so the hidden pre-activations lie in ≈ [2.5, 4.5]
    and σ′ ≈ 1e-3.  The hidden features are then nearly the same for every
    sample and D[θ] is nearly rank deficient in the direction the residual needs.

    Known answers: from θ₀ the standard flow (3.7) fits the mean and then
    crawls with trapping ratio ε(θ) ≈ 1e-3 (3.4) for more than 100 N time units
    (a window ε < 1e-2 of length ≈ 1900, obeying the bound (3.6)), while the
    adapted flow follows C(0)e^{−2s/N} (2.6).  The trapped points are not
    equilibria: rank D = QN there (Lemma 3.2).

    Returns
    -------
    net : MLP
        tanh [1, 3, 1], K = 10.
    f : NetworkMap
        θ ↦ x[θ], R^10 → R^3.
    cost : L2Cost
    theta : ndarray, shape=[10]
        The saturated start θ₀.
    """
    X = np.linspace(-1.0, 1.0, 3)[:, None]
    Y = np.array([0.5, -0.5, 0.5])
    net = MLP([1, 3, 1])
    rng = np.random.default_rng(0)
    theta = net.pack(
        [(rng.normal(size=(3, 1)), np.full(3, 3.5)), (rng.normal(size=(1, 3)), np.zeros(1))]
    )
    return net, NetworkMap(net, X), L2Cost(Y, 3), theta


def linear_bottleneck_case(seed=0, M=2, Q=2, N=3, teacher=None):
    """A linear network [M, 1, Q] and its critical points (Baldi & Hornik 1989).

    x = W X + b with W = W₂W₁ of rank 1.  With A the least-squares fit of the
    centred data and u an eigenvector of the fitted covariance (A X̄)(A X̄)ᵀ,
    the critical points are W₁ = uᵀA, W₂ = u, b₁ = 0, b₂ = ȳ − W x̄.  Inputs
    x_j ~ N(0, I_M); targets y_j = A_teacher x_j + 0.3 noise.

    Known answers (Q ≤ M, N ≥ M + 1, so that (W, b) ↦ x is injective up to the
    symmetry): at every critical point rank D = M + 2Q − 1 = K − 2, and when
    this is < QN the point is a non-global equilibrium satisfying (3.10); the
    rank is constant nearby and the critical manifold (4.14) is the orbit of
    the symmetry (W₁, W₂, b₁, b₂) ↦ (aW₁, W₂/a, b₁ + c, b₂ − W₂c/a), of
    dimension 2 = K − r.  The point on the top eigenvector (the last) is the
    constrained minimum; the others are saddles, from which the escape
    (4.15)–(4.17) lowers C.  The default [2, 1, 2] on N = 3 is the setting of
    §4: K = 7 > QN = 6 with rank loss r = 5.

    Parameters
    ----------
    seed : int
        Seeds the inputs, the noise and the default teacher.
    M, Q, N : int
        Input dimension, output dimension, number of samples.
    teacher : array-like, shape=[Q, M], optional
        A_teacher.  Default: a random map with singular values 2, 1, 0.5, ...,
        which keeps the critical values well separated and the saddles
        clearly unstable.

    Returns
    -------
    net : MLP
        Identity activation, layers [M, 1, Q].
    f : NetworkMap
    cost : L2Cost
    points : list of ndarray, shape=[K]
        The Q critical points, by increasing eigenvalue of the fitted
        covariance (the constrained minimum last).

    Raises
    ------
    InputError
        Q > M (an eigenvector with eigenvalue 0 would give W = 0, a degenerate
        point) or N < M + 1.
    """
    seed = check_int(seed, "seed", minimum=0)
    M, Q, N = (check_int(v, name) for v, name in ((M, "M"), (Q, "Q"), (N, "N")))
    if Q > M or N < M + 1:
        raise InputError(
            f"the linear bottleneck needs Q <= M and N >= M + 1, got M = {M}, Q = {Q}, N = {N}"
        )
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, M))
    if teacher is None:
        left = np.linalg.qr(rng.normal(size=(Q, Q)))[0]
        right = np.linalg.qr(rng.normal(size=(M, M)))[0][:Q]
        teacher = left @ np.diag(2.0 ** -np.arange(Q, dtype=float) * 2.0) @ right
    teacher = check_array(teacher, "teacher", shape=(Q, M))
    Y = X @ teacher.T + 0.3 * rng.normal(size=(N, Q))
    net = MLP([M, 1, Q], activation="identity")
    xb, yb = X.mean(0), Y.mean(0)
    A = (Y - yb).T @ np.linalg.pinv((X - xb).T)
    fitted = A @ (X - xb).T
    _, U = np.linalg.eigh(fitted @ fitted.T)
    points = []
    for i in range(Q):
        u = U[:, i : i + 1]
        W1, W2 = u.T @ A, u
        points.append(net.pack([(W1, np.zeros(1)), (W2, yb - (W2 @ W1) @ xb)]))
    return net, NetworkMap(net, X), L2Cost(Y.ravel(), N), points


def duplicated_inputs_case(seed=0):
    """Rank loss everywhere: two equal inputs with different targets, and an equilibrium.

    tanh [2, 5, 1] on N = 4 inputs x_j ~ N(0, I_2) with x_0 = x_1 and targets
    (1, −1, 0.3, −0.2).  Rows 0 and 1 of D coincide at every θ, so
    rank D ≤ Q(N − 1) = 3 < QN.  θ* is the end, at s = 160 = 40N, of the orbit of
    the DAE (4.5) from ``net.init(seed)`` (integrated by rk45): x′ = −𝒫∇ₓC (4.7)
    contracts 𝒫∇ₓC like e^{−s/N}.

    Known answers: θ* is a non-global equilibrium (to ≈ 1e-7) with
    rank D = 3 and C* ≥ (1² + 1²)/(2·4) = 0.25 (x_0 = x_1 cannot fit both
    targets); the rank is locally constant and the critical manifold (4.14) is
    the fiber x⁻¹(x*), of dimension K − 3 = 18.

    Parameters
    ----------
    seed : int
        Seeds the inputs and the start of the orbit.

    Returns
    -------
    net : MLP
        tanh [2, 5, 1], K = 21.
    f : NetworkMap
    cost : L2Cost
    theta : ndarray, shape=[21]
        θ*.
    """
    from subriemann.flows.fields import AdaptedFlow
    from subriemann.integrate import integrate

    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4, 2))
    X[1] = X[0]
    Y = np.array([1.0, -1.0, 0.3, -0.2])
    net = MLP([2, 5, 1])
    f, cost = NetworkMap(net, X), L2Cost(Y, 4)
    traj = integrate(AdaptedFlow(f, cost), net.init(seed), 160.0, method="rk45")
    return net, f, cost, traj.theta[-1]


def zero_network_case(seed=0):
    """An equilibrium on a lower-rank stratum: every weight zero, output bias = mean target.

    tanh [2, 4, 2] on N = 5 random inputs and targets; at θ* the hidden and
    output weights vanish, the hidden biases are random and the output bias is
    the mean target.  Then x_j = ȳ for all j, ∇ₓC sums to zero over the
    samples, and every parameter derivative Dᵀ∇ₓC vanishes.

    Known answers: a non-global equilibrium with r = rank D = Q = 2 (only the
    output bias, and directions with the same effect, move x); the level set
    (4.14) has dimension K − 2 = 20, but the rank is *not* locally constant
    (any nearby point has a larger rank), so the hypothesis of Thm 4.2 fails.

    Parameters
    ----------
    seed : int

    Returns
    -------
    net : MLP
        tanh [2, 4, 2], K = 22.
    f : NetworkMap
    cost : L2Cost
    theta : ndarray, shape=[22]
    """
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    net = MLP([2, 4, 2])
    theta = net.pack([(np.zeros((4, 2)), rng.normal(size=4)), (np.zeros((2, 4)), Y.mean(axis=0))])
    return net, NetworkMap(net, X), L2Cost(Y.ravel(), 5), theta


def dead_units_case(seed=0):
    """A fitted small network extended by dead hidden units: rank loss that is not locally constant.

    A tanh [1, 2, 1] (K = 7 < QN = 10) is fitted by Levenberg–Marquardt to noisy
    outputs (noise 0.1) of a teacher with the same architecture on N = 10
    inputs in [−2, 2], started at the teacher: a non-global minimum with
    moderate weights.  It is then extended to [1, 4, 1] (K = 13 > QN) by two
    dead units, with incoming weight, bias and outgoing weight 0 (tanh(0) = 0):
    every column of D for them vanishes, so θ* stays an equilibrium.

    Known answers: a non-global equilibrium (to the fit's precision, ≈ 1e-10
    relative stationarity) with r = 7 (the fitted small network is immersed);
    the level set (4.14) has dimension K − 7 = 6, but the rank is *not*
    locally constant (reviving a dead unit raises it), so the hypothesis of
    Thm 4.2 fails.

    Parameters
    ----------
    seed : int
        Seeds the teacher and the noise.

    Returns
    -------
    net : MLP
        tanh [1, 4, 1], K = 13.
    f : NetworkMap
    cost : L2Cost
    theta : ndarray, shape=[13]
    """
    from scipy.optimize import least_squares

    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    X = np.linspace(-2.0, 2.0, 10)[:, None]
    small = MLP([1, 2, 1])
    fs = NetworkMap(small, X)
    teacher = small.init(seed, weight_scale=2.0)
    Y = fs(teacher) + 0.1 * rng.normal(size=10)
    fit = least_squares(
        lambda t: fs(t) - Y,
        teacher,
        jac=fs.jacobian,
        method="lm",
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    (W1, b1), (W2, b2) = small.unpack(fit.x)
    net = MLP([1, 4, 1])
    theta = net.pack(
        [
            (np.vstack([W1, np.zeros((2, 1))]), np.concatenate([b1, np.zeros(2)])),
            (np.hstack([W2, np.zeros((1, 2))]), b2),
        ]
    )
    return net, NetworkMap(net, X), L2Cost(Y, 10), theta
