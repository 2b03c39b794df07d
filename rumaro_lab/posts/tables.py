"""Reading a CSV/JSON table of posts (exports of other platforms) into candidate posts.

Exports are messy, so the reader is forgiving where the meaning is certain and names the row
where it is not:

- encodings: UTF-8 with or without a byte-order mark; a cell that is not UTF-8 (a Windows export)
  is read as cp1252 and the row is listed in the summary's notes;
- CSV separators ``,`` ``;`` or tab (from the header line); quoted newlines in captions;
- dates: ISO 8601 with or without time or offset (naive = UTC), Excel serial day numbers, Unix
  seconds or milliseconds; anything else skips its row with the value quoted;
- a missing required column is an error naming it.

Nothing is written here: `read_table_posts` returns `Candidate` posts (see `rawfiles`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UnimportablePath
from . import nodes
from .rawfiles import Candidate, check_media, skip

TABLE_SUFFIXES = (".csv", ".json", ".jsonl")
#: column names other exports use -> the posts table's
TABLE_ALIASES = {
    "id": "post_id", "code": "shortcode", "taken_at_utc": "taken_at", "date": "taken_at",
    "timestamp": "taken_at", "date_utc": "taken_at", "owner_followers": "followers",
    "images": "media", "image": "media", "image_path": "media", "image_paths": "media",
    "like_count": "likes", "comment_count": "comments", "username": "account",
}
_BOM = b"\xef\xbb\xbf"
#: Excel's day 0 in the 1900 date system (its fictitious 1900-02-29 folded in).
_EXCEL_EPOCH = pd.Timestamp("1899-12-30", tz="UTC")


def _cannot_read(path: Path, exc: Exception) -> UnimportablePath:
    return UnimportablePath(f"cannot read table {path}: {exc}", hint="check the file is valid CSV/JSON")


def _utf8_or_cp1252(text: str) -> tuple[str, bool]:
    """A cell read as latin-1 (one char per byte) -> its UTF-8 text, else cp1252 (True)."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:  # a JSON \u escape beyond latin-1: already real text
        return text, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), True


def _repair(frame: pd.DataFrame, fix: Callable[[str], tuple[str, bool]]) -> list[int]:
    """Apply `fix` to every text cell and column name; the positions of rows it had to repair."""
    frame.columns = [fix(str(c))[0] for c in frame.columns]
    bad: set[int] = set()
    for column in frame.columns:
        values = frame[column].tolist()
        for i, value in enumerate(values):
            if isinstance(value, str):
                values[i], repaired = fix(value)
                if repaired:
                    bad.add(i)
        frame[column] = values
    return sorted(bad)


def _separator(data: bytes) -> str:
    header = data.split(b"\n", 1)[0]
    counts = {sep: header.count(sep.encode()) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_csv(path: Path, data: bytes) -> tuple[pd.DataFrame, list[int]]:
    options = {"sep": _separator(data), "dtype": str, "keep_default_na": False, "na_values": [""]}
    try:
        return pd.read_csv(io.StringIO(data.decode("utf-8")), **options), []
    except UnicodeDecodeError:
        # Structure (separators, quotes, newlines) is ASCII in UTF-8 and cp1252 alike: parse the
        # bytes one char per byte, then decode each cell on its own.
        frame = pd.read_csv(io.BytesIO(data), encoding="latin-1", **options)
        return frame, _repair(frame, _utf8_or_cp1252)


def _read_json(path: Path, data: bytes) -> tuple[pd.DataFrame, list[int]]:
    try:
        text, repaired = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, repaired = data.decode("latin-1"), True
    if path.suffix.lower() == ".jsonl":
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        records = json.loads(text)
        if isinstance(records, dict):
            records = records.get("posts", records.get("data"))
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise UnimportablePath(
            f"cannot read table {path}: expected a JSON list of posts (or {{'posts': [...]}})",
            hint="one object per post with at least post_id or shortcode, taken_at and media",
        )
    frame = pd.DataFrame(records)
    return frame, (_repair(frame, _utf8_or_cp1252) if repaired else [])


def read_table(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The table as text cells with the posts table's column names, and rows that were not UTF-8."""
    try:
        data = path.read_bytes().removeprefix(_BOM)
        reader = _read_csv if path.suffix.lower() == ".csv" else _read_json
        frame, not_utf8 = reader(path, data)
    except UnimportablePath:
        raise
    except (ValueError, pd.errors.ParserError, OSError) as exc:
        raise _cannot_read(path, exc) from exc
    frame = frame.rename(columns=lambda c: TABLE_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()))
    frame = frame.loc[:, ~frame.columns.duplicated()]
    missing = [c for c in ("taken_at", "media") if c not in frame]
    if not ({"post_id", "shortcode"} & set(frame.columns)):
        missing.insert(0, "post_id (or shortcode)")
    if missing:
        raise UnimportablePath(
            f"table {path} lacks the required column(s) {', '.join(missing)} "
            f"(it has: {', '.join(map(str, frame.columns))})",
            hint="give at least post_id (or shortcode), taken_at and media (image paths, "
            "';'-separated); other names understood: " + ", ".join(sorted(TABLE_ALIASES)),
        )
    return frame.reset_index(drop=True), not_utf8


def parse_dates(values: pd.Series) -> pd.Series:
    """Post dates -> tz-aware UTC; what can't be read with certainty is NaT.

    >>> parse_dates(pd.Series(["2024-03-05", "2024-03-05T10:00:00+01:00", "45356.5", 1709632800, "5/3/24"])).tolist()
    [Timestamp('2024-03-05 00:00:00+0000', tz='UTC'), Timestamp('2024-03-05 09:00:00+0000', tz='UTC'), Timestamp('2024-03-05 12:00:00+0000', tz='UTC'), Timestamp('2024-03-05 10:00:00+0000', tz='UTC'), NaT]
    """
    values = pd.Series(values, dtype="object").reset_index(drop=True)
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.where(numbers.isna()).astype("string").str.strip()
    out = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601").astype("datetime64[ns, UTC]")
    excel = numbers.between(20_000, 80_000)  # Excel serial days: 1954..2119
    seconds = numbers.between(1e8, 1e11)  # Unix seconds: 1973..5138
    millis = numbers.between(1e11, 1e14)
    out[excel] = (_EXCEL_EPOCH + pd.to_timedelta(numbers[excel], unit="D")).dt.round("s")
    out[seconds] = pd.to_datetime(numbers[seconds], unit="s", utc=True)
    out[millis] = pd.to_datetime(numbers[millis], unit="ms", utc=True)
    return out


def media_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v)]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [part.strip() for part in re.split(r"[;|]", text) if part.strip()]


def _resolve_media(name: str, table: Path) -> Path:
    candidate = Path(name).expanduser()
    return candidate if candidate.is_absolute() else table.parent / candidate


def _media_type(row: dict[str, Any], n_media: int) -> str:
    """media_type from the table, else instaloader's typename / is_video columns, else the count."""
    given = str(row.get("media_type") or "").strip().lower()
    if given:
        return given
    typename = {"graphimage": "image", "graphsidecar": "sidecar", "graphvideo": "video"}.get(
        str(row.get("typename") or "").strip().lower())
    if typename:
        return typename
    if str(row.get("is_video") or "").strip().lower() in ("true", "1"):
        return "video"
    return "sidecar" if n_media > 1 else "image"


def _present(value: Any) -> Any:
    return None if not isinstance(value, list) and pd.isna(value) else value


def table_account(frame: pd.DataFrame, table: Path) -> str:
    accounts = frame["account"].dropna().unique() if "account" in frame else []
    if len(accounts) != 1:
        raise UnimportablePath(
            f"table {table} does not name exactly one account (found {list(accounts)[:5]})",
            hint="pass --account NAME (one table per account)",
        )
    return str(accounts[0])


def read_table_posts(
    table: Path, frame: pd.DataFrame, not_utf8: list[int], fetched_at, skipped: list, notes: list
) -> list[Candidate]:
    """One `Candidate` per usable row; rows that can't be used are skipped with their number."""
    taken = parse_dates(frame["taken_at"])
    is_csv = table.suffix.lower() == ".csv"
    candidates = []
    for i, record in enumerate(frame.to_dict("records")):
        row = {k: _present(v) for k, v in record.items()}
        post_id, shortcode = row.get("post_id"), row.get("shortcode")
        key = str(post_id if post_id is not None else shortcode or "").strip()
        label = f"{table.name} {'row' if is_csv else 'item'} {i + 2 if is_csv else i + 1}"
        label += f" ({key})" if key else ""
        if i in not_utf8:
            notes.append((label, "text that is not UTF-8 (read as cp1252; check the accents)"))
        if not key:
            skip(skipped, label, "no post_id or shortcode")
            continue
        if pd.isna(taken.iloc[i]):
            skip(skipped, label, f"unparseable taken_at {record.get('taken_at')!r} (use ISO 8601, "
                 "e.g. 2024-03-05 or 2024-03-05T14:30:00Z, an Excel date number or Unix seconds)")
            continue
        media = [_resolve_media(m, table) for m in media_list(row.get("media"))]
        if not media:
            skip(skipped, label, "no image path")
            continue
        caption = row.get("caption")
        row.update(
            post_id=key, shortcode=None if shortcode is None else str(shortcode),
            taken_at=taken.iloc[i], media_type=_media_type(row, len(media)),
            hashtags=row.get("hashtags") or nodes.hashtags(caption),
            mentions=row.get("mentions") or nodes.mentions(caption),
            fetched_at=row.get("fetched_at") or fetched_at,
        )
        for flag in ("is_sponsored", "is_pinned"):
            if isinstance(row.get(flag), str):
                row[flag] = {"true": True, "false": False, "1": True, "0": False}.get(row[flag].strip().lower())
        # instaloader's naming, so data/raw looks the same whatever the source
        stamp = taken.iloc[i].strftime("%Y-%m-%d_%H-%M-%S_UTC")
        files = [(src, src.suffix.lower() if len(media) == 1 else f"_{n}{src.suffix.lower()}")
                 for n, src in enumerate(media, start=1)]
        cand = Candidate(label, key, row, stamp, files, n_media=len(files))
        check_media(cand)
        candidates.append(cand)
    return candidates
