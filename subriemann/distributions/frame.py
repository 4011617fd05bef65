"""Distributions Δ ⊂ TR^n, Lie brackets and the Frobenius test of (2.31).

A distribution is given by a *frame*: a function p ↦ F(p), shape ``(dim, r)``,
whose columns X_1(p), ..., X_r(p) span Δ_p (geomstats' ``SubRiemannianMetric``
convention).  The frame may be redundant (r > rank Δ_p); ranks are always
decided by the package's rank policy (:mod:`subriemann.linalg`).

Lie brackets
------------
For vector fields X, Y on R^n, [X, Y](p) = DY(p)X(p) − DX(p)Y(p) (the
commutator of the derivations, SymPy's ``Commutator``).  :func:`lie_bracket`
computes it exactly with autograd (forward mode, with reverse-over-reverse as a
fallback for primitives without a forward rule such as ``solve``);
:func:`lie_bracket_fd` uses central differences and returns an error estimate
from two step sizes, for fields that autograd cannot trace.

For the frame, one directional derivative of the whole frame per column is
enough: T[i, j] = DX_j(p)X_i(p) is column j of d/dt F(p + tX_i), and
[X_i, X_j] = T[i, j] − T[j, i].

Curvature and the Frobenius test
--------------------------------
Δ is integrable (holonomic) iff [Δ, Δ] ⊂ Δ (Frobenius, (2.31)).  The failure is
measured by the curvature 2-form Ω_p(u, w) = Π^⊥[U, W](p), U, W sections of Δ
with U(p) = u, W(p) = w, and Π^⊥ the orthoprojector onto the complement of Δ_p.
Ω is tensorial: for functions a, b, Π^⊥[aU, bW] = ab Π^⊥[U, W] because the
extra terms a(Ub)W − b(Wa)U lie in Δ.  So Ω_p is computed from the frame's
brackets at p alone: with an orthonormal basis e_a = Σ_i X_i(p) C_ia of Δ_p,
Ω_ab = Σ_ij C_ia C_jb Π^⊥[X_i, X_j](p).  Expressed in that basis it does not
depend on how the frame is scaled or mixed (X ↦ X·A(p)), only on Δ and on the
metric used for "orthonormal" and "⊥" (Euclidean, or the ``metric`` argument).

Networks: the brackets of the pullback bundle are vertical
----------------------------------------------------------
For a network f : R^K → R^{QN} with rank D = QN, the fibre of V = f*TN is
range Dᵀ (§2.3) and the frame u_i = Pen[D]e_i (i = 1..QN) is h-orthonormal.

*Claim.* Every bracket [u_i, u_j] is vertical (lies in ker D = V^⊥), hence
Ω(u_i, u_j) = [u_i, u_j], and V is integrable near θ iff all [u_i, u_j]
vanish there.

*Proof.* D u_i = D Pen[D] e_i = e_i by (2.3), so u_i is f-related to the
constant coordinate field e_i of R^{QN}.  Brackets of f-related fields are
f-related: D[θ][u_i, u_j](θ) = [e_i, e_j](f(θ)) = 0.  Explicitly, differentiating
D u_j = e_j along u_i gives dD[u_i]u_j + D·(∇_{u_i}u_j) = 0, with ∇_{u_i}u_j =
(Du_j)u_i the flat derivative; subtract the same with i, j swapped and use the
symmetry dD[u_i]u_j = dD[u_j]u_i = d²f(u_i, u_j) of the second derivative.  So [u_i, u_j] ∈ ker D = (range Dᵀ)^⊥ = V^⊥ and Π^⊥[u_i, u_j] =
[u_i, u_j].  Since the u_i span V, tensoriality gives Ω ≡ 0 on V iff every
[u_i, u_j] = 0, and Ω ≡ 0 is the Frobenius condition (2.31).  ∎

Differentiating u_j = Dᵀ(DDᵀ)⁻¹e_j, every term except dD[u_i]ᵀ(DDᵀ)⁻¹e_j lies
in range Dᵀ, so [u_i, u_j] = (1 − P)(dD[u_i]ᵀ(DDᵀ)⁻¹e_j − dD[u_j]ᵀ(DDᵀ)⁻¹e_i):
second derivatives of the network (``jacobian_derivative``), no derivative of
a pseudo-inverse.  ``PullbackBundle(f).distribution()`` passes exactly these
brackets to :class:`Distribution`, and for the Frobenius test the same terms
directly in an orthonormal basis (``curvature_terms``; see
:meth:`subriemann.geometry.bundles.BundleFiber.curvature_terms`).  For QN = 1 there is one field and
[u_1, u_1] = 0: V is always integrable (§2.4: rank-one bundles always are).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import autograd.numpy as anp
import numpy as np
from autograd.differential_operators import make_jvp, make_jvp_reversemode
from autograd.tracer import getval, isbox

from subriemann import scratch
from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    SubriemannError,
    check_array,
    check_finite,
    check_int,
    check_real,
    with_context,
)
from subriemann.geometry.spaces import euclidean
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, numerical_rank, resolve_policy

__all__ = [
    "Distribution",
    "FrobeniusReport",
    "FrobeniusVerdict",
    "FrameSpan",
    "lie_bracket",
    "lie_bracket_fd",
]

_EPS = float(np.finfo(np.float64).eps)
# Safety factor on the round-off bound of the Frobenius tolerance (see
# Distribution._tolerance); 100 covers the constants hidden in "≲ eps·κ²·n".
_ROUNDOFF_SAFETY = 100.0
# Safety factor on a central-difference error estimate (it is itself an estimate).
_FD_SAFETY = 10.0
# A verdict whose tolerance exceeds this is reported as inconclusive.
_CONCLUSIVE_TOLERANCE = 1e-2
# |Ω|² = |d|² − |Eᵀd|² is trusted when it keeps at least this fraction of |d|²:
# its relative error is then ≤ (relative error of the two sums, ~1e-13)/1e-4,
# far below any tolerance of the test; below it Ω is formed explicitly.
_CANCELLATION = 1e-4


# --------------------------------------------------------------------------
# Lie brackets of vector fields
# --------------------------------------------------------------------------
def _directional_derivative(fn, p, v):
    """d/dt fn(p + t v) at t = 0 by autograd: forward mode, else reverse-over-reverse.

    autograd has no forward rule for some primitives (``linalg.solve``...);
    the reverse-mode jvp trick covers them at about 1.5× the cost.
    """
    with warnings.catch_warnings():
        # a constant field is a legitimate vector field, not a tracing mistake
        warnings.filterwarnings("ignore", message="Output seems independent of input")
        try:
            return make_jvp(fn)(p)(v)[1]
        except NotImplementedError:
            return make_jvp_reversemode(fn)(p)(v)


def _evaluate_field(X, p, dim, name):
    value = X(p)
    if tuple(anp.shape(value)) != (dim,):
        raise ShapeError(
            f"vector field {name} returned shape {tuple(anp.shape(value))} at a point of R^{dim}; "
            f"expected ({dim},)"
        )
    return value


def _check_point(p, name="point p"):
    if isbox(p):
        if len(anp.shape(p)) != 1:
            raise ShapeError(f"{name} must be 1-D, got shape {tuple(anp.shape(p))}")
        return p
    return check_array(p, name, ndim=1)


def lie_bracket(X, Y, p):
    """Lie bracket [X, Y](p) = DY(p)X(p) − DX(p)Y(p), exactly by automatic differentiation.

    Implements the bracket of the Frobenius condition (2.31).

    Parameters
    ----------
    X, Y : callable
        Vector fields q ↦ X(q), shape ``(dim,)``, written with ``autograd.numpy``.
    p : array-like, shape=[dim]
        Base point.

    Returns
    -------
    bracket : ndarray, shape=[dim]
        Traceable itself, so brackets nest: ``lie_bracket(X, lambda q:
        lie_bracket(X, Y, q), p)`` is [X, [X, Y]](p).

    Raises
    ------
    InputError
        If a field is not autograd-traceable (use :func:`lie_bracket_fd`).
    """
    p = _check_point(p)
    dim = anp.shape(p)[0]
    Xp = _evaluate_field(X, p, dim, "X")
    Yp = _evaluate_field(Y, p, dim, "Y")
    try:
        out = _directional_derivative(Y, p, Xp) - _directional_derivative(X, p, Yp)
        # a field built with numpy.array([...]) around traced entries returns an
        # object array: autograd did not see through it
        if np.asarray(getval(out)).dtype.kind == "O":
            raise TypeError("a field returned an object array (numpy.array of traced values)")
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            f"could not differentiate the vector fields with autograd ({type(exc).__name__}: "
            f"{exc}); write them with autograd.numpy, or use lie_bracket_fd for fields that "
            "cannot be traced"
        ) from exc
    return check_finite(out, "[X, Y](p)")


def _default_step(p, v):
    """Step h with |h v|_∞ = eps^(1/3) max(1, |p|_∞): balances O(h²) truncation and eps/h round-off."""
    vmax = float(np.max(np.abs(v))) if np.size(v) else 0.0
    if vmax == 0.0:
        return 1.0
    return _EPS ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(p)))) / vmax


def _central_difference(fn, p, v, h=None):
    """(d/dt fn(p + t v), error estimate) by central differences at steps h and h/2.

    The value returned is the h/2 difference; with D(h) = D + a h² + O(h⁴),
    |D(h) − D(h/2)|/3 estimates its truncation error (Richardson), to which the
    round-off eps·|fn|/(h/2) is added.  Errors are componentwise, same shape as fn.
    """
    v = np.asarray(v, dtype=np.float64)
    if not np.any(v):
        zero = np.zeros_like(np.asarray(fn(p), dtype=np.float64))
        return zero, zero
    h = check_real(_default_step(p, v) if h is None else h, "step h", positive=True)
    vals = [np.asarray(fn(p + s * v), dtype=np.float64) for s in (h, -h, h / 2, -h / 2)]
    d_h = (vals[0] - vals[1]) / (2 * h)
    d_half = (vals[2] - vals[3]) / h
    size = np.max([np.max(np.abs(x)) for x in vals])
    err = np.abs(d_h - d_half) / 3.0 + _EPS * size / (h / 2)
    return d_half, err


def lie_bracket_fd(X, Y, p, h=None):
    """[X, Y](p) by central differences, with an error estimate, for fields autograd cannot trace.

    Implements the bracket of (2.31) numerically: DY(p)X(p) and DX(p)Y(p) are
    central differences along X(p) and Y(p) at steps h and h/2.

    Parameters
    ----------
    X, Y : callable
        Vector fields q ↦ shape ``(dim,)`` (any numpy code).
    p : array-like, shape=[dim]
    h : float, optional
        Step along each direction (the point moves by h·X(p)).  Default: the
        displacement is eps^(1/3)·max(1, |p|_∞) in the ∞-norm.

    Returns
    -------
    bracket : ndarray, shape=[dim]
        The h/2 central-difference value.
    error : float
        Estimated 2-norm error: Richardson estimate |D(h) − D(h/2)|/3 of the
        truncation error plus the round-off eps·|field|/h.
    """
    p = check_array(p, "point p", ndim=1)
    dim = p.shape[0]
    Xp = np.asarray(_evaluate_field(X, p, dim, "X"), dtype=np.float64)
    Yp = np.asarray(_evaluate_field(Y, p, dim, "Y"), dtype=np.float64)
    dY, eY = _central_difference(Y, p, Xp, h)
    dX, eX = _central_difference(X, p, Yp, h)
    bracket = dY - dX
    if not np.all(np.isfinite(bracket)):
        raise NumericalError("central differences of the vector fields produced NaN/inf at p")
    return bracket, float(np.linalg.norm(eY + eX))


def _bracket_terms(X, terms):
    """Terms of [X, Y] for Y = Σ_l s_l y_l: Σ_l s_l (Dy_l·X − DX·y_l), each a traceable field.

    Keeping the terms separate (instead of one field for the bracket) lets the
    growth vector size the round-off of nested brackets.
    """
    out = []
    for s, y in terms:
        out.append((s, lambda q, y=y: _directional_derivative(y, q, X(q))))
        out.append((-s, lambda q, y=y: _directional_derivative(X, q, y(q))))
    return out


def _congruence(C, B):
    """Σ_ij C_ia C_jb B[i, j, :] for B of shape (r, r, n): the change of frame of a bracket array.

    Two tensordots (BLAS) instead of one three-operand einsum, which would loop
    over r⁴n terms.
    """
    half = np.tensordot(C, B, axes=(0, 0))  # (a, j, n)
    return np.tensordot(C, half, axes=(0, 1)).transpose(1, 0, 2)  # (b, a, n) -> (a, b, n)


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------
class FrameSpan(NamedTuple):
    """An orthonormal basis of a subspace of T_pR^n and the rank decision that sized it."""

    basis: np.ndarray  # (dim, rank), orthonormal for the distribution's metric
    report: RankReport


@dataclass(frozen=True)
class FrobeniusReport:
    """Outcome of the Frobenius test (2.31) at one point.

    Attributes
    ----------
    point : ndarray, shape=[dim]
    rank : int
        Numerical rank of Δ_p (``rank_report`` holds the evidence).
    curvature_norm : float
        Hilbert–Schmidt norm of Ω_p : Λ²Δ_p → Δ_p^⊥ in orthonormal bases,
        (Σ_{a<b} |Ω_ab|²)^½.  Units of 1/length of the coordinates.
    scale : float
        √2 × the HS norm of the bracket terms T_ab = De_b·e_a in the same basis
        (the size of the frame's derivative along Δ; see
        :meth:`Distribution.frobenius_defect`).  0 when the frame is constant.
    relative_defect : float
        curvature_norm / scale, in [0, 1]; 0 when scale = 0.
    tolerance : float
        The verdict is ``relative_defect <= tolerance``.
    tolerance_reason : str
    is_involutive : bool
    conclusive : bool
        False when the tolerance is so large (ill-conditioned frame, coarse
        finite differences) that the verdict cannot separate curvature from error.
    bracket_route : str
        "autograd", "supplied", "symbolic" or "central differences".
    bracket_error : float
        Estimated absolute error of the brackets in the orthonormal basis (0
        for exact routes, where only round-off enters the tolerance).
    rank_report : RankReport
    """

    point: np.ndarray
    rank: int
    curvature_norm: float
    scale: float
    relative_defect: float
    tolerance: float
    tolerance_reason: str
    is_involutive: bool
    conclusive: bool
    bracket_route: str
    bracket_error: float
    rank_report: RankReport = field(repr=False)

    def as_dict(self) -> dict:
        return {
            "point": [float(x) for x in self.point],
            "rank": self.rank,
            "curvature_norm": self.curvature_norm,
            "scale": self.scale,
            "relative_defect": self.relative_defect,
            "tolerance": self.tolerance,
            "tolerance_reason": self.tolerance_reason,
            "is_involutive": self.is_involutive,
            "conclusive": self.conclusive,
            "bracket_route": self.bracket_route,
            "bracket_error": self.bracket_error,
            "rank_report": self.rank_report.as_dict(),
        }


@dataclass(frozen=True)
class FrobeniusVerdict:
    """The Frobenius test over many sampled points (a global verdict on evidence).

    ``is_involutive`` is True when the test passed at every sampled point: a
    distribution that fails at one point is not integrable, while passing at
    finitely many points is evidence, not proof.
    """

    reports: tuple
    n_points: int
    n_non_involutive: int
    fraction_non_involutive: float
    max_relative_defect: float
    max_curvature_norm: float
    worst_point: np.ndarray
    is_involutive: bool
    all_conclusive: bool

    def as_dict(self) -> dict:
        return {
            "n_points": self.n_points,
            "n_non_involutive": self.n_non_involutive,
            "fraction_non_involutive": self.fraction_non_involutive,
            "max_relative_defect": self.max_relative_defect,
            "max_curvature_norm": self.max_curvature_norm,
            "worst_point": [float(x) for x in self.worst_point],
            "is_involutive": self.is_involutive,
            "all_conclusive": self.all_conclusive,
            "reports": [r.as_dict() for r in self.reports],
        }

    def summary(self) -> str:
        verdict = (
            "involutive at every sampled point (consistent with integrable)"
            if self.is_involutive
            else "NOT involutive (not integrable: the Frobenius condition (2.31) fails)"
        )
        return (
            f"{verdict}; {self.n_non_involutive}/{self.n_points} points fail, "
            f"max relative defect {self.max_relative_defect:.3e}, "
            f"max |Omega|_HS {self.max_curvature_norm:.3e}"
        )


class _CurvatureData:
    """Everything the Frobenius test computes at one point (shared by report and growth).

    ``span`` is the orthonormal basis of Δ_p in metric coordinates (y = Lᵀx) with
    its rank report; ``n_fields`` the number r of frame fields; ``omega`` the
    curvature Ω (k, k, dim) in ambient coordinates, or a function computing it
    (kept lazy where the norms were obtained without it).
    """

    def __init__(self, point, span, n_fields, L, omega, curvature_norm, scale, error):
        self.point, self.span, self.n_fields, self.L = point, span, n_fields, L
        self._omega = omega
        self.curvature_norm, self.scale, self.error = curvature_norm, scale, error

    @property
    def Omega(self) -> np.ndarray:
        if callable(self._omega):
            self._omega = self._omega()
        return self._omega


def _antisymmetric(pairs, k):
    """The (k, k, dim) antisymmetric array whose a < b entries are the rows of ``pairs``."""
    out = np.zeros((k, k, pairs.shape[-1]))
    iu = np.triu_indices(k, 1)
    out[iu] = pairs
    out[iu[1], iu[0]] = -pairs
    return out


# --------------------------------------------------------------------------
# Distribution
# --------------------------------------------------------------------------
class Distribution:
    """A distribution Δ ⊂ TR^dim spanned by the columns of a frame field.

    Parameters
    ----------
    frame : callable
        ``frame(p)`` with p of shape ``(dim,)`` returns shape ``(dim, r)``
        (r ≥ 1) whose columns span Δ_p; a ``(dim,)`` return is one column.
        Written with ``autograd.numpy`` for exact brackets.
    dim : int
        Dimension of the ambient space R^dim.
    brackets : None, "autograd", "fd" or callable
        How to get the frame's brackets.  None/"autograd": forward-mode autograd
        on the frame (one jvp per column).  "fd": central differences
        (non-traceable frames; the error estimate enters the tolerance).  A
        callable ``brackets(p)`` returns [X_i, X_j](p) as shape ``(r, r, dim)``,
        or a pair ``(brackets, terms)`` of such arrays with
        brackets[i, j] = terms[i, j] − terms[j, i] (terms[i, j] = DX_j X_i or
        any part of it that holds the bracket); the terms size the round-off
        (without them the brackets themselves set the scale).
    rank_policy : RankPolicy, float or None
        How ranks are decided (:class:`~subriemann.linalg.RankPolicy`).
    metric : None, ndarray or callable
        Ambient metric defining "orthonormal" and "⊥": None (Euclidean), an SPD
        matrix ``(dim, dim)``, or p ↦ SPD matrix.
    name : str, optional
    known : dict, optional
        Documented answers (catalog entries).
    base_point : array-like, shape=[dim], optional
        A typical point; sampling for :meth:`sample_verdict` is centred there.
    curvature_terms : callable, optional
        A faster route to the curvature for the Euclidean metric: ``p ↦ (E,
        report, t, r)`` with E (dim, k) an orthonormal basis of Δ_p, ``report``
        the :class:`~subriemann.linalg.RankReport` of its rank decision, t the
        bracket terms in that basis — t[a, b] ≡ ∇_{e_a}e_b modulo Δ_p, with |t|_HS
        equal to that of the derivatives ∇_{e_a}e_b (the round-off scale) — as an
        array (k, k, dim) or as a function returning an iterator of coordinate
        blocks ``(start, stop, t[:, :, start:stop])`` (see
        :meth:`subriemann.maps.smooth.SmoothMap.hessian_vector_blocks`), and r the number
        of frame fields.  Used by
        :meth:`frobenius_defect`, :meth:`curvature` and the growth vector's
        second step; the frame and ``brackets`` still serve everything else.
        :meth:`subriemann.geometry.bundles.PullbackBundle.distribution` supplies it.

    Notes
    -----
    See the module docstring for the curvature 2-form, its tensoriality and the
    proof that a network's pullback-bundle brackets are vertical.
    """

    def __init__(
        self,
        frame,
        dim,
        brackets=None,
        rank_policy=None,
        metric=None,
        *,
        name=None,
        known=None,
        base_point=None,
        curvature_terms=None,
    ):
        if not callable(frame):
            raise InputError(f"frame must be callable p -> (dim, r) array, got {type(frame)!r}")
        self.dim = check_int(dim, "dim")
        self._frame = frame
        if brackets is None or brackets == "autograd":
            self._bracket_route = "autograd"
            self._brackets = None
        elif isinstance(brackets, str) and brackets in ("fd", "central differences"):
            self._bracket_route = "central differences"
            self._brackets = None
        elif callable(brackets):
            self._bracket_route = "supplied"
            self._brackets = brackets
        else:
            raise InputError(
                f"brackets must be None, 'autograd', 'fd' or a callable p -> (r, r, dim) array, "
                f"got {brackets!r}"
            )
        self.rank_policy = resolve_policy(rank_policy)
        self._metric = self._check_metric(metric)
        self.name = name
        self.known = dict(known or {})
        self.base_point = (
            np.zeros(self.dim)
            if base_point is None
            else np.array(check_array(base_point, "base_point", shape=(self.dim,)))
        )
        self._symbolic = None  # (coordinates, fields Matrix) when built by from_sympy
        if curvature_terms is not None and not callable(curvature_terms):
            raise InputError(
                f"curvature_terms must be callable p -> (basis, report, terms, r), got {curvature_terms!r}"
            )
        self._curvature_terms = curvature_terms

    # -- construction helpers -------------------------------------------------
    def _check_metric(self, metric):
        if metric is None or callable(metric):
            return metric
        G = np.array(check_array(metric, "metric", shape=(self.dim, self.dim)))
        self._cholesky(G)  # validate once
        return G

    def _cholesky(self, G):
        G = np.asarray(getval(G), dtype=np.float64)
        if G.shape != (self.dim, self.dim) or not np.allclose(G, G.T, rtol=1e-12, atol=0.0):
            raise InputError(
                f"metric must be a symmetric ({self.dim}, {self.dim}) matrix, got shape {G.shape}"
            )
        try:
            return np.linalg.cholesky(G)
        except np.linalg.LinAlgError as exc:
            raise InputError("metric must be positive definite (Cholesky failed)") from exc

    @property
    def bracket_route(self) -> str:
        """How the frame's brackets are computed ("autograd", "supplied", "symbolic", "central differences")."""
        return self._bracket_route

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Distribution({label}dim={self.dim}, brackets={self._bracket_route!r})"

    # -- the frame --------------------------------------------------------------
    def frame(self, p):
        """Frame F(p), shape ``(dim, r)``: columns span Δ_p.  Traceable by autograd."""
        p = _check_point(p)
        if anp.shape(p)[0] != self.dim:
            raise ShapeError(f"point p must have shape ({self.dim},), got {tuple(anp.shape(p))}")
        F = self._frame(p)
        shape = tuple(anp.shape(F))
        if shape == (self.dim,):
            F = anp.reshape(F, (self.dim, 1))
        elif len(shape) != 2 or shape[0] != self.dim or shape[1] < 1:
            raise ShapeError(
                f"frame(p) returned shape {shape}; expected ({self.dim}, r) with r >= 1 columns"
            )
        if not isbox(F):
            F = np.asarray(F, dtype=np.float64)
        if not np.all(np.isfinite(getval(F))):
            raise NumericalError("frame(p) returned NaN/inf at a finite point p")
        return F

    def _metric_factor(self, p):
        """Cholesky factor L of G(p) = LLᵀ, or None for the Euclidean metric."""
        if self._metric is None:
            return None
        G = self._metric(getval(p)) if callable(self._metric) else self._metric
        return self._cholesky(G)

    def _span(self, p, F=None):
        """SVD of LᵀF: the orthonormal basis E = F C of Δ_p, C (r, k), and the rank report."""
        p = np.asarray(getval(_check_point(p)), dtype=np.float64)
        F = np.asarray(getval(self.frame(p) if F is None else F), dtype=np.float64)
        L = self._metric_factor(p)
        svd = JacobianSVD(F if L is None else L.T @ F, self.rank_policy)
        C = svd.Vt.T / svd.s  # F C = L^{-T} U_k: orthonormal columns
        return svd, C, L

    def rank(self, p) -> RankReport:
        """Numerical rank of Δ_p = span of the frame at p, decided by the rank policy."""
        return self._span(p)[0].report

    def orthonormal_basis(self, p) -> FrameSpan:
        """A basis e_a of Δ_p orthonormal for the metric, shape ``(dim, rank)``, and its rank report."""
        svd, _, L = self._span(p)
        return FrameSpan(self._from_metric(L, svd.U), svd.report)

    # -- brackets -----------------------------------------------------------------
    def _bracket_data(self, p, F):
        """(B, T, E): brackets (r, r, dim), their terms or None, abs. errors (r, r, dim) or None."""
        r = F.shape[1]
        if self._bracket_route == "autograd":
            try:
                dF = [_directional_derivative(self.frame, p, F[:, i]) for i in range(r)]
            except (TypeError, ValueError, AttributeError) as exc:
                raise InputError(
                    f"autograd could not trace the frame ({type(exc).__name__}: {exc}); write it "
                    "with autograd.numpy, pass brackets='fd' for central differences, or pass a "
                    "brackets callable"
                ) from exc
            T = np.stack([np.asarray(getval(d), dtype=np.float64).T for d in dF])
            return T - T.transpose(1, 0, 2), T, None
        if self._bracket_route == "central differences":
            pairs = [_central_difference(self.frame, p, F[:, i]) for i in range(r)]
            T = np.stack([d.T for d, _ in pairs])
            E = np.stack([e.T for _, e in pairs])
            return T - T.transpose(1, 0, 2), T, E + E.transpose(1, 0, 2)
        out = self._brackets(p)
        terms = None
        if isinstance(out, tuple):
            if len(out) != 2:
                raise ShapeError("brackets(p) must return an array or a pair (brackets, terms)")
            out, terms = out
        B = np.asarray(check_array(out, "brackets(p)", shape=(r, r, self.dim)))
        if terms is not None:
            terms = np.asarray(check_array(terms, "bracket terms", shape=(r, r, self.dim)))
        return B, terms, None

    def frame_brackets(self, p):
        """Brackets of the frame columns, [X_i, X_j](p), shape ``(r, r, dim)``.

        Implements the brackets of (2.31) for the frame: by autograd (one jvp of
        the frame per column), by the supplied callable, or by central differences.
        """
        p = check_array(p, "point p", shape=(self.dim,))
        return self._bracket_data(p, np.asarray(self.frame(p)))[0]

    # -- curvature and the Frobenius test ----------------------------------------
    def _curvature_data(self, p) -> _CurvatureData:
        p = np.asarray(check_array(p, "point p", shape=(self.dim,)), dtype=np.float64)
        if self._curvature_terms is not None and self._metric is None:
            return self._curvature_from_terms(p)
        F = np.asarray(self.frame(p))
        svd, C, L = self._span(p, F)
        B, T, E = self._bracket_data(p, F)
        # tensoriality: brackets of the orthonormal basis e_a = Σ_i X_i C_ia (C frozen at p);
        # everything is measured in y = Lᵀx, where the metric is Euclidean
        B_orth = self._to_metric_rows(L, _congruence(C, B))
        Omega_t = B_orth - (B_orth @ svd.U) @ svd.U.T
        iu = np.triu_indices(svd.rank, 1)
        if T is not None:
            T_orth = self._to_metric_rows(L, _congruence(C, T))
            scale = float(np.sqrt(2.0) * np.linalg.norm(T_orth))
        else:
            scale = float(np.linalg.norm(B_orth[iu]))
        error = 0.0
        if E is not None:
            # |Σ C C E| ≤ Σ |C||C||E| componentwise: a bound, not an estimate of cancellation
            Ca = np.abs(C)
            E_orth = _congruence(Ca, E)
            E_orth = E_orth if L is None else E_orth @ np.abs(L)
            error = float(np.linalg.norm(E_orth[iu]))
        return _CurvatureData(
            point=p,
            span=FrameSpan(svd.U, svd.report),
            n_fields=F.shape[1],
            L=L,
            omega=self._from_metric_rows(L, Omega_t),
            curvature_norm=float(np.linalg.norm(Omega_t[iu])),
            scale=scale,
            error=error,
        )

    def _curvature_from_terms(self, p) -> _CurvatureData:
        """Curvature from bracket terms given directly in an orthonormal basis (``curvature_terms``).

        With terms t_ab ≡ ∇_{e_a}e_b (mod Δ_p), Ω_ab = Π^⊥(t_ab − t_ba) and the
        scale is √2·|t|_HS.  The terms arrive in blocks of coordinates and are
        reduced block by block (|t|², d_ab = t_ab − t_ba, |d|², z = Eᵀd), so
        memory stays O(k²·block).  |Ω_ab|² = |d_ab|² − |z_ab|² costs one product
        with the basis instead of two; it loses relative accuracy when Ω is small
        against d (cancellation), and then Ω is formed explicitly as d − Ez —
        the recomputation rule of LAPACK's column-norm downdating in pivoted QR
        (xGEQP3).  Ω itself (for :meth:`curvature` and the growth vector) is
        formed only when asked for.
        """
        basis, report, terms, n_fields = self._curvature_terms(p)
        basis = np.asarray(basis, dtype=np.float64)
        k = basis.shape[1]
        if basis.shape[0] != self.dim:
            raise ShapeError(
                f"curvature_terms(p) returned a basis of shape {basis.shape}; expected ({self.dim}, k)"
            )
        upper = np.triu_indices(k, 1)
        flat_ab, flat_ba = upper[0] * k + upper[1], upper[1] * k + upper[0]

        def blocks():
            with scratch.borrow() as work:
                yield from pairs_of(terms() if callable(terms) else [(0, self.dim, terms)], work)

        def pairs_of(source, work):
            covered = 0
            for start, stop, block in source:
                block = np.asarray(block, dtype=np.float64)
                if start != covered or block.shape != (k, k, stop - start):
                    raise ShapeError(
                        f"bracket terms: expected a block of shape ({k}, {k}, n) starting at "
                        f"coordinate {covered}, got shape {block.shape} at {start}..{stop}"
                    )
                covered = stop
                rows = block.reshape(k * k, -1)
                # d_ab = t_ab − t_ba for a < b, in reused scratch (see hessian_vector_blocks)
                d, t_ba = work.get("pairs", (2, len(flat_ab), rows.shape[1]))
                np.take(rows, flat_ab, axis=0, out=d)
                np.take(rows, flat_ba, axis=0, out=t_ba)
                d -= t_ba
                yield start, stop, rows, d
            if covered != self.dim:
                raise ShapeError(f"bracket terms cover coordinates 0..{covered}, not 0..{self.dim}")

        t2 = d2 = 0.0
        z = np.zeros((len(flat_ab), k))
        for start, stop, rows, d in blocks():
            t2 += float(np.vdot(rows, rows))
            d2 += float(np.vdot(d, d))
            z += d @ basis[start:stop]
        if not np.isfinite(t2):
            raise NumericalError(
                f"the bracket terms are not finite (|t|²_HS = {t2}) at this point; the map's second "
                "derivatives overflowed or are NaN"
            )
        z2 = float(np.vdot(z, z))

        def omega_pairs():
            pairs = np.empty((len(flat_ab), self.dim))
            for start, stop, _, d in blocks():
                pairs[:, start:stop] = d - z @ basis[start:stop].T
            return pairs

        if d2 - z2 >= _CANCELLATION * d2:
            norm, omega = float(np.sqrt(d2 - z2)), lambda: _antisymmetric(omega_pairs(), k)
        else:
            pairs = omega_pairs()
            norm, omega = float(np.linalg.norm(pairs)), _antisymmetric(pairs, k)
        return _CurvatureData(
            point=p,
            span=FrameSpan(basis, report),
            n_fields=n_fields,
            L=None,
            omega=omega,
            curvature_norm=norm,
            scale=float(np.sqrt(2.0 * t2)),
            error=0.0,
        )

    @staticmethod
    def _to_metric_rows(L, rows):
        """Row vectors v ↦ (Lᵀv)ᵀ = vᵀL along the last axis."""
        return rows if L is None else rows @ L

    @staticmethod
    def _from_metric_rows(L, rows):
        """Row vectors y ↦ (L⁻ᵀy)ᵀ along the last axis (inverse of :meth:`_to_metric_rows`)."""
        if L is None:
            return rows
        flat = rows.reshape(-1, rows.shape[-1])
        return np.linalg.solve(L.T, flat.T).T.reshape(rows.shape)

    def curvature(self, p):
        """Curvature 2-form Ω_p(e_a, e_b) = Π^⊥[e_a, e_b](p) of Δ in an orthonormal basis of Δ_p.

        Implements the obstruction of the Frobenius condition (2.31).

        Parameters
        ----------
        p : array-like, shape=[dim]

        Returns
        -------
        Omega : ndarray, shape=[k, k, dim]
            k = rank Δ_p; Omega[a, b] is an ambient vector in Δ_p^⊥ (⊥ for the
            metric), antisymmetric in (a, b), for the basis e_a of
            :meth:`orthonormal_basis`.  Independent of the frame's scaling and
            mixing (tensoriality) up to an orthogonal change of that basis.
        """
        return self._curvature_data(p).Omega

    def _tolerance(self, report, r, scale, error):
        kappa = report.condition_number
        tol = _ROUNDOFF_SAFETY * _EPS * max(self.dim, r) * kappa**2
        reason = (
            f"round-off: {_ROUNDOFF_SAFETY:g}*eps*max(dim, r)*kappa^2 with dim={self.dim}, r={r}, "
            f"kappa={kappa:.3g} (condition number of the frame at p; errors of the bracket "
            "terms are amplified at most by kappa^2 in the change to an orthonormal basis)"
        )
        if error > 0.0:
            fd = _FD_SAFETY * error / scale if scale > 0 else float("inf")
            tol += fd
            reason += f" + {_FD_SAFETY:g}*(central-difference error estimate)/scale = {fd:.3g}"
        return tol, reason

    def _report(self, data: _CurvatureData, tolerance) -> FrobeniusReport:
        report = data.span.report
        if tolerance is None:
            tol, reason = self._tolerance(report, data.n_fields, data.scale, data.error)
        else:
            tol = check_real(tolerance, "tolerance", nonnegative=True)
            reason = "given by the caller"
        if report.rank < 2 or report.rank == self.dim:
            what = "a rank-one distribution" if report.rank < 2 else "Δ_p is the whole space, which"
            reason = f"rank Δ_p = {report.rank}: {what} is always involutive; {reason}"
        relative = data.curvature_norm / data.scale if data.scale > 0 else 0.0
        return FrobeniusReport(
            point=data.point,
            rank=report.rank,
            curvature_norm=data.curvature_norm,
            scale=data.scale,
            relative_defect=float(relative),
            tolerance=float(tol),
            tolerance_reason=reason,
            is_involutive=bool(relative <= tol),
            conclusive=bool(tol < _CONCLUSIVE_TOLERANCE),
            bracket_route=self._bracket_route,
            bracket_error=data.error,
            rank_report=report,
        )

    def frobenius_defect(self, p, tolerance=None) -> FrobeniusReport:
        """Frobenius test (2.31) at p: curvature norm, scale-free defect, tolerance, verdict.

        The relative defect is |Ω_p|_HS / scale with scale = √2·|T|_HS, where
        T_ab = De_b·e_a are the terms whose antisymmetrisation is the bracket
        [e_a, e_b] of the orthonormal basis (so scale bounds |[e, e]|_HS and
        relative_defect ∈ [0, 1]).  Numerator and scale are both homogeneous of
        degree −1 under scaling the coordinates, are unchanged by a constant
        rescaling of the frame (e is unchanged), and transform by the same
        orthogonal change of basis under constant mixing X ↦ XA; hence the ratio
        is invariant under all three.  The numerator is moreover tensorial
        (independent of any smooth change of frame X ↦ X·A(p)).  The scale is the
        natural size of round-off: the bracket is computed as T − Tᵀ.  When a
        supplied bracket callable gives no terms, scale = |[e, e]|_HS.

        The default tolerance is 100·eps·max(dim, r)·κ² (κ the condition number
        of the frame at p), plus 10× the propagated error estimate when brackets
        come from central differences.

        Parameters
        ----------
        p : array-like, shape=[dim]
        tolerance : float, optional
            Override the verdict's tolerance on the relative defect.

        Returns
        -------
        FrobeniusReport
        """
        return self._report(self._curvature_data(p), tolerance)

    def is_involutive(self, p, tolerance=None) -> bool:
        """Whether [Δ, Δ] ⊂ Δ at p, the Frobenius condition (2.31), to the report's tolerance."""
        return self.frobenius_defect(p, tolerance).is_involutive

    def sample_points(self, n_points=20, seed=0, scale=1.0):
        """Gaussian points base_point + scale·N(0, 1), shape ``(n_points, dim)``."""
        n_points = check_int(n_points, "n_points")
        rng = np.random.default_rng(seed)
        return self.base_point + scale * rng.standard_normal((n_points, self.dim))

    def sample_verdict(
        self, points=None, *, n_points=20, seed=0, scale=1.0, tolerance=None, progress=None
    ):
        """Frobenius test (2.31) at many points: fraction failing, worst defect, global verdict.

        Parameters
        ----------
        points : array-like, shape=[n, dim], optional
            Default :meth:`sample_points` (n_points, seed, scale).
        progress : callable, optional
            ``progress(done, total)`` after each point.

        Returns
        -------
        FrobeniusVerdict
        """
        if points is None:
            points = self.sample_points(n_points, seed, scale)
        points = check_array(points, "points", ndim=2)
        if points.shape[1] != self.dim or points.shape[0] == 0:
            raise ShapeError(f"points must have shape (n >= 1, {self.dim}), got {points.shape}")
        reports = []
        for i, q in enumerate(points):
            reports.append(self.frobenius_defect(q, tolerance))
            if progress is not None:
                progress(i + 1, len(points))
        reports = tuple(reports)
        failing = sum(not r.is_involutive for r in reports)
        worst = max(reports, key=lambda r: r.relative_defect)
        return FrobeniusVerdict(
            reports=reports,
            n_points=len(reports),
            n_non_involutive=failing,
            fraction_non_involutive=failing / len(reports),
            max_relative_defect=worst.relative_defect,
            max_curvature_norm=max(r.curvature_norm for r in reports),
            worst_point=worst.point,
            is_involutive=failing == 0,
            all_conclusive=all(r.conclusive for r in reports),
        )

    # -- derived flag and growth vector ------------------------------------------
    def _extend(self, basis_t, columns_t, floor, previous: RankReport):
        """Enlarge an orthonormal basis (metric coordinates) by the new directions among columns.

        The columns' components orthogonal to the basis are ranked by the rank
        policy, with an absolute floor for the round-off of the brackets.
        """
        resid = columns_t - basis_t @ (basis_t.T @ columns_t)
        if resid.shape[1]:
            U, s, _ = np.linalg.svd(resid, full_matrices=False)
        else:
            U, s = np.zeros((self.dim, 0)), np.zeros(0)
        policy = RankPolicy(
            rtol=self.rank_policy.rtol, atol=max(self.rank_policy.atol or 0.0, floor)
        )
        new = numerical_rank(s, resid.shape, policy)
        basis_t = np.hstack([basis_t, U[:, : new.rank]])
        report = RankReport(
            rank=basis_t.shape[1],
            shape=(self.dim, previous.shape[1] + resid.shape[1]),
            sigma_min=new.sigma_min,
            sigma_max=new.sigma_max,
            sigma_min_kept=new.sigma_min_kept,
            tolerance=new.tolerance,
            policy=f"{new.policy}; applied to the new directions (orthogonal to the previous step)",
        )
        return basis_t, report

    def _to_metric(self, L, X):
        return X if L is None else L.T @ X

    def _from_metric(self, L, Y):
        return Y if L is None else np.linalg.solve(L.T, Y)

    def derived_distribution(self, p) -> FrameSpan:
        """Δ² = Δ + [Δ, Δ] at p: an orthonormal basis (dim, rank Δ²_p) and its rank report.

        The new directions are the columns of the curvature Ω_p (Δ² = Δ ⊕ span Ω_p
        by tensoriality); they count when above the Frobenius tolerance times the
        scale, so ``rank Δ² == rank Δ`` exactly when :meth:`is_involutive`.  The
        report's singular values are those of the new directions.
        """
        return self.growth_spans(p, 2)[-1]

    def growth_spans(self, p, max_step=None) -> list:
        """[Δ¹_p, Δ²_p, ...] as :class:`FrameSpan` s, Δ^{k+1} = Δ^k + [Δ, Δ^k].

        Stops when Δ^k_p is the whole space, at ``max_step`` if given, and
        otherwise (``max_step=None``) after the rank has stalled for two
        consecutive steps (or at step dim).  One stall is not enough: at
        singular points the pointwise rank can stall and grow again (Martinet on
        x = 0: 2, 2, 3); pass ``max_step`` to look past longer stalls.
        Step 2 uses the curvature (so it agrees with :meth:`is_involutive`);
        steps ≥ 3 nest autograd brackets on right-normed brackets
        [X_i, [X_j, ...]] of the frame columns (about r^(k-1) brackets of 2^(k-1)
        terms at step k), so they need an autograd-traceable frame.  A new
        direction counts when its component orthogonal to the previous step
        exceeds the rank policy's tolerance and 100·eps·dim·κ² relative to the
        size of the bracket's terms (their round-off).
        """
        p = np.asarray(check_array(p, "point p", shape=(self.dim,)), dtype=np.float64)
        patience = max_step is None
        max_step = self.dim if max_step is None else max_step
        max_step = check_int(max_step, "max_step")
        data = self._curvature_data(p)
        span, L = data.span, data.L
        spans = [FrameSpan(self._from_metric(L, span.basis), span.report)]
        if max_step == 1 or span.report.rank == self.dim:
            return spans
        report = self._report(data, None)
        iu = np.triu_indices(span.report.rank, 1)
        cols = self._to_metric(L, data.Omega[iu].T)
        floor = report.tolerance * report.scale
        basis_t, rep = self._extend(span.basis, cols, floor, span.report)
        spans.append(FrameSpan(self._from_metric(L, basis_t), rep))
        if max_step == 2 or rep.rank == self.dim:
            return spans
        r = data.n_fields
        columns = [self._column_field(i) for i in range(r)]
        level = [
            _bracket_terms(columns[i], [(1.0, columns[j])])
            for i in range(r)
            for j in range(i + 1, r)
        ]
        kappa = span.report.condition_number
        floor = _ROUNDOFF_SAFETY * _EPS * self.dim * kappa**2
        for _step in range(3, max_step + 1):
            if not level:  # one column: every iterated bracket vanishes, the flag is Δ itself
                break
            level = [_bracket_terms(X, terms) for X in columns for terms in level]
            values_t = np.stack([self._normalised_bracket(terms, p, L) for terms in level], 1)
            basis_t, rep = self._extend(basis_t, values_t, floor, spans[-1].report)
            spans.append(FrameSpan(self._from_metric(L, basis_t), rep))
            ranks = [span.report.rank for span in spans[-3:]]
            if rep.rank == self.dim or (patience and ranks[0] == ranks[-1]):
                break
        return spans

    def _column_field(self, i):
        return lambda q: self.frame(q)[:, i]

    def _normalised_bracket(self, terms, p, L):
        """Σ s_l t_l(p) / Σ |t_l(p)| in metric coordinates: a bracket relative to its round-off.

        A nested bracket is a difference of derivatives that may cancel exactly
        (integrable Δ); dividing by the size of its terms makes round-off
        O(eps) whatever the size of the derivatives, so one floor fits all.
        """
        try:
            parts = [s * np.asarray(getval(t(p)), dtype=np.float64) for s, t in terms]
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                "growth vectors beyond step 2 nest brackets by autograd, which needs an "
                f"autograd-traceable frame ({type(exc).__name__}: {exc})"
            ) from exc
        parts = [self._to_metric(L, v) for v in parts]
        size = sum(float(np.linalg.norm(v)) for v in parts)
        value = np.sum(parts, axis=0)
        check_finite(value, "iterated bracket")
        return value / size if size > 0 else value

    def growth_vector(self, p, max_step=None) -> tuple:
        """Growth vector (rank Δ¹_p, rank Δ²_p, ...), Δ^{k+1} = Δ^k + [Δ, Δ^k].

        Ranks go through the rank policy; the flag is computed as in
        :meth:`growth_spans` (to the whole space, to ``max_step``, or until two
        consecutive stalls), then trailing repeats are dropped, so the vector
        ends at the last step where the rank grew (an integrable Δ gives
        (rank Δ,)).  Pointwise ranks may stall and grow again at singular points
        (Martinet on x = 0: (2, 2, 3)).  Heisenberg: (2, 3); Engel: (2, 3, 4).
        """
        ranks = [s.report.rank for s in self.growth_spans(p, max_step)]
        while len(ranks) > 1 and ranks[-1] == ranks[-2]:
            ranks.pop()
        return tuple(ranks)

    def is_bracket_generating(self, p, max_step=None) -> bool:
        """Chow–Rashevskii (Hörmander) condition at p: some Δ^k_p is all of T_pR^dim."""
        return self.growth_vector(p, max_step)[-1] == self.dim

    # -- geomstats ------------------------------------------------------------------
    def sub_riemannian_metric(self):
        """geomstats ``SubRiemannianMetric`` on R^dim for which the frame is orthonormal.

        The frame columns are *declared* orthonormal (that defines the metric on
        Δ); its normal geodesics solve Hamilton's equations for
        H(q, λ) = ½|F(q)ᵀλ|².
        """
        from subriemann.geometry.metrics import over_batch

        def frame(p):
            # geomstats evaluates the frame on batches [..., dim]; one point at a time,
            # so a failure names its batch index
            return self.frame(p) if len(anp.shape(p)) == 1 else over_batch(self.frame, p, "point")

        return sub_riemannian_metric(self.dim, frame)

    # -- SymPy ------------------------------------------------------------------------
    @classmethod
    def from_sympy(
        cls,
        vector_fields,
        coordinates,
        exact=False,
        rank_policy=None,
        metric=None,
        *,
        name=None,
        known=None,
        base_point=None,
    ):
        """A distribution from SymPy vector fields; numerics by lambdify to autograd.numpy.

        Parameters
        ----------
        vector_fields : sympy Matrix (dim, r), or sequence of r fields
            Each field a sequence (or column Matrix) of dim SymPy expressions in
            ``coordinates``.
        coordinates : sequence of sympy Symbols, length dim
        exact : bool
            True: the frame's brackets (and their terms J(X_j)X_i) are computed
            symbolically and lambdified; otherwise autograd differentiates the
            lambdified frame.  Symbolic brackets and growth vectors
            (:meth:`symbolic_brackets`, :meth:`symbolic_growth_vector`) are
            available either way.

        Raises
        ------
        ImportError
            SymPy is missing (optional extra ``subriemann[symbolic]``).
        InputError
            Wrong lengths, or expressions with symbols that are not coordinates.
        """
        sp = _import_sympy()
        coords = tuple(coordinates)
        if not coords or not all(isinstance(c, sp.Symbol) for c in coords):
            raise InputError("coordinates must be a non-empty sequence of sympy Symbols")
        dim = len(coords)
        if isinstance(vector_fields, sp.MatrixBase) and vector_fields.shape[0] == dim:
            M = sp.Matrix(vector_fields)
        else:
            fields = list(vector_fields)
            if not fields:
                raise InputError("vector_fields is empty; expected at least one field")
            cols = []
            for n, fld in enumerate(fields):
                entries = list(fld)
                if len(entries) != dim:
                    raise ShapeError(
                        f"vector field {n} has {len(entries)} components; expected dim = {dim}"
                    )
                cols.append([sp.sympify(e) for e in entries])
            M = sp.Matrix(cols).T
        extra = set().union(*(sp.sympify(e).free_symbols for e in M)) - set(coords)
        if extra:
            raise InputError(
                f"the vector fields contain symbols {sorted(map(str, extra))} that are not "
                f"coordinates {list(map(str, coords))}; substitute numbers for parameters first"
            )
        frame_fn = _lambdify_array(sp, coords, M.tolist())
        brackets = None
        if exact:
            r = M.shape[1]
            J = [M[:, j].jacobian(coords) for j in range(r)]
            terms = [[list(J[j] * M[:, i]) for j in range(r)] for i in range(r)]
            brs = [
                [list(sp.Matrix(terms[i][j]) - sp.Matrix(terms[j][i])) for j in range(r)]
                for i in range(r)
            ]
            b_fn = _lambdify_array(sp, coords, brs)
            t_fn = _lambdify_array(sp, coords, terms)

            def brackets(p):
                return np.asarray(b_fn(p), dtype=np.float64), np.asarray(t_fn(p), dtype=np.float64)

        dist = cls(
            frame_fn,
            dim,
            brackets=brackets,
            rank_policy=rank_policy,
            metric=metric,
            name=name,
            known=known,
            base_point=base_point,
        )
        if exact:
            dist._bracket_route = "symbolic"
        dist._symbolic = (coords, M)
        return dist

    def _require_symbolic(self):
        if self._symbolic is None:
            raise InputError(
                "this distribution was not built from SymPy expressions; use "
                "Distribution.from_sympy for symbolic brackets"
            )
        return _import_sympy(), *self._symbolic

    @property
    def symbolic_frame(self):
        """The SymPy frame Matrix (dim, r) of a distribution built by :meth:`from_sympy`."""
        return self._require_symbolic()[2]

    def symbolic_brackets(self) -> dict:
        """{(i, j): [X_i, X_j] as a SymPy column Matrix} for i < j, by symbolic Jacobians."""
        sp, coords, M = self._require_symbolic()
        cols = [M[:, i] for i in range(M.shape[1])]
        return {
            (i, j): sp.simplify(_sym_bracket(cols[i], cols[j], coords))
            for i in range(len(cols))
            for j in range(i + 1, len(cols))
        }

    def symbolic_growth_vector(self, max_step=None, point=None) -> tuple:
        """Exact growth vector by SymPy: generic (over rational functions) or at ``point``.

        Parameters
        ----------
        max_step : int, optional
            Default dim.
        point : dict or sequence, optional
            Substitution {symbol: value} or values in coordinate order; exact
            values (integers, Rationals) give exact ranks.
        """
        sp, coords, M = self._require_symbolic()
        max_step = self.dim if max_step is None else int(max_step)
        subs = None
        if point is not None:
            subs = point if isinstance(point, dict) else dict(zip(coords, point, strict=True))
            subs = {k: sp.nsimplify(v) for k, v in subs.items()}

        def rank(cols):
            A = sp.Matrix.hstack(*cols)
            if subs is not None:
                A = A.subs(subs)
            return A.rank(simplify=True)

        first = [M[:, i] for i in range(M.shape[1])]
        allcols = list(first)
        ranks = [rank(allcols)]
        level = [
            _sym_bracket(first[i], first[j], coords)
            for i in range(len(first))
            for j in range(i + 1, len(first))
        ]
        for step in range(2, max_step + 1):
            if ranks[-1] == self.dim:
                break
            allcols += level
            ranks.append(rank(allcols))
            if step < max_step:
                level = [_sym_bracket(X, Y, coords) for X in first for Y in level]
        return tuple(ranks)


def _bad_indices(state) -> str:
    """The batch indices of a geomstats Hamiltonian state [2, ..., dim] holding NaN/inf."""
    raw = np.asarray(getval(state))
    bad = ~np.isfinite(raw).all(axis=(0, -1))
    if bad.ndim == 0:
        return "" if not bad else "the point"
    found = [str(tuple(int(j) for j in idx)) for idx in np.argwhere(bad)[:5]]
    return f"batch index {', '.join(found)}" if found else ""


def sub_riemannian_metric(dim: int, frame):
    """A geomstats ``SubRiemannianMetric`` on R^dim whose failures name the time and batch index.

    Same metric as ``SubRiemannianMetric(euclidean(dim), frame=frame)``
    (frame columns declared orthonormal; normal geodesics solve Hamilton's
    equations by geomstats' symplectic Euler steps); arguments of ``exp`` are
    checked, and an error while stepping (rank loss, a bad point, NaN/inf)
    says at which time t and, for batches [..., dim], at which batch index it
    happened.  Used by :meth:`Distribution.sub_riemannian_metric` and
    :meth:`subriemann.geometry.bundles.PullbackBundle.sub_riemannian_metric`.
    """
    from geomstats.geometry.sub_riemannian_metric import SubRiemannianMetric

    from subriemann.geometry.metrics import batch_pair

    class ReportingSubRiemannianMetric(SubRiemannianMetric):
        def exp(self, cotangent_vec, base_point, n_steps=20):
            base_point, cotangent_vec = batch_pair(
                base_point, cotangent_vec, dim, "base_point", "cotangent_vec"
            )
            n_steps = check_int(n_steps, "n_steps", "the number of integration steps")
            return super().exp(cotangent_vec, base_point, n_steps=n_steps)

        def symp_flow(self, hamiltonian, end_time=1.0, n_steps=20):
            dt = end_time / n_steps
            step = self.symp_euler(hamiltonian, dt)

            def flow(state):
                states = [state]
                for i in range(n_steps):
                    where = (
                        f"normal geodesic integration on the step from time t = {i * dt:.4g} "
                        f"to {(i + 1) * dt:.4g} (step {i + 1} of {n_steps})"
                    )
                    try:
                        state = step(state)
                    except SubriemannError as exc:
                        raise with_context(exc, where) from exc
                    bad = _bad_indices(state)
                    if bad:
                        raise NumericalError(
                            f"{where}: the geodesic blew up (NaN/inf) at {bad}; expected a "
                            "smaller cotangent vector or more steps"
                        )
                    states.append(state)
                return anp.array(states)

            return flow

    return ReportingSubRiemannianMetric(euclidean(dim), frame=frame)


def _sym_bracket(X, Y, coords):
    """[X, Y] = J(Y)X − J(X)Y for SymPy column matrices."""
    return Y.jacobian(coords) * X - X.jacobian(coords) * Y


def _import_sympy():
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - exercised only without sympy
        raise ImportError(
            "SymPy is needed for symbolic distributions; install the optional extra: "
            "pip install 'subriemann[symbolic]'"
        ) from exc
    return sympy


# Names SymPy's printer emits that autograd.numpy spells differently (or lacks):
# all must stay traceable, so nothing may fall back to the math module.
_SYMPY_TO_AUTOGRAD = {
    "atan": anp.arctan,
    "asin": anp.arcsin,
    "acos": anp.arccos,
    "atan2": anp.arctan2,
    "asinh": anp.arcsinh,
    "acosh": anp.arccosh,
    "atanh": anp.arctanh,
    "sign": anp.sign,
    "pi": np.pi,
    "E": np.e,
}


def _lambdify_array(sp, coords, nested):
    """p ↦ float array from nested lists of expressions, traceable by autograd."""
    fn = sp.lambdify(coords, nested, modules=[_SYMPY_TO_AUTOGRAD, anp])

    def evaluate(p):
        out = anp.array(fn(*[p[i] for i in range(len(coords))]))
        return out if isbox(out) else np.asarray(out, dtype=np.float64)

    return evaluate
