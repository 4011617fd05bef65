"""The geomstats adapter: a distribution's frame as a geomstats ``SubRiemannianMetric``.

geomstats' ``SubRiemannianMetric`` takes a frame whose columns it *declares*
orthonormal (that defines the metric on Δ) and integrates the normal geodesics,
Hamilton's equations for H(q, λ) = ½|F(q)ᵀλ|², by symplectic Euler steps.  The
subclass built here checks the arguments of ``exp`` and says at which time step
and batch index an integration failed, instead of returning NaN.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from subriemann.errors import NumericalError, SubriemannError, check_int, with_context
from subriemann.geometry.spaces import euclidean

__all__ = ["sub_riemannian_metric", "batched_frame"]


def batched_frame(frame):
    """The frame p ↦ F(p) extended to geomstats' batches [..., dim], one point at a time.

    One point at a time so that a failure names its batch index.
    """
    from subriemann.geometry.metrics import over_batch

    def batched(p):
        return frame(p) if len(anp.shape(p)) == 1 else over_batch(frame, p, "point")

    return batched


def _bad_indices(state) -> str:
    """The batch indices of a geomstats Hamiltonian state [2, ..., dim] holding NaN/inf."""
    raw = np.asarray(getval(state))
    bad = ~np.isfinite(raw).all(axis=(0, -1))
    if bad.ndim == 0:
        return "" if not bad else "the point"
    found = [str(tuple(int(j) for j in idx)) for idx in np.argwhere(bad)[:5]]
    return f"batch index {', '.join(found)}" if found else ""


def sub_riemannian_metric(dim: int, frame):
    """A geomstats ``SubRiemannianMetric`` on R^dim whose failures name the time and batch index.

    Same metric as ``SubRiemannianMetric(euclidean(dim), frame=frame)``
    (frame columns declared orthonormal; normal geodesics solve Hamilton's
    equations by geomstats' symplectic Euler steps); arguments of ``exp`` are
    checked, and an error while stepping (rank loss, a bad point, NaN/inf)
    says at which time t and, for batches [..., dim], at which batch index it
    happened.  Used by
    :meth:`subriemann.distributions.frame.Distribution.sub_riemannian_metric` and
    :meth:`subriemann.geometry.bundles.PullbackBundle.sub_riemannian_metric`.
    """
    from geomstats.geometry.sub_riemannian_metric import SubRiemannianMetric

    from subriemann.geometry.metrics import batch_pair

    class ReportingSubRiemannianMetric(SubRiemannianMetric):
        def exp(self, cotangent_vec, base_point, n_steps=20):
            base_point, cotangent_vec = batch_pair(
                base_point, cotangent_vec, dim, "base_point", "cotangent_vec"
            )
            n_steps = check_int(n_steps, "n_steps", "the number of integration steps")
            return super().exp(cotangent_vec, base_point, n_steps=n_steps)

        def symp_flow(self, hamiltonian, end_time=1.0, n_steps=20):
            dt = end_time / n_steps
            step = self.symp_euler(hamiltonian, dt)

            def flow(state):
                states = [state]
                for i in range(n_steps):
                    where = (
                        f"normal geodesic integration on the step from time t = {i * dt:.4g} "
                        f"to {(i + 1) * dt:.4g} (step {i + 1} of {n_steps})"
                    )
                    try:
                        state = step(state)
                    except SubriemannError as exc:
                        raise with_context(exc, where) from exc
                    bad = _bad_indices(state)
                    if bad:
                        raise NumericalError(
                            f"{where}: the geodesic blew up (NaN/inf) at {bad}; expected a "
                            "smaller cotangent vector or more steps"
                        )
                    states.append(state)
                return anp.array(states)

            return flow

    return ReportingSubRiemannianMetric(euclidean(dim), frame=frame)
