"""The lazily imported top-level names are visible to type checkers, each from its own module.

``subriemann/__init__.py`` loads the higher layers on first use (``_LAZY``, read by the
module ``__getattr__``) and imports the same names under ``if TYPE_CHECKING:`` so a user's
type checker sees ``sr.PullbackMetric`` as the class rather than ``Any``.  The two lists
are written separately; this test reads both from the source's syntax tree (nothing runs; a module is told from a name by its file)
and requires them to name the same objects from the same modules.  The same holds for the
module aliases (``_SUBMODULES``: ``sr.catalog``, ``sr.report``, ...), imported as modules.
"""

import ast
import pathlib

INIT = pathlib.Path(__file__).resolve().parents[1] / "subriemann" / "__init__.py"


def _lazy_table(tree: ast.Module, table: str = "_LAZY") -> dict[str, str]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == [table]
            and isinstance(node.value, ast.Dict)
        ):
            return {
                ast.literal_eval(k): ast.literal_eval(v)
                for k, v in zip(node.value.keys, node.value.values, strict=True)
            }
    raise AssertionError(f"no {table} table in subriemann/__init__.py")


def _is_module(parent: str, name: str) -> bool:
    """Whether ``parent.name`` is a module or package of the source tree (found as a file)."""
    path = INIT.parents[1].joinpath(*parent.split("."), name)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _type_checking_imports(tree: ast.Module, modules: bool = False) -> dict[str, str]:
    """{name: module defining it} of the ``from m import x as x`` under ``if TYPE_CHECKING:``
    whose x is not a module; with ``modules``, {x: "m.x"} of those whose x is a module."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            if node.test.id != "TYPE_CHECKING":
                continue
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    if _is_module(stmt.module, alias.name) != modules:
                        continue
                    # `x as x` marks an explicit re-export (PEP 484), else it is private
                    assert alias.asname == alias.name, f"{alias.name} is not re-exported"
                    found[alias.name] = f"{stmt.module}.{alias.name}" if modules else stmt.module
    return found


def test_every_lazy_name_is_imported_for_type_checkers_from_the_module_that_defines_it():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    assert _type_checking_imports(tree) == _lazy_table(tree)


def test_every_module_alias_is_imported_for_type_checkers_as_that_module():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    assert _type_checking_imports(tree, modules=True) == _lazy_table(tree, "_SUBMODULES")
