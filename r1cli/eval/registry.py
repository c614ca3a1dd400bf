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

Data (:func:`locate_data`): ``--data FILE``; else ``$R1_BENCHMARK_DIR/<name>.jsonl``; else, for a
tiny-world task, its held-out split; else the hub id below, read with ``datasets`` (its cache serves
it offline; with HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1 and nothing cached it fails at once). When no
place has it, one line names ``$R1_BENCHMARK_DIR`` and the hub id. ``r1 curate``'s decontam step
resolves names the same way (:func:`resolve_benchmark`). Small fixtures of every file benchmark
live in ``tests/fixtures/benchmarks`` (the tests point R1_BENCHMARK_DIR there).

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


def benchmark_dir() -> Path | None:
    """``$R1_BENCHMARK_DIR`` (the folder of ``<name>.jsonl`` benchmark files), or None when unset."""
    env = os.environ.get("R1_BENCHMARK_DIR")
    return Path(env).expanduser() if env else None


def locate_data(bench: Benchmark, data: str | os.PathLike | None = None) -> tuple[str, str]:
    """Where ``bench`` will be read from: ``("file", path)``, ``("task", name)`` or ``("hub", id)``.

    Order: ``data``; else ``$R1_BENCHMARK_DIR/<name>.jsonl``; else the built-in task split; else the hub
    id (read through the ``datasets`` cache; with HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1 only the cache,
    which fails at once when the dataset is not there: see :func:`load_benchmark`).
    """
    if data:
        return "file", str(data)
    bdir = benchmark_dir()
    if bdir is not None and (bdir / f"{bench.name}.jsonl").is_file():
        return "file", str(bdir / f"{bench.name}.jsonl")
    if bench.kind == "task":
        return "task", bench.name
    if bench.hub_id is None:
        raise _unreachable(bench, "it has no hub id", "pass the file with --data FILE")
    return "hub", bench.hub_id


def _unreachable(bench: Benchmark, why: str, file_hint: str) -> R1Error:
    """One line naming both places a benchmark is looked for: $R1_BENCHMARK_DIR and the hub id."""
    bdir = benchmark_dir()
    looked = (f"no {bench.name}.jsonl in $R1_BENCHMARK_DIR ({bdir})" if bdir is not None
              else "R1_BENCHMARK_DIR is not set")
    hub = f"hub dataset '{bench.hub_id}' could not be loaded: {why}" if bench.hub_id else f"no hub dataset: {why}"
    return R1Error(f"benchmark '{bench.name}': {looked}, and {hub}; set R1_BENCHMARK_DIR to a folder with "
                   f"{bench.name}.jsonl, or {file_hint}")


def _read_source(bench: Benchmark, kind: str, source: str, split: str, file_hint: str) -> tuple[list, list]:
    """Rows and locations of a located source; a hub that cannot be reached is :func:`_unreachable`."""
    from r1cli.data.io import HubUnavailable, read_located

    try:
        return read_located(source, split=split)
    except HubUnavailable as e:
        if kind != "hub":
            raise
        raise _unreachable(bench, e.reason, file_hint) from None


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
    file_hint: str = "pass the file with --data FILE",
    hints: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The prepared problem records of a benchmark, in file order (first ``limit`` only).

    Math: ``{"id", "problem", "answer", ...}``; multiple choice: plus ``"choices"`` and ``"answer"`` as
    the gold letter (shuffled with ``seed``); tasks: the task's records (``numbers``, ``target``, ...).
    ``file_hint`` says how the caller's user passes a file instead (ends the error when none is found);
    ``hints`` how to map a missing field (default: ``r1 eval``'s ``--set data.problem_field=NAME``).
    """
    from r1cli.data.io import SET_FIELD_HINTS, problems_from_rows

    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    kind, source = locate_data(bench, data)
    if kind == "task":
        return _task_split(bench, limit)
    split = split or bench.split
    rows, where = _read_source(bench, kind, source, split, file_hint)
    overrides = {"problem_field": problem_field, "answer_field": answer_field, "id_field": id_field}
    if bench.kind == "choice":
        from r1cli.eval.gpqa import normalize_record

        rows, where = (rows[:limit], where[:limit]) if limit else (rows, where)
        records = [normalize_record(_rename(r, overrides), seed=seed, where=at) for r, at in zip(rows, where, strict=True)]
        _check_unique(records, where)
        return records
    fields = _fields(bench, rows[0] if rows and kind == "file" else None, overrides)
    hints = SET_FIELD_HINTS if hints is None else hints
    records = problems_from_rows(rows, where, source=source, limit=limit, require_answer=True, hints=hints, **fields)
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


def _check_unique(records: list[dict[str, Any]], where: list[str]) -> None:
    first_at: dict[str, str] = {}
    for r, at in zip(records, where, strict=True):
        if r["id"] in first_at:
            raise R1Error(f"{at}: duplicate id '{r['id']}' (first at {first_at[r['id']]}); ids must be unique")
        first_at[r["id"]] = at


def resolve_benchmark(name: str, *, limit: int | None = None,
                      file_hint: str = "pass the file with --data FILE") -> tuple[str, list[dict[str, Any]]]:
    """``(name, problem records)`` of a benchmark named for decontamination (``r1 curate``).

    A registry name or alias (``math500``, ``MATH-500``) resolves exactly as ``r1 eval`` reads it
    (``$R1_BENCHMARK_DIR/<name>.jsonl``, else the hub through the ``datasets`` cache) and returns its
    canonical name; any other name is a problem file ``$R1_BENCHMARK_DIR/<name>.jsonl`` of your own.
    Every record has ``"id"`` and ``"problem"`` (the question text; multiple-choice options are in
    ``"choices"``).
    """
    from r1cli.data.io import load_problems

    key = _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key in BENCHMARKS:
        return key, load_benchmark(key, limit=limit, file_hint=file_hint, hints={"problem": "", "answer": "", "id": ""})
    bdir = benchmark_dir()
    if bdir is not None and (bdir / f"{name}.jsonl").is_file():
        return name, load_problems(bdir / f"{name}.jsonl", answer_field=None, limit=limit)
    own = sorted(f.stem for f in bdir.glob("*.jsonl")) if bdir is not None and bdir.is_dir() else []
    found = f"; files in $R1_BENCHMARK_DIR ({bdir}): {', '.join(own)}" if own else (
        f"; $R1_BENCHMARK_DIR ({bdir}) has no {name}.jsonl" if bdir is not None else "")
    raise R1Error(f"unknown benchmark '{name}'{did_you_mean(key, [*BENCHMARKS, *_ALIASES, *own])}; "
                  f"{one_of(BENCHMARKS)}{found}, or {file_hint}")
