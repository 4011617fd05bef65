"""Surveys over many random networks: the rank condition (§2.1) and integrability (§2.4).

* **Rank survey** (Prop. 2.2 and the open question after it).  For random
  architectures, data and initializations: is rank DDᵀ = QN (2.1)?  How small
  is σ_min(D), how large cond(D)?  And how are the unit vectors
  e_j = ∂_jx / |∂_jx| of (2.12) spread over S^{QN−1}?  Prop. 2.2 assumes them
  i.i.d. with an absolutely continuous law; the survey measures their
  second moment against the uniform law with Bingham's test (below).
* **Integrability survey** (§2.4).  The Frobenius defect of V = range Dᵀ
  (2.31) at random points, via ``PullbackBundle(f).distribution()``.

Execution is serial by default, or on local processes (``n_jobs``), or on a
Dask distributed cluster (``scheduler``; the optional extra ``distributed``).
Every task draws its data and θ from its own seed,
``SeedSequence(base_seed, spawn_key=(architecture index, seed index))``, so a
table does not depend on the backend, on the order tasks finish in, or on
which other tasks ran: the same networks are measured and every integer,
boolean and string is the same; floats agree to round-off, and bitwise when
the processes use the same BLAS threading (worker processes and Dask workers
use one BLAS thread; see :meth:`SurveyResult.differences`).

With ``out=`` each finished task is appended as one JSON line (after a header
line with the configuration); a rerun with the same ``out`` skips the tasks
already there, so an interrupted survey loses nothing and resumes where it
stopped.  The final table is sorted by task id.

**Why Bingham's test.**  e_j and −e_j span the same line and contribute the
same rank-one term e_j e_jᵀ to DDᵀ (2.12): the data are *axial*, so the
Rayleigh test (mean direction) is the wrong tool — a sign flip of a column
changes it but not D Dᵀ.  Bingham's test compares the scatter matrix
T̄ = (1/n) Σ_j e_j e_jᵀ with I/p (p = QN), its value under the uniform law:
S = n p(p+2)/2 · (tr T̄² − 1/p) is asymptotically χ² with (p−1)(p+2)/2
degrees of freedom for i.i.d. uniform axes (Mardia & Jupp, *Directional
Statistics*, §10.7).  Note tr T̄² = (1/n²) Σ_{i,j} ⟨e_i, e_j⟩²: this is
the test of the pairwise squared inner products, whose mean is 1/p under
uniformity.  It tests second moments only (uniformity is not what Prop. 2.2
needs — any absolutely continuous law works — but isotropy is what makes
DDᵀ well conditioned).  ``isotropy`` = p·λ_min(T̄) ∈ [0, 1] is a descriptive
companion: 1 for perfectly spread axes, 0 when the axes miss a direction of
R^{QN} (then rank DDᵀ < QN).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from subriemann.errors import InputError, SubriemannError, check_int, check_real
from subriemann.linalg import JacobianSVD, RankPolicy, resolve_policy
from subriemann.maps.network import parse_architecture

__all__ = [
    "SurveyTask",
    "SurveyResult",
    "parse_architecture",
    "architectures_for_ratios",
    "bingham_test",
    "make_tasks",
    "run_task",
    "run_survey",
    "run_rank_survey",
    "run_frobenius_survey",
]

SURVEY_KINDS = ("rank", "frobenius")
#: Layout version of the JSON-lines survey file.
SURVEY_SCHEMA = 1


# -- architectures ------------------------------------------------------------------
def architectures_for_ratios(ratios, input_dim: int, output_dim: int, n_samples: int, depth=1):
    """Architectures ``[M, m, ..., m, Q]`` whose K/QN is as close as possible to each ratio.

    K is (1.5) with ``depth`` hidden layers of equal width m ≥ 1; the achieved
    ratio is K/QN (listed by the survey), not exactly the requested one, and
    ratios that round to the same architecture give it once.

    Parameters
    ----------
    ratios : sequence of float > 0
    input_dim, output_dim : int
        M and Q.
    n_samples : int
        N.
    depth : int
        Number of hidden layers L ≥ 1.

    Returns
    -------
    list of list of int
    """
    from subriemann.maps.network import MLP

    input_dim = check_int(input_dim, "input_dim")
    output_dim = check_int(output_dim, "output_dim")
    n_samples = check_int(n_samples, "n_samples")
    depth = check_int(depth, "depth")
    QN = output_dim * n_samples
    out = []
    for i, ratio in enumerate(ratios):
        ratio = check_real(ratio, f"ratios[{i}]", "a target K/QN", positive=True)
        target = ratio * QN

        def K_of(m):
            return MLP.count_parameters([input_dim, *([m] * depth), output_dim])

        m = 1
        while K_of(m + 1) <= target:
            m += 1
        if abs(K_of(m + 1) - target) < abs(K_of(m) - target):
            m += 1
        layers = [input_dim, *([m] * depth), output_dim]
        if layers not in out:
            out.append(layers)
    return out


# -- statistics of the e_j (2.12) ----------------------------------------------------
def bingham_test(D):
    """Bingham's test of uniformity for the axes e_j = D[:, j]/|D[:, j]| of (2.12).

    Parameters
    ----------
    D : array-like, shape=[p, n]
        Columns ∂_jx (zero columns are left out: they carry no axis).

    Returns
    -------
    dict
        ``statistic`` S = n p(p+2)/2 (tr T̄² − 1/p), ``dof`` = (p−1)(p+2)/2,
        ``pvalue`` = P[χ²_dof ≥ S] (asymptotic in n; small p-values reject
        uniform spread), ``isotropy`` = p λ_min(T̄) ∈ [0, 1],
        ``anisotropy`` = p λ_max(T̄) ∈ [1, p], ``n_axes`` and ``n_zero_columns``.
    """
    from scipy.stats import chi2

    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2:
        raise InputError(f"D must be 2-D (p, n), got shape {D.shape}")
    p = D.shape[0]
    norms = np.linalg.norm(D, axis=0)
    keep = norms > 0
    n = int(np.count_nonzero(keep))
    if p < 2 or n < 1:
        raise InputError(
            f"Bingham's test needs p = QN >= 2 and at least one non-zero column, got p = {p}, "
            f"{n} non-zero columns"
        )
    E = D[:, keep] / norms[keep]
    T = E @ E.T / n
    lam = np.linalg.eigvalsh(T)
    statistic = n * p * (p + 2) / 2.0 * (float(np.sum(T * T)) - 1.0 / p)
    dof = (p - 1) * (p + 2) // 2
    return {
        "statistic": float(statistic),
        "dof": int(dof),
        "pvalue": float(chi2.sf(statistic, dof)),
        "isotropy": float(max(p * lam[0], 0.0)),
        "anisotropy": float(p * lam[-1]),
        "n_axes": n,
        "n_zero_columns": int(D.shape[1] - n),
    }


# -- tasks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyTask:
    """One network of a survey: architecture, data size, seed, and what to measure.

    The task's randomness is ``SeedSequence(base_seed, spawn_key=(arch_index,
    seed_index))``: inputs x_j ~ N(0, 1)^M and θ from ``MLP.init``.
    """

    task_id: int
    kind: str
    layers: tuple
    n_samples: int
    arch_index: int
    seed_index: int
    base_seed: int
    activation: str = "tanh"
    weight_scale: float = 1.0
    rank_rtol: float | None = None

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.base_seed, spawn_key=(self.arch_index, self.seed_index))

    def spec(self) -> dict:
        """The fields that identify the task in a survey file."""
        return {
            "task_id": self.task_id,
            "layers": "-".join(str(m) for m in self.layers),
            "N": self.n_samples,
            "arch_index": self.arch_index,
            "seed_index": self.seed_index,
        }

    def build(self):
        """(f, θ): the network map on this task's inputs and its random parameters."""
        from subriemann.maps.network import MLP, NetworkMap

        data_seq, theta_seq = self.seed_sequence().spawn(2)
        net = MLP(list(self.layers), activation=self.activation)
        inputs = np.random.default_rng(data_seq).normal(size=(self.n_samples, net.M))
        theta = net.init(seed=theta_seq, weight_scale=self.weight_scale)
        return NetworkMap(net, inputs), theta


def make_tasks(
    kind,
    architectures,
    seeds,
    n_samples,
    base_seed=0,
    activation="tanh",
    weight_scale=1.0,
    rank_policy=None,
) -> list[SurveyTask]:
    """The task list of a survey: every architecture × every seed, ids in that order.

    Parameters
    ----------
    kind : {"rank", "frobenius"}
    architectures : sequence of layer specs (see :func:`parse_architecture`)
    seeds : int or sequence of int
        Number of seeds (indices 0..seeds−1) or the seed indices themselves.
    n_samples : int or sequence of int
        N, for all architectures or one per architecture.
    base_seed : int
    activation : str
        A smooth activation name (see :class:`~subriemann.maps.network.MLP`).
    weight_scale : float
        Passed to ``MLP.init``.
    rank_policy : RankPolicy or float or None
        Only a relative tolerance travels to workers (``RankPolicy.rtol``).
    """
    from subriemann.maps.network import get_activation

    if kind not in SURVEY_KINDS:
        raise InputError(f"survey kind must be one of {SURVEY_KINDS}, got {kind!r}")
    if (
        isinstance(architectures, str)
        or not isinstance(architectures, Sequence)
        or not architectures
    ):
        raise InputError(
            "architectures must be a non-empty list of layer specs such as ['2-8-3', [2, 16, 3]]"
        )
    archs = [tuple(parse_architecture(a)) for a in architectures]
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        seed_list = list(range(check_int(seeds, "seeds", "the number of seeds")))
    else:
        try:
            seed_list = [int(s) for s in seeds]
        except (TypeError, ValueError) as exc:
            raise InputError(f"seeds must be a count or a list of ints, got {seeds!r}") from exc
        if not seed_list or any(s < 0 for s in seed_list) or len(set(seed_list)) != len(seed_list):
            raise InputError(f"seeds must be distinct non-negative integers, got {seed_list}")
    if isinstance(n_samples, Sequence | np.ndarray) and not isinstance(n_samples, str):
        if len(n_samples) != len(archs):
            raise InputError(
                f"n_samples must be one N or one per architecture ({len(archs)}), "
                f"got {len(n_samples)} values"
            )
        Ns = [check_int(n, "n_samples", "N of each architecture") for n in n_samples]
    else:
        Ns = [check_int(n_samples, "n_samples", "N")] * len(archs)
    base_seed = check_int(base_seed, "base_seed", minimum=0)
    weight_scale = check_real(weight_scale, "weight_scale", positive=True)
    act = get_activation(activation)
    policy = resolve_policy(rank_policy)
    if policy.atol is not None:
        raise InputError("surveys take a relative rank tolerance only (RankPolicy(rtol=...))")
    tasks = []
    for a, (layers, N) in enumerate(zip(archs, Ns, strict=True)):
        for s in seed_list:
            tasks.append(
                SurveyTask(
                    task_id=len(tasks),
                    kind=kind,
                    layers=layers,
                    n_samples=N,
                    arch_index=a,
                    seed_index=s,
                    base_seed=base_seed,
                    activation=act.name,
                    weight_scale=weight_scale,
                    rank_rtol=policy.rtol,
                )
            )
    return tasks


def _base_row(task, f):
    K, QN = f.dim_in, f.dim_out
    return {
        **task.spec(),
        "M": f.mlp.M,
        "Q": f.mlp.Q,
        "K": K,
        "QN": QN,
        "ratio": K / QN,
    }


def _rank_row(task) -> dict:
    f, theta = task.build()
    row = _base_row(task, f)
    D = f.jacobian(theta)
    svd = JacobianSVD(D, RankPolicy(rtol=task.rank_rtol))
    rep = svd.report
    s = svd.singular_values
    row.update(
        rank=rep.rank,
        full_rank=rep.rank == f.dim_out,
        sigma_min=float(s[-1]),
        sigma_max=float(s[0]),
        # cond of D itself; cond(DDᵀ) is its square
        condition=float(s[0] / s[-1]) if s[-1] > 0 else float("inf"),
    )
    if f.dim_out >= 2:
        stats = bingham_test(D)
        row.update(
            {
                f"bingham_{k}" if k in ("statistic", "dof", "pvalue") else k: v
                for k, v in stats.items()
            }
        )
    return row


def _frobenius_row(task) -> dict:
    from subriemann.geometry.bundles import PullbackBundle

    f, theta = task.build()
    row = _base_row(task, f)
    bundle = PullbackBundle(f, rank_policy=RankPolicy(rtol=task.rank_rtol))
    report = bundle.distribution().frobenius_defect(theta)
    for key in (
        "rank",
        "curvature_norm",
        "relative_defect",
        "tolerance",
        "is_involutive",
        "conclusive",
        "bracket_route",
    ):
        value = getattr(report, key, None)
        row[key] = value.item() if isinstance(value, np.generic) else value
    return row


def run_task(task: SurveyTask) -> dict:
    """Measure one network; a top-level function so that process and Dask workers can run it.

    Returns
    -------
    dict
        One table row (JSON-safe).  A task whose computation fails with the
        package's error (e.g. overflow) gives a row with an ``error`` message
        instead of numbers, so the survey goes on and the failure is visible.
    """
    try:
        row = _rank_row(task) if task.kind == "rank" else _frobenius_row(task)
        row["error"] = None
    except SubriemannError as exc:
        row = {**task.spec(), "error": f"{type(exc).__name__}: {exc}"}
    return _jsonable(row)


def _jsonable(obj):
    """A JSON round trip (inf/NaN → None), so that fresh and resumed rows are identical."""
    from subriemann.report.records import to_jsonable

    return json.loads(json.dumps(to_jsonable(obj), allow_nan=False))


# -- the survey file ------------------------------------------------------------------
def _config(tasks, kind) -> dict:
    t0 = tasks[0]
    archs, Ns = {}, {}
    for t in tasks:
        archs[t.arch_index] = "-".join(map(str, t.layers))
        Ns[t.arch_index] = t.n_samples
    return _jsonable(
        {
            "kind": kind,
            "architectures": [archs[a] for a in sorted(archs)],
            "n_samples": [Ns[a] for a in sorted(Ns)],
            "seeds": sorted({t.seed_index for t in tasks}),
            "base_seed": t0.base_seed,
            "activation": t0.activation,
            "weight_scale": t0.weight_scale,
            "rank_rtol": t0.rank_rtol,
        }
    )


def _read_survey_file(path: Path, repair: bool = False):
    """(header, rows by task id, warnings) of a survey file.

    An unterminated last line is a write cut by a crash: if it still parses as a
    complete row, the row is kept (no finished task is ever lost); otherwise it
    is skipped with a warning.  With ``repair`` the file is made line-aligned
    again (the newline added, or the torn tail cut), so that appended rows start
    on a line of their own.
    """
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    complete, tail = raw[:end], raw[end:]
    warnings = []
    tail_obj = None
    if tail.strip():
        try:
            tail_obj = json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            tail_obj = None
        if not isinstance(tail_obj, dict) or ("task_id" not in tail_obj and end > 0):
            tail_obj = None
            warnings.append(
                f"survey file {str(path)!r}: skipped a torn last line ({len(tail)} bytes, a write "
                "cut by a crash); its task is run again"
            )
    if repair and tail:
        # the last write was interrupted: make the file line-aligned again for the appends
        with path.open("r+b") as fh:
            if tail_obj is None:
                fh.truncate(len(complete))
            else:
                fh.seek(len(raw))
                fh.write(b"\n")
    lines = complete.split(b"\n") + ([tail] if tail_obj is not None else [])
    header, rows = None, {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"survey file {str(path)!r}, line {number}, is not valid JSON; "
                "expected one JSON object per line as written by a survey"
            ) from exc
        if number == 1:
            if not isinstance(obj, dict) or "header" not in obj:
                raise InputError(
                    f"survey file {str(path)!r} has no header line; it was not written by a survey"
                )
            header = obj["header"]
        elif not isinstance(obj, dict) or not isinstance(obj.get("task_id"), int):
            raise InputError(
                f"survey file {str(path)!r}, line {number}, is not a survey row (no task_id)"
            )
        else:
            rows[obj["task_id"]] = obj
    return header, rows, warnings


def _write_header(path: Path, header: dict) -> None:
    from subriemann.report.records import write_atomic

    write_atomic(path, json.dumps({"header": header}) + "\n")


def _open_survey_file(path, tasks, kind):
    """(rows already done in ``path``, warnings), checked against ``tasks``; creates the file."""
    path = Path(path)
    config = _config(tasks, kind)
    header = {"schema": SURVEY_SCHEMA, "config": config}
    if not path.exists() or path.stat().st_size == 0:
        _write_header(path, header)
        return {}, []
    old_header, rows, warnings = _read_survey_file(path, repair=True)
    if old_header is None:
        _write_header(path, header)
        return {}, warnings
    if old_header.get("config") != config:
        raise InputError(
            f"survey file {str(path)!r} was written by a different survey (config "
            f"{old_header.get('config')}); expected {config}. Use another output file or delete it"
        )
    by_id = {t.task_id: t for t in tasks}
    for tid, row in rows.items():
        task = by_id.get(tid)
        if task is None or any(row.get(k) != v for k, v in task.spec().items()):
            raise InputError(
                f"survey file {str(path)!r} has a row for task {tid} that does not match this "
                "survey's task list; use another output file or delete it"
            )
    return rows, warnings


class _Writer:
    """Append finished rows to the survey file: one whole JSON line each, flushed to disk.

    A row is written with one call and fsync'ed, so a crash loses at most the
    row being written; if the write itself fails (e.g. a full disk), the file is
    cut back to its last complete line before the error propagates, so later
    appends and a resume never meet a torn line.
    """

    def __init__(self, path):
        # unbuffered: what write() reports written is in the file, so a cut is exact
        self.fh = None if path is None else Path(path).open("ab", buffering=0)

    def write(self, row):
        if self.fh is None:
            return
        line = memoryview((json.dumps(row, allow_nan=False) + "\n").encode("utf-8"))
        start = self.fh.tell()
        try:
            while line:
                line = line[self.fh.write(line) :]
            os.fsync(self.fh.fileno())
        except BaseException:
            with suppress(OSError):
                self.fh.truncate(start)
            raise

    def close(self):
        if self.fh is not None:
            self.fh.close()


# -- backends -------------------------------------------------------------------------
def _process_context():
    import multiprocessing

    # Never fork this process (it may hold BLAS or Dask threads).  A forkserver is a
    # fresh single-threaded process: let it import the task code once, so that each
    # worker forked from it starts with numpy/scipy already loaded.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(
            ["subriemann.diagnostics.surveys", "subriemann.maps.network", "scipy.stats"]
        )
        return ctx
    return multiprocessing.get_context("spawn")


def _run_serial(pending, emit):
    for task in pending:
        emit(run_task(task))


#: One BLAS thread per worker process, as Dask's nanny does: the workers already use
#: the cores, and nested BLAS threads oversubscribe them (measured 10x slower SVDs on a
#: loaded 2-core machine).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def _worker_environment():
    """Set :data:`WORKER_ENVIRONMENT` while worker processes start (they inherit it)."""
    saved = {k: os.environ.get(k) for k in WORKER_ENVIRONMENT}
    os.environ.update(WORKER_ENVIRONMENT)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: Seconds between a worker's checks that the survey process still exists.
WATCHDOG_INTERVAL = 0.25


def _process_identity(pid: int):
    """(state, start time) of process ``pid`` from ``/proc`` (Linux), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its ")"
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0], fields[19]  # field 3 (state) and field 22 (start time)


def _survey_process_alive(pid: int, start) -> bool:
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

    def watch():
        while _survey_process_alive(pid, start):
            time.sleep(WATCHDOG_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="subriemann-survey-watchdog", daemon=True).start()


def _run_processes(pending, emit, n_jobs):
    with (
        _worker_environment(),
        ProcessPoolExecutor(
            max_workers=n_jobs,
            mp_context=_process_context(),
            initializer=_watch_survey_process,
            initargs=(os.getpid(),),
        ) as pool,
    ):
        futures = {pool.submit(run_task, t) for t in pending}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    emit(fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _dask_client(scheduler):
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "a Dask scheduler was given but dask.distributed is not installed; install the "
            "optional extra: pip install 'subriemann[distributed]'"
        ) from exc
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
_blas_state: dict = {"users": 0, "controller": None, "original": None}


@contextmanager
def _one_blas_thread():
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


def _run_task_on_worker(task: SurveyTask) -> dict:
    """:func:`run_task` with one BLAS thread: what a Dask worker runs."""
    with _one_blas_thread():
        return run_task(task)


def _run_dask(pending, emit, scheduler):
    from distributed import as_completed

    client, owned = _dask_client(scheduler)
    futures = []
    try:
        futures = client.map(_run_task_on_worker, pending, pure=False)
        for fut in as_completed(futures, loop=client.loop):
            emit(fut.result())
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if owned:
            client.close()


def run_survey(tasks, n_jobs=1, scheduler=None, out=None, progress=None) -> SurveyResult:
    """Run survey tasks on a backend, appending each finished row to ``out``; resume from it.

    Parameters
    ----------
    tasks : list of SurveyTask
        From :func:`make_tasks` (all of one kind).
    n_jobs : int
        1: serial in this process (default).  > 1: that many local worker
        processes (start method forkserver/spawn).  −1: one per CPU.
    scheduler : str, distributed.Client or LocalCluster, optional
        Run on this Dask cluster instead (needs the extra ``distributed``);
        takes precedence over ``n_jobs``.
    out : path-like, optional
        JSON-lines file: a header line, then one row per finished task.  If it
        exists and was written by the same survey, its tasks are skipped.
    progress : callable, optional
        ``progress(done, total)``: once at the start (tasks already in
        ``out``) and after each finished task.  An exception raised by it stops
        the survey; the rows written so far stay in ``out``.

    Returns
    -------
    SurveyResult
    """
    if not tasks:
        raise InputError("a survey needs at least one task")
    kind = tasks[0].kind
    if any(t.kind != kind for t in tasks):
        raise InputError("all tasks of a survey must be of one kind")
    if isinstance(n_jobs, int | np.integer) and n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    n_jobs = check_int(n_jobs, "n_jobs", "local processes, or -1 for all CPUs")
    done_rows, warnings = ({}, []) if out is None else _open_survey_file(out, tasks, kind)
    pending = [t for t in tasks if t.task_id not in done_rows]
    rows = dict(done_rows)
    total = len(tasks)
    writer = _Writer(out)

    def emit(row):
        rows[row["task_id"]] = row
        writer.write(row)
        if progress is not None:
            progress(len(rows), total)

    try:
        if progress is not None:
            progress(len(rows), total)
        if pending:
            if scheduler is not None:
                _run_dask(pending, emit, scheduler)
            elif n_jobs > 1 and len(pending) > 1:
                _run_processes(pending, emit, min(n_jobs, len(pending)))
            else:
                _run_serial(pending, emit)
    finally:
        writer.close()
    return SurveyResult(kind, _config(tasks, kind), [rows[k] for k in sorted(rows)], warnings)


def _survey_architectures(architectures, ratios, n_samples, input_dim, output_dim, depth):
    """The layer specs of a survey: given, or built from target ratios K/QN."""
    if ratios is None:
        if architectures is None:
            raise InputError("give architectures (layer specs) or ratios (target K/QN values)")
        return architectures
    if architectures is not None:
        raise InputError("give either architectures or ratios, not both")
    if not isinstance(n_samples, int | np.integer):
        raise InputError("with ratios, n_samples must be one integer N")
    return architectures_for_ratios(ratios, input_dim, output_dim, n_samples, depth)


def run_rank_survey(
    architectures=None,
    seeds=10,
    n_samples=4,
    ratios=None,
    input_dim=2,
    output_dim=2,
    depth=1,
    base_seed=0,
    activation="tanh",
    weight_scale=1.0,
    rank_policy=None,
    n_jobs=1,
    scheduler=None,
    out=None,
    progress=None,
) -> SurveyResult:
    """Rank survey: P[rank DDᵀ = QN] vs K/QN, σ_min, cond(D), and the spread of the e_j (2.12).

    Measures Prop. 2.2 and the open question after it on random networks.
    Each row is one network: K, QN, K/QN, rank D, full_rank (rank = QN,
    condition (2.1)), σ_min and σ_max of D, cond(D) = σ_max/σ_min (cond(DDᵀ)
    is its square), and Bingham's test of the axes e_j (``bingham_statistic``,
    ``bingham_dof``, ``bingham_pvalue``, ``isotropy``, ``anisotropy``,
    ``n_axes``, ``n_zero_columns``; see the module docstring).

    Parameters
    ----------
    architectures : sequence of layer specs, optional
        E.g. ``["2-4-2", [2, 16, 2]]``.  Either this or ``ratios``.
    seeds : int or sequence of int
        Random networks per architecture (count, or explicit seed indices).
    n_samples : int or sequence of int
        N training inputs (x_j ~ N(0, I_M)), one value or one per architecture.
    ratios : sequence of float, optional
        Target K/QN values; architectures ``[M, m, ..., m, Q]`` are built by
        :func:`architectures_for_ratios` from ``input_dim`` (M),
        ``output_dim`` (Q), ``n_samples`` (N, an int here) and ``depth``.
    input_dim, output_dim, depth : int
        Used with ``ratios``.
    base_seed : int
        Root of every task's seed sequence.
    activation : str
        Smooth hidden activation (default tanh).
    weight_scale : float
        W_ℓ ~ N(0, weight_scale²/M_{ℓ−1}) (``MLP.init``); large values saturate
        tanh units and shrink σ_min.
    rank_policy : RankPolicy or float or None
        Relative tolerance for the rank decision (default numpy's rule).
    n_jobs, scheduler, out, progress
        Execution, see :func:`run_survey`.

    Returns
    -------
    SurveyResult
    """
    architectures = _survey_architectures(
        architectures, ratios, n_samples, input_dim, output_dim, depth
    )
    tasks = make_tasks(
        "rank", architectures, seeds, n_samples, base_seed, activation, weight_scale, rank_policy
    )
    return run_survey(tasks, n_jobs=n_jobs, scheduler=scheduler, out=out, progress=progress)


def run_frobenius_survey(
    architectures=None,
    seeds=5,
    n_samples=2,
    ratios=None,
    input_dim=1,
    output_dim=1,
    depth=1,
    base_seed=0,
    activation="tanh",
    weight_scale=1.0,
    rank_policy=None,
    n_jobs=1,
    scheduler=None,
    out=None,
    progress=None,
) -> SurveyResult:
    """Integrability survey: the Frobenius defect of V = range Dᵀ (2.31) over random networks.

    Each row is one network and one point θ: ``curvature_norm`` and
    ``relative_defect`` of the curvature Ω_θ : Λ²V → TR^K/V, ``is_involutive``
    (defect below the ``tolerance`` of the Frobenius test) and the rank of V,
    from ``PullbackBundle(f).distribution().frobenius_defect(θ)``.  A
    non-involutive V makes (R^K, V, h) sub-Riemannian (§2.4).  The cost grows
    with the number of frame brackets, QN(QN−1)/2: keep QN small.

    Parameters are those of :func:`run_rank_survey` (with smaller defaults).

    Returns
    -------
    SurveyResult
    """
    architectures = _survey_architectures(
        architectures, ratios, n_samples, input_dim, output_dim, depth
    )
    tasks = make_tasks(
        "frobenius",
        architectures,
        seeds,
        n_samples,
        base_seed,
        activation,
        weight_scale,
        rank_policy,
    )
    return run_survey(tasks, n_jobs=n_jobs, scheduler=scheduler, out=out, progress=progress)


def _plain_log_ticks(ax):
    """Label a log K/QN axis with plain numbers at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    if ax.get_xscale() == "log":
        ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())


# -- results ----------------------------------------------------------------------------
@dataclass
class SurveyResult:
    """The table of a survey (rows sorted by task id), its configuration and summaries.

    Attributes
    ----------
    kind : {"rank", "frobenius"}
    config : dict
        Architectures, N, seeds, base seed, activation, weight scale, rank tolerance.
    rows : list of dict
        One per network; failed tasks carry an ``error`` message.
    warnings : list of str
        What reading the survey file repaired, e.g. a torn last line skipped
        (its task was run again).
    """

    kind: str
    config: dict
    rows: list
    warnings: list = field(default_factory=list)

    @classmethod
    def read(cls, path) -> SurveyResult:
        """Load the (possibly partial) table from a survey's JSON-lines file."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"survey file {str(path)!r} does not exist")
        header, rows, warnings = _read_survey_file(path)
        if header is None:
            raise InputError(f"survey file {str(path)!r} is empty")
        config = header["config"]
        return cls(config["kind"], config, [rows[k] for k in sorted(rows)], warnings)

    def differences(self, other, rtol=1e-8, atol=1e-12) -> list:
        """Cells where two tables of the same survey differ: [(task_id, column, mine, theirs)].

        Integers, booleans, strings and missing values must be equal; floats
        x, y must satisfy |x − y| ≤ atol + rtol·max(|x|, |y|).  Why a
        tolerance: a BLAS reduction sums in an order that depends on its
        thread count and on the CPU's kernels, so the same task on a
        multi-threaded process, a single-threaded worker or another machine
        can differ in the last bits — and quantities built from small
        singular values or eigenvalues (σ_min, cond(D), isotropy) carry that
        round-off amplified by the conditioning (relative error ~ eps·cond;
        seen: 2e-10 for isotropy ~1e-5).  The defaults accept conditioning up
        to ~1e7.  With equal BLAS settings on one machine the tables are
        bitwise identical.
        """
        if not isinstance(other, SurveyResult):
            raise InputError(f"can only compare with a SurveyResult, got {type(other).__name__}")
        out = []
        mine = {r["task_id"]: r for r in self.rows}
        theirs = {r["task_id"]: r for r in other.rows}
        for tid in sorted(set(mine) | set(theirs)):
            a, b = mine.get(tid), theirs.get(tid)
            if a is None or b is None:
                out.append((tid, "<row>", a is not None, b is not None))
                continue
            for key in sorted(set(a) | set(b)):
                x, y = a.get(key), b.get(key)
                if isinstance(x, float) and isinstance(y, float):
                    if abs(x - y) > atol + rtol * max(abs(x), abs(y)):
                        out.append((tid, key, x, y))
                elif x != y:
                    out.append((tid, key, x, y))
        return out

    def matches(self, other, rtol=1e-8, atol=1e-12) -> bool:
        """Same table up to floating-point round-off (see :meth:`differences`)."""
        return not self.differences(other, rtol, atol)

    @property
    def ok_rows(self) -> list:
        return [r for r in self.rows if not r.get("error")]

    def column(self, name) -> np.ndarray:
        """One column over the successful rows as floats (None → NaN)."""
        return np.array(
            [np.nan if r.get(name) is None else float(r[name]) for r in self.ok_rows], dtype=float
        )

    def summary(self) -> dict:
        """Aggregates per architecture.

        Rank survey: ``p_full_rank`` = P[rank DDᵀ = QN] with a 95 %
        Clopper–Pearson interval, σ_min (median, min, 10 % / 90 % quantiles),
        median cond(D), the fraction of networks where Bingham's test rejects
        uniform axes at 5 %, the median isotropy.  Frobenius survey: the
        fraction of involutive points and the median / max relative defect.
        """
        from scipy.stats import binomtest

        groups: dict = {}
        for r in self.ok_rows:
            groups.setdefault(r["arch_index"], []).append(r)
        per_arch = []
        for a in sorted(groups):
            rs = groups[a]
            first = rs[0]
            entry = {
                "arch_index": a,
                "layers": first["layers"],
                "N": first["N"],
                "K": first["K"],
                "QN": first["QN"],
                "ratio": first["ratio"],
                "n": len(rs),
            }
            if self.kind == "rank":
                k = sum(bool(r["full_rank"]) for r in rs)
                ci = binomtest(k, len(rs)).proportion_ci(confidence_level=0.95)
                smin = np.array([r["sigma_min"] for r in rs], dtype=float)
                cond = np.array([np.inf if r["condition"] is None else r["condition"] for r in rs])
                entry.update(
                    p_full_rank=k / len(rs),
                    p_full_rank_ci=[float(ci.low), float(ci.high)],
                    sigma_min_median=float(np.median(smin)),
                    sigma_min_min=float(np.min(smin)),
                    sigma_min_q10=float(np.quantile(smin, 0.1)),
                    sigma_min_q90=float(np.quantile(smin, 0.9)),
                    condition_median=float(np.median(cond)),
                )
                pv = [r["bingham_pvalue"] for r in rs if r.get("bingham_pvalue") is not None]
                if pv:
                    entry.update(
                        bingham_reject_fraction=float(np.mean(np.array(pv) < 0.05)),
                        isotropy_median=float(np.median([r["isotropy"] for r in rs])),
                    )
            else:
                rel = np.array(
                    [
                        np.nan if r.get("relative_defect") is None else r["relative_defect"]
                        for r in rs
                    ]
                )
                entry.update(
                    involutive_fraction=float(np.mean([bool(r.get("is_involutive")) for r in rs])),
                    relative_defect_median=float(np.nanmedian(rel))
                    if np.any(np.isfinite(rel))
                    else None,
                    relative_defect_max=float(np.nanmax(rel)) if np.any(np.isfinite(rel)) else None,
                )
            per_arch.append(entry)
        return _jsonable(
            {
                "kind": self.kind,
                "n_tasks": len(self.rows),
                "n_errors": len(self.rows) - len(self.ok_rows),
                "architectures": per_arch,
            }
        )

    def to_csv(self, path) -> Path:
        """The table as CSV, with the survey configuration in ``#`` comment lines."""
        from subriemann.report.records import write_csv

        return write_csv(path, self.rows, comments={"survey": self.kind, "config": self.config})

    def to_json(self, path) -> Path:
        """Configuration, summary and rows as one JSON record (see ``report.make_record``)."""
        from subriemann.report.records import make_record, write_json

        record = make_record(
            "survey",
            self.config,
            self.config.get("base_seed"),
            {"survey": self.kind, "summary": self.summary(), "rows": self.rows},
        )
        return write_json(path, record)

    def plot(self, path) -> Path:
        """Draw the survey's figure (PNG) with the theory reference lines; returns the path.

        Rank survey, three panels against K/QN: P[rank DDᵀ = QN] with 95 %
        intervals and Prop. 2.2's prediction (0 for K < QN since rank ≤ K,
        1 for K > QN under its hypothesis); σ_min(D) per network (log); and
        Bingham's S/dof (1 = expected under uniform axes, dashed: the 5 %
        critical value).  Frobenius survey: relative defect per network
        against K/QN with the involutivity tolerance.
        """
        from matplotlib.figure import Figure

        rows = self.ok_rows
        if not rows:
            raise InputError("the survey has no successful rows to plot")
        summary = self.summary()["architectures"]
        ratio = self.column("ratio")
        if self.kind == "rank":
            fig = Figure(figsize=(13.5, 3.8), layout="constrained")
            ax_p, ax_s, ax_b = fig.subplots(1, 3)
            r_sum = np.array([e["ratio"] for e in summary])
            p = np.array([e["p_full_rank"] for e in summary])
            ci = np.array([e["p_full_rank_ci"] for e in summary])
            order = np.argsort(r_sum)
            ax_p.errorbar(
                r_sum[order],
                p[order],
                yerr=[p[order] - ci[order, 0], ci[order, 1] - p[order]],
                fmt="o-",
                capsize=3,
                label="measured (95 % CI)",
            )
            lo, hi = min(r_sum.min(), 0.9), max(r_sum.max(), 1.1)
            ax_p.step(
                [lo, 1.0, hi],
                [0.0, 1.0, 1.0],
                where="post",
                color="k",
                ls="--",
                lw=1.0,
                label="Prop. 2.2: 1 for K > QN",
            )
            ax_p.axvline(1.0, color="grey", lw=0.6, ls=":")
            ax_p.set_xscale("log")
            ax_p.set_ylim(-0.05, 1.05)
            ax_p.set_xlabel("K / QN")
            ax_p.set_ylabel("P[rank DDᵀ = QN]")
            ax_p.set_title("Rank condition (2.1)")
            ax_p.legend(fontsize=8)
            smin = self.column("sigma_min")
            tiny = np.finfo(float).tiny
            ax_s.scatter(ratio, np.maximum(smin, tiny), s=10, alpha=0.6, label="networks")
            ax_s.plot(
                r_sum[order],
                [summary[i]["sigma_min_median"] for i in order],
                "k-",
                lw=1.0,
                label="median",
            )
            ax_s.axvline(1.0, color="grey", lw=0.6, ls=":")
            ax_s.set_xscale("log")
            ax_s.set_yscale("log")
            ax_s.set_xlabel("K / QN")
            ax_s.set_ylabel("σ_min(D), smallest of min(K, QN)")
            ax_s.set_title("Smallest singular value of D")
            ax_s.legend(fontsize=8)
            stat, dof = self.column("bingham_statistic"), self.column("bingham_dof")
            if np.any(np.isfinite(stat)):
                from scipy.stats import chi2

                ax_b.scatter(ratio, stat / dof, s=10, alpha=0.6, label="networks")
                ax_b.axhline(1.0, color="k", ls="--", lw=1.0, label="uniform axes: E[S]/dof = 1")
                crit = np.nanmedian(chi2.ppf(0.95, dof) / dof)
                ax_b.axhline(crit, color="k", ls=":", lw=1.0, label="5 % critical value")
                ax_b.set_yscale("log")
            ax_b.set_xscale("log")
            ax_b.set_xlabel("K / QN")
            ax_b.set_ylabel("Bingham S / dof")
            ax_b.set_title("Spread of the e_j (2.12) on S^{QN−1}")
            ax_b.legend(fontsize=8)
        else:
            fig = Figure(figsize=(6.4, 4.0), layout="constrained")
            ax = fig.subplots()
            rel = self.column("relative_defect")
            inv = np.array([bool(r.get("is_involutive")) for r in rows])
            floor = np.nanmin(rel[rel > 0]) * 1e-2 if np.any(rel > 0) else 1e-300
            shown = np.where(rel > 0, rel, floor)
            ax.scatter(ratio[~inv], shown[~inv], color="C3", s=14, label="not involutive")
            ax.scatter(ratio[inv], shown[inv], color="C2", s=14, label="involutive")
            tol = self.column("tolerance")
            if np.any(np.isfinite(tol)):
                ax.axhline(
                    np.nanmedian(tol), color="k", ls="--", lw=1.0, label="tolerance of the test"
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("K / QN")
            ax.set_ylabel("relative Frobenius defect of V")
            ax.set_title("Integrability of V = range Dᵀ (2.31) over random networks")
            ax.legend(fontsize=8)
        for ax in fig.axes:
            _plain_log_ticks(ax)
        from subriemann.report.records import save_figure

        return save_figure(fig, path, dpi=90)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "config": self.config, "rows": self.rows}
