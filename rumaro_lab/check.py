"""`rumaro check [ACCOUNT]`: is the data folder whole? Says what is wrong and how to fix it.

For each account (one, or every account with data):

- the posts table reads, has one row per post id, and every post has its own image: no two
  posts point at one file;
- every raw file the posts table names exists, and its bytes still have the sha256 the import
  recorded (``media_sha256``);
- ``features.parquet`` reads, has a row for each post and none for posts that are gone, each row
  names the post's cover image, and that image's bytes are the ones the features were computed
  from (``image_sha256``);
- no temp file of an interrupted write is left behind (`rumaro_lab.fileio.stale_temp_files`);

and, once, the feature cache: SQLite's integrity check, and every entry parses
(`rumaro_lab.extractors.cache.verify_cache`). Nothing is changed: each problem comes with the
command that fixes it. `check_data` returns a `CheckReport`; the CLI exits 1 when it is not ok.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .accounts import is_valid_account, validate_account
from .errors import RumaroError
from .extractors.cache import CACHE_FILE, verify_cache
from .fileio import stale_temp_files
from .identity import shared_media
from .images import file_sha256
from .posts.schema import read_posts
from .settings import Settings


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the item (a file, a row), what is wrong with it, and how to fix it."""

    item: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.item}: {self.what}\n    fix: {self.fix}"


@dataclass
class CheckReport:
    checked: list[str] = field(default_factory=list)  # one line per account, one for the cache
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"checked {line}" for line in self.checked]
        if self.ok:
            lines.append("no problems found")
        else:
            lines.append(f"{len(self.problems)} problem(s):")
            lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)


class _Hashes:
    """sha256 of raw files, each read once (None when it is missing or unreadable)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._seen: dict[str, str | None] = {}

    def __call__(self, rel: str) -> str | None:
        if rel not in self._seen:
            try:
                self._seen[rel] = file_sha256(self.data_dir / rel)
            except OSError:
                self._seen[rel] = None
        return self._seen[rel]


def _accounts(settings: Settings) -> list[str]:
    names: set[str] = set()
    for stage in ("raw", "interim", "processed"):
        folder = Path(settings.data_dir) / stage
        if folder.is_dir():
            names.update(p.name for p in folder.iterdir() if p.is_dir() and is_valid_account(p.name))
    return sorted(names)


def _read(path: Path, reader, problems: list[Problem], fix: str):
    try:
        return reader(path)
    except (RumaroError, OSError, ValueError) as exc:
        problems.append(Problem(str(path), f"cannot be read ({' '.join(str(exc).split())[:200]})", fix))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own types for damaged files
        problems.append(Problem(str(path), f"cannot be read ({type(exc).__name__}: {exc})", fix))
    return None


def _check_posts(posts: pd.DataFrame, account: str, hashes: _Hashes, problems: list[Problem]) -> int:
    """Raw files against the posts table; returns how many raw files were checked."""
    reimport = f"import the account again (`rumaro import SOURCE --account {account}`), then `rumaro extract {account}`"
    repeated = posts["post_id"][posts["post_id"].duplicated()].unique()
    for post_id in repeated:
        problems.append(Problem(f"posts.parquet of {account}", f"post {post_id} has several rows", reimport))
    for path, ids in shared_media(posts).items():
        problems.append(Problem(path, f"shared by posts {', '.join(ids[:5])}: each post must have its own image "
                                      "(their features would be one post's)", reimport))
    n_files = 0
    prefix = f"raw/{account}/"
    for post_id, media, recorded in zip(posts["post_id"], posts["media"], posts["media_sha256"], strict=True):
        if len(media) == 0:
            problems.append(Problem(f"post {post_id}", "has no image", reimport))
        recorded = list(recorded) if recorded is not None else []
        for i, rel in enumerate(media):
            n_files += 1
            if not rel.startswith(prefix) or ".." in Path(rel).parts:
                problems.append(Problem(rel, f"post {post_id} points outside {prefix}", reimport))
                continue
            now = hashes(rel)
            if now is None:
                problems.append(Problem(rel, f"missing or unreadable (post {post_id})",
                                        f"restore the file, or {reimport}"))
            elif i < len(recorded) and recorded[i] != now:
                problems.append(Problem(
                    rel, f"changed since it was imported (post {post_id}: sha256 {recorded[i][:12]} "
                         f"then, {now[:12]} now)",
                    f"restore the original, or accept the new file: {reimport}"))
    return n_files


def _check_features(features: pd.DataFrame, posts: pd.DataFrame, account: str, hashes: _Hashes,
                    problems: list[Problem]) -> None:
    """Features against the posts table and against the bytes of the images they name."""
    extract = f"run `rumaro extract {account}` (only what changed is computed)"
    where = f"features.parquet of {account}"
    covers = {str(p): (list(m)[0] if len(m) else None) for p, m in zip(posts["post_id"], posts["media"], strict=True)}
    have = set(features["post_id"].astype(str))
    missing = [p for p in covers if p not in have]
    extra = sorted(have - set(covers))
    if missing:
        problems.append(Problem(where, f"no row for {len(missing)} post(s) (e.g. {', '.join(missing[:3])})", extract))
    if extra:
        problems.append(Problem(where, f"rows for {len(extra)} post(s) that are not in the posts table "
                                       f"(e.g. {', '.join(extra[:3])})", extract))
    for post_id, image, sha in features[["post_id", "image", "image_sha256"]].astype(object).itertuples(index=False):
        cover = covers.get(str(post_id))
        if post_id not in covers or image is None or pd.isna(image):
            continue
        if image != cover:
            problems.append(Problem(f"{where}, post {post_id}", f"computed from {image}, but the post's image is {cover}", extract))
        elif sha is not None and not pd.isna(sha) and hashes(image) not in (None, sha):
            problems.append(Problem(f"{where}, post {post_id}",
                                    f"computed from other bytes than {image} holds now (sha256 {sha[:12]} "
                                    f"then, {hashes(image)[:12]} now)", extract))


def check_account(settings: Settings, account: str, report: CheckReport) -> None:
    """Add the account's problems (and one summary line) to `report`."""
    account = validate_account(account)
    problems = report.problems
    hashes = _Hashes(Path(settings.data_dir))
    folders = [settings.raw_dir(account), settings.interim_dir(account), settings.processed_dir(account),
               settings.report_dir(account)]
    for folder in folders:
        for stale in stale_temp_files(folder):
            problems.append(Problem(str(stale), "a temp file left by an interrupted write (nothing reads it)",
                                    f"delete it: rm '{stale}'"))
    posts_path = settings.posts_path(account)
    if not posts_path.is_file():
        has_raw = settings.raw_dir(account).is_dir()
        problems.append(Problem(str(posts_path), "no posts table" + (" (raw files are there)" if has_raw else ""),
                                f"`rumaro import SOURCE --account {account}` or `rumaro fetch {account}`"))
        report.checked.append(f"{account}: no posts table")
        return
    posts = _read(posts_path, read_posts, problems, f"import the account again: `rumaro import SOURCE --account {account}`")
    if posts is None:
        report.checked.append(f"{account}: unreadable posts table")
        return
    n_files = _check_posts(posts, account, hashes, problems)
    line = f"{account}: {len(posts)} posts, {n_files} raw files"
    features_path = settings.features_path(account)
    if features_path.is_file():
        features = _read(features_path, pd.read_parquet, problems,
                         f"run `rumaro extract {account}` (the cache makes it quick)")
        if features is not None:
            _check_features(features, posts, account, hashes, problems)
            line += f", {len(features)} feature rows"
        artifacts = settings.artifacts_path(account)
        if artifacts.is_file():
            _read(artifacts, pd.read_parquet, problems, f"run `rumaro extract {account}`")
    else:
        line += ", no features yet"
    report.checked.append(line)


def check_cache(settings: Settings, report: CheckReport) -> None:
    """Add the feature cache's problems (and one summary line) to `report`; changes nothing."""
    path = Path(settings.cache_dir) / CACHE_FILE
    if not path.is_file():
        report.checked.append(f"cache {path}: none yet")
        return
    n, found = verify_cache(path)
    delete = (f"delete {path} and its -wal/-shm files (it is only a cache: the next "
              "`rumaro extract` computes what it needs again)")
    rerun = "run `rumaro extract ACCOUNT` (damaged entries are computed again and replaced)"
    for what in found:
        report.problems.append(Problem(f"cache {path}", what, rerun if "do not parse" in what else delete))
    damaged = any("do not parse" not in what for what in found)
    report.checked.append(f"cache {path}: " + ("damaged" if damaged else f"{n} entries"))


def check_data(settings: Settings, account: str | None = None) -> CheckReport:
    """Check one account (or every account with data) and the cache; see the module doc.

    >>> import tempfile
    >>> s = Settings(_env_file=None, data_dir=tempfile.mkdtemp(), cache_dir=tempfile.mkdtemp())
    >>> check_data(s).ok
    True
    """
    report = CheckReport()
    accounts = [validate_account(account)] if account is not None else _accounts(settings)
    for name in accounts:
        check_account(settings, name, report)
    if not accounts:
        report.checked.append(f"{settings.data_dir}: no accounts")
    check_cache(settings, report)
    return report
