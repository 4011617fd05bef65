"""Contracts of the ODE core that its type hints state (subriemann.integrate).

* ``ScipyStepper.step`` needs the solver that ``start`` creates (``solver`` is None before):
  called first it raises the package's InputError naming ``start``, not an AttributeError
  on None; and a failure of the field itself when ``start`` evaluates it at t0 (the
  package's own error, e.g. rank loss) reaches the driver as that error, not relabelled as
  a bad scipy option;
* a controller with ``reject_on_failure`` (a ``RetryingController``) receives ``None`` for a
  trial step whose field evaluation failed, and the driver counts that step as rejected
  whatever the controller answers — there is no proposal to accept.
"""

from __future__ import annotations

import numpy as np
import pytest

from subriemann.errors import InputError, NumericalError, RankConditionError
from subriemann.integrate import (
    RK4,
    Decision,
    Proposal,
    ScipyStepper,
    Status,
    solve,
)


def test_scipy_stepper_step_before_start_is_an_input_error():
    stepper = ScipyStepper("RK45")
    y = np.array([1.0])
    with pytest.raises(InputError, match="start"):
        stepper.step(lambda _t, z: -z, 0.0, y, -y, 0.1)


def test_a_field_failure_at_t0_is_not_called_a_bad_scipy_option():
    def field(_t, _y):
        raise RankConditionError("rank D = 1 < QN = 2 at t = 0")

    with pytest.raises(RankConditionError, match="rank D = 1"):
        ScipyStepper("RK45").start(field, 0.0, np.array([1.0]), 1.0)
    with pytest.raises(InputError, match="invalid options for scipy's RK45"):
        ScipyStepper("RK45", first_step=-1.0).start(lambda _t, z: -z, 0.0, np.array([1.0]), 1.0)


class _AcceptsEverything:
    """A careless retrying controller: it 'accepts' even a failed trial step (proposal None)."""

    reject_on_failure = True

    def __init__(self) -> None:
        self.failed_trials = 0

    def first_step(self, h0: float) -> float:
        return 8.0

    def decide(
        self, proposal: Proposal | None, t: float, h: float, *, y: np.ndarray, f: np.ndarray
    ) -> Decision:
        if proposal is None:
            self.failed_trials += 1
            return Decision(accept=True, h_next=0.5 * h)
        return Decision(accept=True, h_next=h)


def test_a_failed_trial_step_is_a_rejection_whatever_the_controller_answers():
    """y′ = −y from y = 1 on [0, 8], the field raising for |y| > 1.5; RK4 from h = 8.

    RK4's stages from y = 1 are 1 − h/2, 1 − (h/2)(1 − h/2), ...: h = 8 (stage 2 = −3) and
    h = 4 (stage 3 = 3) leave the domain, h = 2 does not (stages 0, 1, −1).  The controller
    'accepts' the two failed trials (halving h); the driver counts them as rejected, and the
    run completes with four steps h = 2, each multiplying y by RK4's stability polynomial
    1 − h + h²/2 − h³/6 + h⁴/24 = 1/3 (closed form: y(8) = 3⁻⁴).
    """
    from tolerances import routes_agree_tol

    def field(t: float, y: np.ndarray) -> np.ndarray:
        if abs(y[0]) > 1.5:
            raise NumericalError("out of the domain")
        return -y

    ctl = _AcceptsEverything()
    sol = solve(field, 0.0, [1.0], 8.0, stepper=RK4(), controller=ctl)
    assert sol.status == Status.COMPLETED and sol.t[-1] == 8.0
    assert ctl.failed_trials == 2 and sol.stats["rejected"] == 2
    assert sol.stats["accepted"] == 4
    np.testing.assert_array_equal(sol.t, [0.0, 2.0, 4.0, 6.0, 8.0])
    # each RK4 step is ~10 roundings on values of size |y|, divided by 3: ≤ 30·EPS relative
    # per step, four steps plus the closed form's power: k = 2·(4·30 + 4) ≈ 256
    exact = 3.0**-4
    assert abs(sol.end[0] - exact) <= routes_agree_tol(exact, k=256.0)
