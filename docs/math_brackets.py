"""Mathematical brackets are not Markdown links: a griffe extension and an mkdocs hook.

The docstrings write brackets as mathematicians do, ``[X, Y](p)`` (a Lie bracket at
the point p) and ``D[θ][u_i, u_j]`` (a Jacobian applied to a bracket).  Markdown reads
the first as a link to ``p`` and the second as a reference link with label ``u_i, u_j``,
so ``mkdocs build --strict`` fails and the page shows broken links.  This extension
rewrites, outside code spans and code blocks, the ``(`` or ``[`` that follows a ``]``
as an HTML entity, so the text renders exactly as written and is not a link; real links
(``[text](https://...)``, ``[text](page.md)``, ``[name][subriemann.module.name]``) are
kept.  mkdocs.yml loads it twice: as a griffe extension for the docstrings
(``extensions: [docs/math_brackets.py:MathBrackets]``) and as a hook for the pages
(``hooks: [docs/math_brackets.py]``, :func:`on_page_markdown`).
"""

from __future__ import annotations

import re

import griffe

# a "](" that starts a real link: a URL, an anchor or a file with an extension
_REAL_TARGET = re.compile(
    r"\]\((?:[a-z]+://|#|\.{0,2}/|[\w./-]+\.[a-z]{1,5}(?:#[\w.-]*)?\)|[\w./-]+/\))"
)
# a "][" that starts a real cross-reference: empty or a dotted Python path
_REAL_REFERENCE = re.compile(r"\]\[(?:[A-Za-z_][\w.]*)?\]")
_CODE_SPAN = re.compile(r"(``.*?``|`[^`]*`)", re.DOTALL)


def _escape_text(text: str) -> str:
    def fix(match):
        start = match.start()
        if _REAL_TARGET.match(text, start) or _REAL_REFERENCE.match(text, start):
            return match.group(0)
        return "]&#40;" if match.group(0) == "](" else "]&#91;"

    return re.sub(r"\]\(|\]\[", fix, text)


def escape_math_brackets(docstring: str) -> str:
    """The docstring with bracket-then-paren pairs made literal outside code.

    Code is left alone: fenced blocks, doctest lines, inline code spans, and indented
    blocks (lines indented by 4 or more spaces that start after a blank line, as
    Markdown reads them; the indented descriptions under a numpydoc parameter line do
    not follow a blank line and are text).
    """
    out, fenced, indented, previous = [], False, False, ""
    for line in docstring.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("```"):
            fenced = not fenced
        deep = line.startswith("    ") and bool(stripped)
        indented = deep and (indented or not previous.strip())
        previous = line
        if fenced or indented or stripped.startswith(("```", ">>>", "...")):
            out.append(line)
            continue
        parts = _CODE_SPAN.split(line)
        out.append("".join(p if i % 2 else _escape_text(p) for i, p in enumerate(parts)))
    return "\n".join(out)


class MathBrackets(griffe.Extension):
    """Escape mathematical brackets in every docstring griffe loads."""

    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape_math_brackets(obj.docstring.value)


def on_page_markdown(markdown, **kwargs):
    """mkdocs hook: the same escape for the pages' own text (tables write [X, Y](p))."""
    return escape_math_brackets(markdown)
