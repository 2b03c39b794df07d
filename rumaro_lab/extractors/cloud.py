"""What every cloud extractor shares: retries, rate limit, cost guard, stop-on-401, errors.

A cloud extractor (`CloudExtractor`) sends the image's **bytes** (Instagram CDN URLs expire) to a
remote service, caches the service's raw JSON next to the features (`extract_with_raw`), and maps
that JSON onto feature names (`features_from_raw`, a pure function of the cached raw response, so
a cached answer can be re-mapped without a call).

One call goes through `CloudExtractor._call`:

1. `ServiceState.acquire` – refuse at once if the service was stopped earlier in this run
   (a 401/403 seen by *any* worker process) or if the cost guard `Settings.max_calls` is spent.
   One image counts once, however many times it is retried.
2. `ServiceState.wait_for_slot` – the per-service rate limit (calls per second), shared by all
   worker processes of the run.
3. the request. 408/429/5xx and connection errors are retried with exponential backoff and
   jitter; when the service says how long to wait (``Retry-After`` in seconds or as an HTTP date,
   ``retry-after-ms``, ``x-ms-retry-after-ms``, as azure-core reads them) that wait is used.
4. 401/403 -> `ServiceState.stop` records why, and this and every later image of the run fail
   fast with `ServiceStopped` (no HTTP call). Any other 4xx or a malformed body is an error for
   this image only (`CloudCallError`, `MalformedResponse`), naming the image.

Shared state lives in one small SQLite file under ``settings.cache_dir`` (``cloud_state.sqlite``,
WAL mode, ``BEGIN IMMEDIATE`` transactions) so that several worker processes share one budget, one
rate limit and one stop flag. A *run* is one extractor instance (and its copies pickled to
worker processes), or every instance that shares ``RUMARO_RUN_ID``: set it (or call `begin_run`
before starting workers) so that instances created separately, in several processes, share one
budget and one stop flag. A new run starts with a fresh budget and no stop. Keys never enter
this file, a log line, an error message or ``config`` (the cache key).

>>> parse_retry_after({"Retry-After": "7"})
7.0
>>> parse_retry_after({"retry-after-ms": "1500"})
1.5
>>> parse_retry_after({}) is None
True
"""

from __future__ import annotations

import base64
import email.utils
import importlib.util
import json
import logging
import os
import random
import re
import sqlite3
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import CredentialsMissing, ServiceError
from .base import Availability, Extractor, Features

if TYPE_CHECKING:
    from ..images import LoadedImage
    from ..settings import Settings

logger = logging.getLogger(__name__)

#: Statuses worth another try (azure-core's retry policy retries the same ones).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that mean "this key will not work": stop the service for the rest of the run.
STOP_STATUSES = frozenset({401, 403})
#: State rows untouched this long belong to finished runs and are deleted.
STATE_TTL_SECONDS = 6 * 3600
RUN_ID_ENV = "RUMARO_RUN_ID"
#: Response headers kept in the cached raw envelope (lower case).
KEPT_HEADERS = ("apim-request-id", "request-id", "csp-billing-usage", "x-ms-region")


# -- errors ---------------------------------------------------------------------------------
class CloudCallError(ServiceError):
    """One image failed at a cloud service (after retries, or a 4xx that retrying won't fix)."""


class MalformedResponse(CloudCallError):
    """The service answered 2xx but the body isn't the JSON it should be."""


class ServiceStopped(ServiceError):
    """The service refused the key (401/403) earlier in this run: no more calls are made."""


class BudgetExhausted(ServiceError):
    """The cost guard (`Settings.max_calls`) is spent for this service in this run."""


# -- transport-level outcomes the extractors report to `_call` --------------------------------
@dataclass
class HttpFailure(Exception):
    """A non-2xx HTTP answer, in a client-independent shape."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    def __str__(self) -> str:
        return f"HTTP {self.status}: {describe_error_body(self.body)}"


class TransportFailure(Exception):
    """No HTTP answer at all (connection refused, reset, timed out): retried like a 503."""


class BodyNotJson(Exception):
    """A 2xx answer whose body doesn't parse (truncated, HTML from a proxy...)."""


# -- helpers --------------------------------------------------------------------------------
def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or None.

    Reads ``Retry-After`` (seconds or an HTTP date), then ``retry-after-ms`` and
    ``x-ms-retry-after-ms`` (milliseconds), case-insensitively, like azure-core.
    """
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            reference = now if now is not None else time.time()
            return max(0.0, when.timestamp() - reference)
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = lower.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                return None
    return None


def describe_error_body(body: str | bytes | None, limit: int = 300) -> str:
    """``code/innercode: message`` from an Azure or Algorithmia error body, else its first bytes.

    >>> describe_error_body('{"error": {"code": "InvalidArgument", "message": "Bad.",'
    ...                     ' "innererror": {"code": "InvalidImageUrl", "message": "x"}}}')
    'InvalidArgument/InvalidImageUrl: Bad.'
    """
    if body is None:
        return "(no body)"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        codes = [str(err["code"])] if err.get("code") is not None else []
        inner = err.get("innererror")
        if isinstance(inner, dict) and inner.get("code") is not None:
            codes.append(str(inner["code"]))
        message = str(err.get("message", "")).strip()
        return f"{'/'.join(codes)}: {message}" if codes else message or text[:limit]
    text = " ".join(text.split())
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def short_error(exc: BaseException, limit: int = 160) -> str:
    """``Type: reason`` in one line: the OS error inside a connection error, else the message."""
    text = " ".join(str(exc).split())
    os_error = re.search(r"\[Errno -?\d+\][^)'\"]*", text)  # e.g. "[Errno 111] Connection refused"
    if os_error:
        text = os_error.group(0).strip()
    text = text[:limit] + "..." if len(text) > limit else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def image_base64(image: LoadedImage) -> str:
    """The image file's bytes as base64 text (for JSON APIs such as Algorithmia)."""
    return base64.b64encode(image.data).decode("ascii")


def begin_run(run_id: str | None = None) -> str:
    """Start a new run's budget/stop state; returns its id. Call once before starting workers.

    Sets ``RUMARO_RUN_ID`` in this process's environment, which worker processes inherit.
    """
    run_id = run_id or uuid.uuid4().hex
    os.environ[RUN_ID_ENV] = run_id
    return run_id


def current_run_id() -> str:
    """``RUMARO_RUN_ID`` if set, else the process group (the CLI and its workers share one)."""
    explicit = os.environ.get(RUN_ID_ENV)
    if explicit:
        return explicit
    return f"pgid-{os.getpgrp()}"


# -- shared state ---------------------------------------------------------------------------
class ServiceState:
    """Budget, rate-limit slot and stop flag of one service in one run, shared by processes.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "state.sqlite"
    >>> a = ServiceState(path, "svc", run_id="r1", max_calls=1)
    >>> a.acquire()
    1
    >>> ServiceState(path, "svc", run_id="r1", max_calls=1).acquire()
    Traceback (most recent call last):
    ...
    rumaro_lab.extractors.cloud.BudgetExhausted: the cost guard of 1 svc call(s) per run is spent ...
    """

    def __init__(
        self,
        path: str | Path,
        service: str,
        *,
        run_id: str | None = None,
        max_calls: int | None = None,
        calls_per_second: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        stop_hint: str | None = None,
    ):
        self.path = Path(path)
        self.service = service
        self.run_id = run_id or current_run_id()
        self.max_calls = max_calls
        self.calls_per_second = calls_per_second
        self._clock = clock
        self._sleep = sleep
        self.stop_hint = stop_hint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS service_state ("
                " run_id TEXT NOT NULL, service TEXT NOT NULL,"
                " calls INTEGER NOT NULL DEFAULT 0, next_slot REAL NOT NULL DEFAULT 0,"
                " stopped TEXT, updated REAL NOT NULL,"
                " PRIMARY KEY (run_id, service))"
            )
            db.execute(
                "DELETE FROM service_state WHERE updated < ?", (clock() - STATE_TTL_SECONDS,)
            )

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so read-modify-write is atomic
        # across processes (the write lock is taken before the read).
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _transaction(self, update: Callable[[sqlite3.Connection, sqlite3.Row | None], Any]) -> Any:
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT calls, next_slot, stopped FROM service_state"
                    " WHERE run_id = ? AND service = ?",
                    (self.run_id, self.service),
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO service_state (run_id, service, updated) VALUES (?, ?, ?)",
                        (self.run_id, self.service, self._clock()),
                    )
                result = update(db, row)
                db.execute("COMMIT")
                return result
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _set(self, db: sqlite3.Connection, **values: Any) -> None:
        values["updated"] = self._clock()
        assignments = ", ".join(f"{k} = ?" for k in values)
        db.execute(
            f"UPDATE service_state SET {assignments} WHERE run_id = ? AND service = ?",
            (*values.values(), self.run_id, self.service),
        )

    # -- the three operations -------------------------------------------------------------
    def acquire(self) -> int:
        """Count one call against the budget; returns the calls used so far (this one included).

        Raises `ServiceStopped` if the service was stopped in this run, `BudgetExhausted` if the
        budget is spent. Both are checked under one lock, so N processes never exceed the budget.
        """

        def update(db, row):
            calls = row["calls"] if row else 0
            stopped = row["stopped"] if row else None
            if stopped:
                raise ServiceStopped(f"stopped earlier in this run: {stopped}",
                                     hint=self.stop_hint)
            if self.max_calls is not None and calls >= self.max_calls:
                raise BudgetExhausted(
                    f"the cost guard of {self.max_calls} {self.service} call(s) per run is spent",
                    hint="raise --max-calls (RUMARO_MAX_CALLS) or run again later: cached"
                    " images cost nothing",
                )
            self._set(db, calls=calls + 1)
            return calls + 1

        return self._transaction(update)

    def wait_for_slot(self) -> float:
        """Block until this process may send one request; returns the seconds waited.

        Slots are ``1 / calls_per_second`` apart, handed out in order across processes.
        """
        if not self.calls_per_second:
            return 0.0
        interval = 1.0 / self.calls_per_second

        def update(db, row):
            now = self._clock()
            slot = max(now, row["next_slot"] if row else 0.0)
            self._set(db, next_slot=slot + interval)
            return slot - now

        wait = self._transaction(update)
        if wait > 0:
            (self._sleep or time.sleep)(wait)
        return wait

    def stop(self, reason: str) -> None:
        """Stop the service for every process of this run (first reason wins)."""

        def update(db, row):
            if not (row and row["stopped"]):
                self._set(db, stopped=reason)

        self._transaction(update)

    def stopped_reason(self) -> str | None:
        return self._transaction(lambda db, row: row["stopped"] if row else None)

    def calls_used(self) -> int:
        return self._transaction(lambda db, row: row["calls"] if row else 0)


def _stop_hint(service: str) -> str:
    env = CloudExtractor.env_names(service)
    return f"check {env['key']} and {env['endpoint']} (a valid key for this endpoint's region), then run again"


# -- the base class -------------------------------------------------------------------------
class CloudExtractor(Extractor):
    """Base of the cloud extractors: availability from Settings, `_call` with retries/limits.

    Subclasses set `packages` (modules that must import), `settings_prefix` (``azure_vision`` ->
    ``Settings.azure_vision_key``/``_endpoint``, env ``RUMARO_AZURE_VISION_KEY``/``_ENDPOINT``),
    and implement `_connect` (build the client), `_send` (one request -> parsed JSON or a
    `HttpFailure`/`TransportFailure`/`BodyNotJson`) and `features_from_raw`.

    Keyword-only options that don't change the output (so they are not part of ``config``, the
    cache key): ``calls_per_second``, ``max_retries``, ``max_wait`` (longest single wait, s),
    ``backoff`` (first backoff, s), ``run_id``.
    """

    local = False
    packages: ClassVar[tuple[str, ...]] = ()
    settings_prefix: ClassVar[str] = ""
    calls_per_second: ClassVar[float | None] = 10.0
    max_retries: ClassVar[int] = 4
    max_wait: ClassVar[float] = 120.0
    backoff: ClassVar[float] = 1.0
    #: one line users must see in `rumaro extractors` (e.g. retired attributes)
    notice: ClassVar[str] = ""
    #: seconds to wait for one answer
    timeout: ClassVar[float] = 60.0

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        calls_per_second: float | None = None,
        max_retries: int | None = None,
        max_wait: float | None = None,
        backoff: float | None = None,
        run_id: str | None = None,
        **config: Any,
    ):
        super().__init__(settings, **config)
        if calls_per_second is not None:
            self.calls_per_second = calls_per_second
        if max_retries is not None:
            self.max_retries = max_retries
        if max_wait is not None:
            self.max_wait = max_wait
        if backoff is not None:
            self.backoff = backoff
        # One run = this instance (and its pickled copies in worker processes), unless
        # RUMARO_RUN_ID (see `begin_run`) or ``run_id`` names a run shared by several instances.
        self._run_id = run_id or os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
        self._state: ServiceState | None = None
        self._client: Any = None

    # -- settings ---------------------------------------------------------------------------
    @classmethod
    def env_names(cls, prefix: str | None = None) -> dict[str, str]:
        prefix = (prefix or cls.settings_prefix).upper()
        return {"key": f"RUMARO_{prefix}_KEY", "endpoint": f"RUMARO_{prefix}_ENDPOINT"}

    @classmethod
    def availability(cls, settings: Settings | None = None) -> Availability:
        availability = cls._availability(settings)
        if cls.notice:  # `rumaro extractors` shows the reason column, so the notice goes there
            return Availability(availability.ok, f"{availability.reason}; {cls.notice}")
        return availability

    @classmethod
    def _availability(cls, settings: Settings | None) -> Availability:
        missing_pkgs = [p for p in cls.packages if not _importable(p)]
        if missing_pkgs:
            return Availability(
                False, f"package(s) {', '.join(missing_pkgs)} missing: pip install .[cloud]"
            )
        env = cls.env_names()
        if settings is None:
            return Availability(False, f"no settings: set {env['key']} and {env['endpoint']}")
        missing = [
            env[part]
            for part in ("key", "endpoint")
            if not _setting_value(getattr(settings, f"{cls.settings_prefix}_{part}", None))
        ]
        if missing:
            return Availability(False, f"set {' and '.join(missing)} (environment or .env)")
        return Availability(True, "sends images to a cloud service (off by default)")

    def _credentials(self) -> tuple[str, str]:
        availability = self.availability(self.settings)
        if not availability.ok:
            raise CredentialsMissing(f"{self.name}: {availability.reason}",
                                     hint="see docs/cloud.md")
        key = getattr(self.settings, f"{self.settings_prefix}_key").get_secret_value().strip()
        endpoint = getattr(self.settings, f"{self.settings_prefix}_endpoint").strip().rstrip("/")
        if not endpoint.startswith(("https://", "http://")):
            raise CredentialsMissing(
                f"{self.name}: {self.env_names()['endpoint']} is not a URL: {endpoint!r}",
                hint="give the resource's endpoint, e.g. https://NAME.cognitiveservices.azure.com",
            )
        return key, endpoint

    def __getstate__(self) -> dict[str, Any]:
        # a copy sent to a worker process rebuilds its client there (clients don't pickle)
        state = dict(self.__dict__)
        state.update(_client=None, _state=None, _ready=False)
        return state

    def _secrets(self) -> list[str]:
        return self.settings.secrets() if self.settings is not None else []

    # -- life cycle -------------------------------------------------------------------------
    def setup(self) -> None:
        key, endpoint = self._credentials()
        self._client = self._connect(key, endpoint)
        self._state = ServiceState(
            Path(self.settings.cache_dir) / "cloud_state.sqlite",
            self.name,
            run_id=self._run_id,
            max_calls=self.settings.max_calls,
            calls_per_second=self.calls_per_second,
            stop_hint=_stop_hint(self.settings_prefix),
        )

    @property
    def state(self) -> ServiceState:
        self.ensure_ready()
        assert self._state is not None
        return self._state

    def extract(self, image: LoadedImage, deps, post) -> Features:
        return self.extract_with_raw(image, deps, post)[0]

    def extract_with_raw(self, image: LoadedImage, deps, post) -> tuple[Features, Any]:
        self.ensure_ready()
        skip = self._skip_reason(image, deps, post)
        if skip is not None:
            logger.debug("%s: %s: not sent (%s)", self.name, image.source, skip)
            return self.check_output({}), {"skipped": skip}
        body, headers = self._call(image)
        lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        raw = {
            "api": self.api_label(),
            "image": {"width": image.width, "height": image.height},
            # request id (for support tickets) and billed transactions (for costs)
            "headers": {k: lower[k] for k in KEPT_HEADERS if k in lower},
            "response": body,
        }
        try:
            features = self.features_from_raw(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponse(
                f"{image.source}: unexpected response shape ({type(exc).__name__}: {exc})",
                hint="the service's answer changed; report it with the cached raw response",
            ) from exc
        return features, raw

    # -- hooks ------------------------------------------------------------------------------
    def api_label(self) -> str:
        return self.name

    def _skip_reason(self, image: LoadedImage, deps, post) -> str | None:
        """A reason not to send this image (saves money), or None to send it."""
        return None

    @abstractmethod
    def _connect(self, key: str, endpoint: str) -> Any:
        """Build the client (once per worker). Must disable the client's own retries."""

    @abstractmethod
    def _send(self, client: Any, image: LoadedImage) -> tuple[Any, Mapping[str, str]]:
        """One request with the image's bytes -> (parsed JSON body, response headers).

        Raise `HttpFailure` for a non-2xx answer, `TransportFailure` when there is no answer,
        `BodyNotJson` when a 2xx body doesn't parse.
        """

    def features_from_raw(self, raw: Mapping[str, Any]) -> Features:
        """Every declared feature (typed; None = unknown) from a cached raw envelope.

        The envelope is ``{"api", "image": {"width", "height"}, "headers", "response"}`` (what
        `extract_with_raw` returns and the runner caches), so a cached answer maps without a call.
        """
        if raw.get("skipped"):
            return self.check_output({})
        return self.check_output(self._map(raw))

    @abstractmethod
    def _map(self, raw: Mapping[str, Any]) -> Features:
        """The service's answer in ``raw["response"]`` -> features (missing ones = unknown)."""

    # -- the call ---------------------------------------------------------------------------
    def _call(self, image: LoadedImage) -> tuple[Any, Mapping[str, str]]:
        state = self.state
        secrets = self._secrets()
        try:
            state.acquire()  # refuse before any request: stopped service or spent budget
        except (ServiceStopped, BudgetExhausted) as exc:
            raise type(exc)(f"{image.source}: {exc.message}", hint=exc.hint) from None
        attempt = 0
        while True:
            state.wait_for_slot()
            try:
                return self._send(self._client, image)
            except BodyNotJson as exc:
                raise MalformedResponse(
                    f"{image.source}: the response is not valid JSON ({redact(str(exc), secrets)})",
                    hint="a truncated or proxied answer; run again (the image is not cached)",
                ) from None
            except HttpFailure as failure:
                detail = redact(str(failure), secrets)
                if failure.status in STOP_STATUSES:
                    reason = f"HTTP {failure.status} ({redact(describe_error_body(failure.body), secrets)})"
                    state.stop(reason)
                    logger.error("%s: the service refused the key: %s; stopping it for the rest"
                                 " of this run", self.name, reason)
                    raise ServiceStopped(
                        f"{image.source}: the service refused the key: {reason};"
                        " no further calls in this run",
                        hint=_stop_hint(self.settings_prefix),
                    ) from None
                if failure.status not in RETRY_STATUSES:
                    raise CloudCallError(f"{image.source}: {detail}",
                                         hint=_hint_for(failure.status)) from None
                server_wait = parse_retry_after(failure.headers)
                last_error = detail
            except TransportFailure as exc:
                server_wait = None
                last_error = f"no answer ({redact(str(exc), secrets)})"
            if attempt >= self.max_retries:
                raise CloudCallError(
                    f"{image.source}: gave up after {attempt + 1} attempt(s): {last_error}",
                    hint="the service is busy or down; run again later (done images are cached)",
                )
            wait = self._backoff(attempt) if server_wait is None else server_wait
            if wait > self.max_wait:
                raise CloudCallError(
                    f"{image.source}: the service asked to wait {wait:.0f} s"
                    f" (over max_wait={self.max_wait:.0f} s): {last_error}",
                    hint="your tier's quota is spent; run again later or raise max_wait",
                )
            logger.warning("%s: %s: %s; retry %d/%d in %.1f s", self.name, image.source,
                           last_error, attempt + 1, self.max_retries, wait)
            time.sleep(wait)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        # exponential backoff, jittered so that workers hitting one limit do not retry in step
        return random.uniform(0.5, 1.0) * min(self.max_wait, self.backoff * 2**attempt)


def _hint_for(status: int) -> str:
    if status == 400:
        return "the service rejected this image (format, size or a bad option); the rest go on"
    if status == 404:
        return "wrong endpoint or API path: check the *_ENDPOINT variable"
    if status == 415:
        return "the service refused the content type (not an image it reads)"
    return "see the service's message; the rest of the images go on"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _setting_value(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value().strip()
    return str(value).strip()
