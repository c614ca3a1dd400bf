"""The ``dedup`` step: exact, MinHash-LSH near-duplicate and (optional) embedding dedup.

Methods run in the order listed in ``methods``, each over the rows the previous one kept; the first
occurrence of every group is kept and each removed row names the kept row it duplicates.

- ``exact``: blake2b of :func:`~r1cli.curate.text.match_key` (NFKC, lower-case, whitespace
  collapsed; with ``strip_digits`` also every digit removed, so "same problem, numbers changed"
  collides).
- ``minhash``: :func:`~r1cli.curate.minhash.find_near_duplicates` over word ``ngram``-shingles,
  ``num_perm`` permutations, true Jaccard ``>= threshold`` confirmed on the shingle sets; bands x
  rows chosen by :func:`~r1cli.curate.minhash.lsh_params` (16 x 8 for 0.8 / 128) unless given.
- ``embedding``: cosine similarity ``>= embedding_threshold`` of sentence-transformers embeddings
  (needs the optional package ``sentence-transformers``; ``embedding_model`` is a model name/path or
  any object with ``encode(texts, normalize_embeddings=True) -> array (n, d)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from r1cli.curate.minhash import find_near_duplicates
from r1cli.curate.rows import Row, StepResult, check_choice, mark_removed, text_of
from r1cli.curate.text import text_hash, tokens
from r1cli.errors import MissingDependencyError, R1Error

METHODS = ("exact", "minhash", "embedding")


def dedup_rows(rows: list[Row], *, field: str = "problem",
               methods: tuple[str, ...] | list[str] = ("exact", "minhash"),
               strip_digits: bool = False, ngram: int = 5, num_perm: int = 128,
               threshold: float = 0.8, bands: int | None = None, rows_per_band: int | None = None,
               seed: int = 0, embedding_model: Any = "sentence-transformers/all-MiniLM-L6-v2",
               embedding_threshold: float = 0.95, embedding_batch_size: int = 64) -> StepResult:
    """Remove duplicates of ``row[field]`` (see the module docstring); returns ``(kept, removed)``."""
    for m in methods:
        check_choice("dedup", "methods", m, METHODS)
    if not 0.0 < threshold <= 1.0:
        raise R1Error(f"dedup.threshold: {threshold} must be in (0, 1]")
    if ngram < 1 or num_perm < 1:
        raise R1Error(f"dedup: ngram ({ngram}) and num_perm ({num_perm}) must be >= 1")
    if (bands is None) != (rows_per_band is None):
        raise R1Error("dedup: give both bands and rows_per_band, or neither (chosen automatically)")
    if bands is not None and bands * rows_per_band > num_perm:
        raise R1Error(f"dedup: bands x rows_per_band = {bands * rows_per_band} exceeds num_perm = {num_perm}")
    kept, removed = list(rows), []
    for method in methods:
        if method == "exact":
            kept, gone = _exact(kept, field, strip_digits)
        elif method == "minhash":
            kept, gone = _minhash(kept, field, ngram=ngram, num_perm=num_perm, threshold=threshold,
                                  bands=bands, rows=rows_per_band, seed=seed)
        else:
            kept, gone = _embedding(kept, field, embedding_model, embedding_threshold, embedding_batch_size)
        removed.extend(gone)
    return kept, removed


def _exact(rows: list[Row], field: str, strip_digits: bool) -> StepResult:
    first: dict[str, str] = {}
    kept, removed = [], []
    note = ", digits ignored" if strip_digits else ""
    for row in rows:
        h = text_hash(text_of(row, field, "dedup"), strip_digits=strip_digits)
        if h in first:
            removed.append(mark_removed(row, "dedup", f"exact duplicate of {first[h]} (normalised text{note})"))
        else:
            first[h] = row["id"]
            kept.append(row)
    return kept, removed


def _minhash(items: list[Row], field: str, **params: Any) -> StepResult:
    docs = [tokens(text_of(row, field, "dedup")) for row in items]
    dups = find_near_duplicates(docs, **params)
    kept, removed = [], []
    for i, row in enumerate(items):
        if i in dups:
            j, sim = dups[i]
            removed.append(mark_removed(row, "dedup", f"near-duplicate of {items[j]['id']} (jaccard≈{sim:.2f})"))
        else:
            kept.append(row)
    return kept, removed


def _load_embedder(model: Any) -> Any:
    if not isinstance(model, str):
        return model
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependencyError("sentence-transformers", "curate", "dedup method 'embedding'") from None
    return SentenceTransformer(model)


def _embedding(rows: list[Row], field: str, model: Any, threshold: float, batch_size: int) -> StepResult:
    """Keep-first cosine dedup: row i is removed when cos(e_i, e_j) >= threshold for a kept j < i."""
    if not rows:
        return [], []
    embedder = _load_embedder(model)
    texts = [text_of(row, field, "dedup") for row in rows]
    emb = np.asarray(embedder.encode(texts, batch_size=batch_size, normalize_embeddings=True),
                     dtype=np.float32)  # (n, d), unit rows
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)  # in case the model did not
    kept_idx: list[int] = []
    kept, removed = [], []
    block = 1024
    for start in range(0, len(rows), block):
        b = emb[start:start + block]  # (m, d)
        prior = np.asarray(kept_idx, dtype=np.int64)
        sims_prior = b @ emb[prior].T if prior.size else np.zeros((b.shape[0], 0), np.float32)  # (m, k)
        sims_self = b @ b.T  # (m, m)
        in_block: list[int] = []  # offsets of rows kept so far inside this block
        for o in range(b.shape[0]):
            best_j, best = -1, -1.0
            if prior.size:
                a = int(np.argmax(sims_prior[o]))
                best_j, best = int(prior[a]), float(sims_prior[o, a])
            if in_block:
                a = int(np.argmax(sims_self[o, in_block]))
                if sims_self[o, in_block[a]] > best:
                    best_j, best = start + in_block[a], float(sims_self[o, in_block[a]])
            i = start + o
            if best >= threshold:
                removed.append(mark_removed(rows[i], "dedup",
                                            f"semantic duplicate of {rows[best_j]['id']} (cosine≈{best:.2f})"))
            else:
                in_block.append(o)
                kept.append(rows[i])
        kept_idx.extend(start + o for o in in_block)
    return kept, removed
