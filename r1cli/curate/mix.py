"""Inputs of a curation run and the ``mix`` step (load, map fields, keep a seeded fraction of each).

:class:`InputSpec` fields (the lead maps ``--data`` / config YAML ``curate.inputs[*]`` onto these):

- ``path``: a JSONL/JSON/Parquet/CSV file or a hub dataset id (read with ``r1cli.data.io``).
- ``weight``: fraction of this input's rows kept, ``0 < weight <= 1`` (default 1.0 = all).
- ``name``: value of the ``source`` column (default: the file stem, or the hub id).
- ``problem_field`` / ``answer_field`` / ``id_field``: the input's column names for the canonical
  ``problem`` / ``answer`` / ``id`` (``answer_field=None``: no answer column).
- ``field_map``: further renames ``{canonical_name: input_column}``, e.g. ``{"solution": "generation"}``.
- ``split``: hub split (ignored for files); ``limit``: read at most this many rows first.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from r1cli.errors import R1Error, did_you_mean

Row = dict


@dataclass(frozen=True)
class InputSpec:
    """One input dataset of a curation run (see the module docstring for each field)."""

    path: str
    weight: float = 1.0
    name: str | None = None
    problem_field: str = "problem"
    answer_field: str | None = "answer"
    id_field: str = "id"
    field_map: dict[str, str] = field(default_factory=dict)
    split: str = "train"
    limit: int | None = None

    @property
    def source(self) -> str:
        """The ``source`` column value of this input's rows."""
        if self.name:
            return self.name
        p = Path(self.path)
        return p.stem if p.suffix else str(self.path)

    def fingerprint(self) -> str:
        """Hash of this spec and of the file's bytes (a hub id hashes its name only)."""
        h = hashlib.sha256(repr(sorted(asdict(self).items())).encode())
        p = Path(self.path)
        if p.is_file():
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def load_input(spec: InputSpec) -> list[Row]:
    """Read one input as canonical rows ``{"id", "problem", "answer"?, ...}`` with ``field_map`` applied."""
    from r1cli.data.io import load_problems

    if not 0.0 < spec.weight <= 1.0:
        raise R1Error(f"input {spec.path}: weight {spec.weight} must be in (0, 1] "
                      "(the fraction of its rows to keep)")
    rows = load_problems(spec.path, split=spec.split, problem_field=spec.problem_field,
                         answer_field=spec.answer_field, id_field=spec.id_field, limit=spec.limit)
    if spec.field_map:
        fields = list(rows[0].keys())
        for target, column in spec.field_map.items():
            if column not in rows[0]:
                raise R1Error(f"input {spec.path}: field_map {target}={column}: no column '{column}'"
                              f"{did_you_mean(column, fields)}; columns are: {', '.join(fields)}")
        rows = [_rename(r, spec.field_map) for r in rows]
    return rows


def _rename(row: Row, field_map: dict[str, str]) -> Row:
    out = {k: v for k, v in row.items() if k not in field_map.values()}
    for target, column in field_map.items():
        out[target] = row.get(column)
    return out


def mix(datasets: list[tuple[InputSpec, list[Row]]], *, seed: int = 0) -> tuple[list[Row], list[Row]]:
    """Keep ``round(weight * n)`` rows of each input, chosen uniformly with a seeded RNG.

    Rows keep their input order (inputs concatenated in the order given) and gain ``source``. Ids
    that clash with an earlier row's id become ``"<source>:<id>"`` (then ``"<source>:<id>:2"``, ...),
    since later steps (sample cache, reasons) key rows by id. Unsampled rows are returned as removed
    with ``removed_by="mix"``. Example: 10 rows at weight 0.25 -> round(2.5) = 2 kept (banker's
    rounding of 2.5 gives 2), 8 removed.
    """
    kept: list[Row] = []
    removed: list[Row] = []
    seen: set[str] = set()
    for index, (spec, rows) in enumerate(datasets):
        n = len(rows)
        n_keep = int(round(spec.weight * n))
        rng = np.random.default_rng([seed, index])
        chosen = set(rng.choice(n, size=n_keep, replace=False).tolist()) if n_keep < n else set(range(n))
        for i, row in enumerate(rows):
            rid = str(row["id"])
            if rid in seen:
                base, k = f"{spec.source}:{rid}", 1
                rid = base
                while rid in seen:
                    k += 1
                    rid = f"{base}:{k}"
            seen.add(rid)
            out = {**row, "id": rid, "source": spec.source}
            if i in chosen:
                kept.append(out)
            else:
                removed.append({**out, "removed_by": "mix",
                                "reason": f"not sampled (weight {spec.weight:g} of {spec.source})"})
    return kept, removed


def input_fingerprint(specs: list[InputSpec], seed: int) -> str:
    """Hash of every input (spec + bytes) and the seed: the key of the run's first checkpoint."""
    h = hashlib.sha256(f"seed={seed}".encode())
    for spec in specs:
        h.update(spec.fingerprint().encode())
    return h.hexdigest()
