"""The ``hf`` backend: transformers models, batched, with a KV cache (the CPU default).

Two engines, same results contract (:mod:`r1cli.generation.decoding` for the sampling math and the
log-prob convention):

- ``"loop"`` (default off CUDA): our own decode loop. Prompts are left-padded into a batch, one prefill
  forward fills a ``DynamicCache``, then one forward per new token with explicit ``position_ids`` (so
  left padding does not shift RoPE positions). Rows that finish (EOS, stop string) are removed from the
  batch and the cache (``Cache.batch_select_indices``), so the batch only pays for live rows. Sampling
  uses a ``torch.Generator`` seeded from ``SamplingParams.seed``: same prompts, params and batch budget
  give the same completions.
- ``"static"`` (default on CUDA): ``model.generate`` with ``cache_implementation="static"``, which
  transformers compiles on its first call (~30 s) and which then ran 6.2x faster than plain ``generate``
  on an H200 (DESIGN reference gpu.md). Shapes are bucketed (prompt length to a multiple of 64, batch to a
  power of two) so a run compiles a handful of graphs, not one per batch. See :mod:`.hf_static`.
  Untested on a GPU here; its CPU run (no compile) is tested against the loop engine.

Batches are sized by a token budget: ``rows * (prompt_len + max_new_tokens) <= token_budget`` (at least
one row), capped by ``max_batch_size``. The n samples of a prompt are n rows.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from r1cli.errors import R1Error, one_of
from r1cli.generation import decoding
from r1cli.generation.base import Completion, GenerationBackend, Prompt, SamplingParams
from r1cli.generation.prompts import encode_prompts, render_prompt

ENGINES = ("auto", "loop", "static")


def eos_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """EOS ids from the model's generation config (int or list) and the tokenizer."""
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, getattr(tokenizer, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return frozenset(ids)


class HFBackend(GenerationBackend):
    """Generate with a transformers causal LM.

    ``model``: a model directory / hub id, or an already-loaded ``PreTrainedModel`` (GRPO shares its
    policy; then ``tokenizer`` is required and weights updates need nothing). ``engine``: one of
    ``auto|loop|static``. ``system_prompt``/``think_prefill``: see :mod:`r1cli.generation.prompts`.
    """

    name = "hf"
    problems_per_call = 16  # sample_to_file's default chunk: fills a CPU/GPU batch, loses little on a kill

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        system_prompt: str | None = None,
        think_prefill: bool = False,
        token_budget: int = 262_144,
        max_batch_size: int = 256,
        engine: str = "auto",
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        config_overrides: dict[str, Any] | None = None,
    ):
        if engine not in ENGINES:
            raise R1Error(f"unknown hf engine '{engine}': {one_of(ENGINES)}")
        if token_budget < 1 or max_batch_size < 1:
            raise R1Error("token_budget and max_batch_size of the hf backend must be positive integers")
        if isinstance(model, (str, os.PathLike)):
            self.model_name = str(model)
            from r1cli.models.loading import load_model_and_tokenizer

            overrides = config_overrides or {}
            unknown = set(overrides) - {"rope_theta", "max_position_embeddings"}
            if unknown:
                raise R1Error(f"hf backend: config_overrides takes rope_theta and max_position_embeddings, "
                              f"not {', '.join(sorted(unknown))}")
            self.model, self.tokenizer = load_model_and_tokenizer(
                model, device=device, dtype=dtype, trust_remote_code=trust_remote_code,
                attn_implementation=attn_implementation, **overrides,
            )
        else:
            if tokenizer is None:
                raise R1Error("the hf backend needs a tokenizer when given an already-loaded model")
            self.model_name = getattr(getattr(model, "config", None), "_name_or_path", "") or "model"
            self.model, self.tokenizer = model, tokenizer
        self.device = next(self.model.parameters()).device
        self.engine = engine if engine != "auto" else ("static" if self.device.type == "cuda" else "loop")
        self.system_prompt = system_prompt
        self.think_prefill = think_prefill
        self.token_budget = token_budget
        self.max_batch_size = max_batch_size
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        self.pad_id = pad if pad is not None else (min(self.eos_ids) if self.eos_ids else 0)
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)

    def __repr__(self) -> str:
        return f"HFBackend(model={self.model_name!r}, device={self.device}, engine={self.engine!r})"

    # ----------------------------------------------------------------------------------- public API
    def render(self, prompt: Prompt) -> str:
        """The exact text the model continues for ``prompt`` (chat template, system prompt, prefill)."""
        return render_prompt(
            self.tokenizer, prompt, system_prompt=self.system_prompt, think_prefill=self.think_prefill
        )

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """For each prompt, ``params.n`` completions (see the module docstring for batching/engines)."""
        import torch

        if params.n < 1 or params.max_new_tokens < 1:
            raise R1Error("n and max_new_tokens must be at least 1")
        if not prompts:
            return []
        prompt_ids = encode_prompts(self.tokenizer, [self.render(p) for p in prompts])
        rows = [(i, ids) for i, ids in enumerate(prompt_ids) for _ in range(params.n)]
        order = sorted(range(len(rows)), key=lambda r: -len(rows[r][1]))  # long prompts batch together
        results: list[Completion | None] = [None] * len(rows)
        seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(4), "little")
        generator = torch.Generator(device=self.device).manual_seed(seed)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for b, batch in enumerate(self._batches(order, rows, params.max_new_tokens)):
                    batch_ids = [rows[r][1] for r in batch]
                    if self.engine == "static":
                        from r1cli.generation.hf_static import generate_static

                        outs = generate_static(self, batch_ids, params, seed=seed + b)
                    else:
                        outs = self._generate_loop(batch_ids, params, generator)
                    for r, (ids, lps) in zip(batch, outs, strict=True):
                        results[r] = decoding.finalize(
                            self.tokenizer, ids, lps, eos_ids=self.eos_ids, stop=params.stop
                        )
        finally:
            self.model.train(was_training)
        grouped: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), completion in zip(rows, results, strict=True):
            assert completion is not None
            grouped[i].append(completion)
        return grouped

    def update_weights(self, model: Any) -> None:
        """Load new weights: a state dict is copied in; the shared model object itself needs nothing."""
        if model is self.model:
            return
        state = model if isinstance(model, dict) else model.state_dict()
        self.model.load_state_dict(state)

    def close(self) -> None:
        """Drop the model reference (GPU memory returns once nothing else holds it)."""
        self.model = None

    # ---------------------------------------------------------------------------------- internals
    def new_tokens_limit(self, prompt_len: int, max_new_tokens: int) -> int:
        """``max_new_tokens`` capped so prompt + completion fit the model's position range."""
        if self.max_positions:
            room = int(self.max_positions) - prompt_len
            if room < 1:
                raise R1Error(
                    f"a prompt of {prompt_len} tokens does not fit the model's "
                    f"max_position_embeddings={self.max_positions}: shorten the prompt"
                )
            return min(max_new_tokens, room)
        return max_new_tokens

    def _batches(self, order: list[int], rows: list[tuple[int, list[int]]], max_new: int):
        """Yield lists of row indices whose padded size respects the token budget."""
        batch: list[int] = []
        for r in order:
            longest = max([len(rows[r][1])] + [len(rows[x][1]) for x in batch[:1]])
            per_row = longest + max_new
            if self.max_positions:  # a row never grows past the model's position range
                per_row = min(per_row, max(int(self.max_positions), longest + 1))
            if batch and (len(batch) + 1) * per_row > self.token_budget or len(batch) >= self.max_batch_size:
                yield batch
                batch = []
            batch.append(r)
        if batch:
            yield batch

    def _forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, cache: Any) -> Any:
        """One model forward returning last-position logits [B, V]."""
        kwargs = {self._cache_kw: cache, "use_cache": True}
        if self._keep_kw:
            kwargs[self._keep_kw] = 1
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs
        )
        return out.logits[:, -1, :]

    def _generate_loop(
        self, batch_ids: list[list[int]], params: SamplingParams, generator: Any
    ) -> list[tuple[list[int], list[float]]]:
        """Decode one left-padded batch; returns per row (new token ids, their log-probs)."""
        import torch

        width = max(len(ids) for ids in batch_ids)
        max_new = self.new_tokens_limit(width, params.max_new_tokens)
        input_ids = torch.full((len(batch_ids), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
        for r, ids in enumerate(batch_ids):
            input_ids[r, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[r, width - len(ids):] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [B, W]; real tokens at 0..len-1
        cache = new_dynamic_cache(self.model.config)
        # n completions of one prompt share its prefill: run each distinct prompt once, then copy its
        # KV cache and last logits to the rows that repeat it (GRPO's G rows per prompt, sample -n)
        first: dict[tuple[int, ...], int] = {}  # distinct prompt -> the first row holding it
        source = [first.setdefault(tuple(ids), r) for r, ids in enumerate(batch_ids)]
        if len(first) < len(batch_ids):
            rows = torch.tensor(list(first.values()), device=self.device)
            logits = self._forward(input_ids[rows], mask[rows], positions[rows], cache)
            slot = {r: k for k, r in enumerate(first.values())}
            expand = torch.tensor([slot[r] for r in source], device=self.device)
            cache.batch_select_indices(expand)
            logits = logits[expand]
        else:
            logits = self._forward(input_ids, mask, positions, cache)  # [B, V]
        last_pos = positions[:, -1]  # [B]
        tokens_out: list[list[int]] = [[] for _ in batch_ids]
        logps_out: list[list[float]] = [[] for _ in batch_ids]
        live = list(range(len(batch_ids)))  # batch row -> original row
        window = decoding.stop_window(params.stop)
        for step in range(max_new):
            tok, lp = decoding.sample_tokens(
                logits, temperature=params.temperature, top_k=params.top_k, top_p=params.top_p,
                generator=generator,
            )
            keep: list[int] = []
            for j, (t, p) in enumerate(zip(tok.tolist(), lp.tolist(), strict=True)):
                r = live[j]
                tokens_out[r].append(t)
                logps_out[r].append(p)
                finished = t in self.eos_ids or (
                    params.stop and decoding.tail_has_stop(self.tokenizer, tokens_out[r], params.stop, window)
                )
                if not finished:
                    keep.append(j)
            if not keep or step == max_new - 1:
                break
            if len(keep) < len(live):  # drop finished rows from the batch and the cache
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, tok, last_pos = mask[index], tok[index], last_pos[index]
                live = [live[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)  # [B', W + step + 1]
            last_pos = last_pos + 1
            logits = self._forward(tok.unsqueeze(-1), mask, last_pos.unsqueeze(-1), cache)
        return list(zip(tokens_out, logps_out, strict=True))


def new_dynamic_cache(config: Any) -> Any:
    """An empty transformers ``DynamicCache`` for a model of ``config``."""
    from transformers import DynamicCache

    try:
        return DynamicCache(config=config)
    except TypeError:  # transformers < 4.56 takes no config
        return DynamicCache()
