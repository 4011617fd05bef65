"""The law of the columns ∂_jx of D (2.12): structural checks of Prop. 2.2's hypothesis, and
Bingham's statistic of the axes e_j = ∂_jx / |∂_jx| as a descriptive figure.

**What Prop. 2.2 assumes.**  The e_j are i.i.d. with an *absolutely continuous*
law on S^{QN−1} (not a uniform one).  An absolutely continuous law gives
probability 0 to every point and to every proper subspace, so two structural
facts of a network's D contradict the hypothesis outright, whatever the spread:

* **atoms** — a column that does not depend on θ has a point mass as its law.
  For the MLP (1.3)–(1.4) the output-bias columns ∂x/∂b_{L+1,q} = e_q ⊗ 1_N
  are such columns (a fraction Q/K of all columns);
* **exact zeros** — a column with exact zero entries at every θ lives on a
  coordinate subspace, a null set for an absolutely continuous law.  For the
  MLP, ∂x_{q'}/∂W_{L+1}[q, i] = 0 for q' ≠ q: every output-layer column has
  (Q − 1)N exact zeros of QN (half of its entries for Q = 2).

:func:`column_structure` finds both from two Jacobians at independent θ (a
column identical at both is θ-independent; an entry zero at both is a
structural zero) and reports the **rank of the support**: the rank of the atom
columns, the largest number of non-zero rows of a structurally sparse column
(the dimension of the coordinate subspace carrying it), and the rank of the
remaining "generic" columns — whether the columns an absolutely continuous law
could describe span R^{QN} on their own.  The columns are not identically
distributed either (atoms next to spread columns), so neither half of "i.i.d.
+ absolutely continuous" holds; Prop. 2.2's conclusion can still hold, and the
rank survey measures whether it does.

**Bingham's statistic (descriptive only).**  e_j and −e_j span the same line and
contribute the same rank-one term e_j e_jᵀ to DDᵀ (2.12): the data are
*axial*, so the Rayleigh test (mean direction) is the wrong tool.  Bingham's
statistic compares the scatter matrix T̄ = (1/n) Σ_j e_j e_jᵀ with I/p
(p = QN), its value under the uniform law: S = n p(p+2)/2 · (tr T̄² − 1/p) is
asymptotically χ² with (p−1)(p+2)/2 degrees of freedom for i.i.d. uniform axes
(Mardia & Jupp, *Directional Statistics*, §10.7).  Note tr T̄² =
(1/n²) Σ_{i,j} ⟨e_i, e_j⟩²: the statistic of the pairwise squared inner
products, whose mean is 1/p under uniformity.  Rejecting uniformity does **not**
test Prop. 2.2, which never assumes it; S/dof and ``isotropy`` = p·λ_min(T̄)
∈ [0, 1] describe how anisotropic the spread is (isotropy 0: the axes miss a
direction of R^{QN}, then rank DDᵀ < QN), which is what conditions DDᵀ.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError
from subriemann.linalg import JacobianSVD, RankPolicy, resolve_policy

__all__ = ["bingham_test", "column_structure"]


def bingham_test(D: npt.ArrayLike) -> dict[str, float]:
    """Bingham's statistic of uniformity for the axes e_j = D[:, j]/|D[:, j]| of (2.12).

    A description of the spread, not a test of Prop. 2.2 (see the module docstring).

    Parameters
    ----------
    D : array-like, shape=[p, n]
        Columns ∂_jx (zero columns are left out: they carry no axis).

    Returns
    -------
    dict
        ``statistic`` S = n p(p+2)/2 (tr T̄² − 1/p), ``dof`` = (p−1)(p+2)/2,
        ``pvalue`` = P[χ²_dof ≥ S] (asymptotic in n; small p-values reject
        uniform spread), ``isotropy`` = p λ_min(T̄) ∈ [0, 1],
        ``anisotropy`` = p λ_max(T̄) ∈ [1, p], ``n_axes`` and ``n_zero_columns``.
    """
    from scipy.stats import chi2

    jac = np.asarray(D, dtype=np.float64)
    if jac.ndim != 2:
        raise InputError(f"D must be 2-D (p, n), got shape {jac.shape}")
    p = jac.shape[0]
    norms = np.linalg.norm(jac, axis=0)
    keep = norms > 0
    n = int(np.count_nonzero(keep))
    if p < 2 or n < 1:
        raise InputError(
            f"Bingham's test needs p = QN >= 2 and at least one non-zero column, got p = {p}, "
            f"{n} non-zero columns"
        )
    E = jac[:, keep] / norms[keep]
    T = E @ E.T / n
    lam = np.linalg.eigvalsh(T)
    statistic = n * p * (p + 2) / 2.0 * (float(np.sum(T * T)) - 1.0 / p)
    dof = (p - 1) * (p + 2) // 2
    return {
        "statistic": float(statistic),
        "dof": int(dof),
        "pvalue": float(chi2.sf(statistic, dof)),
        "isotropy": float(max(p * lam[0], 0.0)),
        "anisotropy": float(p * lam[-1]),
        "n_axes": n,
        "n_zero_columns": int(jac.shape[1] - n),
    }


def column_structure(
    D: npt.ArrayLike, D_other: npt.ArrayLike, rank_policy: RankPolicy | float | None = None
) -> dict[str, Any]:
    """Structural checks of Prop. 2.2's hypothesis on the columns ∂_jx of D (2.12).

    Prop. 2.2 assumes the e_j i.i.d. with an absolutely continuous law on
    S^{QN−1}; a θ-independent column (an atom of the law) or a column with
    structural exact zeros (a law carried by a coordinate subspace, a null set)
    contradicts it (see the module docstring).

    Parameters
    ----------
    D, D_other : array-like, shape=[p, n]
        The Jacobian of one map at two independent random points θ, θ'.  A
        column equal at both (bitwise) is taken as θ-independent; an entry zero
        at both as a structural zero.
    rank_policy : RankPolicy, float or None
        The rank decision for ``atom_rank`` and ``generic_rank`` (the package's
        one policy, :func:`subriemann.linalg.resolve_policy`).

    Returns
    -------
    dict
        ``atom_columns`` (indices j with D[:, j] = D'[:, j]), ``sparse_columns``
        (the other columns with an entry zero at both points), ``n_atoms``,
        ``n_sparse``, ``atom_rank`` (rank of the atom columns: the number of
        independent atoms), ``sparse_support_max`` (the most non-zero rows of a
        sparse column: the dimension of the coordinate subspace it lives on),
        ``exact_zero_fraction`` (of all entries of D, zero at both points),
        ``generic_rank`` (rank of the remaining columns) and
        ``generic_full_rank`` (generic_rank = p: those columns alone satisfy
        the rank condition (2.1)).
    """
    jac = np.asarray(D, dtype=np.float64)
    jac_other = np.asarray(D_other, dtype=np.float64)
    if jac.ndim != 2 or jac.shape != jac_other.shape:
        raise InputError(
            f"D and D_other must be 2-D of one shape (p, n), got {jac.shape} and {jac_other.shape}"
        )
    policy = resolve_policy(rank_policy)
    p = jac.shape[0]
    zero = (jac == 0) & (jac_other == 0)
    atom = np.all(jac == jac_other, axis=0)
    sparse = np.any(zero, axis=0) & ~atom
    generic = ~(atom | sparse)

    def rank(columns):
        if not np.any(columns):
            return 0
        return JacobianSVD(jac[:, columns], policy).report.rank

    support = p - np.count_nonzero(zero[:, sparse], axis=0)
    generic_rank = rank(generic)
    return {
        "atom_columns": [int(j) for j in np.flatnonzero(atom)],
        "sparse_columns": [int(j) for j in np.flatnonzero(sparse)],
        "n_atoms": int(np.count_nonzero(atom)),
        "n_sparse": int(np.count_nonzero(sparse)),
        "atom_rank": rank(atom),
        "sparse_support_max": int(support.max()) if support.size else None,
        "exact_zero_fraction": float(np.count_nonzero(zero)) / zero.size if zero.size else 0.0,
        "generic_rank": generic_rank,
        "generic_full_rank": generic_rank == p,
    }
