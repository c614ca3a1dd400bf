"""The ``vllm`` backend: offline ``vllm.LLM`` on GPUs (optional extra ``r1cli[vllm]``, imported lazily).

Written against the vLLM Python API of **0.8 - 0.11** (V1 engine), with fallbacks for 0.6/0.7 (V0):

- ``LLM(model=..., tokenizer=..., tensor_parallel_size=, gpu_memory_utilization=, max_model_len=, dtype=,
  seed=, trust_remote_code=, logprobs_mode="processed_logprobs")``. ``logprobs_mode`` exists from 0.10.2;
  older versions are retried without it.
- ``SamplingParams(n, temperature, top_p, top_k, max_tokens, stop, seed, logprobs=0)``; ``top_k=-1``
  disables top-k (accepted by every version; 0 only by recent ones). ``logprobs=0`` returns the sampled
  token's log-prob alone, as ``CompletionOutput.logprobs[i][token_id].logprob``.
- Prompts are rendered here (chat template, system prompt, ``<think>`` prefill, see ``prompts.py``) and
  passed as token ids (``{"prompt_token_ids": ids}``), so no second BOS is added.

Log-probs: with ``logprobs_mode="processed_logprobs"`` vLLM reports log-probs of the distribution it
sampled from (after temperature, and after top-k/top-p, renormalised over the kept tokens). With
``top_k = 0`` and ``top_p = 1`` that is exactly the hf backend's convention (``log_softmax(logits / T)``,
:mod:`r1cli.generation.decoding`); with filtering, the kept tokens' log-probs are higher by
``-log(kept mass)``. Before 0.10.2 vLLM V1 reports raw (T = 1) log-probs. GRPO should therefore sample
with top-p 1 / top-k 0 or recompute old log-probs with a forward pass.

``update_weights(model_or_state_dict)`` loads new policy weights in place (GRPO): through the driver
worker's model when the engine runs in-process (V0, or V1 with ``VLLM_ENABLE_V1_MULTIPROCESSING=0``,
which this backend sets unless told otherwise), else through ``LLM.collective_rpc`` (0.8+); then the
prefix cache is reset so no stale KV is reused.
"""

from __future__ import annotations

import os
from typing import Any

from r1cli.errors import MissingDependencyError, R1Error
from r1cli.generation.base import Completion, GenerationBackend, Prompt, SamplingParams
from r1cli.generation.prompts import encode_prompts, render_prompt


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as err:
        raise MissingDependencyError("vllm", "vllm", "the vllm generation backend (needs a CUDA GPU)") from err
    return vllm


def _load_weights_on_worker(worker: Any, weights: list[tuple[str, Any]]) -> None:
    """Runs inside each vLLM worker (``collective_rpc``): copy weights into its model shard."""
    worker.model_runner.model.load_weights(weights=weights)


class VLLMBackend(GenerationBackend):
    """Generate with ``vllm.LLM``. ``model``: a model directory or hub id."""

    name = "vllm"
    problems_per_call = 512  # vLLM schedules continuously: hand it many requests at once

    def __init__(
        self,
        model: str,
        *,
        tokenizer: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        seed: int = 0,
        system_prompt: str | None = None,
        think_prefill: bool = False,
        trust_remote_code: bool = False,
        in_process: bool = True,
        **engine_options: Any,
    ):
        vllm = _import_vllm()
        if in_process:  # lets update_weights reach the model object directly (as TRL's colocate mode)
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        self.model_name = str(model)
        self.system_prompt = system_prompt
        self.think_prefill = think_prefill
        kwargs: dict[str, Any] = {
            "model": str(model), "tokenizer": tokenizer or str(model),
            "tensor_parallel_size": tensor_parallel_size, "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype, "seed": seed, "trust_remote_code": trust_remote_code,
            "logprobs_mode": "processed_logprobs", **engine_options,
        }
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**kwargs)
        except TypeError as err:  # vLLM < 0.10.2 has no logprobs_mode
            if "logprobs_mode" not in str(err):
                raise
            kwargs.pop("logprobs_mode")
            self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._sampling_params_cls = vllm.SamplingParams

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model_name!r})"

    def render(self, prompt: Prompt) -> str:
        return render_prompt(self.tokenizer, prompt, system_prompt=self.system_prompt,
                             think_prefill=self.think_prefill)

    def sampling_params(self, params: SamplingParams) -> Any:
        """The ``vllm.SamplingParams`` equivalent of ``params``."""
        return self._sampling_params_cls(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            seed=params.seed,
            logprobs=0,
        )

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt, ``params.n`` completions with sampled-token log-probs."""
        if params.n < 1 or params.max_new_tokens < 1:
            raise R1Error("n and max_new_tokens must be at least 1")
        if not prompts:
            return []
        ids = encode_prompts(self.tokenizer, [self.render(p) for p in prompts])
        outputs = self.llm.generate([{"prompt_token_ids": x} for x in ids], self.sampling_params(params),
                                    use_tqdm=False)
        results = []
        for i, request in enumerate(outputs):
            group = [_to_completion(o) for o in sorted(request.outputs, key=lambda o: o.index)]
            if len(group) != params.n:
                raise R1Error(f"vllm returned {len(group)} completions for prompt {i}, expected n={params.n}")
            results.append(group)
        return results

    def update_weights(self, model: Any) -> None:
        """Load a model's (or a state dict's) weights into the running engine, then drop the prefix cache."""
        state = model if isinstance(model, dict) else model.state_dict()
        weights = [(name, tensor.detach()) for name, tensor in state.items()]
        try:
            runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        except AttributeError:
            runner = None
        if runner is not None and hasattr(runner, "model"):
            runner.model.load_weights(weights=weights)
        else:  # V1 engine in a separate process: ship the tensors to every worker
            self.llm.collective_rpc(_load_weights_on_worker, args=([(n, t.cpu()) for n, t in weights],))
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()

    def close(self) -> None:
        self.llm = None


def _to_completion(output: Any) -> Completion:
    """Convert a ``vllm.CompletionOutput``."""
    token_ids = tuple(int(t) for t in output.token_ids)
    logprobs = None
    if output.logprobs is not None:
        logprobs = tuple(float(pos[tok].logprob) for pos, tok in zip(output.logprobs, token_ids, strict=True))
    reason = "length" if output.finish_reason == "length" else "stop"
    return Completion(text=output.text, token_ids=token_ids, logprobs=logprobs, finish_reason=reason)
