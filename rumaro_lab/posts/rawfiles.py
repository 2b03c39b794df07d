"""The shared part of every import: checked images, duplicates named as such, collision-free raw names.

Both importers (instaloader folders, tables) first read their source into `Candidate` posts
without writing anything. This module then

1. keeps one copy of each post id (`choose_copies`): the complete copy wins, the others are
   reported as ``duplicate of <file>`` naming both, whichever copy was incomplete;
2. gives each kept post raw file names that cannot collide (`RawWriter`): instaloader's own
   ``DATE_UTC`` names where they are unique, else the post id is added (``DATE_UTC_<id>``), so two
   posts that share a timestamp never share (or overwrite) a file;
3. copies the files (atomically, metadata first) and records each image's sha256 in the posts
   table (``media_sha256``), which `rumaro extract` and `rumaro check` hold the raw files to.

A file already in ``data/raw/ACCOUNT`` under a wanted name is reused when it is byte-identical,
replaced when it belongs to the same post (instaloader rewrites a post's metadata with newer
counts), and never overwritten when it belongs to another post or to no post we can name.
"""

from __future__ import annotations

import filecmp
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ImageLoadError, MetadataError
from ..fileio import copy_file, remove_stale_temp_files
from ..images import bytes_sha256, decode_image
from ..settings import Settings
from . import nodes

log = logging.getLogger(__name__)

_EPOCH = datetime.min.replace(tzinfo=UTC)
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass
class Candidate:
    """One post as its source holds it, before anything is written.

    ``files`` are ``(source, rest)`` pairs: a raw file is named ``base + rest`` (``.json.xz``,
    ``.jpg``, ``_1.jpg``, ``.txt``...). The first ``n_media`` pairs after ``n_lead`` leading ones
    (the metadata, copied first) are the post's images, cover first.
    """

    label: str  # what messages name: a metadata file, or "posts.csv row 5 (id)"
    key: str  # post id (else shortcode): two candidates with one key are one post
    row: dict[str, Any]
    base: str  # the preferred raw base name (instaloader's DATE_UTC)
    files: list[tuple[Path, str]]
    n_lead: int = 0
    n_media: int = 0
    problem: str | None = None  # why this copy is incomplete (None: complete)
    media_sha256: list[str] = field(default_factory=list)
    order: int = 0

    @property
    def media(self) -> list[tuple[Path, str]]:
        return self.files[self.n_lead : self.n_lead + self.n_media]

    @property
    def ids(self) -> set[str]:
        return {str(v) for v in (self.row.get("post_id"), self.row.get("shortcode"), self.key) if v}


def inspect_image(path: Path) -> tuple[str | None, str | None]:
    """(sha256 of the bytes, None) for a usable image; (None, why not) otherwise.

    The image is fully decoded once, by `rumaro_lab.images.decode_image` (the same code the
    extractors use), so a truncated JPEG, HTML saved as .jpg or a decompression bomb is caught
    here, named, and never reaches the posts table.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"image {path.name} is missing"
    except OSError as exc:
        return None, f"image {path.name} is unreadable ({exc.strerror or exc})"
    try:
        decode_image(data, path.name)
    except ImageLoadError as exc:
        return None, f"image {path.name}: {getattr(exc, 'reason', exc.message)}"
    return bytes_sha256(data), None


def check_media(candidate: Candidate) -> None:
    """Decode every image of `candidate`; record their hashes, or the problems as ``problem``."""
    problems, hashes = [], []
    for src, _ in candidate.media:
        sha, problem = inspect_image(src)
        if problem:
            problems.append(problem)
        hashes.append(sha)
    if problems:
        candidate.problem = "; ".join(problems)
    else:
        candidate.media_sha256 = [h for h in hashes if h]


def skip(skipped: list[tuple[str, str]], name: str, reason: str) -> None:
    """Record (and log) an item that is not imported, with the reason."""
    log.warning("skipped %s: %s", name, reason)
    skipped.append((name, reason))


def choose_copies(candidates: list[Candidate]) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """One candidate per post key, and ``(label, 'duplicate of <kept label> ...')`` for the others.

    The kept copy is a complete one when there is one (then the most recently fetched, then the
    last seen); a copy that is incomplete says why, so a copy whose image is missing is named a
    duplicate, not "no image file".
    """
    groups: dict[str, list[Candidate]] = {}
    for i, cand in enumerate(candidates):
        cand.order = i
        groups.setdefault(cand.key, []).append(cand)
    kept, duplicates = [], []
    for key, group in groups.items():
        group.sort(key=lambda c: (c.problem is None, c.row.get("fetched_at") or _EPOCH, c.order),
                   reverse=True)
        first = group[0]
        kept.append(first)
        for other in group[1:]:
            reason = f"duplicate of {first.label}" + ("" if f"({key})" in first.label else f" (post {key})")
            if first.problem is not None:
                reason += "; no copy is complete"
            elif other.problem is not None:
                reason += f"; this copy is incomplete: {other.problem}"
            skip(duplicates, other.label, reason)
    kept.sort(key=lambda c: c.order)
    return kept, duplicates


def _safe_id(key: str) -> str:
    """The post id as a file-name part: as is when it is plain, else a short hash of it."""
    return key if _SAFE_ID.match(key) else bytes_sha256(key.encode())[:16]


class RawWriter:
    """Names and copies posts' files into ``data/raw/ACCOUNT`` so that no two posts share a file.

    Who owns a file already there: the account's previous posts table (its ``media``), else the
    post id in the metadata file of the same base (instaloader's layout), else nobody we know.
    """

    def __init__(self, settings: Settings, account: str):
        self.settings = settings
        self.raw = settings.raw_dir(account)
        remove_stale_temp_files(self.raw)  # a killed import's half copies
        self.claimed: dict[str, str] = {}  # raw name -> key of the post this import gives it to
        self.identical: set[tuple[str, Path]] = set()  # (raw name, source) with the same bytes
        self.ledger: dict[str, set[str]] = {}
        path = settings.posts_path(account)
        if path.is_file():
            try:
                previous = pd.read_parquet(path, columns=["post_id", "shortcode", "media"])
            except Exception as exc:  # noqa: BLE001 - an unreadable old table is replaced anyway
                log.warning("cannot read the previous posts table %s (%s); it will be replaced", path, exc)
            else:
                for post_id, shortcode, media in previous.itertuples(index=False):
                    ids = {str(v) for v in (post_id, shortcode) if isinstance(v, str) and v}
                    for rel in media if media is not None else []:
                        self.ledger.setdefault(Path(str(rel)).name, set()).update(ids)

    def _owners(self, name: str, base: str) -> set[str]:
        if name in self.ledger:
            return self.ledger[name]
        for suffix in (".json.xz", ".json"):
            meta = self.raw / f"{base}{suffix}"
            if meta.is_file():
                try:
                    node = nodes.load_json_file(meta)
                except MetadataError:
                    return set()
                row = nodes.node_to_row(node.get("node", node))
                return {str(v) for v in (row["post_id"], row["shortcode"]) if v}
        return set()

    def _free(self, cand: Candidate, base: str) -> bool:
        for src, rest in cand.files:
            name = base + rest
            if self.claimed.get(name, cand.key) != cand.key:
                return False
            dest = self.raw / name
            if not dest.exists():
                continue
            if _same_bytes(src, dest):
                self.identical.add((name, src))
                continue
            if not (self._owners(name, base) & cand.ids):
                return False
        return True

    def place(self, candidates: list[Candidate]) -> dict[str, str]:
        """Choose every candidate's base name; returns ``{key: base}``.

        A base wanted by one post only, and free on disk, is kept; otherwise ``_<post id>`` is
        added (then ``-2``, ``-3``... in the unlikely case that is taken too).
        """
        wanted: dict[str, int] = {}
        for cand in candidates:
            wanted[cand.base] = wanted.get(cand.base, 0) + 1
        bases: dict[str, str] = {}
        later = []
        for cand in candidates:  # unique names first, so a renamed post can't take one of them
            if wanted[cand.base] == 1 and self._free(cand, cand.base):
                self._claim(cand, cand.base, bases)
            else:
                later.append(cand)
        for cand in later:
            stem = f"{cand.base}_{_safe_id(cand.key)}"
            base, n = stem, 1
            while not self._free(cand, base):
                n += 1
                base = f"{stem}-{n}"
            self._claim(cand, base, bases)
        renamed = [c.label for c in later]
        if renamed:
            log.info("%d post(s) share a raw file name with another post; their files get the post "
                     "id added (e.g. %s)", len(renamed), renamed[0])
        return bases

    def _claim(self, cand: Candidate, base: str, bases: dict[str, str]) -> None:
        for _, rest in cand.files:
            self.claimed[base + rest] = cand.key
        bases[cand.key] = base

    def write(self, cand: Candidate, base: str) -> list[str]:
        """Copy the candidate's files (metadata first); returns its media paths for the table."""
        media = []
        for i, (src, rest) in enumerate(cand.files):
            name = base + rest
            dest = self.raw / name if (name, src) in self.identical else copy_into(src, self.raw, name)
            if cand.n_lead <= i < cand.n_lead + cand.n_media:
                media.append(dest.relative_to(self.settings.data_dir).as_posix())
        return media


def _same_bytes(src: Path, dest: Path) -> bool:
    try:
        return src.resolve() == dest.resolve() or filecmp.cmp(src, dest, shallow=False)
    except OSError:
        return False


def copy_into(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """Copy `src` to ``dest_dir/name`` (default: its own name) unless identical bytes are there.

    A different file under that name is replaced (the caller decided it is the same post's, or
    a newer copy of the same table/profile), and the replacement is logged.
    """
    dest = dest_dir / (name or src.name)
    if dest.exists():
        if _same_bytes(src, dest):
            return dest
        log.info("replacing %s in %s with the newer file from %s", dest.name, dest_dir, src.parent)
    return copy_file(src, dest)
