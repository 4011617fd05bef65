"""The ambient metric of a distribution: its Cholesky factor, metric coordinates, orthonormal spans.

A :class:`~subriemann.distributions.frame.Distribution` measures "orthonormal" and
"⊥" with an ambient metric G(p) (Euclidean by default).  Every computation is done in
the coordinates y = Lᵀx of its Cholesky factor G = LLᵀ, where the metric is
Euclidean; the functions here move vectors into and out of those coordinates
(``L = None`` stands for the Euclidean metric, where both are the identity).
A solve with Lᵀ is used instead of forming L⁻ᵀ: triangular solves are backward
stable, an explicit inverse is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
from autograd.tracer import getval

from subriemann.errors import InputError, check_array
from subriemann.linalg import RankReport

__all__ = [
    "FrameSpan",
    "check_metric",
    "cholesky_factor",
    "metric_factor",
    "to_metric",
    "from_metric",
    "to_metric_rows",
    "from_metric_rows",
    "AmbientMetric",
]

#: The ``metric`` argument of a distribution (None aside): an SPD matrix (dim, dim), or
#: p ↦ G(p), an SPD matrix at each point.
AmbientMetric: TypeAlias = npt.ArrayLike | Callable[[np.ndarray], npt.ArrayLike]


class FrameSpan(NamedTuple):
    """An orthonormal basis of a subspace of T_pR^n and the rank decision that sized it."""

    basis: np.ndarray  # (dim, rank), orthonormal for the distribution's metric
    report: RankReport


def cholesky_factor(G: npt.ArrayLike, dim: int) -> np.ndarray:
    """Lower-triangular L with G = LLᵀ for a symmetric positive definite G of shape (dim, dim).

    Raises
    ------
    InputError
        G is not a symmetric (dim, dim) matrix, or not positive definite.
    """
    G = np.asarray(getval(G), dtype=np.float64)
    if G.shape != (dim, dim) or not np.allclose(G, G.T, rtol=1e-12, atol=0.0):
        raise InputError(f"metric must be a symmetric ({dim}, {dim}) matrix, got shape {G.shape}")
    try:
        return np.linalg.cholesky(G)
    except np.linalg.LinAlgError as exc:
        raise InputError("metric must be positive definite (Cholesky failed)") from exc


def check_metric(
    metric: AmbientMetric | None, dim: int
) -> np.ndarray | Callable[[np.ndarray], npt.ArrayLike] | None:
    """The ``metric`` argument of a distribution, validated: None, a callable, or an SPD matrix.

    A constant matrix is checked (symmetry, positive definiteness) once, here; a
    callable p ↦ G(p) is checked at every point by :func:`metric_factor`.
    """
    if metric is None or callable(metric):
        return metric
    G = np.array(check_array(metric, "metric", shape=(dim, dim)))
    cholesky_factor(G, dim)
    return G


def metric_factor(
    metric: np.ndarray | Callable[[np.ndarray], npt.ArrayLike] | None, p: npt.ArrayLike, dim: int
) -> np.ndarray | None:
    """Cholesky factor L of G(p) = LLᵀ for a metric from :func:`check_metric`, or None if Euclidean."""
    if metric is None:
        return None
    G = metric(getval(p)) if callable(metric) else metric
    return cholesky_factor(G, dim)


def to_metric(L: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """Column vectors x ↦ y = Lᵀx into metric coordinates."""
    return X if L is None else L.T @ X


def from_metric(L: np.ndarray | None, Y: np.ndarray) -> np.ndarray:
    """Column vectors y ↦ x = L⁻ᵀy out of metric coordinates (inverse of :func:`to_metric`)."""
    return Y if L is None else np.linalg.solve(L.T, Y)


def to_metric_rows(L: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Row vectors v ↦ (Lᵀv)ᵀ = vᵀL along the last axis."""
    return rows if L is None else rows @ L


def from_metric_rows(L: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Row vectors y ↦ (L⁻ᵀy)ᵀ along the last axis (inverse of :func:`to_metric_rows`)."""
    if L is None:
        return rows
    flat = rows.reshape(-1, rows.shape[-1])
    return np.linalg.solve(L.T, flat.T).T.reshape(rows.shape)
