"""Two missing inputs that the type hints made explicit are refused with an InputError saying what is missing.

* a "supplied" (or "symbolic") bracket route without its ``brackets(p)`` callable: before,
  ``None(p)`` raised a bare TypeError;
* ``Distribution.is_singular_curve`` given neither a curve nor all of q0, controls and
  t_end: before, the missing one surfaced as a bad ``t_end`` deep in the ODE call.
"""

import numpy as np
import pytest

import subriemann as sr
from subriemann.distributions import catalog
from subriemann.distributions.brackets import frame_bracket_data


@pytest.mark.parametrize("route", ["supplied", "symbolic"])
def test_a_supplied_bracket_route_without_its_callable_is_refused(route):
    def frame(p):
        return np.eye(2)

    with pytest.raises(sr.InputError, match="needs the supplied brackets"):
        frame_bracket_data(frame, np.zeros(2), np.eye(2), route, None)


def test_is_singular_curve_without_a_curve_or_all_of_its_data_is_refused():
    dist = catalog.heisenberg()
    with pytest.raises(sr.InputError, match="needs a curve, or q0, controls and t_end"):
        dist.is_singular_curve(q0=np.zeros(3), controls=np.array([1.0, 0.0]))
