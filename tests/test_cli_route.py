"""``--route`` / ``[flow] route`` / ``--memory-budget`` and the new ``[data]`` kinds of ``subriemann train``.

Claims:

* every route to D⁺ (dense SVD, kernel Θ = DDᵀ, matrix-free Krylov, and "auto")
  run from the command line integrates the same adapted flow: its recorded cost
  follows the closed form C(s) = C(0)e^{−2s/N} of Theorem 2.1 ((2.6), computed
  here with numpy, not the package) to the output-exact corrector's promise
  (tests/tolerances.py ``output_exact_cost_tol``), so any two routes agree to twice that;
* the record and the printed summary say which route ran, and "auto" says why;
* a bad route or memory budget, on the command line or in the config, exits 2
  with one line that names the option or key and the allowed values.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import output_exact_cost_tol

import subriemann as sr
import subriemann.cli as cli
from subriemann.cli.config import ConfigError, parse_bytes

ROUTES = ("dense", "kernel", "matrix-free", "auto")
# the CLI's integrator defaults ([integrator] rtol, atol): the corrector tolerance of output-exact
RTOL, ATOL = 1e-8, 1e-10

SMALL = """name = "route"
seed = 1
[data]
kind = "blobs"
n_samples = 4
n_classes = 2
[network]
hidden = [6]
[flow]
kind = "adapted"
{flow}
[integrator]
method = "output-exact"
[target]
eps = 1e-6
[output]
figures = false
"""


def call(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def train_json(capsys, tmp_path, flow_keys="", *extra):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow=flow_keys))
    code, out, err = call(capsys, "train", cfg, "--json", "-q", "--out", tmp_path / "out", *extra)
    assert code == 0, err
    return json.loads(out)


def one_line_error(code, out, err):
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_follows_the_cost_law_from_the_command_line(capsys, tmp_path, route):
    record = train_json(capsys, tmp_path, "", "--route", route)
    res = record["results"]
    ran = res["route"]
    assert ran["requested"] == route
    assert ran["route"] == ("dense" if route == "auto" else route)  # D is tiny: auto takes it
    if route == "auto":
        assert ran["reason"].startswith("auto: D fits")
    orbit = res["flows"]["adapted"]["orbit"]
    s, C = np.array(orbit["s"]), np.array(orbit["cost"])
    N = res["N"]
    C_law = res["C0"] * np.exp(-2.0 * s / N)  # (2.6)
    tol = output_exact_cost_tol(np.sqrt(2.0 * N * C_law), N, RTOL, ATOL)
    assert np.all(np.abs(C - C_law) <= tol), np.max(np.abs(C - C_law) / tol)
    assert math.isclose(s[-1], res["stopping_time"], rel_tol=1e-12)
    assert record["config"]["flow"]["route"] == route


def test_routes_agree_on_the_final_cost(capsys, tmp_path):
    finals = {}
    for route in ROUTES[:3]:
        res = train_json(capsys, tmp_path, "", "--route", route)["results"]
        finals[route] = res["flows"]["adapted"]["reached_cost"]
    N, eps = res["N"], res["eps"]
    bound = 2 * output_exact_cost_tol(math.sqrt(2 * N * eps), N, RTOL, ATOL)
    for route, C in finals.items():
        assert abs(C - finals["dense"]) <= bound, (route, C, finals["dense"])


def test_config_route_and_budget_reach_the_flow_and_the_record(capsys, tmp_path):
    record = train_json(capsys, tmp_path, 'route = "kernel"\nmemory_budget = "512MiB"')
    ran = record["results"]["route"]
    assert ran["route"] == "kernel" and ran["requested"] == "kernel"
    assert ran["memory_budget"] == 512 * 2**20
    assert (
        record["results"]["flows"]["adapted"]["n_jacobian"] == 0
    )  # the kernel route never forms D
    # the command line overrides the file, and the record says what ran
    record = train_json(
        capsys, tmp_path, 'route = "kernel"', "--route", "matrix-free", "--memory-budget", "2GB"
    )
    assert record["results"]["route"]["route"] == "matrix-free"
    assert record["results"]["route"]["memory_budget"] == 2 * 10**9
    assert record["config"]["flow"]["route"] == "matrix-free"


def test_printed_summary_names_the_route(capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow='route = "auto"'))
    code, out, err = call(capsys, "train", cfg, "-q", "--out", tmp_path / "out")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("route: "))
    assert line.startswith("route: dense (auto: D fits; dense needs")
    code, out, err = call(capsys, "train", cfg, "-q", "--out", tmp_path / "o2", "--route", "kernel")
    assert code == 0 and "route: kernel (requested)" in out.splitlines()


def test_bad_route_on_the_command_line_exits_2_with_one_line(capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow=""))
    line = one_line_error(*call(capsys, "train", cfg, "-q", "--route", "kernal"))
    assert "--route" in line and "'kernal'" in line
    for name in ("auto", "dense", "kernel", "matrix-free"):
        assert f"'{name}'" in line
    line = one_line_error(*call(capsys, "demo", "-q", "--out", tmp_path, "--route", "sparse"))
    assert "--route" in line and "'sparse'" in line and "'matrix-free'" in line


def test_bad_route_in_the_config_exits_2_with_one_line_naming_the_key(capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow='route = "kernal"'))
    line = one_line_error(*call(capsys, "train", cfg, "-q"))
    assert "key 'flow.route' (line 11)" in line
    assert "must be one of ['auto', 'dense', 'kernel', 'matrix-free']" in line
    assert "did you mean 'kernel'" in line


def test_kernel_route_with_an_output_metric_is_refused_naming_the_key(capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    text = SMALL.format(flow='route = "kernel"').replace(
        'method = "output-exact"', 'method = "rk45"'
    )
    cfg.write_text(text + '[output_metric]\nkind = "class_weights"\nweights = [1.0, 2.0]\n')
    line = one_line_error(*call(capsys, "train", cfg, "-q"))
    assert "key 'flow.route'" in line and "route='dense'" in line


@pytest.mark.parametrize(
    "value, message",
    [
        ('"lots"', "memory_budget"),
        ("0", "memory_budget"),
        ('"2 parsecs"', "memory_budget"),
        ("true", "memory_budget"),
    ],
)
def test_bad_memory_budget_in_the_config_exits_2(capsys, tmp_path, value, message):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow=f"memory_budget = {value}"))
    line = one_line_error(*call(capsys, "train", cfg, "-q"))
    assert "key 'flow.memory_budget' (line 11)" in line and "'2GB'" in line


def test_bad_memory_budget_on_the_command_line_exits_2(capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(SMALL.format(flow=""))
    line = one_line_error(*call(capsys, "train", cfg, "-q", "--memory-budget=-3GB"))
    assert line.startswith("subriemann train: error: --memory-budget: got '-3GB'")


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=10**6),
    unit=st.sampled_from(
        [("", 1), ("B", 1), ("kB", 10**3), ("MB", 10**6), ("GB", 10**9), ("KiB", 2**10)]
        + [("MiB", 2**20), ("GiB", 2**30), ("gib", 2**30), ("TB", 10**12)]
    ),
    space=st.sampled_from(["", " "]),
)
def test_parse_bytes_reads_decimal_and_binary_units(n, unit, space):
    name, factor = unit
    assert parse_bytes(f"{n}{space}{name}") == n * factor
    assert parse_bytes(n) == n


def test_parse_bytes_reads_fractions_and_refuses_nonsense():
    assert parse_bytes("1.5GiB") == 3 * 2**29
    assert parse_bytes("2e9") == 2 * 10**9
    for bad in ("", "GB", "1.5 PB", "-1", "0.1", True, 2.5, None):
        with pytest.raises(ConfigError, match="expected a positive number of bytes"):
            parse_bytes(bad)


def test_demo_runs_on_the_kernel_route_and_says_so(capsys, tmp_path):
    code, out, err = call(capsys, "demo", "--json", "-q", "--out", tmp_path, "--route", "kernel")
    assert code == 0, err
    record = json.loads(out)
    assert record["results"]["route"]["route"] == "kernel"
    assert record["config"]["route"] == "kernel"
    assert record["results"]["flows"]["adapted"]["n_jacobian"] == 0
    assert record["results"]["flows"]["adapted"]["target_reached"]


# -- [data] kind = "csv" | "sklearn" -----------------------------------------------------------
DATA = """[data]
{data}
[network]
hidden = [4]
[flow]
kind = "adapted"
[target]
eps = 1e-3
[output]
figures = false
"""


@pytest.mark.parametrize(
    "data, key, message",
    [
        ('kind = "csv"\nlabel_column = "y"', "data.path", "is required with kind = 'csv'"),
        ('kind = "csv"\npath = "x.csv"', "data.label_column", "is required"),
        ('kind = "sklearn"', "data.name", "is required with kind = 'sklearn'"),
        (
            'kind = "sklearn"\nname = "mnist"',
            "data.name",
            "must be one of ['iris', 'digits', 'wine']",
        ),
        (
            'kind = "sklearn"\nname = "iris"\npath = "a.csv"',
            "data.path",
            "only read with kind = 'csv'",
        ),
        ('kind = "blobs"\nname = "iris"', "data.name", "only read with kind = 'sklearn'"),
        ('kind = "csv"\npath = "a.csv"\nlabel_column = -1', "data.label_column", "a column name"),
        ('kind = "csv"\npath = "missing.csv"\nlabel_column = 0', "data.path", "no such file"),
    ],
)
def test_data_kind_keys_are_validated(capsys, tmp_path, data, key, message):
    cfg = tmp_path / "data.toml"
    cfg.write_text(DATA.format(data=data))
    line = one_line_error(*call(capsys, "train", cfg, "-q", "--out", tmp_path / "out"))
    assert f"key '{key}'" in line and message in line, line


def test_csv_config_is_training_data_from_csv(tmp_path):
    """Depends on TrainingData.from_csv (subriemann/maps/data.py, another engineer's work).

    The path is read relative to the configuration file's folder.
    """
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(5, 2))
    labels = ["a", "b", "a", "c", "b"]
    rows = ["u,v,y"] + [
        f"{float(p[0])!r},{float(p[1])!r},{lab}" for p, lab in zip(inputs, labels, strict=True)
    ]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "points.csv").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "sub" / "data.toml"
    cfg.write_text(DATA.format(data='kind = "csv"\npath = "points.csv"\nlabel_column = "y"'))
    data = cli.build_run(cli.load_config(cfg))["data"]
    expected = sr.TrainingData.from_csv(tmp_path / "sub" / "points.csv", label_column="y")
    assert (data.N, data.M, data.Q) == (5, 2, 3)
    assert np.array_equal(data.inputs, expected.inputs)
    assert np.array_equal(data.target, expected.target)


def test_sklearn_config_is_training_data_from_sklearn(tmp_path):
    """Depends on TrainingData.from_sklearn (subriemann/maps/data.py, another engineer's work)."""
    cfg = tmp_path / "iris.toml"
    cfg.write_text(DATA.format(data='kind = "sklearn"\nname = "iris"'))
    data = cli.build_run(cli.load_config(cfg))["data"]
    expected = sr.TrainingData.from_sklearn("iris")
    assert (data.N, data.M, data.Q) == (150, 4, 3)
    assert np.array_equal(data.inputs, expected.inputs)
    assert np.array_equal(data.target, expected.target)
