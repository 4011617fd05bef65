"""One place for the numerics every later module uses: rank policy, stable solves, projectors.

Why SVD (and never (DDᵀ)⁻¹): the paper writes Pen[D] = Dᵀ(DDᵀ)⁻¹ (1.23) and the
adapted flow as Dᵀ(DDᵀ)⁻²D∇ (1.27).  Forming DDᵀ squares the condition number,
so the literal formula's error grows like eps·cond(D)² (measured in
``benchmarks/bench_gradients.py``: ~1e-9 at cond 1e4, ~1e-4 at 1e6, O(1) at 1e8).  A thin SVD D = U Σ Vᵀ gives every object
of the paper from the factors of D itself, with errors proportional to cond(D):

* Pen[D] r = V Σ⁻¹ Uᵀ r  (minimum-norm least squares, (1.23), (4.5)–(4.6)),
* P = V Vᵀ (1.25) and 𝒫 = U Uᵀ ((4.2), (5.4)),
* DDᵀ = RᵀΛR with R = Uᵀ, Λ = Σ² (4.1) and its generalised inverse (4.3),
* grad_h = Pen Penᵀ ∇_θ = V Σ⁻² Vᵀ ∇_θ (2.30).

For a wide D (K ≫ QN, the overparametrized case) :class:`JacobianSVD` reaches
the same factors faster by a Householder QR of Dᵀ followed by the SVD of the
small QN×QN triangle R (and symmetrically for a tall D).  This still never forms
DDᵀ: mathematically DDᵀ = RᵀR, but R is computed by orthogonal reflections
applied to D itself, so it carries D's own backward error O(eps·|D|) and
cond(R) = cond(D) — nothing is squared (forming DDᵀ and factoring it, e.g. by
Cholesky, would give the same R with error eps·cond(D)²).  Householder QR and
the SVD are both backward stable, hence so is their composition: the computed
U, Σ, V are the exact SVD of some D + E with |E| = O(eps·|D|), exactly the
guarantee of a direct SVD, at about the cost of one ``numpy.linalg.lstsq``.

A rank decision always goes through :class:`RankPolicy`, is reported in a
:class:`RankReport` and can be overridden by the caller.

Why one module of ~700 lines: its one concept is *the factorization of D and what is
decided from it*.  The rank policy/report (~130 lines) exist only to decide on the
singular values of that SVD, and :class:`JacobianSVD` (~390 lines) is the one object
every solve, projector and pseudo-inverse of the package is applied through; the
autograd rules of :func:`pseudo_inverse` differentiate the same factors.  Splitting
them would separate a decision from the only numbers it is made on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.extend import defjvp, defvjp, primitive
from autograd.tracer import getval, isbox
from scipy.linalg import lapack

from subriemann.errors import (
    InputError,
    NumericalError,
    ShapeError,
    check_array,
    check_finite,
    check_real,
    check_result,
)

__all__ = [
    "ONE_BLAS_THREAD",
    "one_blas_thread_environment",
    "RankPolicy",
    "DEFAULT_RANK_POLICY",
    "RankReport",
    "JacobianSVD",
    "numerical_rank",
    "pseudo_inverse",
    "pseudo_inverse_derivative",
]


@dataclass(frozen=True)
class RankPolicy:
    """Which singular values count as non-zero.

    σ_i counts when σ_i > max(atol, rtol·σ_max).  The default (both ``None``)
    is numpy's ``matrix_rank`` rule, rtol = max(m, n)·eps: singular values
    below it are indistinguishable from round-off in an m×n float64 matrix.

    Parameters
    ----------
    rtol : float, optional
        Relative tolerance (times σ_max). Default max(m, n)·eps.
    atol : float, optional
        Absolute tolerance. Default 0.
    """

    rtol: float | None = None
    atol: float | None = None

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            check_real(getattr(self, name), f"RankPolicy.{name}", nonnegative=True, allow_none=True)

    def tolerance(self, singular_values: npt.ArrayLike, shape: Sequence[int]) -> float:
        """The threshold below which a singular value is treated as zero."""
        s_max = float(np.max(singular_values)) if np.size(singular_values) else 0.0
        rtol = self.rtol if self.rtol is not None else max(shape) * float(np.finfo(np.float64).eps)
        return max(self.atol or 0.0, rtol * s_max)

    def describe(self) -> str:
        if self.rtol is None and self.atol is None:
            return "default: sigma > sigma_max * max(m, n) * eps (numpy.linalg.matrix_rank)"
        return f"sigma > max(atol={self.atol or 0.0:g}, rtol={self.rtol if self.rtol is not None else 'max(m,n)*eps'} * sigma_max)"


DEFAULT_RANK_POLICY = RankPolicy()


def resolve_policy(policy: RankPolicy | float | None) -> RankPolicy:
    """``None`` → default policy; a float → relative tolerance; a RankPolicy as is."""
    if policy is None:
        return DEFAULT_RANK_POLICY
    if isinstance(policy, RankPolicy):
        return policy
    if isinstance(policy, int | float) and not isinstance(policy, bool):
        return RankPolicy(rtol=float(policy))
    raise InputError(f"rank_policy must be a RankPolicy, a float rtol or None, got {policy!r}")


@dataclass(frozen=True)
class RankReport:
    """The outcome of a rank decision: what was decided and on which evidence.

    ``sigma_min`` is the smallest singular value of the matrix (min(m, n) of
    them), zero or not; ``sigma_min_kept`` the smallest one counted in the rank.
    """

    rank: int
    shape: tuple[int, ...]
    sigma_min: float
    sigma_max: float
    sigma_min_kept: float
    tolerance: float
    policy: str = field(default="")

    @property
    def full_row_rank(self) -> bool:
        """rank = number of rows (rank D = QN, the condition (2.1))."""
        return self.rank == self.shape[0]

    @property
    def full_column_rank(self) -> bool:
        """rank = number of columns (rank D = K, the condition (5.1))."""
        return self.rank == self.shape[1]

    @property
    def condition_number(self) -> float:
        """σ_max / σ_min_kept on the retained part (inf if rank 0)."""
        return self.sigma_max / self.sigma_min_kept if self.rank else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "shape": list(self.shape),
            "sigma_min": self.sigma_min,
            "sigma_max": self.sigma_max,
            "sigma_min_kept": self.sigma_min_kept,
            "tolerance": self.tolerance,
            "policy": self.policy,
        }


def numerical_rank(
    singular_values: npt.ArrayLike, shape: Sequence[int], policy: RankPolicy | float | None = None
) -> RankReport:
    """Decide the rank of an m×n matrix from its singular values under ``policy``."""
    policy = resolve_policy(policy)
    s = np.asarray(singular_values, dtype=np.float64)
    tol = policy.tolerance(s, shape)
    rank = int(np.count_nonzero(s > tol))
    return RankReport(
        rank=rank,
        shape=tuple(int(d) for d in shape),
        sigma_min=float(s.min()) if s.size else 0.0,
        sigma_max=float(s.max()) if s.size else 0.0,
        sigma_min_kept=float(s[rank - 1]) if rank else 0.0,
        tolerance=float(tol),
        policy=policy.describe(),
    )


# Aspect ratio max(m, n)/min(m, n) from which JacobianSVD factors D by QR first.
# Measured with one BLAS thread (numpy 2.3 / OpenBLAS 0.3.30): the stable grad_h
# (factorization + normal_solve) costs 0.95–1.05× one numpy.linalg.lstsq at
# 100×400 … 400×2000 (benchmarks/bench_gradients.py) and 0.4× at 32×5000 and
# 128×5000, against 1.5–2.0× for the direct SVD; at a ratio of 1.5 the QR route is
# still slightly ahead (200×300: 1.30× against 1.37×), below it the routes tie.
_QR_ASPECT = 1.5
# Block size for LAPACK's workspace (geqrf/ormqr use blocks of 32–64 columns) and
# the size of ormqr's block-reflector buffer T (LAPACK ≥ 3.7: (64 + 1)·64).
_NB, _TSIZE = 64, 4160
# From this many columns k the QR uses geqrt (recursive BLAS-3 panels, compact-WY
# blocks of _NB_T columns) instead of geqrf, whose BLAS-2 panels make OpenBLAS on
# two threads 2–4× slower than on one (measured 400×2000: geqrf 24 ms on 2 threads
# vs 14 ms on 1; geqrt 12 ms vs 16 ms; 128×2000: geqrf 3.1/11.5 ms on 1/2 threads,
# geqrt 2.4/2.5 ms).  For narrower panels geqrf is faster on one thread (32×5000:
# 0.56 vs 0.95 ms; 48×2000: 0.46 vs 0.63 ms; tiny matrices: 4 vs 13 µs).
_GEQRT_MIN, _NB_T = 64, 32


class JacobianSVD:
    """Thin SVD D = U Σ Vᵀ of a Jacobian D (m×n) truncated at its numerical rank.

    All of the paper's linear algebra on D is a method here.  Nothing forms DDᵀ
    or DᵀD, nor inverts them (see the module docstring for why).

    For a wide D (n ≥ 1.5 m, the overparametrized Jacobian QN×K) the factors are
    computed as Dᵀ = QR (Householder) followed by the SVD of the small m×m
    triangle R = U_R Σ V_Rᵀ; then D = RᵀQᵀ = V_R Σ (Q U_R)ᵀ, so U = V_R and
    V = Q U_R.  V (n×r) is kept implicit: Q as its m Householder reflectors and
    U_R, so V v = Q (U_R v) and Vᵀ w = U_Rᵀ (Qᵀ w) cost O(nm) per vector and no
    n×m product is formed unless ``.Vt`` (or a method needing the whole matrix)
    is used.  A tall D (m ≥ 1.5 n) is treated symmetrically (D = QR, U = Q U_R
    implicit).  Otherwise D is factored by one SVD.

    Parameters
    ----------
    D : ndarray, shape=[m, n]
        A Jacobian, e.g. D[θ] (QN×K) of (1.17).
    rank_policy : RankPolicy or float or None
        How to decide the numerical rank; see :class:`RankPolicy`.

    Attributes
    ----------
    U : ndarray, shape=[m, rank]
        Left singular vectors on the numerical rank (computed on first use if implicit).
    s : ndarray, shape=[rank]
        The retained singular values, decreasing.
    Vt : ndarray, shape=[rank, n]
        Right singular vectors on the numerical rank (computed on first use if implicit).
    singular_values : ndarray, shape=[min(m, n)]
        All singular values of D, decreasing; the rank policy is applied to them.
    report : RankReport
        The rank decision.
    """

    def __init__(self, D: npt.ArrayLike, rank_policy: RankPolicy | float | None = None):
        D = check_array(D, "D", finite=False)
        # D is usually computed (a Jacobian at a finite point): NaN/inf there is
        # overflow of the map, numerical trouble rather than a bad argument
        check_result(
            D,
            "the Jacobian D",
            "the map overflowed at this point (check the scale of theta and of the inputs)",
        )
        if D.ndim != 2 or 0 in D.shape:
            raise ShapeError(f"D must be a non-empty 2-D matrix, got shape {D.shape}")
        self.D: np.ndarray = D
        m, n = D.shape
        # _U / _Vt: explicit factors (None while implicit); _side names the implicit
        # one, _Z its small factor: implicit factor = Q @ _Z with Q = reflectors
        self._U = self._Vt = self._reflectors = self._Z = self._side = None
        self._U_square = None  # a full square U (m×m) when the factorization gives one
        self._gp_factors = None  # (W, UΣ⁻¹) for pseudo_inverse_derivative, on first use
        if n >= _QR_ASPECT * m:
            # D = RᵀQᵀ with Dᵀ = QR; SVD R = U_R Σ V_Rᵀ  ⇒  U = V_R, V = Q U_R
            R = self._householder(D.T)
            U_R, s, V_Rt = self._svd_small(R)
            self._side, self._U_square = "V", V_Rt.T
        elif m >= _QR_ASPECT * n:
            # D = QR; SVD R = U_R Σ V_Rᵀ  ⇒  U = Q U_R, V = V_R
            R = self._householder(D)
            U_R, s, V_Rt = self._svd_small(R)
            self._side = "U"
        else:
            U, s, V_Rt = np.linalg.svd(D, full_matrices=False)
            if m == U.shape[1]:
                self._U_square = U
        self.singular_values: np.ndarray = s
        self.report = numerical_rank(s, D.shape, rank_policy)
        r = self.report.rank
        self.s: np.ndarray = s[:r]
        if self._side == "V":
            self._U, self._Z = V_Rt[:r].T, U_R[:, :r]
        elif self._side == "U":
            self._Vt, self._Z = V_Rt[:r], U_R[:, :r]
        else:
            self._U, self._Vt = U[:, :r], V_Rt[:r]

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def U(self) -> np.ndarray:
        """Left singular vectors on the numerical rank, shape (m, rank)."""
        if self._U is None:
            self._U = self._q_apply(self._Z)
        return self._U

    @property
    def Vt(self) -> np.ndarray:
        """Right singular vectors on the numerical rank, shape (rank, n)."""
        if self._Vt is None:
            self._Vt = self._q_apply(self._Z).T
        return self._Vt

    # -- the QR route: Q as Householder reflectors (LAPACK geqrf/ormqr, geqrt/gemqrt) --
    def _householder(self, A):
        """Economy Householder QR of the long matrix A (N×k, N ≥ k); returns R (k×k).

        Householder QR is backward stable (A + E = QR with |E| ≤ c·eps·|A| and Q
        orthogonal to working precision), and so is the SVD of R; their
        composition is the exact SVD of a matrix within O(eps·|D|) of D, the same
        guarantee as a direct SVD.  cond(R) = cond(D): nothing is squared.
        """
        k = A.shape[1]
        if k >= _GEQRT_MIN:
            qr, T, info = lapack.dgeqrt(_NB_T, A)
            self._reflectors = ("geqrt", qr, T)
        else:
            qr, tau, _, info = lapack.dgeqrf(A, lwork=max(1, k * _NB))
            self._reflectors = ("geqrf", qr, tau)
        if info != 0:
            raise NumericalError(f"LAPACK {self._reflectors[0]} failed (info = {info})")
        return np.triu(qr[:k])

    @staticmethod
    def _svd_small(R):
        """SVD of the k×k triangle R by LAPACK gesdd through scipy.

        scipy's LAPACK, like the QR: numpy and scipy each bring an OpenBLAS with
        its own thread pool, and alternating the two on multi-threaded BLAS makes
        the idle pool's spinning threads steal the cores of the busy one.
        """
        U_R, s, V_Rt, info = lapack.dgesdd(R)
        if info != 0:
            raise NumericalError(f"LAPACK dgesdd failed on the QR factor (info = {info})")
        return U_R, s, V_Rt

    def _q_apply(self, y, transpose=False):
        """Q y (y (k,) or (k, c) → (N, ...)) or, with ``transpose``, Qᵀ w ((N, ...) → (k, ...))."""
        kind, qr, tau_or_T = self._reflectors
        N, k = qr.shape
        rows = N if transpose else k
        if y.ndim == 2 and y.shape[1] == 0:  # rank 0: nothing to transform
            return np.zeros((k if transpose else N, 0))
        c = np.zeros((N, 1 if y.ndim == 1 else y.shape[1]), order="F")
        c[:rows] = y.reshape(rows, -1)
        trans = "T" if transpose else "N"
        if kind == "geqrt":
            out, info = lapack.dgemqrt(qr, tau_or_T, c, side="L", trans=trans, overwrite_c=1)
        else:
            lwork = c.shape[1] * _NB + _TSIZE
            out, _, info = lapack.dormqr("L", trans, qr, tau_or_T, c, lwork=lwork, overwrite_c=1)
        if info != 0:
            raise NumericalError(f"LAPACK {kind} application of Q failed (info = {info})")
        out = out[:k] if transpose else out
        return out[:, 0] if y.ndim == 1 else out

    def _implicit(self, side, rhs):
        """Whether U (``side`` "U") or V must be applied to ``rhs`` through the reflectors.

        Applying Q costs ~4Nk flops per column against 2Nr once the factor is
        formed, so many columns (or autograd boxes, or stacked right-hand sides)
        materialise it instead, once.
        """
        if self._side != side or (self._U if side == "U" else self._Vt) is not None:
            return False
        if isbox(rhs) or np.ndim(rhs) not in (1, 2):
            return False
        return np.ndim(rhs) == 1 or 2 * np.shape(rhs)[1] < max(self.rank, 1)

    def _apply_V(self, y):
        """V y, y of shape (rank,) or (rank, c)."""
        if self._implicit("V", y):
            return self._q_apply(self._Z @ y)
        return self.Vt.T @ y

    def _apply_Vt(self, v):
        """Vᵀ v, v of shape (n,) or (n, c)."""
        if self._implicit("V", v):
            return self._Z.T @ self._q_apply(np.asarray(v, dtype=np.float64), transpose=True)
        return self.Vt @ v

    def _apply_U(self, y):
        """U y, y of shape (rank,) or (rank, c)."""
        if self._implicit("U", y):
            return self._q_apply(self._Z @ y)
        return self.U @ y

    def _apply_Ut(self, w):
        """Uᵀ w, w of shape (m,) or (m, c)."""
        if self._implicit("U", w):
            return self._Z.T @ self._q_apply(np.asarray(w, dtype=np.float64), transpose=True)
        return self.U.T @ w

    # -- argument checks ------------------------------------------------------
    def _rhs(self, rhs, axis, name="rhs"):
        """``rhs`` checked for dtype and shape (m,)/(m, k) with m = D.shape[axis]: O(1) when float64.

        Finiteness is not checked here but on the result (:meth:`_checked`): a
        NaN/inf in rhs makes the result non-finite, so one pass over the result
        catches both bad input and overflow, and the solves on hot paths (one
        per flow step) validate once.
        """
        raw = getval(rhs)
        if not (isinstance(raw, np.ndarray) and raw.dtype == np.float64):
            rhs = check_array(rhs, name)  # lists, ints, complex, strings: the shared check
        rows = self.D.shape[axis]
        if len(np.shape(rhs)) not in (1, 2) or np.shape(rhs)[0] != rows:
            raise ShapeError(
                f"{name} must have shape ({rows},) or ({rows}, k) for D of shape {self.D.shape}, "
                f"got {tuple(np.shape(rhs))}"
            )
        return rhs

    def _checked(self, out, rhs, what, name="rhs"):
        """``out`` if finite; else NonFiniteError if ``rhs`` was not finite, NumericalError if it was."""
        try:
            return check_result(out, what)
        except NumericalError as exc:
            check_finite(rhs, name)
            big = float(np.max(np.abs(getval(rhs)), initial=0.0))
            raise NumericalError(
                f"{exc}: |{name}|_max = {big:.3g} is too large for the singular values of D "
                f"(sigma_min_kept = {self.report.sigma_min_kept:.3g})"
            ) from None

    # -- solves ---------------------------------------------------------------
    def solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """Minimum-norm least-squares solution u of D u = rhs: u = D⁺ rhs = V Σ⁻¹ Uᵀ rhs.

        With rank D = m this is Pen[D] rhs (1.23); with rank loss it is the
        least-squares solution of (4.5)–(4.6).  ``rhs`` may be (m,) or (m, k).
        """
        rhs = self._rhs(rhs, 0)
        return self._checked(self._apply_V(self._apply_Ut(rhs) / _col(self.s, rhs)), rhs, "D⁺ rhs")

    def solve_transpose(self, rhs: npt.ArrayLike) -> np.ndarray:
        """Minimum-norm least-squares u of Dᵀ u = rhs: u = (Dᵀ)⁺ rhs = U Σ⁻¹ Vᵀ rhs.

        With rank D = m this is Pen[D]ᵀ rhs, the step (2.29).
        """
        rhs = self._rhs(rhs, 1)
        out = self._apply_U(self._apply_Vt(rhs) / _col(self.s, rhs))
        return self._checked(out, rhs, "(Dᵀ)⁺ rhs")

    def gram_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """(DDᵀ)⁺ rhs = U Σ⁻² Uᵀ rhs, the Ψ of (4.10) (up to sign), without forming DDᵀ."""
        rhs = self._rhs(rhs, 0)
        out = self._apply_U(self._apply_Ut(rhs) / _col(self.s**2, rhs))
        return self._checked(out, rhs, "(DDᵀ)⁺ rhs")

    def normal_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """(DᵀD)⁺ rhs = V Σ⁻² Vᵀ rhs: grad_g (5.17) when rank D = n, grad_h (2.30) in general."""
        rhs = self._rhs(rhs, 1)
        out = self._apply_V(self._apply_Vt(rhs) / _col(self.s**2, rhs))
        return self._checked(out, rhs, "(DᵀD)⁺ rhs")

    # -- Pen[D] and projectors -----------------------------------------------
    def pseudo_inverse(self) -> np.ndarray:
        """D⁺ = V Σ⁻¹ Uᵀ, shape (n, m): Pen[D] of (1.23)/(2.2) when rank D = m."""
        return (self.Vt.T / self.s) @ self.U.T

    def pseudo_inverse_derivative(
        self, dD: npt.ArrayLike, out: np.ndarray | None = None
    ) -> np.ndarray:
        """d/dt (D + t dD)⁺ at t = 0, at constant rank: the Golub–Pereyra formula on the factors.

        Same value as :func:`pseudo_inverse_derivative` (which see), evaluated
        from U, Σ, V so that its transpose costs three matrix products of the
        size of dD.  With G = dD·V (m×r) and W = D⁺ᵀD⁺ = UΣ⁻²Uᵀ = (DDᵀ)⁺::

            (dD⁺)ᵀ = −D⁺ᵀdDᵀD⁺ᵀ + (1 − 𝒫) dD D⁺D⁺ᵀ + D⁺ᵀD⁺ dD (1 − P)
                   = W dD + [−UΣ⁻¹(GᵀU)Σ⁻¹ + (1 − 𝒫)GΣ⁻² − W G] Vᵀ,

        where the bracket is m×r, so no n×n (K×K) matrix and no second m×n
        intermediate is formed.  The frame brackets of ``bundles.PullbackBundle``
        are built from it (one call per frame field).

        Parameters
        ----------
        dD : ndarray, shape=[m, n] or [b, m, n]
            A direction, or a stack of b directions.
        out : ndarray, shape=[n, m] or [b, n, m], optional
            Where to write the result; fastest when ``out`` is the transpose of a
            C-contiguous (m, n) (or (b, m, n)) array, e.g. ``S[i].T``.

        Returns
        -------
        dD_pinv : ndarray, shape=[n, m] or [b, n, m]
            Without ``out``: a transposed view of a C-contiguous array holding
            (dD⁺)ᵀ, so ``.T`` (or ``.transpose(0, 2, 1)``) is free.
        """
        if isbox(dD):
            return pseudo_inverse_derivative(self.D, self.pseudo_inverse(), dD)
        if not (isinstance(dD, np.ndarray) and dD.dtype == np.float64):
            dD = check_array(dD, "dD")  # finiteness of a float64 dD is checked on the result
        m, n = self.D.shape
        if dD.shape[-2:] != (m, n) or dD.ndim not in (2, 3):
            raise ShapeError(f"dD must have shape ({m}, {n}) or (b, {m}, {n}), got {dD.shape}")
        if out is None:
            out = np.empty(dD.shape).swapaxes(-1, -2)
        elif out.shape != dD.shape[:-2] + (n, m):
            raise ShapeError(f"out must have shape {dD.shape[:-2] + (n, m)}, got {out.shape}")
        if dD.ndim == 3:
            for dD_i, out_i in zip(dD, out, strict=True):
                self._pseudo_inverse_derivative_t(dD_i, out_i.T)
        else:
            self._pseudo_inverse_derivative_t(dD, out.T)
        return self._checked(out, dD, "the derivative of D⁺ along dD", "dD")

    def _pseudo_inverse_derivative_t(self, dD, out_t):
        """Write (dD⁺)ᵀ (m×n) into ``out_t``; see :meth:`pseudo_inverse_derivative`."""
        if self.rank == 0:  # D⁺ ≡ 0 at locally constant rank 0
            out_t[...] = 0.0
            return
        if self._gp_factors is None:
            U, s = self.U, self.s
            self._gp_factors = ((U / s**2) @ U.T, U / s)  # W = UΣ⁻²Uᵀ, UΣ⁻¹
        W, U_s = self._gp_factors
        U, s, Vt = self.U, self.s, self.Vt
        G = dD @ Vt.T  # dD V
        bracket = (G - U @ (U.T @ G)) / s**2 - W @ G - U_s @ ((G.T @ U) / s)
        # numpy's BLAS only: alternating it with scipy's (another OpenBLAS, another
        # thread pool) once per frame field costs 10× on two threads
        np.matmul(W, dD, out=out_t)
        out_t += bracket @ Vt

    def row_projector(self) -> np.ndarray:
        """P = D⁺D = V Vᵀ (n×n), orthoprojector onto range Dᵀ. Implements (1.25)."""
        return self.Vt.T @ self.Vt

    def kernel_projector(self) -> np.ndarray:
        """1 − P (n×n), orthoprojector onto ker D (the vertical space)."""
        return np.eye(self.D.shape[1]) - self.row_projector()

    def range_projector(self) -> np.ndarray:
        """𝒫 = DD⁺ = U Uᵀ (m×m), orthoprojector onto range D. Implements (4.2)/(5.4)."""
        return self.U @ self.U.T

    def range_complement_projector(self) -> np.ndarray:
        """𝒫^⊥ = 1 − 𝒫 (m×m)."""
        return np.eye(self.D.shape[0]) - self.range_projector()

    def project_row(self, v: npt.ArrayLike) -> np.ndarray:
        """P v without forming P."""
        v = self._rhs(v, 1, "v")
        return self._checked(self._apply_V(self._apply_Vt(v)), v, "P v", "v")

    def project_kernel(self, v: npt.ArrayLike) -> np.ndarray:
        """(1 − P) v, the vertical part of v."""
        v = self._rhs(v, 1, "v")
        return v - self.project_row(v)

    def project_range(self, w: npt.ArrayLike) -> np.ndarray:
        """𝒫 w without forming 𝒫."""
        w = self._rhs(w, 0, "w")
        return self._checked(self._apply_U(self._apply_Ut(w)), w, "𝒫 w", "w")

    def independent_columns(self) -> np.ndarray:
        """Indices of ``rank`` columns of D that span range D (= range 𝒫), shape (rank,).

        Chosen by QR with column pivoting (Businger–Golub): each pivot is the
        column with the largest component orthogonal to those already chosen,
        so the selection is as well conditioned as a greedy choice can be.
        These are the "r-tuple of column vectors of D" suggested for the V_α
        of (4.13).  Returned in increasing order.
        """
        from scipy.linalg import qr

        if self.rank == 0:
            return np.zeros(0, dtype=np.intp)
        _, pivots = qr(self.D, mode="r", pivoting=True)
        return np.sort(pivots[: self.rank]).astype(np.intp)

    def spectral_split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """DDᵀ = RᵀΛR (4.1) with R ∈ SO(m), and the generalised inverse Λ⁻¹ of §4.1.

        Returns
        -------
        R : ndarray, shape=[m, m]
            Rows are eigenvectors of DDᵀ (R = Uᵀ of a full SVD, det R = +1).
        Lam : ndarray, shape=[m]
            Eigenvalues σ_i² (zero beyond the numerical rank).
        Lam_inv : ndarray, shape=[m]
            Generalised inverse: 1/σ_i² on the rank, 0 elsewhere ((4.3)).
        """
        # the factorization gives a square U unless D is tall
        U = self._U_square if self._U_square is not None else np.linalg.svd(self.D)[0]
        m = U.shape[0]
        if np.linalg.det(U) < 0:
            U = U.copy()
            U[:, -1] *= -1.0
        lam = np.zeros(m)
        lam[: self.rank] = self.s**2
        lam_inv = np.zeros(m)
        lam_inv[: self.rank] = 1.0 / self.s**2
        return U.T, lam, lam_inv


def _col(s, rhs):
    """Broadcast singular values against a vector or a matrix right-hand side."""
    return s if np.ndim(rhs) == 1 else s[:, None]


def pseudo_inverse_derivative(
    D: npt.ArrayLike, D_pinv: npt.ArrayLike, dD: npt.ArrayLike
) -> np.ndarray:
    """Directional derivative of the pseudo-inverse, d/dt (D + t dD)⁺ at t = 0.

    Golub–Pereyra (1973), valid where the rank of D is locally constant::

        dD⁺ = −D⁺ dD D⁺ + D⁺D⁺ᵀ dDᵀ (1 − DD⁺) + (1 − D⁺D) dDᵀ D⁺ᵀD⁺.

    With full row rank (DD⁺ = 1, D⁺ᵀD⁺ = (DDᵀ)⁻¹) the middle term vanishes and
    this is dPen[dD] = −Pen dD Pen + (1 − P) dDᵀ (DDᵀ)⁻¹.  Only D⁺ (from the SVD)
    is used, no inverse of DDᵀ.  Written with ``autograd.numpy`` so that it is
    itself differentiable (higher brackets differentiate it again).

    Parameters
    ----------
    D : array-like, shape=[m, n]
    D_pinv : array-like, shape=[n, m]
        D⁺, e.g. ``JacobianSVD(D).pseudo_inverse()``.
    dD : array-like, shape=[m, n]
        Direction.

    Returns
    -------
    dD_pinv : array-like, shape=[n, m]
    """
    dDt = anp.transpose(dD)
    term1 = -anp.dot(D_pinv, anp.dot(dD, D_pinv))
    # products are associated so that no n×n (K×K) intermediate is formed
    range_defect = dDt - anp.dot(dDt, anp.dot(D, D_pinv))  # dDᵀ (1 − DD⁺)
    term2 = anp.dot(D_pinv, anp.dot(anp.transpose(D_pinv), range_defect))
    Y = anp.dot(dDt, anp.dot(anp.transpose(D_pinv), D_pinv))  # dDᵀ D⁺ᵀ D⁺
    term3 = Y - anp.dot(D_pinv, anp.dot(D, Y))
    return term1 + term2 + term3


@primitive
def pseudo_inverse(D: npt.ArrayLike, rank_policy: RankPolicy | float | None = None) -> np.ndarray:
    """D⁺ (n×m) through :class:`JacobianSVD`, differentiable by autograd in both modes.

    Pen[D] of (1.23) when rank D = m.  This is the traceable route to the frame
    Pen[D[θ]] when θ is an autograd box (Lie brackets, geomstats' Hamiltonian
    geodesics): the value is the truncated SVD pseudo-inverse (rank decided by
    ``rank_policy``), and the derivatives are the closed form of
    :func:`pseudo_inverse_derivative` rather than autograd's SVD derivative,
    which divides by σ_i² − σ_j² and is unstable at close singular values.
    Derivatives assume the rank is locally constant.

    Parameters
    ----------
    D : array-like, shape=[m, n]
    rank_policy : RankPolicy or float or None

    Returns
    -------
    D_pinv : array-like, shape=[n, m]
    """
    return JacobianSVD(D, rank_policy).pseudo_inverse()


def _pseudo_inverse_vjp(ans, D, rank_policy=None):
    # adjoint of dD ↦ dD⁺ under the trace inner product, term by term
    def vjp(g):
        gt = anp.transpose(g)
        ans_t = anp.transpose(ans)
        term1 = -anp.dot(anp.dot(ans_t, g), ans_t)
        range_defect = gt - anp.dot(anp.dot(D, ans), gt)  # (1 − DD⁺) gᵀ
        term2 = anp.dot(anp.dot(range_defect, ans), ans_t)
        Z = anp.dot(anp.dot(ans_t, ans), gt)  # D⁺ᵀD⁺ gᵀ
        term3 = Z - anp.dot(anp.dot(Z, ans), D)
        return term1 + term2 + term3

    return vjp


defvjp(pseudo_inverse, _pseudo_inverse_vjp)
defjvp(
    pseudo_inverse,
    lambda g, ans, D, rank_policy=None: pseudo_inverse_derivative(D, ans, g),
)


#: the environment that gives a worker process one BLAS/OpenMP thread
ONE_BLAS_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def one_blas_thread_environment() -> Iterator[None]:
    """Set :data:`ONE_BLAS_THREAD` while worker processes start (they inherit it), then restore.

    Two processes on 2 shared cores, each with a multi-threaded BLAS, fight for the cores;
    the survey backends and the distributed NTK start their workers under this.
    """
    saved = {k: os.environ.get(k) for k in ONE_BLAS_THREAD}
    os.environ.update(ONE_BLAS_THREAD)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
