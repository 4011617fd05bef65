"""Sphinx's docstring conventions on the site: roles as code or links, ``#:`` comments as docs.

The docstrings are numpydoc and write cross-references as Sphinx does,
``:class:`~subriemann.errors.InputError```, ``:meth:`SmoothMap.ntk <subriemann.maps.smooth.SmoothMap.ntk>```
or ``:func:`.statistics.column_structure```.  mkdocstrings does not read Sphinx roles, so the
site showed them raw (``:class:`` followed by the code).  This extension rewrites each role,
outside fenced code, with Sphinx's meaning of the text:

* the shown text is the title before ``<target>``, else the target, shortened to its last
  component by a leading ``~`` (a leading ``.`` is dropped);
* a fully qualified target ``subriemann.…`` that names an object the API pages render —
  loaded by griffe, defined there (not only an alias), with a docstring, and not a folder's
  package — becomes an autorefs link ``[`shown`][target]``;
* anything else (a relative target, a name of another library) becomes the code span
  ``shown``: never a link that could not resolve (``mkdocs build --strict`` counts those).

Module constants and type aliases are documented Sphinx's way, by ``#:`` comment lines just
above the assignment (``OutputMetricLike``, ``VectorField``, ``ROUTES``, ...); griffe reads
no comments, so they had no docstring and the site left them out.  The extension makes those
lines the attribute's docstring.

mkdocs.yml loads it beside docs/math_brackets.py (``extensions:`` of the python handler).
"""

from __future__ import annotations

import functools
import pathlib
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj|const):`([^`]+)`")
_TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.DOTALL)


def _shown_and_target(text: str) -> tuple[str, str]:
    titled = _TITLED.match(text)
    if titled:
        return " ".join(titled.group(1).split()), titled.group(2).strip()
    target = text.lstrip("~").lstrip(".")
    shown = target.rsplit(".", 1)[-1] if text.startswith("~") else target
    return shown, target


def rewrite_roles(docstring: str, resolves) -> str:
    """The docstring with every Sphinx role replaced by a link (``resolves(target)``) or code."""

    def replace(match: re.Match) -> str:
        shown, target = _shown_and_target(match.group(1))
        return f"[`{shown}`][{target}]" if resolves(target) else f"`{shown}`"

    # a role may wrap over lines; fenced code (```) is left as it is
    parts = re.split(r"(^\s*```.*?^\s*```[^\n]*$)", docstring, flags=re.DOTALL | re.MULTILINE)
    return "".join(p if i % 2 else _ROLE.sub(replace, p) for i, p in enumerate(parts))


@functools.cache
def _source_lines(path: str) -> list[str]:
    return pathlib.Path(path).read_text(encoding="utf-8").split("\n")


def comment_docstring(lines: list[str], lineno: int) -> str | None:
    """The ``#:`` comment lines right above line ``lineno`` (1-based) as one text, or None."""
    found: list[str] = []
    row = lineno - 2
    while row >= 0 and lines[row].lstrip().startswith("#:"):
        found.insert(0, lines[row].lstrip()[2:].strip())
        row -= 1
    return "\n".join(found) if found else None


class SphinxRoles(griffe.Extension):
    """``#:`` comments as attribute docstrings; then, the package loaded, rewrite the roles."""

    def on_attribute_instance(self, *, attr, **kwargs) -> None:
        if attr.docstring is None and attr.lineno is not None:
            text = comment_docstring(_source_lines(str(attr.filepath)), attr.lineno)
            if text is not None:
                attr.docstring = griffe.Docstring(text, lineno=attr.lineno - 1, parent=attr)

    def on_package(self, *, pkg, **kwargs) -> None:
        def resolves(target: str) -> bool:
            head, _, rest = target.partition(".")
            if head != pkg.name or not rest:
                return target == pkg.name
            try:
                found = pkg[rest]
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                return False
            if any(part.startswith("_") for part in rest.split(".")):
                return False
            if found.is_alias or found.path != target or found.docstring is None:
                return False  # rendered only with a docstring (show_if_no_docstring: false)
            # the API pages render modules, not the folders' packages
            return not (found.is_module and found.is_init_module)

        def visit(obj) -> None:
            if obj.docstring is not None:
                obj.docstring.value = rewrite_roles(obj.docstring.value, resolves)
            for member in obj.members.values():
                if not member.is_alias:
                    visit(member)

        visit(pkg)
