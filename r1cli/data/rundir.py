"""One run per output directory: refuse a path that is a file, refuse a different run, lock while running.

:func:`claim_output_dir` is called by every command (and by ``r1 pipeline`` for each stage) after the
config has been resolved and validated, and before the engine writes anything:

1. ``output_dir`` must be a directory or not exist (an existing *file* is one line, exit 2);
2. if the directory already holds a run (``config.yaml``), the new resolved config is compared with it
   key by key; a difference in a key that changes what the run computes is refused with one line that
   names the keys, unless ``overwrite`` is set, which clears the directory and starts afresh. Keys that
   only steer *how* a run goes (``resume``, ``output_dir``, ``shard``, threads, logging, ...) are
   ignored, so ``--resume latest`` and SLURM array shards pass;
3. an exclusive ``flock`` on ``<output_dir>/.r1.lock`` (``.r1-<name>.lock`` for a shard) is taken for
   the lifetime of the claim. The kernel drops it when the process dies, so a rerun after ``kill -9`` is
   never blocked; a second live run gets "in use by pid N";
4. only then is ``config.yaml`` written, atomically, unless the directory holds the same run already
   (a resumed or repeated run keeps the ``config.yaml`` it started with).

Nothing in the directory changes before step 3 succeeds, and a run that fails having written nothing
but its ``config.yaml`` (an error the engine finds in the data or an argument) removes it again, so the
corrected rerun is not refused. Claims are re-entrant within one process.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error

CONFIG_NAME = "config.yaml"
LOCK_NAME = ".r1.lock"
INPUTS_NAME = ".r1-inputs.json"  # sha256 of the local input files the run started from

# Keys that steer how a run proceeds, not what it computes: a rerun may change them freely.
HOW_KEYS = frozenset({
    "resume", "output_dir", "shard",
    "train.cpu_threads", "train.logging_steps", "train.report_to", "train.plots", "train.save_total_limit",
    "train.save_steps",
    "generation.concurrency", "generation.max_retries", "generation.request_timeout_s", "generation.api_key_env",
})

# With --resume the checkpoint decides what may change (sft checks its data/batch fingerprint): a run may
# be extended or moved to another process count, device or engine.
RESUME_KEYS = frozenset({
    "train.max_steps", "train.num_epochs", "train.gradient_accumulation_steps", "train.per_device_batch_size",
    "train.device", "train.deepspeed", "train.gradient_checkpointing", "eval.every_steps",
})

_HELD: dict[str, int] = {}  # lock path -> fd, for re-entrant claims in one process


def check_output_path(output_dir: str | os.PathLike, flag: str = "--output-dir") -> Path:
    """``output_dir`` as a Path; one-line R1Error when it exists and is not a directory."""
    p = Path(output_dir)
    if p.exists() and not p.is_dir():
        raise R1Error(f"{flag} {p}: is an existing file, not a directory; give a directory "
                      "(created if missing)")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise R1Error(f"{flag} {p}: {parent} is an existing file, not a directory")
            break
    return p


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree} if prefix else {"": tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(old: dict, new: dict, ignore: Iterable[str] = ()) -> list[str]:
    """Dotted keys present in both configs whose values differ, as ``key: old -> new`` (sorted).

    Keys in ``ignore`` (and below them) are skipped; a key only one side has (a newer or older r1
    version) is not a difference.
    """
    skip = HOW_KEYS | set(ignore)
    a, b = flatten(old), flatten(new)
    out = []
    for key in sorted(set(a) & set(b)):
        if key in skip or any(key.startswith(s + ".") for s in skip):
            continue
        if a[key] != b[key]:
            out.append(f"{key}: {_short(a[key])} -> {_short(b[key])}")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_config(path: Path) -> dict | None:
    from r1cli.config.core import yaml_load

    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    except Exception:  # a YAML error: a config.yaml we did not write; treat as foreign
        return None
    return data if isinstance(data, dict) else None


def _lock(lock_path: Path) -> int:
    import fcntl

    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        finally:
            os.close(fd)
        raise R1Error(f"{lock_path.parent} is in use by pid {holder} (another r1 run writes there); wait for it "
                      "to finish or choose another --output-dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _clear(directory: Path, keep: str) -> None:
    for child in directory.iterdir():
        if child.name == keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextmanager
def claim_output_dir(output_dir: str | os.PathLike, config: dict, *, yaml_text: str, command: str,
                     overwrite: bool = False, ignore: Iterable[str] = (), lock_name: str = LOCK_NAME,
                     write: bool = True, compare: bool = True,
                     inputs: dict[str, str | None] | None = None) -> Iterator[Path]:
    """Hold ``output_dir`` for one run of ``command`` (see the module docstring); yields the directory.

    ``config`` is the resolved config as plain data (``model_dump(mode="json")``) and ``yaml_text`` its
    YAML, written to ``config.yaml`` when ``write``. ``ignore`` adds keys to :data:`HOW_KEYS`;
    ``compare=False`` (a command that reuses what it can of an earlier config by itself, like curate)
    skips the comparison. ``inputs`` maps config keys to local input files (``{"data.path": ...}``): their
    content hashes are recorded beside ``config.yaml`` and a rerun whose file changed at the same path is
    refused like a changed config.
    """
    out = check_output_path(output_dir)
    lock_path = out / lock_name
    key = str(lock_path.resolve())
    if key in _HELD:  # this process holds it already (a pipeline stage calling an engine)
        yield out
        return
    old_path = out / CONFIG_NAME
    hashes = _hash_inputs(inputs or {})
    if old_path.is_file() and compare and not overwrite:  # refuse before touching anything
        _refuse_different(old_path, config, ignore, command)
        _refuse_changed_inputs(out, hashes, command)
    created = not out.exists()
    had_config = old_path.is_file()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise R1Error(f"--output-dir {out}: cannot create it ({e.strerror})") from None
    fd = _lock(lock_path)
    _HELD[key] = fd
    try:
        if overwrite:
            _clear(out, keep=lock_name)
        elif old_path.is_file() and compare:  # again under the lock: a run may have written it meanwhile
            _refuse_different(old_path, config, ignore, command)
            _refuse_changed_inputs(out, hashes, command)
        if write and not (old_path.is_file() and compare):  # the same run again keeps its first config.yaml
            from r1cli.data.io import atomic_write_text

            atomic_write_text(old_path, yaml_text)
        if hashes and not (out / INPUTS_NAME).is_file():
            from r1cli.data.io import atomic_write_json

            atomic_write_json(out / INPUTS_NAME, hashes)
        yield out
    except BaseException:
        if not had_config or overwrite:
            _undo_empty_claim(out, lock_name, remove_dir=created)
        raise
    finally:
        _HELD.pop(key, None)
        os.close(fd)  # releases the flock


def _undo_empty_claim(out: Path, lock_name: str, *, remove_dir: bool) -> None:
    """A run that failed before writing anything but its config (a bad data file, a bad argument found by
    the engine) leaves the directory as it found it, so the corrected rerun is not refused."""
    names = {p.name for p in out.iterdir()} if out.is_dir() else set()
    if not names <= {CONFIG_NAME, INPUTS_NAME, lock_name}:
        return  # the run wrote outputs: keep its config beside them
    for name in names:
        (out / name).unlink(missing_ok=True)
    if remove_dir:
        try:
            out.rmdir()
        except OSError:
            pass


def _hash_inputs(inputs: dict[str, str | None]) -> dict[str, str]:
    """``{key: sha256}`` of the inputs that are local files (hub ids and missing paths are skipped)."""
    import hashlib

    out = {}
    for key, path in sorted(inputs.items()):
        p = Path(path) if path else None
        if p is None or not p.is_file():
            continue
        digest = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        out[key] = digest.hexdigest()
    return out


def _refuse_changed_inputs(out: Path, hashes: dict[str, str], command: str) -> None:
    import json

    try:
        old = json.loads((out / INPUTS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    changed = sorted(k for k, v in hashes.items() if k in old and old[k] != v)
    if changed:
        raise R1Error(f"{out} holds an r1 {command} run whose input changed since it started ({changed[0]}: the "
                      "file at the same path has other contents): use another --output-dir, or pass --overwrite "
                      "to discard that run")


def _refuse_different(old_path: Path, config: dict, ignore: Iterable[str], command: str) -> None:
    old = _read_config(old_path)
    if old is None:
        raise R1Error(f"{old_path.parent} holds a {CONFIG_NAME} that is not an r1 config; choose another "
                      "--output-dir, or pass --overwrite to replace what is there")
    diffs = config_differences(old, config, ignore)
    if diffs:
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise R1Error(f"{old_path.parent} holds an r1 {command} run with a different config ({'; '.join(diffs[:3])}"
                      f"{more}): use another --output-dir, or pass --overwrite to discard that run")
