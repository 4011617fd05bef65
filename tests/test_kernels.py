"""The compiled block writer ``subriemann._kernels`` against its numpy reference.

``NetworkMap`` writes the outer-product blocks B ⊗ a of D[θ] (1.17) and of
d/dt D[θ+tv] with ``_kernels.outer`` when it is built (``network.ASSEMBLY ==
"c"``) and with the numpy ``network.write_outer`` otherwise (both public testing
hooks of :mod:`subriemann.maps.network`, with ``network.assembly`` and
``network.assemble``).  Both compute
every entry as B·a, or (B₁·a₁) + (B₂·a₂), with each product and the sum
rounded once (the kernel is compiled with -ffp-contract=off, so no FMA), so
the results must agree bit for bit, not just to a tolerance: the tests compare
the float64 bit patterns.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import networks

import subriemann as sr
from subriemann.maps import network

try:
    from subriemann import _kernels
except ImportError:  # not built: only legitimate without a C compiler (see the first test)
    _kernels = None

COMPILERS = ("cc", "gcc", "clang")
HAVE_COMPILER = any(shutil.which(c) for c in COMPILERS)
PURE_NUMPY = os.environ.get("SUBRIEMANN_PURE_NUMPY", "").strip() not in ("", "0")
needs_kernel = pytest.mark.skipif(
    _kernels is None and not HAVE_COMPILER,
    reason="no C compiler on PATH, so the optional kernel was not built; numpy fallback only",
)

# autograd warns when a derivative is identically zero (identity activation: σ″ = 0)
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def bits(x):
    """The float64 bit patterns of x: equal arrays of these are bitwise-equal arrays."""
    return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)


def test_kernel_is_built_where_a_c_compiler_exists():
    if not HAVE_COMPILER:
        pytest.skip(f"none of {COMPILERS} on PATH: the optional kernel is not built here")
    assert _kernels is not None, (
        "a C compiler is on PATH but subriemann._kernels is not importable: reinstall with "
        "`pip install -e .` and look for the build_ext error in pip's output (pip -v)"
    )
    assert callable(_kernels.outer)
    assert network.ASSEMBLY == ("numpy" if PURE_NUMPY else "c")


@needs_kernel
@pytest.mark.parametrize(("value", "expected"), [("1", "numpy"), ("0", "c"), (None, "c")])
def test_pure_numpy_environment_variable_selects_the_fallback_at_import(value, expected):
    env = dict(os.environ)
    env.pop("SUBRIEMANN_PURE_NUMPY", None)
    if value is not None:
        env["SUBRIEMANN_PURE_NUMPY"] = value
    code = "from subriemann import network; print(network.ASSEMBLY)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# Entries spread over many binades, down to products that underflow into the
# subnormals, so that any difference in rounding (an FMA, a reordering) shows.
def _entries(rng, shape):
    return rng.normal(size=shape) * np.exp2(rng.integers(-540, 500, size=shape))


@st.composite
def blocks(draw):
    """A (N·Q, ld) output with a block at column col, and one or two (B, a) terms."""
    N, Q = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    n_out, n_in = draw(st.integers(1, 12)), draw(st.integers(1, 10))
    left, right = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n_terms = draw(st.sampled_from([1, 2]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    terms = [(_entries(rng, (N, Q, n_out)), _entries(rng, (N, n_in))) for _ in range(n_terms)]
    # numpy's writer has a broadcast path (few rows o) and a chunked one; force either
    # (None: the module's own thresholds)
    min_rows = draw(st.sampled_from([1, None, 10**6]))
    chunk_bytes = draw(st.sampled_from([1, None]))
    return N, Q, n_out * n_in, left, right, terms, min_rows, chunk_bytes


@needs_kernel
@given(blocks())
def test_kernel_writes_the_block_numpy_writes_bit_for_bit(case):
    N, Q, width, left, right, terms, min_rows, chunk_bytes = case
    ld = left + width + right
    sentinel = -1.25  # the columns outside the block must be left alone
    ref = np.full((N, Q, ld), sentinel)
    for k, (B, a) in enumerate(terms):
        network.write_outer(
            ref[:, :, left : left + width],
            B,
            a,
            accumulate=k > 0,
            min_rows=min_rows,
            chunk_bytes=chunk_bytes,
        )
    out = np.full((N * Q, ld), sentinel)
    _kernels.outer(out, left, *(x for B, a in terms for x in (B.reshape(N * Q, -1), a)))
    assert np.array_equal(bits(out), bits(ref.reshape(N * Q, ld)))
    # and both are the plain broadcast formula Σ B[j,q,o] a[j,i]
    formula = sum(B[:, :, :, None] * a[:, None, None, :] for B, a in terms)
    assert np.array_equal(bits(out[:, left : left + width]), bits(formula.reshape(N * Q, -1)))


# 0–2 hidden layers, widths 1–12 so both numpy paths run
kernel_networks = networks(
    depth=(0, 2),
    width=(1, 12),
    input_dim=(1, 4),
    output_dim=(1, 3),
    samples=(1, 6),
    activations=("tanh", "softplus", "sin", "identity"),
    bias_scale=0.5,
)


@needs_kernel
@given(kernel_networks)
def test_jacobian_and_its_derivative_are_the_same_with_kernel_and_fallback(problem):
    f, theta = problem.f, problem.theta
    v = problem.rng.normal(size=f.dim_in)
    with network.assembly("c"):  # also under SUBRIEMANN_PURE_NUMPY=1
        D, dD = f.jacobian(theta), f.jacobian_derivative(theta, v)
    with network.assembly("numpy"):
        D_ref, dD_ref = f.jacobian(theta), f.jacobian_derivative(theta, v)
    assert D.shape == D_ref.shape == (f.dim_out, f.dim_in)
    assert np.array_equal(bits(D), bits(D_ref))
    assert np.array_equal(bits(dD), bits(dD_ref))


@needs_kernel
def test_more_than_two_terms_go_through_the_numpy_writer_in_the_compiled_branch():
    # NetworkMap itself makes at most two terms (dB ⊗ a + B ⊗ da); a third is
    # accumulated by write_outer inside the same preallocated D
    rng = np.random.default_rng(3)
    net = sr.MLP([3, 9, 2])
    f = sr.NetworkMap(net, rng.normal(size=(4, 3)))
    N, Q, sizes = f.N, f.Q, net.layer_sizes
    layers = [
        ([(rng.normal(size=(N, Q, m_out)), rng.normal(size=(N, m_in))) for _ in range(3)], None)
        for m_out, m_in in zip(sizes[1:], sizes[:-1], strict=True)
    ]
    with network.assembly("c"):
        D = network.assemble(f, layers)
    with network.assembly("numpy"):
        assert np.array_equal(bits(D), bits(network.assemble(f, layers)))


# -- bad buffers ---------------------------------------------------------------

R, N_, LD = 6, 3, 20  # Q = 2 rows per sample


def _good():
    rng = np.random.default_rng(0)
    return np.zeros((R, LD)), rng.normal(size=(R, 4)), rng.normal(size=(N_, 3))


def _bad_cases():
    out, B, a = _good()
    D = np.zeros((R, LD))
    return [
        ("list", lambda k: k.outer(out.tolist(), 0, B, a), TypeError, "out must be a 2-D"),
        ("float32", lambda k: k.outer(out, 0, B.astype(np.float32), a), TypeError, "B1 .*float64"),
        ("int64", lambda k: k.outer(out, 0, B, a.astype(np.int64)), TypeError, "a1 .*float64"),
        ("1-D", lambda k: k.outer(out.ravel(), 0, B, a), ValueError, "out must be 2-D"),
        ("3-D", lambda k: k.outer(out, 0, B[None], a), ValueError, "B1 must be 2-D"),
        ("strided", lambda k: k.outer(out, 0, B, a[:, ::2]), ValueError, "a1 must be C-contig"),
        ("transposed", lambda k: k.outer(out, 0, B.T.copy().T, a), ValueError, "C-contiguous"),
        ("read-only", lambda k: k.outer(_readonly(out), 0, B, a), ValueError, "read-only"),
        ("rows of B", lambda k: k.outer(out, 0, B[:4], a), ValueError, "B1 has 4 rows"),
        ("N ∤ R", lambda k: k.outer(out, 0, B, a[:1].repeat(4, 0)), ValueError, "R = Q\\*N"),
        ("no samples", lambda k: k.outer(out[:0], 0, B[:0], a[:0]), ValueError, "N >= 1"),
        ("B2 shape", lambda k: k.outer(out, 0, B, a, B[:, :3].copy(), a), ValueError, "B2 has"),
        ("a2 shape", lambda k: k.outer(out, 0, B, a, B, a[:, :2].copy()), ValueError, "a2 has"),
        ("col too far", lambda k: k.outer(out, 9, B, a), ValueError, "do not fit"),
        ("col < 0", lambda k: k.outer(out, -1, B, a), ValueError, "do not fit"),
        ("col float", lambda k: k.outer(out, 1.0, B, a), TypeError, "col must be an int"),
        ("5 args", lambda k: k.outer(out, 0, B, a, B), TypeError, "takes 4 arguments"),
        ("a2 None", lambda k: k.outer(out, 0, B, a, B, None), TypeError, "both B2 and a2"),
        ("B2 None", lambda k: k.outer(out, 0, B, a, None, a), TypeError, "both B2 and a2"),
        ("big-endian", lambda k: k.outer(out, 0, B.astype(">f8"), a), TypeError, "format '>d'"),
        ("B in out", lambda k: k.outer(D, 0, D, np.ones((N_, 1))), ValueError, "share memory"),
        ("a in out", lambda k: k.outer(D[:N_], 0, np.ones((N_, 1)), D[:N_]), ValueError, "share"),
    ]


def _readonly(x):
    x = x.copy()
    x.flags.writeable = False
    return x


@needs_kernel
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in _bad_cases()],
    ids=[case[0] for case in _bad_cases()],
)
def test_bad_buffers_are_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call(_kernels)


@needs_kernel
def test_good_buffers_pass_the_same_checks():
    # the refusals above come from the checks, not from calls that never work
    out, B, a = _good()
    expected = (B[:, :, None] * a[np.arange(R) // (R // N_)][:, None, :]).reshape(R, -1)
    _kernels.outer(out, 8, B, a)
    assert np.array_equal(out[:, 8:], expected) and not out[:, :8].any()
    out[:] = 0.0
    _kernels.outer(out, 8, B, a, None, None)  # the two-term signature with no second term
    assert np.array_equal(out[:, 8:], expected) and not out[:, :8].any()
    _kernels.outer(out, 8, B, a, B, a)
    assert np.array_equal(out[:, 8:], 2.0 * expected)  # doubling is exact
