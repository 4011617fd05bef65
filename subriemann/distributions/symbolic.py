"""Distributions from SymPy vector fields: exact brackets, the exact Lie flag, LaTeX.

A :class:`SymbolicFrame` holds the frame as a SymPy Matrix (dim, r) in its
coordinates, optionally with symbolic *parameters* (symbols other than the
coordinates, e.g. the Martinet-like family X = ∂x + a y² ∂z, Y = ∂y);
:meth:`Distribution.from_sympy
<subriemann.distributions.frame.Distribution.from_sympy>` builds a distribution
from it, evaluating the frame (and, with ``exact=True``, its brackets) through
``lambdify`` to ``autograd.numpy`` so that numerics stay traceable.  Numerics
need a value for every parameter; symbolic results keep the parameters as
symbols (they hold for generic parameter values, and :meth:`SymbolicFrame.singular_set`
finds the values where they fail).

Brackets are [X, Y] = J(Y)X − J(X)Y with symbolic Jacobians (SymPy diffgeom's
``Commutator`` computes the same).  Iterated brackets are named by *words*: a
generator is its column index i, a bracket [A, B] is the pair (A, B), so
(0, (0, 1)) is [X_0, [X_0, X_1]].  The words of step k are the right-normed ones
(i_1, (i_2, ... (i_{k−1}, i_k))) with i_{k−1} < i_k: by the Jacobi identity they span
the brackets of length k (they are not a basis: Jacobi relations remain).

The Lie flag is Δ¹ = Δ, Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}] (not the derived flag
[Δ^k, Δ^k]), spanned by the iterated brackets of the *fields*, so it is right
where the frame's rank drops (Grushin X = ∂x, Y = x∂y at x = 0: (1, 2)).  The
growth vector follows the numeric convention
(:class:`~subriemann.distributions.growth.GrowthVector`: no trailing repeats,
and whether it is determined).  A reference to test the numerics against, not a
route for speed.  SymPy is the optional extra ``subriemann[symbolic]``.

(Why one module of ~710 lines: the fields, their iterated brackets, the exact flag, its
rank-drop locus and their LaTeX all work on the same words and canonical forms;
split, they would import each other's private helpers.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import autograd.numpy as anp
import numpy as np
from autograd.tracer import isbox

from subriemann.distributions.growth import GrowthVector
from subriemann.errors import InputError, ShapeError
from subriemann.extras import import_optional

if TYPE_CHECKING:  # for the hints only: SymPy is an optional extra, frame imports this module
    import sympy

    from subriemann.distributions.frame import Distribution

__all__ = [
    "SymbolicFrame",
    "RankDropLocus",
    "Word",
    "SymbolicFields",
    "ParameterSpec",
    "SymbolicPoint",
    "word_label",
    "latex_report",
]

#: The name of an iterated bracket: a generator is its column index i, a bracket [A, B]
#: the pair (A, B) of the words of A and B, so (0, (0, 1)) is [X_0, [X_0, X_1]].
Word: TypeAlias = int | tuple["Word", "Word"]
# (the three below are strings: SymPy, an optional extra, is not imported to define them)
#: The ``vector_fields`` of a :class:`SymbolicFrame`: a SymPy Matrix (dim, r), or r fields of
#: dim expressions each.
SymbolicFields: TypeAlias = "sympy.MatrixBase | Iterable[Iterable[sympy.Expr | float]]"
#: The ``parameters`` of a :class:`SymbolicFrame`: symbols (or their names) declared free, or a
#: mapping {symbol or name: value or None}.
ParameterSpec: TypeAlias = "Iterable[sympy.Symbol | str] | Mapping[sympy.Symbol, sympy.Expr | float | None] | Mapping[str, sympy.Expr | float | None]"
#: A point for :meth:`SymbolicFrame.growth_vector`: a substitution {symbol or name: value}, or
#: values in coordinate order.
SymbolicPoint: TypeAlias = "Mapping[sympy.Symbol, sympy.Expr | float] | Mapping[str, sympy.Expr | float] | Iterable[sympy.Expr | float]"


def _sympy():
    return import_optional("sympy", extra="symbolic", purpose="symbolic distributions")


# Names SymPy's printer emits that autograd.numpy spells differently (or lacks):
# all must stay traceable, so nothing may fall back to the math module.
_SYMPY_TO_AUTOGRAD = {
    "atan": anp.arctan,
    "asin": anp.arcsin,
    "acos": anp.arccos,
    "atan2": anp.arctan2,
    "asinh": anp.arcsinh,
    "acosh": anp.arccosh,
    "atanh": anp.arctanh,
    "sign": anp.sign,
    "pi": np.pi,
    "E": np.e,
}


def _lambdify_array(sp, coords, nested):
    """p ↦ float array from nested lists of expressions, traceable by autograd."""
    fn = sp.lambdify(coords, nested, modules=[_SYMPY_TO_AUTOGRAD, anp])

    def evaluate(p):
        out = anp.array(fn(*[p[i] for i in range(len(coords))]))
        return out if isbox(out) else np.asarray(out, dtype=np.float64)

    return evaluate


def _bracket(X, Y, coords):
    """[X, Y] = J(Y)X − J(X)Y for SymPy column matrices."""
    return Y.jacobian(coords) * X - X.jacobian(coords) * Y


def _tidy(expr):
    """A canonical form: cancel() for rational functions (exact, fast), simplify() otherwise."""
    sp = _sympy()
    expr = sp.sympify(expr)
    return sp.cancel(expr) if expr.is_rational_function() else sp.simplify(expr)


def _rank(A) -> int:
    """Exact rank of a SymPy matrix over the field of rational functions of its symbols.

    Polynomial and rational entries go through ``DomainMatrix`` (exact arithmetic
    in QQ(x, y, ...)); other entries (EX domain, whose zero test misses identities
    such as sin² + cos² − 1) are simplified first and ranked with ``simplify=True``.
    """
    sp = _sympy()
    from sympy.polys.matrices import DomainMatrix

    if A.shape[0] == 0 or A.shape[1] == 0:
        return 0
    dm = DomainMatrix.from_Matrix(A)
    if not dm.domain.is_EX:
        return int(dm.to_field().rank())
    return int(sp.Matrix(A.applyfunc(sp.simplify)).rank(simplify=True))


def word_label(word: Word, names: Sequence[str]) -> str:
    """The bracket a word stands for, e.g. (0, (0, 1)) ↦ "[X, [X, Y]]" for names ("X", "Y")."""
    if isinstance(word, tuple):
        return f"[{word_label(word[0], names)}, {word_label(word[1], names)}]"
    return str(names[word])


@dataclass(frozen=True, kw_only=True)
class RankDropLocus:
    """Where the step-k space of the Lie flag has less than its generic rank.

    rank Δ^k_p < n_k (the generic rank over rational functions) exactly where all
    n_k × n_k minors of the matrix of the brackets of length ≤ k vanish.

    Attributes
    ----------
    step : int
        k.
    generic_rank : int
        n_k.
    equations : tuple of sympy Expr
        The locus is where all vanish: the minors' reduced Gröbner basis when
        they are polynomials, else the distinct minors up to constant factors;
        (1,) when the locus is empty.
    solutions : list of dict or None
        ``sympy.solve`` of the equations for the coordinates and parameters
        they contain ([] if the locus is empty), or None if SymPy could not
        solve them (``message`` says why).
    message : str
    """

    step: int
    generic_rank: int
    equations: tuple
    solutions: list | None
    message: str = ""


#: Above this many minors the rank-drop equations are not formed (their number grows
#: like C(dim, n)·C(columns, n)); the locus is reported as unsolved instead.
MAX_MINORS = 5000


class SymbolicFrame:
    """A frame of SymPy vector fields in given coordinates, with optional parameters, checked.

    Parameters
    ----------
    vector_fields : sympy Matrix (dim, r), or sequence of r fields
        Each field a sequence (or column Matrix) of dim SymPy expressions in
        ``coordinates`` and ``parameters``.
    coordinates : sequence of sympy Symbols, length dim
    parameters : None, sequence or mapping, optional
        Symbols (or their names) other than the coordinates that the fields
        may contain: a sequence declares them free; a mapping {symbol or name:
        value or None} also gives values (None: free).  A name is matched to
        the symbol of that name in the fields.
    names : sequence of str, optional
        Names of the fields (default X1, ..., Xr), for labels and LaTeX.

    Attributes
    ----------
    coordinates : tuple of sympy Symbols
    parameters : tuple of sympy Symbols
        Declared parameters, in declaration order.
    values : dict
        {parameter symbol: sympy number} for the parameters that have values.
    matrix : sympy Matrix, shape (dim, r)
        Column i is the field X_i, parameters kept as symbols.
    names : tuple of str

    Raises
    ------
    MissingExtraError
        SymPy is missing (optional extra ``subriemann[symbolic]``).
    InputError
        Wrong lengths, symbols that are neither coordinates nor declared
        parameters, non-finite parameter values.
    """

    def __init__(
        self,
        vector_fields: SymbolicFields,
        coordinates: Iterable[sympy.Symbol],
        parameters: ParameterSpec | None = None,
        *,
        names: Iterable[str] | None = None,
    ) -> None:
        sp = _sympy()
        coords = tuple(coordinates)
        if not coords or not all(isinstance(c, sp.Symbol) for c in coords):
            raise InputError("coordinates must be a non-empty sequence of sympy Symbols")
        dim = len(coords)
        if isinstance(vector_fields, sp.MatrixBase) and vector_fields.shape[0] == dim:
            M = sp.Matrix(vector_fields)
        else:
            fields = list(vector_fields)
            if not fields:
                raise InputError("vector_fields is empty; expected at least one field")
            cols = []
            for n, fld in enumerate(fields):
                entries = list(fld)
                if len(entries) != dim:
                    raise ShapeError(
                        f"vector field {n} has {len(entries)} components; expected dim = {dim}"
                    )
                cols.append([sp.sympify(e) for e in entries])
            M = sp.Matrix(cols).T
        symbols = set().union(*(sp.sympify(e).free_symbols for e in M))
        params, values = _declared_parameters(sp, parameters, symbols, coords)
        extra = symbols - set(coords) - set(params)
        if extra:
            raise InputError(
                f"the vector fields contain symbols {sorted(map(str, extra))} that are not "
                f"coordinates {list(map(str, coords))} nor declared parameters "
                f"{list(map(str, params))}; declare them with parameters=[...] (or substitute numbers)"
            )
        r = M.shape[1]
        names = tuple(f"X{i + 1}" for i in range(r)) if names is None else tuple(map(str, names))
        if len(names) != r or len(set(names)) != r:
            raise InputError(f"names must be {r} distinct field names, got {list(names)}")
        self.coordinates, self.parameters, self.values = coords, params, values
        self.matrix, self.names = M, names

    @property
    def dim(self) -> int:
        return len(self.coordinates)

    @property
    def free_parameters(self) -> tuple:
        """The declared parameters without a value (numerics refuse to run while any is left)."""
        return tuple(a for a in self.parameters if a not in self.values)

    def with_values(self, values: Mapping) -> SymbolicFrame:
        """The same fields with (more) parameter values: {symbol or name: number or None}."""
        by_name = {str(a): a for a in self.parameters}
        new = dict(self.values)
        for key, value in values.items():
            symbol = by_name.get(str(key))
            if symbol is None:
                raise InputError(
                    f"unknown parameter {str(key)!r}; the declared parameters are {list(by_name)}"
                )
            new.pop(symbol, None)
            if value is not None:
                new[symbol] = _parameter_value(_sympy(), symbol, value)
        return SymbolicFrame(
            self.matrix,
            self.coordinates,
            {a: new.get(a) for a in self.parameters},
            names=self.names,
        )

    def _columns(self):
        return [self.matrix[:, i] for i in range(self.matrix.shape[1])]

    def _valued(self, what):
        """The matrix with the parameter values substituted, or an InputError naming free ones."""
        free = self.free_parameters
        if free:
            hint = ", ".join(f"{a}=..." for a in free)
            raise InputError(
                f"{what} needs values for the free parameters {[str(a) for a in free]}; "
                f"give them with dist.with_parameters({hint})"
            )
        return self.matrix.subs(self.values)

    def numeric_frame(self) -> Callable[[np.ndarray], np.ndarray]:
        """p ↦ F(p), shape ``(dim, r)``, by lambdify to ``autograd.numpy`` (traceable).

        With free parameters the returned function raises InputError naming them.
        """
        if self.free_parameters:
            return self._refusing("evaluating the frame")
        return _lambdify_array(_sympy(), self.coordinates, self._valued("the frame").tolist())

    def numeric_frame_jacobian(self) -> Callable[[np.ndarray], np.ndarray]:
        """p ↦ J(p), shape ``(dim, r, dim)``, J[j, i, k] = ∂F_ji/∂p_k: the exact Jacobian, lambdified.

        SymPy differentiates the fields (parameter values substituted, as for
        :meth:`numeric_frame`); the lambdified function is what
        :meth:`Distribution.frame_jacobian
        <subriemann.distributions.frame.Distribution.frame_jacobian>` returns on
        the "symbolic" route (∂H/∂q of the normal geodesics, ABB Thm 4.20).  It is
        built on the first call, so a distribution that never needs it pays
        nothing.  With free parameters it raises InputError naming them.
        """
        if self.free_parameters:
            return self._refusing("evaluating the frame jacobian")
        built: list[Callable[[np.ndarray], np.ndarray]] = []

        def jacobian(p: np.ndarray) -> np.ndarray:
            if not built:
                sp, coords = _sympy(), self.coordinates
                M = self._valued("the frame jacobian")
                nested = [
                    [[sp.diff(M[j, i], x) for x in coords] for i in range(M.shape[1])]
                    for j in range(M.shape[0])
                ]
                built.append(_lambdify_array(sp, coords, nested))
            return np.asarray(built[0](p), dtype=np.float64)

        return jacobian

    def _refusing(self, what):
        def refuse(p):
            self._valued(what)

        return refuse

    def exact_brackets(self) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """p ↦ (brackets, terms), each ``(r, r, dim)``: [X_i, X_j](p) and J(X_j)X_i, symbolically.

        Implements the brackets of (2.31) exactly: brackets[i, j] = terms[i, j] −
        terms[j, i], lambdified; the terms size the round-off of the Frobenius test.
        """
        if self.free_parameters:
            return self._refusing("evaluating the brackets")
        sp, coords, M = _sympy(), self.coordinates, self._valued("the brackets")
        r = M.shape[1]
        J = [M[:, j].jacobian(coords) for j in range(r)]
        terms = [[list(J[j] * M[:, i]) for j in range(r)] for i in range(r)]
        brs = [
            [list(sp.Matrix(terms[i][j]) - sp.Matrix(terms[j][i])) for j in range(r)]
            for i in range(r)
        ]
        b_fn = _lambdify_array(sp, coords, brs)
        t_fn = _lambdify_array(sp, coords, terms)

        def brackets(p):
            return np.asarray(b_fn(p), dtype=np.float64), np.asarray(t_fn(p), dtype=np.float64)

        return brackets

    # -- iterated brackets and the Lie flag ---------------------------------------------
    def levels(self, max_step: int) -> list[list[tuple[Word, sympy.Matrix]]]:
        """The words of each step with their brackets: [[(word, Matrix), ...] for k = 1..max_step].

        Step 1 holds the fields (words 0, ..., r−1), step 2 the (i, j) with i < j,
        step k the right-normed words (i, w) for w of step k − 1 (module
        docstring).  Brackets are in canonical form (:func:`_tidy`); words whose
        bracket vanishes identically are kept at their step but not bracketed
        further ([X, 0] = 0), which keeps the count down without losing any
        direction.
        """
        return list(itertools.islice(self._iter_levels(), max_step))

    def _iter_levels(self, prune=True):
        """Levels of (word, bracket) pairs; ``prune=False`` keeps the words of vanishing
        brackets' descendants too (as zeros, not computed)."""
        coords, first = self.coordinates, self._columns()
        r = len(first)
        level = [(i, first[i]) for i in range(r)]
        yield level
        level = [
            ((i, j), _bracket(first[i], first[j], coords).applyfunc(_tidy))
            for i in range(r)
            for j in range(i + 1, r)
        ]
        while True:
            yield level
            level = [
                ((i, w), B if B.is_zero_matrix else _bracket(first[i], B, coords).applyfunc(_tidy))
                for i in range(r)
                for w, B in level
                if not (prune and B.is_zero_matrix)
            ]

    def brackets(self, step: int = 2) -> dict[Word, sympy.Matrix]:
        """{word: bracket as a SymPy column Matrix} for all words of steps 2..step.

        Implements the iterated brackets of the Lie flag; step 2 gives
        {(i, j): [X_i, X_j]} for i < j (the brackets of (2.31)), step 3 adds
        (i, (j, k)) = [X_i, [X_j, X_k]], and so on (module docstring for the words);
        every right-normed word is present, vanishing brackets included.
        """
        step = _step(step, "step", minimum=2)
        levels = itertools.islice(self._iter_levels(prune=False), step)
        return {w: B for k, level in enumerate(levels) if k for w, B in level}

    def _generic_ranks(self, max_step):
        """Generic ranks n_k (over rational functions), the levels used, and why the flag ends.

        One stall ends the generic flag: if the brackets of length k are
        K-combinations (K the rational functions) of shorter ones, so are those of
        length k + 1, since [X_i, Σ f_j W_j] = Σ X_i(f_j) W_j + f_j [X_i, W_j].
        Without a stall the rank grows every step, so dim steps always settle it.
        """
        sp, dim = _sympy(), self.dim
        cap = dim if max_step is None else max_step
        levels, ranks, cols = [], [], []
        for k, level in enumerate(itertools.islice(self._iter_levels(), cap), start=1):
            levels.append(level)
            cols += [B for _, B in level]
            ranks.append(_rank(sp.Matrix.hstack(*cols)))
            if ranks[-1] == dim:
                return ranks, levels, "reached dim"
            if k > 1 and ranks[-1] == ranks[-2]:
                return ranks, levels, "stabilised"
            if k > 1 and all(B.is_zero_matrix for _, B in levels[-1]):
                return ranks, levels, "stabilised"
        return ranks, levels, f"truncated at max_step={cap}"

    def growth_vector(
        self,
        max_step: int | None = None,
        point: SymbolicPoint | None = None,
    ) -> GrowthVector:
        """Exact growth vector of the Lie flag: generic (over rational functions) or at ``point``.

        The ranks of Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}], spanned by the iterated brackets
        of the fields (so correct where the frame's rank drops), as a
        :class:`~subriemann.distributions.growth.GrowthVector` with the numeric
        side's convention: no trailing repeats (an integrable Δ gives (rank Δ,)).

        Generic: the ranks over the field of rational functions in the
        coordinates and the parameters; one stall ends the flag ("stabilised",
        proof in :meth:`_generic_ranks`), so it is always determined unless
        ``max_step`` cuts it.  At a point: exact ranks of the substituted
        brackets; the flag is determined when it reaches dim or the generic
        final rank ("stabilised": a rank at a point never exceeds the generic
        rank, every minor vanishing identically vanishes at p); a pointwise stall
        below it may be followed by growth (Martinet on x = 0: (2, 2, 3)), so
        the flag goes on to ``max_step`` (default dim) and says "truncated" if
        still short.

        Parameters
        ----------
        max_step : int, optional
        point : dict or sequence, optional
            Substitution {symbol: value} (coordinates and/or parameters) or values
            in coordinate order; exact values (integers, Rationals) give exact
            ranks, floats are made exact by ``nsimplify(rational=True)``.

        Raises
        ------
        InputError
            Bad ``max_step`` or point, or a point where the fields have a pole.
        """
        dim = self.dim
        if max_step is not None:
            max_step = _step(max_step, "max_step", minimum=1)
        if point is None:
            ranks, _, reason = self._generic_ranks(max_step)
            return GrowthVector(
                ranks, dim=dim, determined=not reason.startswith("truncated"), reason=reason
            )
        sp = _sympy()
        subs = self._substitution(point)
        # parameter values make another family member: its generic rank bounds the point's
        values = {a: v for a, v in subs.items() if a in self.parameters}
        frame = self._specialised(values) if values else self
        target = frame._generic_ranks(None)[0][-1]
        cap = dim if max_step is None else max_step
        ranks, cols, reason = [], [], f"truncated at max_step={cap}"
        for level in itertools.islice(frame._iter_levels(), cap):
            cols += [_at_point(B, subs, self.coordinates) for _, B in level]
            ranks.append(_rank(sp.Matrix.hstack(*cols)))
            if ranks[-1] == dim:
                reason = "reached dim"
                break
            if ranks[-1] == target:
                reason = "stabilised"
                break
        return GrowthVector(
            ranks, dim=dim, determined=not reason.startswith("truncated"), reason=reason
        )

    def _specialised(self, values) -> SymbolicFrame:
        """The family member with these parameters substituted (they are no longer parameters)."""
        rest = {a: self.values.get(a) for a in self.parameters if a not in values}
        return SymbolicFrame(self.matrix.subs(values), self.coordinates, rest, names=self.names)

    def _substitution(self, point) -> dict:
        sp = _sympy()
        if isinstance(point, Mapping):
            known = {str(s): s for s in (*self.coordinates, *self.parameters)}
            subs = {}
            for key, value in point.items():
                if str(key) not in known:
                    raise InputError(
                        f"point: unknown symbol {str(key)!r}; expected coordinates or "
                        f"parameters {list(known)}"
                    )
                subs[known[str(key)]] = value
        else:
            values = list(point)
            if len(values) != self.dim:
                raise ShapeError(f"point has {len(values)} values; expected dim = {self.dim}")
            subs = dict(zip(self.coordinates, values, strict=True))
        return {k: sp.nsimplify(v, rational=True) for k, v in subs.items()}

    def singular_set(self, max_step: int | None = None) -> tuple[RankDropLocus, ...]:
        """Where each step of the Lie flag has less than its generic rank, solved by SymPy.

        With (n_1, ..., n_s) the generic growth vector (:meth:`growth_vector`) and
        n_k = n_s for k > s, the locus rank Δ^k_p < n_k is the common zero set of
        the n_k × n_k minors of the brackets of length ≤ k.  Reported: its
        equations (the distinct minors up to constant factors) and, where
        ``sympy.solve`` manages, its solutions for the coordinates and parameters
        they contain (the points, and the parameter values, where the rank
        drops).  Martinet-like X = ∂x + a y²∂z, Y = ∂y: step 2 drops on y = 0 and
        for a = 0, step 3 only for a = 0.

        Parameters
        ----------
        max_step : int, optional
            Last step examined; default max(dim, s).

        Returns
        -------
        tuple of RankDropLocus
            One per step 1..max_step.
        """
        sp = _sympy()
        generic = self.growth_vector()
        if max_step is None:
            max_step = max(self.dim, len(generic))
        max_step = _step(max_step, "max_step", minimum=1)
        out, cols = [], []
        for k, level in enumerate(itertools.islice(self._iter_levels(), max_step), start=1):
            cols += [B for _, B in level if not B.is_zero_matrix]
            n = generic[min(k, len(generic)) - 1]
            out.append(_rank_drop(sp, k, n, sp.Matrix.hstack(*cols)))
        return tuple(out)


def _declared_parameters(sp, parameters, symbols, coords):
    """(parameters, values) from the ``parameters`` argument; names match symbols of the fields."""
    if parameters is None:
        return (), {}
    items = (
        list(parameters.items())
        if isinstance(parameters, Mapping)
        else [(a, None) for a in parameters]
    )
    by_name = {str(s): s for s in symbols}
    coord_names = {str(c) for c in coords}
    params, values = [], {}
    for key, value in items:
        if isinstance(key, sp.Symbol):
            symbol = key
        elif isinstance(key, str) and key.isidentifier():
            symbol = by_name.get(key, sp.Symbol(key))
        else:
            raise InputError(f"parameters: expected sympy Symbols or names, got {key!r}")
        if str(symbol) in coord_names:
            raise InputError(f"parameters: {str(symbol)!r} is a coordinate, not a parameter")
        if symbol in params:
            raise InputError(f"parameters: {str(symbol)!r} is declared twice")
        params.append(symbol)
        if value is not None:
            values[symbol] = _parameter_value(sp, symbol, value)
    return tuple(params), values


def _parameter_value(sp, symbol, value):
    """A finite real parameter value as a SymPy number (ints stay exact)."""
    try:
        number = sp.sympify(value)
        finite = number.is_number and number.is_real and number.is_finite
    except (sp.SympifyError, TypeError):
        finite = False
    if not finite:
        raise InputError(f"parameter {str(symbol)!r}: expected a finite real number, got {value!r}")
    return number


def _at_point(B, subs, coords):
    """B with the point substituted; InputError if a coordinate lands on a pole of the fields."""
    sp = _sympy()
    V = B.subs(subs)
    if any(e.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for e in V):
        raise InputError(
            f"the fields are not defined at the point {subs} (a pole); expected a point "
            f"where every entry is finite"
        )
    return V


def _rank_drop(sp, step, n, A) -> RankDropLocus:
    """The locus rank A < n (A's n × n minors all vanish), as equations and solutions."""
    rows, cols = A.shape
    count = math.comb(rows, n) * math.comb(cols, n)
    if count > MAX_MINORS:
        return RankDropLocus(
            step=step,
            generic_rank=n,
            equations=(),
            solutions=None,
            message=f"not formed: {count} minors of size {n} (more than MAX_MINORS={MAX_MINORS})",
        )
    keys: dict[sympy.Expr, None] = {}  # the distinct minors, in order of discovery
    for r_idx in itertools.combinations(range(rows), n):
        for c_idx in itertools.combinations(range(cols), n):
            minor = sp.factor(A.extract(list(r_idx), list(c_idx)).det(method="berkowitz"))
            if minor == 0:
                continue
            _, key = sp.factor_terms(minor).as_coeff_Mul()
            keys.setdefault(sp.factor(key), None)
    equations = tuple(sorted(keys, key=sp.default_sort_key))
    unknowns = sorted(set().union(*(e.free_symbols for e in equations)), key=str)
    if unknowns and all(e.is_polynomial(*unknowns) for e in equations):
        # the reduced Gröbner basis: the same locus without redundant equations
        equations = tuple(sp.groebner(list(equations), *unknowns, order="lex").exprs)
    if any(e.is_number for e in equations):  # a nonzero constant minor: the unit ideal
        return RankDropLocus(
            step=step, generic_rank=n, equations=(sp.Integer(1),), solutions=[], message="empty"
        )
    try:
        solutions = sp.solve(list(equations), unknowns, dict=True)
    except (NotImplementedError, ValueError) as exc:
        return RankDropLocus(
            step=step,
            generic_rank=n,
            equations=equations,
            solutions=None,
            message=f"sympy.solve failed: {exc}",
        )
    return RankDropLocus(step=step, generic_rank=n, equations=equations, solutions=solutions)


def _step(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# -- LaTeX for teaching ---------------------------------------------------------------
def _field_latex(sp, column, coords) -> str:
    """Σ c_i ∂/∂x_i in LaTeX, the zero components left out, signs pulled to the front."""
    terms = []
    for c, x in zip(column, coords, strict=True):
        if c == 0:
            continue
        d = rf"\frac{{\partial}}{{\partial {sp.latex(x)}}}"
        sign, c = ("-", -c) if c.could_extract_minus_sign() else ("+", c)
        if c == 1:
            body = d
        elif isinstance(c, sp.Add):
            body = rf"\left({sp.latex(c)}\right) {d}"
        else:
            body = f"{sp.latex(c)} {d}"
        terms.append((sign, body))
    if not terms:
        return "0"
    first_sign, first = terms[0]
    text = ("- " if first_sign == "-" else "") + first
    return text + "".join(f" {sign} {body}" for sign, body in terms[1:])


def latex_report(source: Distribution | SymbolicFrame, step: int | None = None) -> dict:
    """The fields, their iterated brackets and the Lie flag as LaTeX strings (``sympy.latex``).

    Parameters
    ----------
    source : Distribution built by ``from_sympy``, or SymbolicFrame
    step : int, optional
        Brackets of steps 2..step; default: the length of the generic growth
        vector (at least 2).

    Returns
    -------
    dict
        ``coordinates`` (str), ``parameters`` ({name: "a" or "a = 1"}), ``fields``
        ({name: "X = ..."}), ``brackets`` ({label such as "[X, Y]": "[X, Y] = ..."}),
        ``growth_vector`` (the generic one, e.g. "(2, 3)"), ``flag`` (the Lie flag
        with its ranks), ``singular`` (one string per step whose rank drops
        somewhere, with its equations).
    """
    sp = _sympy()
    frame = getattr(source, "sympy_frame", source)
    if not isinstance(frame, SymbolicFrame):
        raise InputError(
            f"latex_report needs a Distribution built by from_sympy or a SymbolicFrame, got "
            f"{type(source).__name__}"
        )
    growth = frame.growth_vector()
    step = max(2, len(growth)) if step is None else _step(step, "step", minimum=2)
    names = [sp.latex(sp.Symbol(n)) for n in frame.names]
    fields = {
        n: f"{tex} = {_field_latex(sp, col, frame.coordinates)}"
        for n, tex, col in zip(frame.names, names, frame._columns(), strict=True)
    }
    brackets = {}
    for word, B in frame.brackets(step).items():
        label = word_label(word, frame.names)
        brackets[label] = f"{word_label(word, names)} = {_field_latex(sp, B, frame.coordinates)}"
    flag = r" \subset ".join(rf"\Delta^{{{k}}}\ ({n})" for k, n in enumerate(growth, start=1))
    singular = []
    for locus in frame.singular_set():
        if locus.solutions == [] or not locus.equations:
            continue
        eqs = r",\ ".join(f"{sp.latex(e)} = 0" for e in locus.equations)
        singular.append(
            rf"\operatorname{{rank}} \Delta^{{{locus.step}}} < {locus.generic_rank} \iff {eqs}"
        )
    params = {
        str(a): (
            f"{sp.latex(a)} = {sp.latex(frame.values[a])}" if a in frame.values else sp.latex(a)
        )
        for a in frame.parameters
    }
    return {
        "coordinates": ", ".join(sp.latex(x) for x in frame.coordinates),
        "parameters": params,
        "fields": fields,
        "brackets": brackets,
        "growth_vector": str(tuple(growth)),
        "flag": flag,
        "singular": singular,
    }
