"""Random training problems shared by the test modules (``from problems import ...``).

pytest's default "prepend" import mode puts this folder on ``sys.path`` (there is
no ``tests/__init__.py``), so the test modules import it by its bare name.
Constructed cases with known answers live in :mod:`subriemann.diagnostics.landscape`.

One builder, :func:`build`, makes every random network problem of the suite; one
hypothesis strategy, :func:`networks`, draws its architecture, sample count,
activation and seed.  Each test module states the ranges it needs as keyword
arguments (``networks(depth=(0, 2), width=(1, 12), ...)``); :func:`network_problem`
and :func:`over_problems` are the two thin wrappers that return the
``(f, cost, theta)`` tuple.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import subriemann as sr
from subriemann.maps import ACTIVATIONS

#: every smooth activation by name ("swish", an alias of "silu", excluded)
SMOOTH = ("tanh", "sigmoid", "softplus", "sin", "silu", "identity")
assert set(SMOOTH) <= set(ACTIVATIONS)

#: the widest architecture ranges of the suite, for ``networks(**WIDE, ...)``: 1–3 hidden
#: layers of width 1–8, M = 1–4, Q = 1–3, N = 1–6, every smooth activation
WIDE = dict(
    depth=(1, 3),
    width=(1, 8),
    input_dim=(1, 4),
    output_dim=(1, 3),
    samples=(1, 6),
    activations=SMOOTH,
)


@dataclass(frozen=True)
class Problem:
    """A random regression problem: the network map, its cost, a point and the data behind them.

    ``rng`` is the generator that drew the data, left where the data drawing stopped:
    a test takes its further random vectors (tangents, covectors, metrics) from it,
    so the whole example is a function of the one drawn seed.
    """

    f: sr.NetworkMap
    cost: sr.L2Cost
    theta: np.ndarray
    data: sr.TrainingData
    sizes: tuple
    rng: np.random.Generator

    @property
    def net(self) -> sr.MLP:
        return self.f.mlp

    def astuple(self):
        """``(f, cost, theta)``, the triple most tests unpack."""
        return self.f, self.cost, self.theta


def build(
    sizes,
    N,
    seed,
    *,
    activation="tanh",
    duplicate=False,
    input_scale=1.0,
    weight_scale=1.0,
    bias_scale=0.1,
) -> Problem:
    """Random regression data (N samples) and an MLP ``sizes`` at ``net.init(seed, ...)``.

    Inputs (times ``input_scale``) and targets are standard normal, drawn in that
    order from ``default_rng(seed)``; with ``duplicate`` input N − 1 is set equal to
    input 0 (two equal rows of D per output: rank D ≤ Q(N − 1) < QN).  θ is
    ``net.init(seed, weight_scale, bias_scale)``.
    """
    sizes = tuple(int(m) for m in sizes)
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(N, sizes[0]))
    if duplicate:
        inputs[-1] = inputs[0]
    data = sr.TrainingData.regression(input_scale * inputs, rng.normal(size=(N, sizes[-1])))
    net = sr.MLP(list(sizes), activation=activation)
    theta = net.init(seed, weight_scale=weight_scale, bias_scale=bias_scale)
    f = sr.NetworkMap(net, data.inputs)
    return Problem(f, sr.L2Cost.from_data(data), theta, data, sizes, rng)


def network_problem(seed, sizes=(2, 5, 1), N=3, duplicate=False):
    """``build(sizes, N, seed)`` of a tanh network as ``(f, cost, theta)`` (see :func:`build`).

    Returns
    -------
    f : NetworkMap
    cost : L2Cost
    theta : ndarray, shape=[K]
    """
    return build(sizes, N, seed, duplicate=duplicate).astuple()


@st.composite
def networks(
    draw,
    *,
    depth=(1, 2),
    width=(3, 6),
    input_dim=(1, 3),
    output_dim=(1, 2),
    samples=(2, 4),
    activations=("tanh",),
    regime=None,
    min_ratio=1.0,
    min_excess=1,
    min_outputs=1,
    max_outputs=None,
    min_inverse_condition=None,
    duplicate=False,
    input_scale=1.0,
    weight_scale=1.0,
    bias_scale=0.1,
) -> Problem:
    """A random :class:`Problem`: MLP [M, M_1..M_L, Q] on N samples, every range inclusive.

    Parameters
    ----------
    depth, width : (int, int)
        Number L of hidden layers (0 allowed) and the range of each hidden width.
    input_dim, output_dim : (int, int)
        M and Q.
    samples : (int, int)
        N, for ``regime`` None or "over" (intersected with the constraints below);
        for "under", N − ⌊K/Q⌋ (so that QN > K).
    activations : sequence of str
        σ is drawn from these.
    regime : None, "over" or "under"
        "over": K ≥ QN + ``min_excess`` and K ≥ ``min_ratio``·QN (the cap is put
        on N's range, not filtered); "under": K < QN.
    min_outputs, max_outputs : int
        Bounds on QN (also put on N's range).
    min_inverse_condition : float, optional
        Keep only draws with σ_min(D) > min_inverse_condition · σ_max(D) at θ, the
        rank condition (2.1) with that margin.
    duplicate : bool
        Input N − 1 equal to input 0 (rank loss; forces N ≥ 2).
    input_scale, weight_scale, bias_scale : float
        See :func:`build`.

    The draws are made in the order M, Q, hidden widths, N, σ (only when there is
    a choice), seed, so that the defaults reproduce the former ``over_problems``
    examples exactly (test_theorems and test_reliability rely on them).
    """
    M = draw(st.integers(*input_dim))
    Q = draw(st.integers(*output_dim))
    hidden = draw(st.lists(st.integers(*width), min_size=depth[0], max_size=depth[1]))
    sizes = [M, *hidden, Q]
    K = sr.MLP.count_parameters(sizes)
    lo = max(2 if duplicate else 1, -(-min_outputs // Q))
    if regime == "under":
        lo, hi = max(lo, K // Q + samples[0]), K // Q + samples[1]
    else:
        lo, hi = max(lo, samples[0]), samples[1]
        if regime == "over":
            hi = min(hi, (K - min_excess) // Q, int(K // (min_ratio * Q)))
        elif regime is not None:
            raise ValueError(f"regime must be None, 'over' or 'under', got {regime!r}")
    if max_outputs is not None:
        hi = min(hi, max_outputs // Q)
    # an architecture too small for the requested regime and bounds has no admissible N
    assume(lo <= hi)
    N = draw(st.integers(lo, hi))
    activation = draw(st.sampled_from(activations)) if len(activations) > 1 else activations[0]
    seed = draw(st.integers(0, 10_000))
    problem = build(
        sizes,
        N,
        seed,
        activation=activation,
        duplicate=duplicate,
        input_scale=input_scale,
        weight_scale=weight_scale,
        bias_scale=bias_scale,
    )
    if min_inverse_condition is not None:
        s = np.linalg.svd(problem.f.jacobian(problem.theta), compute_uv=False)
        assume(s[-1] > min_inverse_condition * s[0])
    return problem


def over_problems(min_excess=1, min_inverse_condition=None):
    """Over-parametrized tanh problems (K ≥ QN + ``min_excess``), 1–2 hidden layers, as (f, cost, theta).

    With ``min_inverse_condition`` also σ_min(D) > min_inverse_condition · σ_max(D)
    at θ(0), so that the rank condition (2.1) holds with that margin.
    """
    return networks(
        regime="over", min_excess=min_excess, min_inverse_condition=min_inverse_condition
    ).map(Problem.astuple)
