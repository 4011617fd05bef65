"""Every teaching script in examples/ runs as ``python examples/X.py`` within a minute."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# issue 7: adapted vs standard; under vs over; Heisenberg bracket and the non-integrability
# of a tiny network's V; trapping and escape; and the five-line grad_h / grad_g example
REQUIRED = {
    "adapted_vs_standard.py",
    "under_vs_over.py",
    "grad_h_and_grad_g.py",
    "heisenberg_and_network_bracket.py",
    "trapping_and_escape.py",
}


def test_the_required_examples_exist():
    present = {p.name for p in EXAMPLES.glob("*.py")}
    assert REQUIRED <= present, f"missing examples: {sorted(REQUIRED - present)}"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs_without_arguments(script, tmp_path):
    # run from an empty folder: examples may write figures under ./subriemann-out/
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{script} printed nothing"
