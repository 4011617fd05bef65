"""The Lie flag Δ¹ ⊂ Δ² ⊂ ... of a distribution at a point, its growth vector and Hausdorff dimension.

The Lie flag
------------
Δ¹ = Δ and Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}], as modules of vector fields: Δ^k is
spanned by the iterated brackets of the frame *fields* of length ≤ k, and by the
Jacobi identity the right-normed ones [X_{i1}, [X_{i2}, ..., [X_{ik−1}, X_{ik}]]]
suffice (Agrachev–Barilari–Boscain, *A Comprehensive Introduction to
Sub-Riemannian Geometry*, CUP 2020, §3.1 and §4.1; Jean, *Control of
Nonholonomic Systems*, Springer 2014, §2.1).  The growth vector at p is
(n_1(p), n_2(p), ...) with n_k(p) = dim Δ^k_p.  The brackets are those of the
fields X_i, which exist even where X_i(p) = 0: at a point where the frame's
rank drops, an orthonormal basis of the span *at p* misses them (Grushin,
X = ∂x, Y = x∂y, at x = 0: Δ_p = span ∂x, yet [X, Y] = ∂y, growth (1, 2)).
Δ is bracket-generating at p (the Chow–Rashevskii / Hörmander condition) when
some n_k(p) = dim; the first such k is the step.  This is *not* the derived
flag Δ^{(k+1)} = Δ^{(k)} + [Δ^{(k)}, Δ^{(k)}], which agrees with the Lie flag
at step 2 (the first derived distribution Δ + [Δ, Δ]) and grows faster after.

When the flag is finished
-------------------------
The pointwise ranks may stall and grow again: n_k is lower semicontinuous, and
on the singular set a longer bracket can still add a direction (Martinet on its
surface: (2, 2, 3); X = ∂x, Y = x^m ∂y at x = 0: m stalls, then 2).  No
number of stalls at p alone proves the flag finished, so it ends when one of
these holds, recorded in :attr:`GrowthVector.reason`:

- ``"reached dim"``: n_k(p) = dim.
- ``"stabilised"``: either the frame has one field ([X, X] = 0: the Lie
  algebra it generates evaluated at p is span X(p)), or every field vanishes
  at p (then so does every bracket, by induction on
  [X, Y](p) = DY·X(p) − DX·Y(p)), or the rank stalled,
  n_k(p) = n_{k−1}(p), *and* equals the final rank N(q) of the flag at a few
  nearby random points q (:func:`neighbour_points`).  Why this certifies: (i) at
  a regular point q (n_j constant near q for j ≤ s+1) a single stall
  n_s = n_{s+1} is final — Δ^s is then a constant-rank distribution with
  [Δ, Δ^s] ⊂ Δ^s near q, so Δ^{s+2} = Δ^s + [Δ, Δ^s] = Δ^s and so on by
  induction; random q are regular with probability one for analytic frames
  (the singular sets are proper analytic subsets).  (ii) The Lie algebra
  evaluated at p is a subspace of T_pR^n, so finitely many brackets span it,
  and they stay independent near p: N(p) ≤ N(q) for q near p (lower
  semicontinuity); hence n_k(p) = N(q) forces N(p) = n_k(p).  *Limitation:*
  the neighbours must lie in that neighbourhood (radius 1e-3·max(1, |p|_∞) by
  default) and be regular; for merely smooth frames (flat functions, singular
  sets of positive measure) neither is guaranteed.  A neighbour
  whose own flag did not settle within ``max_step + 1`` steps gives no
  certificate.
- ``"truncated at max_step=k"``: none of the above by step k; a larger
  ``max_step`` may settle it.  A truncated flag is *undetermined*, never a
  "not bracket-generating" verdict.

The default ``max_step`` is dim: at a regular point the flag grows strictly until
it stops, so it reaches dim within dim − n_1 + 1 ≤ dim steps, or stalls by step
N − n_1 + 2 ≤ dim when its final rank N < dim.  Singular points may need more.

Numerics
--------
Step 2 for a frame of full column rank at p is the curvature of the Frobenius
test (Δ² = Δ ⊕ span Ω_p by tensoriality, (2.31)), so ``n_2 == n_1`` exactly
when that test says involutive.  Otherwise (a rank drop, or a redundant frame)
step 2 uses the frame's brackets [X_i, X_j](p) themselves.  Steps ≥ 3 nest
autograd brackets of the frame columns, keeping the 2^{k−1} terms of each
bracket apart to size its round-off: at step k there are about r^{k−2}·r(r−1)/2
brackets of 2^{k−1} terms each nested k−1 deep (:func:`flag_cost`), so cost
grows about 4r-fold per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from autograd.tracer import getval

from subriemann.distributions.brackets import bracket_terms
from subriemann.distributions.frobenius import CurvatureData, frobenius_report, roundoff_tolerance
from subriemann.distributions.metric import FrameSpan, from_metric, to_metric
from subriemann.errors import (
    InputError,
    RankConditionError,
    UndeterminedGrowth,
    check_finite,
    check_int,
    check_real,
)
from subriemann.linalg import RankPolicy, RankReport, numerical_rank

__all__ = [
    "GrowthVector",
    "LieFlag",
    "lie_flag",
    "neighbour_points",
    "flag_cost",
    "adaptive_max_step",
    "hausdorff_dimension",
    "privileged_weights",
    "PROBE_RADIUS",
    "N_PROBES",
]

#: Relative radius of the neighbours that certify a stall: |q − p| = PROBE_RADIUS·max(1, |p|_∞).
PROBE_RADIUS = 1e-3
#: Number of neighbours (random directions, fixed seed) used to certify a stall or test regularity.
N_PROBES = 3
# Safety factor on a central-difference error estimate, as in the Frobenius test.
_FD_SAFETY = 10.0


class GrowthVector(tuple[int, ...]):
    """A growth vector (n_1, n_2, ...) that says whether it is determined.

    A tuple subclass, so ``growth == (2, 3)`` and indexing work as for a plain
    tuple; trailing repeats are dropped (an integrable Δ gives (rank Δ,)).

    Parameters
    ----------
    ranks : iterable of int
        n_k = rank Δ^k_p for k = 1, 2, ... as computed (repeats at the end are dropped).
    dim : int
        Dimension of the ambient space.
    determined : bool
        True when the flag is known to be complete: it reached dim, or it
        stabilised (see :mod:`subriemann.distributions.growth`).  False when it
        was cut at ``max_step`` and a longer bracket might still grow it.
    reason : str
        "reached dim", "stabilised" or "truncated at max_step=k".
    steps : int, optional
        How many steps were computed (default len(ranks)).
    evidence : str, optional
        How the end was decided, in words.

    Attributes
    ----------
    dim, determined, reason, steps, evidence
        As above.
    """

    dim: int
    determined: bool
    reason: str
    steps: int
    evidence: str

    def __new__(
        cls,
        ranks: Iterable[int],
        *,
        dim: int,
        determined: bool,
        reason: str,
        steps: int | None = None,
        evidence: str = "",
    ) -> GrowthVector:
        ranks = [int(n) for n in ranks]
        if not ranks:
            raise InputError("a growth vector needs at least one rank (n_1 = rank Δ_p)")
        computed = len(ranks)
        while len(ranks) > 1 and ranks[-1] == ranks[-2]:
            ranks.pop()
        reason = str(reason)
        if reason not in ("reached dim", "stabilised") and not reason.startswith(
            "truncated at max_step="
        ):
            raise InputError(
                "GrowthVector reason must be 'reached dim', 'stabilised' or "
                f"'truncated at max_step=k', got {reason!r}"
            )
        self = super().__new__(cls, ranks)
        self.dim = int(dim)
        self.determined = bool(determined)
        self.reason = reason
        self.steps = computed if steps is None else int(steps)
        self.evidence = str(evidence)
        return self

    def __repr__(self) -> str:
        return f"GrowthVector({tuple(self)!r}, dim={self.dim}, reason={self.reason!r})"

    def __str__(self) -> str:
        # printed like the plain tuple it used to be ("growth (2, 3)"); repr tells the reason
        return str(tuple(self))

    def __reduce__(self):
        state = (tuple(self), self.dim, self.determined, self.reason, self.steps, self.evidence)
        return (_rebuild_growth_vector, state)

    @property
    def bracket_generating(self) -> bool | None:
        """True when the flag reached dim, False when determined below it, None when truncated."""
        if self[-1] == self.dim:
            return True
        return False if self.determined else None

    def require_determined(self) -> GrowthVector:
        """This vector, or :class:`~subriemann.errors.UndeterminedGrowth` if it was truncated."""
        if not self.determined:
            raise UndeterminedGrowth(
                f"the Lie flag is undetermined at step {self.steps}: it was {self.reason} with "
                f"ranks {tuple(self)} < dim {self.dim}; a longer bracket may still grow it; pass "
                f"a larger max_step (> {self.steps}; cost grows about 4r-fold per step)",
                step=self.steps,
                ranks=tuple(self),
                dim=self.dim,
            )
        return self


def _rebuild_growth_vector(ranks, dim, determined, reason, steps, evidence):
    return GrowthVector(
        ranks, dim=dim, determined=determined, reason=reason, steps=steps, evidence=evidence
    )


@dataclass(frozen=True)
class LieFlag:
    """The Lie flag at a point: the spans Δ^k_p and the growth vector.

    Attributes
    ----------
    spans : tuple of FrameSpan
        Δ¹_p, Δ²_p, ... as computed (one per step, repeats kept), each an
        orthonormal basis (for the distribution's metric) with its rank report.
    growth_vector : GrowthVector
    """

    spans: tuple[FrameSpan, ...]
    growth_vector: GrowthVector


def flag_cost(n_fields: int, step: int) -> int:
    """Nested bracket-term evaluations needed for steps 3..step of the flag: Σ_j b_j·4^{j−1}.

    Step j ≥ 3 takes b_j = r^{j−2}·r(r−1)/2 right-normed brackets of 2^{j−1}
    terms, each a directional derivative nested j − 1 deep (about 2^{j−1}
    frame evaluations in forward mode); steps 1 and 2 cost one jvp of the
    frame per column and are not counted.
    """
    r = check_int(n_fields, "n_fields", "the number of frame fields r")
    step = check_int(step, "step")
    pairs = r * (r - 1) // 2
    return sum(r ** (j - 2) * pairs * 4 ** (j - 1) for j in range(3, step + 1))


def adaptive_max_step(n_fields: int, dim: int, budget: int = 4096) -> int:
    """The largest max_step ≤ dim whose :func:`flag_cost` is within ``budget`` (at least 2).

    With the default budget, 2 frame fields get 5 steps (cost 2336: a
    10-parameter network's flag (2, 3, 5, 8, 10) in about 3 s), 3 fields get 4
    and 12 fields get 2.  The cost is only paid when the flag needs those steps.
    """
    dim = check_int(dim, "dim")
    budget = check_int(budget, "budget")
    step = 2
    while step < dim and flag_cost(n_fields, step + 1) <= budget:
        step += 1
    return min(step, dim)


def neighbour_points(
    p: npt.ArrayLike, n_points: int = N_PROBES, radius: float | None = None, seed: int = 0
) -> np.ndarray:
    """Points p + ρu, u uniform on the unit sphere, ρ = radius or PROBE_RADIUS·max(1, |p|_∞).

    Deterministic (``seed``), shape ``(n_points, dim)``.  Used to certify a stall of
    the flag and by the regularity test.
    """
    p = np.asarray(p, dtype=np.float64)
    n_points = check_int(n_points, "n_points")
    rho = (
        PROBE_RADIUS * max(1.0, float(np.max(np.abs(p))))
        if radius is None
        else check_real(radius, "radius", positive=True)
    )
    u = np.random.default_rng(seed).standard_normal((n_points, p.shape[0]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return p + rho * u


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


def _frame_field_brackets(bracket_data, p, L, r, dim, kappa):
    """[X_i, X_j](p), i < j, of the frame *fields*, relative to their terms, and their floor.

    The step-2 route where the frame's rank drops (or the frame is redundant):
    the orthonormal basis of Δ_p then misses fields that vanish at p.  Each
    bracket is divided by |DX_j X_i| + |DX_i X_j| (its round-off scale); without
    terms (a supplied callable that gives none) by the largest bracket.  The
    floor is :func:`roundoff_tolerance`, plus 10× a central-difference error
    estimate relative to the same scale.
    """
    B, T, E = bracket_data(p)
    iu = np.triu_indices(r, 1)
    values = B[iu]  # (pairs, dim)
    if T is not None:
        sizes = np.linalg.norm(T[iu], axis=1) + np.linalg.norm(T[iu[1], iu[0]], axis=1)
    else:
        sizes = np.full(len(values), np.max(np.linalg.norm(values, axis=1), initial=0.0))
    sizes = np.where(sizes > 0, sizes, 1.0)
    floor = roundoff_tolerance(dim, kappa)
    if E is not None:
        floor += _FD_SAFETY * float(np.max(np.linalg.norm(E[iu], axis=1) / sizes, initial=0.0))
    return to_metric(L, (values / sizes[:, None]).T), floor


def lie_flag(
    p: np.ndarray,
    frame: Callable[[np.ndarray], np.ndarray],
    curvature_data: Callable[[np.ndarray], CurvatureData],
    bracket_data: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]],
    bracket_route: str,
    rank_policy: RankPolicy,
    max_step: int | None = None,
    neighbour_rank: Callable[[int], int | None] | None = None,
) -> LieFlag:
    """The Lie flag Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] at p from brackets of the frame fields.

    Implements the flag of the Chow–Rashevskii condition behind §2.4's
    sub-Riemannian structure (Agrachev–Barilari–Boscain 2020, §3.1); step 2
    is the Frobenius test (2.31) when the frame has full column rank at p.
    The stopping rule (reached dim / stabilised / truncated) and its
    justification are in the module docstring.  A new direction counts when
    its component orthogonal to the previous step exceeds the rank policy's
    tolerance and the round-off floor of its bracket (100·eps·dim·κ² relative
    to the size of the bracket's terms; the Frobenius tolerance at step 2).

    Parameters
    ----------
    p : ndarray, shape=[dim]
        A checked float point.
    frame : callable
        p ↦ F(p), shape ``(dim, r)``, autograd-traceable for steps ≥ 3.
    curvature_data : callable
        p ↦ :class:`~subriemann.distributions.frobenius.CurvatureData`.
    bracket_data : callable
        p ↦ (B, T, E) of :func:`~subriemann.distributions.brackets.frame_bracket_data`.
    bracket_route : str
        The distribution's bracket route (recorded in the step-2 report).
    rank_policy : RankPolicy
    max_step : int, optional
        Default dim.
    neighbour_rank : callable, optional
        ``neighbour_rank(max_step)`` → the largest final rank N(q) of the flag at
        nearby points, or None when a neighbour did not settle; called at most
        once, on the first stall.  None: a stall is taken as final (only right
        at a regular point; used for the neighbours themselves).

    Returns
    -------
    LieFlag
    """
    dim = p.shape[0]
    max_step = dim if max_step is None else check_int(max_step, "max_step")
    data = curvature_data(p)
    span, L = data.span, data.L
    r = data.n_fields
    spans = [FrameSpan(from_metric(L, span.basis), span.report)]
    bound: list[int | None] = []  # the neighbours' final rank, computed on the first stall

    def result(reason, determined, evidence):
        growth = GrowthVector(
            [s.report.rank for s in spans],
            dim=dim,
            determined=determined,
            reason=reason,
            evidence=evidence,
        )
        return LieFlag(spans=tuple(spans), growth_vector=growth)

    def settled():
        """The end of the flag after the last step, or None to go on."""
        k, n_k = len(spans), spans[-1].report.rank
        if n_k == dim:
            return result("reached dim", True, f"rank {dim} at step {k}")
        if r == 1:
            return result("stabilised", True, "one frame field: [X, X] = 0")
        if n_k == 0:
            # [X, Y](p) = DY·X(p) − DX·Y(p) = 0 when X(p) = Y(p) = 0, and so on by induction
            return result(
                "stabilised", True, "every frame field vanishes at p, so every bracket does"
            )
        if k >= 2 and n_k == spans[-2].report.rank:
            if neighbour_rank is None:
                return result("stabilised", True, f"rank {n_k} stalled at step {k}")
            if not bound:
                bound.append(neighbour_rank(max_step))
            if bound[0] == n_k:
                return result(
                    "stabilised",
                    True,
                    f"rank {n_k} stalled at step {k} and equals the final rank of the flag "
                    f"at {N_PROBES} nearby points (radius {PROBE_RADIUS:g}·max(1, |p|))",
                )
        if k >= max_step:
            return result(f"truncated at max_step={max_step}", False, f"rank {n_k} < {dim}")
        return None

    done = settled()
    if done is not None:
        return done
    kappa = span.report.condition_number
    if span.report.rank == r:
        # independent fields at p: rank Δ is locally constant and Δ² = Δ ⊕ span Ω_p (tensoriality)
        report = frobenius_report(data, dim, bracket_route)
        iu = np.triu_indices(span.report.rank, 1)
        cols = to_metric(L, data.Omega[iu].T)
        floor = report.tolerance * report.scale
    else:
        cols, floor = _frame_field_brackets(bracket_data, p, L, r, dim, kappa)
    basis_t, rep = _extend(span.basis, cols, floor, span.report, rank_policy)
    spans.append(FrameSpan(from_metric(L, basis_t), rep))
    done = settled()
    if done is not None:
        return done
    columns = [lambda q, i=i: frame(q)[:, i] for i in range(r)]
    level = [
        bracket_terms(columns[i], [(1.0, columns[j])]) for i in range(r) for j in range(i + 1, r)
    ]
    floor = roundoff_tolerance(dim, kappa)
    while True:
        level = [bracket_terms(X, terms) for X in columns for terms in level]
        values_t = np.stack([_normalised_bracket(terms, p, L) for terms in level], 1)
        basis_t, rep = _extend(basis_t, values_t, floor, spans[-1].report, rank_policy)
        spans.append(FrameSpan(from_metric(L, basis_t), rep))
        done = settled()
        if done is not None:
            return done


def _require_generating(growth: GrowthVector) -> GrowthVector:
    growth.require_determined()
    if growth[-1] != growth.dim:
        raise RankConditionError(
            f"Δ is not bracket-generating at this point (growth vector {tuple(growth)}, "
            f"{growth.reason}, dim {growth.dim}): the sub-Riemannian distance is infinite across "
            "the leaves, so Hausdorff dimension and weights are not defined; expected a "
            "bracket-generating distribution"
        )
    return growth


def hausdorff_dimension(growth: GrowthVector) -> int:
    """Q = Σ_k k (n_k − n_{k−1}) (n_0 = 0) of a determined, bracket-generating growth vector.

    Mitchell's theorem (J. Differential Geom. 21 (1985) 35–45; Montgomery, *A
    Tour of Subriemannian Geometries*, Thm 2.8.1): near a regular point Q is the
    Hausdorff dimension of the sub-Riemannian metric space.  At a singular point
    it is the homogeneous dimension at p — the Hausdorff dimension of the
    metric tangent cone (the nilpotent approximation) and the exponent of
    vol B(p, ε) ≍ ε^Q (Ball–Box theorem, Bellaïche 1996, Thm 7.34) — and it
    exceeds the value at nearby regular points (Grushin at x = 0: 3 vs 2).

    Raises
    ------
    UndeterminedGrowth
        The flag was truncated.
    RankConditionError
        The flag stops below dim.
    """
    _require_generating(growth)
    ranks = (0, *growth)
    return sum(k * (ranks[k] - ranks[k - 1]) for k in range(1, len(ranks)))


def privileged_weights(growth: GrowthVector) -> tuple[int, ...]:
    """Weights (w_1, ..., w_dim) of privileged coordinates: k repeated n_k − n_{k−1} times.

    The weights of the Ball–Box theorem and of the nilpotent approximation
    (Bellaïche 1996, §4; Jean 2014, §2.2.2): a coordinate of weight k is
    reached first by brackets of length k; Σ w_i is :func:`hausdorff_dimension`.

    Raises
    ------
    UndeterminedGrowth, RankConditionError
        As for :func:`hausdorff_dimension`.
    """
    _require_generating(growth)
    ranks = (0, *growth)
    return tuple(k for k in range(1, len(ranks)) for _ in range(ranks[k] - ranks[k - 1]))
