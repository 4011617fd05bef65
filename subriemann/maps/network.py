"""The network of §1.1 as a smooth map θ ↦ x[θ] ∈ R^{QN}, with closed-form derivatives.

``MLP`` holds the architecture (1.3)–(1.5) and the parameter layout;
``NetworkMap`` evaluates it on N training inputs and is a
:class:`~subriemann.maps.smooth.SmoothMap` whose Jacobian (1.17), Jacobian-vector and
vector-Jacobian products and the directional derivative of the Jacobian are
vectorised forward/backward propagation (no loop over outputs).

Everything is written with ``autograd.numpy`` so it stays differentiable: the
Lie-bracket machinery and geomstats' sub-Riemannian geodesics differentiate
through the closed-form Jacobian.  When the argument is not being traced, the
Jacobian is written straight into one preallocated array (no concatenation
copy), which keeps it within a small factor of the cost of writing QN×K floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from subriemann import scratch
from subriemann.errors import (
    ActivationError,
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_result,
    check_vector,
)
from subriemann.maps.data import TrainingData
from subriemann.maps.smooth import SmoothMap

__all__ = [
    "parse_architecture",
    "Activation",
    "ACTIVATIONS",
    "NONSMOOTH_ACTIVATIONS",
    "get_activation",
    "MLP",
    "NetworkMap",
]


@dataclass(frozen=True)
class Activation:
    """An activation σ with its first and second derivatives.

    ``smooth`` says whether σ′ is Lipschitz (the paper's standing assumption,
    §1.1); the second derivative of a non-smooth activation is its a.e. value.
    """

    name: str
    fn: object
    d1: object
    d2: object
    smooth: bool = True

    def __call__(self, z):
        return self.fn(z)


def _sigmoid(z):
    # tanh form: no overflow for large |z| and autograd-traceable
    return 0.5 * (anp.tanh(0.5 * z) + 1.0)


def _tanh_d1(z):
    t = anp.tanh(z)
    return 1.0 - t * t


def _tanh_d2(z):
    t = anp.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def _sigmoid_d1(z):
    s = _sigmoid(z)
    return s * (1.0 - s)


def _sigmoid_d2(z):
    s = _sigmoid(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _silu_d1(z):
    s = _sigmoid(z)
    return s + z * s * (1.0 - s)


def _silu_d2(z):
    s = _sigmoid(z)
    return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


ACTIVATIONS = {
    "tanh": Activation("tanh", anp.tanh, _tanh_d1, _tanh_d2),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2),
    "softplus": Activation("softplus", lambda z: anp.logaddexp(0.0, z), _sigmoid, _sigmoid_d1),
    "sin": Activation("sin", anp.sin, anp.cos, lambda z: -anp.sin(z)),
    "silu": Activation("silu", lambda z: z * _sigmoid(z), _silu_d1, _silu_d2),
    "identity": Activation(
        "identity", lambda z: z, lambda z: anp.ones_like(z), lambda z: anp.zeros_like(z)
    ),
}
ACTIVATIONS["swish"] = ACTIVATIONS["silu"]

# σ′ is not Lipschitz (not even continuous): the paper's existence/uniqueness
# argument for (1.9) and every second-derivative construction fail for these.
NONSMOOTH_ACTIVATIONS = {
    "relu": Activation(
        "relu",
        lambda z: anp.maximum(z, 0.0),
        lambda z: anp.where(z > 0, 1.0, 0.0),
        lambda z: anp.zeros_like(z),
        smooth=False,
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: anp.where(z > 0, z, 0.01 * z),
        lambda z: anp.where(z > 0, 1.0, 0.01),
        lambda z: anp.zeros_like(z),
        smooth=False,
    ),
    "abs": Activation(
        "abs", anp.abs, lambda z: anp.sign(z), lambda z: anp.zeros_like(z), smooth=False
    ),
    "hardtanh": Activation(
        "hardtanh",
        lambda z: anp.clip(z, -1.0, 1.0),
        lambda z: anp.where(anp.abs(z) < 1.0, 1.0, 0.0),
        lambda z: anp.zeros_like(z),
        smooth=False,
    ),
}


def get_activation(activation, allow_nonsmooth: bool = False) -> Activation:
    """Resolve an activation name (or :class:`Activation`) and enforce smoothness.

    Raises
    ------
    ActivationError
        Unknown name, or a non-smooth activation without ``allow_nonsmooth=True``.
    """
    if isinstance(activation, Activation):
        act = activation
    elif isinstance(activation, str):
        key = activation.lower()
        if key in ACTIVATIONS:
            act = ACTIVATIONS[key]
        elif key in NONSMOOTH_ACTIVATIONS:
            act = NONSMOOTH_ACTIVATIONS[key]
        else:
            raise ActivationError(
                f"unknown activation {activation!r}; expected one of "
                f"{sorted(ACTIVATIONS)} (smooth) or {sorted(NONSMOOTH_ACTIVATIONS)} "
                "(non-smooth, needs allow_nonsmooth=True), or an Activation object"
            )
    else:
        raise ActivationError(
            f"activation must be a name or an Activation, got {type(activation).__name__}"
        )
    if not act.smooth and not allow_nonsmooth:
        raise ActivationError(
            f"activation {act.name!r} has a derivative that is not Lipschitz, which violates the "
            "paper's assumption (§1.1: σ′ Lipschitz, needed for (1.9) to be well posed and for "
            "second derivatives); use a smooth activation such as 'tanh', 'softplus' or 'silu', "
            "or pass allow_nonsmooth=True to accept it explicitly"
        )
    return act


class MLP:
    """Architecture with L hidden layers (1.3) and an affine output layer (1.4).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[M, M_1, ..., M_L, Q]``: input dimension, hidden widths, output dimension.
    activation : str or Activation
        σ of the hidden layers. Smooth names: tanh, sigmoid, softplus, sin, silu
        (swish), identity.
    allow_nonsmooth : bool
        Opt in to ReLU-type activations, which the paper's theory does not cover.

    Notes
    -----
    The parameter vector θ ∈ R^K lists W_1 (row-major), b_1, W_2, b_2, ...,
    W_{L+1}, b_{L+1}; W_ℓ ∈ R^{M_ℓ × M_{ℓ-1}}.
    """

    def __init__(self, layer_sizes, activation="tanh", allow_nonsmooth: bool = False):
        try:
            sizes = list(layer_sizes) if not isinstance(layer_sizes, str | bytes) else None
        except TypeError:  # not a sequence at all (a number, None)
            sizes = None
        if sizes is None or len(sizes) < 2:
            raise InputError(
                f"layer_sizes must list at least [M, Q] (input and output dimensions), got {layer_sizes!r}"
            )
        self.layer_sizes = [check_int(m, f"layer_sizes[{i}]") for i, m in enumerate(sizes)]
        self.activation = get_activation(activation, allow_nonsmooth)
        self._shapes = [
            (self.layer_sizes[i + 1], self.layer_sizes[i]) for i in range(len(self.layer_sizes) - 1)
        ]
        offsets, k = [], 0
        for m_out, m_in in self._shapes:
            offsets.append((k, k + m_out * m_in, k + m_out * m_in + m_out))
            k += m_out * m_in + m_out
        self._offsets = offsets
        self.K = k

    @property
    def L(self) -> int:
        """Number of hidden layers."""
        return len(self.layer_sizes) - 2

    @property
    def M(self) -> int:
        return self.layer_sizes[0]

    @property
    def Q(self) -> int:
        return self.layer_sizes[-1]

    @staticmethod
    def count_parameters(layer_sizes) -> int:
        """K = Σ_ℓ (M_ℓ M_{ℓ-1} + M_ℓ). Implements (1.5)."""
        return sum(b * a + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=False))

    def init(self, seed=0, weight_scale: float = 1.0, bias_scale: float = 0.1):
        """Random θ: W_ℓ ~ N(0, weight_scale²/M_{ℓ-1}), b_ℓ ~ N(0, bias_scale²). Shape ``(K,)``.

        Parameters
        ----------
        seed : int, sequence of int, SeedSequence or Generator
            Seed of ``numpy.random.default_rng``.
        weight_scale, bias_scale : float
            Non-negative scales; θ must stay finite (no overflow to inf).

        Raises
        ------
        InputError
            A seed numpy cannot use, a negative or non-finite scale, or scales so
            large that θ overflows.
        """
        weight_scale = check_real(weight_scale, "weight_scale", nonnegative=True)
        bias_scale = check_real(bias_scale, "bias_scale", nonnegative=True)
        try:
            rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"seed must be a non-negative integer, a sequence of them, a SeedSequence or a "
                f"Generator, got {seed!r} ({exc})"
            ) from exc
        params = [
            (
                rng.normal(0.0, weight_scale / np.sqrt(m_in), size=(m_out, m_in)),
                rng.normal(0.0, bias_scale, size=m_out),
            )
            for m_out, m_in in self._shapes
        ]
        theta = self._pack(params)
        if not np.all(np.isfinite(theta)):
            raise InputError(
                f"weight_scale = {weight_scale:g} and bias_scale = {bias_scale:g} are so large "
                "that theta overflows float64; expected scales of order 1"
            )
        return theta

    def unpack(self, theta):
        """θ ↦ [(W_1, b_1), ..., (W_{L+1}, b_{L+1})] (views; autograd-traceable).

        Raises
        ------
        ShapeError, InputError
            θ is not a finite real vector of shape (K,).
        """
        if tuple(anp.shape(theta)) != (self.K,):
            raise ShapeError(
                f"theta must have shape (K,) = ({self.K},), got {tuple(anp.shape(theta))}"
            )
        return self._unpack(check_array(theta, "theta"))

    def _unpack(self, theta):
        """:meth:`unpack` without the checks, for θ the caller has validated (the hot path)."""
        return [
            (anp.reshape(theta[s:m], shape), theta[m:e])
            for (s, m, e), shape in zip(self._offsets, self._shapes, strict=True)
        ]

    def pack(self, params):
        """[(W_1, b_1), ...] ↦ θ, shape ``(K,)``; inverse of :meth:`unpack`.

        Raises
        ------
        ShapeError, InputError
            Wrong number of layers, wrong shapes, or entries that are not finite reals.
        """
        try:
            params = list(params)
        except TypeError as exc:
            raise InputError(
                f"params must be a sequence of (W, b) pairs, got {type(params).__name__}"
            ) from exc
        if len(params) != len(self._shapes):
            raise ShapeError(f"expected {len(self._shapes)} (W, b) pairs, got {len(params)}")
        checked = []
        for i, (pair, shape) in enumerate(zip(params, self._shapes, strict=True)):
            try:
                W, b = pair
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"layer {i + 1}: expected a pair (W, b), got {type(pair).__name__}"
                ) from exc
            W, b = check_array(W, f"W_{i + 1}"), check_array(b, f"b_{i + 1}")
            if tuple(anp.shape(W)) != shape or tuple(anp.shape(b)) != (shape[0],):
                raise ShapeError(
                    f"layer {i + 1}: expected W of shape {shape} and b of shape ({shape[0]},), "
                    f"got {tuple(anp.shape(W))} and {tuple(anp.shape(b))}"
                )
            checked.append((W, b))
        return self._pack(checked)

    def _pack(self, params):
        """:meth:`pack` without the checks, for parameters the package computed."""
        theta = anp.concatenate([x for W, b in params for x in (anp.reshape(W, (-1,)), b)])
        return theta if isbox(theta) else np.asarray(theta, dtype=np.float64)

    def forward(self, theta, inputs):
        """Outputs x_j^{(L+1)} for inputs of shape ``(N, M)``; returns ``(N, Q)``."""
        inputs = check_array(inputs, "inputs", shape=(None, self.M))
        out = self._forward(self.unpack(theta), inputs)[0]
        return check_result(out, "the network output", "check the scale of theta and of inputs")

    # -- propagation shared by the map and its derivatives ---------------------
    def _forward(self, params, inputs):
        """Return (output (N,Q), pre-activations z_ℓ, activations a_{ℓ-1} incl. inputs)."""
        a, pre, acts = inputs, [], [inputs]
        for W, b in params[:-1]:
            z = anp.dot(a, W.T) + b
            a = self.activation.fn(z)
            pre.append(z)
            acts.append(a)
        W, b = params[-1]
        return anp.dot(a, W.T) + b, pre, acts

    def __repr__(self) -> str:
        return f"MLP({self.layer_sizes}, activation={self.activation.name!r}, K={self.K})"


class NetworkMap(SmoothMap):
    """The network evaluated on N inputs: f : R^K → R^{QN}, θ ↦ x[θ] (1.6)–(1.8).

    Parameters
    ----------
    mlp : MLP
    inputs : array-like, shape=[N, M], or TrainingData
        The training inputs x_j^{(0)}.

    Notes
    -----
    Output rows are sample-major: entry j*Q + q is component q of x_j.  The
    Jacobian uses backward factors B_ℓ = ∂x/∂z_ℓ ∈ R^{N×Q×M_ℓ} with
    B_{L+1} = 1 and B_ℓ = (B_{ℓ+1} W_{ℓ+1}) ⊙ σ′(z_ℓ); the W_ℓ-block of D is
    B_ℓ ⊗ a_{ℓ-1} and the b_ℓ-block is B_ℓ.  ``jacobian_derivative`` propagates
    the tangents (dz_ℓ, da_ℓ, dB_ℓ) of the same recursion, which needs σ″.
    """

    def __init__(self, mlp: MLP, inputs):
        if not isinstance(mlp, MLP):
            raise InputError(f"mlp must be an MLP, got {type(mlp).__name__}")
        if isinstance(inputs, TrainingData):
            inputs = inputs.inputs
        inputs = check_array(inputs, "inputs", ndim=2)
        if inputs.shape[0] == 0:
            raise ShapeError("inputs is empty; expected at least one training input (N >= 1)")
        if inputs.shape[1] != mlp.M:
            raise ShapeError(
                f"inputs have dimension {inputs.shape[1]} but the network's input layer has "
                f"M = {mlp.M}; expected inputs of shape (N, {mlp.M})"
            )
        self.mlp = mlp
        self.inputs = np.array(inputs, dtype=np.float64)
        self.N = inputs.shape[0]
        self.Q = mlp.Q
        super().__init__(mlp.K, mlp.Q * self.N)

    def _matrix_result(self, out, what):
        # _assemble has proven the matrix finite (or raised): no second pass over it
        return out

    def _value(self, theta):
        return anp.reshape(self.mlp._forward(self.mlp._unpack(theta), self.inputs)[0], (-1,))

    def _backward_factors(self, params, pre, dparams=None, dpre=None):
        """Backward factors B_ℓ = ∂x/∂z_ℓ and, along a tangent dθ, their derivatives dB_ℓ.

        Returns two lists over ℓ = 1..L+1 of arrays (N, Q, M_ℓ): [B_ℓ] and
        [dB_ℓ] (all ``None`` without a tangent; dB_{L+1} = 0 is ``None``).
        """
        act = self.mlp.activation
        N, Q = self.N, self.Q
        tangent = dparams is not None
        Bs, dBs = [anp.broadcast_to(np.eye(Q), (N, Q, Q))], [None]
        # C = B_{ℓ+1} W_{ℓ+1}; for ℓ = L it is W_{L+1} for every sample, so the
        # product with B_{L+1} = 1 is skipped.
        C = params[-1][0][None]
        dC = dparams[-1][0][None] if tangent else None
        for layer in range(self.mlp.L, 0, -1):
            z = pre[layer - 1]
            s1 = act.d1(z)[:, None, :]
            B = C * s1
            dB = dC * s1 + C * (act.d2(z) * dpre[layer - 1])[:, None, :] if tangent else None
            Bs.append(B)
            dBs.append(dB)
            if layer > 1:
                # one (NQ × M_ℓ)·(M_ℓ × M_{ℓ-1}) product instead of N batched small ones
                W = params[layer - 1][0]
                C = _rows_times(B, W)
                if tangent:
                    dC = _rows_times(dB, W) + _rows_times(B, dparams[layer - 1][0])
        return Bs[::-1], dBs[::-1]

    def _assemble(self, layers, what: str = "the assembled (QN, K) matrix"):
        """Lay out a (QN, K) matrix in the θ layout from per-layer factors; NumericalError if it overflows.

        ``layers[ℓ]`` is ``(terms, bias)``: the W_ℓ-block is Σ B ⊗ a over the
        ``(B, a)`` pairs in ``terms`` (B (N, Q, M_ℓ), a (N, M_{ℓ-1})), the
        b_ℓ-block is ``bias`` (N, Q, M_ℓ); ``None`` factors are zero.
        """
        layers = [([(B, a) for B, a in terms if a is not None], bias) for terms, bias in layers]
        D = self._assemble_unchecked(layers)
        # Every entry is a sum of products B·a or a bias entry, so the bound
        # Σ max|B|·max|a| (computed with the same rounded, monotone operations)
        # proves D finite from the small factors, O(NQ·ΣM_ℓ) instead of a pass
        # over the QN×K result; only when the bound overflows is D itself scanned.
        # A sum over all blocks (not a max) so that a NaN factor propagates.
        bound = 0.0
        for terms, bias in layers:
            bound += sum(_absmax(B) * _absmax(a) for B, a in terms)
            bound += 0.0 if bias is None else _absmax(bias)
        if not np.isfinite(bound):
            check_result(D, what, "check the scale of theta, of the direction and of the inputs")
        return D

    def _assemble_unchecked(self, layers):
        """:meth:`_assemble` without the finiteness proof (``layers`` without ``None`` inputs)."""
        N, Q, K = self.N, self.Q, self.dim_in
        traced = any(
            isbox(x) for terms, bias in layers for x in (bias, *(y for t in terms for y in t))
        )
        if traced:
            pieces = []
            for (terms, bias), (n_out, n_in) in zip(layers, self.mlp._shapes, strict=True):
                outer = [
                    anp.reshape(B[:, :, :, None] * a[:, None, None, :], (N, Q, -1))
                    for B, a in terms
                ]
                pieces.append(
                    sum(outer[1:], outer[0]) if outer else anp.zeros((N, Q, n_out * n_in))
                )
                pieces.append(anp.zeros((N, Q, n_out)) if bias is None else bias)
            return anp.reshape(anp.concatenate(pieces, axis=2), (N * Q, K))
        # Not traced: write every block in place, once; with the compiled
        # kernel when it is built (ASSEMBLY == "c"), else with numpy.
        if ASSEMBLY == "c":
            return _assemble_compiled(layers, self.mlp._offsets, N * Q, K)
        D = np.empty((N, Q, K))
        for (terms, bias), (s, m, e) in zip(layers, self.mlp._offsets, strict=True):
            if not terms:
                D[:, :, s:m] = 0.0
            for k, (B, a) in enumerate(terms):
                write_outer(D[:, :, s:m], B, a, accumulate=k > 0)
            D[:, :, m:e] = 0.0 if bias is None else bias
        return D.reshape(N * Q, K)

    def _value_and_jacobian(self, theta):
        params = self.mlp._unpack(theta)
        out, pre, acts = self.mlp._forward(params, self.inputs)
        Bs, _ = self._backward_factors(params, pre)
        layers = [([(B, a)], B) for B, a in zip(Bs, acts, strict=True)]
        return anp.reshape(out, (-1,)), self._assemble(layers, "the Jacobian D[theta]")

    def _jacobian(self, theta):
        return self._value_and_jacobian(theta)[1]

    def _tangents(self, params, dparams, pre, acts):
        """Forward tangents (dz_ℓ, da_ℓ) along dθ, and dx; da_0 = ``None`` (inputs are fixed)."""
        act = self.mlp.activation
        da = None
        dpre, dacts = [], [da]
        for (W, _), (dW, db), z, a in zip(params[:-1], dparams[:-1], pre, acts[:-1], strict=True):
            dz = anp.dot(a, dW.T) + db
            if da is not None:
                dz = dz + anp.dot(da, W.T)
            da = act.d1(z) * dz
            dpre.append(dz)
            dacts.append(da)
        (W, _), (dW, db) = params[-1], dparams[-1]
        dx = anp.dot(acts[-1], dW.T) + db
        if da is not None:
            dx = dx + anp.dot(da, W.T)
        return dpre, dacts, dx

    def _jvp(self, theta, v):
        params, dparams = self.mlp._unpack(theta), self.mlp._unpack(v)
        _, pre, acts = self.mlp._forward(params, self.inputs)
        return anp.reshape(self._tangents(params, dparams, pre, acts)[2], (-1,))

    def _vjp(self, theta, w):
        params = self.mlp._unpack(theta)
        _, pre, acts = self.mlp._forward(params, self.inputs)
        delta = anp.reshape(w, (self.N, self.Q))
        grads = []
        for layer in range(len(params) - 1, -1, -1):
            W = params[layer][0]
            grads.append((anp.dot(delta.T, acts[layer]), anp.sum(delta, axis=0)))
            if layer > 0:
                delta = anp.dot(delta, W) * self.mlp.activation.d1(pre[layer - 1])
        return self.mlp._pack(grads[::-1])

    def _jacobian_derivative(self, theta, v):
        # d/dt of D's blocks B_ℓ ⊗ a_{ℓ-1} and B_ℓ: dB_ℓ ⊗ a_{ℓ-1} + B_ℓ ⊗ da_{ℓ-1} and dB_ℓ
        params, dparams = self.mlp._unpack(theta), self.mlp._unpack(v)
        _, pre, acts = self.mlp._forward(params, self.inputs)
        dpre, dacts, _ = self._tangents(params, dparams, pre, acts)
        Bs, dBs = self._backward_factors(params, pre, dparams, dpre)
        layers = [
            ([(B, da)] if dB is None else [(dB, a), (B, da)], dB)
            for B, dB, a, da in zip(Bs, dBs, acts, dacts, strict=True)
        ]
        return self._assemble(layers, "the Jacobian derivative d/dt D[theta + t v]")

    def _hessian_vector_blocks(self, theta, V, W, block_bytes):
        """Closed form of :meth:`SmoothMap.hessian_vector_blocks`, batched over directions.

        With the backward factors B_ℓ, their tangents dB_ℓ along v_a and the
        forward tangents da_ℓ, the rows of dD[v_a] are dB_ℓ ⊗ a_{ℓ-1} + B_ℓ ⊗ da_{ℓ-1}
        (W_ℓ-block) and dB_ℓ (b_ℓ-block).  Contracting with w_b over the outputs
        (j, q) first — β_b[j] = Σ_q w_b[j, q] B_ℓ[j, q], dβ_ab[j] = Σ_q w_b[j, q] dB_ℓ[j, q] —
        leaves a sum over the N samples:

            out[a, b, W_ℓ] = Σ_j dβ_ab[j] ⊗ a_{ℓ-1}[j] + β_b[j] ⊗ da_{ℓ-1, a}[j],

        one matrix product with inner dimension 2N per direction a and block of
        rows of W_ℓ: N·n_v·n_w·K multiply-adds, against QN·n_v·n_w·K for
        contracting QN matrices dD[v_a], and no QN×K matrix is formed.
        """
        if isbox(theta) or isbox(V) or isbox(W):
            yield from super()._hessian_vector_blocks(theta, V, W, block_bytes)
            return
        mlp, act = self.mlp, self.mlp.activation
        N, Q, L = self.N, self.Q, mlp.L
        n_v, n_w = V.shape[1], W.shape[1]
        if n_v == 0 or n_w == 0:
            yield 0, self.dim_in, np.zeros((n_v, n_w, self.dim_in))
            return
        params = mlp._unpack(np.asarray(theta, dtype=np.float64))
        _, pre, acts = mlp._forward(params, self.inputs)
        Bs, _ = self._backward_factors(params, pre)
        Vt = np.ascontiguousarray(V.T)
        # Tangent arrays keep the sample axis j first and the direction axis a next
        # to the unit axis, so each step is one matrix product over all samples and
        # directions instead of n_v·N small ones.
        dWs = [
            Vt[:, s:m].reshape(n_v, *shape)
            for (s, m, _), shape in zip(mlp._offsets, mlp._shapes, strict=True)
        ]
        dbs = [Vt[:, m:e] for _, m, e in mlp._offsets]
        # forward tangents along every v_a: dz_ℓ, da_ℓ of shape (N, n_v, M_ℓ)
        dpre, dacts, da = [], [None], None
        for layer in range(L):
            (W_l, _), z, a = params[layer], pre[layer], acts[layer]
            n_out, n_in = mlp._shapes[layer]
            dz = a @ dWs[layer].transpose(2, 0, 1).reshape(n_in, n_v * n_out)
            dz = dz.reshape(N, n_v, n_out) + dbs[layer]
            if da is not None:
                dz += (da.reshape(N * n_v, n_in) @ W_l.T).reshape(N, n_v, n_out)
            da = act.d1(z)[:, None, :] * dz
            dpre.append(dz)
            dacts.append(da)
        # tangents of the backward factors, dB_ℓ of shape (N, Q, n_v, M_ℓ); dB_{L+1} = 0
        dBs = [None] * (L + 1)
        C, dC = params[-1][0][None], dWs[-1].transpose(1, 0, 2)[None]  # B_{L+1}W_{L+1} = W_{L+1}
        for layer in range(L, 0, -1):
            z, n = pre[layer - 1], mlp._shapes[layer - 1][0]
            curv = act.d2(z)[:, None, :] * dpre[layer - 1]  # σ″(z_ℓ) dz_ℓ, (N, n_v, M_ℓ)
            dB = dC * act.d1(z)[:, None, None, :] + C[:, :, None, :] * curv[:, None]
            dBs[layer - 1] = dB
            if layer > 1:
                W_l, B = params[layer - 1][0], Bs[layer - 1]
                n_in = W_l.shape[1]
                dC = (dB.reshape(-1, n) @ W_l).reshape(N, Q, n_v, n_in)
                dW_t = dWs[layer - 1].transpose(1, 0, 2).reshape(n, -1)
                dC += (B.reshape(-1, n) @ dW_t).reshape(N, Q, n_v, n_in)
                C = B @ W_l
        w = np.asarray(W, dtype=np.float64).reshape(N, Q, n_w)
        wT = np.ascontiguousarray(w.transpose(0, 2, 1))  # (N, n_w, Q)
        # Work arrays come from a reused workspace (subriemann.scratch), and each
        # block of rows is computed from its own slice of dB, so the working set is
        # O(block_bytes) whatever K and n_v·n_w, and stays in cache.
        rows_of = [
            max(1, min(n_out, block_bytes // (8 * n_v * n_w * n_in))) for n_out, n_in in mlp._shapes
        ]
        with scratch.borrow() as work:
            for layer, (s, m, e) in enumerate(mlp._offsets):
                n_out, n_in = mlp._shapes[layer]
                dB, a, da = dBs[layer], acts[layer], dacts[layer]
                if dB is None and da is None:  # a single affine layer: f is linear in θ
                    yield s, e, np.zeros((n_v, n_w, e - s))
                    continue
                # W_ℓ rows o0..o1 for all (a, b): per a, X_a ((b, o) × k) @ Y_a (k × M_{ℓ-1})
                # with the k = terms·N samples stacked, X[a, b, o] = [dβ_ab[:, o], β_b[:, o]]
                # and Y_a = [a_{ℓ-1}; da_{ℓ-1, a}].
                k = N * ((dB is not None) + (da is not None))
                Y = work.get("Y", (n_v, k, n_in))
                if dB is not None:
                    Y[:, :N] = a
                if da is not None:
                    Y[:, k - N :] = da.transpose(1, 0, 2)
                    # β[j, b, o] = Σ_q w_b[j, q] B[j, q, o]; B_{L+1} = 1 gives β = w
                    beta = wT if layer == L else wT @ Bs[layer]
                rows = rows_of[layer]
                for o0 in range(0, n_out, rows):
                    o1 = min(o0 + rows, n_out)
                    n_o = o1 - o0
                    X = work.get("X", (n_v, n_w, n_o, k))
                    if dB is not None:
                        # dβ[j, b, a, o] = Σ_q w_b[j, q] dB[j, q, a, o]: N products
                        dB_o = work.get("dB", (N, Q, n_v, n_o))
                        dB_o[...] = dB[..., o0:o1]
                        dbeta = work.get("dbeta", (N, n_w, n_v * n_o))
                        np.matmul(wT, dB_o.reshape(N, Q, n_v * n_o), out=dbeta)
                        X[..., :N] = dbeta.reshape(N, n_w, n_v, n_o).transpose(2, 1, 3, 0)
                    if da is not None:
                        X[..., k - N :] = beta[:, :, o0:o1].transpose(1, 2, 0)
                    block = work.get("block", (n_v, n_w * n_o, n_in))
                    np.matmul(X.reshape(n_v, -1, k), Y, out=block)
                    yield s + o0 * n_in, s + o1 * n_in, block.reshape(n_v, n_w, -1)
                if dB is None:
                    yield m, e, np.zeros((n_v, n_w, n_out))
                else:  # b_ℓ-block: Σ_j dβ_ab[j] = Σ_{j,q} w_b[j, q] dB[j, q, a], one product
                    bias = w.reshape(N * Q, n_w).T @ dB.reshape(N * Q, n_v * n_out)
                    yield (
                        m,
                        e,
                        np.ascontiguousarray(bias.reshape(n_w, n_v, n_out).transpose(1, 0, 2)),
                    )

    # -- the empirical neural tangent kernel Θ = D Dᵀ, structured (issue 14) -------------
    #: Θ = DDᵀ has a closed form that never touches K (:meth:`ntk`); the kernel route
    #: (:mod:`subriemann.geometry.kernel`) asks for it.
    has_structured_ntk = True

    def ntk_block_bytes(self, block_samples: int) -> int:
        """Memory model of one Θ block of ``block_samples`` samples against another, in bytes.

        Two blocks' forward/backward factors (activations a_ℓ and pre-activations,
        b·ΣM_ℓ each, and backward factors B_ℓ, b·Q·ΣM_ℓ) and two (bQ)×(bQ) arrays
        (the block and the product of one layer):
        8·[2b·(Q·Σ_{ℓ≥1}M_ℓ + 2·Σ_{ℓ≥0}M_ℓ) + 2·(bQ)²].
        """
        b, Q = int(block_samples), self.Q
        sizes = self.mlp.layer_sizes
        return 8 * (2 * b * (Q * sum(sizes[1:]) + 2 * sum(sizes[:-1])) + 2 * (b * Q) ** 2)

    def ntk_bytes(self, block_samples: int) -> int:
        """Memory model of :meth:`ntk` in bytes: Θ (QN)², all blocks' factors, one block's work.

        8·[(QN)² + N·(Q·Σ_{ℓ≥1}M_ℓ + 2·Σ_{ℓ≥0}M_ℓ) + 2·(bQ)²]: O(QN² + QN·Σ M_ℓ),
        independent of K.
        """
        b, Q, N = int(block_samples), self.Q, self.N
        sizes = self.mlp.layer_sizes
        factors = N * (Q * sum(sizes[1:]) + 2 * sum(sizes[:-1]))
        return 8 * ((Q * N) ** 2 + factors + 2 * (b * Q) ** 2)

    def ntk_partition(self, *, block_samples=None, memory_budget=None) -> list[tuple[int, int]]:
        """The sample blocks ``[(start, stop), ...]`` in which :meth:`ntk` computes Θ.

        ``block_samples`` fixes the block size; otherwise ``memory_budget`` (bytes)
        gives the largest b whose :meth:`ntk_bytes` fits; with neither, b = N
        unless one block's (bQ)² work arrays would exceed 256 MiB.

        Raises
        ------
        InputError
            A budget that cannot hold Θ and one block of one sample, or a bad size.
        """
        N = self.N
        if block_samples is not None:
            b = check_int(block_samples, "block_samples")
            if memory_budget is not None and self.ntk_bytes(b) > memory_budget:
                raise InputError(
                    f"block_samples = {b} needs ~{self.ntk_bytes(b)} bytes for the NTK "
                    f"(model NetworkMap.ntk_bytes), above memory_budget = {memory_budget}"
                )
        elif memory_budget is not None:
            budget = check_int(memory_budget, "memory_budget")
            if self.ntk_bytes(1) > budget:
                raise InputError(
                    f"memory_budget = {budget} bytes cannot hold one block of the NTK: Θ "
                    f"({self.dim_out}×{self.dim_out}) and the factors need "
                    f"{self.ntk_bytes(1)} bytes with one sample per block "
                    "(model NetworkMap.ntk_bytes); raise the budget or use the distributed "
                    "kernel (subriemann.geometry.kernel.distributed_ntk), whose workers hold "
                    "one block each"
                )
            b = 1
            while b < N and self.ntk_bytes(min(N, 2 * b)) <= budget:
                b = min(N, 2 * b)
        else:
            b = N
            while b > 1 and 16 * (b * self.Q) ** 2 > 1 << 28:
                b = (b + 1) // 2
        b = min(b, N)
        return [(s, min(s + b, N)) for s in range(0, N, b)]

    def _ntk_factors(self, params, inputs):
        """(activations a_0..a_L, backward factors B_1..B_{L+1}) of the samples ``inputs``.

        The same forward/backward propagation as :meth:`jacobian`, on a block of
        samples (a NetworkMap over those inputs), so that any process computing a
        block from the same inputs gets the same bits.
        """
        sub = NetworkMap(self.mlp, inputs)
        _, pre, acts = self.mlp._forward(params, sub.inputs)
        Bs, _ = sub._backward_factors(params, pre)
        return acts, Bs

    def _ntk_block_from(self, fac_rows, fac_cols, symmetric: bool):
        """Θ[(j,q),(k,r)] for the samples of two factor sets; see :meth:`ntk` for the formula."""
        (acts_r, Bs_r), (acts_c, Bs_c) = fac_rows, fac_cols
        Q, L = self.Q, self.mlp.L
        n_r, n_c = acts_r[0].shape[0], acts_c[0].shape[0]
        # output layer ℓ = L+1: B_{L+1} = 1, so its term is δ_qr (⟨a_L,j, a_L,k⟩ + 1)
        out = np.zeros((n_r, Q, n_c, Q))
        gram = acts_r[L] @ acts_c[L].T + 1.0
        idx = np.arange(Q)
        out[:, idx, :, idx] = gram
        for layer in range(L - 1, -1, -1):  # hidden layers ℓ = layer + 1
            B_r = np.ascontiguousarray(Bs_r[layer]).reshape(n_r * Q, -1)
            B_c = np.ascontiguousarray(Bs_c[layer]).reshape(n_c * Q, -1)
            term = (B_r @ B_c.T).reshape(n_r, Q, n_c, Q)
            term *= (acts_r[layer] @ acts_c[layer].T + 1.0)[:, None, :, None]
            out += term
        out = out.reshape(n_r * Q, n_c * Q)
        if symmetric:  # a diagonal block: make it exactly symmetric, as Θ is
            out = 0.5 * (out + out.T)
        return out

    def ntk(self, theta, *, block_samples=None, memory_budget=None):
        r"""The empirical neural tangent kernel Θ = D Dᵀ (QN×QN), never forming D.

        Structured route (the "structured derivatives" of Novak et al., *Fast Finite
        Width NTK*, ICML 2022), derived from (1.3)–(1.17).

        **Derivation.**  Write z_{ℓ,j} = W_ℓ a_{ℓ−1,j} + b_ℓ with a_{0,j} = x_j^{(0)},
        a_{ℓ,j} = σ(z_{ℓ,j}) (1.3) and x_j = z_{L+1,j} (1.4).  θ enters z_{ℓ,j}
        only through W_ℓ and b_ℓ, so by the chain rule the row (j, q) of D (1.17) is,
        with the back-propagated sensitivities δ_{ℓ,jq} = ∂x_{jq}/∂z_{ℓ,j} ∈ R^{M_ℓ}
        (δ_{L+1,jq} = e_q, δ_{ℓ,jq} = σ′(z_{ℓ,j}) ⊙ W_{ℓ+1}ᵀ δ_{ℓ+1,jq}: the factors
        B_ℓ[j, q] of :meth:`jacobian`),

            ∂x_{jq}/∂W_ℓ[o, i] = δ_{ℓ,jq}[o] a_{ℓ−1,j}[i],   ∂x_{jq}/∂b_ℓ[o] = δ_{ℓ,jq}[o].

        Θ[(j,q),(k,r)] = Σ_θ-coordinates D[(j,q), ·] D[(k,r), ·] splits over the
        parameter blocks; the W_ℓ-block sums Σ_{o,i} δ_{ℓ,jq}[o] a_{ℓ−1,j}[i]
        δ_{ℓ,kr}[o] a_{ℓ−1,k}[i] = ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩⟨a_{ℓ−1,j}, a_{ℓ−1,k}⟩ (the sum
        over (o, i) factors), and the b_ℓ-block adds ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩.  Hence

            Θ = Σ_{ℓ=1}^{L+1} Θ_ℓ,  Θ_ℓ[(j,q),(k,r)] = ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩ · (⟨a_{ℓ−1,j}, a_{ℓ−1,k}⟩ + 1),

        and for the output layer ⟨δ_{L+1,jq}, δ_{L+1,kr}⟩ = δ_qr.  Each Θ_ℓ is a
        (QN×M_ℓ)(M_ℓ×QN) product times an N×N Gram matrix of activations: the cost
        is ~2(QN)²·Σ M_ℓ + 2N²·Σ M_{ℓ−1} instead of 2(QN)²·K for D Dᵀ, a factor of
        the layer width fewer operations, and no QN×K array exists.

        Parameters
        ----------
        theta : array-like, shape=[K]
        block_samples : int, optional
            Samples per block (Θ is computed block by block; see :meth:`ntk_partition`).
        memory_budget : int, optional
            Bytes the computation may use (model :meth:`ntk_bytes`); sets the block size.

        Returns
        -------
        Theta : ndarray, shape=[QN, QN]
            Symmetric positive semi-definite, sample-major like D's rows.

        Notes
        -----
        Every block (I, J) is computed by the same code from the inputs of I and J
        alone (:meth:`ntk_block`), so a distributed computation
        (:func:`subriemann.geometry.kernel.distributed_ntk`) gives the same bits.
        Forming Θ squares the condition number of D: solve with it only with the
        refinement of :class:`subriemann.geometry.kernel.KernelFactorization`.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        blocks = self.ntk_partition(block_samples=block_samples, memory_budget=memory_budget)
        self.counts["ntk"] += 1
        params = self.mlp._unpack(np.asarray(theta, dtype=np.float64))
        factors = [self._ntk_factors(params, self.inputs[s:e]) for s, e in blocks]
        Q = self.Q
        out = np.empty((self.dim_out, self.dim_out))
        for i, (s_i, e_i) in enumerate(blocks):
            for j in range(i, len(blocks)):
                s_j, e_j = blocks[j]
                block = self._ntk_block_from(factors[i], factors[j], symmetric=i == j)
                out[s_i * Q : e_i * Q, s_j * Q : e_j * Q] = block
                if i != j:
                    out[s_j * Q : e_j * Q, s_i * Q : e_i * Q] = block.T
        return check_result(out, "the NTK Theta = D D^T", "check the scale of theta and inputs")

    def ntk_block(self, theta, rows, cols):
        """One block Θ[rows, cols] of :meth:`ntk` for two sample ranges, shape (|rows|Q, |cols|Q).

        Parameters
        ----------
        theta : array-like, shape=[K]
        rows, cols : tuple (start, stop)
            Sample ranges (not output indices); equal ranges give a symmetric block.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        (s_r, e_r), (s_c, e_c) = (tuple(int(v) for v in r) for r in (rows, cols))
        if not (0 <= s_r < e_r <= self.N and 0 <= s_c < e_c <= self.N):
            raise InputError(
                f"rows and cols must be sample ranges (start, stop) within 0..N = {self.N}, "
                f"got {rows!r} and {cols!r}"
            )
        params = self.mlp._unpack(np.asarray(theta, dtype=np.float64))
        fac_r = self._ntk_factors(params, self.inputs[s_r:e_r])
        same = (s_r, e_r) == (s_c, e_c)
        fac_c = fac_r if same else self._ntk_factors(params, self.inputs[s_c:e_c])
        block = self._ntk_block_from(fac_r, fac_c, symmetric=same)
        return check_result(block, "a block of the NTK", "check the scale of theta and inputs")

    def __repr__(self) -> str:
        return f"NetworkMap({self.mlp!r}, N={self.N}, QN={self.dim_out})"


def _absmax(x) -> float:
    """max |x| of a (possibly traced) array; NaN if x holds a NaN."""
    return float(np.max(np.abs(getval(x))))


def _rows_times(B, W):
    """(N, Q, m) · (m, n) -> (N, Q, n) as one matrix product over the NQ rows."""
    N, Q, m = B.shape
    return anp.reshape(anp.dot(anp.reshape(B, (N * Q, m)), W), (N, Q, -1))


# The W_ℓ-block of D is the outer product B_ℓ[j, q, o] a_{ℓ-1}[j, i], stored
# contiguously in (o, i) for every output row (j, q).  A broadcast multiply
# runs one ufunc inner loop per (j, q, o), only M_{ℓ-1} long, and that loop
# overhead, not the memory traffic, dominates for hidden layers.  Copying B
# (broadcast along i) into the block and then scaling it in place by a tiled
# along o makes the multiply one contiguous loop of length M_ℓ M_{ℓ-1} per row.
# Temporaries are built per chunk of samples so they stay small: large
# short-lived arrays make glibc map and fault in fresh pages on every call.
# Measured on the bench_jacobian sizes: 1.3–3× faster hidden-layer blocks.
#
# Even so, copy + in-place scale passes over the block twice and still pays a
# ufunc call per chunk: at (M, width, Q, N, L) = (4, 64, 3, 32, 2) the 64×64
# W_2 block alone costs ~2.3–2.6× the memory floor (np.empty + fill of all of
# D) and the Jacobian ~5×.  The compiled kernel subriemann._kernels (built by
# setup.py when a C compiler is there) writes each block in one pass: 0.04–0.05
# ms for that W_2 block (floor ~0.055 ms), the Jacobian ~2.7× the floor and
# jacobian_derivative 5× instead of 11× (benchmarks/bench_jacobian.py).  Its
# results are bitwise those of this numpy code, which stays the fallback and
# the reference (tests/test_kernels.py compares the two).
_OUTER_CHUNK_BYTES = 1 << 20
# Below this many rows o (e.g. the output layer, M_{L+1} = Q) the plain
# broadcast multiply is faster.
_OUTER_MIN_ROWS = 8


def write_outer(out, B, a, accumulate=False, *, min_rows=None, chunk_bytes=None):
    """out[j, q, o*n_in + i] (+)= B[j, q, o] a[j, i] in place; ``out`` is (N, Q, n_out*n_in).

    The numpy block writer of :meth:`NetworkMap.jacobian` and
    :meth:`NetworkMap.jacobian_derivative`, and the fallback of the compiled kernel
    ``subriemann._kernels.outer``.  Public as a **testing hook**: it is the
    reference the kernel is compared with bit for bit (tests/test_kernels.py).

    Parameters
    ----------
    out : ndarray, shape=[N, Q, n_out * n_in]
        Written (or, with ``accumulate``, added to) in place; its last axis contiguous.
    B : ndarray, shape=[N, Q, n_out]
    a : ndarray, shape=[N, n_in]
    accumulate : bool
        Add the outer product to ``out`` instead of overwriting it.
    min_rows, chunk_bytes : int, optional
        Override the module's ``_OUTER_MIN_ROWS`` (below it, one broadcast
        multiply) and ``_OUTER_CHUNK_BYTES`` (samples per chunk of the tiled path),
        to force either path in a test.  The result does not depend on them.
    """
    min_rows = _OUTER_MIN_ROWS if min_rows is None else min_rows
    chunk_bytes = _OUTER_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    N, Q, n_out = B.shape
    n_in = a.shape[1]
    view = out.reshape(N, Q, n_out, n_in)  # splits the contiguous last axis: a view
    if n_out < min_rows:
        if accumulate:
            view += B[:, :, :, None] * a[:, None, None, :]
        else:
            np.multiply(B[:, :, :, None], a[:, None, None, :], out=view)
        return
    step = max(1, chunk_bytes // (Q * n_out * n_in * 8))
    for j in range(0, N, step):
        rows = slice(j, j + step)
        tiled = np.tile(a[rows], n_out)[:, None, :]
        if accumulate:
            product = np.repeat(B[rows], n_in, axis=2)
            product *= tiled
            out[rows] += product
        else:
            np.copyto(view[rows], B[rows, :, :, None])
            out[rows] *= tiled


def _load_kernels():
    """The compiled block writers, or ``None`` (not built, or SUBRIEMANN_PURE_NUMPY set)."""
    import os

    if os.environ.get("SUBRIEMANN_PURE_NUMPY", "").strip() not in ("", "0"):
        return None
    try:
        from subriemann import _kernels
    except ImportError:  # built without a C compiler: optional extension skipped
        return None
    return _kernels


_KERNELS = _load_kernels()
#: Which code writes the untraced Jacobian blocks: "c" (subriemann._kernels) or
#: "numpy" (:func:`write_outer`; forced by SUBRIEMANN_PURE_NUMPY=1 at import).
ASSEMBLY = "numpy" if _KERNELS is None else "c"


def _rows(B):
    """(N, Q, n) -> the C-contiguous (NQ, n) matrix the kernel takes (a view when possible)."""
    return np.ascontiguousarray(B).reshape(-1, B.shape[-1])


@contextmanager
def assembly(kind: str, *, min_rows=None, chunk_bytes=None):
    """Testing hook: write the untraced Jacobian blocks with ``kind`` inside a ``with`` block.

    ``kind`` is ``"c"`` (``subriemann._kernels``, imported here even when
    SUBRIEMANN_PURE_NUMPY=1 disabled it at import; ImportError if it is not
    built) or ``"numpy"`` (:func:`write_outer`).  ``min_rows`` and
    ``chunk_bytes`` set :func:`write_outer`'s path thresholds for the block (see
    there).  :data:`ASSEMBLY` and the thresholds are restored on exit.  It
    rebinds module state: not for concurrent use.
    """
    global ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES
    if kind not in ("c", "numpy"):
        raise InputError(f"kind must be 'c' or 'numpy', got {kind!r}")
    saved = ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES
    try:
        if kind == "c" and _KERNELS is None:
            from subriemann import _kernels as kernels

            _KERNELS = kernels
        ASSEMBLY = kind
        if min_rows is not None:
            _OUTER_MIN_ROWS = check_int(min_rows, "min_rows")
        if chunk_bytes is not None:
            _OUTER_CHUNK_BYTES = check_int(chunk_bytes, "chunk_bytes")
        yield
    finally:
        ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES = saved


def assemble(f: NetworkMap, layers):
    """Testing hook: ``f``'s untraced layout of a (QN, K) matrix from per-layer factors.

    ``layers[ℓ]`` is ``(terms, bias)`` for layer ℓ = 1..L+1: the W_ℓ-block is
    Σ B ⊗ a over the ``(B, a)`` pairs in ``terms`` (B (N, Q, M_ℓ), a (N, M_{ℓ-1}))
    and the b_ℓ-block is ``bias`` (N, Q, M_ℓ); ``None`` factors are zero.  The
    routine behind :meth:`NetworkMap.jacobian` (one term per layer) and
    :meth:`NetworkMap.jacobian_derivative` (two), with the current
    :data:`ASSEMBLY`; public so that tests can reach the branches for more terms.
    """
    return f._assemble(layers)


def _assemble_compiled(layers, offsets, R, K):
    """Untraced ``NetworkMap._assemble`` with subriemann._kernels; returns D (R, K)."""
    D = np.empty((R, K))
    for (terms, bias), (s, m, e) in zip(layers, offsets, strict=True):
        if not terms:
            D[:, s:m] = 0.0
        elif len(terms) <= 2:  # the kernel sums one or two outer products
            _KERNELS.outer(D, s, *(x for B, a in terms for x in (_rows(B), _rows(a))))
        else:
            N = terms[0][1].shape[0]
            for k, (B, a) in enumerate(terms):
                write_outer(D.reshape(N, R // N, K)[:, :, s:m], B, a, accumulate=k > 0)
        # bias and zero blocks are plain copies: numpy's strided copy is as fast as
        # a C loop here (measured), so they stay numpy
        if bias is None:
            D[:, m:e] = 0.0
        else:
            D.reshape(bias.shape[0], -1, K)[:, :, m:e] = bias
    return D


def parse_architecture(spec) -> list[int]:
    """Layer sizes from ``"2,8,3"``, ``"2-8-3"`` or a sequence of ints: the package's one parser.

    A string lists positive integers separated by commas or by hyphens, one
    separator throughout (``"2,8-3"`` is refused, as are empty parts, signs,
    decimals and letters: a typo must not silently become another network).
    Spaces around the numbers are ignored.

    Returns
    -------
    list of int
        ``[M, M_1, ..., M_L, Q]`` (at least two positive integers).

    Raises
    ------
    InputError
        The spec is not of this form; the message shows it and what is expected.
    """
    expected = (
        "expected at least two positive integers separated by ',' or by '-' (one separator "
        "throughout), e.g. '2,8,3' or '2-8-3' (input dimension, hidden widths, output dimension)"
    )
    if isinstance(spec, str):
        # one separator per string: with commas, a '-' can only be a sign or a typo
        parts = [p.strip() for p in spec.split("," if "," in spec else "-")]
        bad = [p for p in parts if not (p.isascii() and p.isdigit() and int(p) >= 1)]
        if bad or len(parts) < 2:
            what = f"{bad[0]!r} is not a positive integer" if bad else "it has fewer than two sizes"
            raise InputError(f"cannot read architecture {spec!r}: {what}; {expected}")
        return [int(p) for p in parts]
    if not isinstance(spec, Sequence) or len(spec) < 2:
        raise InputError(f"cannot read architecture {spec!r}; {expected}, or a list of them")
    return [check_int(m, f"architecture {list(spec)!r}: size {i}") for i, m in enumerate(spec)]
