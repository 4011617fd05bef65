"""A user's mistake never gives a traceback: exit 2 and one line on stderr naming the culprit.

One parametrized test per class of bad input (the report folder, the configuration
file, the record given to ``replot``, the layer spec), run in-process through
``cli.main`` — the code path of the console script minus interpreter start-up — and
a subprocess run checking the real entry point prints no traceback either.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import subriemann.cli as cli

BASE = '[network]\nhidden = [8]\n\n[flow]\nkind = "adapted"\n'

#: A cheap invocation of every command that takes --out, with the folder last.
COMMANDS = {
    "demo": ["demo", "--eps", "1e-2"],
    "train": ["train", "{config}"],
    "frobenius": ["frobenius", "--catalog", "heisenberg", "--points", "1"],
    "survey": ["survey", "rank", "--layers", "2-3-2", "--seeds", "1"],
    "replot": ["replot", "{record}"],
}


def call(capsys, *args):
    """``cli.main(args)``: (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, out, err, *names):
    """Exit 2, nothing on stdout, one line on stderr that names every one of ``names``."""
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    for name in names:
        assert str(name) in err, (name, err)


@pytest.fixture
def inputs(tmp_path):
    """A valid config and a valid (tiny) frobenius record to run the commands on."""
    config = tmp_path / "ok.toml"
    config.write_text(BASE)
    record = tmp_path / "ok.json"
    record.write_text(
        json.dumps(
            {
                "kind": "frobenius",
                "results": {"growth_vector": [2, 3], "dim": 3, "name": "heisenberg"},
            }
        )
    )
    return {"config": config, "record": record}


def command(name, inputs):
    return [a.format(**inputs) for a in COMMANDS[name]]


# -- the report folder (--out), checked before any computation -----------------------------
@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("case", ["existing file", "below a file", "unwritable"])
def test_bad_out_folder_exits_2_before_computing(capsys, tmp_path, monkeypatch, inputs, name, case):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = {
        "existing file": blocker,
        "below a file": blocker / "sub",
        "unwritable": tmp_path / "ro",
    }[case]
    if case == "unwritable":
        # tests run as root, where chmod stops no write: simulate a folder on which the
        # creation of a file fails (a read-only mount, a full disk, no permission)
        out.mkdir()
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if dir is not None and str(dir) == str(out):
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    # any computation would go through these: none may start before --out is checked
    started = []
    for module in ("demo", "train"):
        monkeypatch.setattr(
            f"subriemann.cli.{module}.run_training", lambda *a, **k: started.append("flow")
        )
    monkeypatch.setattr("subriemann.cli.train.build_run", lambda *a, **k: started.append("build"))
    code, stdout, err = call(capsys, *command(name, inputs), "--quiet", "--out", out)
    assert_usage_error(code, stdout, err, out, "--out")
    assert started == []
    assert not (blocker.is_file() and blocker.read_text() != "not a folder")


def test_a_real_unwritable_folder_is_detected_as_root_too(capsys, tmp_path):
    # /proc refuses new files even to root; permission bits would say "writable"
    if not (Path("/proc").is_dir() and Path("/proc/self").exists()):
        pytest.skip("needs Linux /proc")
    code, out, err = call(capsys, "frobenius", "--catalog", "heisenberg", "--out", "/proc")
    assert_usage_error(code, out, err, "'/proc'", "not writable")


def test_the_config_output_dir_is_checked_like_out(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = tmp_path / "c.toml"
    path.write_text(f'{BASE}[output]\ndir = "{blocker}"\n')
    code, out, err = call(capsys, "train", path, "--quiet")
    assert_usage_error(code, out, err, path, "output.dir", blocker)


# -- configuration files --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"\xff\xfe" + BASE.encode(), ["not UTF-8", "byte 0"]),
        (BASE.encode() + b"# caf\xe9\n", ["not UTF-8", "line 6"]),
        (b"seed = -5\n" + BASE.encode(), ["'seed'", "line 1", "-5"]),
        (BASE.encode() + b"[data]\nseed = -1\n", ["'data.seed'", "-1"]),
        (
            BASE.replace("hidden = [8]", "hidden = [8]\ninit_seed = -2").encode(),
            ["'network.init_seed'", "-2"],
        ),
        (
            BASE.encode() + b"[data]\nn_samples = 100000000000\n",
            ["'data.n_samples'", "line 7", "100000000000", "bytes", "GB"],
        ),
        (BASE.replace("[8]", "[100000000000]").encode(), ["'network.hidden'", "bytes", "GB"]),
    ],
    ids=[
        "not-utf8",
        "latin1-comment",
        "negative-seed",
        "negative-data-seed",
        "negative-init-seed",
        "huge-N",
        "huge-width",
    ],
)
def test_bad_config_file_exits_2_naming_file_and_key(capsys, tmp_path, content, names):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    code, out, err = call(capsys, "train", path, "--quiet", "--out", tmp_path / "out")
    assert_usage_error(code, out, err, path, *names)


def test_a_folder_as_config_exits_2(capsys, tmp_path):
    code, out, err = call(capsys, "train", tmp_path, "--quiet", "--out", tmp_path / "out")
    assert_usage_error(code, out, err, tmp_path, "directory")


# -- records given to replot ---------------------------------------------------------------
def _demo_record(orbit):
    return {"kind": "demo", "results": {"C0": 1.0, "N": 2, "flows": {"adapted": {"orbit": orbit}}}}


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"null", ["JSON null", "expected a record"]),
        (b"[1, 2]", ["JSON array", "expected a record"]),
        (b'"demo"', ["JSON string"]),
        (json.dumps({"kind": "demo"}).encode(), ["'results'", "missing"]),
        (json.dumps({"kind": "survey", "results": {}}).encode(), ["'survey'", "expected"]),
        (json.dumps({"kind": "demo", "results": {"flows": {}}}).encode(), ["results.flows"]),
        (
            json.dumps(
                _demo_record({"s": [0, [1, 2]], "cost": [1, 2], "sigma_min": [1, 1]})
            ).encode(),
            ["results.flows.adapted.orbit.s", "flat list of numbers"],
        ),
        (
            json.dumps(_demo_record({"s": "abc", "cost": [1], "sigma_min": [1]})).encode(),
            ["results.flows.adapted.orbit.s", "'abc'"],
        ),
        (
            json.dumps(_demo_record({"s": [0, 1], "cost": [1, "x"], "sigma_min": [1, 1]})).encode(),
            ["results.flows.adapted.orbit.cost"],
        ),
        (
            json.dumps(_demo_record({"s": [0, 1], "cost": [1.0], "sigma_min": [1, 1]})).encode(),
            ["results.flows.adapted.orbit.cost", "1 values", "expected 2"],
        ),
        (
            json.dumps(
                {"kind": "frobenius", "results": {"points": [{"relative_defect": 1}]}}
            ).encode(),
            ["results.tolerance"],
        ),
        (b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00\x00", ["not UTF-8"]),
        (b'{"kind": "demo", ', ["not valid JSON"]),
    ],
    ids=[
        "null",
        "list",
        "string",
        "no-results",
        "survey",
        "no-flows",
        "ragged-orbit",
        "string-orbit",
        "string-in-orbit",
        "unequal-lengths",
        "no-tolerance",
        "binary",
        "truncated",
    ],
)
def test_bad_record_for_replot_exits_2_naming_file_and_field(capsys, tmp_path, content, names):
    path = tmp_path / "record.json"
    path.write_bytes(content)
    code, out, err = call(capsys, "replot", path, "--quiet", "--out", tmp_path / "figs")
    assert_usage_error(code, out, err, path, *names)
    assert not list((tmp_path / "figs").glob("*.png"))  # checked before the first figure


def test_replot_of_a_folder_exits_2(capsys, tmp_path):
    code, out, err = call(capsys, "replot", tmp_path, "--quiet", "--out", tmp_path / "figs")
    assert_usage_error(code, out, err, tmp_path, "is a directory")


# -- layer specs ----------------------------------------------------------------------------
BAD_LAYERS = ["2,x,3", "2,,3", "2,-4,3", "2-x-2", "2.5,3", "2-8,3", "0,3", "5", "2x8x3", ",2,3"]


@pytest.mark.parametrize("spec", BAD_LAYERS)
@pytest.mark.parametrize("name", ["frobenius", "survey"])
def test_bad_layer_spec_exits_2_and_says_what_is_expected(capsys, tmp_path, name, spec):
    if name == "frobenius":
        args = ["frobenius", "--layers", spec, "--points", "1"]
    else:
        args = ["survey", "rank", "--layers", spec, "--seeds", "1"]
    code, out, err = call(capsys, *args, "--quiet", "--out", tmp_path)
    assert_usage_error(code, out, err, "--layers", repr(spec), "positive integers")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["demo", "--seed", "-5"], ["--seed", "-5"]),
        (["frobenius", "--layers", "2,3", "--samples", "100000000000"], ["--samples", "bytes"]),
        (["survey", "rank", "--layers", "2-3-2", "--samples", "100000000000"], ["--samples"]),
    ],
)
def test_bad_numbers_on_the_command_line_exit_2(capsys, tmp_path, args, names):
    code, out, err = call(capsys, *args, "--quiet", "--out", tmp_path)
    assert_usage_error(code, out, err, *names)


def test_the_console_entry_point_prints_no_traceback(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("null")
    result = subprocess.run(
        [sys.executable, "-m", "subriemann.cli", "replot", str(path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(path) in result.stderr
