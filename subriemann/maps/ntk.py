"""The structured empirical neural tangent kernel Θ = D Dᵀ of the network map, never forming D.

One concept: Θ[(j,q),(k,r)] = Σ_ℓ ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩·(⟨a_{ℓ−1,j}, a_{ℓ−1,k}⟩ + 1) from the
forward activations and the backward factors of (1.17) (derivation in
:meth:`StructuredNTK.ntk`; Novak et al., *Fast Finite Width NTK*, ICML 2022), computed in
sample blocks under a memory model.  :class:`StructuredNTK` is a mixin of
:class:`~subriemann.maps.network.NetworkMap`: it needs the map's ``mlp``, ``inputs``,
``N``, ``Q``, ``counts`` and :meth:`~subriemann.maps.network.NetworkMap.backward_factors`.
The kernel route of :mod:`subriemann.geometry.kernel` asks for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from subriemann.errors import InputError, check_int, check_result, check_vector

if TYPE_CHECKING:
    from subriemann.maps.architecture import MLP
    from subriemann.maps.network import NetworkMap

__all__ = ["StructuredNTK"]


class StructuredNTK:
    """Mixin: Θ = D Dᵀ of a network map in closed form, block by block (see :meth:`ntk`)."""

    #: Θ = DDᵀ has a closed form that never touches K (:meth:`ntk`); the kernel route
    #: (:mod:`subriemann.geometry.kernel`) asks for it.
    has_structured_ntk = True

    # what the mixin reads of the map it is mixed into (NetworkMap and SmoothMap set them)
    mlp: MLP
    inputs: np.ndarray
    N: int
    Q: int
    dim_in: int
    dim_out: int
    counts: Counter[str]

    def ntk_block_bytes(self, block_samples: int) -> int:
        """Memory model of one Θ block of ``block_samples`` samples against another, in bytes.

        Two blocks' forward/backward factors (activations a_ℓ and pre-activations,
        b·ΣM_ℓ each, and backward factors B_ℓ, b·Q·ΣM_ℓ) and two (bQ)×(bQ) arrays
        (the block and the product of one layer):
        8·[2b·(Q·Σ_{ℓ≥1}M_ℓ + 2·Σ_{ℓ≥0}M_ℓ) + 2·(bQ)²].
        """
        b, Q = int(block_samples), self.Q
        sizes = self.mlp.layer_sizes
        return 8 * (2 * b * (Q * sum(sizes[1:]) + 2 * sum(sizes[:-1])) + 2 * (b * Q) ** 2)

    def ntk_bytes(self, block_samples: int) -> int:
        """Memory model of :meth:`ntk` in bytes: Θ (QN)², all blocks' factors, one block's work.

        8·[(QN)² + N·(Q·Σ_{ℓ≥1}M_ℓ + 2·Σ_{ℓ≥0}M_ℓ) + 2·(bQ)²]: O(QN² + QN·Σ M_ℓ),
        independent of K.
        """
        b, Q, N = int(block_samples), self.Q, self.N
        sizes = self.mlp.layer_sizes
        factors = N * (Q * sum(sizes[1:]) + 2 * sum(sizes[:-1]))
        return 8 * ((Q * N) ** 2 + factors + 2 * (b * Q) ** 2)

    def ntk_partition(
        self, *, block_samples: int | None = None, memory_budget: int | None = None
    ) -> list[tuple[int, int]]:
        """The sample blocks ``[(start, stop), ...]`` in which :meth:`ntk` computes Θ.

        ``block_samples`` fixes the block size; otherwise ``memory_budget`` (bytes)
        gives the largest b whose :meth:`ntk_bytes` fits; with neither, b = N
        unless one block's (bQ)² work arrays would exceed 256 MiB.

        Raises
        ------
        InputError
            A budget that cannot hold Θ and one block of one sample, or a bad size.
        """
        N = self.N
        if block_samples is not None:
            b = check_int(block_samples, "block_samples")
            if memory_budget is not None and self.ntk_bytes(b) > memory_budget:
                raise InputError(
                    f"block_samples = {b} needs ~{self.ntk_bytes(b)} bytes for the NTK "
                    f"(model NetworkMap.ntk_bytes), above memory_budget = {memory_budget}"
                )
        elif memory_budget is not None:
            budget = check_int(memory_budget, "memory_budget")
            if self.ntk_bytes(1) > budget:
                raise InputError(
                    f"memory_budget = {budget} bytes cannot hold one block of the NTK: Θ "
                    f"({self.dim_out}×{self.dim_out}) and the factors need "
                    f"{self.ntk_bytes(1)} bytes with one sample per block "
                    "(model NetworkMap.ntk_bytes); raise the budget or use the distributed "
                    "kernel (subriemann.geometry.ntk_blocks.distributed_ntk), whose workers hold "
                    "one block each"
                )
            b = 1
            while b < N and self.ntk_bytes(min(N, 2 * b)) <= budget:
                b = min(N, 2 * b)
        else:
            b = N
            while b > 1 and 16 * (b * self.Q) ** 2 > 1 << 28:
                b = (b + 1) // 2
        b = min(b, N)
        return [(s, min(s + b, N)) for s in range(0, N, b)]

    def ntk_factors(
        self, params: Sequence[tuple[np.ndarray, np.ndarray]], inputs: npt.ArrayLike
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(activations a_0..a_L, backward factors B_1..B_{L+1}) of the samples ``inputs``.

        The same forward/backward propagation as :meth:`jacobian`, on a block of
        samples (a NetworkMap over those inputs), so that any process computing a
        block from the same inputs gets the same bits.
        """
        # the mixin's class is a NetworkMap (or a subclass), whose constructor this is
        sub = cast("type[NetworkMap]", type(self))(self.mlp, inputs)
        _, pre, acts = self.mlp.propagate(params, sub.inputs)
        Bs, _ = sub.backward_factors(params, pre)
        return acts, Bs

    def ntk_block_from(
        self,
        fac_rows: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
        fac_cols: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
        symmetric: bool,
    ) -> np.ndarray:
        """Θ[(j,q),(k,r)] for the samples of two factor sets; see :meth:`ntk` for the formula."""
        (acts_r, Bs_r), (acts_c, Bs_c) = fac_rows, fac_cols
        Q, L = self.Q, self.mlp.L
        n_r, n_c = acts_r[0].shape[0], acts_c[0].shape[0]
        # output layer ℓ = L+1: B_{L+1} = 1, so its term is δ_qr (⟨a_L,j, a_L,k⟩ + 1)
        out: np.ndarray = np.zeros((n_r, Q, n_c, Q))
        gram = acts_r[L] @ acts_c[L].T + 1.0
        idx = np.arange(Q)
        out[:, idx, :, idx] = gram
        for layer in range(L - 1, -1, -1):  # hidden layers ℓ = layer + 1
            B_r = np.ascontiguousarray(Bs_r[layer]).reshape(n_r * Q, -1)
            B_c = np.ascontiguousarray(Bs_c[layer]).reshape(n_c * Q, -1)
            term = (B_r @ B_c.T).reshape(n_r, Q, n_c, Q)
            term *= (acts_r[layer] @ acts_c[layer].T + 1.0)[:, None, :, None]
            out += term
        out = out.reshape(n_r * Q, n_c * Q)
        if symmetric:  # a diagonal block: make it exactly symmetric, as Θ is
            out = 0.5 * (out + out.T)
        return out

    def ntk(
        self,
        theta: npt.ArrayLike,
        *,
        block: int | None = None,
        block_samples: int | None = None,
        memory_budget: int | None = None,
    ) -> np.ndarray:
        r"""The empirical neural tangent kernel Θ = D Dᵀ (QN×QN), never forming D.

        Structured route (the "structured derivatives" of Novak et al., *Fast Finite
        Width NTK*, ICML 2022), derived from (1.3)–(1.17).

        **Derivation.**  Write z_{ℓ,j} = W_ℓ a_{ℓ−1,j} + b_ℓ with a_{0,j} = x_j^{(0)},
        a_{ℓ,j} = σ(z_{ℓ,j}) (1.3) and x_j = z_{L+1,j} (1.4).  θ enters z_{ℓ,j}
        only through W_ℓ and b_ℓ, so by the chain rule the row (j, q) of D (1.17) is,
        with the back-propagated sensitivities δ_{ℓ,jq} = ∂x_{jq}/∂z_{ℓ,j} ∈ R^{M_ℓ}
        (δ_{L+1,jq} = e_q, δ_{ℓ,jq} = σ′(z_{ℓ,j}) ⊙ W_{ℓ+1}ᵀ δ_{ℓ+1,jq}: the factors
        B_ℓ[j, q] of :meth:`jacobian`),

            ∂x_{jq}/∂W_ℓ[o, i] = δ_{ℓ,jq}[o] a_{ℓ−1,j}[i],   ∂x_{jq}/∂b_ℓ[o] = δ_{ℓ,jq}[o].

        Θ[(j,q),(k,r)] = Σ_θ-coordinates D[(j,q), ·] D[(k,r), ·] splits over the
        parameter blocks; the W_ℓ-block sums Σ_{o,i} δ_{ℓ,jq}[o] a_{ℓ−1,j}[i]
        δ_{ℓ,kr}[o] a_{ℓ−1,k}[i] = ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩⟨a_{ℓ−1,j}, a_{ℓ−1,k}⟩ (the sum
        over (o, i) factors), and the b_ℓ-block adds ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩.  Hence

            Θ = Σ_{ℓ=1}^{L+1} Θ_ℓ,  Θ_ℓ[(j,q),(k,r)] = ⟨δ_{ℓ,jq}, δ_{ℓ,kr}⟩ · (⟨a_{ℓ−1,j}, a_{ℓ−1,k}⟩ + 1),

        and for the output layer ⟨δ_{L+1,jq}, δ_{L+1,kr}⟩ = δ_qr.  Each Θ_ℓ is a
        (QN×M_ℓ)(M_ℓ×QN) product times an N×N Gram matrix of activations: the cost
        is ~2(QN)²·Σ M_ℓ + 2N²·Σ M_{ℓ−1} instead of 2(QN)²·K for D Dᵀ, a factor of
        the layer width fewer operations, and no QN×K array exists.

        Parameters
        ----------
        theta : array-like, shape=[K]
        block : int, optional
            The keyword of :meth:`SmoothMap.ntk <subriemann.maps.smooth.SmoothMap.ntk>`
            (rows of D per block), so code written for any smooth map runs here: blocks of
            max(1, ⌊block/Q⌋) samples, i.e. at most ``block`` of Θ's rows at a time.  Give it
            or ``block_samples``, not both.
        block_samples : int, optional
            Samples per block (Θ is computed block by block; see :meth:`ntk_partition`).
        memory_budget : int, optional
            Bytes the computation may use (model :meth:`ntk_bytes`); sets the block size.

        Returns
        -------
        Theta : ndarray, shape=[QN, QN]
            Symmetric positive semi-definite, sample-major like D's rows.

        Notes
        -----
        Every block (I, J) is computed by the same code from the inputs of I and J
        alone (:meth:`ntk_block`), so a distributed computation
        (:func:`subriemann.geometry.ntk_blocks.distributed_ntk`) gives the same bits.
        Forming Θ squares the condition number of D: solve with it only with the
        refinement of :class:`subriemann.geometry.kernel.KernelFactorization`.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        if block is not None:
            if block_samples is not None:
                raise InputError(
                    "give block (rows of D, the SmoothMap.ntk keyword) or block_samples, not both"
                )
            block_samples = max(1, check_int(block, "block", "rows of D per block") // self.Q)
        blocks = self.ntk_partition(block_samples=block_samples, memory_budget=memory_budget)
        self.counts["ntk"] += 1
        params = self.mlp.unpack_unchecked(np.asarray(theta, dtype=np.float64))
        factors = [self.ntk_factors(params, self.inputs[s:e]) for s, e in blocks]
        Q = self.Q
        out = np.empty((self.dim_out, self.dim_out))
        for i, (s_i, e_i) in enumerate(blocks):
            for j in range(i, len(blocks)):
                s_j, e_j = blocks[j]
                tile = self.ntk_block_from(factors[i], factors[j], symmetric=i == j)
                out[s_i * Q : e_i * Q, s_j * Q : e_j * Q] = tile
                if i != j:
                    out[s_j * Q : e_j * Q, s_i * Q : e_i * Q] = tile.T
        return check_result(out, "the NTK Theta = D D^T", "check the scale of theta and inputs")

    def ntk_block(
        self, theta: npt.ArrayLike, rows: tuple[int, int], cols: tuple[int, int]
    ) -> np.ndarray:
        """One block Θ[rows, cols] of :meth:`ntk` for two sample ranges, shape (|rows|Q, |cols|Q).

        Parameters
        ----------
        theta : array-like, shape=[K]
        rows, cols : tuple (start, stop)
            Sample ranges (not output indices); equal ranges give a symmetric block.
        """
        theta = check_vector(theta, self.dim_in, "theta")
        (s_r, e_r), (s_c, e_c) = (tuple(int(v) for v in r) for r in (rows, cols))
        if not (0 <= s_r < e_r <= self.N and 0 <= s_c < e_c <= self.N):
            raise InputError(
                f"rows and cols must be sample ranges (start, stop) within 0..N = {self.N}, "
                f"got {rows!r} and {cols!r}"
            )
        params = self.mlp.unpack_unchecked(np.asarray(theta, dtype=np.float64))
        fac_r = self.ntk_factors(params, self.inputs[s_r:e_r])
        same = (s_r, e_r) == (s_c, e_c)
        fac_c = fac_r if same else self.ntk_factors(params, self.inputs[s_c:e_c])
        block = self.ntk_block_from(fac_r, fac_c, symmetric=same)
        return check_result(block, "a block of the NTK", "check the scale of theta and inputs")
