"""Download an account's posts with instaloader into ``data/raw/ACCOUNT``, then normalise them.

* instaloader's own layout (``DATE_UTC.jpg``, ``DATE_UTC_1.jpg``..., ``DATE_UTC.json.xz``,
  ``DATE_UTC.txt``, the profile's ``USERNAME_ID.json.xz``), so the folder can also be re-imported
  with `rumaro import` or read by any instaloader-aware tool.
* Resumable: instaloader's latest-stamps file (``data/raw/ACCOUNT/latest-stamps.ini``) remembers the
  newest post fetched, and fast-update stops at the first post already on disk, so a second run
  fetches only new posts. Pinned posts (up to 3, which Instagram shows first) do not stop it.
* Login only through an instaloader session file (``instaloader --login USER`` or
  ``instaloader --load-cookies firefox`` write one): ``--session-file`` or
  ``RUMARO_INSTAGRAM_SESSION_FILE``. There is no password parameter anywhere.
* HTTP 401/403/429 (or instaloader asking for a long rate-limit wait) stop this account cleanly:
  what was downloaded stays and is normalised, and the summary says when to retry.

Example::

    summary = fetch_account("natgeo", settings, max_posts=50)
    print(summary)
    # natgeo: 50 new posts downloaded into data/raw/natgeo
    # natgeo: 50 posts imported (instaloader) -> data/interim/natgeo/posts.parquet
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import instaloader
from instaloader.exceptions import (
    AbortDownloadException,
    ConnectionException,
    InstaloaderException,
    LoginRequiredException,
    PrivateProfileNotFollowedException,
    ProfileNotExistsException,
    QueryReturnedForbiddenException,
)

from ..accounts import validate_account
from ..errors import AccountNotFound, MissingInputError, RateLimitWait, RumaroError
from ..settings import Settings
from .importing import ImportSummary, import_path

log = logging.getLogger(__name__)

#: Responses that mean "stop now, don't hammer": unauthorised, forbidden, too many requests.
STOP_STATUSES = (401, 403, 429)
#: instaloader's rate controller may ask to wait this long at most before we stop instead.
MAX_RATE_WAIT_S = 120.0
STAMPS_FILE = "latest-stamps.ini"
#: How long to suggest waiting, by status (Instagram publishes no numbers; these are instaloader's
#: own back-off scale for 429 and a conservative half day for auth refusals).
RETRY_AFTER = {429: timedelta(minutes=30), 401: timedelta(hours=12), 403: timedelta(hours=12)}
_STATUS_RE = re.compile(r"\b(401|403|429)\b")




class _StoppingRateController(instaloader.RateController):
    """instaloader's controller, but a long wait stops the account instead of blocking for ~30 min.

    (instaloader documents overriding `sleep` for exactly this.)
    """

    def __init__(self, context, max_wait: float = MAX_RATE_WAIT_S):
        super().__init__(context)
        self.max_wait = max_wait

    def sleep(self, secs: float) -> None:
        if secs > self.max_wait:
            raise RateLimitWait.after(secs)
        super().sleep(secs)


@dataclass
class FetchSummary:
    """What a fetch did: new posts, whether and why it stopped early, when to retry."""

    account: str
    n_new: int
    raw_dir: Path
    stopped: bool = False
    reason: str | None = None
    status: int | None = None
    retry_after: datetime | None = None
    errors: list[str] = field(default_factory=list)
    imported: ImportSummary | None = None

    def __str__(self) -> str:
        lines = [f"{self.account}: {self.n_new} new posts downloaded into {self.raw_dir}"]
        if self.stopped:
            when = f"; retry after {self.retry_after:%Y-%m-%d %H:%M} UTC" if self.retry_after else ""
            lines.append(f"  stopped early: {self.reason}{when} (what was downloaded is kept)")
        lines.extend(f"  instaloader: {e}" for e in self.errors)
        if self.imported is not None:
            lines.append(str(self.imported))
        return "\n".join(lines)


def _parse_since(since: str | datetime | None) -> datetime | None:
    if since is None or isinstance(since, datetime):
        return since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
    try:
        value = datetime.fromisoformat(since)
    except ValueError as exc:
        raise RumaroError(f"invalid --since date {since!r}", hint="use YYYY-MM-DD") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _session_user(session_file: Path, settings: Settings) -> str:
    """instaloader names session files ``session-USERNAME``; the user name only labels the session."""
    if settings.instagram_user:
        return settings.instagram_user
    name = session_file.name
    return name.removeprefix("session-") if name.startswith("session-") else "session"


def make_loader(settings: Settings, raw_root: Path, session_file: Path | None = None, *, sleep: bool = True,
                download_videos: bool = False) -> instaloader.Instaloader:
    """An `instaloader.Instaloader` writing ``raw_root/ACCOUNT`` in its own layout, never prompting.

    Videos are off by default (the analysis uses images; a video post keeps its cover .jpg).
    """
    loader = instaloader.Instaloader(
        sleep=sleep,
        quiet=True,
        dirname_pattern=str(raw_root / "{target}"),
        download_videos=download_videos,
        download_video_thumbnails=True,
        download_geotags=False,
        download_comments=False,
        save_metadata=True,
        compress_json=True,
        max_connection_attempts=1,  # a refusal is not retried: we stop and say when to retry
        rate_controller=lambda context: _StoppingRateController(context),
        fatal_status_codes=list(STOP_STATUSES),
    )
    session_file = session_file or settings.instagram_session_file
    if session_file is not None:
        session_file = Path(session_file).expanduser()
        if not session_file.is_file():
            raise MissingInputError(
                f"no instaloader session file at {session_file}",
                hint="create one with `instaloader --login YOUR_USER` (asks the password itself) or "
                "`instaloader --load-cookies firefox`, then pass --session-file",
            )
        try:
            loader.load_session_from_file(_session_user(session_file, settings), str(session_file))
        except Exception as exc:  # noqa: BLE001 - a corrupt pickle raises anything
            raise RumaroError(
                f"cannot read the instaloader session file {session_file}: {type(exc).__name__}",
                hint="recreate it with `instaloader --login YOUR_USER`",
            ) from exc
        log.info("logged in from session file %s", session_file.name)
    return loader


def _status_of(exc: BaseException) -> int | None:
    match = _STATUS_RE.search(str(exc))
    return int(match.group(1)) if match else None


def _stop_reason(exc: BaseException) -> tuple[str, int | None, timedelta]:
    if isinstance(exc, RateLimitWait):
        return (f"Instagram rate limit (instaloader asks to wait {exc.seconds / 60:.0f} min)", 429,
                timedelta(seconds=exc.seconds))
    status = _status_of(exc)
    if status == 429:
        return "HTTP 429 Too Many Requests: Instagram rate-limited this client", 429, RETRY_AFTER[429]
    if status in (401, 403):
        what = "401 Unauthorized" if status == 401 else "403 Forbidden"
        return (f"HTTP {what}: Instagram refused the request (log in with a fresh session file: "
                "`instaloader --login USER`, then --session-file)", status, RETRY_AFTER[status])
    if isinstance(exc, LoginRequiredException | PrivateProfileNotFollowedException):
        return (f"login required ({exc}); pass --session-file of an account that may see it", None,
                timedelta(0))
    return f"connection problem: {exc}", None, timedelta(minutes=10)


def _post_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*_UTC.json.xz")} if folder.is_dir() else set()


def fetch_account(
    account: str,
    settings: Settings,
    max_posts: int | None = None,
    since: str | datetime | None = None,
    session_file: str | Path | None = None,
    *,
    sleep: bool = True,
    download_videos: bool = False,
    update_all: bool = False,
) -> FetchSummary:
    """Download new posts of `account` into data/raw/ACCOUNT and write its posts.parquet.

    Parameters
    ----------
    max_posts : stop after this many posts (newest first).
    since : only posts on or after this date (``YYYY-MM-DD``, UTC).
    session_file : an instaloader session file to log in with (default: the setting
        ``instagram_session_file``); anonymous when neither is given.
    sleep : instaloader's polite random pauses between requests (keep on; tests turn it off).
    download_videos : also save ``.mp4`` files (default: the cover image only).
    update_all : walk every post again instead of stopping at the newest one already fetched:
        refreshes the saved like/comment counts of old posts and reaches posts older than an
        earlier ``max_posts`` stopped at (images already on disk are not downloaded again).

    A 401/403/429 stops the account cleanly: the summary's ``stopped``, ``reason`` and
    ``retry_after`` say why and when to try again; posts already downloaded are normalised.
    """
    account = validate_account(account)
    since_at = _parse_since(since)
    raw = settings.raw_dir(account)
    loader = make_loader(settings, raw.parent, Path(session_file) if session_file else None,
                         sleep=sleep, download_videos=download_videos)
    stamps = instaloader.LatestStamps(str(raw / STAMPS_FILE))
    before = _post_files(raw)
    summary = FetchSummary(account, 0, raw)
    try:
        try:
            profile = instaloader.Profile.from_username(loader.context, account)
        except ProfileNotExistsException as exc:
            raise AccountNotFound(
                f"Instagram has no account {account!r} (or it is not visible)",
                hint="check the spelling; private accounts need --session-file of a follower",
            ) from exc
        raw.mkdir(parents=True, exist_ok=True)
        # the profile's metadata (followers at fetch time), named as instaloader names it
        loader.save_metadata_json(str(raw / f"{profile.username}_{profile.userid}"), profile)
        epoch = datetime.fromtimestamp(0, UTC)
        last = epoch if update_all else stamps.get_last_post_timestamp(account)

        def newer(post: instaloader.Post) -> bool:
            return post.date_utc.replace(tzinfo=UTC) > last and (
                since_at is None or post.date_utc.replace(tzinfo=UTC) >= since_at
            )

        posts = profile.get_posts()
        loader.posts_download_loop(
            posts, account, fast_update=not update_all, takewhile=newer, possibly_pinned=3,
            max_count=max_posts, owner_profile=profile,
        )
        if posts.first_item is not None:
            stamps.set_last_post_timestamp(
                account, max(posts.first_item.date_local, stamps.get_last_post_timestamp(account))
            )
    except (AbortDownloadException, ConnectionException, LoginRequiredException,
            PrivateProfileNotFollowedException, QueryReturnedForbiddenException, RateLimitWait) as exc:
        reason, status, wait = _stop_reason(exc)
        summary.stopped, summary.reason, summary.status = True, reason, status
        summary.retry_after = datetime.now(UTC) + wait if wait else None
        log.warning("%s: stopped fetching: %s", account, reason)
    except InstaloaderException as exc:
        summary.stopped, summary.reason = True, f"instaloader error: {exc}"
        log.warning("%s: stopped fetching: %s", account, exc)
    finally:
        summary.errors = list(loader.context.error_log)
        loader.context.error_log.clear()
        loader.close()
    summary.n_new = len(_post_files(raw) - before)
    if _post_files(raw):
        summary.imported = import_path(raw, settings, account=account, source="instaloader")
    log.debug("%s", summary)
    return summary
