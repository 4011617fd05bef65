"""grad_h and grad_g for a network, in five lines each (§2.3 and §5.1).

A network on N training inputs is a smooth map f : R^K → R^{QN}, θ ↦ x[θ].

* Over-parametrized (K > QN): the pullback bundle V = range Dᵀ with metric
  h(u, w) = (Du)·(Dw) (2.22) has the gradient grad_h = Pen[D] Pen[D]ᵀ ∇_θ (2.30);
  pushed forward, D grad_h C = ∇ₓC (1.28): the output layer sees the Euclidean
  gradient, whatever the parameters are.
* Under-parametrized (K < QN): the pullback metric g = DᵀD (5.15) has
  grad_g = g⁻¹∇_θ (5.17); pushed forward, D grad_g C = 𝒫∇ₓC (5.3), the
  projection of the Euclidean gradient onto the tangent space of the image.

Run:  python examples/grad_h_and_grad_g.py
"""

import numpy as np

import subriemann as sr

# --- the five lines: grad_h of the cost for an over-parametrized network -----------
data = sr.TrainingData.one_hot(np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 3)
f = sr.NetworkMap(sr.MLP([2, 6, 3]), data.inputs)  # K = 39 > QN = 24
theta, cost = f.mlp.init(seed=0), sr.L2Cost.from_data(data)
grad_theta = f.vjp(theta, cost.grad(f(theta)))  # ∇_θC = Dᵀ∇ₓC  (1.18)
grad_h = sr.PullbackBundle(f).grad(theta, grad_theta)  # Pen Penᵀ ∇_θC  (2.30)

# --- and grad_g for an under-parametrized one ---------------------------------------
f2 = sr.NetworkMap(sr.MLP([2, 2, 3]), data.inputs)  # K = 15 < QN = 24
theta2 = f2.mlp.init(seed=0)
grad_theta2 = f2.vjp(theta2, cost.grad(f2(theta2)))
grad_g = sr.PullbackMetric(f2).grad(theta2, grad_theta2)  # (DᵀD)⁻¹ ∇_θC  (5.17)

# --- what they do in the output layer -----------------------------------------------
D, D2 = f.jacobian(theta), f2.jacobian(theta2)
grad_x, grad_x2 = cost.grad(f(theta)), cost.grad(f2(theta2))
svd2 = sr.JacobianSVD(D2)
print(f"over:  K = {f.dim_in} > QN = {f.dim_out}, rank D = {sr.JacobianSVD(D).rank}")
print(
    f"  |D grad_h C - grad_x C| / |grad_x C| = "
    f"{np.linalg.norm(D @ grad_h - grad_x) / np.linalg.norm(grad_x):.2e}   (1.28): 0"
)
print(
    f"  |grad_h C| = {np.linalg.norm(grad_h):.4g},  |grad_theta C| = {np.linalg.norm(grad_theta):.4g}"
)
print(f"under: K = {f2.dim_in} < QN = {f2.dim_out}, rank D = {svd2.rank}")
print(
    f"  |D grad_g C - P grad_x C| / |P grad_x C| = "
    f"{np.linalg.norm(D2 @ grad_g - svd2.project_range(grad_x2)) / np.linalg.norm(svd2.project_range(grad_x2)):.2e}"
    "   (5.3): 0"
)
print(
    f"  |(1 - P) grad_x C| = {np.linalg.norm(grad_x2 - svd2.project_range(grad_x2)):.4g}"
    "   (the part of the gradient no parameter change can follow)"
)
