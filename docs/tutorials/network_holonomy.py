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
# # A network's V: horizontal lifts, holonomy, the fibre of global minimisers
#
# A network evaluated on its N training inputs is a smooth map f : R^K → R^{QN}.  Where
# rank D = QN (2.1), the pullback bundle V = range Dᵀ ⊂ TR^K has the frame
# u_a = Pen[D]e_a (1.23), and D u_a = e_a: each frame field is f-related to a constant
# coordinate field of the output space.  This tutorial walks through what that means
# for curves in parameter space, on a network small enough to see: layers [1, 2, 1]
# (tanh), N = 2 inputs, so K = 7 parameters and QN = 2 outputs.

# %%
import autograd.numpy as anp
import matplotlib.pyplot as plt
import numpy as np

import subriemann as sr

net = sr.MLP([1, 2, 1])
inputs = np.random.default_rng(1).normal(size=(2, 1))
f = sr.NetworkMap(net, inputs)
V = sr.PullbackBundle(f)
theta0 = net.init(seed=1)
x0 = f(theta0)
print(f"K = {net.K}, QN = {f.dim_out}, rank D[theta0] = {V.rank_report(theta0).rank}")
assert V.rank_report(theta0).rank == f.dim_out  # the rank condition (2.1)

# %% [markdown]
# ## The horizontal lift of an output curve
#
# An output curve x(t) from x0 = f(θ0) has exactly one horizontal lift: θ′ = Pen[D]x′(t),
# so that f(θ(t)) = x(t) and θ′ ∈ V (2.30).  The paper's adapted flow (2.4) is the lift
# of the output flow (1.13), x(s) = y + e^{−s/N}(x0 − y).  We lift that curve and
# compare with the adapted flow integrated as an ODE in θ by DOP853 — a second,
# independent route to the same curve.

# %%
y, N = np.array([0.5, -0.3]), 2
lift = V.horizontal_lift(theta0, lambda s: y + anp.exp(-s / N) * (x0 - y), 3.0)
orbit = sr.integrate(
    sr.AdaptedFlow(f, sr.L2Cost(y, n_samples=N)),
    theta0,
    3.0,
    method="DOP853",
    rtol=1e-12,
    atol=1e-14,
)
gap = np.linalg.norm(lift.end - orbit.final_theta) / np.linalg.norm(orbit.final_theta)
print(f"lift: {len(lift)} steps, max output closure {lift.max_closure:.0e} (relative)")
print(f"lift vs adapted orbit at s = 3: relative difference {gap:.0e}")
assert lift.max_closure <= 1e-10
assert gap < 1e-8

# %% [markdown]
# ## Holonomy: a closed output loop whose lift does not close
#
# Constant fields commute, so D[u_a, u_b] = [e_a, e_b] = 0: every bracket of V is
# *vertical*, tangent to the fibre f⁻¹(x) (2.32), and nothing forces it to vanish.
# Lift the square loop of side ε along e₀, e₁: the outputs come back to x0, but θ moves
# by ε²[u₀, u₁](θ0) + O(ε³).  We compute the bracket independently, by central
# differences of the frame u_a(θ) = D⁺e_a with numpy's pseudo-inverse, and watch
# displacement / ε² converge to it at rate O(ε).


# %%
def frame_field(a):
    return lambda th: np.linalg.pinv(f.jacobian(th))[:, a]


def bracket_by_differences(X, Y, p, h=1e-5):
    """[X, Y] = DY·X − DX·Y with central differences of the fields."""

    def directional(F, v):
        return (F(p + h * v) - F(p - h * v)) / (2 * h)

    return directional(Y, X(p)) - directional(X, Y(p))


bracket = bracket_by_differences(frame_field(0), frame_field(1), theta0)
D0 = f.jacobian(theta0)
print(
    f"|[u0, u1]| = {np.linalg.norm(bracket):.4f}, |D [u0, u1]| = {np.linalg.norm(D0 @ bracket):.0e}"
)
errors = []
for eps in (0.04, 0.02, 0.01):
    hol = V.holonomy(theta0, sr.geometry.square_loop(x0, 0, 1, eps))
    rel = np.linalg.norm(hol.displacement / eps**2 - bracket) / np.linalg.norm(bracket)
    errors.append(rel)
    print(
        f"eps = {eps:<5}: outputs close to {hol.closure_error:.0e}, |theta(T) - theta0| = "
        f"{np.linalg.norm(hol.displacement):.3e}, |vertical part| / |gap| = "
        f"{np.linalg.norm(hol.vertical) / np.linalg.norm(hol.displacement):.4f}, "
        f"distance to eps^2 [u0, u1]: {rel:.4f}"
    )
    assert hol.closure_error <= 1e-9  # the output loop closes ...
    assert np.linalg.norm(hol.displacement) > 1e4 * hol.closure_error  # ... the lift does not
    assert np.linalg.norm(hol.vertical) > 0.99 * np.linalg.norm(hol.displacement)  # vertical
assert np.linalg.norm(D0 @ bracket) < 1e-6 * np.linalg.norm(bracket)  # the bracket is vertical
assert errors[0] > 1.6 * errors[1] > 2.56 * errors[2]  # distance to the bracket is O(eps)

# %% [markdown]
# The square is the commutator loop of the output directions.  Any small loop works: a
# circle of radius r in the (x₀, x₁) output plane encloses the area πr², and its lift
# moves θ by πr²[u₀, u₁] + O(r³) — the network's version of the Heisenberg circle that
# climbs by its area (see the [Heisenberg tutorial](heisenberg.md)).


# %%
def output_circle(r):
    def loop(t):
        return x0 + r * anp.array([anp.cos(t) - 1.0, anp.sin(t)])

    return loop


for r in (0.02, 0.01):
    hol = V.holonomy(theta0, output_circle(r), 2 * np.pi)
    rel = np.linalg.norm(hol.displacement / (np.pi * r * r) - bracket) / np.linalg.norm(bracket)
    print(
        f"circle r = {r}: |gap| / (pi r^2) = {np.linalg.norm(hol.displacement) / (np.pi * r * r):.4f}, "
        f"distance to [u0, u1]: {rel:.4f}"
    )
    assert rel < 10 * r
circle = V.holonomy(theta0, output_circle(0.3), 2 * np.pi)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.6))
t = circle.lift.t
outputs = np.array([f(th) for th in circle.lift.points])
left.plot(outputs[:, 0], outputs[:, 1], "C0-", label="output loop f(θ(t))")
left.plot(*x0, "ko", label="x0")
left.set(xlabel="$x_0$", ylabel="$x_1$", title="Outputs: the loop closes", aspect="equal")
left.legend(loc="center", fontsize=8)
for k in range(net.K):
    right.plot(t, circle.lift.points[:, k] - theta0[k], lw=1)
right.set(
    xlabel="t",
    ylabel=r"$\theta_k(t) - \theta_k(0)$",
    title="Parameters: the lift does not close",
    xlim=(0, 2 * np.pi),
)
fig.tight_layout()

# %% [markdown]
# ## Walking the fibre of global minimisers
#
# Train to a global minimiser first: the adapted flow reaches C = ε at the predicted time
# s_ε = (N/2) log(C(0)/ε) (2.18).  From there the *vertical curve* θ′ = (1 − P)w moves
# inside the fibre f⁻¹(f(θ)) (2.32): the outputs stay fixed (to the closure tolerance
# 1e-10 of the fibre correction), hence so does the cost, so it walks through the set of
# global minimisers — different parameters, the same perfect fit.

# %%
cost = sr.L2Cost(y, n_samples=N)
s_eps = sr.stopping_time(1e-22, float(cost(x0)), N)
trained = sr.integrate(sr.AdaptedFlow(f, cost), theta0, s_eps, method="output-exact")
theta_star = trained.final_theta
walk = V.vertical_curve(theta_star, np.ones(net.K), 2.0)
costs = np.array([float(cost(f(th))) for th in walk.points])
moved = np.linalg.norm(walk.end - theta_star)
print(f"trained to C = {trained.final_cost:.1e} at s = {s_eps:.3f}")
print(
    f"vertical curve: moved |theta| by {moved:.3f}; max C along it {costs.max():.1e}; "
    f"output closure {walk.max_closure:.0e}"
)
assert trained.final_cost < 1.01e-22
assert walk.max_closure <= 1e-10 and costs.max() < 1e-19
assert moved > 0.1  # a different global minimiser

# %% [markdown]
# ## The Frobenius verdict
#
# V is integrable iff all frame brackets vanish (2.31), and we have just measured one
# that does not: the Frobenius test agrees.  With one output (QN = 1, here N = 1) there
# is a single frame field, [u, u] = 0, and V is always integrable (§2.4).

# %%
verdict = V.distribution().frobenius_defect(theta0)
one = sr.NetworkMap(net, inputs[:1])
verdict_one = sr.PullbackBundle(one).distribution().frobenius_defect(theta0)
print(
    f"QN = 2: involutive = {verdict.is_involutive} (relative defect {verdict.relative_defect:.3f})"
)
print(f"QN = 1: involutive = {verdict_one.is_involutive}")
assert not verdict.is_involutive and verdict_one.is_involutive
