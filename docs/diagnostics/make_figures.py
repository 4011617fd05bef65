"""Regenerate the figures of the diagnostics pages into docs/diagnostics/figures/.

Every number drawn is computed by the package (``subriemann.diagnostics.landscape``,
``subriemann.diagnostics.surveys``), on the constructed cases of ``subriemann.diagnostics.cases``
(``trapping_case``, ``linear_bottleneck_case``, ...); the trapping and escape
figures come from ``examples/trapping_and_escape.py``.  Run from the repository root::

    python docs/diagnostics/make_figures.py                  # everything
    python docs/diagnostics/make_figures.py orbit_survey     # one survey's figure and table

The survey figures are the package's own (``SurveyResult.plot``) and the survey tables
are made here and written into their pages (rank_survey.md, orbit_survey.md,
integrability_survey.md) between ``<!-- table: NAME -->`` markers: never pasted by hand.
Takes a few minutes on two cores (the orbit survey integrates 100 orbits); the other
PNGs drawn here are kept small (80 dpi).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import subriemann as sr
from subriemann.diagnostics import cases
from subriemann.diagnostics import landscape as ls
from subriemann.diagnostics import surveys as sv
from subriemann.report import save_figure

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures"
ROOT = HERE.parent.parent


# -- the survey pages: each table is made here and written into its page between markers -----
#: The docs' surveys.  Each is also one CLI command (in its page), which prints the same table.
SURVEYS = {
    "rank_survey": lambda: sv.run_rank_survey(
        ratios=[0.5, 0.8, 1.0, 1.2, 1.5, 2, 4, 8], seeds=30, n_samples=10, base_seed=0, n_jobs=2
    ),
    "orbit_survey": lambda: sv.run_orbit_survey(
        ratios=ORBIT_RATIOS, depth=[1, 2], seeds=10, n_samples=10, base_seed=0, n_jobs=2
    ),
    "integrability_survey": lambda: sv.run_frobenius_survey(
        FROBENIUS_ARCHITECTURES, seeds=10, n_samples=FROBENIUS_SAMPLES, base_seed=0, n_jobs=2
    ),
}
ORBIT_RATIOS = [1.1, 2, 4, 16, 100]
FROBENIUS_ARCHITECTURES = ["1-2-1", "1-1-1", "1-3-1", "2-3-1", "2-4-2", "2-8-2", "3-8-2"]
FROBENIUS_SAMPLES = [1, 4, 3, 3, 2, 3, 4]


def markdown_table(result) -> str:
    """The survey's summary table (``SurveyResult.table``, as the CLI prints it) in Markdown."""
    header, rows = result.table()

    def line(cells):  # a "|" inside a cell (|θ|) would end it
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(header), "|" + " --- |" * len(header), *map(line, rows)]
    return "\n".join(lines)


def table_block(text: str, name: str) -> str:
    """The generated table between the page's markers ``<!-- table: NAME -->`` and its end."""
    begin, end = f"<!-- table: {name} -->", f"<!-- end table: {name} -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise SystemExit(f"page must contain one {begin!r} and one {end!r}")
    return text[text.index(begin) + len(begin) : text.index(end)].strip()


def write_table(page: Path, name: str, result) -> Path:
    """Replace the table between the markers of ``page`` by the one the survey made."""
    text = page.read_text(encoding="utf-8")
    old = table_block(text, name)
    new = markdown_table(result)
    text = (
        text.replace(old, new, 1)
        if old
        else text.replace(f"<!-- table: {name} -->", f"<!-- table: {name} -->\n{new}", 1)
    )
    page.write_text(text, encoding="utf-8")
    return page


def load_example():
    path = ROOT / "examples" / "trapping_and_escape.py"
    spec = importlib.util.spec_from_file_location("trapping_and_escape", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- figures ---------------------------------------------------------------------------
def equilibria_figure(example, path):
    f, cost, (saddle, minimum) = example.bottleneck_case()
    _, fs, cost_s, theta_s = cases.trapping_case()
    standard = sr.integrate(sr.StandardFlow(fs, cost_s), theta_s, 1000.0, method="LSODA")
    rng = np.random.default_rng(1)
    generic = saddle + 0.3 * rng.normal(size=saddle.size)
    fitted = sr.L2Cost(f(generic), 3)
    points = [
        ("bottleneck saddle", f, cost, saddle, 1e-10),
        ("bottleneck minimum", f, cost, minimum, 1e-10),
        ("generic point", f, cost, generic, 1e-8),
        ("fitted targets", f, fitted, generic, 1e-8),
        ("trapped (saturated tanh)", fs, cost_s, standard.theta[-1], 0.05),
    ]
    reports = [(name, ls.classify_point(m, c, t, tol=tol)) for name, m, c, t, tol in points]
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_s, ax_k = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(reports))[::-1]
    colors = {
        ls.GLOBAL_MINIMIZER: "C2",
        ls.NON_GLOBAL_EQUILIBRIUM: "C0",
        ls.NOT_AN_EQUILIBRIUM: "C3",
    }
    floor = 1e-18
    for yi, (_, rep) in zip(y, reports, strict=True):
        c = colors[rep.kind]
        ax_s.barh(yi, max(rep.stationarity, floor), color=c, left=floor)
        ax_s.plot(rep.tol, yi, "k|", ms=14)
        ax_k.barh(yi, max(rep.kernel_residual, floor), color=c, left=floor)
        label = f"{rep.kind}; rank D = {rep.rank.rank}/{rep.QN}"
        if rep.trapping_like:
            label += " (trapping-like)"
        ax_k.text(1.5e-18, yi + 0.3, label, fontsize=7, va="center")
    ax_s.set_yticks(y, [name for name, _ in reports], fontsize=8)
    ax_s.set_xscale("log")
    ax_k.set_xscale("log")
    ax_s.set_xlim(floor, 10)
    ax_k.set_xlim(floor, 10)
    ax_s.set_xlabel("stationarity |Dᵀ∇ₓC| / (σ_max |∇ₓC|)   (| = tol)")
    ax_k.set_xlabel(r"$|\mathcal{P}\nabla_x C| / |\nabla_x C|$   (0 iff ∇ₓC ∈ ker Dᵀ, (3.10))")
    ax_s.set_title("Equilibrium test (3.7): Dᵀ∇ₓC = 0?")
    ax_k.set_title("Lemma 3.2 check at non-global equilibria")
    save_figure(fig, path, dpi=80)
    return path, reports


def critical_manifold_figure(example, path):
    f, cost, (saddle, _) = example.bottleneck_case()
    # (name, (f, cost, θ*), options)
    studied = [
        ("linear bottleneck saddle", (f, cost, saddle), {}),
        *(
            (name, (case.f, case.cost, case.theta), kw)
            for name, case, kw in (
                ("duplicated inputs", cases.duplicated_inputs_case(0), {"rank_policy": 1e-9}),
                ("zero network", cases.zero_network_case(3), {}),
                ("dead units", cases.dead_units_case(0), {"tol": 1e-7}),
            )
        ),
    ]
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.subplots()
    reports = []
    for i, (name, (m, c, t), kw) in enumerate(studied):
        rep = ls.critical_manifold_dimension(m, c, t, **kw)
        reports.append((name, rep))
        s = np.linalg.svd(
            ls.g_functions(m, c, t, kw.get("rank_policy")).jacobian(t), compute_uv=False
        )
        ax.semilogy(
            np.arange(1, s.size + 1),
            np.maximum(s / s[0], 1e-17),
            f"C{i}o-",
            label=(
                f"{name}: K={rep.K}, r={rep.r}, K−rank ∂g = {rep.dimension}, "
                f"rank const: {'yes' if rep.rank_locally_constant else 'no'}"
            ),
        )
    ax.set_xlabel("index of the singular value of ∂(g_1..g_r)/∂θ")
    ax.set_ylabel("σ_i / σ_1")
    ax.set_title("Rank of ∂g/∂θ at θ*: dim M_crit = K − r (4.14)")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=80)
    return path, reports


def main(argv=None) -> int:
    """All figures and tables; with survey names (e.g. ``orbit_survey``) only those surveys."""
    names = list(sys.argv[1:] if argv is None else argv)
    unknown = sorted(set(names) - set(SURVEYS))
    if unknown:
        raise SystemExit(f"unknown survey(s) {unknown}; expected some of {sorted(SURVEYS)}")
    FIGURES.mkdir(parents=True, exist_ok=True)
    if not names:
        landscape_figures()
    for name in names or SURVEYS:
        result = SURVEYS[name]()
        print(result.plot(FIGURES / f"{name}.png"))
        print(write_table(HERE / f"{name}.md", name, result))
    return 0


def landscape_figures() -> None:
    example = load_example()
    _, _, profiles, windows, threshold = example.trapping_study()
    print(example.plot_trapping(profiles, windows, threshold, FIGURES / "trapping.png"))
    f, cost, _, _, esc, orbits, C_min = example.escape_study()
    print(example.plot_escape(f, cost, esc, orbits, C_min, FIGURES / "escape.png"))
    path, reports = equilibria_figure(example, FIGURES / "equilibria.png")
    print(path)
    for name, rep in reports:
        print(f"   {name}: {rep.kind}")
    path, reports = critical_manifold_figure(example, FIGURES / "critical_manifold.png")
    print(path)
    for name, rep in reports:
        print(
            f"   {name}: K − rank ∂g = {rep.dimension}, K − r = {rep.predicted_dimension}, "
            f"rank locally constant: {rep.rank_locally_constant}, nearby ranks {rep.nearby_ranks}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
