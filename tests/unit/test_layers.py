"""The engines never import the CLI layer (r1cli.app, r1cli.commands): they run in-process under
``r1 pipeline``, in SLURM jobs and from Python without Typer."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "r1cli"
CLI = ("r1cli.app", "r1cli.commands", "r1cli.__main__")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_engine_module_imports_the_cli_layer():
    engines = [p for p in PACKAGE.rglob("*.py")
               if p.relative_to(PACKAGE).parts[0] not in ("commands", "app.py", "__main__.py")]
    assert len(engines) > 50
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if m.startswith(CLI))
                 for p in engines}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_command_module_sits_beside_the_packages():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py", "app.py", "console.py",
                                                            "errors.py"]
