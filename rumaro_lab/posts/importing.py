"""Import posts already on disk: an instaloader folder, or a CSV/JSON table of posts. No network.

`import_path` copies the files it uses into ``data/raw/ACCOUNT/`` in instaloader's own layout
(raw data is kept as it came: identical files already there are left alone), then writes the
normalised table ``data/interim/ACCOUNT/posts.parquet`` (see `rumaro_lab.posts.schema`).

A bad post (corrupt or truncated ``.json.xz``, missing or truncated image, unreadable row) is
logged as a warning with its file name and the reason, listed in the summary, and skipped; the
rest of the import goes on.

Example (a real instaloader folder, 9 posts)::

    from rumaro_lab.settings import Settings
    summary = import_path("../shared/data/spacex_instaloader/spacex", Settings())
    summary.n_posts, summary.n_skipped   # (9, 0)
"""

from __future__ import annotations

import filecmp
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from ..accounts import validate_account
from ..errors import MissingInputError, UnimportablePath
from ..fileio import copy_file
from ..settings import Settings
from . import nodes
from .schema import POSTS_COLUMNS, coerce_posts, write_posts

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
VIDEO_SUFFIXES = (".mp4",)
TABLE_SUFFIXES = (".csv", ".json", ".jsonl")
#: The bundled sample account: data/sample/ACCOUNT in instaloader's layout (see data/sample/README.md).
SAMPLE_ACCOUNT = "sample"
_METADATA_RE = re.compile(r"^(?P<base>.+?)\.json(?:\.xz)?$")
_CHILD_RE = re.compile(r"^(?P<base>.+)_(?P<index>\d+)$")
# Files instaloader writes beside a post that are not the post's own media.
_NOT_MEDIA = ("_profile_pic", "_comments", "_location")




@dataclass
class ImportSummary:
    """What an import did: posts written, and each skipped item with the reason."""

    account: str
    n_posts: int
    path: Path | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    n_duplicates: int = 0
    source: str = "instaloader"
    raw_dir: Path | None = None

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def __str__(self) -> str:
        lines = [
            f"{self.account}: {self.n_posts} posts imported ({self.source}) -> {self.path}",
        ]
        if self.n_duplicates:
            lines.append(f"  {self.n_duplicates} duplicate post(s) removed")
        if self.skipped:
            lines.append(f"  {self.n_skipped} skipped:")
            lines.extend(f"    {name}: {reason}" for name, reason in self.skipped)
        else:
            lines.append("  0 skipped")
        return "\n".join(lines)


# -- helpers ------------------------------------------------------------------------------------
def _check_image(path: Path) -> str | None:
    """Why an image can't be used (missing, empty, truncated, not an image), or None if fine."""
    if not path.is_file():
        return f"image {path.name} is missing"
    if path.stat().st_size == 0:
        return f"image {path.name} is empty"
    try:
        with Image.open(path) as img:
            img.load()  # a full decode: the only reliable way to find a truncated JPEG
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad files
        return f"image {path.name} is unreadable ({exc})"
    return None


def _copy_into(src: Path, dest_dir: Path) -> Path:
    """Copy `src` into `dest_dir` (same name) unless an identical file is already there."""
    dest = dest_dir / src.name
    if src.resolve() == dest.resolve():
        return dest
    if dest.exists():
        if filecmp.cmp(src, dest, shallow=False):
            return dest
        # instaloader itself rewrites a post's metadata on a later run (likes change): the newer
        # file wins, and the replacement is logged so it never happens silently.
        log.info("replacing %s in %s with the newer file from %s", dest.name, dest_dir, src.parent)
    return copy_file(src, dest)


def _relative(path: Path, settings: Settings) -> str:
    return path.relative_to(settings.data_dir).as_posix()


def _mtime_utc(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _skip(skipped: list[tuple[str, str]], name: str, reason: str) -> None:
    log.warning("skipped %s: %s", name, reason)
    skipped.append((name, reason))


def _dedupe(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Keep one row per post (by post_id, else shortcode): the most recently fetched one."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get("post_id") or row.get("shortcode"))
        old = best.get(key)
        if old is None or (row.get("fetched_at") or datetime.min.replace(tzinfo=UTC)) >= (
            old.get("fetched_at") or datetime.min.replace(tzinfo=UTC)
        ):
            best[key] = row
    return list(best.values()), len(rows) - len(best)


def _write(rows: list[dict[str, Any]], settings: Settings, account: str) -> Path:
    frame = coerce_posts(pd.DataFrame(rows)) if rows else coerce_posts(pd.DataFrame({"account": []}))
    frame = frame.sort_values("taken_at", kind="stable").reset_index(drop=True)
    return write_posts(frame, settings.posts_path(account))


# -- instaloader folders ------------------------------------------------------------------------
@dataclass
class _PostFiles:
    base: str
    metadata: Path
    images: list[Path]
    videos: list[Path]
    caption: Path | None


def _scan_folder(folder: Path) -> tuple[list[_PostFiles], list[Path], list[Path]]:
    """Post file groups, all metadata files (posts, profile...), and images with no metadata.

    The folder is listed once (instaloader folders hold thousands of files): media are grouped
    by base name, ``BASE.jpg`` or the sidecar's ``BASE_1.jpg``, ``BASE_2.jpg``... in index order.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file())
    singles: dict[str, list[Path]] = {}
    children: dict[str, list[tuple[int, Path]]] = {}
    for path in files:
        if path.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
            singles.setdefault(path.stem, []).append(path)
            if match := _CHILD_RE.match(path.stem):
                children.setdefault(match["base"], []).append((int(match["index"]), path))

    def media(base: str, suffixes: tuple[str, ...]) -> list[Path]:
        found = [p for p in singles.get(base, []) if p.suffix.lower() in suffixes]
        found += [p for _, p in sorted(children.get(base, [])) if p.suffix.lower() in suffixes]
        return found

    posts: list[_PostFiles] = []
    claimed: set[Path] = set()
    metadata_files = [p for p in files if _METADATA_RE.match(p.name)]
    for meta in metadata_files:
        base = _METADATA_RE.match(meta.name)["base"]
        if base.endswith(_NOT_MEDIA):
            continue
        images = media(base, IMAGE_SUFFIXES)
        caption = folder / f"{base}.txt"
        posts.append(_PostFiles(base, meta, images, media(base, VIDEO_SUFFIXES),
                                caption if caption.is_file() else None))
        claimed.update(images)
    orphans = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and p not in claimed
               and not p.stem.endswith(_NOT_MEDIA)]
    return posts, metadata_files, orphans


def _profile_info(metadata_files: list[Path]) -> tuple[str | None, int | None, list[Path]]:
    """(username, followers, files) of a saved Profile structure, when the folder has one."""
    for path in metadata_files:
        if path.name.count("_") == 0 or _METADATA_RE.match(path.name)["base"].endswith("_UTC"):
            continue  # posts are DATE_UTC.json.xz; a profile is USERNAME_ID.json.xz
        try:
            data = nodes.load_json_file(path)
        except nodes.MetadataError:
            continue
        if nodes.node_type(data) == "Profile":
            node = data.get("node", data)
            return node.get("username"), nodes.profile_followers(data), [path]
    return None, None, []


def _guess_account(folder: Path, posts: list[_PostFiles], profile_user: str | None) -> str:
    if profile_user:
        return profile_user
    for post in posts:
        try:
            owner = nodes.owner_username(nodes.load_json_file(post.metadata).get("node", {}))
        except nodes.MetadataError:
            continue
        if owner:
            return owner
    return folder.name


def _import_folder(folder: Path, settings: Settings, account: str | None, source: str) -> ImportSummary:
    posts, metadata_files, orphans = _scan_folder(folder)
    profile_user, profile_followers, profile_files = _profile_info(metadata_files)
    posts = [p for p in posts if p.metadata not in profile_files]
    if not posts:
        inner = sorted(d for d in folder.iterdir() if d.is_dir() and any(d.glob("*_UTC.json*")))
        raise UnimportablePath(
            f"no instaloader posts (DATE_UTC.json.xz metadata files) in {folder}",
            hint=f"did you mean {inner[0]}?" if inner else
            "point at the folder instaloader wrote for one account, or at a CSV/JSON table",
        )
    account = validate_account(account or _guess_account(folder, posts, profile_user))
    raw = settings.raw_dir(account)
    skipped: list[tuple[str, str]] = []
    for orphan in orphans:
        _skip(skipped, orphan.name, "image without a .json/.json.xz metadata file beside it")
    rows: list[dict[str, Any]] = []
    for post in posts:
        try:
            data = nodes.load_json_file(post.metadata)
        except nodes.MetadataError as exc:
            _skip(skipped, post.metadata.name, str(exc))
            continue
        kind = nodes.node_type(data)
        if kind != "Post":
            if kind is None:
                _skip(skipped, post.metadata.name, "not an instaloader Post (no shortcode in the node)")
            continue  # stories, highlights... are not feed posts
        node = data.get("node", data)
        row = nodes.node_to_row(node)
        if row["taken_at"] is None or not (row["post_id"] or row["shortcode"]):
            _skip(skipped, post.metadata.name, "the node has no date or no id/shortcode")
            continue
        if not post.images:
            expected = f"{post.base}.jpg" + (" or _1.jpg, _2.jpg..." if row["media_type"] == "sidecar" else "")
            _skip(skipped, post.metadata.name, f"no image file ({expected} is missing)")
            continue
        slides = len(nodes.sidecar_children(node))
        if row["media_type"] == "sidecar" and len(post.images) < slides:
            _skip(skipped, post.metadata.name,
                  f"sidecar of {slides} slides but only {len(post.images)} image file(s) beside it")
            continue
        problems = [reason for reason in map(_check_image, post.images) if reason]
        if problems:
            _skip(skipped, post.metadata.name, "; ".join(problems))
            continue
        if row["caption"] is None and post.caption is not None:
            row["caption"] = post.caption.read_text(encoding="utf-8", errors="replace").strip() or None
            row["hashtags"], row["mentions"] = nodes.hashtags(row["caption"]), nodes.mentions(row["caption"])
        copied = [_copy_into(f, raw) for f in [post.metadata, *post.images, *post.videos]]
        if post.caption is not None:
            _copy_into(post.caption, raw)
        if row["followers"] is None:
            row["followers"] = profile_followers
        row.update(
            account=account,
            media=[_relative(p, settings) for p in copied[1 : 1 + len(post.images)]],
            fetched_at=_mtime_utc(post.metadata),
            source=source,
        )
        rows.append(row)
    for extra in profile_files + [folder / "id"]:
        if extra.is_file():
            _copy_into(extra, raw)
    rows, n_duplicates = _dedupe(rows)
    path = _write(rows, settings, account)
    summary = ImportSummary(account, len(rows), path, skipped, n_duplicates, source, raw)
    log.debug("imported %s", summary)
    return summary


# -- tables -------------------------------------------------------------------------------------
#: column names other exports use -> the posts table's
TABLE_ALIASES = {
    "id": "post_id", "code": "shortcode", "taken_at_utc": "taken_at", "date": "taken_at",
    "timestamp": "taken_at", "date_utc": "taken_at", "owner_followers": "followers",
    "images": "media", "image": "media", "image_path": "media", "image_paths": "media",
    "like_count": "likes", "comment_count": "comments", "username": "account",
}


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if path.suffix.lower() == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UnimportablePath(f"cannot read table {path}: {exc}", hint="check the file is valid CSV/JSON") from exc
    if isinstance(data, dict):
        data = data.get("posts", data.get("data"))
    if not isinstance(data, list):
        raise UnimportablePath(
            f"cannot read table {path}: expected a JSON list of posts (or {{'posts': [...]}})",
            hint="one object per post with at least post_id or shortcode, taken_at and media",
        )
    return pd.DataFrame(data)


def _media_list(value: Any) -> list[str]:
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
    if candidate.is_absolute():
        return candidate
    return (table.parent / candidate)


def _table_media_type(row: dict[str, Any], n_media: int) -> str:
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


def _import_table(table: Path, settings: Settings, account: str | None, source: str) -> ImportSummary:
    frame = _read_table(table).rename(columns=lambda c: TABLE_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()))
    frame = frame.loc[:, ~frame.columns.duplicated()]
    if "media" not in frame or not ({"post_id", "shortcode"} & set(frame.columns)) or "taken_at" not in frame:
        raise UnimportablePath(
            f"table {table} lacks required columns (has: {', '.join(map(str, frame.columns))})",
            hint="give at least post_id (or shortcode), taken_at and media (image paths, ';'-separated)",
        )
    if account is None:
        accounts = frame["account"].dropna().unique() if "account" in frame else []
        if len(accounts) != 1:
            raise UnimportablePath(
                f"table {table} does not name exactly one account (found {list(accounts)[:5]})",
                hint="pass --account NAME (one table per account)",
            )
        account = str(accounts[0])
    account = validate_account(account)
    raw = settings.raw_dir(account)
    skipped: list[tuple[str, str]] = []
    rows: list[dict[str, Any]] = []
    taken = pd.to_datetime(frame["taken_at"], utc=True, errors="coerce", format="ISO8601")
    for i, record in enumerate(frame.to_dict("records")):
        post_id = record.get("post_id") if pd.notna(record.get("post_id", None)) else None
        shortcode = record.get("shortcode") if pd.notna(record.get("shortcode", None)) else None
        label = f"{table.name} row {i + 2 if table.suffix.lower() == '.csv' else i + 1}"
        label += f" ({post_id or shortcode})" if (post_id or shortcode) else ""
        if not (post_id or shortcode):
            _skip(skipped, label, "no post_id or shortcode")
            continue
        if pd.isna(taken.iloc[i]):
            _skip(skipped, label, f"unparseable taken_at {record.get('taken_at')!r}")
            continue
        media = [_resolve_media(m, table) for m in _media_list(record.get("media"))]
        if not media:
            _skip(skipped, label, "no image path")
            continue
        problems = [reason for reason in map(_check_image, media) if reason]
        if problems:
            _skip(skipped, label, "; ".join(problems))
            continue
        # instaloader's naming, so data/raw looks the same whatever the source
        stamp = taken.iloc[i].strftime("%Y-%m-%d_%H-%M-%S_UTC")
        copied = []
        for index, src in enumerate(media, start=1):
            name = f"{stamp}{src.suffix.lower()}" if len(media) == 1 else f"{stamp}_{index}{src.suffix.lower()}"
            dest = raw / name
            if not (dest.exists() and filecmp.cmp(src, dest, shallow=False)):
                copy_file(src, dest)
            copied.append(dest)
        row = {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in record.items()}
        caption = row.get("caption")
        row.update(
            account=account, post_id=str(post_id or shortcode), shortcode=shortcode,
            taken_at=taken.iloc[i], media=[_relative(p, settings) for p in copied],
            media_type=_table_media_type(row, len(media)),
            hashtags=row.get("hashtags") or nodes.hashtags(caption),
            mentions=row.get("mentions") or nodes.mentions(caption),
            fetched_at=row.get("fetched_at") or _mtime_utc(table), source=source,
        )
        for flag in ("is_sponsored", "is_pinned"):
            if isinstance(row.get(flag), str):
                row[flag] = {"true": True, "false": False, "1": True, "0": False}.get(row[flag].strip().lower())
        rows.append(row)
    _copy_into(table, raw)
    rows = [{k: v for k, v in r.items() if k in POSTS_COLUMNS} for r in rows]  # other columns: kept in raw
    rows, n_duplicates = _dedupe(rows)
    path = _write(rows, settings, account)
    summary = ImportSummary(account, len(rows), path, skipped, n_duplicates, source, raw)
    log.debug("imported %s", summary)
    return summary


# -- public API ---------------------------------------------------------------------------------
def import_path(
    path: str | Path, settings: Settings, account: str | None = None, *, source: str | None = None
) -> ImportSummary:
    """Import an instaloader folder or a CSV/JSON table of posts; never touches the network.

    Parameters
    ----------
    path : an instaloader target folder (``DATE_UTC.json.xz`` + ``DATE_UTC.jpg`` or
        ``DATE_UTC_1.jpg``...), or a ``.csv``/``.json``/``.jsonl`` table with one row per post
        (columns: post_id or shortcode, taken_at, media = image paths separated by ';',
        relative to the table; optional likes, comments, caption, followers, ...).
    account : the account name (default: the profile/owner saved by instaloader, the table's
        ``account`` column, or the folder's name). Validated before it becomes a path.

    Returns an `ImportSummary`; posts that can't be read are skipped with a reason.

    Example::

        print(import_path("export/posts.csv", settings, account="myblog"))
        # myblog: 120 posts imported (table) -> data/interim/myblog/posts.parquet
        #   0 skipped
    """
    path = Path(path).expanduser()
    if account is not None:
        account = validate_account(account)
    if not path.exists():
        raise MissingInputError(f"nothing to import at {path}", hint="give an instaloader folder or a CSV/JSON table")
    if path.is_dir():
        return _import_folder(path, settings, account, source or "instaloader")
    if path.suffix.lower() in TABLE_SUFFIXES:
        return _import_table(path, settings, account, source or "table")
    raise UnimportablePath(
        f"cannot import {path}: not a folder nor a {'/'.join(TABLE_SUFFIXES)} table",
        hint="give an instaloader folder or a CSV/JSON table",
    )


def sample_dir(settings: Settings | None = None) -> Path:
    """The bundled sample account's folder: package data (``data/sample`` of a checkout links
    to it). A ``sample_dir`` attribute on `settings` (if a future Settings has one) wins."""
    configured = getattr(settings, "sample_dir", None)
    if configured:
        return Path(configured)
    return Path(str(resources.files("rumaro_lab") / "sample"))


def import_sample(settings: Settings) -> ImportSummary:
    """Import the bundled sample account (data/sample, simulated engagement) as account ``sample``.

    Example::

        summary = import_sample(settings)
        summary.account, summary.n_posts   # ('sample', 61)
    """
    folder = sample_dir(settings) / SAMPLE_ACCOUNT
    if not folder.is_dir():
        raise MissingInputError(
            f"the bundled sample is missing: {folder}",
            hint="reinstall the package (the sample is package data), or rebuild it with "
            "`python tools/build_sample.py`",
        )
    return _import_folder(folder, settings, SAMPLE_ACCOUNT, "sample")
