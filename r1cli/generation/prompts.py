"""Turning a :data:`~r1cli.generation.base.Prompt` into what an engine consumes.

A prompt is either a plain string, used verbatim (it is already templated), or a list of chat messages,
rendered with the tokenizer's chat template and ``add_generation_prompt=True``. Two options shape the
chat rendering, the same for every backend that renders locally (hf, vllm):

- ``system_prompt``: prepended as a ``{"role": "system"}`` message unless the prompt already has one;
- ``think_prefill``: append ``"<think>\\n"`` after the generation prompt, as the DeepSeek-R1 model card
  recommends, so the model starts inside its reasoning block. The completion then lacks the opening tag
  (the ``format`` reward has a ``prefilled_think`` parameter for that).
"""

from __future__ import annotations

from typing import Any

from r1cli.errors import R1Error, did_you_mean
from r1cli.generation.base import Message, Prompt

THINK_PREFILL = "<think>\n"


def fill_template(template: str, record: dict) -> str:
    """``template`` with ``{column}`` fields taken from ``record`` (``str.format_map``: literal braces are
    written ``{{`` ``}}``); a missing column or a stray brace is an R1Error naming it.

    The prompt filler of ``r1 grpo``, ``r1 distill`` and ``r1 dpo``.
    """
    try:
        return template.format_map(record)
    except KeyError as e:
        name = str(e.args[0])
        raise R1Error(f"data.prompt_template uses '{{{name}}}' but record {record.get('id')!r} has no column "
                      f"'{name}'{did_you_mean(name, list(record))}; columns: {', '.join(sorted(record))}") from None
    except (IndexError, ValueError) as e:
        raise R1Error(f"data.prompt_template is not a valid format string ({e}); write literal braces as "
                      "{{ and }}") from None


def to_messages(prompt: Prompt, system_prompt: str | None = None) -> list[Message]:
    """Return chat messages for ``prompt`` (a string becomes one user message), system prompt first."""
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(m) for m in prompt]
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise R1Error(
                    f"chat prompt message {i} is {message!r}: each message needs 'role' and 'content' keys"
                )
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def render_prompt(
    tokenizer: Any,
    prompt: Prompt,
    *,
    system_prompt: str | None = None,
    think_prefill: bool = False,
) -> str:
    """Render one prompt to the exact text the model continues.

    A string is returned unchanged (already templated); chat messages go through
    ``tokenizer.apply_chat_template(..., add_generation_prompt=True)``, then the optional prefill.
    """
    if isinstance(prompt, str):
        return prompt
    if getattr(tokenizer, "chat_template", None) is None:
        raise R1Error(
            "the tokenizer has no chat template, so chat-message prompts cannot be rendered: "
            "pass plain-text prompts or use a tokenizer with a chat_template"
        )
    messages = to_messages(prompt, system_prompt)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if think_prefill and not text.rstrip().endswith("<think>"):
        text += THINK_PREFILL
    return text


def encode_prompts(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of rendered prompts, without adding special tokens a second time (the template has them)."""
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [list(ids) for ids in encoded]
