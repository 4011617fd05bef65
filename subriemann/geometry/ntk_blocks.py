"""Θ = DDᵀ of a network in blocks on worker processes or a Dask cluster, bitwise equal to the serial one.

The empirical NTK of :meth:`~subriemann.maps.network.NetworkMap.ntk` splits into
blocks Θ[I, J] over sample blocks I, J, each computable from θ, the architecture
and the inputs of I and J alone (the structured form of
:mod:`subriemann.maps.ntk`); this module ships those tasks to workers that run one
BLAS thread, so the assembled Θ agrees bit for bit with the serial route.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, NumericalError, check_int, check_vector
from subriemann.linalg import one_blas_thread_environment
from subriemann.maps import MLP, NetworkMap, get_activation

if TYPE_CHECKING:  # the optional Dask extra
    from distributed import Client, LocalCluster

__all__ = ["distributed_ntk", "distributed_block_samples"]


def distributed_block_samples(f: NetworkMap, memory_budget: int) -> int:
    """Samples per block such that one worker's block (``NetworkMap.ntk_block_bytes``) fits the budget.

    Raises
    ------
    InputError
        The budget cannot hold one block of one sample.
    """
    budget = check_int(memory_budget, "memory_budget")
    if f.ntk_block_bytes(1) > budget:
        raise InputError(
            f"memory_budget = {budget} bytes cannot hold one block of the NTK: a block of one "
            f"sample against another needs {f.ntk_block_bytes(1)} bytes "
            "(model NetworkMap.ntk_block_bytes)"
        )
    b = 1
    while b < f.N and f.ntk_block_bytes(min(f.N, 2 * b)) <= budget:
        b = min(f.N, 2 * b)
    return b


def _ntk_task(task):
    """One block of Θ on a worker, from the architecture, θ and the two blocks' inputs alone."""
    sizes, activation, theta, inputs_r, inputs_c, key = task
    act = get_activation(activation, allow_nonsmooth=True)
    mlp = MLP(sizes, activation=act, allow_nonsmooth=not act.smooth)
    same = inputs_c is None
    inputs = inputs_r if same else np.concatenate([inputs_r, inputs_c])
    n_r = inputs_r.shape[0]
    cols = (0, n_r) if same else (n_r, inputs.shape[0])
    return key, NetworkMap(mlp, inputs).ntk_block(theta, (0, n_r), cols)


def distributed_ntk(
    f: NetworkMap,
    theta: npt.ArrayLike,
    *,
    backend: str = "processes",
    n_jobs: int = 2,
    scheduler: str | Client | LocalCluster | None = None,
    block_samples: int | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Θ = D Dᵀ of a NetworkMap with its blocks computed in parallel; bitwise equal to the serial one.

    The samples are cut into blocks of b (``block_samples``, or the largest b
    whose block fits ``memory_budget`` per worker, :func:`distributed_block_samples`);
    each task computes Θ[I, J] (I ≤ J) from θ, the architecture and the inputs
    of I and J alone, with the code of ``NetworkMap.ntk_block``, and this process
    assembles Θ (and its mirror blocks).  ``f.ntk(theta, block_samples=b)`` runs
    the same code on the same inputs, so the results agree bit for bit when the
    BLAS runs with the same number of threads (workers use one).

    Parameters
    ----------
    f : NetworkMap
    theta : array-like, shape=[K]
    backend : {"serial", "processes", "dask"}
    n_jobs : int
        Worker processes of the "processes" backend.
    scheduler : str, distributed.Client or LocalCluster
        The Dask cluster of the "dask" backend.
    block_samples, memory_budget : int, optional

    Returns
    -------
    Theta : ndarray, shape=[QN, QN]

    Raises
    ------
    InputError
        Not a NetworkMap, an unknown backend, a budget that cannot hold one block,
        an activation that is not in the registry (workers rebuild it by name),
        or a missing Dask scheduler.
    """
    if not isinstance(f, NetworkMap):
        raise InputError(
            f"distributed_ntk computes the structured NTK of a NetworkMap, got {type(f).__name__}"
        )
    theta = np.array(check_vector(theta, f.dim_in, "theta"), dtype=np.float64)
    if backend not in ("serial", "processes", "dask"):
        raise InputError(f"unknown backend {backend!r}; expected 'serial', 'processes' or 'dask'")
    if block_samples is None:
        b = f.N if memory_budget is None else distributed_block_samples(f, memory_budget)
    else:
        b = check_int(block_samples, "block_samples")
    if backend == "serial":
        return f.ntk(theta, block_samples=b)
    act = f.mlp.activation
    try:
        registered = get_activation(act.name, allow_nonsmooth=True) is act
    except InputError:
        registered = False
    if not registered:
        raise InputError(
            f"activation {act.name!r} is not in the registry (ACTIVATIONS); workers rebuild the "
            "network by name, so use a registered activation or backend='serial'"
        )
    blocks = f.ntk_partition(block_samples=b)
    sizes = list(f.mlp.layer_sizes)
    tasks = [
        (
            sizes,
            act.name,
            theta,
            f.inputs[blocks[i][0] : blocks[i][1]],
            None if i == j else f.inputs[blocks[j][0] : blocks[j][1]],
            (i, j),
        )
        for i in range(len(blocks))
        for j in range(i, len(blocks))
    ]
    if backend == "processes":
        import multiprocessing

        n_jobs = check_int(n_jobs, "n_jobs")
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        with (
            one_blas_thread_environment(),
            ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool,
        ):
            results = list(pool.map(_ntk_task, tasks))
    else:
        results = _on_dask(tasks, scheduler)
    Q = f.Q
    out = np.empty((f.dim_out, f.dim_out))
    for (i, j), block in results:
        (s_i, e_i), (s_j, e_j) = blocks[i], blocks[j]
        out[s_i * Q : e_i * Q, s_j * Q : e_j * Q] = block
        if i != j:
            out[s_j * Q : e_j * Q, s_i * Q : e_i * Q] = block.T
    f.counts["ntk"] += 1
    return out


def _on_dask(tasks, scheduler):
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "backend='dask' needs dask.distributed: pip install 'subriemann[distributed]'"
        ) from exc
    if scheduler is None:
        raise InputError(
            "backend='dask' needs scheduler=: an address 'tcp://host:8786', a distributed.Client "
            "or a LocalCluster"
        )
    if isinstance(scheduler, Client):
        client, owned = scheduler, False
    else:
        address = getattr(scheduler, "scheduler_address", scheduler)
        if not isinstance(address, str):
            raise InputError(
                f"scheduler must be an address, a Client or a LocalCluster, got {type(scheduler).__name__}"
            )
        client, owned = Client(address, set_as_default=False), True
    try:
        futures = client.map(_ntk_task, tasks, pure=False)
        return client.gather(futures)
    except OSError as exc:  # pragma: no cover - a cluster that went away
        raise NumericalError(f"the Dask cluster failed: {exc}") from exc
    finally:
        if owned:
            client.close()
