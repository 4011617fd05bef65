"""subriemann.report: the progress bar, run records (JSON/CSV) and the figures with their theory lines."""

import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import subriemann as sr
from subriemann import report
from subriemann.errors import InputError
from subriemann.report import canvas, records, run_figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


# -- progress bar (tqdm.auto behind the progress(done, total) callbacks) ------------------
def test_progress_bar_is_silent_when_stderr_is_not_a_terminal():
    stream = io.StringIO()  # isatty() is False: logs and pipes get no carriage returns
    with report.ProgressBar("work", stream=stream, delay=0.0, min_interval=0.0) as bar:
        for i in range(5):
            bar(i + 1, 5)
    assert stream.getvalue() == "" and not bar.enabled


def test_progress_bar_draws_on_a_terminal_and_ends_the_line():
    stream = FakeTTY()
    with report.ProgressBar("work", stream=stream, delay=0.0, min_interval=0.0) as bar:
        for i in range(4):
            bar(i + 1, 4)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert "work:" in text and "100%" in text and "4/4" in text


def test_progress_bar_stays_silent_for_work_shorter_than_its_delay():
    stream = FakeTTY()
    with report.ProgressBar("quick", stream=stream, delay=60.0) as bar:
        bar(1, 2)
        bar(2, 2)
    assert stream.getvalue() == ""


def test_quiet_switches_the_bar_off_even_on_a_terminal():
    stream = FakeTTY()
    with report.progress_bar("work", quiet=True, stream=stream, delay=0.0) as bar:
        bar(1, 1)
    assert stream.getvalue() == ""


@given(done=st.floats(0, 1e6), total=st.floats(1e-3, 1e6))
@example(done=2.225073858507203e-309, total=6744.0)  # subnormal: tqdm's ETA overflowed
def test_progress_bar_fraction_is_clipped_to_0_100_percent(done, total):
    bar = report.ProgressBar("s", enabled=False)
    bar(done, total)
    # fractions below 1e-200 are shown as 0 (ProgressBar.update says why)
    assert bar.fraction == (0.0 if done < 1e-200 * total else min(done / total, 1.0))
    assert f"{100 * bar.fraction:3.0f}%" in bar.render()


def test_progress_bar_accepts_flow_time_as_progress():
    # integrate() reports progress(s, s_end) with float flow times; counts stay integers
    bar = report.ProgressBar("flow", enabled=False)
    bar(12.5, 50.0)
    assert "25%" in bar.render() and "12.5/50" in bar.render()
    bar(3, 10)
    assert "3/10" in bar.render()


# -- records -----------------------------------------------------------------------------
def test_record_carries_version_config_seed_and_environment():
    config = {"network": {"layers": [2, 8, 3]}, "eps": 1e-8}
    rec = report.make_record("demo", config, 7, {"C0": np.float64(0.5), "s": np.arange(3.0)})
    assert rec["subriemann_version"] == sr.__version__
    assert rec["environment"]["subriemann"] == sr.__version__
    assert rec["environment"]["numpy"] == np.__version__
    assert rec["config"] == config and rec["seed"] == 7 and rec["kind"] == "demo"
    assert rec["results"] == {"C0": 0.5, "s": [0.0, 1.0, 2.0]}
    json.dumps(rec, allow_nan=False)  # already JSON-safe


def test_json_round_trip_keeps_arrays_and_maps_non_finite_to_null(tmp_path):
    values = np.array([1.5, np.nan, np.inf, -2.0])
    path = report.write_json(tmp_path / "deep" / "r.json", {"a": values, "k": np.int64(3)})
    back = report.read_json(path)
    assert back["k"] == 3 and isinstance(back["k"], int)
    # null reads back as NaN through numpy: arrays survive a round trip
    restored = np.asarray(back["a"], dtype=float)
    assert restored[0] == 1.5 and restored[3] == -2.0
    assert np.isnan(restored[1]) and np.isnan(restored[2])


def test_objects_with_as_dict_are_stored_and_others_are_refused():
    rep = sr.JacobianSVD(np.eye(2)).report
    assert report.to_jsonable({"r": rep})["r"]["rank"] == 2
    with pytest.raises(InputError, match="cannot store a object"):
        report.to_jsonable({"bad": object()})


def test_read_json_names_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        report.read_json(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n')
    with pytest.raises(InputError, match="line 2"):
        report.read_json(bad)


def test_csv_loads_in_pandas_as_is_with_metadata_in_a_sidecar(tmp_path):
    pandas = pytest.importorskip("pandas")
    path = report.write_csv(
        tmp_path / "t.csv",
        {"K": np.array([10, 20]), "sigma_min": np.array([0.5, np.nan])},
        metadata={"version": sr.__version__, "config": {"seed": 1}},
    )
    lines = path.read_text().splitlines()
    assert lines == ["K,sigma_min", "10,0.5", "20,"]  # no comment lines
    frame = pandas.read_csv(path)
    assert list(frame.columns) == ["K", "sigma_min"] and frame["K"].tolist() == [10, 20]
    assert frame["sigma_min"][0] == 0.5 and np.isnan(frame["sigma_min"][1])
    sidecar = report.read_json(report.csv_metadata_path(path))
    assert sidecar["csv"] == "t.csv" and sidecar["columns"] == ["K", "sigma_min"]
    assert sidecar["version"] == sr.__version__ and sidecar["config"] == {"seed": 1}
    assert sidecar["environment"]["subriemann"] == sr.__version__
    assert report.csv_metadata_path(path).name == "t.csv.json"
    with pytest.raises(InputError, match="equal lengths"):
        report.write_csv(tmp_path / "u.csv", {"a": [1, 2], "b": [1]})


def test_record_environment_says_which_code_ran():
    env = report.provenance()
    assert env["jacobian_assembly"] == sr.maps.network.ASSEMBLY in ("c", "numpy")
    assert env["blas"]["source"] in ("threadpoolctl", "numpy.show_config")
    commit = env["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40,64}", commit)


def test_git_commit_is_none_without_git(tmp_path):
    # no git on PATH: the record is still written, with git_commit null
    code = "import subriemann.report as r; print(r.provenance()['git_commit'])"
    env = {"PATH": str(tmp_path), "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0 and out.stdout.strip() == "None", out.stderr


def test_format_table_aligns_columns():
    text = report.format_table(
        [("a", 1.23456789, True), ("bbb", None, False)], header=("x", "y", "z")
    )
    lines = text.splitlines()
    assert lines[0].split() == ["x", "y", "z"] and set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["a", "1.235", "yes"] and lines[3].split() == ["bbb", "-", "no"]
    # every cell of a column starts at the same offset
    assert lines[2].index("1.235") == lines[3].index("-") == lines[0].index("y")


# -- figures -----------------------------------------------------------------------------
@pytest.fixture
def captured(monkeypatch):
    """Capture the matplotlib Figure a plot function saves (and still write the PNG)."""
    figures = []
    save = canvas.save_figure

    def keep(fig, path, **kwargs):
        figures.append(fig)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(run_figures, "save_figure", keep)
    return figures


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5000


def test_cost_law_figure_draws_the_law_eps_and_stopping_time(tmp_path, captured):
    N, C0, eps = 6, 0.3, 1e-6
    s_eps = sr.stopping_time(eps, C0, N)
    s = np.linspace(0, s_eps, 9)
    path = report.plot_cost_law(
        {"adapted": (s, sr.cost_law(s, C0, N) * (1 + 1e-13)), "standard": (s, C0 / (1 + s))},
        C0,
        N,
        tmp_path / "c.png",
        eps=eps,
        s_stop=s_eps,
    )
    assert _is_png(path)
    ax, ax_dev = captured[0].axes
    assert ax.get_ylabel().startswith("cost C(s)") and ax_dev.get_xlabel() == "flow time s"
    law = [line for line in ax.get_lines() if "law (2.6)" in line.get_label()]
    assert len(law) == 1
    xs, ys = law[0].get_data()
    np.testing.assert_allclose(ys, C0 * np.exp(-2 * xs / N), rtol=1e-12)
    assert xs[-1] == pytest.approx(s_eps)  # the line reaches the stopping time
    hlines = [line for line in ax.get_lines() if line.get_label().startswith("target ε")]
    assert hlines and hlines[0].get_ydata()[0] == eps
    # an orbit on the law (up to 1e-13) has a deviation curve at 1e-13 (log axis, so > 0);
    # the standard flow has no a-priori law, so no deviation curve
    dev = {line.get_label(): line.get_ydata() for line in ax_dev.get_lines()}
    np.testing.assert_allclose(dev["adapted vs law (2.6)"], 1e-13, rtol=1e-2)
    assert not any(label.startswith("standard") for label in dev)


def test_cost_law_figure_rejects_an_unknown_law_or_a_missing_prediction():
    s = np.linspace(0, 1, 3)
    with pytest.raises(InputError, match="must be one of"):
        report.cost_law_figure({"a": (s, s + 1)}, 1.0, 2, laws={"a": "newton"})
    with pytest.raises(InputError, match="no prediction curve"):
        report.cost_law_figure({"a": (s, s + 1)}, 1.0, 2, laws={"a": "limit"})


def test_trapping_figure_shows_the_singular_value_band(tmp_path, captured):
    s = np.linspace(0, 1, 5)
    lo, hi = np.full(5, 0.1), np.full(5, 2.0)
    path = report.plot_trapping(
        {"standard": (s, np.full(5, 0.5))},
        tmp_path / "t.png",
        bounds={"standard": (s, lo, hi)},
        threshold=0.2,
    )
    assert _is_png(path)
    ax = captured[0].axes[0]
    assert "trapping ratio" in ax.get_ylabel() and ax.get_xlabel() == "flow time s"
    assert any(c.get_label().startswith("bounds of the ratio") for c in ax.collections)
    assert any(r"\sigma_{\min}" in line.get_label() for line in ax.get_lines())


def test_sigma_min_frobenius_and_growth_figures_are_labelled(tmp_path, captured):
    s = np.linspace(0, 1, 4)
    report.plot_sigma_min(
        {"adapted": (s, [1, 0.5, 0.4, 0.3])},
        tmp_path / "s.png",
        sigma_max={"adapted": (s, [3, 3, 3, 3])},
    )
    report.plot_frobenius([0.3, 1e-16, 0.0], tmp_path / "f.png", tolerance=1e-10)
    report.plot_growth_vector((2, 3, 4), 4, tmp_path / "g.png")
    for fig, name in zip(captured, ("s.png", "f.png", "g.png"), strict=True):
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
        assert _is_png(tmp_path / name)
    # the tolerance line of the Frobenius figure sits at the tolerance
    tol_line = [ln for ln in captured[1].axes[0].get_lines() if "tolerance" in ln.get_label()]
    assert tol_line[0].get_ydata()[0] == 1e-10


def test_figures_are_regenerated_from_a_stored_record(tmp_path):
    N, C0, eps = 4, 0.2, 1e-4
    s = np.linspace(0, sr.stopping_time(eps, C0, N), 6)
    orbit = {
        "s": s,
        "cost": sr.cost_law(s, C0, N),
        "rank": np.full(6, 8),
        "sigma_min": np.full(6, 0.1),
        "sigma_max": np.full(6, 2.0),
        "trapping_ratio": np.full(6, 0.7),
    }
    results = {
        "C0": C0,
        "N": N,
        "eps": eps,
        "stopping_time": s[-1],
        "flows": {"adapted": {"orbit": orbit}},
    }
    path = report.write_json(tmp_path / "r.json", report.make_record("train", {"x": 1}, 0, results))
    paths = report.figures_from_record(report.read_json(path), tmp_path / "figs")
    assert sorted(p.name for p in paths) == ["cost_law.png", "sigma_min.png", "trapping.png"]
    assert all(_is_png(p) for p in paths)
    with pytest.raises(InputError, match="cannot draw figures"):
        report.figures_from_record({"kind": "unknown"}, tmp_path)


def test_plot_module_never_uses_pyplot():
    # Agg canvas on Figure objects: no screen, no global state (safe in workers and tests)
    import inspect

    for module in (canvas, run_figures):
        source = inspect.getsource(module)
        assert "import matplotlib.pyplot" not in source and "plt." not in source


# -- atomic writes ----------------------------------------------------------------------
def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_write_atomic_keeps_the_previous_file_when_the_write_fails(tmp_path):
    path = report.write_json(tmp_path / "record.json", {"good": [1, 2, 3]})
    before = path.read_bytes()

    def half_then_fail(fh):
        fh.write(b'{"half": ')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        report.write_atomic(path, half_then_fail)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, {"record.json"}) == []  # no temporary file stays behind
    assert report.write_atomic(path, "new\n").read_text() == "new\n"
    assert report.write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"


def test_a_record_write_cut_by_a_full_disk_leaves_the_old_record(tmp_path):
    """A real failed write (the file-size limit, as a full disk would) in a fresh process."""
    path = tmp_path / "record.json"
    report.write_json(path, {"results": {"C0": 1.0}})
    before = path.read_bytes()
    script = f"""
import resource, signal
from subriemann import report
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    report.write_json({str(path)!r}, {{"results": {{"orbit": list(range(1000))}}}})
except OSError as exc:
    print("failed:", exc.errno)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.startswith("failed:"), result.stdout + result.stderr
    assert path.read_bytes() == before
    assert json.loads(path.read_text()) == {"results": {"C0": 1.0}}
    assert _leftovers(tmp_path, {"record.json"}) == []


def test_csv_and_figures_are_written_atomically(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    csv_path = report.write_csv(tmp_path / "t.csv", [{"a": 1}])
    png = report.plot_growth_vector([2, 3], 3, tmp_path / "g.png")
    old_csv, old_png = csv_path.read_bytes(), png.read_bytes()

    def broken_savefig(self, fname, *args, **kwargs):
        # matplotlib writes part of the file, then fails (e.g. a bad glyph, a full disk)
        if hasattr(fname, "write"):
            fname.write(PNG_MAGIC[:4])
        else:
            with open(fname, "wb") as fh:
                fh.write(PNG_MAGIC[:4])
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="drawing failed"):
        report.plot_growth_vector([2, 3], 3, png)
    assert png.read_bytes() == old_png
    monkeypatch.setattr(records, "_csv_cell", lambda v: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        report.write_csv(csv_path, [{"a": 2}])
    assert csv_path.read_bytes() == old_csv
    assert _leftovers(tmp_path, {"t.csv", "g.png"}) == []


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"kind": "demo"}, "'results'"),
        ({"kind": "demo", "results": {"C0": 1, "N": 2, "flows": {"a": {}}}}, "flows.a.orbit"),
        ({"kind": "frobenius", "results": {}}, "nothing to draw"),
        ({"kind": "frobenius", "results": {"growth_vector": [2, "3"], "dim": 3}}, "growth_vector"),
        ({"kind": "frobenius", "results": {"points": [7], "tolerance": 1.0}}, "points[0]"),
    ],
)
def test_figures_from_a_malformed_record_name_the_field(tmp_path, record, field):
    with pytest.raises(InputError, match=re.escape(field)):
        report.figures_from_record(record, tmp_path)
    assert list(tmp_path.iterdir()) == []
