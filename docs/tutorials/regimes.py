# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Under-parametrized and borderline networks
#
# The adapted flow is one vector field, θ′ = −D⁺∇ₓC, in every regime; what it does to
# the outputs depends on the rank of the Jacobian D (QN × K):
#
# * **over-parametrized**, K > QN and rank D = QN (2.1): x′ = −∇ₓC (2.5), the cost follows
#   C(0)e^{−2s/N} (2.6) to zero (see the [adapted vs standard tutorial](adapted_vs_standard.md));
# * **under-parametrized**, K < QN and rank D = K (5.1): f is an immersion, the flow is
#   −grad_g C for the pullback metric g = DᵀD (5.18), and the outputs follow the
#   *constrained* flow x′ = −𝒫∇ₓC (5.3), 𝒫 the orthogonal projector onto range D;
# * **borderline**, K = QN (§6): both formulas are the same vector field (6.2).
#
# Here N = 20 points in 3 classes (QN = 60) and a network with 2 hidden units (K = 15).

# %%
import matplotlib.pyplot as plt
import numpy as np

import subriemann as sr

data = sr.TrainingData.blobs(n_samples=20, n_classes=3, input_dim=2, spread=0.6, seed=0)
cost = sr.L2Cost.from_data(data)
N = data.N
mlp = sr.MLP([2, 2, 3])
f = sr.NetworkMap(mlp, data.inputs)
theta0 = mlp.init(seed=0)
print(
    f"K = {mlp.K}, QN = {f.dim_out}, rank D[theta0] = {np.linalg.matrix_rank(f.jacobian(theta0))}"
)
assert mlp.K < f.dim_out and np.linalg.matrix_rank(f.jacobian(theta0)) == mlp.K  # (5.1)

# %%
flow = sr.AdaptedFlow(f, cost, regime="under")
traj = sr.integrate(flow, theta0, 200.0, method="rk45", rtol=1e-8, atol=1e-10)
print(
    f"status {traj.status.value}: C {traj.cost[0]:.6f} -> {traj.final_cost:.6f} over s in [0, 200]"
)

# %% [markdown]
# ## What the under-parametrized flow does, and does not, do
#
# With ∇ₓC = (x − y)/N, along x′ = −𝒫∇ₓC
#
# $$\frac{dC}{ds} = -|\mathcal P\nabla_x C|^2 \;\ge\; -|\nabla_x C|^2 = -\frac{2C}{N},$$
#
# so the cost decreases (5.12) but never faster than the over-parametrized law:
# C(s) ≥ C(0)e^{−2s/N}, with equality only while ∇ₓC ∈ range D.  The output velocity has
# no component off range D (5.5).  At a critical point 𝒫∇ₓC = 0, so ∇ₓC is orthogonal to
# range D and C = (N/2)|∇ₓC|² = (N/2)|𝒫^⊥∇ₓC|² (5.7): a positive limit, not a global
# minimum.  Every claim is checked with numpy's own SVD of D.

# %%
law = traj.cost[0] * np.exp(-2 * traj.s / N)
assert np.all(np.diff(traj.cost) <= 1e-12 * traj.cost[:-1])  # monotone (5.12)
assert np.all(traj.cost >= law * (1 - 1e-8))  # never below the law (2.6)
theta = traj.final_theta
D = f.jacobian(theta)
U = np.linalg.svd(D, full_matrices=False)[0]  # orthonormal basis of range D (rank K)
grad_x = cost.grad(f(theta))
xdot = D @ flow(theta)
off_range = grad_x - U @ (U.T @ grad_x)  # 𝒫^⊥∇ₓC
limit = N / 2 * off_range @ off_range
print(f"C(s) / law at s = 200: {traj.final_cost / law[-1]:.3g}  (>= 1)")
print(
    f"|P^perp x'| / |x'| = {np.linalg.norm(xdot - U @ (U.T @ xdot)) / np.linalg.norm(xdot):.1e}  (5.5): 0"
)
print(
    f"C(200) = {traj.final_cost:.6f},  (N/2)|P^perp grad_x C|^2 = {limit:.6f}  (5.7): equal in the limit"
)
assert np.linalg.norm(xdot - U @ (U.T @ xdot)) < 1e-8 * np.linalg.norm(xdot)
assert limit <= traj.final_cost and traj.final_cost - limit < 1e-4 * traj.final_cost

# %% [markdown]
# The gap C − (N/2)|𝒫^⊥∇ₓC|² = (N/2)|𝒫∇ₓC|² is the part of the gradient the network
# can still follow; it goes to zero along the orbit while C levels off at its positive
# limit.  (The law (2.6) is drawn for comparison only: it is a lower bound here, not the
# orbit.)


# %%
def gap(th):
    Dk = f.jacobian(th)
    Uk = np.linalg.svd(Dk, full_matrices=False)[0]
    g = cost.grad(f(th))
    return N / 2 * np.sum((Uk.T @ g) ** 2)


gaps = np.array([gap(th) for th in traj.theta])
assert gaps[-1] < 1e-3 * gaps[0]

fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.semilogy(traj.s, traj.cost, "C0-", lw=2, label="C(s), under-parametrized")
ax.semilogy(traj.s, gaps, "C2-", label=r"$(N/2)|P\nabla_x C|^2$ (to 0)")
ax.semilogy(traj.s, law, "k:", label=r"$C(0)e^{-2s/N}$: a lower bound here")
ax.set(xlabel="s", ylabel="cost", xlim=(0, traj.s[-1]), title="K = 15 < QN = 60")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Borderline: K = QN
#
# With N = 9 points, Q = 3 and 4 hidden units, K = 27 = QN.  D is square and, where it
# is invertible, D⁺ = D⁻¹: the over-parametrized formula Dᵀ(DDᵀ)⁻¹ and the
# under-parametrized one (DᵀD)⁻¹Dᵀ are the same matrix, so the two regimes of the
# adapted flow are one vector field (6.2)–(6.3).  We compare them, and both with a
# linear solve D v = −∇ₓC by numpy.

# %%
small = sr.TrainingData.blobs(n_samples=9, n_classes=3, input_dim=2, seed=1)
fb = sr.NetworkMap(sr.MLP([2, 4, 3]), small.inputs)
cb = sr.L2Cost.from_data(small)
tb = fb.mlp.init(seed=1)
v_over = sr.AdaptedFlow(fb, cb, regime="over")(tb)
v_under = sr.AdaptedFlow(fb, cb, regime="under")(tb)
v_solve = np.linalg.solve(fb.jacobian(tb), -cb.grad(fb(tb)))
cond = np.linalg.cond(fb.jacobian(tb))
print(f"K = QN = {fb.dim_in}, cond D = {cond:.3g}")
print(
    f"|v_over - v_under| / |v_over| = {np.linalg.norm(v_over - v_under) / np.linalg.norm(v_over):.1e}"
)
print(
    f"|v_over - D^-1(-grad_x C)| / |v_over| = {np.linalg.norm(v_over - v_solve) / np.linalg.norm(v_over):.1e}"
)
bound = 100 * np.finfo(float).eps * cond  # backward-stable solves: error ~ eps·cond(D)
assert fb.dim_in == fb.dim_out
assert np.linalg.norm(v_over - v_under) <= bound * np.linalg.norm(v_over)
assert np.linalg.norm(v_over - v_solve) <= bound * np.linalg.norm(v_over)
