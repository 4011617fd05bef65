"""σ_min(D) along an orbit: integrate reports a collapse that Theorem 2.1's hypothesis excludes.

Theorem 2.1 needs rank D = QN with σ_min(D[θ(s)]) bounded away from 0 along the whole
orbit.  On f(θ) = θ₁θ₂ (K = 2, QN = N = 1, y = 0) the adapted orbit from θ₀ = (1, 1)
stays on the diagonal θ₁ = θ₂ = t (the velocity −D⁺∇ₓC = −x(θ₂, θ₁)/|θ|² keeps
θ₁ = θ₂), so x = t² = e^{−s} (2.7) and σ_min(D) = |θ| = √2·e^{−s/2} in closed form:
it falls below 10⁻³·σ_min(0) at s = 2 ln 10³ ≈ 13.8 while the run goes on and C decays
by the law.  A linear map of full rank keeps σ_min constant and must not be reported.
"""

import math
import warnings

import autograd.numpy as anp
import numpy as np
import pytest

import subriemann as sr
from subriemann.errors import ConditioningWarning
from subriemann.flows import SIGMA_COLLAPSE_FRACTION, AdaptedFlow


def collapse_entries(trajectory):
    return [w for w in trajectory.warnings if w.startswith("sigma_min(D) collapsed")]


def product_flow():
    f = sr.AutodiffMap(lambda t: anp.array([t[0] * t[1]]), 2, 1)
    return AdaptedFlow(f, sr.L2Cost(np.zeros(1), n_samples=1))


@pytest.mark.parametrize(
    ("method", "record"), [("output-exact", True), ("output-exact", False), ("dopri5", True)]
)
def test_sigma_min_collapse_along_a_continuing_orbit_is_reported_once(method, record):
    s_end = 20.0  # closed form: sigma_min(s_end)/sigma_min(0) = e^{-10} < 1e-3
    assert math.exp(-s_end / 2) < SIGMA_COLLAPSE_FRACTION
    with pytest.warns(ConditioningWarning, match="sigma_min\\(D\\) collapsed") as caught:
        tr = sr.integrate(product_flow(), [1.0, 1.0], s_end, method=method, record=record)
    assert tr.status == "completed"
    assert sum("collapsed" in str(w.message) for w in caught) == 1
    (entry,) = collapse_entries(tr)
    # the entry states sigma_min(0), the minimum and where, read from the recorded orbit
    assert f"from {tr.sigma_min[0]:.3g} at s = 0" in entry
    assert f"minimum of {np.min(tr.sigma_min):.3g} at s = {tr.s[-1]:.6g}" in entry
    if record:
        first = tr.s[np.argmax(tr.sigma_min < SIGMA_COLLAPSE_FRACTION * tr.sigma_min[0])]
        assert f"first at s = {first:.6g}" in entry
        # the orbit decreases sigma_min monotonically, as the closed form sqrt(2) e^{-s/2} does
        assert np.all(np.diff(tr.sigma_min) < 0)


def test_a_mild_fall_of_sigma_min_is_not_reported():
    # s_end = 10: sigma_min falls by e^{-5} ~ 7e-3, above the fraction 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConditioningWarning)
        tr = sr.integrate(product_flow(), [1.0, 1.0], 10.0)
    assert tr.sigma_min[-1] / tr.sigma_min[0] > SIGMA_COLLAPSE_FRACTION
    assert collapse_entries(tr) == []


@pytest.mark.parametrize("method", ["output-exact", "rk45"])
def test_a_well_conditioned_orbit_has_no_collapse_warning(method):
    A = np.array([[1.0, 0.5, -0.2], [0.0, 2.0, 1.0]])
    f = sr.LinearMap(A)
    flow = AdaptedFlow(f, sr.L2Cost(np.array([1.0, -2.0]), n_samples=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConditioningWarning)
        tr = sr.integrate(flow, np.zeros(3), 30.0, method=method)
    assert tr.status == "completed"
    assert collapse_entries(tr) == [] and tr.warnings == []
    # sigma_min of a linear map is constant along the orbit (the singular values of A)
    assert np.ptp(tr.sigma_min) == 0.0
