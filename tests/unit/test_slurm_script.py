"""`r1 slurm`: the generated sbatch text, what it executes (run in bash against stub srun/scontrol), and
submission wiring (against a stub sbatch). No real SLURM needed; tests/integration/test_slurm*.py use one."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from r1cli.errors import R1Error
from r1cli.slurm import (
    SlurmJob,
    array_script,
    chain_commands,
    merge_script,
    plan_scripts,
    submit_plan,
    train_script,
    wait_for,
)

ARGS = ["--preset", "tiny", "--set", "data.system_prompt=think step by step", "--output-dir", "runs/it's here"]


def sbatch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#SBATCH")]


def first_command_index(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))


def stub(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    p = bin_dir / name
    p.write_text("#!/bin/bash\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)


def run_script(text: str, tmp_path: Path, **env: str) -> list[list[str]]:
    """Run a generated script with stub srun/scontrol/getent; return the argv of every srun call.

    The stub srun records its argv, then (like srun) runs the command with SLURM_NODEID=1, so a
    `bash -c` launcher line is executed too; the stub python records its argv instead of running.
    """
    bin_dir = tmp_path / "bin"
    calls = tmp_path / "calls.jsonl"
    record = ("import json,sys; open(sys.argv[1],'a').write(json.dumps(sys.argv[2:])+'\\n')")
    stub(bin_dir, "srun", f'python3 -c "{record}" {calls} srun "$@"\nwhile [[ "$1" == --* ]]; do shift; done\n'
                          'SLURM_NODEID=1 "$@"\n')
    stub(bin_dir, "fakepython", f'python3 -c "{record}" {calls} python "$@"\n')
    stub(bin_dir, "scontrol", 'echo node-a; echo node-b\n')
    stub(bin_dir, "getent", env.pop("GETENT", 'echo "10.1.2.3      STREAM $2"\n'))
    script = tmp_path / "job.sbatch"
    script.write_text(text)
    base = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "node-[a-b]", "SLURM_NNODES": "2",
            "SLURM_JOB_ID": "4321", "R1_PYTHON": str(bin_dir / "fakepython"), "HOME": str(tmp_path)}
    res = subprocess.run(["bash", str(script)], env={**base, **env}, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


# ------------------------------------------------------------------------------------------- headers


def test_header_has_every_resource_and_extra_lines_before_any_command():
    job = SlurmJob("sft", ARGS, nodes=2, gpus_per_node=4, cpus_per_task=32, partition="gpu", time="1-12:00:00",
                   account="proj", mem="200G", extra_sbatch=["qos=high", "--exclusive", "#SBATCH --constraint=a100"],
                   log_dir="logs/r1")
    text = train_script(job)
    assert text.startswith("#!/bin/bash\n")
    assert sbatch_lines(text) == [
        "#SBATCH --job-name=r1-sft", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=32", "#SBATCH --gpus-per-node=4", "#SBATCH --partition=gpu",
        "#SBATCH --time=1-12:00:00", "#SBATCH --account=proj", "#SBATCH --mem=200G",
        "#SBATCH --output=logs/r1/%x-%j.out", "#SBATCH --qos=high", "#SBATCH --exclusive",
        "#SBATCH --constraint=a100"]
    lines = text.splitlines()
    last_sbatch = max(i for i, line in enumerate(lines) if line.startswith("#SBATCH"))
    assert last_sbatch < first_command_index(lines)  # sbatch stops reading directives at the first command
    assert 'export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"' in text


def test_cpu_job_has_no_gpu_line_and_setup_lines_run_before_python():
    job = SlurmJob("sft", ARGS, setup=["module load cuda/12.4", "source /opt/venv/bin/activate"])
    text = train_script(job)
    assert not any("gpus" in line for line in sbatch_lines(text))
    lines = text.splitlines()
    i_module, i_python = lines.index("module load cuda/12.4"), lines.index("R1_PYTHON=${R1_PYTHON:-python}")
    assert lines.index("set -eo pipefail") < i_module < lines.index("source /opt/venv/bin/activate") < i_python
    # no setup lines: the submitting Python, which the job inherits with the environment
    assert f"R1_PYTHON=${{R1_PYTHON:-{shlex.quote(SlurmJob('sft', []).python or '')}" not in text
    import sys

    assert f"R1_PYTHON=${{R1_PYTHON:-{shlex.quote(sys.executable)}}}" in train_script(SlurmJob("sft", ARGS))
    assert "R1_PYTHON=${R1_PYTHON:-/opt/py/bin/python}" in train_script(SlurmJob("sft", ARGS, python="/opt/py/bin/python"))


def test_every_block_is_commented():
    text = train_script(SlurmJob("sft", ARGS, nodes=2, gpus_per_node=8))
    for title in ("resources", "environment", "rendezvous", "launch"):
        assert any(line.startswith("# --- ") and title in line for line in text.splitlines()), title


# ----------------------------------------------------------------------------------- launch lines


def test_torchrun_one_task_per_node_with_c10d_on_first_node(tmp_path):
    job = SlurmJob("sft", ARGS, nodes=2, gpus_per_node=4, cpus_per_task=8)
    calls = run_script(train_script(job), tmp_path, SLURM_CPUS_PER_TASK="8")
    assert len(calls) == 2  # srun once; the stub then "runs" torchrun via the stub python
    srun, torchrun = calls
    assert srun[:2] == ["srun", "--kill-on-bad-exit=1"]
    # port = 20000 + 4321 % 20000 = 24321; rendezvous on node-a (first of `scontrol show hostnames`) -> 10.1.2.3
    assert torchrun == ["python", "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=4",
                        "--rdzv_backend=c10d", "--rdzv_endpoint=10.1.2.3:24321", "--rdzv_id=4321",
                        "-m", "r1cli", "sft", *ARGS]  # args with spaces and quotes arrive unchanged


def test_rendezvous_falls_back_to_the_node_name_when_it_does_not_resolve(tmp_path):
    job = SlurmJob("sft", ARGS, nodes=2, nproc_per_node=1, master_port=29600)
    _, torchrun = run_script(train_script(job), tmp_path, GETENT="exit 2\n")
    assert "--rdzv_endpoint=node-a:29600" in torchrun


def test_accelerate_launch_machine_rank_from_node_id(tmp_path):
    job = SlurmJob("grpo", ARGS, nodes=2, nproc_per_node=2, launcher="accelerate", master_port=29511)
    text = train_script(job)
    assert "presets/accelerate/ddp.yaml" in text and " --cpu " not in text.split("-m accelerate")[1]
    _, launch = run_script(text, tmp_path)
    cfg = launch[launch.index("--config_file") + 1]
    assert cfg.endswith("presets/accelerate/ddp.yaml") and Path(cfg).is_file()
    # 2 nodes x 2 processes = 4; the stub srun set SLURM_NODEID=1 -> machine rank 1
    assert launch[:5] == ["python", "-m", "accelerate.commands.launch", "--machine_rank", "1"]
    assert launch[launch.index("--num_processes") + 1] == "4"
    assert launch[launch.index("--num_machines") + 1] == "2"
    assert launch[launch.index("--main_process_ip") + 1] == "10.1.2.3"
    assert launch[launch.index("--main_process_port") + 1] == "29511"
    assert launch[-len(ARGS) - 3:] == ["-m", "r1cli", "grpo", *ARGS]


def test_deepspeed_is_left_to_the_r1_command():
    with pytest.raises(R1Error, match=r"--deepspeed zero3.* after `--`"):
        SlurmJob("sft", ARGS, launcher="accelerate", accelerate_config="zero3")
    text = train_script(SlurmJob("sft", [*ARGS, "--deepspeed", "zero2"], gpus_per_node=8))
    assert "# DeepSpeed (zero2) is set up by r1 itself" in text


def test_single_process_runs_without_launcher(tmp_path):
    for job in (SlurmJob("sft", ARGS), SlurmJob("sft", ARGS, gpus_per_node=4, launcher="none"),
                SlurmJob("distill", ["--teacher", "m t"])):
        text = train_script(job)
        assert "torch.distributed.run" not in text and "accelerate" not in text
    calls = run_script(train_script(SlurmJob("distill", ["--teacher", "m t"])), tmp_path)
    assert calls[-1] == ["python", "-m", "r1cli", "distill", "--teacher", "m t"]


# ------------------------------------------------------------------------------- arrays and chains


def test_array_and_merge_scripts(tmp_path):
    job = SlurmJob("sample", ["--data", "my problems.jsonl", "-o", "runs/s"], array=3, array_limit=2,
                   gpus_per_node=1, log_dir="logs")
    arr = array_script(job)
    assert "#SBATCH --array=0-2%2" in sbatch_lines(arr) and "#SBATCH --output=logs/%x-%A_%a.out" in arr
    assert "#SBATCH --gpus-per-node=1" in sbatch_lines(arr) and "#SBATCH --nodes=1" in sbatch_lines(arr)
    calls = run_script(arr.replace('"$R1_PYTHON"', 'srun "$R1_PYTHON"'), tmp_path, SLURM_ARRAY_TASK_ID="2")
    assert calls[-1] == ["python", "-m", "r1cli", "sample", "--data", "my problems.jsonl", "-o", "runs/s",
                         "--shard", "2/3"]
    merge = merge_script(job)
    assert "#SBATCH --kill-on-invalid-dep=yes" in sbatch_lines(merge)
    assert not any("gpus" in line for line in sbatch_lines(merge))  # merging is CPU work
    assert "sample --data 'my problems.jsonl' -o runs/s --merge-shards 3" in merge
    assert "#SBATCH --job-name=r1-sample-merge" in merge


def test_eval_and_curate_arrays():
    ev = SlurmJob("eval", ["arith", "--model", "m"], array=4)
    assert '--shard "$SLURM_ARRAY_TASK_ID/4"' in array_script(ev)
    assert "eval arith --model m --merge-shards 4" in merge_script(ev)
    cu = SlurmJob("curate", ["--data", "p.jsonl", "--steps", "dedup,difficulty"], array=2, gpus_per_node=1)
    assert '-m r1cli.commands.slurm_curate shard "$SLURM_ARRAY_TASK_ID/2" -- --data p.jsonl --steps dedup,difficulty' in \
        array_script(cu)
    merge = merge_script(cu)
    assert "-m r1cli.commands.slurm_curate merge 2 -- --data p.jsonl" in merge
    assert merge.rstrip().endswith("-m r1cli curate --data p.jsonl --steps dedup,difficulty")
    assert "#SBATCH --gpus-per-node=1" in merge  # the curate run reloads its backend


def test_plan_wires_dependencies_and_then_eval(tmp_path):
    job = SlurmJob("sample", ["--data", "p.jsonl"], array=2)
    plan = plan_scripts(job, tmp_path / "s.sbatch", then_eval="arith --samples 'runs/s/samples.jsonl'")
    assert [p.path.name for p in plan] == ["s.sbatch", "s-merge.sbatch", "s-eval.sbatch"]
    assert [p.after for p in plan] == [None, 0, 1]  # merge after the array, eval after the merge
    assert plan[2].text.rstrip().endswith("-m r1cli eval arith --samples runs/s/samples.jsonl")
    assert chain_commands(plan)[1] == f"JOB1=$(sbatch --parsable --dependency=afterok:$JOB0 {tmp_path}/s-merge.sbatch)"
    train = plan_scripts(SlurmJob("sft", ARGS, gpus_per_node=2), tmp_path / "t.sbatch", then_eval="arith -m x")
    assert [p.after for p in train] == [None, 0] and "#SBATCH --kill-on-invalid-dep=yes" in train[1].text
    with pytest.raises(R1Error, match="--then-eval"):
        plan_scripts(job, tmp_path / "s.sbatch", then_eval="arith --model 'unclosed")


# -------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, message", [
    ({"command": "sfr"}, r"unknown command 'sfr' \(did you mean 'sft'\?\)"),
    ({"command": "sft", "array": 3}, "--array splits sample, eval, curate"),
    ({"command": "sample", "nodes": 2}, "--nodes 2 runs only training commands"),
    ({"command": "sft", "time": "3 hours"}, "--time '3 hours' is not a Slurm time"),
    ({"command": "sft", "mem": "lots"}, "--mem 'lots'"),
    ({"command": "sft", "nproc_per_node": 0}, "--nproc-per-node must be at least 1"),
    ({"command": "sft", "launcher": "torchrn"}, r"did you mean 'torchrun'"),
    ({"command": "sft", "accelerate_config": "ddp"}, "needs --launcher accelerate"),
    ({"command": "sft", "launcher": "accelerate", "accelerate_config": "dpp"}, r"no such file \(did you mean 'ddp'"),
    ({"command": "sft", "job_name": "my job"}, "must not contain spaces"),
    ({"command": "sample", "array_limit": 2}, "--array-limit needs --array"),
    ({"command": "sample", "workdir": "rel/dir"}, "--chdir 'rel/dir' must be an absolute path"),
    ({"command": "sft", "extra_sbatch": ["   "]}, "--sbatch needs an option"),
])
def test_mistakes_are_one_line_errors(kwargs, message):
    kwargs.setdefault("args", [])
    with pytest.raises(R1Error, match=message):
        SlurmJob(**kwargs)


def test_array_refuses_shard_flags_given_by_hand():
    with pytest.raises(R1Error, match="adds --shard itself"):
        SlurmJob("sample", ["--shard", "0/2"], array=2)
    with pytest.raises(R1Error, match="adds --merge-shards itself"):
        SlurmJob("eval", ["--merge-shards=2"], array=2)


# ------------------------------------------------------------------------------------ CLI and submit


def test_cli_dry_run_writes_nothing_and_write_mode_writes_scripts(tmp_path, monkeypatch):
    from r1cli.app import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["slurm", "sample", "--array", "2", "--dry-run", "--", "--data", "p.jsonl"])
    assert res.exit_code == 0, res.output
    assert "# ==== r1-job.sbatch" in res.output and "# ==== r1-job-merge.sbatch" in res.output
    assert list(tmp_path.iterdir()) == []
    res = runner.invoke(app, ["slurm", "sft", "--script", "jobs/train.sbatch", "--log-dir", "logs", "--",
                              "--preset", "tiny"])
    assert res.exit_code == 0, res.output
    script = tmp_path / "jobs" / "train.sbatch"
    assert script.stat().st_mode & stat.S_IXUSR and (tmp_path / "logs").is_dir()
    text = script.read_text()
    assert "-m r1cli sft --preset tiny" in text
    assert f"#SBATCH --chdir={tmp_path.resolve()}" in text  # logs and r1 outputs resolve from here
    res = runner.invoke(app, ["slurm", "sft", "--wait", "--", "--preset", "tiny"])
    assert res.exit_code != 0 and "--wait needs --submit" in str(res.exception)


def test_submit_passes_afterok_dependencies_and_wait_polls_scontrol(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    log = tmp_path / "sbatch.log"
    # a stub sbatch: job ids 101, 102, ... ; records its arguments
    stub(bin_dir, "sbatch", f'n=$(( $(cat {log} 2>/dev/null | wc -l) + 101 )); echo "$@" >> {log}; echo "$n;cluster"\n')
    stub(bin_dir, "scontrol", 'echo "JobId=$4 JobName=x JobState=COMPLETED Reason=None ExitCode=0:0"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    plan = plan_scripts(SlurmJob("sample", ["--data", "p"], array=3), tmp_path / "a.sbatch", then_eval="arith")
    seen = []
    ids = submit_plan(plan, wait=True, on_submit=lambda p, i: seen.append((p.path.name, i)))
    assert ids == ["101", "102", "103"]
    assert seen == [("a.sbatch", "101"), ("a-merge.sbatch", "102"), ("a-eval.sbatch", "103")]
    assert log.read_text().splitlines() == [
        f"--parsable {tmp_path}/a.sbatch",
        f"--parsable --dependency=afterok:101 {tmp_path}/a-merge.sbatch",
        f"--parsable --dependency=afterok:102 {tmp_path}/a-eval.sbatch"]
    stub(bin_dir, "scontrol", 'echo "JobId=7_0 JobState=COMPLETED ExitCode=0:0"; '
                              'echo "JobId=7_1 JobState=FAILED ExitCode=3:0"\n')
    with pytest.raises(R1Error, match=r"job 7 .*ended FAILED \(exit code 3:0\)"):
        wait_for("7", poll_s=0.01)


def test_submit_without_sbatch_is_a_clear_error(tmp_path, monkeypatch):
    from r1cli.slurm import sbatch

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(R1Error, match="sbatch not found"):
        sbatch(tmp_path / "x.sbatch")


def test_dpo_runs_under_torchrun_like_the_other_trainers(tmp_path):
    job = SlurmJob("dpo", ["--preset", "tiny", "--resume", "latest"], nodes=2, gpus_per_node=2, cpus_per_task=4)
    calls = run_script(train_script(job), tmp_path, SLURM_CPUS_PER_TASK="4")
    assert calls[1][:5] == ["python", "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=2"]
    assert calls[1][calls[1].index("r1cli") + 1:] == ["dpo", "--preset", "tiny", "--resume", "latest"]
