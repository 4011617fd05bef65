"""The docs stay true to the code: the site builds strictly, every block runs, outputs are generated.

Conventions for fenced blocks in docs/ (and README.md):

* ```` ```python ```` — runnable, exactly as written.  A page's Python blocks run in order
  as ONE script (later blocks may use names from earlier ones), in a fresh interpreter,
  as ``__main__``, from an empty temporary folder: a block that starts a process pool
  must therefore use ``if __name__ == "__main__":`` as a user's script must.  Error line
  numbers are the page's own.  The generated tutorial pages (docs/tutorials/*.md) are
  not run here: their sources docs/tutorials/*.py are, by the tutorial tests.
* ```` ```python title="PyTorch" ```` — runnable with the optional torch extra; not run here
  but by tests/test_torch_map.py (``.ci/run`` installs torch for it).
* ```` ```text ```` — output or plain text, never run.  When the line before it is
  ``<!-- output: NAME -->`` it is written by ``python docs/gen_outputs.py`` and checked
  against a fresh run (up to round-off-level numbers, see gen_outputs.comparable).
* ```` ```bash ```` / ```` ```sh ```` — shell commands, not run here (the README's two
  set-up commands are checked literally).

Regenerate tutorial pages, figures and sample outputs with ``python docs/gen_outputs.py``.
"""

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import subriemann as sr
from subriemann.cli import command as cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "subriemann"
EQUATIONS = DOCS / "equations.md"
API = DOCS / "api"
TUTORIALS = DOCS / "tutorials"
#: the layers of docs/architecture.md, ground floor first; docs/api/ has a page for each
LAYERS = [
    "subriemann.errors",
    "subriemann.linalg",
    "subriemann.extras",
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

CONCEPT_PAGES = [
    "index.md",
    "getting-started.md",
    "your-model.md",
    "smooth-map.md",
    "pullback-bundle.md",
    "pullback-metric.md",
    "flows.md",
    "distributions.md",
    "integrators.md",
    "cli.md",
    "equations.md",
    "api/index.md",
    "tutorials/index.md",
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


def _load_gen_outputs():
    spec = importlib.util.spec_from_file_location("gen_outputs", DOCS / "gen_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _public_modules():
    """Every module with a non-empty ``__all__``, layer by layer (folders walked, so none is missed)."""
    found = []
    for layer in LAYERS:
        package = importlib.import_module(layer)
        names = [layer]
        if hasattr(package, "__path__"):
            names = [
                f"{layer}.{m.name}"
                for m in pkgutil.iter_modules(package.__path__)
                if not m.name.startswith("_")
            ]
        found += [n for n in sorted(names) if getattr(importlib.import_module(n), "__all__", None)]
    return found


def _api_targets():
    """{module: page} of every ``::: module`` directive under docs/api/."""
    targets = {}
    for page in sorted(API.glob("*.md")):
        for name in re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.MULTILINE):
            targets[name] = page.name
    return targets


def _python_blocks(text):
    """[(first line number, code)] of the ```python blocks of a page."""
    return [
        (text.count("\n", 0, m.start(1)) + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    ]


def _pages_with_python_blocks():
    pages = [*DOCS.rglob("*.md")]
    pages = [p for p in pages if TUTORIALS not in p.parents]  # generated; sources run below
    return sorted(str(p.relative_to(DOCS)) for p in pages if _python_blocks(p.read_text("utf-8")))


def _as_script(text):
    """The page's Python blocks as one script whose line numbers are the page's."""
    lines = [""] * (text.count("\n") + 1)
    for start, code in _python_blocks(text):
        for k, line in enumerate(code.splitlines()):
            lines[start + k - 1] = line
    return "\n".join(lines) + "\n"


def _run_script(path, cwd, timeout=240):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


def test_every_public_module_is_on_an_api_page():
    targets = _api_targets()
    missing = [m for m in _public_modules() if m not in targets]
    assert not missing, (
        f"modules with public names missing from docs/api/*.md (add `::: name`): {missing}"
    )


def test_every_api_directive_names_an_existing_module():
    gone = []
    for name, page in _api_targets().items():
        try:
            importlib.import_module(name)
        except ImportError:
            gone.append(f"{page}: {name}")
    assert not gone, f"docs/api pages document modules that do not exist: {gone}"


def test_site_builds_strictly(tmp_path):
    """`mkdocs build --strict` (no network needed: MathJax is loaded by the reader's browser)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        # not -q: quiet mode drops the WARNING lines that --strict counts, and the build passes
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert (tmp_path / "site" / "api" / "flows" / "index.html").exists()
    html = (tmp_path / "site" / "api" / "flows" / "index.html").read_text(encoding="utf-8")
    assert "AdaptedFlow" in html  # mkdocstrings rendered the docstrings
    # Sphinx roles (:class:`...`) are rewritten by docs/sphinx_roles.py, never shown raw
    for page in (tmp_path / "site" / "api").glob("*/index.html"):
        raw = re.findall(r":(?:class|meth|func|mod|attr|data):<code>", page.read_text("utf-8"))
        assert not raw, f"{page.parent.name}: {len(raw)} raw Sphinx roles"
    # type aliases documented by `#:` comments are on the site (docs/sphinx_roles.py)
    geometry = (tmp_path / "site" / "api" / "geometry" / "index.html").read_text("utf-8")
    assert 'id="subriemann.geometry.metrics.OutputMetricLike"' in geometry
    assert (tmp_path / "site" / "tutorials" / "heisenberg" / "index.html").exists()


@pytest.mark.parametrize("page", _pages_with_python_blocks())
def test_every_python_block_runs_as_written(page, tmp_path):
    text = (DOCS / page).read_text(encoding="utf-8")
    script = tmp_path / "page.py"
    script.write_text(_as_script(text), encoding="utf-8")
    done = _run_script(script, tmp_path)
    assert done.returncode == 0, (
        f"a ```python block of docs/{page} fails (line numbers are the page's):\n"
        f"{done.stderr[-3000:]}"
    )


def test_sphinx_roles_become_links_where_they_resolve_and_code_elsewhere():
    sys.path.insert(0, str(DOCS))
    try:
        from sphinx_roles import comment_docstring, rewrite_roles
    finally:
        sys.path.remove(str(DOCS))
    known = {"subriemann.errors.InputError", "subriemann.maps.smooth.SmoothMap.ntk"}
    text = (
        "raises :class:`~subriemann.errors.InputError`; see :meth:`SmoothMap.ntk\n"
        "<subriemann.maps.smooth.SmoothMap.ntk>`, :func:`.statistics.column_structure` and "
        ":mod:`scipy.integrate`.\n```\n:class:`kept` in code\n```\n"
    )
    assert rewrite_roles(text, known.__contains__) == (
        "raises [`InputError`][subriemann.errors.InputError]; see "
        "[`SmoothMap.ntk`][subriemann.maps.smooth.SmoothMap.ntk], "
        "`statistics.column_structure` and `scipy.integrate`.\n```\n:class:`kept` in code\n```\n"
    )

    source = ["x = 1", "#: first line", "#: second line", "Alias = int", "", "Plain = str"]
    assert comment_docstring(source, 4) == "first line\nsecond line"
    assert comment_docstring(source, 6) is None


def test_block_script_keeps_the_page_line_numbers():
    text = "# t\n\n```python\nx = 1\n```\n\n```python\ny = x + 1\n```\n"
    lines = _as_script(text).splitlines()
    assert lines[3] == "x = 1" and lines[7] == "y = x + 1"
    assert [start for start, _ in _python_blocks(text)] == [4, 8]


def test_sample_outputs_are_generated_not_pasted(tmp_path):
    """Each ```text block after `<!-- output: NAME -->` is what docs/gen_outputs.py produces now."""
    gen = _load_gen_outputs()
    marked = {}
    for page in DOCS.rglob("*.md"):
        for name, shown in gen.marked_outputs(page.read_text(encoding="utf-8")).items():
            marked[(str(page.relative_to(DOCS)), name)] = shown
    assert ("getting-started.md", "demo") in marked
    for page, _ in marked:
        assert page in gen.PAGES_WITH_OUTPUTS, (
            f"{page} has an output marker gen_outputs does not fill"
        )
    for (page, name), shown in marked.items():
        produced = gen.OUTPUTS[name](tmp_path)
        assert gen.comparable(shown) == gen.comparable(produced), (
            f"docs/{page}: the `{name}` output is stale; run `python docs/gen_outputs.py`\n"
            f"shown:\n{shown}\nnow:\n{produced}"
        )
    assert (DOCS / "figures" / gen.README_FIGURE).exists()


def test_round_off_numbers_are_compared_as_round_off():
    gen = _load_gen_outputs()
    assert gen.comparable("residual 2.56e-09, C 1.0e-05") == "residual <round-off>, C 1.0e-05"
    assert gen.comparable("gap 7e-14 x 3.2e+01") == "gap <round-off> x 3.2e+01"


# -- tutorials ----------------------------------------------------------------------------------
TUTORIAL_SOURCES = sorted(p.name for p in TUTORIALS.glob("*.py") if not p.name.startswith("_"))


def test_the_four_tutorials_exist_and_are_in_the_site():
    assert {"heisenberg.py", "network_holonomy.py", "adapted_vs_standard.py", "regimes.py"} <= set(
        TUTORIAL_SOURCES
    )
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    index = (TUTORIALS / "index.md").read_text(encoding="utf-8")
    for source in TUTORIAL_SOURCES:
        page = source.replace(".py", ".md")
        assert f"tutorials/{page}" in nav, f"{page} is not in mkdocs.yml's nav"
        assert f"]({page})" in index, f"{page} is not linked from docs/tutorials/index.md"


@pytest.mark.parametrize("source", TUTORIAL_SOURCES)
def test_tutorial_runs_and_its_page_is_current(source, tmp_path):
    """Executes the tutorial (its asserts are the paper's claims) and compares the rendered page."""
    import jupytext

    gen = _load_gen_outputs()
    assert len(jupytext.read(TUTORIALS / source).cells) > 4  # a notebook, not one blob
    page, figures, _ = gen.render_tutorial(TUTORIALS / source, tmp_path)
    shown = (TUTORIALS / source.replace(".py", ".md")).read_text(encoding="utf-8")
    assert gen.comparable(shown) == gen.comparable(page), (
        f"docs/tutorials/{source.replace('.py', '.md')} is stale: run `python docs/gen_outputs.py`"
    )
    assert figures, f"{source} draws no figure"
    for name in figures:
        assert (TUTORIALS / "figures" / name).exists(), f"figure {name} missing: run gen_outputs.py"


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


def test_readme_front_door():
    """Exactly two set-up commands, the demo's own picture at the top, tutorials, the site build."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quick, flags=re.DOTALL)
    assert [b.strip() for b in blocks] == README_COMMANDS
    top = text.split("## ", 1)[0]
    picture = re.search(r"!\[[^\]]*\]\((docs/figures/[\w.-]+\.png)\)", top)
    assert picture and (ROOT / picture.group(1)).exists()
    assert picture.group(1) == "docs/figures/" + _load_gen_outputs().README_FIGURE
    for source in TUTORIAL_SOURCES:
        assert f"docs/tutorials/{source.replace('.py', '.md')}" in text
    assert 'pip install -e ".[docs]" && mkdocs build --strict' in text


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
