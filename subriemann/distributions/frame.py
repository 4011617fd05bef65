"""Distributions Δ ⊂ TR^n given by a frame field: the frame, its metric, and the Distribution.

A distribution is given by a *frame*: a function p ↦ F(p), shape ``(dim, r)``,
whose columns X_1(p), ..., X_r(p) span Δ_p (geomstats' ``SubRiemannianMetric``
convention).  The frame may be redundant (r > rank Δ_p); ranks are always
decided by the package's rank policy (:mod:`subriemann.linalg`).  An ambient
metric (:mod:`~subriemann.distributions.metric`) defines "orthonormal" and "⊥".

:class:`Distribution` checks the frame and holds the choices (bracket route,
rank policy, metric); the concepts live in their own modules and its methods
delegate to them: :mod:`~subriemann.distributions.brackets` (Lie brackets),
:mod:`~subriemann.distributions.frobenius` (curvature and the Frobenius test
(2.31)), :mod:`~subriemann.distributions.growth` (the Lie flag and growth
vector), :mod:`~subriemann.distributions.symbolic` (SymPy) and
:mod:`~subriemann.subriemannian.metric` (the geomstats metric, the layer above).

Why one module of ~750 lines: it is the *one object users hold* for a distribution.
Its ~50 methods are one-to-five-line delegations with the docstrings that say which
equation each implements (the contract's names live on the object, as geomstats'
do); the code that computes lives in the modules above.  Splitting the class would
split its documentation, not its logic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self, cast

import autograd
import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import getval, isbox

from subriemann.distributions.brackets import (
    SuppliedBrackets,
    VectorField,
    check_point,
    frame_bracket_data,
    lie_bracket,  # noqa: F401 - importable from here, as before the split
    lie_bracket_fd,  # noqa: F401 - importable from here, as before the split
    resolve_bracket_route,
)
from subriemann.distributions.frobenius import (
    CurvatureData,
    CurvatureTerms,
    FrobeniusReport,
    FrobeniusVerdict,  # noqa: F401 - importable from here, as before the split
    curvature_from_brackets,
    curvature_from_terms,
    frobenius_report,
    frobenius_verdict,
)
from subriemann.distributions.growth import (
    N_PROBES,
    GrowthVector,
    LieFlag,
    hausdorff_dimension,
    lie_flag,
    neighbour_points,
    privileged_weights,
)
from subriemann.distributions.metric import (
    AmbientMetric,
    FrameSpan,
    check_metric,
    from_metric,
    metric_factor,
)
from subriemann.distributions.symbolic import (
    ParameterSpec,
    RankDropLocus,
    SymbolicFields,
    SymbolicFrame,
    SymbolicPoint,
    Word,
)
from subriemann.errors import (
    InputError,
    NonFiniteError,
    NumericalError,
    ShapeError,
    SubriemannError,
    check_array,
    check_int,
)
from subriemann.linalg import JacobianSVD, RankPolicy, RankReport, resolve_policy

if TYPE_CHECKING:  # for the hints only: the layer above, and SymPy (an optional extra)
    import sympy

    from subriemann.subriemannian.abnormal import SingularityReport
    from subriemann.subriemannian.curves import HorizontalCurve
    from subriemann.subriemannian.geodesics import NormalGeodesic
    from subriemann.subriemannian.holonomy import HolonomyReport
    from subriemann.subriemannian.metric import SubRiemannianMetric
    from subriemann.subriemannian.spheres import Sphere

__all__ = ["Distribution"]


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
    frame_jacobian : callable, optional
        The frame's derivative in closed form: ``p ↦ J``, shape ``(dim, r, dim)``,
        J[j, i, k] = ∂F_ji/∂p_k (the Jacobian of column X_i is J[:, i, :]).  Then
        :meth:`frame_jacobian` returns it and the normal geodesics, Jacobi fields,
        endpoint differentials and Gramians of :mod:`subriemann.subriemannian` use
        it instead of tracing the frame with autograd (route "closed form";
        :meth:`from_sympy` supplies the symbolic one, every catalog entry a
        hand-written one).  Its shape and finiteness are checked when used.

    Notes
    -----
    The methods delegate to the layer's modules: brackets to
    :mod:`~subriemann.distributions.brackets`, the curvature and the Frobenius test
    to :mod:`~subriemann.distributions.frobenius` (whose docstring holds the
    curvature 2-form, its tensoriality and the proof that a network's
    pullback-bundle brackets are vertical), the Lie flag to
    :mod:`~subriemann.distributions.growth`, the SymPy layer to
    :mod:`~subriemann.distributions.symbolic` and the geomstats metric to
    :mod:`~subriemann.subriemannian.metric` (moving along Δ: :mod:`subriemann.subriemannian`).
    """

    # set by from_sympy, what with_parameters rebuilds from: (exact, rank_policy, metric, options)
    _sympy_options: tuple[
        bool,
        RankPolicy | float | None,
        AmbientMetric | None,
        dict[str, Any],
    ]

    def __init__(
        self,
        frame: VectorField,
        dim: int,
        brackets: str | SuppliedBrackets | None = None,
        rank_policy: RankPolicy | float | None = None,
        metric: AmbientMetric | None = None,
        *,
        name: str | None = None,
        known: Mapping[str, Any] | None = None,
        base_point: npt.ArrayLike | None = None,
        curvature_terms: CurvatureTerms | None = None,
        frame_jacobian: VectorField | None = None,
    ) -> None:
        if not callable(frame):
            raise InputError(f"frame must be callable p -> (dim, r) array, got {type(frame)!r}")
        self.dim = check_int(dim, "dim")
        self._frame = frame
        self._bracket_route, self._brackets = resolve_bracket_route(brackets)
        self.rank_policy = resolve_policy(rank_policy)
        self._metric = check_metric(metric, self.dim)
        self.name = name
        self.known = dict(known or {})
        self.base_point = (
            np.zeros(self.dim)
            if base_point is None
            else np.array(check_array(base_point, "base_point", shape=(self.dim,)))
        )
        self._symbolic: SymbolicFrame | None = None  # the SymbolicFrame when built by from_sympy
        if curvature_terms is not None and not callable(curvature_terms):
            raise InputError(
                f"curvature_terms must be callable p -> (basis, report, terms, r), got {curvature_terms!r}"
            )
        self._curvature_terms = curvature_terms
        if frame_jacobian is not None and not callable(frame_jacobian):
            raise InputError(
                "frame_jacobian must be callable p -> (dim, r, dim) array with "
                f"J[j, i, k] = dF_ji/dp_k, got {type(frame_jacobian)!r}"
            )
        self._frame_jacobian = frame_jacobian
        self._frame_jacobian_route = "autograd" if frame_jacobian is None else "closed form"
        self._frame_columns: int | None = None  # r, learnt when frame_jacobian is first checked

    @property
    def bracket_route(self) -> str:
        """How the frame's brackets are computed ("autograd", "supplied", "symbolic", "central differences")."""
        return self._bracket_route

    @property
    def frame_jacobian_route(self) -> str:
        """How :meth:`frame_jacobian` gets ∂F/∂p: "closed form" (given), "symbolic" (from_sympy) or "autograd"."""
        return self._frame_jacobian_route

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Distribution({label}dim={self.dim}, brackets={self._bracket_route!r})"

    # -- the frame --------------------------------------------------------------
    def frame(self, p: npt.ArrayLike) -> np.ndarray:
        """Frame F(p), shape ``(dim, r)``: columns span Δ_p.  Traceable by autograd."""
        p = check_point(p)
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
        # a traced p gives a traced F: an ArrayBox standing in for the array (autograd is untyped)
        return cast(np.ndarray, F)

    def frame_jacobian(self, p: npt.ArrayLike) -> np.ndarray:
        """The frame's derivative J[j, i, k] = ∂F_ji/∂p_k at p, shape ``(dim, r, dim)``.

        The one route for callers: the closed form given as ``frame_jacobian`` (or
        by :meth:`from_sympy`), else autograd's Jacobian of :meth:`frame`
        (:attr:`frame_jacobian_route` says which).  It is what Hamilton's equations
        of the normal geodesics need: for H(q, p) = ½|F(q)ᵀp|²,

            ∂H/∂q_k = Σ_{i,j} u_i p_j ∂F_ji/∂q_k,   u = F(q)ᵀp

        (Agrachev–Barilari–Boscain, *A Comprehensive Introduction to Sub-Riemannian
        Geometry*, ch. 4, Thm 4.20; Montgomery, *A Tour of Subriemannian
        Geometries*, ch. 1), and the linearisation A = Σ_i u_i ∂X_i/∂q of
        q′ = F(q)u in the endpoint map and its Gramian.

        Parameters
        ----------
        p : array-like, shape=[dim]

        Returns
        -------
        J : ndarray, shape=[dim, r, dim]

        Raises
        ------
        ShapeError, NonFiniteError
            (InputErrors) The given frame_jacobian returned another shape than
            (dim, r, dim), or NaN/inf at a finite point; the message names frame_jacobian.
        InputError
            Autograd cannot trace the frame (route "autograd").
        """
        point: np.ndarray = self._point(p)
        if self._frame_jacobian is None:
            return self._traced_frame_jacobian(point)
        try:
            J = np.asarray(self._frame_jacobian(point), dtype=np.float64)
        except SubriemannError:
            raise
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"frame_jacobian(p) did not return a float array ({type(exc).__name__}: {exc})"
            ) from exc
        if self._frame_columns is None:
            # once: the number of columns r is the frame's
            self._frame_columns = int(np.shape(self.frame(point))[1])
        expected = (self.dim, self._frame_columns, self.dim)
        if J.shape != expected:
            raise ShapeError(
                f"frame_jacobian(p) returned shape {J.shape}; expected (dim, r, dim) = {expected} "
                "with J[j, i, k] = dF_ji/dp_k"
            )
        if not np.all(np.isfinite(J)):
            raise NonFiniteError(
                f"frame_jacobian(p) returned NaN/inf at the finite point p = {point}; "
                "expected finite derivatives dF_ji/dp_k"
            )
        return J

    def _traced_frame_jacobian(self, p):
        try:
            J = autograd.jacobian(self.frame)(p)
        except SubriemannError:
            raise
        except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:
            raise InputError(
                f"autograd could not differentiate the frame ({type(exc).__name__}: {exc}); "
                "write it with autograd.numpy or give the closed form as frame_jacobian="
            ) from exc
        J = np.asarray(J)
        if J.dtype.kind == "O":
            raise InputError(
                "the frame returned an object array under autograd; give frame_jacobian="
            )
        return np.asarray(J, dtype=np.float64)

    def _span(self, p, F=None):
        """SVD of LᵀF: the orthonormal basis E = F C of Δ_p, C (r, k), and the rank report."""
        p = np.asarray(getval(check_point(p)), dtype=np.float64)
        F = np.asarray(getval(self.frame(p) if F is None else F), dtype=np.float64)
        L = metric_factor(self._metric, p, self.dim)
        svd = JacobianSVD(F if L is None else L.T @ F, self.rank_policy)
        C = svd.Vt.T / svd.s  # F C = L^{-T} U_k: orthonormal columns
        return svd, C, L

    def _point(self, p):
        return np.asarray(check_array(p, "point p", shape=(self.dim,)), dtype=np.float64)

    def rank(self, p: npt.ArrayLike) -> RankReport:
        """Numerical rank of Δ_p = span of the frame at p, decided by the rank policy."""
        return self._span(p)[0].report

    def orthonormal_basis(self, p: npt.ArrayLike) -> FrameSpan:
        """A basis e_a of Δ_p orthonormal for the metric, shape ``(dim, rank)``, and its rank report."""
        svd, _, L = self._span(p)
        return FrameSpan(from_metric(L, svd.U), svd.report)

    # -- brackets -----------------------------------------------------------------
    def frame_brackets(self, p: npt.ArrayLike) -> np.ndarray:
        """Brackets of the frame columns, [X_i, X_j](p), shape ``(r, r, dim)``.

        Implements the brackets of (2.31) for the frame: by autograd (one jvp of
        the frame per column), by the supplied callable, or by central differences
        (:func:`~subriemann.distributions.brackets.frame_bracket_data`).
        """
        p = check_array(p, "point p", shape=(self.dim,))
        return self._bracket_data(p, np.asarray(self.frame(p)))[0]

    def _bracket_data(self, p, F):
        return frame_bracket_data(self.frame, p, F, self._bracket_route, self._brackets)

    # -- curvature and the Frobenius test ----------------------------------------
    def _curvature_data(self, p) -> CurvatureData:
        p = self._point(p)
        if self._curvature_terms is not None and self._metric is None:
            return curvature_from_terms(p, self._curvature_terms)
        F = np.asarray(self.frame(p))
        svd, C, L = self._span(p, F)
        return curvature_from_brackets(p, svd, C, L, self._bracket_data(p, F))

    def curvature(self, p: npt.ArrayLike) -> np.ndarray:
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

    def frobenius_defect(self, p: npt.ArrayLike, tolerance: float | None = None) -> FrobeniusReport:
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
        return frobenius_report(self._curvature_data(p), self.dim, self._bracket_route, tolerance)

    def is_involutive(self, p: npt.ArrayLike, tolerance: float | None = None) -> bool:
        """Whether [Δ, Δ] ⊂ Δ at p, the Frobenius condition (2.31), to the report's tolerance."""
        return self.frobenius_defect(p, tolerance).is_involutive

    def sample_points(self, n_points: int = 20, seed: int = 0, scale: float = 1.0) -> np.ndarray:
        """Gaussian points base_point + scale·N(0, 1), shape ``(n_points, dim)``."""
        n_points = check_int(n_points, "n_points")
        rng = np.random.default_rng(seed)
        return self.base_point + scale * rng.standard_normal((n_points, self.dim))

    def sample_verdict(
        self,
        points: npt.ArrayLike | None = None,
        *,
        n_points: int = 20,
        seed: int = 0,
        scale: float = 1.0,
        tolerance: float | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> FrobeniusVerdict:
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
        return frobenius_verdict(reports)

    # -- Lie flag and growth vector (the first derived distribution) ----------------
    def derived_distribution(self, p: npt.ArrayLike) -> FrameSpan:
        """The first derived distribution Δ' = Δ + [Δ, Δ] at p: an orthonormal basis and its rank report.

        Δ' is the second step of both the Lie flag (:meth:`growth_spans`) and the
        derived flag Δ^{(k+1)} = Δ^{(k)} + [Δ^{(k)}, Δ^{(k)}]; the two flags differ
        from step 3 on, and this package computes the Lie flag.  For a frame of full
        column rank at p the new directions are the columns of the curvature Ω_p
        (Δ' = Δ ⊕ span Ω_p by tensoriality, (2.31)), counted above the Frobenius
        tolerance times the scale, so ``rank Δ' == rank Δ`` exactly when
        :meth:`is_involutive`; where the frame's rank drops they are the brackets
        [X_i, X_j](p) of the frame fields (Grushin at x = 0: Δ' = T_pR²).
        """
        # two steps only: no stopping certificate is needed, so no neighbours are probed
        return self._lie_flag(self._point(p), 2, None).spans[-1]

    def lie_flag(self, p: npt.ArrayLike, max_step: int | None = None) -> LieFlag:
        """The Lie flag Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] at p: spans and the :class:`GrowthVector`.

        Implements the flag of the Chow–Rashevskii condition from brackets of the
        frame *fields* (so also where the frame's rank drops); see
        :func:`~subriemann.distributions.growth.lie_flag` for the routes, round-off
        floors and the stopping rule (reached dim / stabilised, certified at
        :data:`~subriemann.distributions.growth.N_PROBES` nearby points / truncated).

        Parameters
        ----------
        p : array-like, shape=[dim]
        max_step : int, optional
            Default dim (enough at regular points; singular points may need more).

        Returns
        -------
        LieFlag
        """
        p = self._point(p)
        return self._lie_flag(p, max_step, self._neighbour_rank(p))

    def _lie_flag(self, p, max_step, neighbour_rank):
        return lie_flag(
            p,
            self.frame,
            self._curvature_data,
            lambda q: self._bracket_data(q, np.asarray(self.frame(q))),
            self._bracket_route,
            self.rank_policy,
            max_step,
            neighbour_rank,
        )

    def _neighbour_rank(self, p):
        """neighbour_rank(max_step) for :func:`lie_flag`: the largest final rank near p, or None."""

        def neighbour_rank(max_step):
            ranks = []
            for q in neighbour_points(p):
                growth = self._lie_flag(q, max_step + 1, None).growth_vector
                if not growth.determined:
                    return None  # this neighbour gives no certificate
                ranks.append(growth[-1])
            return max(ranks)

        return neighbour_rank

    def growth_spans(self, p: npt.ArrayLike, max_step: int | None = None) -> list[FrameSpan]:
        """[Δ¹_p, Δ²_p, ...] as :class:`FrameSpan` s: the Lie flag of :meth:`lie_flag`.

        Parameters
        ----------
        p : array-like, shape=[dim]
        max_step : int, optional
        """
        return list(self.lie_flag(p, max_step).spans)

    def growth_vector(self, p: npt.ArrayLike, max_step: int | None = None) -> GrowthVector:
        """Growth vector (n_1, n_2, ...), n_k = dim Δ^k_p, saying whether it is determined.

        A :class:`~subriemann.distributions.growth.GrowthVector` (a tuple, trailing
        repeats dropped: an integrable Δ gives (rank Δ,)) with ``determined`` and
        ``reason`` ("reached dim", "stabilised" or "truncated at max_step=k").
        Heisenberg: (2, 3); Engel: (2, 3, 4); Grushin at x = 0: (1, 2); Martinet on
        its singular surface: (2, 2, 3).  Brackets of the frame fields, so rank
        drops are handled (:meth:`lie_flag`).
        """
        return self.lie_flag(p, max_step).growth_vector

    def is_bracket_generating(self, p: npt.ArrayLike, max_step: int | None = None) -> bool:
        """Chow–Rashevskii (Hörmander) condition at p: some Δ^k_p is all of T_pR^dim.

        True or False only when the flag is determined (:meth:`growth_vector`).

        Raises
        ------
        UndeterminedGrowth
            The flag was truncated at ``max_step`` below dim: the message names the
            step reached and asks for a larger ``max_step``.
        """
        return self.growth_vector(p, max_step).require_determined()[-1] == self.dim

    def hausdorff_dimension(self, p: npt.ArrayLike, max_step: int | None = None) -> int:
        """Q(p) = Σ_k k (n_k − n_{k−1}) from the growth vector at p (Mitchell's theorem).

        At a regular point, the Hausdorff dimension of the sub-Riemannian metric near
        p; at a singular point the homogeneous dimension at p (of the tangent cone,
        and vol B(p, ε) ≍ ε^Q), larger than the regular value (Grushin at x = 0: 3);
        see :func:`~subriemann.distributions.growth.hausdorff_dimension`.

        Raises
        ------
        UndeterminedGrowth
            The flag was truncated.
        RankConditionError
            Δ is not bracket-generating at p.
        """
        return hausdorff_dimension(self.growth_vector(p, max_step))

    def weights(self, p: npt.ArrayLike, max_step: int | None = None) -> tuple[int, ...]:
        """Weights of privileged coordinates at p: k repeated n_k − n_{k−1} times, length dim.

        See :func:`~subriemann.distributions.growth.privileged_weights` (Bellaïche 1996, §4);
        raises like :meth:`hausdorff_dimension` (bracket-generating and determined only).
        """
        return privileged_weights(self.growth_vector(p, max_step))

    def is_regular(
        self,
        p: npt.ArrayLike,
        max_step: int | None = None,
        *,
        n_points: int = N_PROBES,
        radius: float | None = None,
    ) -> bool:
        """Whether the growth vector is locally constant near p (p is a regular point).

        Numerical test: the growth vector at p equals the one at ``n_points``
        random points at distance ρ = radius or 1e-3·max(1, |p|_∞)
        (:func:`~subriemann.distributions.growth.neighbour_points`).  Ranks are lower
        semicontinuous, so near a singular point the generic values are larger and
        random neighbours (off the singular set with probability one for analytic
        frames) see them.  Limitation: finitely many neighbours at one radius; a
        radius so large that the neighbours leave the region of p, or a
        non-analytic frame whose singular set has positive measure, can mislead.

        Raises
        ------
        UndeterminedGrowth
            The flag at p or at a neighbour was truncated.
        """
        p = self._point(p)
        here = self.growth_vector(p, max_step).require_determined()
        for q in neighbour_points(p, n_points, radius, seed=1):
            if self.growth_vector(q, max_step).require_determined() != here:
                return False
        return True

    def nilpotent_approximation(self, p: npt.ArrayLike, **options: Any) -> Distribution:
        """The nilpotent approximation of Δ at p, as a :class:`Distribution`.

        A distribution in privileged coordinates at p (weights :meth:`weights`)
        whose frame is the homogeneous (degree −1 under the weights' dilations)
        nilpotent part of this frame, so its growth vector at 0 equals this one's
        at p; see :func:`subriemann.distributions.nilpotent.nilpotent_approximation`
        (options and construction).
        """
        from subriemann.distributions.nilpotent import nilpotent_approximation

        return nilpotent_approximation(self, p, **options)

    # -- geomstats ------------------------------------------------------------------
    # -- moving along Δ: subriemann.subriemannian, the layer above, imported on use ---------
    def horizontal_curve(
        self,
        q0: npt.ArrayLike,
        controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike,
        t_end: float,
        **options: Any,
    ) -> HorizontalCurve:
        """The horizontal curve q′ = F(q)u(t) from q0; see
        :func:`subriemann.subriemannian.curves.horizontal_curve` (options and result)."""
        from subriemann.subriemannian.curves import horizontal_curve

        return horizontal_curve(self, q0, controls, t_end, **options)

    def loop_displacement(
        self, q0: npt.ArrayLike, i: int, j: int, eps: float, **options: Any
    ) -> np.ndarray:
        """End − q0 of the commutator loop of X_i, X_j with side ε: ε²[X_i, X_j](q0) + O(ε³);
        see :func:`subriemann.subriemannian.holonomy.loop_displacement`."""
        from subriemann.subriemannian.holonomy import loop_displacement

        return loop_displacement(self, q0, i, j, eps, **options)

    def holonomy_test(
        self, q0: npt.ArrayLike, eps: npt.ArrayLike | None = None, **options: Any
    ) -> HolonomyReport:
        """Loop displacements of all pairs at several ε, their order and agreement with the
        brackets; see :func:`subriemann.subriemannian.holonomy.holonomy_test`."""
        from subriemann.subriemannian.holonomy import DEFAULT_EPS, holonomy_test

        return holonomy_test(self, q0, DEFAULT_EPS if eps is None else eps, **options)

    def sub_riemannian_metric(self, **options: Any) -> SubRiemannianMetric:
        """geomstats ``SubRiemannianMetric`` on R^dim for which the frame is orthonormal.

        The frame columns are *declared* orthonormal (that defines the metric on
        Δ); its normal geodesics solve Hamilton's equations for H(q, λ) = ½|F(q)ᵀλ|²
        with the package's ODE core to a tolerance (``exp``, ``geodesic``, ``symp_flow``;
        ``n_steps=`` still gives geomstats' fixed-step route), and it adds ``log`` and
        ``dist``; see :class:`subriemann.subriemannian.metric.SubRiemannianMetric`.
        """
        from subriemann.subriemannian.metric import sub_riemannian_metric

        return sub_riemannian_metric(self, **options)

    def normal_geodesic(
        self, q0: npt.ArrayLike, p0: npt.ArrayLike, t_end: float = 1.0, **options: Any
    ) -> NormalGeodesic:
        """The normal geodesic from (q0, p0) (Hamilton's equations of H = ½Σ⟨p, X_i⟩²);
        see :func:`subriemann.subriemannian.geodesics.normal_geodesic`."""
        from subriemann.subriemannian.geodesics import normal_geodesic

        return normal_geodesic(self, q0, p0, t_end, **options)

    def conjugate_times(
        self, q0: npt.ArrayLike, p0: npt.ArrayLike, t_max: float, **options: Any
    ) -> np.ndarray:
        """Conjugate times of the normal geodesic from (q0, p0) up to t_max;
        see :func:`subriemann.subriemannian.jacobi.conjugate_times`."""
        from subriemann.subriemannian.jacobi import conjugate_times

        return conjugate_times(self, q0, p0, t_max, **options)

    def sphere(
        self, q0: npt.ArrayLike, radius: float, n_covectors: int | None = None, **options: Any
    ) -> Sphere:
        """Endpoints of normal geodesics of length ``radius`` from q0;
        see :func:`subriemann.subriemannian.spheres.sphere`."""
        from subriemann.subriemannian.spheres import sphere

        return sphere(self, q0, radius, n_covectors, **options)

    def is_singular_curve(
        self,
        curve: HorizontalCurve | None = None,
        *,
        q0: npt.ArrayLike | None = None,
        controls: Callable[[float], npt.ArrayLike] | npt.ArrayLike | None = None,
        t_end: float | None = None,
        **options: Any,
    ) -> SingularityReport:
        """Is the horizontal curve singular (abnormal candidate)?  ``curve`` is a
        :class:`~subriemann.subriemannian.curves.HorizontalCurve` or give ``q0, controls,
        t_end``; see :func:`subriemann.subriemannian.abnormal.is_singular_curve`."""
        from subriemann.subriemannian.abnormal import is_singular_curve

        if curve is not None:
            q0, controls, t_end = curve.points[0], curve.control, curve.t[-1]
        if q0 is None or controls is None or t_end is None:
            raise InputError("is_singular_curve needs a curve, or q0, controls and t_end")
        return is_singular_curve(self, q0, controls, t_end, **options)

    # -- SymPy ------------------------------------------------------------------------
    @classmethod
    def from_sympy(
        cls,
        vector_fields: SymbolicFields,
        coordinates: Iterable[sympy.Symbol],
        exact: bool = False,
        rank_policy: RankPolicy | float | None = None,
        metric: AmbientMetric | None = None,
        *,
        parameters: ParameterSpec | None = None,
        names: Iterable[str] | None = None,
        **options: Any,
    ) -> Self:
        """A distribution from SymPy vector fields; numerics by lambdify to autograd.numpy.

        Parameters
        ----------
        vector_fields, coordinates
            The fields and their coordinates, as for
            :class:`~subriemann.distributions.symbolic.SymbolicFrame` (which checks them).
        exact : bool
            True: the frame's brackets (and their terms J(X_j)X_i) are computed
            symbolically and lambdified; otherwise autograd differentiates the
            lambdified frame.  Symbolic brackets and growth vectors
            (:meth:`symbolic_brackets`, :meth:`symbolic_growth_vector`) are
            available either way.
        rank_policy, metric
            As for :class:`Distribution`.
        parameters : sequence or mapping, optional
            Symbols other than the coordinates (e.g. ``a`` in X = ∂x + a y²∂z):
            a sequence declares them free, a mapping {symbol or name: value or
            None} gives values.  Symbolic methods keep them as symbols (results
            for generic values; :meth:`symbolic_singular_set` finds where they
            fail); numerics need every value (:meth:`with_parameters`) and raise
            InputError naming the free ones.
        names : sequence of str, optional
            Field names for labels and LaTeX (default X1, ..., Xr).
        **options
            Keyword-only arguments of :class:`Distribution`: ``name``, ``known``,
            ``base_point``.

        Raises
        ------
        MissingExtraError
            SymPy is missing (optional extra ``subriemann[symbolic]``).
        InputError
            Bad fields, coordinates or parameters (see
            :class:`~subriemann.distributions.symbolic.SymbolicFrame`).
        """
        symbolic = SymbolicFrame(vector_fields, coordinates, parameters, names=names)
        return cls._from_symbolic_frame(symbolic, exact, rank_policy, metric, options)

    @classmethod
    def _from_symbolic_frame(cls, symbolic, exact, rank_policy, metric, options):
        brackets = symbolic.exact_brackets() if exact else None
        dist = cls(
            symbolic.numeric_frame(),
            symbolic.dim,
            brackets=brackets,
            rank_policy=rank_policy,
            metric=metric,
            frame_jacobian=symbolic.numeric_frame_jacobian(),
            **options,
        )
        if exact:
            dist._bracket_route = "symbolic"
        dist._frame_jacobian_route = "symbolic"
        dist._symbolic = symbolic
        # what with_parameters needs to build the same distribution with other values
        dist._sympy_options = (exact, rank_policy, metric, dict(options))
        return dist

    def with_parameters(self, **values: sympy.Expr | float | None) -> Self:
        """The same from_sympy distribution with parameter values, e.g. ``with_parameters(a=1)``.

        Values not given keep their previous value (None frees one again);
        numerics work once no parameter is free.  Raises InputError for a name
        that is not a declared parameter.
        """
        symbolic = self._require_symbolic().with_values(values)
        exact, rank_policy, metric, options = self._sympy_options
        return type(self)._from_symbolic_frame(symbolic, exact, rank_policy, metric, options)

    def _require_symbolic(self) -> SymbolicFrame:
        if self._symbolic is None:
            raise InputError(
                "this distribution was not built from SymPy expressions; use "
                "Distribution.from_sympy for symbolic brackets"
            )
        return self._symbolic

    @property
    def sympy_frame(self) -> SymbolicFrame:
        """The :class:`~subriemann.distributions.symbolic.SymbolicFrame` of a from_sympy distribution."""
        return self._require_symbolic()

    @property
    def symbolic_frame(self) -> sympy.Matrix:
        """The SymPy frame Matrix (dim, r) of a distribution built by :meth:`from_sympy`."""
        return self._require_symbolic().matrix

    def symbolic_brackets(self, step: int = 2) -> dict[Word, sympy.Matrix]:
        """{word: iterated bracket as a SymPy column Matrix} for steps 2..step.

        Step 2 gives {(i, j): [X_i, X_j]} for i < j; step 3 adds (i, (j, k)) =
        [X_i, [X_j, X_k]]; see
        :meth:`~subriemann.distributions.symbolic.SymbolicFrame.brackets`.
        """
        return self._require_symbolic().brackets(step)

    def symbolic_growth_vector(
        self,
        max_step: int | None = None,
        point: SymbolicPoint | None = None,
    ) -> GrowthVector:
        """Exact growth vector (a :class:`~subriemann.distributions.growth.GrowthVector`).

        Implements the Lie flag Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] in exact arithmetic,
        generic (over rational functions in coordinates and parameters) or at
        ``point`` (a substitution dict, or values in coordinate order), with the
        numeric convention (no trailing repeats); see
        :meth:`~subriemann.distributions.symbolic.SymbolicFrame.growth_vector`.
        """
        return self._require_symbolic().growth_vector(max_step, point)

    def symbolic_singular_set(self, max_step: int | None = None) -> tuple[RankDropLocus, ...]:
        """Where each step of the Lie flag drops below its generic rank (equations, solutions);
        see :meth:`~subriemann.distributions.symbolic.SymbolicFrame.singular_set`."""
        return self._require_symbolic().singular_set(max_step)
