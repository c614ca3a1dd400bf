"""Multiple-choice questions (GPQA-Diamond): seeded option shuffle, prompt and letter extraction.

GPQA ships each question with its correct answer and three incorrect ones, unordered. Harnesses that
draw the gold position afresh on every run (lighteval's ``random.randint``) make scores jitter between
runs; here the order is a pure function of ``(seed, problem id)``, so every run, every machine and a
re-grade see the same letters.
"""

from __future__ import annotations

import random
import re
from typing import Any

from r1cli.errors import R1Error

LETTERS = "ABCDEFGHIJ"
_RAW_INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
_BOXED_WRAPPERS = re.compile(r"^\s*(?:\\text\{|\\textbf\{|\\mathrm\{|\\mathbf\{)?\s*\(?([A-J])\)?\s*\}?\s*[.):]?\s*$")
_ANSWER_LINE = re.compile(r"(?i)answer\s*(?:is|:)?\s*[:\s]*\(?\*{0,2}\s*([A-J])\b(?![a-z])")


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def shuffle_options(correct: str, incorrect: list[str], problem_id: str, seed: int = 0) -> tuple[list[str], str]:
    """Put the correct answer and the distractors in an order fixed by ``(seed, problem_id)``.

    Returns ``(options, gold_letter)``; ``options[LETTERS.index(gold_letter)] == correct``. The RNG is
    ``random.Random(f"gpqa-{seed}-{problem_id}")`` (string seeds hash with SHA-512: the same on every
    machine and Python process, unlike ``hash()``).
    """
    options = [correct, *incorrect]
    order = list(range(len(options)))
    random.Random(f"gpqa-{seed}-{problem_id}").shuffle(order)
    shuffled = [options[i] for i in order]
    return shuffled, LETTERS[order.index(0)]


def normalize_record(row: dict[str, Any], *, seed: int = 0, where: str = "gpqa") -> dict[str, Any]:
    """One multiple-choice problem record ``{"id", "problem", "choices", "answer", "answer_text"}``.

    Accepted input forms:

    - the hub's columns: ``Question``, ``Correct Answer``, ``Incorrect Answer 1..3`` (``Record ID``);
    - ``problem``/``question`` with ``correct_answer`` and ``incorrect_answers`` (a list);
    - ``problem`` with ``choices`` (a list, kept in the given order) and ``answer`` (a letter or index).

    The first two are shuffled with :func:`shuffle_options`; ``answer`` is the gold letter.
    """
    rid = str(row.get("id") or row.get("Record ID") or "")
    question = row.get("problem") or row.get("question") or row.get("Question")
    if not question:
        raise R1Error(f"{where}: record '{rid}' has no question (expected 'problem', 'question' or 'Question')")
    if not isinstance(question, str):
        from r1cli.data.fields import wrong_type

        raise wrong_type(where, next(k for k in ("problem", "question", "Question") if row.get(k)), "a string", question)
    if "choices" in row and row["choices"]:
        choices = [_clean(c) for c in row["choices"]]
        gold = row.get("answer")
        if isinstance(gold, int) and 0 <= gold < len(choices):
            letter = LETTERS[gold]
        elif isinstance(gold, str) and gold.strip().upper() in LETTERS[: len(choices)]:
            letter = gold.strip().upper()
        else:
            raise R1Error(f"{where}: record '{rid}': 'answer' must be a letter or an index into 'choices', got {gold!r}")
        return {"id": rid, "problem": str(question).strip(), "choices": choices, "answer": letter,
                "answer_text": choices[LETTERS.index(letter)]}
    if "Correct Answer" in row:
        correct, incorrect = row["Correct Answer"], [row.get(k) for k in _RAW_INCORRECT]
    elif "correct_answer" in row:
        correct, incorrect = row["correct_answer"], list(row.get("incorrect_answers") or [])
    else:
        raise R1Error(
            f"{where}: record '{rid}' has no answer options; expected 'Correct Answer' + 'Incorrect Answer 1..3', "
            "'correct_answer' + 'incorrect_answers', or 'choices' + 'answer'"
        )
    incorrect = [_clean(x) for x in incorrect if x is not None and _clean(x)]
    if not incorrect:
        raise R1Error(f"{where}: record '{rid}' has no incorrect options")
    rid = rid or _stable(str(question))
    options, letter = shuffle_options(_clean(correct), incorrect, rid, seed)
    return {"id": rid, "problem": str(question).strip(), "choices": options, "answer": letter,
            "answer_text": _clean(correct)}


def _stable(text: str) -> str:
    from r1cli.data.io import stable_id

    return stable_id(text)


def format_question(record: dict[str, Any]) -> str:
    """Question, then one option per line as ``A) ...``."""
    lines = [record["problem"].strip(), ""]
    lines += [f"{LETTERS[i]}) {choice}" for i, choice in enumerate(record["choices"])]
    return "\n".join(lines)


def extract_letter(text: str, choices: list[str] | None = None) -> str | None:
    """The option letter a completion commits to, or None.

    Order: the last ``\\boxed{}`` after the final ``</think>`` holding a letter (``B``, ``(B)``,
    ``\\text{B}``), or the exact text of one option; else the last ``Answer: B`` / ``answer is (B)``
    line of the final part. Letters beyond the number of choices are ignored.
    """
    from r1cli.rewards.extract import final_part, last_boxed

    valid = LETTERS[: len(choices)] if choices else LETTERS[:4]
    rest = final_part(text)
    boxed = last_boxed(rest)
    if boxed is not None:
        m = _BOXED_WRAPPERS.match(boxed)
        if m and m.group(1) in valid:
            return m.group(1)
        if choices:
            hits = [i for i, c in enumerate(choices) if _clean(c).lower() == _clean(boxed).lower()]
            if len(hits) == 1:
                return LETTERS[hits[0]]
    found = [m.group(1) for m in _ANSWER_LINE.finditer(rest) if m.group(1) in valid]
    return found[-1] if found else None
