"""Chat-template rendering for SFT with an assistant-only loss mask.

A record (DESIGN.md §3) is ``{"messages": [{"role", "content"}, ...]}`` or ``{"prompt", "completion"}``
(field names mappable). :func:`tokenize_record` renders it with the tokenizer's own chat template and
returns token ids plus a 0/1 mask that is 1 exactly on the tokens of assistant turns (their text and
the end-of-turn token the template appends, e.g. ``<|im_end|>``), and 0 on system/user turns and on
the assistant header (``<|im_start|>assistant\\n``), which the prompt supplies at inference.

How: for each assistant turn ``i`` the template renders ``messages[:i]`` with the generation prompt
and ``messages[:i+1]`` without; the difference is that turn's text. The conversation is cut into
segments at those points and each segment is tokenized on its own, so the prompt tokens are exactly
what ``apply_chat_template(..., add_generation_prompt=True)`` gives at inference. Templates that
rewrite earlier turns (e.g. strip ``<think>`` from history) fail the prefix check; then only the last
assistant turn is trained on.

A tokenizer without a chat template gets ChatML (:data:`CHATML_TEMPLATE`); :func:`ensure_chat_template`
adds ``<|im_start|>``/``<|im_end|>`` as special tokens when missing (the caller resizes the
embeddings) and makes ``<|im_end|>`` the eos token so template, tokenizer and generation agree.

Types (:func:`record_messages`): ``messages`` is a list of ``{"role", "content"}`` objects;
``prompt`` and ``completion`` are each a string or such a list; every ``role`` is one of
:data:`ROLES` and every ``content`` a string. A null content (a tool-call turn in OpenAI's format)
and a list of content parts are errors, not an empty turn. Each error names the record's location
(``sft.jsonl:3``), the field path (``messages[1].content``), the expected and the found type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from r1cli.data.fields import as_text, missing, wrong_type
from r1cli.errors import R1Error, did_you_mean

CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Tokenized:
    """One tokenized example: ``input_ids`` (L,), ``loss_mask`` (L,) with 1 on assistant tokens."""

    input_ids: list[int]
    loss_mask: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_loss_tokens(self) -> int:
        return sum(self.loss_mask)


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give ``tokenizer`` the ChatML template when it has none. Returns True when tokens were added
    to the vocabulary (the model's embeddings must then be resized to ``len(tokenizer)``)."""
    if getattr(tokenizer, "chat_template", None):
        return False
    vocab = tokenizer.get_vocab()
    missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in vocab]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<|im_end|>"
    return bool(missing)


def _turns(value: Any, field: str, role: str, where: str) -> list[tuple[str, Any]]:
    """``(field path, message)`` pairs of a prompt or completion: a string is one ``role`` turn."""
    if isinstance(value, str):
        return [(field, {"role": role, "content": value})]
    if isinstance(value, list):
        return [(f"{field}[{j}]", m) for j, m in enumerate(value)]
    raise wrong_type(where, field, "a string or a list of messages", value)


def _message(m: Any, field: str, where: str) -> dict:
    """One ``{"role", "content"}`` message, checked (module docstring: types)."""
    if not isinstance(m, dict):
        raise wrong_type(where, field, "a message object {\"role\", \"content\"}", m)
    for key in ("role", "content"):
        if key not in m:
            raise missing(where, f"{field}.{key}", m)
    role = as_text(m["role"], where, f"{field}.role")
    if role not in ROLES:
        raise R1Error(f"{where}: field '{field}.role': role '{role}'{did_you_mean(role, ROLES)} is not one of: "
                      f"{', '.join(ROLES)}")
    parts = " (a list of content parts is not supported: join their text into one string)"
    content = as_text(m["content"], where, f"{field}.content", hint=parts if isinstance(m["content"], list) else "")
    return {"role": role, "content": content}


def record_messages(record: dict, *, messages_field: str = "messages", prompt_field: str = "prompt",
                    completion_field: str = "completion", system_prompt: str | None = None,
                    where: str = "record") -> list[dict]:
    """The conversation of an SFT record as a list of ``{"role", "content"}``.

    ``prompt``/``completion`` may be strings or lists of messages (TRL's conversational format).
    ``system_prompt`` is prepended when the conversation has no system turn. Every ``role`` and
    ``content`` must be a string (a null content, e.g. of a tool-call turn, is an error: training on
    an empty turn would teach the model to say nothing); ``where`` (``sft.jsonl:3``) starts each error.
    """
    if messages_field in record and record[messages_field] is not None:
        msgs = record[messages_field]
        if not isinstance(msgs, list):
            raise wrong_type(where, messages_field, "a list of messages", msgs)
        turns = [(f"{messages_field}[{j}]", m) for j, m in enumerate(msgs)]
    elif prompt_field in record and completion_field in record:
        turns = (_turns(record[prompt_field], prompt_field, "user", where)
                 + _turns(record[completion_field], completion_field, "assistant", where))
    else:
        keys = [str(k) for k in record]
        hint = next((h for h in (did_you_mean(f, [k for k in keys if k != f])
                                 for f in (messages_field, prompt_field, completion_field) if f not in record) if h), "")
        raise R1Error(f"{where}: needs '{messages_field}' or '{prompt_field}' + '{completion_field}'{hint}; "
                      f"fields present: {', '.join(sorted(keys)) or '(none)'} (map them with --messages-field / "
                      "--prompt-field / --completion-field)")
    out = [_message(m, field, where) for field, m in turns]
    if not any(m["role"] == "assistant" for m in out):
        raise R1Error(f"{where}: no assistant message to train on")
    if system_prompt and out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def _render(tokenizer: Any, messages: list[dict], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer: Any, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the ``[start, end)`` character spans of assistant turns."""
    cache: dict[tuple[int, bool], str] = {}

    def render(k: int, gen: bool) -> str:  # messages[:k]; each prefix is rendered once
        if (k, gen) not in cache:
            cache[(k, gen)] = _render(tokenizer, messages[:k], gen)
        return cache[(k, gen)]

    full = render(len(messages), False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = render(i, True)  # what the model sees before answering
        upto = render(i + 1, False)
        if not (full.startswith(upto) and upto.startswith(prefix)):
            break  # the template rewrites history (e.g. drops earlier <think> blocks)
        spans.append((len(prefix), len(upto)))
    else:
        return full, spans
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    prefix = render(last, True)
    upto = render(last + 1, False)
    if not upto.startswith(prefix):
        raise R1Error("the chat template does not render the generation prompt as a prefix of the "
                      "assistant turn, so the assistant tokens cannot be found; use a ChatML template")
    return upto, [(len(prefix), len(upto))]


def _trim_to_end_of_turn(text: str, start: int, end: int, eot: str | None) -> tuple[int, int]:
    """Keep the span up to and including the end-of-turn marker; whitespace after it is prompt-side."""
    if eot:
        k = text.rfind(eot, start, end)
        if k != -1:
            return start, k + len(eot)
    return start, end


def _segments(text: str, spans: list[tuple[int, int]], end_of_turn: str | None) -> list[tuple[str, int]]:
    """Cut ``text`` into ``(piece, is_assistant)`` pieces at the assistant spans."""
    out: list[tuple[str, int]] = []
    pos = 0
    for start, end in spans:
        start, end = _trim_to_end_of_turn(text, start, end, end_of_turn)
        out += [(piece, flag) for piece, flag in ((text[pos:start], 0), (text[start:end], 1)) if piece]
        pos = end
    if pos < len(text):
        out.append((text[pos:], 0))
    return out


def encode_pieces(tokenizer: Any, pieces: list[str]) -> list[list[int]]:
    """Token ids of each text piece, without special-token additions (one batched call)."""
    if not pieces:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # fast tokenizers: Rust batch encode, no per-call Python overhead
        return [e.ids for e in backend.encode_batch(pieces, add_special_tokens=False)]
    return list(tokenizer(pieces, add_special_tokens=False)["input_ids"])


def _assemble(pieces: list[tuple[str, int]], ids: list[list[int]]) -> Tokenized:
    input_ids: list[int] = []
    mask: list[int] = []
    for (_, flag), seg in zip(pieces, ids, strict=True):
        input_ids += seg
        mask += [flag] * len(seg)
    return Tokenized(input_ids, mask)


def tokenize_record(tokenizer: Any, messages: list[dict], *, end_of_turn: str | None = None) -> Tokenized:
    """Token ids and assistant-only loss mask of one conversation (see the module docstring)."""
    pieces = _segments(*assistant_spans(tokenizer, messages), end_of_turn)
    return _assemble(pieces, encode_pieces(tokenizer, [p for p, _ in pieces]))


def end_of_turn_text(tokenizer: Any) -> str | None:
    """The end-of-turn marker string of the template (e.g. ``<|im_end|>``), if one is found."""
    from r1cli.train.checkpoint import end_of_turn_token_ids

    ids = end_of_turn_token_ids(tokenizer)
    return tokenizer.convert_ids_to_tokens(ids[0]) if ids else None


@dataclass
class TokenizeStats:
    """Counts reported by :func:`tokenize_dataset`."""

    total: int = 0
    kept: int = 0
    truncated: int = 0
    dropped_too_long: int = 0
    dropped_no_loss_tokens: int = 0
    tokens: int = 0
    loss_tokens: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def tokenize_dataset(records: list[dict], tokenizer: Any, *, max_length: int, truncation: str = "truncate",
                     messages_field: str = "messages", prompt_field: str = "prompt",
                     completion_field: str = "completion", system_prompt: str | None = None,
                     source: str = "data", locations: list[str] | None = None,
                     ) -> tuple[list[Tokenized], TokenizeStats]:
    """Tokenize every record and apply the ``max_length`` policy.

    ``truncation="truncate"`` keeps the first ``max_length`` tokens; ``"drop"`` leaves the example
    out. Examples with no assistant token left (e.g. truncated inside the prompt) are left out too.
    ``locations`` (``sft.jsonl:3``, one per record, from :func:`r1cli.data.io.read_located`) start
    the error of a bad record; without them it is "``source`` record N".
    """
    if truncation not in ("truncate", "drop"):
        raise R1Error(f"data.truncation must be 'truncate' or 'drop', got '{truncation}'")
    eot = end_of_turn_text(tokenizer)
    stats = TokenizeStats()
    out: list[Tokenized] = []
    chunk = 1024  # render + batch-encode this many records at a time
    for lo in range(0, len(records), chunk):
        per_record = []
        for i in range(lo, min(lo + chunk, len(records))):
            msgs = record_messages(records[i], messages_field=messages_field, prompt_field=prompt_field,
                                   completion_field=completion_field, system_prompt=system_prompt,
                                   where=locations[i] if locations else f"{source} record {i + 1}")
            per_record.append(_segments(*assistant_spans(tokenizer, msgs), eot))
        flat = encode_pieces(tokenizer, [p for pieces in per_record for p, _ in pieces])
        k = 0
        for pieces in per_record:
            ex = _assemble(pieces, flat[k:k + len(pieces)])
            k += len(pieces)
            stats.total += 1
            if len(ex) > max_length:
                if truncation == "drop":
                    stats.dropped_too_long += 1
                    continue
                ex = Tokenized(ex.input_ids[:max_length], ex.loss_mask[:max_length])
                stats.truncated += 1
            # the first token is never a target (nothing predicts it), so it does not count
            if sum(ex.loss_mask[1:]) == 0:
                stats.dropped_no_loss_tokens += 1
                continue
            stats.kept += 1
            stats.tokens += len(ex)
            stats.loss_tokens += sum(ex.loss_mask[1:])
            out.append(ex)
    return out, stats
