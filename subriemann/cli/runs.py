"""The training runner: a run built from a configuration, its flows integrated and summarised.

:func:`build_run` turns a validated :class:`~subriemann.cli.config.Config` into data,
network map, cost, θ₀, output metric and the flows to integrate; :func:`run_training`
integrates each flow from the same θ₀ to the a-priori stopping time (2.18) and
summarises the orbits (the arrays a record stores and the figures redraw).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

import subriemann as sr
from subriemann import report
from subriemann.cli.config import Config, ConfigError, check_config_memory
from subriemann.errors import InputError, SubriemannError
from subriemann.flows.fields import ParameterFlow, regime_for_rank

if TYPE_CHECKING:
    from subriemann.flows.cost import L2Cost
    from subriemann.flows.fields import AdaptedFlow
    from subriemann.geometry.metrics import ConstantOutputMetric
    from subriemann.geometry.routes import RouteChoice
    from subriemann.maps.architecture import MLP
    from subriemann.maps.data import TrainingData
    from subriemann.maps.smooth import SmoothMap

#: Relative slack on ε for "target reached": Theorem 2.3 is checked to 1 %.
TARGET_RTOL = 0.01

__all__ = ["build_run", "FlowSpec", "run_training", "resolve_route", "route_fields", "route_line"]


# The keys of [data] that each kind reads (beyond n_samples, ... of "blobs", which have defaults).
_DATA_KEYS = {
    "blobs": (),
    "inline": ("inputs", "labels", "class_outputs"),
    "csv": ("path", "label_column"),
    "sklearn": ("name",),
}


def _loaded_data(cfg: Config) -> sr.TrainingData:
    """[data] kind = "csv" (TrainingData.from_csv) or "sklearn" (TrainingData.from_sklearn)."""
    from pathlib import Path

    d, kind = cfg["data"], cfg["data"]["kind"]
    needed = _DATA_KEYS[kind]
    for key in needed:
        if d[key] is None:
            raise cfg.error("data", key, f"is required with kind = {kind!r}")
    if kind == "csv":
        path = Path(d["path"])
        if not path.is_absolute():  # relative to the configuration file, not the working directory
            path = Path(cfg.path).resolve().parent / path
        if not path.is_file():
            raise cfg.error("data", "path", f"no such file {str(path)!r}; expected a CSV file")
    loader = "from_csv" if kind == "csv" else "from_sklearn"
    if not hasattr(sr.TrainingData, loader):
        raise cfg.error(
            "data", "kind", f"{kind!r} needs TrainingData.{loader}, which this installation lacks"
        )
    try:
        if kind == "sklearn":
            return sr.TrainingData.from_sklearn(d["name"])
        return sr.TrainingData.from_csv(path, label_column=d["label_column"])
    except ConfigError:
        raise
    except (InputError, OSError, ImportError) as exc:
        key = "name" if kind == "sklearn" else "label_column" if "column" in str(exc) else "path"
        raise cfg.error("data", key, " ".join(str(exc).split())) from exc


def _build_data(cfg: Config) -> sr.TrainingData:
    d = cfg["data"]
    mine = _DATA_KEYS[d["kind"]]
    stray = [
        k for kind, keys in _DATA_KEYS.items() for k in keys if k not in mine and d[k] is not None
    ]
    if stray:
        owner = next(kind for kind, keys in _DATA_KEYS.items() if stray[0] in keys)
        raise cfg.error("data", stray[0], f"is only read with kind = {owner!r}")
    if d["kind"] in ("csv", "sklearn"):
        return _loaded_data(cfg)
    if d["kind"] == "blobs":
        seed = cfg[""]["seed"] if d["seed"] is None else d["seed"]
        return sr.TrainingData.blobs(
            d["n_samples"], d["n_classes"], d["input_dim"], d["spread"], seed
        )
    for key in ("inputs", "labels"):
        if d[key] is None:
            raise cfg.error("data", key, "is required with kind = 'inline'")
    inputs, labels = np.array(d["inputs"]), np.array(d["labels"])
    if labels.shape[0] != inputs.shape[0]:
        raise cfg.error(
            "data", "labels", f"has {labels.shape[0]} entries but inputs has {inputs.shape[0]} rows"
        )
    n_classes = int(labels.max()) + 1
    outputs = np.eye(n_classes) if d["class_outputs"] is None else np.array(d["class_outputs"])
    try:
        return sr.TrainingData(inputs, labels, outputs)
    except InputError as exc:
        raise cfg.error("data", "labels" if "label" in str(exc) else "inputs", str(exc)) from exc


def _build_output_metric(cfg: Config, data: sr.TrainingData):
    """None (Euclidean) or a :class:`~subriemann.geometry.metrics.ConstantOutputMetric` from [output_metric]."""
    from subriemann.geometry.metrics import ConstantOutputMetric

    m = cfg["output_metric"]
    QN = data.Q * data.N
    if m["kind"] == "euclidean":
        return None
    try:
        if m["kind"] == "class_weights":
            if m["weights"] is None or len(m["weights"]) != data.n_classes:
                raise cfg.error(
                    "output_metric",
                    "weights",
                    f"needs one positive weight per class ({data.n_classes})",
                )
            return ConstantOutputMetric.from_class_weights(data, m["weights"])
        if m["kind"] == "diagonal":
            w = m["weights"]
            if w is None or len(w) not in (data.Q, QN):
                raise cfg.error(
                    "output_metric",
                    "weights",
                    f"needs Q = {data.Q} weights (one per output component) or QN = {QN} (one per output entry)",
                )
            w = np.tile(w, data.N) if len(w) == data.Q else np.asarray(w)
            return ConstantOutputMetric(np.diag(w))
        if m["matrix"] is None:
            raise cfg.error(
                "output_metric",
                "matrix",
                f"is required with kind = 'matrix' (an SPD {QN}x{QN} matrix)",
            )
        return ConstantOutputMetric(np.array(m["matrix"]))
    except ConfigError:
        raise
    except InputError as exc:
        key = "matrix" if m["kind"] == "matrix" else "weights"
        raise cfg.error("output_metric", key, str(exc)) from exc


@dataclass
class FlowSpec:
    """One flow to integrate: its label, the flow object, the method and the options."""

    label: str
    flow: ParameterFlow
    method: str
    primary: bool = True


def _resolve_method(cfg: Config, key: str, value: str) -> str:
    """The integrator name by :func:`subriemann.flows.orbits.resolve_method`, as a config error."""
    from subriemann.flows.orbits import METHODS, resolve_method

    try:
        return resolve_method(value)
    except InputError:
        known = sorted({m.lower() for m in METHODS} | {"rk45"})
        close = difflib.get_close_matches(value.lower(), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise cfg.error(
            "integrator", key, f"unknown method {value!r}{hint}; expected one of {list(METHODS)}"
        ) from None


def resolve_route(
    f: SmoothMap,
    route: str,
    memory_budget: int | None,
    output_metric: ConstantOutputMetric | None = None,
    *,
    key: str | None = None,
    cfg: Config | None = None,
) -> RouteChoice:
    """The adapted flow's route to D⁺ by :func:`subriemann.geometry.routes.choose_route`, as a usage error.

    Returns the :class:`~subriemann.geometry.routes.RouteChoice` ("auto" resolved,
    with the model's reason).  An impossible route (unknown name, "kernel" on a map
    without the structure, a non-Euclidean output metric) raises a
    :class:`ConfigError` naming ``key`` (a config key when ``cfg`` is given, else
    the option).
    """
    from subriemann.geometry.routes import choose_route

    try:
        return choose_route(f, route, memory_budget=memory_budget, euclidean=output_metric is None)
    except InputError as exc:
        message = " ".join(str(exc).split())
        if cfg is not None:
            raise cfg.error("flow", key or "route", message) from exc
        raise ConfigError(f"{key or '--route'}: {message}") from exc


def route_fields(choice: RouteChoice) -> dict[str, Any]:
    """What a record says about the route: which ran, what was asked, why, and the model."""
    return choice.as_dict()


def build_run(
    cfg: Config, *, route: str | None = None, memory_budget: int | None = None
) -> dict[str, Any]:
    """Data, network map, cost, θ₀, output metric and the flows of a configuration.

    Parameters
    ----------
    cfg : Config
    route, memory_budget : optional
        Command-line overrides of ``flow.route`` and ``flow.memory_budget`` (bytes).

    Returns
    -------
    dict
        ``data, mlp, f, cost, theta0, output_metric, flows`` (list of FlowSpec),
        ``route`` (the adapted flow's RouteChoice, or None without an adapted flow).
    """
    net, d, fl = cfg["network"], cfg["data"], cfg["flow"]
    route = fl["route"] if route is None else route
    budget = fl["memory_budget"] if memory_budget is None else memory_budget
    # the kernel and matrix-free routes never form D; "auto" is checked again once resolved
    adapted_only = fl["kind"] == "adapted"
    maybe_dense = not (adapted_only and route != "dense")
    blobs = d["kind"] == "blobs"
    if blobs:  # sizes known before any array is made
        check_config_memory(cfg, d["n_samples"], d["input_dim"], d["n_classes"], maybe_dense)
    data = _build_data(cfg)
    if not blobs:  # loaded arrays are already in memory; the network may not fit
        check_config_memory(cfg, data.N, data.M, data.Q, maybe_dense)
    try:
        mlp = sr.MLP(
            [data.M, *net["hidden"], data.Q],
            activation=net["activation"],
            allow_nonsmooth=net["allow_nonsmooth"],
        )
    except sr.ActivationError as exc:
        raise cfg.error("network", "activation", str(exc)) from exc
    seed = cfg[""]["seed"] if net["init_seed"] is None else net["init_seed"]
    theta0 = mlp.init(seed, weight_scale=net["weight_scale"], bias_scale=net["bias_scale"])
    f = sr.NetworkMap(mlp, data.inputs)
    cost = sr.L2Cost.from_data(data)
    G = _build_output_metric(cfg, data)
    integ = cfg["integrator"]
    policy = fl["rank_rtol"]
    flows, choice = [], None
    if fl["kind"] in ("adapted", "both"):
        key = "route" if route == fl["route"] else None
        choice = resolve_route(f, route, budget, G, key=key, cfg=cfg if key else None)
        if not maybe_dense and choice.route == "dense":  # "auto" chose D after all
            check_config_memory(cfg, data.N, data.M, data.Q, True)
        method = _resolve_method(
            cfg, "method", integ["method"] or ("output-exact" if G is None else "rk45")
        )
        if G is not None and method == "output-exact":
            raise cfg.error(
                "integrator",
                "method",
                "'output-exact' follows the Euclidean output law (2.7); with a non-Euclidean "
                "output metric use an ODE method such as 'rk45'",
            )
        try:
            flow = sr.AdaptedFlow(
                f,
                cost,
                regime=fl["regime"],
                rank_policy=policy,
                output_metric=G,
                route=route,
                memory_budget=budget,
            )
        except SubriemannError as exc:
            raise cfg.error("flow", "regime", str(exc)) from exc
        flows.append(FlowSpec(label="adapted", flow=flow, method=method))
    if fl["kind"] in ("standard", "both"):
        key = "method" if fl["kind"] == "standard" else "standard_method"
        value = integ["method"] if fl["kind"] == "standard" else integ["standard_method"]
        method = _resolve_method(cfg, key, value or "rk45")
        if method == "output-exact":
            raise cfg.error(
                "integrator",
                key,
                "'output-exact' integrates the adapted flow only (it follows the output law "
                "(2.7)); use 'rk45', 'rk4', 'euler' or another scipy method for the standard flow",
            )
        flows.append(
            FlowSpec(
                label="standard",
                flow=sr.StandardFlow(f, cost, rank_policy=policy),
                method=method,
                primary=fl["kind"] == "standard",
            )
        )
    return {
        "data": data,
        "mlp": mlp,
        "f": f,
        "cost": cost,
        "theta0": theta0,
        "output_metric": G,
        "flows": flows,
        "route": choice,
    }


def _orbit_summary(traj, f, cost, eps, quiet: bool, label: str) -> dict:
    """Orbit arrays (s, C, rank, σ_min, σ_max, ε(θ)) and the scalars of the table."""
    from subriemann.diagnostics.landscape import trapping_profile

    with report.progress_bar(f"{label}: trapping ratio", quiet) as bar:
        try:
            ratio = trapping_profile(traj, f, cost, progress=bar).ratio
        except InputError:  # an orbit that hits x = y_ω exactly: ε(θ) undefined there
            ratio = None
    sigma_max = traj.sigma_max  # recorded with σ_min: no Jacobian is recomputed here
    final = float(traj.cost[-1])
    return {
        "method": traj.method,
        "status": traj.status,
        "message": traj.message,
        "final_s": float(traj.s[-1]),
        "reached_cost": final,
        "reached_over_eps": final / eps,
        "target_reached": bool(final <= eps * (1.0 + TARGET_RTOL)),
        "law_residual": traj.law_residual(),
        "n_jacobian": int(traj.n_jacobian),
        "n_points": len(traj),
        "regimes": sorted(set(traj.regime)),
        "min_rank": int(np.min(traj.rank)),
        "min_sigma_min": float(np.nanmin(traj.sigma_min)),
        "orbit": {
            "s": traj.s,
            "cost": traj.cost,
            "rank": traj.rank,
            "sigma_min": traj.sigma_min,
            "sigma_max": sigma_max,
            "trapping_ratio": ratio,
        },
    }


def run_training(
    f: SmoothMap,
    cost: L2Cost,
    theta0: npt.ArrayLike,
    flows: Sequence[FlowSpec],
    eps: float,
    s_end: float | str = "stopping-time",
    *,
    options: Mapping[str, Any] | None = None,
    output_metric: ConstantOutputMetric | None = None,
    quiet: bool = True,
) -> dict[str, Any]:
    """Integrate each flow from the same θ₀ to the predicted stopping time and summarise.

    Parameters
    ----------
    f : SmoothMap
    cost : L2Cost
    theta0 : ndarray, shape=[K]
    flows : list of FlowSpec
    eps : float
        Target cost ε; the default end time is s_ε = (N/2) log(C(0)/ε) (2.18)
        (for a constant output metric G, the time where the G-law reaches ε,
        :func:`subriemann.flows.theory.output_metric_stopping_time`).
    s_end : float or "stopping-time"
    options : dict, optional
        Keyword arguments for :func:`subriemann.integrate.integrate`
        (``step``, ``max_step``, ``rtol``, ``atol``, ``max_steps``).
    output_metric : ConstantOutputMetric, optional
    quiet : bool
        No progress bars.

    Returns
    -------
    dict
        ``K, QN, N, regime, rank, sigma_min, sigma_max, C0, eps, stopping_time,
        s_end, flows`` (label → summary with the orbit arrays), ``theta0``.
    """
    from subriemann.flows.theory import (
        compare_with_law,
        output_metric_cost_law,
        output_metric_stopping_time,
        stopping_time,
    )
    from subriemann.integrate import integrate

    # the rank at θ0 by the adapted flow's route: the kernel / matrix-free routes never form D
    off_dense = [s.flow for s in flows if getattr(s.flow, "route", "dense") != "dense"]
    if off_dense:
        x0 = np.asarray(f(theta0), dtype=np.float64)
        # a flow with a route is an adapted flow: its factorization is the route's
        rep = cast("AdaptedFlow", off_dense[0]).factorization(theta0).report
    else:
        x0, D0 = f.value_and_jacobian(theta0)
        rep = sr.JacobianSVD(D0).report
    C0 = float(cost(x0))
    G = None if output_metric is None else output_metric.matrix()
    if G is None:
        s_eps = stopping_time(eps, C0, cost.N)
    else:
        s_eps = output_metric_stopping_time(eps, x0, cost.target, G, cost.N)
    end = s_eps if s_end == "stopping-time" else float(s_end)
    if not end > 0:
        raise InputError(f"C(0) = {C0:.3g} is already <= eps = {eps:.3g}; nothing to integrate")
    results: dict[str, Any] = {  # the record's JSON values
        "K": f.dim_in,
        "QN": f.dim_out,
        "N": cost.N,
        "regime": regime_for_rank(rep.rank, f.dim_in, f.dim_out),
        "rank": rep.rank,
        "sigma_min": rep.sigma_min,
        "sigma_max": rep.sigma_max,
        "C0": C0,
        "eps": eps,
        "stopping_time": s_eps,
        "stopping_time_law": "(2.18)" if G is None else "output metric G",
        "s_end": end,
        "flows": {},
        "theta0": theta0,
    }
    for spec in flows:
        with report.progress_bar(f"{spec.label} flow ({spec.method})", quiet) as bar:
            traj = integrate(
                spec.flow, theta0, end, method=spec.method, progress=bar, **(options or {})
            )
        summary = _orbit_summary(traj, f, cost, eps, quiet, spec.label)
        summary["primary"] = spec.primary
        choice = getattr(spec.flow, "route_choice", None)
        if choice is not None:  # which route ran and why ("auto" states its choice)
            summary["route"] = route_fields(choice)
            results.setdefault("route", summary["route"])
        if spec.label == "adapted" and G is None:
            law = compare_with_law(traj)
            summary["max_rel_cost_error"] = law["max_rel_cost_error"]
            summary["max_rel_residual_error"] = law["max_rel_residual_error"]
        if G is not None:
            predicted = output_metric_cost_law(traj.s, x0, cost.target, G, cost.N)
            summary["metric_law_rel_error"] = float(np.max(np.abs(traj.cost / predicted - 1.0)))
            summary["orbit"]["metric_law_cost"] = predicted
        results["flows"][spec.label] = summary
    return results


def route_line(results: dict) -> str:
    """One line for the printed summary: the route that ran and why (empty without an adapted flow)."""
    r = results.get("route")
    if r is None:
        return ""
    if r["requested"] != "auto":
        return f"route: {r['route']} (requested)"
    return f"route: {r['route']} ({r['reason']})"


def problem_fields(mlp: MLP, data: TrainingData) -> dict[str, Any]:
    """The problem a record describes: layer sizes, activation, N, Q, M."""
    return {
        "layers": mlp.layer_sizes,
        "activation": mlp.activation.name,
        "N": data.N,
        "Q": data.Q,
        "M": data.M,
    }


def run_failure(results: dict, require_target: bool) -> str | None:
    """Why the primary flow's run failed (exit 1), or None."""
    for label, fl in results["flows"].items():
        if not fl.get("primary"):
            continue
        if fl["status"] not in ("completed", "target_cost_reached"):
            return f"the {label} flow stopped early ({fl['status']}): {fl['message']}"
        if require_target and not fl["target_reached"]:
            return (
                f"the {label} flow did not reach the target: C(s_end) = {fl['reached_cost']:.4g} > "
                f"eps = {results['eps']:.3g} (+{100 * TARGET_RTOL:g}%)"
            )
    return None
