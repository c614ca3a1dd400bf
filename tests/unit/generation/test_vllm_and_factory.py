"""The vllm backend (missing-dependency error, plumbing against a stand-in module, real run on a GPU)
and the backend factory."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from r1cli.errors import MissingDependencyError, R1Error
from r1cli.generation import make_backend
from r1cli.generation.base import SamplingParams

VLLM_SKIP = "vLLM not installed (needs a CUDA torch; cannot be installed on this CPU machine)"


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'r1cli\[vllm\]'"):
        make_backend("vllm", "some/model")


class _Tok:
    chat_template = "x"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return "|".join(m["content"] for m in messages) + "|A:"

    def __call__(self, texts, add_special_tokens):
        return {"input_ids": [[len(t)] for t in texts]}


def _fake_vllm(record):
    """A stand-in ``vllm`` module: records what the backend passes and answers like vLLM 0.10."""

    class LLM:
        def __init__(self, **kwargs):
            if "logprobs_mode" in kwargs and record.get("old_version"):
                raise TypeError("__init__() got an unexpected keyword argument 'logprobs_mode'")
            record["llm_kwargs"] = kwargs
            self.llm_engine = SimpleNamespace()  # no in-process driver worker: collective_rpc path

        def get_tokenizer(self):
            return _Tok()

        def generate(self, prompts, sampling_params, use_tqdm=False):
            record["prompts"], record["sp"] = prompts, sampling_params
            out = []
            for p in prompts:
                outputs = [SimpleNamespace(index=k, text=f"t{p['prompt_token_ids'][0]}-{k}", token_ids=[5, 6],
                                           logprobs=[{5: SimpleNamespace(logprob=-0.5)},
                                                     {6: SimpleNamespace(logprob=-1.5)}],
                                           finish_reason="length" if k else "stop")
                           for k in reversed(range(sampling_params.n))]  # out of order on purpose
                out.append(SimpleNamespace(outputs=outputs))
            return out

        def collective_rpc(self, fn, args=()):
            record["rpc"] = (fn, args)

        def reset_prefix_cache(self):
            record["reset"] = True

    class SamplingParams:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    return module


def test_vllm_plumbing_with_stand_in_module(monkeypatch):
    record: dict = {"old_version": True}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(record))
    b = make_backend("vllm", "m", tensor_parallel_size=2, max_model_len=4096, system_prompt="S")
    assert "logprobs_mode" not in record["llm_kwargs"]  # retried without it (vLLM < 0.10.2)
    assert record["llm_kwargs"]["tensor_parallel_size"] == 2 and record["llm_kwargs"]["max_model_len"] == 4096
    out = b.generate([[{"role": "user", "content": "q"}]], SamplingParams(n=2, top_k=0, seed=3, stop=("##",)))
    sp = record["sp"]
    assert (sp.n, sp.top_k, sp.logprobs, sp.seed, sp.stop) == (2, -1, 0, 3, ["##"])
    # rendered "S|q|A:" is 6 characters -> the stand-in tokenizer's single id is 6
    assert record["prompts"] == [{"prompt_token_ids": [6]}]
    assert [c.text for c in out[0]] == ["t6-0", "t6-1"]  # sorted by index
    assert out[0][0].logprobs == (-0.5, -1.5) and out[0][0].token_ids == (5, 6)
    assert [c.finish_reason for c in out[0]] == ["stop", "length"]


def test_vllm_update_weights_via_collective_rpc(monkeypatch):
    import torch

    record: dict = {}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(record))
    b = make_backend("vllm", "m")
    assert record["llm_kwargs"]["logprobs_mode"] == "processed_logprobs"
    b.update_weights({"w": torch.ones(2)})
    fn, (weights,) = record["rpc"]
    assert [name for name, _ in weights] == ["w"] and record["reset"]
    worker = SimpleNamespace(model_runner=SimpleNamespace(model=SimpleNamespace(
        load_weights=lambda weights: record.setdefault("loaded", weights))))
    fn(worker, weights)  # what each vLLM worker runs
    assert record["loaded"] == weights


@pytest.mark.slow
def test_vllm_real_logprobs_match_forward(tiny_model_dir):
    pytest.importorskip("vllm", reason=VLLM_SKIP)
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    b = make_backend("vllm", str(tiny_model_dir), gpu_memory_utilization=0.3, dtype="float32", enforce_eager=True)
    out = b.generate(["hello"], SamplingParams(n=2, temperature=1.0, top_p=1.0, max_new_tokens=8, seed=0))
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    prompt_ids = b.tokenizer("hello", add_special_tokens=False)["input_ids"]
    for c in out[0]:
        ids = torch.tensor([prompt_ids + list(c.token_ids)])
        logp = torch.log_softmax(model(ids).logits[0, len(prompt_ids) - 1:-1].float(), -1)
        expected = logp.gather(-1, torch.tensor(c.token_ids)[:, None]).squeeze(-1)
        assert torch.allclose(torch.tensor(c.logprobs), expected, atol=1e-3)


def test_factory_unknown_kind_and_option():
    with pytest.raises(R1Error, match="did you mean 'openai'"):
        make_backend("opnai", "m")
    with pytest.raises(R1Error, match="did you mean 'concurrency'"):
        make_backend("openai", "m", concurency=4)
    with pytest.raises(R1Error, match="needs a model"):
        make_backend("hf")


def test_factory_builds_hf_and_openai(tiny_backend):
    from r1cli.generation.hf import HFBackend
    from r1cli.generation.openai_backend import OpenAIBackend

    hf = make_backend("hf", tiny_backend.model, tokenizer=tiny_backend.tokenizer, token_budget=512)
    assert isinstance(hf, HFBackend) and hf.token_budget == 512
    assert isinstance(make_backend("openai", "m", base_url="http://127.0.0.1:9/v1"), OpenAIBackend)


def test_importing_generation_does_not_import_torch():
    import subprocess

    code = ("import sys, r1cli.generation, r1cli.generation.factory, r1cli.generation.openai_backend; "
            "print(any(m.split('.')[0] in ('torch', 'transformers') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_backend_from_config_sections(tiny_model_dir):
    from r1cli.config.sections import GenerationSection, ModelSection
    from r1cli.generation import backend_from_config, backend_options_from_config

    gen = GenerationSection(backend="hf", token_budget=4096, system_prompt="S", prefill_think=True)
    model = ModelSection(path=str(tiny_model_dir), max_position_embeddings=128)
    b = backend_from_config(gen, model)
    assert (b.token_budget, b.system_prompt, b.think_prefill, b.max_positions) == (4096, "S", True, 128)
    opts = backend_options_from_config(GenerationSection(backend="openai", base_url="http://h:1/v1",
                                                         concurrency=3), ModelSection(path="served"))
    assert opts["base_url"] == "http://h:1/v1" and opts["concurrency"] == 3 and "token_budget" not in opts
    with pytest.raises(R1Error, match="needs a model"):
        backend_from_config(GenerationSection(backend="hf"), ModelSection())
