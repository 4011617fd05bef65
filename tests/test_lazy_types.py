"""The lazily imported top-level names are visible to type checkers, each from its own module.

``subriemann/__init__.py`` loads the higher layers on first use (``_LAZY``, read by the
module ``__getattr__``) and imports the same names under ``if TYPE_CHECKING:`` so a user's
type checker sees ``sr.PullbackMetric`` as the class rather than ``Any``.  The two lists
are written separately; this test reads both from the source's syntax tree (nothing runs)
and requires them to name the same objects from the same modules.
"""

import ast
import pathlib

INIT = pathlib.Path(__file__).resolve().parents[1] / "subriemann" / "__init__.py"


def _lazy_table(tree: ast.Module) -> dict[str, str]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["_LAZY"]
            and isinstance(node.value, ast.Dict)
        ):
            return {
                ast.literal_eval(k): ast.literal_eval(v)
                for k, v in zip(node.value.keys, node.value.values, strict=True)
            }
    raise AssertionError("no _LAZY table in subriemann/__init__.py")


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            if node.test.id != "TYPE_CHECKING":
                continue
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    # `x as x` marks an explicit re-export (PEP 484), else it is private
                    assert alias.asname == alias.name, f"{alias.name} is not re-exported"
                    found[alias.name] = stmt.module
    return found


def test_every_lazy_name_is_imported_for_type_checkers_from_the_module_that_defines_it():
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    assert _type_checking_imports(tree) == _lazy_table(tree)
