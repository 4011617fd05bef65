"""The summary of a survey per architecture, and the columns of its table.

Rank survey: P[rank DDᵀ = QN] (2.1) with a 95 % Clopper–Pearson interval
(Clopper & Pearson 1934, via ``scipy.stats.binomtest``), σ_min and cond(D), the
structural checks of Prop. 2.2's hypothesis (:func:`.statistics.column_structure`)
and Bingham's statistic as a description.  Orbit survey: the fraction of each
outcome and P[the rank condition held along the orbit].  Frobenius survey
(2.31): the fractions of the three verdicts and the defects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from subriemann.diagnostics.orbit_survey import ORBIT_OUTCOMES
from subriemann.diagnostics.survey_tasks import frobenius_verdict
from subriemann.errors import InputError

__all__ = ["summarize_rows", "TABLE_COLUMNS"]


def _fraction_ci(k: int, n: int) -> list:
    """95 % Clopper–Pearson interval of a proportion k/n."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95)
    return [float(ci.low), float(ci.high)]


def _floats(rows, key) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows])


def _median(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return float(np.nanmedian(values)) if np.any(np.isfinite(values)) else None


def _rank_summary(rs) -> dict:
    k = sum(bool(r["full_rank"]) for r in rs)
    smin = _floats(rs, "sigma_min")
    cond = np.array([np.inf if r["condition"] is None else r["condition"] for r in rs])
    out = {
        "p_full_rank": k / len(rs),
        "p_full_rank_ci": _fraction_ci(k, len(rs)),
        "sigma_min_median": float(np.median(smin)),
        "sigma_min_min": float(np.min(smin)),
        "sigma_min_q10": float(np.quantile(smin, 0.1)),
        "sigma_min_q90": float(np.quantile(smin, 0.9)),
        "condition_median": float(np.median(cond)),
        # Prop. 2.2's hypothesis: the structure is the same for every network of an architecture
        "n_atoms": int(max(r["n_atoms"] for r in rs)),
        "atom_rank": int(max(r["atom_rank"] for r in rs)),
        "n_sparse": int(max(r["n_sparse"] for r in rs)),
        "sparse_support_max": max((r["sparse_support_max"] or 0) for r in rs) or None,
        "exact_zero_fraction": float(np.median(_floats(rs, "exact_zero_fraction"))),
        "p_generic_full_rank": float(np.mean([bool(r["generic_full_rank"]) for r in rs])),
    }
    if any(r.get("bingham_statistic") is not None for r in rs):
        out.update(
            bingham_ratio_median=_median(
                _floats(rs, "bingham_statistic") / _floats(rs, "bingham_dof")
            ),
            isotropy_median=_median(_floats(rs, "isotropy")),
        )
    return out


def _orbit_summary(rs) -> dict:
    n = len(rs)
    held = sum(bool(r["rank_held"]) for r in rs)
    out = {f"p_{o}": sum(r["outcome"] == o for r in rs) / n for o in ORBIT_OUTCOMES}
    out.update(
        p_rank_held=held / n,
        p_rank_held_ci=_fraction_ci(held, n),
        ratio_initial_median=_median(
            _floats(rs, "sigma_min_initial") / _floats(rs, "sigma_max_initial")
        ),
        ratio_min_median=_median(_floats(rs, "ratio_min")),
        ratio_min_min=float(np.nanmin(_floats(rs, "ratio_min"))),
        theta_growth_median=_median(_floats(rs, "theta_growth")),
        routes=sorted({r["route"] for r in rs}),
    )
    return out


def _frobenius_summary(rs) -> dict:
    n = len(rs)
    verdicts = [frobenius_verdict(r.get("is_involutive"), r.get("conclusive")) for r in rs]
    rel = _floats(rs, "relative_defect")
    return {
        "involutive_fraction": verdicts.count("involutive") / n,
        "not_involutive_fraction": verdicts.count("not involutive") / n,
        "inconclusive_fraction": verdicts.count("inconclusive") / n,
        "relative_defect_median": _median(rel),
        "relative_defect_max": float(np.nanmax(rel)) if np.any(np.isfinite(rel)) else None,
        "tolerance_median": _median(_floats(rs, "tolerance")),
    }


_SUMMARIES = {"rank": _rank_summary, "orbit": _orbit_summary, "frobenius": _frobenius_summary}


def summarize_rows(kind: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The statistics of one architecture's rows of a ``kind`` survey (see ``SurveyResult.summary``).

    Parameters
    ----------
    kind : {"rank", "orbit", "frobenius"}
    rows : sequence of dict
        The successful rows of one architecture (at least one).

    Returns
    -------
    dict
    """
    if kind not in _SUMMARIES:
        raise InputError(f"survey kind must be one of {tuple(_SUMMARIES)}, got {kind!r}")
    if not rows:
        raise InputError("a summary needs at least one row")
    return _SUMMARIES[kind](rows)


#: The statistics columns of :meth:`SurveyResult.table` per kind: (title, summary key and its
#: format, or a function of the summary entry that gives the cell).
TABLE_COLUMNS = {
    "rank": (
        ("P[rank=QN]", "p_full_rank", ".2f"),
        ("median σ_min", "sigma_min_median", ".2g"),
        ("min σ_min", "sigma_min_min", ".2g"),
        ("median cond", "condition_median", ".3g"),
        ("θ-indep. cols (rank)", lambda e: f"{e['n_atoms']} ({e['atom_rank']})", ""),
        (
            "sparse cols (max support)",
            lambda e: f"{e['n_sparse']} ({e['sparse_support_max'] or 0})",
            "",
        ),
        ("exact zeros", "exact_zero_fraction", ".3f"),
        ("P[generic rank=QN]", "p_generic_full_rank", ".2f"),
        ("median S/dof", "bingham_ratio_median", ".3g"),
    ),
    "orbit": (
        ("completed", "p_completed", ".2f"),
        ("lost rank", "p_lost_rank", ".2f"),
        ("diverged", "p_diverged", ".2f"),
        ("max steps", "p_max_steps", ".2f"),
        (
            "rank held (95 % CI)",
            lambda e: "{:.2f} [{:.2f}, {:.2f}]".format(e["p_rank_held"], *e["p_rank_held_ci"]),
            "",
        ),
        ("median σ_min/σ_max at 0", "ratio_initial_median", ".2g"),
        ("median min σ_min/σ_max", "ratio_min_median", ".2g"),
        ("median |θ| growth", "theta_growth_median", ".3g"),
    ),
    "frobenius": (
        ("involutive", "involutive_fraction", ".2f"),
        ("not involutive", "not_involutive_fraction", ".2f"),
        ("inconclusive", "inconclusive_fraction", ".2f"),
        ("median defect", "relative_defect_median", ".2g"),
        ("max defect", "relative_defect_max", ".2g"),
        ("median tolerance", "tolerance_median", ".2g"),
    ),
}
