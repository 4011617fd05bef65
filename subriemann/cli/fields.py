"""A user's own distribution from a TOML file of SymPy expressions (``--fields FILE.toml``).

The file::

    name = "martinet"                 # optional
    coordinates = ["x", "y", "z"]
    base_point = [0.0, 0.5, 0.0]      # optional, default the origin
    [parameters]                      # optional: symbols other than the coordinates
    a = 1.0
    [fields]                          # one entry per field, dim expressions each
    X = ["1", "0", "a*y**2/2"]
    Y = ["0", "1", "0"]

Expressions are SymPy syntax (``**`` or ``^`` for powers) in the declared
coordinates and parameters, numbers, ``pi``, ``E`` and the smooth functions of
:data:`FUNCTIONS`.  They are checked on Python's syntax tree before SymPy sees
them: only arithmetic, numbers, declared names and calls of those functions
pass, so a file cannot run code (``sympy.parse_expr`` alone evaluates its input)
and an unknown name is reported, not turned into a new symbol.  Every problem
raises :class:`~subriemann.cli.config.ConfigError` (an ``InputError``) naming
the file, the key and what was expected; the CLI prints it on one line and
exits 2.
"""

from __future__ import annotations

import ast
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from subriemann.cli.config import ConfigError
from subriemann.extras import import_optional
from subriemann.report.files import read_text

if TYPE_CHECKING:
    import sympy

    from subriemann.distributions.frame import Distribution

__all__ = ["FUNCTIONS", "load_fields", "parse_expression"]

#: The functions an expression may call (all smooth where defined, all traceable by autograd).
FUNCTIONS = (
    "sin",
    "cos",
    "tan",
    "exp",
    "log",
    "sqrt",
    "sinh",
    "cosh",
    "tanh",
    "asin",
    "acos",
    "atan",
    "atan2",
    "asinh",
    "acosh",
    "atanh",
)
_CONSTANTS = ("pi", "E")
_TOP_KEYS = ("name", "coordinates", "base_point", "parameters", "fields")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.BitXor, ast.USub, ast.UAdd)


def _sympy():
    return import_optional("sympy", extra="symbolic", purpose="fields files (--fields)")


def _check_tree(node, names, where):
    """Allow arithmetic on numbers, declared names and calls of FUNCTIONS; nothing else."""
    if isinstance(node, ast.Expression):
        return _check_tree(node.body, names, where)
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        if not isinstance(node.op, _OPERATORS):
            raise ConfigError(
                f"{where}: operator {type(node.op).__name__} is not allowed; expected + - * / ** ^"
            )
        for child in (node.left, node.right) if isinstance(node, ast.BinOp) else (node.operand,):
            _check_tree(child, names, where)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ConfigError(f"{where}: {node.value!r} is not a number")
        return
    if isinstance(node, ast.Name):
        if node.id not in names and node.id not in _CONSTANTS:
            raise ConfigError(
                f"{where}: unknown name {node.id!r}; expected the coordinates or parameters "
                f"{sorted(names)}, pi, E or a function of {list(FUNCTIONS)}"
            )
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS or node.keywords:
            label = func.id if isinstance(func, ast.Name) else ast.unparse(func)
            raise ConfigError(
                f"{where}: unknown function {label!r}; expected one of {list(FUNCTIONS)}"
            )
        for arg in node.args:
            _check_tree(arg, names, where)
        return
    raise ConfigError(
        f"{where}: {ast.unparse(node)!r} is not allowed; expected arithmetic on numbers, "
        "coordinates, parameters and functions"
    )


def parse_expression(
    text: str | float, symbols: Mapping[str, sympy.Symbol], where: str
) -> sympy.Expr:
    """A SymPy expression from ``text`` in the given symbols {name: Symbol}, checked first.

    Parameters
    ----------
    text : str or int or float
    symbols : dict
        The names allowed besides ``pi``, ``E`` and :data:`FUNCTIONS`.
    where : str
        Names the file and key in messages.

    Raises
    ------
    ConfigError
        Not a string/number, a syntax error, or a name, function or construct
        that is not allowed.
    """
    sp = _sympy()
    from sympy.parsing.sympy_parser import auto_number, convert_xor, parse_expr

    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ConfigError(f"{where}: expected an expression as a string, got {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ConfigError(f"{where}: expected a finite number, got {text!r}")
        return sp.sympify(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: cannot parse {text!r}: {exc.msg}") from exc
    _check_tree(tree, symbols, where)
    namespace = {name: getattr(sp, name) for name in (*FUNCTIONS, *_CONSTANTS)}
    namespace.update(Integer=sp.Integer, Float=sp.Float, Rational=sp.Rational)
    try:
        return parse_expr(
            text,
            local_dict=dict(symbols),
            global_dict=namespace,
            transformations=(auto_number, convert_xor),
        )
    except (SyntaxError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"{where}: cannot parse {text!r}: {exc}") from exc


def _names_list(raw, key, where):
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: '{key}' must be a non-empty list of names, got {raw!r}")
    for name in raw:
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or name in (*FUNCTIONS, *_CONSTANTS)
        ):
            raise ConfigError(
                f"{where}: '{key}': {name!r} is not a valid name (an identifier other than "
                "pi, E and the function names)"
            )
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{where}: '{key}' has repeated names: {raw}")
    return raw


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def load_fields(path: str | os.PathLike[str], *, exact: bool = True) -> Distribution:
    """The :class:`~subriemann.distributions.frame.Distribution` of a fields file (module docstring).

    Built by ``Distribution.from_sympy`` (``exact`` brackets by default), with
    the file's parameters declared and given their values, the fields named
    by their keys, ``name`` and ``base_point``; ``known["fields_file"]`` is the path.

    Raises
    ------
    ConfigError
        Missing or unreadable file, not UTF-8, not TOML, unknown or missing
        keys, wrong types or lengths, unparseable expressions or unknown
        names; the message names the file and the key.
    """
    sp = _sympy()
    from subriemann.distributions.frame import Distribution

    path = Path(path)
    text = read_text(path, "fields file", "a TOML file of vector fields", error=ConfigError)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; expected keys {list(_TOP_KEYS)}")
    for key in ("coordinates", "fields"):
        if key not in raw:
            raise ConfigError(f"{path}: missing key '{key}'")
    coords = _names_list(raw["coordinates"], "coordinates", path)
    dim = len(coords)
    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: [parameters] must be a table of name = number, got {params!r}")
    if params:
        _names_list(list(params), "parameters", path)
    clash = sorted(set(params) & set(coords))
    if clash:
        raise ConfigError(f"{path}: parameters {clash} are also coordinates")
    values = {name: _number(v, f"{path}: parameters.{name}") for name, v in params.items()}
    symbols = {name: sp.Symbol(name, real=True) for name in (*coords, *params)}
    fields = raw["fields"]
    if not isinstance(fields, dict) or not fields:
        raise ConfigError(
            f"{path}: [fields] must be a non-empty table of name = [{dim} expressions], got "
            f"{fields!r}"
        )
    columns = []
    for name, entries in fields.items():
        where = f"{path}: fields.{name}"
        if not isinstance(entries, list) or len(entries) != dim:
            raise ConfigError(
                f"{where}: expected a list of {dim} expressions (one per coordinate {coords}), "
                f"got {entries!r}"
            )
        columns.append(
            [parse_expression(e, symbols, f"{where}[{i}]") for i, e in enumerate(entries)]
        )
    options = {"name": raw.get("name", path.stem), "known": {"fields_file": str(path)}}
    if not isinstance(options["name"], str):
        raise ConfigError(f"{path}: 'name' must be a string, got {options['name']!r}")
    if "base_point" in raw:
        point = raw["base_point"]
        if not isinstance(point, list) or len(point) != dim:
            raise ConfigError(
                f"{path}: 'base_point' must be a list of {dim} numbers, got {point!r}"
            )
        options["base_point"] = [_number(v, f"{path}: base_point") for v in point]
    return Distribution.from_sympy(
        columns,
        [symbols[c] for c in coords],
        exact=exact,
        parameters={symbols[a]: values[a] for a in params},
        names=list(fields),
        **options,
    )
