"""Classic distributions with their known answers, for teaching and for testing the Frobenius machinery.

Every entry returns a :class:`~subriemann.distributions.frame.Distribution` whose
frame is written with ``autograd.numpy`` (exact brackets), whose frame Jacobian
J[j, i, k] = ∂F_ji/∂p_k is written out by hand (``frame_jacobian``: the normal
geodesics' ∂H/∂q without tracing the frame; user-supplied ``phi`` or ``field``
callables are differentiated by autograd instead) and whose ``known``
dict records the documented answers: ``dim``, ``rank``, ``growth_vector`` (at a
generic point), ``step``, ``involutive``, ``bracket_generating``, the
``hausdorff_dimension`` Q = Σ k(n_k − n_{k−1}) (Mitchell's theorem; bracket-generating
entries only) and, where it applies, the ``singular_set``, a ``singular_point``
on it and the growth vector and Q there (``growth_vector_singular``,
``hausdorff_dimension_singular``).  Every growth vector here is also checked
against SymPy brackets in the tests.  References: R. Montgomery, *A Tour of
Subriemannian Geometries* (AMS 2002), ch. 1–2, 6; A. Agrachev, D. Barilari,
U. Boscain, *A Comprehensive Introduction to Sub-Riemannian Geometry* (CUP
2020), ch. 3–4; F. Jean, *Control of Nonholonomic Systems* (Springer 2014),
ch. 1–2; J.-P. Laumond (ed.), *Robot Motion Planning and Control* (Springer
1998), ch. 1 (the car and the trailer).

``network_bundle`` builds the pullback bundle V of a small network (§2.3),
the paper's own example of a non-integrable distribution (§2.4);
:func:`from_spec` resolves a name or a network spec for the command line.

Why one module of ~650 lines: it is one list of examples, each a frame, its
hand-written Jacobian and its documented answers side by side (a reader checks
the Jacobian against the frame a few lines above); split by entry, the shared
builders ``_columns``/``_jacobian``/``_known`` would be imported across modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import isbox

from subriemann.distributions.brackets import VectorField
from subriemann.distributions.frame import Distribution
from subriemann.errors import InputError, check_array, check_int, check_real
from subriemann.maps import Activation, parse_architecture

__all__ = [
    "heisenberg",
    "engel",
    "martinet",
    "grushin",
    "cartan_235",
    "unicycle",
    "car",
    "car_trailer",
    "contact_r5",
    "level_set_foliation",
    "rank_one",
    "linear_horizontal",
    "network_bundle",
    "ENTRIES",
    "names",
    "get",
    "from_spec",
]


def _known(dim, growth_vector, **facts) -> dict:
    """An entry's documented answers at a generic point, then its own ``facts``.

    Rank, step, involutivity and bracket generation follow from the growth vector:
    rank Δ is its first entry, the step its length, Δ is involutive iff the flag
    stops at Δ and bracket-generating iff it reaches dim.
    """
    return {
        "dim": dim,
        "rank": growth_vector[0],
        "growth_vector": growth_vector,
        "step": len(growth_vector),
        "involutive": len(growth_vector) == 1,
        "bracket_generating": growth_vector[-1] == dim,
        **facts,
    }


def _entry(frame, dim, name, growth_vector, *, frame_jacobian, **facts) -> Distribution:
    """The catalog Distribution ``name`` of ``frame`` (and its Jacobian) on R^dim with its documented answers (:func:`_known`)."""
    return Distribution(
        frame,
        dim,
        name=name,
        known=_known(dim, growth_vector, **facts),
        frame_jacobian=frame_jacobian,
    )


def _jacobian(dim, r, *derivatives) -> np.ndarray:
    """J (dim, r, dim), J[j, i, k] = ∂(X_i)_j/∂p_k: zero but for ``derivatives`` (i, j, k, value)."""
    J = np.zeros((dim, r, dim))
    for i, j, k, value in derivatives:
        J[j, i, k] = value
    return J


def _constant(J):
    """p ↦ J for a frame whose Jacobian does not depend on p (a copy: callers may write to it)."""
    return lambda p: J.copy()


def _columns(x, *columns):
    """The frame (dim, r) with the given columns, lists of components; numbers are constants.

    The constants take the shape and type of the coordinate x, so the frame stays
    traceable by autograd; an untraced scalar x builds the array with numpy alone
    (the normal geodesics evaluate the frame ~10⁴ times: autograd's wrappers of
    the nested stacks would be most of that time).
    """
    if not isbox(x) and np.ndim(x) == 0:
        return np.array(columns, dtype=np.float64).T
    one = anp.ones_like(x)
    return anp.stack(
        [anp.stack([c * one if isinstance(c, int | float) else c for c in col]) for col in columns],
        axis=1,
    )


def heisenberg() -> Distribution:
    """Heisenberg distribution on R³: X = ∂x − (y/2)∂z, Y = ∂y + (x/2)∂z.

    [X, Y] = ∂z everywhere, so Δ is a contact distribution (ker of
    dz − (x dy − y dx)/2), bracket-generating of step 2 with growth vector
    (2, 3) at every point, and nowhere involutive.  With X, Y orthonormal it is
    the first Heisenberg group's sub-Riemannian structure; its normal geodesics
    project to circles whose enclosed area is the z-displacement.
    """

    def frame(p):
        x, y = p[0], p[1]
        return _columns(x, [1, 0, -y / 2], [0, 1, x / 2])

    return _entry(
        frame,
        3,
        "heisenberg",
        (2, 3),
        frame_jacobian=_constant(_jacobian(3, 2, (0, 2, 1, -0.5), (1, 2, 0, 0.5))),
        hausdorff_dimension=4,
        contact=True,
        brackets="[X, Y] = d/dz",
    )


def engel() -> Distribution:
    """Engel distribution on R⁴: X₁ = ∂₁, X₂ = ∂₂ + x₁∂₃ + x₃∂₄.

    [X₁, X₂] = ∂₃, [X₁, [X₁, X₂]] = 0, [X₂, [X₁, X₂]] = −∂₄: growth vector
    (2, 3, 4) at every point (step 3); the Engel structure is the unique stable
    rank-2 distribution germ on a 4-manifold.
    """

    def frame(p):
        return _columns(p[0], [1, 0, 0, 0], [0, 1, p[0], p[2]])

    return _entry(
        frame,
        4,
        "engel",
        (2, 3, 4),
        frame_jacobian=_constant(_jacobian(4, 2, (1, 2, 0, 1.0), (1, 3, 2, 1.0))),
        hausdorff_dimension=7,
        brackets="[X1, X2] = d3, [X2, [X1, X2]] = -d4",
    )


def martinet() -> Distribution:
    """Martinet distribution on R³: X = ∂x, Y = ∂y + (x²/2)∂z.

    [X, Y] = x∂z and [X, [X, Y]] = ∂z.  Off the Martinet surface {x = 0} it is
    contact (growth (2, 3)); on it [X, Y] = 0, so Δ is involutive *at* those
    points (pointwise Frobenius holds) without being integrable, and the growth
    vector is (2, 2, 3): bracket-generating of step 3, not 2.  The singular
    surface carries the famous abnormal (rigid) geodesics, the lines x = 0,
    z = const.
    """

    def frame(p):
        x = p[0]
        return _columns(x, [1, 0, 0], [0, 1, x**2 / 2])

    def frame_jacobian(p):
        return _jacobian(3, 2, (1, 2, 0, p[0]))

    return _entry(
        frame,
        3,
        "martinet",
        (2, 3),
        frame_jacobian=frame_jacobian,
        hausdorff_dimension=4,
        singular_set="x = 0 (the Martinet surface)",
        singular_point=(0.0, 1.0, 2.0),
        growth_vector_singular=(2, 2, 3),
        hausdorff_dimension_singular=5,
        step_singular=3,
        involutive_at_singular_points=True,
        brackets="[X, Y] = x d/dz, [X, [X, Y]] = d/dz",
    )


def contact_r5() -> Distribution:
    """Standard contact distribution on R⁵ = {(x₁, y₁, x₂, y₂, z)}.

    Xᵢ = ∂xᵢ − (yᵢ/2)∂z, Yᵢ = ∂yᵢ + (xᵢ/2)∂z (i = 1, 2), the kernel of
    dz − ½Σ(xᵢdyᵢ − yᵢdxᵢ): [Xᵢ, Yᵢ] = ∂z, all other brackets vanish; growth
    (4, 5), step 2 (the second Heisenberg group).
    """

    def frame(p):
        x1, y1, x2, y2 = p[0], p[1], p[2], p[3]
        return _columns(
            x1,
            [1, 0, 0, 0, -y1 / 2],
            [0, 1, 0, 0, x1 / 2],
            [0, 0, 1, 0, -y2 / 2],
            [0, 0, 0, 1, x2 / 2],
        )

    halves = ((0, 4, 1, -0.5), (1, 4, 0, 0.5), (2, 4, 3, -0.5), (3, 4, 2, 0.5))
    return _entry(
        frame,
        5,
        "contact_r5",
        (4, 5),
        frame_jacobian=_constant(_jacobian(5, 4, *halves)),
        hausdorff_dimension=6,
        contact=True,
        brackets="[X_i, Y_i] = d/dz, others 0",
    )


def grushin() -> Distribution:
    """Grushin plane R²: X = ∂x, Y = x∂y — a rank-varying distribution.

    Off the line x = 0 the frame spans T_pR² (growth (2,), Riemannian, Q = 2).  On
    it Y(p) = 0 and Δ_p = span ∂x, yet the *field* Y is not zero and
    [X, Y] = ∂y: growth (1, 2), Q = 1·1 + 2·1 = 3 (A. Bellaïche, *The tangent
    space in sub-Riemannian geometry*, Birkhäuser 1996, the introductory
    examples; ABB 2020, ch. 3).  The flag must be computed from brackets of the
    frame fields, not of a basis of the span at p.
    """

    def frame(p):
        x = p[0]
        return _columns(x, [1, 0], [0, x])

    return _entry(
        frame,
        2,
        "grushin",
        (2,),
        frame_jacobian=_constant(_jacobian(2, 2, (1, 1, 0, 1.0))),
        hausdorff_dimension=2,
        singular_set="x = 0 (the frame's rank drops to 1)",
        singular_point=(0.0, 0.1),
        growth_vector_singular=(1, 2),
        hausdorff_dimension_singular=3,
        brackets="[X, Y] = d/dy",
    )


def cartan_235() -> Distribution:
    """Cartan's (2, 3, 5) distribution on R⁵, flat model: X₁ = ∂₁, X₂ = ∂₂ + x₁∂₃ + (x₁²/2)∂₄ + x₁x₂∂₅.

    [X₁, X₂] = ∂₃ + x₁∂₄ + x₂∂₅, [X₁, [X₁, X₂]] = ∂₄, [X₂, [X₁, X₂]] = ∂₅, and all
    brackets of length 4 vanish: the left-invariant frame of the free nilpotent
    Lie group of rank 2 and step 3 (the Cartan group), whose distribution is
    the flat model of Cartan's maximally non-holonomic (2, 3, 5) distributions
    (É. Cartan 1910; Montgomery 2002, ch. 6; Yu. Sachkov, *Exponential map in
    the generalized Dido problem*, Sb. Math. 194 (2003), in other coordinates).
    Growth (2, 3, 5) at every point, Q = 2 + 2·1 + 3·2 = 10; the fields are
    homogeneous of degree −1 for the weights (1, 1, 2, 3, 3).
    """

    def frame(p):
        x1, x2 = p[0], p[1]
        return _columns(x1, [1, 0, 0, 0, 0], [0, 1, x1, x1**2 / 2, x1 * x2])

    def frame_jacobian(p):
        x1, x2 = p[0], p[1]
        return _jacobian(5, 2, (1, 2, 0, 1.0), (1, 3, 0, x1), (1, 4, 0, x2), (1, 4, 1, x1))

    return _entry(
        frame,
        5,
        "cartan_235",
        (2, 3, 5),
        frame_jacobian=frame_jacobian,
        hausdorff_dimension=10,
        brackets="[X1, X2] = d3 + x1 d4 + x2 d5, [X1, [X1, X2]] = d4, [X2, [X1, X2]] = d5",
    )


def unicycle() -> Distribution:
    """Unicycle (rolling coin) on (x, y, θ): X = cos θ ∂x + sin θ ∂y (drive), Y = ∂θ (turn).

    [Y, X] = −sin θ ∂x + cos θ ∂y, the sideways direction the wheel cannot take
    directly: growth (2, 3) everywhere (a contact structure, locally the
    Heisenberg one), Q = 4 (Laumond 1998, ch. 1).  θ lives on
    S¹; the frame is 2π-periodic in it.
    """

    def frame(p):
        th = p[2]
        return _columns(th, [anp.cos(th), anp.sin(th), 0], [0, 0, 1])

    def frame_jacobian(p):
        th = p[2]
        return _jacobian(3, 2, (0, 0, 2, -np.sin(th)), (0, 1, 2, np.cos(th)))

    return _entry(
        frame,
        3,
        "unicycle",
        (2, 3),
        frame_jacobian=frame_jacobian,
        hausdorff_dimension=4,
        brackets="[Y, X] = -sin(t) dx + cos(t) dy",
    )


def car() -> Distribution:
    """Car on R² × S¹ × S¹ = {(x, y, θ, φ)}, front-wheel drive, wheelbase 1.

    X₁ = cos φ (cos θ ∂x + sin θ ∂y) + sin φ ∂θ (drive), X₂ = ∂φ (steer)
    (Laumond 1998, ch. 1).  [X₂, X₁] = −sin φ (cos θ ∂x + sin θ ∂y) +
    cos φ ∂θ and [X₁, [X₂, X₁]] = sin θ ∂x − cos θ ∂y (sideways): growth
    (2, 3, 4) at every point, including cos φ = 0, Q = 2 + 2 + 3 = 7.
    """

    def frame(p):
        th, ph = p[2], p[3]
        drive = [anp.cos(ph) * anp.cos(th), anp.cos(ph) * anp.sin(th), anp.sin(ph), 0]
        return _columns(th, drive, [0, 0, 0, 1])

    def frame_jacobian(p):
        ct, st, c, s = np.cos(p[2]), np.sin(p[2]), np.cos(p[3]), np.sin(p[3])
        d_theta = ((0, 0, 2, -c * st), (0, 1, 2, c * ct))
        d_phi = ((0, 0, 3, -s * ct), (0, 1, 3, -s * st), (0, 2, 3, c))
        return _jacobian(4, 2, *d_theta, *d_phi)

    return _entry(
        frame,
        4,
        "car",
        (2, 3, 4),
        frame_jacobian=frame_jacobian,
        hausdorff_dimension=7,
        brackets="[X1, [X2, X1]] = sin(t) dx - cos(t) dy",
    )


def car_trailer() -> Distribution:
    """Car pulling one trailer on R⁵ = {(x, y, θ, φ, θ₁)}, front-wheel drive, unit lengths.

    X₁ = cos φ (cos θ ∂x + sin θ ∂y + sin(θ − θ₁) ∂θ₁) + sin φ ∂θ, X₂ = ∂φ: the
    car of :func:`car` with a trailer hitched at its rear axle, whose heading
    obeys θ̇₁ = v_rear sin(θ − θ₁) with v_rear = cos φ (Laumond 1998, ch. 1;
    Sørdalen 1993 for the rear-drive form).  Growth (2, 3, 4, 5) off cos φ = 0,
    Q = 2 + 2 + 3 + 4 = 11.  With the front wheel across the car (cos φ = 0) the
    drive only turns the car in place: det(X₁, X₂, [X₂, X₁], [X₁, [X₂, X₁]],
    [X₁, [X₁, [X₂, X₁]]]) = ±cos φ, and there the growth is (2, 3, 4, 4, 5),
    Q = 12 (SymPy, checked in the tests).
    """

    def frame(p):
        th, ph, th1 = p[2], p[3], p[4]
        c, s = anp.cos(ph), anp.sin(ph)
        drive = [c * anp.cos(th), c * anp.sin(th), s, 0, c * anp.sin(th - th1)]
        return _columns(th, drive, [0, 0, 0, 1, 0])

    def frame_jacobian(p):
        ct, st, c, s = np.cos(p[2]), np.sin(p[2]), np.cos(p[3]), np.sin(p[3])
        cd, sd = np.cos(p[2] - p[4]), np.sin(p[2] - p[4])
        d_theta = ((0, 0, 2, -c * st), (0, 1, 2, c * ct), (0, 4, 2, c * cd))
        d_phi = ((0, 0, 3, -s * ct), (0, 1, 3, -s * st), (0, 2, 3, c), (0, 4, 3, -s * sd))
        return _jacobian(5, 2, *d_theta, *d_phi, (0, 4, 4, -c * cd))

    return _entry(
        frame,
        5,
        "car_trailer",
        (2, 3, 4, 5),
        frame_jacobian=frame_jacobian,
        hausdorff_dimension=11,
        singular_set="cos(phi) = 0 (front wheel across the car)",
        singular_point=(0.0, 0.0, 0.3, float(np.pi / 2), -0.2),
        growth_vector_singular=(2, 3, 4, 4, 5),
        hausdorff_dimension_singular=12,
    )


def _default_level_function(x):
    """φ(x) = x_n + Σ_{i<n-1} x_i x_{i+1} + Σ_{i<n} sin x_i: ∂_nφ = 1, so dφ never vanishes."""
    n = x.shape[0]
    head = x[: n - 1]
    return x[n - 1] + anp.sum(x[: n - 2] * x[1 : n - 1]) + anp.sum(anp.sin(head))


def _default_level_derivatives(x):
    """(∇φ, ∇²φ) of :func:`_default_level_function` in closed form (0-based: pairs i ≤ n−3, sines i ≤ n−2)."""
    n = x.shape[0]
    g = np.zeros(n)
    g[n - 1] = 1.0
    g[: n - 1] += np.cos(x[: n - 1])
    g[: n - 2] += x[1 : n - 1]  # ∂/∂x_i of x_i x_{i+1}
    g[1 : n - 1] += x[: n - 2]  # ∂/∂x_{i+1} of x_i x_{i+1}
    H = np.zeros((n, n))
    H[np.arange(n - 1), np.arange(n - 1)] = -np.sin(x[: n - 1])
    H[np.arange(n - 2), np.arange(1, n - 1)] = 1.0
    H[np.arange(1, n - 1), np.arange(n - 2)] = 1.0
    return g, H


def _projector_jacobian(g, H):
    """∂P/∂x for P = 1 − nnᵀ, n = g/|g|, g = ∇φ, H = ∇²φ: −(∂n nᵀ + n ∂nᵀ), ∂n = (1 − nnᵀ)H/|g|."""
    norm = np.linalg.norm(g)
    n = g / norm
    Dn = (H - np.outer(n, n @ H)) / norm  # Dn[j, k] = ∂n_j/∂x_k
    return -(Dn[:, None, :] * n[None, :, None] + n[:, None, None] * Dn[None, :, :])


def _default_level_jacobian(p):
    return _projector_jacobian(*_default_level_derivatives(p))


def level_set_foliation(
    phi: Callable[[np.ndarray], float] | None = None, dim: int = 3
) -> Distribution:
    """Tangent spaces of the level sets of φ : R^dim → R: Δ_p = ker dφ(p), integrable.

    Frame: the projector 1 − nnᵀ with n = ∇φ/|∇φ| — dim columns spanning a
    rank dim − 1 space (a redundant frame, on purpose: the machinery must rank
    it through the rank policy).  The level sets are the leaves, so Δ is
    involutive at every point where ∇φ ≠ 0 (growth vector (dim − 1,)).

    Parameters
    ----------
    phi : callable, optional
        Autograd-traceable φ(x), x of shape (dim,).  Default
        φ(x) = x_n + Σ x_i x_{i+1} + Σ sin x_i (over i < n − 1 and i < n), whose
        gradient never vanishes; its frame Jacobian is written out,
        ∂P = −(∂n nᵀ + n ∂nᵀ) with ∂n = (1 − nnᵀ)∇²φ/|∇φ|.  A given φ takes the
        autograd route (``frame_jacobian_route``).
    dim : int
        At least 2.
    """
    dim = check_int(dim, "dim", "the level sets of phi foliate R^dim", minimum=2)
    # a user's phi: autograd differentiates the frame
    frame_jacobian = _default_level_jacobian if phi is None else None
    phi = _default_level_function if phi is None else phi
    if not callable(phi):
        raise InputError(f"phi must be a callable R^dim -> R, got {type(phi).__name__}")
    grad_phi = autograd.grad(phi)

    def frame(p):
        g = grad_phi(p)
        n = g / anp.sqrt(anp.sum(g * g))
        return anp.eye(dim) - anp.outer(n, n)

    return Distribution(
        frame,
        int(dim),
        name="level_set_foliation",
        known=_known(int(dim), (int(dim) - 1,), leaves="the level sets of phi"),
        frame_jacobian=frame_jacobian,
    )


def _default_line_field(p):
    head = anp.ones_like(p[:1])
    return anp.concatenate([head, anp.sin(p[:-1]) * p[1:] + p[:-1] ** 2])


def _default_line_jacobian(p):
    """J (dim, 1, dim) of :func:`_default_line_field`: X_j = sin(p_{j−1})p_j + p_{j−1}² for j ≥ 1."""
    n = p.shape[0]
    J = np.zeros((n, 1, n))
    j = np.arange(1, n)
    J[j, 0, j - 1] = np.cos(p[:-1]) * p[1:] + 2.0 * p[:-1]
    J[j, 0, j] = np.sin(p[:-1])
    return J


def rank_one(field: VectorField | None = None, dim: int = 3) -> Distribution:
    """The line field spanned by one nowhere-zero vector field: always integrable.

    [X, X] = 0, and by tensoriality [aX, bX] = (a Xb − b Xa)X ∈ Δ, so the
    Frobenius condition holds trivially (§2.4): the leaves are the integral
    curves of X.  Growth vector (1,).

    Parameters
    ----------
    field : callable, optional
        Autograd-traceable X(p), shape (dim,).  Default
        X = (1, sin(p₁)p₂ + p₁², ...), which never vanishes (its Jacobian is
        written out; a given field takes the autograd route).
    dim : int
    """
    dim = check_int(dim, "dim")
    # a user's field: autograd differentiates the frame
    frame_jacobian = _default_line_jacobian if field is None else None
    field = _default_line_field if field is None else field
    if not callable(field):
        raise InputError(f"field must be a callable R^dim -> R^dim, got {type(field).__name__}")

    def frame(p):
        return anp.reshape(field(p), (dim, 1))

    return Distribution(
        frame,
        int(dim),
        name="rank_one",
        known=_known(int(dim), (1,), leaves="integral curves of the field"),
        frame_jacobian=frame_jacobian,
    )


_DEFAULT_A = np.array([[1.0, 2.0, 0.0, -1.0], [0.0, 1.0, 3.0, 1.0]])


def linear_horizontal(A: npt.ArrayLike | None = None) -> Distribution:
    """Δ = range Aᵀ ⊂ R^n for a linear map A : R^n → R^m: the pullback bundle of θ ↦ Aθ.

    A constant distribution (frame Aᵀ), so every bracket vanishes and Δ is
    integrable; the leaves are the affine planes θ₀ + range Aᵀ, orthogonal to
    the fibres θ₀ + ker A of (2.32).  It is V of ``LinearMap(A)`` (§2.3).

    Parameters
    ----------
    A : array-like, shape=[m, n], optional
        Default a fixed 2×4 matrix of rank 2.
    """
    A = _DEFAULT_A if A is None else np.array(check_array(A, "A", ndim=2))
    if 0 in A.shape:
        raise InputError(f"A must be a non-empty (m, n) matrix, got shape {A.shape}")
    frame_matrix = np.array(A.T)
    rank = int(np.linalg.matrix_rank(A))
    n = A.shape[1]
    return Distribution(
        lambda p: frame_matrix,
        n,
        name="linear_horizontal",
        known=_known(n, (rank,), leaves="affine planes theta0 + range A^T"),
        frame_jacobian=_constant(np.zeros((n, A.shape[0], n))),
    )


def network_bundle(
    layer_sizes: Sequence[int] = (2, 3, 2),
    n_samples: int = 2,
    activation: str | Activation = "tanh",
    seed: int = 0,
    input_scale: float = 1.0,
) -> Distribution:
    """Pullback bundle V = range Dᵀ of a small network on random inputs (§2.3–2.4).

    Built by ``PullbackBundle(NetworkMap(...)).distribution()``, whose brackets
    come from ``jacobian_derivative`` (see :mod:`subriemann.distributions.frobenius` for
    the proof that they are vertical).  Over-parametrized tanh networks with
    QN ≥ 2 are generically not involutive; QN = 1 always is, and so is
    K ≤ QN (then V = TR^K); the sub-Riemannian
    structure (R^K, V, h) of (2.33).  ``base_point`` is θ₀ = mlp.init(seed).
    """
    from subriemann.geometry.bundles import PullbackBundle
    from subriemann.maps import MLP, NetworkMap

    mlp = MLP(layer_sizes, activation=activation)
    n_samples = check_int(n_samples, "n_samples", "the number of network inputs N")
    input_scale = check_real(input_scale, "input_scale", "the scale of the inputs", positive=True)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    inputs = input_scale * rng.standard_normal((n_samples, mlp.M))
    f = NetworkMap(mlp, inputs)
    dist = PullbackBundle(f).distribution()
    QN = f.dim_out
    dist.name = f"network_bundle({list(layer_sizes)}, N={n_samples}, {activation})"
    dist.base_point = mlp.init(seed)
    # With K <= QN (and rank D = K) the fiber range Dᵀ is all of R^K: V = TR^K is
    # trivially integrable, whatever the network.
    full_tangent = mlp.K <= QN
    dist.known = {
        "dim": mlp.K,
        "rank": min(mlp.K, QN),
        "involutive": QN == 1 or full_tangent,
        "involutive_reason": (
            "QN = 1: a rank-one bundle is always integrable"
            if QN == 1
            else "K <= QN: V = range Dᵀ is the whole tangent space TR^K"
            if full_tangent
            else "generic: brackets of Pen[D]e_i are vertical and nonzero (numerical evidence)"
        ),
    }
    return dist


ENTRIES: dict[str, Callable[..., Distribution]] = {
    "heisenberg": heisenberg,
    "engel": engel,
    "martinet": martinet,
    "contact_r5": contact_r5,
    "grushin": grushin,
    "cartan_235": cartan_235,
    "unicycle": unicycle,
    "car": car,
    "car_trailer": car_trailer,
    "level_set_foliation": level_set_foliation,
    "rank_one": rank_one,
    "linear_horizontal": linear_horizontal,
}


def names() -> list[str]:
    """Names of the catalog entries (``get(name)`` builds one)."""
    return sorted(ENTRIES)


def get(name: str, **kwargs: Any) -> Distribution:
    """The catalog entry ``name`` (see :func:`names`), built with ``kwargs``."""
    key = str(name).lower().replace("-", "_")
    if key not in ENTRIES:
        raise InputError(f"unknown catalog entry {name!r}; expected one of {names()}")
    return ENTRIES[key](**kwargs)


def from_spec(spec: str) -> Distribution:
    """Resolve a command-line spec: a catalog name, or ``network:M,M1,...,Q[:N=n][:seed=s][:act=a]``.

    Examples
    --------
    ``heisenberg``, ``martinet``, ``network:2,3,2:N=2:seed=0:act=tanh``.
    """
    spec = str(spec).strip()
    if not spec.lower().startswith("network"):
        return get(spec)
    parts = spec.split(":")
    if len(parts) < 2 or not parts[1]:
        raise InputError(
            f"network spec {spec!r} needs layer sizes, e.g. 'network:2,3,2:N=2:seed=0:act=tanh'"
        )
    sizes = parse_architecture(parts[1])
    options = {"n": "2", "seed": "0", "act": "tanh"}
    for item in parts[2:]:
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key not in options or not value:
            raise InputError(f"unknown network option {item!r}; expected N=, seed= or act=")
        options[key] = value.strip()
    try:
        n_samples, seed = int(options["n"]), int(options["seed"])
    except ValueError as exc:
        raise InputError(f"N and seed must be integers in {spec!r}") from exc
    return network_bundle(sizes, n_samples=n_samples, activation=options["act"], seed=seed)
