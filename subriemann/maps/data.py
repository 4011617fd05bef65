"""Training data as in §1.1: inputs x_j, label map ω, class outputs y_ℓ, y_ω.

Indices are 0-based in code: ω maps sample j ∈ {0..N-1} to a class
ℓ ∈ {0..n_classes-1}.  In the paper the number of classes equals the output
dimension Q; here ``class_outputs`` may have any number of rows (classes), each
a vector in R^Q.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    with_context,
)
from subriemann.extras import import_optional
from subriemann.files import read_text

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["TrainingData"]

logger = logging.getLogger(__name__)


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
    classes : tuple
        The class of each ω value, in order: ``classes[ℓ]`` is class ℓ (its
        name for :meth:`classification`, :meth:`from_csv`, :meth:`from_sklearn`;
        0..n_classes−1 otherwise).
    feature_mean, feature_scale : ndarray or None
        The standardisation x ↦ (x − mean)/scale applied to the inputs, if any.
    feature_names : tuple of str
        The input columns' names, when read from a file (else empty).
    """

    def __init__(self, inputs: ArrayLike, labels: ArrayLike, class_outputs: ArrayLike):
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
        self.classes: tuple = tuple(range(n_classes))
        self.feature_mean: np.ndarray | None = None
        self.feature_scale: np.ndarray | None = None
        self.feature_names: tuple = ()

    @classmethod
    def regression(cls, inputs: ArrayLike, targets: ArrayLike) -> TrainingData:
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
    def one_hot(cls, inputs: ArrayLike, labels: ArrayLike, Q: int | None = None) -> TrainingData:
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
    def classification(
        cls,
        inputs: ArrayLike,
        labels: Sequence[Hashable],
        classes: Sequence[Hashable] | None = None,
        *,
        standardize: bool = False,
    ) -> TrainingData:
        """Classification data from labels of any hashable type: ω in the class order, y_ℓ = e_ℓ.

        Parameters
        ----------
        inputs : array-like, shape=[N, M]
        labels : sequence of hashable, length N
            Strings, integers, tuples... sample j belongs to class ``labels[j]``.
        classes : sequence of hashable, optional
            The class order: ℓ-th class ↦ ω = ℓ and y_ℓ = e_ℓ ∈ R^Q, Q = len(classes).
            Default: the distinct labels sorted (numerically for numbers, else
            by their text), so the order does not depend on the row order.
        standardize : bool
            Centre each input coordinate and divide by its standard deviation
            (a constant coordinate is only centred); ``feature_mean`` and
            ``feature_scale`` record the transformation for new inputs.

        Returns
        -------
        TrainingData
            With ``classes`` the class order (a tuple).
        """
        labels = list(labels)
        try:
            distinct = set(labels)
        except TypeError as exc:
            raise InputError(f"labels must be hashable (class names), got {exc}") from exc
        if classes is None:
            classes = _sorted_classes(distinct)
        classes = tuple(classes)
        index = {c: i for i, c in enumerate(classes)}
        if len(index) != len(classes):
            raise InputError(f"classes must be distinct, got {list(classes)}")
        unknown = [j for j, label in enumerate(labels) if label not in index]
        if unknown:
            j = unknown[0]
            raise InputError(
                f"label {labels[j]!r} of sample {j} is not one of the classes {list(classes)}"
            )
        inputs = check_array(inputs, "inputs", ndim=2)
        mean = scale = None
        if standardize:
            inputs, mean, scale = _standardized(inputs)
        data = cls(inputs, [index[label] for label in labels], np.eye(len(classes)))
        data.classes = classes
        data.feature_mean, data.feature_scale = mean, scale
        return data

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str],
        label_column: str | int,
        feature_columns: Sequence[str | int] | None = None,
        *,
        classes: Sequence[Hashable] | None = None,
        standardize: bool = True,
        delimiter: str = ",",
    ) -> TrainingData:
        """Classification data from a CSV file with a header line: features and a label column.

        Read with the ``csv`` module (pandas is not needed).  Labels are the
        label column's text, or integers when every label is one (so ``10`` sorts
        after ``9``); the class order is ``classes`` or the sorted distinct labels
        (:meth:`classification`), recorded in ``data.classes``; class outputs are
        one-hot in that order.  Blank lines are skipped.

        Parameters
        ----------
        path : path-like
            A UTF-8 CSV file whose first line names the columns.
        label_column : str or int
            The label column, by header name or 0-based index.
        feature_columns : sequence of str or int, optional
            The input columns x_j, in this order; default every other column.
        classes : sequence, optional
            The class order (labels as read: text, or integers).
        standardize : bool
            Z-score each feature (default True): tanh networks saturate on raw
            features of large scale (e.g. pixel values 0..16), which makes D
            ill-conditioned.  ``feature_mean``/``feature_scale`` are recorded.
        delimiter : str
            Column separator.

        Raises
        ------
        InputError
            The file is missing, not UTF-8, empty or header-only; a column is
            missing; a row has the wrong number of cells; a feature is not a
            number or is NaN/inf.  The message names the file, the line and the
            column.
        """
        path = Path(path)
        where = f"CSV file {str(path)!r}"
        text = read_text(path, "CSV file", "a CSV file with a header line")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            lines = [(reader.line_num, row) for row in reader if row]
        except csv.Error as exc:
            raise InputError(f"{where}: line {reader.line_num}: {exc}") from exc
        if not lines:
            raise InputError(f"{where} is empty; expected a header line and one row per sample")
        header = [h.strip() for h in lines[0][1]]
        rows = lines[1:]
        if not rows:
            raise InputError(f"{where} has a header but no rows; expected one row per sample")

        def column(key, what):
            if isinstance(key, int) and not isinstance(key, bool):
                if 0 <= key < len(header):
                    return key
                raise InputError(
                    f"{where}: {what} index {key} is out of range; the file has "
                    f"{len(header)} columns {header}"
                )
            if key in header:
                return header.index(key)
            raise InputError(f"{where}: no column {key!r} ({what}); the header is {header}")

        label_at = column(label_column, "label_column")
        if feature_columns is None:
            feature_at = [i for i in range(len(header)) if i != label_at]
        else:
            feature_at = [column(key, "feature column") for key in feature_columns]
        if not feature_at:
            raise InputError(f"{where}: no feature columns besides the label column")
        if label_at in feature_at:
            raise InputError(f"{where}: column {header[label_at]!r} is both label and feature")
        inputs = np.empty((len(rows), len(feature_at)))
        labels = []
        for j, (line, row) in enumerate(rows):
            if len(row) != len(header):
                raise InputError(
                    f"{where}: line {line} has {len(row)} cells; expected {len(header)}, one "
                    f"per header column"
                )
            for k, i in enumerate(feature_at):
                cell = row[i].strip()
                try:
                    value = float(cell)
                except ValueError:
                    value = None
                if value is None or not math.isfinite(value):
                    problem = "is not a number" if value is None else "is not finite"
                    raise InputError(
                        f"{where}: line {line}, column {header[i]!r}: {cell!r} {problem}; "
                        "expected a finite real feature value"
                    )
                inputs[j, k] = value
            labels.append(row[label_at].strip())
        if all(_is_int_text(label) for label in labels):
            labels = [int(label) for label in labels]
        try:
            data = cls.classification(inputs, labels, classes, standardize=standardize)
        except InputError as exc:  # sample j is on line rows[j][0]: name the file
            raise with_context(exc, where) from exc
        data.feature_names = tuple(header[i] for i in feature_at)
        logger.info(
            "%s: N = %d samples, M = %d features, %d classes %s%s",
            where,
            data.N,
            data.M,
            data.n_classes,
            list(data.classes),
            ", standardized" if standardize else "",
        )
        return data

    @classmethod
    def from_sklearn(
        cls,
        name: str,
        *,
        standardize: bool = True,
        n_samples: int | None = None,
        seed: int = 0,
    ) -> TrainingData:
        """One of scikit-learn's bundled classification sets: ``"iris"``, ``"digits"``, ``"wine"``.

        Classes are the data set's ``target_names`` in its own order (iris:
        setosa, versicolor, virginica), class outputs one-hot.  scikit-learn is
        an optional import (geomstats installs it).

        Parameters
        ----------
        name : {"iris", "digits", "wine"}
        standardize : bool
            Z-score each feature (default True; see :meth:`from_csv`).
        n_samples : int, optional
            Keep a random subset of this many samples (digits has 1797 and
            QN = 10·N grows fast), drawn with ``numpy.random.default_rng(seed)``
            and kept in file order.
        seed : int
            Seed of the subset.
        """
        loaders = {"iris": "load_iris", "digits": "load_digits", "wine": "load_wine"}
        if name not in loaders:
            raise InputError(
                f"unknown scikit-learn data set {name!r}; expected one of {sorted(loaders)}"
            )
        datasets = import_optional(
            "sklearn.datasets", extra="sklearn", purpose=f"TrainingData.from_sklearn({name!r})"
        )
        bunch = getattr(datasets, loaders[name])()
        inputs, target = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
        if n_samples is not None:
            n_samples = check_int(n_samples, "n_samples", "the number of samples kept")
            if n_samples < len(target):
                keep = np.sort(np.random.default_rng(seed).permutation(len(target))[:n_samples])
                inputs, target = inputs[keep], target[keep]
        classes = tuple(str(c) for c in bunch.target_names)
        data = cls.classification(
            inputs, [classes[t] for t in target], classes, standardize=standardize
        )
        data.feature_names = tuple(str(c) for c in getattr(bunch, "feature_names", ()))
        return data

    @classmethod
    def blobs(
        cls,
        n_samples: int = 6,
        n_classes: int = 3,
        input_dim: int = 2,
        spread: float = 0.3,
        seed: int | None = 0,
    ) -> TrainingData:
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


def _sorted_classes(distinct: set) -> tuple:
    """Distinct labels in a reproducible order: numbers numerically, anything else by its text."""
    if all(isinstance(c, int | float | np.integer | np.floating) for c in distinct):
        return tuple(sorted(distinct))
    return tuple(sorted(distinct, key=lambda c: (type(c).__name__, str(c))))


def _is_int_text(text: str) -> bool:
    """Whether a CSV cell is an integer written in decimal (``"3"``, ``"-1"``, not ``"3.0"``)."""
    return text.lstrip("+-").isdigit()


def _standardized(inputs: np.ndarray):
    """(inputs − mean)/scale per column, with the mean and the scale (1 for constant columns)."""
    mean = inputs.mean(axis=0)
    scale = inputs.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (inputs - mean) / scale, mean, scale


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
