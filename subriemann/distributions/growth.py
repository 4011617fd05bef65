"""The Lie flag Δ¹ ⊂ Δ² ⊂ ... of a distribution at a point and its growth vector.

Δ¹ = Δ and Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}]; the growth vector is (rank Δ¹_p,
rank Δ²_p, ...).  Δ is bracket-generating at p (the Chow–Rashevskii / Hörmander
condition) when some Δ^k_p is all of T_pR^n, and the first such k is its step.

Step 2 comes from the curvature of the Frobenius test (Δ² = Δ ⊕ span Ω_p by
tensoriality), so ``rank Δ² == rank Δ`` exactly when the test says involutive.
Steps ≥ 3 nest autograd brackets on right-normed brackets [X_i, [X_j, ...]] of
the frame columns, keeping the terms of each bracket apart to size its round-off.
"""

from __future__ import annotations

import numpy as np
from autograd.tracer import getval

from subriemann.distributions.brackets import bracket_terms
from subriemann.distributions.frobenius import frobenius_report, roundoff_tolerance
from subriemann.distributions.metric import FrameSpan, from_metric, to_metric
from subriemann.errors import InputError, check_finite, check_int
from subriemann.linalg import RankPolicy, RankReport, numerical_rank

__all__ = ["growth_spans", "growth_vector_from_spans"]


def _extend(basis_t, columns_t, floor, previous: RankReport, rank_policy: RankPolicy):
    """Enlarge an orthonormal basis (metric coordinates) by the new directions among columns.

    The columns' components orthogonal to the basis are ranked by the rank
    policy, with an absolute floor for the round-off of the brackets.
    """
    dim = basis_t.shape[0]
    resid = columns_t - basis_t @ (basis_t.T @ columns_t)
    if resid.shape[1]:
        U, s, _ = np.linalg.svd(resid, full_matrices=False)
    else:
        U, s = np.zeros((dim, 0)), np.zeros(0)
    policy = RankPolicy(rtol=rank_policy.rtol, atol=max(rank_policy.atol or 0.0, floor))
    new = numerical_rank(s, resid.shape, policy)
    basis_t = np.hstack([basis_t, U[:, : new.rank]])
    report = RankReport(
        rank=basis_t.shape[1],
        shape=(dim, previous.shape[1] + resid.shape[1]),
        sigma_min=new.sigma_min,
        sigma_max=new.sigma_max,
        sigma_min_kept=new.sigma_min_kept,
        tolerance=new.tolerance,
        policy=f"{new.policy}; applied to the new directions (orthogonal to the previous step)",
    )
    return basis_t, report


def _normalised_bracket(terms, p, L):
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
    parts = [to_metric(L, v) for v in parts]
    size = sum(float(np.linalg.norm(v)) for v in parts)
    value = np.sum(parts, axis=0)
    check_finite(value, "iterated bracket")
    return value / size if size > 0 else value


def growth_spans(p, frame, curvature_data, bracket_route, rank_policy, max_step=None) -> list:
    """[Δ¹_p, Δ²_p, ...] as :class:`~subriemann.distributions.metric.FrameSpan` s, Δ^{k+1} = Δ^k + [Δ, Δ^k].

    Implements the flag of the Chow–Rashevskii condition behind §2.4's
    sub-Riemannian structure; step 2 is the Frobenius test (2.31).

    Stops when Δ^k_p is the whole space, at ``max_step`` if given, and
    otherwise (``max_step=None``) after the rank has stalled for two
    consecutive steps (or at step dim).  One stall is not enough: at
    singular points the pointwise rank can stall and grow again (Martinet on
    x = 0: 2, 2, 3); pass ``max_step`` to look past longer stalls.
    Step 2 uses the curvature (so it agrees with the Frobenius test);
    steps ≥ 3 nest autograd brackets on right-normed brackets
    [X_i, [X_j, ...]] of the frame columns (about r^(k-1) brackets of 2^(k-1)
    terms at step k), so they need an autograd-traceable frame.  A new
    direction counts when its component orthogonal to the previous step
    exceeds the rank policy's tolerance and 100·eps·dim·κ² relative to the
    size of the bracket's terms (their round-off).

    Parameters
    ----------
    p : ndarray, shape=[dim]
        A checked float point.
    frame : callable
        p ↦ F(p), shape ``(dim, r)``, autograd-traceable for steps ≥ 3.
    curvature_data : callable
        p ↦ :class:`~subriemann.distributions.frobenius.CurvatureData` of the distribution.
    bracket_route : str
        The distribution's bracket route (recorded in the step-2 report).
    rank_policy : RankPolicy
    max_step : int, optional
    """
    dim = p.shape[0]
    patience = max_step is None
    max_step = dim if max_step is None else max_step
    max_step = check_int(max_step, "max_step")
    data = curvature_data(p)
    span, L = data.span, data.L
    spans = [FrameSpan(from_metric(L, span.basis), span.report)]
    if max_step == 1 or span.report.rank == dim:
        return spans
    report = frobenius_report(data, dim, bracket_route)
    iu = np.triu_indices(span.report.rank, 1)
    cols = to_metric(L, data.Omega[iu].T)
    floor = report.tolerance * report.scale
    basis_t, rep = _extend(span.basis, cols, floor, span.report, rank_policy)
    spans.append(FrameSpan(from_metric(L, basis_t), rep))
    if max_step == 2 or rep.rank == dim:
        return spans
    r = data.n_fields
    columns = [lambda q, i=i: frame(q)[:, i] for i in range(r)]
    level = [
        bracket_terms(columns[i], [(1.0, columns[j])]) for i in range(r) for j in range(i + 1, r)
    ]
    floor = roundoff_tolerance(dim, span.report.condition_number)
    for _step in range(3, max_step + 1):
        if not level:  # one column: every iterated bracket vanishes, the flag is Δ itself
            break
        level = [bracket_terms(X, terms) for X in columns for terms in level]
        values_t = np.stack([_normalised_bracket(terms, p, L) for terms in level], 1)
        basis_t, rep = _extend(basis_t, values_t, floor, spans[-1].report, rank_policy)
        spans.append(FrameSpan(from_metric(L, basis_t), rep))
        ranks = [span.report.rank for span in spans[-3:]]
        if rep.rank == dim or (patience and ranks[0] == ranks[-1]):
            break
    return spans


def growth_vector_from_spans(spans) -> tuple:
    """The ranks of a flag from :func:`growth_spans`, trailing repeats dropped.

    The vector ends at the last step where the rank grew, so an integrable Δ gives (rank Δ,).
    """
    ranks = [s.report.rank for s in spans]
    while len(ranks) > 1 and ranks[-1] == ranks[-2]:
        ranks.pop()
    return tuple(ranks)
