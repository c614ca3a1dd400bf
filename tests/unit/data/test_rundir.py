"""One run per output directory: a file is refused, a different run is refused, a live run holds a lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from r1cli.data.rundir import claim_output_dir, config_differences
from r1cli.errors import R1Error

CFG = {"output_dir": "o", "resume": None, "model": {"path": "m"}, "train": {"learning_rate": 0.1, "cpu_threads": 1}}


def claim(out, cfg=CFG, **kw):
    return claim_output_dir(out, cfg, yaml_text=f"{cfg}\n", command="sft", **kw)


def test_differences_name_keys_and_skip_how_keys():
    new = {**CFG, "resume": "latest", "model": {"path": "m2"}, "train": {"learning_rate": 0.2, "cpu_threads": 2}}
    # resume and train.cpu_threads steer how the run goes; model.path and the learning rate change what it computes
    assert config_differences(CFG, new) == ["model.path: 'm' -> 'm2'", "train.learning_rate: 0.1 -> 0.2"]
    assert config_differences(CFG, new, ignore=("model",)) == ["train.learning_rate: 0.1 -> 0.2"]
    assert config_differences(CFG, {**CFG, "new_key": 1}) == []  # a key only one side has (another r1 version)


def test_an_existing_file_is_refused_and_left_alone(tmp_path):
    f = tmp_path / "taken"
    f.write_text("mine")
    with pytest.raises(R1Error, match=r"--output-dir .*taken: is an existing file"), claim(f):
        pass
    with pytest.raises(R1Error, match=r"taken is an existing file"), claim(f / "sub"):
        pass
    assert f.read_text() == "mine"


def test_a_different_run_is_refused_without_touching_it(tmp_path):
    with claim(tmp_path):
        (tmp_path / "samples.jsonl").write_text("x\n")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    other = {**CFG, "model": {"path": "other"}}
    with pytest.raises(R1Error, match=r"different config \(model.path: 'm' -> 'other'\).*--overwrite"), claim(tmp_path, other):
        pass
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    with claim(tmp_path, {**CFG, "resume": "latest"}):  # the same run resumed: accepted, its config.yaml kept
        pass
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != ".r1.lock"} == \
        {k: v for k, v in before.items() if k != ".r1.lock"}


def test_overwrite_discards_the_earlier_run(tmp_path):
    with claim(tmp_path):
        (tmp_path / "samples.jsonl").write_text("x\n")
    other = {**CFG, "model": {"path": "other"}}
    with claim(tmp_path, other, overwrite=True):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r1.lock", "config.yaml"]
    assert "other" in (tmp_path / "config.yaml").read_text()


def test_a_run_that_fails_before_writing_outputs_leaves_nothing(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(R1Error, match="bad data"), claim(out):
        raise R1Error("bad data")
    assert not out.exists()
    with claim(out):  # the corrected rerun, with another config, is not refused
        (out / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(RuntimeError), claim(out):  # a failure after outputs exist keeps the run's config
        raise RuntimeError("diverged")
    assert (out / "config.yaml").is_file()


def test_claims_nest_in_one_process(tmp_path):
    with claim(tmp_path), claim(tmp_path):
        pass


_HOLDER = """
import sys, time
from r1cli.data.rundir import claim_output_dir
with claim_output_dir(sys.argv[1], {"a": 1}, yaml_text="a: 1\\n", command="sft"):
    print("held", flush=True)
    time.sleep(60)
"""


def _start_holder(out):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_live_run_is_refused_and_kill_9_releases_the_lock(tmp_path):
    proc = _start_holder(tmp_path)
    try:
        with pytest.raises(R1Error, match=rf"in use by pid {proc.pid} \(another r1 run"), \
                claim_output_dir(tmp_path, {"a": 1}, yaml_text="a: 1\n", command="sft"):
            pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while True:  # the kernel drops a dead process's flock: the rerun is never blocked
        try:
            with claim_output_dir(tmp_path, {"a": 1}, yaml_text="a: 1\n", command="sft"):
                break
        except R1Error:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_an_input_file_changed_at_the_same_path_is_refused(tmp_path):
    data = tmp_path / "problems.jsonl"
    data.write_text('{"id": "a", "problem": "1+1"}\n')
    out = tmp_path / "run"
    with claim(out, inputs={"data.path": str(data)}):
        (out / "samples.jsonl").write_text("x\n")
    with claim(out, inputs={"data.path": str(data)}):  # the same file again: the same run
        pass
    data.write_text('{"id": "b", "problem": "2+2"}\n')
    with pytest.raises(R1Error, match=r"input changed since it started \(data.path: the file at the same path"), \
            claim(out, inputs={"data.path": str(data)}):
        pass
    with claim(out, inputs={"data.path": "org/hub-dataset"}):  # not a local file: nothing to compare
        pass
