"""The pipeline config and its plan: stages resolved, wired and validated before anything runs.

A pipeline config (``r1cli/presets/pipeline/*.yaml``, ``--config FILE``, ``--set stages.NAME.KEY=V``)::

    output_dir: runs/tiny-r1
    report: {benchmark: arith, n: 4, limit: 200}       # held-out pass@1 of every model stage
    stages:
      cold_start:
        kind: sft                                      # a stage kind (r1cli.pipeline.stages.KINDS)
        preset: tiny                                   # optional: a preset of that command
        model: ${stages.base.output}                   # shorthand for model.path; wired to an earlier stage
        data: ${stages.data.output}/sft.jsonl          # shorthand for data.path
        train: {max_steps: 400}                        # any key of the command's own config

Stages run in the order written, each in ``<output_dir>/<name>``. ``${stages.NAME.output}`` is what
stage NAME produced (a trained model's ``final/``, else its directory) and ``${stages.NAME.dir}`` its
directory; a stage may only name earlier stages. Every mistake is one line naming the stage and the
key: an unknown kind, a reference to a stage that does not exist, to itself (a cycle) or to a later
one, a key the command's config does not accept, a value of the wrong type.

Each stage gets a *key*: the hash of its kind, its resolved config, the keys of the stages it reads
and the contents of the local files it reads from outside the pipeline. A finished stage records its
key; a stage whose key changed is stale, and so is every stage that reads it (their keys change too).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1cli.config.core import Section, check_keys, deep_merge, find_preset, load_yaml_file, to_yaml, validate
from r1cli.config.pipeline import PipelineConfig
from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.pipeline.stages import KINDS, StageKind, stage_output

REF = re.compile(r"\$\{stages\.([^.}]+)\.([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
STAGE_KEYS = ("kind", "preset", "report")  # stage-level keys of the pipeline; the rest is the command's config
HASH_SKIP = frozenset({"resume", "output_dir"})  # how a stage runs, not what it computes


@dataclass
class Stage:
    """One resolved stage: its config (a validated command config), wiring and key."""

    index: int
    name: str
    kind: StageKind
    config: Section
    dir: Path
    output: Path
    deps: list[str]
    report: bool
    key: str = ""
    files: dict[str, str] = field(default_factory=dict)  # outside files read -> content hash

    def config_data(self) -> dict:
        return self.config.model_dump(mode="json")


@dataclass
class Plan:
    config: PipelineConfig
    out: Path
    stages: list[Stage]
    report_data: str | None = None

    def get(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise R1Error(f"no stage '{name}'{did_you_mean(name, self.names())}; stages: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [s.name for s in self.stages]


@dataclass(frozen=True)
class _Wiring:
    """What references resolve against: stage order, their kinds, the pipeline's directory."""

    order: dict[str, int]
    kinds: dict[str, Any]
    out: Path


def _substitute(value: Any, where: str, name: str, w: _Wiring, deps: list[str]) -> Any:
    """Replace ``${stages.X.output|dir}`` in every string of ``value``; check X exists and comes earlier."""
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}", name, w, deps) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]", name, w, deps) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match) -> str:
        ref, what = m.group(1), m.group(2)
        if what not in ("output", "dir"):
            raise R1Error(f"{where}: '{m.group(0)}': a stage has 'output' and 'dir', not '{what}'"
                          f"{did_you_mean(what, ['output', 'dir'])}")
        if ref not in w.order:
            raise R1Error(f"{where}: '{m.group(0)}' names no stage{did_you_mean(ref, w.order)}; "
                          f"stages: {', '.join(w.order)}")
        if ref == name:
            raise R1Error(f"{where}: '{m.group(0)}' is the stage's own output (a cycle): a stage reads only the "
                          "outputs of earlier stages")
        if w.order[ref] > w.order.get(name, len(w.order)):
            raise R1Error(f"{where}: '{m.group(0)}': stage '{ref}' comes later (stages run in the order written, "
                          "so each reads only earlier outputs; move it up)")
        if ref not in deps:
            deps.append(ref)
        base = w.out / ref
        return str(stage_output(w.kinds[ref], base) if what == "output" else base)

    return REF.sub(repl, value)


def _expand_shorthands(kind: StageKind, layer: dict, where: str) -> dict:
    out: dict = {}
    for key, value in layer.items():
        target = kind.shorthands.get(key)
        if target is not None and isinstance(value, (str, list)) and not isinstance(layer.get(key), dict):
            if target == "inputs":  # curate: data: FILE (or a list) -> inputs: [{path: FILE}]
                paths = [value] if isinstance(value, str) else value
                out = deep_merge(out, {"inputs": [{"path": p} if isinstance(p, str) else p for p in paths]})
                continue
            if not isinstance(value, str):
                raise R1Error(f"{where}.{key}: expected a path, got a list")
            parts = target.split(".")
            nested: Any = value
            for part in reversed(parts):
                nested = {part: nested}
            out = deep_merge(out, nested)
        else:
            out = deep_merge(out, {key: value})
    return out


def _resolve_stage(index: int, name: str, raw: Any, w: _Wiring) -> Stage:
    where = f"stages.{name}"
    if not _NAME.match(name):
        raise R1Error(f"{where}: a stage name is letters, digits, '_' and '-', starting with a letter")
    if not isinstance(raw, dict):
        raise R1Error(f"{where}: expected a mapping with at least 'kind', got {type(raw).__name__}")
    kind_name = raw.get("kind")
    if kind_name is None:
        raise R1Error(f"{where}.kind is missing: {one_of(KINDS)}")
    if kind_name not in KINDS:
        raise R1Error(f"{where}.kind: unknown stage kind '{kind_name}'{did_you_mean(str(kind_name), KINDS)}; "
                      f"{one_of(KINDS)}")
    kind = KINDS[kind_name]
    schema = kind.schema()
    deps: list[str] = []
    layer = {k: v for k, v in raw.items() if k not in STAGE_KEYS}
    if "output_dir" in layer:
        raise R1Error(f"{where}.output_dir: a stage writes into <pipeline output_dir>/{name}; remove the key")
    layer = _substitute(layer, where, name, w, deps)
    out = w.out
    layer = _expand_shorthands(kind, layer, where)
    layer["output_dir"] = str(out / name)
    if kind.resume:
        layer.setdefault("resume", "latest")
    layers: list[tuple[str, dict]] = []
    preset = raw.get("preset")
    if preset is not None:
        path = find_preset(str(preset), kind.preset_command or kind.name)
        layers.append((f"preset {path.stem} of {where}", load_yaml_file(path, "preset")))
    merged: dict = {}
    for source, data in layers:
        check_keys(schema, data, source)
        merged = deep_merge(merged, data)
    check_keys(schema, layer, f"pipeline config ({where})", prefix=f"{where}.")
    merged = deep_merge(merged, layer)
    try:
        cfg = validate(schema, merged, where)
    except R1Error as e:
        message = str(e)
        raise R1Error(message if where in message else f"{where}: {message}") from None
    report = raw.get("report", kind.model_output)
    if not isinstance(report, bool):
        raise R1Error(f"{where}.report: expected true or false, got {report!r}")
    return Stage(index, name, kind, cfg, out / name, stage_output(kind, out / name), deps,
                 report and kind.model_output)


def build_plan(pcfg: PipelineConfig) -> Plan:
    """Resolve, wire and validate every stage (nothing runs, nothing is written)."""
    if not pcfg.stages:
        raise R1Error("the pipeline has no stages: give a --preset (r1 presets list) or stages: in --config")
    out = Path(pcfg.output_dir)
    stages: list[Stage] = []
    w = _Wiring({name: i for i, name in enumerate(pcfg.stages)}, {}, out)
    for i, (name, raw) in enumerate(pcfg.stages.items()):
        stage = _resolve_stage(i, name, raw, w)
        w.kinds[name] = stage.kind  # a later stage's references see it
        stages.append(stage)
    report_data = None
    if pcfg.report.data:
        report_data = _substitute(pcfg.report.data, "report.data", "", w, [])
    plan = Plan(pcfg, out, stages, report_data)
    keys: dict[str, str] = {}
    for stage in stages:
        stage.files = outside_files(stage.config_data(), out)
        stage.key = stage_key(stage, [keys[d] for d in stage.deps], out)
        keys[stage.name] = stage.key
    return plan


def _strip(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in HASH_SKIP}


def stage_key(stage: Stage, dep_keys: list[str], out: Path | None = None) -> str:
    """The hash of what a stage computes; paths inside the pipeline's directory count relative to it,
    so a moved or copied run directory keeps its stages done."""
    blob = json.dumps({"kind": stage.kind.name, "config": _strip(stage.config_data()), "deps": dep_keys,
                       "files": stage.files}, sort_keys=True, default=str)
    if out is not None:
        for prefix in sorted({str(out), str(out.resolve())}, key=len, reverse=True):
            blob = blob.replace(json.dumps(prefix)[1:-1], "<output_dir>")
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def outside_files(config: Any, out: Path) -> dict[str, str]:
    """Content hashes of the local files and directories a config names outside the pipeline's directory."""
    found: dict[str, str] = {}
    root = out.resolve()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value and len(value) < 4096:
            p = Path(value)
            try:
                if not p.exists() or p.resolve().is_relative_to(root):
                    return
            except (OSError, ValueError):
                return
            found[value] = path_hash(p)

    walk(config)
    return dict(sorted(found.items()))


def path_hash(path: Path, big: int = 16 << 20) -> str:
    """sha256 of a file's bytes; for a directory, of every file's relative path and bytes (files over
    ``big`` bytes count by size and modification time, so a multi-GB model dir costs no full read)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        rel = f.name if f == path else str(f.relative_to(path))
        st = f.stat()
        h.update(rel.encode() + b"\0")
        if st.st_size > big:
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def stage_yaml(stage: Stage) -> str:
    return to_yaml(stage.config)
