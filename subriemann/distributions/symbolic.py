"""Distributions from SymPy vector fields: exact brackets and exact growth vectors.

A :class:`SymbolicFrame` holds the frame as a SymPy Matrix (dim, r) in its
coordinates; :meth:`Distribution.from_sympy
<subriemann.distributions.frame.Distribution.from_sympy>` builds a distribution
from it, evaluating the frame (and, with ``exact=True``, its brackets) through
``lambdify`` to ``autograd.numpy`` so that numerics stay traceable.  Brackets are
[X, Y] = J(Y)X − J(X)Y with symbolic Jacobians (SymPy diffgeom's ``Commutator``
computes the same): a reference to test the numerics against, not a route for
speed.  SymPy is the optional extra ``subriemann[symbolic]``.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.tracer import isbox

from subriemann.errors import InputError, ShapeError

__all__ = ["SymbolicFrame", "import_sympy"]


def import_sympy():
    """The ``sympy`` module, or an ImportError naming the optional extra that provides it."""
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - exercised only without sympy
        raise ImportError(
            "SymPy is needed for symbolic distributions; install the optional extra: "
            "pip install 'subriemann[symbolic]'"
        ) from exc
    return sympy


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


class SymbolicFrame:
    """A frame of SymPy vector fields in given coordinates, checked.

    Parameters
    ----------
    vector_fields : sympy Matrix (dim, r), or sequence of r fields
        Each field a sequence (or column Matrix) of dim SymPy expressions in
        ``coordinates``.
    coordinates : sequence of sympy Symbols, length dim

    Attributes
    ----------
    coordinates : tuple of sympy Symbols
    matrix : sympy Matrix, shape (dim, r)
        Column i is the field X_i.

    Raises
    ------
    ImportError
        SymPy is missing (optional extra ``subriemann[symbolic]``).
    InputError
        Wrong lengths, or expressions with symbols that are not coordinates.
    """

    def __init__(self, vector_fields, coordinates):
        sp = import_sympy()
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
        extra = set().union(*(sp.sympify(e).free_symbols for e in M)) - set(coords)
        if extra:
            raise InputError(
                f"the vector fields contain symbols {sorted(map(str, extra))} that are not "
                f"coordinates {list(map(str, coords))}; substitute numbers for parameters first"
            )
        self.coordinates, self.matrix = coords, M

    @property
    def dim(self) -> int:
        return len(self.coordinates)

    def _columns(self):
        return [self.matrix[:, i] for i in range(self.matrix.shape[1])]

    def numeric_frame(self):
        """p ↦ F(p), shape ``(dim, r)``, by lambdify to ``autograd.numpy`` (traceable)."""
        return _lambdify_array(import_sympy(), self.coordinates, self.matrix.tolist())

    def exact_brackets(self):
        """p ↦ (brackets, terms), each ``(r, r, dim)``: [X_i, X_j](p) and J(X_j)X_i, symbolically.

        Implements the brackets of (2.31) exactly: brackets[i, j] = terms[i, j] −
        terms[j, i], lambdified; the terms size the round-off of the Frobenius test.
        """
        sp, coords, M = import_sympy(), self.coordinates, self.matrix
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

    def brackets(self) -> dict:
        """{(i, j): [X_i, X_j] as a SymPy column Matrix} for i < j, by symbolic Jacobians.

        Implements the brackets of (2.31) symbolically.
        """
        sp = import_sympy()
        cols = self._columns()
        return {
            (i, j): sp.simplify(_bracket(cols[i], cols[j], self.coordinates))
            for i in range(len(cols))
            for j in range(i + 1, len(cols))
        }

    def growth_vector(self, max_step=None, point=None) -> tuple:
        """Exact growth vector by SymPy: generic (over rational functions) or at ``point``.

        The ranks of Δ^k = Δ^{k−1} + [Δ, Δ^{k−1}], spanned by right-normed brackets.

        Parameters
        ----------
        max_step : int, optional
            Default dim.
        point : dict or sequence, optional
            Substitution {symbol: value} or values in coordinate order; exact
            values (integers, Rationals) give exact ranks.
        """
        sp, coords = import_sympy(), self.coordinates
        max_step = self.dim if max_step is None else int(max_step)
        subs = None
        if point is not None:
            subs = point if isinstance(point, dict) else dict(zip(coords, point, strict=True))
            subs = {k: sp.nsimplify(v) for k, v in subs.items()}

        def rank(cols):
            A = sp.Matrix.hstack(*cols)
            if subs is not None:
                A = A.subs(subs)
            return A.rank(simplify=True)

        first = self._columns()
        allcols = list(first)
        ranks = [rank(allcols)]
        level = [
            _bracket(first[i], first[j], coords)
            for i in range(len(first))
            for j in range(i + 1, len(first))
        ]
        for step in range(2, max_step + 1):
            if ranks[-1] == self.dim:
                break
            allcols += level
            ranks.append(rank(allcols))
            if step < max_step:
                level = [_bracket(X, Y, coords) for X in first for Y in level]
        return tuple(ranks)
