"""The matrix-free route: D⁺g by Krylov iterations with jvp and vjp only, for any smooth map.

Nothing QN×QN or QN×K is formed: the solver sees D only through
``f.jvp(θ, ·)`` and ``f.vjp(θ, ·)``.  Three methods (``method=``):

* ``"cg"`` — conjugate gradients on Θz = g with Θ-products jvp(vjp(·)); the
  iterate u = Dᵀz (the candidate grad_h) is accumulated from the vjps the
  products compute anyway.
* ``"minres"`` — scipy's MINRES on the same operator (also for singular Θ).
* ``"lsmr"`` — scipy's LSMR on D itself (min-norm least squares, no Gram matrix:
  its accuracy is governed by cond(D), not cond(D)²).

**Stopping on the true residual.**  Krylov recurrences update their residual
instead of recomputing it and drift from the true one by ~eps·cond; every
method here stops only when the *true* push-forward residual |g − D u|
(one jvp) is at most ``rtol``·|g|, restarting from the current iterate with the
true residual when the recurrence claimed convergence too early.  The number of
iterations (products with D and Dᵀ) is reported in ``stats``.  CG on Θ
converges in ~cond(D)·log(1/rtol) iterations and is limited to ~eps·cond(D)²
per restart, so 1e-10 is reached where cond(D) ≲ 1e3; beyond that use the kernel
route, which refines a direct factorization of Θ.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import scipy.sparse.linalg as spla

from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_real,
    check_vector,
)
from subriemann.linalg import RankPolicy, RankReport, resolve_policy
from subriemann.maps.smooth import SmoothMap, check_map

__all__ = ["KrylovFactorization", "KrylovStats", "KRYLOV_METHODS"]

#: The Krylov methods of :class:`KrylovFactorization`.
KRYLOV_METHODS = ("cg", "minres", "lsmr")
_EPS = float(np.finfo(np.float64).eps)


class KrylovStats(TypedDict):
    """KrylovFactorization.stats: counts over all solves and the last solve's outcome."""

    solves: int
    iterations: int
    restarts: int
    last_iterations: int
    last_residual: float
    converged: bool | None


class KrylovFactorization:
    """D⁺ and the projectors of D[θ] by Krylov solves with jvp/vjp. Implements (2.30), (1.23).

    The interface of :class:`~subriemann.linalg.JacobianSVD` used by the flows and
    the bundle: ``solve`` (D⁺rhs), ``solve_transpose``, ``normal_solve``,
    ``project_row``, ``project_kernel``, ``project_range``, ``rank``, ``report``,
    ``singular_values``.

    Parameters
    ----------
    f : SmoothMap
        With matrix-free jvp/vjp (``f.has_matrix_free_products``).
    theta : array-like, shape=[K]
    rank_policy : RankPolicy, float or None
    method : {"cg", "minres", "lsmr"}
    rtol : float
        Target of the true residual |rhs − D u| ≤ rtol·|rhs| (module docstring).
    maxiter : int, optional
        Iterations per solve over all restarts (default 10·QN + 100).
    restarts : int
        Restarts on the true residual.

    Attributes
    ----------
    stats : dict
        ``solves``, ``iterations`` (all solves), ``restarts``, ``last_iterations``,
        ``last_residual`` (true, relative), ``converged`` (last solve).
    report : RankReport
        From Lanczos estimates of the extreme eigenvalues of Θ (computed on first
        use): σ_max and σ_min as √λ; the rank is QN when σ_min is above the
        tolerance max(policy, √(QN·eps)·σ_max), else reported as QN − 1 (the
        Lanczos estimate shows at least one unresolved direction, not how many).
    """

    def __init__(
        self,
        f: SmoothMap,
        theta: npt.ArrayLike,
        *,
        rank_policy: RankPolicy | float | None = None,
        method: str = "cg",
        rtol: float = 1e-10,
        maxiter: int | None = None,
        restarts: int = 4,
    ) -> None:
        self.f = check_map(f)
        if not f.has_matrix_free_products:
            raise InputError(
                f"the matrix-free route needs matrix-free jvp/vjp; {type(f).__name__}'s products "
                "multiply by the whole Jacobian. Use route='dense'"
            )
        if method not in KRYLOV_METHODS:
            raise InputError(f"unknown Krylov method {method!r}; expected one of {KRYLOV_METHODS}")
        self.theta = np.array(check_vector(theta, f.dim_in, "theta"), dtype=np.float64)
        self.method = method
        self.rtol = check_real(rtol, "rtol", positive=True)
        QN = f.dim_out
        self.maxiter = check_int(maxiter, "maxiter") if maxiter is not None else 10 * QN + 100
        self.restarts = check_int(restarts, "restarts", minimum=0)
        self.rank_policy = resolve_policy(rank_policy)
        self._report: RankReport | None = None
        self.stats: KrylovStats = {
            "solves": 0,
            "iterations": 0,
            "restarts": 0,
            "last_iterations": 0,
            "last_residual": math.nan,
            "converged": None,
        }

    # -- products -------------------------------------------------------------------
    def _jvp(self, v):
        return np.asarray(self.f.jvp(self.theta, v), dtype=np.float64)

    def _vjp(self, w):
        return np.asarray(self.f.vjp(self.theta, w), dtype=np.float64)

    def _gram_operator(self):
        n = self.f.dim_out
        return spla.LinearOperator(
            (n, n), matvec=lambda z: self._jvp(self._vjp(z)), dtype=np.float64
        )

    # -- the rank report ---------------------------------------------------------------
    @property
    def report(self) -> RankReport:
        if self._report is None:
            self._report = self._lanczos_report()
        return self._report

    @property
    def rank(self) -> int:
        return self.report.rank

    @property
    def singular_values(self) -> np.ndarray:
        """The two Lanczos estimates (σ_max, σ_min) (only the extremes are known here)."""
        r = self.report
        return np.array([r.sigma_max, r.sigma_min])

    def _lanczos_report(self):
        QN, K = self.f.dim_out, self.f.dim_in
        op = self._gram_operator()
        if QN <= 2:  # ARPACK needs k < n; two columns of Θ are cheap
            lam = np.linalg.eigvalsh(np.column_stack([op.matvec(e) for e in np.eye(QN)]))
        else:
            ends = []
            for which in ("LA", "SA"):
                try:
                    ends.append(
                        spla.eigsh(
                            op,
                            k=1,
                            which=which,
                            tol=1e-8,
                            maxiter=20 * QN,
                            return_eigenvectors=False,
                        )[0]
                    )
                except spla.ArpackNoConvergence as exc:
                    ends.append(exc.eigenvalues[0] if len(exc.eigenvalues) else 0.0)
            lam = np.array(ends)
        s_max = math.sqrt(max(float(np.max(lam)), 0.0))
        s_min = math.sqrt(max(float(np.min(lam)), 0.0))
        tol = max(
            self.rank_policy.tolerance(np.array([s_max]), (QN, K)), math.sqrt(QN * _EPS) * s_max
        )
        full = min(QN, K)
        rank = full if s_min > tol else full - 1
        return RankReport(
            rank=rank,
            shape=(QN, K),
            sigma_min=s_min,
            sigma_max=s_max,
            sigma_min_kept=s_min if s_min > tol else s_max,
            tolerance=tol,
            policy=(
                f"{self.rank_policy.describe()}; matrix-free route: sigma_max, sigma_min from "
                f"Lanczos on Theta = D D^T, resolved above sqrt(QN*eps)*sigma_max = "
                f"{math.sqrt(QN * _EPS) * s_max:.3g}"
            ),
        )

    # -- solves ------------------------------------------------------------------------
    def _columns(self, fn, rhs, rows, name):
        rhs = check_array(rhs, name)
        if rhs.ndim not in (1, 2) or rhs.shape[0] != rows:
            raise ShapeError(f"{name} must have shape ({rows},) or ({rows}, k), got {rhs.shape}")
        if rhs.ndim == 2:
            return np.stack([fn(c) for c in rhs.T], axis=1)
        return fn(rhs)

    def solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """u = D⁺rhs by the Krylov method, stopping on the true residual |rhs − D u|. Implements (1.23).

        ``rhs`` (QN,) or (QN, k).  Not converged within ``maxiter``: the best
        iterate is returned and ``stats["converged"]`` is False.
        """
        return self._columns(self._solve, rhs, self.f.dim_out, "rhs")

    def _solve(self, b):
        nb = float(np.linalg.norm(b))
        K = self.f.dim_in
        u = np.zeros(K)
        if nb == 0.0:
            return u
        r = b.copy()
        iterations, restarts = 0, 0
        while True:
            budget = self.maxiter - iterations
            du, n_it = self._krylov(r, budget)
            iterations += n_it
            u = u + du
            r = b - self._jvp(u)  # the true push-forward residual
            res = float(np.linalg.norm(r))
            if res <= self.rtol * nb or restarts >= self.restarts or iterations >= self.maxiter:
                break
            restarts += 1
        self.stats["solves"] += 1
        self.stats["iterations"] += iterations
        self.stats["restarts"] += restarts
        self.stats["last_iterations"] = iterations
        self.stats["last_residual"] = res / nb
        self.stats["converged"] = res <= self.rtol * nb
        return u

    def _krylov(self, r, budget):
        """(du, iterations) with D du ≈ r, from one run of the method (no restart)."""
        budget = max(1, budget)
        target = 0.5 * self.rtol * float(np.linalg.norm(r))
        if self.method == "lsmr":
            op = spla.LinearOperator(
                (self.f.dim_out, self.f.dim_in),
                matvec=self._jvp,
                rmatvec=self._vjp,
                dtype=np.float64,
            )
            out = spla.lsmr(op, r, atol=0.5 * self.rtol, btol=0.5 * self.rtol, maxiter=budget)
            return out[0], int(out[2])
        if self.method == "minres":
            count = [0]

            def callback(_xk):
                count[0] += 1

            z, _ = spla.minres(
                self._gram_operator(), r, rtol=0.5 * self.rtol, maxiter=budget, callback=callback
            )
            return self._vjp(z), count[0]
        # CG on Θz = r with u = Dᵀz accumulated from the products' own vjps
        du = np.zeros(self.f.dim_in)
        res, p = r.copy(), r.copy()
        rr = float(res @ res)
        n_it = 0
        while n_it < budget and math.sqrt(rr) > target:
            q = self._vjp(p)
            Tp = self._jvp(q)
            pTp = float(p @ Tp)
            if not pTp > 0.0:  # Θ singular along p: nothing more to gain
                break
            alpha = rr / pTp
            du += alpha * q
            res -= alpha * Tp
            rr_new = float(res @ res)
            p = res + (rr_new / rr) * p
            rr = rr_new
            n_it += 1
        return du, n_it

    def gram_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """Θ⁺rhs ≈ z with Θ z = rhs, through u = D⁺rhs and w = (Dᵀ)⁺u (two Krylov solves)."""
        return self._columns(
            lambda b: self._solve_transpose(self._solve(b)), rhs, self.f.dim_out, "rhs"
        )

    def solve_transpose(self, rhs: npt.ArrayLike) -> np.ndarray:
        """w = (Dᵀ)⁺rhs, the minimum-norm least squares of Dᵀw = rhs, by LSMR on Dᵀ."""
        return self._columns(self._solve_transpose, rhs, self.f.dim_in, "rhs")

    def _solve_transpose(self, c):
        op = spla.LinearOperator(
            (self.f.dim_in, self.f.dim_out), matvec=self._vjp, rmatvec=self._jvp, dtype=np.float64
        )
        out = spla.lsmr(op, c, atol=self.rtol, btol=self.rtol, maxiter=self.maxiter)
        self.stats["iterations"] += int(out[2])
        return out[0]

    def normal_solve(self, rhs: npt.ArrayLike) -> np.ndarray:
        """(DᵀD)⁺rhs = D⁺(Dᵀ)⁺rhs, grad_h of the covector rhs. Implements (2.30)."""
        return self._columns(
            lambda c: self._solve(self._solve_transpose(c)), rhs, self.f.dim_in, "rhs"
        )

    def project_row(self, v: npt.ArrayLike) -> np.ndarray:
        """P v = D⁺(D v) (1.25)."""
        return self._columns(lambda c: self._solve(self._jvp(c)), v, self.f.dim_in, "v")

    def project_kernel(self, v: npt.ArrayLike) -> np.ndarray:
        """(1 − P) v."""
        v = check_array(v, "v")
        return v - self.project_row(v)

    def project_range(self, w: npt.ArrayLike) -> np.ndarray:
        """𝒫w = D D⁺w; w itself when the rank is full (𝒫 = 1)."""
        w = check_vector(w, self.f.dim_out, "w")
        if self.rank == self.f.dim_out:
            return np.array(w, dtype=np.float64)
        return self._jvp(self._solve(w))

    def __repr__(self) -> str:
        return (
            f"KrylovFactorization(QN={self.f.dim_out}, K={self.f.dim_in}, method={self.method!r})"
        )
