"""Surveys: Prop. 2.2 on random networks (its hypothesis checked structurally), Bingham's
statistic of the e_j (2.12), the Frobenius survey, and the execution contract (identical
tables on every backend, seeds that depend on the architecture not its position, resumable
files, figures that draw each point's own tolerance).
"""

import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import subriemann as sr
import subriemann.diagnostics as dg
from subriemann.diagnostics import surveys as sv

ARCHS = ["2-1-2", "2-3-2", "2-8-2"]  # with N = 4: K/QN = 0.875, 1.6, 5.25


@pytest.fixture(scope="module")
def serial_rank():
    return sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7)


# -- Bingham's test ----------------------------------------------------------------------
def test_bingham_known_values():
    p = 3
    frame = np.hstack([np.eye(p), -2.0 * np.eye(p)])  # axes ±e_i, evenly: T̄ = I/p
    out = sv.bingham_test(frame)
    assert out["statistic"] == pytest.approx(0.0, abs=1e-12) and out["pvalue"] == pytest.approx(1.0)
    assert out["isotropy"] == pytest.approx(1.0) and out["anisotropy"] == pytest.approx(1.0)
    assert out["dof"] == (p - 1) * (p + 2) // 2
    same = np.tile(np.array([[1.0], [2.0], [2.0]]), (1, 10))  # one axis: T̄ = e eᵀ
    out = sv.bingham_test(np.hstack([same, np.zeros((3, 2))]))
    assert out["statistic"] == pytest.approx(10 * p * (p + 2) / 2 * (1 - 1 / p))
    assert out["isotropy"] == pytest.approx(0.0, abs=1e-12) and out["anisotropy"] == pytest.approx(
        p
    )
    assert out["n_axes"] == 10 and out["n_zero_columns"] == 2


@given(st.integers(2, 5), st.integers(3, 30), st.integers(0, 10_000))
def test_bingham_is_axial_and_scale_free(p, n, seed):
    """e_j and −e_j (and any column scaling) give the same term e_j e_jᵀ of (2.12)."""
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(p, n))
    flipped = D * rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.1, 10.0, size=n)
    a, b = sv.bingham_test(D), sv.bingham_test(flipped)
    assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-9, abs=1e-9)
    assert a["isotropy"] == pytest.approx(b["isotropy"], rel=1e-9, abs=1e-12)


def test_bingham_calibrated_under_uniform_axes():
    """Under i.i.d. uniform axes the 5 % test rejects ~5 % of the time.

    200 replicates: the rejection count is Binomial(200, 0.05), mean 10, sd 3.1;
    [2, 22] holds it with probability > 0.999 (and the seed is fixed).
    """
    rng = np.random.default_rng(2024)
    rejections = sum(
        sv.bingham_test(rng.normal(size=(3, 400)))["pvalue"] < 0.05 for _ in range(200)
    )
    assert 2 <= rejections <= 22


# -- the rank survey (Prop. 2.2) ------------------------------------------------------
def test_rank_survey_rows(serial_rank):
    rows = serial_rank.rows
    assert [r["task_id"] for r in rows] == list(range(15))
    for r in rows:
        assert r["error"] is None
        assert r["rank"] <= min(r["K"], r["QN"])
        assert r["sigma_min"] <= r["sigma_max"]
        assert r["condition"] == pytest.approx(r["sigma_max"] / r["sigma_min"])
        if r["K"] < r["QN"]:
            assert not r["full_rank"]  # rank DDᵀ ≤ K < QN
    # Prop. 2.2's regime K > QN: random networks have rank DDᵀ = QN
    over = [r for r in rows if r["K"] > r["QN"]]
    assert over and all(r["full_rank"] for r in over)


def test_rank_survey_row_matches_direct_computation(serial_rank):
    task = sv.make_tasks("rank", ARCHS, 5, 4, base_seed=7)[7]
    f, theta = task.build()
    D = f.jacobian(theta)
    row = serial_rank.rows[7]
    assert row["rank"] == np.linalg.matrix_rank(D)
    assert row["sigma_min"] == pytest.approx(np.linalg.svd(D, compute_uv=False)[-1], rel=1e-12)
    assert row["bingham_statistic"] == pytest.approx(sv.bingham_test(D)["statistic"], rel=1e-12)


def test_summary_and_outputs(serial_rank, tmp_path):
    summary = serial_rank.summary()
    assert [a["layers"] for a in summary["architectures"]] == ARCHS
    for a in summary["architectures"]:
        rows = [r for r in serial_rank.rows if r["arch_index"] == a["arch_index"]]
        assert a["p_full_rank"] == np.mean([r["full_rank"] for r in rows])
        lo, hi = a["p_full_rank_ci"]
        assert lo <= a["p_full_rank"] <= hi
    csv_path = serial_rank.to_csv(tmp_path / "rank.csv")
    lines = [line for line in csv_path.read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 1 + len(serial_rank.rows) and "sigma_min" in lines[0]
    record = json.loads(serial_rank.to_json(tmp_path / "rank.json").read_text())
    assert record["kind"] == "survey" and len(record["results"]["rows"]) == 15
    png = serial_rank.plot(tmp_path / "rank.png")
    assert png.stat().st_size > 10_000


def test_architectures_for_ratios_and_parse():
    archs = sv.architectures_for_ratios([0.5, 1.0, 2.0, 8.0], 2, 2, 10)
    ratios = [sr.MLP.count_parameters(a) / 20 for a in archs]
    assert ratios == sorted(ratios) and abs(ratios[-1] - 8.0) < 0.2
    assert sv.parse_architecture("2-8-3") == sv.parse_architecture("2,8,3") == [2, 8, 3]
    with pytest.raises(sr.InputError):
        sv.parse_architecture("2-a-3")
    with pytest.raises(sr.InputError):
        sv.run_rank_survey(["2-3"], seeds=0)


# -- execution backends -----------------------------------------------------------------
def test_process_backend_gives_identical_table(serial_rank):
    parallel = sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, n_jobs=2)
    # equal up to BLAS round-off (workers use one BLAS thread; see SurveyResult.differences)
    assert parallel.matches(serial_rank), parallel.differences(serial_rank)[:5]


def test_dask_local_cluster_gives_identical_table(serial_rank):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, scheduler=cluster)
    assert on_dask.matches(serial_rank), on_dask.differences(serial_rank)[:5]


def test_tasks_do_not_depend_on_the_other_tasks(serial_rank):
    """Seeds come from (base seed, architecture, seed index): a sub-survey of seeds agrees."""
    sub = sv.run_rank_survey(ARCHS, seeds=[3, 4], n_samples=4, base_seed=7)
    strip = ("task_id",)
    by_key = {(r["arch_index"], r["seed_index"]): r for r in serial_rank.rows}
    for r in sub.rows:
        full = by_key[(r["arch_index"], r["seed_index"])]
        assert {k: v for k, v in r.items() if k not in strip} == {
            k: v for k, v in full.items() if k not in strip
        }


class Interrupt(Exception):
    pass


def stop_after(k):
    def progress(done, total):
        if done >= k:
            raise Interrupt

    return progress


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_interrupted_survey_resumes_to_the_same_table(serial_rank, tmp_path, n_jobs):
    out = tmp_path / "rank.jsonl"
    with pytest.raises(Interrupt):
        sv.run_rank_survey(
            ARCHS, seeds=5, n_samples=4, base_seed=7, out=out, n_jobs=n_jobs, progress=stop_after(6)
        )
    partial = sv.SurveyResult.read(out)
    assert 6 <= len(partial.rows) < 15  # what finished is kept
    calls = []
    resumed = sv.run_rank_survey(
        ARCHS, seeds=5, n_samples=4, base_seed=7, out=out, progress=lambda d, t: calls.append(d)
    )
    assert resumed.matches(serial_rank), resumed.differences(serial_rank)[:5]
    assert calls[0] == len(partial.rows) and calls[-1] == 15  # only the rest was run
    assert sv.SurveyResult.read(out).rows == resumed.rows


def test_truncated_file_resumes_to_the_same_table(serial_rank, tmp_path):
    out = tmp_path / "rank.jsonl"
    sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    lines = out.read_text().splitlines(keepends=True)
    # keep the header and 4 rows, then half a line: a write cut by a crash
    out.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])
    resumed = sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    assert resumed.rows == serial_rank.rows
    assert len(out.read_text().splitlines()) == 16  # header + 15 rows, no torn line


def test_differences_finds_changed_cells(serial_rank):
    changed = sv.SurveyResult(
        serial_rank.kind, serial_rank.config, [dict(r) for r in serial_rank.rows]
    )
    changed.rows[3]["sigma_max"] *= 1 + 1e-6
    changed.rows[4]["rank"] += 1
    diffs = changed.differences(serial_rank)
    assert [(d[0], d[1]) for d in diffs] == [(3, "sigma_max"), (4, "rank")]
    assert changed.matches(serial_rank, rtol=1e-5) is False  # the rank is discrete
    assert not sv.SurveyResult(serial_rank.kind, serial_rank.config, serial_rank.rows[:-1]).matches(
        serial_rank
    )


def test_resume_refuses_a_different_survey(tmp_path):
    out = tmp_path / "rank.jsonl"
    sv.run_rank_survey(["2-3-2"], seeds=2, n_samples=3, out=out)
    with pytest.raises(sr.InputError, match="different survey"):
        sv.run_rank_survey(["2-3-2"], seeds=2, n_samples=4, out=out)
    (tmp_path / "junk.jsonl").write_text('{"not": "a header"}\n')
    with pytest.raises(sr.InputError, match="header"):
        sv.run_rank_survey(["2-3-2"], seeds=2, n_samples=3, out=tmp_path / "junk.jsonl")


# -- the integrability survey (§2.4) ------------------------------------------------------
@settings(max_examples=5)
@given(st.integers(0, 1000))
def test_frobenius_survey_known_answers(base_seed):
    """A line field (QN = 1) and the whole tangent space (rank V = K) are involutive."""
    res = sv.run_frobenius_survey(
        ["1-2-1", "1-1-1", "2-3-1"], seeds=2, n_samples=[1, 4, 3], base_seed=base_seed
    )
    by_arch = {}
    for r in res.rows:
        assert r["error"] is None
        by_arch.setdefault(r["layers"], []).append(r)
    assert all(r["is_involutive"] for r in by_arch["1-2-1"])  # QN = 1
    assert all(r["K"] == r["QN"] and r["is_involutive"] for r in by_arch["1-1-1"])  # V = TR^K
    # a generic pullback bundle of rank 3 in R^13 is not involutive (§2.4)
    generic = by_arch["2-3-1"]
    assert all(0 <= r["relative_defect"] <= 1 for r in generic)
    assert not any(r["is_involutive"] for r in generic)


def test_frobenius_survey_plot_and_summary(tmp_path):
    res = sv.run_frobenius_survey(["1-2-1", "2-3-1"], seeds=3, n_samples=[1, 3])
    summary = res.summary()["architectures"]
    assert summary[0]["involutive_fraction"] == 1.0 and summary[1]["involutive_fraction"] == 0.0
    assert summary[1]["not_involutive_fraction"] == 1.0
    for e in summary:  # the three verdicts partition the networks
        total = e["involutive_fraction"] + e["not_involutive_fraction"] + e["inconclusive_fraction"]
        assert total == pytest.approx(1.0)
    assert res.plot(tmp_path / "frob.png").stat().st_size > 5_000


# -- the options object --------------------------------------------------------------------
def test_one_options_object_serves_both_surveys_and_keywords_build_it(serial_rank):
    opts = sv.SurveyOptions(architectures=ARCHS, seeds=5, n_samples=4, base_seed=7)
    assert sv.run_rank_survey(options=opts).rows == serial_rank.rows
    # a keyword overrides the same field of the options
    sub = sv.run_rank_survey(options=opts, seeds=[3, 4])
    assert sub.rows == sv.run_rank_survey(ARCHS, seeds=[3, 4], n_samples=4, base_seed=7).rows
    small = sv.SurveyOptions(architectures=["1-2-1"], seeds=2, n_samples=1)
    frob = sv.run_frobenius_survey(options=small)
    assert frob.kind == "frobenius" and frob.config["seeds"] == [0, 1]
    # fields left unset take each survey's own defaults
    assert sv.SurveyOptions().for_survey("rank").seeds == 10
    assert sv.SurveyOptions().for_survey("frobenius").seeds == 5
    with pytest.raises(TypeError, match="unknown survey option"):
        sv.run_rank_survey(ARCHS, sedes=5)
    with pytest.raises(sr.errors.InputError):
        sv.run_rank_survey(options={"seeds": 5})


def test_survey_names_stay_importable_from_surveys_and_the_folder():
    import importlib

    import subriemann.diagnostics as diagnostics

    modules = (
        "surveys",
        "survey_tasks",
        "statistics",
        "orbit_survey",
        "backends",
        "survey_store",
        "survey_summaries",
    )
    names = []
    for module_name in modules:
        module = importlib.import_module(f"subriemann.diagnostics.{module_name}")
        names += module.__all__
        for name in module.__all__:
            assert getattr(diagnostics, name) is getattr(module, name)
    assert len(names) == len(set(names)), "a name is listed in two modules' __all__"
    # the figures live in the report layer (figures belong to it), re-exported by its folder
    import subriemann.report as report
    from subriemann.report import survey_figures

    for name in survey_figures.__all__:
        assert getattr(report, name) is getattr(survey_figures, name)
    with pytest.raises(ImportError):
        importlib.import_module("subriemann.diagnostics.survey_figures")
    # what surveys exported before the split (the CLI and the docs use these)
    for name in (
        "SurveyTask", "SurveyResult", "parse_architecture", "architectures_for_ratios",
        "bingham_test", "make_tasks", "run_task", "run_survey", "run_rank_survey",
        "run_frobenius_survey", "SURVEY_KINDS", "SURVEY_SCHEMA", "WORKER_ENVIRONMENT",
        "WATCHDOG_INTERVAL",
    ):  # fmt: skip
        assert hasattr(sv, name), name


# -- reliability: layer specs, survey files, killed surveys, BLAS threads ------------------
@pytest.mark.parametrize(
    "spec", ["2,x,3", "2,,3", "2,-4,3", "2-x-2", "2.5,3", "2-8,3", "0-3", "7", "2x8x3", [2, 2.5]]
)
def test_parse_architecture_refuses_what_is_not_one_style_of_positive_ints(spec):
    with pytest.raises(sr.InputError, match="positive integer"):
        sv.parse_architecture(spec)


def test_parse_architecture_accepts_one_separator_style():
    assert sv.parse_architecture(" 2, 8 ,3 ") == sv.parse_architecture("2-8-3") == [2, 8, 3]
    assert sv.parse_architecture((1, 1)) == [1, 1]


def test_a_complete_last_row_without_newline_is_kept(serial_rank, tmp_path):
    out = tmp_path / "rank.jsonl"
    sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    lines = out.read_text().splitlines(keepends=True)
    # a crash between the row and its newline: the row is whole and must not be lost
    out.write_text("".join(lines[:5]) + lines[5].rstrip("\n"))
    assert len(sv.SurveyResult.read(out).rows) == 5
    calls = []
    resumed = sv.run_rank_survey(
        ARCHS, seeds=5, n_samples=4, base_seed=7, out=out, progress=lambda d, t: calls.append(d)
    )
    assert calls[0] == 5 and resumed.rows == serial_rank.rows and resumed.warnings == []
    assert len(out.read_text().splitlines()) == 16


def test_a_torn_last_line_is_skipped_with_a_warning(serial_rank, tmp_path):
    out = tmp_path / "rank.jsonl"
    sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:5]) + lines[5][:20])
    partial = sv.SurveyResult.read(out)
    assert len(partial.rows) == 4 and "torn last line" in partial.warnings[0]
    resumed = sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    assert resumed.rows == serial_rank.rows and "torn last line" in resumed.warnings[0]


def test_a_failed_append_leaves_only_whole_lines(serial_rank, tmp_path, monkeypatch):
    out = tmp_path / "rank.jsonl"
    real_fsync, calls = sv.os.fsync, []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 4:  # the disk reports the 4th append as failed
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(sv.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    monkeypatch.setattr(sv.os, "fsync", real_fsync)
    text = out.read_text()
    assert text.endswith("\n")
    assert [json.loads(line) for line in text.splitlines()]  # every line is whole JSON
    partial = sv.SurveyResult.read(out)
    assert partial.warnings == [] and len(partial.rows) >= 1
    resumed = sv.run_rank_survey(ARCHS, seeds=5, n_samples=4, base_seed=7, out=out)
    assert resumed.rows == serial_rank.rows and resumed.warnings == []


def _proc_stat(pid):
    """(ppid, state, start time) from /proc, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(pid):
    """{pid: start time} of every live descendant of ``pid``."""
    import os

    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _proc_stat(int(name))) is not None:
            table[int(name)] = st
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, state, start) in table.items():
            if ppid == parent and child not in found and state not in (b"Z", b"X"):
                found[child] = start
                frontier.append(child)
    return found


def _alive(pid, start):
    st = _proc_stat(pid)
    return st is not None and st[2] == start and st[1] not in (b"Z", b"X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_a_parallel_survey_leaves_no_workers(tmp_path):
    """SIGKILL of `subriemann survey ... --jobs 2`: its workers are gone within 10 s."""
    import os
    import signal
    import subprocess
    import time

    # each task takes many seconds, so workers left alone would outlive the check
    cmd = [sys.executable, "-m", "subriemann.cli", "survey", "frobenius", "--layers", "2-400-2"]
    cmd += ["--samples", "80", "--seeds", "4", "--jobs", "2", "--quiet", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            seen.update(_descendants(proc.pid))
            # the workers are grandchildren (forked by the forkserver)
            workers = [p for p, s in _descendants(proc.pid).items() if _proc_stat(p)[0] != proc.pid]
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None and len(workers) >= 2, "the survey started no workers"
        seen.update(_descendants(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p, s) for p, s in seen.items()):
            time.sleep(0.1)
        left = [p for p, s in seen.items() if _alive(p, s)]
        assert left == [], f"processes left behind: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p, s in seen.items():  # clean up after a failure: only what this test started
            if _alive(p, s):
                os.kill(p, signal.SIGKILL)


def test_dask_tasks_use_one_blas_thread_when_the_parent_uses_two():
    """The docs: Dask workers use one BLAS thread, whatever the caller's environment says."""
    import os
    import subprocess

    pytest.importorskip("distributed")
    pytest.importorskip("threadpoolctl")
    script = """
import json, threadpoolctl, distributed
import subriemann.diagnostics as dg
from subriemann.diagnostics import surveys as sv

def blas_threads():
    return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")

real = sv.run_task

def spy(task):  # what the task itself sees
    return {**real(task), "blas_threads": blas_threads()}

sv.run_task = spy
with distributed.LocalCluster(
    n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
) as cluster:
    res = sv.run_rank_survey(["2-3-2"], seeds=3, n_samples=3, scheduler=cluster)
print(json.dumps({"tasks": [r["blas_threads"] for r in res.rows], "after": blas_threads()}))
"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"tasks": [1, 1, 1], "after": 2}  # restored for the caller afterwards


# -- reproducible seeds: the architecture, not its position ----------------------------------
def test_architecture_key_is_a_stable_hash_of_the_spec():
    """SHA-256 of "2-8-3", first 8 bytes big-endian, computed here with hashlib directly."""
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"2-8-3").digest()[:8], "big")
    assert dg.architecture_key("2-8-3") == dg.architecture_key([2, 8, 3]) == expected
    assert dg.architecture_key("2,8,3") == expected  # one spec, whatever its spelling
    assert dg.architecture_key("2-8-2") != expected


POSITIONAL = {"task_id", "arch_index"}  # where a row sits in its survey, not what it measured


@pytest.mark.parametrize("kind", ["rank", "frobenius"])
def test_a_survey_of_one_architecture_reproduces_the_full_surveys_rows_bitwise(kind):
    archs = ["1-2-1", "2-3-1", "1-3-2"] if kind == "frobenius" else ARCHS
    run = sv.run_rank_survey if kind == "rank" else sv.run_frobenius_survey
    full = run(archs, seeds=3, n_samples=[1, 3, 2], base_seed=11)
    alone = run([archs[1]], seeds=3, n_samples=3, base_seed=11)
    middle = [r for r in full.rows if r["layers"] == archs[1]]
    assert len(middle) == len(alone.rows) == 3
    for a, b in zip(middle, alone.rows, strict=True):
        assert set(a) - POSITIONAL == set(b) - POSITIONAL
        # == on floats: bitwise (same process, same BLAS)
        assert {k: v for k, v in a.items() if k not in POSITIONAL} == {
            k: v for k, v in b.items() if k not in POSITIONAL
        }
    # and the order of the architectures does not matter either
    shuffled = run(archs[::-1], seeds=3, n_samples=[2, 3, 1], base_seed=11)
    key = lambda r: (r["layers"], r["seed_index"])  # noqa: E731
    strip = lambda r: {k: v for k, v in r.items() if k not in POSITIONAL}  # noqa: E731
    assert sorted(map(strip, shuffled.rows), key=key) == sorted(map(strip, full.rows), key=key)


def test_an_old_seeding_survey_file_is_refused_on_resume(tmp_path):
    """A file whose header lacks the seed key was made with positional seeds: never mixed."""
    out = tmp_path / "rank.jsonl"
    sv.run_rank_survey(["2-3-2"], seeds=2, n_samples=3, out=out)
    header, *rows = out.read_text().splitlines()
    old = json.loads(header)
    del old["header"]["config"]["seed_key"]
    out.write_text(json.dumps(old) + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(sr.InputError, match="different survey"):
        sv.run_rank_survey(["2-3-2"], seeds=2, n_samples=3, out=out)


# -- Prop. 2.2's hypothesis, structurally -------------------------------------------------------
def hand_layout(layers):
    """Column indices of the output biases and output weights of an MLP, from the layout
    W1 (row-major), b1, ..., W_{L+1} (Q × M_L, row-major), b_{L+1} counted here by hand."""
    sizes = [m * n + m for n, m in zip(layers[:-1], layers[1:], strict=True)]
    K = sum(sizes)
    Q, ML = layers[-1], layers[-2]
    bias = list(range(K - Q, K))
    weights = list(range(K - Q - Q * ML, K - Q))
    return K, bias, weights


@pytest.mark.parametrize("layers", [[2, 3, 2], [1, 4, 3], [2, 3, 2, 2], [3, 5, 1]])
def test_structural_checks_find_the_output_biases_and_the_zero_pattern(layers):
    N = 4
    net = sr.MLP(layers)
    f = sr.NetworkMap(net, np.random.default_rng(0).normal(size=(N, net.M)))
    D, D2 = f.jacobian(net.init(seed=1)), f.jacobian(net.init(seed=2))
    K, bias, weights = hand_layout(layers)
    Q = layers[-1]
    assert D.shape == (Q * N, K)
    st_ = dg.column_structure(D, D2)
    assert st_["atom_columns"] == bias  # ∂x/∂b_{L+1,q} = e_q ⊗ 1_N: θ-independent
    assert st_["atom_rank"] == Q
    # ∂x_{q'}/∂W_{L+1}[q, i] = 0 for q' ≠ q: each output weight column lives on N of QN rows
    assert st_["sparse_columns"] == (weights if Q > 1 else [])
    if Q > 1:
        assert st_["sparse_support_max"] == N
        out_layer = D[:, weights + bias]
        assert np.count_nonzero(out_layer == 0) == (Q - 1) * N * len(weights + bias)
        if Q == 2:  # half of the output-layer entries are exactly zero
            assert np.count_nonzero(out_layer == 0) * 2 == out_layer.size
    zeros = (Q - 1) * N * (len(weights) + len(bias))
    assert st_["exact_zero_fraction"] == zeros / D.size


def test_structural_checks_on_matrices_built_by_hand():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    A[:, 1] = B[:, 1] = [1.0, 0.0, 1.0, 0.0]  # an atom
    A[2, 4] = B[2, 4] = 0.0  # a structural zero
    A[0, 5] = 0.0  # a zero at one point only: not structural
    out = dg.column_structure(A, B)
    assert out["atom_columns"] == [1] and out["sparse_columns"] == [4]
    assert out["sparse_support_max"] == 3 and out["exact_zero_fraction"] == 3 / 24
    assert out["generic_rank"] == 4 and out["generic_full_rank"]
    with pytest.raises(sr.InputError):
        dg.column_structure(A, B[:, :5])


def test_rank_survey_reports_the_structure_and_the_rank_tolerance(serial_rank):
    for r in serial_rank.rows:
        layers = [int(m) for m in r["layers"].split("-")]
        _, bias, weights = hand_layout(layers)
        assert r["n_atoms"] == len(bias) == r["atom_rank"]
        assert r["n_sparse"] == len(weights) and r["sparse_support_max"] == r["N"]
        # numpy's rank rule: σ_max · max(QN, K) · eps
        assert r["rank_tolerance"] == pytest.approx(
            r["sigma_max"] * max(r["QN"], r["K"]) * np.finfo(float).eps, rel=1e-12
        )
    summary = serial_rank.summary()["architectures"]
    assert all(e["n_atoms"] == 2 and e["atom_rank"] == 2 for e in summary)
    assert "bingham_reject_fraction" not in summary[0]  # descriptive only, never a verdict


# -- figures: each point's own tolerance, and an inconclusive class ----------------------------
def scatter_labels(fig):
    return {c.get_label(): c for ax in fig.axes for c in ax.collections if c.get_label()}


def test_frobenius_figure_draws_three_classes_and_each_points_tolerance():
    from subriemann.report import survey_figure

    rows = [
        {"task_id": 0, "arch_index": 0, "layers": "1-3-1", "N": 3, "K": 10, "QN": 3, "ratio": 10 / 3,
         "relative_defect": 0.4, "tolerance": 1e-9, "is_involutive": False, "conclusive": True},
        {"task_id": 1, "arch_index": 1, "layers": "1-1-1", "N": 4, "K": 4, "QN": 4, "ratio": 1.0,
         "relative_defect": 1e-16, "tolerance": 1e-6, "is_involutive": True, "conclusive": True},
        {"task_id": 2, "arch_index": 2, "layers": "2-128-3", "N": 2, "K": 771, "QN": 6,
         "ratio": 128.5, "relative_defect": 0.38, "tolerance": 0.57, "is_involutive": True,
         "conclusive": False},
    ]  # fmt: skip
    for r in rows:
        r["error"] = None
    res = sv.SurveyResult("frobenius", {}, rows)
    fig = survey_figure(res)
    artists = scatter_labels(fig)
    assert {"involutive", "not involutive", "inconclusive", "each point's tolerance"} <= set(
        artists
    )
    # the 2-128-3 network (defect 0.38 against tolerance 0.57) is inconclusive, not involutive
    np.testing.assert_array_equal(artists["inconclusive"].get_offsets(), [[128.5, 0.38]])
    np.testing.assert_array_equal(artists["involutive"].get_offsets(), [[1.0, 1e-16]])
    tol = np.asarray(artists["each point's tolerance"].get_offsets())
    np.testing.assert_array_equal(tol, [[r["ratio"], r["tolerance"]] for r in rows])
    summary = res.summary()["architectures"]
    assert [e["inconclusive_fraction"] for e in summary] == [0.0, 0.0, 1.0]
    assert [e["involutive_fraction"] for e in summary] == [0.0, 1.0, 0.0]
    header, table = res.table()
    assert header[6:9] == ("involutive", "not involutive", "inconclusive")
    assert table[2][6:9] == ("0.00", "0.00", "1.00")


def test_rank_figure_draws_each_networks_rank_tolerance(serial_rank):
    from subriemann.report import survey_figure

    fig = survey_figure(serial_rank)
    artists = scatter_labels(fig)
    tol = np.asarray(artists["its rank tolerance"].get_offsets())
    np.testing.assert_array_equal(
        tol, [[r["ratio"], r["rank_tolerance"]] for r in serial_rank.rows]
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert any("descriptive" in t for t in titles)  # Bingham's S/dof is not a test of Prop. 2.2
