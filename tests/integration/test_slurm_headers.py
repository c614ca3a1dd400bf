"""The real sbatch accepts every header the generator writes (`sbatch --test-only`: parsed and scheduled,
not run). The one-node cluster of scripts/slurm-up.sh advertises 2 fake GPUs, so GPU headers count too."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.slow

SHAPES = {
    "train": ["sft", "--gpus-per-node", "2", "--cpus-per-task", "2", "--partition", "debug", "--account", "proj",
              "--time", "1-00:00:00", "--mem", "1G", "--sbatch", "exclusive", "--sbatch", "--qos=normal",
              "--then-eval", "arith --model runs/sft/final", "--", "--preset", "tiny"],
    "accelerate": ["grpo", "--launcher", "accelerate", "--nproc-per-node", "2", "--time", "30", "--", "--preset", "x"],
    "array": ["sample", "--array", "4", "--array-limit", "2", "--gpus-per-node", "1", "--time", "2:00:00", "--",
              "--data", "p.jsonl"],
    "curate": ["curate", "--array", "2", "--gpus-per-node", "1", "--", "--data", "p.jsonl", "--steps", "difficulty"],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_sbatch_accepts_generated_headers(slurm, tmp_path, shape):
    res = slurm.r1("slurm", *SHAPES[shape][:1], "--script", f"{shape}.sbatch", *SHAPES[shape][1:], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    scripts = sorted(tmp_path.glob("*.sbatch"))
    assert len(scripts) == (1 if shape == "accelerate" else 2)
    for script in scripts:
        check = subprocess.run(["sbatch", "--test-only", str(script)], cwd=tmp_path, capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0 and "to start at" in check.stderr, f"{script.name}: {check.stderr}"
