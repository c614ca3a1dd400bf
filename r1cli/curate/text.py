"""Text normalisation shared by the curation steps (pure functions, no I/O).

Three different "normal forms" are used, each for one purpose:

- :func:`clean_text` — what the ``normalize`` step writes back into a row: Unicode NFKC, runs of
  horizontal whitespace collapsed to one space, each line stripped, three or more newlines collapsed
  to a blank line (LaTeX display blocks keep their line structure).
- :func:`match_key` — what exact dedup and exact decontamination hash: NFKC, lower-case, all
  whitespace collapsed to one space; optionally with every digit removed, so that "same problem,
  numbers changed" collides (Light-R1's trick).
- :func:`words` — the word tokens used for shingles (dedup) and n-grams (decontam): maximal runs of
  letters/digits of the :func:`match_key` text. Punctuation and LaTeX markup are dropped, so
  ``$x^2$`` and ``\\(x^2\\)`` give the same words ``["x", "2"]``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_HSPACE = re.compile(r"[^\S\n]+")  # whitespace other than newline
_MANY_NEWLINES = re.compile(r"\n{3,}")
_ANY_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W_]+")  # letters and digits, no underscore
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]")  # words, and each symbol (+ - = ^ ...) on its own
# UTF-8 read as Latin-1/cp1252 ("é" -> "Ã©", "’" -> "â€™"): each match counts as one bad character.
_MOJIBAKE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]|\u00e2\u20ac")


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """NFKC + whitespace collapse. With ``keep_newlines=False`` every whitespace run becomes one space."""
    text = unicodedata.normalize("NFKC", text)
    if not keep_newlines:
        return _ANY_SPACE.sub(" ", text).strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def match_key(text: str, *, strip_digits: bool = False) -> str:
    """Lower-cased, NFKC, whitespace-collapsed text (digits removed when ``strip_digits``)."""
    text = unicodedata.normalize("NFKC", text).lower()
    if strip_digits:
        text = _DIGITS.sub("", text)
    return _ANY_SPACE.sub(" ", text).strip()


def text_hash(text: str, *, strip_digits: bool = False) -> str:
    """A 128-bit hex digest of :func:`match_key` (blake2b: stable across runs and platforms)."""
    key = match_key(text, strip_digits=strip_digits)
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def words(text: str) -> list[str]:
    """Word tokens of :func:`match_key` text: maximal runs of letters and digits."""
    return _WORD.findall(match_key(text))


def tokens(text: str) -> list[str]:
    """:func:`words` plus every symbol as a token of its own, for near-duplicate detection: in math,
    ``What is 6 - 4?`` and ``What is 6 + 4?`` share every word but are different problems."""
    return _TOKEN.findall(match_key(text))


def _is_bad_char(ch: str) -> bool:
    if ch == "\ufffd":  # the replacement character left by a failed decode
        return True
    cat = unicodedata.category(ch)
    if cat == "Cc":  # control characters, except ordinary whitespace
        return ch not in "\t\n\r"
    return cat in ("Cs", "Co", "Cn")  # surrogates, private use, unassigned code points


def garbled_ratio(text: str) -> float:
    """Share of "bad" characters among the non-space characters of ``text`` (0.0 for empty text).

    Bad: U+FFFD replacement characters, control characters other than tab/newline/CR, surrogates,
    private-use and unassigned code points, and each mojibake pair such as ``Ã©`` or ``â€`` (UTF-8
    decoded as Latin-1). Example: ``"ab\\ufffd\\ufffd"`` has 4 non-space characters, 2 bad -> 0.5.
    """
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return 0.0
    bad = sum(1 for ch in visible if _is_bad_char(ch)) + len(_MOJIBAKE.findall(text))
    return min(1.0, bad / len(visible))
