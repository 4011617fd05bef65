"""Over- vs under-parametrized: the same flow −D⁺∇ₓC, two different geometries.

* Over-parametrized, K > QN, rank D = QN (2.1): the output follows x′ = −∇ₓC
  (2.5) and the cost reaches the global minimum at the rate e^{−2s/N} (2.6).
* Under-parametrized, K < QN, rank D = K (5.1): f is an immersion, the flow is
  −grad_g C for g = DᵀD (5.18), and the output follows the *constrained* flow
  x′ = −𝒫∇ₓC (5.3): 𝒫^⊥ x′ = 0 (5.5), the cost decreases (5.12), and at a
  critical point C = (N/2)|𝒫^⊥∇ₓC|² (5.7) > 0 — no global minimum in general.
* Borderline, K = QN (§6): both formulas are the same vector field (6.2).

Run:  python examples/under_vs_over.py
Writes subriemann-out/examples/under_vs_over.png.
"""

from pathlib import Path

import numpy as np

import subriemann as sr

# N = 20 samples in 3 classes: QN = 60
data = sr.TrainingData.blobs(n_samples=20, n_classes=3, input_dim=2, spread=0.6, seed=0)
cost = sr.L2Cost.from_data(data)
N = data.N

runs = {}
for name, hidden in (("over", 16), ("under", 2)):
    mlp = sr.MLP([2, hidden, 3])  # K = 99 (over) or 15 (under)
    f = sr.NetworkMap(mlp, data.inputs)
    theta0 = mlp.init(seed=0)
    flow = sr.AdaptedFlow(f, cost, regime=name)
    method = "output-exact" if name == "over" else "rk45"
    traj = sr.integrate(flow, theta0, 60.0, method=method, rtol=1e-8, atol=1e-10)
    runs[name] = (f, traj)
    print(
        f"{name:5s}: K = {mlp.K:3d}, QN = {f.dim_out}, status {traj.status}, "
        f"C: {traj.cost[0]:.4g} -> {traj.final_cost:.4g}, law residual {traj.law_residual():.1e}"
    )

# Over: the law (2.6) holds to integrator accuracy.
f, traj = runs["over"]
assert traj.law_residual() < 1e-6

# Under: cost monotone (5.12); the output velocity has no component off range D (5.5);
# C ≥ (N/2)|𝒫^⊥∇ₓC|² at every point, with equality at a critical point (5.7).
f, traj = runs["under"]
assert np.all(np.diff(traj.cost) <= 1e-12 * traj.cost[:-1])
theta = traj.theta[-1]
svd = sr.JacobianSVD(f.jacobian(theta))
grad_x = cost.grad(f(theta))
xdot = f.jacobian(theta) @ sr.AdaptedFlow(f, cost, regime="under")(theta)
off = grad_x - svd.project_range(grad_x)  # 𝒫^⊥∇ₓC
print(
    f"under: |P^perp x'| / |x'| = {np.linalg.norm(xdot - svd.project_range(xdot)) / np.linalg.norm(xdot):.1e}"
    "   (5.5): 0"
)
print(
    f"under: C(s_end) = {traj.final_cost:.6g} >= (N/2)|P^perp grad_x C|^2 = "
    f"{N / 2 * off @ off:.6g}   (equal at a critical point, (5.7))"
)

# Borderline K = QN (§6): N = 9, Q = 3, one hidden layer of 4 units: K = 27 = QN.
small = sr.TrainingData.blobs(n_samples=9, n_classes=3, input_dim=2, seed=1)
fb = sr.NetworkMap(sr.MLP([2, 4, 3]), small.inputs)
cb = sr.L2Cost.from_data(small)
tb = fb.mlp.init(seed=1)
v_over = sr.AdaptedFlow(fb, cb, regime="over")(tb)
v_under = sr.AdaptedFlow(fb, cb, regime="under")(tb)
print(
    f"borderline K = QN = {fb.dim_in}: |v_over - v_under| / |v_over| = "
    f"{np.linalg.norm(v_over - v_under) / np.linalg.norm(v_over):.1e}   (6.2)-(6.3): 0"
)

out = Path("subriemann-out/examples")
path = sr.report.plot_cost_law(
    {name: (t.s, t.cost) for name, (_, t) in runs.items()},
    runs["over"][1].cost[0],
    N,
    out / "under_vs_over.png",
    # (2.6) describes the over-parametrized orbit only: no law is drawn for the under one
    laws={"over": "euclidean", "under": None},
)
print(
    f"figure: {path} (each run starts from its own network's C(0); the law line is the over run's)"
)
