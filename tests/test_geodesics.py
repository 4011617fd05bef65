"""Normal sub-Riemannian geodesics through geomstats' ``SubRiemannianMetric`` (teaching).

Claims tested:
* Heisenberg: the symplectic-Euler normal geodesic of geomstats converges at
  first order to the closed form (projection a circle, z = enclosed area);
* along the discrete geodesic the velocity lies in the distribution: exactly
  at the start of each step (q_{k+1} − q_k = dt·F Fᵀλ ∈ Δ_{q_k}, round-off) and
  to O(dt) at its end — the integrator's tolerance; the Hamiltonian drifts O(dt);
* the same holds on the sub-Riemannian manifold (R^K, V, h) of a tiny network
  (2.33), whose velocity is horizontal (∈ V = range Dᵀ).
"""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import EPS, orthonormality_tol, routes_agree_tol

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.geometry.bundles import PullbackBundle


def heisenberg_closed_form(p0, t):
    """Normal geodesic from 0 with covector p0 = (a, b, ω) for X = ∂x − y/2 ∂z, Y = ∂y + x/2 ∂z.

    h = (Xᵀλ, Yᵀλ) rotates at angular speed ω, so x + iy = h0 (e^{iωt} − 1)/(iω)
    and z = |h0|² (t − sin(ωt)/ω) / (2ω): the area swept by the planar circle.
    """
    a, b, omega = p0
    h0 = a + 1j * b
    w = h0 * (np.exp(1j * omega * t) - 1.0) / (1j * omega)
    z = abs(h0) ** 2 * (t - np.sin(omega * t) / omega) / (2.0 * omega)
    return np.array([w.real, w.imag, z])


def _trajectory(metric, q0, p0, end_time, n_steps):
    states = metric.symp_flow(metric.hamiltonian, end_time=end_time, n_steps=n_steps)(
        np.stack([q0, p0])
    )
    return np.asarray(states)


def _off_distribution(dist, q, v):
    """|Π^⊥_q v|: component of v orthogonal to Δ_q."""
    E = dist.orthonormal_basis(q).basis
    return np.linalg.norm(v - E @ (E.T @ v))


@pytest.mark.parametrize("p0", [(1.0, 0.0, 2.0), (0.3, -0.8, -3.0), (0.5, 0.5, 0.7)])
def test_heisenberg_geodesic_converges_to_closed_form_at_first_order(p0):
    dist = catalog.heisenberg()
    metric = dist.sub_riemannian_metric()
    p0 = np.array(p0)
    exact = heisenberg_closed_form(p0, 1.0)
    errors = [
        np.linalg.norm(metric.exp(p0, np.zeros(3), n_steps=n) - exact) for n in (100, 200, 400)
    ]
    # symplectic Euler is first order: doubling the steps halves the error (±20%)
    for coarse, fine in zip(errors, errors[1:], strict=False):
        assert 1.6 < coarse / fine < 2.4
    assert errors[-1] < 0.02 * np.linalg.norm(exact)


def test_heisenberg_velocity_stays_in_the_distribution():
    """Each symplectic-Euler step moves along v_k = F Fᵀλ_k ∈ Δ_{q_k}.

    For Heisenberg the step stays horizontal at its end point too: the normal
    (y/2, −x/2, 1) at q_k + dt·v_k gives dt(h2h1 − h1h2)/2 = 0.  So the discrete
    geodesic is a horizontal polygon and z − z0 is exactly its swept area
    ½Σ(x dy − y dx): round-off is the only error in these checks.
    """
    dist = catalog.heisenberg()
    metric = dist.sub_riemannian_metric()
    q0, p0 = np.array([0.2, -0.1, 0.4]), np.array([0.7, -0.4, 2.5])
    n = 100
    states = _trajectory(metric, q0, p0, 1.0, n)
    q = states[:, 0]
    dt = 1.0 / n
    v = np.diff(q, axis=0) / dt
    speed = np.linalg.norm(v, axis=1).max()
    # Round-off model: q_{k+1} = fl(q_k + dt·v_k) is rounded by ≤ eps·|q|, so the
    # recovered v_k = (q_{k+1} − q_k)/dt carries ~eps·|q|/dt per step; the basis E
    # of Δ_q is orthonormal to orthonormality_tol(3), adding that times |v|.  The
    # claimed O(dt) drift of a non-horizontal step would be ~dt·speed² ≈ 1e-2.
    q_max = np.abs(q).max()
    off_tol = routes_agree_tol(2 * q_max / dt) + orthonormality_tol(3) * speed
    assert max(_off_distribution(dist, q[k], v[k]) for k in range(n)) <= off_tol
    assert max(_off_distribution(dist, q[k + 1], v[k]) for k in range(n)) <= off_tol
    x, y = q[:, 0], q[:, 1]
    terms = x[:-1] * np.diff(y) - y[:-1] * np.diff(x)
    area = 0.5 * np.sum(terms)
    # z_n − z_0 accumulates n rounded increments (≤ eps·|z| each) whose own
    # values are rounded by ~eps·|q|² (the velocity error above times dt·|q|);
    # the area sum rounds by ≤ n·eps·Σ|terms|; k = 4 (Higham's γ_n, with room)
    z_max = np.abs(q[:, 2]).max()
    area_tol = 4 * n * EPS * (z_max + q_max**2 + np.abs(terms).sum())
    assert abs((q[-1, 2] - q[0, 2]) - area) <= area_tol
    # the Hamiltonian ½|Fᵀλ|² drifts O(dt) under symplectic Euler
    H = np.array([float(metric.hamiltonian(s)) for s in states])
    H_half = np.array(
        [float(metric.hamiltonian(s)) for s in _trajectory(metric, q0, p0, 1.0, 2 * n)]
    )
    assert 1.6 < np.ptp(H) / np.ptp(H_half) < 2.4
    assert np.ptp(H) <= 0.05 * H[0]


def test_network_geodesic_velocity_is_horizontal():
    """(R^K, V, h) of (2.33): the normal geodesic's velocity Pen Penᵀλ lies in V = range Dᵀ."""
    mlp = sr.MLP([1, 2, 1], activation="tanh")
    f = sr.NetworkMap(mlp, np.array([[-1.0], [0.7]]))
    bundle = PullbackBundle(f)
    dist = bundle.distribution()
    metric = bundle.sub_riemannian_metric()
    theta0 = mlp.init(2)
    lam0 = 0.2 * np.random.default_rng(2).normal(size=mlp.K)
    drift = []
    for n in (20, 40):
        states = _trajectory(metric, theta0, lam0, 0.5, n)
        q, lam = states[:, 0], states[:, 1]
        dt = 0.5 / n
        v = np.diff(q, axis=0) / dt
        speed = np.linalg.norm(v, axis=1).max()
        at_start = max(_off_distribution(dist, q[k], v[k]) for k in range(n))
        at_end = max(_off_distribution(dist, q[k + 1], v[k]) for k in range(n))
        assert at_start <= 1e-10 * speed
        drift.append(at_end)
        # its push-forward is Penᵀλ: the output curve moves with D·v = Penᵀλ
        for k in (0, n - 1):
            D = f.jacobian(q[k])
            U = np.asarray(bundle.frame(q[k]))
            np.testing.assert_allclose(D @ v[k], U.T @ lam[k], atol=1e-10 * (1 + speed))
        H = np.array([float(metric.hamiltonian(s)) for s in states])
        assert np.ptp(H) <= 0.1 * H[0]
    assert drift[1] < 0.7 * drift[0]  # O(dt): halves (up to higher-order terms)


def test_closed_form_is_a_normal_geodesic():
    """The reference itself: velocity in Δ and unit h-speed when |h0| = 1 (guards the formula)."""
    p0 = np.array([0.6, 0.8, 1.7])
    dist = catalog.heisenberg()
    for t in np.linspace(0.1, 2.0, 7):
        q = heisenberg_closed_form(p0, t)
        v = (heisenberg_closed_form(p0, t + 1e-6) - heisenberg_closed_form(p0, t - 1e-6)) / 2e-6
        assert _off_distribution(dist, q, v) < 1e-8
        coeffs = np.linalg.lstsq(np.asarray(dist.frame(q)), v, rcond=None)[0]
        assert np.linalg.norm(coeffs) == pytest.approx(1.0, abs=1e-8)
