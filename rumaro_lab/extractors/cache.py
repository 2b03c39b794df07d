"""The feature cache: (image sha256, extractor, version, config hash) -> features, in SQLite.

Why SQLite in WAL mode: the cache is one file beside the data (nothing to install or run, no
server), every write is a transaction (a run killed with ``kill -9`` leaves whole entries or
none, never half of one), and write-ahead logging lets several processes read while one writes,
with a busy timeout to queue writers (two ``rumaro extract`` runs on the same machine are safe).
Batched look-ups with ``IN (...)`` on the primary key serve tens of thousands of entries a
second, which is what makes a fully cached re-run nearly free.

Keys hold only content hashes, names, versions and a hash of the extractor's config, never a
credential (those live in `Settings`, outside ``config``). Values are the features as JSON, plus
the raw service response for cloud extractors (so a mapping can be re-done without paying again).

>>> import tempfile, pathlib
>>> with FeatureCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite") as cache:
...     key = CacheKey("ab" * 32, "mean", "1", "cfg")
...     n_stored = cache.put_many([(key, {"value": 0.5}, None)])
...     cache.get_many([key, key._replace(version="2")])
{CacheKey(image_sha256='abab...', extractor='mean', version='1', config_hash='cfg'): {'value': 0.5}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from ..errors import CacheError

log = logging.getLogger(__name__)

#: File name of the cache inside ``settings.cache_dir``.
CACHE_FILE = "features.sqlite"
#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 60.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Bound parameters per ``IN (...)`` look-up (SQLite's default limit is 32,766).
_LOOKUP_CHUNK = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS features (
    image_sha256 TEXT NOT NULL,
    extractor    TEXT NOT NULL,
    version      TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    features     TEXT NOT NULL,
    raw          TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (extractor, version, config_hash, image_sha256)
) WITHOUT ROWID;
"""


class CacheKey(NamedTuple):
    """What determines an extractor's output: the image content, the code, the options."""

    image_sha256: str
    extractor: str
    version: str
    config_hash: str




Entry = tuple[CacheKey, Mapping[str, Any], Any]


class FeatureCache:
    """A persistent, process-safe map from `CacheKey` to a features dict.

    Open one per process (the connection is made lazily, so an instance can be pickled to a
    worker and reconnects there). Use it as a context manager to close the connection.

    >>> import tempfile
    >>> from rumaro_lab.settings import Settings
    >>> s = Settings(_env_file=None, cache_dir=tempfile.mkdtemp())
    >>> with FeatureCache.for_settings(s) as cache:
    ...     len(cache), cache.path.name
    (0, 'features.sqlite')
    """

    def __init__(self, path: str | Path, busy_timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._owner: tuple[int, int] | None = None

    @classmethod
    def for_settings(cls, settings) -> FeatureCache:
        """The cache file of these settings: ``settings.cache_dir / features.sqlite``."""
        return cls(Path(settings.cache_dir) / CACHE_FILE)

    # -- connection -------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        owner = (os.getpid(), threading.get_ident())
        if self._conn is None or self._owner != owner:
            # A connection must not cross a fork or a thread: open a fresh one where we are.
            self._conn = self._connect()
            self._owner = owner
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the
            # write lock up front and waits (busy timeout) instead of failing on lock upgrade.
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a committed transaction survives the process being killed;
            # only an OS crash / power cut may lose the last few (never corrupt the file).
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"cannot open the feature cache {self.path}: {exc}",
                hint="check the path (RUMARO_CACHE_DIR); a corrupt cache can be deleted, it is "
                "only a cache",
            ) from exc
        return conn

    def close(self) -> None:
        if self._conn is not None and self._owner is not None:
            if self._owner[0] == os.getpid():
                self._conn.close()
        self._conn = None
        self._owner = None

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "busy_timeout": self.busy_timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["busy_timeout"])

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.path)!r})"

    def __len__(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM features").fetchone()[0]

    # -- reads ------------------------------------------------------------------------------
    def get_many(
        self, keys: Iterable[CacheKey], with_raw: bool = False
    ) -> dict[CacheKey, Any]:
        """The cached features of every key present (absent keys are simply missing).

        One query per (extractor, version, config) group and chunk of 900 images, so a
        thousand-image run costs a handful of queries. With ``with_raw`` the values are
        ``(features, raw)`` pairs.
        """
        groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for key in keys:
            groups[(key.extractor, key.version, key.config_hash)].append(key.image_sha256)
        found: dict[CacheKey, Any] = {}
        column = "features, raw" if with_raw else "features"
        for (extractor, version, config_hash), shas in groups.items():
            unique = list(dict.fromkeys(shas))
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._query(
                    f"SELECT image_sha256, {column} FROM features WHERE extractor = ? AND "
                    f"version = ? AND config_hash = ? AND image_sha256 IN ({marks})",
                    (extractor, version, config_hash, *chunk),
                )
                for row in rows:
                    key = CacheKey(row[0], extractor, version, config_hash)
                    value = _parse_entry(row[1], row[2] if with_raw else None)
                    if value is None:  # damaged: a miss, so it is computed and stored again
                        log.warning("ignoring a damaged cache entry (%s, image %s)", extractor, row[0][:12])
                        continue
                    found[key] = value if with_raw else value[0]
        return found

    def _query(self, sql: str, params: Iterable[Any]) -> list[tuple]:
        with self._damage_is_an_error():
            return self.conn.execute(sql, tuple(params)).fetchall()

    @contextlib.contextmanager
    def _damage_is_an_error(self) -> Iterator[None]:
        """A corrupt file (not a busy one) becomes a `CacheError` that says what to do."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, busy...: not damage
                raise
            raise CacheError(
                f"the feature cache {self.path} is damaged: {exc}",
                hint="`rumaro check` says more; delete the file (it is only a cache) and run again",
            ) from exc

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """One key's features, or None."""
        return self.get_many([key]).get(key)

    # -- writes -----------------------------------------------------------------------------
    def put_many(self, entries: Iterable[Entry]) -> int:
        """Store ``(key, features, raw)`` triples in one transaction (all or none)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [
            (
                *key,
                json.dumps(dict(features), separators=(",", ":")),
                None if raw is None else json.dumps(raw, separators=(",", ":"), default=str),
                now,
            )
            for key, features, raw in entries
        ]
        if not rows:
            return 0
        with self._damage_is_an_error(), self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO features (image_sha256, extractor, version, config_hash,"
                " features, raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def clear(self, extractor: str | None = None) -> int:
        """Delete every entry (or one extractor's); returns how many were removed."""
        with self._damage_is_an_error(), self._transaction() as conn:
            if extractor is None:
                removed = conn.execute("DELETE FROM features").rowcount
            else:
                removed = conn.execute(
                    "DELETE FROM features WHERE extractor = ?", (extractor,)
                ).rowcount
        # Give the space back to the file system when the WAL is not in use by others.
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def _transaction(self):
        return _Transaction(self.conn)

    # -- listing ----------------------------------------------------------------------------
    def stats(self) -> pd.DataFrame:
        """One row per (extractor, version): entries, distinct images and configs, bytes, dates.

        ``bytes`` is the stored size: the JSON texts plus about 200 bytes of key per entry.

        >>> import tempfile
        >>> FeatureCache(tempfile.mkdtemp() + "/c.sqlite").stats().columns.tolist()[:4]
        ['extractor', 'version', 'entries', 'images']
        """
        rows = self.conn.execute(
            "SELECT extractor, version, COUNT(*), COUNT(DISTINCT image_sha256),"
            " COUNT(DISTINCT config_hash),"
            " SUM(LENGTH(features) + COALESCE(LENGTH(raw), 0) + 200),"
            " SUM(raw IS NOT NULL), MIN(created_at), MAX(created_at)"
            " FROM features GROUP BY extractor, version ORDER BY extractor, version"
        ).fetchall()
        df = pd.DataFrame(
            rows,
            columns=["extractor", "version", "entries", "images", "configs", "bytes",
                     "with_raw", "first_created", "last_created"],
        )
        return df.astype(
            {"extractor": "string", "version": "string", "entries": "Int64", "images": "Int64",
             "configs": "Int64", "bytes": "Int64", "with_raw": "Int64"}
        ).assign(
            first_created=lambda d: _utc(d["first_created"]),
            last_created=lambda d: _utc(d["last_created"]),
        )

    def entries(self, extractor: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """The entries themselves: key columns, features (JSON text), has_raw, created_at."""
        sql = (
            "SELECT image_sha256, extractor, version, config_hash, features,"
            " raw IS NOT NULL, created_at FROM features"
        )
        params: list[Any] = []
        if extractor is not None:
            sql += " WHERE extractor = ?"
            params.append(extractor)
        sql += " ORDER BY extractor, version, image_sha256"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        df = pd.DataFrame(
            self.conn.execute(sql, params).fetchall(),
            columns=["image_sha256", "extractor", "version", "config_hash", "features",
                     "has_raw", "created_at"],
        )
        return df.astype(
            {"image_sha256": "string", "extractor": "string", "version": "string",
             "config_hash": "string", "features": "string", "has_raw": "boolean"}
        ).assign(created_at=lambda d: _utc(d["created_at"]))

    def file_bytes(self) -> int:
        """Size on disk of the cache file and its write-ahead log."""
        return sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )


def _parse_entry(features: str, raw: str | None) -> tuple[dict, Any] | None:
    """(features, raw) of a stored entry, or None when it doesn't parse (a damaged entry)."""
    try:
        value = json.loads(features)
        parsed_raw = None if raw is None else json.loads(raw)
    except (TypeError, ValueError):
        return None
    return (value, parsed_raw) if isinstance(value, dict) else None


def verify_cache(path: str | Path) -> tuple[int, list[str]]:
    """(entries, problems) of a cache file, read only: SQLite's integrity check, and every entry
    parsed (features a JSON object, raw JSON, a 64-hex image hash). Changes nothing.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "c.sqlite"
    >>> with FeatureCache(path) as c:
    ...     _ = c.put_many([(CacheKey("ab" * 32, "mean", "1", "cfg"), {"value": 0.5}, None)])
    >>> verify_cache(path)
    (1, [])
    """
    path = Path(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.DatabaseError as exc:
        return 0, [f"cannot open it ({exc})"]
    n, problems, bad = 0, [], []
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if verdict != ["ok"]:
            problems.append(f"SQLite integrity check: {'; '.join(verdict)}")
        for sha, extractor, features, raw in conn.execute(
            "SELECT image_sha256, extractor, features, raw FROM features"
        ):
            n += 1
            if _parse_entry(features, raw) is None or not _SHA256.match(str(sha)):
                bad.append(f"{extractor} of image {str(sha)[:12]}")
    except sqlite3.DatabaseError as exc:
        problems.append(f"unreadable ({exc})")
    finally:
        conn.close()
    if bad:
        problems.append(f"{len(bad)} entries do not parse (e.g. {', '.join(bad[:3])})")
    return n, problems


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): writes are all-or-none."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
