"""Language consistency: which script the letters of a text are written in, and R1's reward for it.

DeepSeek-R1 (v1 §2.3.2) adds a *language-consistency reward* to the accuracy reward during its
reasoning RL: the share of the chain of thought's words that are in the target language. Here:

- notation is not language: code spans and blocks, ``$…$`` / ``\\(…\\)`` / ``\\[…\\]`` math, LaTeX
  commands and the think tags are removed first (:func:`strip_notation`);
- a *unit* is one CJK character (Chinese has no spaces between words, so each character counts), or
  one maximal run of letters of any other script (``"Wait"`` is one Latin word, ``"да"`` one Cyrillic
  word); digits, punctuation and operators belong to no language (:func:`language_units`);
- the consistency of a thought is target units / all units (:func:`language_consistency`); a thought
  with no units at all (empty, or only ``2+3=5``) has nothing in another language and scores
  ``empty`` (1.0 by default).

The reward (``--reward acc,format,language``) scores the thought only: the text before ``</think>``
(after a leading ``<think>``), or all of a completion that never closes its thought. Its weight is the
reward spec's (``acc:1,language:1`` sums it with accuracy as R1 does; ``language:0`` logs it without
training on it).

Everything here is pure Python over strings (no I/O, no config imports).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from r1cli.errors import R1Error, did_you_mean, one_of
from r1cli.rewards.extract import THINK_CLOSE, THINK_OPEN, completion_text

# Spans that are notation rather than language: code, display/inline math, LaTeX commands, and the
# think tags themselves (whose letters are Latin).
_NOTATION = re.compile(
    r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\[A-Za-z]+|</?think>",
    re.DOTALL,
)
_CJK_WORDS = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC", "BOPOMOFO"}
# Letter-like symbols (ℝ, 𝑥, ℓ, ℏ, ᵢ): mathematics, not a language.
_SYMBOL_WORDS = {"MATHEMATICAL", "DOUBLE-STRUCK", "SCRIPT", "BLACK-LETTER", "PLANCK", "MODIFIER",
                 "SUPERSCRIPT", "SUBSCRIPT", "ANGSTROM", "KELVIN", "OHM", "ESTIMATED", "TURNED"}

# Target languages -> the script their words are written in.
LANGUAGES = {"en": "Latin", "fr": "Latin", "de": "Latin", "es": "Latin", "zh": "CJK", "ja": "CJK",
             "ru": "Cyrillic", "ko": "Hangul", "el": "Greek", "ar": "Arabic"}


def char_script(ch: str) -> str | None:
    """The script of one letter (``"Latin"``, ``"Greek"``, ``"Cyrillic"``, ``"CJK"``, ``"Hangul"``, …).

    ``None`` for anything that is not a letter (digits, punctuation, spaces, operators) and for
    letter-like math symbols. Chinese characters and Japanese kana form one script, ``"CJK"``;
    full-width Latin letters are Latin. The script is the first word of the Unicode name.
    """
    if not ch.isalpha():
        return None
    if ch.isascii():
        return "Latin"
    words = unicodedata.name(ch, "").split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH"):
        words = words[1:]
    if not words or words[0] in _SYMBOL_WORDS:
        return None
    if words[0] in _CJK_WORDS:
        return "CJK"
    return words[0].capitalize()


def strip_notation(text: str) -> str:
    """``text`` without code, math spans, LaTeX commands and think tags (see :data:`_NOTATION`)."""
    return _NOTATION.sub(" ", text)


def script_counts(text: str) -> Counter[str]:
    """Letters per script in ``text`` after :func:`strip_notation`."""
    counts: Counter[str] = Counter()
    for ch in strip_notation(text):
        script = char_script(ch)
        if script is not None:
            counts[script] += 1
    return counts


def language_units(text: str) -> Counter[str]:
    """Units per script in ``text`` after :func:`strip_notation`: each CJK character is one unit, a
    maximal run of letters of another script is one word.

    >>> dict(language_units("Wait, 3+4=7. 所以答案是7"))
    {'Latin': 1, 'CJK': 5}
    """
    units: Counter[str] = Counter()
    previous: str | None = None
    for ch in strip_notation(text):
        script = char_script(ch)
        if script == "CJK" or (script is not None and script != previous):
            units[script] += 1
        previous = script
    return units


def language_consistency(text: str, lang: str = "en", empty: float = 1.0) -> float:
    """Target-language units / all units of ``text`` (:func:`language_units`); ``empty`` when it has none.

    >>> round(language_consistency("First add 3 and 4, 然后 multiply", "en"), 4)  # 4 words, 2 CJK chars
    0.6667
    """
    units = language_units(text)
    total = sum(units.values())
    if total == 0:
        return empty
    return units[target_script(lang)] / total


def target_script(lang: str) -> str:
    """``"en"`` -> ``"Latin"``, ``"zh"`` -> ``"CJK"``; R1Error for a language not in :data:`LANGUAGES`."""
    key = str(lang).strip().lower()
    if key not in LANGUAGES:
        raise R1Error(f"language reward: unknown lang '{lang}'{did_you_mean(key, LANGUAGES)}; "
                      f"use {one_of(LANGUAGES)}")
    return LANGUAGES[key]


def thought_of(text: str) -> str:
    """The chain of thought of a completion: before ``</think>`` (after a leading ``<think>``), or all
    of a completion that never closes its thought (a cut-off or prefilled one)."""
    before = text.split(THINK_CLOSE, 1)[0]
    return before.split(THINK_OPEN, 1)[1] if THINK_OPEN in before else before


def check_language_params(lang: str = "en", empty: float = 1.0) -> None:
    """The language reward's parameter values, checked at config time (:func:`r1cli.rewards.registry.check_reward`)."""
    target_script(lang)
    if not 0.0 <= float(empty) <= 1.0:
        raise R1Error(f"language reward: empty must be in [0, 1], got {empty}")


def make_language_reward(lang: str = "en", empty: float = 1.0) -> Callable:
    """``language``: R1's language-consistency reward, the share of target-language units in the thought.

    ``lang``: the target language (``en``: Latin-script words, ``zh``: CJK characters; see
    :data:`LANGUAGES`); ``empty``: the score of a thought with no words at all.
    """
    check_language_params(lang, empty)

    def language_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [language_consistency(thought_of(completion_text(c)), lang, float(empty)) for c in completions]

    language_reward.__name__ = "language"
    return language_reward
