"""What a command prints and writes: the training summary, the record files, ``--json``."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from subriemann import report

__all__: list[str] = []


def _law_residual_cell(fl: dict, r: dict) -> str:
    """The law-residual cell: a distance from (2.6), or "n/a" where (2.6) is not the flow's law."""
    if "metric_law_rel_error" in fl or set(fl.get("regimes", [r["regime"]])) == {"under"}:
        return "n/a"
    return f"{fl['law_residual']:.2e}" if math.isfinite(fl["law_residual"]) else "inf"


def training_text(
    title: str,
    results: dict,
    frob: dict | None,
    paths: Sequence[str | os.PathLike[str]],
    failure: str | None,
) -> str:
    """The summary of a ``demo``/``train`` run: the problem, one row per flow, the verdicts."""
    r = results
    K, QN = r["K"], r["QN"]
    cmp = ">" if K > QN else "<" if K < QN else "="
    if r["rank"] == QN:
        rank_note = "  (= QN: the rank condition (2.1) holds)"
    elif r["rank"] == K:
        rank_note = "  (= K: f is an immersion, (5.1) holds)"
    else:
        rank_note = "  (rank loss: the DAE (4.5) applies)"
    adapted = "adapted" in r["flows"]
    if r["stopping_time_law"] == "(2.18)":
        law = "  = (N/2) log(C(0)/ε), (2.18)"
        if not adapted:
            law += " — of the adapted flow; the standard flow has none"
        elif r["regime"] not in ("over", "borderline"):
            law += " — a prediction only when rank D = QN"
    else:
        law = "  (where the output-metric law reaches ε)"
    head = [
        ("regime", f"{r['regime']}  (K = {K} {cmp} QN = {QN})"),
        ("rank D[θ0]", f"{r['rank']}{rank_note}"),
        ("σ_min(D[θ0])", report.format_value(r["sigma_min"])),
        ("C(0)", report.format_value(r["C0"])),
        ("ε", report.format_value(r["eps"], "g")),
        ("stopping time", f"s_ε = {report.format_value(r['stopping_time'], '.6g')}{law}"),
    ]
    lines = [title, "", report.format_table(head), ""]
    rows = []
    for label, fl in r["flows"].items():
        rows.append(
            (
                label,
                fl["method"],
                f"{fl['final_s']:.4g}",
                f"{fl['reached_cost']:.4e}",
                f"{fl['reached_over_eps']:.4g}",
                _law_residual_cell(fl, r),
                fl["n_jacobian"],
                f"{fl['min_sigma_min']:.3g}",
                fl["status"],
            )
        )
    lines.append(
        report.format_table(
            rows,
            header=(
                "flow",
                "method",
                "s",
                "C(s)",
                "C(s)/ε",
                "law residual",
                "Jacobians",
                "min σ_min",
                "status",
            ),
        )
    )
    lines.append("law residual = max_s |log C(s) − log C(0) + 2s/N|: 0 on the law (2.6)")
    if any(_law_residual_cell(fl, r) == "n/a" for fl in r["flows"].values()):
        lines.append(
            "n/a: (2.6) is not this flow's law (output metric G: the G-law below; "
            "under-parametrized: C(s) tends to (5.7), (N/2)|P^⊥∇ₓC|² > 0)"
        )
    for label, fl in r["flows"].items():
        if "metric_law_rel_error" in fl:
            lines.append(
                f"{label}: max |C(s)/C_G(s) − 1| = {fl['metric_law_rel_error']:.2e} against the "
                "output-metric law C_G(s) = |exp(−sG⁻¹/N)(x(0) − y_ω)|²/(2N)"
            )
    if frob is not None:
        verdict = (
            "involutive (integrable at this point)"
            if frob["is_involutive"]
            else "NOT involutive: V is non-holonomic, (R^K, V, h) is sub-Riemannian (2.33)"
        )
        lines += [
            "",
            f"Frobenius test of V = range Dᵀ at θ0 (2.31): {verdict}",
            f"  relative defect {frob['relative_defect']:.3e}, tolerance {frob['tolerance']:.2e}, "
            f"|Ω|_HS = {frob['curvature_norm']:.3e}",
        ]
    if paths:
        lines += ["", "report: " + ", ".join(str(p) for p in paths)]
    if failure:
        lines += ["", f"FAILED: {failure}"]
    return "\n".join(lines)


def write_outputs(record: dict, outdir: Path, name: str, figures: bool) -> list[Path]:
    """Write ``<outdir>/<name>.json`` and, if asked, the record's figures; the paths written."""
    paths = [report.write_json(outdir / f"{name}.json", record)]
    if figures:
        paths += report.figures_from_record(record, outdir)
    return paths


def emit(args: argparse.Namespace, record: dict, text: str) -> None:
    """Print the summary text, or with ``--json`` the record as one JSON line and nothing else."""
    if args.json:
        print(json.dumps(report.to_jsonable(record), allow_nan=False))
    else:
        print(text)
