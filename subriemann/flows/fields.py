"""Gradient flows on parameter space and their images in the output layer.

* :class:`StandardFlow` — the Euclidean gradient flow θ′ = −Dᵀ∇ₓC (1.9)/(1.19),
  whose output velocity is −DDᵀ∇ₓC (1.22).
* :class:`AdaptedFlow` — the geometrically adapted flow: −grad_h C (2.4) when
  over-parametrized, −grad_g C (5.2) when under-parametrized, (6.2) at K = QN,
  and the DAE (4.5)–(4.6) under rank loss.  In every regime the direction is
  −D⁺∇ₓC, the minimum-norm solution of D θ′ = −∇ₓC (proof in the class
  docstring), computed from one Jacobian and one SVD.  With a non-Euclidean
  output metric G = LLᵀ (``output_metric=G``) it is −D̃⁺L⁻¹∇ₓC for the whitened
  Jacobian D̃ = LᵀD, and the output moves by −G⁻¹∇ₓC where rank D = QN.
* :class:`OutputFlow` — the comparison model (1.11) on R^{QN} with its
  explicit solution (1.13).

A flow is a callable ``flow(theta) -> dθ/ds`` with ``output_velocity(theta)``
and ``evaluate(theta)``; the latter returns a :class:`FlowPoint` holding
everything an integrator or a report needs at one point, from a single Jacobian.

Why one module of ~660 lines: its one concept is the vector fields of (1.9)/(2.4) as
evaluated at a point.  The three flows share :class:`ParameterFlow` and
:class:`FlowPoint`, and :class:`AdaptedFlow` (~300 lines) is one field whose regime
(2.4)/(5.2)/(6.2)/(4.5) and route (dense SVD, kernel, matrix-free) only change how
−D⁺∇ₓC is applied.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import scipy.linalg

from subriemann.errors import InputError, NumericalError, RankConditionError, check_vector
from subriemann.flows.cost import L2Cost, check_map_and_cost
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, numerical_rank, resolve_policy

if TYPE_CHECKING:
    from subriemann.geometry.kernel import KernelFactorization
    from subriemann.geometry.matrix_free import KrylovFactorization
    from subriemann.geometry.metrics import OutputMetric, OutputMetricLike
    from subriemann.maps.smooth import SmoothMap

__all__ = [
    "FlowPoint",
    "ParameterFlow",
    "StandardFlow",
    "AdaptedFlow",
    "OutputFlow",
    "REGIMES",
    "regime_for_rank",
]

#: Regimes of :class:`AdaptedFlow` and the equations they implement.
REGIMES = {
    "over": "(2.4)/(1.27): -grad_h C, needs rank D = QN (2.1)",
    "under": "(5.2)/(1.30): -grad_g C, needs rank D = K (5.1)",
    "borderline": "(6.2): -D^-1 D^-T grad_theta C, needs K = QN and D invertible",
    "rank-loss": "(4.5)-(4.6): the DAE -D^T Psi with Psi the least-squares solution of DD^T Psi = -grad_x C",
    "auto": "chosen at every evaluation from K, QN and the numerical rank of D",
}


@dataclass(frozen=True)
class FlowPoint:
    """Everything known about a flow at one point θ, computed from one Jacobian.

    Attributes
    ----------
    theta : ndarray, shape=[K]
    x : ndarray, shape=[QN]
        Output x[θ] (1.6)–(1.8).
    cost : float
        C[x[θ]] (1.7).
    velocity : ndarray, shape=[K]
        dθ/ds, the vector field at θ.
    output_velocity : ndarray, shape=[QN] or None
        dx/ds = D[θ] dθ/ds; ``None`` only for a standard-flow point evaluated
        without geometry.
    report : RankReport or None
        Numerical rank of D[θ] with σ_min, σ_max (``None`` without geometry).
    regime : str
        "standard" or the adapted regime used at θ.
    singular_values : ndarray, shape=[min(QN, K)] or None
        All singular values of D[θ] (for re-deciding the rank under another policy).
    svd : JacobianSVD, KernelFactorization, KrylovFactorization or None
        The factorisation of D[θ] when one was computed (adapted flows; the kernel and
        matrix-free routes give their own factorizations).

    Notes
    -----
    For an :class:`AdaptedFlow` with a non-Euclidean output metric G = LLᵀ,
    ``report``, ``singular_values`` and ``svd`` are those of the whitened
    Jacobian D̃ = LᵀD (the same rank as D, since L is invertible).
    """

    theta: np.ndarray
    x: np.ndarray
    cost: float
    velocity: np.ndarray
    output_velocity: np.ndarray | None
    report: RankReport | None
    regime: str
    singular_values: np.ndarray | None = None
    svd: JacobianSVD | KernelFactorization | KrylovFactorization | None = None

    @property
    def rank(self) -> int | None:
        return None if self.report is None else self.report.rank

    @property
    def sigma_min(self) -> float | None:
        return None if self.report is None else self.report.sigma_min


class ParameterFlow:
    """Base class of the vector fields on parameter space R^K driven by an L² cost.

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN}.
    cost : L2Cost
        The cost C on R^{QN} (its ``target`` is y_ω, its ``N`` the sample count).
    rank_policy : RankPolicy, float or None
        How rank decisions on D are made (see :class:`~subriemann.linalg.RankPolicy`).
    """

    #: the regime label of a standard-flow point; AdaptedFlow overrides per point
    name = "flow"

    def __init__(self, f: SmoothMap, cost: L2Cost, rank_policy: RankPolicy | float | None = None):
        check_map_and_cost(f, cost)
        self.f = f
        self.cost = cost
        self.rank_policy = resolve_policy(rank_policy)
        # Integrators evaluate the field at a point and then record that same
        # point (RK methods evaluate f at the accepted state, FSAL): a small
        # cache keyed on θ's bytes makes the recording free.  Worth 17 % of the
        # time (23 % of the Jacobians) of RK45 on a K = 4740, QN = 64 adapted
        # flow (benchmarks/bench_machinery.py (b)).
        self._cache: OrderedDict[bytes, dict[str, Any]] = OrderedDict()

    @property
    def K(self) -> int:
        return self.f.dim_in

    @property
    def QN(self) -> int:
        return self.f.dim_out

    @property
    def N(self) -> int:
        return self.cost.N

    def _cached(self, theta, key):
        entry = self._cache.get(theta.tobytes())
        return None if entry is None else entry.get(key)

    def _store(self, theta, **values):
        k = theta.tobytes()
        entry = self._cache.pop(k, {})
        entry.update(values)
        self._cache[k] = entry
        while len(self._cache) > 8:
            self._cache.popitem(last=False)

    def _theta(self, theta: npt.ArrayLike) -> np.ndarray:
        # a copy: solvers may reuse their state buffer, and points are cached
        return np.array(check_vector(theta, self.K, "theta"), dtype=np.float64)

    def __call__(self, theta: npt.ArrayLike) -> np.ndarray:
        """dθ/ds at θ, shape ``(K,)``."""
        return self.evaluate(theta, geometry=False).velocity

    def output_at(self, theta: npt.ArrayLike) -> np.ndarray:
        """x[θ] by the same route as :meth:`evaluate` (from its cache when θ was just
        evaluated, else one forward pass), so that a cost test on θ agrees bitwise with
        the cost recorded for θ."""
        theta = self._theta(theta)
        x = self._cached(theta, "x")
        if x is None:
            point = self._cached(theta, "point")
            x = point.x if point is not None else np.asarray(self.f(theta), dtype=np.float64)
        return x

    def output_velocity(self, theta: npt.ArrayLike) -> np.ndarray:
        """dx/ds = D[θ] dθ/ds, shape ``(QN,)``."""
        # None only for a point evaluated with geometry=False
        return cast(np.ndarray, self.evaluate(theta).output_velocity)

    def evaluate(self, theta: npt.ArrayLike, geometry: bool = True) -> FlowPoint:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.K}, QN={self.QN}, N={self.N})"


def regime_for_rank(rank: int, K: int, QN: int) -> str:
    """The adapted regime that a Jacobian of this rank calls for (the one home of the choice).

    rank D = QN: "over" (2.4), or "borderline" (6.2) when also K = QN; rank D = K < QN:
    "under" (5.2); anything else: "rank-loss", the DAE (4.5).
    """
    if rank == QN:
        return "borderline" if K == QN else "over"
    if rank == K:
        return "under"
    return "rank-loss"


def _finite(v, what: str):
    if not np.all(np.isfinite(v)):
        raise NumericalError(
            f"the {what} is not finite (overflow); the orbit has left the region where the "
            "map can be evaluated in float64"
        )
    return v


class StandardFlow(ParameterFlow):
    """The Euclidean gradient flow θ′ = −∇_θC = −Dᵀ∇ₓC. Implements (1.9)/(1.19).

    ``flow(theta)`` needs one vector–Jacobian product (no Jacobian);
    ``output_velocity(theta)`` = −DDᵀ∇ₓC (1.22), the gradient of C for the
    induced output metric (DDᵀ)⁻¹ (3.1).

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    rank_policy : RankPolicy, float or None
        Only used to *report* the rank of D in :meth:`evaluate`.

    Examples
    --------
    >>> import subriemann as sr
    >>> data = sr.TrainingData.regression(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    >>> net = sr.MLP([1, 3, 1]); f = sr.NetworkMap(net, data.inputs)
    >>> flow = StandardFlow(f, sr.L2Cost.from_data(data))
    >>> flow(net.init(0)).shape
    (10,)
    """

    name = "standard"

    def _velocity(self, theta):
        x = self._cached(theta, "x")
        v = self._cached(theta, "velocity")
        if v is None:
            x = np.asarray(self.f(theta), dtype=np.float64)
            v = -np.asarray(self.f.vjp(theta, self.cost.grad(x)), dtype=np.float64)
            _finite(v, "standard-flow velocity -D^T grad_x C")
            self._store(theta, x=x, velocity=v)
        return x, v

    def evaluate(self, theta: npt.ArrayLike, geometry: bool = True) -> FlowPoint:
        """The flow at θ; with ``geometry`` also D's rank report and the output velocity.

        Implements (1.19) and (1.22): velocity −Dᵀ∇ₓC, output velocity
        −DDᵀ∇ₓC = D·velocity.  With ``geometry=False`` no Jacobian is formed.
        """
        theta = self._theta(theta)
        point = self._cached(theta, "point")
        if point is not None and (point.report is not None or not geometry):
            return point
        if not geometry:
            x, v = self._velocity(theta)
            return FlowPoint(theta, x, float(self.cost(x)), v, None, None, self.name)
        # the velocity always comes from the vjp, so that an orbit does not
        # depend (even in the last bit) on whether its points are recorded
        x, v = self._velocity(theta)
        D = np.asarray(self.f.jacobian(theta), dtype=np.float64)
        _finite(D, "Jacobian D")
        sv = np.linalg.svd(D, compute_uv=False)
        report = numerical_rank(sv, D.shape, self.rank_policy)
        point = FlowPoint(theta, x, float(self.cost(x)), v, D @ v, report, self.name, sv)
        self._store(theta, x=x, velocity=v, point=point)
        return point

    def output_velocity(self, theta: npt.ArrayLike) -> np.ndarray:
        """dx/ds = −D Dᵀ∇ₓC, shape ``(QN,)``. Implements (1.22)/(3.1).

        Computed as D(−Dᵀ∇ₓC) with one vjp and one jvp: DDᵀ is never formed.
        """
        theta = self._theta(theta)
        _, v = self._velocity(theta)
        return _finite(np.asarray(self.f.jvp(theta, v), dtype=np.float64), "output velocity")


class AdaptedFlow(ParameterFlow):
    """The geometrically adapted gradient flow in all of the paper's regimes.

    ``flow(theta)`` returns θ′ = −D⁺∇ₓC, where D⁺ = V Σ⁻¹ Uᵀ is the pseudo-inverse
    of D = D[θ] from its SVD truncated at the numerical rank r (one Jacobian and
    one SVD per evaluation, no Gram matrix is ever formed).

    Parameters
    ----------
    f : SmoothMap
        θ ↦ x[θ], R^K → R^{QN}.
    cost : L2Cost
    regime : {"auto", "over", "under", "borderline", "rank-loss"}
        "over" (2.4)/(1.27), needs K ≥ QN and rank D = QN (2.1);
        "under" (5.2)/(1.30), needs K ≤ QN and rank D = K (5.1);
        "borderline" (6.2), needs K = QN and rank D = K;
        "rank-loss" the DAE (4.5)–(4.6), any rank;
        "auto" picks at every evaluation: "borderline" if rank D = K = QN,
        "over" if rank D = QN < K, "under" if rank D = K < QN, else "rank-loss".
    rank_policy : RankPolicy, float or None
        Decides the numerical rank r (of D̃ = LᵀD with an output metric).
    output_metric : OutputMetric, SPD array, callable or None
        The metric G on the output layer R^{QN} from which h is pulled back
        (2.22), as accepted by :class:`~subriemann.geometry.bundles.PullbackBundle`:
        None or :class:`~subriemann.geometry.metrics.EuclideanMetric` is the paper's
        Euclidean G = 1 (and runs exactly the Euclidean code path); an SPD
        matrix or :class:`~subriemann.geometry.metrics.ConstantOutputMetric` a constant
        G; a callable x ↦ G(x) or :class:`~subriemann.geometry.metrics.OutputMetricField`
        a metric field.
    route : {"auto", "dense", "kernel", "matrix-free"}
        How D⁺ is applied (:mod:`subriemann.geometry.kernel`): "dense" forms D and its
        SVD; "kernel" uses Θ = DDᵀ (``f.ntk``) with refinement by jvp/vjp and never
        allocates a QN×K array; "matrix-free" uses Krylov solves with jvp/vjp.  The
        last two implement the over-parametrized / borderline (and rank-loss) flows
        with the Euclidean output metric.  "auto" picks by the memory/flop model of
        :func:`~subriemann.geometry.routes.choose_route` (``route_choice`` says why).
    memory_budget : int, optional
        Bytes the route may use (default 2 GiB); also sets the NTK's block size.

    Attributes
    ----------
    regime : str
        The requested regime.
    route : str
        The route used; ``route_choice`` (a RouteChoice) holds the model and the reason.
    last_regime : str or None
        The regime used at the last evaluation (for "auto", the one it picked).
    output_metric : OutputMetric or None
        The non-Euclidean output metric G; None for the Euclidean one.

    Raises
    ------
    RankConditionError
        At construction, when the requested regime is impossible for the
        dimensions (e.g. "over" with K < QN); at evaluation, when a forced
        regime's rank condition fails at θ.  A forced "over" does **not**
        silently fall back to the DAE: with rank D < QN the law (2.6) no
        longer holds, so the caller must choose "rank-loss" or "auto" knowingly.
        (:func:`~subriemann.integrate.integrate` turns this error into the
        status ``"rank_condition_failed"``.)

    Notes
    -----
    **All regimes are the one direction −D⁺∇ₓC.**  Write the thin SVD truncated
    at the rank r, D = U Σ Vᵀ (U: QN×r, V: K×r orthonormal columns, Σ > 0), so
    D⁺ = V Σ⁻¹ Uᵀ, and ∇_θC = Dᵀ∇ₓC (1.18).

    * grad_h (2.30): Pen[D] Pen[D]ᵀ ∇_θC.  In general Pen Penᵀ = V Σ⁻² Vᵀ
      (= (DᵀD)⁺, which restricted to V = range Dᵀ is h⁻¹), hence
      grad_h C = V Σ⁻² Vᵀ · V Σ Uᵀ ∇ₓC = V Σ⁻¹ Uᵀ ∇ₓC = D⁺∇ₓC.  With rank D = QN,
      Pen = Dᵀ(DDᵀ)⁻¹ = D⁺ (1.23) and, since D Pen = 1 (1.24),
      Pen Penᵀ Dᵀ∇ₓC = Pen (D Pen)ᵀ ∇ₓC = Pen ∇ₓC: the same vector, (2.4) = −D⁺∇ₓC.
      For any rank, with Pen = D⁺: Penᵀ Dᵀ = (D D⁺)ᵀ = 𝒫, so
      Pen Penᵀ Dᵀ∇ₓC = D⁺ 𝒫 ∇ₓC = D⁺∇ₓC (D⁺ vanishes on range(D)^⊥).
    * grad_g (5.17): with rank D = K, DᵀD = V Σ² Vᵀ is invertible and
      (DᵀD)⁻¹Dᵀ∇ₓC = V Σ⁻² Vᵀ V Σ Uᵀ ∇ₓC = D⁺∇ₓC: (5.2) = −D⁺∇ₓC.  These are
      the normal equations of min |Dθ′ + ∇ₓC|, whose unique solution is D⁺(−∇ₓC).
    * (6.2): at K = QN with D invertible, D⁺ = D⁻¹ and D⁻¹D⁻ᵀDᵀ∇ₓC = D⁻¹∇ₓC.
    * DAE (4.5)–(4.6): DDᵀ = U Σ² Uᵀ, and ker DDᵀ = ker Dᵀ.  The least-squares
      solutions of DDᵀΨ = ∇ₓC are Ψ = U Σ⁻² Uᵀ∇ₓC + k with Dᵀk = 0, so
      θ′ = −DᵀΨ = −V Σ Uᵀ U Σ⁻² Uᵀ∇ₓC = −V Σ⁻¹ Uᵀ∇ₓC = −D⁺∇ₓC for every
      choice of Ψ (the Ψ of (4.10) is the minimum-norm one).  *Sign:* the
      paper writes DDᵀΨ = −∇ₓC in (4.5)–(4.6) together with θ′ = −DᵀΨ, which
      would give x′ = +𝒫∇ₓC; its own (4.11) drops that sign and concludes
      x′ = −𝒫∇ₓC (4.7), and at full rank (4.5) must reduce to (2.4).  The
      descent reading, DDᵀΨ = +∇ₓC, is the one implemented.

    Hence the output velocity is always D θ′ = −U Uᵀ∇ₓC = −𝒫∇ₓC, with 𝒫 the
    orthoprojector onto range D: (4.7), (5.3), and −∇ₓC (2.5)/(6.4) when
    rank D = QN (𝒫 = 1).  The regime therefore decides which rank condition is
    *required* (and reported), not which formula is evaluated.  Computing
    −D⁺∇ₓC from the SVD of D has round-off ~eps·cond(D); the literal (1.27),
    Dᵀ(DDᵀ)⁻²D∇_θC, squares cond(D) in the Gram matrix and again in its square.

    **A non-Euclidean output metric G.**  Let G = LLᵀ (L the lower-triangular
    Cholesky factor of :mod:`subriemann.geometry.metrics`, possibly depending on x) and
    D̃ = LᵀD the whitened Jacobian, with truncated SVD D̃ = Ũ Σ̃ Ṽᵀ (the factors
    of ``PullbackBundle(f, G).at(θ)``).  The bundle metric (2.22) is
    h(u, w) = (Du)ᵀG(Dw) = (D̃u)·(D̃w) and V = range Dᵀ = range D̃ᵀ, so grad_h is
    (2.30) for D̃: θ′ = −grad_h C = −Pen[D̃]Pen[D̃]ᵀ∇_θC
    (:meth:`~subriemann.geometry.bundles.PullbackBundle.grad`).  Since
    ∇_θC = Dᵀ∇ₓC = D̃ᵀw with w = L⁻¹∇ₓC (because D̃ᵀ = DᵀL), the argument above
    with (D̃, w) in place of (D, ∇ₓC) gives

        θ′ = −Ṽ Σ̃⁻² Ṽᵀ · Ṽ Σ̃ Ũᵀ w = −Ṽ Σ̃⁻¹ Ũᵀ w = −D̃⁺ L⁻¹∇ₓC,

    the minimum-norm minimiser of |Lᵀ(Dθ′ + G⁻¹∇ₓC)| = |Dθ′ + G⁻¹∇ₓC|_G
    (LᵀG⁻¹ = L⁻¹): the G-least-squares solution of D θ′ = −G⁻¹∇ₓC.  With
    D = L⁻ᵀD̃ its push-forward is

        x′ = D θ′ = −L⁻ᵀ Ũ Σ̃ Ṽᵀ Ṽ Σ̃⁻¹ Ũᵀ L⁻¹∇ₓC = −L⁻ᵀ Ũ Ũᵀ L⁻¹∇ₓC = −𝒫_G G⁻¹∇ₓC,

    with 𝒫_G = L⁻ᵀŨŨᵀLᵀ (using L⁻ᵀL⁻¹ = G⁻¹).  𝒫_G is the G-orthogonal
    projector onto range D: its range is L⁻ᵀ range D̃ = range D, it is
    idempotent, and G𝒫_G = LŨŨᵀLᵀ is symmetric.

    * rank D = QN (2.1): rank D̃ = QN as L is invertible, Ũ is a square
      orthogonal matrix, ŨŨᵀ = 1 and **x′ = −G⁻¹∇ₓC**: the output layer
      follows the G-gradient flow of C instead of (2.5).  For constant G its
      solution is x(s) − y_ω = exp(−sG⁻¹/N)(x(0) − y_ω)
      (:func:`~subriemann.flows.theory.output_metric_residual_law`), the cost follows
      :func:`~subriemann.flows.theory.output_metric_cost_law` instead of (2.6), and
      the stopping time is :func:`~subriemann.flows.theory.output_metric_stopping_time`
      instead of (2.18).
    * Rank loss, rank D = r < QN: x′ = −𝒫_G G⁻¹∇ₓC, the G-orthogonal
      projection of the G-gradient onto range D, in place of (4.7)/(5.3).
      The cost still decreases, ∂ₛC = ∇ₓC·x′ = −|ŨᵀL⁻¹∇ₓC|² ≤ 0 (as (5.12)),
      but the part of G⁻¹∇ₓC that is G-orthogonal to range D is not reduced,
      so the G-laws above no longer hold.  With rank D = K < QN the flow is
      −grad_g C for the pullback metric g = DᵀGD (5.15)
      (:meth:`~subriemann.geometry.metrics.PullbackMetric.grad`), and at K = QN it is
      −D⁻¹G⁻¹∇ₓC.

    The regimes, their rank conditions and the reported singular values refer
    to D̃ (rank D̃ = rank D).  θ′ and x′ are computed as −D̃⁺w and −L⁻ᵀŨŨᵀw
    from the SVD of D̃ and two triangular solves with L, with round-off
    ~eps·cond(D̃)·cond(L); ``PullbackBundle.grad`` applied to Dᵀ∇ₓC gives the
    same vector but forms Dᵀ∇ₓC first and so squares cond(D̃).  G = 1 (None)
    runs the Euclidean code above unchanged.
    """

    name = "adapted"

    def __init__(
        self,
        f: SmoothMap,
        cost: L2Cost,
        regime: str = "auto",
        rank_policy: RankPolicy | float | None = None,
        output_metric: OutputMetricLike | None = None,
        *,
        route: str = "auto",
        memory_budget: int | None = None,
    ):
        super().__init__(f, cost, rank_policy)
        self.output_metric: OutputMetric | None = None
        if output_metric is not None:
            # metrics pulls in geomstats: imported only when a metric is given
            from subriemann.geometry.metrics import EuclideanMetric, resolve_output_metric

            metric = resolve_output_metric(output_metric, self.QN)
            if not isinstance(metric, EuclideanMetric):
                self.output_metric = metric
        if regime not in REGIMES:
            raise InputError(
                f"unknown regime {regime!r}; expected one of {sorted(REGIMES)}: "
                + "; ".join(f"{k} = {v}" for k, v in REGIMES.items())
            )
        K, QN = self.K, self.QN
        impossible = {
            "over": (K < QN, f"K = {K} < QN = {QN}: rank D <= K < QN, so (2.1) can never hold"),
            "under": (K > QN, f"K = {K} > QN = {QN}: rank D <= QN < K, so (5.1) can never hold"),
            "borderline": (K != QN, f"K = {K} != QN = {QN}; (6.2) needs a square D"),
        }
        if regime in impossible and impossible[regime][0]:
            raise RankConditionError(
                f"regime {regime!r} is impossible here: {impossible[regime][1]}; "
                "use regime='auto' (or 'rank-loss' for the DAE (4.5))"
            )
        self.regime = regime
        self.last_regime: str | None = None
        # the route to D⁺ (issue 14): geometry.routes.choose_route states the model
        from subriemann.geometry.routes import choose_route

        self.memory_budget = memory_budget
        # metric_aware: factorization() passes G on, so the kernel route solves with
        # Θ_G = LᵀΘL (KernelFactorization) and never applies the Euclidean Θ⁺ to a G-problem
        self.route_choice = choose_route(
            f,
            route,
            memory_budget=memory_budget,
            euclidean=self.output_metric is None,
            metric_aware=True,
        )
        self.route = self.route_choice.route
        if self.route != "dense" and (regime == "under" or K < QN):
            raise InputError(
                f"route {self.route!r} implements the over-parametrized and borderline flows "
                f"(K >= QN); here regime = {regime!r}, K = {K}, QN = {QN}: use route='dense'"
            )

    def factorization(
        self, theta: npt.ArrayLike, rank_policy: RankPolicy | float | None = None
    ) -> JacobianSVD | KernelFactorization | KrylovFactorization:
        """The factorization of D[θ] on this flow's route, for D⁺ solves at θ.

        "dense": :class:`~subriemann.linalg.JacobianSVD` of D (of D̃ = LᵀD with an
        output metric); "kernel": :class:`~subriemann.geometry.kernel.KernelFactorization`
        (Θ = DDᵀ, no QN×K array); "matrix-free":
        :class:`~subriemann.geometry.matrix_free.KrylovFactorization`.  The integrators
        (output-exact's corrector) obtain their factorizations here.
        """
        from subriemann.geometry.routes import factorize

        theta = self._theta(theta)
        policy = self.rank_policy if rank_policy is None else resolve_policy(rank_policy)
        if self.route == "dense" and self.output_metric is not None:
            x = np.asarray(self.f(theta), dtype=np.float64)
            return JacobianSVD(self.output_metric.whiten(self.f.jacobian(theta), x), policy)
        return factorize(
            self.f,
            theta,
            self.route,
            rank_policy=policy,
            memory_budget=self.memory_budget,
            output_metric=self.output_metric,
        )

    def _check_rank(self, report: RankReport) -> str:
        picked = regime_for_rank(report.rank, self.K, self.QN)
        if self.regime == "auto":
            return picked
        if self.regime == "rank-loss":
            return "rank-loss"
        needed = {"over": self.QN, "under": self.K, "borderline": self.K}[self.regime]
        if report.rank != needed:
            cond = {"over": "rank D = QN (2.1)", "under": "rank D = K (5.1)"}.get(
                self.regime, "rank D = K = QN (D invertible, §6)"
            )
            raise RankConditionError(
                f"the {self.regime!r} adapted flow needs {cond}, but rank D = {report.rank} "
                f"(shape {report.shape}, sigma_min = {report.sigma_min:.3g}, sigma_max = "
                f"{report.sigma_max:.3g}, tolerance {report.tolerance:.3g}; {report.policy}); "
                "use regime='rank-loss' (the DAE (4.5)) or 'auto' to continue under rank loss"
            )
        return self.regime

    def evaluate(self, theta: npt.ArrayLike, geometry: bool = True) -> FlowPoint:
        """The adapted flow at θ: velocity −D⁺∇ₓC, output velocity −𝒫∇ₓC, rank report.

        Implements (2.4)/(1.27), (5.2)/(1.30), (6.2) or (4.5)–(4.6) and (4.7)
        (see the class notes for why they coincide).  One Jacobian, one SVD.
        With an output metric G = LLᵀ: velocity −D̃⁺L⁻¹∇ₓC = −grad_h C (2.30)
        and output velocity −𝒫_G G⁻¹∇ₓC (= −G⁻¹∇ₓC when rank D = QN), from
        the SVD of D̃ = LᵀD (class notes).  ``geometry`` is accepted for
        interface symmetry; the adapted flow always needs D.
        """
        theta = self._theta(theta)
        point = self._cached(theta, "point")
        if point is None and self.route != "dense":
            # kernel / matrix-free: f(θ), then D⁺ from Θ or Krylov solves, no QN×K array
            x = np.asarray(self.f(theta), dtype=np.float64)
            svd = self.factorization(theta)
            gx = self.cost.grad(x)
            if self.output_metric is None:
                v = -svd.solve(gx)
                xdot = -svd.project_range(gx)
            else:
                # kernel route with G = LLᵀ: −D̃⁺L⁻¹∇ₓC = −grad_h C (2.30) and −𝒫_G G⁻¹∇ₓC,
                # from Θ_G = LᵀΘL (KernelFactorization.metric_gradient / _output_velocity);
                # choose_route allows no other non-dense route with a non-Euclidean G
                kernel = cast("KernelFactorization", svd)
                v = -kernel.metric_gradient(gx)
                xdot = -kernel.metric_output_velocity(gx)
            _finite(v, "adapted-flow velocity -D^+ grad_x C")
            regime = self._check_rank(svd.report)
            # the matrix-free route knows only the extreme σ's: its report is the evidence
            sv = svd.singular_values if self.route == "kernel" else None
            point = FlowPoint(theta, x, float(self.cost(x)), v, xdot, svd.report, regime, sv, svd)
            self._store(theta, point=point)
        elif point is None:
            x, D = self.f.value_and_jacobian(theta)
            x = np.asarray(x, dtype=np.float64)
            if self.output_metric is None:
                svd = JacobianSVD(D, self.rank_policy)  # raises NumericalError on NaN/inf in D
                gx = self.cost.grad(x)
                v = -svd.solve(gx)
                _finite(v, "adapted-flow velocity -D^+ grad_x C")
                # D v = −U Uᵀ ∇ₓC exactly: use the projector rather than the product
                # so the recorded output velocity has no cond(D) amplification.
                xdot = -svd.project_range(gx)
            else:
                svd, v, xdot = self._whitened_direction(x, D)
            regime = self._check_rank(svd.report)
            point = FlowPoint(
                theta, x, float(self.cost(x)), v, xdot, svd.report, regime, svd.singular_values, svd
            )
            self._store(theta, point=point)
        else:
            self._check_rank(point.report)
        self.last_regime = point.regime
        return point

    def _whitened_direction(self, x, D):
        """(SVD of D̃, θ′ = −D̃⁺L⁻¹∇ₓC, x′ = −L⁻ᵀŨŨᵀL⁻¹∇ₓC) for the output metric G = LLᵀ.

        The Euclidean branch of :meth:`evaluate` with D̃ = LᵀD and w = L⁻¹∇ₓC
        (class notes); L is lower triangular (``OutputMetric.sqrt``), so L⁻¹ and
        L⁻ᵀ are triangular solves and no inverse of G is formed.
        """
        metric = self.output_metric
        L = np.asarray(metric.sqrt(x), dtype=np.float64)
        svd = JacobianSVD(metric.whiten(D, x), self.rank_policy)  # NumericalError on NaN/inf
        w = scipy.linalg.solve_triangular(L, self.cost.grad(x), lower=True, check_finite=False)
        v = -svd.solve(w)
        _finite(v, "adapted-flow velocity -grad_h C = -(L^T D)^+ L^-1 grad_x C")
        # as in the Euclidean case, D v = −L⁻ᵀŨŨᵀw exactly: the projector, not the product
        xdot = -scipy.linalg.solve_triangular(
            L, svd.project_range(w), lower=True, trans="T", check_finite=False
        )
        return svd, v, _finite(xdot, "output velocity -P_G G^-1 grad_x C")

    def __repr__(self) -> str:
        metric = "" if self.output_metric is None else f", output_metric={self.output_metric!r}"
        route = "" if self.route == "dense" else f", route={self.route!r}"
        return f"AdaptedFlow(K={self.K}, QN={self.QN}, N={self.N}, regime={self.regime!r}{metric}{route})"


class OutputFlow:
    """The Euclidean gradient flow in the output layer, x′ = −∇ₓC[x]. Implements (1.11).

    Parameters
    ----------
    cost : L2Cost
        C[x] = |x − y_ω|²/(2N).
    """

    def __init__(self, cost: L2Cost):
        if not isinstance(cost, L2Cost):
            raise InputError(f"cost must be an L2Cost, got {type(cost).__name__}")
        self.cost = cost

    @property
    def N(self) -> int:
        return self.cost.N

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """x′ = −∇ₓC = −(x − y_ω)/N, shape ``(QN,)``. Implements (1.11)/(1.12)."""
        return -self.cost.grad(x)

    def solution(self, x0: npt.ArrayLike, s: npt.ArrayLike) -> np.ndarray:
        """x(s) = y_ω + e^{−s/N}(x(0) − y_ω). Implements (1.13).

        Parameters
        ----------
        x0 : array-like, shape=[QN]
        s : float or array-like, shape=[n]

        Returns
        -------
        ndarray, shape=[QN] or [n, QN]
        """
        from subriemann.flows.theory import residual_law

        x0 = check_vector(x0, self.cost.dim, "x0")
        return self.cost.target + residual_law(s, x0, self.cost.target, self.N)

    def __repr__(self) -> str:
        return f"OutputFlow({self.cost!r})"
