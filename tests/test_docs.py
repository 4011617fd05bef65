"""The docs stay true to the code: API reference in sync, equation table complete and resolvable."""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

import subriemann as sr
from subriemann.cli import command as cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "subriemann"
EQUATIONS = DOCS / "equations.md"

CONCEPT_PAGES = [
    "index.md",
    "getting-started.md",
    "smooth-map.md",
    "pullback-bundle.md",
    "pullback-metric.md",
    "flows.md",
    "distributions.md",
    "integrators.md",
    "cli.md",
    "equations.md",
    "api.md",
    "architecture.md",
    "holonomy.md",
    "sub-riemannian.md",
    "scale.md",
]
README_COMMANDS = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/subriemann demo",
    'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest',
]
RESULT = re.compile(r"^(Theorem|Proposition|Lemma|Remark|Corollary|§)")


def _load_gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", DOCS / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_rows(text):
    """Cells of every Markdown table body row (escaped pipes stay inside cells)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(cells)
    return [r for r in rows if r and r[0] not in ("result", "equation", "page", "table", "file")]


def _equation_numbers(text):
    """Equation numbers in text, with ranges (a.b)–(a.c) expanded."""
    found = set()
    for a, b, c, d in re.findall(r"\((\d)\.(\d+)\)(?:\s*[–-]\s*\((\d)\.(\d+)\))?", text):
        found.add(f"({a}.{b})")
        if c and c == a:
            found.update(f"({a}.{k})" for k in range(int(b), int(d) + 1))
    return found


def _implements_citations():
    """{citation: [files]} for every "Implements ..." sentence in the package source."""
    cites: dict = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"Implements\b", text):
            rest = text[m.end() : m.end() + 400]
            end = re.search(r"\.(?=\s|$|\")", rest)
            sentence = rest[: end.start()] if end else rest
            refs = _equation_numbers(sentence)
            for kind, number in re.findall(
                r"(Theorem|Lemma|Proposition|Prop\.|Remark|Corollary)\s*(\d\.\d+)", sentence
            ):
                kind = "Proposition" if kind == "Prop." else kind
                refs.add(f"{kind} {number}")
            for ref in refs:
                cites.setdefault(ref, []).append(path.name)
    return cites


def _resolve(dotted):
    """`module.attr.attr` relative to the subriemann package."""
    parts = dotted.split(".")
    obj = getattr(sr, parts[0])  # sr.<module> also resolves the names from before the layers
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


@pytest.fixture(scope="module")
def equation_rows():
    return _table_rows(EQUATIONS.read_text(encoding="utf-8"))


# -- pages ---------------------------------------------------------------------------------
def test_every_page_exists():
    missing = [p for p in CONCEPT_PAGES if not (DOCS / p).exists()]
    assert not missing, f"missing docs pages: {missing}"


def test_api_reference_is_in_sync_with_the_docstrings():
    text = _load_gen_api().render()
    current = (DOCS / "api.md").read_text(encoding="utf-8")
    assert current == text, "docs/api.md is out of date: run `python docs/gen_api.py`"


def test_api_reference_covers_every_public_name():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    for module_name, _ in _load_gen_api().MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert f"`{module_name}.{name}`" in text, f"{module_name}.{name} missing from api.md"


def test_relative_links_resolve():
    pages = [*DOCS.rglob("*.md"), ROOT / "README.md"]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        text = re.sub(r"`[^`]*`", "", text)  # code, not links (e.g. [U, W](p) in formulas)
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target) or not re.search(r"[./]", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, f"broken links: {broken}"


def test_readme_keeps_the_quick_start_commands_and_points_to_the_docs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in README_COMMANDS:
        assert command in text
    assert "docs/index.md" in text and "subriemann --help" in text


def test_cli_page_documents_every_config_key():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for table, keys in cli.SCHEMA.items():
        for key in keys:
            assert f"`{key}`" in text, f"config key {table}.{key} is not documented in docs/cli.md"
        if table:
            assert f"`[{table}]`" in text


# -- the equation table ----------------------------------------------------------------------
def test_every_function_named_in_the_equation_table_exists(equation_rows):
    names = {n for row in equation_rows for n in re.findall(r"`([a-z_]+(?:\.\w+)+)`", row[2])}
    assert len(names) > 40
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"equations.md names functions that do not exist: {missing}"


def test_every_test_named_in_the_equation_table_exists(equation_rows):
    refs = {r for row in equation_rows for r in re.findall(r"`(tests/\w+\.py)::(\w+)`", row[3])}
    assert len(refs) > 40
    missing = []
    for path, name in sorted(refs):
        file = ROOT / path
        if not file.exists() or not re.search(rf"^def {name}\(", file.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert not missing, f"equations.md names tests that do not exist: {missing}"


def test_every_theorem_is_mapped_to_a_test(equation_rows):
    results = [row for row in equation_rows if RESULT.match(row[0])]
    for label in (
        "Theorem 2.1",
        "Theorem 2.3",
        "Theorem 4.1",
        "Theorem 4.2",
        "Theorem 5.1",
        "Proposition 2.2",
        "Proposition 2.4",
        "Proposition 3.1",
        "Lemma 3.2",
        "Remark 5.2",
        "Proposition 5.3",
        "Remark 5.4",
        "§6",
    ):
        assert any(row[0] == label for row in results), f"{label} is missing from equations.md"
    for row in results:
        assert "tests/" in row[3], f"{row[0]} has no test in equations.md"


def test_every_implements_citation_appears_in_the_equation_table(equation_rows):
    documented = set()
    for row in equation_rows:
        documented |= _equation_numbers(row[0])
        documented.add(row[0])
    cites = _implements_citations()
    assert len(cites) > 30  # the scan found the package's citations
    gaps = {c: files for c, files in cites.items() if c not in documented}
    assert not gaps, f"cited in docstrings but missing from docs/equations.md: {gaps}"


def test_citation_scanner_reads_ranges_and_theorems():
    assert _equation_numbers("Implements (4.15)–(4.17) and (2.30)") == {
        "(4.15)",
        "(4.16)",
        "(4.17)",
        "(2.30)",
    }
    assert _equation_numbers("(1.14)/(2.6)") == {"(1.14)", "(2.6)"}


def test_readme_python_example_computes_grad_h_and_grad_g():
    """The README's example runs, and its results satisfy (1.28) and g·grad_g = ∇ (5.16)."""
    import numpy as np

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, flags=re.DOTALL).group(1)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102  (our own documentation)
    f, g, cost = ns["f"], ns["g"], ns["cost"]
    theta, phi = ns["theta"], ns["phi"]
    np.testing.assert_allclose(
        f.jacobian(theta) @ ns["grad_h"], cost.grad(f(theta)), rtol=1e-9, atol=1e-12
    )
    D = g.jacobian(phi)
    np.testing.assert_allclose(
        D.T @ (D @ ns["grad_g"]), g.vjp(phi, cost.grad(g(phi))), rtol=1e-9, atol=1e-12
    )
