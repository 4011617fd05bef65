"""The adapted flow reaches the target at the predicted time; the standard flow does not.

Theorem 2.1: along θ′ = −grad_h C (2.4) the output layer follows the Euclidean
gradient flow, so C(s) = C(0)e^{−2s/N} (2.6) whatever the network, as long as
rank D = QN (2.1).  Theorem 2.3: the cost is ε at s_ε = (N/2) log(C(0)/ε) (2.18),
known before training starts.  The standard flow θ′ = −∇_θC (1.9) moves the
output by −DDᵀ∇ₓC (1.22): directions of R^{QN} with small singular values of D
crawl, and nothing predicts when — or whether — it gets to ε.

Run:  python examples/adapted_vs_standard.py
Writes subriemann-out/examples/adapted_vs_standard.png.
"""

from pathlib import Path

import numpy as np

import subriemann as sr

# A 3-class problem made in code (§1.1): labels ω, one-hot class outputs y_ℓ.
data = sr.TrainingData.blobs(n_samples=6, n_classes=3, input_dim=2, seed=0)
mlp = sr.MLP([2, 8, 3], activation="tanh")  # K = 51 > QN = 18: over-parametrized
f = sr.NetworkMap(mlp, data.inputs)
cost = sr.L2Cost.from_data(data)
theta0 = mlp.init(seed=0)

eps = 1e-8
C0 = float(cost(f(theta0)))
s_eps = sr.stopping_time(eps, C0, data.N)  # (2.18), before integrating anything
print(
    f"K = {mlp.K}, QN = {f.dim_out}, C(0) = {C0:.4g}; predicted stopping time s_eps = {s_eps:.4f}"
)

adapted = sr.integrate(sr.AdaptedFlow(f, cost), theta0, s_eps, method="output-exact")
standard = sr.integrate(
    sr.StandardFlow(f, cost), theta0, s_eps, method="rk45", rtol=1e-6, atol=1e-9
)

print(f"\n{'flow':10s}{'C(s_eps)':>12s}{'C/eps':>10s}{'law residual':>14s}{'Jacobians':>11s}")
for name, traj in (("adapted", adapted), ("standard", standard)):
    print(
        f"{name:10s}{traj.final_cost:12.4e}{traj.final_cost / eps:10.4g}"
        f"{traj.law_residual():14.2e}{traj.n_jacobian:11d}"
    )

# Theorem 2.3 to 1 %, and the law (2.6) along the whole orbit:
assert abs(adapted.final_cost / eps - 1.0) < 0.01
print(f"\nadapted: C(s_eps)/eps = {adapted.final_cost / eps:.6f}  (Theorem 2.3: 1)")
print(
    f"adapted: max |C(s) / (C(0) e^(-2s/N)) - 1| = "
    f"{np.max(np.abs(adapted.cost / sr.cost_law(adapted.s, C0, data.N) - 1)):.1e}  (Theorem 2.1: 0)"
)
print(f"standard: still {standard.final_cost / eps:.3g} times the target at s_eps")

# The singular values of D explain the difference: the standard flow's output speed along
# the left singular vector u_i is σ_i² times the adapted one's.
s = sr.JacobianSVD(f.jacobian(theta0)).singular_values
print(
    f"singular values of D[θ0]: {s.max():.3g} ... {s.min():.3g}  (σ_min² / N = {s.min() ** 2 / data.N:.1e})"
)

out = Path("subriemann-out/examples")
path = sr.report.plot_cost_law(
    {"adapted": (adapted.s, adapted.cost), "standard": (standard.s, standard.cost)},
    C0,
    data.N,
    out / "adapted_vs_standard.png",
    eps=eps,
    s_stop=s_eps,
)
print(f"figure: {path}")
