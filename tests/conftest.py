"""Shared test settings: hypothesis profiles sized for a 2-core CI machine."""

import os

# The suite runs on 2 shared cores: multi-threaded BLAS there makes each small
# SVD an order of magnitude slower (threads fight the other process for the
# cores).  One BLAS thread per process; subprocesses (CLI, examples) inherit it.
# Set before numpy is first imported; an explicit setting by the caller wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# subriemann must be imported before geomstats anywhere in the suite: it selects
# geomstats' autograd backend, which geomstats reads once, at its first import.
import subriemann  # noqa: F401  isort: skip
from hypothesis import HealthCheck, settings

# "ci" (the default) draws the same examples on every run, so a landing is never
# decided by a lucky or unlucky draw; "thorough" explores afresh each time.
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
