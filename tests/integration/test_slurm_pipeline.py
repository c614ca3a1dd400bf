"""`r1 slurm pipeline` on the real one-node SLURM: one job per stage chained afterok, the training stage
under torchrun with 2 processes; every stage's marker and the report are written by the jobs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

CONFIG = """\
output_dir: runs/chain
cpu_threads: 1
report: {benchmark: arith, n: 1, limit: 4, max_new_tokens: 8}
stages:
  data: {kind: data, task: arith, n: 32, held_out: 0}
  base: {kind: init-model, hidden_size: 32, num_layers: 1, num_heads: 2, num_kv_heads: 1, intermediate_size: 64}
  sft:
    kind: sft
    preset: tiny
    model: ${stages.base.output}
    data: ${stages.data.output}/sft.jsonl
    train: {max_steps: 2, save_steps: 1, per_device_batch_size: 4, logging_steps: 1}
"""


def test_a_pipeline_runs_as_a_chain_of_jobs(slurm, tmp_path):
    (tmp_path / "chain.yaml").write_text(CONFIG)
    res = slurm.r1("slurm", "pipeline", "--nproc-per-node", "2", "--cpus-per-task", "2", "--script", "chain.sbatch",
                   "--submit", "--wait", "--", "--config", "chain.yaml", cwd=tmp_path, timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    jobs = res.stdout.split()
    assert len(jobs) == 3 and all(slurm.state(j) == "COMPLETED" for j in jobs)
    out = tmp_path / "runs" / "chain"
    markers = {n: json.loads((out / ".stages" / f"{n}.json").read_text()) for n in ("data", "base", "sft")}
    assert markers["sft"]["summary"]["world_size"] == 2  # the training stage ran on 2 processes
    assert markers["sft"]["eval"]["metrics"]["pass@1"] is not None  # rank 0 scored it on held-out arith
    log = " ".join((tmp_path / "slurm-logs" / f"r1-pipeline-sft-{jobs[2]}.out").read_text().split())
    assert "1 node(s) x 2 process(es)" in log
    assert "| sft | sft | done |" in (out / "report.md").read_text()
    again = slurm.r1("pipeline", "--config", "chain.yaml", "--dry-run", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("] done") == 3
