"""Metrics: output metrics on R^{QN}, the pullback metric g = DᵀGD, the induced (DDᵀ)⁻¹.

The paper's construction (2.22) pulls back *any* Riemannian metric G on the
output layer N = R^{QN}.  Every output metric here carries a Cholesky factor
G(x) = L(x) L(x)ᵀ, and every geometric object of the package is computed from
the *whitened* Jacobian D̃ = LᵀD: since (Du)ᵀG(Dw) = (D̃u)·(D̃w), the metric h
(2.22) and g (5.15) for G are the Euclidean ones for D̃, so one SVD of D̃ (never
of DᵀGD or DDᵀ, which square the condition number) gives every solve.

* :class:`EuclideanMetric` — G = 1, the paper's case (L = 1, D̃ = D).
* :class:`ConstantOutputMetric` — a fixed SPD matrix, e.g. per-class weights.
* :class:`OutputMetricField` — x ↦ G(x), SPD at every x.
* :class:`PullbackMetric` — the Riemannian metric g = DᵀGD (5.15) on R^K of an
  immersion (rank D = K, (5.1)), a geomstats ``RiemannianMetric``; its gradient
  grad_g = g⁻¹∇ (5.17).
* :func:`standard_output_velocity`, :func:`induced_output_metric` — the
  output-layer side of the *standard* flow (1.22)/(3.1): the Euclidean metric
  of R^K pushed forward is (DDᵀ)⁻¹, and x' = −DDᵀ∇ₓC is its gradient.

Why one module of ~760 lines: its one concept is a metric G on the output layer and
what it induces, g = D̃ᵀD̃ on R^K and (DDᵀ)⁻¹ on R^{QN}.  The pullback needs nothing of
G but its Cholesky factor, which the output-metric classes exist to provide.  (The
output metrics, ~300 lines, could move to their own module; that needs
``geometry/__init__.py`` to register it, which this change does not own.)

Example (underparametrized, K = 7 < QN = 10):

>>> import numpy as np, subriemann as sr
>>> t = np.linspace(-2, 2, 10)[:, None]
>>> data = sr.TrainingData.regression(t, np.sin(t))
>>> f, cost = sr.NetworkMap(sr.MLP([1, 2, 1]), data), sr.L2Cost.from_data(data)
>>> theta = f.mlp.init(seed=0, weight_scale=2.0); grad_x = cost.grad(f(theta))
>>> grad_g = sr.PullbackMetric(f).grad(theta, f.vjp(theta, grad_x))  # (5.17)
>>> D = f.jacobian(theta)  # D·grad_g C = 𝒫∇ₓC, the projection onto range D (5.3)
>>> bool(np.allclose(D @ grad_g, sr.JacobianSVD(D).project_range(grad_x)))
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, cast

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
import scipy.linalg
from autograd.differential_operators import make_jvp
from autograd.extend import defjvp, defvjp, primitive
from autograd.numpy.linalg import grad_cholesky
from autograd.tracer import getval, isbox
from geomstats.geometry.euclidean import Euclidean
from geomstats.geometry.riemannian_metric import RiemannianMetric
from geomstats.numerics.geodesic import ExpODESolver

from subriemann.errors import (
    InputError,
    NumericalError,
    RankConditionError,
    ShapeError,
    SubriemannError,
    check_array,
    check_int,
    check_vector,
    with_context,
)
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, pseudo_inverse, resolve_policy
from subriemann.maps.smooth import SmoothMap, check_map  # noqa: F401  (check_map: re-exported for bundles)

if TYPE_CHECKING:  # hints only: the cost and the data live in layers that import this one
    from subriemann.flows.cost import L2Cost
    from subriemann.maps.data import TrainingData

__all__ = [
    "OutputMetric",
    "OutputMetricLike",
    "EuclideanMetric",
    "ConstantOutputMetric",
    "OutputMetricField",
    "resolve_output_metric",
    "PullbackMetric",
    "standard_output_velocity",
    "induced_output_metric",
    "over_batch",
    "batch_pair",
]

# Relative asymmetry |G − Gᵀ|_max / |G|_max tolerated before G is rejected: a
# matrix assembled in floating point is symmetric to a few ulps, a genuinely
# non-symmetric one is off by O(1).
_SYMMETRY_RTOL = 1e-10


def _cholesky_checked(G, name: str):
    """Cholesky factor of a symmetric positive definite matrix, or a clear InputError."""
    G = np.asarray(G, dtype=np.float64)
    scale = float(np.max(np.abs(G))) if G.size else 0.0
    asym = float(np.max(np.abs(G - G.T))) if G.size else 0.0
    if asym > _SYMMETRY_RTOL * max(scale, float(np.finfo(np.float64).tiny)):
        raise InputError(
            f"{name} is not symmetric (max |G - G^T| = {asym:.3g}, max |G| = {scale:.3g}); "
            "an output metric must be a symmetric positive definite matrix"
        )
    try:
        return np.linalg.cholesky(0.5 * (G + G.T))
    except np.linalg.LinAlgError:
        eig_min = float(np.linalg.eigvalsh(0.5 * (G + G.T)).min())
        raise InputError(
            f"{name} is not positive definite (smallest eigenvalue {eig_min:.3g}); "
            "an output metric must be a symmetric positive definite matrix"
        ) from None


@primitive
def _cholesky(G):
    return _cholesky_checked(G, "the output metric G(x)")


def _cholesky_jvp(dG, L, G):
    # G = LLᵀ ⇒ dL = L Φ(L⁻¹ dG L⁻ᵀ), Φ = lower triangle with halved diagonal;
    # triangular solves only (well conditioned as L is).
    L, dG = getval(L), getval(dG)
    X = scipy.linalg.solve_triangular(L, dG, lower=True)
    X = scipy.linalg.solve_triangular(L, X.T, lower=True).T
    return L @ (np.tril(X) - 0.5 * np.diag(np.diag(X)))


defvjp(_cholesky, grad_cholesky)
defjvp(_cholesky, _cholesky_jvp)


class OutputMetric:
    """A Riemannian metric G on the output layer R^{QN}, with Cholesky factor G = LLᵀ.

    Subclasses implement :meth:`matrix` and :meth:`sqrt`.  Everything in
    ``metrics``/``bundles`` uses G only through the whitening D ↦ LᵀD, which
    turns the metric into the Euclidean one: (Du)ᵀG(Dw) = (LᵀDu)·(LᵀDw).
    """

    #: dimension of the output space (None: any)
    dim: int | None = None
    #: G does not depend on x (then the whitened Jacobian LᵀD is the Jacobian of Lᵀf)
    is_constant: bool = True

    def matrix(self, x: np.ndarray | None) -> np.ndarray:
        """G(x), shape ``(QN, QN)``; x is the output point, None for a constant metric."""
        raise NotImplementedError

    def sqrt(self, x: np.ndarray | None) -> np.ndarray:
        """Lower-triangular L(x) with G(x) = L Lᵀ, shape ``(QN, QN)``."""
        raise NotImplementedError

    def sqrt_derivative(self, x: np.ndarray, dx: np.ndarray) -> np.ndarray:
        """d/dt L(x + t dx) at t = 0, shape ``(QN, QN)``; zero for a constant metric."""
        n = np.shape(x)[0]
        return np.zeros((n, n))

    def check_dim(self, n: int) -> None:
        """Raise ShapeError unless the metric lives on R^n."""
        if self.dim is not None and self.dim != n:
            raise ShapeError(
                f"the output metric is defined on R^{self.dim}, but the map's output space is "
                f"R^{n}; expected a {n}x{n} metric"
            )

    def whiten(self, D: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        """LᵀD (traceable): the Jacobian for which G becomes Euclidean. Shape of D."""
        return anp.dot(anp.transpose(self.sqrt(x)), D)

    def whitened_jacobian(
        self, f: SmoothMap, theta: npt.ArrayLike
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(x, D, LᵀD) at θ from one Jacobian evaluation.

        x = f(θ) is evaluated (in the same pass) only when G depends on x;
        otherwise it is ``None``.  Traceable in θ.
        """
        x: np.ndarray | None
        if self.is_constant:
            x, D = None, f.jacobian(theta)
        else:
            x, D = f.value_and_jacobian(theta)
        return x, D, self.whiten(D, x)

    def whiten_derivative(
        self,
        D: np.ndarray,
        dD: np.ndarray,
        x: np.ndarray | None,
        dx: np.ndarray | None,
    ) -> np.ndarray:
        """d(LᵀD) = (dL[dx])ᵀ D + Lᵀ dD along a direction with output velocity dx = D w."""
        out = np.dot(self.sqrt(x).T, dD)
        if not self.is_constant:
            # a metric that depends on x is differentiated at a point: x and dx are given
            dL = self.sqrt_derivative(cast(np.ndarray, x), cast(np.ndarray, dx))
            out = out + np.dot(dL.T, D)
        return out

    def whiten_vector(self, w: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        """Lᵀw: a tangent vector of R^{QN} in whitened coordinates."""
        return np.dot(self.sqrt(x).T, w)


def _point_dim(x: np.ndarray | None, metric: OutputMetric) -> int:
    """QN read off the output point x, for a metric that needs x (its size, or G(x))."""
    if x is None:
        # None stands for "no point" and is accepted by constant metrics only
        raise InputError(
            f"{metric!r} needs the output point x, shape (QN,); got None (only a constant "
            "metric such as ConstantOutputMetric is evaluated without a point)"
        )
    return int(np.shape(x)[0])


#: What ``output_metric=`` accepts (with None, the Euclidean metric): an :class:`OutputMetric`,
#: a symmetric positive definite matrix G (:class:`ConstantOutputMetric`) or a callable
#: x ↦ G(x) (:class:`OutputMetricField`); :func:`resolve_output_metric` decides which.
OutputMetricLike: TypeAlias = OutputMetric | npt.ArrayLike | Callable[[np.ndarray], npt.ArrayLike]


class EuclideanMetric(OutputMetric):
    """G = 1 on R^{QN}: the paper's output metric (1.11), the default everywhere."""

    def matrix(self, x: np.ndarray | None) -> np.ndarray:
        return np.eye(_point_dim(x, self))

    def sqrt(self, x: np.ndarray | None) -> np.ndarray:
        return np.eye(_point_dim(x, self))

    # Whitening is the identity: no copies, no solves.
    def whiten(self, D: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        return D

    def whiten_derivative(
        self,
        D: np.ndarray,
        dD: np.ndarray,
        x: np.ndarray | None,
        dx: np.ndarray | None,
    ) -> np.ndarray:
        return dD

    def whiten_vector(self, w: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        return w

    def __repr__(self) -> str:
        return "EuclideanMetric()"


class ConstantOutputMetric(OutputMetric):
    """A constant SPD metric G on R^{QN}.

    Parameters
    ----------
    G : array-like, shape=[QN, QN]
        Symmetric positive definite.

    Raises
    ------
    InputError
        G is not square, not symmetric or not positive definite.
    """

    def __init__(self, G: npt.ArrayLike) -> None:
        G = check_array(G, "G", ndim=2)
        if G.shape[0] != G.shape[1] or G.shape[0] == 0:
            raise ShapeError(f"G must be a non-empty square matrix, got shape {G.shape}")
        self._L = _cholesky_checked(G, "G")
        self._G = 0.5 * (G + G.T)
        self.dim = int(G.shape[0])

    @classmethod
    def from_class_weights(cls, data: TrainingData, weights: npt.ArrayLike) -> ConstantOutputMetric:
        """Diagonal G weighting every output entry of sample j by w_{ω(j)}.

        Parameters
        ----------
        data : TrainingData
        weights : array-like, shape=[n_classes]
            Positive weight per class (e.g. inverse class frequencies N/N_i).

        Returns
        -------
        ConstantOutputMetric
            G = diag(w_{ω(1)} 1_Q, ..., w_{ω(N)} 1_Q), sample-major like y_ω (1.2).
        """
        n_classes = data.class_outputs.shape[0]
        weights = check_array(weights, "weights", shape=(n_classes,))
        if np.any(weights <= 0):
            raise InputError(
                f"class weights must be positive, got {weights.tolist()}; a zero or negative "
                "weight does not define a metric"
            )
        return cls(np.diag(np.repeat(weights[data.labels], data.Q)))

    def matrix(self, x: np.ndarray | None = None) -> np.ndarray:
        return self._G

    def sqrt(self, x: np.ndarray | None = None) -> np.ndarray:
        return self._L

    def __repr__(self) -> str:
        return f"ConstantOutputMetric(dim={self.dim})"


class OutputMetricField(OutputMetric):
    """A field of SPD metrics x ↦ G(x) on R^{QN}.

    Parameters
    ----------
    G_fn : callable
        ``G_fn(x)`` with x of shape ``(QN,)`` returning a ``(QN, QN)`` SPD matrix.
        Write it with ``autograd.numpy`` if derivatives are needed (frame
        brackets, the traceable frame, Christoffel symbols of the pullback).
    dim : int, optional
        QN, checked against the map when given.

    Notes
    -----
    Symmetry and positive definiteness are checked at every evaluation.
    """

    is_constant = False

    def __init__(self, G_fn: Callable[[np.ndarray], npt.ArrayLike], dim: int | None = None) -> None:
        if not callable(G_fn):
            raise InputError(f"G_fn must be callable, got {type(G_fn).__name__}")
        self.G_fn = G_fn
        self.dim = check_int(dim, "dim", allow_none=True)

    def matrix(self, x: np.ndarray | None) -> np.ndarray:
        """G(x), shape ``(QN, QN)``: G_fn(x) checked real, finite and of the right shape.

        Raises
        ------
        ShapeError, InputError, NonFiniteError
            G_fn returned the wrong shape, complex/non-numeric values, or NaN/inf;
            the message names the metric and the point x.
        """
        n = _point_dim(x, self)
        G = self.G_fn(cast(np.ndarray, x))  # not None: _point_dim raised
        if tuple(np.shape(G)) != (n, n):
            raise ShapeError(
                f"the output metric {self!r} returned shape {tuple(np.shape(G))} at "
                f"x = {_short(x)}; expected ({n}, {n})"
            )
        # a bad G must be reported as the metric's fault, not later as NaN in D̃ = LᵀD
        return check_array(G, f"the output metric {self!r} evaluated at x = {_short(x)}")

    def sqrt(self, x: np.ndarray | None) -> np.ndarray:
        G = self.matrix(x)
        if isbox(G):
            return _cholesky(G)
        return _cholesky_checked(G, "G_fn(x)")

    def sqrt_derivative(self, x: np.ndarray, dx: np.ndarray) -> np.ndarray:
        _, dG = make_jvp(self.matrix)(x)(dx)
        L = self.sqrt(x)
        return _cholesky_jvp(dG, L, None)

    def __repr__(self) -> str:
        return f"OutputMetricField({getattr(self.G_fn, '__name__', 'G_fn')}, dim={self.dim})"


def resolve_output_metric(output_metric: OutputMetricLike | None, dim_out: int) -> OutputMetric:
    """``None`` → Euclidean; an array → :class:`ConstantOutputMetric`; a callable → field."""
    metric: OutputMetric
    if output_metric is None:
        metric = EuclideanMetric()
    elif isinstance(output_metric, OutputMetric):
        metric = output_metric
    elif callable(output_metric):
        metric = OutputMetricField(output_metric, dim_out)
    elif hasattr(output_metric, "shape") or isinstance(output_metric, list | tuple):
        metric = ConstantOutputMetric(output_metric)
    else:
        raise InputError(
            "output_metric must be None (Euclidean), an OutputMetric, an SPD matrix or a "
            f"callable x -> G(x); got {type(output_metric).__name__}"
        )
    metric.check_dim(dim_out)
    return metric


def batch_pair(
    points: npt.ArrayLike, vectors: npt.ArrayLike, dim: int, name_point: str, name_vector: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check a point and a vector (each [..., dim], finite, real) and broadcast them together.

    Returns both as float64 arrays of one shape [..., dim]; a single point stays
    1-D.  Raises ShapeError/InputError naming the argument.
    """
    points = check_array(points, name_point)
    vectors = check_array(vectors, name_vector)
    for arr, name in ((points, name_point), (vectors, name_vector)):
        if arr.ndim == 0 or arr.shape[-1] != dim:
            raise ShapeError(f"{name} must have shape [..., {dim}], got {arr.shape}")
    try:
        point_batch, vector_batch = np.broadcast_arrays(points, vectors)
    except ValueError:
        raise ShapeError(
            f"{name_point} of shape {points.shape} and {name_vector} of shape {vectors.shape} "
            "do not broadcast to one batch [..., dim]"
        ) from None
    return point_batch, vector_batch


def _short(x) -> str:
    """A point for an error message: its first entries, not a page of numbers."""
    return np.array2string(np.asarray(getval(x), dtype=float), threshold=6, precision=4)


def over_batch(
    fn: Callable[[np.ndarray], np.ndarray], base_point: npt.ArrayLike, name: str = "base_point"
) -> np.ndarray:
    """Apply ``fn`` to every point of a [..., K] batch and stack (traceable).

    A package error at one point is re-raised (same class) naming its batch
    index; an empty batch raises :class:`ShapeError` (the shape of the result
    is known only from an evaluation).
    """
    batch_shape = tuple(np.shape(base_point)[:-1])
    flat = anp.reshape(base_point, (-1, np.shape(base_point)[-1]))
    n = np.shape(flat)[0]
    if n == 0:
        raise ShapeError(
            f"{name} is an empty batch (shape {tuple(np.shape(base_point))}); expected at least "
            "one point [..., dim]"
        )
    values = []
    for i in range(n):
        try:
            values.append(fn(flat[i]))
        except SubriemannError as exc:
            index = tuple(int(j) for j in np.unravel_index(i, batch_shape))
            raise with_context(exc, f"at batch index {index} of {name}") from exc
    out = anp.stack(values)
    return anp.reshape(out, batch_shape + tuple(np.shape(out)[1:]))


def _bad_batch_indices(state) -> list:
    """Batch indices (tuples) of a [..., 2, K] geodesic state holding NaN/inf."""
    raw = np.asarray(getval(state))
    bad = ~np.isfinite(raw).all(axis=(-2, -1))
    return [tuple(int(j) for j in idx) for idx in np.argwhere(bad)][:5]


class ReportingExpODESolver(ExpODESolver):
    """geomstats' ExpODESolver whose failures name the time t and the batch index.

    The force is wrapped: a package error raised while evaluating the geodesic
    equation (e.g. rank loss of D, reported per batch index by
    :func:`over_batch`) is re-raised saying at which time t ∈ [0, 1] it
    happened, and a NaN/inf state (a blow-up) raises :class:`NumericalError`
    naming the time and the batch indices instead of returning NaN.
    """

    def _solve(self, tangent_vec, base_point, t_eval=None):
        if base_point.ndim != tangent_vec.ndim:
            base_point = np.broadcast_to(base_point, tangent_vec.shape)
        initial_state = anp.stack([base_point, tangent_vec], axis=-2)
        metric = self._space.metric

        def force(state, t):
            where = f"geodesic integration at time t = {float(t):.4g}"
            bad = _bad_batch_indices(state)
            if bad:
                raise NumericalError(
                    f"{where}: the geodesic blew up (NaN/inf position or velocity) at batch "
                    f"index {', '.join(map(str, bad))}; expected a shorter tangent vector "
                    "or a point farther from rank loss of D"
                )
            try:
                return metric.geodesic_equation(state)
            except SubriemannError as exc:
                raise with_context(exc, where) from exc

        if t_eval is None:
            result = self.integrator.integrate(force, initial_state)
        else:
            result = self.integrator.integrate_t(force, initial_state, t_eval)
        bad = _bad_batch_indices(result.y[-1])
        if bad:
            raise NumericalError(
                "geodesic integration at the end time t = 1: the geodesic blew up "
                f"(NaN/inf) at batch index {', '.join(map(str, bad))}"
            )
        return result


class PullbackMetric(RiemannianMetric):
    """The pullback metric g = DᵀGD on R^K of an immersion f (5.14)–(5.15).

    A geomstats :class:`~geomstats.geometry.riemannian_metric.RiemannianMetric`
    on ``Euclidean(K)``: ``inner_product``, ``norm``, ``christoffels`` (hence
    ``exp``/``geodesic`` by geomstats' ODE solver) work through
    :meth:`metric_matrix`, which is computed from ONE Jacobian (geomstats' own
    ``PullbackMetric.metric_matrix`` loops over dim² inner products) and is
    autograd-traceable for the Christoffel symbols.

    g is a metric only where f is an immersion, rank D = K (5.1), i.e. in the
    underparametrized regime K ≤ QN.  Where rank D < K, :meth:`grad` and
    :meth:`cometric_matrix` raise :class:`RankConditionError`: use
    :class:`~subriemann.geometry.bundles.PullbackBundle`, whose gradient grad_h is
    defined for any rank.

    Parameters
    ----------
    f : SmoothMap
        The map θ ↦ x[θ], R^K → R^{QN}.
    output_metric : OutputMetric, SPD array, callable or None
        G on R^{QN} (None: Euclidean, the paper's case).
    rank_policy : RankPolicy, float or None
        Decides rank D̃ = K (see :class:`~subriemann.linalg.RankPolicy`).
    space : geomstats Euclidean, optional
        An existing ``Euclidean(K)`` to equip with this metric; by default a new
        one is created.  Either way ``metric.space.metric is metric``.

    Notes
    -----
    **Invariance.** g is a tensor: under a linear change of parameters θ = Aφ
    (A invertible) the pullback through f∘A is g^φ = Aᵀ g^θ A and
    ∇_φ = Aᵀ∇_θ, so grad_g^φ = A⁻¹ grad_g^θ: the gradient transforms as a vector,
    A·grad_g^φ = grad_g^θ, and the flow (5.18) is the same curve in both
    parametrizations.  The Euclidean gradient does not have this property.
    """

    def __init__(
        self,
        f: SmoothMap,
        output_metric: OutputMetricLike | None = None,
        rank_policy: RankPolicy | float | None = None,
        space: Euclidean | None = None,
    ) -> None:
        self.f = check_map(f)
        self.output_metric = resolve_output_metric(output_metric, f.dim_out)
        self.rank_policy = resolve_policy(rank_policy)
        if space is None:
            space = Euclidean(dim=f.dim_in, equip=False)
        elif getattr(space, "dim", None) != f.dim_in or getattr(space, "point_ndim", None) != 1:
            raise InputError(
                f"space must be a geomstats Euclidean({f.dim_in}) (the parameter space R^K), "
                f"got {space!r}"
            )
        super().__init__(space)
        # geomstats 2.8's equip_with_metric(instance) reads space.metric before
        # setting it (AttributeError on an unequipped space): assign directly.
        space.metric = self
        self._instantiate_solvers()

    @property
    def space(self) -> Euclidean:
        """The geomstats ``Euclidean(K)`` this metric is equipped on (``space.metric is self``).

        geomstats 2.8 keeps it as the metric's private ``_space`` and has no public
        accessor; this is the package's.
        """
        return self._space

    def _instantiate_solvers(self):
        # as geomstats.geometry.pullback_metric.PullbackMetric: geodesics by
        # integrating the geodesic equation (Christoffels), logs by shooting
        from geomstats.numerics.geodesic import LogShootingSolver
        from geomstats.numerics.ivp import GSIVPIntegrator

        self.log_solver = LogShootingSolver(self._space)
        self.exp_solver = ReportingExpODESolver(
            self._space, integrator=GSIVPIntegrator(n_steps=100, step_type="euler")
        )

    def exp(self, tangent_vec: npt.ArrayLike, base_point: npt.ArrayLike) -> np.ndarray:
        """Riemannian exponential of g (5.15) by integrating the geodesic equation.

        Parameters
        ----------
        tangent_vec, base_point : array-like, shape=[..., K]
            Broadcast together.

        Returns
        -------
        end_point : ndarray, shape=[..., K]

        Raises
        ------
        ShapeError, InputError
            Arguments that are not finite real [..., K] arrays.
        RankConditionError, NumericalError
            g degenerates (rank D < K) or the geodesic blows up; the message names
            the batch index and the integration time t ∈ [0, 1] where it happened.
        """
        base_point, tangent_vec = batch_pair(
            base_point, tangent_vec, self.dim, "base_point", "tangent_vec"
        )
        return super().exp(tangent_vec, base_point)

    @property
    def dim(self) -> int:
        """K, the dimension of the parameter space."""
        return self.f.dim_in

    # -- one point ------------------------------------------------------------
    def _whitened(self, theta):
        theta = check_vector(theta, self.dim, "base_point")
        return self.output_metric.whitened_jacobian(self.f, theta)[2]

    def _svd(self, theta, require_immersion: bool = True):
        svd = JacobianSVD(self._whitened(theta), self.rank_policy)
        if require_immersion and not svd.report.full_column_rank:
            r = svd.report
            raise RankConditionError(
                f"the pullback metric g = D^T G D (5.15) needs rank D = K = {self.dim} (f an "
                f"immersion, (5.1)), but rank D = {r.rank} at this point (sigma_min = "
                f"{r.sigma_min:.3g}, sigma_max = {r.sigma_max:.3g}, tolerance {r.tolerance:.3g}); "
                "g is degenerate here. Use subriemann.PullbackBundle(f).grad (grad_h, (2.30)), "
                "which is defined for any rank"
            )
        return svd

    def rank_report(self, theta: npt.ArrayLike) -> RankReport:
        """The rank decision on D̃ = LᵀD at θ (rank, σ_min, σ_max, ...)."""
        return self._svd(theta, require_immersion=False).report

    def metric_matrix(self, base_point: npt.ArrayLike | None = None) -> np.ndarray:
        """g = DᵀGD = D̃ᵀD̃ at θ. Implements (5.15).

        Parameters
        ----------
        base_point : array-like, shape=[..., K]

        Returns
        -------
        mat : array-like, shape=[..., K, K]
            Autograd-traceable in ``base_point``.  Positive semi-definite; it is
            a metric only where rank D = K.
        """
        if base_point is None:
            raise InputError("base_point is required: g = D^T G D depends on theta")
        if len(np.shape(base_point)) > 1:
            return over_batch(self.metric_matrix, base_point)
        Dw = self._whitened(base_point)
        return anp.dot(anp.transpose(Dw), Dw)

    def cometric_matrix(self, base_point: npt.ArrayLike | None = None) -> np.ndarray:
        """g⁻¹ = (D̃ᵀD̃)⁻¹ = D̃⁺D̃⁺ᵀ from the SVD of D̃ (no inverse of g formed).

        Parameters
        ----------
        base_point : array-like, shape=[..., K]

        Returns
        -------
        cometric : array-like, shape=[..., K, K]
            Autograd-traceable.

        Raises
        ------
        RankConditionError
            rank D < K.
        """
        if base_point is None:
            raise InputError("base_point is required: g depends on theta")
        if len(np.shape(base_point)) > 1:
            return over_batch(self.cometric_matrix, base_point)
        if isbox(base_point):
            Dw = self._whitened(base_point)
            svd = JacobianSVD(getval(Dw), self.rank_policy)
            if not svd.report.full_column_rank:
                self._svd(getval(base_point))  # raises with the full message
            Dp = pseudo_inverse(Dw, self.rank_policy)
            return anp.dot(Dp, anp.transpose(Dp))
        return self._svd(base_point).normal_solve(np.eye(self.dim))

    def inner_product(
        self,
        tangent_vec_a: npt.ArrayLike,
        tangent_vec_b: npt.ArrayLike,
        base_point: npt.ArrayLike | None = None,
    ) -> float | np.ndarray:
        """g(u, w) = (D̃u)·(D̃w) (5.14), without forming g. Shape ``[...]``."""
        if base_point is None:
            raise InputError("base_point is required: g depends on theta")
        if len(np.shape(base_point)) > 1 or len(np.shape(tangent_vec_a)) > 1:
            return super().inner_product(tangent_vec_a, tangent_vec_b, base_point)
        Dw = self._whitened(base_point)
        return anp.dot(anp.dot(Dw, tangent_vec_a), anp.dot(Dw, tangent_vec_b))

    def grad(self, theta: npt.ArrayLike, covector: npt.ArrayLike) -> np.ndarray:
        """grad_g F = g⁻¹∇_θF (5.17), by a least-squares solve on the SVD of D̃.

        grad_g = (D̃ᵀD̃)⁻¹∇ = V Σ⁻² Vᵀ∇ (``JacobianSVD.normal_solve``): the factors
        of D̃ itself, so the error grows like cond(D), not cond(D)² as with a
        solve against g.  With ∇ = Dᵀ∇ₓC (1.18) this is the right-hand side of
        (5.2) up to sign, and D·grad_g C = 𝒫∇ₓC (5.3)–(5.4) (Euclidean G).

        Parameters and result are those of
        :meth:`subriemann.geometry.bundles.PullbackBundle.grad` (θ and ∇_θF, shape
        [K] or [..., K]; the gradient has the shape of ``covector``).

        Raises
        ------
        RankConditionError
            rank D < K: g is not a metric there (use ``PullbackBundle``).
        """
        theta, covector = batch_pair(theta, covector, self.dim, "theta", "covector")
        if theta.ndim > 1:
            return over_batch(
                lambda tc: self.grad(tc[: self.dim], tc[self.dim :]),
                np.concatenate([theta, covector], axis=-1),
                "(theta, covector)",
            )
        return self._svd(theta).normal_solve(covector)

    def __repr__(self) -> str:
        return f"PullbackMetric({self.f!r}, output_metric={self.output_metric!r})"


def standard_output_velocity(f: SmoothMap, cost: L2Cost, theta: npt.ArrayLike) -> np.ndarray:
    """Output-layer velocity of the standard flow, x' = −DDᵀ∇ₓC. Implements (1.22)/(3.1).

    It is the gradient of C for the induced output metric (DDᵀ)⁻¹ (see
    :func:`induced_output_metric`): the Euclidean metric of R^K pushed forward.
    Computed as −D(Dᵀ∇ₓC), one Jacobian and two matrix-vector products; DDᵀ is
    never formed.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost (or anything with ``grad(x)``)
    theta : array-like, shape=[K]

    Returns
    -------
    velocity : ndarray, shape=[QN]
    """
    f = check_map(f)
    x, D = f.value_and_jacobian(theta)
    grad_x = cost.grad(x)
    return -(D @ (D.T @ grad_x))


def induced_output_metric(
    f: SmoothMap, theta: npt.ArrayLike, rank_policy: RankPolicy | float | None = None
) -> np.ndarray:
    """The metric (DDᵀ)⁻¹ on R^{QN} induced by the standard flow, (1.22)/(3.1).

    The Euclidean metric of R^K pushed forward by f; with rank loss it is the
    generalised inverse (DDᵀ)⁺ = U Σ⁻² Uᵀ of (4.3) (a metric on range 𝒫 only).
    Built from the SVD of D (no inverse of DDᵀ).  Its gradient of C is
    :func:`standard_output_velocity` up to sign.

    Parameters
    ----------
    f : SmoothMap
    theta : array-like, shape=[K]
    rank_policy : RankPolicy, float or None

    Returns
    -------
    metric : ndarray, shape=[QN, QN]
    """
    f = check_map(f)
    svd = JacobianSVD(f.jacobian(theta), rank_policy)
    return svd.gram_solve(np.eye(f.dim_out))
