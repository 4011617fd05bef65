"""Surveys over many random networks: the rank condition (§2.1), along orbits, and integrability (§2.4).

* **Rank survey** (Prop. 2.2 and the open question after it).  For random
  architectures, data and initializations: is rank DDᵀ = QN (2.1)?  How small
  is σ_min(D), how large cond(D)?  Prop. 2.2 assumes the unit vectors
  e_j = ∂_jx / |∂_jx| of (2.12) i.i.d. with an absolutely continuous law; the
  survey checks that hypothesis structurally (θ-independent columns = atoms,
  exact-zero patterns, rank of the support: :func:`.statistics.column_structure`)
  and describes the spread with Bingham's statistic (descriptive only).
* **Orbit survey** (Theorem 2.1 needs (2.1) along the whole orbit).  The
  adapted flow integrated to C ≤ ε from random θ₀, with σ_min(D), σ_max(D) and
  |θ| along the orbit and its outcome (:mod:`.orbit_survey`).
* **Integrability survey** (§2.4).  The Frobenius defect of V = range Dᵀ
  (2.31) at random points, via ``PullbackBundle(f).distribution()``; the
  verdict is involutive, not involutive or inconclusive.

Execution is serial by default, or on local processes (``n_jobs``), or on a
Dask distributed cluster (``scheduler``; the optional extra ``distributed``).
Every task draws its data and θ from its own seed,
``SeedSequence(base_seed, spawn_key=(architecture_key(layers), seed index))``
(a stable hash of the architecture, not its position in the list), so a
table does not depend on the backend, on the order tasks finish in, or on
which other tasks ran — a survey of a subset of the architectures gives the
full survey's rows of those architectures bitwise: the same networks are measured and every integer,
boolean and string is the same; floats agree to round-off, and bitwise when
the processes use the same BLAS threading (worker processes and Dask workers
use one BLAS thread; see :meth:`SurveyResult.differences`).

With ``out=`` each finished task is appended as one JSON line (after a header
line with the configuration); a rerun with the same ``out`` skips the tasks
already there, so an interrupted survey loses nothing and resumes where it
stopped (:mod:`.survey_store`).  The final table is sorted by task id.

What a survey measures and how it runs is one :class:`SurveyOptions`, taken by
every runner (``options=``) and built from their keyword arguments.  The
modules behind them: :mod:`.survey_tasks` (the tasks and their rows),
:mod:`.statistics` (structural checks and Bingham's statistic of the e_j),
:mod:`.orbit_survey` (one orbit), :mod:`.backends` (serial, processes, Dask),
:mod:`.survey_store` (the JSON-lines file); the figures are drawn by the
report layer (:mod:`subriemann.report.survey_figures`).

Why one module of ~630 lines: its one concept is *running a survey and holding its table* —
the options every runner shares, the three runners built on one generic ``run_survey``, and
the :class:`SurveyResult` they return; each piece with its own concept (tasks, statistics,
backends, storage, summaries) already lives in its own module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

# The names of the survey modules that lived here before the split stay importable from
# here (noqa: F401); each is listed in the __all__ of the module that defines it.
from subriemann.diagnostics.backends import (  # noqa: F401
    WATCHDOG_INTERVAL,
    WORKER_ENVIRONMENT,
    run_on_dask,
    run_on_processes,
    run_serial,
)
from subriemann.diagnostics.orbit_survey import OrbitSettings
from subriemann.diagnostics.statistics import bingham_test  # noqa: F401
from subriemann.diagnostics.survey_store import (  # noqa: F401
    SURVEY_SCHEMA,
    SurveyWriter,
    open_survey_file,
    read_survey_file,
    stored_form,
)
from subriemann.diagnostics.survey_summaries import TABLE_COLUMNS, summarize_rows
from subriemann.diagnostics.survey_tasks import (  # noqa: F401
    SURVEY_KINDS,
    SurveyTask,
    architectures_for_ratios,
    make_tasks,
    run_task,
    survey_config,
)
from subriemann.errors import InputError, check_int
from subriemann.linalg import RankPolicy
from subriemann.maps import parse_architecture

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

__all__ = [
    "SurveyOptions",
    "SurveyResult",
    "parse_architecture",
    "run_survey",
    "run_rank_survey",
    "run_frobenius_survey",
    "run_orbit_survey",
]

#: The defaults that differ between the surveys (the fields a SurveyOptions leaves at
#: None): the integrability survey costs QN(QN−1)/2 frame brackets per network and the
#: orbit survey a whole integration, so they start smaller.
SURVEY_DEFAULTS = {
    "rank": {"seeds": 10, "n_samples": 4, "input_dim": 2, "output_dim": 2},
    "frobenius": {"seeds": 5, "n_samples": 2, "input_dim": 1, "output_dim": 1},
    "orbit": {"seeds": 5, "n_samples": 4, "input_dim": 2, "output_dim": 2},
}

#: The fields of SurveyOptions that configure an orbit (OrbitSettings; None: its default).
ORBIT_FIELDS = ("eps", "sigma_threshold", "theta_growth", "max_steps", "route", "n_points")

#: What the forkserver of the process backend imports once for all its workers.
WORKER_PRELOAD = ("subriemann.diagnostics.surveys", "subriemann.maps.network", "scipy.stats")


# -- options and runners ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SurveyOptions:
    """What a rank, orbit or integrability survey measures and how it runs; built by keyword.

    :func:`run_rank_survey`, :func:`run_orbit_survey` and
    :func:`run_frobenius_survey` take it (``options=``), and build it from their
    keyword arguments.  The fields left at None (``seeds``, ``n_samples``,
    ``input_dim``, ``output_dim``) take the defaults of the survey that runs
    it, :data:`SURVEY_DEFAULTS`; the orbit fields (``eps``, ...) left at None
    take those of :class:`~subriemann.diagnostics.orbit_survey.OrbitSettings`.

    Attributes
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
    input_dim, output_dim : int, optional
        M and Q, used with ``ratios``.
    depth : int or sequence of int
        Hidden layers L, used with ``ratios``; with several depths the
        architectures of every depth are surveyed (depth-major order).
    base_seed : int
        Root of every task's seed sequence.
    activation : str
        Smooth hidden activation (default tanh).
    weight_scale : float
        W_ℓ ~ N(0, weight_scale²/M_{ℓ−1}) (``MLP.init``); large values saturate
        tanh units and shrink σ_min.
    rank_policy : RankPolicy or float or None
        Relative tolerance for the rank decision (default numpy's rule).
    n_jobs : int
        1: serial in this process (default).  > 1: that many local worker
        processes.  −1: one per CPU.  See :func:`run_survey`.
    scheduler : str, distributed.Client or LocalCluster, optional
        Run on this Dask cluster instead; takes precedence over ``n_jobs``.
    out : path-like, optional
        The survey's JSON-lines file: finished rows are appended to it and a
        rerun with the same file resumes where it stopped.
    progress : callable, optional
        ``progress(done, total)``, see :func:`run_survey`.
    eps, sigma_threshold, theta_growth, max_steps, route, n_points : optional
        Orbit survey only: the fields of
        :class:`~subriemann.diagnostics.orbit_survey.OrbitSettings`.
    """

    architectures: Sequence[str | Sequence[int]] | None = None
    ratios: Sequence[float] | None = None
    seeds: int | Sequence[int] | None = None
    n_samples: int | Sequence[int] | None = None
    input_dim: int | None = None
    output_dim: int | None = None
    depth: int | Sequence[int] = 1
    base_seed: int = 0
    activation: str = "tanh"
    weight_scale: float = 1.0
    rank_policy: RankPolicy | float | None = None
    n_jobs: int = 1
    scheduler: str | Client | LocalCluster | None = None
    out: str | os.PathLike[str] | None = None
    progress: Callable[[int, int], Any] | None = None
    eps: float | None = None
    sigma_threshold: float | None = None
    theta_growth: float | None = None
    max_steps: int | None = None
    route: str | None = None
    n_points: int | None = None

    def orbit_settings(self) -> OrbitSettings:
        """The :class:`OrbitSettings` of these options (fields left at None: its defaults)."""
        return OrbitSettings(
            **{k: getattr(self, k) for k in ORBIT_FIELDS if getattr(self, k) is not None}
        )

    def for_survey(self, kind: str) -> SurveyOptions:
        """These options with the fields left at None set to the ``kind`` survey's defaults."""
        if kind not in SURVEY_DEFAULTS:
            raise InputError(f"survey kind must be one of {tuple(SURVEY_DEFAULTS)}, got {kind!r}")
        unset: dict[str, Any] = {
            k: v for k, v in SURVEY_DEFAULTS[kind].items() if getattr(self, k) is None
        }
        return replace(self, **unset)

    def tasks(self, kind: str) -> list[SurveyTask]:
        """The task list of a ``kind`` survey with these options (see :func:`make_tasks`)."""
        o = self.for_survey(kind)
        architectures = _survey_architectures(
            o.architectures, o.ratios, o.n_samples, o.input_dim, o.output_dim, o.depth, kind
        )
        orbit_given = [k for k in ORBIT_FIELDS if getattr(o, k) is not None]
        if kind != "orbit" and orbit_given:
            raise InputError(
                f"{orbit_given} configure the orbit survey only, not the {kind} survey"
            )
        # for_survey gave every field left at None (seeds, n_samples among them) its default
        seeds = cast(int | Sequence[int], o.seeds)
        n_samples = cast(int | Sequence[int], o.n_samples)
        return make_tasks(
            kind,
            architectures,
            seeds,
            n_samples,
            o.base_seed,
            o.activation,
            o.weight_scale,
            o.rank_policy,
            orbit=o.orbit_settings() if kind == "orbit" else None,
        )

    def run(self, kind: str) -> SurveyResult:
        """Run the ``kind`` survey with these options (see :func:`run_survey`)."""
        return run_survey(
            self.tasks(kind),
            n_jobs=self.n_jobs,
            scheduler=self.scheduler,
            out=self.out,
            progress=self.progress,
        )


def _options(options, architectures, fields) -> SurveyOptions:
    """``options`` (default ``SurveyOptions()``) with the runner's keyword arguments applied."""
    if options is None:
        options = SurveyOptions()
    elif not isinstance(options, SurveyOptions):
        raise InputError(f"options must be a SurveyOptions, got {type(options).__name__}")
    if architectures is not None:
        fields["architectures"] = architectures
    unknown = sorted(set(fields) - {f.name for f in dataclass_fields(SurveyOptions)})
    if unknown:
        raise TypeError(
            f"unknown survey option(s) {unknown}; expected fields of SurveyOptions: "
            + ", ".join(f.name for f in dataclass_fields(SurveyOptions))
        )
    return replace(options, **fields)


def run_survey(
    tasks: Sequence[SurveyTask],
    n_jobs: int = 1,
    scheduler: str | Client | LocalCluster | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> SurveyResult:
    """Run survey tasks on a backend, appending each finished row to ``out``; resume from it.

    Parameters
    ----------
    tasks : sequence of SurveyTask
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
    config = survey_config(tasks)
    done_rows, warnings = ({}, []) if out is None else open_survey_file(out, config, tasks)
    pending = [t for t in tasks if t.task_id not in done_rows]
    rows = dict(done_rows)
    total = len(tasks)
    writer = SurveyWriter(out)

    def emit(row):
        rows[row["task_id"]] = row
        writer.write(row)
        if progress is not None:
            progress(len(rows), total)

    try:
        if progress is not None:
            progress(len(rows), total)
        if pending:
            # every backend gets the task function from here: the same run_task runs on all
            if scheduler is not None:
                run_on_dask(run_task, pending, emit, scheduler)
            elif n_jobs > 1 and len(pending) > 1:
                n = min(n_jobs, len(pending))
                run_on_processes(run_task, pending, emit, n, preload=WORKER_PRELOAD)
            else:
                run_serial(run_task, pending, emit)
    finally:
        writer.close()
    return SurveyResult(kind, config, [rows[k] for k in sorted(rows)], warnings)


def _survey_architectures(architectures, ratios, n_samples, input_dim, output_dim, depth, kind):
    """The layer specs of a survey: given, or built from target ratios K/QN (K ≥ QN for orbits)."""
    if ratios is None:
        if architectures is None:
            raise InputError("give architectures (layer specs) or ratios (target K/QN values)")
        return architectures
    if architectures is not None:
        raise InputError("give either architectures or ratios, not both")
    if not isinstance(n_samples, int | np.integer):
        raise InputError("with ratios, n_samples must be one integer N")
    depths = [depth] if isinstance(depth, int | np.integer) else list(depth)
    if not depths:
        raise InputError("depth must be an integer L >= 1 or a non-empty list of them")
    return [
        layers
        for L in depths
        for layers in architectures_for_ratios(
            ratios, input_dim, output_dim, n_samples, L, over=kind == "orbit"
        )
    ]


def run_rank_survey(
    architectures: Sequence[str | Sequence[int]] | None = None,
    *,
    options: SurveyOptions | None = None,
    **fields: Any,
) -> SurveyResult:
    """Rank survey: P[rank DDᵀ = QN] vs K/QN, σ_min, cond(D), and the spread of the e_j (2.12).

    Measures Prop. 2.2 and the open question after it on random networks.
    Each row is one network: K, QN, K/QN, rank D, full_rank (rank = QN,
    condition (2.1)), σ_min and σ_max of D, the ``rank_tolerance`` of the
    decision, cond(D) = σ_max/σ_min (cond(DDᵀ) is its square); the structural
    checks of Prop. 2.2's hypothesis (i.i.d. columns with an absolutely
    continuous law) from D at θ and at an independent θ′ (``n_atoms`` and
    ``atom_rank``: θ-independent columns; ``n_sparse`` and
    ``sparse_support_max``: columns with structural exact zeros;
    ``exact_zero_fraction``; ``generic_rank``, ``generic_full_rank``; see
    :func:`~subriemann.diagnostics.statistics.column_structure`); and
    Bingham's statistic of the axes e_j as a description of their spread,
    not a test of Prop. 2.2 (``bingham_statistic``, ``bingham_dof``,
    ``bingham_pvalue``, ``isotropy``, ``anisotropy``, ``n_axes``,
    ``n_zero_columns``).

    Parameters
    ----------
    architectures : sequence of layer specs, optional
        E.g. ``["2-4-2", [2, 16, 2]]``; the same as ``architectures=`` of
        :class:`SurveyOptions`.
    options : SurveyOptions, optional
        What to measure and how to run (default ``SurveyOptions()``).
    **fields
        Any field of :class:`SurveyOptions` (``seeds``, ``n_samples``,
        ``ratios``, ``n_jobs``, ``scheduler``, ``out``, ``progress``, ...); a
        keyword overrides the same field of ``options``.  Fields left unset
        take the defaults of this survey (seeds=10, n_samples=4, input_dim=2,
        output_dim=2).

    Returns
    -------
    SurveyResult
    """
    return _options(options, architectures, fields).run("rank")


def run_orbit_survey(
    architectures: Sequence[str | Sequence[int]] | None = None,
    *,
    options: SurveyOptions | None = None,
    **fields: Any,
) -> SurveyResult:
    """Orbit survey: the rank condition (2.1) along adapted orbits integrated to C ≤ ε.

    Theorem 2.1 needs rank D[θ(s)] = QN along the whole orbit, with
    inf_s σ_min > 0.  Each row is one network and one orbit of the adapted flow
    (2.4) from its random θ₀, integrated with output-exact to C ≤ ε (the
    stopping time (2.18)) on ``route``: the outcome (completed / lost_rank /
    diverged / max_steps), σ_min/σ_max of D at s = 0 and its minimum along
    the orbit, the first s with σ_min/σ_max < ``sigma_threshold``, the growth
    of |θ|, and traces of σ_min, σ_max, |θ| and C (see
    :func:`~subriemann.diagnostics.orbit_survey.measure_orbit`).  Needs K ≥ QN.

    Parameters are those of :func:`run_rank_survey` plus the orbit fields of
    :class:`SurveyOptions` (``eps``, ``sigma_threshold``, ``theta_growth``,
    ``max_steps``, ``route``, ``n_points``); the fields left unset take this
    survey's defaults (seeds=5, n_samples=4, input_dim=2, output_dim=2) and
    those of :class:`~subriemann.diagnostics.orbit_survey.OrbitSettings`.

    Returns
    -------
    SurveyResult
    """
    return _options(options, architectures, fields).run("orbit")


def run_frobenius_survey(
    architectures: Sequence[str | Sequence[int]] | None = None,
    *,
    options: SurveyOptions | None = None,
    **fields: Any,
) -> SurveyResult:
    """Integrability survey: the Frobenius defect of V = range Dᵀ (2.31) over random networks.

    Each row is one network and one point θ: ``curvature_norm`` and
    ``relative_defect`` of the curvature Ω_θ : Λ²V → TR^K/V, ``is_involutive``
    (defect below the ``tolerance`` of the Frobenius test), ``conclusive``,
    the ``verdict`` (involutive / not involutive / inconclusive) and the rank of V,
    from ``PullbackBundle(f).distribution().frobenius_defect(θ)``.  A
    non-involutive V makes (R^K, V, h) sub-Riemannian (§2.4).  The cost grows
    with the number of frame brackets, QN(QN−1)/2: keep QN small.

    Parameters are those of :func:`run_rank_survey`; the fields left unset take
    this survey's defaults, smaller than the rank survey's (seeds=5, n_samples=2,
    input_dim=1, output_dim=1).

    Returns
    -------
    SurveyResult
    """
    return _options(options, architectures, fields).run("frobenius")


# -- results ----------------------------------------------------------------------------
@dataclass
class SurveyResult:
    """The table of a survey (rows sorted by task id), its configuration and summaries.

    Attributes
    ----------
    kind : {"rank", "frobenius", "orbit"}
    config : dict
        Architectures, N, seeds, base seed, activation, weight scale, rank tolerance.
    rows : list of dict
        One per network; failed tasks carry an ``error`` message.
    warnings : list of str
        What reading the survey file repaired, e.g. a torn last line skipped
        (its task was run again).
    """

    kind: str
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> SurveyResult:
        """Load the (possibly partial) table from a survey's JSON-lines file."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"survey file {str(path)!r} does not exist")
        header, rows, warnings = read_survey_file(path)
        if header is None:
            raise InputError(f"survey file {str(path)!r} is empty")
        config = header["config"]
        return cls(config["kind"], config, [rows[k] for k in sorted(rows)], warnings)

    def differences(
        self, other: SurveyResult, rtol: float = 1e-8, atol: float = 1e-12
    ) -> list[tuple[int, str, Any, Any]]:
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
        out: list[tuple[int, str, Any, Any]] = []
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

    def matches(self, other: SurveyResult, rtol: float = 1e-8, atol: float = 1e-12) -> bool:
        """Same table up to floating-point round-off (see :meth:`differences`)."""
        return not self.differences(other, rtol, atol)

    @property
    def ok_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r.get("error")]

    def column(self, name: str) -> np.ndarray:
        """One column over the successful rows as floats (None → NaN)."""
        return np.array(
            [np.nan if r.get(name) is None else float(r[name]) for r in self.ok_rows], dtype=float
        )

    def summary(self) -> dict[str, Any]:
        """Aggregates per architecture.

        Rank survey: ``p_full_rank`` = P[rank DDᵀ = QN] with a 95 %
        Clopper–Pearson interval, σ_min (median, min, 10 % / 90 % quantiles),
        median cond(D); Prop. 2.2's hypothesis structurally: the number of
        θ-independent columns (``n_atoms``, the atoms of the columns' law) and
        their rank, the structurally sparse columns and their largest support,
        the fraction of exact zeros of D, P[the generic columns alone have
        rank QN]; Bingham's statistic as a description (median S/dof and
        isotropy).  Orbit survey: the fraction of each outcome, P[the rank
        condition held along the orbit] with a 95 % interval, the median
        minimum of σ_min/σ_max and the median growth of |θ|.  Frobenius survey:
        the fractions of involutive, not involutive and inconclusive verdicts
        and the median / max relative defect.
        """
        groups: dict[int, list[dict[str, Any]]] = {}
        for r in self.ok_rows:
            groups.setdefault(r["arch_index"], []).append(r)
        per_arch = []
        for a in sorted(groups):
            rs = groups[a]
            first = rs[0]
            entry = {
                "arch_index": a,
                "layers": first["layers"],
                "depth": len(str(first["layers"]).split("-")) - 2,
                "N": first["N"],
                "K": first["K"],
                "QN": first["QN"],
                "ratio": first["ratio"],
                "n": len(rs),
            }
            entry.update(summarize_rows(self.kind, rs))
            per_arch.append(entry)
        return stored_form(
            {
                "kind": self.kind,
                "n_tasks": len(self.rows),
                "n_errors": len(self.rows) - len(self.ok_rows),
                "architectures": per_arch,
            }
        )

    def table(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """(header, rows): the summary per architecture as the CLI and the docs print it.

        Cells are strings (numbers formatted to 2–3 significant digits), one row
        per architecture; the columns are those of
        :data:`~subriemann.diagnostics.survey_summaries.TABLE_COLUMNS` for this kind.
        """
        from subriemann import report

        header, rows = ["layers", "N", "K", "QN", "K/QN", "n"], []
        columns = TABLE_COLUMNS[self.kind]
        header += [title for title, _, _ in columns]
        for e in self.summary()["architectures"]:
            cells = [e["layers"], str(e["N"]), str(e["K"]), str(e["QN"]), f"{e['ratio']:.3g}"]
            cells.append(str(e["n"]))
            cells += [
                key(e) if callable(key) else report.format_value(e.get(key), fmt)
                for _, key, fmt in columns
            ]
            rows.append(tuple(cells))
        return tuple(header), rows

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """The table as CSV (one row per network); the configuration goes to its metadata sidecar.

        The orbit survey's traces (``trace_*`` lists) stay in the JSON record.
        """
        from subriemann import report

        header = list(dict.fromkeys(k for r in self.rows for k in r if not k.startswith("trace_")))
        return report.write_csv(
            path, self.rows, header=header, metadata={"survey": self.kind, "config": self.config}
        )

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Configuration, summary and rows as one JSON record (see ``report.make_record``)."""
        from subriemann import report

        record = report.make_record(
            "survey",
            self.config,
            self.config.get("base_seed"),
            {"survey": self.kind, "summary": self.summary(), "rows": self.rows},
        )
        return report.write_json(path, record)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Draw the survey's figure; returns the path (:func:`subriemann.report.plot_survey`)."""
        from subriemann.report.survey_figures import plot_survey

        return plot_survey(self, path)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "config": self.config, "rows": self.rows}
