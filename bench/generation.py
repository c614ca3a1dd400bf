"""Benchmark: hf backend tokens/s vs a naive per-prompt ``model.generate`` loop, same work, one run.

    python bench/generation.py                      # tiny model, CPU -> bench/results/generation.json
    python bench/generation.py --model DIR --prompts 64 --n 8 --max-new-tokens 256

Both sides get the same chat prompts, n samples per prompt, max_new_tokens, temperature/top-p, and
count the same thing: generated tokens up to and including EOS. The naive side calls ``generate`` once
per prompt with ``num_return_sequences=n`` (a batch of n), the hf backend batches all prompts' samples
under its token budget. Each side runs ``--repeats`` times after a warm-up; the best time counts (the
machine may be shared). On CUDA the hf backend is timed with both engines (``loop`` and ``static``,
the latter after a compile warm-up), as the issue asks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chat_prompts(count: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Using the numbers [{i}, {i + 3}, {2 * i + 1}], create an equation "
                                         f"that equals {3 * i + 4}. Show your work."}] for i in range(count)]


def naive_generate(model, tokenizer, prompts, n: int, max_new: int, temperature: float, top_p: float,
                   eos_ids: set[int]) -> int:
    """One ``generate`` call per prompt; returns generated tokens (up to and including EOS)."""
    import torch

    tokens = 0
    for prompt in prompts:
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]], device=model.device)
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                 temperature=temperature, top_p=top_p, top_k=0, max_new_tokens=max_new,
                                 num_return_sequences=n, pad_token_id=tokenizer.pad_token_id)
        for row in out[:, ids.shape[1]:].tolist():
            count = len(row)
            for j, t in enumerate(row):
                if t in eos_ids:
                    count = j + 1
                    break
            tokens += count
    return tokens


def timed(fn, repeats: int) -> tuple[list[float], int]:
    fn()  # warm-up (and the static engine's compile)
    times, tokens = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = fn()
        if _cuda():
            import torch

            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times, tokens


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model dir (default: a fresh tiny model from init_tiny)")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: the machine is shared)")
    ap.add_argument("--output", default=str(ROOT / "bench" / "results" / "generation.json"))
    args = ap.parse_args()

    import torch
    import transformers

    from r1cli.generation.base import SamplingParams
    from r1cli.generation.hf import HFBackend

    if not _cuda():
        torch.set_num_threads(args.threads)
    tmp = None
    if args.model is None:
        from r1cli.models.tiny import init_tiny

        tmp = tempfile.TemporaryDirectory()
        args.model = str(init_tiny(Path(tmp.name) / "tiny"))
    backend = HFBackend(args.model)
    model, tokenizer = backend.model, backend.tokenizer
    prompts = chat_prompts(args.prompts)
    params = SamplingParams(n=args.n, temperature=args.temperature, top_p=args.top_p,
                            max_new_tokens=args.max_new_tokens, seed=0)

    def run_backend() -> int:
        groups = backend.generate(prompts, params)
        return sum(len(c.token_ids) for g in groups for c in g)

    results: dict[str, dict] = {}
    engines = ["loop", "static"] if _cuda() else ["loop"]
    for engine in engines:
        backend.engine = engine
        times, tokens = timed(run_backend, args.repeats)
        results[f"hf_backend_{engine}"] = {"tokens": tokens, "best_s": round(min(times), 4),
                                           "median_s": round(statistics.median(times), 4),
                                           "tokens_per_s": round(tokens / min(times), 1)}
    times, tokens = timed(lambda: naive_generate(model, tokenizer, prompts, args.n, args.max_new_tokens,
                                                 args.temperature, args.top_p, set(backend.eos_ids)),
                          args.repeats)
    naive = {"tokens": tokens, "best_s": round(min(times), 4), "median_s": round(statistics.median(times), 4),
             "tokens_per_s": round(tokens / min(times), 1)}
    report = {
        "what": "generated tokens/s: r1cli hf backend vs a naive per-prompt model.generate loop",
        "model": "tiny (init_tiny defaults)" if tmp else args.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(backend.device), "dtype": str(next(model.parameters()).dtype),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2), "torch": torch.__version__,
        "transformers": transformers.__version__, "python": platform.python_version(),
        "workload": {"prompts": args.prompts, "n": args.n, "max_new_tokens": args.max_new_tokens,
                     "temperature": args.temperature, "top_p": args.top_p, "repeats": args.repeats,
                     "token_budget": backend.token_budget},
        **results, "naive_generate_loop": naive,
        "speedup_vs_naive": {k: round(v["tokens_per_s"] / naive["tokens_per_s"], 2) for k, v in results.items()},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
