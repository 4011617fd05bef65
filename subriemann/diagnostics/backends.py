"""Where the tasks of a survey run: in this process, on local processes, or on a Dask cluster.

Each backend calls ``emit(work(task))`` for every task, in this process and in
the order the tasks finish; what ``work`` computes does not depend on the
backend.  Worker processes and Dask tasks use one BLAS thread (nested BLAS
threads oversubscribe the cores the workers already use).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from subriemann.errors import InputError
from subriemann.extras import import_optional
from subriemann.linalg import ONE_BLAS_THREAD, one_blas_thread_environment

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from distributed import Client, LocalCluster

__all__ = [
    "run_serial",
    "run_on_processes",
    "run_on_dask",
]

#: A task of a survey and the row its work returns (the backends never look inside either).
_TaskT = TypeVar("_TaskT")
_RowT = TypeVar("_RowT")


def _process_context(preload: Iterable[str]) -> BaseContext:
    import multiprocessing

    # Never fork this process (it may hold BLAS or Dask threads).  A forkserver is a
    # fresh single-threaded process: let it import the task code once, so that each
    # worker forked from it starts with numpy/scipy already loaded.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return multiprocessing.get_context("spawn")


def run_serial(
    work: Callable[[_TaskT], _RowT], tasks: Iterable[_TaskT], emit: Callable[[_RowT], object]
) -> None:
    """``emit(work(task))`` for each task, in order, in this process."""
    for task in tasks:
        emit(work(task))


#: One BLAS thread per worker process, as Dask's nanny does: the workers already use
#: the cores, and nested BLAS threads oversubscribe them (measured 10x slower SVDs on a
#: loaded 2-core machine).
WORKER_ENVIRONMENT = ONE_BLAS_THREAD


#: Seconds between a worker's checks that the survey process still exists.
WATCHDOG_INTERVAL = 0.25


def _process_identity(pid: int) -> tuple[bytes, bytes] | None:
    """(state, start time) of process ``pid`` from ``/proc`` (Linux), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its ")"
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0], fields[19]  # field 3 (state) and field 22 (start time)


def _survey_process_alive(pid: int, start: bytes | None) -> bool:
    if start is not None:
        # the same process (a pid can be reused), and not a zombie awaiting its parent
        now = _process_identity(pid)
        return now is not None and now[1] == start and now[0] not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _watch_survey_process(pid: int) -> None:
    """Pool initializer: end this worker as soon as the survey process ``pid`` is gone.

    Why: a survey killed with SIGKILL runs no clean-up, and its workers (children
    of the forkserver, not of the survey process) would go on computing the
    tasks already queued for them.  A daemon thread polls ``pid`` every
    :data:`WATCHDOG_INTERVAL` seconds and calls ``os._exit`` when it is gone.
    """
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return
    identity = _process_identity(pid)
    start = None if identity is None else identity[1]

    def watch() -> None:
        while _survey_process_alive(pid, start):
            time.sleep(WATCHDOG_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="subriemann-survey-watchdog", daemon=True).start()


def run_on_processes(
    work: Callable[[_TaskT], _RowT],
    tasks: Iterable[_TaskT],
    emit: Callable[[_RowT], object],
    n_jobs: int,
    preload: Iterable[str] = (),
) -> None:
    """``emit(work(task))`` for each task as it finishes on ``n_jobs`` local worker processes.

    The workers are forked from a forkserver (spawned where there is none), never
    from this process; they run with :data:`WORKER_ENVIRONMENT` and end as soon
    as this process is gone, even after a SIGKILL (a watchdog thread in each).
    An exception (from a task or from ``emit``) cancels the tasks not started.

    Parameters
    ----------
    work : callable
        A top-level function (workers import it by name): task → row.
    tasks : iterable
        Picklable tasks.
    emit : callable
        Called in this process with each result, in the order they finish.
    n_jobs : int
        Number of worker processes.
    preload : sequence of str
        Modules the forkserver imports once, so that workers start with them loaded.
    """
    with (
        one_blas_thread_environment(),
        ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=_process_context(preload),
            initializer=_watch_survey_process,
            initargs=(os.getpid(),),
        ) as pool,
    ):
        futures: set[Future[_RowT]] = {pool.submit(work, t) for t in tasks}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    emit(fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _dask_client(scheduler: str | Client | LocalCluster) -> tuple[Client, bool]:
    Client = import_optional(
        "distributed", extra="distributed", purpose="running a survey on a Dask scheduler"
    ).Client
    if isinstance(scheduler, Client):
        return scheduler, False
    address = getattr(scheduler, "scheduler_address", scheduler)  # a LocalCluster
    if not isinstance(address, str):
        raise InputError(
            "scheduler must be a Dask scheduler address such as 'tcp://host:8786', a "
            f"distributed.Client or a LocalCluster, got {type(scheduler).__name__}"
        )
    return Client(address, set_as_default=False), True


_blas_lock = threading.Lock()
_blas_state: dict[str, Any] = {"users": 0, "controller": None, "original": None}


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread in this process while the block runs (threadpoolctl, if installed).

    Why: a Dask worker may run in a process whose BLAS was loaded with several
    threads (a ``LocalCluster(processes=False)`` lives in the caller's process;
    workers started by hand inherit their shell's environment), so
    :data:`WORKER_ENVIRONMENT` cannot reach it.  The limit is process-wide, so
    concurrent tasks share one: the first to enter sets it, the last to leave
    puts back the thread counts found the first time (read once: a count read
    while another task's limit is being lifted could be the limit itself).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        yield
        return
    # a BLAS loaded after the limit is set escapes it: load the tasks' libraries first
    # (scipy brings its own OpenBLAS besides numpy's)
    import scipy.linalg  # noqa: F401
    import scipy.stats  # noqa: F401

    with _blas_lock:
        if _blas_state["controller"] is None:
            controller = ThreadpoolController().select(user_api="blas")
            _blas_state["controller"] = controller
            _blas_state["original"] = [lib.num_threads for lib in controller.lib_controllers]
        if _blas_state["users"] == 0:
            for lib in _blas_state["controller"].lib_controllers:
                lib.set_num_threads(1)
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0:
                controller = _blas_state["controller"]
                for lib, n in zip(controller.lib_controllers, _blas_state["original"], strict=True):
                    lib.set_num_threads(n)


def _with_one_blas_thread(work: Callable[[_TaskT], _RowT], task: _TaskT) -> _RowT:
    """``work(task)`` with one BLAS thread: what a Dask worker runs."""
    with _one_blas_thread():
        return work(task)


def run_on_dask(
    work: Callable[[_TaskT], _RowT],
    tasks: Sequence[_TaskT],
    emit: Callable[[_RowT], object],
    scheduler: str | Client | LocalCluster,
) -> None:
    """``emit(work(task))`` for each task as it finishes on a Dask cluster, one BLAS thread per task.

    Needs the optional extra ``distributed``.  An exception (from a task or
    from ``emit``) cancels the tasks not finished.

    Parameters
    ----------
    work : callable
        task → row; shipped to the workers (a top-level function: by name).
    tasks : sequence
    emit : callable
        Called in this process with each result, in the order they finish.
    scheduler : str, distributed.Client or LocalCluster
        A scheduler address such as ``"tcp://host:8786"``, a client (kept
        open) or a cluster (a client is opened on it and closed afterwards).
    """
    from distributed import as_completed

    client, owned = _dask_client(scheduler)
    futures = []
    try:
        futures = client.map(partial(_with_one_blas_thread, work), tasks, pure=False)
        for fut in as_completed(futures, loop=client.loop):
            emit(fut.result())
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if owned:
            client.close()
