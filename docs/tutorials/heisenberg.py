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
# # Heisenberg: brackets, a circle that climbs, geodesics and the sphere
#
# The Heisenberg distribution is the smallest sub-Riemannian manifold: on R³ with
# coordinates (x, y, z), the catalog's frame is
#
# $$X = \partial_x - \tfrac{y}{2}\partial_z, \qquad Y = \partial_y + \tfrac{x}{2}\partial_z .$$
#
# A curve is *horizontal* when q′ = u₁X(q) + u₂Y(q); its length is ∫|u| dt (the frame is
# declared orthonormal).  This tutorial checks four classical facts with the package:
# the bracket [X, Y] = ∂z, the lift of a closed plane curve climbs by its enclosed area,
# the normal geodesics are lifted circles, and the unit sphere has its poles at
# z = ±1/(4π) with conjugate points where the circles close.

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import brentq, minimize_scalar

import subriemann as sr

heis = sr.catalog.heisenberg()
q0 = np.array([0.3, -0.5, 1.0])
print(heis)

# %% [markdown]
# ## Brackets and the Frobenius verdict
#
# With [X, Y] = DY·X − DX·Y: the z-component of Y is x/2 and of X is −y/2, so
# [X, Y] = ½∂z − (−½)∂z = ∂z at every point.  It is not in span{X, Y}, so the
# distribution is not involutive (Frobenius (2.31)) and the growth vector is (2, 3):
# one bracket reaches every direction (Chow–Rashevskii).

# %%
bracket = sr.lie_bracket(lambda q: heis.frame(q)[:, 0], lambda q: heis.frame(q)[:, 1], q0)
report = heis.frobenius_defect(q0)
growth = heis.growth_vector(q0)
print("[X, Y](q0) =", bracket)
print(f"involutive: {report.is_involutive}, relative defect {report.relative_defect:.3f}")
print("growth vector:", tuple(growth))
assert np.allclose(bracket, [0.0, 0.0, 1.0], atol=1e-14)
assert not report.is_involutive
assert tuple(growth) == (2, 3)

# %% [markdown]
# ## A circle that climbs by its area
#
# Along a horizontal curve, z′ = (x y′ − y x′)/2, so by Green's theorem the lift of a
# closed plane curve c gains
#
# $$z(T) - z(0) = \tfrac12\oint_c (x\,dy - y\,dx) = \operatorname{Area}(c)$$
#
# (signed: counter-clockwise positive).  With this normalisation of the catalog frame
# (the factor ½ in X and Y) the gain is exactly the area, with no factor 2.  We drive a
# circle of radius r and an ellipse with semi-axes a, b, both centred at the origin, and
# compare with πr² and πab; the clockwise circle sinks by the same amount.


# %%
def ellipse_controls(a, b, sign=1.0):
    """u(t) = c′(t) for c(t) = (a cos t, sign·b sin t): X, Y have unit x, y components."""
    return lambda t: np.array([-a * np.sin(t), sign * b * np.cos(t)])


lifts = {}
for name, a, b, sign in (
    ("circle r = 1", 1.0, 1.0, 1.0),
    ("circle r = 0.5", 0.5, 0.5, 1.0),
    ("ellipse 1.5 x 0.4", 1.5, 0.4, 1.0),
    ("circle r = 1, clockwise", 1.0, 1.0, -1.0),
):
    curve = heis.horizontal_curve([a, 0.0, 0.0], ellipse_controls(a, b, sign), 2 * np.pi)
    climb = curve.end[2] - 0.0
    area = sign * np.pi * a * b
    lifts[name] = curve
    print(f"{name:24s} climb {climb:+.10f}   signed area {area:+.10f}")
    assert np.allclose(curve.end[:2], [a, 0.0], atol=1e-9)  # the plane curve closes
    assert abs(climb - area) < 1e-9 * max(1.0, abs(area))  # ... and z gains its area

# %% [markdown]
# The gap is holonomy: the controls trace a closed loop, the positions do not.  The
# commutator loop X, Y, −X, −Y of side ε is a square of area ε², so its gap is exactly
# ε²∂z = ε²[X, Y]; `holonomy_test` fits the order 2 of that gap for every pair.

# %%
gap = heis.loop_displacement(q0, 0, 1, 0.1)
test = heis.holonomy_test(q0)
print("commutator loop, eps = 0.1:", np.round(gap, 12) + 0.0)
print("fitted orders:", test.orders)
assert np.allclose(gap, [0.0, 0.0, 0.01], atol=1e-12)
assert abs(test.orders[0] - 2.0) < 0.05

# %%
fig = plt.figure(figsize=(6.4, 4.8))
ax = fig.add_subplot(projection="3d")
for name, curve in lifts.items():
    ax.plot(*curve.points.T, label=name)
    ax.plot(curve.points[:, 0], curve.points[:, 1], 0 * curve.points[:, 2], "k:", lw=0.6)
ax.set(xlabel="x", ylabel="y", zlabel="z", title="Lifts of closed plane curves climb by their area")
ax.legend(loc="upper left", fontsize=8)

# %% [markdown]
# ## Normal geodesics are lifted circles
#
# The normal geodesics solve Hamilton's equations of H(q, p) = ½(⟨p, X⟩² + ⟨p, Y⟩²).
# From the origin with covector p0 = (a, b, ω), the control rotates at angular speed ω,
# and the closed form is
#
# $$x + iy = (a + ib)\,\frac{e^{i\omega t} - 1}{i\omega}, \qquad
#   z = \frac{a^2 + b^2}{2\omega^2}\,(\omega t - \sin \omega t):$$
#
# a circle of radius |u|/|ω| in the plane, lifted; z is the area it sweeps (Dido's
# problem).  We compare the integrated geodesic with it.


# %%
def heisenberg_geodesic(p0, t):
    """The closed form above, at time t from the origin."""
    a, b, w = p0
    xy = (a + 1j * b) * (np.exp(1j * w * t) - 1) / (1j * w)
    return np.array([xy.real, xy.imag, (a * a + b * b) / (2 * w * w) * (w * t - np.sin(w * t))])


for p0 in ((1.0, 0.0, 2 * np.pi), (0.6, -0.8, -3.0), (0.28, 0.96, 0.7)):
    geo = heis.normal_geodesic(np.zeros(3), p0, 1.0, rtol=1e-12)
    error = np.linalg.norm(geo.end - heisenberg_geodesic(p0, 1.0))
    print(
        f"p0 = ({p0[0]}, {p0[1]}, {p0[2]:.4f}): end {np.round(geo.end, 6) + 0.0}, closed-form error {error:.0e}"
    )
    assert error < 1e-9
    assert geo.hamiltonian_drift < 1e-10

# %% [markdown]
# ## The unit sphere and its conjugate points
#
# A unit-speed geodesic (a² + b² = 1) stops minimising when its circle closes, at the
# cut time 2π/|ω|.  The unit sphere is therefore made of the ends at time 1 of the
# geodesics with |ω| ≤ 2π, at height z(1) = (ω − sin ω)/(2ω²).  Its equator (ω = 0,
# straight lines) is the unit circle of the plane; its poles, where the whole circle of
# geodesics with |ω| = 2π arrives at once, are at z = ±1/(4π).  They are *dimples*: the
# height (ω − sin ω)/(2ω²) has its maximum where ω(1 − cos ω) = 2(ω − sin ω), i.e. at
# ω = π, with height 1/(2π): twice the pole's.  The sphere is an apple, higher around
# the pole than at it.  scipy's maximiser checks ω = π independently.


# %%
def cut_time(p):
    """2π/|ω|: the time the geodesic's circle closes (never, for a straight line)."""
    return 2 * np.pi / abs(p[2]) if p[2] != 0 else np.inf


# covectors (cos α, sin α, ω): two directions α, and ω across [−2π, 2π]
covectors = [
    (np.cos(a), np.sin(a), w) for a in (0.0, 2.0) for w in np.linspace(-2 * np.pi, 2 * np.pi, 9)
]
unit = heis.sphere(np.zeros(3), 1.0, covectors=covectors, stop=cut_time)
pole = 1 / (4 * np.pi)
best = minimize_scalar(
    lambda w: -(w - np.sin(w)) / (2 * w * w), bounds=(1.0, 2 * np.pi), method="bounded"
)
z_max = -best.fun
ends = np.array([heisenberg_geodesic(p, 1.0) if p[2] else [*p[:2], 0.0] for p in unit.covectors])
at_pole = np.isclose(np.abs(unit.covectors[:, 2]), 2 * np.pi)
print(
    f"{len(unit.points)} sphere points, none cut short: {not unit.truncated.any()}; "
    f"closed-form error {np.abs(unit.points - ends).max():.0e}"
)
print(
    "ends of the geodesics with |omega| = 2 pi:",
    (np.round(unit.points[at_pole], 10) + 0.0).tolist(),
)
print(f"pole height 1/(4 pi) = {pole:.6f}; highest point z = {z_max:.6f} at omega* = {best.x:.4f}")
assert not unit.truncated.any() and np.abs(unit.points - ends).max() < 1e-8
assert np.allclose(np.abs(unit.points[at_pole]), [0.0, 0.0, pole], atol=1e-9)  # the poles
assert abs(best.x - np.pi) < 1e-4 and abs(z_max - 1 / (2 * np.pi)) < 1e-9  # ω* = π
assert np.abs(unit.points[:, 2]).max() <= z_max + 1e-9 and z_max > pole  # dimples
assert np.isclose(np.abs(unit.points[:, 2]).max(), z_max, rtol=1e-9)  # ω = ±π is sampled

# %% [markdown]
# t is *conjugate* along a geodesic when the exponential map is singular there: nearby
# geodesics from the origin meet again to first order.  For Heisenberg the conjugate times
# of p0 = (a, b, ω) with a² + b² = 1 are 2π/|ω| (the circle closes and all its rotations
# meet) and 2τ/|ω| with τ ≈ 4.4934 the first positive root of tan τ = τ.  We compute τ
# with scipy, independently of the package.

# %%
tau = brentq(lambda s: np.tan(s) - s, np.pi + 0.1, 1.5 * np.pi - 1e-6)
p0 = (0.6, -0.8, -3.0)
times = heis.conjugate_times(np.zeros(3), p0, 3.5)
print("conjugate times:", np.round(times, 10))
print("2 pi/|w|, 2 tau/|w| =", np.round([2 * np.pi / 3, 2 * tau / 3], 10))
assert len(times) == 2
assert np.allclose(times, [2 * np.pi / 3, 2 * tau / 3], rtol=1e-8)

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6))
rho = np.hypot(unit.points[:, 0], unit.points[:, 1])
ax.plot(rho, unit.points[:, 2], "o", ms=4, label="sphere points (package)")
w = np.linspace(-2 * np.pi, 2 * np.pi, 401)
profile = np.array([heisenberg_geodesic((1.0, 0.0, wi if wi else 1e-12), 1.0) for wi in w])
ax.plot(np.hypot(profile[:, 0], profile[:, 1]), profile[:, 2], "k-", lw=0.8, label="closed form")
ax.plot([0, 0], [-pole, pole], "rx", label=r"poles $z = \pm 1/(4\pi)$")
ax.set(xlabel=r"$\sqrt{x^2 + y^2}$", ylabel="z", title="The Heisenberg unit sphere, in profile")
ax.legend(loc="center left", fontsize=8)
fig.tight_layout()
