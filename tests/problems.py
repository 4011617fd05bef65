"""Random training problems shared by the test modules (``from problems import ...``).

pytest's default "prepend" import mode puts this folder on ``sys.path`` (there is
no ``tests/__init__.py``), so the test modules import it by its bare name.
Constructed cases with known answers live in :mod:`subriemann.diagnostics.landscape`.
"""

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import subriemann as sr


def network_problem(seed, sizes=(2, 5, 1), N=3, duplicate=False):
    """Random regression data (N samples) and a tanh network at ``net.init(seed)``.

    Inputs and targets are standard normal, drawn in that order from
    ``default_rng(seed)``; with ``duplicate`` input N − 1 is set equal to input 0
    (two equal rows of D per output: rank D ≤ Q(N − 1) < QN).  The network is
    ``f.mlp``.

    Returns
    -------
    f : NetworkMap
    cost : L2Cost
    theta : ndarray, shape=[K]
    """
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(N, sizes[0]))
    if duplicate:
        inputs[-1] = inputs[0]
    data = sr.TrainingData.regression(inputs, rng.normal(size=(N, sizes[-1])))
    net = sr.MLP(list(sizes), activation="tanh")
    f = sr.NetworkMap(net, data.inputs)
    return f, sr.L2Cost.from_data(data), net.init(seed)


@st.composite
def over_problems(draw, min_excess=1, min_inverse_condition=None):
    """Over-parametrized tanh problems (K ≥ QN + ``min_excess``), 1–2 hidden layers.

    With ``min_inverse_condition`` also σ_min(D) > min_inverse_condition · σ_max(D)
    at θ(0), so that the rank condition (2.1) holds with that margin.
    """
    M, Q = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    hidden = draw(st.lists(st.integers(3, 6), min_size=1, max_size=2))
    N = draw(st.integers(2, 4))
    sizes = [M, *hidden, Q]
    assume(sr.MLP.count_parameters(sizes) >= Q * N + min_excess)
    f, cost, theta = network_problem(draw(st.integers(0, 10_000)), sizes, N)
    if min_inverse_condition is not None:
        s = np.linalg.svd(f.jacobian(theta), compute_uv=False)
        assume(s[-1] > min_inverse_condition * s[0])
    return f, cost, theta
