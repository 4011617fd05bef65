"""Generate docs/api.md, the API reference, from the package's docstrings.

Usage::

    python docs/gen_api.py           # rewrite docs/api.md
    python docs/gen_api.py --check   # exit 1 if docs/api.md is out of date

``tests/test_docs.py`` regenerates the text and compares it with the file, so
the reference cannot drift from the code: after changing a public docstring or
signature, run this script and commit docs/api.md with the change.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

API_MD = Path(__file__).resolve().with_name("api.md")

#: The layers in the order of docs/architecture.md (ground floor first).
LAYERS = [
    "subriemann.errors",
    "subriemann.linalg",
    "subriemann.integrate",
    "subriemann.maps",
    "subriemann.geometry",
    "subriemann.distributions",
    "subriemann.subriemannian",
    "subriemann.flows",
    "subriemann.diagnostics",
    "subriemann.report",
    "subriemann.cli",
]


def _modules():
    """Every module with public names, layer by layer: (name, first line of its docstring).

    Found by walking the folders, so a new module cannot be left out of the reference.
    """
    import pkgutil

    found = []
    for layer in LAYERS:
        package = importlib.import_module(layer)
        names = [layer]
        if hasattr(package, "__path__"):
            names = [f"{layer}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
            names = [n for n in sorted(names) if not n.rsplit(".", 1)[1].startswith("_")]
        for name in names:
            module = importlib.import_module(name)
            if getattr(module, "__all__", None):
                role = (module.__doc__ or "").strip().splitlines()[0].rstrip(".")
                found.append((name, role))
    return found


MODULES = _modules()

# Default values whose repr depends on the process (addresses) are normalised.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _signature(obj) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return _ADDRESS.sub("", text)


def _doc(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip()


def _summary(obj) -> str:
    doc = _doc(obj)
    return doc.split("\n\n", 1)[0].replace("\n", " ") if doc else ""


def _block(text: str) -> list[str]:
    """A docstring as an indented block (keeps numpydoc layout readable in Markdown)."""
    if not text:
        return ["*(no docstring)*", ""]
    return ["```text", *text.splitlines(), "```", ""]


def _own_members(cls):
    """Public methods and properties defined on ``cls`` itself (not inherited from bases outside)."""
    members = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in ("__call__",):
            continue
        if isinstance(value, property):
            members.append((name, value, "property"))
        elif isinstance(value, classmethod | staticmethod):
            members.append((name, value.__func__, "method"))
        elif inspect.isfunction(value):
            members.append((name, value, "method"))
    return members


def render() -> str:
    """The text of docs/api.md."""
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py` (do not edit by hand;",
        "`tests/test_docs.py` fails when this page is out of date). Equation numbers are",
        "the paper's; see [equations.md](equations.md) for the map from equations to code.",
        "",
        "Top-level names (`import subriemann as sr`; `sr.NAME`) are listed in their modules.",
        "",
        "## Modules",
        "",
    ]
    for module_name, role in MODULES:
        anchor = module_name.replace(".", "")
        lines.append(f"- [`{module_name}`](#{anchor}): {role}")
    lines.append("")
    for module_name, _ in MODULES:
        module = importlib.import_module(module_name)
        lines += [f"## {module_name}", ""]
        summary = _summary(module)
        if summary:
            lines += [summary, ""]
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            qual = f"{module_name}.{name}"
            if inspect.isclass(obj):
                bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
                sig = "(message)" if issubclass(obj, BaseException) else _signature(obj)
                lines += [f"### class `{qual}`" + (f"({bases})" if bases else ""), ""]
                lines += [f"```python\n{name}{sig}\n```", ""]
                lines += _block(_doc(obj))
                for member, value, kind in _own_members(obj):
                    if kind == "property":
                        lines.append(f"- `{member}` (property): {_summary(value)}")
                    else:
                        sig = _signature(value).replace("(self, ", "(").replace("(self)", "()")
                        lines.append(f"- `{member}{sig}`: {_summary(value)}")
                lines.append("")
            elif callable(obj):
                lines += [f"### `{qual}`", "", f"```python\n{name}{_signature(obj)}\n```", ""]
                lines += _block(_doc(obj))
            else:
                text = _ADDRESS.sub("", repr(obj))
                if len(text) > 300:
                    text = text[:300] + " ..."
                lines += [f"### `{qual}` (constant)", "", f"```python\n{name} = {text}\n```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = API_MD.read_text(encoding="utf-8") if API_MD.exists() else ""
        if current != text:
            print(f"{API_MD} is out of date: run `python docs/gen_api.py`", file=sys.stderr)
            return 1
        return 0
    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
