"""The ``subriemann`` command end to end: demo, train, frobenius, survey, replot, errors, exit codes.

Subprocess runs check the real entry points (``python -m subriemann.cli`` and the
console script); the many configuration cases call ``cli.main(argv)`` in-process,
which is the same code path minus interpreter start-up.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import subriemann as sr
import subriemann.cli as cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"
# Theorem 2.3 is checked to 1 % (the brief's tolerance); the output-exact integrator
# lands on the law to its corrector tolerance, ~1e-10 in log C.
TARGET_RTOL = 0.01


def run(*args, cwd=None, timeout=120):
    """Run ``python -m subriemann.cli ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "subriemann.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def call(capsys, *args):
    """``cli.main(args)`` in-process: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# -- entry points ----------------------------------------------------------------------
def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "train", "frobenius", "survey", "replot"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_console_script_is_installed_and_runs():
    script = Path(sys.executable).with_name("subriemann")
    assert script.exists(), "the console script 'subriemann' is not installed (pip install -e .)"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"subriemann {sr.__version__}"
    result = subprocess.run(
        [str(script), "frobenius", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--catalog" in result.stdout


def test_usage_errors_exit_2(capsys):
    assert call(capsys, "nonsense")[0] == 2
    assert call(capsys, "train")[0] == 2  # missing CONFIG


# -- demo --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One ``subriemann demo --json`` run (subprocess), shared by the demo tests."""
    out = tmp_path_factory.mktemp("demo") / "report"
    result = run("demo", "--json", "--quiet", "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


def test_demo_json_has_the_table_fields(demo):
    record, _ = demo
    r = record["results"]
    for key in (
        "regime",
        "K",
        "QN",
        "rank",
        "sigma_min",
        "C0",
        "eps",
        "stopping_time",
        "frobenius",
    ):
        assert key in r
    for flow in ("adapted", "standard"):
        for key in ("reached_cost", "law_residual", "n_jacobian", "status", "orbit"):
            assert key in r["flows"][flow]
    assert record["subriemann_version"] == sr.__version__
    assert record["seed"] == 0 and record["config"]["eps"] == 1e-8
    assert r["K"] > r["QN"] and r["regime"] == "over" and r["rank"] == r["QN"]


def test_demo_values_agree_with_the_theory(demo):
    r = demo[0]["results"]
    # (2.18): s_eps = (N/2) log(C(0)/eps), from the recorded C(0)
    assert r["stopping_time"] == pytest.approx(r["N"] / 2 * math.log(r["C0"] / r["eps"]), rel=1e-12)
    adapted, standard = r["flows"]["adapted"], r["flows"]["standard"]
    # Theorem 2.3: at s_eps the adapted flow's cost is eps (to 1 %)
    assert adapted["status"] == "completed"
    assert adapted["final_s"] == pytest.approx(r["stopping_time"], rel=1e-12)
    assert abs(adapted["reached_cost"] / r["eps"] - 1) < TARGET_RTOL
    # Theorem 2.1: log C(s) = log C(0) - 2s/N along the orbit (output-exact: to ~1e-10)
    assert adapted["law_residual"] < 1e-6
    orbit = adapted["orbit"]
    law = r["C0"] * np.exp(-2 * np.asarray(orbit["s"]) / r["N"])  # (2.6), written out
    np.testing.assert_allclose(orbit["cost"], law, rtol=1e-6)
    # the rank condition (2.1) held along the orbit, as the theorem requires
    assert min(orbit["rank"]) == r["QN"] and min(orbit["sigma_min"]) > 0
    # the standard flow from the same start has no such law: it is far from eps at s_eps
    assert standard["orbit"]["cost"][0] == pytest.approx(r["C0"])
    assert standard["reached_cost"] > 100 * r["eps"]
    assert standard["law_residual"] > 1e3 * adapted["law_residual"]
    # trapping ratio (3.4) lies between the extreme singular values of D when rank D = QN
    for fl in (adapted, standard):
        o = fl["orbit"]
        ratio, lo, hi = (np.asarray(o[k]) for k in ("trapping_ratio", "sigma_min", "sigma_max"))
        assert np.all(lo <= ratio * (1 + 1e-9)) and np.all(ratio <= hi * (1 + 1e-9))


def test_demo_reports_the_frobenius_verdict_for_V(demo):
    frob = demo[0]["results"]["frobenius"]
    # QN = 18 >= 2: a tanh network's V is generically not involutive (§2.4)
    assert frob["is_involutive"] is False and frob["conclusive"] is True
    assert frob["relative_defect"] > 1e6 * frob["tolerance"]


def test_demo_writes_record_and_figures_that_replot(demo, tmp_path, capsys):
    record, out = demo
    names = {p.name for p in out.iterdir()}
    assert {"demo.json", "cost_law.png", "sigma_min.png", "trapping.png"} <= names
    stored = json.loads((out / "demo.json").read_text())
    assert (
        stored["results"]["flows"]["adapted"]["reached_cost"]
        == (record["results"]["flows"]["adapted"]["reached_cost"])
    )
    code, stdout, _ = call(capsys, "replot", out / "demo.json", "--out", tmp_path, "--json")
    assert code == 0
    figures = [Path(p).name for p in json.loads(stdout)["figures"]]
    assert figures == ["cost_law.png", "sigma_min.png", "trapping.png"]
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in figures)


def test_demo_table_in_human_mode(tmp_path, capsys):
    code, out, err = call(capsys, "demo", "--quiet", "--eps", "1e-4", "--out", tmp_path)
    assert code == 0, err
    for text in (
        "regime",
        "stopping time",
        "(2.18)",
        "adapted",
        "standard",
        "law residual",
        "Jacobians",
        "Frobenius test of V",
        "NOT involutive",
    ):
        assert text in out
    assert err == ""  # --quiet: no progress bars


def test_demo_rejects_nonpositive_eps(capsys):
    code, out, err = call(capsys, "demo", "--eps", "0")
    assert code == 2 and "--eps must be > 0" in err and out == ""


# -- train: the example configurations -----------------------------------------------------
def train(capsys, config, tmp_path, *extra):
    code, out, err = call(capsys, "train", config, "--json", "--quiet", "--out", tmp_path, *extra)
    return code, (json.loads(out) if out else None), err


def test_example_configs_cover_the_required_cases():
    names = {p.stem for p in CONFIGS.glob("*.toml")}
    assert {"adapted_over", "under_parametrized", "standard_flow", "output_metric"} <= names


def test_train_adapted_over_reaches_eps_at_the_stopping_time(capsys, tmp_path):
    code, record, err = train(capsys, CONFIGS / "adapted_over.toml", tmp_path, "--frobenius")
    assert code == 0, err
    r = record["results"]
    fl = r["flows"]["adapted"]
    assert r["regime"] == "over" and fl["method"] == "output-exact"
    assert abs(fl["reached_cost"] / r["eps"] - 1) < TARGET_RTOL and fl["law_residual"] < 1e-6
    assert r["frobenius"]["is_involutive"] is False
    # the record holds the full configuration with defaults, and the seed
    assert record["config"]["network"]["hidden"] == [8] and record["seed"] == 0
    assert record["config"]["integrator"]["rtol"] == 1e-8
    assert (tmp_path / "adapted_over.json").exists() and (tmp_path / "cost_law.png").exists()


def test_train_under_parametrized_cost_is_monotone(capsys, tmp_path):
    code, record, err = train(capsys, CONFIGS / "under_parametrized.toml", tmp_path)
    assert code == 0, err
    r = record["results"]
    assert r["K"] < r["QN"] and r["regime"] == "under"
    cost = np.asarray(r["flows"]["adapted"]["orbit"]["cost"])
    # Remark 5.2 (5.12): dC/ds = -|P grad_x C|^2 <= 0 (rk45 at rtol 1e-8: round-off slack)
    assert np.all(np.diff(cost) <= 1e-9 * cost[:-1])
    assert cost[-1] < 0.5 * cost[0]


def test_train_standard_flow_config(capsys, tmp_path):
    code, record, err = train(capsys, CONFIGS / "standard_flow.toml", tmp_path)
    assert code == 0, err
    fl = record["results"]["flows"]["standard"]
    assert fl["method"] == "RK45" and fl["target_reached"] is True
    # (1.10): the standard flow decreases the cost monotonically
    cost = np.asarray(fl["orbit"]["cost"])
    assert np.all(np.diff(cost) <= 1e-9 * cost[:-1])


def test_train_output_metric_follows_the_G_law(capsys, tmp_path):
    code, record, err = train(capsys, CONFIGS / "output_metric.toml", tmp_path)
    assert code == 0, err
    r = record["results"]
    fl = r["flows"]["adapted"]
    # x' = -G^{-1} grad_x C: C follows |exp(-sG^{-1}/N)(x0 - y)|^2/(2N) (rk45 rtol 1e-9)
    assert fl["metric_law_rel_error"] < 1e-5
    assert abs(fl["reached_cost"] / r["eps"] - 1) < TARGET_RTOL
    # ... and not the Euclidean law (2.6): the metric changes the rates
    assert fl["law_residual"] > 0.1


def test_train_both_flows_side_by_side(capsys, tmp_path):
    code, record, err = train(capsys, CONFIGS / "side_by_side.toml", tmp_path)
    assert code == 0, err
    flows = record["results"]["flows"]
    assert set(flows) == {"adapted", "standard"}
    assert flows["standard"]["reached_cost"] > flows["adapted"]["reached_cost"]


def test_train_example_config_through_a_subprocess(tmp_path):
    result = run("train", CONFIGS / "adapted_over.toml", "--json", "--out", tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "train"


# -- train: configuration errors name the key (and line) and exit 2 -------------------------
BASE = '[network]\nhidden = [8]\n\n[flow]\nkind = "adapted"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[network]\nactivation = "tanh"\n[flow]\nkind = "adapted"\n',
            "key 'network.hidden' is missing",
        ),
        (
            '[network]\nhidden = "eight"\n[flow]\nkind = "adapted"\n',
            "key 'network.hidden' (line 2)",
        ),
        (
            '[network]\nhidden = [8]\nactivation = "tanhh"\n[flow]\nkind = "adapted"\n',
            "key 'network.activation' (line 3): unknown activation 'tanhh'",
        ),
        (
            '[network]\nhidden = [8]\nactivation = "relu"\n[flow]\nkind = "adapted"\n',
            "key 'network.activation' (line 3)",
        ),
        (BASE + "[target]\neps = 0\n", "key 'target.eps' (line 7): must be > 0"),
        (BASE + "[target]\neps = -1e-3\n", "key 'target.eps' (line 7): must be > 0"),
        (BASE + '[target]\neps = "small"\n', "key 'target.eps' (line 7): must be a finite number"),
        (
            '[network]\nhidden = [8]\nactivaton = "tanh"\n[flow]\nkind = "adapted"\n',
            "unknown key 'activaton' in [network] (line 3); did you mean 'activation'?",
        ),
        (
            BASE + "[integrater]\nmethod = 'rk4'\n",
            "unknown table 'integrater' (line 6); did you mean 'integrator'?",
        ),
        ('[network]\nhidden = [8\n[flow]\nkind = "adapted"\n', "not valid TOML"),
        ("[network]\nhidden = [8]\n", "missing table [flow]"),
        (
            BASE + '[integrator]\nmethod = "rk5"\n',
            "key 'integrator.method' (line 7): unknown method 'rk5'",
        ),
        (
            BASE.replace("adapted", "standard") + '[integrator]\nmethod = "output-exact"\n',
            "key 'integrator.method' (line 7): 'output-exact' integrates the adapted flow only",
        ),
        (BASE.replace('"adapted"', '"adapted"\nregime = "under"'), "key 'flow.regime' (line 6)"),
        (BASE.replace('"adapted"', '"adaptive"'), "key 'flow.kind' (line 5): must be one of"),
        (BASE + "[integrator]\ns_end = -3.0\n", "key 'integrator.s_end' (line 7)"),
        (BASE + '[data]\nkind = "inline"\ninputs = [[0.0, 1.0]]\n', "key 'data.labels'"),
        (
            BASE + '[output_metric]\nkind = "class_weights"\nweights = [1.0]\n',
            "key 'output_metric.weights' (line 8): needs one positive weight per class (3)",
        ),
        (
            BASE + '[output_metric]\nkind = "matrix"\nmatrix = [[1.0, 2.0], [2.0, 1.0]]\n',
            "key 'output_metric.matrix' (line 8)",
        ),
        (
            BASE + '[output_metric]\nkind = "diagonal"\nweights = [1.0, -1.0, 1.0]\n',
            "key 'output_metric.weights' (line 8): must be > 0",
        ),
    ],
)
def test_bad_config_names_the_key_and_exits_2(capsys, tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = call(capsys, "train", path, "--quiet", "--out", tmp_path)
    assert code == 2 and out == ""
    assert expected in err, err
    assert str(path) in err  # the file is named too


def _wrong_value(spec):
    """A value of the wrong type for a schema key."""
    return {
        "int": '"x"',
        "float": '"x"',
        "str": "3",
        "bool": "1",
        "ints": '"x"',
        "floats": '"x"',
        "matrix": "[1, 2]",
        "s_end": "true",
        "column": "1.5",
        "bytes": '"lots"',
    }[spec.kind]


@pytest.mark.parametrize(("table", "key"), [(t, k) for t, keys in cli.SCHEMA.items() for k in keys])
def test_every_schema_key_rejects_a_wrong_type_by_name(capsys, tmp_path, table, key):
    spec = cli.SCHEMA[table][key]
    lines = BASE.splitlines()
    assignment = f"{key} = {_wrong_value(spec)}"
    if table == "":
        lines.insert(0, assignment)
    elif table in ("network", "flow"):
        lines = [ln for ln in lines if not ln.startswith(f"{key} =")]  # no duplicate keys
        lines.insert(lines.index(f"[{table}]") + 1, assignment)
    else:
        lines += [f"[{table}]", assignment]
    path = tmp_path / "wrong.toml"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = call(capsys, "train", path, "--quiet", "--out", tmp_path)
    name = f"{table}.{key}" if table else key
    line = [i for i, text in enumerate(path.read_text().splitlines(), 1) if text == assignment][0]
    assert code == 2 and f"key '{name}' (line {line})" in err, err


def test_missing_config_file_exits_2(capsys, tmp_path):
    code, _, err = call(capsys, "train", tmp_path / "none.toml")
    assert code == 2 and "does not exist" in err


def test_bad_config_through_a_subprocess_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BASE + "[target]\neps = 0.0\n")
    result = run("train", path, "--out", tmp_path)
    assert result.returncode == 2 and "target.eps" in result.stderr and result.stdout == ""


# -- train: failed runs exit 1 ---------------------------------------------------------------
def test_target_not_reached_exits_1(capsys, tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(
        BASE.replace("adapted", "standard") + "[integrator]\ns_end = 2.0\n[target]\neps = 1e-8\n"
    )
    code, out, err = call(capsys, "train", path, "--quiet", "--out", tmp_path)
    assert code == 1 and "FAILED: the standard flow did not reach the target" in out


def test_rank_condition_failure_exits_1(capsys, tmp_path):
    # duplicated training inputs: two equal rows of D per duplicate, rank D < QN (Thm 4.1 setting)
    path = tmp_path / "dup.toml"
    path.write_text(
        BASE.replace('"adapted"', '"adapted"\nregime = "over"')
        + "[data]\nkind = 'inline'\ninputs = [[0.0, 1.0], [0.0, 1.0], [1.0, 0.5]]\n"
        + "labels = [0, 0, 1]\n"
    )
    code, out, err = call(capsys, "train", path, "--quiet", "--out", tmp_path)
    assert code == 1 and "rank_condition_failed" in out and "(2.1)" in out


def test_rank_loss_is_integrated_by_the_dae_when_asked(capsys, tmp_path):
    # the same data with regime = "rank-loss": the DAE (4.5) runs; x' = -P grad_x C (4.7) cannot
    # reach the global minimum when y_ω has a component off range D, so no target is required
    path = tmp_path / "dae.toml"
    path.write_text(
        BASE.replace('"adapted"', '"adapted"\nregime = "rank-loss"')
        + "[data]\nkind = 'inline'\ninputs = [[0.0, 1.0], [0.0, 1.0], [1.0, 0.5]]\n"
        + "labels = [0, 1, 1]\n[integrator]\nmethod = 'rk45'\ns_end = 10.0\n"
        + "[target]\nrequire = false\n"
    )
    code, record, err = train(capsys, path, tmp_path)
    assert code == 0, err
    fl = record["results"]["flows"]["adapted"]
    assert fl["status"] == "completed" and fl["regimes"] == ["rank-loss"]
    assert max(fl["orbit"]["rank"]) < record["results"]["QN"]
    # with labels 0 and 1 on the same input, half the residual is unreachable: C stays > 0
    assert fl["reached_cost"] > 0.05


# -- frobenius -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "involutive", "growth"),
    [
        ("heisenberg", False, [2, 3]),
        ("engel", False, [2, 3, 4]),
        ("contact_r5", False, [4, 5]),
        ("level_set_foliation", True, [2]),
        ("rank_one", True, [1]),
    ],
)
def test_frobenius_catalog_verdicts(capsys, tmp_path, name, involutive, growth):
    code, out, err = call(
        capsys, "frobenius", "--catalog", name, "--json", "--quiet", "--out", tmp_path
    )
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["is_involutive"] is involutive and r["growth_vector"] == growth
    assert r["mismatch"] == []
    assert (tmp_path / "frobenius.png").exists() and (tmp_path / "growth_vector.png").exists()


def test_frobenius_network_spec(capsys, tmp_path):
    code, out, err = call(
        capsys,
        "frobenius",
        "--layers",
        "2,8,3",
        "--samples",
        "4",
        "--seed",
        "0",
        "--points",
        "2",
        "--json",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["dim"] == sr.MLP.count_parameters([2, 8, 3]) and r["rank"] == 12
    assert r["is_involutive"] is False and r["n_non_involutive"] == 2


def test_frobenius_rank_one_network_bundle_is_integrable(capsys, tmp_path):
    # QN = 1: V has rank one, and a line field is always integrable (§2.4)
    code, out, err = call(
        capsys,
        "frobenius",
        "--layers",
        "1,3,1",
        "--samples",
        "1",
        "--points",
        "3",
        "--json",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["rank"] == 1 and r["is_involutive"] is True


def test_frobenius_at_a_chosen_point_sees_martinets_singular_surface(capsys, tmp_path):
    # off x = 0 Martinet is step 2, growth (2, 3); on the surface [X, Y] = x∂z vanishes,
    # Δ is involutive there and only [X, [X, Y]] = ∂z generates: growth (2, 2, 3)
    common = ("frobenius", "--catalog", "martinet", "--json", "--quiet", "--out", tmp_path)
    code, out, err = call(capsys, *common, "--at", "0,1,2")
    assert code == 0, err
    r = json.loads(out)["results"]
    assert r["growth_vector"] == [2, 2, 3] and r["is_involutive"] is True
    assert r["n_points"] == 1 and r["mismatch"] == []
    code, out, err = call(capsys, *common, "--at", "0.5,1,2")
    r = json.loads(out)["results"]
    assert code == 0 and r["growth_vector"] == [2, 3] and r["is_involutive"] is False


def test_frobenius_human_output(capsys, tmp_path):
    code, out, _ = call(
        capsys, "frobenius", "--catalog", "heisenberg", "--quiet", "--out", tmp_path
    )
    assert code == 0 and "verdict: NOT involutive" in out and "growth vector" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give exactly one of --catalog"),
        (["--catalog", "heisenberg", "--layers", "2,3,1"], "give exactly one of --catalog"),
        (["--catalog", "moebius"], "unknown catalog entry 'moebius'"),
        (["--layers", "2,a,1"], "--layers: cannot read architecture"),
        (["--catalog", "heisenberg", "--points", "0"], "--points must be >= 1"),
        (["--catalog", "heisenberg", "--at", "0,1"], "--at: expected 3 finite"),
        (["--catalog", "heisenberg", "--at", "0,x,1"], "--at: expected 3 comma-separated"),
    ],
)
def test_frobenius_usage_errors(capsys, tmp_path, args, expected):
    code, out, err = call(capsys, "frobenius", *args, "--out", tmp_path)
    assert code == 2 and expected in err and out == ""


# -- survey ----------------------------------------------------------------------------------
def test_survey_rank_writes_csv_json_plot(capsys, tmp_path):
    code, out, err = call(
        capsys,
        "survey",
        "rank",
        "--layers",
        "2-4-2",
        "2-16-2",
        "--seeds",
        "3",
        "--samples",
        "4",
        "--json",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    record = json.loads(out)
    assert record["kind"] == "survey" and len(record["results"]["rows"]) == 6
    for suffix in (".csv", ".json", ".png", ".jsonl"):
        assert (tmp_path / f"survey-rank{suffix}").exists()
    # rank D <= min(K, QN) always, and = QN is condition (2.1)
    for row in record["results"]["rows"]:
        assert row["rank"] <= min(row["K"], row["QN"])
        assert row["full_rank"] == (row["rank"] == row["QN"])


def test_survey_frobenius_by_ratios(capsys, tmp_path):
    code, out, err = call(
        capsys,
        "survey",
        "frobenius",
        "--ratios",
        "2,4",
        "--seeds",
        "2",
        "--samples",
        "2",
        "--input-dim",
        "1",
        "--output-dim",
        "1",
        "--quiet",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    assert "subriemann survey frobenius" in out and "involutive" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rank"], "give exactly one of --layers"),
        (["rank", "--ratios", "1,-2"], "--ratios must be positive"),
        (["rank", "--ratios", "a,b"], "--ratios must be numbers"),
        (["rank", "--layers", "2-4-2", "--seeds", "0"], "--seeds must be >= 1"),
    ],
)
def test_survey_usage_errors(capsys, tmp_path, args, expected):
    code, _, err = call(capsys, "survey", *args, "--out", tmp_path)
    assert code == 2 and expected in err


def test_blobs_config_is_training_data_blobs_and_metric_flow_is_adapted_flow(tmp_path):
    """[data] kind = "blobs" is TrainingData.blobs (data seed = master seed unless given), and an
    [output_metric] makes the adapted flow AdaptedFlow(..., output_metric=G)."""
    path = tmp_path / "blobs.toml"
    data_table = "[data]\nn_samples = 7\nn_classes = 2\ninput_dim = 3\nspread = 0.5\n"
    metric_table = '[output_metric]\nkind = "class_weights"\nweights = [1.0, 4.0]\n'
    path.write_text("seed = 4\n" + BASE + data_table + metric_table)
    run = cli.build_run(cli.load_config(path))
    expected = sr.TrainingData.blobs(n_samples=7, n_classes=2, input_dim=3, spread=0.5, seed=4)
    np.testing.assert_array_equal(run["data"].inputs, expected.inputs)
    np.testing.assert_array_equal(run["data"].target, expected.target)
    (spec,) = run["flows"]
    assert isinstance(spec.flow, sr.AdaptedFlow) and spec.method == "RK45"
    G = sr.ConstantOutputMetric.from_class_weights(expected, [1.0, 4.0]).matrix()
    np.testing.assert_array_equal(spec.flow.output_metric.matrix(), G)
    path.write_text("seed = 4\n" + BASE + data_table + "seed = 9\n")
    data = cli.build_run(cli.load_config(path))["data"]
    np.testing.assert_array_equal(data.inputs, sr.TrainingData.blobs(7, 2, 3, 0.5, 9).inputs)
