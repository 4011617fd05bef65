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
