"""Constructed cases with known answers: small networks whose landscape is known.

Each case is built so that what the landscape diagnostics (:mod:`.trapping`,
:mod:`.equilibria`, :mod:`.critical_manifold`, :mod:`.escape`) should find is
known in closed form or by construction; the tests, the docs and the examples
check and show the diagnostics on them.  Each returns a :class:`ConstructedCase`
(a named 4-tuple: the network, the map θ ↦ x[θ], the cost and the point(s) of
interest).

* :func:`trapping_case` — saturated tanh units: a trapping region of Prop. 3.1;
* :func:`linear_bottleneck_case` — Baldi–Hornik critical points: equilibria,
  saddles and escape;
* :func:`duplicated_inputs_case` — rank loss everywhere, and an equilibrium
  reached by the DAE (4.5);
* :func:`zero_network_case`, :func:`dead_units_case` — equilibria where the
  rank is not locally constant.
"""

# no `from __future__ import annotations`: NamedTuple would keep the field types as
# ForwardRef strings in its signature
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, check_array, check_int
from subriemann.flows.cost import L2Cost
from subriemann.maps import MLP, NetworkMap

__all__ = [
    "ConstructedCase",
    "trapping_case",
    "linear_bottleneck_case",
    "duplicated_inputs_case",
    "zero_network_case",
    "dead_units_case",
]


class ConstructedCase(NamedTuple):
    """A constructed case: unpacks as ``net, f, cost, theta``.

    Attributes
    ----------
    net : MLP
    f : NetworkMap
        θ ↦ x[θ] on the case's N training inputs, R^K → R^{QN}.
    cost : L2Cost
        The cost (1.7) of the case's targets.
    theta : ndarray, shape=[K], or list of them
        The point of interest (for :func:`linear_bottleneck_case`, the list of
        critical points).
    """

    net: MLP
    f: NetworkMap
    cost: L2Cost
    theta: Any

    @classmethod
    def on_data(
        cls, net: MLP, inputs: npt.ArrayLike, targets: npt.ArrayLike, theta: Any
    ) -> "ConstructedCase":
        """The case of ``net`` on ``inputs`` (N, M) with ``targets`` (N, Q) or (N,) at ``theta``."""
        f = NetworkMap(net, inputs)
        return cls(net, f, L2Cost(np.ravel(targets), f.N), theta)


def _random_generator(seed: int) -> np.random.Generator:
    """The generator of a case's randomness, from its non-negative integer ``seed``."""
    return np.random.default_rng(check_int(seed, "seed", minimum=0))


def trapping_case() -> ConstructedCase:
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
    ConstructedCase
        tanh [1, 3, 1] (K = 10, QN = 3); ``theta`` is the saturated start θ₀.
    """
    X = np.linspace(-1.0, 1.0, 3)[:, None]
    Y = np.array([0.5, -0.5, 0.5])
    net = MLP([1, 3, 1])
    rng = np.random.default_rng(0)
    theta = net.pack(
        [(rng.normal(size=(3, 1)), np.full(3, 3.5)), (rng.normal(size=(1, 3)), np.zeros(1))]
    )
    return ConstructedCase.on_data(net, X, Y, theta)


def linear_bottleneck_case(
    seed: int = 0, M: int = 2, Q: int = 2, N: int = 3, teacher: npt.ArrayLike | None = None
) -> ConstructedCase:
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
    ConstructedCase
        Identity activation, layers [M, 1, Q]; ``theta`` is the list of the Q
        critical points (shape [K] each), by increasing eigenvalue of the
        fitted covariance (the constrained minimum last).

    Raises
    ------
    InputError
        Q > M (an eigenvector with eigenvalue 0 would give W = 0, a degenerate
        point) or N < M + 1.
    """
    M, Q, N = (check_int(v, name) for v, name in ((M, "M"), (Q, "Q"), (N, "N")))
    if Q > M or N < M + 1:
        raise InputError(
            f"the linear bottleneck needs Q <= M and N >= M + 1, got M = {M}, Q = {Q}, N = {N}"
        )
    rng = _random_generator(seed)
    X = rng.normal(size=(N, M))
    if teacher is None:
        left = np.linalg.qr(rng.normal(size=(Q, Q)))[0]
        right = np.linalg.qr(rng.normal(size=(M, M)))[0][:Q]
        teacher = left @ np.diag(2.0 ** -np.arange(Q, dtype=float) * 2.0) @ right
    A_teacher = check_array(teacher, "teacher", shape=(Q, M))
    Y = X @ A_teacher.T + 0.3 * rng.normal(size=(N, Q))
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
    return ConstructedCase.on_data(net, X, Y, points)


def duplicated_inputs_case(seed: int = 0) -> ConstructedCase:
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
    ConstructedCase
        tanh [2, 5, 1] (K = 21, QN = 4); ``theta`` is θ*.
    """
    from subriemann.flows.fields import AdaptedFlow
    from subriemann.integrate import integrate

    rng = _random_generator(seed)
    X = rng.normal(size=(4, 2))
    X[1] = X[0]
    Y = np.array([1.0, -1.0, 0.3, -0.2])
    net = MLP([2, 5, 1])
    case = ConstructedCase.on_data(net, X, Y, net.init(seed))
    traj = integrate(AdaptedFlow(case.f, case.cost), case.theta, 160.0, method="rk45")
    return case._replace(theta=traj.theta[-1])


def zero_network_case(seed: int = 0) -> ConstructedCase:
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
        Seeds the inputs, the targets and the hidden biases.

    Returns
    -------
    ConstructedCase
        tanh [2, 4, 2] (K = 22, QN = 10); ``theta`` is θ*.
    """
    rng = _random_generator(seed)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    net = MLP([2, 4, 2])
    theta = net.pack([(np.zeros((4, 2)), rng.normal(size=4)), (np.zeros((2, 4)), Y.mean(axis=0))])
    return ConstructedCase.on_data(net, X, Y, theta)


def dead_units_case(seed: int = 0) -> ConstructedCase:
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
    ConstructedCase
        tanh [1, 4, 1] (K = 13, QN = 10); ``theta`` is θ*.
    """
    from scipy.optimize import least_squares

    rng = _random_generator(seed)
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
    return ConstructedCase.on_data(net, X, Y, theta)
