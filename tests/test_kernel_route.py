"""The kernel route (issue 14): Θ = D Dᵀ without D, grad_h from Θ and one vjp, at dense accuracy.

Statements tested:

* ``NetworkMap.ntk`` (structured, (1.3)–(1.17)) and ``SmoothMap.ntk`` (generic) equal
  D Dᵀ of the dense Jacobian, for random architectures (1–4 hidden layers, every smooth
  activation, Q ≥ 1), by the error model ``routes_agree_tol``;
* blocks computed on worker processes or a Dask cluster equal the serial Θ bitwise;
* D·grad_h C = ∇ₓC to 1e-10 on the kernel route up to cond(D) = 1e6 — Θ squares the
  condition number, refinement with jvp/vjp residuals recovers it (without refinement
  the residual is ~eps·cond² and misses 1e-8);
* rank loss is detected and handled as on the dense route (least squares, never NaN);
* the kernel route never allocates a QN×K array (tracemalloc peak below the memory model);
* the matrix-free route reaches 1e-10 at cond(D) ≤ 1e3 and reports its iterations;
* the flows, output-exact integration and the bundle work on every route;
* bad input raises the package's InputError.
"""

from __future__ import annotations

import tracemalloc

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tolerances import routes_agree_tol, solve_residual_tol

import subriemann as sr
from subriemann.errors import InputError, RankConditionError
from subriemann.geometry import (
    DEFAULT_MEMORY_BUDGET,
    KernelFactorization,
    choose_route,
    distributed_block_samples,
    distributed_ntk,
    route_model,
)
from subriemann.geometry.matrix_free import KRYLOV_METHODS, KrylovFactorization
from subriemann.linalg import JacobianSVD
from subriemann.maps import ACTIVATIONS


def conditioned_matrix(rng, m, n, cond):
    """U diag(s) Vᵀ with s log-spaced from 1 to 1/cond (the construction of test_ill_conditioning)."""
    k = min(m, n)
    U = np.linalg.qr(rng.normal(size=(m, k)))[0]
    V = np.linalg.qr(rng.normal(size=(n, k)))[0]
    return (U * np.logspace(0.0, -np.log10(cond), k)) @ V.T


def conditioned_map(seed, cond, kind, QN=8, K=20):
    rng = np.random.default_rng(seed)
    A = conditioned_matrix(rng, QN, K, cond)
    if kind == "linear":
        f = sr.LinearMap(A)
    else:
        f = sr.AutodiffMap(lambda t: anp.dot(A, t + 0.1 * anp.tanh(t)), K, QN)
    return f, rng.normal(size=K), rng.normal(size=QN)


def network(sizes, N, seed=0, activation="tanh", inputs=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, sizes[0])) if inputs is None else inputs
    data = sr.TrainingData.regression(X, rng.normal(size=(N, sizes[-1])))
    net = sr.MLP(sizes, activation=activation)
    return sr.NetworkMap(net, data), sr.L2Cost.from_data(data), net.init(seed)


def near_duplicate_network(delta, seed=1):
    """Two inputs δ apart: two nearly equal blocks of rows of D, cond(D) ~ 1/δ."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 3))
    X[1] = X[0] + delta * rng.normal(size=3)
    return network([3, 16, 16, 2], 6, seed=0, inputs=X)


def residual(f, theta, u, g):
    return np.linalg.norm(f.jvp(theta, u) - g) / np.linalg.norm(g)


# -- Θ = D Dᵀ ------------------------------------------------------------------------------------

architectures = st.tuples(
    st.integers(1, 4),  # M
    st.lists(st.integers(1, 7), min_size=1, max_size=4),  # hidden widths (1–4 layers)
    st.integers(1, 3),  # Q
    st.integers(1, 6),  # N
    st.sampled_from(sorted(ACTIVATIONS)),
    st.integers(0, 2**16),
)


@given(architectures, st.integers(1, 6))
def test_structured_ntk_equals_dense_gram(arch, block):
    """NetworkMap.ntk = D Dᵀ (sums of K products: routes_agree_tol with k = 16 + K) and ≤ 1e-12."""
    M, widths, Q, N, activation, seed = arch
    f, _, theta = network([M, *widths, Q], N, seed, activation)
    D = f.jacobian(theta)
    reference = D @ D.T
    scale = np.abs(reference).max()  # = max diagonal: |Θ_ij| ≤ |D_i||D_j| by Cauchy–Schwarz
    tol = routes_agree_tol(scale, k=16.0 + f.dim_in)
    # block= is SmoothMap.ntk's keyword (rows of D): the network accepts it too
    for Theta in (f.ntk(theta), f.ntk(theta, block_samples=block), f.ntk(theta, block=block)):
        assert Theta.shape == (f.dim_out, f.dim_out)
        assert np.array_equal(Theta, Theta.T)
        assert np.abs(Theta - reference).max() <= min(tol, 1e-12 * scale)


@given(architectures)
def test_generic_ntk_equals_dense_gram(arch):
    """SmoothMap.ntk (rows of D by vjp, columns of Θ by jvp) = D Dᵀ for an autodiff map."""
    M, widths, Q, N, activation, seed = arch
    f, _, theta = network([M, *widths, Q], N, seed, activation)
    g = sr.AutodiffMap(lambda t: f(t), f.dim_in, f.dim_out)
    D = f.jacobian(theta)
    reference = D @ D.T
    scale = np.abs(reference).max()
    Theta = g.ntk(theta, block=max(1, f.dim_out // 2))
    assert np.abs(Theta - reference).max() <= min(
        routes_agree_tol(scale, k=16.0 + f.dim_in), 1e-12 * scale
    )


def test_structured_ntk_takes_block_or_block_samples_not_both():
    f, _, theta = network([2, 3, 2], 4, 0, "tanh")
    with pytest.raises(InputError, match="not both"):
        f.ntk(theta, block=2, block_samples=1)


def test_ntk_blocks_are_the_blocks_of_theta_bitwise():
    f, _, theta = network([3, 6, 5, 2], 7)
    Theta = f.ntk(theta, block_samples=3)
    assert f.ntk_partition(block_samples=3) == [(0, 3), (3, 6), (6, 7)]
    assert np.array_equal(Theta[0:6, 6:12], f.ntk_block(theta, (0, 3), (3, 6)))
    assert np.array_equal(Theta[12:14, 12:14], f.ntk_block(theta, (6, 7), (6, 7)))


def test_memory_budget_sets_the_block_size():
    f, _, theta = network([3, 6, 5, 2], 40)
    whole = f.ntk_bytes(40)
    blocks = f.ntk_partition(memory_budget=f.ntk_bytes(8))
    assert max(e - s for s, e in blocks) == 8 and f.ntk_bytes(8) < whole
    ref = f.ntk(theta)
    assert np.abs(f.ntk(theta, memory_budget=f.ntk_bytes(8)) - ref).max() <= routes_agree_tol(
        np.abs(ref).max(), k=16.0 + f.dim_in
    )


# -- distributed kernel --------------------------------------------------------------------------


def test_process_pool_ntk_equals_serial_bitwise():
    f, _, theta = network([3, 8, 8, 2], 9, activation="silu")
    serial = f.ntk(theta, block_samples=4)
    assert np.array_equal(
        distributed_ntk(f, theta, backend="processes", n_jobs=2, block_samples=4), serial
    )
    # block size from a per-worker memory budget: the serial Θ with that block size
    budget = f.ntk_block_bytes(2)
    b = distributed_block_samples(f, budget)
    assert b == 2
    parallel = distributed_ntk(f, theta, backend="processes", n_jobs=2, memory_budget=budget)
    assert np.array_equal(parallel, f.ntk(theta, block_samples=b))


def test_dask_local_cluster_ntk_equals_serial_bitwise():
    distributed = pytest.importorskip("distributed")
    f, _, theta = network([3, 8, 8, 2], 9, activation="softplus")
    serial = f.ntk(theta, block_samples=3)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        out = distributed_ntk(f, theta, backend="dask", scheduler=cluster, block_samples=3)
    assert np.array_equal(out, serial)


# -- accuracy: refinement recovers the condition number Θ squares ---------------------------------


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
@pytest.mark.parametrize("cond", [1e2, 1e4, 1e6])
@pytest.mark.parametrize("seed", range(3))
def test_kernel_push_forward_residual_to_1e_10(seed, cond, kind):
    """|D·grad_h − ∇ₓC|/|∇ₓC| ≤ 1e-10 up to cond 1e6 (generic Gram), like the dense route."""
    f, theta, g = conditioned_map(seed, cond, kind)
    fac = KernelFactorization(f, theta)
    assert fac.full_rank
    assert 0.9 * cond <= fac.report.condition_number <= 1.1 * cond  # σ's from Θ are real
    u = fac.solve(g)
    assert residual(f, theta, u, g) <= 1e-10
    dense = JacobianSVD(f.jacobian(theta)).solve(g)
    assert np.linalg.norm(u - dense) <= solve_residual_tol(f.jacobian(theta), np.linalg.norm(dense))
    assert fac.stats["refinements"] >= 1 and fac.stats["last_residual"] <= 1e-10


@pytest.mark.parametrize("seed", range(3))
def test_without_refinement_theta_squares_the_condition_number(seed):
    """The same solve with no refinement step: ~eps·cond² ≳ 1e-8 at cond 1e6 (measured, not assumed)."""
    f, theta, g = conditioned_map(seed, 1e6, "linear")
    plain = KernelFactorization(f, theta, max_refinements=0).solve(g)
    refined = KernelFactorization(f, theta).solve(g)
    assert residual(f, theta, plain, g) > 1e-8
    assert residual(f, theta, refined, g) <= 1e-3 * residual(f, theta, plain, g)


def test_network_with_nearly_duplicated_inputs_at_cond_1e6():
    """A NetworkMap with cond(D) ~ 1e6 (inputs 1e-5 apart): structured Θ, residual ≤ 1e-10."""
    f, cost, theta = near_duplicate_network(1e-5)
    fac = KernelFactorization(f, theta)
    dense = JacobianSVD(f.jacobian(theta))
    assert 1e5 <= dense.report.condition_number <= 1e7
    assert fac.rank == dense.rank == f.dim_out
    g = cost.grad(f(theta))
    u = fac.solve(g)
    assert residual(f, theta, u, g) <= 1e-10
    assert np.linalg.norm(u - dense.solve(g)) <= 1e-8 * np.linalg.norm(dense.solve(g))


# -- rank loss ---------------------------------------------------------------------------------


def test_rank_loss_is_detected_reported_and_least_squares():
    """An exactly duplicated input: rank D = QN − Q on both routes; D⁺g is the least-squares
    solution, D·u = 𝒫g (4.7), nothing is NaN; the forced "over" flow refuses, "auto" runs (4.5)."""
    f, cost, theta = near_duplicate_network(0.0)
    fac = KernelFactorization(f, theta)
    dense = JacobianSVD(f.jacobian(theta))
    assert fac.rank == dense.rank == f.dim_out - f.Q
    assert not fac.report.full_row_rank
    assert "sqrt(QN*eps)*sigma_max" in fac.report.policy
    assert np.count_nonzero(fac.singular_values == 0.0) == f.Q
    g = cost.grad(f(theta))
    u = fac.solve(g)
    assert np.all(np.isfinite(u))
    ref = dense.solve(g)
    assert np.linalg.norm(u - ref) <= 1e-10 * np.linalg.norm(ref)
    assert np.linalg.norm(f.jvp(theta, u) - dense.project_range(g)) <= 1e-10 * np.linalg.norm(g)
    assert np.linalg.norm(fac.project_range(g) - dense.project_range(g)) <= 1e-10 * np.linalg.norm(
        g
    )
    with pytest.raises(RankConditionError):
        sr.AdaptedFlow(f, cost, regime="over", route="kernel")(theta)
    flow = sr.AdaptedFlow(f, cost, route="kernel")
    v = flow(theta)
    assert flow.last_regime == "rank-loss" and np.all(np.isfinite(v))


# -- no QN×K allocation --------------------------------------------------------------------------


def test_kernel_route_never_allocates_qn_by_k():
    """tracemalloc peaks on the kernel route, at (M, width, Q, N, L) = (4, 512, 2, 200, 2) where
    one QN×K array is QN·K·8 = 852 MB:

    * a flow evaluation and a bundle gradient stay below the route's memory model
      (``route_model``: NetworkMap.ntk_bytes + Θ's eigenvectors + 96·K; 37 MB here);
    * an output-exact integration adds K-vectors only: the core's solution keeps a few per
      attempted step (states, interpolants) and the flow caches 8 points, so its peak is below
      model + 8·K·(3·attempted steps + 24) — still a fraction of one QN×K array.

    The same measurement sees the dense Jacobian (a smaller network): tracemalloc counts numpy's
    allocations, so a QN×K array could not hide.
    """
    f, cost, theta = network([4, 512, 512, 2], 200)
    QN, K = f.dim_out, f.dim_in
    one_D = 8 * QN * K
    model = route_model(f)["kernel_bytes"]
    assert one_D > 20 * model
    flow = sr.AdaptedFlow(f, cost, regime="over", route="kernel")
    bundle = sr.PullbackBundle(f, route="kernel")
    tracemalloc.start()
    try:
        v = flow(theta)
        bundle.grad(theta, f.vjp(theta, cost.grad(f(theta))))
        _, peak_point = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        traj = sr.integrate(flow, theta, 0.5 * f.N, record=False)
        _, peak_orbit = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.all(np.isfinite(v)) and traj.final_cost < traj.initial_cost
    assert peak_point < model
    attempted = traj.stats["accepted"] + traj.stats["rejected"]
    assert peak_orbit < model + 8 * K * (3 * attempted + 24) < one_D / 4
    small, _, small_theta = network([4, 64, 64, 2], 50)
    tracemalloc.start()
    try:
        small.jacobian(small_theta)
        _, dense_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dense_peak >= 8 * small.dim_out * small.dim_in


# -- matrix-free route ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", KRYLOV_METHODS)
@pytest.mark.parametrize("cond", [1e1, 1e3])
@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_matrix_free_reaches_1e_10_and_reports_iterations(method, cond, kind):
    f, theta, g = conditioned_map(0, cond, kind)
    fac = KrylovFactorization(f, theta, method=method)
    u = fac.solve(g)
    assert residual(f, theta, u, g) <= 1e-10
    assert fac.stats["converged"] and fac.stats["last_residual"] <= 1e-10
    assert fac.stats["iterations"] >= 1 and fac.stats["last_iterations"] >= 1
    assert fac.rank == f.dim_out
    assert 0.5 * cond <= fac.report.condition_number <= 2 * cond


# -- flows, integration, the bundle on every route --------------------------------------------------


@pytest.mark.parametrize("route", ["kernel", "matrix-free"])
def test_output_exact_on_the_route_matches_dense(route):
    f, cost, theta = network([3, 12, 12, 2], 8)
    dense = sr.integrate(sr.AdaptedFlow(f, cost, route="dense"), theta, np.inf, eps=1e-8)
    before = dict(f.counts)
    traj = sr.integrate(sr.AdaptedFlow(f, cost), theta, np.inf, eps=1e-8, route=route)
    assert str(traj.status) == str(dense.status) == "target_cost_reached"
    assert traj.final_cost <= 1e-8
    assert traj.law_residual() <= 10 * max(dense.law_residual(), 1e-12)
    assert f.counts["jacobian"] == before.get("jacobian", 0)  # no D on this route
    assert np.all(traj.rank == f.dim_out)


def test_bundle_routes_agree_with_dense():
    f, cost, theta = network([3, 10, 10, 2], 6)
    rng = np.random.default_rng(3)
    covector, v = f.vjp(theta, cost.grad(f(theta))), rng.normal(size=f.dim_in)
    dense = sr.PullbackBundle(f, route="dense")
    fac = dense.at(theta).svd
    scale = np.linalg.norm(dense.grad(theta, covector))
    for route in ("kernel", "matrix-free"):
        V = sr.PullbackBundle(f, route=route)
        assert V.route == route
        assert np.linalg.norm(V.grad(theta, covector) - dense.grad(theta, covector)) <= 1e-9 * scale
        assert np.linalg.norm(
            V.horizontal_projection(v, theta) - fac.project_row(v)
        ) <= 1e-8 * np.linalg.norm(v)
        assert np.linalg.norm(
            V.vertical_projection(v, theta) - fac.project_kernel(v)
        ) <= 1e-8 * np.linalg.norm(v)
        assert V.rank_report(theta).rank == dense.rank_report(theta).rank


def test_auto_route_follows_the_memory_model_and_reports_it():
    f, cost, theta = network([3, 10, 10, 2], 6)
    auto = choose_route(f)
    assert (
        auto.route == "dense"
        and "auto" in auto.reason
        and auto.memory_budget == DEFAULT_MEMORY_BUDGET
    )
    model = route_model(f)
    assert model["dense_bytes"] == 16 * f.dim_out * f.dim_in
    # (8, 512, 4, 400, 2): D would need 6.4 GiB > the default budget, so auto takes the kernel
    big_f, _, _ = network([8, 512, 512, 4], 400)
    choice = choose_route(big_f)
    assert choice.route == "kernel" and choice.dense_bytes > DEFAULT_MEMORY_BUDGET
    assert "16*QN*K" in choice.reason
    # a generous budget still prefers the kernel there: ≥ 10× fewer flops by the model
    assert choose_route(big_f, memory_budget=64 * 1024**3).route == "kernel"
    assert choice.dense_flops >= 10 * choice.kernel_flops
    # K < QN: the kernel route does not apply, auto is dense
    under, under_cost, _ = network([2, 2, 1], 30)
    assert choose_route(under).route == "dense"


# -- bad input ---------------------------------------------------------------------------------


class _BareMap(sr.SmoothMap):
    """A map with only a value and a Jacobian: its jvp/vjp multiply by the whole D."""

    def __init__(self, A):
        super().__init__(A.shape[1], A.shape[0])
        self.A = A

    def _value(self, theta):
        return anp.dot(self.A, theta)

    def _jacobian(self, theta):
        return self.A


def test_bad_input():
    f, cost, theta = network([3, 6, 2], 4)
    for make in (
        lambda: sr.PullbackBundle(f, route="sparse"),
        lambda: sr.AdaptedFlow(f, cost, route="gpu"),
        lambda: sr.integrate(sr.AdaptedFlow(f, cost), theta, 1.0, route="fast"),
        lambda: choose_route(f, 3),
    ):
        with pytest.raises(InputError, match="unknown route"):
            make()
    bare = _BareMap(np.random.default_rng(0).normal(size=(3, 9)))
    assert not bare.has_matrix_free_products
    for route in ("kernel", "matrix-free"):
        with pytest.raises(InputError, match="whole Jacobian"):
            sr.PullbackBundle(bare, route=route)
    with pytest.raises(InputError, match="whole Jacobian"):
        bare.ntk(np.zeros(9))
    assert choose_route(bare).route == "dense"
    with pytest.raises(InputError, match="cannot hold one block"):
        f.ntk(theta, memory_budget=100)
    with pytest.raises(InputError, match="cannot hold one block"):
        distributed_block_samples(f, 100)
    with pytest.raises(InputError, match="cannot hold one block"):
        KernelFactorization(f, theta, memory_budget=100)
    with pytest.raises(InputError, match="output metric"):
        sr.PullbackBundle(f, output_metric=2.0 * np.eye(f.dim_out), route="matrix-free")
    under, under_cost, under_theta = network([2, 2, 1], 30)
    with pytest.raises(InputError, match="route='dense'"):
        sr.AdaptedFlow(under, under_cost, route="kernel")
    with pytest.raises(InputError, match="backend"):
        distributed_ntk(f, theta, backend="mpi")
    with pytest.raises(InputError, match="NetworkMap"):
        distributed_ntk(sr.LinearMap(np.eye(3)), np.zeros(3))
    with pytest.raises(InputError, match="scheduler"):
        distributed_ntk(f, theta, backend="dask")


# -- the kernel route with an output metric G (the G-version of (2.30)) ----------------------------


def spd_metric(rng, n, cond):
    """A random SPD G = Q diag(λ) Qᵀ with eigenvalues log-spaced in [1, cond]."""
    Qm = np.linalg.qr(rng.normal(size=(n, n)))[0]
    return (Qm * np.logspace(0.0, np.log10(cond), n)) @ Qm.T


over_architectures = st.tuples(
    st.integers(1, 3),  # M
    st.lists(st.integers(3, 7), min_size=1, max_size=3),  # hidden widths: K >= QN below
    st.integers(1, 2),  # Q
    st.integers(1, 4),  # N  (QN <= 8 < K)
    st.sampled_from(sorted(ACTIVATIONS)),
    st.integers(0, 2**16),
    st.sampled_from(["constant", "field"]),
)


@given(over_architectures)
def test_kernel_route_with_output_metric_matches_dense_and_least_squares(arch):
    """grad_h C = D̃⁺L⁻¹∇ₓC = DᵀΘ⁻¹G⁻¹∇ₓC on the kernel route (no D) equals (i) the min-norm
    least-squares solution of LᵀD u = L⁻¹∇ₓC by numpy's lstsq and (ii) the dense route's
    adapted velocity with G, to solve_residual_tol(D̃) each; its push-forward is G⁻¹∇ₓC."""
    M, widths, Q, N, activation, seed, kind = arch
    f, cost, theta = network([M, *widths, Q], N, seed, activation)
    QN = f.dim_out
    rng = np.random.default_rng(seed)
    if kind == "constant":
        G = spd_metric(rng, QN, 30.0)
        metric, G_at = G, G
    else:
        c = rng.uniform(0.5, 2.0, size=QN)
        metric = sr.geometry.metrics.OutputMetricField(lambda x: anp.diag(c + x**2), QN)
        G_at = np.diag(c + f(theta) ** 2)
    x = f(theta)
    gx = cost.grad(x)
    L = np.linalg.cholesky(G_at)
    D = f.jacobian(theta)  # the references only; the kernel route never forms it
    Dw = L.T @ D
    w = np.linalg.solve(L, gx)  # L⁻¹∇ₓC (triangular, well conditioned)
    s = np.linalg.svd(Dw, compute_uv=False)
    # the kernel route resolves σ above √(QN·eps)·σ_max only: the claim is for resolved ranks
    assume(s[-1] >= 1e-6 * s[0])
    before = f.counts["jacobian"]
    fac = KernelFactorization(f, theta, output_metric=metric)
    u = fac.metric_gradient(gx)
    assert f.counts["jacobian"] == before  # no D on the kernel route
    reference = np.linalg.lstsq(Dw, w, rcond=None)[0]
    tol = solve_residual_tol(Dw, np.linalg.norm(reference))
    assert np.linalg.norm(u - reference) <= 2 * tol
    dense = -sr.AdaptedFlow(f, cost, output_metric=metric, route="dense")(theta)
    assert np.linalg.norm(u - dense) <= 2 * tol
    # the push-forward is the G-gradient: D̃u = L⁻¹∇ₓC, i.e. D u = G⁻¹∇ₓC (rank QN)
    assert np.linalg.norm(L.T @ f.jvp(theta, u) - w) <= solve_residual_tol(Dw, np.linalg.norm(w))
    xdot = fac.metric_output_velocity(gx)
    assert np.linalg.norm(G_at @ xdot - gx) <= routes_agree_tol(
        np.linalg.norm(gx), cond=np.linalg.cond(G_at), k=16.0 * QN
    )
    assert fac.rank == QN and fac.report.shape == (QN, f.dim_in)


@pytest.mark.parametrize("cond", [1e2, 1e4, 1e6])
@pytest.mark.parametrize("seed", range(2))
def test_kernel_route_with_output_metric_reaches_1e_10_at_cond_1e6(seed, cond):
    """|D̃ u − L⁻¹g| / |L⁻¹g| ≤ 1e-10 for u = metric_gradient(g), cond(D) up to 1e6, cond(G) = 10:
    Θ_G = LᵀΘL squares cond(D̃); refinement with D̃-products recovers it."""
    f, _, g = conditioned_map(seed, cond, "nonlinear")
    rng = np.random.default_rng(seed + 7)
    theta = rng.normal(size=f.dim_in)
    G = spd_metric(rng, f.dim_out, 10.0)
    L = np.linalg.cholesky(G)
    u = KernelFactorization(f, theta, output_metric=G).metric_gradient(g)
    w = np.linalg.solve(L, g)
    assert np.linalg.norm(L.T @ f.jvp(theta, u) - w) <= 1e-10 * np.linalg.norm(w)


def test_kernel_route_with_output_metric_is_refused_where_it_is_not_wired():
    """choose_route refuses "kernel" with G unless the caller passes G on (metric_aware), and
    the matrix-free route refuses G: never the Euclidean Θ⁺ applied to a G-problem."""
    f, cost, theta = network([3, 10, 2], 4)
    G = spd_metric(np.random.default_rng(0), f.dim_out, 5.0)
    with pytest.raises(InputError, match="route='dense'.*output_metric=G"):
        choose_route(f, "kernel", euclidean=False)
    assert choose_route(f, "kernel", euclidean=False, metric_aware=True).route == "kernel"
    with pytest.raises(InputError, match="matrix-free.*Euclidean output metric only"):
        choose_route(f, "matrix-free", euclidean=False, metric_aware=True)
    from subriemann.geometry import factorize

    with pytest.raises(InputError, match="'matrix-free' implements the Euclidean"):
        factorize(f, theta, "matrix-free", output_metric=G)
    with pytest.raises(InputError, match="matrix-free.*Euclidean output metric only"):
        sr.AdaptedFlow(f, cost, output_metric=G, route="matrix-free")


def test_adapted_flow_with_output_metric_on_the_kernel_route_matches_the_dense_route():
    """AdaptedFlow(G, route="kernel"): θ′ = −DᵀL(LᵀΘL)⁻¹L⁻¹∇ₓC and x′ = −G⁻¹∇ₓC at rank QN
    (the G-version of (2.30)), without forming D, equal to the dense route's SVD of LᵀD and
    to numpy's least-squares solution of LᵀD θ′ = −L⁻¹∇ₓC (an independent reference)."""
    f, cost, theta = network([3, 10, 2], 4)
    G = spd_metric(np.random.default_rng(1), f.dim_out, 5.0)
    kernel = sr.AdaptedFlow(f, cost, output_metric=G, route="kernel")
    dense = sr.AdaptedFlow(f, cost, output_metric=G, route="dense")
    pk, pd = kernel.evaluate(theta), dense.evaluate(theta)
    x, D = f.value_and_jacobian(theta)
    L = np.linalg.cholesky(G)
    w = np.linalg.solve(L, cost.grad(x))
    reference = -np.linalg.lstsq(L.T @ D, w, rcond=None)[0]
    cond = np.linalg.cond(L.T @ D)
    tol = routes_agree_tol(np.linalg.norm(reference), k=4 * max(D.shape), cond=cond**2)
    assert np.linalg.norm(pk.velocity - reference) <= tol
    assert np.linalg.norm(pk.velocity - pd.velocity) <= tol
    xdot_ref = -np.linalg.solve(G, cost.grad(x))  # rank D = QN: x′ = −G⁻¹∇ₓC
    assert np.linalg.norm(pk.output_velocity - xdot_ref) <= routes_agree_tol(
        np.linalg.norm(xdot_ref), k=4 * max(D.shape), cond=np.linalg.cond(G) * cond
    )


def test_bundle_grad_h_with_output_metric_on_the_kernel_route_matches_the_dense_route():
    """PullbackBundle(G, route="kernel").grad = Pen[D̃]Pen[D̃]ᵀ∇_θC with D̃ = LᵀD ((2.30) for G),
    without forming D, against numpy's pinv of LᵀD (an independent reference) and the dense route."""
    f, cost, theta = network([3, 10, 2], 4)
    G = spd_metric(np.random.default_rng(2), f.dim_out, 5.0)
    x, D = f.value_and_jacobian(theta)
    covector = D.T @ cost.grad(x)  # ∇_θC (1.18)
    Dw = np.linalg.cholesky(G).T @ D
    pinv = np.linalg.pinv(Dw)
    reference = pinv @ (pinv.T @ covector)
    kernel = sr.PullbackBundle(f, output_metric=G, route="kernel")
    dense = sr.PullbackBundle(f, output_metric=G, route="dense")
    assert kernel.route == "kernel"
    cond = np.linalg.cond(Dw)
    tol = routes_agree_tol(np.linalg.norm(reference), k=4 * max(D.shape), cond=cond**2)
    assert np.linalg.norm(kernel.grad(theta, covector) - reference) <= tol
    assert np.linalg.norm(kernel.grad(theta, covector) - dense.grad(theta, covector)) <= tol
