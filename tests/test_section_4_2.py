"""§4.2 at the linear-bottleneck saddles: the literal recipe (4.16) fails, the curvature direction works.

The setting.  ``linear_bottleneck_case`` gives the identity-activation network
[M, 1, Q], x_j[θ] = W₂(W₁x_j + b₁) + b₂ (rank W = rank W₂W₁ ≤ 1), and its
Baldi–Hornik critical points θ*; all but the last are saddles, and the rank of D
is r = K − 2 < QN there (Thm 4.2 applies: constant rank, M_crit of dimension 2).

The identity.  Take V_α in (4.13) to be the column j of D, V_α = ∂_j x (the
paper's "r-tuple of column vectors of D").  By (1.18)

    g_α[θ] = (∂_j x[θ], ∇ₓC[x[θ]]) = (Dᵀ∇ₓC)_j = ∂C̃/∂θ_j,    C̃(θ) := C[x[θ]],

so ∇g_α = H e_j with H = ∇²C̃ the Hessian of the cost in θ.  Taylor's theorem at
the critical point θ* (∇C̃(θ*) = 0) along v = ∇g_α(θ*) = H e_j gives

    C̃(θ* + κ∇g_α) − C̃(θ*) = κ∇C̃·v + κ²/2 · vᵀHv + O(κ³) = κ²/2 · e_jᵀH³e_j + O(κ³).

For the linear bottleneck C̃ is a polynomial of degree 4 in θ (x is of degree 2),
so φ(κ) := C̃(θ* + κv) − C̃(θ*) is *exactly* a quartic a₁κ + a₂κ² + a₃κ³ + a₄κ⁴
with a₁ = 0 and a₂ = ½ e_jᵀH³e_j.  The even part E(κ) = (φ(κ) + φ(−κ))/2 =
a₂κ² + a₄κ⁴ gives a₂ = (16E(1) − E(2))/12 with no truncation error: the check of
the second-order coefficient below is limited by round-off only.

e_jᵀH³e_j = Σ_i λ_i³ (u_iᵀe_j)² mixes the eigenvalues λ_i of H weighted by how
much of e_j each eigenvector carries.  At these saddles the one negative λ
never dominates: for every j the recipe *raises* the cost for both signs of κ
and every |κ| in [1e-4, 10] — (4.17) cannot be met by any choice of α or sign.
The package's "normal curvature" direction (``escape_perturbation``, the unit
normal vector of M_crit on which H is most negative) lowers C instead.

Independent references: the cost, the Jacobian and the Hessian of the linear
bottleneck are written out below from the formula for x_j (no package code);
the Hessian is checked against the exact quartic of the closed-form cost.
"""

import numpy as np
import pytest
from tolerances import EPS, cost_uncertainty, routes_agree_tol

from subriemann.diagnostics import cases
from subriemann.diagnostics import landscape as ls

#: (seed, M, Q, N) of the linear bottlenecks used: the §4 default [2, 1, 2] on N = 3 and wider ones
SETTINGS = [(0, 2, 2, 3), (1, 2, 2, 3), (2, 2, 2, 3), (0, 3, 2, 5), (1, 3, 3, 6), (2, 3, 3, 6)]
#: |κ| ∈ [1e-4, 10], 40 values per sign
KAPPAS = np.logspace(-4, 1, 40)


class LinearBottleneck:
    """Closed forms for x_j = W₂(W₁x_j + b₁) + b₂ with θ = (W₁ (1×M), b₁, W₂ (Q×1), b₂).

    The layout is the package's (W₁ row-major, b₁, W₂, b₂) so that θ* from the
    case can be used; everything else is computed here from the formula.
    """

    def __init__(self, X, Y):
        self.X, self.Y = np.asarray(X, float), np.asarray(Y, float)
        self.N, self.M = self.X.shape
        self.Q = self.Y.shape[1]
        self.K = self.M + 1 + 2 * self.Q

    def split(self, theta):
        M, Q = self.M, self.Q
        return theta[:M], theta[M], theta[M + 1 : M + 1 + Q], theta[M + 1 + Q :]

    def outputs(self, theta):
        """x as an (N, Q) array: row j is x_j."""
        W1, b1, W2, b2 = self.split(theta)
        h = self.X @ W1 + b1  # the hidden (scalar) unit of each sample
        return np.outer(h, W2) + b2

    def cost(self, theta):
        """C = |x − y_ω|²/(2N) (1.7)."""
        return float(np.sum((self.outputs(theta) - self.Y) ** 2) / (2 * self.N))

    def jacobian(self, theta):
        """D (1.17), rows sample-major (j, q), from ∂x_{jq}/∂θ written out."""
        W1, b1, W2, b2 = self.split(theta)
        N, M, Q = self.N, self.M, self.Q
        h = self.X @ W1 + b1
        Xt = np.hstack([self.X, np.ones((N, 1))])  # [x_j, 1]: the (W₁, b₁) directions
        D = np.zeros((N, Q, self.K))
        D[:, :, : M + 1] = W2[None, :, None] * Xt[:, None, :]
        D[:, np.arange(Q), M + 1 + np.arange(Q)] = h[:, None]
        D[:, np.arange(Q), M + 1 + Q + np.arange(Q)] = 1.0
        return D.reshape(N * Q, self.K)

    def hessian(self, theta):
        """H = DᵀD/N + Σ_{jq} (r_{jq}/N) ∇²x_{jq}; only ∂²x_{jq}/∂(W₁,b₁)_k∂(W₂)_q = [x_j, 1]_k ≠ 0."""
        M, Q = self.M, self.Q
        D = self.jacobian(theta)
        R = self.outputs(theta) - self.Y  # residuals r_{jq}
        Xt = np.hstack([self.X, np.ones((self.N, 1))])
        H = D.T @ D / self.N
        G = R.T @ Xt / self.N  # G[q, k] = Σ_j r_{jq} [x_j, 1]_k / N
        H[: M + 1, M + 1 : M + 1 + Q] += G.T
        H[M + 1 : M + 1 + Q, : M + 1] += G
        return H


def bottleneck(seed, M, Q, N):
    net, f, cost, points = cases.linear_bottleneck_case(seed=seed, M=M, Q=Q, N=N)
    return (
        LinearBottleneck(f.inputs, cost.target.reshape(N, Q)),
        (net, f, cost),
        points[:-1],
    )  # the saddles


def quadratic_coefficient(model, theta, v):
    """a₂ of the exact quartic φ(κ) = C(θ + κv) − C(θ), from κ = ±1, ±2, and its round-off bound."""
    C0 = model.cost(theta)
    points = [theta + k * v for k in (1.0, -1.0, 2.0, -2.0)]
    Cs = [model.cost(p) for p in points]
    E1, E2 = 0.5 * (Cs[0] + Cs[1]) - C0, 0.5 * (Cs[2] + Cs[3]) - C0
    a2 = (16.0 * E1 - E2) / 12.0
    # each C is known to cost_uncertainty u; (16E₁ − E₂)/12 weighs them by 8/12 (κ = ±1),
    # 1/24 (κ = ±2) and 17/12 (κ = 0); the five subtractions round by EPS·max C each
    u = [
        float(cost_uncertainty(model.outputs(p).ravel(), model.Y.ravel(), model.N)) for p in points
    ]
    u0 = float(cost_uncertainty(model.outputs(theta).ravel(), model.Y.ravel(), model.N))
    rounding = 5.0 * EPS * max(Cs + [C0])
    return a2, (8.0 * (u[0] + u[1]) + 0.5 * (u[2] + u[3]) + 17.0 * u0) / 12.0 + rounding


@pytest.mark.parametrize("setting", SETTINGS)
def test_closed_form_model_is_the_case_and_theta_star_is_critical(setting):
    """The references reproduce the case's x[θ] and D[θ]; ∇C̃(θ*) = 0 and the points are saddles."""
    model, (net, f, cost), saddles = bottleneck(*setting)
    for theta in saddles:
        x = f(theta)
        np.testing.assert_allclose(
            model.outputs(theta).ravel(), x, rtol=0, atol=routes_agree_tol(np.linalg.norm(x))
        )
        D = model.jacobian(theta)
        np.testing.assert_allclose(
            f.jacobian(theta), D, rtol=0, atol=routes_agree_tol(np.linalg.norm(D))
        )
        grad = D.T @ (model.outputs(theta) - model.Y).ravel() / model.N
        H = model.hessian(theta)
        assert np.linalg.norm(grad) < routes_agree_tol(np.linalg.norm(D) ** 2, k=16.0 * model.K)
        lam = np.linalg.eigvalsh(H)
        assert lam[0] < -1e-3 * lam[-1] < 0 < lam[-1]  # a saddle: curvature of both signs


@pytest.mark.parametrize("setting", SETTINGS)
def test_hessian_is_the_second_order_coefficient_of_the_closed_form_cost(setting):
    """vᵀHv/2 of the written-out Hessian equals a₂ of the exact quartic C(θ* + κv)."""
    model, _, saddles = bottleneck(*setting)
    rng = np.random.default_rng(7)
    for theta in saddles:
        H = model.hessian(theta)
        for v in rng.normal(size=(3, model.K)):
            a2, tol = quadratic_coefficient(model, theta, v)
            assert abs(a2 - 0.5 * v @ H @ v) <= tol + routes_agree_tol(
                np.linalg.norm(H, 2) * (v @ v), k=16.0 * model.K
            )


@pytest.mark.parametrize("setting", SETTINGS)
def test_literal_recipe_4_16_raises_the_cost_at_every_saddle_for_every_j(setting):
    """C(θ* + κ∇g_α) − C* = κ²/2·e_jᵀH³e_j + O(κ³) > 0 for every j, κ ∈ ±[1e-4, 10].

    ∇g_α = H e_j (module docstring); the package's g_functions Jacobian (the
    recipe's literal V of (4.16)) is checked against these Hessian columns, then
    every column j of D — not only the r that the package picks — is tried.
    """
    model, (net, f, cost), saddles = bottleneck(*setting)
    for theta in saddles:
        H = model.hessian(theta)
        g = ls.g_functions(f, cost, theta)
        np.testing.assert_allclose(
            g.jacobian(theta),
            H[g.columns],
            rtol=0,
            atol=routes_agree_tol(np.linalg.norm(H, 2), k=16.0 * model.K),
        )
        C_star = model.cost(theta)
        for j in range(model.K):
            v = H[:, j]  # ∇g_α for V_α = column j of D
            coefficient = 0.5 * v @ H @ v  # ½ e_jᵀH³e_j
            a2, tol = quadratic_coefficient(model, theta, v)
            assert abs(a2 - coefficient) <= tol + routes_agree_tol(
                np.linalg.norm(H, 2) ** 3, k=16.0 * model.K
            )
            assert coefficient > 0, f"e_jᵀH³e_j ≤ 0 at j = {j}: the recipe would work there"
            for kappa in np.concatenate([KAPPAS, -KAPPAS]):
                theta_prime = theta + kappa * v
                change = model.cost(theta_prime) - C_star
                slack = float(
                    cost_uncertainty(model.outputs(theta_prime).ravel(), model.Y.ravel(), model.N)
                    + cost_uncertainty(model.outputs(theta).ravel(), model.Y.ravel(), model.N)
                )
                assert change > slack, (j, kappa, change)
            # at the small end the change is the quadratic term (the O(κ³) part is below 1e-3 of it)
            small = 1e-4
            change = model.cost(theta + small * v) - C_star
            assert change == pytest.approx(coefficient * small**2, rel=1e-3)


@pytest.mark.parametrize("setting", SETTINGS)
def test_package_normal_curvature_direction_lowers_the_closed_form_cost(setting):
    """escape_perturbation(method="curvature") picks V with VᵀHV < 0; C falls along it.

    Checked with the closed-form H and cost: the package's normal curvature is the
    most negative eigenvalue of the exact Hessian (its eigenvector is normal to
    M_crit: it lies in range H, which is the normal space of the 2-dimensional
    symmetry orbit), and C(θ* ± κV) < C* for small κ, as κ²/2·VᵀHV predicts.
    """
    model, (net, f, cost), saddles = bottleneck(*setting)
    for theta in saddles:
        H = model.hessian(theta)
        lam = np.linalg.eigvalsh(H)
        esc = ls.escape_perturbation(f, cost, theta, method="curvature")
        assert esc.method == "normal curvature"
        V = esc.direction / np.linalg.norm(esc.direction)
        tol = routes_agree_tol(np.linalg.norm(H, 2), k=16.0 * model.K)
        assert esc.normal_curvature == pytest.approx(lam[0], abs=tol)
        assert V @ H @ V == pytest.approx(lam[0], abs=tol) and lam[0] < 0
        C_star = model.cost(theta)
        assert model.cost(esc.theta_prime) < C_star
        assert esc.cost_prime == pytest.approx(model.cost(esc.theta_prime), rel=1e-12)
        for kappa in (1e-3, -1e-3, 1e-2, -1e-2):
            change = model.cost(theta + kappa * V) - C_star
            assert change < 0
            assert change == pytest.approx(0.5 * kappa**2 * lam[0], rel=0.05)
