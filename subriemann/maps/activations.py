"""Activations σ of the hidden layers (1.3) with σ′ and σ″, and the smoothness the paper assumes.

One concept: an :class:`Activation` bundles σ, σ′, σ″ (written with ``autograd.numpy``
so the closed-form derivatives of :mod:`subriemann.maps.network` stay traceable) and
says whether σ′ is Lipschitz — the standing assumption of §1.1 under which (1.9) is
well posed and the second derivatives exist.  :func:`get_activation` resolves a name
and refuses the non-smooth ones unless asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np

from subriemann.errors import ActivationError

__all__ = ["Activation", "ACTIVATIONS", "NONSMOOTH_ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """An activation σ with its first and second derivatives.

    ``smooth`` says whether σ′ is Lipschitz (the paper's standing assumption,
    §1.1); the second derivative of a non-smooth activation is its a.e. value.
    σ, σ′ and σ″ act elementwise on arrays (an autograd box, untyped, stands in for one
    when the network is traced).
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    d1: Callable[[np.ndarray], np.ndarray]
    d2: Callable[[np.ndarray], np.ndarray]
    smooth: bool = True

    def __call__(self, z: np.ndarray) -> np.ndarray:
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


def get_activation(activation: str | Activation, allow_nonsmooth: bool = False) -> Activation:
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
