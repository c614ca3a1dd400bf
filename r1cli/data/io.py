"""Reading problems and writing outputs that survive a crash.

Inputs: JSONL, JSON (a list, or {"data": [...]}), Parquet, CSV files, or a hub dataset id. Every
mistake names the file and line (JSONL), or the field and the fields that exist.

Outputs: whole files are written atomically (temp file + ``os.replace``); streams that must survive
``kill -9`` are appended one line at a time with flush + fsync, and :func:`recover_jsonl` drops a
partial last line on resume.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1cli.errors import R1Error, did_you_mean

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def stable_id(text: str) -> str:
    """A short id that depends only on ``text`` (used when the data has no id column)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield one dict per non-empty line; a malformed line raises ``R1Error`` naming file:line."""
    p = Path(path)
    if not p.is_file():
        raise R1Error(f"{p}: file not found")
    with p.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise R1Error(f"{p}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise R1Error(f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def _read_json(p: Path) -> list[dict]:
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise R1Error(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    if isinstance(obj, dict):
        for key in ("data", "rows", "records", "train"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    if not isinstance(obj, list) or not all(isinstance(r, dict) for r in obj):
        raise R1Error(f"{p}: expected a JSON list of objects (or {{\"data\": [...]}})")
    return obj


def _read_parquet(p: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(p).to_pylist()
    except Exception as e:  # pyarrow raises several types for a bad file
        raise R1Error(f"{p}: not a readable Parquet file ({e})") from None


def _read_csv(p: Path) -> list[dict]:
    with p.open("r", encoding="utf-8", newline="") as f:
        return [dict(row) for row in csv.DictReader(f)]


def _read_hub(dataset_id: str, split: str) -> list[dict]:
    import datasets

    name = None
    if ":" in dataset_id:  # "org/name:config"
        dataset_id, name = dataset_id.split(":", 1)
    try:
        ds = datasets.load_dataset(dataset_id, name, split=split)
    except Exception as e:
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (offline mode is on: pass a local file with --data)" if offline else ""
        raise R1Error(f"could not load hub dataset '{dataset_id}' split '{split}': "
                      f"{str(e).splitlines()[0][:200]}{hint}") from None
    return [dict(r) for r in ds]


def read_records(source: str | os.PathLike, *, split: str = "train") -> list[dict]:
    """Read every record of a local file (by suffix) or a hub dataset id."""
    p = Path(source)
    suffix = p.suffix.lower()
    if p.exists():
        if p.is_dir():
            raise R1Error(f"{p}: is a directory; expected a {', '.join(SUPPORTED_SUFFIXES)} file")
        if suffix == ".jsonl":
            return list(read_jsonl(p))
        if suffix == ".json":
            return _read_json(p)
        if suffix == ".parquet":
            return _read_parquet(p)
        if suffix == ".csv":
            return _read_csv(p)
        raise R1Error(f"{p}: unsupported file type '{suffix}'; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    if suffix in SUPPORTED_SUFFIXES or str(source).startswith((".", "/", "~")):
        raise R1Error(f"{p}: file not found")
    return _read_hub(str(source), split)


def load_problems(
    source: str | os.PathLike,
    *,
    split: str = "train",
    problem_field: str = "problem",
    answer_field: str | None = "answer",
    id_field: str = "id",
    limit: int | None = None,
    require_answer: bool = False,
) -> list[dict]:
    """Load problem records ``{"id", "problem", "answer", ...extra columns}``.

    Field names are mapped to the canonical ones; extra columns ride along untouched. A missing id
    becomes a hash of the problem text (stable across runs). Duplicate ids are an error, since resume
    relies on ids.
    """
    rows = read_records(source, split=split)
    if not rows:
        raise R1Error(f"{source}: the dataset is empty")
    fields = list(rows[0].keys())
    if problem_field not in rows[0]:
        raise R1Error(f"{source}: no field '{problem_field}'{did_you_mean(problem_field, fields)}; "
                      f"fields are: {', '.join(fields)} (use --problem-field)")
    if require_answer and (answer_field is None or answer_field not in rows[0]):
        raise R1Error(f"{source}: no field '{answer_field}'{did_you_mean(str(answer_field), fields)}; "
                      f"fields are: {', '.join(fields)} (use --answer-field)")
    out: list[dict] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if problem_field not in row or row[problem_field] in (None, ""):
            raise R1Error(f"{source}: record {i + 1} has no '{problem_field}'")
        rec = {k: v for k, v in row.items() if k not in (problem_field, answer_field, id_field)}
        problem = str(row[problem_field])
        rid = row.get(id_field)
        rec = {"id": str(rid) if rid not in (None, "") else stable_id(problem), "problem": problem,
               **({"answer": _answer_str(row.get(answer_field))}
                  if answer_field and answer_field in row else {}),
               **rec}
        if rec["id"] in seen:
            raise R1Error(f"{source}: record {i + 1}: duplicate id '{rec['id']}' (ids must be unique)")
        seen.add(rec["id"])
        out.append(rec)
        if limit is not None and len(out) >= limit:
            break
    return out


def _answer_str(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


# ----------------------------------------------------------------------------------------- writing


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, records: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def recover_jsonl(path: str | os.PathLike) -> list[dict]:
    """Return the complete records of an append-only JSONL, truncating a partial last line in place.

    A line is complete when it ends with a newline and parses; a crash can only leave the last line
    incomplete (lines are written whole with fsync), so anything else is reported as corruption.
    """
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    records: list[dict] = []
    good_end = 0
    pos = 0
    lineno = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        lineno += 1
        if nl == -1:  # no newline: a half-written last line
            break
        line = data[pos:nl]
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if data.find(b"\n", nl + 1) == -1 and not data[nl + 1:].strip():
                    break  # torn last line that happened to contain a newline
                raise R1Error(f"{p}:{lineno}: corrupt line in the middle of an output file; "
                              "move the file away to start over") from None
        pos = nl + 1
        good_end = pos
    if good_end < len(data):
        with p.open("r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return records


class JsonlAppender:
    """Append records to a JSONL file, one whole line at a time, flushed and fsynced.

    Use as a context manager. Call :func:`recover_jsonl` first when resuming.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        if self._fsync:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
