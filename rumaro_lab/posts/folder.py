"""Reading an instaloader folder into candidate posts (nothing is written here).

instaloader saves a post as ``DATE_UTC.json.xz`` (metadata), ``DATE_UTC.jpg`` or, for a sidecar,
``DATE_UTC_1.jpg``, ``DATE_UTC_2.jpg``..., ``DATE_UTC.txt`` (caption) and ``DATE_UTC.mp4``; a
profile as ``USERNAME_ID.json.xz``. `read_folder` lists the folder once, groups files by base name,
reads each metadata file offline (`rumaro_lab.posts.nodes`), and returns `Candidate` posts plus
the items it could not use, each with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..accounts import validate_account
from ..errors import InvalidAccountName, UnimportablePath
from . import nodes
from .rawfiles import Candidate, check_media, skip

#: What an import takes as a post's image (.gif: tables from other platforms may have them).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
VIDEO_SUFFIXES = (".mp4",)
_METADATA_RE = re.compile(r"^(?P<base>.+?)\.json(?:\.xz)?$")
_CHILD_RE = re.compile(r"^(?P<base>.+)_(?P<index>\d+)$")
# Files instaloader writes beside a post that are not the post's own media.
_NOT_MEDIA = ("_profile_pic", "_comments", "_location")


@dataclass
class _PostFiles:
    base: str
    metadata: Path
    images: list[Path]
    videos: list[Path]
    caption: Path | None


@dataclass
class FolderRead:
    """What a folder holds: the account, candidate posts, skipped items, extra files to keep."""

    account: str
    candidates: list[Candidate]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    extras: list[Path] = field(default_factory=list)  # profile metadata, instaloader's `id` file


def mtime_utc(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _scan_folder(folder: Path) -> tuple[list[_PostFiles], list[Path], list[Path]]:
    """Post file groups, all metadata files (posts, profile...), and images with no metadata.

    The folder is listed once (instaloader folders hold thousands of files): media are grouped
    by base name, ``BASE.jpg`` or the sidecar's ``BASE_1.jpg``, ``BASE_2.jpg``... in index order.
    A file whose name is itself a post's base (``BASE_123.jpg`` beside ``BASE_123.json.xz``: a post
    whose files carry its id) belongs to that post, never as slide 123 of ``BASE``.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file())
    metadata_files = [p for p in files if _METADATA_RE.match(p.name)]
    bases = {_METADATA_RE.match(p.name)["base"] for p in metadata_files}
    singles: dict[str, list[Path]] = {}
    children: dict[str, list[tuple[int, Path]]] = {}
    for path in files:
        if path.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
            singles.setdefault(path.stem, []).append(path)
            match = _CHILD_RE.match(path.stem)
            if match and path.stem not in bases:
                children.setdefault(match["base"], []).append((int(match["index"]), path))

    def media(base: str, suffixes: tuple[str, ...]) -> list[Path]:
        found = [p for p in singles.get(base, []) if p.suffix.lower() in suffixes]
        found += [p for _, p in sorted(children.get(base, [])) if p.suffix.lower() in suffixes]
        return found

    posts: list[_PostFiles] = []
    claimed: set[Path] = set()
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


def _candidate(post: _PostFiles, skipped: list[tuple[str, str]]) -> Candidate | None:
    """The post of one metadata file, or None (skipped with the reason, or not a feed post)."""
    try:
        data = nodes.load_json_file(post.metadata)
    except nodes.MetadataError as exc:
        skip(skipped, post.metadata.name, str(exc))
        return None
    kind = nodes.node_type(data)
    if kind != "Post":
        if kind is None:
            skip(skipped, post.metadata.name, "not an instaloader Post (no shortcode in the node)")
        return None  # stories, highlights... are not feed posts
    node = data.get("node", data)
    if not isinstance(node, dict):
        skip(skipped, post.metadata.name, "not an instaloader Post (the node is not an object)")
        return None
    row = nodes.node_to_row(node)
    if row["shortcode"] is None:
        skip(skipped, post.metadata.name, "the node has no shortcode (an incomplete Post)")
        return None
    if row["taken_at"] is None:
        skip(skipped, post.metadata.name, "the node has no date (taken_at)")
        return None
    row["fetched_at"] = mtime_utc(post.metadata)
    if row["caption"] is None and post.caption is not None:
        row["caption"] = post.caption.read_text(encoding="utf-8", errors="replace").strip() or None
        row["hashtags"], row["mentions"] = nodes.hashtags(row["caption"]), nodes.mentions(row["caption"])
    cut = len(post.base)
    files = [(post.metadata, post.metadata.name[cut:])]
    files += [(p, p.name[cut:]) for p in post.images]
    files += [(p, p.name[cut:]) for p in post.videos]
    if post.caption is not None:
        files.append((post.caption, post.caption.name[cut:]))
    cand = Candidate(post.metadata.name, str(row["post_id"] or row["shortcode"]), row, post.base,
                     files, n_lead=1, n_media=len(post.images))
    slides = len(nodes.sidecar_children(node))
    if not post.images:
        expected = f"{post.base}.jpg" + (" or _1.jpg, _2.jpg..." if row["media_type"] == "sidecar" else "")
        cand.problem = f"no image file ({expected} is missing)"
    elif row["media_type"] == "sidecar" and len(post.images) < slides:
        cand.problem = f"sidecar of {slides} slides but only {len(post.images)} image file(s) beside it"
    else:
        check_media(cand)
    return cand


def read_folder(folder: Path, account: str | None) -> FolderRead:
    """Every post of an instaloader folder as a `Candidate`; nothing is copied or written."""
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
    if account is None:
        guessed = _guess_account(folder, posts, profile_user)
        try:
            account = validate_account(guessed)
        except InvalidAccountName as exc:
            raise InvalidAccountName(exc.message, hint="name the account: --account NAME") from None
    read = FolderRead(validate_account(account), [])
    for orphan in orphans:
        skip(read.skipped, orphan.name, "image without a .json/.json.xz metadata file beside it")
    for post in posts:
        cand = _candidate(post, read.skipped)
        if cand is None:
            continue
        row: dict[str, Any] = cand.row
        if row["followers"] is None:
            row["followers"] = profile_followers
        read.candidates.append(cand)
    read.extras = [p for p in [*profile_files, folder / "id"] if p.is_file()]
    return read
