"""The ``pairs`` step: preference pairs for DPO from ``r1 sample`` output graded by a reward.

Input rows are sample records (``{"id", "problem", "answer", "samples": [{"text", "num_tokens"?,
...}]}``, as ``r1 sample`` writes them). Every sample is graded against ``answer`` with ``reward``
(``accuracy`` by default; a sample is correct when its score is ``>= min_reward``). A row with at
least one correct and one incorrect sample becomes one pair row ``{"id", "problem", "answer",
"chosen", "rejected", "chosen_index", "rejected_index", "chosen_tokens", "rejected_tokens"}``;
the others are removed and counted by reason (no correct sample, no incorrect sample, no gold).

``select``:

- ``random``: a correct and an incorrect sample drawn with ``seed`` (per row, so a row's pair does
  not depend on the other rows);
- ``shortest-longest``: the shortest correct against the longest incorrect (in tokens when the
  samples carry ``num_tokens``, else in characters), the pairing that teaches brevity;
- ``min_margin`` (any select; off by default): drop the pair when the rejected sample is not at
  least this many tokens (or characters) longer than the chosen one, a minimum length margin.

A pair whose chosen and rejected texts are identical is never written.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from r1cli.curate.rows import Row, StepResult, check_choice, mark_removed
from r1cli.curate.verify import resolve_reward
from r1cli.errors import R1Error

SELECTIONS = ("random", "shortest-longest")


def _length(sample: dict) -> int:
    tokens = sample.get("num_tokens")
    return int(tokens) if isinstance(tokens, int) and not isinstance(tokens, bool) else len(sample["text"])


def _samples_of(row: Row) -> list[dict]:
    samples = row.get("samples")
    if not isinstance(samples, list):
        raise R1Error(f"pairs: row '{row.get('id')}' has no 'samples' list; the pairs step reads r1 sample "
                      "output (samples.jsonl)")
    for j, s in enumerate(samples):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str):
            raise R1Error(f"pairs: row '{row.get('id')}': samples[{j}].text must be a string")
    return samples


def check_pairs_params(select: str = "random", min_margin: int | None = None, **_: Any) -> None:
    """The values the step checks before any row is read (config time)."""
    check_choice("pairs", "select", select, SELECTIONS)
    if min_margin is not None and (not isinstance(min_margin, int) or isinstance(min_margin, bool) or min_margin < 0):
        raise R1Error(f"pairs.min_margin must be a whole number >= 0, got {min_margin!r}")


def pairs_rows(rows: list[Row], *, reward: Any = "accuracy", reward_params: dict[str, Any] | None = None,
               min_reward: float = 1.0, select: str = "random", min_margin: int | None = None,
               seed: int = 0) -> StepResult:
    """Grade every sample and turn each row into one (chosen, rejected) pair (module docstring)."""
    check_pairs_params(select, min_margin)
    fn = resolve_reward(reward, reward_params)
    graded = [(i, j) for i, row in enumerate(rows) if str(row.get("answer") or "").strip()
              for j in range(len(_samples_of(row)))]
    texts = [rows[i]["samples"][j]["text"] for i, j in graded]
    scores = fn(texts, answer=[str(rows[i]["answer"]) for i, _ in graded]) if graded else []
    by_row: dict[int, list[tuple[int, float | None]]] = {}
    for (i, j), score in zip(graded, scores, strict=True):
        by_row.setdefault(i, []).append((j, score))

    kept, removed = [], []
    for i, row in enumerate(rows):
        base = {k: v for k, v in row.items() if k != "samples"}
        if i not in by_row:
            removed.append(mark_removed(base, "pairs", "no gold answer"))
            continue
        samples = row["samples"]
        right = [j for j, s in by_row[i] if s is not None and s >= min_reward]
        wrong = [j for j, s in by_row[i] if s is not None and s < min_reward]
        wrong = [j for j in wrong if all(samples[j]["text"] != samples[k]["text"] for k in right)]
        if not right or not wrong:
            removed.append(mark_removed(base, "pairs", "no correct sample" if not right else "no incorrect sample"))
            continue
        if select == "random":
            rng = random.Random(int(hashlib.sha256(f"{seed}:{row.get('id', i)}".encode()).hexdigest()[:16], 16))
            chosen, rejected = rng.choice(right), rng.choice(wrong)
        else:
            chosen = min(right, key=lambda j: (_length(samples[j]), j))
            rejected = max(wrong, key=lambda j: (_length(samples[j]), -j))
        margin = _length(samples[rejected]) - _length(samples[chosen])
        if min_margin is not None and margin < min_margin:
            removed.append(mark_removed(base, "pairs", f"length margin {margin} < min_margin {min_margin}"))
            continue
        kept.append({**base, "chosen": samples[chosen]["text"], "rejected": samples[rejected]["text"],
                     "chosen_index": chosen, "rejected_index": rejected,
                     "chosen_tokens": _length(samples[chosen]), "rejected_tokens": _length(samples[rejected])})
    return kept, removed
