"""The checks an autodiff adapter (from_jax, from_torch) must pass against sr.NetworkMap.

``f`` is the package's network (closed-form and autograd derivatives), ``g`` the same MLP
through an adapter.  The two compute the same exact quantities by different programs, so
they may differ by round-off only: ``assert_routes_agree`` (tests/tolerances.py) with the
condition number of the linear algebra applied to D (1 for f and its derivatives, cond(D)
for the pseudo-inverse, cond(D)² for Gram inverses and the pullback metric), never looser
than 1e-10 relative.  Each function states one claim; the adapter test files call them.
"""

import numpy as np
from tolerances import assert_routes_agree as agree

import subriemann as sr
from subriemann.geometry import SquareLoop


def derivatives_agree(f, g, theta):
    """f(θ), D, Dv, Dᵀw, dD[v] and the Hessian–vector products H_w v."""
    rng = np.random.default_rng(2)
    v, w = rng.normal(size=f.dim_in), rng.normal(size=f.dim_out)
    V, W = rng.normal(size=(f.dim_in, 3)), rng.normal(size=(f.dim_out, 2))
    k = 4.0 * f.dim_in  # sums over a layer's fan-in (≤ K terms): K roundings per route
    assert g.dim_in == f.dim_in and g.dim_out == f.dim_out
    agree(g(theta), f(theta), k=k)
    agree(g.jacobian(theta), f.jacobian(theta), k=k)
    agree(g.jvp(theta, v), f.jvp(theta, v), k=k)
    agree(g.vjp(theta, w), f.vjp(theta, w), k=k)
    agree(g.jacobian_derivative(theta, v), f.jacobian_derivative(theta, v), k=k)
    agree(g.hessian_vector_products(theta, V, W), f.hessian_vector_products(theta, V, W), k=k)
    assert g.has_matrix_free_products


def grad_h_and_adapted_flow_agree(f, g, theta):
    """grad_h (2.30) of a covector, and an adapted orbit (2.4) step by step."""
    cond = float(np.linalg.cond(f.jacobian(theta)))
    covector = np.random.default_rng(3).normal(size=f.dim_in)
    agree(
        sr.PullbackBundle(g).grad(theta, covector), sr.PullbackBundle(f).grad(theta, covector), cond
    )
    cost = sr.L2Cost(np.zeros(f.dim_out), 2)
    orbit_g = sr.integrate(sr.AdaptedFlow(g, cost), theta, 0.5)
    orbit_f = sr.integrate(sr.AdaptedFlow(f, cost), theta, 0.5)
    np.testing.assert_array_equal(orbit_g.s, orbit_f.s)
    agree(orbit_g.theta, orbit_f.theta, cond, k=64.0 * len(orbit_f.s))
    agree(orbit_g.cost, orbit_f.cost, cond, k=64.0 * len(orbit_f.s))


def frobenius_test_agrees(f, g, theta):
    """The frame brackets and the Frobenius defect (2.31) of V; QN = 4 ≥ 2: not involutive."""
    cond2 = float(np.linalg.cond(f.jacobian(theta))) ** 2  # (DDᵀ)⁻¹ in the brackets
    dg, df = sr.PullbackBundle(g).distribution(), sr.PullbackBundle(f).distribution()
    agree(dg.frame_brackets(theta), df.frame_brackets(theta), cond2, k=4.0 * f.dim_in)
    rg, rf = dg.frobenius_defect(theta), df.frobenius_defect(theta)
    agree(rg.relative_defect, rf.relative_defect, cond2, k=4.0 * f.dim_in)
    assert rg.is_involutive == rf.is_involutive is False


def holonomy_agrees(f, g, theta):
    """The holonomy (2.32) of a square output loop of side 0.05 in (e_0, e_1)."""
    cond = float(np.linalg.cond(f.jacobian(theta)))
    loop = SquareLoop(x0=f(theta), a=0, b=1, eps=0.05)
    hg, hf = sr.PullbackBundle(g).holonomy(theta, loop), sr.PullbackBundle(f).holonomy(theta, loop)
    # the end points θ(T) = θ0 + displacement carry the round-off of |θ| (the displacement is
    # a difference of O(|θ|) numbers).  Both runs take the same adaptive steps (their error
    # estimates agree to round-off); independent per-step roundings (~8 each) accumulate like
    # a random walk, ~8·√steps (Higham, Accuracy and Stability, §2.8), with a factor 8 margin
    steps = len(hf.lift.solution.t)
    agree(theta + hg.displacement, theta + hf.displacement, cond, k=64.0 * np.sqrt(steps))
    assert np.linalg.norm(hf.displacement) > 1e-4  # a non-trivial holonomy, ~ε²|[u_0, u_1]|


def pullback_metric_agrees(f, g, theta):
    """christoffels and exp of the pullback metric g = DᵀD (an immersion: K ≤ QN)."""
    cond2 = float(np.linalg.cond(f.jacobian(theta))) ** 2  # g⁻¹ = (DᵀD)⁻¹
    mg, mf = sr.PullbackMetric(g), sr.PullbackMetric(f)
    agree(mg.christoffels(theta), mf.christoffels(theta), cond2, k=4.0 * f.dim_out)
    v = 0.3 * np.ones(f.dim_in)
    # 100 Euler steps θ += dt·(−Γ(v, v)) over t ∈ [0, 1]: the per-step differences δΓ·|v|²
    # add up to about one (Σ dt = 1), and |Γ||v|² ≈ 3.6 is of the size of |exp_θ(v)| ≈ 3:
    # the Christoffel model relative to the end point, times a geodesic sensitivity of order 1
    agree(mg.exp(v, theta), mf.exp(v, theta), cond2, k=4.0 * f.dim_out)
