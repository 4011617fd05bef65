"""Statistics of the unit vectors e_j = ∂_jx / |∂_jx| of (2.12): Bingham's test of uniformity.

**Why Bingham's test.**  e_j and −e_j span the same line and contribute the
same rank-one term e_j e_jᵀ to DDᵀ (2.12): the data are *axial*, so the
Rayleigh test (mean direction) is the wrong tool — a sign flip of a column
changes it but not D Dᵀ.  Bingham's test compares the scatter matrix
T̄ = (1/n) Σ_j e_j e_jᵀ with I/p (p = QN), its value under the uniform law:
S = n p(p+2)/2 · (tr T̄² − 1/p) is asymptotically χ² with (p−1)(p+2)/2
degrees of freedom for i.i.d. uniform axes (Mardia & Jupp, *Directional
Statistics*, §10.7).  Note tr T̄² = (1/n²) Σ_{i,j} ⟨e_i, e_j⟩²: this is
the test of the pairwise squared inner products, whose mean is 1/p under
uniformity.  It tests second moments only (uniformity is not what Prop. 2.2
needs — any absolutely continuous law works — but isotropy is what makes
DDᵀ well conditioned).  ``isotropy`` = p·λ_min(T̄) ∈ [0, 1] is a descriptive
companion: 1 for perfectly spread axes, 0 when the axes miss a direction of
R^{QN} (then rank DDᵀ < QN).
"""

from __future__ import annotations

import numpy as np

from subriemann.errors import InputError

__all__ = ["bingham_test"]


def bingham_test(D):
    """Bingham's test of uniformity for the axes e_j = D[:, j]/|D[:, j]| of (2.12).

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

    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2:
        raise InputError(f"D must be 2-D (p, n), got shape {D.shape}")
    p = D.shape[0]
    norms = np.linalg.norm(D, axis=0)
    keep = norms > 0
    n = int(np.count_nonzero(keep))
    if p < 2 or n < 1:
        raise InputError(
            f"Bingham's test needs p = QN >= 2 and at least one non-zero column, got p = {p}, "
            f"{n} non-zero columns"
        )
    E = D[:, keep] / norms[keep]
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
        "n_zero_columns": int(D.shape[1] - n),
    }
