"""The one place that turns a backend kind into a :class:`GenerationBackend` (DESIGN.md §2).

``make_backend("hf", "runs/tiny")``, ``make_backend("vllm", "Qwen/Qwen2.5-7B", tensor_parallel_size=2)``,
``make_backend("openai", "deepseek-r1", base_url="http://host:8000/v1", concurrency=64)``. Options go to the
backend's constructor unchanged; an option a backend does not take is an R1Error naming the valid ones.
Backends are imported on demand, so choosing ``openai`` never imports torch.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.generation.base import GenerationBackend

BACKENDS: dict[str, tuple[str, str]] = {
    "hf": ("r1cli.generation.hf", "HFBackend"),
    "vllm": ("r1cli.generation.vllm_backend", "VLLMBackend"),
    "openai": ("r1cli.generation.openai_backend", "OpenAIBackend"),
}


def backend_class(kind: str) -> type[GenerationBackend]:
    """The backend class for ``kind`` (imports its module)."""
    if kind not in BACKENDS:
        raise R1Error(f"unknown generation backend '{kind}'{did_you_mean(kind, BACKENDS)}: {one_of(BACKENDS)}")
    module, name = BACKENDS[kind]
    return getattr(importlib.import_module(module), name)


def backend_options(kind: str) -> list[str]:
    """Keyword options the ``kind`` backend accepts (for CLI help and config validation)."""
    params = inspect.signature(backend_class(kind).__init__).parameters
    return [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def make_backend(kind: str, model: Any = None, **options: Any) -> GenerationBackend:
    """Build the ``kind`` backend for ``model`` (a path / hub id / served model name, or for ``hf`` a
    loaded model, then pass ``tokenizer=``)."""
    cls = backend_class(kind)
    if model is None:
        raise R1Error(f"the {kind} backend needs a model (--model)")
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    valid = [n for n in params if n not in ("self", "model")]
    for key in options:
        if key not in params and not takes_any:
            raise R1Error(f"the {kind} backend has no option '{key}'{did_you_mean(key, valid)}; "
                          f"{one_of(valid)}")
    return cls(model, **options)


def backend_options_from_config(generation: Any, model: Any) -> dict[str, Any]:
    """Constructor options for ``generation.backend`` from the ``generation`` and ``model`` config sections
    (``r1cli.config.sections.GenerationSection`` / ``ModelSection``); only the keys that backend uses."""
    g, m = generation, model
    if g.backend == "openai":
        opts: dict[str, Any] = {"endpoint": g.endpoint, "api_key_env": g.api_key_env, "concurrency": g.concurrency,
                                "max_retries": g.max_retries, "timeout": g.request_timeout_s,
                                "system_prompt": g.system_prompt}
        if g.base_url:
            opts["base_url"] = g.base_url
        return opts
    overrides = {k: getattr(m, k, None) for k in ("rope_theta", "max_position_embeddings")}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    common = {"dtype": m.dtype, "system_prompt": g.system_prompt, "think_prefill": g.prefill_think}
    if g.backend == "hf":
        return {**common, "token_budget": g.token_budget, "attn_implementation": m.attn_implementation,
                "config_overrides": overrides or None}
    opts = {**common, "tensor_parallel_size": g.tensor_parallel_size, "seed": g.seed or 0,
            "gpu_memory_utilization": g.gpu_memory_utilization, "max_model_len": g.max_model_len}
    if overrides:
        opts["hf_overrides"] = overrides
    return opts


def backend_from_config(generation: Any, model: Any) -> GenerationBackend:
    """``make_backend`` for a command's config: ``generation.backend`` serving ``model.path``."""
    if generation.backend != "openai" and not model.path:
        raise R1Error(f"the {generation.backend} backend needs a model: pass --model (model.path)")
    name = model.path or "default"
    return make_backend(generation.backend, str(name), **backend_options_from_config(generation, model))
