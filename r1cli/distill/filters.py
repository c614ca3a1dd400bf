"""Pure checks applied to every teacher trace before it may become SFT data.

Everything here is plain Python over strings (no I/O, no config imports), so each rule can be tested
with hand-built cases:

- :func:`assemble_trace`: the reasoning and the final answer of one completion, from either a
  ``<think>…</think>`` text or an API that returns the reasoning separately (OpenAI-style
  ``reasoning_content``), rendered as ``"<think>\\n{reasoning}\\n</think>\\n\\n{answer}"``;
- :func:`char_script` / :func:`script_counts` / :func:`dominant_script` / :func:`foreign_share`: the
  language-consistency measure (share of letters written in another script than the problem's);
- :func:`first_failure`: the ordered filter chain, returning the name of the first filter a sample
  fails (``None`` when it passes them all);
- :func:`mark_duplicates`: a passing trace identical to an earlier passing one of the same problem
  fails ``duplicate``;
- :func:`select_kept`: rejection sampling's last step, up to ``keep`` passing samples per problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from r1cli.rewards.language import char_script, script_counts, strip_notation  # noqa: F401 (re-exported)

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Filter names, in the order they are applied (cheap format checks first, the reward last).
FILTERS = ("finish_reason", "think", "max_tokens", "language", "paragraph", "code", "unverifiable", "reward",
           "duplicate")

MissingThink = Literal["prepend", "reject"]


def render_trace(reasoning: str, answer: str) -> str:
    """The assistant turn of an SFT record: ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``."""
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{answer.strip()}"


def graded_text(text: str, reasoning: str | None) -> str:
    """The text a reward sees: the completion, with separately returned reasoning put back in front.

    Independent of any filter setting, so a reward stored in the raw log stays valid when the
    filters change.
    """
    if reasoning:
        return render_trace(reasoning, text)
    return text


def assemble_trace(text: str, reasoning: str | None = None, *,
                   missing_think: MissingThink = "prepend") -> tuple[str, str] | None:
    """``(reasoning, answer)`` of one completion, or ``None`` when it is not a closed think block.

    - Reasoning returned separately (``reasoning``, e.g. the OpenAI API's ``reasoning_content``):
      the think block is closed iff the answer (``text``) is non-empty; a truncated reply has
      reasoning but no content.
    - Otherwise ``text`` must contain exactly one ``</think>`` with non-empty reasoning before it and a
      non-empty answer after it, and no ``<think>`` after it. Text before ``<think>`` is dropped. A
      text without ``<think>`` is the R1 prefill case (the prompt ended in ``"<think>\\n"``):
      ``missing_think="prepend"`` accepts it, ``"reject"`` refuses it.

    >>> assemble_trace("<think>\\n2+2=4\\n</think>\\n\\\\boxed{4}")
    ('2+2=4', '\\\\boxed{4}')
    >>> assemble_trace("2+2=4 </think> 4", missing_think="reject") is None
    True
    """
    if reasoning is not None and reasoning.strip():
        if THINK_CLOSE in text or THINK_OPEN in text or not text.strip():
            return None
        return reasoning.strip(), text.strip()
    if text.count(THINK_CLOSE) != 1:
        return None
    before, answer = text.split(THINK_CLOSE, 1)
    if THINK_OPEN in answer:
        return None
    if THINK_OPEN in before:
        if before.count(THINK_OPEN) != 1:
            return None
        before = before.split(THINK_OPEN, 1)[1]
    elif missing_think == "reject":
        return None
    if not before.strip() or not answer.strip():
        return None
    return before.strip(), answer.strip()


# ------------------------------------------------------------------------------ language consistency

def dominant_script(text: str, default: str = "Latin") -> str:
    """The script most letters of ``text`` are written in (ties: the one met first); ``default``
    when ``text`` has no letters (e.g. ``"12 + 34 = ?"``)."""
    counts = script_counts(text)
    return counts.most_common(1)[0][0] if counts else default


def foreign_share(text: str, script: str, allowed: tuple[str, ...] = ()) -> float:
    """Share of the letters of ``text`` written in neither ``script`` nor an ``allowed`` script.

    ``foreign / letters`` over :func:`script_counts`; 0.0 when ``text`` has no letters. Names compare
    case-insensitively. Example: ``"Two plus two is four. 所以"`` against Latin has 16 Latin letters and
    2 CJK ones, so 2 / 18 = 0.111.
    """
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    ok = {script.lower(), *(a.lower() for a in allowed)}
    foreign = sum(c for s, c in counts.items() if s.lower() not in ok)
    return foreign / total


def longest_paragraph(text: str) -> int:
    """Characters in the longest paragraph of ``text`` (paragraphs are separated by blank lines).

    >>> longest_paragraph("one\ntwo\n\nthree")
    7
    """
    return max((len(p.strip()) for p in _PARAGRAPH_BREAK.split(text)), default=0)


def has_code_block(text: str) -> bool:
    """True when ``text`` holds a fenced code block (a line opening with three backticks or tildes)."""
    return bool(_CODE_FENCE.search(text))


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_CODE_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)


# --------------------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class FilterSettings:
    """The thresholds of the chain (the config's ``filters`` and ``reward.min_value``, as plain values).

    ``None`` turns a check off: ``max_tokens=None`` keeps any length, ``max_foreign_share=None`` skips
    the language check.
    """

    require_stop: bool = True
    missing_think: MissingThink = "prepend"
    max_tokens: int | None = None
    max_foreign_share: float | None = 0.1
    allowed_scripts: tuple[str, ...] = ()
    default_script: str = "Latin"
    max_paragraph_chars: int | None = None
    drop_code_blocks: bool = False
    min_reward: float = 1.0
    drop_duplicates: bool = True


def first_failure(sample: dict, problem_text: str, reward: float | None, s: FilterSettings) -> str | None:
    """The first filter of :data:`FILTERS` that ``sample`` fails, or ``None`` when it passes them all.

    ``sample`` is a raw-log sample ``{"text", "reasoning"?, "finish_reason", "num_tokens"}``;
    ``reward`` is its reward (``None``: the reward cannot judge it, e.g. a gold that does not parse).

    1. ``finish_reason``: must be ``"stop"`` (a ``"length"`` reply was cut off);
    2. ``think``: :func:`assemble_trace` finds a closed think block and an answer;
    3. ``max_tokens``: ``num_tokens <= max_tokens`` (an unknown count fails the check);
    4. ``language``: :func:`foreign_share` of reasoning + answer against the problem's
       :func:`dominant_script` is at most ``max_foreign_share``;
    5. ``paragraph``: no paragraph of the reasoning (:func:`longest_paragraph`) is longer than
       ``max_paragraph_chars`` characters;
    6. ``code``: with ``drop_code_blocks``, the reasoning holds no fenced code block;
    7. ``unverifiable``: the reward is ``None``;
    8. ``reward``: the reward is at least ``min_reward``.
    """
    if s.require_stop and sample.get("finish_reason") != "stop":
        return "finish_reason"
    parts = assemble_trace(sample.get("text") or "", sample.get("reasoning"), missing_think=s.missing_think)
    if parts is None:
        return "think"
    if s.max_tokens is not None:
        num_tokens = sample.get("num_tokens")
        if num_tokens is None or num_tokens > s.max_tokens:
            return "max_tokens"
    if s.max_foreign_share is not None:
        script = dominant_script(problem_text, s.default_script)
        if foreign_share(parts[0] + "\n" + parts[1], script, s.allowed_scripts) > s.max_foreign_share:
            return "language"
    if s.max_paragraph_chars is not None and longest_paragraph(parts[0]) > s.max_paragraph_chars:
        return "paragraph"
    if s.drop_code_blocks and has_code_block(parts[0]):
        return "code"
    if reward is None:
        return "unverifiable"
    if reward < s.min_reward:
        return "reward"
    return None


def mark_duplicates(failures: list[str | None], traces: list[str | None]) -> list[str | None]:
    """``failures`` with ``"duplicate"`` for a passing sample whose trace equals an earlier passing one
    of the same problem (a teacher repeating itself adds no data).

    >>> mark_duplicates([None, None, "reward", None], ["a", "a", "b", "c"])
    [None, 'duplicate', 'reward', None]
    """
    seen: set[str | None] = set()
    out: list[str | None] = []
    for failure, trace in zip(failures, traces, strict=True):
        if failure is None and trace in seen:
            failure = "duplicate"
        elif failure is None:
            seen.add(trace)
        out.append(failure)
    return out


def select_kept(failures: list[str | None], keep: int) -> list[int]:
    """Indices of the samples kept: the first ``keep`` that passed every filter, in sample order.

    >>> select_kept(["reward", None, "think", None, None], 2)
    [1, 3]
    """
    return [i for i, f in enumerate(failures) if f is None][:keep]
