"""The nilpotent approximation of a distribution at a point: privileged coordinates, homogeneous frame.

References: A. Bellaïche, "The tangent space in sub-Riemannian geometry" (in
*Sub-Riemannian Geometry*, Birkhäuser 1996), §4–5; A. Agrachev, D. Barilari,
U. Boscain, *A Comprehensive Introduction to Sub-Riemannian Geometry* (2019),
ch. 10; F. Jean, *Control of Nonholonomic Systems: from Sub-Riemannian Geometry
to Motion Planning* (Springer 2014), ch. 2.

**Weights and orders.**  Let X_1, ..., X_r be the fields and (n_1, ..., n_s) the
growth vector of the Lie flag at p, bracket generating (n_s = n).  The weights
are w_j = k for n_{k−1} < j ≤ n_k (weight k repeated n_k − n_{k−1} times).  The
(nonholonomic) order of a function f at p is the least |I| with X_I f(p) ≠ 0,
X_I = X_{i_1} ⋯ X_{i_k} acting as differential operators.  Coordinates z
centred at p are *privileged* when ord_p z_j = w_j for every j (Bellaïche
§4, Jean Def. 2.4).  In privileged coordinates the order of a function is the
lowest weighted degree of its Taylor expansion (z_j has weight w_j), so X_i z_k
has no terms of weighted degree below w_k − 1, and

    X̂_i = Σ_k [X_i z_k]_{w_k − 1} ∂/∂z_k        ([g]_d: the part of weighted degree d)

is homogeneous of degree −1 under the dilations δ_λ(z) = (λ^{w_j} z_j):
X̂_i^k(δ_λ z) = λ^{w_k − 1} X̂_i^k(z).  The X̂_i generate a nilpotent Lie algebra of
step s and have at 0 the growth vector the X_i have at p (Bellaïche Prop. 5.17,
ABB Thm. 10.48): the nilpotent approximation, the metric tangent cone at p.

**Construction** (Bellaïche's algebraic one, in the form of Jean §2.1.2):

1. An adapted basis v_1, ..., v_n of R^n: values at p of brackets of the fields,
   v_j of length w_j, with v_1, ..., v_{n_k} spanning Δ^k_p; the linearly adapted
   coordinates are y = A^{−1}(x − p), A = [v_1 ⋯ v_n].
2. z_j = y_j − Σ_α c_α y^α, over the monomials in the y_i of ordinary degree ≥ 2
   and weighted degree Σ α_i w_i ≤ w_j − 1, with the c_α solving the linear
   system X_I z_j(p) = 0 for all words |I| ≤ w_j − 1.  Bellaïche's coordinates
   have this form, so the system is solvable; the solution is checked, not
   assumed.  Then ord z_j ≥ w_j, and ord z_j ≤ w_j because dz_j(p) = dy_j(p)
   takes the value 1 on v_j, a bracket of length w_j, i.e. a sum of words of
   length w_j.  y ↦ z is triangular with unit diagonal, so its inverse is a
   polynomial map as well.
3. The fields in z, and their parts of weighted degree w_k − 1.

Only Taylor terms of the X_i of ordinary degree ≤ s − 1 enter: X_I f(p) with
|I| ≤ s involves derivatives of the fields of order ≤ s − 1, and [X_i z_k]_{w_k − 1}
has ordinary degree ≤ w_k − 1 ≤ s − 1 while x − p has no constant term in z.  So
both routes replace the fields by their Taylor polynomials of order s − 1 at p
and then run the construction on polynomials: *exact* (SymPy differentiation,
exact arithmetic) for distributions built by ``from_sympy``, and *taylor* for any
autograd-traceable frame (the tensors D^kF(p), k ≤ s − 1, by nested
``autograd.jacobian``; float coefficients, rank decisions by the rank policy, and
coefficients below the round-off of the route dropped).  Both need SymPy (the
``symbolic`` extra).  The cost grows like n^(s−1) derivatives and r^s words, so
the routes are meant for small steps (s ≤ 4 is quick).
"""

from __future__ import annotations

import itertools
import math
import warnings

import autograd
import numpy as np
import numpy.typing as npt
import scipy.linalg

from subriemann.distributions.frame import Distribution
from subriemann.distributions.frobenius import roundoff_tolerance
from subriemann.distributions.symbolic import SymbolicFrame
from subriemann.errors import InputError, NumericalError, check_array
from subriemann.extras import import_optional
from subriemann.linalg import RankPolicy, numerical_rank

__all__ = ["nilpotent_approximation"]

#: How far above the round-off estimate a residual of the taylor route may be before the
#: construction is declared failed (the estimate ignores the conditioning of the order
#: conditions, which is small for the adapted bases chosen here).
RESIDUAL_MARGIN = 1e3


def _sympy():
    return import_optional("sympy", extra="symbolic", purpose="nilpotent approximations")


def nilpotent_approximation(
    dist: Distribution, p: npt.ArrayLike, *, route: str = "auto", max_step: int | None = None
) -> Distribution:
    """The nilpotent approximation of ``dist`` at p in privileged coordinates z (z = 0 at p).

    Implements Bellaïche's construction (module docstring): an adapted basis of
    brackets at p, privileged coordinates by the order conditions
    X_I z_j(p) = 0 (|I| < w_j), and X̂_i = Σ_k [X_i z_k]_{w_k−1} ∂_{z_k}.

    Parameters
    ----------
    dist : Distribution
        Bracket generating at p.
    p : array-like, shape=[dim]
    route : {"auto", "exact", "taylor"}
        "exact" (SymPy, for ``from_sympy`` distributions without free
        parameters), "taylor" (nested autograd derivatives of the frame, any
        traceable frame), "auto": exact when possible.
    max_step : int, optional
        The taylor route looks for the step up to here (default dim).

    Returns
    -------
    Distribution
        Built by ``from_sympy`` on polynomial fields in z1, ..., zn (exact
        numbers on the exact route, floats on the taylor route), base point 0.
        ``known`` records ``weights``, ``growth_vector`` (at p), ``point``,
        ``route``, ``taylor_order``, ``adapted_words`` (the bracket word of
        each v_j), ``adapted_basis`` (A), ``privileged_coordinates`` (z_j as
        expressions in the original coordinates; for frames without
        coordinates, in x1, ..., xn), ``coordinate_map`` (x as expressions in
        z) and ``lower_order_residual`` (the largest coefficient of weighted
        degree < w_k − 1 in X_i z_k: 0 in exact arithmetic).

    Raises
    ------
    InputError
        Bad point or route, free parameters (exact route), a frame autograd
        cannot trace (taylor route), or Δ not bracket generating at p (up to
        ``max_step``).
    NumericalError
        The order conditions could not be met to round-off (taylor route).
    """
    sp = _sympy()
    if not isinstance(dist, Distribution):
        raise InputError(f"dist must be a Distribution, got {type(dist).__name__}")
    p = np.asarray(check_array(p, "point p", shape=(dist.dim,)), dtype=np.float64)
    if route not in ("auto", "exact", "taylor"):
        raise InputError(f"route must be 'auto', 'exact' or 'taylor', got {route!r}")
    symbolic = _symbolic_frame(dist)
    if route == "exact" and symbolic is None:
        raise InputError("route='exact' needs a distribution built by Distribution.from_sympy")
    exact = route == "exact" or (route == "auto" and symbolic is not None)
    cap = dist.dim if max_step is None else max_step
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 1:
        raise InputError(f"max_step must be an integer >= 1, got {max_step!r}")
    n = dist.dim
    h = sp.symbols(f"h1:{n + 1}", real=True)
    if exact:
        coords, p_exact, fields = _exact_setting(sp, symbolic, p)
        at_p = {**symbolic.values, **dict(zip(coords, p_exact, strict=True))}
        growth = symbolic.growth_vector(max_step=max(cap, n), point=at_p)
        _require_generating(growth, p, cap)
        m = len(growth) - 1
        taylor = _exact_taylor(sp, fields, coords, p_exact, h, m)
        values = _bracket_values(taylor, h, len(growth), exact=True)
        basis = _adapted_basis_exact(sp, values)
        scale = None
    else:
        coords = sp.symbols(f"x1:{n + 1}", real=True)
        p_exact = [sp.Float(v) for v in p]
        taylor, values, basis, m, scale = _taylor_route(sp, dist, p, h, cap)
        growth = tuple(basis["ranks"])
    A, weights, words = basis["A"], basis["weights"], basis["words"]
    return _approximation(
        sp, dist, taylor, h, A, weights, words, coords, p_exact, growth, m, exact, scale, p
    )


def _symbolic_frame(dist):
    try:
        return dist.sympy_frame
    except InputError:
        return None


def _require_generating(growth, p, cap):
    if growth[-1] != len(p):
        raise InputError(
            f"the nilpotent approximation needs Δ bracket generating at p = {p.tolist()}; "
            f"the growth vector there is {tuple(growth)} (up to step {cap}; pass max_step "
            "to look further)"
        )


def _exact_setting(sp, symbolic, p):
    """Coordinates, the exact point (nsimplify) and the fields with parameter values substituted."""
    free = symbolic.free_parameters
    if free:
        raise InputError(
            f"the nilpotent approximation needs values for the free parameters "
            f"{[str(a) for a in free]}; use dist.with_parameters(...) first"
        )
    p_exact = [sp.nsimplify(float(v), rational=True) for v in p]
    # float parameter values (a = 1.0 in a fields file) as exact rationals: the route stays exact
    values = {a: sp.nsimplify(c, rational=True) for a, c in symbolic.values.items()}
    return symbolic.coordinates, p_exact, symbolic.matrix.subs(values)


def _exact_taylor(sp, fields, coords, p_exact, h, m):
    """Columns of the Taylor polynomial of order m of the fields at p, in h = x − p (exact)."""
    at_p = dict(zip(coords, p_exact, strict=True))
    n, r = fields.shape
    out = []
    for i in range(r):
        comps = []
        for ell in range(n):
            derivs = {(): fields[ell, i]}
            total = fields[ell, i].subs(at_p)
            for k in range(1, m + 1):
                for idx in itertools.combinations_with_replacement(range(n), k):
                    derivs[idx] = sp.diff(derivs[idx[:-1]], coords[idx[-1]])
                    total += _monomial_term(sp, derivs[idx].subs(at_p), idx, h)
            comps.append(sp.expand(total))
        out.append(sp.Matrix(comps))
    return out


def _monomial_term(sp, value, idx, h):
    """value · h^α / α! for the multi-index α counted by the sorted index tuple idx."""
    counts = [idx.count(j) for j in sorted(set(idx))]
    return value * sp.Mul(*[h[j] for j in idx]) / math.prod(math.factorial(c) for c in counts)


def _numeric_taylor(sp, dist, p, h, m, tensors):
    """Taylor polynomial of order m of the frame at p from D^kF(p) (nested autograd.jacobian)."""
    n = dist.dim
    while len(tensors) <= m:
        k = len(tensors)
        fn = tensors[-1][0]
        deriv = autograd.jacobian(fn)
        try:
            with warnings.catch_warnings():
                # constant components (polynomial frames) are expected, not a mistake
                warnings.filterwarnings("ignore", "Output seems independent of input")
                value = np.asarray(deriv(p), dtype=np.float64)
        except (TypeError, ValueError, AttributeError, NotImplementedError) as exc:
            raise InputError(
                "the taylor route of the nilpotent approximation differentiates the frame "
                f"{k} times by autograd, which needs an autograd-traceable frame "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if not np.all(np.isfinite(value)):
            raise NumericalError(f"derivative {k} of the frame at p is not finite")
        tensors.append((deriv, value))
    F0 = tensors[0][1]
    r = F0.shape[1]
    out = []
    for i in range(r):
        comps = []
        for ell in range(n):
            total = sp.Float(F0[ell, i])
            for k in range(1, m + 1):
                D = tensors[k][1]
                for idx in itertools.combinations_with_replacement(range(n), k):
                    value = float(D[(ell, i, *idx)])
                    if value != 0.0:
                        total += _monomial_term(sp, sp.Float(value), idx, h)
            comps.append(total)
        out.append(sp.Matrix(comps))
    return out


def _bracket_values(taylor, h, steps, exact):
    """[[(word, value at p)] for each step ≤ steps]: iterated brackets of the Taylor fields at p."""
    sp = _sympy()
    frame = SymbolicFrame(sp.Matrix.hstack(*taylor), h)
    zero = dict.fromkeys(h, 0)
    out = []
    for level in frame.levels(steps):
        if exact:
            out.append([(w, B.subs(zero)) for w, B in level])
        else:
            out.append([(w, np.array(B.subs(zero), dtype=np.float64).ravel()) for w, B in level])
    return out


def _adapted_basis_exact(sp, values):
    """Greedy exact choice of bracket values completing Δ^1_p, Δ^2_p, ... (first come, first kept)."""
    cols, weights, words, ranks = [], [], [], []
    for k, level in enumerate(values, start=1):
        for word, v in level:
            trial = sp.Matrix.hstack(*cols, v)
            if trial.rank(simplify=True) > len(cols):
                cols.append(v)
                weights.append(k)
                words.append(word)
        ranks.append(len(cols))
    return {"A": sp.Matrix.hstack(*cols), "weights": weights, "words": words, "ranks": ranks}


def _adapted_basis_numeric(values, n, policy):
    """Bracket values at p completing each Δ^k_p, chosen by column-pivoted QR, scaled to length 1.

    At step k the candidates' components orthogonal to Δ^{k−1}_p are ranked by
    the rank policy with the floor 100·eps·n times the candidates' size (their
    round-off); that many are kept, the ones pivoted QR puts first (largest
    new components), so A stays well conditioned.
    """
    Q = np.zeros((n, 0))
    cols, weights, words, ranks = [], [], [], []
    for k, level in enumerate(values, start=1):
        C = np.stack([v for _, v in level], axis=1) if level else np.zeros((n, 0))
        if C.shape[1] == 0 or len(cols) == n:
            ranks.append(len(cols))
            continue
        R = C - Q @ (Q.T @ C)
        s = np.linalg.svd(R, compute_uv=False)
        floor = roundoff_tolerance(n, 1.0) * float(np.max(np.linalg.norm(C, axis=0)))
        rank_policy = RankPolicy(rtol=policy.rtol, atol=max(policy.atol or 0.0, floor))
        new = numerical_rank(s, R.shape, rank_policy).rank
        if new:
            _, _, piv = scipy.linalg.qr(R, mode="economic", pivoting=True)
            for j in piv[:new]:
                cols.append(C[:, j] / np.linalg.norm(C[:, j]))
                weights.append(k)
                words.append(level[j][0])
            Q, _ = np.linalg.qr(np.stack(cols, axis=1))
        ranks.append(len(cols))
    return {"A": np.stack(cols, axis=1), "weights": weights, "words": words, "ranks": ranks}


def _taylor_route(sp, dist, p, h, cap):
    """Taylor fields of increasing order until the flag at p (exact up to step m + 1) settles."""
    tensors = [(dist.frame, np.asarray(dist.frame(p), dtype=np.float64))]
    for m in range(0, cap):
        taylor = _numeric_taylor(sp, dist, p, h, m, tensors)
        values = _bracket_values(taylor, h, m + 1, exact=False)
        basis = _adapted_basis_numeric(values, dist.dim, dist.rank_policy)
        if basis["ranks"][-1] == dist.dim:
            ranks = basis["ranks"]
            while len(ranks) > 1 and ranks[-1] == ranks[-2]:
                ranks.pop()
            scale = max(float(np.max(np.abs(t[1]))) for t in tensors)
            return taylor, values, basis, m, scale
    _require_generating(basis["ranks"], p, cap)
    raise AssertionError("unreachable")  # pragma: no cover


def _truncate(sp, expr, ys, degree):
    """The terms of a polynomial in ys of total degree ≤ degree."""
    poly = sp.Poly(sp.expand(expr), *ys)
    return sp.Add(
        *[
            c * sp.Mul(*[y**e for y, e in zip(ys, mon, strict=True)])
            for mon, c in poly.terms()
            if sum(mon) <= degree
        ]
    )


def _apply(sp, V, f, ys):
    """The vector field V (components in ys) applied to the function f: Σ_l V^l ∂f/∂y_l."""
    return sp.expand(sum(V[ell] * sp.diff(f, y) for ell, y in enumerate(ys)))


def _word_values(sp, fields, f, ys, depth):
    """[X_I f(0) for the words |I| = 1..depth, in a fixed order], the X_i given in ys."""
    zero = dict.fromkeys(ys, 0)
    out = []

    def walk(g, remaining):
        for V in fields:
            # V_I g(0) after `remaining − 1` more operators needs terms of degree ≤ remaining − 1
            vg = _truncate(sp, _apply(sp, V, g, ys), ys, remaining - 1)
            out.append(vg.subs(zero))
            if remaining > 1:
                walk(vg, remaining - 1)

    walk(f, depth)
    return out


def _privileged(sp, V, ys, weights, exact, tol):
    """Coefficients c_α of z_j = y_j − Σ c_α y^α meeting X_I z_j(0) = 0 for |I| < w_j.

    Returns ([(α, c_α) lists per j], largest residual).
    """
    n = len(ys)
    corrections, worst = [], 0.0
    for j in range(n):
        w = weights[j]
        lower = [i for i in range(n) if weights[i] < w]
        monomials = [
            alpha
            for d in range(2, w)
            for alpha in itertools.combinations_with_replacement(lower, d)
            if sum(weights[i] for i in alpha) <= w - 1
        ]
        if not monomials:
            corrections.append([])
            continue
        b = _word_values(sp, V, ys[j], ys, w - 1)
        M = [_word_values(sp, V, sp.Mul(*[ys[i] for i in alpha]), ys, w - 1) for alpha in monomials]
        if exact:
            Ms, bs = sp.Matrix(M).T, sp.Matrix(b)
            try:
                sol, tau = Ms.gauss_jordan_solve(bs)
            except ValueError as exc:
                raise NumericalError(
                    f"privileged coordinates: the order conditions for z_{j + 1} (weight {w}) "
                    "have no solution"
                ) from exc
            c = list(sol.subs(dict.fromkeys(tau, 0)))
        else:
            Mn = np.array(M, dtype=np.float64).T
            bn = np.array(b, dtype=np.float64)
            c, *_ = np.linalg.lstsq(Mn, bn, rcond=None)
            resid = float(np.max(np.abs(Mn @ c - bn))) if bn.size else 0.0
            worst = max(worst, resid)
            if resid > RESIDUAL_MARGIN * tol:
                raise NumericalError(
                    f"privileged coordinates: the order conditions for z_{j + 1} (weight {w}) "
                    f"are met only to {resid:.3e} (round-off estimate {tol:.3e})"
                )
            c = [sp.Float(float(v)) for v in c]
        corrections.append(list(zip(monomials, c, strict=True)))
    return corrections, worst


def _approximation(
    sp, dist, taylor, h, A, weights, words, coords, p_exact, growth, m, exact, scale, p
):
    n = dist.dim
    ys = sp.symbols(f"y1:{n + 1}", real=True, cls=sp.Dummy)
    zs = sp.symbols(f"z1:{n + 1}", real=True)
    if exact:
        A_s = A
        Ainv = A.inv()
        kappa, tol = 1.0, 0.0
    else:
        kappa = float(np.linalg.cond(A))
        tol = roundoff_tolerance(n, kappa) * scale
        A_s = sp.Matrix(A.tolist())
        # A is a basis change of R^n (unit columns chosen by pivoted QR, cond reported);
        # its inverse is part of the coordinate map y = A^{-1}(x − p), formed once
        Ainv = sp.Matrix(np.linalg.solve(A, np.eye(n)).tolist())
    hy = dict(zip(h, list(A_s * sp.Matrix(ys)), strict=True))
    V = [(Ainv * T.subs(hy, simultaneous=True)).applyfunc(sp.expand) for T in taylor]
    corrections, residual = _privileged(sp, V, ys, weights, exact, tol)
    z_of_y = [
        ys[j] - sum((c * sp.Mul(*[ys[i] for i in alpha]) for alpha, c in corr), sp.Integer(0))
        for j, corr in enumerate(corrections)
    ]
    # the triangular inverse y(z): y_j = z_j + Σ c_α y(z)^α, the y_i of lower weight known
    y_of_z = []
    for j, corr in enumerate(corrections):
        y_of_z.append(
            sp.expand(
                zs[j]
                + sum((c * sp.Mul(*[y_of_z[i] for i in alpha]) for alpha, c in corr), sp.Integer(0))
            )
        )
    at_z = dict(zip(ys, y_of_z, strict=True))
    hat, lower = [], 0.0
    for Vi in V:
        comps = []
        for k in range(n):
            g = sp.expand(_apply(sp, Vi, z_of_y[k], ys).subs(at_z, simultaneous=True))
            part, low = _weighted_part(sp, g, zs, weights, weights[k] - 1, exact, tol)
            lower = max(lower, low)
            comps.append(part)
        hat.append(comps)
    if not exact and lower > RESIDUAL_MARGIN * tol:
        raise NumericalError(
            f"the fields have terms of weighted degree below w_k − 1 of size {lower:.3e} in the "
            f"computed coordinates (round-off estimate {tol:.3e}): they are not privileged"
        )
    x = sp.Matrix(p_exact) + A_s * sp.Matrix(y_of_z)
    y_of_x = Ainv * (sp.Matrix(coords) - sp.Matrix(p_exact))
    at_x = dict(zip(ys, list(y_of_x), strict=True))
    z_of_x = tuple(sp.expand(zj.subs(at_x, simultaneous=True)) for zj in z_of_y)
    names = _names(dist)
    base = dist.name or "distribution"
    known = {
        "nilpotent_approximation_of": base,
        "point": p.tolist(),
        "weights": tuple(weights),
        "growth_vector": tuple(growth),
        "route": "exact" if exact else "taylor",
        "taylor_order": m,
        "adapted_words": tuple(words),
        "adapted_basis": A_s,
        "privileged_coordinates": z_of_x,
        "coordinate_map": tuple(sp.expand(e) for e in x),
        "lower_order_residual": float(lower),
        "privileged_residual": float(residual),
    }
    return Distribution.from_sympy(
        [list(c) for c in hat],
        zs,
        exact=True,
        names=names,
        name=f"nilpotent approximation of {base} at {p.tolist()}",
        known=known,
    )


def _weighted_part(sp, g, zs, weights, degree, exact, tol):
    """(part of weighted degree ``degree``, largest |coefficient| of lower weighted degree).

    On the taylor route coefficients at most ``tol`` (round-off) are dropped.
    """
    if g == 0:
        return sp.Integer(0), 0.0
    poly = sp.Poly(g, *zs)
    part, low = sp.Integer(0), 0.0
    for mon, c in poly.terms():
        wdeg = sum(w * e for w, e in zip(weights, mon, strict=True))
        if wdeg < degree:
            low = max(low, abs(float(c)))
            if exact:
                raise NumericalError(
                    "internal check failed: a term of weighted degree below w_k − 1 in exact "
                    "privileged coordinates"
                )
        elif wdeg == degree and (exact or abs(float(c)) > tol):
            part += c * sp.Mul(*[z**e for z, e in zip(zs, mon, strict=True)])
    return part, low


def _names(dist):
    frame = _symbolic_frame(dist)
    return None if frame is None else frame.names
