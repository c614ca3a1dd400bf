"""The distill engine: resume with no lost or duplicated trace, the tiny teacher, config checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from r1cli.config.core import resolve_config
from r1cli.config.distill import DEFAULT_PROMPT_TEMPLATE, DistillConfig
from r1cli.distill.derive import Rewarder
from r1cli.distill.engine import RAW_LOG, SFT_FILE, STATS_FILE, fill_template, run_distill
from r1cli.distill.teacher import TinyTeacherBackend, corrupt_answer
from r1cli.errors import R1Error
from r1cli.generation.base import Completion, GenerationBackend, SamplingParams


class ScriptedBackend(GenerationBackend):
    """Sample j answers the gold with 10 tokens when j is even, gold + 1 with 11 when odd; records prompts."""

    name = "scripted"

    def __init__(self, fail_on_call: int | None = None):
        self.asked: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def generate(self, prompts, params: SamplingParams):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt  # a crash mid-run
        out = []
        for p in prompts:
            text = p[-1]["content"]
            self.asked.append(text)
            gold = int(text.split("=")[0].split()[-1]) * 2  # "double 7 = ?" -> 14
            out.append([Completion(text=f"<think>\ndoubling, try {j}\n</think>\n\n\\boxed{{{gold + j % 2}}}",
                                   token_ids=(1,) * (10 + j % 2), finish_reason="stop", usage={"prompt_tokens": 5})
                        for j in range(params.n)])
        return out


def boxed_reward(name, **params):
    def fn(completions, answer, **columns):
        return [1.0 if c.rstrip().endswith(f"\\boxed{{{a}}}") else 0.0 for c, a in zip(completions, answer, strict=True)]
    return fn


def problems_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"double {i} = ?", "answer": str(2 * i)}) + "\n"
                            for i in range(count)))
    return path


def config(tmp_path: Path, data: Path, **flags) -> DistillConfig:
    base = {"model.path": "scripted", "data.path": str(data), "output_dir": str(tmp_path / "out"),
            "generation.backend": "hf", "generation.n": 4, "generation.batch_size": 2, "reward.name": "accuracy",
            "keep": 1}
    return resolve_config(DistillConfig, command="distill", flags={**base, **flags})


def run(cfg: DistillConfig, backend: GenerationBackend) -> dict:
    return run_distill(cfg, backend=backend, rewarder=Rewarder("accuracy", factory=boxed_reward))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_full_run_keeps_the_correct_samples(tmp_path):
    cfg = config(tmp_path, problems_file(tmp_path, 5), keep=2)
    stats = run(cfg, ScriptedBackend())
    out = Path(cfg.output_dir)
    # samples 0 and 2 are right (gold), 1 and 3 are gold + 1; keep 2 -> samples 0 and 2 of every problem
    assert [r["id"] for r in lines(out / SFT_FILE)] == [f"q{i}#{j}" for i in range(5) for j in (0, 2)]
    assert stats["samples"] == 20 and stats["passed"] == 10 and stats["kept"] == 10
    assert stats["rejected_by"]["reward"] == 10
    # tokens: per problem 10+11+10+11 = 42 completion tokens, 5 prompt tokens billed once
    assert stats["tokens"]["completion"] == 5 * 42 and stats["tokens"]["prompt"] == 5 * 5
    assert json.loads((out / STATS_FILE).read_text())["kept"] == 10
    raw = lines(out / RAW_LOG)
    assert [r["id"] for r in raw] == [f"q{i}" for i in range(5)]
    assert raw[0]["prompt"] == "double 0 = ?\nPlease reason step by step, and put your final answer within \\boxed{}."
    assert raw[0]["params"]["n"] == 4 and raw[0]["model"] == "scripted"
    assert [s["rewards"]["accuracy"] for s in raw[0]["samples"]] == [1.0, 0.0, 1.0, 0.0]


def test_resume_after_torn_last_line_loses_and_duplicates_nothing(tmp_path):
    data = problems_file(tmp_path, 5)
    cfg = config(tmp_path, data)
    run(cfg, ScriptedBackend())
    out = Path(cfg.output_dir)
    complete_sft = (out / SFT_FILE).read_text()
    raw = (out / RAW_LOG).read_bytes().splitlines(keepends=True)
    # a crash while writing problem q3's line: q0..q2 complete, half of q3, nothing of q4
    (out / RAW_LOG).write_bytes(b"".join(raw[:3]) + raw[3][: len(raw[3]) // 2])
    (out / SFT_FILE).unlink()
    again = ScriptedBackend()
    stats = run(cfg, again)
    assert [t.split()[1] for t in again.asked] == ["3", "4"]  # only the torn and the missing problem
    assert [r["id"] for r in lines(out / RAW_LOG)] == ["q0", "q1", "q2", "q3", "q4"]
    assert (out / SFT_FILE).read_text() == complete_sft
    assert stats["problems"] == 5 and stats["kept"] == 5


def test_crash_between_batches_then_resume(tmp_path):
    cfg = config(tmp_path, problems_file(tmp_path, 5))  # batches of 2: [q0 q1] [q2 q3] [q4]
    with pytest.raises(KeyboardInterrupt):
        run(cfg, ScriptedBackend(fail_on_call=2))
    out = Path(cfg.output_dir)
    assert [r["id"] for r in lines(out / RAW_LOG)] == ["q0", "q1"]  # the first batch reached the log
    again = ScriptedBackend()
    run(cfg, again)
    assert [t.split()[1] for t in again.asked] == ["2", "3", "4"]
    assert [r["problem_id"] for r in lines(out / SFT_FILE)] == ["q0", "q1", "q2", "q3", "q4"]
    # a third run has nothing to sample and rebuilds the same outputs
    idle = ScriptedBackend()
    assert run(cfg, idle)["kept"] == 5 and idle.calls == 0


def test_resume_refuses_other_settings(tmp_path):
    data = problems_file(tmp_path, 2)
    run(config(tmp_path, data), ScriptedBackend())
    with pytest.raises(R1Error, match="sampled with n=4, this run asks n=8"):
        run(config(tmp_path, data, **{"generation.n": 8}), ScriptedBackend())
    with pytest.raises(R1Error, match="model='scripted'"):
        run(config(tmp_path, data, **{"model.path": "other"}), ScriptedBackend())


def test_refilter_without_resampling(tmp_path):
    data = problems_file(tmp_path, 3)
    run(config(tmp_path, data), ScriptedBackend())
    idle = ScriptedBackend()
    # every trace is 10-11 tokens: a 10-token cap drops samples 1 and 3, keeps 0 and 2 (both correct)
    stats = run(config(tmp_path, data, **{"filters.max_tokens": 10, "keep": 2}), idle)
    assert idle.calls == 0 and stats["kept"] == 6 and stats["rejected_by"]["max_tokens"] == 6


def test_tiny_teacher_offline(tmp_path):
    from r1cli.tasks import get_task

    path = tmp_path / "countdown.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in get_task("countdown").generate(6, seed=1)))
    flags = {"model.path": "countdown", "data.path": str(path), "output_dir": str(tmp_path / "out"),
             "generation.backend": "tiny", "generation.n": 3, "generation.tiny_error_rate": 0.5}
    stats = run_distill(resolve_config(DistillConfig, command="distill", flags=flags))
    # auto -> the countdown reward (pure Python); corrupted traces use a number twice -> rejected
    raw = lines(tmp_path / "out" / RAW_LOG)
    wrong = sum("+ 1}" in s["text"] for r in raw for s in r["samples"])
    assert 0 < wrong < 18 and stats["rejected_by"]["reward"] == wrong
    assert all(s["rewards"]["countdown"] == (0.0 if "+ 1}" in s["text"] else 1.0) for r in raw for s in r["samples"])
    kept = lines(tmp_path / "out" / SFT_FILE)
    assert kept and all("+ 1}" not in r["messages"][1]["content"] for r in kept)
    # the same seed gives the same traces
    b1 = TinyTeacherBackend("countdown", {"p": raw[0]}, seed=0)
    b2 = TinyTeacherBackend("countdown", {"p": raw[0]}, seed=0)
    params = SamplingParams(n=3)
    assert [c.text for c in b1.generate(["p"], params)[0]] == [c.text for c in b2.generate(["p"], params)[0]]


def test_tiny_teacher_errors():
    backend = TinyTeacherBackend("arith", {"known": {"id": "x", "problem": "What is 1?"}})
    with pytest.raises(R1Error, match="no problem record"):
        backend.generate(["unknown"], SamplingParams())
    with pytest.raises(R1Error, match="lacks the task's columns"):
        backend.generate([[{"role": "user", "content": "known"}]], SamplingParams())
    assert corrupt_answer("a \\boxed{1} b \\boxed{12}") == "a \\boxed{1} b \\boxed{12 + 1}"


def test_prompt_template():
    assert fill_template(DEFAULT_PROMPT_TEMPLATE, {"problem": "P"}) == (
        "P\nPlease reason step by step, and put your final answer within \\boxed{}.")
    assert fill_template("{problem} ({level})", {"problem": "P", "level": 3}) == "P (3)"
    with pytest.raises(R1Error, match="has no column 'levle'"):
        fill_template("{levle}", {"id": "a", "level": 1})


@pytest.mark.parametrize("flags,message", [
    ({"keep": 5}, "keep \\(5\\) cannot exceed generation.n \\(4\\)"),
    ({"generation.tiny_error_rate": 0.2}, "only applies to backend 'tiny'"),
    ({"generation.backend": "tiny", "generation.base_url": "http://x"}, "generation.base_url"),
    ({"generation.backend": "openai", "generation.prefill_think": True}, "generation.prefill_think"),
    ({"model.rope_theta": 1e6}, "model.rope_theta"),
    ({"filters.max_foreign_share": 1.5}, "filters.max_foreign_share"),
])
def test_config_rejects(flags, message):
    with pytest.raises(R1Error, match=message):
        resolve_config(DistillConfig, command="distill", flags=flags)


def test_model_overrides_are_accepted_where_weights_load():
    cfg = resolve_config(DistillConfig, command="distill", flags={"generation.backend": "hf", "model.rope_theta": 1e6})
    assert cfg.model.rope_theta == 1e6


def test_openai_teacher_is_built_from_the_config():
    from r1cli.distill.engine import make_backend

    flags = {"model.path": "deepseek-r1", "generation.base_url": "http://127.0.0.1:9/v1",
             "generation.api_key_env": "MY_KEY", "generation.concurrency": 3}
    backend = make_backend(resolve_config(DistillConfig, command="distill", flags=flags), {})
    assert (backend.name, backend.model, backend.base_url, backend.api_key_env, backend.concurrency) == (
        "openai", "deepseek-r1", "http://127.0.0.1:9/v1", "MY_KEY", 3)


def test_config_defaults_follow_the_r1_protocol():
    cfg = DistillConfig()
    g = cfg.generation
    assert (g.temperature, g.top_p, g.n, g.backend, cfg.keep, cfg.reward.name) == (0.6, 0.95, 4, "openai", 1, "auto")
    assert "api_key" not in cfg.model_dump_json().replace("api_key_env", "")


def test_samples_survive_a_failing_reward(tmp_path):
    cfg = config(tmp_path, problems_file(tmp_path, 3))  # batches [q0 q1] [q2]

    def broken(name, **params):
        def fn(completions, **columns):
            raise KeyboardInterrupt  # interrupted while grading the first batch
        return fn

    with pytest.raises(KeyboardInterrupt):
        run_distill(cfg, backend=ScriptedBackend(), rewarder=Rewarder("accuracy", factory=broken))
    raw = lines(Path(cfg.output_dir) / RAW_LOG)
    assert [r["id"] for r in raw] == ["q0", "q1"] and "rewards" not in raw[0]["samples"][0]
    again = ScriptedBackend()
    stats = run(cfg, again)  # q2 is sampled; q0/q1 are graded from the log, not sampled again
    assert [t.split()[1] for t in again.asked] == ["2"] and stats["kept"] == 3


def test_mix_adds_non_reasoning_records_and_counts_them(tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"hi {i}"},
                                                     {"role": "assistant", "content": "hello"}]}) + "\n"
                            for i in range(10)))
    cfg = config(tmp_path, problems_file(tmp_path, 6), **{"mix.path": str(chat), "mix.share": 0.25})
    stats = run(cfg, ScriptedBackend())
    out = lines(Path(cfg.output_dir) / SFT_FILE)
    assert len(out) == 8 and [r.get("source") for r in out[6:]] == ["mix", "mix"]  # 6 traces -> 2 mixed
    assert stats["mix"]["mixed"] == 2 and stats["mix"]["path"] == str(chat)
    assert json.loads((Path(cfg.output_dir) / STATS_FILE).read_text())["mix"]["wanted"] == 2


def test_a_bad_mix_file_is_refused_before_sampling(tmp_path):
    chat = tmp_path / "chat.jsonl"
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    chat.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    cfg = config(tmp_path, problems_file(tmp_path, 2), **{"mix.path": str(chat)})
    backend = ScriptedBackend()
    with pytest.raises(R1Error, match=r"chat\.jsonl:2: no assistant message"):
        run(cfg, backend)
    assert backend.calls == 0 and not (Path(cfg.output_dir) / SFT_FILE).exists()
