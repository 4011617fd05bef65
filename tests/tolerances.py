"""Tolerances from stated floating-point error models (issue #11, item 1).

A test of a computed quantity against an exact claim needs a tolerance that
(i) is above the round-off the computation makes on *any* conforming BLAS
(which OpenBLAS kernel runs — Haswell, SkylakeX, Sandybridge — changes the
order of the sums, so the last bits differ from machine to machine) and
(ii) is still many orders of magnitude below the size of a real violation of
the claim.  Bare literals such as ``1e-14`` satisfy neither by design: they
are a guess at (i) made on one machine.  Each function here states its model,
derives the bound, and says what the constant ``k`` covers.  All bounds are in
units of the unit round-off ``EPS = np.finfo(float).eps`` (2.2e-16).

Tests import these by the bare module name (``from tolerances import ...``),
like ``problems``: pytest's "prepend" import mode puts ``tests/`` on sys.path.

Conventions: ``scale`` is the norm of the quantity the error is relative to
(usually the reference value); ``cond`` is a 2-norm condition number
σ_max/σ_min (of the kept singular values when the rank is deficient).
"""

from __future__ import annotations

import numpy as np

#: unit round-off of float64, the only source of the constants below
EPS = float(np.finfo(np.float64).eps)


def _cond(D) -> float:
    """σ_max/σ_min of D (the smallest non-zero singular value at numpy's rank rule)."""
    s = np.linalg.svd(np.asarray(D, dtype=float), compute_uv=False)
    kept = s[s > max(np.shape(D)) * EPS * s[0]]
    return float(kept[0] / kept[-1])


# -- the cost C(x) = |x − y|²/(2N) ---------------------------------------------------------


def cost_uncertainty(x, target, N, k: float = 4.0):
    """How well C(x) = |x − y|²/(2N) is known when x is a computed output. Shape x.shape[:-1].

    Model: the computed output x̂ = f(θ) differs from the exact f(θ) by
    δ with |δ| ≤ e_x := k·EPS·|x| (a forward pass is a short chain of dot
    products and one activation per layer; without catastrophic cancellation
    its componentwise error is a few ulps of the output's size).  Then, with
    r = x − y,

        |C(x + δ) − C(x)| = |r·δ/N + |δ|²/(2N)| ≤ e_x·(|r| + e_x/2)/N,

    the first-order term dominating except at r → 0.  On top, forming the sum
    of QN squares rounds C by at most γ_{QN+2}·C ≈ (QN + 2)·EPS·C (Higham,
    sums of non-negative terms).

    k = 4 is the constant of the "monotone" scheme's sufficient-decrease slack
    (``_cost_round_off`` in subriemann/flows/orbits.py, formerly integrate.py
    ``_monotone``), so a test and the scheme it checks share one model.  On the
    teacher problems of test_theorems the largest plateau "increase" observed
    is 0.09 of the k = 1 bound on every OpenBLAS kernel, so k = 4 leaves ~40×.
    """
    x = np.asarray(x, dtype=float)
    r = np.linalg.norm(x - np.asarray(target, dtype=float), axis=-1)
    ex = k * EPS * np.linalg.norm(x, axis=-1)
    C = r**2 / (2.0 * N)
    return ex * (r + 0.5 * ex) / N + (x.shape[-1] + 2) * EPS * C


def cost_change_slack(x, target, N, k: float = 4.0):
    """Round-off allowance for ``np.diff(cost)`` along recorded outputs x, shape (n, QN) → (n − 1,).

    A computed change C(x_{i+1}) − C(x_i) is uncertain by the sum of the two
    costs' uncertainties (:func:`cost_uncertainty`, same model and k) plus the
    rounding of the subtraction itself, EPS·max(C_i, C_{i+1}).  A claim "C is
    non-increasing" therefore reads ``np.diff(C) <= cost_change_slack(x, y, N)``.

    What a violation looks like: a flow that is not a descent direction raises C
    by ~|∂ₛC|·Δs ~ C·Δs/N per recorded step, i.e. a *relative* increase of order
    Δs/N; the slack is ~k·EPS·|x|/|x − y| relative, 1e-13 or less for the
    problems in the suite, so it cannot hide one.
    """
    x = np.asarray(x, dtype=float)
    u = cost_uncertainty(x, target, N, k)
    C = np.linalg.norm(x - np.asarray(target, dtype=float), axis=-1) ** 2 / (2.0 * N)
    return u[:-1] + u[1:] + EPS * np.maximum(C[:-1], C[1:])


# -- linear algebra ------------------------------------------------------------------------


def solve_residual_tol(D, scale: float, k: float | None = None) -> float:
    """Bound on |D·v − b| (or on any error of v relative to |v|) for v from a backward-stable solve.

    Model: an SVD/QR/least-squares solve with D is backward stable — the
    computed v solves (D + ΔD)v = b + Δb with |ΔD| ≤ c·EPS·|D| and c a modest
    function of the dimensions (Higham, Accuracy and Stability, Thms 19.4, 20.3).
    For v = D⁺b, |v| ≤ |b|/σ_min, so the residual is |ΔD·v| ≤ c·EPS·cond(D)·|b|,
    and the forward error relative to |v| is bounded the same way.  So the
    tolerance is ``k·EPS·cond(D)·scale`` with ``scale`` = |b| (or |v|).

    k: default 4·max(m, n) — c grows like the number of Householder/Givens
    transformations applied (≤ max(m, n)), and the factor 4 covers the two or
    three extra products (Uᵀb, Σ⁻¹, V·) of applying the factors.  For the
    10–40-dimensional Jacobians in the suite that is 40–160 EPS·cond.
    A violation (a wrong projector, a transposed factor, a missing Σ⁻¹) gives an
    O(1) relative error, 1e12 times larger.
    """
    if k is None:
        k = 4.0 * max(np.shape(D))
    return k * EPS * _cond(D) * scale


def gram_inverse_tol(D, scale: float, k: float | None = None) -> float:
    """Like :func:`solve_residual_tol` for routes that form DDᵀ or DᵀD and invert it explicitly.

    Model: the Gram matrix DDᵀ has condition cond(D)²; inverting it (or solving
    with it) is backward stable in *that* matrix, so the relative error of the
    result is c·EPS·cond(D)² (the normal-equations penalty, Higham §20.4).
    k: default 4·max(m, n), as in :func:`solve_residual_tol`.
    """
    if k is None:
        k = 4.0 * max(np.shape(D))
    return k * EPS * _cond(D) ** 2 * scale


def routes_agree_tol(scale: float, cond: float = 1.0, k: float = 16.0) -> float:
    """Two computed routes to the same exact value differ by at most ``k·EPS·cond·scale``.

    Model: each route has relative forward error ≤ (k/2)·EPS·cond, where cond
    is the condition number of the problem both routes solve (1 for sums of
    products without cancellation, cond(D) for a solve with D, cond(D)² for a
    Gram route) and k/2 counts the rounding steps of the longer route; the
    difference is at most the sum.  k = 16 (8 roundings per route) is for
    short expressions — a dot product of a few terms, a projection, a
    Cholesky solve with an exactly representable factor; pass a larger k for
    routes with long sums (k ≈ the number of terms) and say why.
    """
    return k * EPS * cond * scale


def orthonormality_tol(n: int, k: float = 4.0) -> float:
    """|QᵀQ − 1|_max for Q with n rows from a Householder QR or an SVD: k·n·EPS.

    Model: orthogonal factors of Householder QR/SVD are orthonormal to
    O(n·EPS) (Higham Thm 19.4: each of n reflections is applied stably); k = 4
    covers the accumulation of the product QᵀQ itself.  A wrong basis (not
    orthonormalised, a dropped column) violates this by O(1).
    """
    return k * n * EPS


# -- adaptive ODE solutions ----------------------------------------------------------------


def ode_global_error(rtol: float, atol: float, scale: float, horizon: float = 1.0, k: float = 10.0):
    """Global error of an adaptive explicit Runge–Kutta solution (scipy's error-per-step control).

    Model: every accepted step has a local error below atol + rtol·|y| (the
    controller's promise, up to its safety factor); for a flow that does not
    expand errors (the adapted flows contract the output residual like
    e^{−s/N} and are neutral along the fibers) the global error is at most the
    sum of local errors, and an embedded pair at these tolerances takes a
    bounded number of steps per unit time constant.  So

        |y_h(s) − y(s)| ≤ k·(atol + rtol·scale)·max(1, horizon),

    with ``horizon`` the integration time in time constants (s/N for the
    adapted flows) and k = 10 steps' worth of local error per time constant
    (DOP853/RK45 at rtol 1e-9…1e-12 take 2–8 steps per time constant on the
    suite's problems).  This is a model, not a theorem (it does not hold for
    expanding flows); each use states the problem it is applied to.
    """
    return k * (atol + rtol * scale) * max(1.0, horizon)


def svd_zero_tol(shape, sigma_max: float, k: float = 4.0) -> float:
    """Largest computed singular value of an *exactly* singular matrix: k·max(m, n)·EPS·σ_max.

    Model: the SVD is backward stable, the computed σ_i are exact for D + ΔD with
    |ΔD| ≤ c·max(m, n)·EPS·|D|, and singular values are 1-Lipschitz (Weyl), so an
    exact zero is computed as at most |ΔD|.  k = 4 as in :func:`orthonormality_tol`.
    This is numpy's ``matrix_rank`` threshold with a factor k of room.  A matrix
    that is not singular (say duplicated inputs that are not exactly equal) has
    σ_min ~ 1e-3·σ_max or more for the suite's random problems.
    """
    return k * max(shape) * EPS * sigma_max


def output_exact_cost_tol(residual_norm, N: int, rtol: float, atol: float, k: float = 2.0):
    """Bound on |C(x(s)) − C_law(s)| along an output-exact orbit, shape of ``residual_norm``.

    Model: the output-exact integrator's corrector promises, at every accepted
    step, |f(θ) − x_law(s)| ≤ tol = atol + rtol·|x_law(s) − y_ω|
    (subriemann/flows/output_exact.py), with x_law the exact output-layer flow
    (1.13).  With r = x_law − y_ω and the computed x = x_law + δ, |δ| ≤ tol,

        |C(x) − C(x_law)| = |r·δ/N + |δ|²/(2N)| ≤ tol·(|r| + tol/2)/N,

    and forming C rounds by :func:`cost_uncertainty` on top (≤ (QN + 2)·EPS·C,
    here folded into k).  k = 2 covers the corrector's landing slack near the
    stopping time and that rounding.  Two routes that both keep the promise
    differ by at most twice this.  A wrong route (another direction than −D⁺∇ₓC)
    leaves the law by O(Δs/N) relative per step, orders of magnitude more.
    """
    r = np.asarray(residual_norm, dtype=float)
    tol = atol + rtol * r
    return k * (tol * (r + 0.5 * tol) / N + 4.0 * EPS * r**2 / (2.0 * N))


def gram_singular_value_tol(n: int, sigma_max: float, sigma_min: float, k: float = 4.0) -> float:
    """|σ̃ − σ| for a singular value of D recovered as √λ of the computed Gram matrix Θ = DDᵀ (n×n).

    Model: forming Θ and its symmetric eigensolve are backward stable, so the
    computed λ_i are exact for Θ + E with |E| ≤ c·n·EPS·|Θ| = c·n·EPS·σ_max²
    and (Weyl) |Δλ| ≤ c·n·EPS·σ_max²; then σ = √λ has |Δσ| ≤ |Δλ|/(2σ) to
    first order (valid while σ² ≫ |Δλ|, i.e. σ/σ_max ≫ √(n·EPS)).  Relative to
    σ this is EPS·n·cond², the squaring of the condition number that the
    kernel route's documentation states.  k = 4 covers the constants c of the
    Gram product and of the eigensolve.
    """
    return k * n * EPS * sigma_max**2 / (2.0 * sigma_min)


def finite_difference_slope_tol(s, values, N: int, value_error: float = 0.0, k: float = 4.0):
    """|C + (N/2)·Ĉ′ − (C + (N/2)·C′)| at each sample, Ĉ′ = ``np.gradient(values, s, edge_order=2)``.

    Model: at an interior sample with spacings h₁ = s_i − s_{i−1}, h₂ = s_{i+1} − s_i,
    numpy's non-uniform three-point slope a·C_{i−1} + b·C_i + c·C_{i+1}
    (a = −h₂/(h₁(h₁+h₂)), b = (h₂−h₁)/(h₁h₂), c = h₁/(h₂(h₁+h₂))) is exact for
    quadratics and has truncation error (h₁h₂/6)·|C‴(ξ)| (Taylor expansion to
    third order).  |C‴| near s_i is estimated by 6·|C[s_j, …, s_{j+3}]|, the
    third divided differences of the data over the windows that contain s_i
    (C[x₀..x₃] = C‴(ξ)/6); k = 4 covers that this is C‴ at a nearby point, not
    the maximum.  Errors ``value_error`` in the values themselves (an ODE
    solution's global error, :func:`ode_global_error`) reach the slope through
    the weights, (|a| + |b| + |c|)·value_error, and the value term directly.
    Both are scaled by N/2 as in C + (N/2)C′ ((5.12) with (5.7)).  The end
    samples use numpy's one-sided formulas, which this model does not cover:
    their entries are inf.
    """
    s, v = np.asarray(s, dtype=float), np.asarray(values, dtype=float)
    h = np.diff(s)
    d1 = np.diff(v) / h
    d2 = np.diff(d1) / (s[2:] - s[:-2])
    d3 = np.abs(np.diff(d2) / (s[3:] - s[:-3]))  # window j covers samples j .. j+3
    out = np.full(s.shape, np.inf)
    for i in range(1, len(s) - 1):
        h1, h2 = h[i - 1], h[i]
        windows = d3[max(0, i - 2) : min(len(d3), i + 1)]
        third = 6.0 * (float(np.max(windows)) if windows.size else 0.0)
        weights = h2 / (h1 * (h1 + h2)) + abs(h2 - h1) / (h1 * h2) + h1 / (h2 * (h1 + h2))
        truncation = k * h1 * h2 / 6.0 * third
        out[i] = 0.5 * N * (truncation + weights * value_error) + value_error
    return out


def assert_routes_agree(a, b, cond: float = 1.0, k: float = 64.0) -> None:
    """|a − b|_max ≤ routes_agree_tol(|b|_max, cond, k), and that tolerance is ≤ 1e-10·|b|_max.

    For an adapter (JAX, torch) against the package's autograd network: two programs computing
    the same exact quantity, differing by round-off only (model of :func:`routes_agree_tol`).
    The second clause keeps the error model honest: a cond or k so large that 1e-10 relative
    would pass is itself a failure (the adapters are promised to agree to 1e-10).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = float(np.max(np.abs(b)))
    tol = routes_agree_tol(scale, cond, k)
    assert tol <= 1e-10 * scale, (
        f"the error model allows more than 1e-10 relative ({tol / scale:.1e})"
    )
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)
