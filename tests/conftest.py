"""Shared test settings: hypothesis profiles sized for a 2-core CI machine."""

import os

# subriemann must be imported before geomstats anywhere in the suite: it selects
# geomstats' autograd backend, which geomstats reads once, at its first import.
import subriemann  # noqa: F401  isort: skip
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
