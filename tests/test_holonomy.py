"""Horizontal curves, commutator-loop holonomy, horizontal lifts and vertical curves (issue 13).

Every known answer is derived in its test's docstring.  Tolerances: an adaptive
run at (rtol, atol) has global error ≲ k·(atol + rtol·scale)·horizon
(``ode_global_error``); comparisons of two routes use ``routes_agree_tol``.
"""

import math

import autograd.numpy as anp
import numpy as np
import pytest
from tolerances import EPS, ode_global_error, routes_agree_tol

import subriemann as sr
from subriemann.distributions import Distribution, catalog
from subriemann.errors import InputError
from subriemann.geometry import lifts, loops
from subriemann.geometry.bundles import PullbackBundle
from subriemann.subriemannian import curves, endpoint, holonomy


def circle(sign=1.0):
    """u = (−sin t, ±cos t): x = cos t, y = ±sin t, the unit circle from (1, 0)."""
    return lambda t: np.array([-np.sin(t), sign * np.cos(t)])


# -- Heisenberg -----------------------------------------------------------------------------


def test_heisenberg_circle_climbs_by_the_enclosed_area():
    """X = ∂x − (y/2)∂z, Y = ∂y + (x/2)∂z (the catalog's frame), q′ = u₁X + u₂Y.

    z′ = (x u₂ − y u₁)/2 = (x y′ − y x′)/2, so z(T) − z(0) = ½∮(x dy − y dx) =
    the signed enclosed area (Green).  The unit circle counter-clockwise
    encloses +π, clockwise −π; x, y return to (1, 0); the length is 2π.
    """
    H = catalog.heisenberg()
    q0 = np.array([1.0, 0.0, 0.0])
    tol = ode_global_error(1e-10, 1e-12, scale=math.pi, horizon=2 * math.pi)
    for sign in (1.0, -1.0):
        c = curves.horizontal_curve(H, q0, circle(sign), 2 * np.pi)
        assert c.status == "completed"
        np.testing.assert_allclose(c.end - q0, [0.0, 0.0, sign * np.pi], atol=1e-10)
        assert abs(c.length() - 2 * np.pi) <= tol
        assert c.points.shape == (len(c.t), 3)
        np.testing.assert_allclose(c(np.pi)[:2], [-1.0, 0.0], atol=1e-8)  # dense output


@pytest.mark.parametrize("eps", [0.5, 0.1, 0.01, 1e-3])
def test_heisenberg_commutator_loop_is_exact(eps):
    """Legs X, Y, −X, −Y of time ε from (x, y, z): z gains 0, εx/2 + ε²/2, ε·(y+ε)/2 − ...

    Per leg z′ = (x u₂ − y u₁)/2 with x, y piecewise linear: the four legs add
    −yε/2, (x+ε)ε/2, (y+ε)ε/2, −xε/2, total ε²; x, y close.  So the gap is
    ε²∂z = ε²[X, Y] exactly, for every ε (step-2 nilpotent: BCH stops at ε²).
    """
    H = catalog.heisenberg()
    q0 = np.array([0.3, -1.2, 2.0])
    gap = holonomy.loop_displacement(H, q0, 0, 1, eps)
    np.testing.assert_allclose(gap, [0.0, 0.0, eps**2], atol=ode_global_error(1e-12, 1e-14, 2.0))
    np.testing.assert_allclose(
        gap / eps**2, sr.lie_bracket(*_columns(H), q0), rtol=0, atol=1e-9 / eps**2
    )


def _columns(dist):
    return [lambda q, i=i: dist.frame(q)[:, i] for i in range(2)]


def test_heisenberg_holonomy_test_order_two_and_agreement():
    """gap ∝ ε² exactly: fitted order 2, extrapolated gap/ε² = [X, Y] = ∂z, not involutive."""
    rep = holonomy.holonomy_test(catalog.heisenberg(), [0.2, 0.4, -1.0])
    assert rep.orders[0] == pytest.approx(2.0, abs=1e-6)
    assert rep.bracket_error[0] < 1e-8
    assert not rep.is_involutive
    assert len(rep.rows()) == len(rep.eps)


def test_endpoint_differential_full_rank_for_heisenberg_curves():
    """Heisenberg is contact (fat): no non-constant curve is singular, rank d(End)/du = 3.

    A = ∂_q(F u) has third row (u₂/2, −u₁/2, 0), so Φ(T, s)F(q(s)) picks up a
    z-component ∝ (T − s): the Gramian is definite for every curve tried.
    """
    H = catalog.heisenberg()
    tries = [
        curves.horizontal_curve(H, [1.0, 0, 0], circle(), 2 * np.pi),
        curves.horizontal_curve(H, [0.0, 0, 0], [1.0, 0.0], 2.0),
        curves.horizontal_curve(H, [0.5, -1, 3], [[1.0, 0.5], [-0.3, 2.0]], 1.5),
    ]
    for c in tries:
        d = c.endpoint_differential()
        assert d.rank == 3 and not d.is_singular and d.sigma_min > 0.1
    assert endpoint.endpoint_differential(tries[1], derivative="fd").rank == 3


# -- Martinet, non-nilpotent, integrable ---------------------------------------------------


def test_martinet_singular_surface_has_order_three():
    """X = ∂x, Y = ∂y + (x²/2)∂z from x = 0: legs give z += 0, ε³/2, 0, 0.

    On the leg Y, x = ε so z′ = ε²/2 for time ε; on −Y, x = 0.  Gap (0, 0, ε³/2)
    exactly: order 3, the Martinet surface where [X, Y] = x∂z = 0 (involutive
    at the point, not integrable).  Off it (x ≠ 0) the order is 2.
    """
    M = catalog.martinet()
    q0 = np.array([0.0, 0.5, 1.0])
    for eps in (0.2, 0.05):
        np.testing.assert_allclose(
            holonomy.loop_displacement(M, q0, 0, 1, eps), [0, 0, eps**3 / 2], atol=1e-12
        )
    rep = holonomy.holonomy_test(M, q0)
    assert rep.orders[0] == pytest.approx(3.0, abs=1e-6) and rep.is_involutive
    off = holonomy.holonomy_test(M, [0.7, 0.5, 1.0])
    assert off.orders[0] == pytest.approx(2.0, abs=0.1) and not off.is_involutive


def test_martinet_abnormal_line_is_singular():
    """The line x = 0, z = z0, u = (0, 1) is Martinet's abnormal curve.

    Along it A = ∂_q(F u) = [[0,0,0],[0,0,0],[x,0,0]] = 0, so Φ = 1 and
    W = ∫F Fᵀ = diag(T, T, 0) (F's z-row is x²/2 = 0): rank 2 < 3, σ(L) = (√T, √T, 0).
    """
    M = catalog.martinet()
    T = 2.0
    d = curves.horizontal_curve(M, [0.0, -1.0, 0.3], [0.0, 1.0], T).endpoint_differential()
    assert d.is_singular and d.rank == 2
    np.testing.assert_allclose(d.singular_values, [math.sqrt(T), math.sqrt(T), 0.0], atol=1e-9)


def twisted():
    """A non-nilpotent frame on R³: X = (1, 0, sin y), Y = (0, 1, x² + cos x)."""

    def frame(p):
        x, y = p[0], p[1]
        one, zero = anp.ones_like(x), anp.zeros_like(x)
        return anp.stack(
            [anp.stack([one, zero, anp.sin(y)]), anp.stack([zero, one, x**2 + anp.cos(x)])], axis=1
        )

    return Distribution(frame, 3, name="twisted")


def test_eps_squared_law_and_coefficient_for_a_non_nilpotent_frame():
    """gap/ε² = [X, Y](q0) + ε·C + O(ε²): the error of the ratio halves with ε.

    [X, Y] = DY·X − DX·Y = (0, 0, 2x − sin x − cos y); the brackets of brackets
    do not vanish, so C ≠ 0 and the error is first order, not zero.
    """
    dist = twisted()
    q0 = np.array([0.4, 0.3, 0.0])
    exact = np.array([0.0, 0.0, 2 * 0.4 - np.sin(0.4) - np.cos(0.3)])
    errs = [
        np.linalg.norm(holonomy.loop_displacement(dist, q0, 0, 1, e) / e**2 - exact)
        for e in (0.04, 0.02, 0.01)
    ]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.1)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.1)
    rep = holonomy.holonomy_test(dist, q0, eps=(0.04, 0.02, 0.01, 0.005))
    assert rep.orders[0] == pytest.approx(2.0, abs=0.05)
    # autograd's bracket vs the closed form: two routes to one value (tests/tolerances.py)
    np.testing.assert_allclose(
        rep.brackets[0], exact, atol=routes_agree_tol(float(np.linalg.norm(exact)) + 1.0)
    )
    assert rep.bracket_error[0] < 1e-3  # linear extrapolation leaves O(ε²)


def test_integrable_distributions_have_no_transverse_gap():
    """Constant frame (θ ↦ Aθ's V): the flows commute, gap = 0 to round-off.

    Level sets of φ: the loop stays on the leaf, the gap is tangent to it and
    its transverse part is O(ε⁴) (order ≥ 3.5 fitted), so the verdict is involutive.
    """
    flat = holonomy.holonomy_test(catalog.linear_horizontal(), [0.1, 0.2, 0.3, 0.4])
    assert np.max(np.abs(flat.gaps)) <= 1e-12
    assert np.all(np.isinf(flat.orders)) and flat.is_involutive
    leaves = holonomy.holonomy_test(catalog.level_set_foliation(), [0.1, 0.2, 0.3])
    assert np.all(leaves.orders > 3.5) and leaves.is_involutive


# -- networks -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    """A tanh network MLP([1, 2, 1]) on N = 2 inputs: K = 7 > QN = 2, well conditioned."""
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(2, 1))
    net = sr.MLP([1, 2, 1])
    f = sr.NetworkMap(net, inputs)
    return f, PullbackBundle(f), net.init(seed=1)


def test_network_square_loop_closes_and_its_gap_is_the_vertical_bracket(tiny):
    """The square loop of side ε along e₀, e₁ lifts to the commutator loop of u₀, u₁ = Pen e.

    Its displacement is ε²[u₀, u₁](θ0) + O(ε³) (frame_brackets), vertical up to
    O(ε³) (horizontal part / |gap| = O(ε)), and the output closes to 1e-10.
    """
    f, V, theta = tiny
    B = V.frame_brackets(theta)[0, 1]
    errs = []
    for eps in (0.04, 0.02, 0.01):
        h = lifts.holonomy(V, theta, loops.square_loop(f(theta), 0, 1, eps))
        assert h.lift.max_closure <= 1e-10 and h.closure_error <= 1e-10
        assert np.linalg.norm(h.horizontal) <= 2 * eps * np.linalg.norm(h.displacement)
        errs.append(np.linalg.norm(h.displacement / eps**2 - B) / np.linalg.norm(B))
    assert errs[-1] < 0.01
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.15)


def test_network_distribution_holonomy_test_agrees_with_frame_brackets(tiny):
    f, V, theta = tiny
    rep = holonomy.holonomy_test(V.distribution(), theta, eps=(0.02, 0.01, 0.005))
    assert rep.orders[0] == pytest.approx(2.0, abs=0.05)
    assert rep.bracket_error[0] < 1e-3


def test_lift_of_the_output_flow_is_the_adapted_orbit(tiny):
    """Theorem 2.1 read backwards: lifting x(s) = y + e^{−s/N}(x0 − y) (1.13) gives (2.4).

    Along the lift f(θ(s)) = x(s), so θ′ = Pen[D]x′ = −Pen[D](f(θ) − y)/N =
    −Pen Penᵀ∇_θC: the lift solves the adapted flow's ODE from the same θ0.
    """
    f, V, theta = tiny
    y = np.array([0.5, -0.3])
    N = 2
    cost = sr.L2Cost(y, n_samples=N)
    x0 = f(theta)
    for s in (0.5, 2.0, 4.0):
        lift = lifts.horizontal_lift(V, theta, lambda t: y + anp.exp(-t / N) * (x0 - y), s)
        assert lift.velocity_route == "autograd" and lift.max_closure <= 1e-10
        orbit = sr.integrate(
            sr.AdaptedFlow(f, cost), theta, s, method="DOP853", rtol=1e-13, atol=1e-14
        )
        assert np.linalg.norm(lift.end - orbit.final_theta) <= 1e-9 * np.linalg.norm(
            orbit.final_theta
        )


def test_lift_without_a_traceable_curve_uses_central_differences(tiny):
    """math.exp cannot be traced: x′ comes from central differences, the output stays exact."""
    f, V, theta = tiny
    x0 = f(theta)
    e = np.array([1.0, 0.0])
    lift = lifts.horizontal_lift(V, theta, lambda t: x0 + math.sin(t) * e, 1.0)
    assert lift.velocity_route == "central differences"
    assert lift.max_closure <= 1e-10
    exact = lifts.horizontal_lift(
        V, theta, lambda t: x0 + math.sin(t) * e, 1.0, velocity=lambda t: math.cos(t) * e
    )
    assert np.linalg.norm(lift.end - exact.end) <= 1e-8 * np.linalg.norm(exact.end)


def test_vertical_curve_keeps_the_output_fixed(tiny):
    """θ′ = (1 − P)w moves inside the fibre f⁻¹(f(θ0)) (2.32): D θ′ = 0, f constant."""
    f, V, theta = tiny
    w = np.linspace(-1.0, 1.0, theta.size)
    vc = lifts.vertical_curve(V, theta, w, 2.0)
    assert vc.status == "completed" and vc.max_closure <= 1e-10
    assert np.linalg.norm(vc.end - theta) > 0.5  # it moved
    for point in vc.points[:: max(1, len(vc) // 5)]:
        assert np.linalg.norm(f(point) - f(theta)) <= 1e-10 * np.linalg.norm(f(theta))


def test_rank_loss_stops_the_lift_and_says_where():
    """f(θ) = (θ₀² + θ₁², θ₂) has D = [[2θ₀, 2θ₁, 0], [0, 0, 1]]: rank 1 on θ₀ = θ₁ = 0.

    Lifting x(t) = (1 − t, 0) from θ = (1, 0, 0) gives θ₀ = √(1 − t) (θ′ = D⁺x′
    keeps θ₁ = θ₂ = 0), which reaches the rank-loss line at t = 1 with |θ′| → ∞.
    With the rank tolerance 1e-3·σ_max (σ_max = 1) the event fires at
    σ_min = 2θ₀ = 1e-3, i.e. t = 1 − 2.5e-7, located on the steps.
    """
    g = sr.AutodiffMap(lambda th: anp.stack([th[0] ** 2 + th[1] ** 2, th[2]]), 3, 2)
    V = PullbackBundle(g, rank_policy=sr.RankPolicy(rtol=1e-3))
    lift = lifts.horizontal_lift(V, [1.0, 0.0, 0.0], lambda t: anp.stack([1.0 - t, 0.0 * t]), 2.0)
    assert lift.status == "rank_condition_failed"
    assert lift.t[-1] == pytest.approx(1 - 2.5e-7, abs=1e-9)
    assert "lost rank at t =" in lift.message
    assert lift.max_closure <= 1e-10


# -- bad input ------------------------------------------------------------------------------


def test_bad_curve_input_is_refused_with_the_argument_named(tiny):
    H = catalog.heisenberg()
    with pytest.raises(InputError, match="controls"):
        curves.horizontal_curve(H, [0, 0, 0], lambda t: np.ones(3), 1.0)
    with pytest.raises(InputError, match="controls"):
        curves.horizontal_curve(H, [0, 0, 0], [[1.0, np.nan]], 1.0)
    with pytest.raises(InputError, match="t_end"):
        curves.horizontal_curve(H, [0, 0, 0], [1.0, 0.0], 0.0)
    with pytest.raises(InputError, match="q0"):
        curves.horizontal_curve(H, [0, 0], [1.0, 0.0], 1.0)
    with pytest.raises(InputError, match="switch_times"):
        curves.horizontal_curve(H, [0, 0, 0], [[1.0, 0], [0, 1]], 1.0, switch_times=[2.0])
    with pytest.raises(InputError, match="eps"):
        holonomy.loop_displacement(H, [0, 0, 0], 0, 1, -0.1)
    with pytest.raises(InputError, match="eps"):
        holonomy.holonomy_test(H, [0, 0, 0], eps=(0.1,))
    with pytest.raises(InputError, match="derivative"):
        curves.horizontal_curve(H, [0, 0, 0], [1.0, 0.0], 1.0).endpoint_differential(derivative="x")

    f, V, theta = tiny
    x0 = f(theta)
    with pytest.raises(InputError, match=r"f\(theta0\).*= 0.1"):
        lifts.horizontal_lift(V, theta, lambda t: x0 + 0.1 * np.array([1.0, 0.0]), 1.0)
    with pytest.raises(InputError, match="does not close.*= 0.5"):
        lifts.holonomy(V, theta, lambda t: x0 + t * np.array([1.0, 0.0]), 0.5)
    with pytest.raises(InputError, match="t_end"):
        lifts.horizontal_lift(V, theta, lambda t: x0, -1.0)
    with pytest.raises(InputError, match="eps"):
        loops.square_loop(x0, 0, 1, 0.0)
    with pytest.raises(InputError, match="w"):
        lifts.vertical_curve(V, theta, np.ones(3), 1.0)


def test_a_frame_autograd_cannot_trace_needs_the_fd_route():
    """numpy's np.array around the entries is opaque to autograd: refused, fd works."""

    def frame(p):
        return np.array([[1.0, 0.0], [0.0, 1.0], [-p[1] / 2, p[0] / 2]])

    dist = Distribution(frame, 3, brackets="fd")
    c = curves.horizontal_curve(dist, [1.0, 0, 0], circle(), 2 * np.pi)
    np.testing.assert_allclose(c.end, [1.0, 0.0, np.pi], atol=1e-9)
    with pytest.raises(InputError, match="fd"):
        c.endpoint_differential()
    assert c.endpoint_differential(derivative="fd").rank == 3
    rep = holonomy.holonomy_test(dist, [0.1, 0.2, 0.3])
    assert rep.orders[0] == pytest.approx(2.0, abs=1e-3)
    assert EPS < 1e-15


# -- the command ----------------------------------------------------------------------------


def _run_cli(argv):
    """The real command line, in-process: its exit code."""
    from subriemann.cli import main

    return main(argv)


def test_cli_holonomy_catalog_and_network(tmp_path, capsys):
    import json

    assert _run_cli(["holonomy", "--catalog", "heisenberg", "--out", str(tmp_path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["results"]["orders"] == [pytest.approx(2.0)]
    assert record["results"]["circle"]["climb"] == pytest.approx(np.pi, abs=1e-9)
    assert (tmp_path / "holonomy-circle.png").exists() and (tmp_path / "holonomy-gaps.png").exists()
    out = tmp_path / "net"
    argv = [
        "holonomy",
        "--layers",
        "1,2,1",
        "--samples",
        "2",
        "--eps",
        "0.02,0.01",
        "--out",
        str(out),
    ]
    assert _run_cli(argv) == 0
    assert "order" in capsys.readouterr().out
    # user mistakes: exit 2 with one line naming the option
    assert _run_cli(["holonomy", "--catalog", "heisenberg", "--eps", "0.1", "--out", str(out)]) == 2
    assert "--eps" in capsys.readouterr().err
    assert _run_cli(["holonomy", "--out", str(out)]) == 2
    assert "exactly one" in capsys.readouterr().err


def test_the_holonomy_page_runs_as_written():
    """docs/holonomy.md: every python block runs, in order, in one namespace."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "holonomy.md").read_text(
        encoding="utf-8"
    )
    ns: dict = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
        exec(compile(block, "docs/holonomy.md", "exec"), ns)  # noqa: S102  (our own documentation)
    assert abs(ns["circle"].end[2] - np.pi) < 1e-10
    assert ns["vc"].max_closure <= 1e-10


# -- one Jacobian per step: stage solves preconditioned by the step's start (issue 13, item 6) -----


def wide_lift_problem(seed=0):
    """A tanh network MLP([2, 12, 12, 1]) on N = 8 inputs (K = 205 > QN = 8) and x(t) = x0 + sin(t)v."""
    rng = np.random.default_rng(seed)
    net = sr.MLP([2, 12, 12, 1])
    f = sr.NetworkMap(net, rng.normal(size=(8, 2)))
    theta = net.init(seed=seed)
    x0 = f(theta)
    v = rng.normal(size=8)
    v *= 0.1 * np.linalg.norm(x0) / np.linalg.norm(v)
    return f, PullbackBundle(f), theta, (lambda t: x0 + np.sin(t) * v), (lambda t: np.cos(t) * v)


@pytest.mark.parametrize("seed", range(3))
def test_jacobian_reuse_lift_is_output_exact_on_every_step_with_one_jacobian_per_step(seed):
    """The default scheme keeps |f(θ(t_k)) − x(t_k)| ≤ 1e-10·max(|x(t_k)|, |x(0)|) at every
    accepted t_k (recomputed here from the points), takes one Jacobian per accepted step (plus
    the start's) instead of six, and lands where the six-Jacobian scheme lands: both are the
    same Dormand–Prince steps, so they differ by at most twice ode_global_error at their rtol."""
    f, V, theta, x_curve, x_dot = wide_lift_problem(seed)
    rtol, atol = 1e-8, 1e-10
    lift = lifts.horizontal_lift(V, theta, x_curve, 1.0, velocity=x_dot, rtol=rtol, atol=atol)
    assert lift.status == "completed" and lift.solution.stats["scheme"] == "jacobian-reuse"
    x0n = np.linalg.norm(x_curve(0.0))
    for t, th in zip(lift.t, lift.points, strict=True):
        scale = max(np.linalg.norm(x_curve(t)), x0n)
        assert np.linalg.norm(f(th) - x_curve(t)) <= 1e-10 * scale
    stats = lift.solution.stats
    assert lift.n_jacobian <= stats["accepted"] + stats["fallbacks"] + 2
    assert stats["anchored_solves"] > 0 and stats["fallbacks"] <= stats["anchored_solves"] // 10
    six = lifts.horizontal_lift(
        V, theta, x_curve, 1.0, velocity=x_dot, rtol=rtol, atol=atol, scheme="runge-kutta"
    )
    assert six.n_jacobian >= 5 * stats["accepted"]
    scale = np.linalg.norm(six.end)
    assert np.linalg.norm(lift.end - six.end) <= 2 * ode_global_error(rtol, atol, scale)


@pytest.mark.parametrize("seed", range(4))
def test_anchored_stage_solve_is_horizontal_and_the_min_norm_solution(seed):
    """anchored_min_norm_solve(θ_s, b) with the SVD of D at θ_a, |θ_s − θ_a| = 1e-2·|θ_a|:
    u = D_sᵀz is in V at θ_s — |(1 − P_s)u| within solve_residual_tol(D_s, |u|), P_s from numpy's
    SVD of D_s (an independent route) — and u = D_s⁺b (numpy lstsq) to the solve's rtol (its
    stopping rule bounds the remaining CG error by |Δu|ρ/(1 − ρ); a factor 10 covers a
    misestimated rate ρ) plus the round-off of the reference."""
    from tolerances import solve_residual_tol

    from subriemann.geometry.lift_steppers import anchored_min_norm_solve
    from subriemann.linalg import JacobianSVD

    f, _, theta, _, _ = wide_lift_problem(seed)
    rng = np.random.default_rng(seed + 10)
    d = rng.normal(size=theta.size)
    theta_s = theta + 1e-2 * np.linalg.norm(theta) * d / np.linalg.norm(d)
    b = rng.normal(size=f.dim_out)
    anchor = JacobianSVD(f.jacobian(theta))
    rtol = 1e-11
    u, products, converged = anchored_min_norm_solve(f, theta_s, b, anchor, rtol=rtol)
    assert converged and products <= 24
    D_s = f.jacobian(theta_s)
    U, s, Vt = np.linalg.svd(D_s, full_matrices=False)
    vertical = u - Vt.T @ (Vt @ u)
    assert np.linalg.norm(vertical) <= solve_residual_tol(D_s, np.linalg.norm(u))
    reference = np.linalg.lstsq(D_s, b, rcond=None)[0]
    tol = 10 * rtol * np.linalg.norm(u) + 2 * solve_residual_tol(D_s, np.linalg.norm(reference))
    assert np.linalg.norm(u - reference) <= tol


def test_jacobian_reuse_vertical_curve_keeps_the_output_and_matches_six_jacobians(tiny):
    """θ′ = (1 − P)w with the stage solves anchored: f stays at f(θ0) to 1e-10 at every point,
    and the end agrees with the scheme that factors D at every stage (ode_global_error, twice)."""
    f, V, theta = tiny
    w = np.linspace(-1.0, 1.0, theta.size)
    x0 = f(theta)
    vc = lifts.vertical_curve(V, theta, w, 1.0, rtol=1e-9, atol=1e-11)
    for th in vc.points:
        assert np.linalg.norm(f(th) - x0) <= 1e-10 * max(np.linalg.norm(x0), 1e-300)
    six = lifts.vertical_curve(V, theta, w, 1.0, rtol=1e-9, atol=1e-11, scheme="runge-kutta")
    scale = np.linalg.norm(six.end)
    assert np.linalg.norm(vc.end - six.end) <= 2 * ode_global_error(1e-9, 1e-11, scale)
    assert vc.n_jacobian < six.n_jacobian / 3


def test_unknown_lift_scheme_is_refused_with_the_choices(tiny):
    f, V, theta = tiny
    with pytest.raises(InputError, match="unknown scheme 'adams'.*'jacobian-reuse'.*'runge-kutta'"):
        lifts.horizontal_lift(V, theta, lambda t: f(theta), 1.0, scheme="adams")
