"""The benchmark registry: where each benchmark's data lives, how it is prompted and graded, and the
sampling protocol the papers use for it.

Protocol sources (../shared/reference/eval-and-curation.md §2, RECIPES.md Part C1):

- prompt: no system prompt; the user turn is the problem followed by "Please reason step by step, and
  put your final answer within \\boxed{}." (DeepSeek-R1 model card);
- temperature 0.6, top_p 0.95, at most 32,768 new tokens (R1 v1 §3, open-r1 lighteval);
- samples per problem: 64 for AIME (open-r1 lighteval ``aime24_avg``, R1 cons@64), 4 for MATH-500
  (open-r1), 8 for GPQA-Diamond (open-r1 / SkyThought), 1 for GSM8K (a smoke test; 1-4 in the
  reference). AMC23 is not in those tables: we use 16, the sample count of DeepScaleR's evaluation
  ("mean of 16 samples", eval-and-curation.md §2), which reports AMC.

Built-in tiny-world tasks (``countdown``, ``arith``) are graded by the task's own checker and evaluated
on a fixed held-out split: problems ``[10000, 10200)`` of ``task.generate(seed=0)``. Generation is
prefix-stable and duplicate-free, so this split never overlaps the training problems of
``r1 data make TASK --seed 0`` with ``--n + --held-out <= 10000`` (defaults 1000 + 200; the demo uses
at most 4000 + 200). Their protocol (n 4, 256 new tokens) is our choice for a ~1M-parameter model whose
teacher traces are under 100 tokens.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from r1cli.errors import R1Error, did_you_mean, one_of

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = "Answer with the letter of the correct option."
TASK_EVAL_SEED = 0
TASK_EVAL_OFFSET = 10_000
TASK_EVAL_SIZE = 200

Kind = Literal["math", "choice", "task"]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: data source + field mapping, prompt, answer type and protocol defaults."""

    name: str
    kind: Kind
    description: str
    hub_id: str | None = None  # "org/name" or "org/name:config"
    split: str = "test"
    problem_field: str = "problem"
    answer_field: str = "answer"
    id_field: str = "id"
    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 32768
    source: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def task(self) -> Any:
        """The tiny-world :class:`~r1cli.tasks.Task` behind a ``task`` benchmark."""
        from r1cli.tasks import get_task

        return get_task(self.name)

    def user_text(self, record: dict[str, Any], template: str | None = None) -> str:
        """The user-turn text for one prepared record (``template`` overrides, with ``{problem}``)."""
        if self.kind == "task":
            body = self.task.prompt(record)
        elif self.kind == "choice":
            from r1cli.eval.gpqa import format_question

            body = format_question(record)
        else:
            body = str(record["problem"]).strip()
        if template is not None:
            return template.replace("{problem}", body)
        if self.kind == "math":
            return f"{body}\n{MATH_INSTRUCTION}"
        if self.kind == "choice":
            return f"{body}\n\n{CHOICE_INSTRUCTION}\n{MATH_INSTRUCTION}"
        return body

    def prompt(self, record: dict[str, Any], template: str | None = None) -> list[dict[str, str]]:
        """Chat messages for one record: a single user turn, no system prompt (R1 protocol)."""
        return [{"role": "user", "content": self.user_text(record, template)}]


_R1 = "R1 protocol (T 0.6, top_p 0.95, 32,768 tokens; eval-and-curation.md §2)"

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("aime24", "math", "AIME 2024 I & II, 30 integer answers", "HuggingFaceH4/aime_2024", "train",
                  n=64, source=f"{_R1}; n 64 = open-r1 aime24_avg, R1 cons@64", aliases=("aime2024", "aime_2024")),
        Benchmark("aime25", "math", "AIME 2025 I & II, 30 integer answers", "yentinglin/aime_2025", "train",
                  n=64, source=f"{_R1}; n 64 as for AIME24", aliases=("aime2025", "aime_2025")),
        Benchmark("amc23", "math", "AMC 2023, 40 problems with numeric answers", "math-ai/amc23", "test",
                  problem_field="question", n=16,
                  source=f"{_R1}; n 16 is our choice (DeepScaleR's 16-sample mean); hub id not in the reference",
                  aliases=("amc2023",)),
        Benchmark("math500", "math", "MATH-500 (PRM800K test subset), LaTeX answers", "HuggingFaceH4/MATH-500",
                  "test", id_field="unique_id", n=4, source=f"{_R1}; n 4 = open-r1", aliases=("math-500", "math_500")),
        Benchmark("gsm8k", "math", "GSM8K test, 1,319 integer answers (a smoke test)", "openai/gsm8k:main", "test",
                  problem_field="question", n=1, source=f"{_R1}; n 1 (reference: 1-4)"),
        Benchmark("gpqa-diamond", "choice", "GPQA Diamond, 198 four-option questions (gated)",
                  "Idavidrein/gpqa:gpqa_diamond", "train", problem_field="Question", answer_field="Correct Answer",
                  id_field="Record ID", n=8, source=f"{_R1}; n 8 = open-r1 / SkyThought; options shuffled per id",
                  aliases=("gpqa", "gpqa_diamond", "gpqa-d")),
        Benchmark("countdown", "task", "tiny world: countdown, held-out split of 200", n=4, max_new_tokens=256,
                  source="tiny world (our choice: n 4, 256 new tokens)"),
        Benchmark("arith", "task", "tiny world: multi-step arithmetic, held-out split of 200", n=4,
                  max_new_tokens=256, source="tiny world (our choice: n 4, 256 new tokens)"),
    ]
}
_ALIASES = {a: b.name for b in BENCHMARKS.values() for a in b.aliases}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (case-insensitive, aliases such as ``gpqa`` allowed)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in BENCHMARKS:
        raise R1Error(f"unknown benchmark '{name}'{did_you_mean(key, [*BENCHMARKS, *_ALIASES])}; "
                      f"{one_of(BENCHMARKS)} (or lm-eval:TASK for lm-evaluation-harness tasks)")
    return BENCHMARKS[key]


def _gsm8k_answer(value: Any) -> Any:
    """GSM8K hub answers are rationales ending in ``#### 72``; keep the number (commas dropped)."""
    if isinstance(value, str) and "####" in value:
        return value.rsplit("####", 1)[1].strip().replace(",", "")
    return value


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"


def _fields(bench: Benchmark, first: dict[str, Any] | None, overrides: dict[str, str | None]) -> dict[str, str]:
    """Field names for a source: explicit overrides, else canonical names when present, else the hub's."""
    canonical = {"problem_field": "problem", "answer_field": "answer", "id_field": "id"}
    hub = {"problem_field": bench.problem_field, "answer_field": bench.answer_field, "id_field": bench.id_field}
    use_hub = first is None or (canonical["problem_field"] not in first and bench.problem_field in first)
    base = hub if use_hub else canonical
    return {k: (overrides.get(k) or base[k]) for k in canonical}


@functools.lru_cache(maxsize=8)
def _full_task_split(name: str) -> tuple[dict[str, Any], ...]:
    from r1cli.tasks import get_task

    return tuple(get_task(name).generate(TASK_EVAL_OFFSET + TASK_EVAL_SIZE, TASK_EVAL_SEED)[TASK_EVAL_OFFSET:])


def _task_split(bench: Benchmark, limit: int | None) -> list[dict[str, Any]]:
    """Problems ``[TASK_EVAL_OFFSET, TASK_EVAL_OFFSET + TASK_EVAL_SIZE)`` of ``generate(seed=0)`` (cached)."""
    records = _full_task_split(bench.name)
    return copy.deepcopy(list(records[:limit] if limit else records))


def locate_data(bench: Benchmark, data: str | os.PathLike | None = None) -> tuple[str, str]:
    """Where ``bench`` will be read from: ``("file", path)``, ``("task", name)`` or ``("hub", id)``.

    Order: ``data``; else ``$R1_BENCHMARK_DIR/<name>.jsonl``; else the built-in task split; else the hub
    (an R1Error when the hub is offline).
    """
    if data:
        return "file", str(data)
    env = os.environ.get("R1_BENCHMARK_DIR")
    if env and (Path(env) / f"{bench.name}.jsonl").is_file():
        return "file", str(Path(env) / f"{bench.name}.jsonl")
    if bench.kind == "task":
        return "task", bench.name
    if bench.hub_id is None or _offline():
        looked = f"$R1_BENCHMARK_DIR/{bench.name}.jsonl ({env or 'R1_BENCHMARK_DIR unset'})"
        raise R1Error(f"benchmark '{bench.name}': no --data FILE, no {looked}, and the hub is offline "
                      f"(HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1): pass --data FILE or set R1_BENCHMARK_DIR "
                      f"to a folder with {bench.name}.jsonl")
    return "hub", bench.hub_id


def load_benchmark(
    bench: Benchmark | str,
    *,
    data: str | os.PathLike | None = None,
    limit: int | None = None,
    split: str | None = None,
    problem_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The prepared problem records of a benchmark, in file order (first ``limit`` only).

    Math: ``{"id", "problem", "answer", ...}``; multiple choice: plus ``"choices"`` and ``"answer"`` as
    the gold letter (shuffled with ``seed``); tasks: the task's records (``numbers``, ``target``, ...).
    """
    from r1cli.data.io import load_problems, read_records

    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    kind, source = locate_data(bench, data)
    if kind == "task":
        return _task_split(bench, limit)
    overrides = {"problem_field": problem_field, "answer_field": answer_field, "id_field": id_field}
    if bench.kind == "choice":
        from r1cli.eval.gpqa import normalize_record

        rows = read_records(source, split=split or bench.split)
        rows = rows[:limit] if limit else rows
        where = source if kind == "file" else f"hub dataset {source}"
        records = [normalize_record(_rename(r, overrides), seed=seed, where=where) for r in rows]
        _check_unique(records, where)
        return records
    first = next(iter(read_records(source)), None) if kind == "file" else None
    fields = _fields(bench, first, overrides)
    records = load_problems(source, split=split or bench.split, limit=limit, require_answer=True, **fields)
    if bench.name == "gsm8k":
        records = [{**r, "answer": _gsm8k_answer(r.get("answer"))} for r in records]
    return records


def _rename(row: dict[str, Any], overrides: dict[str, str | None]) -> dict[str, Any]:
    """Apply --problem-field / --id-field overrides to a multiple-choice row."""
    out = dict(row)
    if overrides.get("problem_field"):
        out["problem"] = row.get(overrides["problem_field"])
    if overrides.get("id_field"):
        out["id"] = row.get(overrides["id_field"])
    if overrides.get("answer_field"):
        out["correct_answer"] = row.get(overrides["answer_field"])
    return out


def _check_unique(records: list[dict[str, Any]], where: str) -> None:
    seen: set[str] = set()
    for i, r in enumerate(records):
        if r["id"] in seen:
            raise R1Error(f"{where}: record {i + 1}: duplicate id '{r['id']}' (ids must be unique)")
        seen.add(r["id"])


def resolve_benchmark(name: str, *, data: str | os.PathLike | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Problem records of benchmark ``name`` (same sources and order as ``r1 eval``).

    For decontamination (``r1 curate``): every record has ``"id"`` and ``"problem"`` (the question
    text; multiple-choice options are in ``"choices"``) and ``"answer"``.
    """
    return load_benchmark(name, data=data, limit=limit)
