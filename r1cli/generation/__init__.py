"""Generation: one interface, three engines (DESIGN.md §2).

``make_backend(kind, model, **options)`` builds an ``hf`` (transformers, CPU default), ``vllm`` (GPU) or
``openai`` (any OpenAI-compatible server) backend; each implements
``generate(prompts, SamplingParams) -> list[list[Completion]]``. ``sample_to_file`` (the engine of
``r1 sample``) writes one resumable JSONL line per problem. Importing this package imports no torch.
"""

from r1cli.generation.base import Completion, GenerationBackend, Message, Prompt, SamplingParams
from r1cli.generation.factory import (
    BACKENDS,
    backend_from_config,
    backend_options,
    backend_options_from_config,
    make_backend,
)

__all__ = [
    "BACKENDS",
    "Completion",
    "GenerationBackend",
    "Message",
    "Prompt",
    "SamplingParams",
    "backend_from_config",
    "backend_options",
    "backend_options_from_config",
    "make_backend",
]
