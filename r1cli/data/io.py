"""Reading problems and writing outputs that survive a crash.

Inputs: JSONL, JSON (a list, or {"data": [...]}), Parquet, CSV files, or a hub dataset id, all read as
UTF-8 (:mod:`r1cli.data.encoding`: a bad byte is reported with its line and byte offset in the file).
Every record keeps its location (:func:`read_located`): ``file:line`` for JSONL, JSON (the line where
the object starts) and CSV (the line where the row starts), ``file row N`` for Parquet and the hub; every
mistake in a record names it.

Problem records (:func:`load_problems`, used by sample, grpo, distill, curate and eval) take these
fields, after mapping their names (``problem_field`` / ``answer_field`` / ``id_field``):

- ``problem``: a non-empty string. A number, list or object is an error (a list of chat messages is
  not a problem text).
- ``answer``: a string; a number is read as its text (``42`` and ``42.0`` -> ``"42"``, ``0.5`` ->
  ``"0.5"``: real datasets store integer answers as numbers); a boolean, list or object is an error.
  ``null`` or an absent field means "no gold answer": allowed where none is needed (``r1 sample`` of
  unlabeled prompts writes no ``answer``; in ``r1 grpo`` a reward that needs the gold returns None,
  "cannot judge"; ``r1 curate``'s verify step removes such rows as unverifiable) and an error with
  ``require_answer`` (``r1 eval``). A record that lacks the field while holding a close misspelling
  of it (``answr``) is an error with "did you mean" whenever other records have the field or the
  answer is required.
- ``id``: a string or an integer (read as text); absent, null or ``""`` becomes a hash of the problem.
- every other column rides along untouched.

Outputs: whole files are written atomically (temp file + ``os.replace``); streams that must survive
``kill -9`` are appended one line at a time with flush + fsync, and :func:`recover_jsonl` drops a
partial last line on resume.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from r1cli.data.encoding import decode_line, decode_utf8, strip_bom
from r1cli.data.fields import as_answer, as_id, as_text, close_name, missing
from r1cli.errors import R1Error

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
FIELD_HINTS = {"problem": " (use --problem-field)", "answer": " (use --answer-field)", "id": " (use --id-field)"}
# for commands that map fields with --set only (grpo, eval)
SET_FIELD_HINTS = {k: f" (map it with --set data.{k}_field=NAME)" for k in ("problem", "answer", "id")}


class HubUnavailable(R1Error):
    """A hub dataset could not be loaded (offline, not cached, no such id, no network)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def stable_id(text: str) -> str:
    """A short id that depends only on ``text`` (used when the data has no id column)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def read_jsonl_located(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, dict)`` per non-empty line; a line that is not UTF-8, not JSON or not an
    object raises ``R1Error`` naming file:line (and, for a bad byte, its byte offset in the file)."""
    p = Path(path)
    if not p.is_file():
        raise R1Error(f"{p}: file not found")
    offset = 0
    with p.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            start, offset = offset, offset + len(raw)
            if lineno == 1:
                raw, skipped = strip_bom(p, raw)
                start += skipped
            line = decode_line(p, raw, lineno, start)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise R1Error(f"{p}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise R1Error(f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield one dict per non-empty line (errors as :func:`read_jsonl_located`)."""
    for _, obj in read_jsonl_located(path):
        yield obj


def read_json_file(path: str | os.PathLike) -> Any:
    """The JSON value in the file at ``path``; bad bytes or syntax are an R1Error with file:line."""
    p = Path(path)
    text = decode_utf8(p, p.read_bytes())
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise R1Error(f"{p}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None


_LIST_KEYS = ("data", "rows", "records", "train")
_WS = " \t\n\r"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _list_start(text: str, obj: Any) -> tuple[int, list] | None:
    """Where the list of records begins in ``text`` (already parsed as ``obj``), and the list."""
    pos = _skip_ws(text, 0)
    if isinstance(obj, list):
        return pos, obj
    key = next((k for k in _LIST_KEYS if isinstance(obj, dict) and isinstance(obj.get(k), list)), None)
    if key is None:
        return None
    decoder, found = json.JSONDecoder(), None
    pos = _skip_ws(text, pos + 1)  # after "{"
    while pos < len(text) and text[pos] != "}":
        name, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past ":"
        if name == key:
            found = pos  # the last duplicate key wins, as in json.loads
        pos = _skip_ws(text, decoder.raw_decode(text, pos)[1])
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return (found, obj[key]) if found is not None else None


def _read_json(p: Path) -> tuple[list[dict], list[str]]:
    text = decode_utf8(p, p.read_bytes())
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise R1Error(f"{p}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    located = _list_start(text, obj)
    if located is None:
        raise R1Error(f"{p}: expected a JSON list of objects (or {{\"data\": [...]}})")
    pos, items = located
    decoder, lines, line, seen = json.JSONDecoder(), [], 1, 0
    pos = _skip_ws(text, pos + 1)  # after "["
    for item in items:
        line += text.count("\n", seen, pos)
        seen = pos
        if not isinstance(item, dict):
            raise R1Error(f"{p}:{line}: expected a JSON object, got {type(item).__name__}")
        lines.append(f"{p}:{line}")
        pos = _skip_ws(text, decoder.raw_decode(text, pos)[1])
        pos = _skip_ws(text, pos + 1)  # past "," (or the closing "]")
    return items, lines


def _read_parquet(p: Path) -> tuple[list[dict], list[str]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(p).to_pylist()
    except Exception as e:  # pyarrow raises several types for a bad file
        raise R1Error(f"{p}: not a readable Parquet file ({e})") from None
    return rows, [f"{p} row {i + 1}" for i in range(len(rows))]


def _read_csv(p: Path) -> tuple[list[dict], list[str]]:
    """Rows of a CSV with a header line; a short row's missing cells are None, a long row an error."""
    reader = csv.reader(io.StringIO(decode_utf8(p, p.read_bytes()), newline=""))
    try:
        header = next(reader, None)
        rows, lines = [], []
        while header is not None:
            start = reader.line_num + 1
            values = next(reader, None)
            if values is None:
                break
            if not values:
                continue  # a blank line
            if len(values) > len(header):
                raise R1Error(f"{p}:{start}: {len(values)} values for {len(header)} columns "
                              f"({', '.join(header)}); quote values that contain commas")
            rows.append(dict(zip(header, values + [None] * (len(header) - len(values)), strict=True)))
            lines.append(f"{p}:{start}")
    except csv.Error as e:
        raise R1Error(f"{p}:{reader.line_num}: not valid CSV ({e})") from None
    return rows, lines


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE or HF_DATASETS_OFFLINE is set to 1 (then the hub fails fast)."""
    return os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"


def _read_hub(dataset_id: str, split: str) -> tuple[list[dict], list[str]]:
    import datasets

    name = None
    full = dataset_id
    if ":" in dataset_id:  # "org/name:config"
        dataset_id, name = dataset_id.split(":", 1)
    try:
        ds = datasets.load_dataset(dataset_id, name, split=split)
    except Exception as e:
        reason = ("offline mode is on (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1) and it is not in the datasets cache"
                  if hub_offline() else (str(e).splitlines() or [type(e).__name__])[0][:200])
        hint = "; pass a local file with --data" if hub_offline() else ""
        raise HubUnavailable(f"could not load hub dataset '{dataset_id}' split '{split}': {reason}{hint}",
                             reason) from None
    rows = [dict(r) for r in ds]
    return rows, [f"hub dataset {full} ({split}) row {i + 1}" for i in range(len(rows))]


def read_located(source: str | os.PathLike, *, split: str = "train") -> tuple[list[dict], list[str]]:
    """Every record of a local file (by suffix) or a hub dataset id, and where each one is."""
    p = Path(source)
    suffix = p.suffix.lower()
    if p.exists():
        if p.is_dir():
            raise R1Error(f"{p}: is a directory; expected a {', '.join(SUPPORTED_SUFFIXES)} file")
        if suffix == ".jsonl":
            located = list(read_jsonl_located(p))
            return [obj for _, obj in located], [f"{p}:{n}" for n, _ in located]
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


def read_records(source: str | os.PathLike, *, split: str = "train") -> list[dict]:
    """Read every record of a local file (by suffix) or a hub dataset id."""
    return read_located(source, split=split)[0]


def load_problems(
    source: str | os.PathLike,
    *,
    split: str = "train",
    problem_field: str = "problem",
    answer_field: str | None = "answer",
    id_field: str = "id",
    limit: int | None = None,
    require_answer: bool = False,
    hints: dict[str, str] | None = None,
) -> list[dict]:
    """Load problem records ``{"id", "problem", "answer", ...extra columns}`` (types: module docstring).

    Field names are mapped to the canonical ones; extra columns ride along untouched. A missing id
    becomes a hash of the problem text (stable across runs). Duplicate ids are an error, since resume
    relies on ids. ``hints`` replaces :data:`FIELD_HINTS`, the advice appended when a field is missing.
    """
    rows, where = read_located(source, split=split)
    return problems_from_rows(rows, where, source=source, problem_field=problem_field, answer_field=answer_field,
                              id_field=id_field, limit=limit, require_answer=require_answer, hints=hints)


def problems_from_rows(
    rows: list[dict],
    where: list[str],
    *,
    source: str | os.PathLike,
    problem_field: str = "problem",
    answer_field: str | None = "answer",
    id_field: str = "id",
    limit: int | None = None,
    require_answer: bool = False,
    hints: dict[str, str] | None = None,
) -> list[dict]:
    """:func:`load_problems` of rows already read (``where``: their locations, from :func:`read_located`)."""
    hints = {**FIELD_HINTS, **(hints or {})}
    if not rows:
        raise R1Error(f"{source}: the dataset is empty")
    if limit is not None:
        rows, where = rows[:limit], where[:limit]
    has_answers = answer_field is not None and any(answer_field in r for r in rows)
    out: list[dict] = []
    first_at: dict[str, str] = {}
    for row, at in zip(rows, where, strict=True):
        if problem_field not in row:
            raise missing(at, problem_field, row, hints["problem"])
        problem = as_text(row[problem_field], at, problem_field)
        if not problem:
            raise R1Error(f"{at}: field '{problem_field}' is empty")
        answer_key = answer_field if answer_field in row else None
        if answer_key is None and (require_answer or (has_answers and close_name(str(answer_field), row))):
            raise missing(at, str(answer_field), row, hints["answer"])
        answer = as_answer(row[answer_key], at, answer_key) if answer_key else None
        if require_answer and answer is None:
            raise R1Error(f"{at}: field '{answer_field}' is null; every problem here needs its gold answer")
        rid = as_id(row.get(id_field), at, id_field) or stable_id(problem)
        rec = {"id": rid, "problem": problem, **({"answer": answer} if answer_key else {}),
               **{k: v for k, v in row.items() if k not in (problem_field, answer_field, id_field)}}
        if rid in first_at:
            raise R1Error(f"{at}: duplicate id '{rid}' (first at {first_at[rid]}); ids must be unique")
        first_at[rid] = at
        out.append(rec)
    return out


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
                records.append(json.loads(line.decode("utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                if data.find(b"\n", nl + 1) == -1 and not data[nl + 1:].strip():
                    break  # torn last line that happened to contain a newline
                what = (f"byte 0x{line[e.start]:02x} at byte offset {pos + e.start} of the file is not UTF-8"
                        if isinstance(e, UnicodeDecodeError) else f"not valid JSON: {e.msg}")
                raise R1Error(f"{p}:{lineno}: corrupt line in the middle of an output file ({what}); "
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
