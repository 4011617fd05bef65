"""The architecture of §1.1: layer sizes (1.3)–(1.5), the parameter layout θ ∈ R^K, forward propagation.

One concept: an :class:`MLP` says what θ is — the list W_1, b_1, ..., W_{L+1}, b_{L+1}
(K = Σ_ℓ M_ℓ(M_{ℓ−1} + 1), (1.5)) — packs and unpacks it, and propagates inputs
through z_ℓ = W_ℓ a_{ℓ−1} + b_ℓ, a_ℓ = σ(z_ℓ) (1.3) to the affine output layer (1.4).
:func:`parse_architecture` is the package's one reader of layer sizes ("2,8,3").
The map θ ↦ x[θ] on training inputs and its derivatives are
:class:`~subriemann.maps.network.NetworkMap`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import isbox

from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_result,
)
from subriemann.maps.activations import Activation, get_activation

__all__ = ["parse_architecture", "MLP"]


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

    Attributes
    ----------
    shapes : list of (int, int)
        (M_ℓ, M_{ℓ-1}), the shape of W_ℓ, for ℓ = 1..L+1.
    offsets : list of (int, int, int)
        (start of W_ℓ, start of b_ℓ, end of b_ℓ) in θ, for ℓ = 1..L+1.
    """

    def __init__(
        self,
        layer_sizes: Iterable[int],
        activation: str | Activation = "tanh",
        allow_nonsmooth: bool = False,
    ):
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
        self.shapes = [
            (self.layer_sizes[i + 1], self.layer_sizes[i]) for i in range(len(self.layer_sizes) - 1)
        ]
        offsets: list[tuple[int, int, int]] = []
        k = 0
        for m_out, m_in in self.shapes:
            offsets.append((k, k + m_out * m_in, k + m_out * m_in + m_out))
            k += m_out * m_in + m_out
        self.offsets = offsets
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
    def count_parameters(layer_sizes: Sequence[int]) -> int:
        """K = Σ_ℓ (M_ℓ M_{ℓ-1} + M_ℓ). Implements (1.5)."""
        return sum(b * a + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:], strict=False))

    def init(
        self,
        seed: int | Sequence[int] | np.random.SeedSequence | np.random.Generator = 0,
        weight_scale: float = 1.0,
        bias_scale: float = 0.1,
    ) -> np.ndarray:
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
            for m_out, m_in in self.shapes
        ]
        theta = self.pack_unchecked(params)
        if not np.all(np.isfinite(theta)):
            raise InputError(
                f"weight_scale = {weight_scale:g} and bias_scale = {bias_scale:g} are so large "
                "that theta overflows float64; expected scales of order 1"
            )
        return theta

    def unpack(self, theta: npt.ArrayLike) -> list[tuple[np.ndarray, np.ndarray]]:
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
        return self.unpack_unchecked(check_array(theta, "theta"))

    def unpack_unchecked(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`unpack` without the checks, for θ the caller has validated (the hot path).

        Public for the closed-form derivatives of :class:`~subriemann.maps.network.NetworkMap`,
        which validate θ once per call.
        """
        return [
            (anp.reshape(theta[s:m], shape), theta[m:e])
            for (s, m, e), shape in zip(self.offsets, self.shapes, strict=True)
        ]

    def pack(self, params: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]]) -> np.ndarray:
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
        if len(params) != len(self.shapes):
            raise ShapeError(f"expected {len(self.shapes)} (W, b) pairs, got {len(params)}")
        checked = []
        for i, (pair, shape) in enumerate(zip(params, self.shapes, strict=True)):
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
        return self.pack_unchecked(checked)

    def pack_unchecked(self, params: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """:meth:`pack` without the checks, for parameters the package computed."""
        theta = anp.concatenate([x for W, b in params for x in (anp.reshape(W, (-1,)), b)])
        return theta if isbox(theta) else np.asarray(theta, dtype=np.float64)

    def forward(self, theta: npt.ArrayLike, inputs: npt.ArrayLike) -> np.ndarray:
        """Outputs x_j^{(L+1)} for inputs of shape ``(N, M)``; returns ``(N, Q)``."""
        inputs = check_array(inputs, "inputs", shape=(None, self.M))
        out = self.propagate(self.unpack(theta), inputs)[0]
        return check_result(out, "the network output", "check the scale of theta and of inputs")

    # -- propagation shared by the map and its derivatives ---------------------
    def propagate(
        self, params: Sequence[tuple[np.ndarray, np.ndarray]], inputs: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Return (output (N,Q), pre-activations z_ℓ, activations a_{ℓ-1} incl. inputs)."""
        a = inputs
        pre: list[np.ndarray] = []
        acts = [inputs]
        for W, b in params[:-1]:
            z = anp.dot(a, W.T) + b
            a = self.activation.fn(z)
            pre.append(z)
            acts.append(a)
        W, b = params[-1]
        return anp.dot(a, W.T) + b, pre, acts

    def __repr__(self) -> str:
        return f"MLP({self.layer_sizes}, activation={self.activation.name!r}, K={self.K})"


def parse_architecture(spec: str | Sequence[int]) -> list[int]:
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
