"""The public API is typed (PEP 561, ``subriemann/py.typed``), and the types are true.

Two claims, each checked independently of the package's own code:

* every public callable — a function or method whose name and module are public, plus
  ``__init__`` and ``__call__`` — annotates each parameter (``self``/``cls`` aside) and its
  return value; read from the source's syntax tree, so nothing the package imports can hide
  a gap;
* the annotations are consistent with the code behind them: mypy (configured in
  pyproject.toml, ``[tool.mypy]``) reports no error over the package. Without this check a
  hint could say ``np.ndarray`` where ``None`` comes back, and a user's type checker would
  trust it.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "subriemann"
LAYERS = sorted(
    ["."] + [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
)


def _is_public_module(path: pathlib.Path) -> bool:
    return not any(
        part.startswith("_") and part != "__init__.py" for part in path.relative_to(PACKAGE).parts
    )


def _unannotated(tree: ast.Module) -> list[str]:
    gaps: list[str] = []

    def visit(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, node.name)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("_") and node.name not in ("__init__", "__call__"):
                    continue
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                if owner is not None and arguments and arguments[0].arg in ("self", "cls"):
                    is_static = any(
                        isinstance(d, ast.Name) and d.id == "staticmethod"
                        for d in node.decorator_list
                    )
                    if not is_static:
                        arguments = arguments[1:]
                arguments += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
                missing = [a.arg for a in arguments if a.annotation is None]
                if node.returns is None and node.name != "__init__":
                    missing.append("return")
                if missing:
                    name = f"{owner}.{node.name}" if owner else node.name
                    gaps.append(f"{name}({', '.join(missing)})")

    visit(tree.body, None)
    return gaps


@pytest.mark.parametrize("layer", LAYERS)
def test_every_public_callable_of_the_layer_is_annotated(layer):
    folder = PACKAGE if layer == "." else PACKAGE / layer
    files = sorted(folder.glob("*.py"))
    gaps = {
        str(path.relative_to(PACKAGE.parent)): found
        for path in files
        if _is_public_module(path)
        and (found := _unannotated(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert not gaps, "public callables without complete type hints:\n" + "\n".join(
        f"  {path}: {', '.join(found)}" for path, found in gaps.items()
    )


def test_the_gap_finder_sees_a_missing_parameter_and_return_annotation():
    # the check above must be able to fail: a parameter and a return without hints are found,
    # private names and self are not counted
    tree = ast.parse(
        "def f(x: int, y): ...\n"
        "def g(x: int) -> int: ...\n"
        "def _private(z): ...\n"
        "class A:\n"
        "    def __init__(self, n): ...\n"
        "    def m(self) -> None: ...\n"
        "    @staticmethod\n"
        "    def s(self) -> None: ...\n"
    )
    assert _unannotated(tree) == ["f(y, return)", "A.__init__(n)", "A.s(self)"]


def test_mypy_finds_no_error_in_the_package(tmp_path):
    from mypy import api  # in the test extra

    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(PACKAGE.parent / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            str(PACKAGE),
        ]
    )
    assert status == 0, stdout + stderr
