"""sr.maps.from_torch: a PyTorch model gets every operation of the package, equal to the autograd network.

The reference is the same MLP built by ``sr.NetworkMap`` (closed-form and autograd
derivatives).  The torch side is built two ways — an ``nn.Sequential`` of ``nn.Linear`` and
``nn.Tanh`` evaluated on the inputs (θ = its parameters in ``named_parameters()`` order, which
is the package's (W, b)-per-layer layout), and a plain function of θ — so both entry points of
the adapter are checked.  Programs computing the same exact quantities differ by round-off
only: ``assert_routes_agree`` (tests/tolerances.py), with the condition number of the linear
algebra applied to D (1 for f and its derivatives, cond(D) for the pseudo-inverse, cond(D)² for
Gram inverses and the pullback metric), never looser than 1e-10 relative.

torch is an optional extra, not in ``test`` (a bare ``torch`` requirement downloads a CUDA build
of several GB on most machines); ``.ci/run`` installs the CPU build and runs this file with
``SUBRIEMANN_REQUIRE_TORCH=1``, which turns a missing torch into a failure instead of a skip.
"""

import os
import pathlib
import re
import subprocess
import sys

import adapter_checks as checks
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from tolerances import assert_routes_agree as agree
from tolerances import routes_agree_tol

import subriemann as sr
from subriemann.errors import InputError, ShapeError

if os.environ.get("SUBRIEMANN_REQUIRE_TORCH") == "1":
    import torch
else:
    torch = pytest.importorskip(
        "torch", reason="the torch adapter needs the optional 'torch' extra"
    )

# torch's own internals (torch.func importing torch.jit) warn about torch.jit.script
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)


def torch_module(mlp, theta):
    """``mlp`` as an nn.Sequential (float32 by torch's default), its parameters set to θ."""
    layers = []
    for i, (m_out, m_in) in enumerate(mlp.shapes):
        layers.append(torch.nn.Linear(m_in, m_out))
        if i < len(mlp.shapes) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    torch.nn.utils.vector_to_parameters(
        torch.as_tensor(theta, dtype=torch.float32), model.parameters()
    )
    return model


def torch_function(mlp, inputs):
    """The network x(θ) of ``mlp`` on ``inputs`` as a torch function of θ (package layout)."""
    X = torch.as_tensor(inputs, dtype=torch.float64)

    def net(theta):
        a = X
        for i, ((s, m, e), shape) in enumerate(zip(mlp.offsets, mlp.shapes, strict=True)):
            z = a @ theta[s:m].reshape(shape).T + theta[m:e]
            a = torch.tanh(z) if i < len(mlp.shapes) - 1 else z
        return a.reshape(-1)

    return net


def triple(layers, n_samples, seed):
    mlp = sr.MLP(layers)
    inputs = np.random.default_rng(seed).normal(size=(n_samples, mlp.M))
    theta = mlp.init(seed)
    module = sr.maps.from_torch(torch_module(mlp, theta), inputs=inputs, example_point=theta)
    function = sr.maps.from_torch(torch_function(mlp, inputs), example_point=theta)
    return sr.NetworkMap(mlp, inputs), module, function, theta


@pytest.fixture(scope="module")
def over():
    """Over-parametrized: K = 17 > QN = 4 (grad_h, flows, Frobenius, holonomy)."""
    return triple([2, 3, 2], 2, seed=0)


@pytest.fixture(scope="module")
def under():
    """Under-parametrized: K = 5 ≤ QN = 8, an immersion (the pullback metric g, christoffels, exp)."""
    return triple([2, 1, 1], 8, seed=1)


@pytest.mark.parametrize("entry", ["module", "function"])
def test_value_and_first_and_second_derivatives_agree(over, entry):
    f, module, function, theta = over
    g = module if entry == "module" else function
    checks.derivatives_agree(f, g, theta)
    # torch's jacobian_vjp is autograd's reverse rule of D: ∇_θ ⟨G, D(θ)⟩, against the
    # contraction of the forward derivatives d/dt D[θ + t e_i] of the reference with G
    G = np.random.default_rng(2).normal(size=(f.dim_out, f.dim_in))
    reverse = autograd.grad(lambda t: anp.sum(G * g.jacobian(t)))(theta)
    reference = [np.sum(G * f.jacobian_derivative(theta, e)) for e in np.eye(f.dim_in)]
    agree(reverse, reference, k=4.0 * f.dim_in)


def test_grad_h_and_the_adapted_flow_agree(over):
    f, g, _, theta = over
    checks.grad_h_and_adapted_flow_agree(f, g, theta)


def test_frobenius_test_and_brackets_agree(over):
    f, g, _, theta = over
    checks.frobenius_test_agrees(f, g, theta)


def test_holonomy_of_a_square_loop_agrees(over):
    f, g, _, theta = over
    checks.holonomy_agrees(f, g, theta)


def test_christoffels_and_exp_of_the_pullback_metric_agree(under):
    f, g, _, theta = under
    checks.pullback_metric_agrees(f, g, theta)


def test_module_parameters_is_theta_in_named_parameters_order_and_the_module_is_untouched():
    mlp = sr.MLP([2, 3, 1])
    theta = mlp.init(4)
    model = torch_module(mlp, theta)
    before = [p.detach().clone() for p in model.parameters()]
    # float32 storage: θ0 read back equals θ rounded to float32 (|δ| ≤ 2⁻²⁴|θ|)
    np.testing.assert_array_equal(
        sr.maps.module_parameters(model), theta.astype(np.float32).astype(np.float64)
    )
    g = sr.maps.from_torch(model, inputs=np.ones((2, 2)))
    g.jacobian(theta + 1.0)  # evaluating elsewhere does not write θ into the module
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_float64_is_used_inside_and_the_default_dtype_is_left_alone():
    before = torch.get_default_dtype()

    def with_a_constant(t):  # a constant made inside the model follows the default dtype
        return torch.sin(t) * torch.tensor(1.0 / 3.0)

    g = sr.maps.from_torch(with_a_constant, input_dim=2)
    t = np.array([0.3, 1.1])
    np.testing.assert_allclose(g(t), np.sin(t) / 3.0, rtol=4 * np.finfo(float).eps, atol=0)
    assert g(t).dtype == np.float64
    assert torch.get_default_dtype() == before


def test_bad_models_and_arguments_name_what_was_expected():
    with pytest.raises(InputError, match="expected float64"):
        sr.maps.from_torch(lambda t: torch.sin(t).float(), input_dim=3)
    with pytest.raises(InputError, match="input_dim=K or example_point"):
        sr.maps.from_torch(torch.sin)
    with pytest.raises(ShapeError, match="expected a tensor vector"):
        sr.maps.from_torch(lambda t: torch.sum(t), input_dim=2)
    with pytest.raises(InputError, match="must be callable"):
        sr.maps.from_torch(3, input_dim=2)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    with pytest.raises(InputError, match="needs its training inputs"):
        sr.maps.from_torch(model)
    with pytest.raises(InputError, match=r"module.eval\(\)"):
        sr.maps.from_torch(model, inputs=np.ones((8, 2)))
    sr.maps.from_torch(model.eval(), inputs=np.ones((8, 2)))  # deterministic once in eval mode
    with pytest.raises(InputError, match="NaN or inf"):
        sr.maps.from_torch(model, inputs=np.array([[1.0, np.nan]]))
    with pytest.raises(InputError, match="inputs= is for an nn.Module"):
        sr.maps.from_torch(torch.sin, input_dim=2, inputs=np.ones((2, 2)))
    with pytest.raises(ShapeError, match=r"shape \(17,\), got \(3,\)"):
        sr.maps.from_torch(model, inputs=np.ones((2, 2)), example_point=np.ones(3))


class _Picked(torch.nn.Module):
    """A model with an integer buffer used as indices, and a floating buffer as an offset."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 3)
        self.register_buffer("keep", torch.tensor([0, 2]))
        self.register_buffer("offset", torch.tensor([0.5, -0.25]))

    def forward(self, x):
        return torch.sin(self.layer(x))[:, self.keep] + self.offset


def test_buffers_keep_their_kind_and_the_module_is_never_written_to():
    model = _Picked()
    X = np.random.default_rng(5).normal(size=(3, 2))
    g = sr.maps.from_torch(model, inputs=X)
    theta = sr.maps.module_parameters(model)
    W, b = theta[:6].reshape(3, 2), theta[6:]
    expected = np.sin(X @ W.T + b)[:, [0, 2]] + np.array([0.5, -0.25])
    # a sum of two products and a sine: a few roundings of |x| ≤ 2
    agree(g(theta), expected.reshape(-1), k=16.0)
    assert model.keep.dtype == torch.int64 and model.offset.dtype == torch.float32


def test_modules_in_training_mode_that_write_buffers_or_use_float32_are_refused():
    X = np.random.default_rng(6).normal(size=(5, 2))
    torch.manual_seed(1)
    bn = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    running = bn[1].running_mean.clone()
    with pytest.raises(InputError, match=r"changes its buffers.*module.eval\(\)"):
        sr.maps.from_torch(bn, inputs=X)
    assert torch.equal(bn[1].running_mean, running)  # the check itself wrote nothing
    g = sr.maps.from_torch(bn.eval(), inputs=X)  # eval mode: running statistics, a map of θ
    assert g.jacobian(sr.maps.module_parameters(bn)).shape == (5, g.dim_in)

    class Detour(torch.nn.Module):  # float32 in the middle, cast back before the output
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.layer(x).float().double()

    with pytest.raises(InputError, match="computes with float32 values"):
        sr.maps.from_torch(Detour(), inputs=X)

    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.layer(x), x

    with pytest.raises(InputError, match="returns a tuple; expected one tensor"):
        sr.maps.from_torch(Pair(), inputs=X)


def test_the_package_imports_without_torch():
    code = "import sys, subriemann as sr; sr.maps.from_torch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_the_pytorch_block_of_the_your_model_page_runs_as_written(tmp_path):
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "your-model.md"
    blocks = re.findall(
        r'^```python title="PyTorch"\n(.*?)^```', page.read_text("utf-8"), re.DOTALL | re.MULTILINE
    )
    assert len(blocks) == 1, "docs/your-model.md should have one PyTorch block"
    script = tmp_path / "pytorch_block.py"
    script.write_text(blocks[0], encoding="utf-8")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    # the push-forward of grad_h is ∇ₓC (1.28) to the round-off of a solve with D:
    # routes_agree_tol at |∇ₓC| ≤ 10 (targets 0, outputs O(1)) and cond(D) ≤ 1e3 at this seed
    assert float(lines[0]) <= routes_agree_tol(10.0, cond=1e3)
    assert lines[1] == "False"  # not involutive (2.31)
    closure, climb = map(float, lines[2].split())
    assert closure <= 1e-10 and climb > 1e-3
