"""The network of §1.1 as a smooth map θ ↦ x[θ] ∈ R^{QN}, with closed-form derivatives.

One concept: :class:`NetworkMap` evaluates an :class:`~subriemann.maps.architecture.MLP`
on N training inputs (1.6)–(1.8) and is a :class:`~subriemann.maps.smooth.SmoothMap`
whose Jacobian (1.17), Jacobian-vector and vector-Jacobian products, the directional
derivative of the Jacobian and the Hessian-vector blocks are vectorised
forward/backward propagation (no loop over outputs); how the Jacobian's blocks are
written (numpy or the compiled kernel) and its testing hooks (:data:`ASSEMBLY`,
:func:`assembly`, :func:`assemble`, :func:`write_outer`) belong to that evaluation
and live here.  The activations are :mod:`.activations`, the architecture
:mod:`.architecture`, the structured NTK Θ = DDᵀ :mod:`.ntk`.

Everything is written with ``autograd.numpy`` so it stays differentiable: the
Lie-bracket machinery and geomstats' sub-Riemannian geodesics differentiate
through the closed-form Jacobian.  When the argument is not being traced, the
Jacobian is written straight into one preallocated array (no concatenation
copy), which keeps it within a small factor of the cost of writing QN×K floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import autograd.numpy as anp
import numpy as np
import numpy.typing as npt
from autograd.tracer import getval, isbox

from subriemann import scratch
from subriemann.errors import (
    InputError,
    ShapeError,
    check_array,
    check_int,
    check_result,
)
from subriemann.maps.architecture import MLP
from subriemann.maps.data import TrainingData
from subriemann.maps.ntk import StructuredNTK
from subriemann.maps.smooth import SmoothMap

__all__ = ["NetworkMap"]


class NetworkMap(StructuredNTK, SmoothMap):
    """The network evaluated on N inputs: f : R^K → R^{QN}, θ ↦ x[θ] (1.6)–(1.8).

    Parameters
    ----------
    mlp : MLP
    inputs : array-like, shape=[N, M], or TrainingData
        The training inputs x_j^{(0)}.

    Notes
    -----
    Output rows are sample-major: entry j*Q + q is component q of x_j.  The
    Jacobian uses backward factors B_ℓ = ∂x/∂z_ℓ ∈ R^{N×Q×M_ℓ} with
    B_{L+1} = 1 and B_ℓ = (B_{ℓ+1} W_{ℓ+1}) ⊙ σ′(z_ℓ); the W_ℓ-block of D is
    B_ℓ ⊗ a_{ℓ-1} and the b_ℓ-block is B_ℓ.  ``jacobian_derivative`` propagates
    the tangents (dz_ℓ, da_ℓ, dB_ℓ) of the same recursion, which needs σ″.
    """

    def __init__(self, mlp: MLP, inputs: npt.ArrayLike | TrainingData):
        if not isinstance(mlp, MLP):
            raise InputError(f"mlp must be an MLP, got {type(mlp).__name__}")
        if isinstance(inputs, TrainingData):
            inputs = inputs.inputs
        inputs = check_array(inputs, "inputs", ndim=2)
        if inputs.shape[0] == 0:
            raise ShapeError("inputs is empty; expected at least one training input (N >= 1)")
        if inputs.shape[1] != mlp.M:
            raise ShapeError(
                f"inputs have dimension {inputs.shape[1]} but the network's input layer has "
                f"M = {mlp.M}; expected inputs of shape (N, {mlp.M})"
            )
        self.mlp = mlp
        self.inputs = np.array(inputs, dtype=np.float64)
        self.N = inputs.shape[0]
        self.Q = mlp.Q
        super().__init__(mlp.K, mlp.Q * self.N)

    def _matrix_result(self, out, what):
        # _assemble has proven the matrix finite (or raised): no second pass over it
        return out

    def _value(self, theta):
        return anp.reshape(
            self.mlp.propagate(self.mlp.unpack_unchecked(theta), self.inputs)[0], (-1,)
        )

    def backward_factors(
        self,
        params: Sequence[tuple[np.ndarray, np.ndarray]],
        pre: Sequence[np.ndarray],
        dparams: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
        dpre: Sequence[np.ndarray] | None = None,
    ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """Backward factors B_ℓ = ∂x/∂z_ℓ and, along a tangent dθ, their derivatives dB_ℓ.

        ``params`` are ``mlp.unpack_unchecked(θ)``, ``pre`` the pre-activations of
        ``mlp.propagate``; shared by the Jacobian (1.17), its derivative and the NTK.

        Returns two lists over ℓ = 1..L+1 of arrays (N, Q, M_ℓ): [B_ℓ] and
        [dB_ℓ] (all ``None`` without a tangent; dB_{L+1} = 0 is ``None``).
        """
        act = self.mlp.activation
        N, Q = self.N, self.Q
        Bs: list[np.ndarray] = [anp.broadcast_to(np.eye(Q), (N, Q, Q))]
        dBs: list[np.ndarray | None] = [None]
        # C = B_{ℓ+1} W_{ℓ+1}; for ℓ = L it is W_{L+1} for every sample, so the
        # product with B_{L+1} = 1 is skipped.  dC is None exactly when there is no tangent.
        C = params[-1][0][None]
        dC = None if dparams is None else dparams[-1][0][None]
        for layer in range(self.mlp.L, 0, -1):
            z = pre[layer - 1]
            s1 = act.d1(z)[:, None, :]
            B = C * s1
            dB = None
            if dC is not None:
                # a tangent dθ comes with its pre-activation tangents dpre (_tangents)
                dz = cast("Sequence[np.ndarray]", dpre)[layer - 1]
                dB = dC * s1 + C * (act.d2(z) * dz)[:, None, :]
            Bs.append(B)
            dBs.append(dB)
            if layer > 1:
                # one (NQ × M_ℓ)·(M_ℓ × M_{ℓ-1}) product instead of N batched small ones
                W = params[layer - 1][0]
                C = _rows_times(B, W)
                if dparams is not None:
                    dC = _rows_times(dB, W) + _rows_times(B, dparams[layer - 1][0])
        return Bs[::-1], dBs[::-1]

    def _assemble(self, layers, what: str = "the assembled (QN, K) matrix"):
        """Lay out a (QN, K) matrix in the θ layout from per-layer factors; NumericalError if it overflows.

        ``layers[ℓ]`` is ``(terms, bias)``: the W_ℓ-block is Σ B ⊗ a over the
        ``(B, a)`` pairs in ``terms`` (B (N, Q, M_ℓ), a (N, M_{ℓ-1})), the
        b_ℓ-block is ``bias`` (N, Q, M_ℓ); ``None`` factors are zero.
        """
        layers = [([(B, a) for B, a in terms if a is not None], bias) for terms, bias in layers]
        D = self._assemble_unchecked(layers)
        # Every entry is a sum of products B·a or a bias entry, so the bound
        # Σ max|B|·max|a| (computed with the same rounded, monotone operations)
        # proves D finite from the small factors, O(NQ·ΣM_ℓ) instead of a pass
        # over the QN×K result; only when the bound overflows is D itself scanned.
        # A sum over all blocks (not a max) so that a NaN factor propagates.
        bound = 0.0
        for terms, bias in layers:
            bound += sum(_absmax(B) * _absmax(a) for B, a in terms)
            bound += 0.0 if bias is None else _absmax(bias)
        if not np.isfinite(bound):
            check_result(D, what, "check the scale of theta, of the direction and of the inputs")
        return D

    def _assemble_unchecked(self, layers):
        """:meth:`_assemble` without the finiteness proof (``layers`` without ``None`` inputs)."""
        N, Q, K = self.N, self.Q, self.dim_in
        traced = any(
            isbox(x) for terms, bias in layers for x in (bias, *(y for t in terms for y in t))
        )
        if traced:
            pieces = []
            for (terms, bias), (n_out, n_in) in zip(layers, self.mlp.shapes, strict=True):
                outer = [
                    anp.reshape(B[:, :, :, None] * a[:, None, None, :], (N, Q, -1))
                    for B, a in terms
                ]
                pieces.append(
                    sum(outer[1:], outer[0]) if outer else anp.zeros((N, Q, n_out * n_in))
                )
                pieces.append(anp.zeros((N, Q, n_out)) if bias is None else bias)
            return anp.reshape(anp.concatenate(pieces, axis=2), (N * Q, K))
        # Not traced: write every block in place, once; with the compiled
        # kernel when it is built (ASSEMBLY == "c"), else with numpy.
        if ASSEMBLY == "c":
            return _assemble_compiled(layers, self.mlp.offsets, N * Q, K)
        D = np.empty((N, Q, K))
        for (terms, bias), (s, m, e) in zip(layers, self.mlp.offsets, strict=True):
            if not terms:
                D[:, :, s:m] = 0.0
            for k, (B, a) in enumerate(terms):
                write_outer(D[:, :, s:m], B, a, accumulate=k > 0)
            D[:, :, m:e] = 0.0 if bias is None else bias
        return D.reshape(N * Q, K)

    def _value_and_jacobian(self, theta):
        params = self.mlp.unpack_unchecked(theta)
        out, pre, acts = self.mlp.propagate(params, self.inputs)
        Bs, _ = self.backward_factors(params, pre)
        layers = [([(B, a)], B) for B, a in zip(Bs, acts, strict=True)]
        return anp.reshape(out, (-1,)), self._assemble(layers, "the Jacobian D[theta]")

    def _jacobian(self, theta):
        return self._value_and_jacobian(theta)[1]

    def _tangents(self, params, dparams, pre, acts):
        """Forward tangents (dz_ℓ, da_ℓ) along dθ, and dx; da_0 = ``None`` (inputs are fixed)."""
        act = self.mlp.activation
        da = None
        dpre, dacts = [], [da]
        for (W, _), (dW, db), z, a in zip(params[:-1], dparams[:-1], pre, acts[:-1], strict=True):
            dz = anp.dot(a, dW.T) + db
            if da is not None:
                dz = dz + anp.dot(da, W.T)
            da = act.d1(z) * dz
            dpre.append(dz)
            dacts.append(da)
        (W, _), (dW, db) = params[-1], dparams[-1]
        dx = anp.dot(acts[-1], dW.T) + db
        if da is not None:
            dx = dx + anp.dot(da, W.T)
        return dpre, dacts, dx

    def _jvp(self, theta, v):
        params, dparams = self.mlp.unpack_unchecked(theta), self.mlp.unpack_unchecked(v)
        _, pre, acts = self.mlp.propagate(params, self.inputs)
        return anp.reshape(self._tangents(params, dparams, pre, acts)[2], (-1,))

    def _vjp(self, theta, w):
        params = self.mlp.unpack_unchecked(theta)
        _, pre, acts = self.mlp.propagate(params, self.inputs)
        delta = anp.reshape(w, (self.N, self.Q))
        grads = []
        for layer in range(len(params) - 1, -1, -1):
            W = params[layer][0]
            grads.append((anp.dot(delta.T, acts[layer]), anp.sum(delta, axis=0)))
            if layer > 0:
                delta = anp.dot(delta, W) * self.mlp.activation.d1(pre[layer - 1])
        return self.mlp.pack_unchecked(grads[::-1])

    def _jacobian_derivative(self, theta, v):
        # d/dt of D's blocks B_ℓ ⊗ a_{ℓ-1} and B_ℓ: dB_ℓ ⊗ a_{ℓ-1} + B_ℓ ⊗ da_{ℓ-1} and dB_ℓ
        params, dparams = self.mlp.unpack_unchecked(theta), self.mlp.unpack_unchecked(v)
        _, pre, acts = self.mlp.propagate(params, self.inputs)
        dpre, dacts, _ = self._tangents(params, dparams, pre, acts)
        Bs, dBs = self.backward_factors(params, pre, dparams, dpre)
        layers = [
            ([(B, da)] if dB is None else [(dB, a), (B, da)], dB)
            for B, dB, a, da in zip(Bs, dBs, acts, dacts, strict=True)
        ]
        return self._assemble(layers, "the Jacobian derivative d/dt D[theta + t v]")

    def _hessian_vector_blocks(self, theta, V, W, block_bytes):
        """Closed form of :meth:`SmoothMap.hessian_vector_blocks`, batched over directions.

        With the backward factors B_ℓ, their tangents dB_ℓ along v_a and the
        forward tangents da_ℓ, the rows of dD[v_a] are dB_ℓ ⊗ a_{ℓ-1} + B_ℓ ⊗ da_{ℓ-1}
        (W_ℓ-block) and dB_ℓ (b_ℓ-block).  Contracting with w_b over the outputs
        (j, q) first — β_b[j] = Σ_q w_b[j, q] B_ℓ[j, q], dβ_ab[j] = Σ_q w_b[j, q] dB_ℓ[j, q] —
        leaves a sum over the N samples:

            out[a, b, W_ℓ] = Σ_j dβ_ab[j] ⊗ a_{ℓ-1}[j] + β_b[j] ⊗ da_{ℓ-1, a}[j],

        one matrix product with inner dimension 2N per direction a and block of
        rows of W_ℓ: N·n_v·n_w·K multiply-adds, against QN·n_v·n_w·K for
        contracting QN matrices dD[v_a], and no QN×K matrix is formed.
        """
        if isbox(theta) or isbox(V) or isbox(W):
            yield from super()._hessian_vector_blocks(theta, V, W, block_bytes)
            return
        mlp, act = self.mlp, self.mlp.activation
        N, Q, L = self.N, self.Q, mlp.L
        n_v, n_w = V.shape[1], W.shape[1]
        if n_v == 0 or n_w == 0:
            yield 0, self.dim_in, np.zeros((n_v, n_w, self.dim_in))
            return
        params = mlp.unpack_unchecked(np.asarray(theta, dtype=np.float64))
        _, pre, acts = mlp.propagate(params, self.inputs)
        Bs, _ = self.backward_factors(params, pre)
        Vt = np.ascontiguousarray(V.T)
        # Tangent arrays keep the sample axis j first and the direction axis a next
        # to the unit axis, so each step is one matrix product over all samples and
        # directions instead of n_v·N small ones.
        dWs = [
            Vt[:, s:m].reshape(n_v, *shape)
            for (s, m, _), shape in zip(mlp.offsets, mlp.shapes, strict=True)
        ]
        dbs = [Vt[:, m:e] for _, m, e in mlp.offsets]
        # forward tangents along every v_a: dz_ℓ, da_ℓ of shape (N, n_v, M_ℓ)
        dpre, dacts, da = [], [None], None
        for layer in range(L):
            (W_l, _), z, a = params[layer], pre[layer], acts[layer]
            n_out, n_in = mlp.shapes[layer]
            dz = a @ dWs[layer].transpose(2, 0, 1).reshape(n_in, n_v * n_out)
            dz = dz.reshape(N, n_v, n_out) + dbs[layer]
            if da is not None:
                dz += (da.reshape(N * n_v, n_in) @ W_l.T).reshape(N, n_v, n_out)
            da = act.d1(z)[:, None, :] * dz
            dpre.append(dz)
            dacts.append(da)
        # tangents of the backward factors, dB_ℓ of shape (N, Q, n_v, M_ℓ); dB_{L+1} = 0
        dBs = [None] * (L + 1)
        C, dC = params[-1][0][None], dWs[-1].transpose(1, 0, 2)[None]  # B_{L+1}W_{L+1} = W_{L+1}
        for layer in range(L, 0, -1):
            z, n = pre[layer - 1], mlp.shapes[layer - 1][0]
            curv = act.d2(z)[:, None, :] * dpre[layer - 1]  # σ″(z_ℓ) dz_ℓ, (N, n_v, M_ℓ)
            dB = dC * act.d1(z)[:, None, None, :] + C[:, :, None, :] * curv[:, None]
            dBs[layer - 1] = dB
            if layer > 1:
                W_l, B = params[layer - 1][0], Bs[layer - 1]
                n_in = W_l.shape[1]
                dC = (dB.reshape(-1, n) @ W_l).reshape(N, Q, n_v, n_in)
                dW_t = dWs[layer - 1].transpose(1, 0, 2).reshape(n, -1)
                dC += (B.reshape(-1, n) @ dW_t).reshape(N, Q, n_v, n_in)
                C = B @ W_l
        w = np.asarray(W, dtype=np.float64).reshape(N, Q, n_w)
        wT = np.ascontiguousarray(w.transpose(0, 2, 1))  # (N, n_w, Q)
        # Work arrays come from a reused workspace (subriemann.scratch), and each
        # block of rows is computed from its own slice of dB, so the working set is
        # O(block_bytes) whatever K and n_v·n_w, and stays in cache.
        rows_of = [
            max(1, min(n_out, block_bytes // (8 * n_v * n_w * n_in))) for n_out, n_in in mlp.shapes
        ]
        with scratch.borrow() as work:
            for layer, (s, m, e) in enumerate(mlp.offsets):
                n_out, n_in = mlp.shapes[layer]
                dB, a, da = dBs[layer], acts[layer], dacts[layer]
                if dB is None and da is None:  # a single affine layer: f is linear in θ
                    yield s, e, np.zeros((n_v, n_w, e - s))
                    continue
                # W_ℓ rows o0..o1 for all (a, b): per a, X_a ((b, o) × k) @ Y_a (k × M_{ℓ-1})
                # with the k = terms·N samples stacked, X[a, b, o] = [dβ_ab[:, o], β_b[:, o]]
                # and Y_a = [a_{ℓ-1}; da_{ℓ-1, a}].
                k = N * ((dB is not None) + (da is not None))
                Y = work.get("Y", (n_v, k, n_in))
                if dB is not None:
                    Y[:, :N] = a
                if da is not None:
                    Y[:, k - N :] = da.transpose(1, 0, 2)
                    # β[j, b, o] = Σ_q w_b[j, q] B[j, q, o]; B_{L+1} = 1 gives β = w
                    beta = wT if layer == L else wT @ Bs[layer]
                rows = rows_of[layer]
                for o0 in range(0, n_out, rows):
                    o1 = min(o0 + rows, n_out)
                    n_o = o1 - o0
                    X = work.get("X", (n_v, n_w, n_o, k))
                    if dB is not None:
                        # dβ[j, b, a, o] = Σ_q w_b[j, q] dB[j, q, a, o]: N products
                        dB_o = work.get("dB", (N, Q, n_v, n_o))
                        dB_o[...] = dB[..., o0:o1]
                        dbeta = work.get("dbeta", (N, n_w, n_v * n_o))
                        np.matmul(wT, dB_o.reshape(N, Q, n_v * n_o), out=dbeta)
                        X[..., :N] = dbeta.reshape(N, n_w, n_v, n_o).transpose(2, 1, 3, 0)
                    if da is not None:
                        X[..., k - N :] = beta[:, :, o0:o1].transpose(1, 2, 0)
                    block = work.get("block", (n_v, n_w * n_o, n_in))
                    np.matmul(X.reshape(n_v, -1, k), Y, out=block)
                    yield s + o0 * n_in, s + o1 * n_in, block.reshape(n_v, n_w, -1)
                if dB is None:
                    yield m, e, np.zeros((n_v, n_w, n_out))
                else:  # b_ℓ-block: Σ_j dβ_ab[j] = Σ_{j,q} w_b[j, q] dB[j, q, a], one product
                    bias = w.reshape(N * Q, n_w).T @ dB.reshape(N * Q, n_v * n_out)
                    yield (
                        m,
                        e,
                        np.ascontiguousarray(bias.reshape(n_w, n_v, n_out).transpose(1, 0, 2)),
                    )

    def __repr__(self) -> str:
        return f"NetworkMap({self.mlp!r}, N={self.N}, QN={self.dim_out})"


def _absmax(x) -> float:
    """max |x| of a (possibly traced) array; NaN if x holds a NaN."""
    return float(np.max(np.abs(getval(x))))


def _rows_times(B, W):
    """(N, Q, m) · (m, n) -> (N, Q, n) as one matrix product over the NQ rows."""
    N, Q, m = B.shape
    return anp.reshape(anp.dot(anp.reshape(B, (N * Q, m)), W), (N, Q, -1))


# The W_ℓ-block of D is the outer product B_ℓ[j, q, o] a_{ℓ-1}[j, i], stored
# contiguously in (o, i) for every output row (j, q).  A broadcast multiply
# runs one ufunc inner loop per (j, q, o), only M_{ℓ-1} long, and that loop
# overhead, not the memory traffic, dominates for hidden layers.  Copying B
# (broadcast along i) into the block and then scaling it in place by a tiled
# along o makes the multiply one contiguous loop of length M_ℓ M_{ℓ-1} per row.
# Temporaries are built per chunk of samples so they stay small: large
# short-lived arrays make glibc map and fault in fresh pages on every call.
# Measured on the bench_jacobian sizes: 1.3–3× faster hidden-layer blocks.
#
# Even so, copy + in-place scale passes over the block twice and still pays a
# ufunc call per chunk: at (M, width, Q, N, L) = (4, 64, 3, 32, 2) the 64×64
# W_2 block alone costs ~2.3–2.6× the memory floor (np.empty + fill of all of
# D) and the Jacobian ~5×.  The compiled kernel subriemann._kernels (built by
# setup.py when a C compiler is there) writes each block in one pass: 0.04–0.05
# ms for that W_2 block (floor ~0.055 ms), the Jacobian ~2.7× the floor and
# jacobian_derivative 5× instead of 11× (benchmarks/bench_jacobian.py).  Its
# results are bitwise those of this numpy code, which stays the fallback and
# the reference (tests/test_kernels.py compares the two).
_OUTER_CHUNK_BYTES = 1 << 20
# Below this many rows o (e.g. the output layer, M_{L+1} = Q) the plain
# broadcast multiply is faster.
_OUTER_MIN_ROWS = 8


def write_outer(
    out: np.ndarray,
    B: np.ndarray,
    a: np.ndarray,
    accumulate: bool = False,
    *,
    min_rows: int | None = None,
    chunk_bytes: int | None = None,
) -> None:
    """out[j, q, o*n_in + i] (+)= B[j, q, o] a[j, i] in place; ``out`` is (N, Q, n_out*n_in).

    The numpy block writer of :meth:`NetworkMap.jacobian` and
    :meth:`NetworkMap.jacobian_derivative`, and the fallback of the compiled kernel
    ``subriemann._kernels.outer``.  Public as a **testing hook**: it is the
    reference the kernel is compared with bit for bit (tests/test_kernels.py).

    Parameters
    ----------
    out : ndarray, shape=[N, Q, n_out * n_in]
        Written (or, with ``accumulate``, added to) in place; its last axis contiguous.
    B : ndarray, shape=[N, Q, n_out]
    a : ndarray, shape=[N, n_in]
    accumulate : bool
        Add the outer product to ``out`` instead of overwriting it.
    min_rows, chunk_bytes : int, optional
        Override the module's ``_OUTER_MIN_ROWS`` (below it, one broadcast
        multiply) and ``_OUTER_CHUNK_BYTES`` (samples per chunk of the tiled path),
        to force either path in a test.  The result does not depend on them.
    """
    min_rows = _OUTER_MIN_ROWS if min_rows is None else min_rows
    chunk_bytes = _OUTER_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    N, Q, n_out = B.shape
    n_in = a.shape[1]
    view = out.reshape(N, Q, n_out, n_in)  # splits the contiguous last axis: a view
    if n_out < min_rows:
        if accumulate:
            view += B[:, :, :, None] * a[:, None, None, :]
        else:
            np.multiply(B[:, :, :, None], a[:, None, None, :], out=view)
        return
    step = max(1, chunk_bytes // (Q * n_out * n_in * 8))
    for j in range(0, N, step):
        rows = slice(j, j + step)
        tiled = np.tile(a[rows], n_out)[:, None, :]
        if accumulate:
            product = np.repeat(B[rows], n_in, axis=2)
            product *= tiled
            out[rows] += product
        else:
            np.copyto(view[rows], B[rows, :, :, None])
            out[rows] *= tiled


def _load_kernels():
    """The compiled block writers, or ``None`` (not built, or SUBRIEMANN_PURE_NUMPY set)."""
    import os

    if os.environ.get("SUBRIEMANN_PURE_NUMPY", "").strip() not in ("", "0"):
        return None
    try:
        from subriemann import _kernels
    except ImportError:  # built without a C compiler: optional extension skipped
        return None
    return _kernels


_KERNELS = _load_kernels()
#: Which code writes the untraced Jacobian blocks: "c" (subriemann._kernels) or
#: "numpy" (:func:`write_outer`; forced by SUBRIEMANN_PURE_NUMPY=1 at import).
ASSEMBLY = "numpy" if _KERNELS is None else "c"


def _rows(B):
    """(N, Q, n) -> the C-contiguous (NQ, n) matrix the kernel takes (a view when possible)."""
    return np.ascontiguousarray(B).reshape(-1, B.shape[-1])


@contextmanager
def assembly(
    kind: str, *, min_rows: int | None = None, chunk_bytes: int | None = None
) -> Iterator[None]:
    """Testing hook: write the untraced Jacobian blocks with ``kind`` inside a ``with`` block.

    ``kind`` is ``"c"`` (``subriemann._kernels``, imported here even when
    SUBRIEMANN_PURE_NUMPY=1 disabled it at import; ImportError if it is not
    built) or ``"numpy"`` (:func:`write_outer`).  ``min_rows`` and
    ``chunk_bytes`` set :func:`write_outer`'s path thresholds for the block (see
    there).  :data:`ASSEMBLY` and the thresholds are restored on exit.  It
    rebinds module state: not for concurrent use.
    """
    global ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES
    if kind not in ("c", "numpy"):
        raise InputError(f"kind must be 'c' or 'numpy', got {kind!r}")
    saved = ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES
    try:
        if kind == "c" and _KERNELS is None:
            from subriemann import _kernels as kernels

            _KERNELS = kernels
        ASSEMBLY = kind
        if min_rows is not None:
            _OUTER_MIN_ROWS = check_int(min_rows, "min_rows")
        if chunk_bytes is not None:
            _OUTER_CHUNK_BYTES = check_int(chunk_bytes, "chunk_bytes")
        yield
    finally:
        ASSEMBLY, _KERNELS, _OUTER_MIN_ROWS, _OUTER_CHUNK_BYTES = saved


def assemble(
    f: NetworkMap,
    layers: Sequence[tuple[Sequence[tuple[np.ndarray, np.ndarray | None]], np.ndarray | None]],
) -> np.ndarray:
    """Testing hook: ``f``'s untraced layout of a (QN, K) matrix from per-layer factors.

    ``layers[ℓ]`` is ``(terms, bias)`` for layer ℓ = 1..L+1: the W_ℓ-block is
    Σ B ⊗ a over the ``(B, a)`` pairs in ``terms`` (B (N, Q, M_ℓ), a (N, M_{ℓ-1}))
    and the b_ℓ-block is ``bias`` (N, Q, M_ℓ); ``None`` factors are zero.  The
    routine behind :meth:`NetworkMap.jacobian` (one term per layer) and
    :meth:`NetworkMap.jacobian_derivative` (two), with the current
    :data:`ASSEMBLY`; public so that tests can reach the branches for more terms.
    """
    return f._assemble(layers)


def _assemble_compiled(layers, offsets, R, K):
    """Untraced ``NetworkMap._assemble`` with subriemann._kernels; returns D (R, K)."""
    D = np.empty((R, K))
    for (terms, bias), (s, m, e) in zip(layers, offsets, strict=True):
        if not terms:
            D[:, s:m] = 0.0
        elif len(terms) <= 2:  # the kernel sums one or two outer products
            _KERNELS.outer(D, s, *(x for B, a in terms for x in (_rows(B), _rows(a))))
        else:
            N = terms[0][1].shape[0]
            for k, (B, a) in enumerate(terms):
                write_outer(D.reshape(N, R // N, K)[:, :, s:m], B, a, accumulate=k > 0)
        # bias and zero blocks are plain copies: numpy's strided copy is as fast as
        # a C loop here (measured), so they stay numpy
        if bias is None:
            D[:, m:e] = 0.0
        else:
            D.reshape(bias.shape[0], -1, K)[:, :, m:e] = bias
    return D
