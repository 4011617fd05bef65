"""Landscape diagnostics as statements of §3–§4: trapping (Prop. 3.1), equilibria
(Lemma 3.2, Thm 4.2), the critical manifold (4.13)–(4.14) and escape (4.15)–(4.17).

Constructed cases with known answers, built by ``subriemann.diagnostics.cases``:

* ``trapping_case``: a tanh network with saturated hidden units, where ε(θ)
  (3.4) is ~1e-3: the standard flow is trapped for a long time, the adapted
  flow is not;
* ``linear_bottleneck_case``: critical points of a linear bottleneck network
  [M, 1, Q] (Baldi & Hornik 1989): x = W X + b with W = u uᵀA for an eigenvector u of the fitted
  covariance; all are non-global equilibria with constant rank
  r = m(M+Q−m) + Q < QN, the one on the top eigenvector is the constrained
  minimum, the others are saddles; the critical manifold is the orbit of the
  GL(1) × shift symmetry, of dimension m² + m = K − r;
* ``duplicated_inputs_case``: duplicated inputs with conflicting targets
  (rank D ≤ Q(N−1) everywhere);
* ``zero_network_case``, ``dead_units_case``: a network with all hidden weights
  and the output layer zero, and a trained network extended by dead hidden
  units: rank loss that is *not* locally constant, outside the hypothesis of
  Thm 4.2.
"""

import functools

import autograd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import network_problem
from tolerances import routes_agree_tol

import subriemann as sr
import subriemann.diagnostics as diagnostics
from subriemann.diagnostics import cases
from subriemann.diagnostics import landscape as ls

# the DAE orbit that locates the duplicated-inputs equilibrium: computed once per seed
duplicated_inputs_equilibrium = functools.lru_cache(maxsize=8)(ls.duplicated_inputs_case)


architectures = st.tuples(
    st.integers(1, 3),  # M
    st.lists(st.integers(1, 4), min_size=1, max_size=2),  # hidden widths
    st.integers(1, 2),  # Q
    st.integers(1, 4),  # N
    st.integers(0, 10_000),  # seed
)


# -- trapping (Prop. 3.1) --------------------------------------------------------------
@given(architectures)
def test_trapping_ratio_is_3_4_and_bounded_by_singular_values(arch):
    M, widths, Q, N, seed = arch
    f, cost, theta = network_problem(seed, [M, *widths, Q], N)
    x, D = f.value_and_jacobian(theta)
    g = cost.grad(x)
    eps = ls.trapping_ratio(f, cost, theta)
    assert eps == pytest.approx(np.linalg.norm(D.T @ g) / np.linalg.norm(g), rel=1e-12)
    s = np.linalg.svd(D, compute_uv=False)
    # |Dᵀw| ≤ σ_max|w| always; ≥ σ_min|w| when rank D = QN (QN ≤ K)
    assert eps <= s[0] * (1 + 1e-12)
    if f.dim_out <= f.dim_in:
        assert eps >= s[-1] * (1 - 1e-9) - 1e-14


def test_trapping_ratio_undefined_at_global_minimizer():
    f, _, _ = network_problem(0, [2, 3, 1], 3)
    theta = f.mlp.init(1)
    with pytest.raises(sr.InputError, match="global minimizer"):
        ls.trapping_ratio(f, sr.L2Cost(f(theta), 3), theta)


def test_trapping_windows_detects_runs_and_open_end():
    s = np.arange(10.0)
    ratio = np.array([1, 0.1, 0.1, 1, 1, 0.05, 1, 1, 0.2, 0.2])
    windows = ls.trapping_windows(s, ratio, 0.5)
    assert [(w.start, w.stop) for w in windows] == [(1, 2), (5, 5), (8, 9)]
    assert [w.open_end for w in windows] == [False, False, True]
    assert windows[0].duration == 1.0 and windows[0].eps_max == 0.1
    assert windows[0].lower_bound is None and windows[0].bound_holds is None
    assert ls.trapping_windows(s, np.ones(10), 0.5) == []
    with pytest.raises(sr.InputError):
        ls.trapping_windows(s[::-1], ratio, 0.5)
    with pytest.raises(sr.InputError):
        ls.trapping_windows(s, ratio, 0.0)


def test_standard_flow_trapped_where_adapted_flow_is_not():
    """Prop. 3.1 on saturated tanh units: a long window with ε < 1e-2 obeying (3.6)."""
    net, f, cost, theta0 = ls.trapping_case()
    standard = sr.integrate(sr.StandardFlow(f, cost), theta0, 2500.0, method="LSODA")
    adapted = sr.integrate(sr.AdaptedFlow(f, cost), theta0, 20.0)
    threshold = 1e-2
    std_windows = ls.trapping_profile(standard, f, cost).windows(threshold)
    longest = max(std_windows, key=lambda w: w.duration)
    # trapped for more than 100 N time units, the bound (3.6) holds and is not vacuous
    assert longest.duration > 100 * cost.N
    assert longest.bound_holds and longest.lower_bound > 10 * cost.N
    assert longest.duration >= longest.sharp_lower_bound
    C_std = np.interp(20.0, standard.s, standard.cost)
    # the adapted flow follows C(0) e^{-2s/N} (2.6): 1e-6 relative is the corrector tolerance
    C_law = adapted.cost[0] * np.exp(-2 * 20.0 / cost.N)
    assert adapted.cost[-1] == pytest.approx(C_law, rel=1e-6)
    assert C_std > 1e5 * adapted.cost[-1]
    # ... and its output velocity is −∇ₓC whatever ε is: never a crawling window there
    prof = ls.trapping_profile(adapted, f, cost)
    assert ls.trapping_windows(prof.s, prof.ratio, threshold) == []
    # the trapped point is not an equilibrium: rank D = QN there (Lemma 3.2)
    i = (longest.start + longest.stop) // 2
    rep = ls.classify_point(f, cost, standard.theta[i], tol=0.05)
    assert rep.kind == ls.NOT_AN_EQUILIBRIUM and rep.trapping_like and not rep.rank_deficient


@settings(max_examples=6)
@given(st.integers(0, 10_000))
def test_bound_3_6_holds_on_random_standard_orbits(seed):
    f, cost, theta0 = network_problem(seed, [2, 4, 1], 3)
    traj = sr.integrate(sr.StandardFlow(f, cost), theta0, 30.0, method="LSODA")
    prof = ls.trapping_profile(traj, f, cost)
    threshold = float(np.median(prof.ratio))
    for w in prof.windows(threshold):
        if w.lower_bound is not None:
            # polygon length ≤ arc length and ε(θ(s)) < threshold in U: (3.6) is a strict bound
            assert w.duration >= w.lower_bound * (1 - 1e-9)
            # (3.6) recomputed here from the recorded orbit, independent of the package:
            # L_U = polygon length of θ over the window, |x(s₀) − y| at entry, ε = threshold
            thetas = traj.theta[w.start : w.stop + 1]
            L_U = np.sum(np.linalg.norm(np.diff(thetas, axis=0), axis=1))
            r0 = np.linalg.norm(f(thetas[0]) - cost.target)
            bound = cost.N * L_U / (r0 * threshold)
            assert w.lower_bound == pytest.approx(bound, rel=1e-12)
            assert w.s_end - w.s_start >= bound * (1 - 1e-9)
            for th in thetas:  # every sample in U has ε(θ) = |Dᵀ∇ₓC|/|∇ₓC| < threshold (3.4)
                gx = cost.grad(f(th))
                assert np.linalg.norm(f.jacobian(th).T @ gx) / np.linalg.norm(gx) < threshold


# -- equilibria (Lemma 3.2, Thm 4.2) ----------------------------------------------------
@given(architectures)
def test_classify_global_minimizer_and_generic_point(arch):
    M, widths, Q, N, seed = arch
    f, cost, theta = network_problem(seed, [M, *widths, Q], N)
    fitted = sr.L2Cost(f(theta), N)  # targets reproduced exactly: ∇ₓC = 0
    assert ls.classify_point(f, fitted, theta).kind == ls.GLOBAL_MINIMIZER
    rep = ls.classify_point(f, cost, theta)
    assert rep.kind == ls.NOT_AN_EQUILIBRIUM and not rep.trapping_like


bottleneck_shapes = st.sampled_from([(2, 2, 3), (2, 2, 4), (3, 2, 5), (3, 3, 5), (4, 1, 6)])


@given(st.integers(0, 10_000), bottleneck_shapes)
def test_linear_bottleneck_critical_points_satisfy_3_10(seed, shape):
    M, Q, N = shape
    net, f, cost, points = ls.linear_bottleneck_case(seed, M, Q, N)
    for theta in points:
        rep = ls.classify_point(f, cost, theta, tol=1e-10)
        assert rep.kind == ls.NON_GLOBAL_EQUILIBRIUM, rep.message
        # (3.10): rank D = m(M+Q−m) + Q < QN and ∇ₓC ∈ ker Dᵀ
        assert rep.rank_deficient and rep.in_kernel
        assert rep.rank.rank == (M + Q - 1) + Q
        assert rep.kernel_residual < 1e-10
        # independent of classify_point: numpy's rank of D and |Dᵀ∇ₓC|.  θ* comes from a
        # least-squares fit on the inputs [x_j, 1] (cond κ_X), so ∇_θC vanishes to
        # ~eps·κ_X·|D||∇ₓC| times the K-term sums (routes_agree_tol, k = 16·K)
        D, gx = f.jacobian(theta), cost.grad(f(theta))
        assert np.linalg.matrix_rank(D) == (M + Q - 1) + Q < f.dim_out
        kappa_x = np.linalg.cond(np.hstack([f.inputs, np.ones((N, 1))]))
        scale = np.linalg.norm(D, 2) * np.linalg.norm(gx)
        assert np.linalg.norm(D.T @ gx) <= routes_agree_tol(scale, cond=kappa_x, k=16.0 * net.K)
        assert np.linalg.norm(gx) > 0  # not a global minimizer


def test_linear_bottleneck_case_rejects_degenerate_shapes():
    # Q > M: an eigenvector of eigenvalue 0 gives W = 0; N ≤ M: (W, b) ↦ x is not injective
    for shape in [(2, 3, 4), (2, 2, 2)]:
        with pytest.raises(sr.InputError, match="Q <= M and N >= M"):
            ls.linear_bottleneck_case(0, *shape)
    with pytest.raises(sr.ShapeError, match="teacher"):
        ls.linear_bottleneck_case(0, teacher=np.ones((1, 2)))


@settings(max_examples=4)
@given(st.integers(0, 3))
def test_duplicated_inputs_equilibrium_is_non_global(seed):
    net, f, cost, theta = duplicated_inputs_equilibrium(seed)
    tol = 1e-7  # the case's θ* is the end of a DAE run: an equilibrium to ≈ 1e-7 (its docstring)
    rep = ls.classify_point(f, cost, theta, tol=tol)
    assert rep.kind == ls.NON_GLOBAL_EQUILIBRIUM, rep.message
    # rows 0 and 1 of D coincide: rank Q(N − 1) = 3
    assert rep.rank.rank == 3 and rep.cost > 0.24  # C* ≥ (1² + 1²)/(2·4)
    # (4.12) against the closed-form 𝒫 = projector onto {x₀ = x₁}, independent of classify_point
    gx = cost.grad(f(theta))
    n = np.array([1.0, -1.0, 0.0, 0.0]) / np.sqrt(2.0)
    assert np.linalg.norm(gx - n * (n @ gx)) <= tol * np.linalg.norm(gx)
    assert np.linalg.matrix_rank(f.jacobian(theta)) == 3


def test_classify_rejects_bad_input():
    f, cost, theta = network_problem(0, [2, 3, 1], 3)
    with pytest.raises(sr.ShapeError):
        ls.classify_point(f, cost, np.zeros(f.dim_in + 1))
    with pytest.raises(sr.InputError):
        ls.classify_point(f, cost, theta, tol=2.0)
    with pytest.raises(sr.ShapeError):
        ls.classify_point(f, sr.L2Cost(np.zeros(4), 4), theta)


# -- the functions g_α and the critical manifold (4.13)-(4.14) ---------------------------
@settings(max_examples=10)
@given(architectures)
def test_g_functions_are_4_13_with_exact_jacobian(arch):
    M, widths, Q, N, seed = arch
    f, cost, theta = network_problem(seed, [M, *widths, Q], N)
    g = ls.g_functions(f, cost, theta)
    D = f.jacobian(theta)
    r = np.linalg.matrix_rank(D)
    # the V_α are r independent columns of D: they span range D = range 𝒫
    assert g.r == r and np.linalg.matrix_rank(D[:, g.columns]) == r
    grad_x = cost.grad(f(theta))
    assert np.allclose(g(theta), D[:, g.columns].T @ grad_x, rtol=1e-12, atol=1e-14)
    # ∂g/∂θ against autograd through the traceable closed-form vjp
    auto = autograd.jacobian(lambda t: f.vjp(t, cost.grad(f(t)))[g.columns])(theta)
    assert np.allclose(g.jacobian(theta), auto, rtol=1e-9, atol=1e-11)
    # row α is the Hessian column H e_{j_α}
    e = np.zeros(f.dim_in)
    e[g.columns[0]] = 1.0
    assert np.allclose(g.jacobian(theta)[0], ls.hessian_vector_product(f, cost, theta, e))


@given(st.integers(0, 10_000), bottleneck_shapes)
def test_critical_manifold_of_linear_bottleneck_has_dimension_K_minus_r(seed, shape):
    net, f, cost, points = ls.linear_bottleneck_case(seed, *shape)
    for theta in points:
        rep = ls.critical_manifold_dimension(f, cost, theta)
        # known answer: the GL(1) × bias-shift orbit, m² + m = 2 = K − r
        assert rep.predicted_dimension == 2 and rep.dimension == 2 and rep.agrees
        assert rep.rank_locally_constant and rep.fiber_tangent
        assert rep.g_norm < 1e-10


@settings(max_examples=3)
@given(st.integers(0, 3))
def test_critical_manifold_with_duplicated_inputs(seed):
    net, f, cost, theta = duplicated_inputs_equilibrium(seed)
    rep = ls.critical_manifold_dimension(f, cost, theta, rank_policy=1e-9)
    # M_crit ⊇ the fiber x⁻¹(x*), of dimension K − Q(N − 1)
    assert rep.r == 3 and rep.predicted_dimension == net.K - 3
    assert rep.dimension == rep.predicted_dimension and rep.fiber_tangent
    assert rep.rank_locally_constant


def test_critical_manifold_zero_network_rank_not_locally_constant():
    net, f, cost, theta = ls.zero_network_case(3)
    rep = ls.critical_manifold_dimension(f, cost, theta)
    assert rep.equilibrium.kind == ls.NON_GLOBAL_EQUILIBRIUM
    assert rep.r == 2  # only the output bias (and its scaled copies) move x
    assert rep.dimension == net.K - 2 and rep.agrees  # the level set (4.14)
    # ... but Thm 4.2's hypothesis fails: any nearby point has a larger rank
    assert not rep.rank_locally_constant and min(rep.nearby_ranks) > rep.r


def test_critical_manifold_dead_units():
    big, f, cost, theta = ls.dead_units_case(0)
    # LM stops at stationarity ~1e-10 relative: tol = 1e-7 accepts it with margin
    rep = ls.critical_manifold_dimension(f, cost, theta, tol=1e-7)
    assert rep.equilibrium.kind == ls.NON_GLOBAL_EQUILIBRIUM, rep.equilibrium.message
    assert rep.r == 7  # the fitted [1, 2, 1] is immersed: rank K_small = 7
    assert rep.dimension == big.K - 7 and rep.agrees
    assert not rep.rank_locally_constant


# -- escape (4.15)-(4.17) ---------------------------------------------------------------
@settings(max_examples=4)
@given(st.integers(0, 10_000))
def test_escape_from_saddle_lowers_cost_and_flow_leaves(seed):
    net, f, cost, points = ls.linear_bottleneck_case(seed)
    C_min = float(cost(f(points[-1])))  # the constrained minimum (top eigenvector)
    theta_star = points[0]
    C_star = float(cost(f(theta_star)))
    esc = ls.escape_perturbation(f, cost, theta_star)
    assert esc.decreased and esc.cost_prime < esc.cost_star == pytest.approx(C_star)
    assert float(cost(f(esc.theta_prime))) == pytest.approx(esc.cost_prime, rel=1e-12)
    assert esc.normal_curvature < 0  # a saddle across M_crit
    # θ* itself does not move (an equilibrium: its velocity is round-off), θ′ does ...
    for flow in (sr.StandardFlow(f, cost), sr.AdaptedFlow(f, cost)):
        assert np.linalg.norm(flow(theta_star)) < 1e-8 * np.linalg.norm(flow(esc.theta_prime))
    # ... and (all local minima of a linear network being global, Baldi–Hornik) both flows
    # go on to C_min: they cross C_min + 10 % of the drop in finite time.  How long it takes
    # scales like 1/|normal_curvature| (up to ~400 for the flattest saddles seen).
    target = C_min + 0.1 * (C_star - C_min)
    standard = sr.integrate(sr.StandardFlow(f, cost), esc.theta_prime, 1e4, "LSODA", eps=target)
    adapted = sr.integrate(sr.AdaptedFlow(f, cost), esc.theta_prime, 1e4, "rk45", eps=target)
    for traj in (standard, adapted):
        assert traj.status == "target_cost_reached", traj.message


def test_escape_with_given_kappa_chooses_the_sign():
    net, f, cost, points = ls.linear_bottleneck_case(5)
    esc = ls.escape_perturbation(f, cost, points[0], kappa=0.05, method="curvature")
    tried = [c for c in esc.candidates if c["method"] == "normal curvature"]
    assert sorted(abs(c["kappa"]) for c in tried) == pytest.approx([0.05, 0.05], rel=1e-14)
    assert esc.cost_prime == min(c["cost"] for c in tried)
    assert np.linalg.norm(esc.theta_prime - points[0]) == pytest.approx(0.05)
    g_esc = ls.escape_perturbation(f, cost, points[0], alpha=0, kappa=0.01, method="gradient")
    assert g_esc.alpha == 0 and abs(g_esc.kappa) == 0.01
    grad_g = ls.g_functions(f, cost, points[0]).jacobian(points[0])[0]
    assert np.allclose(g_esc.theta_prime, points[0] + g_esc.kappa * grad_g)  # (4.15)-(4.16)


def test_no_escape_from_the_constrained_minimum():
    net, f, cost, points = ls.linear_bottleneck_case(2)
    esc = ls.escape_perturbation(f, cost, points[-1])
    assert not esc.decreased and esc.normal_curvature > 0
    assert "local minimum" in esc.message


def test_escape_rejects_bad_arguments():
    net, f, cost, points = ls.linear_bottleneck_case(0)
    with pytest.raises(sr.InputError):
        ls.escape_perturbation(f, cost, points[0], method="newton")
    with pytest.raises(sr.InputError):
        ls.escape_perturbation(f, cost, points[0], kappa=-1.0)
    with pytest.raises(sr.InputError):
        ls.escape_perturbation(f, cost, points[0], alpha=99)


# -- the modules of the landscape analysis -------------------------------------------------
LANDSCAPE_MODULES = ("trapping", "equilibria", "critical_manifold", "escape", "cases")


def test_landscape_names_stay_importable_from_landscape_and_the_folder():
    import importlib

    for module_name in LANDSCAPE_MODULES:
        module = importlib.import_module(f"subriemann.diagnostics.{module_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            assert getattr(diagnostics, name) is obj
            assert getattr(ls, name) is obj, f"landscape.{name}"
    names = [
        n
        for m in LANDSCAPE_MODULES
        for n in importlib.import_module(f"subriemann.diagnostics.{m}").__all__
    ]
    assert len(names) == len(set(names)), "a name is listed in two modules' __all__"
    assert ls.GLOBAL_MINIMIZER == "global minimizer"


def test_constructed_cases_unpack_as_net_map_cost_point():
    case = cases.zero_network_case(3)
    net, f, cost, theta = case
    assert (case.net, case.f, case.cost, case.theta) == (net, f, cost, theta)
    assert f.mlp is net and cost.target.shape == (f.dim_out,) and theta.shape == (f.dim_in,)
    assert isinstance(case, tuple) and isinstance(case, cases.ConstructedCase)
    with pytest.raises(sr.errors.InputError):
        cases.zero_network_case(-1)
