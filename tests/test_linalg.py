"""Rank policy, min-norm solves and projectors of ``linalg`` against the paper's identities.

(1.23)–(1.25): Pen[D] = D⁺ with D Pen = 1 (full row rank) and P = Pen D = P² = Pᵀ;
(4.1)–(4.3): DDᵀ = RᵀΛR with R ∈ SO(m), 𝒫 = Rᵀ𝒫_ΛR, and the generalised inverse.
Matrices are drawn with a prescribed rank and singular values in [0.1, 10]
(condition number ≤ 100), so every identity holds to ~cond·eps ≈ 1e-14; the
tolerances below (1e-11) leave room for the dimension factors.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import lapack
from tolerances import orthonormality_tol

from subriemann.errors import NumericalError, ShapeError, SubriemannError
from subriemann.linalg import DEFAULT_RANK_POLICY, JacobianSVD, RankPolicy, numerical_rank

TOL = 1e-11


def orthonormal_columns(rng, n, r):
    q, _ = np.linalg.qr(rng.normal(size=(n, max(r, 1))))
    return q[:, :r]


@st.composite
def matrices(draw, full_row_rank=False):
    """(D, rank, rng): m×n of exact rank r with singular values in [0.1, 10]."""
    m, n = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if full_row_rank:
        n = max(n, m)
        r = m
    else:
        r = draw(st.integers(0, min(m, n)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s = rng.uniform(0.1, 10.0, size=r)
    D = (orthonormal_columns(rng, m, r) * s) @ orthonormal_columns(rng, n, r).T
    return D, r, rng


def assert_small(a, tol=TOL):
    assert np.max(np.abs(a), initial=0.0) <= tol


# -- rank policy -------------------------------------------------------------------


@given(matrices())
def test_default_policy_is_numpys_matrix_rank(case):
    D, r, _ = case
    svd = JacobianSVD(D)
    assert svd.rank == np.linalg.matrix_rank(D) == r
    assert numerical_rank(np.linalg.svd(D, compute_uv=False), D.shape).rank == r
    assert JacobianSVD(D, DEFAULT_RANK_POLICY).rank == r


@given(st.integers(0, 2**32 - 1), st.integers(2, 8))
def test_overrides_move_the_decision(seed, n):
    # singular values 10, 1e-4, 1e-9 (and exact zeros): the default keeps the
    # three non-zero ones; a relative or absolute threshold in a gap drops more
    rng = np.random.default_rng(seed)
    m = 3
    s = np.array([10.0, 1e-4, 1e-9])
    D = (orthonormal_columns(rng, m, 3) * s) @ orthonormal_columns(rng, n + 3, 3).T
    assert JacobianSVD(D).rank == 3
    assert JacobianSVD(D, RankPolicy(rtol=1e-7)).rank == 2
    assert JacobianSVD(D, 1e-7).rank == 2  # a float is a relative tolerance
    assert JacobianSVD(D, RankPolicy(atol=1e-2)).rank == 1
    assert JacobianSVD(D, RankPolicy(rtol=1e-12, atol=1e-6)).rank == 2  # the larger one wins
    assert JacobianSVD(D, RankPolicy(rtol=1.0)).rank == 0


@given(matrices())
def test_rank_report_fields(case):
    D, r, _ = case
    s_all = np.linalg.svd(D, compute_uv=False)
    rep = JacobianSVD(D).report
    m, n = D.shape
    assert rep.rank == r and rep.shape == (m, n)
    assert rep.sigma_max == pytest.approx(s_all.max(), rel=1e-12)
    assert rep.sigma_min == pytest.approx(s_all.min(), rel=1e-12, abs=1e-13)
    assert rep.tolerance == pytest.approx(max(m, n) * np.finfo(float).eps * s_all.max(), rel=1e-12)
    assert rep.full_row_rank == (r == m) and rep.full_column_rank == (r == n)
    if r:
        assert rep.sigma_min_kept == pytest.approx(s_all[r - 1], rel=1e-12)
        assert rep.condition_number == pytest.approx(s_all[0] / s_all[r - 1], rel=1e-12)
    else:
        assert rep.sigma_min_kept == 0.0 and rep.condition_number == float("inf")
    d = rep.as_dict()
    assert {k: d[k] for k in ("rank", "sigma_min", "sigma_max", "tolerance")} == {
        "rank": rep.rank,
        "sigma_min": rep.sigma_min,
        "sigma_max": rep.sigma_max,
        "tolerance": rep.tolerance,
    }
    assert d["shape"] == [m, n] and d["sigma_min_kept"] == rep.sigma_min_kept
    assert "matrix_rank" in d["policy"]


# -- solves -------------------------------------------------------------------------


@given(matrices())
def test_solve_is_the_minimum_norm_least_squares_solution(case):
    D, _, rng = case
    m = D.shape[0]
    svd = JacobianSVD(D)
    for rhs in (rng.normal(size=m), rng.normal(size=(m, 3))):
        ref = np.linalg.lstsq(D, rhs, rcond=None)[0]
        assert svd.solve(rhs).shape == ref.shape
        assert_small(svd.solve(rhs) - ref, TOL * max(1.0, np.max(np.abs(ref))))


@given(matrices())
def test_transposed_gram_and_normal_solves(case):
    D, _, rng = case
    m, n = D.shape
    svd = JacobianSVD(D)
    pinv = np.linalg.pinv(D)
    r_m, r_n = rng.normal(size=m), rng.normal(size=n)
    assert_small(svd.solve_transpose(r_n) - pinv.T @ r_n)  # (Dᵀ)⁺ = Pen[D]ᵀ, (2.29)
    # (DDᵀ)⁺ and (DᵀD)⁺: forming the Gram matrices is fine for a reference at cond ≤ 100
    assert_small(svd.gram_solve(r_m) - np.linalg.pinv(D @ D.T) @ r_m, 1e-9)
    assert_small(svd.normal_solve(r_n) - np.linalg.pinv(D.T @ D) @ r_n, 1e-9)


# -- Pen[D] and the projectors ----------------------------------------------------


@given(matrices())
def test_pseudo_inverse_satisfies_the_penrose_conditions(case):
    D, _, _ = case
    Pen = JacobianSVD(D).pseudo_inverse()
    assert Pen.shape == D.T.shape
    assert_small(D @ Pen @ D - D)
    assert_small(Pen @ D @ Pen - Pen)
    assert_small((D @ Pen).T - D @ Pen)
    assert_small((Pen @ D).T - Pen @ D)


@given(matrices(full_row_rank=True))
def test_pen_is_a_right_inverse_for_full_row_rank_1_24(case):
    D, _, _ = case
    svd = JacobianSVD(D)
    assert svd.report.full_row_rank
    assert_small(D @ svd.pseudo_inverse() - np.eye(D.shape[0]))
    # and it is Dᵀ(DDᵀ)⁻¹ of (1.23) (formed here only as a reference)
    assert_small(svd.pseudo_inverse() - D.T @ np.linalg.inv(D @ D.T), 1e-9)


@given(matrices())
def test_row_projector_P_is_pen_D_and_an_orthoprojector_1_25(case):
    D, _, rng = case
    svd = JacobianSVD(D)
    P = svd.row_projector()
    assert_small(P @ P - P)
    assert_small(P.T - P)
    assert_small(svd.pseudo_inverse() @ D - P)
    assert_small(P @ D.T - D.T)  # range Dᵀ is fixed
    v = rng.normal(size=D.shape[1])
    assert_small(svd.project_row(v) - P @ v)
    assert_small(svd.project_kernel(v) - (v - P @ v))


@given(matrices())
def test_kernel_projector_annihilates_range_Dt_and_projects_onto_ker_D(case):
    D, _, rng = case
    svd = JacobianSVD(D)
    K = svd.kernel_projector()
    assert_small(K @ D.T @ rng.normal(size=D.shape[0]))
    assert_small(D @ K)
    assert_small(K @ K - K)
    assert_small(K + svd.row_projector() - np.eye(D.shape[1]))


@given(matrices())
def test_range_projector_is_an_orthoprojector_fixing_D(case):
    D, _, rng = case
    svd = JacobianSVD(D)
    Pr = svd.range_projector()
    assert_small(Pr @ Pr - Pr)
    assert_small(Pr.T - Pr)
    assert_small(Pr @ D - D)
    assert_small(D @ svd.pseudo_inverse() - Pr)  # 𝒫 = DD⁺
    w = rng.normal(size=D.shape[0])
    assert_small(svd.project_range(w) - Pr @ w)
    assert_small(svd.range_complement_projector() - (np.eye(D.shape[0]) - Pr))
    assert np.trace(Pr) == pytest.approx(svd.rank, abs=1e-10)


# -- spectral split (4.1)–(4.3) -----------------------------------------------------


@given(matrices())
def test_spectral_split_4_1_to_4_3(case):
    D, r, _ = case
    m = D.shape[0]
    svd = JacobianSVD(D)
    R, lam, lam_inv = svd.spectral_split()
    assert R.shape == (m, m) and lam.shape == lam_inv.shape == (m,)
    assert_small(R @ R.T - np.eye(m))  # R ∈ SO(m)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-10)
    assert_small(R.T @ np.diag(lam) @ R - D @ D.T, 1e-9)  # (4.1)
    P_lam = lam * lam_inv  # 𝒫_Λ = ΛΛ⁻¹: ones on the rank, zeros elsewhere
    np.testing.assert_allclose(P_lam, np.r_[np.ones(r), np.zeros(m - r)], atol=1e-12)
    assert_small(R.T @ np.diag(P_lam) @ R - svd.range_projector())  # (4.2)
    # (4.3): Rᵀ Λ⁻¹ R inverts 𝒫DDᵀ𝒫 on range 𝒫, i.e. it is (DDᵀ)⁺
    assert_small(R.T @ np.diag(lam_inv) @ R - np.linalg.pinv(D @ D.T), 1e-9)


# -- rank loss and non-finite Jacobians ------------------------------------------------


@given(matrices())
def test_rank_deficient_D_gives_finite_results_everywhere(case):
    D, r, rng = case
    m, n = D.shape
    D = np.vstack([D, np.zeros((1, n)), D[:1]])  # a zero row and a repeated row: rank r still
    svd = JacobianSVD(D)
    assert svd.rank == r
    rhs, v = rng.normal(size=m + 2), rng.normal(size=n)
    outputs = [
        svd.solve(rhs),
        svd.solve_transpose(v),
        svd.gram_solve(rhs),
        svd.normal_solve(v),
        svd.pseudo_inverse(),
        svd.row_projector(),
        svd.kernel_projector(),
        svd.range_projector(),
        svd.range_complement_projector(),
        *svd.spectral_split(),
    ]
    assert all(np.all(np.isfinite(out)) for out in outputs)


def test_zero_matrix_has_rank_zero_and_zero_pseudo_inverse():
    svd = JacobianSVD(np.zeros((3, 5)))
    assert svd.rank == 0
    np.testing.assert_array_equal(svd.pseudo_inverse(), np.zeros((5, 3)))
    np.testing.assert_array_equal(svd.solve(np.ones(3)), np.zeros(5))
    np.testing.assert_array_equal(svd.kernel_projector(), np.eye(5))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_D_raises_numerical_error(bad):
    D = np.ones((2, 3))
    D[1, 2] = bad
    with pytest.raises(NumericalError, match="contains NaN or inf") as info:
        JacobianSVD(D)
    assert isinstance(info.value, SubriemannError) and isinstance(info.value, ArithmeticError)


@pytest.mark.parametrize("shape", [(3,), (0, 3), (2, 0), (2, 2, 2)])
def test_D_must_be_a_non_empty_matrix(shape):
    with pytest.raises(ShapeError, match="non-empty 2-D matrix"):
        JacobianSVD(np.ones(shape))


# -- the QR-then-SVD route against the plain SVD ------------------------------------------
# A wide D (n ≥ 1.5 m) is factored as Dᵀ = QR, then R = U_R Σ V_Rᵀ (U = V_R, V = Q U_R with
# Q kept as Householder reflectors); a tall D symmetrically.  Every method must agree with
# its definition on a plain numpy SVD of D.  Both factorizations are backward stable, and
# with σ in [0.1, 10] (cond ≤ 100) and m, n ≤ 150 each result is accurate to
# ~eps·cond·√n ≈ 3e-13 normwise, so 1e-12 of the reference's size is a strict bound that
# an order or transpose error (an O(1) discrepancy) cannot pass.

REL = 1e-12


@st.composite
def shaped_matrices(draw):
    """(D, r, rng): wide, tall or nearly square, up to 30×150, of exact rank r, σ in [0.1, 10]."""
    k = draw(st.integers(1, 30))
    aspect = draw(st.sampled_from(["wide", "tall", "near-square"]))
    ratio = draw(st.floats(1.0, 1.45) if aspect == "near-square" else st.floats(1.5, 5.0))
    m, n = k, int(np.ceil(k * ratio))
    if aspect == "tall" or (aspect == "near-square" and draw(st.booleans())):
        m, n = n, m
    r = draw(st.sampled_from([min(m, n), draw(st.integers(0, min(m, n)))]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s = rng.uniform(0.1, 10.0, size=r)
    D = (orthonormal_columns(rng, m, r) * s) @ orthonormal_columns(rng, n, r).T
    return D, r, rng


def assert_rel(a, ref, scale=None):
    """max |a − ref| ≤ REL · scale, by default max |ref| (exactly zero when the reference is).

    Complements (1 − P, v − Pv) pass the size of what they are subtracted from: with
    P = 1 the exact result is 0 and the reference only round-off.
    """
    assert a.shape == ref.shape
    scale = np.max(np.abs(ref), initial=0.0) if scale is None else scale
    assert np.max(np.abs(a - ref), initial=0.0) <= REL * scale


def plain_svd_definitions(D, r):
    """Each public method of JacobianSVD, written on numpy's SVD of D truncated at rank r."""
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    U, s, V = U[:, :r], s[:r], Vt[:r].T
    m, n = D.shape
    return {
        "solve": lambda b: V @ ((U.T @ b) / _sv(s, b)),
        "solve_transpose": lambda b: U @ ((V.T @ b) / _sv(s, b)),
        "gram_solve": lambda b: U @ ((U.T @ b) / _sv(s**2, b)),
        "normal_solve": lambda b: V @ ((V.T @ b) / _sv(s**2, b)),
        "project_row": lambda b: V @ (V.T @ b),
        "project_kernel": lambda b: b - V @ (V.T @ b),
        "project_range": lambda b: U @ (U.T @ b),
        "pseudo_inverse": (V / s) @ U.T,
        "row_projector": V @ V.T,
        "kernel_projector": np.eye(n) - V @ V.T,
        "range_projector": U @ U.T,
        "range_complement_projector": np.eye(m) - U @ U.T,
        "reconstruction": (U * s) @ V.T,
        "gram": (U * s**2) @ U.T,
    }


def _sv(s, b):
    return s if b.ndim == 1 else s[:, None]


# which side each method acts on: right-hand sides live in R^m or in R^n
_RHS_SIDE = {
    "solve": 0,
    "solve_transpose": 1,
    "gram_solve": 0,
    "normal_solve": 1,
    "project_row": 1,
    "project_kernel": 1,
    "project_range": 0,
}


def check_against_plain_svd(svd, ref, D, r, rng):
    # every method on vectors and single columns first (an implicit factor is then
    # applied through the reflectors, Q or Qᵀ), then on many columns (the factor is
    # formed once and reused)
    for shape in (lambda dim: dim, lambda dim: (dim, 1), lambda dim: (dim, 3 * dim)):
        for name, side in _RHS_SIDE.items():
            b = rng.normal(size=shape(D.shape[side]))
            scale = np.abs(b).max() if name == "project_kernel" else None
            assert_rel(getattr(svd, name)(b), ref[name](b), scale)
    assert_rel(svd.row_projector(), ref["row_projector"])
    assert_rel(svd.range_projector(), ref["range_projector"])
    assert_rel(svd.kernel_projector(), ref["kernel_projector"], 1.0)
    assert_rel(svd.range_complement_projector(), ref["range_complement_projector"], 1.0)
    assert_rel(svd.pseudo_inverse(), ref["pseudo_inverse"])
    assert svd.U.shape == (D.shape[0], r) and svd.Vt.shape == (r, D.shape[1])
    assert_rel((svd.U * svd.s) @ svd.Vt, ref["reconstruction"])
    # orthonormal factors of an SVD: |QᵀQ − 1| ≤ k·n·eps (orthonormality_tol)
    assert_small(svd.U.T @ svd.U - np.eye(r), orthonormality_tol(D.shape[0]))
    assert_small(svd.Vt @ svd.Vt.T - np.eye(r), orthonormality_tol(D.shape[1]))
    R, lam, lam_inv = svd.spectral_split()
    assert_small(R @ R.T - np.eye(D.shape[0]), orthonormality_tol(D.shape[0]))
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)
    assert_rel(R.T @ (lam[:, None] * R), ref["gram"])


@given(shaped_matrices())
def test_every_method_matches_the_plain_svd_definition(case):
    D, r, rng = case
    m, n = D.shape
    ref = plain_svd_definitions(D, r)
    s_ref = np.linalg.svd(D, compute_uv=False)
    # the shapes drawn exercise the QR route (aspect ≥ 1.5: a Householder QR of the
    # long matrix first, LAPACK geqrf or geqrt) and the direct SVD (no QR)
    with pytest.MonkeyPatch.context() as mp:
        qr_calls = []
        for name in ("dgeqrf", "dgeqrt"):
            real = getattr(lapack, name)

            def spy(*args, _real=real, **kwargs):
                qr_calls.append(_real)
                return _real(*args, **kwargs)

            mp.setattr(lapack, name, spy)
        svd = JacobianSVD(D)
    assert bool(qr_calls) == (max(m, n) >= 1.5 * min(m, n))
    assert svd.rank == r
    assert svd.singular_values.shape == (min(m, n),)
    assert np.max(np.abs(svd.singular_values - s_ref)) <= REL * s_ref[0]
    np.testing.assert_array_equal(svd.s, svd.singular_values[:r])
    check_against_plain_svd(svd, ref, D, r, rng)
    # methods first, then the factors (U/Vt formed lazily) must not change anything
    fresh = JacobianSVD(D)
    _ = fresh.U, fresh.Vt
    check_against_plain_svd(fresh, ref, D, r, rng)
    np.testing.assert_array_equal(
        JacobianSVD(D).independent_columns(), np.sort(_pivots(D, r)).astype(np.intp)
    )


def _pivots(D, r):
    from scipy.linalg import qr

    return qr(D, mode="r", pivoting=True)[1][:r]


@pytest.mark.parametrize("shape", [(8, 40), (40, 8), (30, 36)])
@pytest.mark.parametrize("cond", [1e2, 1e4, 1e6, 1e8])
def test_qr_route_is_as_accurate_as_the_svd_under_ill_conditioning(shape, cond):
    # backward stable either way: the push-forward residual |D·D⁺b − 𝒫b| of the solve
    # is eps·cond(D) up to a modest dimension factor for both routes; 1e-14·cond bounds
    # it with room (eps·cond·√n ≈ 1.4e-15·cond) and is ≤ 1e-8 up to cond 1e6 (issue 3).
    rng = np.random.default_rng(int(np.log10(cond)) + shape[0])
    m, n = shape
    k = min(m, n)
    U = np.linalg.qr(rng.normal(size=(m, k)))[0]
    V = np.linalg.qr(rng.normal(size=(n, k)))[0]
    D = (U * np.logspace(0.0, -np.log10(cond), k)) @ V.T
    svd = JacobianSVD(D)
    assert svd.rank == k
    assert svd.report.condition_number == pytest.approx(cond, rel=1e-6 * cond)
    b = rng.normal(size=m)
    target = U @ (U.T @ b)  # 𝒫b, exactly the attainable part of b
    for x in (svd.solve(b), svd.normal_solve(D.T @ b)):
        assert np.linalg.norm(D @ x - target) <= 1e-14 * cond * np.linalg.norm(b)


@given(st.integers(0, 2**32 - 1), st.sampled_from([(3, 12), (12, 3), (4, 5)]))
def test_pseudo_inverse_primitive_derivatives_are_golub_pereyra(seed, shape):
    # the autograd primitive: value = D⁺ (from JacobianSVD, any route), jvp and vjp the
    # closed form, checked against a central difference of numpy's pinv (step 1e-6:
    # truncation ~h²·|d³D⁺| ≈ 1e-12, round-off ~eps/h ≈ 1e-10, so 1e-7 relative is safe)
    import autograd.numpy as anp
    from autograd import grad, make_jvp

    from subriemann.linalg import pseudo_inverse

    rng = np.random.default_rng(seed)
    m, n = shape
    s = rng.uniform(0.5, 2.0, size=min(m, n))
    D = (orthonormal_columns(rng, m, len(s)) * s) @ orthonormal_columns(rng, n, len(s)).T
    dD, W = rng.normal(size=shape), rng.normal(size=(n, m))
    assert_small(pseudo_inverse(D) - np.linalg.pinv(D), 1e-12)
    h = 1e-6
    fd = (np.linalg.pinv(D + h * dD) - np.linalg.pinv(D - h * dD)) / (2 * h)
    jvp = make_jvp(pseudo_inverse)(D)(dD)[1]
    assert np.abs(jvp - fd).max() <= 1e-7 * np.abs(fd).max()
    g = grad(lambda A: anp.sum(W * pseudo_inverse(A)))(D)  # adjoint: ⟨g, dD⟩ = ⟨W, jvp⟩
    assert np.sum(g * dD) == pytest.approx(np.sum(W * jvp), rel=1e-10)


@given(shaped_matrices())
def test_pseudo_inverse_derivative_on_the_factors_matches_golub_pereyra(case):
    # the method (three products on U, Σ, V) against the module function (products with
    # D and D⁺): the same formula in another association, so round-off apart they agree;
    # both are O(|dD|/σ_min²) ≤ 100·|dD| here, and 1e-12 of that is a strict bound
    from subriemann.linalg import pseudo_inverse_derivative

    D, r, rng = case
    m, n = D.shape
    svd = JacobianSVD(D)
    dD = rng.normal(size=(3, m, n))
    ref = np.stack([pseudo_inverse_derivative(D, np.linalg.pinv(D), d) for d in dD])
    scale = max(np.abs(ref).max(initial=0.0), 1.0)
    one = svd.pseudo_inverse_derivative(dD[0])
    assert one.shape == (n, m)
    assert_small(one - ref[0], REL * scale)
    stack = svd.pseudo_inverse_derivative(dD)
    assert stack.shape == (3, n, m) and stack.transpose(0, 2, 1).flags.c_contiguous
    assert_small(stack - ref, REL * scale)
    S = np.empty((3, m, n))  # written in place through transposed views, as bundles does
    for i in range(3):
        view = S[i].T
        assert svd.pseudo_inverse_derivative(dD[i], out=view) is view
    assert_small(S.transpose(0, 2, 1) - ref, REL * scale)
    F = np.empty((n, m))  # any other layout of ``out`` works too
    svd.pseudo_inverse_derivative(dD[1], out=F)
    assert_small(F - ref[1], REL * scale)
    if r == min(m, n):  # at full rank, the derivative of numpy's pinv by central differences
        h = 1e-6
        fd = (np.linalg.pinv(D + h * dD[2]) - np.linalg.pinv(D - h * dD[2])) / (2 * h)
        assert_small(stack[2] - fd, 1e-6 * scale)
    with pytest.raises(ShapeError, match="dD must have shape"):
        svd.pseudo_inverse_derivative(np.ones((m + 1, n)))


@pytest.mark.parametrize("shape", [(70, 180), (180, 70), (64, 96), (130, 40)])
@pytest.mark.parametrize("deficient", [False, True])
def test_wide_and_tall_blocked_qr_route_matches_the_plain_svd(shape, deficient):
    # from 64 columns in the QR the reflectors come from LAPACK's blocked geqrt (below,
    # geqrf): the same checks as above on sizes that reach it, full rank and rank 20
    rng = np.random.default_rng(sum(shape) + deficient)
    m, n = shape
    r = 20 if deficient else min(m, n)
    s = rng.uniform(0.1, 10.0, size=r)
    D = (orthonormal_columns(rng, m, r) * s) @ orthonormal_columns(rng, n, r).T
    svd = JacobianSVD(D)
    assert svd.rank == r
    check_against_plain_svd(svd, plain_svd_definitions(D, r), D, r, rng)
