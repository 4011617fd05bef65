"""The curvature 2-form of a distribution and the Frobenius test of (2.31).

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
brackets to :class:`~subriemann.distributions.frame.Distribution`, and for the
Frobenius test the same terms directly in an orthonormal basis
(``curvature_terms``, reduced by :func:`curvature_from_terms`; see
:meth:`subriemann.geometry.bundles.BundleFiber.curvature_terms`).  For QN = 1 there is one field and
[u_1, u_1] = 0: V is always integrable (§2.4: rank-one bundles always are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from subriemann import scratch
from subriemann.distributions.metric import FrameSpan, from_metric_rows, to_metric_rows
from subriemann.errors import InputError, NumericalError, ShapeError, check_real
from subriemann.linalg import JacobianSVD, RankReport

__all__ = [
    "FrobeniusReport",
    "FrobeniusVerdict",
    "CurvatureData",
    "curvature_from_brackets",
    "curvature_from_terms",
    "CANCELLATION_THRESHOLD",
    "roundoff_tolerance",
    "frobenius_tolerance",
    "frobenius_report",
    "frobenius_verdict",
    "CurvatureTerms",
]

#: The ``curvature_terms`` argument of a distribution: p ↦ (E, report, t, r), E (dim, k) an
#: orthonormal basis of Δ_p, ``report`` its rank decision, t the bracket terms (k, k, dim) in
#: that basis or a function returning its coordinate blocks (start, stop, t[:, :, start:stop]),
#: r the number of frame fields (:class:`~subriemann.distributions.frame.Distribution`).
CurvatureTerms: TypeAlias = Callable[
    [np.ndarray],
    tuple[
        npt.ArrayLike,
        RankReport,
        npt.ArrayLike | Callable[[], Iterable[tuple[int, int, npt.ArrayLike]]],
        int,
    ],
]

_EPS = float(np.finfo(np.float64).eps)
# Safety factor on the round-off bound of the Frobenius tolerance (see
# roundoff_tolerance); 100 covers the constants hidden in "≲ eps·κ²·n".
_ROUNDOFF_SAFETY = 100.0
# Safety factor on a central-difference error estimate (it is itself an estimate).
_FD_SAFETY = 10.0
# A verdict whose tolerance exceeds this is reported as inconclusive.
_CONCLUSIVE_TOLERANCE = 1e-2
#: The cancellation rule of :func:`curvature_from_terms`: |Ω|² = |d|² − |Eᵀd|² is used when
#: it keeps at least this fraction of |d|², else Ω = d − E(Eᵀd) is formed explicitly.
#: Error model: the two sums carry a relative error δ ≲ n·eps (~1e-13 for the sizes met),
#: so the difference is known to δ·|d|²/(|d|² − |Eᵀd|²) ≤ δ/CANCELLATION_THRESHOLD
#: relative, ≤ ~1e-9 at 1e-4 (far below any tolerance of the test); below the threshold
#: the explicit Ω has the absolute error ~eps·|d| of its subtraction, whatever |Ω|.
#: 0 always downdates, 1 always forms Ω (both valid; the default is the cheap safe one).
CANCELLATION_THRESHOLD = 1e-4


def _congruence(C, B):
    """Σ_ij C_ia C_jb B[i, j, :] for B of shape (r, r, n): the change of frame of a bracket array.

    Two tensordots (BLAS) instead of one three-operand einsum, which would loop
    over r⁴n terms.
    """
    half = np.tensordot(C, B, axes=(0, 0))  # (a, j, n)
    return np.tensordot(C, half, axes=(0, 1)).transpose(1, 0, 2)  # (b, a, n) -> (a, b, n)


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

    reports: tuple[FrobeniusReport, ...]
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


class CurvatureData:
    """Everything the Frobenius test computes at one point (shared by the report and the growth vector).

    ``span`` is the orthonormal basis of Δ_p in metric coordinates (y = Lᵀx) with
    its rank report; ``n_fields`` the number r of frame fields; ``omega`` the
    curvature Ω (k, k, dim) in ambient coordinates, or a function computing it
    (kept lazy where the norms were obtained without it).
    """

    def __init__(
        self,
        point: np.ndarray,
        span: FrameSpan,
        n_fields: int,
        L: np.ndarray | None,
        omega: np.ndarray | Callable[[], np.ndarray],
        curvature_norm: float,
        scale: float,
        error: float,
    ) -> None:
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


def curvature_from_brackets(
    p: np.ndarray,
    svd: JacobianSVD,
    C: np.ndarray,
    L: np.ndarray | None,
    brackets: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
) -> CurvatureData:
    """Curvature Ω_p and the sizes the Frobenius test needs, from the brackets of a frame.

    Implements the obstruction of the Frobenius condition (2.31): by tensoriality,
    Ω_ab = Π^⊥[e_a, e_b](p) for the orthonormal basis e_a = Σ_i X_i(p) C_ia (C frozen
    at p), measured in metric coordinates y = Lᵀx.

    Parameters
    ----------
    p : ndarray, shape=[dim]
    svd : JacobianSVD
        Of LᵀF(p); ``svd.U`` is the orthonormal basis of Δ_p in metric coordinates.
    C : ndarray, shape=[r, k]
        F(p) C = L⁻ᵀU: the orthonormal basis in ambient coordinates.
    L : ndarray, shape=[dim, dim], or None
        Cholesky factor of the metric at p (None: Euclidean).
    brackets : tuple
        ``(B, T, E)`` from :func:`~subriemann.distributions.brackets.frame_bracket_data`.
    """
    B, T, E = brackets
    # everything is measured in y = Lᵀx, where the metric is Euclidean
    B_orth = to_metric_rows(L, _congruence(C, B))
    Omega_t = B_orth - (B_orth @ svd.U) @ svd.U.T
    iu = np.triu_indices(svd.rank, 1)
    if T is not None:
        T_orth = to_metric_rows(L, _congruence(C, T))
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
    return CurvatureData(
        point=p,
        span=FrameSpan(svd.U, svd.report),
        n_fields=C.shape[0],
        L=L,
        omega=from_metric_rows(L, Omega_t),
        curvature_norm=float(np.linalg.norm(Omega_t[iu])),
        scale=scale,
        error=error,
    )


def curvature_from_terms(
    p: np.ndarray,
    curvature_terms: CurvatureTerms,
    *,
    cancellation: float | None = None,
) -> CurvatureData:
    """Curvature from bracket terms given directly in an orthonormal basis (``curvature_terms``).

    With terms t_ab ≡ ∇_{e_a}e_b (mod Δ_p), Ω_ab = Π^⊥(t_ab − t_ba) and the
    scale is √2·|t|_HS.  The terms arrive in blocks of coordinates and are
    reduced block by block (|t|², d_ab = t_ab − t_ba, |d|², z = Eᵀd), so
    memory stays O(k²·block).  |Ω_ab|² = |d_ab|² − |z_ab|² costs one product
    with the basis instead of two; it loses relative accuracy when Ω is small
    against d (cancellation), and then Ω is formed explicitly as d − Ez —
    the recomputation rule of LAPACK's column-norm downdating in pivoted QR
    (xGEQP3).  Ω itself (for ``Distribution.curvature`` and the growth vector) is
    formed only when asked for.

    Implements the obstruction of the Frobenius condition (2.31) from second derivatives.

    Parameters
    ----------
    p : ndarray, shape=[dim]
    curvature_terms : callable
        The ``curvature_terms`` argument of a distribution: p ↦ (E, report, t, r),
        see :class:`~subriemann.distributions.frame.Distribution`.
    cancellation : float in [0, 1], optional
        The cancellation rule's threshold; default :data:`CANCELLATION_THRESHOLD`
        (read at the call; its error model is stated there).
    """
    if cancellation is None:
        cancellation = CANCELLATION_THRESHOLD
    cancellation = check_real(
        cancellation, "cancellation", "a fraction in [0, 1]", nonnegative=True
    )
    if cancellation > 1:
        raise InputError(f"cancellation must be a fraction in [0, 1], got {cancellation}")
    dim = p.shape[0]
    basis, report, terms, n_fields = curvature_terms(p)
    basis = np.asarray(basis, dtype=np.float64)
    k = basis.shape[1]
    if basis.shape[0] != dim:
        raise ShapeError(
            f"curvature_terms(p) returned a basis of shape {basis.shape}; expected ({dim}, k)"
        )
    upper = np.triu_indices(k, 1)
    flat_ab, flat_ba = upper[0] * k + upper[1], upper[1] * k + upper[0]

    def blocks():
        with scratch.borrow() as work:
            yield from pairs_of(terms() if callable(terms) else [(0, dim, terms)], work)

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
        if covered != dim:
            raise ShapeError(f"bracket terms cover coordinates 0..{covered}, not 0..{dim}")

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
        pairs = np.empty((len(flat_ab), dim))
        for start, stop, _, d in blocks():
            pairs[:, start:stop] = d - z @ basis[start:stop].T
        return pairs

    if d2 - z2 >= cancellation * d2:
        norm, omega = float(np.sqrt(d2 - z2)), lambda: _antisymmetric(omega_pairs(), k)
    else:
        pairs = omega_pairs()
        norm, omega = float(np.linalg.norm(pairs)), _antisymmetric(pairs, k)
    return CurvatureData(
        point=p,
        span=FrameSpan(basis, report),
        n_fields=n_fields,
        L=None,
        omega=omega,
        curvature_norm=norm,
        scale=float(np.sqrt(2.0 * t2)),
        error=0.0,
    )


def roundoff_tolerance(n: int, condition_number: float) -> float:
    """100·eps·n·κ²: the relative round-off of brackets taken to an orthonormal basis.

    Errors of the bracket terms are amplified at most by κ² (κ the frame's
    condition number) in the change to an orthonormal basis; n counts the
    roundings per component.  The floor of the Frobenius test and of the growth
    vector's new directions.
    """
    return _ROUNDOFF_SAFETY * _EPS * n * condition_number**2


def frobenius_tolerance(
    report: RankReport, dim: int, r: int, scale: float, error: float
) -> tuple[float, str]:
    """Default tolerance of the Frobenius test on the relative defect, and why: ``(tol, reason)``.

    :func:`roundoff_tolerance` with n = max(dim, r), plus 10× the propagated
    central-difference error estimate relative to the scale when there is one.
    """
    kappa = report.condition_number
    tol = roundoff_tolerance(max(dim, r), kappa)
    reason = (
        f"round-off: {_ROUNDOFF_SAFETY:g}*eps*max(dim, r)*kappa^2 with dim={dim}, r={r}, "
        f"kappa={kappa:.3g} (condition number of the frame at p; errors of the bracket "
        "terms are amplified at most by kappa^2 in the change to an orthonormal basis)"
    )
    if error > 0.0:
        fd = _FD_SAFETY * error / scale if scale > 0 else float("inf")
        tol += fd
        reason += f" + {_FD_SAFETY:g}*(central-difference error estimate)/scale = {fd:.3g}"
    return tol, reason


def frobenius_report(
    data: CurvatureData, dim: int, bracket_route: str, tolerance: float | None = None
) -> FrobeniusReport:
    """The Frobenius test (2.31) at one point: the verdict on the curvature data.

    Implements (2.31) as a test: involutive iff |Ω_p|_HS / scale ≤ tolerance
    (default :func:`frobenius_tolerance`).

    Returns
    -------
    FrobeniusReport
    """
    report = data.span.report
    if tolerance is None:
        tol, reason = frobenius_tolerance(report, dim, data.n_fields, data.scale, data.error)
    else:
        tol = check_real(tolerance, "tolerance", nonnegative=True)
        reason = "given by the caller"
    if report.rank < 2 or report.rank == dim:
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
        bracket_route=bracket_route,
        bracket_error=data.error,
        rank_report=report,
    )


def frobenius_verdict(reports: Iterable[FrobeniusReport]) -> FrobeniusVerdict:
    """The global verdict on the Frobenius reports of many points (at least one).

    Implements (2.31) over a sample: not involutive as soon as one point fails.
    """
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
