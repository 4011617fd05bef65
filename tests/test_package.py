"""The package as a user meets it: backend selection on import, the public names, the demo."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import subriemann as sr

# the foundation part of ARCHITECTURE.md's public surface (maps, data, network, cost, linalg, errors)
FOUNDATION_NAMES = [
    "SmoothMap",
    "AutodiffMap",
    "LinearMap",
    "TrainingData",
    "MLP",
    "Activation",
    "NetworkMap",
    "L2Cost",
    "RankPolicy",
    "RankReport",
    "JacobianSVD",
    "DEFAULT_RANK_POLICY",
    "SubriemannError",
    "InputError",
    "ShapeError",
    "NonFiniteError",
    "ActivationError",
    "RankConditionError",
    "NumericalError",
]


def run_python(code, **env_changes):
    """Run ``code`` in a fresh interpreter with GEOMSTATS_BACKEND as given (None: unset)."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_geomstats_imported_first_with_another_backend_is_refused_with_the_fix():
    result = run_python("import geomstats.backend\nimport subriemann", GEOMSTATS_BACKEND="numpy")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "'numpy' backend" in message and "'autograd'" in message
    assert "Import subriemann before geomstats" in message
    assert "GEOMSTATS_BACKEND=autograd" in message


def test_another_backend_requested_in_the_environment_is_refused_with_the_fix():
    result = run_python("import subriemann", GEOMSTATS_BACKEND="pytorch")
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("ImportError") and "GEOMSTATS_BACKEND='pytorch'" in message
    assert "unset it or set GEOMSTATS_BACKEND=autograd" in message


@pytest.mark.parametrize("preset", [None, "autograd"])
def test_import_selects_geomstats_autograd_backend(preset):
    code = (
        "import os, sys\n"
        "import subriemann\n"
        "assert 'geomstats' not in sys.modules  # selected, not yet imported\n"
        "print(os.environ['GEOMSTATS_BACKEND'])\n"
        "import geomstats.backend as gs\n"
        "print(gs.__name__)\n"
    )
    result = run_python(code, GEOMSTATS_BACKEND=preset)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["autograd", "geomstats.autograd"]


def test_geomstats_already_on_autograd_is_accepted():
    result = run_python("import geomstats.backend\nimport subriemann", GEOMSTATS_BACKEND="autograd")
    assert result.returncode == 0, result.stderr


def test_import_is_light():
    # higher layers load lazily: importing the package pulls in no plotting or CAS
    code = (
        "import sys, subriemann\nprint(sorted({'matplotlib', 'sympy', 'dask'} & set(sys.modules)))"
    )
    result = run_python(code, GEOMSTATS_BACKEND=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", FOUNDATION_NAMES)
def test_foundation_names_import_from_the_package(name):
    assert name in sr.__all__
    namespace = {}
    exec(f"from subriemann import {name}", namespace)
    assert namespace[name] is getattr(sr, name)


def test_public_surface_snippet_of_the_architecture_runs():
    # the foundation lines of ARCHITECTURE.md's contract, as written there
    rng = np.random.default_rng(0)
    inputs, labels = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    data = sr.TrainingData(inputs, labels, np.eye(2))
    assert (data.N, data.M, data.Q, data.target.shape) == (5, 3, 2, (10,))
    net = sr.MLP([data.M, 4, 4, data.Q], activation="tanh")
    theta = net.init(seed=0)
    assert theta.shape == (net.K,) and theta.dtype == np.float64
    assert len(net.unpack(theta)) == 3
    f = sr.NetworkMap(net, data.inputs)
    v, w = rng.normal(size=net.K), rng.normal(size=data.Q * data.N)
    assert f(theta).shape == (10,) and f.jacobian(theta).shape == (10, net.K)
    assert f.jvp(theta, v).shape == (10,) and f.vjp(theta, w).shape == (net.K,)
    assert f.jacobian_derivative(theta, v).shape == (10, net.K)
    cost = sr.L2Cost(data.target, n_samples=data.N)
    assert np.ndim(cost(f(theta))) == 0 and cost.grad(f(theta)).shape == (10,)


def test_demo_runs_and_prints_K_QN_regime_and_rank(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "subriemann.cli", "demo", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    K, QN = int(re.search(r"\bK = (\d+)", text)[1]), int(re.search(r"\bQN = (\d+)", text)[1])
    regime = re.search(r"^regime\s+(over|under|borderline)\b", text, re.MULTILINE)[1]
    rank = int(re.search(r"^rank D\S*\s+(\d+)", text, re.MULTILINE)[1])
    # the printed geometry is that of the network the run records
    (record_path,) = out.glob("*.json")
    problem = json.loads(record_path.read_text())["results"]["problem"]
    assert K == sr.MLP.count_parameters(problem["layers"])
    assert QN == problem["Q"] * problem["N"]
    assert regime == ("over" if K > QN else "under" if K < QN else "borderline")
    assert 0 < rank <= min(K, QN)


# the layers whose layout issue 12 finished; the others join when their splits land
LAYOUT_FOLDERS = ["integrate", "maps", "subriemannian", "flows"]


@pytest.mark.parametrize("folder", LAYOUT_FOLDERS)
def test_every_public_name_of_a_layer_is_the_object_of_its_defining_module(folder):
    import importlib
    import pkgutil

    package = importlib.import_module(f"subriemann.{folder}")
    seen = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"subriemann.{folder}.{info.name}")
        for name in getattr(module, "__all__", ()):
            # one home per name: no two modules of a layer list the same public name
            assert name not in seen, f"{name} is public in both {seen.get(name)} and {info.name}"
            seen[name] = info.name
            assert getattr(package, name) is getattr(module, name), (folder, name)
    assert set(seen) == set(package.__all__)


@pytest.mark.parametrize("name", ["Trajectory", "integrate", "MLP", "Activation", "NetworkMap"])
def test_top_level_names_are_the_layers_objects(name):
    layer = {"Trajectory": "flows", "integrate": "flows"}.get(name, "maps")
    assert getattr(sr, name) is getattr(getattr(sr, layer), name)


def test_a_module_over_600_lines_says_why_it_is_one_concept():
    from pathlib import Path

    root = Path(sr.__file__).parent
    paths = list(root.rglob("*.py"))
    long = {}
    for path in sorted(paths):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 600:
            docstring = text.split('"""', 2)[1] if text.lstrip().startswith('"""') else ""
            long[str(path.relative_to(root))] = "Why one module" in docstring
    missing = sorted(p for p, says in long.items() if not says)
    assert not missing, f"modules over 600 lines without a 'Why one module' paragraph: {missing}"
