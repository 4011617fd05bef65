"""The tasks of a survey: one random network each, what it measures, and its table row.

Every task draws its data and θ from its own seed,
``SeedSequence(base_seed, spawn_key=(architecture_key(layers), seed index))``:
the key is a stable hash of the architecture itself (:func:`architecture_key`),
not of its position in the list, so a row does not depend on the backend that
runs it, on the order tasks finish in, or on which other tasks ran — any subset
of a survey reproduces the full run's rows bitwise.  :func:`run_task` is a
top-level function so that process and Dask workers can run it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from subriemann.diagnostics.orbit_survey import OrbitSettings, measure_orbit
from subriemann.diagnostics.statistics import bingham_test, column_structure
from subriemann.diagnostics.survey_store import stored_form
from subriemann.errors import InputError, SubriemannError, check_int, check_real
from subriemann.linalg import JacobianSVD, RankPolicy, resolve_policy
from subriemann.maps import parse_architecture

if TYPE_CHECKING:
    from subriemann.maps import MLP, NetworkMap
    from subriemann.maps.activations import Activation

__all__ = [
    "SurveyTask",
    "architecture_key",
    "architectures_for_ratios",
    "make_tasks",
    "run_task",
    "survey_config",
    "frobenius_verdict",
]

SURVEY_KINDS = ("rank", "frobenius", "orbit")

#: How a task's seed is keyed (in every survey file's header: a file written with another
#: seeding is refused on resume instead of mixing rows of two seedings).
SEED_KEY = "sha256(layer spec)[:8] and seed index"


def architecture_key(layers: str | Sequence[int]) -> int:
    """The architecture's part of a task's seed: the first 8 bytes of SHA-256 of its spec ``"2-8-3"``.

    A stable hash of the architecture itself (not Python's salted ``hash``, not its
    position in a list), so the same architecture gets the same networks in any
    survey that contains it.
    """
    spec = "-".join(str(int(m)) for m in parse_architecture(layers))
    return int.from_bytes(hashlib.sha256(spec.encode("ascii")).digest()[:8], "big")


def architectures_for_ratios(
    ratios: Iterable[float],
    input_dim: int,
    output_dim: int,
    n_samples: int,
    depth: int = 1,
    *,
    over: bool = False,
) -> list[list[int]]:
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
    over : bool
        Only architectures with K ≥ QN (the over-parametrized regime of the
        orbit survey): the closest width m with K ≥ QN where the closest one
        has K < QN.

    Returns
    -------
    list of list of int
    """
    from subriemann.maps import MLP

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
        while over and K_of(m) < QN:
            m += 1
        layers = [input_dim, *([m] * depth), output_dim]
        if layers not in out:
            out.append(layers)
    return out


@dataclass(frozen=True)
class SurveyTask:
    """One network of a survey: architecture, data size, seed, and what to measure.

    The task's randomness is ``SeedSequence(base_seed,
    spawn_key=(architecture_key(layers), seed_index))``: inputs x_j ~ N(0, 1)^M
    and labels ω_j uniform in [0, Q) from the first child, θ from ``MLP.init``
    on the second, a second independent θ′ (for the rank survey's structural
    checks) on the third.  ``arch_index`` is the architecture's position in
    the survey (for grouping and the file); it does not enter the seed.
    """

    task_id: int
    kind: str
    layers: tuple[int, ...]
    n_samples: int
    arch_index: int
    seed_index: int
    base_seed: int
    activation: str = "tanh"
    weight_scale: float = 1.0
    rank_rtol: float | None = None
    orbit: OrbitSettings | None = None

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.base_seed, spawn_key=(architecture_key(self.layers), self.seed_index)
        )

    def spec(self) -> dict[str, Any]:
        """The fields that identify the task in a survey file."""
        return {
            "task_id": self.task_id,
            "layers": "-".join(str(m) for m in self.layers),
            "N": self.n_samples,
            "arch_index": self.arch_index,
            "seed_index": self.seed_index,
        }

    def build(self) -> tuple[NetworkMap, np.ndarray]:
        """(f, θ): the network map on this task's inputs and its random parameters."""
        f, theta, _ = self.problem()
        return f, theta

    def problem(self) -> tuple[NetworkMap, np.ndarray, np.ndarray]:
        """(f, θ, y_ω): the map, θ and the target (1.2) of one-hot class outputs y_ℓ = e_ℓ."""
        from subriemann.maps import MLP, NetworkMap

        data_seq, theta_seq = self.seed_sequence().spawn(2)
        net = MLP(list(self.layers), activation=self.activation)
        rng = np.random.default_rng(data_seq)
        inputs = rng.normal(size=(self.n_samples, net.M))
        labels = rng.integers(0, net.Q, size=self.n_samples)
        theta = net.init(seed=theta_seq, weight_scale=self.weight_scale)
        return NetworkMap(net, inputs), theta, np.eye(net.Q)[labels].ravel()

    def second_theta(self, net: MLP) -> np.ndarray:
        """θ′: a second draw of ``MLP.init``, independent of θ (third child of the seed)."""
        return net.init(seed=self.seed_sequence().spawn(3)[2], weight_scale=self.weight_scale)


def make_tasks(
    kind: str,
    architectures: Sequence[str | Sequence[int]],
    seeds: int | np.integer | Iterable[int],
    n_samples: int | Sequence[int] | np.ndarray,
    base_seed: int = 0,
    activation: str | Activation = "tanh",
    weight_scale: float = 1.0,
    rank_policy: RankPolicy | float | None = None,
    orbit: OrbitSettings | None = None,
) -> list[SurveyTask]:
    """The task list of a survey: every architecture × every seed, ids in that order.

    Parameters
    ----------
    kind : {"rank", "frobenius", "orbit"}
    architectures : sequence of layer specs (see :func:`parse_architecture`)
    seeds : int or sequence of int
        Number of seeds (indices 0..seeds−1) or the seed indices themselves.
    n_samples : int or sequence of int
        N, for all architectures or one per architecture.
    base_seed : int
    activation : str or Activation
        A smooth activation or its name (see :class:`~subriemann.maps.architecture.MLP`).
    weight_scale : float
        Passed to ``MLP.init``.
    rank_policy : RankPolicy or float or None
        Only a relative tolerance travels to workers (``RankPolicy.rtol``).
    orbit : OrbitSettings, optional
        What an orbit task integrates (kind "orbit" only; default ``OrbitSettings()``).
        Orbit architectures need K ≥ QN (Theorem 2.1's regime).
    """
    from subriemann.maps import get_activation

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
            if isinstance(seeds, bool):  # an int to Python, but neither a count nor a list
                raise TypeError("a bool is not a number of seeds")
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
    if kind == "orbit":
        orbit = OrbitSettings() if orbit is None else orbit
        if not isinstance(orbit, OrbitSettings):
            raise InputError(f"orbit must be an OrbitSettings, got {type(orbit).__name__}")
        from subriemann.maps import MLP

        for layers, N in zip(archs, Ns, strict=True):
            K, QN = MLP.count_parameters(list(layers)), layers[-1] * N
            if K < QN:
                raise InputError(
                    f"the orbit survey integrates the over-parametrized flow (2.4), K >= QN; "
                    f"{'-'.join(map(str, layers))} with N = {N} has K = {K} < QN = {QN}"
                )
    elif orbit is not None:
        raise InputError(f"orbit settings apply to the orbit survey only, not to {kind!r}")
    tasks: list[SurveyTask] = []
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
                    orbit=orbit,
                )
            )
    return tasks


def _base_row(task, f):
    K, QN = f.dim_in, f.dim_out
    return {
        **task.spec(),
        "M": f.mlp.M,
        "Q": f.mlp.Q,
        "depth": len(task.layers) - 2,
        "K": K,
        "QN": QN,
        "ratio": K / QN,
    }


def _rank_row(task) -> dict:
    f, theta = task.build()
    row = _base_row(task, f)
    D = f.jacobian(theta)
    policy = RankPolicy(rtol=task.rank_rtol)
    svd = JacobianSVD(D, policy)
    rep = svd.report
    s = svd.singular_values
    row.update(
        rank=rep.rank,
        full_rank=rep.rank == f.dim_out,
        sigma_min=float(s[-1]),
        sigma_max=float(s[0]),
        rank_tolerance=float(rep.tolerance),
        # cond of D itself; cond(DDᵀ) is its square
        condition=float(s[0] / s[-1]) if s[-1] > 0 else float("inf"),
    )
    # Prop. 2.2's hypothesis, structurally: atoms and exact zeros of the columns' law
    structure = column_structure(D, f.jacobian(task.second_theta(f.mlp)), policy)
    row.update({k: v for k, v in structure.items() if k not in ("atom_columns", "sparse_columns")})
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
    row["verdict"] = frobenius_verdict(row["is_involutive"], row["conclusive"])
    return row


def frobenius_verdict(is_involutive: bool | None, conclusive: bool | None) -> str:
    """ "involutive", "not involutive" or "inconclusive" (the test's tolerance too large to tell)."""
    if not conclusive:
        return "inconclusive"
    return "involutive" if is_involutive else "not involutive"


def _orbit_row(task) -> dict:
    f, theta, target = task.problem()
    row = _base_row(task, f)
    row.update(
        measure_orbit(f, theta, target, task.n_samples, task.orbit, RankPolicy(rtol=task.rank_rtol))
    )
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
        row = _ROWS[task.kind](task)
        row["error"] = None
    except SubriemannError as exc:
        row = {**task.spec(), "error": f"{type(exc).__name__}: {exc}"}
    return stored_form(row)


_ROWS = {"rank": _rank_row, "frobenius": _frobenius_row, "orbit": _orbit_row}


def survey_config(tasks: Sequence[SurveyTask]) -> dict[str, Any]:
    """The configuration of a survey from its task list (the header of its survey file).

    Returns
    -------
    dict
        ``kind``, ``architectures`` and ``n_samples`` (one per architecture),
        ``seeds``, ``base_seed``, ``seed_key`` (how seeds are derived),
        ``activation``, ``weight_scale`` and ``rank_rtol``, and for the orbit
        survey ``orbit`` (its :class:`OrbitSettings`); JSON-safe.
    """
    t0 = tasks[0]
    archs, Ns = {}, {}
    for t in tasks:
        archs[t.arch_index] = "-".join(map(str, t.layers))
        Ns[t.arch_index] = t.n_samples
    config = {
        "kind": t0.kind,
        "architectures": [archs[a] for a in sorted(archs)],
        "n_samples": [Ns[a] for a in sorted(Ns)],
        "seeds": sorted({t.seed_index for t in tasks}),
        "base_seed": t0.base_seed,
        "seed_key": SEED_KEY,
        "activation": t0.activation,
        "weight_scale": t0.weight_scale,
        "rank_rtol": t0.rank_rtol,
    }
    if t0.orbit is not None:
        config["orbit"] = t0.orbit.as_dict()
    return stored_form(config)
