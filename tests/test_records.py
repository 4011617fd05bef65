"""The JSON record schema (subriemann/report/record.schema.json) against real CLI records.

Every command writes a record through ``report.make_record``; each is validated with
jsonschema against the documented schema, the survey's CSV is loaded by pandas as it
is, and its sidecar is validated against the schema's ``csv_metadata`` definition.
"""

import json
from pathlib import Path

import pytest

import subriemann as sr
import subriemann.cli as cli
from subriemann import report

jsonschema = pytest.importorskip("jsonschema")
pandas = pytest.importorskip("pandas")

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"


def validator(definition=None):
    schema = report.record_schema()
    if definition is not None:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_is_a_valid_draft_2020_12_schema_of_this_layout():
    schema = report.record_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"]["const"] == report.RECORD_SCHEMA


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """One small run of each command: name -> (record path, out folder)."""
    out = tmp_path_factory.mktemp("records")
    runs = {
        "demo": (["demo", "--eps", "1e-4"], "demo.json"),
        "train": (["train", CONFIGS / "adapted_over.toml"], "adapted_over.json"),
        "frobenius": (["frobenius", "--catalog", "heisenberg", "--points", "2"], "frobenius.json"),
        "holonomy": (["holonomy", "--catalog", "heisenberg"], "holonomy.json"),
        "survey": (["survey", "rank", "--layers", "2-4-2", "--seeds", "2"], "survey-rank.json"),
    }
    paths = {}
    for name, (args, file) in runs.items():
        folder = out / name
        code = cli.main([str(a) for a in args] + ["--quiet", "--out", str(folder)])
        assert code == 0, name
        paths[name] = (folder / file, folder)
    return paths


@pytest.mark.parametrize("kind", ["demo", "train", "frobenius", "holonomy", "survey"])
def test_every_command_writes_a_record_valid_against_the_schema(records, kind):
    path, _ = records[kind]
    record = json.loads(path.read_text())
    errors = sorted(validator().iter_errors(record), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert record["kind"] == kind
    env = record["environment"]
    assert env["subriemann"] == sr.__version__ and env["jacobian_assembly"] in ("c", "numpy")


def test_a_record_that_breaks_the_layout_is_rejected(records):
    record = json.loads(records["demo"][0].read_text())
    del record["environment"]["blas"]
    record["results"]["flows"]["adapted"]["orbit"]["s"] = "not a curve"
    messages = {e.message for e in validator().iter_errors(record)}
    assert any("'blas' is a required property" in m for m in messages)
    assert any("is not of type 'array'" in m for m in messages)


def test_the_survey_csv_loads_in_pandas_as_it_is_with_a_valid_sidecar(records):
    _, folder = records["survey"]
    csv_path = folder / "survey-rank.csv"
    frame = pandas.read_csv(csv_path)  # no comment='#' needed
    assert len(frame) == 2 and {"layers", "K", "QN", "rank", "sigma_min"} <= set(frame.columns)
    assert frame["K"].tolist() == [22, 22]
    sidecar = json.loads(report.csv_metadata_path(csv_path).read_text())
    assert not list(validator("csv_metadata").iter_errors(sidecar))
    assert sidecar["csv"] == "survey-rank.csv" and sidecar["columns"] == list(frame.columns)


def test_replot_still_reads_the_records(records, tmp_path, capsys):
    for kind in ("demo", "frobenius"):
        code = cli.main(["replot", str(records[kind][0]), "--out", str(tmp_path / kind)])
        assert code == 0 and "figures:" in capsys.readouterr().out


def test_verbose_shows_the_package_log_on_stderr(tmp_path, capsys):
    args = ["frobenius", "--catalog", "heisenberg", "--points", "1", "--quiet"]
    assert cli.main([*args, "-vv", "--out", str(tmp_path / "v")]) == 0
    err = capsys.readouterr().err
    assert "subriemann: DEBUG: subriemann.report.records: record 'frobenius'" in err
    assert cli.main([*args, "--out", str(tmp_path / "q")]) == 0
    assert "DEBUG" not in capsys.readouterr().err  # the level is reset after each command
