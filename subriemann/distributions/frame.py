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
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval, isbox

from subriemann.distributions.brackets import (
    check_point,
    frame_bracket_data,
    lie_bracket,  # noqa: F401 - importable from here, as before the split
    lie_bracket_fd,  # noqa: F401 - importable from here, as before the split
    resolve_bracket_route,
)
from subriemann.distributions.frobenius import (
    CurvatureData,
    FrobeniusReport,
    FrobeniusVerdict,  # noqa: F401 - importable from here, as before the split
    curvature_from_brackets,
    curvature_from_terms,
    frobenius_report,
    frobenius_verdict,
)
from subriemann.distributions.growth import growth_spans, growth_vector_from_spans
from subriemann.distributions.metric import (
    FrameSpan,
    check_metric,
    from_metric,
    metric_factor,
)
from subriemann.distributions.symbolic import SymbolicFrame
from subriemann.errors import InputError, NumericalError, ShapeError, check_array, check_int
from subriemann.linalg import JacobianSVD, RankReport, resolve_policy

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
        self._symbolic = None  # the SymbolicFrame when built by from_sympy
        if curvature_terms is not None and not callable(curvature_terms):
            raise InputError(
                f"curvature_terms must be callable p -> (basis, report, terms, r), got {curvature_terms!r}"
            )
        self._curvature_terms = curvature_terms

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
        return F

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

    def rank(self, p) -> RankReport:
        """Numerical rank of Δ_p = span of the frame at p, decided by the rank policy."""
        return self._span(p)[0].report

    def orthonormal_basis(self, p) -> FrameSpan:
        """A basis e_a of Δ_p orthonormal for the metric, shape ``(dim, rank)``, and its rank report."""
        svd, _, L = self._span(p)
        return FrameSpan(from_metric(L, svd.U), svd.report)

    # -- brackets -----------------------------------------------------------------
    def frame_brackets(self, p):
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
        return frobenius_report(self._curvature_data(p), self.dim, self._bracket_route, tolerance)

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
        return frobenius_verdict(reports)

    # -- derived flag and growth vector ------------------------------------------
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

        Implements the Lie flag behind the Chow–Rashevskii condition; step 2 is
        the curvature of the Frobenius test (2.31), so it agrees with
        :meth:`is_involutive`, and steps ≥ 3 need an autograd-traceable frame.
        With ``max_step=None`` the flag stops at the whole space or after two
        consecutive stalls; :func:`~subriemann.distributions.growth.growth_spans`
        gives the stopping rule and the round-off floor of each step.

        Parameters
        ----------
        p : array-like, shape=[dim]
        max_step : int, optional
        """
        return growth_spans(
            self._point(p),
            self.frame,
            self._curvature_data,
            self._bracket_route,
            self.rank_policy,
            max_step,
        )

    def growth_vector(self, p, max_step=None) -> tuple:
        """Growth vector (rank Δ¹_p, rank Δ²_p, ...), Δ^{k+1} = Δ^k + [Δ, Δ^k].

        Ranks go through the rank policy; the flag is computed as in
        :meth:`growth_spans` (to the whole space, to ``max_step``, or until two
        consecutive stalls), then trailing repeats are dropped, so the vector
        ends at the last step where the rank grew (an integrable Δ gives
        (rank Δ,)).  Pointwise ranks may stall and grow again at singular points
        (Martinet on x = 0: (2, 2, 3)).  Heisenberg: (2, 3); Engel: (2, 3, 4).
        """
        return growth_vector_from_spans(self.growth_spans(p, max_step))

    def is_bracket_generating(self, p, max_step=None) -> bool:
        """Chow–Rashevskii (Hörmander) condition at p: some Δ^k_p is all of T_pR^dim."""
        return self.growth_vector(p, max_step)[-1] == self.dim

    # -- geomstats ------------------------------------------------------------------
    # -- moving along Δ: subriemann.subriemannian, the layer above, imported on use ---------
    def horizontal_curve(self, q0, controls, t_end, **options):
        """The horizontal curve q′ = F(q)u(t) from q0; see
        :func:`subriemann.subriemannian.curves.horizontal_curve` (options and result)."""
        from subriemann.subriemannian.curves import horizontal_curve

        return horizontal_curve(self, q0, controls, t_end, **options)

    def loop_displacement(self, q0, i, j, eps, **options):
        """End − q0 of the commutator loop of X_i, X_j with side ε: ε²[X_i, X_j](q0) + O(ε³);
        see :func:`subriemann.subriemannian.curves.loop_displacement`."""
        from subriemann.subriemannian.curves import loop_displacement

        return loop_displacement(self, q0, i, j, eps, **options)

    def holonomy_test(self, q0, eps=None, **options):
        """Loop displacements of all pairs at several ε, their order and agreement with the
        brackets; see :func:`subriemann.subriemannian.curves.holonomy_test`."""
        from subriemann.subriemannian.curves import DEFAULT_EPS, holonomy_test

        return holonomy_test(self, q0, DEFAULT_EPS if eps is None else eps, **options)

    def sub_riemannian_metric(self, **options):
        """geomstats ``SubRiemannianMetric`` on R^dim for which the frame is orthonormal.

        The frame columns are *declared* orthonormal (that defines the metric on
        Δ); its normal geodesics solve Hamilton's equations for H(q, λ) = ½|F(q)ᵀλ|²
        with the package's ODE core to a tolerance (``exp``, ``geodesic``, ``symp_flow``;
        ``n_steps=`` still gives geomstats' fixed-step route), and it adds ``log`` and
        ``dist``; see :class:`subriemann.subriemannian.metric.SubRiemannianMetric`.
        """
        from subriemann.subriemannian.metric import sub_riemannian_metric

        return sub_riemannian_metric(self, **options)

    def normal_geodesic(self, q0, p0, t_end=1.0, **options):
        """The normal geodesic from (q0, p0) (Hamilton's equations of H = ½Σ⟨p, X_i⟩²);
        see :func:`subriemann.subriemannian.geodesics.normal_geodesic`."""
        from subriemann.subriemannian.geodesics import normal_geodesic

        return normal_geodesic(self, q0, p0, t_end, **options)

    def conjugate_times(self, q0, p0, t_max, **options):
        """Conjugate times of the normal geodesic from (q0, p0) up to t_max;
        see :func:`subriemann.subriemannian.jacobi.conjugate_times`."""
        from subriemann.subriemannian.jacobi import conjugate_times

        return conjugate_times(self, q0, p0, t_max, **options)

    def sphere(self, q0, radius, n_covectors=None, **options):
        """Endpoints of normal geodesics of length ``radius`` from q0;
        see :func:`subriemann.subriemannian.spheres.sphere`."""
        from subriemann.subriemannian.spheres import sphere

        return sphere(self, q0, radius, n_covectors, **options)

    def is_singular_curve(self, curve=None, *, q0=None, controls=None, t_end=None, **options):
        """Is the horizontal curve singular (abnormal candidate)?  ``curve`` is a
        :class:`~subriemann.subriemannian.curves.HorizontalCurve` or give ``q0, controls,
        t_end``; see :func:`subriemann.subriemannian.abnormal.is_singular_curve`."""
        from subriemann.subriemannian.abnormal import is_singular_curve

        if curve is not None:
            q0, controls, t_end = curve.points[0], curve.control, curve.t[-1]
        return is_singular_curve(self, q0, controls, t_end, **options)

    # -- SymPy ------------------------------------------------------------------------
    @classmethod
    def from_sympy(
        cls, vector_fields, coordinates, exact=False, rank_policy=None, metric=None, **options
    ):
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
        **options
            Keyword-only arguments of :class:`Distribution`: ``name``, ``known``,
            ``base_point``.

        Raises
        ------
        ImportError
            SymPy is missing (optional extra ``subriemann[symbolic]``).
        InputError
            Bad fields or coordinates (see :class:`~subriemann.distributions.symbolic.SymbolicFrame`).
        """
        symbolic = SymbolicFrame(vector_fields, coordinates)
        brackets = symbolic.exact_brackets() if exact else None
        dist = cls(
            symbolic.numeric_frame(),
            symbolic.dim,
            brackets=brackets,
            rank_policy=rank_policy,
            metric=metric,
            **options,
        )
        if exact:
            dist._bracket_route = "symbolic"
        dist._symbolic = symbolic
        return dist

    def _require_symbolic(self) -> SymbolicFrame:
        if self._symbolic is None:
            raise InputError(
                "this distribution was not built from SymPy expressions; use "
                "Distribution.from_sympy for symbolic brackets"
            )
        return self._symbolic

    @property
    def symbolic_frame(self):
        """The SymPy frame Matrix (dim, r) of a distribution built by :meth:`from_sympy`."""
        return self._require_symbolic().matrix

    def symbolic_brackets(self) -> dict:
        """{(i, j): [X_i, X_j] as a SymPy column Matrix} for i < j, by symbolic Jacobians."""
        return self._require_symbolic().brackets()

    def symbolic_growth_vector(self, max_step=None, point=None) -> tuple:
        """Exact growth vector by SymPy, generic or at ``point``.

        Implements the flag Δ^{k+1} = Δ^k + [Δ, Δ^k] in exact arithmetic; the
        arguments are those of
        :meth:`~subriemann.distributions.symbolic.SymbolicFrame.growth_vector`
        (``max_step`` default dim; ``point`` a substitution dict or values in
        coordinate order).
        """
        return self._require_symbolic().growth_vector(max_step, point)
