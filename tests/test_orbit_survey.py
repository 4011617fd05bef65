"""The orbit survey: the rank condition (2.1) along adapted orbits (Theorem 2.1), and the
survey pages' documented tables against reruns.

References are independent of the survey: ``integrate`` run directly on the task's network,
numpy's SVD of D, the stopping time (2.18) in closed form, a rank bound counted by hand
for a width-1 bottleneck, and the figure's artists.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from tolerances import cost_uncertainty, gram_singular_value_tol, routes_agree_tol, svd_zero_tol

import subriemann as sr
import subriemann.cli as cli
from subriemann.diagnostics import surveys as sv
from subriemann.flows import AdaptedFlow, L2Cost, integrate

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"seeds": 2, "n_samples": 4, "max_steps": 300, "base_seed": 3}
ARCHS = ["2-3-2", "2-6-2", "2-2-2-2"]  # with N = 4, QN = 8: K = 17, 32, 18


@pytest.fixture(scope="module")
def small_orbits():
    return sv.run_orbit_survey(ARCHS, **SMALL)


def test_orbit_row_agrees_with_integrate_run_directly(small_orbits):
    task = sv.make_tasks(
        "orbit", ARCHS, 2, 4, base_seed=3, orbit=sr.diagnostics.OrbitSettings(max_steps=300)
    )[2]
    f, theta, target = task.problem()
    net = f.mlp
    # the target is y_ω for one-hot class outputs: every sample's block is a unit vector
    blocks = target.reshape(task.n_samples, net.Q)
    assert np.all(blocks.sum(axis=1) == 1) and set(np.unique(blocks)) <= {0.0, 1.0}
    cost = L2Cost(target, n_samples=task.n_samples)
    C0 = float(np.sum((f(theta) - target) ** 2) / (2 * task.n_samples))  # (1.7) by hand
    s_eps = task.n_samples / 2 * math.log(C0 / 1e-8)  # (2.18) by hand
    traj = integrate(
        AdaptedFlow(f, cost), theta, math.inf, eps=1e-8, max_steps=300, max_step=s_eps / 50
    )
    row = small_orbits.rows[2]
    assert row["error"] is None and row["status"] == str(traj.status)
    assert abs(row["cost_initial"] - C0) <= cost_uncertainty(f(theta), target, task.n_samples)
    assert abs(row["s_stop"] - s_eps) <= routes_agree_tol(s_eps)
    assert row["s_final"] == traj.final_s and row["n_points"] == len(traj)
    D0 = f.jacobian(theta)
    sv0 = np.linalg.svd(D0, compute_uv=False)
    # two backward-stable SVDs of one D: each within svd_zero_tol of the exact values (Weyl)
    assert abs(row["sigma_min_initial"] - sv0[-1]) <= 2 * svd_zero_tol(D0.shape, sv0[0])
    assert abs(row["sigma_max_initial"] - sv0[0]) <= 2 * svd_zero_tol(D0.shape, sv0[0])
    # the same trajectory (same process, deterministic): the same floats
    ratio = traj.sigma_min / traj.sigma_max
    assert row["ratio_min"] == float(np.nanmin(ratio))
    below = np.flatnonzero(ratio < 1e-6)
    assert row["s_below_threshold"] == (float(traj.s[below[0]]) if below.size else None)
    norms = np.linalg.norm(traj.theta, axis=1)
    assert row["theta_growth"] == float(norms.max() / norms[0])  # x ↦ x/n₀ is monotone
    if row["outcome"] == "completed":
        assert row["cost_final"] <= 1e-8 and row["s_final"] >= s_eps * (1 - 1e-9)
    # the traces keep the first, the last and the dip
    assert row["trace_s"][0] == 0.0 and row["trace_s"][-1] == traj.final_s
    trace = zip(row["trace_sigma_min"], row["trace_sigma_max"], strict=True)
    assert min(a / b for a, b in trace) == row["ratio_min"]


def test_every_orbit_has_an_outcome_and_the_rank_verdict_is_consistent(small_orbits):
    for r in small_orbits.rows:
        assert r["outcome"] in sr.diagnostics.ORBIT_OUTCOMES
        assert r["rank_held"] == (r["s_below_threshold"] is None and r["outcome"] != "lost_rank")
        if r["outcome"] == "completed":
            assert r["status"] == "target_cost_reached" and r["cost_final"] <= 1e-8
    summary = small_orbits.summary()["architectures"]
    for e in summary:
        total = sum(e[f"p_{o}"] for o in sr.diagnostics.ORBIT_OUTCOMES)
        assert total == pytest.approx(1.0)
        lo, hi = e["p_rank_held_ci"]
        assert lo <= e["p_rank_held"] <= hi


def test_a_width_one_bottleneck_loses_rank_at_the_start():
    """x_n = W₃h_n + b₃ with a width-1 last hidden layer: the columns of D lie in
    span{e_q ⊗ 1, e_q ⊗ h} (2Q) + {W₃ ⊗ v} (N), which share W₃ ⊗ 1 and W₃ ⊗ h, so
    rank D ≤ 2Q + N − 2 < QN for Q = 2, N = 4 — although K = 9 ≥ QN = 8."""
    res = sv.run_orbit_survey(["2-1-1-2"], seeds=2, n_samples=4)
    for r in res.rows:
        task = sv.make_tasks("orbit", ["2-1-1-2"], [r["seed_index"]], 4)[0]
        f, theta, _ = task.problem()
        assert np.linalg.matrix_rank(f.jacobian(theta)) <= 2 * 2 + 4 - 2 < 8 <= r["K"]
        assert r["outcome"] == "lost_rank" and not r["rank_held"]
        assert r["s_below_threshold"] == 0.0


def test_the_kernel_route_runs_the_same_orbits_at_large_k():
    """K/QN = 100 on the kernel route (Θ = DDᵀ, no QN×K array): the same outcome, and σ at
    s = 0 within the Gram route's error model of numpy's SVD of D."""
    kwargs = {"seeds": 2, "n_samples": 2}
    kernel = sv.run_orbit_survey(["2-80-2"], route="kernel", **kwargs)
    dense = sv.run_orbit_survey(["2-80-2"], route="dense", **kwargs)
    for k, d in zip(kernel.rows, dense.rows, strict=True):
        assert k["route"] == "kernel" and d["route"] == "dense"
        assert k["K"] / k["QN"] >= 100 and k["outcome"] == d["outcome"] == "completed"
        task = sv.make_tasks("orbit", ["2-80-2"], [k["seed_index"]], 2)[0]
        f, theta, _ = task.problem()
        s = np.linalg.svd(f.jacobian(theta), compute_uv=False)
        tol = gram_singular_value_tol(k["QN"], s[0], s[-1]) + svd_zero_tol((k["QN"], k["K"]), s[0])
        assert abs(k["sigma_min_initial"] - s[-1]) <= tol


def test_orbit_survey_refuses_underparametrized_architectures():
    with pytest.raises(sr.InputError, match="K >= QN"):
        sv.run_orbit_survey(["2-1-2"], seeds=1, n_samples=10)
    with pytest.raises(sr.InputError, match="orbit survey only"):
        sv.run_rank_survey(["2-3-2"], seeds=1, eps=1e-6)
    with pytest.raises(sr.InputError, match="sigma_threshold"):
        sv.run_orbit_survey(["2-3-2"], seeds=1, sigma_threshold=2.0)
    # ratios build architectures with K >= QN for the orbit survey
    tasks = sv.SurveyOptions(ratios=[1.1], depth=[1, 2], n_samples=10).tasks("orbit")
    assert all(sr.MLP.count_parameters(list(t.layers)) >= 20 for t in tasks)
    assert {len(t.layers) for t in tasks} == {3, 4}


def test_orbit_survey_on_processes_and_resumed_gives_the_same_table(small_orbits, tmp_path):
    parallel = sv.run_orbit_survey(ARCHS, n_jobs=2, **SMALL)
    assert parallel.matches(small_orbits), parallel.differences(small_orbits)[:5]
    out = tmp_path / "orbit.jsonl"

    class Stop(Exception):
        pass

    def stop_after_two(done, total):
        if done >= 2:
            raise Stop

    with pytest.raises(Stop):
        sv.run_orbit_survey(ARCHS, out=out, progress=stop_after_two, **SMALL)
    assert len(sv.SurveyResult.read(out).rows) == 2
    resumed = sv.run_orbit_survey(ARCHS, out=out, **SMALL)
    assert resumed.rows == small_orbits.rows
    # another ε is another survey: the file is refused
    with pytest.raises(sr.InputError, match="different survey"):
        sv.run_orbit_survey(ARCHS, out=out, eps=1e-6, **SMALL)


def test_orbit_rows_of_a_subset_equal_the_full_surveys_bitwise(small_orbits):
    alone = sv.run_orbit_survey([ARCHS[1]], **SMALL)
    middle = [r for r in small_orbits.rows if r["layers"] == ARCHS[1]]
    strip = {"task_id", "arch_index"}
    assert [{k: v for k, v in r.items() if k not in strip} for r in middle] == [
        {k: v for k, v in r.items() if k not in strip} for r in alone.rows
    ]


def test_orbit_figure_draws_one_curve_per_orbit_coloured_by_its_ratio(small_orbits, tmp_path):
    import matplotlib as mpl

    from subriemann.report import ORBIT_MARKERS, survey_figure

    fig = survey_figure(small_orbits)
    ax_s, ax_r = fig.axes[:2]
    rows = small_orbits.ok_rows
    curves = [ln for ln in ax_s.get_lines() if ln.get_linestyle() != "None"]
    ends = [ln for ln in ax_s.get_lines() if ln.get_linestyle() == "None"]
    assert len(curves) == len(ends) == len(rows)
    ratios = np.array([r["ratio"] for r in rows])
    norm = mpl.colors.LogNorm(vmin=ratios.min(), vmax=ratios.max())
    for ln, end, r in zip(curves, ends, rows, strict=True):
        np.testing.assert_array_equal(ln.get_xdata(), r["trace_s"])
        assert ln.get_color() == mpl.colormaps["viridis"](norm(r["ratio"]))
        assert end.get_marker() == ORBIT_MARKERS[r["outcome"]]
    threshold = [ln for ln in ax_r.get_lines() if list(ln.get_xdata()) == [0, 1]]
    assert threshold and threshold[0].get_ydata()[0] == 1e-6
    colorbar = fig.axes[-1]
    assert colorbar.get_ylabel() == "K / QN"
    labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"completed", "lost rank", "diverged", "max steps", "depth 1", "depth 2"} <= labels
    assert small_orbits.plot(tmp_path / "orbit.png").stat().st_size > 10_000


# -- the command line --------------------------------------------------------------------------
def call(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_orbit_default_run_and_outputs(capsys, tmp_path):
    code, out, err = call(
        capsys, "survey", "orbit", "--seeds", "1", "--json", "--quiet", "--out", tmp_path
    )
    assert code == 0, err
    record = json.loads(out)
    layers = {r["layers"] for r in record["results"]["rows"]}
    assert len(layers) == 6  # ratios 1.2, 4, 100 at depths 1 and 2
    ratios = sorted(r["ratio"] for r in record["results"]["rows"])
    assert ratios[0] < 2 and ratios[-1] >= 90
    for suffix in (".csv", ".json", ".png", ".jsonl"):
        assert (tmp_path / f"survey-orbit{suffix}").exists()
    import pandas as pd

    table = pd.read_csv(tmp_path / "survey-orbit.csv")  # loads as it is
    assert len(table) == 6 and "outcome" in table and not any(c.startswith("trace_") for c in table)


def test_cli_samples_list_per_architecture(capsys, tmp_path):
    code, out, err = call(
        capsys, "survey", "frobenius", "--layers", "1-2-1", "1-1-1", "2-3-1",
        "--samples", "1,4,3", "--seeds", "1", "--json", "--quiet", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["results"]["rows"]
    assert [r["N"] for r in rows] == [1, 4, 3]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (
            ["rank", "--layers", "2-3-2", "2-4-2", "--samples", "1,4,3"],
            ["--samples", "2", "3 values"],
        ),
        (["rank", "--ratios", "1,2", "--samples", "3,4"], ["--samples", "one N"]),
        (["rank", "--layers", "2-3-2", "--samples", "a,4"], ["--samples", "integers"]),
        (["rank", "--layers", "2-3-2", "--eps", "1e-6"], ["--eps", "orbit"]),
        (["orbit", "--layers", "2-1-2", "--samples", "10"], ["K >= QN"]),
        (["orbit", "--layers", "2-3-2", "--depth", "2"], ["--depth"]),
    ],
)
def test_cli_survey_usage_errors_exit_2_with_one_line(capsys, tmp_path, args, names):
    code, out, err = call(capsys, "survey", *args, "--seeds", "1", "--quiet", "--out", tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    for name in names:
        assert name in err, (name, err)


# -- the documented tables are the survey's own ------------------------------------------------
def load_make_figures():
    path = ROOT / "docs" / "diagnostics" / "make_figures.py"
    spec = importlib.util.spec_from_file_location("make_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_rows(mf, name):
    """The table of docs/diagnostics/NAME.md as rows of cells, by layer spec."""
    text = (ROOT / "docs" / "diagnostics" / f"{name}.md").read_text(encoding="utf-8")
    lines = mf.table_block(text, name).splitlines()[2:]
    rows = {}
    for line in lines:
        cells = [c.strip().replace("\\|", "|") for c in line.strip("| ").split(" | ")]
        rows[cells[0]] = tuple(cells)
    return rows


@pytest.mark.parametrize(
    ("name", "rerun"),
    [
        ("rank_survey", lambda: sv.run_rank_survey(["2-16-2"], seeds=30, n_samples=10)),
        ("integrability_survey", lambda: sv.run_frobenius_survey(["1-3-1"], seeds=10, n_samples=3)),
        ("orbit_survey", lambda: sv.run_orbit_survey(["2-64-2"], seeds=10, n_samples=10)),
    ],
)
def test_documented_table_rows_match_a_rerun_of_one_architecture(name, rerun):
    """Seeds depend on the architecture only, so one architecture reruns its documented row."""
    mf = load_make_figures()
    documented = documented_rows(mf, name)
    header, rows = rerun().table()
    (row,) = rows
    assert documented[row[0]] == row


def test_orbit_survey_on_a_dask_cluster_gives_the_same_table(small_orbits):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = sv.run_orbit_survey(ARCHS, scheduler=cluster, **SMALL)
    assert on_dask.matches(small_orbits), on_dask.differences(small_orbits)[:5]
