"""difficulty: pass-rate band with a scripted backend, and the sample cache."""

import pytest

from r1cli.curate.difficulty import difficulty_rows
from r1cli.errors import R1Error
from r1cli.generation.base import Completion, GenerationBackend, SamplingParams


class ScriptedBackend(GenerationBackend):
    """For the problem "P<i>", returns ``correct[i]`` completions "\\boxed{<answer>}" and the rest wrong."""

    name = "scripted"

    def __init__(self, correct: dict[str, int], answers: dict[str, str]):
        self.correct, self.answers, self.calls, self.prompts = correct, answers, 0, []

    def generate(self, prompts, params: SamplingParams):
        self.calls += 1
        out = []
        for prompt in prompts:
            content = prompt[0]["content"] if isinstance(prompt, list) else prompt
            self.prompts.append(content)
            problem = content.split("\n")[0]
            good = self.correct[problem]
            out.append([Completion(text=f"\\boxed{{{self.answers[problem] if j < good else 'wrong'}}}",
                                   token_ids=(1, 2, 3))
                        for j in range(params.n)])
        return out


def exact_boxed(completions, answer, **columns):
    return [float(c == f"\\boxed{{{a}}}") for c, a in zip(completions, answer, strict=True)]


ROWS = [{"id": f"r{i}", "problem": f"P{i}", "answer": str(10 + i)} for i in range(4)]
CORRECT = {"P0": 0, "P1": 1, "P2": 3, "P3": 4}  # out of k = 4
ANSWERS = {f"P{i}": str(10 + i) for i in range(4)}


def test_default_band_drops_never_and_always_solved():
    backend = ScriptedBackend(CORRECT, ANSWERS)
    kept, removed = difficulty_rows(ROWS, backend=backend, k=4, reward=exact_boxed)
    # pass rates: 0/4 = 0, 1/4 = 0.25, 3/4 = 0.75, 4/4 = 1; default band (0, 1) exclusive
    assert [(r["id"], r["pass_rate"]) for r in kept] == [("r1", 0.25), ("r2", 0.75)]
    assert {r["id"]: r["reason"] for r in removed} == {
        "r0": "too hard: pass rate 0.00 over 4 samples outside (0, 1)",
        "r3": "too easy: pass rate 1.00 over 4 samples outside (0, 1)",
    }
    assert removed[0]["pass_rate"] == 0.0 and removed[0]["removed_by"] == "difficulty"
    assert backend.prompts[0].startswith("P0\nPlease reason step by step")


def test_custom_inclusive_band():
    backend = ScriptedBackend(CORRECT, ANSWERS)
    kept, _ = difficulty_rows(ROWS, backend=backend, k=4, reward=exact_boxed,
                              min_pass_rate=0.25, max_pass_rate=0.5, inclusive=True)
    assert [r["id"] for r in kept] == ["r1"]  # only 0.25 lies in [0.25, 0.5]


def test_sample_cache_is_reused_on_rerun(tmp_path):
    cache = tmp_path / "samples.jsonl"
    backend = ScriptedBackend(CORRECT, ANSWERS)
    first = difficulty_rows(ROWS, backend=backend, k=4, reward=exact_boxed, cache_path=cache, batch_size=3)
    assert backend.calls == 2  # 4 rows in batches of 3 -> 2 generate calls
    assert len(cache.read_text().splitlines()) == 4
    again = ScriptedBackend(CORRECT, ANSWERS)
    assert difficulty_rows(ROWS, backend=again, k=4, reward=exact_boxed, cache_path=cache) == first
    assert again.calls == 0
    # other sampling parameters -> other cache key -> sampled again
    difficulty_rows(ROWS, backend=again, k=4, reward=exact_boxed, cache_path=cache, temperature=1.0)
    assert again.calls == 1


def test_difficulty_needs_a_backend():
    with pytest.raises(R1Error, match="needs a generation backend"):
        difficulty_rows(ROWS, reward=exact_boxed)


def test_run_curate_injects_the_backend_and_caches_samples(tmp_path, jsonl_writer):
    from r1cli.curate import InputSpec, StepSpec, run_curate

    data = jsonl_writer(tmp_path / "d.jsonl", ROWS)
    steps = [StepSpec("difficulty", {"k": 4, "reward": exact_boxed})]
    backend = ScriptedBackend(CORRECT, ANSWERS)
    stats = run_curate([InputSpec(str(data))], steps, tmp_path / "out", backend=backend, plots=False)
    assert stats["kept"] == 2 and backend.calls == 1
    assert len((tmp_path / "out" / "difficulty_samples.jsonl").read_text().splitlines()) == 4
    # same backend again: the step checkpoint is reused
    stats = run_curate([InputSpec(str(data))], steps, tmp_path / "out", backend=backend, plots=False)
    assert [s["resumed"] for s in stats["steps"]] == [True, True] and backend.calls == 1
    # another model (backend name) invalidates both the step checkpoint and its cached samples
    other = ScriptedBackend(CORRECT, ANSWERS)
    other.name = "other"
    stats = run_curate([InputSpec(str(data))], steps, tmp_path / "out", backend=other, plots=False)
    assert [s["resumed"] for s in stats["steps"]] == [True, False] and other.calls == 1
