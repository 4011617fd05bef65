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
# # Adapted vs standard flow, and the stopping time known in advance
#
# The standard gradient flow θ′ = −∇_θC (1.9) moves the outputs by x′ = −DDᵀ∇ₓC
# (1.22): each direction of the output space moves at a speed set by a singular value of
# the Jacobian D, and nothing predicts when the cost reaches a target.  The geometrically
# adapted flow θ′ = −grad_h C = −Pen[D]∇ₓC (2.4) moves them by exactly x′ = −∇ₓC (2.5).
# For the L² cost C = |x − y|²/(2N) that makes the output a straight line to the
# targets, x(s) = y + e^{−s/N}(x0 − y) (1.13), and the cost
#
# $$C(s) = C(0)\,e^{-2s/N} \quad (2.6), \qquad
#   s_\varepsilon = \frac N2 \log\frac{C(0)}{\varepsilon} \quad (2.18)$$
#
# on every orbit along which rank D = QN (Theorems 2.1 and 2.3).  The stopping time is
# computed *before* training.

# %%
import matplotlib.pyplot as plt
import numpy as np

import subriemann as sr

data = sr.TrainingData.blobs(n_samples=6, n_classes=3, input_dim=2, seed=0)
mlp = sr.MLP([2, 8, 3])  # K = 51 > QN = 18: over-parametrized
f = sr.NetworkMap(mlp, data.inputs)
cost = sr.L2Cost.from_data(data)
theta0 = mlp.init(seed=0)
N, C0, eps = data.N, float(cost(f(theta0))), 1e-8
s_eps = sr.stopping_time(eps, C0, N)
print(f"K = {mlp.K}, QN = {f.dim_out}, N = {N}, C(0) = {C0:.6f}")
print(f"predicted stopping time for eps = {eps:g}: s_eps = {s_eps:.6f}")
assert abs(s_eps - N / 2 * np.log(C0 / eps)) < 1e-12 * s_eps  # (2.18)

# %% [markdown]
# Both flows from the same θ0, to the same time s_ε.  The adapted flow is integrated by
# the output-exact method (it steps along the known output orbit, see
# [integrators](../integrators.md)); the standard flow by RK45.

# %%
adapted = sr.integrate(sr.AdaptedFlow(f, cost), theta0, s_eps, method="output-exact")
standard = sr.integrate(
    sr.StandardFlow(f, cost), theta0, s_eps, method="rk45", rtol=1e-6, atol=1e-9
)
for name, traj in (("adapted", adapted), ("standard", standard)):
    print(f"{name:9s} C(s_eps) / eps = {traj.final_cost / eps:12.6g}   Jacobians {traj.n_jacobian}")

# %% [markdown]
# Theorem 2.3: the adapted flow's cost at s_ε is ε.  Theorem 2.1: along the whole orbit
# the cost is C(0)e^{−2s/N}, and the outputs follow (1.13) — checked here against the
# formulas written out with numpy.  The standard flow, at the same time, is far above ε.

# %%
law = C0 * np.exp(-2 * adapted.s / N)
deviation = np.max(np.abs(adapted.cost / law - 1))
x_law = data.target + np.exp(-s_eps / N) * (f(theta0) - data.target)
print(f"adapted: max |C(s) / (C(0) exp(-2s/N)) - 1| = {deviation:.1e}")
print(f"adapted: |x(s_eps) - (1.13)| = {np.linalg.norm(f(adapted.final_theta) - x_law):.1e}")
print(f"standard: C(s_eps) is {standard.final_cost / eps:.3g} times the target")
assert abs(adapted.final_cost / eps - 1) < 1e-3
assert deviation < 1e-6
assert np.linalg.norm(f(adapted.final_theta) - x_law) < 1e-8
assert standard.final_cost > 100 * eps

# %% [markdown]
# ## Why the standard flow is slow: the singular values of D
#
# Write D = UΣWᵀ.  The standard flow's output velocity −DDᵀ∇ₓC = −UΣ²Uᵀ∇ₓC is the
# adapted one's with the component along the left singular vector U_i multiplied by σ_i².
# Near θ0 the i-th component of x − y therefore decays like e^{−σ_i² s/N}, so the slowest
# direction needs a time of order N/σ_min² — here far beyond s_ε.

# %%
sigma = np.linalg.svd(f.jacobian(theta0), compute_uv=False)
print(f"sigma(D[theta0]): max {sigma.max():.4g}, min {sigma.min():.4g}")
print(f"N / sigma_min^2 = {N / sigma.min() ** 2:.4g}  vs  s_eps = {s_eps:.4g}")
assert N / sigma.min() ** 2 > s_eps

# %% [markdown]
# ## A stopping time for every target
#
# The law gives s_ε for any ε before any integration.  To check it without using it,
# integrate the adapted flow to a generous horizon s = 100 with a terminal event at
# C = ε (`eps=`): the event fires at the predicted time.

# %%
for target in (1e-2, 1e-4, 1e-6):
    s_target = sr.stopping_time(target, C0, N)
    run = sr.integrate(sr.AdaptedFlow(f, cost), theta0, 100.0, method="output-exact", eps=target)
    print(
        f"eps = {target:<6g}: predicted s_eps = {s_target:8.4f}, event at s = {run.event_s:8.4f} "
        f"({run.status.value}, {run.n_jacobian} Jacobians)"
    )
    assert abs(run.event_s - s_target) < 1e-6 * s_target

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.semilogy(adapted.s, adapted.cost, "C0-", lw=2, label="adapted flow (2.4)")
ax.semilogy(standard.s, standard.cost, "C1-", lw=2, label="standard flow (1.9)")
s_grid = np.linspace(0, s_eps, 200)
ax.semilogy(s_grid, C0 * np.exp(-2 * s_grid / N), "k:", label=r"law $C(0)e^{-2s/N}$ (2.6)")
ax.axhline(eps, color="grey", lw=0.8, ls="--")
ax.axvline(s_eps, color="grey", lw=0.8, ls="--")
ax.annotate(r"$\varepsilon$", (1, eps), xytext=(2, 4), textcoords="offset points")
ax.annotate(r"$s_\varepsilon$ (2.18)", (s_eps, C0), xytext=(-52, -12), textcoords="offset points")
ax.set(xlabel="s", ylabel="C(s)", xlim=(0, s_eps * 1.02), title="Same start, same time")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
