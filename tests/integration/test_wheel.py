"""Presets ship inside the wheel: build it, install it into a fresh venv, list the presets there."""

from __future__ import annotations

import subprocess
import sys
import venv

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_wheel_ships_presets(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(REPO_ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("r1cli-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # Only what `r1 presets list` needs; the heavy runtime deps are imported lazily.
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "typer", "rich", "pydantic", "pyyaml"],
                   check=True, capture_output=True, timeout=300)
    out = subprocess.run([str(env_dir / "bin" / "r1"), "presets", "list"], capture_output=True, text=True,
                         check=True, cwd=tmp_path, timeout=120).stdout
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    shipped = {f"{p.parent.name}/{p.stem}" for p in (REPO_ROOT / "r1cli" / "presets").glob("*/*.yaml")}
    assert shipped and names == shipped
