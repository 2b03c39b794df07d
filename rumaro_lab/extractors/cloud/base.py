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

Shared state (`rumaro_lab.extractors.cloud.state`) lets several worker processes share one
budget, one rate limit and one stop flag; the HTTP helpers are in
`rumaro_lab.extractors.cloud.http`. Keys never enter the state file, a log line, an error message
or ``config`` (the cache key).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import time
import uuid
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import (
    BodyNotJson,
    BudgetExhausted,
    CloudCallError,
    CredentialsMissing,
    HttpFailure,
    MalformedResponse,
    ServiceStopped,
    TransportFailure,
)
from ..base import Availability, Extractor, Features
from .http import (
    KEPT_HEADERS,
    RETRY_STATUSES,
    STOP_STATUSES,
    describe_error_body,
    hint_for,
    parse_retry_after,
    redact,
)
from .state import RUN_ID_ENV, ServiceState

if TYPE_CHECKING:
    from ...images import LoadedImage
    from ...settings import Settings

logger = logging.getLogger(__name__)


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
                                         hint=hint_for(failure.status)) from None
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
