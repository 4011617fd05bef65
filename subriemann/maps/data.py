"""Training data as in §1.1: inputs x_j, label map ω, class outputs y_ℓ, y_ω.

Indices are 0-based in code: ω maps sample j ∈ {0..N-1} to a class
ℓ ∈ {0..n_classes-1}.  In the paper the number of classes equals the output
dimension Q; here ``class_outputs`` may have any number of rows (classes), each
a vector in R^Q.
"""

from __future__ import annotations

import numpy as np

from subriemann.errors import InputError, ShapeError, check_array, check_int, check_real

__all__ = ["TrainingData"]


class TrainingData:
    """Labelled training data of §1.1.

    Parameters
    ----------
    inputs : array-like, shape=[N, M]
        Training inputs x_j^{(0)} ∈ R^M.
    labels : array-like of int, shape=[N]
        The label map ω (1.1), 0-based: sample j belongs to class ``labels[j]``.
    class_outputs : array-like, shape=[n_classes, Q]
        Class outputs y_ℓ ∈ R^Q, one row per class (the paper has n_classes = Q).

    Attributes
    ----------
    N, M, Q : int
    target : ndarray, shape=[Q*N]
        y_ω = (y_ω(1)ᵀ, ..., y_ω(N)ᵀ)ᵀ stacked sample-major. Implements (1.2).
    class_counts : ndarray, shape=[n_classes]
        N_i, the number of inputs in class i (§1.1).
    """

    def __init__(self, inputs, labels, class_outputs):
        inputs = check_array(inputs, "inputs", ndim=2)
        if inputs.shape[0] == 0 or inputs.shape[1] == 0:
            raise ShapeError(
                f"inputs is empty (shape {inputs.shape}); expected at least one sample of dimension M >= 1"
            )
        class_outputs = check_array(class_outputs, "class_outputs", ndim=2)
        if class_outputs.shape[0] == 0 or class_outputs.shape[1] == 0:
            raise ShapeError(
                f"class_outputs is empty (shape {class_outputs.shape}); expected shape (n_classes, Q)"
            )
        labels_arr = _as_labels(labels)
        if labels_arr.shape != (inputs.shape[0],):
            raise ShapeError(
                f"labels must have shape (N,) = ({inputs.shape[0]},), got {labels_arr.shape}"
            )
        labels_arr = _label_map(labels_arr)
        n_classes = class_outputs.shape[0]
        out = (labels_arr < 0) | (labels_arr >= n_classes)
        if np.any(out):
            j = int(np.flatnonzero(out)[0])
            raise InputError(
                f"label {int(labels_arr[j])} of sample {j} is out of range; expected ω(j) in "
                f"[0, {n_classes}) (one row of class_outputs per class)"
            )
        self.inputs = np.array(inputs, dtype=np.float64)
        self.labels = labels_arr.astype(np.int64)
        self.class_outputs = np.array(class_outputs, dtype=np.float64)
        self._targets = self.class_outputs[self.labels]

    @classmethod
    def regression(cls, inputs, targets) -> TrainingData:
        """Data with an arbitrary target y_j ∈ R^Q per sample (each sample its own class).

        Parameters
        ----------
        inputs : array-like, shape=[N, M]
        targets : array-like, shape=[N, Q]
        """
        targets = check_array(targets, "targets", ndim=2)
        inputs = check_array(inputs, "inputs", ndim=2)
        if targets.shape[0] != inputs.shape[0]:
            raise ShapeError(
                f"targets has {targets.shape[0]} rows but inputs has {inputs.shape[0]}; "
                "expected one target per input"
            )
        return cls(inputs, np.arange(inputs.shape[0]), targets)

    @classmethod
    def one_hot(cls, inputs, labels, Q: int | None = None) -> TrainingData:
        """Classification data whose class outputs are the unit vectors y_ℓ = e_ℓ ∈ R^Q."""
        labels = _as_labels(labels)
        if Q is None:
            # Q from the labels: only a valid label map determines it (the
            # constructor would report bad labels, but after building np.eye(Q))
            omega = _label_map(labels)
            if omega.size and omega.min() < 0:
                j = int(np.argmin(omega))
                raise InputError(
                    f"label {int(omega[j])} of sample {j} is negative; expected labels ω(j) >= 0"
                )
            Q = int(omega.max()) + 1 if omega.size else 0
            source = "the labels imply Q = max(labels) + 1"
        else:
            Q = check_int(Q, "Q", "the output dimension")
            source = "Q"
        if Q > _MAX_ONE_HOT_Q:
            raise InputError(
                f"{source} = {Q} classes, more than the {_MAX_ONE_HOT_Q} for which the Q×Q "
                "one-hot class outputs are built; expected labels numbered 0..n_classes-1"
            )
        return cls(inputs, labels, np.eye(Q))

    @classmethod
    def blobs(cls, n_samples=6, n_classes=3, input_dim=2, spread=0.3, seed=0) -> TrainingData:
        """A small classification set as in §1.1: clusters, labels ω, one-hot class outputs y_ℓ.

        Class ℓ is centred at the ℓ-th of ``n_classes`` points evenly spaced on
        the unit circle of the first two input coordinates (evenly on [−1, 1] if
        ``input_dim`` = 1); sample j has label ω(j) = j mod n_classes (1.1),
        input centre_ω(j) + spread·ξ_j with ξ_j ~ N(0, 1) i.i.d. per coordinate,
        and class output y_ℓ = e_ℓ ∈ R^Q with Q = n_classes, so y_ω is (1.2).
        This is the data of ``subriemann demo`` and of ``kind = "blobs"`` configs.

        Parameters
        ----------
        n_samples : int
            N ≥ 1.
        n_classes : int
            Number of classes = Q ≥ 1.
        input_dim : int
            M ≥ 1.
        spread : float
            Standard deviation ≥ 0 of the inputs around their class centre.
        seed : int or numpy Generator seed
            Seed of ``numpy.random.default_rng`` for the ξ_j.

        Returns
        -------
        TrainingData
            N = n_samples, M = input_dim, Q = n_classes.
        """
        n_samples = check_int(n_samples, "n_samples")
        n_classes = check_int(n_classes, "n_classes")
        input_dim = check_int(input_dim, "input_dim")
        spread = check_real(spread, "spread", "the clusters' radius", nonnegative=True)
        rng = np.random.default_rng(seed)
        labels = np.arange(n_samples) % n_classes
        centres = np.zeros((n_classes, input_dim))
        if input_dim == 1:
            centres[:, 0] = np.linspace(-1.0, 1.0, n_classes) if n_classes > 1 else 0.0
        else:
            angles = 2.0 * np.pi * np.arange(n_classes) / n_classes
            centres[:, 0], centres[:, 1] = np.cos(angles), np.sin(angles)
        inputs = centres[labels] + spread * rng.normal(size=(n_samples, input_dim))
        return cls(inputs, labels, np.eye(n_classes))

    @property
    def N(self) -> int:
        return self.inputs.shape[0]

    @property
    def M(self) -> int:
        return self.inputs.shape[1]

    @property
    def Q(self) -> int:
        return self.class_outputs.shape[1]

    @property
    def n_classes(self) -> int:
        return self.class_outputs.shape[0]

    @property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_classes)

    @property
    def target(self) -> np.ndarray:
        """y_ω stacked sample-major, shape ``(Q*N,)``. Implements (1.2)/(1.8)."""
        return self._targets.reshape(-1).copy()

    def __repr__(self) -> str:
        return f"TrainingData(N={self.N}, M={self.M}, Q={self.Q}, n_classes={self.n_classes})"


# one_hot builds the Q×Q identity as class outputs: beyond this Q (2 GiB of
# float64) the labels are almost surely not numbered 0..n_classes-1.
_MAX_ONE_HOT_Q = 1 << 14


def _as_labels(labels) -> np.ndarray:
    """``labels`` as an array; ragged or unreadable sequences raise InputError."""
    try:
        return np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"labels must be a 1-D sequence of integers (the label map ω), got a "
            f"{type(labels).__name__} numpy cannot read as an array ({exc})"
        ) from exc


def _label_map(labels: np.ndarray) -> np.ndarray:
    """ω as int64; integer-valued floats are accepted, anything else raises InputError."""
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise InputError("labels must be integers (the label map ω), got non-integer values")
        # beyond int64 the cast would wrap (1e300 -> -2**63): report the value itself
        huge = np.abs(labels) >= 2.0**63
        if np.any(huge):
            j = int(np.flatnonzero(huge)[0])
            raise InputError(
                f"label {labels[j]:g} of sample {j} is out of range; expected integer labels "
                "ω(j) in [0, n_classes)"
            )
        return labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise InputError(f"labels must be integers (the label map ω), got dtype {labels.dtype}")
    if labels.dtype.kind == "u" and labels.size and labels.max() >= 2**63:  # would wrap in int64
        j = int(np.argmax(labels))
        raise InputError(
            f"label {int(labels[j])} of sample {j} is out of range; expected ω(j) in [0, n_classes)"
        )
    return labels.astype(np.int64)
