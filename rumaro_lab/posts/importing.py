"""Import posts already on disk: an instaloader folder, or a CSV/JSON table of posts. No network.

`import_path` reads the source into candidate posts without writing anything (`folder`,
`tables`), keeps one copy of each post (a repeated post id is reported as ``duplicate of <file>``),
copies the files it uses into ``data/raw/ACCOUNT/`` under names no two posts share (`rawfiles`),
then writes the normalised table ``data/interim/ACCOUNT/posts.parquet`` (see
`rumaro_lab.posts.schema`) atomically, with each image's sha256 in ``media_sha256``.

A bad post (corrupt or truncated ``.json.xz``, missing, truncated or undecodable image,
unreadable row) is logged as a warning with its file name or row and the reason, listed in the
summary, and skipped; the rest of the import goes on.

Example (a real instaloader folder, 9 posts)::

    from rumaro_lab.settings import Settings
    summary = import_path("../shared/data/spacex_instaloader/spacex", Settings())
    summary.n_posts, summary.n_skipped   # (9, 0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from ..accounts import validate_account
from ..errors import MissingInputError, UnimportablePath
from ..settings import Settings
from .folder import IMAGE_SUFFIXES, VIDEO_SUFFIXES, mtime_utc, read_folder
from .rawfiles import Candidate, RawWriter, choose_copies, copy_into, skip
from .schema import POSTS_COLUMNS, coerce_posts, write_posts
from .tables import TABLE_ALIASES, TABLE_SUFFIXES, read_table, read_table_posts, table_account

__all__ = [
    "IMAGE_SUFFIXES",
    "SAMPLE_ACCOUNT",
    "TABLE_ALIASES",
    "TABLE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ImportSummary",
    "UnimportablePath",
    "import_path",
    "import_sample",
    "sample_dir",
]

log = logging.getLogger(__name__)

#: The bundled sample account: data/sample/ACCOUNT in instaloader's layout (see data/sample/README.md).
SAMPLE_ACCOUNT = "sample"


@dataclass
class ImportSummary:
    """What an import did: posts written, each skipped item and each duplicate with the reason."""

    account: str
    n_posts: int
    path: Path | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    source: str = "instaloader"
    raw_dir: Path | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # imported, but worth a look

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    @property
    def n_duplicates(self) -> int:
        return len(self.duplicates)

    def __str__(self) -> str:
        lines = [
            f"{self.account}: {self.n_posts} posts imported ({self.source}) -> {self.path}",
        ]
        for title, items in (("duplicate post(s) not imported", self.duplicates),
                             ("skipped", self.skipped), ("note(s)", self.notes)):
            if items:
                lines.append(f"  {len(items)} {title}:")
                lines.extend(f"    {name}: {reason}" for name, reason in items)
        if not self.skipped:
            lines.append("  0 skipped")
        return "\n".join(lines)


def _finish(
    candidates: list[Candidate],
    settings: Settings,
    account: str,
    source: str,
    skipped: list[tuple[str, str]],
    extras: list[Path],
    notes: list[tuple[str, str]] | None = None,
) -> ImportSummary:
    """Keep one copy per post, write its raw files under collision-free names, write the table."""
    kept, duplicates = choose_copies(candidates)
    complete = []
    for cand in kept:
        if cand.problem is None:
            complete.append(cand)
        else:
            skip(skipped, cand.label, cand.problem)
    writer = RawWriter(settings, account)
    bases = writer.place(complete)
    rows = []
    for cand in complete:
        media = writer.write(cand, bases[cand.key])
        rows.append({**{k: v for k, v in cand.row.items() if k in POSTS_COLUMNS},
                     "account": account, "media": media, "media_sha256": cand.media_sha256,
                     "source": source})
    for extra in extras:  # a table, a profile: kept beside the posts (a newer copy replaces it)
        copy_into(extra, writer.raw)
    frame = coerce_posts(pd.DataFrame(rows) if rows else pd.DataFrame({"account": []}))
    frame = frame.sort_values("taken_at", kind="stable").reset_index(drop=True)
    path = write_posts(frame, settings.posts_path(account))
    summary = ImportSummary(account, len(rows), path, skipped, duplicates, source, writer.raw,
                            notes or [])
    log.debug("imported %s", summary)
    return summary


def _import_folder(folder: Path, settings: Settings, account: str | None, source: str) -> ImportSummary:
    read = read_folder(folder, account)
    return _finish(read.candidates, settings, read.account, source, read.skipped, read.extras)


def _import_table(table: Path, settings: Settings, account: str | None, source: str) -> ImportSummary:
    frame, not_utf8 = read_table(table)
    account = validate_account(account if account is not None else table_account(frame, table))
    skipped: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    candidates = read_table_posts(table, frame, not_utf8, mtime_utc(table), skipped, notes)
    return _finish(candidates, settings, account, source, skipped, [table], notes)


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
