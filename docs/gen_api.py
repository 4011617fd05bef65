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

#: Modules in the order of the package's layers (ARCHITECTURE.md), with a one-line role.
MODULES = [
    ("subriemann.maps.smooth", "smooth maps f : R^K → R^n with derivatives"),
    ("subriemann.maps.data", "training data of §1.1"),
    ("subriemann.maps.network", "the network as a smooth map θ ↦ x[θ]"),
    ("subriemann.flows.cost", "the L² cost (1.7)"),
    ("subriemann.linalg", "rank policy, stable solves and projectors"),
    ("subriemann.geometry.spaces", "parameter and output spaces"),
    ("subriemann.geometry.metrics", "output metrics and the pullback metric g"),
    ("subriemann.geometry.bundles", "the pullback bundle V with metric h"),
    ("subriemann.flows.fields", "standard, adapted and output flows"),
    ("subriemann.integrate", "the ODE core: steppers, controllers, events, solution"),
    ("subriemann.flows.orbits", "integrating the flows into trajectories"),
    ("subriemann.flows.theory", "closed forms: cost law, stopping time"),
    ("subriemann.distributions.frame", "distributions, brackets, Frobenius tests"),
    ("subriemann.distributions.catalog", "classic distributions with known answers"),
    ("subriemann.diagnostics.landscape", "trapping, equilibria, critical manifolds, escape"),
    ("subriemann.diagnostics.surveys", "rank and integrability surveys"),
    ("subriemann.report.records", "records and figures"),
    ("subriemann.cli.command", "the subriemann command"),
    ("subriemann.errors", "the package's exceptions and input checks"),
]

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
