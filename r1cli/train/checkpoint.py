"""Checkpoints every trainer shares: HF model directories plus the state needed to resume exactly.

Layout of ``<output_dir>/checkpoint-<step>/``::

    model.safetensors (or shards + index)   config.json   generation_config.json
    tokenizer files                          config.yaml (the resolved r1 config, when given)
    trainer_state.pt   {"step", "optimizer", "scheduler", "rng": [per-rank RNG states], "extra"}
    trainer_state.json {"step", "extra"}  (human-readable copy; ``extra`` must be JSON-able)

A checkpoint is written to ``.tmp-checkpoint-<step>`` and renamed into place, so a directory named
``checkpoint-<step>`` is always complete: :func:`find_latest_checkpoint` trusts the name, and a kill
in the middle of a save leaves the previous checkpoint as the latest. ``save_total_limit`` keeps the
newest N. Only the main process writes; the caller passes ``is_main``.

:func:`ensure_eos_consistency` makes ``generation_config.eos_token_id`` contain the chat template's
end-of-turn token (e.g. ``<|im_end|>``), so generation stops where training taught the model to stop.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error

PREFIX = "checkpoint-"
_CKPT_RE = re.compile(r"^checkpoint-(\d+)$")
STATE_PT = "trainer_state.pt"
STATE_JSON = "trainer_state.json"


# --------------------------------------------------------------------------------------------- RNG


def capture_rng_state() -> dict:
    """Python, NumPy, torch CPU (and CUDA when available) generator states of this process."""
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------- discovery


def list_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(step, path), ...]`` of complete checkpoints under ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _CKPT_RE.match(p.name)
        if m and p.is_dir() and (p / STATE_PT).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def find_latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The complete checkpoint with the highest step, or ``None``."""
    ckpts = list_checkpoints(output_dir)
    return ckpts[-1][1] if ckpts else None


def resolve_resume(resume: str | bool | None, output_dir: str | os.PathLike, ctx: Any = None) -> Path | None:
    """Turn a ``--resume`` value into a checkpoint path.

    ``None``/``False``/``""`` -> no resume; ``True``/``"latest"``/``"auto"`` -> the latest under
    ``output_dir`` (``None`` when there is none yet: a fresh start); any other string -> that path,
    which may be a checkpoint or a run directory holding checkpoints.

    With a distributed ``ctx`` rank 0 alone looks at the disk and broadcasts its choice (or its error),
    so every rank resumes from the same checkpoint even while another job's writes are landing.
    """
    if ctx is not None and getattr(ctx, "is_distributed", False):
        choice: tuple[str, str | None] = ("ok", None)
        if ctx.rank == 0:
            try:
                found = resolve_resume(resume, output_dir)
                choice = ("ok", str(found) if found is not None else None)
            except R1Error as error:
                choice = ("error", str(error))
        kind, value = ctx.broadcast_object(choice)
        if kind == "error":
            raise R1Error(value or "resume failed on rank 0")
        return Path(value) if value is not None else None
    if resume in (None, False, "", "false", "no"):
        return None
    if resume in (True, "true", "latest", "auto", "yes"):
        return find_latest_checkpoint(output_dir)
    p = Path(str(resume))
    if (p / STATE_PT).is_file():
        return p
    latest = find_latest_checkpoint(p) if p.is_dir() else None
    if latest is None:
        raise R1Error(f"--resume {p}: not a checkpoint directory (no {STATE_PT}) and holds no "
                      f"{PREFIX}<step> directories; use --resume latest or a checkpoint path")
    return latest


# ------------------------------------------------------------------------------------------ saving


def end_of_turn_token_ids(tokenizer: Any) -> list[int]:
    """Token ids the chat template puts right after an assistant message (its end-of-turn marker).

    Renders a two-message chat and returns the special tokens that directly follow the assistant
    text (e.g. ``<|im_end|>`` for ChatML). Falls back to ``tokenizer.eos_token_id``.
    """
    ids: list[int] = []
    if getattr(tokenizer, "chat_template", None):
        marker = "r1-probe-7"
        try:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}],
                tokenize=False)
        except Exception:  # a template that rejects this chat: fall back to eos
            text = ""
        if isinstance(text, str) and marker in text:
            tail = text[text.rindex(marker) + len(marker):]
            special = set(getattr(tokenizer, "all_special_tokens", []) or [])
            special |= {str(t) for t in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values()
                        if getattr(t, "special", False)}
            for tok in sorted(special, key=len, reverse=True):
                if tok and tail.lstrip().startswith(tok):
                    tid = tokenizer.convert_tokens_to_ids(tok)
                    if isinstance(tid, int) and tid >= 0:
                        ids.append(tid)
                    break
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int) and eos not in ids:
        ids.append(eos)
    return ids


def ensure_eos_consistency(model: Any, tokenizer: Any) -> list[int]:
    """Make ``model.generation_config.eos_token_id`` include the template's end-of-turn token(s).

    Returns the resulting list of eos ids. Also sets ``pad_token_id`` when it is unset.
    """
    gen = getattr(model, "generation_config", None)
    if gen is None:
        return []
    current = gen.eos_token_id
    have = [] if current is None else ([current] if isinstance(current, int) else list(current))
    for tid in end_of_turn_token_ids(tokenizer):
        if tid not in have:
            have.append(tid)
    if have:
        gen.eos_token_id = have[0] if len(have) == 1 else have
    if gen.pad_token_id is None and getattr(tokenizer, "pad_token_id", None) is not None:
        gen.pad_token_id = tokenizer.pad_token_id
    return have


def save_hf_model(path: str | os.PathLike, model: Any, tokenizer: Any = None, *,
                  state_dict: dict | None = None, config_yaml: str | None = None) -> Path:
    """Write an HF directory loadable by ``AutoModelForCausalLM.from_pretrained`` (safetensors),
    with the tokenizer, ``config.yaml`` and an EOS-consistent generation config."""
    from r1cli.train.distributed import unwrap_model

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    bare = unwrap_model(model)
    if tokenizer is not None:
        ensure_eos_consistency(bare, tokenizer)
    _quiet_hf_progress()
    bare.save_pretrained(path, state_dict=state_dict)
    if tokenizer is not None:
        tokenizer.save_pretrained(path)
    if config_yaml is not None:
        (path / "config.yaml").write_text(config_yaml, encoding="utf-8")
    return path


def _quiet_hf_progress() -> None:
    """Silence transformers' per-save "Writing model shards" tqdm bar (our progress is rich)."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # older/newer transformers without the switch: cosmetic only
        pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(output_dir: str | os.PathLike, step: int, model: Any, tokenizer: Any,
                    optimizer: Any, scheduler: Any, extra_state: dict | None = None,
                    config_yaml: str | None = None, save_total_limit: int | None = None, *,
                    state_dict: dict | None = None, rng_states: list[dict] | None = None,
                    is_main: bool = True, keep_tmp: bool = False) -> Path:
    """Atomically write ``<output_dir>/checkpoint-<step>`` and prune old ones; return its path.

    ``extra_state`` is the trainer's own resume state (epoch, data position, token counts...): it
    must be JSON-able. ``rng_states`` are per-rank RNG states (default: this process's only).
    ``state_dict`` overrides the model's (e.g. gathered ZeRO-3 weights). Non-main ranks return the
    path without writing. ``keep_tmp=True`` keeps what is already in ``.tmp-checkpoint-<step>``
    (e.g. DeepSpeed shards every rank wrote there first) instead of starting it afresh.
    """
    import torch

    final = Path(output_dir) / f"{PREFIX}{step}"
    if not is_main:
        return final
    tmp = Path(output_dir) / f".tmp-{PREFIX}{step}"
    if tmp.exists() and not keep_tmp:
        shutil.rmtree(tmp)
    save_hf_model(tmp, model, tokenizer, state_dict=state_dict, config_yaml=config_yaml)
    extra = dict(extra_state or {})
    state = {
        "step": int(step),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_states if rng_states is not None else [capture_rng_state()],
        "extra": extra,
    }
    torch.save(state, tmp / STATE_PT)
    (tmp / STATE_JSON).write_text(json.dumps({"step": int(step), "extra": extra}, indent=2, default=str),
                                  encoding="utf-8")
    for f in tmp.rglob("*"):  # make the files durable before the rename publishes them
        if f.is_file():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    prune_checkpoints(output_dir, save_total_limit)
    return final


def prune_checkpoints(output_dir: str | os.PathLike, save_total_limit: int | None) -> list[Path]:
    """Delete all but the newest ``save_total_limit`` checkpoints (and stale temp dirs)."""
    root = Path(output_dir)
    removed = []
    if root.is_dir():
        for p in root.glob(f".tmp-{PREFIX}*"):
            shutil.rmtree(p, ignore_errors=True)
    if save_total_limit is None or save_total_limit <= 0:
        return removed
    ckpts = list_checkpoints(root)
    for _step, p in ckpts[: max(0, len(ckpts) - save_total_limit)]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


# ----------------------------------------------------------------------------------------- loading


def read_weights(path: str | os.PathLike) -> dict:
    """All tensors of an HF directory's safetensors files (single file or sharded with an index)."""
    from safetensors.torch import load_file

    path = Path(path)
    index = path / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (path / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise R1Error(f"{path}: no model.safetensors (or index) to load weights from")
    out: dict = {}
    for name in files:
        out.update(load_file(str(path / name)))
    return out


def load_model_weights(path: str | os.PathLike, model: Any) -> None:
    """Copy a checkpoint's weights into ``model`` in place (exact, no dtype round trip when equal).

    Keys missing from the file are allowed only for tied parameters (e.g. ``lm_head.weight`` tied
    to the embeddings), which share storage with a loaded one.
    """
    from r1cli.train.distributed import unwrap_model

    bare = unwrap_model(model)
    sd = read_weights(path)
    try:
        result = bare.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # shape mismatch
        first = str(e).strip().splitlines()[-1].strip()
        raise R1Error(f"{path}: weights do not match the model ({first})") from None
    if result.unexpected_keys:
        raise R1Error(f"{path}: weights do not match the model (unexpected keys, e.g. "
                      f"{result.unexpected_keys[0]})")
    if result.missing_keys:
        params = dict(bare.named_parameters(remove_duplicate=False))
        loaded_ptrs = {params[k].data_ptr() for k in sd if k in params}
        untied = [k for k in result.missing_keys if k not in params or params[k].data_ptr() not in loaded_ptrs]
        if untied:
            raise R1Error(f"{path}: weights do not match the model (missing keys, e.g. {untied[0]})")


def load_checkpoint(path: str | os.PathLike, model: Any, optimizer: Any = None, scheduler: Any = None,
                    *, rank: int = 0, restore_rng: bool = True, load_weights: bool = True) -> dict:
    """Restore weights, optimizer, scheduler and this rank's RNG from ``path``; return the state.

    The returned dict is ``extra_state`` as saved, plus ``"step"``. With ``load_weights=False`` the
    caller loads the weights itself (e.g. DeepSpeed engines).
    """
    import torch

    path = Path(path)
    if not (path / STATE_PT).is_file():
        raise R1Error(f"{path}: not a checkpoint (no {STATE_PT}); use a {PREFIX}<step> directory")
    state = torch.load(path / STATE_PT, map_location="cpu", weights_only=False)
    if load_weights:
        load_model_weights(path, model)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    rngs = state.get("rng") or []
    if restore_rng and rngs:
        restore_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
    out = dict(state.get("extra") or {})
    out["step"] = int(state["step"])
    return out
